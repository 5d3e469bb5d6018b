/* tune.c — the autotuner's search (see tune.h for the method). */
#include "tune.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "sim.h"
#include "stop.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A parallel configuration and what phase 1 learnt of it. */
struct cfg {
	struct wlb_parallel par;
	double bound;               /* tokens/s no policy can beat here */
	int index;                  /* enumeration order, for ties */
};

struct tuner {
	const struct wlb_trace *t;
	const struct wlb_tune_opts *o;
	struct wlb_cost *cost;
	struct cfg *cfgs;
	size_t n_cfgs;
	int k;
	uint32_t iterations;
	double max_mem, t0;
	pthread_mutex_t lock;
	/* guarded by lock */
	struct wlb_tune_cand *top;  /* k best feasible, best first */
	size_t n_top;
	/* phase 3's starting points, fixed before it begins so that what is
	 * refined does not depend on which thread inserts first */
	struct wlb_tune_cand starts[3];
	size_t n_starts;
	size_t next, evaluated, pruned, infeasible, planned, done;
	struct wlb_progress prog;
	int timed_out, failed;
	struct wlb_error err;
};

/* ---- candidates ---- */

static void cand_key(const struct wlb_tune_cand *c, char *buf, size_t n)
{
	const struct wlb_parallel *p = &c->par;
	const struct wlb_policy *q = &c->pol;
	int w = snprintf(buf, n, "%02d %02d %03d %04d %d %04d %d %d %-9s %-6s %-8s %07u %u %s",
			 p->tp, p->cp, p->pp, p->dp, p->vpp, p->microbatches, p->recompute, p->zero, p->cp_algo,
			 q->packing, q->sharding, q->s_max, q->window, q->cp_mode[0] ? q->cp_mode : "static");
	for (int i = 0; i < q->n_thresholds && w > 0 && (size_t)w < n; i++)
		w += snprintf(buf + w, n - (size_t)w, " %u", q->thresholds[i]);
}

/* Better first: more tokens/s, then the fixed order of their keys. */
static int cand_cmp(const struct wlb_tune_cand *a, const struct wlb_tune_cand *b)
{
	char ka[160], kb[160];
	if (a->tokens_per_s != b->tokens_per_s)
		return a->tokens_per_s > b->tokens_per_s ? -1 : 1;
	cand_key(a, ka, sizeof ka);
	cand_key(b, kb, sizeof kb);
	return strcmp(ka, kb);
}

/* Inserts a feasible candidate into the top k (lock held). */
static void top_insert(struct tuner *tn, const struct wlb_tune_cand *c)
{
	char kc[160], kx[160];
	size_t i;

	cand_key(c, kc, sizeof kc);
	for (i = 0; i < tn->n_top; i++) {
		cand_key(&tn->top[i], kx, sizeof kx);
		if (!strcmp(kc, kx))
			return; /* evaluated before */
	}
	for (i = tn->n_top; i > 0 && cand_cmp(c, &tn->top[i - 1]) < 0; i--)
		if (i < (size_t)tn->k)
			tn->top[i] = tn->top[i - 1];
	if (i < (size_t)tn->k) {
		tn->top[i] = *c;
		if (tn->n_top < (size_t)tn->k)
			tn->n_top++;
	}
}

/* The k-th best throughput so far, 0 while fewer than k (lock held). */
static double kth_best(const struct tuner *tn)
{
	return tn->n_top == (size_t)tn->k ? tn->top[tn->k - 1].tokens_per_s : 0;
}

static void policy_set(struct wlb_policy *q, const char *packing, const char *sharding, double smax,
		       int n_thr, const double *thr, uint32_t window, uint32_t context)
{
	memset(q, 0, sizeof *q);
	snprintf(q->packing, sizeof q->packing, "%s", packing);
	snprintf(q->sharding, sizeof q->sharding, "%s", sharding);
	/* knobs a packer does not read are left at their defaults, so two
	 * candidates that run the same never count as two */
	static const double defaults[] = {0.25, 0.5};
	if (strncmp(packing, "wlb", 3)) { /* wlb and wlb-mem */
		smax = 1.5;
		n_thr = 2;
		thr = defaults;
	}
	if (strcmp(packing, "greedy"))
		window = 1;
	q->s_max = (uint32_t)ceil(smax * context / 1024) * 1024;
	q->n_thresholds = n_thr;
	for (int i = 0; i < n_thr; i++)
		q->thresholds[i] = (uint32_t)(thr[i] * context);
	q->window = window;
}

