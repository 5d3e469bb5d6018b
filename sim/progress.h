/* progress.h — progress of a long run on stderr.
 *
 * On a terminal, a bar redrawn in place and erased at the end; otherwise (a
 * log, a pipe) one plain line every WLB_PROGRESS_PERIOD_S seconds, so short
 * runs print nothing and long ones show they are alive.  Nothing with quiet. */
#ifndef WLB_PROGRESS_H
#define WLB_PROGRESS_H

#include <stddef.h>

#define WLB_PROGRESS_PERIOD_S 2.0

struct wlb_progress {
	const char *what;  /* "simulating", "tuning" */
	size_t total;      /* for callers' callbacks; not read here */
	int quiet, tty, drawn;
	double t_last;     /* when the last line was printed (or the start) */
};

void wlb_progress_start(struct wlb_progress *p, const char *what, int quiet);
/* done of total steps (total 0: not known); extra (may be NULL) follows
 * the count. */
void wlb_progress_show(struct wlb_progress *p, size_t done, size_t total, const char *extra);
/* Erases the bar on a terminal. */
void wlb_progress_end(struct wlb_progress *p);

#endif
