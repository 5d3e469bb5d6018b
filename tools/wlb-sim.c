/* wlb-sim — simulate 4D-parallel training iterations of a trace under a
 * packing and a CP sharding policy, and show where the time goes. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "opts.h"
#include "report.h"
#include "report_sim.h"
#include "sim.h"
#include "stop.h"

#define fail(...) wlb_fail(wlb_prog, __VA_ARGS__)

static void usage(FILE *f)
{
	fprintf(f,
"usage: wlb-sim TRACE [--config CONFIG] [--packing P] [--sharding S] [--s-max N]\n"
"               [--thresholds a,b,...] [--window W] [--doc-order O] [--mem-cap GIB]\n"
"               [--mb-order O] [--cp-algo allgather|ring|distca] [--cp-mode M]\n"
"               [--costdb DB]\n"
"               [--iterations N] [--seed S]\n"
"               [--json FILE|-] [--csv FILE] [--chrome-trace FILE] [--timeline-iter K]\n"
"               [--compare] [--quiet]\n"
"\n"
"Replays the trace's iterations: its documents are packed into micro-batches,\n"
"sharded over the CP ranks, timed per pipeline stage with the cost model of the\n"
"trace's gpu, and run through the 1F1B or interleaved schedule on a discrete-event\n"
"engine.  Prints iteration time, tokens/s, MFU, imbalance, bubbles, memory, and\n"
"how the time lost against a perfectly balanced iteration divides between\n"
"pipeline bubbles, micro-batch imbalance, CP imbalance, DP waiting and exposed\n"
"communication.\n"
"\n"
"  --config CONFIG    a wlb-config/1 file (what wlb-tune -o writes): its model,\n"
"                     gpu, cluster, parallel, context and policy replace the\n"
"                     trace's; the documents stay the trace's, and the options\n"
"                     below still override it\n"
"  --packing P        concat | greedy | bfd | wlb | wlb-mem    (trace policy)\n"
"  --sharding S       per-seq | per-doc | adaptive | hybrid\n"
"  --s-max, --thresholds, --window, --doc-order   packer knobs, as in wlb-trace\n"
"                     pack (--doc-order: stream or zigzag, default zigzag for wlb)\n"
"  --mem-cap GIB      wlb-mem: activation GiB one micro-batch may keep on a GPU\n"
"                     (default: what fits the GPU whatever the micro-batch order)\n"
"  --mb-order O       micro-batch order in each pipeline: packed | heavy-first |\n"
"                     light-first (default packed)\n"
"  --cp-algo A        how CP ranks share K and V: allgather (Llama 3, WLB-LLM; the\n"
"                     all-gather and dK/dV reduce-scatter exposed) or ring (cp\n"
"                     lockstep steps, each block's transfer behind the step's\n"
"                     attention) or distca (core attention disaggregation: each\n"
"                     layer's attention as tasks balanced over the stage's dp x cp\n"
"                     ranks and idle stages', an all-to-all there and back behind\n"
"                     two ping-ponging half-batches)          (trace, default allgather)\n"
"  --cp-mode M        static (every micro-batch on its replica's cp ranks) or\n"
"                     per-sequence CP over the pool of dp x cp ranks: each\n"
"                     sequence on an aligned power-of-two group sized for it,\n"
"                     chosen by dynamic-megatron (smallest degree that fits,\n"
"                     sum l^2 / degree balanced) or dynamic-cost (degree and\n"
"                     group from the cost model); with --cp-algo allgather only\n"
"                                                          (trace, default static)\n"
);
	/* two strings: C99 promises string literals of 4095 characters only */
	fprintf(f,
"  --costdb DB        cost DB (default: the built-in one of the trace's gpu)\n"
"  --json FILE        the wlb-report/1 document (- for stdout)\n"
"  --csv FILE         one row per iteration\n"
"  --chrome-trace F   the timeline of one iteration for Perfetto / chrome://tracing\n"
"  --timeline-iter K  the iteration whose timeline and per-CP-rank attention the\n"
"                     report and --chrome-trace show (default 0)\n"
"  --compare          Plain-4D (concat + per-seq), Fixed-4D (greedy + the better\n"
"                     static sharder), WLB-LLM (wlb + adaptive), WLB-LLM + hybrid\n"
"                     (wlb + hybrid), WLB-mem (wlb-mem + adaptive: memory-aware\n"
"                     WLB), attention disaggregation (cp-algo distca) with greedy\n"
"                     fixed-length packing (Attn-disagg, as DistCA) and with wlb\n"
"                     (Attn-dis+WLB), per-sequence CP with WLB-LLM's packing\n"
"                     (DynCP (Megatron), DynCP (cost): --cp-mode dynamic-megatron /\n"
"                     dynamic-cost, all-gather CP), and the policy of the command\n"
"                     line if it is another one, on the same documents\n"
"  --quiet            no progress bar\n"
"\n"
"examples:\n"
"  wlb-sim traces/7b-128k.json --compare\n"
"  wlb-sim traces/7b-128k.json --packing concat --sharding per-seq --chrome-trace t.json\n"
"  wlb-sim traces/7b-128k.json --config best.json --compare\n"
"  wlb-sim traces/paper/70b-128k.json --iterations 10 --json report.json --csv iters.csv\n");
}

