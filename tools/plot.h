/* plot.h — wlb-plot's pieces: reports read and checked into plain structs
 * (plot_read.c), and charts built from them as gnuplot scripts and data files
 * in memory (plot.c, plot_cmp.c), written and drawn by wlb-plot.c. */
#ifndef WLB_PLOT_H
#define WLB_PLOT_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

enum plot_task_kind { PT_FWD, PT_BWD, PT_SEND_FWD, PT_SEND_BWD, PT_DP_SYNC, PT_N };
extern const char *const plot_task_kinds[PT_N];

/* One iteration of one policy: its time and its micro-batches' forward and
 * backward times in pipeline order, replica-major (n_mb 0 when absent). */
struct plot_iter {
	double time_ms;                /* NaN when absent */
	size_t n_mb;
	double *fwd_ms, *bwd_ms;
};

/* A policy's figures: a comparison entry, or the report's own policy.
 * Strings are borrowed from the report's JSON; numbers are NaN when absent. */
struct plot_policy {
	const char *name, *packing, *sharding;
	double iter_ms, speedup, imb_pp, imb_cp, mfu, delay;
	size_t n_iters;
	struct plot_iter *iters;
	int has_times, has_mb;         /* some iteration holds time_ms / fwd_ms */
};

struct plot_cp_mb {
	int replica, position;
	const char *used;              /* the sharding adaptive chose, or NULL */
	double *seq, *doc;             /* ms per CP rank, cp of each */
};

struct plot_task {
	int replica, stage, kind, mb, chunk;
	double start_ms, end_ms;
};

struct plot_bin {
	double lo, hi, docs, tokens;
};

struct plot_report {
	const char *path;              /* as given on the command line */
	char stem[48];                 /* file-name part when several reports are drawn */
	json_t *root;                  /* owns every borrowed string below */
	const char *name, *model, *source, *schedule;
	long long context;             /* 0 when absent */
	int tp, cp, pp, dp, vpp, m;    /* 0 when absent */
	struct plot_policy main;       /* summary + iterations: the trace's own policy */
	size_t n_cmp;
	struct plot_policy *cmp;       /* comparison[], first is the baseline */
	int has_cp, cp_iter, cp_n;
	size_t n_cpmb;
	struct plot_cp_mb *cpmb;
	int has_tl, tl_iter;
	size_t n_tasks;
	struct plot_task *tasks;
	size_t n_bins;
	struct plot_bin *bins;
};

/* Reads and checks the wlb-report/1 at path.  On error fills err with one
 * line naming the file (and line:column and key path where it can) and
 * returns a negative wlb_err; r is then empty. */
int plot_report_load(struct plot_report *r, const char *path, struct wlb_error *err);
void plot_report_free(struct plot_report *r);
/* The label of the report's own policy: the comparison's name for the same
 * packing + sharding, else a bundle name, else "packing + sharding". */
const char *plot_main_name(const struct plot_report *r, char *buf, size_t cap);

/* "llama2-7b, 128K context, TP8 CP2 PP4 DP1, interleaved 1F1B (2 virtual
 * stages), 4 micro-batches": what the report gives of it. */
void plot_cfg_line(const struct plot_report *r, int with_context, char *buf, size_t cap);

/* A chart in memory: its script, data files and caption. */
#define PLOT_MAX_DAT 3
struct plot_chart {
	char name[96];                 /* file stem: "cdf", "cdf-7b-64k" */
	const char *kind;              /* "cdf" */
	char *gp;                      /* the gnuplot script */
	size_t gp_len;
	int n_dat;
	char dat_name[PLOT_MAX_DAT][112];
	char *dat[PLOT_MAX_DAT];
	size_t dat_len[PLOT_MAX_DAT];
	char caption[320];
};

#define PLOT_N_KINDS 7
extern const char *const plot_kinds[PLOT_N_KINDS];

/* Builds the chart of the given kind into c.  r/n are every report; per-report
 * kinds (microbatch, cp, timeline, cdf, doclen) draw r[0] only.  name is the
 * file stem; fmt "png" or "svg".  Returns 1 when built, 0 when the reports hold
 * no data for it (note, when not NULL, gets the reason), or a negative wlb_err. */
int plot_build(const char *kind, const struct plot_report *r, size_t n, const char *name,
	       const char *fmt, struct plot_chart *c, char *note, size_t note_cap);
void plot_chart_free(struct plot_chart *c);

#endif
