/* sim.c — a trace's iterations end to end, with the attribution of lost time. */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "distca_sim.h"
#include "grow.h"
#include "progress.h"
#include "sim_int.h"
#include "workload.h"

const char *const wlb_lost_names[WLB_LOST_N] = {"cp_imbalance", "microbatch_imbalance",
						"dp_waiting", "exposed_comm", "pp_bubble"};

static const char *const order_names[] = {"packed", "heavy-first", "light-first"};

int wlb_mb_order_parse(const char *s, enum wlb_mb_order *out)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, order_names[i])) {
			*out = (enum wlb_mb_order)i;
			return 0;
		}
	return WLB_EINVAL;
}

const char *wlb_mb_order_name(enum wlb_mb_order o)
{
	return (unsigned)o < 3 ? order_names[o] : "?";
}


/* Variant v of the schedule input: 0 actual, 1 CP balanced, 2 micro-batches
 * equal per replica, 3 all equal, 4 and no communication. */
static void fill_variant(struct ctx *c, int v)
{
	const struct wlb_parallel *p = &c->par;
	size_t n = c->n_run, m = (size_t)p->microbatches;

	for (size_t k = 0; k < n; k++) {
		const struct wlb_mb_cost *x = &c->run[c->perm[k]];
		c->smb[k] = (struct wlb_sched_mb){
			(v == 0 ? x->fwd_max_us : x->fwd_mean_us) + x->fwd_comm_us,
			(v == 0 ? x->bwd_max_us : x->bwd_mean_us) + x->bwd_comm_us,
			x->first_fwd_us, x->first_bwd_us, x->last_fwd_us, x->last_bwd_us, x->pp_send_us};
	}
	if (v < 2)
		return;
	/* replace each group of micro-batches by its mean: per replica, or all */
	size_t group = v == 2 ? m : n;
	for (size_t g0 = 0; g0 < n; g0 += group) {
		struct wlb_sched_mb mean = {0};
		for (size_t k = g0; k < g0 + group; k++) {
			mean.fwd_us += c->smb[k].fwd_us / group;
			mean.bwd_us += c->smb[k].bwd_us / group;
			mean.first_fwd_us += c->smb[k].first_fwd_us / group;
			mean.first_bwd_us += c->smb[k].first_bwd_us / group;
			mean.last_fwd_us += c->smb[k].last_fwd_us / group;
			mean.last_bwd_us += c->smb[k].last_bwd_us / group;
			mean.send_us += c->smb[k].send_us / group;
		}
		if (v == 4) { /* no communication at all */
			double fc = 0, bc = 0;
			for (size_t k = 0; k < n; k++) {
				fc += c->run[c->perm[k]].fwd_comm_us / n;
				bc += c->run[c->perm[k]].bwd_comm_us / n;
			}
			mean.fwd_us -= fc;
			mean.bwd_us -= bc;
			mean.send_us = 0;
		}
		for (size_t k = g0; k < g0 + group; k++)
			c->smb[k] = mean;
	}
}

static int run_variant(struct ctx *c, int v, double *ms)
{
	const struct wlb_parallel *p = &c->par;
	/* without communication the optimizer step stays: it is compute */
	struct wlb_sched_in in = {p->pp, p->vpp, p->dp, p->microbatches, c->smb, c->chunk_layers,
				  v == 4 || !c->has_fsdp ? NULL : &c->fsdp, v == 4 ? c->dp_step : c->dp_sync};
	int rc;

	fill_variant(c, v);
	if ((rc = wlb_sched_run(c->sched, c->graph, &in, c->err)))
		return rc;
	*ms = wlb_graph_makespan(c->graph) / 1e3;
	return 0;
}

static void keep_timeline(struct ctx *c)
{
	struct wlb_sim_result *r = c->out;
	size_t n = wlb_graph_tasks(c->graph), base = r->n_mbs - c->n_mb;

	if (WLB_GROW(r->timeline, r->cap_timeline, n))
		return;
	r->n_timeline = n;
	for (uint32_t i = 0; i < n; i++) {
		const struct wlb_task *tk = wlb_graph_task_at(c->graph, i);
		const struct wlb_step *st = wlb_sched_step(c->sched, tk->tag);
		struct wlb_timeline_task *tt = &r->timeline[i];
		*tt = (struct wlb_timeline_task){*st, tk->start_us, tk->end_us, 0, 0};
		if (st->kind != WLB_STEP_BARRIER && st->kind != WLB_STEP_DP_SYNC && !c->dcp) {
			const struct wlb_sim_mb *mb =
				&r->mbs[base + c->perm[st->replica * (size_t)c->t->parallel.microbatches + st->mb]];
			tt->first_doc = mb->first_doc;
			tt->n_docs = mb->docs;
		}
	}
}

