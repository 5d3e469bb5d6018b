/* tune.h — the autotuner: search 4D configurations and balancing policies
 * with the simulator and rank them by throughput.
 *
 * Every candidate trains the trace's documents with the trace's global batch
 * (dp x m micro-batches of context tokens): m = global micro-batches / dp.
 * Phase 1 simulates Plain-4D on every parallel configuration; its tokens per
 * ideal time (concat does the least attention work per token, and no
 * schedule beats the ideal) bounds what any policy can reach there, so a
 * configuration whose bound cannot beat the k-th best found is skipped.
 * Phase 2 tries the policy bundles on the rest (attention disaggregation,
 * cp_algo distca with greedy packing, among them); phase 3 refines the
 * packer's knobs (sharding, s_max, outlier thresholds, greedy window) and
 * the CP algorithm (all-gather, ring or distca) on the best configurations by coordinate
 * search.  A candidate over the memory limit climbs a ladder of ZeRO stages
 * and recompute modes (tune.c) and keeps the fastest rung that fits.
 * Candidates over the memory limit or the token-delay limit are
 * kept out of the ranking.  Threads share nothing
 * but the queue of configurations and the running k-th best; the ranking is
 * the same whatever their timing (ties broken by a fixed order), unless the
 * time limit stops the search. */
#ifndef WLB_TUNE_H
#define WLB_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "trace.h"

struct wlb_tune_opts {
	int gpus;                 /* tp x cp x pp x dp; 0 = the trace's */
	uint32_t iterations;      /* simulated per candidate (K); 0 = 20 */
	double max_mem_gib;       /* 0 = the device's memory */
	double max_delay;         /* token delay limit in iterations; < 0 = none */
	int threads;              /* 0 = one per core */
	double time_limit_s;      /* 0 = none */
	int top_k;                /* 0 = 5 */
	int quiet;                /* no progress bar */
	int no_prune;             /* evaluate every configuration (tests) */
	int fixed_parallel;       /* only the trace's own 4D configuration */
	const char *packings;     /* comma list to search, NULL = concat,greedy,bfd,wlb,wlb-mem */
};

struct wlb_tune_cand {
	struct wlb_parallel par;
	struct wlb_policy pol;
	double iteration_ms, iteration_ms_sd, tokens_per_s, mfu, peak_mem_gib;
	double imbalance_pp, imbalance_cp, token_delay_iters;
	int feasible;             /* within memory and delay */
	char why[96];             /* why not */
};

struct wlb_tune_result {
	struct wlb_tune_cand *top;   /* the k best feasible, best first */
	size_t n_top;
	struct wlb_tune_cand baseline; /* Plain-4D on the trace's own configuration */
	int has_baseline;
	size_t configs, evaluated, pruned, infeasible;
	int timed_out;
	double elapsed_s;
};

int wlb_tune_run(const struct wlb_trace *t, struct wlb_cost *cost, const struct wlb_tune_opts *o,
		 struct wlb_tune_result *out, struct wlb_error *err);
void wlb_tune_result_free(struct wlb_tune_result *r);

/* The trace with a candidate's configuration and policy. */
void wlb_tune_apply(struct wlb_trace *t, const struct wlb_tune_cand *c);

#endif
