/* schedule.c — 1F1B and interleaved 1F1B task graphs. */
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

size_t wlb_sched_order(int pp, int vpp, int m, int s, struct wlb_step *out)
{
	int total = m * vpp, warm, group = pp * vpp;
	size_t n = 0;

	/* Megatron-LM's warm-up: 1F1B runs pp - s - 1 forwards before its first
	 * backward; interleaved twice that plus a round of the other chunks, or
	 * all of them when there are exactly pp micro-batches */
	if (vpp == 1)
		warm = pp - s - 1;
	else if (m == pp)
		warm = total;
	else
		warm = (pp - s - 1) * 2 + (vpp - 1) * pp;
	if (warm > total)
		warm = total;
#define STEP(kind_, k) do { \
		int k_ = (k), c_ = (k_ % group) / pp; \
		out[n++] = (struct wlb_step){kind_, (uint16_t)s, \
			(uint16_t)((kind_) == WLB_STEP_FWD ? c_ : vpp - 1 - c_), 0, \
			(uint32_t)((k_ / group) * pp + k_ % pp)}; \
	} while (0)
	for (int k = 0; k < warm; k++)
		STEP(WLB_STEP_FWD, k);
	for (int i = 0; i < total - warm; i++) {
		STEP(WLB_STEP_FWD, warm + i);
		STEP(WLB_STEP_BWD, i);
	}
	for (int k = total - warm; k < total; k++)
		STEP(WLB_STEP_BWD, k);
#undef STEP
	return n;
}

/* How long step (stage st, chunk c, forward or backward) of micro-batch mb
 * takes under in's layers and FSDP collectives. */
static double step_us(const struct wlb_sched_in *in, const struct wlb_sched_mb *mb, int st, int c, int fwd)
{
	int first = st == 0 && c == 0, last = st == in->pp - 1 && c == in->vpp - 1;
	double layers = in->chunk_layers ? in->chunk_layers[st * in->vpp + c] : 1;
	double work = layers * (fwd ? mb->fwd_us : mb->bwd_us);
	const struct wlb_sched_fsdp *f = in->fsdp;

	if (first)
		work += fwd ? mb->first_fwd_us : mb->first_bwd_us;
	if (last)
		work += fwd ? mb->last_fwd_us : mb->last_bwd_us;
	if (!f)
		return work;
	/* one all-gather forward; backward one all-gather and one reduce-scatter */
	double ag = layers * f->layer_ag_us + (first ? f->first_ag_us : 0) + (last ? f->last_ag_us : 0);
	double rs = fwd ? 0 : layers * f->layer_rs_us + (first ? f->first_rs_us : 0) +
			      (last ? f->last_rs_us : 0);
	double hidden = (f->overlap_ag ? ag : 0) + (f->overlap_rs ? rs : 0);
	double exposed = ag + rs - hidden;
	return (work > hidden ? work : hidden) + exposed;
}

struct wlb_sched {
	struct wlb_step *steps;    /* by tag */
	uint32_t *fwd, *bwd, *sfwd, *sbwd; /* task ids by (replica, mb, chunk, stage) */
	struct wlb_step *order;
	size_t cap_steps, cap_fwd, cap_bwd, cap_sfwd, cap_sbwd, cap_order;
	size_t n_steps;
};

int wlb_sched_create(struct wlb_sched **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : WLB_ENOMEM;
}

void wlb_sched_destroy(struct wlb_sched *s)
{
	if (!s)
		return;
	free(s->steps);
	free(s->fwd);
	free(s->bwd);
	free(s->sfwd);
	free(s->sbwd);
	free(s->order);
	free(s);
}

const struct wlb_step *wlb_sched_step(const struct wlb_sched *s, uint32_t tag)
{
	return &s->steps[tag];
}

static uint32_t add(struct wlb_sched *s, struct wlb_graph *g, uint32_t stream, double dur,
		    struct wlb_step st)
{
	if (WLB_GROW(s->steps, s->cap_steps, s->n_steps + 1))
		return UINT32_MAX;
	s->steps[s->n_steps] = st;
	return wlb_graph_task(g, stream, dur, (uint32_t)s->n_steps++);
}

int wlb_sched_run(struct wlb_sched *s, struct wlb_graph *g, const struct wlb_sched_in *in,
		  struct wlb_error *err)
{
	int pp = in->pp, vpp = in->vpp, dp = in->dp, m = in->m;
	size_t per = (size_t)dp * m * vpp * pp, n_order = (size_t)2 * m * vpp;
	uint32_t barrier0 = (uint32_t)(3 * dp * pp);
#define IDX(d, mb, c, st) ((((size_t)(d) * m + (mb)) * vpp + (c)) * pp + (st))