/* Per-rank attention of micro-batch b under both static layouts. */
static int cp_detail(struct ctx *c, const struct wlb_doc *d, size_t n, uint32_t b,
		     enum wlb_shard_kind used)
{
	struct wlb_sim_result *r = c->out;
	int cp = c->t->parallel.cp;
	const struct wlb_stage_plan *sp = &c->sp;

	if (!r->cp_rank_ms) {
		r->cp_rank_ms = calloc(c->n_mb * 2 * (size_t)cp, sizeof *r->cp_rank_ms);
		r->cp_used = calloc(c->n_mb, sizeof *r->cp_used);
		if (!r->cp_rank_ms || !r->cp_used)
			return WLB_ENOMEM;
		r->n_cp_mb = c->n_mb;
	}
	r->cp_used[b] = used;
	for (int k = 0; k < 2; k++) {
		if (wlb_shard(&c->alt, k ? WLB_SHARD_PER_DOC : WLB_SHARD_PER_SEQ, d, n, NULL))
			return WLB_ENOMEM;
		for (int rk = 0; rk < cp; rk++) {
			const struct wlb_piece *pc = c->alt.pieces + c->alt.rank_start[rk];
			size_t np = c->alt.rank_start[rk + 1] - c->alt.rank_start[rk];
			r->cp_rank_ms[((size_t)b * 2 + k) * cp + rk] =
				(wlb_cost_attn_us(sp->cost, pc, np, 0, sp->heads, sp->kv_heads, sp->model.head_dim, NULL) +
				 wlb_cost_attn_us(sp->cost, pc, np, 1, sp->heads, sp->kv_heads, sp->model.head_dim, NULL)) / 1e3;
		}
	}
	return 0;
}

/* The whole model's forward and backward time of a micro-batch. */
static void mb_times(const struct ctx *c, const struct wlb_mb_cost *x, struct wlb_sim_mb *mb)
{
	int layers = c->t->model.layers;
	mb->fwd_ms = (layers * (x->fwd_max_us + x->fwd_comm_us) + x->first_fwd_us + x->last_fwd_us) / 1e3;
	mb->bwd_ms = (layers * (x->bwd_max_us + x->bwd_comm_us) + x->first_bwd_us + x->last_bwd_us) / 1e3;
}

/* Core attention disaggregation: the attention of each pipeline position's
 * micro-batches pooled and balanced (distca_sim.h); returns the exposed
 * all-to-all time per GPU (ms). */
static int disaggregate(struct ctx *c, const struct wlb_packed *p, struct wlb_sim_mb *mbs, double *a2a_ms)
{
	const struct wlb_parallel *par = &c->t->parallel;
	double exposed = 0;

	for (size_t k = 0; k < c->n_mb; k++) {
		c->ca_imb[k] = 1;
		c->ca_exp[k] = 0;
	}
	if (wlb_ca_apply(&c->ca, &c->sp, p, c->perm, c->mbc, c->ca_imb, c->ca_exp))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	for (size_t k = 0; k < c->n_mb; k++) {
		mb_times(c, &c->mbc[k], &mbs[k]);
		mbs[k].cp_imbalance = c->ca_imb[k];
		exposed += c->t->model.layers * c->ca_exp[k];
	}
	/* each worker runs its stage's layers of its replica's micro-batches */
	*a2a_ms = exposed / (par->pp * par->dp) / 1e3;
	return 0;
}

