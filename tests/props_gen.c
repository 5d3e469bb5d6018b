/* props_gen.c — the random traces of the property tests (props_gen.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "actmem.h"
#include "props_gen.h"

int props_pick(gsl_rng *r, int lo, int hi)
{
	return lo + (int)gsl_rng_uniform_int(r, (unsigned long)(hi - lo + 1));
}

int props_coin(gsl_rng *r, double p)
{
	return gsl_rng_uniform(r) < p;
}

static void gen_model(gsl_rng *r, struct wlb_model *m)
{
	const char *const *names = wlb_model_preset_names();
	int n = 0;

	while (names[n])
		n++;
	memset(m, 0, sizeof *m);
	if (props_coin(r, 0.4) && !wlb_model_preset(names[props_pick(r, 0, n - 1)], m, NULL)) {
		/* a preset's shapes with few layers: the DES graph grows with them */
		m->layers = props_pick(r, 1, 8);
		return;
	}
	snprintf(m->name, sizeof m->name, "rand");
	m->heads = 1 << props_pick(r, 0, 4);
	m->kv_heads = m->heads >> props_pick(r, 0, 2);
	if (m->kv_heads < 1)
		m->kv_heads = 1;
	m->head_dim = props_coin(r, 0.5) ? 64 : 128;
	m->hidden = m->heads * m->head_dim;
	m->ffn_hidden = m->hidden * props_pick(r, 2, 4);
	m->layers = props_pick(r, 1, 8);
	m->vocab = 1024 * props_pick(r, 1, 32);
	m->mlp = props_coin(r, 0.7) ? WLB_MLP_SWIGLU : WLB_MLP_GELU;
	m->tied_embeddings = props_coin(r, 0.3);
	m->attention = props_coin(r, 0.1) ? WLB_ATTN_UNFUSED : WLB_ATTN_FLASH;
	m->dropout = props_coin(r, 0.2) ? 0.1 : 0;
}

static void gen_parallel(gsl_rng *r, const struct wlb_model *m, struct wlb_parallel *p)
{
	p->tp = 1 << props_pick(r, 0, 3);
	while (p->tp > 1 && (m->heads % p->tp || m->ffn_hidden % p->tp ||
			     (m->kv_heads % p->tp && p->tp % m->kv_heads)))
		p->tp /= 2;
	p->cp = m->attention == WLB_ATTN_UNFUSED ? 1 : props_pick(r, 1, 4);
	p->pp = props_pick(r, 1, m->layers < 4 ? m->layers : 4);
	p->vpp = p->pp > 1 && m->layers >= 2 * p->pp && props_coin(r, 0.3) ? 2 : 1;
	p->dp = props_pick(r, 1, 3);
	p->microbatches = props_pick(r, 1, 4);
	if (p->vpp > 1) {
		snprintf(p->schedule, sizeof p->schedule, "interleaved");
		p->microbatches = p->pp * props_pick(r, 1, 2);
	}
	snprintf(p->cp_algo, sizeof p->cp_algo, "%s", props_coin(r, 0.3) ? "ring" : "allgather");
	p->sequence_parallel = props_coin(r, 0.8);
	p->zero = props_pick(r, 0, 3);
	p->recompute = props_pick(r, WLB_RECOMPUTE_NONE, WLB_RECOMPUTE_FULL);
	p->tp_comm_overlap = props_coin(r, 0.5);
	p->overlap_grad_reduce = props_coin(r, 0.7);
	p->overlap_param_gather = props_coin(r, 0.7);
	p->micro_batch_size = props_coin(r, 0.15) ? 2 : 1;
}

static void gen_mixture(gsl_rng *r, uint32_t ctx, struct wlb_dist *d)
{
	memset(d, 0, sizeof *d);
	d->n = props_pick(r, 1, 3);
	for (int i = 0; i < d->n; i++) {
		struct wlb_dist_component *c = &d->c[i];
		c->weight = 0.1 + gsl_rng_uniform(r);
		c->kind = (enum wlb_dist_kind)props_pick(r, 0, 3);
		switch (c->kind) {
		case WLB_DIST_LOGNORMAL:
			c->a = log(8.0) + gsl_rng_uniform(r) * log(ctx / 4.0 > 8 ? ctx / 4.0 : 8.0);
			c->b = 0.2 + 1.8 * gsl_rng_uniform(r);
			break;
		case WLB_DIST_PARETO:
			c->a = 1 + gsl_rng_uniform(r) * ctx / 8.0;
			c->b = 0.8 + 2 * gsl_rng_uniform(r);
			break;
		case WLB_DIST_UNIFORM:
			c->a = gsl_rng_uniform(r) * ctx / 2.0;
			c->b = c->a + 1 + gsl_rng_uniform(r) * ctx;
			break;
		case WLB_DIST_POINT:
			c->a = props_pick(r, 1, (int)ctx);
			break;
		}
		if (c->kind != WLB_DIST_POINT && props_coin(r, 0.3)) { /* truncated inside [1, ctx] */
			c->min = 1;
			c->max = props_pick(r, 2, (int)ctx);
		}
	}
}

