/* sim_dcp.c — per-sequence CP degree in the simulator (dcp.h).
 *
 * The sequences: the packer's iteration (every document it emitted, so the
 * packer's delay and conservation hold unchanged) is re-binned, as
 * Megatron-Core's dynamic CP does on top of global-batch packing: a document
 * longer than the per-rank token budget is a sequence of its own, the
 * others are binned by work into sequences of at most the budget (rebin).
 * The budget is what one rank holds under the static layout: the
 * packer's longest micro-batch (s_max for wlb, the context otherwise, times
 * the micro-batch size) over cp.
 *
 * The pool's P = dp x cp ranks are P pipeline columns (one rank per stage);
 * a sequence of degree d runs on d columns, each through the trace's
 * pipeline schedule with that degree's stage costs (the CP all-gather over
 * d ranks, d ranks' share of the tokens).  The schedule engine needs the
 * same number of micro-batches on every column: a column with fewer
 * sequences gets empty slots at its end, which cost nothing but the FSDP
 * collectives the column must still join.  Group members starting together
 * is not in the engine: the list schedule's waits (its makespan over the
 * busiest rank's own work) are added to the iteration instead. */
#include "sim_int.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>

#include "grow.h"

struct wlb_sim_dcp {
	enum wlb_dcp_mode mode;
	enum wlb_shard_kind kind;
	struct wlb_dcp_pool pool;
	uint32_t budget;
	struct wlb_stage_plan plan[WLB_DCP_MAX_DEG];
	struct wlb_sharding sh[WLB_DCP_MAX_DEG];
	int n_sh;
	/* the iteration's documents, then the sequences' in order */
	struct wlb_doc *docs, *seq_docs;
	double *len;
	size_t *by_len, *bin_of;
	uint64_t *bin_tokens;
	size_t *seq_first, *seq_n;
	double *sq, *cost;
	struct wlb_mb_cost *mc, *slots;
	struct wlb_dcp_place *place;
	struct wlb_dcp_scratch x;
	uint32_t *count, *perm;
	/* this iteration's figures, accounted once the simulator has chosen */
	uint64_t it_seqs, it_degree_seqs[WLB_DCP_MAX_DEG], it_degree_tokens[WLB_DCP_MAX_DEG];
	double it_min, it_max, it_mean, it_slots, it_wait_us;
	int static_k;                  /* degree index of the static layout's cp, -1: none */
	size_t cap_docs, cap_seq_docs, cap_len, cap_by_len, cap_bin_of, cap_bin_tokens, cap_seq_first,
	       cap_seq_n, cap_sq, cap_cost, cap_mc, cap_slots, cap_place, cap_count, cap_perm;
};

int wlb_sim_dcp_init(struct ctx *c, struct wlb_error *err)
{
	const struct wlb_trace *t = c->t;
	const struct wlb_parallel *p = &t->parallel;
	struct wlb_policy pol = t->policy;
	enum wlb_dcp_mode mode;
	struct wlb_sim_dcp *d;
	int rc;

	wlb_policy_defaults(&pol, t->context);
	if (wlb_dcp_mode_parse(pol.cp_mode, &mode))
		return wlb_error_set(err, WLB_EINVAL, "policy.cp_mode: unknown \"%s\"", pol.cp_mode);
	c->out->dcp.mode = mode;
	if (mode == WLB_DCP_STATIC)
		return 0;
	if (strcmp(p->cp_algo, "allgather"))
		return wlb_error_set(err, WLB_EINVAL, "policy.cp_mode %s is modelled with "
				     "parallel.cp_algo allgather, got %s", pol.cp_mode, p->cp_algo);
	if (!(d = calloc(1, sizeof *d)))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	c->dcp = d;
	d->mode = mode;
	wlb_shard_parse(pol.sharding, &d->kind);
	wlb_dcp_pool_init(&d->pool, p->dp * p->cp);
	uint64_t longest = (uint64_t)(strcmp(pol.packing, "wlb") ? t->context : pol.s_max) *
			   (uint64_t)p->micro_batch_size;
	d->budget = (uint32_t)((longest + (uint64_t)p->cp - 1) / (uint64_t)p->cp);
	for (int k = 0; k < d->pool.n_deg; k++) {
		struct wlb_parallel q = *p;
		q.cp = d->pool.deg[k];
		q.dp = d->pool.ranks / q.cp;
		if ((rc = wlb_stage_plan_init(&d->plan[k], &t->model, &q, t->cluster.gpus_per_node, c->sp.cost, err)))
			return rc;
		d->plan[k].context = t->context;
		if (wlb_sharding_init(&d->sh[k], q.cp))
			return wlb_error_set(err, WLB_ENOMEM, "out of memory");
		d->n_sh = k + 1;
	}
	d->static_k = -1;
	for (int k = 0; k < d->pool.n_deg; k++)
		if (mode == WLB_DCP_COST && d->pool.deg[k] == p->cp)
			d->static_k = k;
	struct wlb_sim_dcp_stats *s = &c->out->dcp;
	s->budget_tokens = d->budget;
	s->ranks = d->pool.ranks;
	s->pool = d->pool;
	return 0;
}

