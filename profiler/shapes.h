/* shapes.h — the GEMM and attention shapes a model's layers produce on one
 * rank under TP 1, 2, 4, 8 and 16: what the analytic model tabulates and what
 * wlb-profile measures. */
#ifndef WLB_SHAPES_H
#define WLB_SHAPES_H

#include <stdint.h>

#include "err.h"

#define WLB_MAX_SHAPES 512

/* GEMM: (n, k, 0); attention: (heads, kv_heads, head_dim) per rank. */
struct wlb_shape { int64_t a, b, c; };

/* Shapes of the preset `model`, or of every preset when model is NULL;
 * duplicates are merged.  Fails naming an unknown model. */
int wlb_model_shapes(const char *model, struct wlb_shape *gemm, int *n_gemm, struct wlb_shape *attn,
		     int *n_attn, struct wlb_error *err);

/* The attention grid's key lengths for a row of q queries: q, 2q, 4q, ...
 * and then max itself, so that every row reaches the longest context (a row
 * of 3 * 2^k queries would otherwise stop at 3/4 of it and the longest
 * pieces would be extrapolated).  for (kv = q; kv <= max; kv = wlb_kv_next(kv, max)) */
static inline int64_t wlb_kv_next(int64_t kv, int64_t max)
{
	return kv < max && 2 * kv > max ? max : 2 * kv;
}

#endif
