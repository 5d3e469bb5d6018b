/* sim.h — the simulator: a trace's iterations end to end (DESIGN.md §1):
 * documents -> packer -> sharder -> stage times from the cost model ->
 * schedule -> discrete-event engine -> metrics.
 *
 * Lost time is attributed by counterfactual runs of the same graph, each
 * removing one cause on top of the previous: CP ranks balanced (attention at
 * the CP mean), micro-batches equal within each replica (their mean),
 * replicas equal (the iteration's mean), no exposed communication; what is
 * left above ideal is the pipeline bubble.  The five parts add up to
 * simulated - ideal exactly. */
#ifndef WLB_SIM_H
#define WLB_SIM_H

#include <stdint.h>

#include "cost.h"
#include "dcp.h"
#include "des.h"
#include "packrun.h"
#include "schedule.h"
#include "trace.h"

enum wlb_mb_order { WLB_ORDER_PACKED, WLB_ORDER_HEAVY_FIRST, WLB_ORDER_LIGHT_FIRST };
int wlb_mb_order_parse(const char *s, enum wlb_mb_order *out);
const char *wlb_mb_order_name(enum wlb_mb_order o);

struct wlb_sim_opts {
	enum wlb_mb_order order;   /* micro-batches inside each pipeline */
	int timeline_iter;         /* iteration whose timeline to keep, -1 for none */
	int quiet;                 /* no progress bar */
};

enum { WLB_LOST_CP, WLB_LOST_MB, WLB_LOST_DP, WLB_LOST_COMM, WLB_LOST_BUBBLE, WLB_LOST_N };
extern const char *const wlb_lost_names[WLB_LOST_N];

struct wlb_sim_iter {
	uint32_t iter;
	uint64_t tokens;
	double time_ms, ideal_ms;
	double flops;
	double imbalance_pp, imbalance_cp, imbalance_dp;
	double bubble_fraction;
	double lost_ms[WLB_LOST_N];
	double peak_mem_gib;
	double a2a_exposed_ms;     /* cp_algo distca: exposed all-to-all per GPU */
	/* memory divergence, max / mean: activations of the micro-batches (on
	 * the heaviest stage), peak memory of the stages (state + activations)
	 * and peak activations of the DP replicas */
	double imbalance_mem, imbalance_mem_pp, imbalance_mem_dp;
	size_t first_mb;           /* its micro-batches in the result's mbs */
};

struct wlb_sim_mb {
	uint32_t replica, position;  /* pipeline order inside the replica */
	uint64_t tokens;
	uint32_t docs;
	uint32_t tokens_rank;
	double fwd_ms, bwd_ms;       /* the whole model: every stage and chunk */
	double cp_imbalance;         /* attention max / mean over CP ranks (distca: over its servers) */
	enum wlb_shard_kind sharding;
	uint32_t first_doc;          /* ids of its documents: doc_ids[first_doc ..] */
};

struct wlb_sim_summary {
	uint32_t iterations;
	double iteration_ms_mean, iteration_ms_p50, iteration_ms_p95;
	double tokens_per_s, mfu;
	double imbalance_pp, imbalance_cp, imbalance_dp;
	double bubble_fraction;
	double ideal_ms, balance_efficiency;
	double token_delay_iters;
	double peak_mem_gib;
	double imbalance_mem, imbalance_mem_pp, imbalance_mem_dp; /* means over iterations */
	int oom;
	double lost_ms[WLB_LOST_N];  /* means over iterations */
	double a2a_exposed_ms;       /* cp_algo distca: exposed all-to-all per GPU (in exposed_comm) */
	uint64_t extrapolations;     /* cost lookups outside the DB's samples */
};

/* One worker's memory at its peak. */
struct wlb_sim_mem {
	double state_gib, act_gib;   /* max over iterations and replicas */
};

struct wlb_timeline_task {
	struct wlb_step step;
	double start_us, end_us;
	uint32_t first_doc, n_docs;  /* documents of its micro-batch (compute steps) */
};

/* Per-sequence CP (policy.cp_mode dynamic-*): the iterations' sequences
 * (the packed documents re-binned, sim_dcp.c) and how they ran. */
struct wlb_sim_dcp_stats {
	int mode;                          /* enum wlb_dcp_mode; the rest is 0 for static */
	uint32_t budget_tokens;            /* per rank and sequence */
	int ranks;                         /* the pool: dp x cp */
	struct wlb_dcp_pool pool;
	uint64_t sequences;
	uint64_t degree_seqs[WLB_DCP_MAX_DEG];   /* sequences at pool.deg[k], all iterations */
	uint64_t degree_tokens[WLB_DCP_MAX_DEG];
	double seqs_per_rank_min, seqs_per_rank_max, seqs_per_rank_mean; /* means over iterations */
	double slots;                      /* schedule positions per rank (padded), mean */
	double group_wait_ms;              /* mean per iteration */
	uint32_t static_iters;             /* dynamic-cost: iterations where the static layout
					    * (one of its placements) was faster and kept */
};

struct wlb_sim_result {
	struct wlb_sim_dcp_stats dcp;
	struct wlb_packrun pack;     /* the packing metrics of the same run */
	struct wlb_sim_iter *iters;
	struct wlb_sim_mb *mbs;
	uint32_t *doc_ids;
	size_t n_iters, n_mbs, n_doc_ids;
	struct wlb_sim_summary summary;
	struct wlb_sim_mem *mem;     /* per stage */
	int pp, dp;
	double mem_limit_gib;
	struct wlb_timeline_task *timeline;  /* iteration timeline_iter's tasks */
	size_t n_timeline;
	int timeline_iter, cp;
	/* that iteration's micro-batches (packed order): attention time per layer
	 * (fwd + bwd, ms) of each CP rank under per-seq [b][0][r] and per-doc
	 * [b][1][r], and the layout the sharder used */
	double *cp_rank_ms;
	enum wlb_shard_kind *cp_used;
	size_t n_cp_mb;
	size_t cap_iters, cap_mbs, cap_doc_ids, cap_timeline;
};

/* Simulates t's iterations with its policy on cost's device.  Refuses a
 * cost DB of another GPU than the trace's and impossible configurations. */
int wlb_sim_run(const struct wlb_trace *t, struct wlb_cost *cost, const struct wlb_sim_opts *o,
		struct wlb_sim_result *out, struct wlb_error *err);
void wlb_sim_result_free(struct wlb_sim_result *r);

#endif