static int on_mb(void *vc, const struct wlb_packed *p, uint32_t b, const struct wlb_sharding *sh)
{
	struct ctx *c = vc;
	struct wlb_sim_result *r = c->out;
	const struct wlb_mb *mb = &p->mb[b];
	const struct wlb_doc *d = p->docs + mb->first;
	double pairs = 0;

	if (b == 0)
		c->n_mb = p->n_mb;
	if (WLB_GROW(r->mbs, r->cap_mbs, r->n_mbs + 1) ||
	    WLB_GROW(r->doc_ids, r->cap_doc_ids, r->n_doc_ids + mb->n))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < mb->n; i++) {
		pairs += wlb_pairs(d[i].len, d[i].len);
		r->doc_ids[r->n_doc_ids + i] = d[i].id;
	}
	wlb_stage_mb_cost(&c->sp, sh, mb->tokens, pairs, &c->mbc[b]);
	if ((int)p->iter == c->o->timeline_iter && sh->cp > 1 && !c->distca &&
	    cp_detail(c, d, mb->n, b, sh->used))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	const struct wlb_mb_cost *x = &c->mbc[b];
	r->mbs[r->n_mbs] = (struct wlb_sim_mb){
		mb->replica, 0, mb->tokens, mb->n, x->tokens_rank, 0, 0,
		x->attn_fwd_rank_mean_us > 0 ? x->attn_fwd_rank_max_us / x->attn_fwd_rank_mean_us : 1.0,
		sh->used, (uint32_t)r->n_doc_ids};
	mb_times(c, x, &r->mbs[r->n_mbs++]);
	r->n_doc_ids += mb->n;
	c->flops += x->flops;
	return 0;
}

/* Pipeline order of each replica's micro-batches. */
static void order_mbs(struct ctx *c, struct wlb_sim_mb *mbs)
{
	size_t m = (size_t)c->t->parallel.microbatches;

	for (size_t k = 0; k < c->n_mb; k++) {
		c->perm[k] = (uint32_t)k;
		c->key[k] = mbs[k].fwd_ms + mbs[k].bwd_ms;
	}
	if (c->o->order != WLB_ORDER_PACKED)
		for (size_t g0 = 0; g0 < c->n_mb; g0 += m) /* insertion sort: m is small */
			for (size_t i = g0 + 1; i < g0 + m; i++)
				for (size_t j = i; j > g0; j--) {
					double a = c->key[c->perm[j - 1]], b = c->key[c->perm[j]];
					if (c->o->order == WLB_ORDER_HEAVY_FIRST ? a >= b : a <= b)
						break;
					uint32_t tmp = c->perm[j];
					c->perm[j] = c->perm[j - 1];
					c->perm[j - 1] = tmp;
				}
	for (size_t k = 0; k < c->n_mb; k++)
		mbs[c->perm[k]].position = (uint32_t)(k % m);
}

/* Peak activations of each stage: allocated at a forward, freed at its
 * backward.  Fills the iteration's memory divergence. */
static double peak_memory(struct ctx *c, struct wlb_sim_iter *it)
{
	const struct wlb_parallel *p = &c->par;
	size_t m = (size_t)p->microbatches, n_order = 2 * m * (size_t)p->vpp;
	double worst = 0;

	for (int d = 0; d < p->dp; d++)
		c->rep_peak[d] = 0;
	for (int s = 0; s < p->pp; s++) {
		double state = wlb_stage_state_bytes(&c->sp, s), act_peak = 0;
		wlb_sched_order(p->pp, p->vpp, p->microbatches, s, c->order);
		for (int d = 0; d < p->dp; d++) {
			double cur = 0;
			for (size_t k = 0; k < n_order; k++) {
				double a = c->run[c->perm[d * m + c->order[k].mb]].act_bytes *
					   c->chunk_layers[s * p->vpp + c->order[k].chunk];
				cur += c->order[k].kind == WLB_STEP_FWD ? a : -a;
				act_peak = cur > act_peak ? cur : act_peak;
				c->rep_peak[d] = cur > c->rep_peak[d] ? cur : c->rep_peak[d];
			}
		}
		c->stage_peak[s] = state + act_peak;
		struct wlb_sim_mem *mm = &c->out->mem[s];
		mm->state_gib = state / 1073741824.0;
		if (act_peak / 1073741824.0 > mm->act_gib)
			mm->act_gib = act_peak / 1073741824.0;
		double tot = mm->state_gib + act_peak / 1073741824.0;
		worst = tot > worst ? tot : worst;
	}
	it->imbalance_mem_pp = wlb_max_over_mean(c->stage_peak, (size_t)p->pp);
	it->imbalance_mem_dp = wlb_max_over_mean(c->rep_peak, (size_t)p->dp);
	for (size_t k = 0; k < c->n_mb; k++) /* act_bytes: per layer, the same factor for all */
		c->vals[k] = c->mbc[k].act_bytes;
	it->imbalance_mem = wlb_max_over_mean(c->vals, c->n_mb);
	return worst;
}

