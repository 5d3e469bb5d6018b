/* workload.h — the per-document work estimate W(d) = W_a(d) + W_l(d) that the
 * packers balance and the adaptive sharder compares.
 *
 * Pluggable: the default is the FLOP model of one layer's forward pass
 * (W_l = lin x d, W_a = att x d(d+1)/2); the cost model can install its own
 * functions later.  Units are whatever the functions return (FLOPs here,
 * microseconds for a cost model); only ratios matter to the packers. */
#ifndef WLB_WORKLOAD_H
#define WLB_WORKLOAD_H

#include "model.h"

struct wlb_workload {
	/* Attention work of a piece of q_len queries over kv_len causal keys. */
	double (*attn)(const struct wlb_workload *w, double q_len, double kv_len);
	/* Work of everything else for `tokens` tokens (GEMMs, element-wise). */
	double (*linear)(const struct wlb_workload *w, double tokens);
	double lin, att; /* FLOP model: its coefficients; cost model: lin in us per token */
	void *ctx;       /* the cost model, and the shape it is asked about */
	int heads, kv_heads, head_dim;
	const char *name; /* "flops" or "cost" */
	double mem_gib;   /* the GPU's memory (cost model; 0 for the FLOP model):
			   * memory-aware packing's default cap (actmem.h) */
};

/* The FLOP model of DESIGN.md §3 for model m: one layer's forward FLOPs. */
void wlb_workload_flops(struct wlb_workload *w, const struct wlb_model *m);

struct wlb_cost;
/* From the cost model: one layer's forward + backward time in microseconds
 * on one rank (heads and GEMM widths after TP): W_a the attention pieces'
 * time, W_l the layer's GEMM time per token at a context-long micro-batch
 * split over cp (backward GEMMs twice the forward).  c is used, not owned. */
void wlb_workload_cost(struct wlb_workload *w, struct wlb_cost *c, const struct wlb_model *m,
		       const struct wlb_parallel *p, uint32_t context);

struct wlb_shard_estimate;
/* The adaptive sharder's yardstick from w: a rank's pieces' W_a. */
void wlb_shard_estimate_from(struct wlb_shard_estimate *e, const struct wlb_workload *w);

/* W(d) of a whole document of length len. */
static inline double wlb_workload_doc(const struct wlb_workload *w, double len)
{
	return w->linear(w, len) + w->attn(w, len, len);
}

#endif
