/* stage.c — a micro-batch's forward and backward time per chunk of layers. */
#include "stage.h"

#include <string.h>

static int span(int ranks_before, int group, int gpn)
{
	/* a group of `group` ranks, `ranks_before` apart, spans this many nodes */
	long long total = (long long)ranks_before * group;
	int nodes = (int)((total + gpn - 1) / gpn);
	return nodes < 1 ? 1 : nodes > group ? group : nodes;
}

/* FSDP's all-gather of `params` parameters and reduce-scatter of their
 * gradients over the dp x cp ranks that hold the same weights */
static void fsdp_times(const struct wlb_stage_plan *sp, double params, double *ag, double *rs)
{
	const struct wlb_parallel *p = &sp->par;
	struct wlb_dp_comm dc;

	wlb_model_dp_comm(p, params, &dc);
	*ag = wlb_cost_coll_us(sp->cost, WLB_ALL_GATHER, (int64_t)dc.param_bytes, p->dp * p->cp,
			       sp->dp_nodes, NULL);
	*rs = wlb_cost_coll_us(sp->cost, WLB_REDUCE_SCATTER, (int64_t)dc.grad_bytes, p->dp * p->cp,
			       sp->dp_nodes, NULL);
}

int wlb_stage_plan_init(struct wlb_stage_plan *sp, const struct wlb_model *m,
			const struct wlb_parallel *p, int gpus_per_node, struct wlb_cost *cost,
			struct wlb_error *err)
{
	int tp = p->tp;
	struct wlb_mem mem;

	memset(sp, 0, sizeof *sp);
	if (wlb_parallel_check(p, m, err))
		return WLB_EINVAL;
	sp->model = *m;
	sp->par = *p;
	sp->cost = cost;
	sp->gpus_per_node = gpus_per_node;
	/* rank order: TP innermost, then CP, then DP, then PP */
	sp->tp_nodes = span(1, tp, gpus_per_node);
	sp->cp_nodes = span(tp, p->cp, gpus_per_node);
	/* gradients are reduced over DP x CP (Megatron's data-parallel group
	 * with CP): cp x dp ranks at stride tp */
	sp->dp_nodes = span(tp, p->cp * p->dp, gpus_per_node);
	sp->pp_inter = tp * p->cp * p->dp >= gpus_per_node;
	sp->heads = m->heads / tp;
	sp->kv_heads = m->kv_heads >= tp ? m->kv_heads / tp : 1;
	sp->n_qkv = (int64_t)(sp->heads + 2 * sp->kv_heads) * m->head_dim;
	sp->k_proj = (int64_t)sp->heads * m->head_dim;
	sp->n_up = (m->mlp == WLB_MLP_SWIGLU ? 2 : 1) * (int64_t)m->ffn_hidden / tp;
	sp->k_down = m->ffn_hidden / tp;
	sp->n_logits = m->vocab / tp;
	wlb_model_memory(m, p, 1, 0, 0, &mem);
	sp->act_bytes_token_layer = mem.act_bytes_per_token_layer;
	/* two norms (read + write), two residual adds (2 reads + 1 write), rotary
	 * on q and k, SwiGLU (2 reads + 1 write of the MLP width); bf16, the
	 * sequence-parallel parts split over TP */
	sp->elem_bytes_token = 2.0 * ((10.0 * m->hidden + 2.0 * (sp->n_qkv - sp->kv_heads * m->head_dim)) / tp +
				      3.0 * m->ffn_hidden / tp);
	if (m->dropout > 0) /* the 1-byte masks of the two bias-dropout-adds */
		sp->elem_bytes_token += 2.0 * m->hidden / tp;
	if (p->zero == 3 && p->dp * p->cp > 1) {
		double layer = wlb_model_stage_params(m, p, 1, 0, 0);
		double first = wlb_model_stage_params(m, p, 0, 1, 0);
		double last = wlb_model_stage_params(m, p, 0, 0, 1);
		fsdp_times(sp, layer, &sp->fsdp_layer_ag_us, &sp->fsdp_layer_rs_us);
		fsdp_times(sp, first, &sp->fsdp_first_ag_us, &sp->fsdp_first_rs_us);
		fsdp_times(sp, last, &sp->fsdp_last_ag_us, &sp->fsdp_last_rs_us);
	}
	return 0;
}

