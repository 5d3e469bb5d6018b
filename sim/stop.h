/* stop.h — a clean stop on SIGINT / SIGTERM.
 *
 * Commands call wlb_stop_install() once; long loops poll wlb_stop_requested()
 * once an iteration (or a candidate), never per document, and return
 * WLB_EINTR.  The command then prints "PROG: interrupted; nothing written"
 * and exits 130 (WLB_STOP_STATUS); its outputs, written to a temp file and
 * renamed only once complete, are never half there.  A second signal kills
 * at once (the handler is reset after the first). */
#ifndef WLB_STOP_H
#define WLB_STOP_H

#include "err.h"

/* The shell's status for a command ended by SIGINT (128 + 2). */
#define WLB_STOP_STATUS 130

/* Catches SIGINT and SIGTERM (even when the shell started the command with
 * SIGINT ignored, as it does for `cmd &` in scripts).  Commands call it just
 * before their long part: until then the signals keep their default action,
 * so a command blocked earlier (opening a FIFO, loading) still ends at once. */
void wlb_stop_install(void);
/* Whether a signal asked the run to stop. */
int wlb_stop_requested(void);
/* Sets err to WLB_EINTR "interrupted; nothing written" when a stop was requested and returns
 * that code; else 0.  For the loops: `if ((rc = wlb_stop_check(err))) ...`. */
int wlb_stop_check(struct wlb_error *err);
/* Forgets a request (unit tests; the simulator's own tests raise one). */
void wlb_stop_clear(void);
/* Raises a request as a signal would (unit tests). */
void wlb_stop_request(void);

#endif