void wlb_sim_dcp_free(struct ctx *c)
{
	struct wlb_sim_dcp *d = c->dcp;

	if (!d)
		return;
	for (int k = 0; k < d->n_sh; k++)
		wlb_sharding_free(&d->sh[k]);
	free(d->docs);
	free(d->seq_docs);
	free(d->len);
	free(d->by_len);
	free(d->bin_of);
	free(d->bin_tokens);
	free(d->seq_first);
	free(d->seq_n);
	free(d->sq);
	free(d->cost);
	free(d->mc);
	free(d->slots);
	free(d->place);
	free(d->count);
	free(d->perm);
	wlb_dcp_scratch_free(&d->x);
	free(d);
	c->dcp = NULL;
}

/* Time of one sequence at degree deg[k] under plan k, per stage (us). */
static double seq_cost(struct ctx *c, int k, const struct wlb_doc *dd, size_t n, struct wlb_mb_cost *x)
{
	struct wlb_sim_dcp *d = c->dcp;
	uint64_t tokens = 0;
	double pairs = 0;

	for (size_t j = 0; j < n; j++) {
		tokens += dd[j].len;
		pairs += wlb_pairs(dd[j].len, dd[j].len);
	}
	if (wlb_shard(&d->sh[k], d->kind, dd, n, NULL))
		return -1;
	wlb_stage_mb_cost(&d->plan[k], &d->sh[k], tokens, pairs, x);
	return (c->t->model.layers * (x->fwd_max_us + x->fwd_comm_us + x->bwd_max_us + x->bwd_comm_us) +
		x->first_fwd_us + x->first_bwd_us + x->last_fwd_us + x->last_bwd_us) / c->t->parallel.pp;
}

/* The iteration's documents into sequences: a document over the budget is
 * a sequence of its own; the others go, heaviest first (each one's time
 * alone on one rank), to the lightest of ceil(tokens / budget) bins that has
 * room, a new bin when none has: sequences of even work, so that a
 * pipeline's micro-batches stay alike; at least dp x cp x microbatches
 * sequences in all, so that every column has a full pipeline.  Returns the number of sequences
 * (seq_first / seq_n into seq_docs), or a negative error. */
static long rebin(struct ctx *c, const struct wlb_packed *p)
{
	struct wlb_sim_dcp *d = c->dcp;
	size_t n = 0, bins = 0, open = 0;
	uint64_t short_tokens = 0;
	struct wlb_mb_cost x;

	for (uint32_t b = 0; b < p->n_mb; b++)
		n += p->mb[b].n;
	if (WLB_GROW(d->docs, d->cap_docs, n + 1) || WLB_GROW(d->seq_docs, d->cap_seq_docs, n + 1) ||
	    WLB_GROW(d->len, d->cap_len, 2 * n + 2) || WLB_GROW(d->by_len, d->cap_by_len, n + 1) ||
	    WLB_GROW(d->bin_of, d->cap_bin_of, n + 1) || WLB_GROW(d->bin_tokens, d->cap_bin_tokens, n + 1) ||
	    WLB_GROW(d->seq_first, d->cap_seq_first, n + 1) || WLB_GROW(d->seq_n, d->cap_seq_n, n + 1))
		return WLB_ENOMEM;
	n = 0;
	for (uint32_t b = 0; b < p->n_mb; b++)
		for (uint32_t i = 0; i < p->mb[b].n; i++) {
			d->docs[n] = p->docs[p->mb[b].first + i];
			double w = seq_cost(c, 0, &d->docs[n], 1, &x);
			if (w < 0)
				return WLB_ENOMEM;
			/* heaviest first, ties by stream position */
			d->len[n] = -w - (double)n * 1e-9;
			if (d->docs[n].len <= d->budget)
				short_tokens += d->docs[n].len;
			n++;
		}
	gsl_sort_index(d->by_len, d->len, 1, n);
	double *work = d->len + n; /* per bin; the sort keys are read by index only */
	/* at least the trace's micro-batches per rank, so that each pipeline
	 * column has as many to overlap as under static CP */
	open = (size_t)((short_tokens + d->budget - 1) / d->budget);
	size_t n_long = 0, want = (size_t)d->pool.ranks * (size_t)c->t->parallel.microbatches;
	for (size_t i = 0; i < n; i++)
		n_long += d->docs[i].len > d->budget;
	if (short_tokens && open + n_long < want)
		open = want - n_long;
	/* no empty sequence: a pipeline column short of sequences gets empty
	 * slots instead.  Every bin then holds a document (an empty one is the
	 * lightest), so bins <= n, the arrays' size */
	if (open > n - n_long)
		open = n - n_long;
	for (size_t b = 0; b < open; b++) {
		d->bin_tokens[b] = 0;
		work[b] = 0;
	}
	bins = open;
	for (size_t j = 0; j < n; j++) {
		size_t i = d->by_len[j], best = bins;
		uint32_t l = d->docs[i].len;
		if (l <= d->budget)
			for (size_t b = 0; b < bins; b++)
				if (d->bin_tokens[b] + l <= d->budget && (best == bins || work[b] < work[best]))
					best = b;
		if (best == bins) { /* a long document, or no room left */
			d->bin_tokens[bins] = 0;
			work[bins++] = 0;
		}
		d->bin_tokens[best] += l;
		work[best] += -d->len[i];
		d->bin_of[i] = best;
	}
	/* counting sort of the documents by bin, stream order inside */
	for (size_t b = 0; b < bins; b++)
		d->seq_n[b] = 0;
	for (size_t i = 0; i < n; i++)
		d->seq_n[d->bin_of[i]]++;
	for (size_t b = 0, at = 0; b < bins; b++) {
		d->seq_first[b] = at;
		at += d->seq_n[b];
		d->seq_n[b] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t b = d->bin_of[i];
		d->seq_docs[d->seq_first[b] + d->seq_n[b]++] = d->docs[i];
	}
	return (long)bins;
}

