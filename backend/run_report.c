/* run_report.c — measured records into the simulator's result (run_report.h). */
#include "run_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "grow.h"

#define GIB 1073741824.0

struct coords {
	int tp, cp, dp, pp;
};

static int rank_of(const struct coords *c, int ti, int ci, int d, int s)
{
	return ti + c->tp * (ci + c->cp * (d + c->dp * s));
}

/* Step (position k, chunk c, bwd) of a rank: its fields (start, end, attn, comm). */
static const double *step(const struct wlb_exec_result *x, size_t it, int rank, int k, int c, int bwd)
{
	return wlb_exec_rec(x, it, rank) + WLB_EXEC_HEAD + (k * x->vpp + c) * WLB_EXEC_SLOT + 4 * bwd;
}

/* The slowest of the TP (and, unless ci >= 0, CP) ranks of worker (d, s). */
static double group_max(const struct wlb_exec_result *x, const struct coords *g, size_t it, int d,
			int s, int k, int c, int ci, int what)
{
	double mx = 0;
	for (int cc = ci < 0 ? 0 : ci; cc < (ci < 0 ? g->cp : ci + 1); cc++)
		for (int ti = 0; ti < g->tp; ti++) {
			int r = rank_of(g, ti, cc, d, s);
			double v;
			if (what == 1) /* forward */
				v = step(x, it, r, k, c, 0)[1] - step(x, it, r, k, c, 0)[0];
			else if (what == 2) /* backward */
				v = step(x, it, r, k, c, 1)[1] - step(x, it, r, k, c, 1)[0];
			else /* attention, forward + backward (what 3) */
				v = step(x, it, r, k, c, 0)[2] + step(x, it, r, k, c, 1)[2];
			mx = fmax(mx, v);
		}
	return mx;
}

static int timeline(const struct wlb_exec_result *x, const struct coords *g, size_t it,
		    struct wlb_sim_result *r)
{
	size_t n = (size_t)g->dp * g->pp * x->m * x->vpp * 2, at = 0;
	if (WLB_GROW(r->timeline, r->cap_timeline, n))
		return WLB_ENOMEM;
	const struct wlb_sim_iter *si = &r->iters[it];
	for (int d = 0; d < g->dp; d++)
		for (int s = 0; s < g->pp; s++)
			for (int k = 0; k < x->m; k++)
				for (int c = 0; c < x->vpp; c++)
					for (int b = 0; b < 2; b++) {
						const double *f = step(x, it, rank_of(g, 0, 0, d, s), k, c, b);
						const struct wlb_sim_mb *mb = NULL;
						for (size_t j = 0; j < (size_t)g->dp * x->m; j++)
							if (r->mbs[si->first_mb + j].replica == (uint32_t)d &&
							    r->mbs[si->first_mb + j].position == (uint32_t)k)
								mb = &r->mbs[si->first_mb + j];
						r->timeline[at++] = (struct wlb_timeline_task){
							{b ? WLB_STEP_BWD : WLB_STEP_FWD, (uint16_t)s, (uint16_t)c,
							 (uint32_t)d, (uint32_t)k},
							f[0] * 1e3, f[1] * 1e3, mb ? mb->first_doc : 0, mb ? mb->docs : 0};
					}
	r->n_timeline = at;
	return 0;
}

int wlb_run_report_apply(const struct wlb_trace *t, const struct wlb_exec_result *x, double mem_gib,
			 struct wlb_sim_result *r, struct wlb_error *err)
{
	const struct wlb_parallel *p = &t->parallel;
	struct coords g = {p->tp, p->cp, p->dp, p->pp};
	size_t n_mb = (size_t)p->dp * p->microbatches, workers = (size_t)p->dp * p->pp;
	double *fv = calloc(n_mb + workers + (size_t)p->cp + r->n_iters + 1, sizeof *fv);
	double *busy = fv + n_mb, *attn = busy + workers, *times = attn + p->cp;
	double pred_time = 0, time = 0, tokens = 0;
	double pred_mfu = r->summary.mfu;
	int rc = 0;

