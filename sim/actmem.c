/* actmem.c — activation memory of micro-batches (actmem.h). */
#include "actmem.h"

#include <math.h>
#include <stdlib.h>

#include "schedule.h"
#include "trace.h"

#define GIB 1073741824.0

int wlb_actmem_plan(const struct wlb_trace *t, double gpu_mem_gib, struct wlb_actmem *out,
		    struct wlb_error *err)
{
	const struct wlb_parallel *p = &t->parallel;
	int L = t->model.layers, l_max = 0, n_steps = 2 * p->microbatches * p->vpp;
	struct wlb_mem mem;
	struct wlb_step *order;

	*out = (struct wlb_actmem){0, p->cp > 1 ? p->cp : 1, 0, 0};
	for (int s = 0; s < p->pp; s++)
		if (wlb_stage_layers(p, L, s) > l_max)
			l_max = wlb_stage_layers(p, L, s);
	wlb_model_memory(&t->model, p, 1, 0, 0, &mem);
	out->bytes_token = mem.act_bytes_per_token_layer * l_max;
	if (!(order = malloc((size_t)n_steps * sizeof *order)))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	for (int s = 0; gpu_mem_gib > 0 && s < p->pp; s++) {
		/* layers of micro-batches alive at once: a forward allocates its
		 * chunk's, the backward frees them */
		int live = 0, peak = 0, first = s == 0, last = s == p->pp - 1;
		size_t n = wlb_sched_order(p->pp, p->vpp, p->microbatches, s, order);
		for (size_t k = 0; k < n; k++) {
			int cl = wlb_chunk_layers(p, L, s, order[k].chunk);
			live += order[k].kind == WLB_STEP_FWD ? cl : -cl;
			peak = live > peak ? live : peak;
		}
		wlb_model_memory(&t->model, p, wlb_stage_layers(p, L, s), first, last, &mem);
		double room = gpu_mem_gib * GIB - (mem.params_bytes + mem.grads_bytes + mem.optim_bytes);
		double fit = (room > 0 ? room : 0) * l_max / (peak > 0 ? peak : 1);
		if (s == 0 || fit < out->fit_bytes)
			out->fit_bytes = fit;
	}
	free(order);
	out->cap_bytes = t->policy.mem_cap_gib > 0 ? t->policy.mem_cap_gib * GIB : out->fit_bytes;
	return 0;
}

double wlb_actmem_bytes(const struct wlb_actmem *a, uint64_t tokens)
{
	uint64_t two_cp = 2 * (uint64_t)a->cp;
	return a->bytes_token * (double)((tokens + two_cp - 1) / two_cp * 2);
}

uint32_t wlb_actmem_token_cap(const struct wlb_actmem *a, double cap_bytes)
{
	if (a->bytes_token <= 0)
		return UINT32_MAX;
	/* whole 2cp blocks of tokens that fit: each costs 2 x bytes_token */
	double blocks = floor(cap_bytes / (2 * a->bytes_token));
	double t = blocks * 2 * a->cp;
	return t >= UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}