/* Megatron-LM's attention before FlashAttention (model.attention
 * "unfused"), one layer of `tokens` tokens in sequences of the context:
 * Q K^T and P V as GEMMs of the FLOPs of all heads' batched products over
 * the full context x context scores (the causal mask is applied to them,
 * not skipped), and the score matrix streamed through HBM between them,
 * 2 bytes an element a pass.  Forward 13 bytes a score: Q K^T writes it
 * (2), scale-mask-softmax reads and writes it (4), dropout reads it and
 * writes it and its 1-byte mask (5; without dropout 0), P V reads it (2).
 * Backward 19: dP written (2), dropout's backward reads it and the mask and
 * writes (5; without dropout 0), softmax's reads P and dP and writes dS
 * (6), dS read by its two GEMMs (4), P read for dV (2).  Backward GEMMs are
 * twice the forward's. */
static void unfused_layer(const struct wlb_stage_plan *sp, int64_t tokens, double *fwd, double *bwd)
{
	struct wlb_cost *c = sp->cost;
	int64_t ctx = sp->context > 0 && sp->context < tokens ? sp->context : tokens;
	int64_t width = (int64_t)sp->heads * sp->model.head_dim;
	double mm = wlb_cost_gemm_us(c, tokens, ctx, width, NULL) + wlb_cost_gemm_us(c, tokens, width, ctx, NULL);
	double scores = (double)sp->heads * (double)tokens * (double)ctx;
	double drop = sp->model.dropout > 0 ? 5.0 : 0.0;

	*fwd = mm + wlb_cost_elementwise_us(c, (8.0 + drop) * scores);
	*bwd = WLB_BWD_GEMM_FACTOR * mm + wlb_cost_elementwise_us(c, (14.0 + drop) * scores);
}

/* Ring attention of one layer (sh->src, the pairs between ranks): the ring
 * moves in lockstep, each step as long as its slowest rank's share of
 * attention (wlb_ring_steps) or the transfer of the next block, whichever
 * is longer.  att[] gets the steps' compute, exposed[] the rest, forward and
 * backward. */
static void ring_layer(const struct wlb_stage_plan *sp, const struct wlb_sharding *sh, const double *f,
		       const double *b, double kv_block_bytes, double att[2], double exposed[2])
{
	int cp = sh->cp, inter = sp->cp_nodes > 1;
	double send_f = wlb_cost_p2p_us(sp->cost, (int64_t)kv_block_bytes, inter, NULL);
	double send_b = wlb_cost_p2p_us(sp->cost, (int64_t)(2 * kv_block_bytes), inter, NULL);
	double steps_f[WLB_RING_MAX_CP], steps_b[WLB_RING_MAX_CP], ring_f = 0, ring_b = 0;

	wlb_ring_steps(sh->src, f, cp, steps_f);
	wlb_ring_steps(sh->src, b, cp, steps_b);
	att[0] = att[1] = 0;
	for (int s = 0; s < cp; s++) {
		att[0] += steps_f[s];
		att[1] += steps_b[s];
		/* no transfer after the last step forward; backward, dK and dV go home */
		ring_f += s + 1 < cp && send_f > steps_f[s] ? send_f : steps_f[s];
		ring_b += s + 1 < cp && send_b > steps_b[s] ? send_b : steps_b[s];
	}
	exposed[0] = ring_f - att[0];
	exposed[1] = ring_b - att[1] + send_f;
}

