/* opts.h — command-line options shared by the commands. */
#ifndef WLB_OPTS_H
#define WLB_OPTS_H

#include <stdint.h>
#include <stdio.h>

#include "trace.h"

extern const char *wlb_prog;   /* the command's name, for messages */

enum { O_PACKING = 256, O_SHARDING, O_SMAX, O_THRESH, O_WINDOW, O_ITERS, O_SEED, O_JSON,
       O_COMPARE, O_SUMMARY, O_NOTIME, O_PRESET, O_MODEL, O_CONTEXT, O_TP, O_CP, O_PP, O_DP,
       O_MB, O_NAME, O_GPU, O_DOCS, O_WORKLOAD, O_COSTDB, O_CSV, O_CHROME, O_TIMELINE, O_ORDER,
       O_QUIET, O_CONFIG, O_NPROC, O_DEVICE, O_CHECK, O_CMPWITH, O_TIMEOUT, O_IDFILE, O_DOCORDER, O_CPALGO,
       O_DUMP, O_MEMCAP, O_CPMODE };

struct wlb_opts {
	void (*usage)(FILE *f);       /* printed by --help */
	const char *json, *preset, *output, *workload, *costdb, *csv, *chrome, *order;
	const char *config;           /* --config: a wlb-config/1 applied before the overrides */
	const char *dump;             /* wlb-trace pack --dump: every micro-batch's pieces */
	int compare, summary, no_timing, quiet;
	/* wlb-run */
	const char *device, *compare_with, *id_file;
	int check;
	uint32_t nproc;
	double timeout_s;
	uint32_t docs, timeline_iter;
	int n_set;                    /* trace overrides, applied after the trace is loaded */
	int set_code[64];
	const char *set_arg[64];
};

/* Reads argv; allowed lists the long options the command takes.  Returns 0
 * or 1 after printing the problem. */
int wlb_opts_parse(int argc, char **argv, struct wlb_opts *a, const char *allowed);
/* Applies --config (when given), then the trace overrides to t, and checks
 * the result. */
int wlb_opts_apply(struct wlb_trace *t, const struct wlb_opts *a);
int wlb_opts_load(const char *path, struct wlb_trace *t);
/* The layers of each pipeline stage as the simulator splits them
 * (wlb_stage_layers), "7,8x14,7" (a run of three or more equal counts as
 * COUNTxRUN).  Returns 1 when the stages differ, else 0. */
int wlb_opts_stage_split(const struct wlb_parallel *p, int layers, char *buf, size_t cap);
/* What wlb-run (the executor) cannot run of t, as one line naming the key
 * and what it runs, in why: 1, or 0 when it runs all of t.  It executes
 * equal stages (layers / (pp x vpp) a chunk), all-gather CP, every
 * activation kept, gradients all-reduced whole after the backward (zero 0,
 * no overlap) and one sequence a micro-batch, with no input embedding. */
int wlb_opts_run_refusal(const struct wlb_trace *t, char *why, size_t cap);
/* n as "192K" when a multiple of 1024, else the number; returns buf. */
const char *wlb_opts_tokens_str(uint32_t n, char *buf, size_t cap);
/* The policy's outlier thresholds, "16384,32768" ("16K,32K" with kilo), or
 * "none"; returns buf. */
const char *wlb_opts_thresholds_str(const struct wlb_policy *q, int kilo, char *buf, size_t cap);
/* Strict positive integer option value (at least lo). */
int wlb_opt_u32(const char *opt, const char *s, uint32_t lo, uint32_t *out);

#endif
