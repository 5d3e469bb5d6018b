/* plan.h — what wlb-run executes: a trace's iterations packed and sharded
 * by libwlb exactly as the simulator packs them (the same packer, workload
 * from the same cost model, the same sharder), kept as documents and
 * per-CP-rank attention pieces; and, for one micro-batch and one CP rank,
 * the layout of the rank's tokens that the kernels use.
 *
 * Every rank builds the whole plan itself: it is deterministic, so no rank
 * has to send another its work. */
#ifndef WLB_PLAN_H
#define WLB_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "shard.h"
#include "trace.h"

struct wlb_plan_mb {
	uint32_t replica, position;   /* pipeline slot: position-th of its replica */
	size_t first_doc;             /* docs[first_doc .. + n_docs), sequence order */
	uint32_t n_docs;
	uint64_t tokens;
	uint32_t tokens_rank;         /* per CP rank, padding included */
	enum wlb_shard_kind used;     /* the layout the sharder chose */
	size_t first_start;           /* rank r's pieces: pieces[start[first_start + r] ..
				       * start[first_start + r + 1]) */
};

struct wlb_plan {
	int cp, dp, m;
	size_t n_iters;               /* iteration i: mbs[i*dp*m ..], by (replica, position) */
	struct wlb_plan_mb *mbs;
	struct wlb_doc *docs;
	struct wlb_piece *pieces;
	size_t *start;
	size_t n_mbs, n_docs, n_pieces, n_start;
	size_t cap_mbs, cap_docs, cap_pieces, cap_start;
};

/* Packs and shards t's iterations as wlb_sim_run does with cost. */
int wlb_plan_build(const struct wlb_trace *t, struct wlb_cost *cost, struct wlb_plan *p,
		   struct wlb_error *err);
void wlb_plan_free(struct wlb_plan *p);

static inline const struct wlb_plan_mb *wlb_plan_mb(const struct wlb_plan *p, size_t iter,
						    int replica, int position)
{
	return &p->mbs[(iter * (size_t)p->dp + (size_t)replica) * (size_t)p->m + (size_t)position];
}

/* One CP rank's tokens of a micro-batch: local row i holds position
 * row_pos[i] of document row_doc[i] (an index into the micro-batch's
 * documents) for i < real; rows real .. rows are padding.  Its pieces, in
 * order, are rows cu_q[j] .. cu_q[j+1]; piece j's keys are kv_idx[cu_k[j] ..
 * cu_k[j+1]): rows of the CP group's all-gathered tokens (rank r's row i is
 * row r * rows + i). */
struct wlb_layout {
	int rows, real;               /* rows: tokens_rank rounded up to a multiple of tp */
	int n_pieces, max_q, max_k;
	int *cu_q, *cu_k, *kv_idx;
	uint32_t *row_doc, *row_pos;
	/* scratch: every document position's gathered row; documents by id */
	int *where;
	uint64_t *doc_start;
	struct wlb_doc_at { uint32_t id, at; } *by_id;
	size_t cap_cu_q, cap_cu_k, cap_kv, cap_row, cap_pos, cap_where, cap_doc, cap_by_id;
};

/* The layout of CP rank r for micro-batch mb whose pieces are sh (the
 * plan's, or any other sharding of the same documents), with tp ranks
 * sharing its rows under sequence parallelism. */
int wlb_layout_build(struct wlb_layout *l, const struct wlb_doc *docs, uint32_t n_docs,
		     const struct wlb_piece *pieces, const size_t *rank_start, int cp, int r,
		     uint32_t tokens_rank, int tp, struct wlb_error *err);
void wlb_layout_free(struct wlb_layout *l);

#endif