void wlb_stage_mb_cost(const struct wlb_stage_plan *sp, const struct wlb_sharding *sh,
		       uint64_t tokens, double pairs, struct wlb_mb_cost *out)
{
	const struct wlb_model *m = &sp->model;
	const struct wlb_parallel *p = &sp->par;
	struct wlb_cost *c = sp->cost;
	struct wlb_layer_comm lc;
	int64_t t = sh->tokens_per_rank, h = m->hidden;
	int cp = sh->cp;
	double af_max = 0, af_sum = 0, ab_max = 0, ab_sum = 0;
	double ring_f[WLB_RING_MAX_CP], ring_b[WLB_RING_MAX_CP];

	memset(out, 0, sizeof *out);
	out->tokens_rank = (uint32_t)t;
	if (t == 0)
		return;
	for (int r = 0; r < cp; r++) {
		const struct wlb_piece *pc = sh->pieces + sh->rank_start[r];
		size_t n = sh->rank_start[r + 1] - sh->rank_start[r];
		double f, b;
		if (m->attention == WLB_ATTN_UNFUSED) { /* cp is 1 (wlb_parallel_check) */
			unfused_layer(sp, t, &f, &b);
		} else {
			f = wlb_cost_attn_us(c, pc, n, 0, sp->heads, sp->kv_heads, m->head_dim, NULL);
			b = wlb_cost_attn_us(c, pc, n, 1, sp->heads, sp->kv_heads, m->head_dim, NULL);
			if (m->dropout > 0) {
				f /= WLB_DROPOUT_ATTN_FWD_RATE;
				b /= WLB_DROPOUT_ATTN_BWD_RATE;
			}
		}
		af_sum += f;
		ab_sum += b;
		if (sh->ring) {
			ring_f[r] = f;
			ring_b[r] = b;
		}
		af_max = f > af_max ? f : af_max;
		ab_max = b > ab_max ? b : ab_max;
	}
	double gemm = wlb_cost_gemm_us(c, t, sp->n_qkv, h, NULL) + wlb_cost_gemm_us(c, t, h, sp->k_proj, NULL) +
		      wlb_cost_gemm_us(c, t, sp->n_up, h, NULL) + wlb_cost_gemm_us(c, t, h, sp->k_down, NULL);
	double elem = wlb_cost_elementwise_us(c, sp->elem_bytes_token * (double)t);

	wlb_model_layer_comm(m, p, (double)t, &lc);
	double tp_comm = 0, cp_f = 0, cp_b = 0;
	if (p->tp > 1)
		tp_comm = p->sequence_parallel ?
			2 * wlb_cost_coll_us(c, WLB_ALL_GATHER, (int64_t)lc.tp_allgather_bytes, p->tp, sp->tp_nodes, NULL) +
			2 * wlb_cost_coll_us(c, WLB_REDUCE_SCATTER, (int64_t)lc.tp_reducescatter_bytes, p->tp, sp->tp_nodes, NULL) :
			2 * wlb_cost_coll_us(c, WLB_ALL_REDUCE, (int64_t)lc.tp_allreduce_bytes, p->tp, sp->tp_nodes, NULL);
	double att_f = af_max, att_b = ab_max; /* one layer's attention, the CP group waiting */
	if (cp > 1 && sh->ring) {
		double att[2], exposed[2];
		ring_layer(sp, sh, ring_f, ring_b, lc.cp_kv_allgather_bytes / cp, att, exposed);
		att_f = att[0];
		att_b = att[1];
		cp_f = exposed[0];
		cp_b = exposed[1];
	} else if (cp > 1) {
		cp_f = wlb_cost_coll_us(c, WLB_ALL_GATHER, (int64_t)lc.cp_kv_allgather_bytes, cp, sp->cp_nodes, NULL);
		cp_b = wlb_cost_coll_us(c, WLB_REDUCE_SCATTER, (int64_t)lc.cp_dkv_reducescatter_bytes, cp,
					sp->cp_nodes, NULL);
	}
	/* with overlap, TP collectives run behind the GEMMs that produce or consume
	 * them (TransformerEngine's userbuffers), but only a share of their time
	 * is won: the rest is exposed, and so is what does not fit */
	double tp_f = tp_comm, tp_b = tp_comm;
	if (p->tp_comm_overlap) {
		double hid = WLB_TP_OVERLAP_HIDDEN * tp_comm, left = tp_comm - hid;
		tp_f = left + (hid > gemm ? hid - gemm : 0);
		tp_b = left + (hid > WLB_BWD_GEMM_FACTOR * gemm ? hid - WLB_BWD_GEMM_FACTOR * gemm : 0);
	}
	double fwd_rest = gemm + elem, bwd_rest = WLB_BWD_GEMM_FACTOR * gemm + 2 * elem;
	out->fwd_max_us = fwd_rest + att_f;
	out->fwd_mean_us = fwd_rest + af_sum / cp;
	out->bwd_max_us = bwd_rest + att_b;
	out->bwd_mean_us = bwd_rest + ab_sum / cp;
	out->fwd_comm_us = tp_f + cp_f;
	out->bwd_comm_us = tp_b + cp_b;
	if (p->recompute == WLB_RECOMPUTE_FULL) { /* the forward again before each backward */
		out->bwd_max_us += out->fwd_max_us;
		out->bwd_mean_us += out->fwd_mean_us;
		out->bwd_comm_us += out->fwd_comm_us;
	} else if (p->recompute == WLB_RECOMPUTE_SELECTIVE) { /* the attention core's forward */
		out->bwd_max_us += att_f;
		out->bwd_mean_us += af_sum / cp;
		out->bwd_comm_us += cp_f; /* K and V gathered again */
	}
	out->attn_fwd_rank_max_us = af_max;
	out->attn_fwd_rank_mean_us = af_sum / cp;
	out->rest_fwd_us = fwd_rest;
	out->rest_bwd_us = bwd_rest;
	out->tp_fwd_us = tp_f;
	out->tp_bwd_us = tp_b;
	/* embedding: a gather of rows; logits GEMM and Megatron's vocab-parallel
	 * cross-entropy, unfused, in fp32, per logit: forward casts the bf16
	 * logits (reads 2, writes 4), takes the max (4), subtracts it (8),
	 * exponentiates (8), sums (4) and normalises the softmax it keeps for
	 * the backward (8): 38 bytes; backward reads that softmax, scales it by
	 * the loss gradient (8) and casts it back to bf16 (6): 14 */
	out->first_fwd_us = wlb_cost_elementwise_us(c, 2.0 * (double)t * h / p->tp);
	out->first_bwd_us = 2 * out->first_fwd_us;
	double logits = wlb_cost_gemm_us(c, t, sp->n_logits, h, NULL);
	double n_logits = (double)t * sp->n_logits;
	out->last_fwd_us = logits + wlb_cost_elementwise_us(c, 38.0 * n_logits);
	out->last_bwd_us = WLB_BWD_GEMM_FACTOR * logits + wlb_cost_elementwise_us(c, 14.0 * n_logits);
	if (p->pp > 1)
		out->pp_send_us = wlb_cost_p2p_us(c, (int64_t)lc.pp_activation_bytes, sp->pp_inter, NULL);
	out->act_bytes = sp->act_bytes_token_layer * (double)t;
	out->flops = 3.0 * m->layers * (wlb_model_lin_flops_per_token(m) * (double)tokens +
					wlb_model_att_flops_per_pair(m) * pairs) +
		     3.0 * 2.0 * (double)tokens * h * m->vocab;
}

