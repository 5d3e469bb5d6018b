/* packrun.h — run a trace's document stream through a packer and a sharder
 * and measure the balance of what comes out (the metrics of wlb-trace pack;
 * the simulator adds times on top of the same records). */
#ifndef WLB_PACKRUN_H
#define WLB_PACKRUN_H

#include <stdint.h>

#include "trace.h"

struct wlb_mb_rec {
	uint64_t tokens;
	uint32_t docs;
	uint32_t replica;
	double work;          /* W of the micro-batch, in the workload's units */
	double cp_imbalance;  /* max / mean of causal pairs over CP ranks (1 when cp = 1) */
	double cp_cost_max;   /* slowest rank's predicted attention, in the workload's units */
	enum wlb_shard_kind sharding; /* what the sharder used */
	double act_gib;       /* activations it keeps on a GPU of the heaviest stage (actmem.h) */
};

struct wlb_iter_rec {
	uint32_t iter;
	uint32_t n_mb;        /* micro-batches: mb[first_mb .. first_mb + n_mb) of the run */
	size_t first_mb;
	uint64_t tokens;
	double imbalance_pp;  /* max / mean of W over the iteration's micro-batches */
	double imbalance_dp;  /* max / mean of replica W */
	double delay_iters;   /* token-weighted mean of (iteration - arrival) */
	double pack_us;
	double imbalance_mem; /* max / mean of the micro-batches' act_gib */
	double act_max_gib;   /* the largest of them */
};

struct wlb_pack_summary {
	uint32_t iterations;
	double imbalance_pp, imbalance_cp, imbalance_dp;
	double token_delay_iters;        /* token-weighted mean of (packed - arrived) */
	double token_displacement_iters; /* token-weighted mean of |packed - arrived| */
	uint64_t documents;              /* pieces emitted (a split document counts per part) */
	uint64_t tokens;                 /* tokens emitted */
	uint64_t tokens_in;              /* tokens read from the stream */
	uint64_t pending_tokens;         /* read but not emitted: queued or carried */
	double pack_ms_per_batch;
	double shard_ms_per_batch;
	double per_doc_share;            /* fraction of micro-batches sharded per-doc */
	double hybrid_share;             /* fraction of micro-batches sharded hybrid */
	double cut_doc_share;            /* fraction of documents cut per document */
	double cp_cost;                  /* sum over micro-batches of the slowest rank's estimate */
	double imbalance_mem;            /* mean over iterations */
	double act_max_gib;              /* the largest micro-batch's activations over the run */
	double act_cap_gib;              /* wlb-mem's cap (what fits the GPU; 0 = unknown) */
};

struct wlb_packrun {
	char packing[16];
	const char *workload;           /* "flops" or "cost" */
	enum wlb_shard_kind sharding;
	struct wlb_pack_params params;
	struct wlb_iter_rec *iters;
	struct wlb_mb_rec *mbs;
	size_t n_iters, n_mbs, cap_iters, cap_mbs;
	struct wlb_pack_summary summary;
	/* pieces trained, by log2 of their length: [b] counts lengths in [2^b, 2^(b+1)) */
	uint64_t hist_docs[32], hist_tokens[32];
};

/* Packs t->iterations iterations (all the data for a finite source when 0)
 * with t->policy and t->parallel, sharding every micro-batch over cp ranks.
 * w is the workload the packer balances and the metrics measure: NULL for
 * the FLOP model (adaptive then compares tile-padded pairs), or one from the
 * cost model (adaptive compares its attention times). */
int wlb_packrun(const struct wlb_trace *t, const struct wlb_workload *w, struct wlb_packrun *out,
		struct wlb_error *err);
void wlb_packrun_free(struct wlb_packrun *r);

/* Callbacks of a run, for what builds on its micro-batches (the simulator):
 * mb after each micro-batch is sharded (its CP layout in sh), iter after each
 * iteration's metrics.  A non-zero return stops the run with that code. */
struct wlb_packrun_hooks {
	void *ctx;
	int (*mb)(void *ctx, const struct wlb_packed *p, uint32_t b, const struct wlb_sharding *sh);
	int (*iter)(void *ctx, const struct wlb_packed *p, const struct wlb_iter_rec *rec);
};

int wlb_packrun_with(const struct wlb_trace *t, const struct wlb_workload *w,
		     const struct wlb_packrun_hooks *hooks, struct wlb_packrun *out,
		     struct wlb_error *err);

/* max / mean of v[0..n) (1 when they sum to 0): every imbalance metric. */
double wlb_max_over_mean(const double *v, size_t n);

/* The packing parameters a trace's policy implies (defaults filled in). */
void wlb_pack_params_from_trace(const struct wlb_trace *t, const struct wlb_workload *w,
				struct wlb_pack_params *p);

#endif