/* Buffers, workers and the stages' gradient sync for what c->run holds;
 * *step_sum gets the optimizer steps of one rank over the stages. */
static int setup_run(struct ctx *c, double *step_sum)
{
	const struct wlb_parallel *par = &c->t->parallel;
	double mean_fwd = 0, mean_bwd = 0;
	size_t n_real = 0;

	c->workers = c->par.pp * c->par.dp;
	if (WLB_GROW(c->smb, c->cap_smb, c->n_run) ||
	    WLB_GROW(c->order, c->cap_order, 2 * (size_t)c->par.microbatches * c->par.vpp) ||
	    WLB_GROW(c->busy, c->cap_busy, (size_t)c->workers))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	/* DP collectives hide behind the last micro-batch's backward on the
	 * stage and the next iteration's first forward: typical ones (the
	 * per-sequence CP's empty slots left out) */
	for (size_t k = 0; k < c->n_run; k++) {
		if (c->dcp && !c->run[k].tokens_rank)
			continue;
		mean_fwd += c->run[k].fwd_max_us + c->run[k].fwd_comm_us;
		mean_bwd += c->run[k].bwd_max_us + c->run[k].bwd_comm_us;
		n_real++;
	}
	mean_fwd /= n_real ? (double)n_real : 1.0;
	mean_bwd /= n_real ? (double)n_real : 1.0;
	*step_sum = 0;
	for (int s = 0; s < par->pp; s++) {
		double parts[2], layers = wlb_stage_layers(par, c->t->model.layers, s);
		c->dp_sync[s] = wlb_stage_dp_sync_us(&c->sp, s, layers * mean_bwd, layers * mean_fwd, parts);
		c->dp_step[s] = parts[1];
		*step_sum += parts[1];
	}
	return 0;
}