/* Simulates one candidate with this thread's cost model. */
static int evaluate(struct tuner *tn, struct wlb_cost *cost, const struct wlb_parallel *par,
		    const struct wlb_policy *pol, struct wlb_tune_cand *c, double *bound)
{
	struct wlb_trace t = *tn->t; /* shares the source: the simulator only reads it */
	struct wlb_sim_opts so = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_sim_result r;
	struct wlb_error e;

	memset(c, 0, sizeof *c);
	c->par = *par;
	c->pol = *pol;
	wlb_policy_defaults(&c->pol, t.context);
	t.parallel = *par;
	t.iterations = tn->iterations;
	if (!strcmp(c->pol.packing, "wlb-mem") && !(c->pol.mem_cap_gib > 0)) {
		/* the cap that fits the tuner's memory limit, written into the
		 * candidate so that its config runs with the cap it was tuned at */
		struct wlb_actmem am;
		t.policy = c->pol;
		if (wlb_actmem_plan(&t, tn->max_mem, &am, &e)) {
			snprintf(c->why, sizeof c->why, "%.90s", e.msg);
			return 0;
		}
		/* 6 digits, rounded down: what a config (10-digit reals) writes back exactly */
		char g[32];
		snprintf(g, sizeof g, "%.6g", am.fit_bytes / 1073741824.0 * (1 - 1e-5));
		c->pol.mem_cap_gib = strtod(g, NULL);
	}
	t.policy = c->pol;
	if (wlb_trace_check(&t, &e) || wlb_sim_run(&t, cost, &so, &r, &e)) {
		snprintf(c->why, sizeof c->why, "%.90s", e.msg);
		return 0;
	}
	const struct wlb_sim_summary *s = &r.summary;
	double var = 0, tok = 0, ideal = 0;
	for (size_t i = 0; i < r.n_iters; i++) {
		double d = r.iters[i].time_ms - s->iteration_ms_mean;
		var += d * d;
		tok += (double)r.iters[i].tokens;
		ideal += r.iters[i].ideal_ms;
	}
	c->iteration_ms = s->iteration_ms_mean;
	c->iteration_ms_sd = r.n_iters > 1 ? sqrt(var / (double)(r.n_iters - 1)) : 0;
	c->tokens_per_s = s->tokens_per_s;
	c->mfu = s->mfu;
	c->peak_mem_gib = s->peak_mem_gib;
	c->imbalance_pp = s->imbalance_pp;
	c->imbalance_cp = s->imbalance_cp;
	c->token_delay_iters = s->token_delay_iters;
	if (bound)
		*bound = ideal > 0 ? tok / (ideal / 1e3) : 0;
	c->feasible = 1;
	if (c->peak_mem_gib > tn->max_mem) {
		c->feasible = 0;
		snprintf(c->why, sizeof c->why, "needs %.1f GiB per GPU, the limit is %.1f", c->peak_mem_gib,
			 tn->max_mem);
	} else if (tn->o->max_delay >= 0 && c->token_delay_iters > tn->o->max_delay + 1e-12) {
		c->feasible = 0;
		snprintf(c->why, sizeof c->why, "token delay %.3f over the limit %.3f", c->token_delay_iters,
			 tn->o->max_delay);
	}
	wlb_sim_result_free(&r);
	return 0;
}

/* What saves memory, cheapest in time first as far as the model goes:
 * sharding the gradients (zero 2) costs nothing over the optimizer state
 * (1), FSDP (3) gathers every layer twice per micro-batch, selective
 * recompute repeats the attention forward, full recompute the whole layer.
 * Zero 0 is never tried: its all-reduce costs what zero 1's reduce-scatter
 * and all-gather cost, with more memory. */
static const struct { int zero, recompute; } memory_ladder[] = {
	{1, WLB_RECOMPUTE_NONE}, {2, WLB_RECOMPUTE_NONE}, {3, WLB_RECOMPUTE_NONE},
	{1, WLB_RECOMPUTE_SELECTIVE}, {2, WLB_RECOMPUTE_SELECTIVE}, {3, WLB_RECOMPUTE_SELECTIVE},
	{1, WLB_RECOMPUTE_FULL}, {2, WLB_RECOMPUTE_FULL}, {3, WLB_RECOMPUTE_FULL},
};
#define LADDER (sizeof memory_ladder / sizeof memory_ladder[0])

