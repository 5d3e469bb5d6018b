/* attn_cuda.h — the varlen causal attention kernels (attn.cu), callable from
 * C.  Pointers are device pointers; bf16 tensors are stored as uint16_t.
 * Layout and semantics as attn.h: Q [total_q][heads][d], K/V
 * [total_k][kv_heads][d], O like Q, lse [heads][total_q] (float).  cu_q and
 * cu_k are device arrays of n_pieces + 1 int offsets; max_q is the largest
 * piece's q_len.  head_dim 64 or 128.  Return 0 or a CUDA error code (the
 * launch's; kernels run asynchronously on stream). */
#ifndef WLB_ATTN_CUDA_H
#define WLB_ATTN_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wlb_attn_dev {
	int n_pieces;
	const int *cu_q, *cu_k;          /* device */
	int max_q, max_k;
	int total_q, total_k;
	int heads, kv_heads, head_dim;
	float scale;
};

int wlb_attn_cuda_fwd(const struct wlb_attn_dev *s, const uint16_t *q, const uint16_t *k,
		      const uint16_t *v, uint16_t *o, float *lse, void *stream);

/* dq_acc is float [total_q][heads][d] scratch (zeroed here, then converted
 * into dq); dk, dv accumulate over the query heads of a KV group.  delta is
 * float [heads][total_q] scratch (rowsum(dO o O)).  dkv_acc is not used by
 * attn.cu (each block keeps its keys' dK, dV for the whole GQA group in
 * registers) and may be NULL. */
int wlb_attn_cuda_bwd(const struct wlb_attn_dev *s, const uint16_t *q, const uint16_t *k,
		      const uint16_t *v, const uint16_t *o, const float *lse, const uint16_t *dout,
		      uint16_t *dq, uint16_t *dk, uint16_t *dv, float *dq_acc, float *dkv_acc,
		      float *delta, void *stream);

#ifdef __cplusplus
}
#endif

#endif