static void print_summary(const struct wlb_trace *t, const struct wlb_sim_result *r)
{
	const struct wlb_sim_summary *s = &r->summary;
	const struct wlb_parallel *p = &t->parallel;
	double lost = s->iteration_ms_mean - s->ideal_ms;
	const char *names[WLB_LOST_N] = {"CP imbalance", "micro-batch imbalance",
					 "DP waiting", "exposed communication", "pipeline bubbles"};
	int distca = !strcmp(p->cp_algo, "distca");

	printf("simulated %u iterations on %d GPUs (%s)\n\n", s->iterations, p->tp * p->cp * p->pp * p->dp,
	       t->gpu);
	printf("  iteration time     %10.1f ms mean   %.1f p50   %.1f p95\n", s->iteration_ms_mean,
	       s->iteration_ms_p50, s->iteration_ms_p95);
	printf("  throughput         %10.0f tokens/s   MFU %.1f %%\n", s->tokens_per_s, 100 * s->mfu);
	printf("  ideal              %10.1f ms         balance efficiency %.3f\n", s->ideal_ms,
	       s->balance_efficiency);
	printf("  imbalance          pp %.3f   cp %.3f   dp %.3f   bubble fraction %.3f\n",
	       s->imbalance_pp, s->imbalance_cp, s->imbalance_dp, s->bubble_fraction);
	printf("  token delay        %10.3f iterations\n", s->token_delay_iters);
	if (p->cp > 1)
		printf("  CP layouts         %10.1f %% of micro-batches per-doc, %.1f %% hybrid; %.1f %% of "
		       "documents cut per document\n", 100 * r->pack.summary.per_doc_share,
		       100 * r->pack.summary.hybrid_share, 100 * r->pack.summary.cut_doc_share);
	if (distca) { /* cp is then the attention servers' imbalance */
		names[WLB_LOST_CP] = "attention imbalance";
		printf("  attention servers  %10.3f busiest / mean   all-to-all exposed %.1f ms per GPU "
		       "(in exposed communication)\n", s->imbalance_cp, s->a2a_exposed_ms);
	}
	printf("  memory divergence  micro-batches %.3f   stages %.3f   replicas %.3f (max/mean)\n",
	       s->imbalance_mem, s->imbalance_mem_pp, s->imbalance_mem_dp);
	if (!strcmp(r->pack.packing, "wlb-mem"))
		printf("  activations        %10.2f GiB per GPU in the largest micro-batch, wlb-mem's cap %.2f\n",
		       r->pack.summary.act_max_gib, r->pack.summary.act_cap_gib);
	int worst = 0;
	for (int st = 1; st < r->pp; st++)
		if (r->mem[st].state_gib + r->mem[st].act_gib > r->mem[worst].state_gib + r->mem[worst].act_gib)
			worst = st;
	printf("  peak memory        %10.1f GiB of %.1f (stage %d: %.1f state + %.1f activations)\n",
	       s->peak_mem_gib, r->mem_limit_gib, worst, r->mem[worst].state_gib, r->mem[worst].act_gib);
	for (int st = 0; st < r->pp; st++)
		if (r->mem[st].state_gib + r->mem[st].act_gib > r->mem_limit_gib)
			printf("  OOM: stage %d needs %.1f GiB per rank, the GPU has %.1f\n", st,
			       r->mem[st].state_gib + r->mem[st].act_gib, r->mem_limit_gib);
	if (r->dcp.mode != WLB_DCP_STATIC) {
		const struct wlb_sim_dcp_stats *d = &r->dcp;
		printf("  per-sequence CP    %s over a pool of %d ranks, %u tokens per rank\n",
		       wlb_dcp_mode_name((enum wlb_dcp_mode)d->mode), d->ranks, d->budget_tokens);
		printf("    sequences per rank  %.1f min  %.1f mean  %.1f max  (%.1f slots)\n",
		       d->seqs_per_rank_min, d->seqs_per_rank_mean, d->seqs_per_rank_max, d->slots);
		printf("    degrees            ");
		for (int k = 0; k < d->pool.n_deg; k++)
			printf(" %d: %llu seqs %.1f%% tok", d->pool.deg[k], (unsigned long long)d->degree_seqs[k],
			       s->iterations && r->pack.summary.tokens ?
			       100.0 * (double)d->degree_tokens[k] / (double)r->pack.summary.tokens : 0.0);
		printf("\n    group waits         %.1f ms per iteration\n", d->group_wait_ms);
		if (d->mode == WLB_DCP_COST)
			printf("    static layout kept  %u of %u iterations (the engine found it faster)\n",
			       d->static_iters, s->iterations);
	}
	printf("\n  time lost against ideal: %.1f ms per iteration\n", lost);
	for (int l = WLB_LOST_N - 1; l >= 0; l--) {
		/* differences of equal makespans: rounding, not time (no "-0.0") */
		double ms = fabs(s->lost_ms[l]) < 1e-6 ? 0.0 : s->lost_ms[l];
		printf("    %-24s %9.1f ms  %5.1f %%\n", names[l], ms, lost > 0 ? 100 * ms / lost : 0.0);
	}
	if (s->extrapolations)
		printf("\n  note: %llu cost lookups fell outside the cost DB's samples (extrapolated)\n",
		       (unsigned long long)s->extrapolations);
}

