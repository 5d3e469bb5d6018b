/* dcp.h — per-sequence CP degree (dynamic context parallelism): the DP x CP
 * ranks of a pipeline stage form one pool of P ranks, and every sequence
 * runs on a group of the pool sized for it.
 *
 * Group formation, as a real implementation can do it (Megatron-Core's
 * dynamic CP builds its communicators once, before training):
 *   - degrees are the powers of two that divide P, and P itself (the full
 *     DP x CP group, which exists anyway);
 *   - groups are aligned: a degree-d group is ranks [k d, (k+1) d), so the
 *     communicators are log2(P) + 1 fixed partitions of the pool;
 *   - a rank runs its sequences one after another, and the members of a
 *     group start a sequence together (the group waits for its last member);
 *   - memory: a sequence of T tokens may run at degree d only when
 *     ceil(T / d) fits the per-rank token budget (the caller marks the
 *     degrees that do not fit with a negative cost).
 * Ranks may run different numbers of sequences before the gradient sync.
 *
 * Two schedulers fill the same placement list:
 *   - Megatron's: each sequence at the smallest degree the memory allows,
 *     its work estimated as sum(l^2) / d, longest first onto the group of
 *     that degree with the least estimated load (LPT);
 *   - the cost model's: every allowed degree and every aligned group of it
 *     is tried for each sequence (largest GPU-time first), keeping the
 *     option with the smallest lower bound on the final makespan (see
 *     dcp.c); Megatron's placement, timed with the same costs, is kept
 *     instead when it comes out shorter. */
#ifndef WLB_DCP_H
#define WLB_DCP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum wlb_dcp_mode { WLB_DCP_STATIC, WLB_DCP_MEGATRON, WLB_DCP_COST };
int wlb_dcp_mode_parse(const char *s, enum wlb_dcp_mode *out);
const char *wlb_dcp_mode_name(enum wlb_dcp_mode m);

#define WLB_DCP_MAX_DEG 24

struct wlb_dcp_pool {
	int ranks;                    /* P */
	int n_deg;
	int deg[WLB_DCP_MAX_DEG];     /* ascending */
};

/* The degrees of a pool of `ranks` ranks (>= 1). */
void wlb_dcp_pool_init(struct wlb_dcp_pool *pl, int ranks);

struct wlb_dcp_problem {
	const struct wlb_dcp_pool *pool;
	size_t n;                     /* sequences */
	const double *cost;           /* [i * n_deg + k]: sequence i at degree deg[k], any
				       * time unit; < 0: not allowed (memory) */
	const double *sq;             /* Megatron's work of sequence i at degree 1: sum of l^2 */
};

/* Sequence seq on group `group` of degree deg[k], started in list order. */
struct wlb_dcp_place {
	uint32_t seq, group;
	int k;
	double start, end;
};

struct wlb_dcp_scratch {
	double *free, *key, *area;
	uint32_t *idx;
	struct wlb_dcp_place *alt;
	size_t *sorted;
	size_t cap_free, cap_key, cap_area, cap_idx, cap_alt, cap_sorted;
};
void wlb_dcp_scratch_free(struct wlb_dcp_scratch *x);

/* Times places[0..n) in order (a group starts a sequence when all its
 * members are free): fills start and end, and returns the makespan.  free
 * has pool->ranks entries and gets each rank's finish. */
double wlb_dcp_time(const struct wlb_dcp_problem *pr, struct wlb_dcp_place *places, size_t n,
		    double *free);

/* The schedulers: out gets n placements in the order the ranks run them,
 * timed.  WLB_EINVAL when a sequence has no allowed degree. */
int wlb_dcp_megatron(const struct wlb_dcp_problem *pr, struct wlb_dcp_scratch *x,
		     struct wlb_dcp_place *out, struct wlb_error *err);
int wlb_dcp_cost(const struct wlb_dcp_problem *pr, struct wlb_dcp_scratch *x,
		 struct wlb_dcp_place *out, struct wlb_error *err);

#endif
