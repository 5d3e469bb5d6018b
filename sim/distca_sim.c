/* distca_sim.c — an iteration's micro-batches under core attention
 * disaggregation (see distca_sim.h for the model). */
#include "distca_sim.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_heapsort.h>

#include "grow.h"
#include "model.h"

/* Queries [q_lo, q_hi) of a document that starts `off` tokens into a
 * micro-batch of `tokens` tokens of replica `replica`, in half `half`. */
struct wlb_ca_range {
	uint32_t q_lo, q_hi, off, tokens;
	int replica, half;
};

struct piece_ctx {
	struct wlb_cost *c;
	int bwd, heads, kv_heads, head_dim;
	double rate;                 /* dropout's share of the kernel's rate */
	const struct wlb_ca_range *ranges;
	int cp;
};

/* The rank that holds a task's first query. */
static int home_of(void *vc, const struct wlb_ca_task *t)
{
	const struct piece_ctx *pc = vc;
	const struct wlb_ca_range *r = &pc->ranges[t->doc];
	uint64_t pos = (uint64_t)r->off + t->kv_len - t->q_len;
	return r->replica * pc->cp + (int)(pos * (uint64_t)pc->cp / r->tokens);
}

static double piece_cost(void *vc, uint32_t q_len, uint32_t kv_len)
{
	const struct piece_ctx *pc = vc;
	return wlb_cost_attn_piece_us(pc->c, q_len, kv_len, pc->bwd, pc->heads, pc->kv_heads, pc->head_dim,
				      NULL) / pc->rate;
}

void wlb_ca_ctx_free(struct wlb_ca_ctx *x)
{
	wlb_ca_sched_free(&x->sched);
	free(x->ranges);
	free(x->out_b);
	free(x->in_b);
	memset(x, 0, sizeof *x);
}

/* Charges the tokens [lo, hi) of range r's micro-batch, held by the ranks of
 * its replica's CP group (contiguous shares), to an all-to-all that brings
 * them to `server` (ret 0) or back from it (ret 1): what a rank holds for
 * itself does not move. */
static void spread(struct wlb_ca_ctx *x, int cp, const struct wlb_ca_range *r, uint64_t lo, uint64_t hi,
		   double bytes_token, int server, int ret)
{
	for (int k = 0; k < cp; k++) {
		uint64_t a = (uint64_t)k * r->tokens / cp, b = (uint64_t)(k + 1) * r->tokens / cp;
		a = a > lo ? a : lo;
		b = b < hi ? b : hi;
		int home = r->replica * cp + k;
		if (b <= a || home == server)
			continue;
		double bytes = (double)(b - a) * bytes_token;
		x->out_b[ret ? server : home] += bytes;
		x->in_b[ret ? home : server] += bytes;
	}
}

static int by_doc_server(const void *pa, const void *pb)
{
	const struct wlb_ca_task *a = pa, *b = pb;
	if (a->doc != b->doc)
		return a->doc < b->doc ? -1 : 1;
	if (a->server != b->server)
		return a->server < b->server ? -1 : 1;
	return a->kv_len < b->kv_len ? -1 : a->kv_len > b->kv_len;
}

/* One all-to-all of the scheduled tasks, dispatch (ret 0) or results back
 * (ret 1), forward or backward.  Per task its queries' rows: forward Q out,
 * O and the LSE back; backward Q, O, dO and the LSE out, dQ back.  Per
 * document and server the keys of the longest prefix it needs, once: K and
 * V out (forward and backward), dK and dV back (backward). */
static double a2a_us(struct wlb_ca_ctx *x, const struct wlb_stage_plan *sp, int bwd, int ret)
{
	struct wlb_ca_sched *s = &x->sched;
	int P = s->servers, cp = sp->par.cp;
	double hd = sp->model.head_dim, busiest = 0;
	double q_tok = 2.0 * sp->heads * hd, lse_tok = 4.0 * sp->heads, kv_tok = 2.0 * 2.0 * sp->kv_heads * hd;
	double row = !bwd ? (ret ? q_tok + lse_tok : q_tok) : (ret ? q_tok : 3 * q_tok + lse_tok);
	int keys = !(ret && !bwd);

	if (P < 2)
		return 0;
	memset(x->out_b, 0, (size_t)P * sizeof *x->out_b);
	memset(x->in_b, 0, (size_t)P * sizeof *x->in_b);
	gsl_heapsort(s->tasks, s->n, sizeof *s->tasks, by_doc_server); /* a total order */
	for (size_t i = 0; i < s->n; i++) {
		const struct wlb_ca_task *t = &s->tasks[i];
		const struct wlb_ca_range *r = &x->ranges[t->doc];
		spread(x, cp, r, (uint64_t)r->off + t->kv_len - t->q_len, (uint64_t)r->off + t->kv_len, row,
		       t->server, ret);
		int last = i + 1 == s->n || s->tasks[i + 1].doc != t->doc || s->tasks[i + 1].server != t->server;
		if (keys && last) /* the longest prefix of this document on this server */
			spread(x, cp, r, r->off, (uint64_t)r->off + t->kv_len, kv_tok, t->server, ret);
	}
	for (int i = 0; i < P; i++) {
		double b = x->out_b[i] > x->in_b[i] ? x->out_b[i] : x->in_b[i];
		busiest = b > busiest ? b : busiest;
	}
	if (busiest <= 0)
		return 0;
	int gpn = sp->gpus_per_node, nodes = (int)(((long long)P * sp->par.tp + gpn - 1) / gpn);
	nodes = nodes < 1 ? 1 : nodes > P ? P : nodes;
	return wlb_cost_coll_us(sp->cost, WLB_ALL_TO_ALL, (int64_t)(busiest * P / (P - 1)), P, nodes, NULL);
}

