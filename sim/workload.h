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
	double lin, att; /* coefficients of the FLOP model */
	const void *ctx; /* for other models */
};

/* The FLOP model of DESIGN.md §3 for model m. */
void wlb_workload_flops(struct wlb_workload *w, const struct wlb_model *m);

/* W(d) of a whole document of length len. */
static inline double wlb_workload_doc(const struct wlb_workload *w, double len)
{
	return w->linear(w, len) + w->attn(w, len, len);
}

#endif