static int on_iter(void *vc, const struct wlb_packed *p, const struct wlb_iter_rec *rec)
{
	struct ctx *c = vc;
	struct wlb_sim_result *r = c->out;
	const struct wlb_parallel *par = &c->t->parallel;
	struct wlb_sim_mb *mbs = r->mbs + r->n_mbs - c->n_mb;
	double t[5], *fv;
	int rc;

	double wait_us = 0, step_sum;

	(void)rec;
	if (WLB_GROW(r->iters, r->cap_iters, r->n_iters + 1))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	order_mbs(c, mbs);
	double a2a_ms = 0;
	if (c->distca && (rc = disaggregate(c, p, mbs, &a2a_ms)))
		return rc;
	c->par = *par;
	c->run = c->mbc;
	c->n_run = c->n_mb;
	if (c->dcp) {
		/* the cost model's scheduler keeps the static layout (one of its
		 * placements) for an iteration where the engine finds it faster */
		double t_static = -1, t_dyn;
		int k_static = wlb_sim_dcp_static_k(c), kept = 0;
		if (k_static >= 0) {
			memcpy(c->perm_static, c->perm, c->n_mb * sizeof *c->perm);
			if ((rc = setup_run(c, &step_sum)) || (rc = run_variant(c, 0, &t_static)))
				return rc;
		}
		if ((rc = wlb_sim_dcp_iter(c, p, &wait_us)) || (rc = setup_run(c, &step_sum)) ||
		    (rc = run_variant(c, 0, &t_dyn)))
			return rc;
		if (k_static >= 0 && t_static <= t_dyn + wait_us / 1e3) {
			c->par = *par;
			c->run = c->mbc;
			c->n_run = c->n_mb;
			memcpy(c->perm, c->perm_static, c->n_mb * sizeof *c->perm);
			wait_us = 0;
			kept = 1;
		}
		wlb_sim_dcp_account(c, p, kept);
	}
	if ((rc = setup_run(c, &step_sum)))
		return rc;

	struct wlb_sim_iter *it = &r->iters[r->n_iters];
	memset(it, 0, sizeof *it);
	it->iter = p->iter;
	it->first_mb = r->n_mbs - c->n_mb;
	it->a2a_exposed_ms = a2a_ms;
	if ((rc = run_variant(c, 0, &t[0])))
		return rc;
	/* bubble: idle share of each worker's compute stream */
	memset(c->busy, 0, (size_t)c->workers * sizeof *c->busy);
	for (uint32_t i = 0; i < wlb_graph_tasks(c->graph); i++) {
		const struct wlb_task *tk = wlb_graph_task_at(c->graph, i);
		if (tk->stream < (uint32_t)(3 * c->workers) && tk->stream % 3 == 0)
			c->busy[tk->stream / 3] += tk->dur_us;
	}
	for (int w = 0; w < c->workers; w++) /* the optimizer step is work too */
		c->busy[w] += c->dp_step[w % par->pp];
	for (int w = 0; w < c->workers; w++)
		it->bubble_fraction += (1 - c->busy[w] / (t[0] * 1e3)) / c->workers;
	if (c->o->timeline_iter == (int)p->iter)
		keep_timeline(c);
	for (int v = 1; v < 5; v++)
		if ((rc = run_variant(c, v, &t[v])))
			return rc;
	/* per-sequence CP: the groups' waits for their last member, a rank
	 * imbalance, gone once the ranks are equal (variant 3) */
	for (int v = 0; v < 3; v++)
		t[v] += wait_us / 1e3;

	/* every replica steps its optimizer once per stage */
	double work = step_sum * c->par.dp;
	int layers = c->t->model.layers;
	for (size_t k = 0; k < c->n_run; k++) {
		const struct wlb_mb_cost *x = &c->run[k];
		work += layers * (x->fwd_mean_us + x->bwd_mean_us) + x->first_fwd_us + x->first_bwd_us +
			x->last_fwd_us + x->last_bwd_us;
	}
	it->time_ms = t[0];
	it->ideal_ms = work / c->workers / 1e3;
	for (int l = 0; l < WLB_LOST_BUBBLE; l++)
		it->lost_ms[l] = t[l] - t[l + 1];
	it->lost_ms[WLB_LOST_BUBBLE] = t[4] - it->ideal_ms;

	/* imbalance: forward time of micro-batches; attention over CP ranks;
	 * replica busy time */
	if (WLB_GROW(c->vals, c->cap_vals, c->n_mb + (size_t)par->dp))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	fv = c->vals;
	double cp_sum = 0;
	for (size_t k = 0; k < c->n_mb; k++) {
		fv[k] = mbs[k].fwd_ms;
		cp_sum += mbs[k].cp_imbalance;
		it->tokens += mbs[k].tokens;
	}
	it->imbalance_pp = wlb_max_over_mean(fv, c->n_mb);
	it->imbalance_cp = cp_sum / (double)c->n_mb;
	if (c->dcp) { /* the pool's ranks: their compute before the sync */
		if (WLB_GROW(c->vals, c->cap_vals, (size_t)c->par.dp))
			return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
		fv = c->vals;
		for (int d = 0; d < c->par.dp; d++) {
			fv[d] = 0;
			for (int j = 0; j < c->par.microbatches; j++) {
				const struct wlb_mb_cost *x = &c->run[c->perm[(size_t)d * c->par.microbatches + j]];
				fv[d] += layers * (x->fwd_max_us + x->fwd_comm_us + x->bwd_max_us + x->bwd_comm_us);
			}
		}
		it->imbalance_dp = wlb_max_over_mean(fv, (size_t)c->par.dp);
	} else {
		for (int d = 0; d < par->dp; d++)
			fv[d] = 0;
		for (size_t k = 0; k < c->n_mb; k++)
			fv[mbs[k].replica] += mbs[k].fwd_ms + mbs[k].bwd_ms;
		it->imbalance_dp = wlb_max_over_mean(fv, (size_t)par->dp);
	}
	it->flops = c->flops;
	c->flops = 0;
	it->peak_mem_gib = peak_memory(c, it);

	if (WLB_GROW(c->times, c->cap_times, r->n_iters + 1))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	c->times[r->n_iters++] = it->time_ms;
	if (c->t->iterations > 1)
		wlb_progress_show(&c->prog, r->n_iters, c->t->iterations, "iterations");
	return 0;
}

