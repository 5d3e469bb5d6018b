/* progress.c — a progress bar on a terminal, periodic lines elsewhere. */
#define _XOPEN_SOURCE 700 /* clock_gettime */

#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void wlb_progress_start(struct wlb_progress *p, const char *what, int quiet)
{
	p->what = what;
	p->quiet = quiet;
	p->tty = !quiet && isatty(STDERR_FILENO);
	p->drawn = 0;
	p->t_last = now_s();
}

void wlb_progress_show(struct wlb_progress *p, size_t done, size_t total, const char *extra)
{
	if (p->quiet)
		return;
	if (p->tty && !total) {
		fprintf(stderr, "\r  %s %zu%s%s", p->what, done, extra ? " " : "", extra ? extra : "");
		p->drawn = 1;
		return;
	}
	if (p->tty) {
		int w = 40, d = (int)((double)w * (double)done / (double)total);
		fprintf(stderr, "\r  %s [%.*s%*s] %zu/%zu%s%s", p->what, d,
			"########################################", w - d, "", done, total,
			extra ? " " : "", extra ? extra : "");
		p->drawn = 1;
		return;
	}
	double t = now_s();
	if (t - p->t_last < WLB_PROGRESS_PERIOD_S)
		return;
	p->t_last = t;
	if (total)
		fprintf(stderr, "  %s %zu/%zu%s%s\n", p->what, done, total, extra ? " " : "",
			extra ? extra : "");
	else
		fprintf(stderr, "  %s %zu%s%s\n", p->what, done, extra ? " " : "", extra ? extra : "");
}

void wlb_progress_end(struct wlb_progress *p)
{
	if (p->tty && p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = 0;
}
