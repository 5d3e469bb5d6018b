/* plot_int.h — what plot.c and plot_cmp.c share: the chart being built and
 * the helpers that write its script and data files.  Not for other users. */
#ifndef WLB_PLOT_INT_H
#define WLB_PLOT_INT_H

#include <stdio.h>

#include "plot.h"

struct plot_ctx {
	const struct plot_report *r;   /* the first report */
	const struct plot_report *all;
	size_t n;
	const char *fmt;
	struct plot_chart *c;
	FILE *g;                       /* the script */
	FILE *d[PLOT_MAX_DAT];         /* its data files, open */
	char *note;
	size_t note_cap;
};

/* builds a chart into x->c: 1, 0 (no data: x->note says why) or WLB_ENOMEM */
int plot_chart_microbatch(struct plot_ctx *x);
int plot_chart_cp(struct plot_ctx *x);
int plot_chart_timeline(struct plot_ctx *x);
int plot_chart_cdf(struct plot_ctx *x);
int plot_chart_doclen(struct plot_ctx *x);
int plot_chart_speedup(struct plot_ctx *x);
int plot_chart_measured(struct plot_ctx *x);

/* The script's head: comment, output (outfile, default NAME.FMT), terminal
 * of w x h pixels, the title t1 over t2, axes, grid and key.  0 or WLB_ENOMEM. */
int plot_begin(struct plot_ctx *x, int w, int h, const char *what, const char *t1, const char *t2);
/* A new data file NAME.dat (NAME-suffix.dat), or NULL. */
FILE *plot_dat(struct plot_ctx *x, const char *suffix);
/* Closes the script and data files: 1, or WLB_ENOMEM. */
int plot_close(struct plot_ctx *x);
/* Notes why the chart is skipped; returns 0. */
int plot_skip(struct plot_ctx *x, const char *why);

/* s as a gnuplot single-quoted string (nothing is substituted inside). */
void plot_q(FILE *f, const char *s);
/* s without control characters, quotes and backquotes: for data files and comments. */
void plot_clean(char *dst, size_t cap, const char *s);
const char *plot_base_name(const char *path);
/* 10120881 -> "10,120,881"; 131072 -> "128K" */
void plot_thousands(char *buf, size_t cap, double v);
void plot_size_label(char *buf, size_t cap, double v);
/* the colour of a policy: Plain-4D red, Fixed-4D orange, WLB-LLM blue, others by i */
unsigned plot_colour(const char *name, int i);
/* qsort comparators of long long and double */
int plot_cmp_ll(const void *a, const void *b);

#endif