/* Evaluates the candidate at the ZeRO stage and recompute mode it holds;
 * when that is over the memory limit, every rung of the ladder that saves
 * more, keeping the fastest that fits.  Records the result; returns 1 to go
 * on, 0 when the time is up. */
static int try_cand(struct tuner *tn, struct wlb_cost *cost, const struct wlb_parallel *par,
		    const struct wlb_policy *pol, struct wlb_tune_cand *out, double *bound)
{
	struct wlb_tune_cand c;

	if (tn->o->time_limit_s > 0 && now_s() - tn->t0 > tn->o->time_limit_s) {
		pthread_mutex_lock(&tn->lock);
		tn->timed_out = 1;
		pthread_mutex_unlock(&tn->lock);
		return 0;
	}
	evaluate(tn, cost, par, pol, &c, bound);
	if (!c.feasible && c.peak_mem_gib > tn->max_mem) {
		size_t from = 0;
		while (from < LADDER && (memory_ladder[from].zero != par->zero ||
					 memory_ladder[from].recompute != par->recompute))
			from++;
		for (size_t i = from < LADDER ? from + 1 : 0; i < LADDER; i++) {
			struct wlb_parallel rp = *par;
			struct wlb_tune_cand x;
			rp.zero = memory_ladder[i].zero;
			rp.recompute = memory_ladder[i].recompute;
			/* no rung may hold more than where it started */
			if ((rp.zero < par->zero && rp.recompute <= par->recompute) ||
			    (rp.recompute < par->recompute))
				continue;
			evaluate(tn, cost, &rp, pol, &x, NULL);
			if (x.feasible && (!c.feasible || cand_cmp(&x, &c) < 0))
				c = x;
		}
	}
	pthread_mutex_lock(&tn->lock);
	tn->evaluated++;
	if (c.feasible)
		top_insert(tn, &c);
	else
		tn->infeasible++;
	pthread_mutex_unlock(&tn->lock);
	if (out)
		*out = c;
	return 1;
}

/* ---- the space ---- */

static int add_cfg(struct cfg **v, size_t *n, size_t *cap, const struct wlb_parallel *p)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 64;
		struct cfg *x = realloc(*v, nc * sizeof *x);
		if (!x)
			return WLB_ENOMEM;
		*v = x;
		*cap = nc;
	}
	(*v)[*n] = (struct cfg){*p, 0, (int)*n};
	(*n)++;
	return 0;
}

/* Every (tp, cp, pp, dp, vpp) on gpus GPUs that keeps the global batch of
 * n_mb micro-batches: TP inside a node dividing the heads, CP a power of two
 * (2cp <= context), PP up to the layers (split as evenly as they go, the
 * lighter stages first and last: wlb_stage_layers), interleaving when it
 * can.  Every configuration starts from the distributed optimizer (zero 1)
 * without recompute; try_cand climbs the memory ladder from there. */
static int enumerate(struct tuner *tn, int gpus, int n_mb, struct wlb_error *err)
{
	const struct wlb_trace *t = tn->t;
	const struct wlb_model *m = &t->model;
	size_t cap = 0;

	if (tn->o->fixed_parallel)
		return add_cfg(&tn->cfgs, &tn->n_cfgs, &cap, &t->parallel) ?
			wlb_error_set(err, WLB_ENOMEM, "out of memory") : 0;
	for (int tp = 1; tp <= t->cluster.gpus_per_node && tp <= m->heads; tp *= 2)
		for (int cp = 1; 2u * (unsigned)cp <= t->context && cp <= 64; cp *= 2)
			for (int pp = 1; pp <= m->layers; pp++) {
				long long tcp = (long long)tp * cp * pp;
				if (gpus % tcp)
					continue;
				int dp = (int)(gpus / tcp);
				if (n_mb % dp)
					continue;
				for (int vpp = 1; vpp <= 2; vpp++) {
					struct wlb_parallel p = t->parallel;
					struct wlb_error e;
					p.tp = tp;
					p.cp = cp;
					p.pp = pp;
					p.dp = dp;
					p.vpp = vpp;
					p.microbatches = n_mb / dp;
					p.zero = 1;
					p.recompute = WLB_RECOMPUTE_NONE;
					p.n_pp_layers = 0;
					snprintf(p.schedule, sizeof p.schedule, "%s", vpp > 1 ? "interleaved" : "1f1b");
					if ((vpp > 1 && pp == 1) || wlb_parallel_check(&p, m, &e))
						continue;
					if (add_cfg(&tn->cfgs, &tn->n_cfgs, &cap, &p))
						return wlb_error_set(err, WLB_ENOMEM, "out of memory");
				}
			}
	if (tn->n_cfgs == 0)
		return wlb_error_set(err, WLB_EINVAL,
				     "no 4D configuration of %s fits %d GPUs with %d micro-batches per "
				     "iteration (tp must divide the heads and stay in a node, pp be at most "
				     "the layers, dp divide the micro-batches)", m->name[0] ? m->name : "the model",
				     gpus, n_mb);
	return 0;
}