struct run {
	const char *name;
	struct wlb_trace t;
	struct wlb_sim_result r;
};

/* cp_algo: NULL keeps the trace's, "" the trace's unless it is distca
 * (then allgather: the baselines keep attention local).  A bundle
 * (packing given) runs its own CP mode, cp_mode NULL being static. */
static int simulate(struct run *x, const struct wlb_trace *base, const char *name, const char *packing,
		    const char *sharding, uint32_t window, const char *cp_algo, const char *cp_mode,
		    struct wlb_cost *cost, const struct wlb_sim_opts *o)
{
	struct wlb_error e;
	x->name = name;
	x->t = *base;
	if (cp_algo && !*cp_algo && !strcmp(x->t.parallel.cp_algo, "distca"))
		cp_algo = "allgather";
	if (cp_algo && *cp_algo)
		snprintf(x->t.parallel.cp_algo, sizeof x->t.parallel.cp_algo, "%s", cp_algo);
	if (packing) /* a bundle: its own CP mode */
		snprintf(x->t.policy.cp_mode, sizeof x->t.policy.cp_mode, "%s", cp_mode ? cp_mode : "static");
	if (packing) { /* a bundle: its packer's own document order */
		snprintf(x->t.policy.packing, sizeof x->t.policy.packing, "%s", packing);
		x->t.policy.doc_order[0] = 0;
	}
	if (sharding)
		snprintf(x->t.policy.sharding, sizeof x->t.policy.sharding, "%s", sharding);
	if (window)
		x->t.policy.window = window;
	if (wlb_sim_run(&x->t, cost, o, &x->r, &e))
		return fail("%s", e.msg);
	return 0;
}

