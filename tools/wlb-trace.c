/* wlb-trace — generate, inspect and pack document traces.
 *
 *   wlb-trace gen   --preset NAME --model M --context N ... -o FILE
 *   wlb-trace stats TRACE
 *   wlb-trace pack  TRACE [--packing P] [--sharding S] [--compare] [--json FILE|-]
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "cost.h"
#include "grow.h"
#include "json.h"
#include "lenstats.h"
#include "packrun.h"
#include "progress.h"
#include "report.h"
#include "stop.h"
#include "opts.h"
#include "trace.h"

#define fail(...) wlb_fail(wlb_prog, __VA_ARGS__)

static int fail_err(const struct wlb_error *e)
{
	return fail("%s", e->msg);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: wlb-trace gen   --preset NAME [--model M] [--context N] [--tp A] [--cp B] [--pp C]\n"
"                       [--dp D] [--microbatches M] [--iterations I] [--seed S] [--name X]\n"
"                       [--gpu G] [--cp-algo allgather|ring] -o FILE\n"
"       wlb-trace stats TRACE [--docs N]\n"
"       wlb-trace pack  TRACE [--packing P] [--sharding S] [--s-max N] [--thresholds a,b,...]\n"
"                       [--window W] [--doc-order O] [--mem-cap GIB] [--iterations I] [--seed S]\n"
"                       [--json FILE|-] [--compare]\n"
"                       [--summary] [--no-timing] [--workload cost|flops] [--costdb DB] [--quiet]\n"
"                       [--cp-algo allgather|ring] [--dump FILE]\n"
"\n"
"gen    writes a wlb-trace/1 file drawing documents from a distribution preset\n"
"       (wlb128k, prolong64k, web, bytescale); defaults: llama2-7b, context 131072,\n"
"       tp 8, cp 2, pp 4, dp 1, 4 micro-batches, 50 iterations, seed 1.\n"
"stats  prints the document-length distribution of a trace's data (for a\n"
"       distribution, the documents its iterations read, or --docs N draws).\n"
"pack   packs every iteration and shards every micro-batch over the CP ranks, and\n"
"       reports balance per iteration and in summary: imbalance_pp (max/mean of\n"
"       micro-batch work W per iteration), imbalance_cp (max/mean of attention\n"
"       pairs over CP ranks), imbalance_mem (max/mean of micro-batch activations),\n"
"       token delay, packing time.  --compare runs Plain-4D (concat + per-seq),\n"
"       Fixed-4D (greedy + the better static sharder), WLB-LLM (wlb + adaptive),\n"
"       WLB+hybrid (wlb + hybrid) and, with a cost DB or --mem-cap, WLB-mem\n"
"       (wlb-mem + adaptive) on the same documents.\n"
"\n"
"  --packing P       concat | greedy | bfd | wlb | wlb-mem (trace policy, default wlb)\n"
"  --sharding S      per-seq | per-doc | adaptive | hybrid (default adaptive);\n"
"                    hybrid keeps some documents whole in per-seq's chunks and\n"
"                    cuts the rest per document, where the estimate says faster\n"
"  --s-max N         wlb: most tokens per micro-batch     (default 1.5 x context)\n"
"  --thresholds L    wlb: outlier queue thresholds, or none (default context/4,context/2)\n"
"  --window W        greedy: global batches per window    (default 1)\n"
"  --mem-cap GIB     wlb-mem: activation GiB one micro-batch may keep on a GPU of\n"
"                    the heaviest stage (default: what fits the cost DB's GPU after\n"
"                    weights, gradients and optimizer state, for the schedule's\n"
"                    micro-batches in flight)\n"
"  --doc-order O     documents' order inside a micro-batch, which decides what\n"
"                    per-seq sharding cuts: stream (dataloader order) or zigzag\n"
"                    (long documents placed where the zig-zag split is even);\n"
"                    default zigzag for wlb, stream for the fixed-length packers\n"
"  --workload W      what the packer balances and the metrics measure: cost (one\n"
"                    layer's forward+backward time from the cost DB, default) or flops\n"
"                    (one layer's forward FLOPs: W = lin*d + att*d(d+1)/2)\n"
"  --costdb DB       the cost DB (default: the built-in one of the trace's gpu)\n"
"  --cp-algo A       allgather or ring: under ring, adaptive and hybrid weigh each layout\n"
"                    by its ring steps                     (trace, default allgather)\n"
"  --json FILE       write the wlb-report/1 document (- for stdout)\n"
"  --dump FILE       write every iteration's micro-batches as JSON: {\"format\":\n"
"                    \"wlb-pack-dump/1\", \"iterations\": [[[[doc, offset, length], ...]\n"
"                    per micro-batch] per iteration]}, doc = the document's index\n"
"                    in dataloader order, offset = where the piece starts in it\n"
"  --summary         print only the summary, not each iteration\n"
"  --no-timing       report packing times as 0, for byte-identical output\n"
"  --quiet           no progress on stderr\n"
"\n");
	fprintf(f,
"examples:\n"
"  wlb-trace gen --preset wlb128k --model llama2-7b --context 131072 -o 7b-128k.json\n"
"  wlb-trace stats traces/7b-128k.json\n"
"  wlb-trace pack traces/7b-128k.json --compare\n"
"  wlb-trace pack traces/7b-128k.json --packing greedy --window 4 --json report.json\n");
}

/* Strict parse of a positive integer option value. */
static int cmd_gen(int argc, char **argv)
{
	struct wlb_trace t;
	struct wlb_opts a = {.usage = usage};
	struct wlb_error e;
	int rc = 1;

	wlb_trace_init(&t);
	wlb_model_preset("llama2-7b", &t.model, &e);
	t.context = 131072;
	t.parallel.tp = 8;
	t.parallel.cp = 2;
	t.parallel.pp = 4;
	t.parallel.microbatches = 4;
	t.iterations = 50;
	t.source.kind = WLB_SOURCE_DIST;
	if (wlb_opts_parse(argc, argv, &a, "preset model context tp cp pp dp microbatches "
		       "iterations seed name gpu output packing sharding s-max thresholds window doc-order "
		       "cp-algo"))
		goto done;
	if (optind != argc) {
		fail("gen: unexpected argument \"%s\"", argv[optind]);
		goto done;
	}
	if (!a.preset || !a.output) {
		fail("gen: --preset NAME and -o FILE are required (see --help)");
		goto done;
	}
	if (wlb_dist_preset(a.preset, &t.source.dist, &e)) {
		fail("--preset: %s", e.msg);
		goto done;
	}
	if (wlb_opts_apply(&t, &a))
		goto done;
	if (!t.name[0])
		snprintf(t.name, sizeof t.name, "%s-%uk-%s", t.model.name, t.context / 1024, a.preset);
	if (wlb_trace_save(&t, a.preset, a.output, &e)) {
		fail_err(&e);
		goto done;
	}
	printf("%s: %s, context %u, TP%d CP%d PP%d DP%d, %d micro-batches, %u iterations of %s, seed %llu\n",
	       a.output, t.model.name, t.context, t.parallel.tp, t.parallel.cp, t.parallel.pp,
	       t.parallel.dp, t.parallel.microbatches, t.iterations, a.preset,
	       (unsigned long long)t.source.seed);
	rc = 0;
done:
	wlb_trace_free(&t);
	return rc;
}