int wlb_sim_dcp_iter(struct ctx *c, const struct wlb_packed *p, double *wait_us)
{
	struct wlb_sim_dcp *d = c->dcp;
	const struct wlb_dcp_pool *pl = &d->pool;
	int nd = pl->n_deg, P = pl->ranks, pp = c->t->parallel.pp;
	long ns = rebin(c, p);
	int rc;

	if (ns < 0)
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	size_t n = (size_t)ns;
	if (WLB_GROW(d->sq, d->cap_sq, n + 1) || WLB_GROW(d->cost, d->cap_cost, n * nd + 1) ||
	    WLB_GROW(d->mc, d->cap_mc, n * nd + 1) || WLB_GROW(d->place, d->cap_place, n + 1) ||
	    WLB_GROW(d->count, d->cap_count, (size_t)P))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct wlb_doc *dd = d->seq_docs + d->seq_first[i];
		uint64_t tokens = 0;
		int first = -1;
		d->sq[i] = 0;
		for (size_t j = 0; j < d->seq_n[i]; j++) {
			tokens += dd[j].len;
			d->sq[i] += (double)dd[j].len * dd[j].len;
		}
		for (int k = 0; k < nd; k++) {
			uint64_t deg = (uint64_t)pl->deg[k];
			double *cst = &d->cost[i * nd + k];
			*cst = -1;
			/* memory; a group needs two chunks per rank; Megatron's rule
			 * takes the smallest degree that fits and no other */
			if ((tokens + deg - 1) / deg > d->budget || (deg > 1 && 2 * deg > tokens) ||
			    (d->mode == WLB_DCP_MEGATRON && first >= 0))
				continue;
			if (first < 0)
				first = k;
			if ((*cst = seq_cost(c, k, dd, d->seq_n[i], &d->mc[i * nd + k])) < 0)
				return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
		}
		if (first < 0)
			return wlb_error_set(c->err, WLB_EINVAL,
					     "per-sequence CP: a sequence of %llu tokens fits no group of the "
					     "pool of %d ranks at %u tokens per rank",
					     (unsigned long long)tokens, P, d->budget);
	}
	d->it_seqs = n;
	memset(d->it_degree_seqs, 0, sizeof d->it_degree_seqs);
	memset(d->it_degree_tokens, 0, sizeof d->it_degree_tokens);
	struct wlb_dcp_problem pr = {pl, n, d->cost, d->sq};
	rc = d->mode == WLB_DCP_MEGATRON ? wlb_dcp_megatron(&pr, &d->x, d->place, c->err)
					    : wlb_dcp_cost(&pr, &d->x, d->place, c->err);
	if (rc)
		return rc;
	double span = wlb_dcp_time(&pr, d->place, n, d->x.free), busiest = 0;

	/* the columns' slots, in the order the list schedule runs them */
	memset(d->count, 0, (size_t)P * sizeof *d->count);
	for (size_t j = 0; j < n; j++) {
		const struct wlb_dcp_place *q = &d->place[j];
		int dg = pl->deg[q->k];
		d->it_degree_seqs[q->k]++;
		for (size_t i = 0; i < d->seq_n[q->seq]; i++)
			d->it_degree_tokens[q->k] += d->seq_docs[d->seq_first[q->seq] + i].len;
		for (int r = (int)q->group * dg; r < (int)q->group * dg + dg; r++)
			d->count[r]++;
	}
	uint32_t mmax = 1, mmin = UINT32_MAX;
	for (int r = 0; r < P; r++) {
		mmax = d->count[r] > mmax ? d->count[r] : mmax;
		mmin = d->count[r] < mmin ? d->count[r] : mmin;
	}
	if (c->par.vpp > 1 && mmax % (uint32_t)pp) /* interleaving: a multiple of pp */
		mmax += (uint32_t)pp - mmax % (uint32_t)pp;
	size_t n_slots = (size_t)P * mmax;
	if (WLB_GROW(d->slots, d->cap_slots, n_slots) || WLB_GROW(d->perm, d->cap_perm, n_slots))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	memset(d->slots, 0, n_slots * sizeof *d->slots);
	memset(d->count, 0, (size_t)P * sizeof *d->count);
	for (size_t j = 0; j < n; j++) {
		const struct wlb_dcp_place *q = &d->place[j];
		int dg = pl->deg[q->k];
		for (int r = (int)q->group * dg; r < (int)q->group * dg + dg; r++)
			d->slots[(size_t)r * mmax + d->count[r]++] = d->mc[(size_t)q->seq * nd + q->k];
	}
	for (int r = 0; r < P; r++) {
		double busy = 0;
		for (size_t j = 0; j < n; j++) {
			const struct wlb_dcp_place *q = &d->place[j];
			int dg = pl->deg[q->k];
			if (r >= (int)q->group * dg && r < (int)q->group * dg + dg)
				busy += q->end - q->start;
		}
		busiest = busy > busiest ? busy : busiest;
	}
	for (size_t k = 0; k < n_slots; k++)
		d->perm[k] = (uint32_t)k;
	*wait_us = span - busiest;

	uint32_t cmax = 0;
	double csum = 0;
	for (int r = 0; r < P; r++) {
		cmax = d->count[r] > cmax ? d->count[r] : cmax;
		csum += d->count[r];
	}
	d->it_min = mmin;
	d->it_max = cmax;
	d->it_mean = csum / P;
	d->it_slots = mmax;
	d->it_wait_us = *wait_us;

	c->par.dp = P;
	c->par.cp = 1;
	c->par.microbatches = (int)mmax;
	c->run = d->slots;
	c->n_run = n_slots;
	if (WLB_GROW(c->perm, c->cap_perm, n_slots))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	memcpy(c->perm, d->perm, n_slots * sizeof *c->perm);
	return 0;
}