double wlb_stage_state_bytes(const struct wlb_stage_plan *sp, int s)
{
	struct wlb_mem mem;
	int layers = wlb_stage_layers(&sp->par, sp->model.layers, s);
	wlb_model_memory(&sp->model, &sp->par, layers, s == 0, s == sp->par.pp - 1, &mem);
	return mem.params_bytes + mem.grads_bytes + mem.optim_bytes;
}

double wlb_stage_dp_sync_us(const struct wlb_stage_plan *sp, int s, double bwd_window_us,
			    double fwd_window_us, double parts[2])
{
	const struct wlb_parallel *p = &sp->par;
	struct wlb_dp_comm dc;
	int layers = wlb_stage_layers(p, sp->model.layers, s), ranks = p->dp * p->cp;
	double params = wlb_model_stage_params(&sp->model, p, layers, s == 0, s == p->pp - 1);
	double comm = 0;

	wlb_model_dp_comm(p, params, &dc);
	if (ranks > 1 && p->zero < 3) {
		/* bucketed per layer: with overlap what outlasts the window, and
		 * never less than the one bucket that waits for the window's end */
		double g = wlb_cost_coll_us(sp->cost, p->zero ? WLB_REDUCE_SCATTER : WLB_ALL_REDUCE,
					    (int64_t)dc.grad_bytes, ranks, sp->dp_nodes, NULL);
		double a = wlb_cost_coll_us(sp->cost, WLB_ALL_GATHER, (int64_t)dc.param_bytes, ranks,
					    sp->dp_nodes, NULL);
		if (p->overlap_grad_reduce)
			g = g - bwd_window_us > g / layers ? g - bwd_window_us : g / layers;
		if (a > 0 && p->overlap_param_gather)
			a = a - fwd_window_us > a / layers ? a - fwd_window_us : a / layers;
		comm = g + a;
	}
	double shard = params / (p->zero >= 1 && ranks > 1 ? ranks : 1);
	double step = wlb_cost_elementwise_us(sp->cost, WLB_OPTIM_BYTES_PER_PARAM * shard);
	if (parts) {
		parts[0] = comm;
		parts[1] = step;
	}
	return comm + step;
}