	if (!fv)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	if (r->n_iters != x->n_iters) {
		free(fv);
		return wlb_error_set(err, WLB_EINVAL, "measured %zu iterations, predicted %zu", x->n_iters,
				     r->n_iters);
	}
	for (int s = 0; s < p->pp; s++)
		r->mem[s].state_gib = r->mem[s].act_gib = 0;
	for (size_t i = 0; i < r->n_iters; i++) {
		struct wlb_sim_iter *it = &r->iters[i];
		double wall = 0, peak = 0;
		pred_time += it->time_ms;
		for (int w = 0; w < x->world; w++) {
			const double *h = wlb_exec_rec(x, i, w);
			int s = w / (p->tp * p->cp * p->dp);
			wall = fmax(wall, h[0]);
			peak = fmax(peak, h[1]);
			r->mem[s].state_gib = fmax(r->mem[s].state_gib, h[2] / GIB);
			r->mem[s].act_gib = fmax(r->mem[s].act_gib, (h[1] - h[2]) / GIB);
		}
		memset(busy, 0, workers * sizeof *busy);
		for (size_t j = 0; j < n_mb; j++) {
			struct wlb_sim_mb *mb = &r->mbs[it->first_mb + j];
			int d = (int)mb->replica, k = (int)mb->position;
			mb->fwd_ms = mb->bwd_ms = 0;
			for (int ci = 0; ci < p->cp; ci++)
				attn[ci] = 0;
			for (int s = 0; s < p->pp; s++)
				for (int c = 0; c < p->vpp; c++) {
					mb->fwd_ms += group_max(x, &g, i, d, s, k, c, -1, 1);
					mb->bwd_ms += group_max(x, &g, i, d, s, k, c, -1, 2);
					for (int ci = 0; ci < p->cp; ci++)
						attn[ci] += group_max(x, &g, i, d, s, k, c, ci, 3);
				}
			mb->cp_imbalance = wlb_max_over_mean(attn, (size_t)p->cp);
		}
		/* a worker is busy while its slowest rank is: each rank's own steps
		 * are disjoint intervals of the iteration */
		for (int d = 0; d < p->dp; d++)
			for (int s = 0; s < p->pp; s++)
				for (int ci = 0; ci < p->cp; ci++)
					for (int ti = 0; ti < p->tp; ti++) {
						int rk = rank_of(&g, ti, ci, d, s);
						double b = 0;
						for (int k = 0; k < x->m; k++)
							for (int c = 0; c < x->vpp; c++)
								for (int bw = 0; bw < 2; bw++)
									b += step(x, i, rk, k, c, bw)[1] -
									     step(x, i, rk, k, c, bw)[0];
						busy[d * p->pp + s] = fmax(busy[d * p->pp + s], b);
					}
		double cp_sum = 0, work = 0;
		it->bubble_fraction = 0;
		for (size_t w = 0; w < workers; w++) {
			work += busy[w];
			it->bubble_fraction += (1 - busy[w] / wall) / (double)workers;
		}
		for (size_t j = 0; j < n_mb; j++) {
			fv[j] = r->mbs[it->first_mb + j].fwd_ms;
			cp_sum += r->mbs[it->first_mb + j].cp_imbalance;
		}
		it->time_ms = wall;
		it->ideal_ms = work / (double)workers;
		it->imbalance_pp = wlb_max_over_mean(fv, n_mb);
		it->imbalance_cp = cp_sum / (double)n_mb;
		for (int d = 0; d < p->dp; d++)
			fv[d] = 0;
		for (size_t j = 0; j < n_mb; j++)
			fv[r->mbs[it->first_mb + j].replica] += r->mbs[it->first_mb + j].fwd_ms +
							       r->mbs[it->first_mb + j].bwd_ms;
		it->imbalance_dp = wlb_max_over_mean(fv, (size_t)p->dp);
		it->peak_mem_gib = peak / GIB;
		memset(it->lost_ms, 0, sizeof it->lost_ms);
		times[i] = wall;
		time += wall;
		tokens += (double)it->tokens;
		if ((int)i == r->timeline_iter && (rc = timeline(x, &g, i, r)))
			break;
	}