/* ---- stats ---- */

static int cmd_stats(int argc, char **argv)
{
	static const double qs[] = {0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99, 0.999};
	enum { NQ = sizeof qs / sizeof qs[0] };
	struct wlb_trace t;
	struct wlb_opts a = {.usage = usage};
	struct wlb_lenstats s;
	struct wlb_error e;
	uint32_t *owned = NULL;
	const uint32_t *lens;
	size_t n = 0;
	int rc = 1;

	wlb_trace_init(&t);
	if (wlb_opts_parse(argc, argv, &a, "docs seed iterations"))
		goto done;
	if (optind + 1 != argc) {
		fail("stats: expected one TRACE (see --help)");
		goto done;
	}
	if (wlb_opts_load(argv[optind], &t) || wlb_opts_apply(&t, &a))
		goto done;
	uint64_t batch = (uint64_t)t.parallel.dp * (uint64_t)t.parallel.microbatches * t.context;
	if (t.source.kind != WLB_SOURCE_DIST) { /* a file's lengths, read in place */
		lens = t.source.lens;
		n = t.source.n_lens;
	} else if (a.docs) {
		owned = malloc(a.docs * sizeof *owned);
		if (!owned || wlb_dist_sample_n(&t.source.dist, t.source.seed, owned, a.docs, &e)) {
			fail("%s", owned ? e.msg : "out of memory");
			goto done;
		}
		lens = owned;
		n = a.docs;
	} else if (wlb_source_collect(&t.source, (uint64_t)(t.iterations ? t.iterations : 1) * batch,
				      &owned, &n, &e)) {
		fail_err(&e);
		goto done;
	} else
		lens = owned;
	if (wlb_lenstats(lens, n, qs, NQ, &s, &e)) {
		fail_err(&e);
		goto done;
	}
	printf("%s: %zu documents, %.0f tokens (%.2f global batches of %llu)\n", argv[optind], n,
	       s.tokens, s.tokens / (double)batch, (unsigned long long)batch);
	printf("  mean %.0f  stddev %.0f  min %u  max %u\n", s.mean, s.sd, s.min, s.max);
	printf("  quantile  ");
	for (int k = 0; k < NQ; k++)
		printf(" %8g", qs[k] * 100);
	printf("  (%%)\n  length    ");
	for (int k = 0; k < NQ; k++)
		printf(" %8.0f", s.q[k]);
	printf("\n  tokens in documents longer than 8K / 32K / 64K / 128K: %.1f %% / %.1f %% / %.1f %% / %.1f %%\n",
	       100 * s.above[0] / s.tokens, 100 * s.above[1] / s.tokens, 100 * s.above[2] / s.tokens,
	       100 * s.above[3] / s.tokens);
	printf("  log2 bin        documents   tokens\n");
	for (int b = 0; b < 32; b++)
		if (s.bin_docs[b] > 0)
			printf("  [%7.0f, %7.0f)  %6.2f %%  %6.2f %%\n", ldexp(1, b), ldexp(1, b + 1),
			       100 * (double)s.bin_docs[b] / (double)n, 100 * s.bin_tokens[b] / s.tokens);
	rc = 0;
done:
	free(owned);
	wlb_trace_free(&t);
	return rc;
}

