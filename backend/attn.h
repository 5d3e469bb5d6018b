/* attn.h — varlen causal attention over packed pieces, on the GPU (attn.cu,
 * a FlashAttention-2-style kernel on 64 x 64 tiles, see there) and on the
 * CPU in float64 (attn_ref.c, the reference the GPU is checked against and
 * the kernel of wlb-run's CPU path).
 *
 * Layout (as flash_attn_varlen_func): Q [total_q][heads][d], K and V
 * [total_k][kv_heads][d], O like Q; piece i's queries are rows
 * cu_q[i] .. cu_q[i+1] of Q and its keys rows cu_k[i] .. cu_k[i+1] of K / V;
 * its q_len queries are the LAST q_len of its kv_len keys (bottom-right
 * causal: query j of the piece sees keys 0 .. kv_len - q_len + j).  Heads
 * share KV heads in groups of heads / kv_heads (GQA).  lse [heads][total_q]
 * holds each row's log-sum-exp of scaled scores, for the backward. */
#ifndef WLB_ATTN_H
#define WLB_ATTN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wlb_attn_shape {
	int n_pieces;
	const int *cu_q, *cu_k;  /* n_pieces + 1 offsets each */
	int heads, kv_heads, head_dim;
	double scale;            /* usually 1 / sqrt(head_dim) */
};

/* CPU reference, double precision. */
void wlb_attn_ref_fwd(const struct wlb_attn_shape *s, const double *q, const double *k,
		      const double *v, double *o, double *lse);
/* dq, dk, dv are overwritten. */
void wlb_attn_ref_bwd(const struct wlb_attn_shape *s, const double *q, const double *k,
		      const double *v, const double *o, const double *lse, const double *dout,
		      double *dq, double *dk, double *dv);

#ifdef __cplusplus
}
#endif

#endif