static void summarize(struct ctx *c)
{
	struct wlb_sim_result *r = c->out;
	struct wlb_sim_summary *s = &r->summary;
	const struct wlb_parallel *p = &c->t->parallel;
	double gpus = (double)p->tp * p->cp * p->pp * p->dp, n = (double)r->n_iters;
	double flops = 0, tokens = 0, time = 0;

	s->iterations = (uint32_t)r->n_iters;
	if (!r->n_iters)
		return;
	for (size_t i = 0; i < r->n_iters; i++) {
		const struct wlb_sim_iter *it = &r->iters[i];
		flops += it->flops;
		tokens += (double)it->tokens;
		time += it->time_ms;
		s->imbalance_pp += it->imbalance_pp / n;
		s->imbalance_cp += it->imbalance_cp / n;
		s->imbalance_dp += it->imbalance_dp / n;
		s->bubble_fraction += it->bubble_fraction / n;
		s->a2a_exposed_ms += it->a2a_exposed_ms / n;
		s->imbalance_mem += it->imbalance_mem / n;
		s->imbalance_mem_pp += it->imbalance_mem_pp / n;
		s->imbalance_mem_dp += it->imbalance_mem_dp / n;
		s->ideal_ms += it->ideal_ms / n;
		for (int l = 0; l < WLB_LOST_N; l++)
			s->lost_ms[l] += it->lost_ms[l] / n;
		if (it->peak_mem_gib > s->peak_mem_gib)
			s->peak_mem_gib = it->peak_mem_gib;
	}
	s->iteration_ms_mean = time / n;
	gsl_sort(c->times, 1, r->n_iters);
	s->iteration_ms_p50 = gsl_stats_quantile_from_sorted_data(c->times, 1, r->n_iters, 0.5);
	s->iteration_ms_p95 = gsl_stats_quantile_from_sorted_data(c->times, 1, r->n_iters, 0.95);
	s->tokens_per_s = tokens / (time / 1e3);
	s->mfu = flops / (time / 1e3) / (gpus * wlb_cost_device(c->sp.cost)->peak_bf16_tflops * 1e12);
	s->balance_efficiency = s->ideal_ms / s->iteration_ms_mean;
	s->token_delay_iters = r->pack.summary.token_delay_iters;
	s->oom = s->peak_mem_gib > c->mem_limit;
	s->extrapolations = wlb_cost_extrapolations(c->sp.cost) - c->extrap0;
}

int wlb_sim_run(const struct wlb_trace *t, struct wlb_cost *cost, const struct wlb_sim_opts *o,
		struct wlb_sim_result *out, struct wlb_error *err)
{
	const struct wlb_parallel *p = &t->parallel;
	const struct wlb_device *dev = wlb_cost_device(cost);
	struct ctx c = {0};
	struct wlb_workload w;
	struct wlb_packrun_hooks hooks = {&c, on_mb, on_iter};
	size_t n_mb = (size_t)p->dp * p->microbatches;
	long long gpus = (long long)p->tp * p->cp * p->pp * p->dp;
	int rc;