/* ---- pack ---- */

static void print_config(const struct wlb_trace *t, const char *workload)
{
	struct wlb_policy pol = t->policy;
	const struct wlb_parallel *p = &t->parallel;

	wlb_policy_defaults(&pol, t->context);
	printf("%s: %s, context %u, TP%d CP%d PP%d DP%d, %d micro-batches per replica\n",
	       t->name[0] ? t->name : t->path, t->model.name[0] ? t->model.name : "custom model",
	       t->context, p->tp, p->cp, p->pp, p->dp,
	       p->microbatches);
	printf("policy: %s (s_max %u, window %u, outlier queues", pol.packing, pol.s_max, pol.window);
	if (pol.n_thresholds == 0)
		printf(" none");
	for (int i = 0; i < pol.n_thresholds; i++)
		printf("%s%u", i ? "," : " ", pol.thresholds[i]);
	printf("), documents in %s order + %s\n", pol.doc_order, pol.sharding);
	printf("W: %s\n", workload);
}

static void print_summary(const struct wlb_pack_summary *s)
{
	printf("summary over %u iterations\n", s->iterations);
	printf("  imbalance_pp         %8.3f   max/mean micro-batch work W, mean over iterations\n",
	       s->imbalance_pp);
	printf("  imbalance_cp         %8.3f   max/mean attention pairs over CP ranks, mean over micro-batches\n",
	       s->imbalance_cp);
	printf("  imbalance_dp         %8.3f   max/mean replica work\n", s->imbalance_dp);
	printf("  token_delay_iters    %8.3f   token-weighted mean of (iteration trained - iteration read)\n",
	       s->token_delay_iters);
	printf("  token_displacement   %8.3f   the same with |...|: reordering of any sign\n",
	       s->token_displacement_iters);
	printf("  documents            %8llu   pieces trained (a split document counts per part)\n",
	       (unsigned long long)s->documents);
	printf("  tokens               %llu trained of %llu read, %llu pending\n",
	       (unsigned long long)s->tokens, (unsigned long long)s->tokens_in,
	       (unsigned long long)s->pending_tokens);
	printf("  pack_ms_per_batch    %8.4f   (sharding %.4f ms per batch)\n", s->pack_ms_per_batch,
	       s->shard_ms_per_batch);
	printf("  per-doc share        %7.1f %%   of micro-batches sharded per document\n",
	       100 * s->per_doc_share);
	printf("  hybrid share         %7.1f %%   of micro-batches sharded hybrid\n", 100 * s->hybrid_share);
	printf("  cut documents        %7.1f %%   of documents cut per document (the rest kept whole)\n",
	       100 * s->cut_doc_share);
	printf("  imbalance_mem        %8.3f   max/mean micro-batch activations, mean over iterations\n",
	       s->imbalance_mem);
	printf("  activations          %8.2f   GiB per GPU of the largest micro-batch (heaviest stage)",
	       s->act_max_gib);
	if (s->act_cap_gib > 0)
		printf("; wlb-mem's cap %.2f", s->act_cap_gib);
	putchar('\n');
}

