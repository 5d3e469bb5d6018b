/* shapes.h — the GEMM and attention shapes the cost DB tabulates: those a
 * model preset's layers produce on one rank under TP 1, 2, 4, 8 and 16 (their
 * lookups are exact), and a shape-independent grid that covers every dense
 * model up to 1T parameters (hidden up to 25600, head_dim 64-256, TP 1-16,
 * GQA after the TP split), whose lookups sim/cost.c interpolates:
 *
 *  - GEMM (n, k): each of n and k on 2^j and 3 * 2^j from 128 to 262144
 *    (vocab / tp up to 256000, SwiGLU's 2 * ffn at TP 1, ffn up to 131072);
 *  - attention (heads, kv_heads, head_dim) per rank: heads 1, 2, 4, ..., 512
 *    (hidden 25600 / head_dim 64 at TP 1 is 400), each with kv_heads 1 and
 *    kv_heads = heads (MQA and MHA: every GQA grouping lies between), for
 *    head_dim 64, 80, 96, 128, 160, 192, 256;
 *  - collectives (analytic.c): 2-8 ranks in a node, and groups of 2, 3, 4,
 *    6, 8, 12, ... nodes with 1, 2, 4 or 8 ranks on each, up to 16384 ranks.
 *
 * wlb-profile --analytic writes presets and grid; a measuring run times the
 * presets' shapes only (the grid's largest GEMM alone is 36 PFLOP). */
#ifndef WLB_SHAPES_H
#define WLB_SHAPES_H

#include <stdint.h>

#include "err.h"

#define WLB_MAX_SHAPES 1024

/* the grid's bounds */
#define WLB_GRID_GEMM_MIN 128
#define WLB_GRID_GEMM_MAX 262144
#define WLB_GRID_HEADS_MAX 512
#define WLB_GRID_COLL_RANKS_MAX 16384

/* GEMM: (n, k, 0); attention: (heads, kv_heads, head_dim) per rank. */
struct wlb_shape { int64_t a, b, c; };

/* Shapes of the preset `model`, or of every preset when model is NULL;
 * duplicates are merged.  Fails naming an unknown model. */
int wlb_model_shapes(const char *model, struct wlb_shape *gemm, int *n_gemm, struct wlb_shape *attn,
		     int *n_attn, struct wlb_error *err);

/* Adds the grid's shapes (above) to the lists, merging duplicates. */
int wlb_grid_shapes(struct wlb_shape *gemm, int *n_gemm, struct wlb_shape *attn, int *n_attn,
		    struct wlb_error *err);

/* The sizes 2^j and 3 * 2^j in [lo, hi], ascending, at most cap of them;
 * returns how many. */
int wlb_grid_2_3(int64_t lo, int64_t hi, int64_t *out, int cap);

/* The attention grid's key lengths for a row of q queries: q, 2q, 4q, ...
 * and then max itself, so that every row reaches the longest context (a row
 * of 3 * 2^k queries would otherwise stop at 3/4 of it and the longest
 * pieces would be extrapolated).  for (kv = q; kv <= max; kv = wlb_kv_next(kv, max)) */
static inline int64_t wlb_kv_next(int64_t kv, int64_t max)
{
	return kv < max && 2 * kv > max ? max : 2 * kv;
}

#endif
