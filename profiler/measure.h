/* measure.h — wlb-profile's measuring run: sweeps of the GEMMs, attention
 * calls, collectives and p2p transfers a 4D-parallel training step runs,
 * timed through a timer (the GPU's, backend/gpu.h, or a test's), each
 * finished measurement committed at once, so an interrupted run continues
 * where it stopped. */
#ifndef WLB_MEASURE_H
#define WLB_MEASURE_H

#include <stdint.h>

#include "costdb.h"
#include "err.h"
#include "gpu.h"

enum { WLB_OP_GEMM = 1, WLB_OP_ATTN = 2, WLB_OP_COLL = 4, WLB_OP_P2P = 8, WLB_OP_ALL = 15 };

/* Parses "gemm,attn,coll,p2p" (any subset). */
int wlb_measure_ops_parse(const char *s, unsigned *ops);

struct wlb_timer {
	void *ctx;
	int (*gemm)(void *ctx, int64_t m, int64_t n, int64_t k, int reps, struct wlb_timing *out,
		    struct wlb_error *err);
	int (*attn)(void *ctx, int64_t q_len, int64_t kv_len, int pieces, int bwd, int heads,
		    int kv_heads, int head_dim, int reps, struct wlb_timing *out, struct wlb_error *err);
	int (*coll)(void *ctx, const int64_t *sizes, int n_sizes, int reps, struct wlb_coll_sample **out,
		    size_t *n, struct wlb_error *err);
	int (*p2p)(void *ctx, const int64_t *sizes, int n_sizes, int reps, struct wlb_p2p_sample **out,
		   size_t *n, struct wlb_error *err);
	const char *kernel;          /* the attention kernel's name, stored with its rows */
};

/* The GPU of backend/gpu.h as a timer. */
extern const struct wlb_timer wlb_gpu_timer;

struct wlb_measure_opts {
	unsigned ops;                /* WLB_OP_* */
	const char *model;           /* a preset's shapes only; NULL = every preset */
	int quick;                   /* a few minutes: fewer, smaller points */
	int reps;                    /* 0 = 20 (5 with quick) */
	int quiet;                   /* no progress bar */
};

struct wlb_measure_stats {
	long planned, measured, skipped; /* skipped: found in the DB from the interrupted run */
	int64_t run;
	int resumed;
	int coll_measured;           /* 0 when there was a single GPU */
};

/* Measures into db (created if missing, with dev as its device row).  run
 * holds the provenance of a new run (time, host, versions); a run of this
 * host still flagged "measuring" is resumed instead. */
int wlb_measure(const char *db, const struct wlb_device *dev, const struct wlb_run_info *run,
		const struct wlb_timer *tm, const struct wlb_measure_opts *o,
		struct wlb_measure_stats *st, struct wlb_error *err);

#endif