static void print_iterations(const struct wlb_packrun *r)
{
	printf(" iter     tokens  docs  imb_pp  imb_dp  max_cp   delay  micro-batch tokens (K)\n");
	for (size_t i = 0; i < r->n_iters; i++) {
		const struct wlb_iter_rec *ir = &r->iters[i];
		uint32_t docs = 0;
		double cpmax = 1;
		for (uint32_t b = 0; b < ir->n_mb; b++) {
			docs += r->mbs[ir->first_mb + b].docs;
			if (r->mbs[ir->first_mb + b].cp_imbalance > cpmax)
				cpmax = r->mbs[ir->first_mb + b].cp_imbalance;
		}
		printf("%5u %10llu %5u %7.3f %7.3f %7.3f %7.2f ", ir->iter, (unsigned long long)ir->tokens,
		       docs, ir->imbalance_pp, ir->imbalance_dp, cpmax, ir->delay_iters);
		for (uint32_t b = 0; b < ir->n_mb && b < 8; b++)
			printf(" %.1f", r->mbs[ir->first_mb + b].tokens / 1024.0);
		printf("%s\n", ir->n_mb > 8 ? " ..." : "");
	}
}

static int show_iter(void *ctx, const struct wlb_packed *p, const struct wlb_iter_rec *rec)
{
	struct wlb_progress *prog = ctx;

	(void)p;
	wlb_progress_show(prog, rec->iter + 1, prog->total, "iterations");
	return 0;
}

static int run(const struct wlb_trace *t, const struct wlb_workload *w, const char *packing,
	       const char *sharding, uint32_t window, int quiet, struct wlb_packrun *r)
{
	struct wlb_trace c = *t;
	struct wlb_error e;
	struct wlb_progress prog;
	struct wlb_packrun_hooks hooks = {&prog, NULL, show_iter};
	int rc;

	if (packing) { /* a bundle: its packer's own document order */
		snprintf(c.policy.packing, sizeof c.policy.packing, "%s", packing);
		c.policy.doc_order[0] = 0;
	}
	if (sharding)
		snprintf(c.policy.sharding, sizeof c.policy.sharding, "%s", sharding);
	if (window)
		c.policy.window = window;
	wlb_progress_start(&prog, "packing", quiet);
	prog.total = c.iterations;
	rc = wlb_packrun_with(&c, w, &hooks, r, &e);
	wlb_progress_end(&prog);
	return rc ? fail("%s", e.msg) : 0;
}

static void zero_timing(struct wlb_packrun *r)
{
	r->summary.pack_ms_per_batch = r->summary.shard_ms_per_batch = 0;
	for (size_t i = 0; i < r->n_iters; i++)
		r->iters[i].pack_us = 0;
}

/* --dump: where each piece came from (indexed by piece id, which the stream
 * numbers from 0; concat may emit a piece in parts, each `used` tokens
 * further in), and the iterations as they are packed. */
struct dump {
	struct { uint64_t doc, offset, used; } *at;
	size_t cap;
	json_t *iters;
	int oom;
};

static void dump_piece(void *ctx, const struct wlb_doc *piece, uint64_t doc, uint64_t offset)
{
	struct dump *d = ctx;
	if (WLB_GROW(d->at, d->cap, (size_t)piece->id + 1)) {
		d->oom = 1;
		return;
	}
	d->at[piece->id].doc = doc;
	d->at[piece->id].offset = offset;
	d->at[piece->id].used = 0;
}