static int searched(const struct tuner *tn, const char *packing)
{
	const char *list = tn->o->packings ? tn->o->packings : "concat,greedy,bfd,wlb,wlb-mem";
	size_t n = strlen(packing);
	for (const char *p = list; (p = strstr(p, packing)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* ---- phases, run by every thread over a shared queue ---- */

static const double quarter[] = {0.25}, quarter_half[] = {0.25, 0.5}, three[] = {0.125, 0.25, 0.5},
		    half[] = {0.5};

struct job_ctx {
	struct tuner *tn;
	int phase;
	struct wlb_cost *cost;
};

static void progress(struct tuner *tn)
{
	char extra[64];

	snprintf(extra, sizeof extra, "steps, %zu evaluated, %zu pruned", tn->evaluated, tn->pruned);
	wlb_progress_show(&tn->prog, tn->done, tn->planned, extra);
}

/* Phase 2: the policy bundles on one configuration, unless its bound says
 * it cannot enter the top k. */
static int bundles(struct tuner *tn, struct wlb_cost *cost, const struct cfg *cf)
{
	uint32_t ctx = tn->t->context;
	struct wlb_policy q;

	pthread_mutex_lock(&tn->lock);
	int skip = !tn->o->no_prune && cf->bound <= kth_best(tn);
	tn->pruned += skip;
	pthread_mutex_unlock(&tn->lock);
	if (skip)
		return 1;
	if (searched(tn, "greedy")) {
		policy_set(&q, "greedy", "per-doc", 1.5, 0, NULL, 1, ctx);
		if (!try_cand(tn, cost, &cf->par, &q, NULL, NULL))
			return 0;
	}
	if (searched(tn, "bfd")) {
		policy_set(&q, "bfd", "adaptive", 1.5, 0, NULL, 1, ctx);
		if (!try_cand(tn, cost, &cf->par, &q, NULL, NULL))
			return 0;
	}
	if (searched(tn, "wlb")) {
		policy_set(&q, "wlb", "adaptive", 1.5, 2, quarter_half, 1, ctx);
		if (!try_cand(tn, cost, &cf->par, &q, NULL, NULL))
			return 0;
		policy_set(&q, "wlb", "adaptive", 1.5, 0, NULL, 1, ctx); /* no delay at all */
		if (!try_cand(tn, cost, &cf->par, &q, NULL, NULL))
			return 0;
	}
	/* core attention disaggregation as DistCA runs it: fixed-length packing,
	 * attention balanced over the pool (needs a pool of more than one rank) */
	if (searched(tn, "greedy") && cf->par.dp * cf->par.cp * cf->par.pp > 1) {
		struct wlb_parallel par = cf->par;
		snprintf(par.cp_algo, sizeof par.cp_algo, "distca");
		policy_set(&q, "greedy", "per-seq", 1.5, 0, NULL, 1, ctx);
		if (!try_cand(tn, cost, &par, &q, NULL, NULL))
			return 0;
	}
	if (searched(tn, "wlb-mem")) { /* wlb within what fits the GPU: room for a longer s_max */
		policy_set(&q, "wlb-mem", "adaptive", 2.0, 2, quarter_half, 1, ctx);
		if (!try_cand(tn, cost, &cf->par, &q, NULL, NULL))
			return 0;
	}
	return 1;
}

/* Phase 3: coordinate search over the packer's knobs, the CP algorithm and
 * the CP mode (per-sequence degree, all-gather only), from the best policy
 * found on this configuration. */
static int refine(struct tuner *tn, struct wlb_cost *cost, const struct wlb_tune_cand *start)
{
	static const char *const shardings[] = {"per-seq", "per-doc", "adaptive", "hybrid"};
	static const char *const algos[] = {"allgather", "ring", "distca"};
	static const double smax[] = {1.0, 1.25, 1.5, 1.75, 2.0};
	static const struct { int n; const double *v; } thr[] = {
		{0, NULL}, {1, half}, {1, quarter}, {2, quarter_half}, {3, three}};
	static const uint32_t windows[] = {1, 2, 4, 8};
	static const char *const modes[] = {"static", "dynamic-megatron", "dynamic-cost"};
	/* values per coordinate: sharding, s_max, thresholds, window, CP algorithm, CP mode */
	static const int n_values[] = {4, 5, 5, 4, 3, 3};
	uint32_t ctx = tn->t->context;
	struct wlb_tune_cand best = *start, c;
	int is = 2, ism = 2, ith = 3, iw = 0, ia = !strcmp(best.par.cp_algo, "ring") ? 1 :
						    !strcmp(best.par.cp_algo, "distca") ? 2 : 0, im = 0;
	int pool = best.par.dp * best.par.cp * best.par.pp;

	for (int i = 0; i < 4; i++)
		if (!strcmp(best.pol.sharding, shardings[i]))
			is = i;
	for (int pass = 0; pass < 3; pass++) {
		int improved = 0;
		for (int coord = 0; coord < 6; coord++) {
			int wlb = !strncmp(best.pol.packing, "wlb", 3), greedy = !strcmp(best.pol.packing, "greedy");
			if ((coord == 1 || coord == 2) && !wlb)
				continue;
			if ((coord == 3 && !greedy) || (coord == 4 && best.par.cp == 1 && pool == 1) ||
			    (coord == 5 && (best.par.cp * best.par.dp == 1 ||
					    tn->t->model.attention == WLB_ATTN_UNFUSED)))
				continue;
			for (int v = 0; v < n_values[coord]; v++) {
				/* ring needs CP ranks; distca a pool of more than one */
				if (coord == 4 && ((v == 1 && best.par.cp == 1) || (v == 2 && pool == 1)))
					continue;
				int s = coord == 0 ? v : is, m = coord == 1 ? v : ism, h = coord == 2 ? v : ith,
				    w = coord == 3 ? v : iw, a = coord == 4 ? v : ia, mo = coord == 5 ? v : im;
				if (a > 0 && mo > 0) /* per-sequence CP is modelled with all-gather */
					continue;
				struct wlb_policy q;
				struct wlb_parallel par = best.par;
				policy_set(&q, best.pol.packing, shardings[s], smax[m], thr[h].n, thr[h].v,
					   windows[w], ctx);
				snprintf(par.cp_algo, sizeof par.cp_algo, "%s", algos[a]);
				snprintf(q.cp_mode, sizeof q.cp_mode, "%s", modes[mo]);
				if (!try_cand(tn, cost, &par, &q, &c, NULL))
					return 0;
				if (c.feasible && cand_cmp(&c, &best) < 0) {
					best = c;
					is = s, ism = m, ith = h, iw = w, ia = a, im = mo;
					improved = 1;
				}
			}
		}
		if (!improved)
			break;
	}
	return 1;
}

static void *worker(void *arg)
{
	struct job_ctx *j = arg;
	struct tuner *tn = j->tn;

	for (;;) {
		pthread_mutex_lock(&tn->lock);
		size_t i = tn->next++;
		int stop = tn->timed_out || tn->failed || wlb_stop_requested();
		pthread_mutex_unlock(&tn->lock);
		if (stop)
			break;
		int go = 1;
		if (j->phase == 1) {
			if (i >= tn->n_cfgs)
				break;
			struct wlb_policy q;
			struct wlb_tune_cand c;
			policy_set(&q, "concat", "per-seq", 1.5, 0, NULL, 1, tn->t->context);
			go = try_cand(tn, j->cost, &tn->cfgs[i].par, &q, &c, &tn->cfgs[i].bound);
			/* the later phases start from the rung that fitted */
			if (c.feasible)
				tn->cfgs[i].par = c.par;
		} else if (j->phase == 2) {
			if (i >= tn->n_cfgs)
				break;
			go = bundles(tn, j->cost, &tn->cfgs[i]);
		} else {
			if (i >= tn->n_starts)
				break;
			go = refine(tn, j->cost, &tn->starts[i]);
		}
		pthread_mutex_lock(&tn->lock);
		tn->done++;
		progress(tn);
		pthread_mutex_unlock(&tn->lock);
		if (!go)
			break;
	}
	return NULL;
}

static int by_bound(const void *a, const void *b)
{
	const struct cfg *x = a, *y = b;
	if (x->bound != y->bound)
		return x->bound > y->bound ? -1 : 1;
	return x->index - y->index;
}

static int run_phase(struct tuner *tn, int phase, int threads, struct wlb_cost **costs)
{
	pthread_t th[64];
	struct job_ctx jc[64];

	tn->next = 0;
	for (int i = 0; i < threads; i++) {
		jc[i] = (struct job_ctx){tn, phase, costs[i]};
		if (pthread_create(&th[i], NULL, worker, &jc[i]))
			return WLB_ENOMEM;
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return 0;
}

int wlb_tune_run(const struct wlb_trace *t, struct wlb_cost *cost, const struct wlb_tune_opts *o,
		 struct wlb_tune_result *out, struct wlb_error *err)
{
	struct tuner tn = {0};
	struct wlb_cost *costs[64] = {0};
	int threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	const struct wlb_parallel *tp = &t->parallel;
	int gpus = o->gpus > 0 ? o->gpus : tp->tp * tp->cp * tp->pp * tp->dp;
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (threads < 1)
		threads = 1;
	if (threads > 64)
		threads = 64;
	tn.t = t;
	tn.o = o;
	tn.cost = cost;
	tn.k = o->top_k > 0 ? o->top_k : 5;
	tn.iterations = o->iterations ? o->iterations : 20;
	tn.max_mem = o->max_mem_gib > 0 ? o->max_mem_gib : wlb_cost_device(cost)->mem_gib;
	tn.t0 = now_s();
	wlb_progress_start(&tn.prog, "tuning", o->quiet);
	pthread_mutex_init(&tn.lock, NULL);
	if (!(tn.top = calloc((size_t)tn.k, sizeof *tn.top))) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = enumerate(&tn, gpus, tp->dp * tp->microbatches, err)))
		goto done;
	for (int i = 0; i < threads; i++)
		if (wlb_cost_clone(&costs[i], cost)) {
			rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
			goto done;
		}
	/* the baseline: Plain-4D on the trace's own configuration */
	{
		struct wlb_policy q;
		policy_set(&q, "concat", "per-seq", 1.5, 0, NULL, 1, t->context);
		evaluate(&tn, costs[0], tp, &q, &out->baseline, NULL);
		out->has_baseline = out->baseline.tokens_per_s > 0;
	}
	tn.planned = 2 * tn.n_cfgs + 3;
	if ((rc = run_phase(&tn, 1, threads, costs)))
		goto nothreads;
	qsort(tn.cfgs, tn.n_cfgs, sizeof *tn.cfgs, by_bound);
	if ((rc = run_phase(&tn, 2, threads, costs)))
		goto nothreads;
	/* the best candidate of each of the three best distinct configurations */
	for (size_t k = 0; k < tn.n_top && tn.n_starts < 3; k++) {
		int dup = 0;
		for (size_t l = 0; l < k; l++)
			dup |= !memcmp(&tn.top[l].par, &tn.top[k].par, sizeof tn.top[k].par);
		if (!dup)
			tn.starts[tn.n_starts++] = tn.top[k];
	}
	if ((rc = run_phase(&tn, 3, threads, costs)))
		goto nothreads;
	wlb_progress_end(&tn.prog);
	/* SIGINT / SIGTERM: the workers stopped at their next candidate; what
	 * they found is incomplete */
	if ((rc = wlb_stop_check(err)))
		goto done;
	out->configs = tn.n_cfgs;
	out->evaluated = tn.evaluated;
	out->pruned = tn.pruned;
	out->infeasible = tn.infeasible;
	out->timed_out = tn.timed_out;
	out->elapsed_s = now_s() - tn.t0;
	out->top = tn.top;
	out->n_top = tn.n_top;
	tn.top = NULL;
	if (out->n_top == 0)
		rc = wlb_error_set(err, WLB_EINVAL,
				   "no candidate fits: all %zu evaluated are over the memory (%.1f GiB) or "
				   "token-delay limit", tn.evaluated, tn.max_mem);
	goto done;
nothreads:
	rc = wlb_error_set(err, WLB_ENOMEM, "cannot start the tuner's threads");
done:
	for (int i = 0; i < threads; i++)
		wlb_cost_destroy(costs[i]);
	free(tn.cfgs);
	free(tn.top);
	pthread_mutex_destroy(&tn.lock);
	if (rc)
		wlb_tune_result_free(out);
	return rc;
}

void wlb_tune_result_free(struct wlb_tune_result *r)
{
	free(r->top);
	r->top = NULL;
	r->n_top = 0;
}

void wlb_tune_apply(struct wlb_trace *t, const struct wlb_tune_cand *c)
{
	t->parallel = c->par;
	t->policy = c->pol;
}