/* The policy bundles of --compare, in table order.  cp_algo "" keeps the
 * trace's CP algorithm unless it is distca (the bundles without
 * disaggregation keep attention local: all-gather); per-sequence CP is
 * modelled with all-gather CP.  cp_mode NULL: static.  Rows 1 and 2 are
 * Fixed-4D with each static sharder; the table shows the faster. */
static const struct bundle {
	const char *name, *packing, *sharding;
	uint32_t window;
	const char *cp_algo, *cp_mode;
} bundles[] = {
	{"Plain-4D", "concat", "per-seq", 0, "", NULL},
	{"Fixed-4D", "greedy", "per-seq", 1, "", NULL},
	{"Fixed-4D", "greedy", "per-doc", 1, "", NULL},
	{"WLB-LLM", "wlb", "adaptive", 0, "", NULL},
	{"WLB-LLM + hybrid", "wlb", "hybrid", 0, "", NULL},
	{"WLB-mem", "wlb-mem", "adaptive", 0, "", NULL},
	{"Attn-disagg", "greedy", "per-seq", 1, "distca", NULL},
	{"Attn-dis+WLB", "wlb", "adaptive", 0, "distca", NULL},
	{"DynCP (Megatron)", "wlb", "adaptive", 0, "allgather", "dynamic-megatron"},
	{"DynCP (cost)", "wlb", "adaptive", 0, "allgather", "dynamic-cost"},
};
#define N_BUNDLES ((int)(sizeof bundles / sizeof bundles[0]))

/* The bundle the trace's own policy pol (defaults applied) is, or -1.
 * Fixed-4D is either of its rows whatever its sharder. */
