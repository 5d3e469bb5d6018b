/* cost_int.h — what cost.c (tables, memo, lookups) and cost_stencil.c
 * (which keys a lookup blends) share; not part of the library's interface. */
#ifndef WLB_COST_INT_H
#define WLB_COST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "curve.h"

struct gemm_key { int64_t n, k; struct wlb_curve c; };
struct gemm_col { int64_t n; size_t first, count; }; /* the keys of one n, by k */
struct attn_row { int64_t q; double lq; struct wlb_curve c; }; /* per-piece time over kv_len */
struct attn_key {
	int bwd, heads, kv_heads, head_dim;
	struct attn_row *rows;
	size_t n_rows;
};
struct coll_key { enum wlb_coll_op op; int ranks, nodes, per_node; struct wlb_curve c; };

/* Which keys a shape's lookup blends, and with what weights: the key itself,
 * or the keys around it on each axis (shapes.h's grid, or whatever the DB
 * holds), weights linear in the axis's size. */
#define STENCIL_MAX 8
struct stencil { int n; const void *key[STENCIL_MAX]; double w[STENCIL_MAX]; };

#define GEMM_CACHE 16
struct gemm_cached { int64_t n, k; int ok; struct stencil s; };
struct attn_cached { int valid, heads, kv_heads, head_dim, ok; struct stencil s; };

#define MEMO_BITS 14
struct memo { uint64_t k0, k1, k2; double v; int how; };

struct wlb_cost {
	struct wlb_device dev;
	struct gemm_key *gemm;
	struct gemm_col *gcol;
	struct attn_key *attn;
	struct coll_key *coll;
	struct wlb_curve p2p[2];
	int has_p2p[2];
	size_t n_gemm, n_gcol, n_attn, n_coll;
	uint64_t extrap;
	struct memo *memo;
	struct gemm_cached gcache[GEMM_CACHE]; /* stencils of recent GEMM shapes */
	struct attn_cached last[2];            /* the stencil found last, per direction */
	int is_clone;                   /* shares the tables of another */
};

/* The stencil of a GEMM (n, k): its own key (1 entry), or the keys around
 * it.  Returns 0 when (n, k) is not inside the samples. */
int wlb_cost_gemm_stencil(const struct wlb_cost *c, int64_t n, int64_t k, struct stencil *s);
/* The stencil of an attention shape: 1 inside the samples; 2 outside, the
 * nearest head count of the same head_dim scaled by heads; 0 when there is
 * no such key. */
int wlb_cost_attn_stencil(const struct wlb_cost *c, int bwd, int heads, int kv_heads, int head_dim,
			  struct stencil *s);

#endif