int wlb_sim_dcp_static_k(const struct ctx *c)
{
	return c->dcp ? c->dcp->static_k : -1;
}

void wlb_sim_dcp_account(struct ctx *c, const struct wlb_packed *p, int kept_static)
{
	struct wlb_sim_dcp *d = c->dcp;
	struct wlb_sim_dcp_stats *st = &c->out->dcp;
	double iters = (double)c->out->n_iters;

	if (kept_static) { /* every micro-batch on its replica's cp ranks */
		double m = c->t->parallel.microbatches;
		memset(d->it_degree_seqs, 0, sizeof d->it_degree_seqs);
		memset(d->it_degree_tokens, 0, sizeof d->it_degree_tokens);
		d->it_seqs = p->n_mb;
		d->it_degree_seqs[d->static_k] = p->n_mb;
		for (uint32_t b = 0; b < p->n_mb; b++)
			d->it_degree_tokens[d->static_k] += p->mb[b].tokens;
		d->it_min = d->it_max = d->it_mean = d->it_slots = m;
		d->it_wait_us = 0;
		st->static_iters++;
	}
	st->sequences += d->it_seqs;
	for (int k = 0; k < d->pool.n_deg; k++) {
		st->degree_seqs[k] += d->it_degree_seqs[k];
		st->degree_tokens[k] += d->it_degree_tokens[k];
	}
	st->seqs_per_rank_min = (st->seqs_per_rank_min * iters + d->it_min) / (iters + 1);
	st->seqs_per_rank_max = (st->seqs_per_rank_max * iters + d->it_max) / (iters + 1);
	st->seqs_per_rank_mean = (st->seqs_per_rank_mean * iters + d->it_mean) / (iters + 1);
	st->slots = (st->slots * iters + d->it_slots) / (iters + 1);
	st->group_wait_ms = (st->group_wait_ms * iters + d->it_wait_us / 1e3) / (iters + 1);
}