struct phase {
	double attn_us;      /* the two halves' busiest servers */
	double total_us;     /* all the group's attention */
	double exposed_us;   /* the ping-pong's transfer left showing */
	double imbalance;    /* attn_us over the servers' mean */
};

/* One layer's attention of the group on `servers` servers, forward or
 * backward, beside `rest_us` of the ranks' own compute. */
static int phase(struct wlb_ca_ctx *x, const struct wlb_stage_plan *sp, int bwd, int servers, double rest_us,
		 struct phase *o)
{
	struct piece_ctx pc = {sp->cost, bwd, sp->heads, sp->kv_heads, sp->model.head_dim, 1.0, NULL, sp->par.cp};
	double compute[2], transfer[2];

	if (sp->model.dropout > 0)
		pc.rate = bwd ? WLB_DROPOUT_ATTN_BWD_RATE : WLB_DROPOUT_ATTN_FWD_RATE;
	if (WLB_GROW(x->out_b, x->cap_out, (size_t)servers) || WLB_GROW(x->in_b, x->cap_in, (size_t)servers))
		return WLB_ENOMEM;
	memset(o, 0, sizeof *o);
	for (int h = 0; h < 2; h++) {
		wlb_ca_sched_clear(&x->sched);
		for (size_t i = 0; i < x->n_ranges; i++)
			if (x->ranges[i].half == h && wlb_ca_add(&x->sched, (uint32_t)i, x->ranges[i].q_lo,
								 x->ranges[i].q_hi))
				return WLB_ENOMEM;
		compute[h] = rest_us / 2;
		transfer[h] = 0;
		if (!x->sched.n)
			continue;
		pc.ranges = x->ranges;
		if (wlb_ca_schedule(&x->sched, servers, piece_cost, home_of, &pc))
			return WLB_ENOMEM;
		o->attn_us += x->sched.max_us;
		o->total_us += x->sched.total_us;
		compute[h] += x->sched.max_us;
		transfer[h] = a2a_us(x, sp, bwd, 0) + a2a_us(x, sp, bwd, 1);
	}
	o->exposed_us = wlb_ca_pingpong_exposed(compute, transfer);
	o->imbalance = o->total_us > 0 ? o->attn_us / (o->total_us / servers) : 1.0;
	return 0;
}

/* Work of a micro-batch's first x tokens: the linear part in proportion to
 * tokens, attention to causal pairs (each weighted by its share of the
 * whole's time). */
static double work_upto(const struct wlb_doc *doc, uint32_t n, uint64_t x, double per_token, double per_pair)
{
	double pairs = 0;
	uint64_t off = 0;
	for (uint32_t i = 0; i < n && off < x; off += doc[i].len, i++) {
		uint64_t rows = x - off < doc[i].len ? x - off : doc[i].len;
		pairs += wlb_pairs((double)rows, (double)rows);
	}
	return per_token * (double)(x < off ? x : off) + per_pair * pairs;
}

/* The tile boundary that splits a micro-batch's work (one layer forward:
 * GEMMs and attention) most evenly between its two halves. */
static uint32_t mid_cut(const struct wlb_doc *doc, uint32_t n, uint32_t tokens, const struct wlb_mb_cost *c,
			int cp)
{
	double pairs = 0;
	for (uint32_t i = 0; i < n; i++)
		pairs += wlb_pairs(doc[i].len, doc[i].len);
	if (!tokens || pairs <= 0)
		return tokens / 2;
	double per_token = c->rest_fwd_us * cp / tokens, per_pair = c->attn_fwd_rank_mean_us * cp / pairs;
	double half = work_upto(doc, n, tokens, per_token, per_pair) / 2;
	uint32_t lo = 0, hi = tokens / WLB_ATTN_TILE; /* in tiles: work(lo) <= half */
	while (lo < hi) {
		uint32_t t = lo + (hi - lo + 1) / 2;
		if (work_upto(doc, n, (uint64_t)t * WLB_ATTN_TILE, per_token, per_pair) <= half)
			lo = t;
		else
			hi = t - 1;
	}
	return lo * WLB_ATTN_TILE;
}