static int bundle_of(const struct wlb_trace *t, const struct wlb_policy *pol)
{
	struct wlb_policy own = {.n_thresholds = -1};
	int distca = !strcmp(t->parallel.cp_algo, "distca");

	snprintf(own.packing, sizeof own.packing, "%s", pol->packing);
	wlb_policy_defaults(&own, t->context);
	if (strcmp(pol->doc_order, own.doc_order))
		return -1;
	for (int b = 0; b < N_BUNDLES; b++) {
		const struct bundle *x = &bundles[b];
		int fixed = b == 1 || b == 2;
		if (strcmp(pol->packing, x->packing) || distca != !strcmp(x->cp_algo, "distca") ||
		    strcmp(pol->cp_mode, x->cp_mode ? x->cp_mode : "static") ||
		    (x->window && pol->window != x->window))
			continue;
		if (!strcmp(pol->sharding, x->sharding) || (fixed && !distca))
			return b;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct wlb_trace t;
	struct wlb_opts a = {.usage = usage};
	struct wlb_sim_opts so = {WLB_ORDER_PACKED, 0, 0};
	struct wlb_error e;
	struct wlb_cost *cost = NULL;
	struct run runs[N_BUNDLES + 1];
	struct wlb_sim_named cmp[N_BUNDLES + 1];
	char path[4096];
	const char *db;
	int n_cmp = 0, own_bundle = -1, rc = 1;

	wlb_prog = "wlb-sim";
	wlb_gsl_quiet();
	memset(runs, 0, sizeof runs);
	wlb_trace_init(&t);
	if (wlb_opts_parse(argc, argv, &a, "packing sharding s-max thresholds window doc-order mem-cap iterations seed "
			   "json csv chrome-trace timeline-iter mb-order cp-algo cp-mode costdb compare quiet config"))
		goto done;
	if (optind + 1 != argc) {
		if (optind == argc)
			usage(stderr);
		else
			fail("expected one TRACE (see --help)");
		goto done;
	}
	if (wlb_opts_load(argv[optind], &t) || wlb_opts_apply(&t, &a))
		goto done;
	if (a.order)
		wlb_mb_order_parse(a.order, &so.order);
	so.timeline_iter = (int)a.timeline_iter; /* kept for --chrome-trace and the report */
	so.quiet = a.quiet;
	if (so.timeline_iter >= 0 && t.iterations && (uint32_t)so.timeline_iter >= t.iterations) {
		fail("--timeline-iter %d: the trace has %u iterations", so.timeline_iter, t.iterations);
		goto done;
	}
	db = a.costdb;
	if (!db) {
		if (wlb_cost_find_db(t.gpu, path, sizeof path, &e)) {
			fail("%s", e.msg);
			goto done;
		}
		db = path;
	}
	if (wlb_cost_load(&cost, db, &e)) {
		fail("%s", e.msg);
		goto done;
	}

	struct wlb_policy pol = t.policy;
	wlb_policy_defaults(&pol, t.context);
	wlb_stop_install(); /* the long part: Ctrl-C stops it cleanly (stop.h) */
	if (a.compare) {
		for (int b = 0; b < N_BUNDLES; b++)
			if (simulate(&runs[b], &t, bundles[b].name, bundles[b].packing, bundles[b].sharding,
				     bundles[b].window, bundles[b].cp_algo, bundles[b].cp_mode, cost, &so))
				goto done;
		/* Fixed-4D's row: the better of its two static sharders */
		int skip = runs[2].r.summary.iteration_ms_mean < runs[1].r.summary.iteration_ms_mean ? 1 : 2;
		for (int b = 0; b < N_BUNDLES; b++)
			if (b != skip)
				cmp[n_cmp++] = (struct wlb_sim_named){runs[b].name, &runs[b].t, &runs[b].r};
		/* the command line's own policy, when it is none of the bundles */
		own_bundle = bundle_of(&t, &pol);
		if (own_bundle < 0) {
			if (simulate(&runs[N_BUNDLES], &t, "this policy", NULL, NULL, 0, NULL, NULL, cost, &so))
				goto done;
			cmp[n_cmp++] = (struct wlb_sim_named){"this policy", &runs[N_BUNDLES].t, &runs[N_BUNDLES].r};
		}
	} else {
		if (simulate(&runs[0], &t, "policy", NULL, NULL, 0, NULL, NULL, cost, &so))
			goto done;
	}
	/* the report and timeline describe the trace's own policy, or WLB-LLM */
	const struct run *main_run = &runs[0];
	if (a.compare)
		main_run = own_bundle < 0 ? &runs[N_BUNDLES] : own_bundle >= 3 ? &runs[own_bundle] : &runs[3];
	const char *dbname = a.costdb ? a.costdb : "built-in";
	if (a.json) {
		json_t *j = wlb_report_sim(&main_run->t, a.costdb ? a.costdb : t.gpu, &main_run->r, cmp, n_cmp);
		int bad = wlb_json_write(j, a.json, &e);
		json_decref(j);
		if (bad) {
			fail("%s", e.msg);
			goto done;
		}
	}
	if (a.csv && wlb_report_sim_csv(&main_run->r, a.csv, &e)) {
		fail("%s", e.msg);
		goto done;
	}
	if (a.chrome) {
		json_t *j = wlb_chrome_trace(&main_run->t, &main_run->r);
		int bad = wlb_json_write(j, a.chrome, &e);
		json_decref(j);
		if (bad) {
			fail("%s", e.msg);
			goto done;
		}
	}
	if (a.json && !strcmp(a.json, "-")) {
		rc = 0;
		goto done;
	}
	const struct wlb_parallel *p = &t.parallel;
	struct wlb_policy mp = main_run->t.policy;
	wlb_policy_defaults(&mp, t.context);
	printf("%s: %s, context %u, TP%d CP%d PP%d DP%d, %d micro-batches per replica, %s",
	       t.name[0] ? t.name : argv[optind], t.model.name[0] ? t.model.name : "custom model",
	       t.context, p->tp, p->cp, p->pp, p->dp, p->microbatches, p->schedule);
	if (p->vpp > 1)
		printf(" with %d virtual stages", p->vpp);
	if (p->cp > 1 && !strcmp(p->cp_algo, "ring"))
		printf(", ring attention over CP");
	/* what differs from the defaults (ZeRO-3, no recompute, one sequence
	 * a micro-batch, the stages' layers equal) */
	if (p->zero != 3)
		printf(", ZeRO-%d", p->zero);
	if (p->recompute != WLB_RECOMPUTE_NONE)
		printf(", %s recompute", wlb_recompute_name(p->recompute));
	if (p->micro_batch_size > 1)
		printf(", micro-batch size %d", p->micro_batch_size);
	putchar('\n');
	char split[512];
	if (wlb_opts_stage_split(p, t.model.layers, split, sizeof split)) {
		if (p->n_pp_layers)
			printf("layers per stage %s (parallel.pp_layers)\n", split);
		else
			printf("layers per stage %s (as even as possible: pp %d does not divide %d "
			       "layers)\n", split, p->pp, t.model.layers);
	}
	printf("policy: %s (s_max %u, window %u, documents in %s order) + %s, micro-batch order %s, "
	       "cost DB %s %s\n", mp.packing, mp.s_max, mp.window, mp.doc_order, mp.sharding,
	       wlb_mb_order_name(so.order), dbname, t.gpu);
	if (n_cmp) {
		/* speedup in tokens per second: a policy that holds documents back
		 * trains fewer tokens per iteration than the baseline */
		double base = cmp[0].res->summary.tokens_per_s;
		printf("\n%-16s %-7s %-9s %9s %8s %8s %8s %8s %8s %7s %7s %8s %8s  %s\n", "policy", "packing",
		       "sharding", "iter ms", "Mtok/s", "speedup", "imb_pp", "imb_cp", "imb_mem", "bubble", "MFU",
		       "delay", "peak GiB", "documents");
		for (int i = 0; i < n_cmp; i++) {
			const struct wlb_sim_summary *s = &cmp[i].res->summary;
			struct wlb_policy q = cmp[i].trace->policy;
			wlb_policy_defaults(&q, t.context);
			/* disaggregated attention has no CP layout of its own */
			const char *shd = strcmp(cmp[i].trace->parallel.cp_algo, "distca") ? q.sharding : "distca";
			printf("%-16s %-7s %-9s %9.1f %8.4f %7.3fx %8.3f %8.3f %8.3f %7.3f %6.1f%% %8.3f %8.1f  %s%s\n",
			       cmp[i].name, q.packing, shd, s->iteration_ms_mean, s->tokens_per_s / 1e6,
			       s->tokens_per_s / base, s->imbalance_pp, s->imbalance_cp, s->imbalance_mem,
			       s->bubble_fraction, 100 * s->mfu, s->token_delay_iters, s->peak_mem_gib,
			       q.doc_order, s->oom ? "  OOM" : "");
		}
		printf("(%u iterations each on the same documents; speedup: tokens/s over Plain-4D)\n\n",
		       cmp[0].res->summary.iterations);
		printf("%s:\n", main_run->name);
	} else {
		putchar('\n');
	}
	print_summary(&main_run->t, &main_run->r);
	rc = 0;
done:
	for (int i = 0; i < N_BUNDLES + 1; i++)
		wlb_sim_result_free(&runs[i].r);
	wlb_cost_destroy(cost);
	wlb_trace_free(&t);
	return rc && wlb_stop_requested() ? WLB_STOP_STATUS : rc;
}
