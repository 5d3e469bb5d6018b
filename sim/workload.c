/* workload.c — W(d) from the FLOP model or from the cost model, and the
 * adaptive sharder's yardstick built on it. */
#include "workload.h"

#include <stddef.h>

#include "cost.h"
#include "shard.h"

static double flops_attn(const struct wlb_workload *w, double q_len, double kv_len)
{
	return w->att * wlb_pairs(q_len, kv_len);
}

static double flops_linear(const struct wlb_workload *w, double tokens)
{
	return w->lin * tokens;
}

void wlb_workload_flops(struct wlb_workload *w, const struct wlb_model *m)
{
	*w = (struct wlb_workload){flops_attn, flops_linear, wlb_model_lin_flops_per_token(m),
				   wlb_model_att_flops_per_pair(m), NULL, m->heads, m->kv_heads,
				   m->head_dim, "flops", 0};
}

static double cost_attn(const struct wlb_workload *w, double q_len, double kv_len)
{
	struct wlb_cost *c = w->ctx;
	int64_t q = (int64_t)q_len, kv = (int64_t)kv_len;
	return wlb_cost_attn_piece_us(c, q, kv, 0, w->heads, w->kv_heads, w->head_dim, NULL) +
	       wlb_cost_attn_piece_us(c, q, kv, 1, w->heads, w->kv_heads, w->head_dim, NULL);
}

void wlb_workload_cost(struct wlb_workload *w, struct wlb_cost *c, const struct wlb_model *m,
		       const struct wlb_parallel *p, uint32_t context)
{
	int tp = p->tp;
	int64_t tokens = context / (uint32_t)p->cp, h = m->hidden, hd = m->head_dim;
	int64_t q = (int64_t)m->heads * hd / tp, kvh = m->kv_heads >= tp ? m->kv_heads / tp : 1;
	int64_t up = (m->mlp == WLB_MLP_SWIGLU ? 2 : 1) * (int64_t)m->ffn_hidden / tp;
	double fwd = wlb_cost_gemm_us(c, tokens, q + 2 * kvh * hd, h, NULL) +
		     wlb_cost_gemm_us(c, tokens, h, q, NULL) + wlb_cost_gemm_us(c, tokens, up, h, NULL) +
		     wlb_cost_gemm_us(c, tokens, h, m->ffn_hidden / tp, NULL);

	*w = (struct wlb_workload){cost_attn, flops_linear,
				   (1 + WLB_BWD_GEMM_FACTOR) * fwd / (double)tokens, 0, c,
				   m->heads / tp, (int)kvh, m->head_dim, "cost",
				   wlb_cost_device(c)->mem_gib};
}

static double workload_rank_cost(const struct wlb_shard_estimate *e, const struct wlb_piece *p,
				 size_t n)
{
	const struct wlb_workload *w = e->ctx;
	double t = 0;
	for (size_t i = 0; i < n; i++)
		t += w->attn(w, p[i].q_len, p[i].kv_len);
	return t;
}

void wlb_shard_estimate_from(struct wlb_shard_estimate *e, const struct wlb_workload *w)
{
	e->rank_cost = workload_rank_cost;
	e->ctx = w;
}
