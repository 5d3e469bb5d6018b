/* err.h — error reporting shared by every module.
 *
 * Functions that can fail on user input return 0 or a negative enum wlb_err and
 * fill the caller's struct wlb_error with one human line (no trailing newline).
 * Commands print it as "PROG: MESSAGE" and exit non-zero; nothing aborts. */
#ifndef WLB_ERR_H
#define WLB_ERR_H

enum wlb_err {
	WLB_OK = 0,
	WLB_EINVAL = -1,  /* bad user input: a value, a key, a file's contents */
	WLB_EIO = -2,     /* a file could not be opened, read or written */
	WLB_ENOMEM = -3,  /* out of memory */
	WLB_ERANGE = -4,  /* a number outside what the format or the model allows */
	WLB_EINTR = -5,   /* stopped by SIGINT / SIGTERM (stop.h); commands exit 130 */
};

struct wlb_error {
	int code;
	char msg[512];
};

#if defined(__GNUC__)
#define WLB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define WLB_PRINTF(a, b)
#endif

/* Fills err (which may be NULL) and returns code, so callers write
 * `return wlb_error_set(err, WLB_EINVAL, "...", ...);`. */
int wlb_error_set(struct wlb_error *err, int code, const char *fmt, ...) WLB_PRINTF(3, 4);

/* Prefixes the message already in err with "prefix: ". */
int wlb_error_prefix(struct wlb_error *err, const char *fmt, ...) WLB_PRINTF(2, 3);

/* For commands: prints "prog: MESSAGE" as one line on stderr; returns 1, the
 * exit status. */
int wlb_fail(const char *prog, const char *fmt, ...) WLB_PRINTF(2, 3);

/* Turns GSL's abort-on-error handler off, once per process. */
void wlb_gsl_quiet(void);

#endif