/* Explicit batches: 1-4 of 1-12 documents, some exactly the context, some longer. */
static int gen_batches(gsl_rng *r, uint32_t ctx, struct wlb_source *s)
{
	size_t nb = (size_t)props_pick(r, 1, 4), n = 0;

	s->kind = WLB_SOURCE_BATCHES;
	s->batch_start = calloc(nb + 1, sizeof *s->batch_start);
	s->lens = calloc(nb * 12, sizeof *s->lens);
	if (!s->batch_start || !s->lens)
		return -1;
	for (size_t b = 0; b < nb; b++) {
		int k = props_pick(r, 1, 12);
		for (int i = 0; i < k; i++) {
			double u = gsl_rng_uniform(r);
			uint32_t len = u < 0.1 ? ctx : u < 0.2 ? ctx + (uint32_t)props_pick(r, 1, (int)ctx)
						       : (uint32_t)props_pick(r, 1, (int)ctx);
			s->lens[n++] = len;
		}
		s->batch_start[b + 1] = n;
	}
	s->n_batches = nb;
	s->n_lens = n;
	return 0;
}

static void gen_policy(gsl_rng *r, uint32_t ctx, struct wlb_policy *pol)
{
	const struct wlb_packer_ops *const *ops = wlb_packers();
	static const char *const shard[] = {"per-seq", "per-doc", "adaptive"};
	int n = 0;

	while (ops[n])
		n++;
	memset(pol, 0, sizeof *pol);
	snprintf(pol->packing, sizeof pol->packing, "%s", ops[props_pick(r, 0, n - 1)]->name);
	snprintf(pol->sharding, sizeof pol->sharding, "%s", shard[props_pick(r, 0, 2)]);
	pol->s_max = props_coin(r, 0.5) ? 0 : ctx + (uint32_t)props_pick(r, 0, (int)ctx);
	pol->n_thresholds = -1;
	if (props_coin(r, 0.5)) { /* 0-3 increasing thresholds below the context */
		int k = ctx > 3 ? props_pick(r, 0, 3) : 0;
		uint32_t at = 0;
		pol->n_thresholds = 0;
		for (int i = 0; i < k && at + 1 < ctx; i++) {
			at = at + 1 + (uint32_t)gsl_rng_uniform_int(r, (ctx - at - 1) / 2 + 1);
			if (at >= ctx)
				break;
			pol->thresholds[pol->n_thresholds++] = at;
		}
	}
	pol->window = props_coin(r, 0.5) ? 0 : (uint32_t)props_pick(r, 1, 4);
	if (props_coin(r, 0.5))
		snprintf(pol->doc_order, sizeof pol->doc_order, "%s", props_coin(r, 0.5) ? "stream" : "zigzag");
}

int props_gen_trace(struct gen *g, struct wlb_trace *t, struct wlb_error *err)
{
	gsl_rng *r = g->r;
	const char *const *dp = wlb_dist_preset_names();
	int n_dp = 0;

	while (dp[n_dp])
		n_dp++;
	wlb_trace_init(t);
	snprintf(t->name, sizeof t->name, "props");
	gen_model(r, &t->model);
	gen_parallel(r, &t->model, &t->parallel);
	t->context = props_coin(r, 0.5) ? 1u << props_pick(r, 7, 13) : (uint32_t)props_pick(r, 16, 8192);
	gen_policy(r, t->context, &t->policy);
	/* per-sequence CP: all-gather CP with a model that has CP */
	if (!strcmp(t->parallel.cp_algo, "allgather") && t->model.attention != WLB_ATTN_UNFUSED && props_coin(r, 0.2))
		snprintf(t->policy.cp_mode, sizeof t->policy.cp_mode, "%s",
			 props_coin(r, 0.5) ? "dynamic-megatron" : "dynamic-cost");
	t->source.seed = gsl_rng_get(r);
	t->iterations = (uint32_t)props_pick(r, 1, 3);
	g->preset = NULL;
	double u = gsl_rng_uniform(r);
	if (u < 0.25) {
		g->preset = dp[props_pick(r, 0, n_dp - 1)];
		wlb_dist_preset(g->preset, &t->source.dist, NULL);
	} else if (u < 0.7) {
		gen_mixture(r, t->context, &t->source.dist);
	} else {
		if (gen_batches(r, t->context, &t->source))
			return wlb_error_set(err, WLB_ENOMEM, "out of memory");
		t->iterations = props_coin(r, 0.5) ? 0 : (uint32_t)props_pick(r, 1, (int)t->source.n_batches);
		if (props_coin(r, 0.5)) { /* the same lengths as a lengths file: cut into batches */
			t->source.kind = WLB_SOURCE_LENGTHS;
			t->iterations = props_coin(r, 0.5) ? 0 : (uint32_t)props_pick(r, 1, 3);
		}
	}
	if (!strcmp(t->policy.packing, "wlb-mem")) {
		/* a cap of 1.5 micro-batches of the context: the FLOP workload
		 * knows no GPU to derive one from */
		struct wlb_actmem am;
		uint64_t mbs = t->parallel.micro_batch_size > 1 ? (uint64_t)t->parallel.micro_batch_size : 1;
		if (wlb_actmem_plan(t, 0, &am, err))
			return WLB_ENOMEM;
		char gib[32]; /* 6 digits: the config's 10-digit reals write it back exactly */
		snprintf(gib, sizeof gib, "%.6g", wlb_actmem_bytes(&am, 3 * t->context * mbs / 2) / 1073741824.0);
		t->policy.mem_cap_gib = strtod(gib, NULL);
	}
	return wlb_trace_check(t, err);
}