	memset(out, 0, sizeof *out);
	if (strcmp(dev->name, t->gpu))
		return wlb_error_set(err, WLB_EINVAL, "the cost DB is for %s but the trace's gpu is %s",
				     dev->name, t->gpu);
	if (t->cluster.nodes > 0 && (long long)t->cluster.nodes * t->cluster.gpus_per_node != gpus)
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel: tp x cp x pp x dp = %lld GPUs, but the cluster has %d nodes of %d",
				     gpus, t->cluster.nodes, t->cluster.gpus_per_node);
	if (2ull * (unsigned)p->cp > t->context)
		return wlb_error_set(err, WLB_EINVAL, "parallel.cp: 2 x cp (%d) exceeds the context (%u)",
				     2 * p->cp, t->context);
	if ((rc = wlb_stage_plan_init(&c.sp, &t->model, p, t->cluster.gpus_per_node, cost, err)))
		return rc;
	c.sp.context = t->context;
	c.t = t;
	c.o = o;
	c.out = out;
	c.err = err;
	c.workers = p->pp * p->dp;
	c.mem_limit = dev->mem_gib;
	out->timeline_iter = o->timeline_iter;
	out->cp = p->cp;
	c.extrap0 = wlb_cost_extrapolations(cost);
	out->pp = p->pp;
	out->dp = p->dp;
	out->mem_limit_gib = dev->mem_gib;
	c.mbc = calloc(n_mb, sizeof *c.mbc);
	c.perm = calloc(n_mb, sizeof *c.perm);
	c.perm_static = calloc(n_mb, sizeof *c.perm_static);
	c.cap_perm = n_mb;
	c.key = calloc(n_mb, sizeof *c.key);
	c.dp_sync = calloc((size_t)p->pp, sizeof *c.dp_sync);
	c.dp_step = calloc((size_t)p->pp, sizeof *c.dp_step);
	c.chunk_layers = calloc((size_t)p->pp * p->vpp, sizeof *c.chunk_layers);
	c.distca = !strcmp(p->cp_algo, "distca");
	c.ca_imb = calloc(n_mb, sizeof *c.ca_imb);
	c.ca_exp = calloc(n_mb, sizeof *c.ca_exp);
	c.stage_peak = calloc((size_t)p->pp, sizeof *c.stage_peak);
	/* per replica, or per rank of the pool with per-sequence CP */
	c.rep_peak = calloc((size_t)p->dp * p->cp, sizeof *c.rep_peak);
	out->mem = calloc((size_t)p->pp, sizeof *out->mem);
	if (!c.mbc || !c.perm || !c.perm_static || !c.key || !c.dp_sync || !c.dp_step || !c.chunk_layers ||
	    !out->mem || !c.ca_imb || !c.ca_exp || !c.stage_peak || !c.rep_peak ||
	    wlb_sharding_init(&c.alt, p->cp) ||
	    wlb_sched_create(&c.sched) || wlb_graph_create(&c.graph)) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto done;
	}
	for (int s = 0; s < p->pp; s++)
		for (int k = 0; k < p->vpp; k++)
			c.chunk_layers[s * p->vpp + k] = wlb_chunk_layers(p, t->model.layers, s, k);
	c.has_fsdp = p->zero == 3 && p->dp * p->cp > 1;
	c.fsdp = (struct wlb_sched_fsdp){c.sp.fsdp_layer_ag_us, c.sp.fsdp_layer_rs_us, c.sp.fsdp_first_ag_us,
					 c.sp.fsdp_first_rs_us, c.sp.fsdp_last_ag_us, c.sp.fsdp_last_rs_us,
					 p->overlap_param_gather, p->overlap_grad_reduce};
	if ((rc = wlb_sim_dcp_init(&c, err)))
		goto done;
	wlb_workload_cost(&w, cost, &t->model, p, t->context);
	wlb_progress_start(&c.prog, "simulating", o->quiet);
	rc = wlb_packrun_with(t, &w, &hooks, &out->pack, err);
	wlb_progress_end(&c.prog);
	if (rc)
		goto done;
	summarize(&c);
done:
	free(c.mbc);
	free(c.smb);
	free(c.perm);
	free(c.perm_static);
	free(c.key);
	free(c.dp_sync);
	free(c.dp_step);
	free(c.chunk_layers);
	free(c.busy);
	free(c.order);
	free(c.stage_peak);
	free(c.rep_peak);
	free(c.times);
	free(c.vals);
	wlb_sharding_free(&c.alt);
	wlb_sim_dcp_free(&c);
	wlb_ca_ctx_free(&c.ca);
	free(c.ca_imb);
	free(c.ca_exp);
	wlb_sched_destroy(c.sched);
	wlb_graph_destroy(c.graph);
	if (rc)
		wlb_sim_result_free(out);
	return rc;
}

void wlb_sim_result_free(struct wlb_sim_result *r)
{
	wlb_packrun_free(&r->pack);
	free(r->iters);
	free(r->mbs);
	free(r->doc_ids);
	free(r->mem);
	free(r->timeline);
	free(r->cp_rank_ms);
	free(r->cp_used);
	memset(r, 0, sizeof *r);
}