static int dump_iter(void *ctx, const struct wlb_packed *p, const struct wlb_iter_rec *rec)
{
	struct dump *d = ctx;
	json_t *it = json_array();
	(void)rec;
	for (uint32_t b = 0; b < p->n_mb && !d->oom; b++) {
		json_t *mb = json_array();
		for (uint32_t k = 0; k < p->mb[b].n; k++) {
			const struct wlb_doc *x = &p->docs[p->mb[b].first + k];
			d->oom |= json_array_append_new(mb, json_pack("[I, I, I]", (json_int_t)d->at[x->id].doc,
						       (json_int_t)(d->at[x->id].offset + d->at[x->id].used),
						       (json_int_t)x->len));
			d->at[x->id].used += x->len;
		}
		d->oom |= json_array_append_new(it, mb);
	}
	d->oom |= json_array_append_new(d->iters, it);
	return d->oom ? WLB_ENOMEM : 0;
}

static int dump_run(const struct wlb_trace *t, const struct wlb_workload *w, const char *path)
{
	struct wlb_trace c = *t;
	struct dump d = {NULL, 0, json_array(), 0};
	struct wlb_packrun_hooks hooks = {&d, NULL, dump_iter};
	struct wlb_packrun r;
	struct wlb_error e;
	int rc = 0;

	c.source.on_piece = dump_piece;
	c.source.piece_ctx = &d;
	if (wlb_packrun_with(&c, w, &hooks, &r, &e)) {
		rc = d.oom ? fail("--dump: out of memory") : fail("%s", e.msg);
	} else {
		json_t *j = json_pack("{s:s, s:O}", "format", "wlb-pack-dump/1", "iterations", d.iters);
		if (!j || wlb_json_write(j, path, &e))
			rc = j ? fail_err(&e) : fail("--dump: out of memory");
		json_decref(j);
		wlb_packrun_free(&r);
	}
	json_decref(d.iters);
	free(d.at);
	return rc;
}

