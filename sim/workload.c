/* workload.c — the FLOP model of W(d), the packers' default yardstick. */
#include <stddef.h>

#include "workload.h"

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
	w->attn = flops_attn;
	w->linear = flops_linear;
	w->lin = wlb_model_lin_flops_per_token(m);
	w->att = wlb_model_att_flops_per_pair(m);
	w->ctx = NULL;
}