	struct wlb_sim_summary *s = &r->summary;
	double n = (double)r->n_iters;
	if (!rc && r->n_iters) {
		s->imbalance_pp = s->imbalance_cp = s->imbalance_dp = 0;
		s->bubble_fraction = s->ideal_ms = s->peak_mem_gib = 0;
		for (size_t i = 0; i < r->n_iters; i++) {
			const struct wlb_sim_iter *it = &r->iters[i];
			s->imbalance_pp += it->imbalance_pp / n;
			s->imbalance_cp += it->imbalance_cp / n;
			s->imbalance_dp += it->imbalance_dp / n;
			s->bubble_fraction += it->bubble_fraction / n;
			s->ideal_ms += it->ideal_ms / n;
			s->peak_mem_gib = fmax(s->peak_mem_gib, it->peak_mem_gib);
		}
		s->iteration_ms_mean = time / n;
		gsl_sort(times, 1, r->n_iters);
		s->iteration_ms_p50 = gsl_stats_quantile_from_sorted_data(times, 1, r->n_iters, 0.5);
		s->iteration_ms_p95 = gsl_stats_quantile_from_sorted_data(times, 1, r->n_iters, 0.95);
		s->tokens_per_s = tokens / (time / 1e3);
		s->mfu = time > 0 ? pred_mfu * pred_time / time : 0; /* the same FLOPs in the measured time */
		s->balance_efficiency = s->ideal_ms / s->iteration_ms_mean;
		memset(s->lost_ms, 0, sizeof s->lost_ms);
		s->extrapolations = 0;
		if (mem_gib > 0)
			r->mem_limit_gib = mem_gib;
		s->oom = 0;
	}
	r->n_cp_mb = 0; /* the per-layout CP detail is a prediction only */
	free(fv);
	return rc ? wlb_error_set(err, rc, "out of memory") : 0;
}

json_t *wlb_run_report_stages(const struct wlb_trace *t, const struct wlb_exec_result *x)
{
	const struct wlb_parallel *p = &t->parallel;
	struct coords g = {p->tp, p->cp, p->dp, p->pp};
	json_t *its = json_array();

	for (size_t i = 0; i < x->n_iters; i++) {
		json_t *ws = json_array();
		double wall = 0;
		for (int w = 0; w < x->world; w++)
			wall = fmax(wall, wlb_exec_rec(x, i, w)[0]);
		for (int d = 0; d < p->dp; d++)
			for (int s = 0; s < p->pp; s++) {
				/* each field: the slowest of the worker's ranks */
				double f[6] = {0, 0, 0, 0, 0, 0}; /* fwd, bwd, comm, attn, sync, busy */
				for (int ci = 0; ci < p->cp; ci++)
					for (int ti = 0; ti < p->tp; ti++) {
						int r = rank_of(&g, ti, ci, d, s);
						double v[6] = {0, 0, 0, 0, wlb_exec_rec(x, i, r)[3], 0};
						for (int k = 0; k < x->m; k++)
							for (int c = 0; c < x->vpp; c++)
								for (int b = 0; b < 2; b++) {
									const double *st = step(x, i, r, k, c, b);
									v[b] += st[1] - st[0];
									v[2] += st[3];
									v[3] += st[2];
								}
						v[5] = v[0] + v[1] + v[4];
						for (int k = 0; k < 6; k++)
							f[k] = fmax(f[k], v[k]);
					}
				json_array_append_new(ws, json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f}",
					"replica", d, "stage", s, "fwd_ms", f[0], "bwd_ms", f[1],
					"comm_ms", f[2], "attn_ms", f[3], "dp_sync_ms", f[4],
					"idle_ms", fmax(0, wall - f[5])));
			}
		json_array_append_new(its, json_pack("{s:i, s:f, s:o}", "iteration", (int)i, "time_ms", wall,
						     "workers", ws));
	}
	return its;
}