static int cmd_pack(int argc, char **argv)
{
	struct wlb_trace t;
	struct wlb_opts a = {.usage = usage};
	struct wlb_error e;
	struct wlb_packrun main_run, b[6];
	struct wlb_named_run cmp[5];
	struct wlb_cost *cost = NULL;
	struct wlb_workload work;
	const struct wlb_workload *w = NULL;
	char wdesc[4200] = "one layer's forward FLOPs (--workload flops)";
	int n_cmp = 0, rc = 1;

	memset(&main_run, 0, sizeof main_run);
	memset(b, 0, sizeof b);
	wlb_trace_init(&t);
	if (wlb_opts_parse(argc, argv, &a, "packing sharding s-max thresholds window doc-order mem-cap iterations seed "
		       "json compare summary no-timing workload costdb cp-algo dump quiet"))
		goto done;
	if (optind + 1 != argc) {
		fail("pack: expected one TRACE (see --help)");
		goto done;
	}
	if (wlb_opts_load(argv[optind], &t) || wlb_opts_apply(&t, &a))
		goto done;
	if (!a.workload || !strcmp(a.workload, "cost")) {
		char path[4096];
		const char *db = a.costdb;
		if (!db && wlb_cost_find_db(t.gpu, path, sizeof path, &e)) {
			fail("%s; or use --workload flops", e.msg);
			goto done;
		}
		if (wlb_cost_load(&cost, db ? db : path, &e)) {
			fail_err(&e);
			goto done;
		}
		if (db)
			snprintf(wdesc, sizeof wdesc, "one layer's forward + backward time per rank, cost DB %s", db);
		else
			snprintf(wdesc, sizeof wdesc, "one layer's forward + backward time per rank, built-in "
				 "%s cost DB", t.gpu);
		wlb_workload_cost(&work, cost, &t.model, &t.parallel, t.context);
		w = &work;
	}
	wlb_stop_install(); /* the long part: Ctrl-C stops it cleanly (stop.h) */
	if (run(&t, w, NULL, NULL, 0, a.quiet, &main_run) || (a.dump && dump_run(&t, w, a.dump)))
		goto done;
	if (a.compare) {
		/* Plain-4D; Fixed-4D = greedy (window 1) with the better static sharder
		 * over the run (lower sum of slowest-rank tile-padded attention);
		 * WLB-LLM = wlb + adaptive with the trace's knobs */
		if (run(&t, w, "concat", "per-seq", 0, a.quiet, &b[0]) ||
		    run(&t, w, "greedy", "per-seq", 1, a.quiet, &b[1]) ||
		    run(&t, w, "greedy", "per-doc", 1, a.quiet, &b[2]) ||
		    run(&t, w, "wlb", "adaptive", 0, a.quiet, &b[3]) ||
		    run(&t, w, "wlb", "hybrid", 0, a.quiet, &b[4]))
			goto done;
		cmp[0] = (struct wlb_named_run){"Plain-4D", &b[0]};
		cmp[1] = (struct wlb_named_run){"Fixed-4D",
			b[2].summary.cp_cost < b[1].summary.cp_cost ? &b[2] : &b[1]};
		cmp[2] = (struct wlb_named_run){"WLB-LLM", &b[3]};
		cmp[3] = (struct wlb_named_run){"WLB+hybrid", &b[4]};
		n_cmp = 4;
		/* memory-aware WLB, where its cap is known (a cost DB's GPU or
		 * policy.mem_cap_gib) */
		if ((w && w->mem_gib > 0) || t.policy.mem_cap_gib > 0) {
			if (run(&t, w, "wlb-mem", "adaptive", 0, a.quiet, &b[5]))
				goto done;
			cmp[n_cmp++] = (struct wlb_named_run){"WLB-mem", &b[5]};
		}
	}
	if (a.no_timing) {
		zero_timing(&main_run);
		for (int i = 0; i < 6; i++)
			zero_timing(&b[i]);
	}
	if (a.json) {
		json_t *j = wlb_report_pack(&t, "wlb-trace pack", &main_run, cmp, n_cmp);
		int bad = wlb_json_write(j, a.json, &e);
		json_decref(j);
		if (bad) {
			fail_err(&e);
			goto done;
		}
	}
	if (a.json && !strcmp(a.json, "-")) {
		rc = 0;
		goto done;
	}
	print_config(&t, wdesc);
	if (n_cmp) {
		printf("\n%-10s %-7s %-9s %8s %8s %8s %8s %8s %8s %9s %10s  %s\n", "policy", "packing",
		       "sharding", "imb_pp", "imb_cp", "imb_dp", "imb_mem", "act GiB", "delay", "pending",
		       "pack ms", "documents");
		for (int i = 0; i < n_cmp; i++) {
			const struct wlb_pack_summary *s = &cmp[i].run->summary;
			printf("%-10s %-7s %-9s %8.3f %8.3f %8.3f %8.3f %8.2f %8.3f %9llu %10.4f  %s\n",
			       cmp[i].name, cmp[i].run->packing, wlb_shard_name(cmp[i].run->sharding),
			       s->imbalance_pp, s->imbalance_cp, s->imbalance_dp, s->imbalance_mem,
			       s->act_max_gib, s->token_delay_iters,
			       (unsigned long long)s->pending_tokens, s->pack_ms_per_batch,
			       wlb_doc_order_name(cmp[i].run->params.order));
		}
		printf("(%u iterations each, same documents; imb = max/mean of work, imb_mem of micro-batch "
		       "activations; act GiB: the largest micro-batch's per GPU; delay in iterations)\n",
		       main_run.summary.iterations);
	} else {
		if (!a.summary) {
			putchar('\n');
			print_iterations(&main_run);
		}
		putchar('\n');
		print_summary(&main_run.summary);
	}
	rc = 0;
done:
	wlb_packrun_free(&main_run);
	for (int i = 0; i < 6; i++)
		wlb_packrun_free(&b[i]);
	wlb_cost_destroy(cost);
	wlb_trace_free(&t);
	return rc;
}

int main(int argc, char **argv)
{
	wlb_prog = "wlb-trace";
	wlb_gsl_quiet();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "gen"))
		return cmd_gen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pack")) {
		int rc = cmd_pack(argc - 1, argv + 1);
		return rc && wlb_stop_requested() ? WLB_STOP_STATUS : rc;
	}
	return fail("unknown command \"%s\" (expected gen, stats or pack; see --help)", argv[1]);
}