/* The pipeline position's micro-batches as query ranges of two halves. */
static int group_ranges(struct wlb_ca_ctx *x, const struct wlb_packed *p, const uint32_t *perm,
			const struct wlb_mb_cost *mbc, int cp, int dp, int m, int k)
{
	x->n_ranges = 0;
	for (int d = 0; d < dp; d++) {
		uint32_t b = perm[(size_t)d * m + k];
		const struct wlb_mb *mb = &p->mb[b];
		const struct wlb_doc *doc = p->docs + mb->first;
		uint32_t tokens = (uint32_t)mb->tokens, mid = mid_cut(doc, mb->n, tokens, &mbc[b], cp), off = 0;
		if (WLB_GROW(x->ranges, x->cap_ranges, x->n_ranges + 2 * (size_t)mb->n))
			return WLB_ENOMEM;
		for (uint32_t i = 0; i < mb->n; off += doc[i].len, i++) {
			uint32_t len = doc[i].len, cut = off >= mid ? 0 : off + len <= mid ? len : mid - off;
			if (cut > 0)
				x->ranges[x->n_ranges++] = (struct wlb_ca_range){0, cut, off, tokens, d, 0};
			if (cut < len)
				x->ranges[x->n_ranges++] = (struct wlb_ca_range){cut, len, off, tokens, d, 1};
		}
	}
	return 0;
}

/* Servers of the pool at pipeline slot t: the stage's own ranks and a share
 * of the idle stages'. */
static int pool(const struct wlb_parallel *par, int t)
{
	int own = par->dp * par->cp, idle = par->pp - 1 - t > 0 ? par->pp - 1 - t : 0;
	return own + idle * own / (par->pp - idle);
}

/* The mean over stages of one layer's phase at position k (slot k + s). */
static int over_stages(struct wlb_ca_ctx *x, const struct wlb_stage_plan *sp, int bwd, int k, double rest_us,
		       struct phase *mean)
{
	const struct wlb_parallel *par = &sp->par;
	struct phase ph = {0};
	int last = -1, rc;

	memset(mean, 0, sizeof *mean);
	for (int s = 0; s < par->pp; s++) {
		int P = pool(par, k + s);
		if (P != last && (rc = phase(x, sp, bwd, P, rest_us, &ph)))
			return rc;
		last = P;
		mean->attn_us += ph.attn_us / par->pp;
		mean->total_us += ph.total_us / par->pp;
		mean->exposed_us += ph.exposed_us / par->pp;
		mean->imbalance += ph.imbalance / par->pp;
	}
	return 0;
}

int wlb_ca_apply(struct wlb_ca_ctx *x, const struct wlb_stage_plan *sp, const struct wlb_packed *p,
		 const uint32_t *perm, struct wlb_mb_cost *mbc, double *imb, double *exposed_us)
{
	const struct wlb_parallel *par = &sp->par;
	int dp = par->dp, m = par->microbatches, own = dp * par->cp, rc;

	for (int k = 0; k < m; k++) {
		double rf = 0, rb = 0;
		struct phase f, b;
		for (int d = 0; d < dp; d++) { /* lockstep: the group's slowest rank */
			const struct wlb_mb_cost *c = &mbc[perm[(size_t)d * m + k]];
			rf = c->rest_fwd_us > rf ? c->rest_fwd_us : rf;
			rb = c->rest_bwd_us > rb ? c->rest_bwd_us : rb;
		}
		if ((rc = group_ranges(x, p, perm, mbc, par->cp, dp, m, k)) ||
		    (rc = over_stages(x, sp, 0, k, rf, &f)) || (rc = over_stages(x, sp, 1, m - 1 - k, rb, &b)))
			return rc;
		/* the work per own rank, for the counterfactuals and the ideal */
		double mf = f.total_us / own, mb = b.total_us / own;
		for (int d = 0; d < dp; d++) {
			uint32_t i = perm[(size_t)d * m + k];
			struct wlb_mb_cost *c = &mbc[i];
			if (!c->tokens_rank)
				continue;
			c->fwd_max_us = rf + f.attn_us;
			c->fwd_mean_us = c->rest_fwd_us + mf;
			c->fwd_comm_us = c->tp_fwd_us + f.exposed_us;
			c->bwd_max_us = rb + b.attn_us;
			c->bwd_mean_us = c->rest_bwd_us + mb;
			c->bwd_comm_us = c->tp_bwd_us + b.exposed_us;
			exposed_us[i] = f.exposed_us + b.exposed_us;
			if (par->recompute == WLB_RECOMPUTE_FULL) {
				c->bwd_max_us += c->fwd_max_us;
				c->bwd_mean_us += c->fwd_mean_us;
				c->bwd_comm_us += c->fwd_comm_us;
				exposed_us[i] += f.exposed_us;
			} else if (par->recompute == WLB_RECOMPUTE_SELECTIVE) {
				c->bwd_max_us += f.attn_us;
				c->bwd_mean_us += mf;
				c->bwd_comm_us += f.exposed_us;
				exposed_us[i] += f.exposed_us;
			}
			c->attn_fwd_rank_max_us = f.attn_us;
			c->attn_fwd_rank_mean_us = mf;
			imb[i] = f.imbalance;
		}
	}
	return 0;
}