	if (pp < 1 || vpp < 1 || dp < 1 || m < 1 || (vpp > 1 && m % pp))
		return wlb_error_set(err, WLB_EINVAL, "schedule: pp %d, vpp %d, dp %d, m %d: every size "
				     "must be positive and interleaving needs m a multiple of pp", pp, vpp, dp, m);
	if (WLB_GROW(s->fwd, s->cap_fwd, per) || WLB_GROW(s->bwd, s->cap_bwd, per) ||
	    WLB_GROW(s->sfwd, s->cap_sfwd, per) || WLB_GROW(s->sbwd, s->cap_sbwd, per) ||
	    WLB_GROW(s->order, s->cap_order, n_order * (size_t)pp) ||
	    wlb_graph_reset(g, barrier0 + (uint32_t)pp))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory building the schedule");
	s->n_steps = 0;
	for (int st = 0; st < pp; st++)
		wlb_sched_order(pp, vpp, m, st, s->order + (size_t)st * n_order);

	/* compute and send tasks, each worker in its own order */
	for (int d = 0; d < dp; d++)
		for (int st = 0; st < pp; st++) {
			const struct wlb_step *ord = s->order + (size_t)st * n_order;
			for (size_t k = 0; k < n_order; k++) {
				struct wlb_step x = ord[k];
				const struct wlb_sched_mb *mb = &in->mb[(size_t)d * m + x.mb];
				int fwd = x.kind == WLB_STEP_FWD;
				int first = st == 0 && x.chunk == 0, last = st == pp - 1 && x.chunk == vpp - 1;
				double dur = step_us(in, mb, st, x.chunk, fwd);
				size_t i = IDX(d, x.mb, x.chunk, st);
				x.replica = (uint32_t)d;
				uint32_t id = add(s, g, wlb_sched_stream(pp, d, st, 0), dur, x);
				if (id == UINT32_MAX)
					goto nomem;
				(fwd ? s->fwd : s->bwd)[i] = id;
				/* sends: not after the model's last forward or first backward */
				uint32_t sid = UINT32_MAX;
				if (pp > 1 && (fwd ? !last : !first)) {
					x.kind = fwd ? WLB_STEP_SEND_FWD : WLB_STEP_SEND_BWD;
					sid = add(s, g, wlb_sched_stream(pp, d, st, 1), mb->send_us, x);
					if (sid == UINT32_MAX || wlb_graph_dep(g, id, sid))
						goto nomem;
				}
				(fwd ? s->sfwd : s->sbwd)[i] = sid;
			}
		}
	/* a step waits for its input from the previous stage (next stage backward);
	 * chunks wrap from the last stage to the first */
	for (int d = 0; d < dp; d++)
		for (int mb = 0; mb < m; mb++)
			for (int c = 0; c < vpp; c++)
				for (int st = 0; st < pp; st++) {
					size_t i = IDX(d, mb, c, st);
					uint32_t src = UINT32_MAX;
					if (st > 0)
						src = s->sfwd[IDX(d, mb, c, st - 1)];
					else if (c > 0)
						src = pp > 1 ? s->sfwd[IDX(d, mb, c - 1, pp - 1)] : s->fwd[IDX(d, mb, c - 1, 0)];
					if (src != UINT32_MAX && wlb_graph_dep(g, src, s->fwd[i]))
						goto nomem;
					src = UINT32_MAX;
					if (st < pp - 1)
						src = s->sbwd[IDX(d, mb, c, st + 1)];
					else if (c < vpp - 1)
						src = pp > 1 ? s->sbwd[IDX(d, mb, c + 1, 0)] : s->bwd[IDX(d, mb, c + 1, 0)];
					else
						src = s->fwd[i]; /* the loss: the model's last forward */
					if (wlb_graph_dep(g, src, s->bwd[i]))
						goto nomem;
				}
	/* gradient sync: stage st of every replica waits for all of them */
	if (in->dp_sync_us)
		for (int st = 0; st < pp; st++) {
			struct wlb_step x = {WLB_STEP_BARRIER, (uint16_t)st, 0, 0, 0};
			uint32_t bar = add(s, g, barrier0 + (uint32_t)st, 0, x);
			if (bar == UINT32_MAX)
				goto nomem;
			const struct wlb_step *lastk = s->order + (size_t)st * n_order + n_order - 1;
			for (int d = 0; d < dp; d++)
				if (wlb_graph_dep(g, s->bwd[IDX(d, lastk->mb, lastk->chunk, st)], bar))
					goto nomem;
			for (int d = 0; d < dp; d++) {
				x = (struct wlb_step){WLB_STEP_DP_SYNC, (uint16_t)st, 0, (uint32_t)d, 0};
				uint32_t id = add(s, g, wlb_sched_stream(pp, d, st, 2), in->dp_sync_us[st], x);
				if (id == UINT32_MAX || wlb_graph_dep(g, bar, id))
					goto nomem;
			}
		}
#undef IDX
	return wlb_des_run(g, err);
nomem:
	return wlb_error_set(err, WLB_ENOMEM, "out of memory building the schedule");
}
