/* opts.c — the command-line options the wlb commands share: parsing,
 * checking, and applying them over a loaded trace (the command line wins
 * over the file, whatever the order of the options). */
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "sim.h"

const char *wlb_prog = "wlb";

#define fail(...) wlb_fail(wlb_prog, __VA_ARGS__)

int wlb_opt_u32(const char *opt, const char *s, uint32_t lo, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > 0x7fffffffULL)
		return fail("%s: expected an integer of at least %u, got \"%s\"", opt, lo, s);
	*out = (uint32_t)v;
	return 0;
}

int wlb_opts_stage_split(const struct wlb_parallel *p, int layers, char *buf, size_t cap)
{
	size_t n = 0;
	int uneven = 0;

	buf[0] = '\0';
	for (int s = 0, run; s < p->pp && s < WLB_MAX_PP; s += run) {
		int x = wlb_stage_layers(p, layers, s);

		for (run = 1; s + run < p->pp && wlb_stage_layers(p, layers, s + run) == x; run++)
			;
		uneven |= run < p->pp;
		if (run >= 3) {
			if (n < cap)
				n += (size_t)snprintf(buf + n, cap - n, "%s%dx%d", s ? "," : "", x, run);
			continue;
		}
		for (int i = 0; i < run && n < cap; i++)
			n += (size_t)snprintf(buf + n, cap - n, "%s%d", s + i ? "," : "", x);
	}
	return uneven;
}

int wlb_opts_run_refusal(const struct wlb_trace *t, char *why, size_t cap)
{
	const struct wlb_parallel *p = &t->parallel;
	int L = t->model.layers, chunks = p->pp * p->vpp, sharded = p->dp * p->cp > 1, uneven = 0;
	char split[512];
	int stages_differ = wlb_opts_stage_split(p, L, split, sizeof split);

	for (int s = 0; s < p->pp && s < WLB_MAX_PP; s++)
		for (int c = 0; c < p->vpp; c++)
			uneven |= chunks < 1 || wlb_chunk_layers(p, L, s, c) * chunks != L;
	if ((p->cp > 1 && strcmp(p->cp_algo, "allgather")) || !strcmp(p->cp_algo, "distca"))
		snprintf(why, cap, "parallel.cp_algo \"%s\": wlb-run runs all-gather CP (Llama 3, "
			 "WLB-LLM); wlb-sim models the ring and core attention disaggregation", p->cp_algo);
	else if (stages_differ && p->n_pp_layers)
		snprintf(why, cap, "parallel.pp_layers [%s]: wlb-run runs equal stages only "
			 "(model.layers / pp each)", split);
	else if (uneven)
		snprintf(why, cap, "parallel.pp x parallel.vpp (%d) does not divide model.layers (%d): "
			 "wlb-run runs equal stages only", chunks, L);
	else if (p->recompute != WLB_RECOMPUTE_NONE)
		snprintf(why, cap, "parallel.recompute \"%s\": wlb-run keeps every activation "
			 "(recompute \"none\"); wlb-sim models recompute", wlb_recompute_name(p->recompute));
	else if (sharded && p->zero != 0)
		snprintf(why, cap, "parallel.zero %d: wlb-run all-reduces whole gradients over DP x CP "
			 "and shards nothing (zero 0)", p->zero);
	else if (sharded && p->overlap_grad_reduce)
		snprintf(why, cap, "parallel.overlap_grad_reduce true: wlb-run reduces the gradients "
			 "after the last backward (overlap_grad_reduce false)");
	else if (p->micro_batch_size != 1)
		snprintf(why, cap, "parallel.micro_batch_size %d: wlb-run runs one sequence a "
			 "micro-batch (micro_batch_size 1)", p->micro_batch_size);
	else if (t->model.attention != WLB_ATTN_FLASH)
		snprintf(why, cap, "model.attention \"unfused\": wlb-run runs fused (flash) attention "
			 "only; wlb-sim models the unfused path");
	else if (t->model.dropout > 0)
		snprintf(why, cap, "model.dropout %g: wlb-run runs without dropout (dropout 0)",
			 t->model.dropout);
	else if (t->model.tied_embeddings)
		snprintf(why, cap, "model.tied_embeddings true: wlb-run has no input embedding to tie "
			 "(random inputs stand in for it; tied_embeddings false)");
	else
		return 0;
	return 1;
}

static int parse_thresholds(const char *s, struct wlb_policy *pol)
{
	char buf[256], *tok, *save;
	int n = 0;

	if (!strcmp(s, "none")) {
		pol->n_thresholds = 0;
		return 0;
	}
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == WLB_MAX_QUEUES)
			return fail("--thresholds: at most %d queues", WLB_MAX_QUEUES);
		if (wlb_opt_u32("--thresholds", tok, 1, &pol->thresholds[n]))
			return 1;
		if (n && pol->thresholds[n] <= pol->thresholds[n - 1])
			return fail("--thresholds: must increase, got %u after %u", pol->thresholds[n],
				    pol->thresholds[n - 1]);
		n++;
	}
	if (n == 0)
		return fail("--thresholds: expected a comma-separated list or none, got \"%s\"", s);
	pol->n_thresholds = n;
	return 0;
}


static const struct option opts[] = {
	{"packing", required_argument, 0, O_PACKING}, {"sharding", required_argument, 0, O_SHARDING},
	{"s-max", required_argument, 0, O_SMAX}, {"thresholds", required_argument, 0, O_THRESH},
	{"window", required_argument, 0, O_WINDOW}, {"iterations", required_argument, 0, O_ITERS},
	{"seed", required_argument, 0, O_SEED}, {"json", required_argument, 0, O_JSON},
	{"compare", no_argument, 0, O_COMPARE}, {"summary", no_argument, 0, O_SUMMARY},
	{"no-timing", no_argument, 0, O_NOTIME}, {"preset", required_argument, 0, O_PRESET},
	{"model", required_argument, 0, O_MODEL}, {"context", required_argument, 0, O_CONTEXT},
	{"tp", required_argument, 0, O_TP}, {"cp", required_argument, 0, O_CP},
	{"pp", required_argument, 0, O_PP}, {"dp", required_argument, 0, O_DP},
	{"microbatches", required_argument, 0, O_MB}, {"name", required_argument, 0, O_NAME},
	{"gpu", required_argument, 0, O_GPU}, {"docs", required_argument, 0, O_DOCS},
	{"workload", required_argument, 0, O_WORKLOAD}, {"costdb", required_argument, 0, O_COSTDB},
	{"csv", required_argument, 0, O_CSV}, {"chrome-trace", required_argument, 0, O_CHROME},
	{"timeline-iter", required_argument, 0, O_TIMELINE}, {"mb-order", required_argument, 0, O_ORDER},
	{"quiet", no_argument, 0, O_QUIET}, {"config", required_argument, 0, O_CONFIG},
	{"nproc", required_argument, 0, O_NPROC}, {"device", required_argument, 0, O_DEVICE},
	{"check", no_argument, 0, O_CHECK}, {"compare-with", required_argument, 0, O_CMPWITH},
	{"timeout", required_argument, 0, O_TIMEOUT}, {"id-file", required_argument, 0, O_IDFILE},
	{"doc-order", required_argument, 0, O_DOCORDER}, {"cp-algo", required_argument, 0, O_CPALGO},
	{"dump", required_argument, 0, O_DUMP}, {"mem-cap", required_argument, 0, O_MEMCAP},
	{"cp-mode", required_argument, 0, O_CPMODE},
	{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
};


/* name is one of the space-separated words of allowed */
static int allows(const char *allowed, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(allowed, name); p; p = strstr(p + 1, name))
		if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
			return 1;
	return 0;
}

/* Reads the options; those that change the trace are kept for apply_opts, so
 * the command line overrides the trace file, whatever their order. */
int wlb_opts_parse(int argc, char **argv, struct wlb_opts *a, const char *allowed)
{
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c == 'h') {
			a->usage(stdout);
			exit(0);
		}
		if (c == '?')
			return fail("see %s --help", wlb_prog);
		const char *name = c == 'o' ? "output" : NULL;
		for (int i = 0; !name && opts[i].name; i++)
			if (opts[i].val == c)
				name = opts[i].name;
		if (!allows(allowed, name))
			return fail("--%s does not apply to this command (see %s --help)", name, wlb_prog);
		switch (c) {
		case O_JSON: a->json = optarg; break;
		case O_DUMP: a->dump = optarg; break;
		case O_COMPARE: a->compare = 1; break;
		case O_SUMMARY: a->summary = 1; break;
		case O_NOTIME: a->no_timing = 1; break;
		case O_PRESET: a->preset = optarg; break;
		case O_DOCS: if (wlb_opt_u32("--docs", optarg, 1, &a->docs)) return 1; break;
		case O_WORKLOAD:
			if (strcmp(optarg, "cost") && strcmp(optarg, "flops"))
				return fail("--workload: expected cost or flops, got \"%s\"", optarg);
			a->workload = optarg;
			break;
		case O_COSTDB: a->costdb = optarg; break;
		case O_CSV: a->csv = optarg; break;
		case O_CHROME: a->chrome = optarg; break;
		case O_TIMELINE: if (wlb_opt_u32("--timeline-iter", optarg, 0, &a->timeline_iter)) return 1; break;
		case O_ORDER: {
			enum wlb_mb_order o;
			if (wlb_mb_order_parse(optarg, &o))
				return fail("--mb-order: expected packed, heavy-first or light-first, got \"%s\"", optarg);
			a->order = optarg;
			break;
		}
		case O_QUIET: a->quiet = 1; break;
		case O_CONFIG: a->config = optarg; break;
		case O_NPROC: if (wlb_opt_u32("--nproc", optarg, 1, &a->nproc)) return 1; break;
		case O_DEVICE:
			if (strcmp(optarg, "cpu") && strcmp(optarg, "cuda"))
				return fail("--device: expected cpu or cuda, got \"%s\"", optarg);
			a->device = optarg;
			break;
		case O_CHECK: a->check = 1; break;
		case O_CMPWITH: a->compare_with = optarg; break;
		case O_TIMEOUT: {
			char *end;
			a->timeout_s = strtod(optarg, &end);
			if (end == optarg || *end || !(a->timeout_s > 0))
				return fail("--timeout: expected seconds > 0, got \"%s\"", optarg);
			break;
		}
		case O_IDFILE: a->id_file = optarg; break;
		case 'o': a->output = optarg; break;
		default:
			if (a->n_set == 64)
				return fail("too many options");
			a->set_code[a->n_set] = c;
			a->set_arg[a->n_set++] = optarg;
		}
	}
	return 0;
}

/* The configuration of a wlb-config/1 file over t (its documents stay). */
static int apply_config(struct wlb_trace *t, const char *path)
{
	struct wlb_trace cfg;
	struct wlb_error e;

	if (wlb_config_load(&cfg, path, &e))
		return fail("--config: %s", e.msg);
	wlb_config_apply(t, &cfg);
	wlb_trace_free(&cfg);
	return 0;
}

int wlb_opts_apply(struct wlb_trace *t, const struct wlb_opts *a)
{
	struct wlb_error e;
	uint32_t v;

	if (a->config && apply_config(t, a->config))
		return 1;
	for (int i = 0; i < a->n_set; i++) {
		const char *arg = a->set_arg[i];
		switch (a->set_code[i]) {
		case O_PACKING:
			if (!wlb_packer_find(arg))
				return fail("--packing: expected concat, greedy, bfd, wlb or wlb-mem, got \"%s\"", arg);
			snprintf(t->policy.packing, sizeof t->policy.packing, "%s", arg);
			break;
		case O_SHARDING: {
			enum wlb_shard_kind k;
			if (wlb_shard_parse(arg, &k))
				return fail("--sharding: expected per-seq, per-doc, adaptive or hybrid, got \"%s\"", arg);
			snprintf(t->policy.sharding, sizeof t->policy.sharding, "%s", arg);
			break;
		}
		case O_SMAX: if (wlb_opt_u32("--s-max", arg, 1, &t->policy.s_max)) return 1; break;
		case O_THRESH: if (parse_thresholds(arg, &t->policy)) return 1; break;
		case O_WINDOW: if (wlb_opt_u32("--window", arg, 1, &t->policy.window)) return 1; break;
		case O_MEMCAP: {
			char *end;
			double g = strtod(arg, &end);
			if (end == arg || *end || !(g > 0) || g > 1e6)
				return fail("--mem-cap: expected GiB > 0, got \"%s\"", arg);
			t->policy.mem_cap_gib = g;
			break;
		}
		case O_DOCORDER: {
			enum wlb_doc_order o;
			if (wlb_doc_order_parse(arg, &o))
				return fail("--doc-order: expected stream or zigzag, got \"%s\"", arg);
			snprintf(t->policy.doc_order, sizeof t->policy.doc_order, "%s", arg);
			break;
		}
		case O_CPMODE: {
			enum wlb_dcp_mode mo;
			if (wlb_dcp_mode_parse(arg, &mo))
				return fail("--cp-mode: expected static, dynamic-megatron or dynamic-cost, "
					    "got \"%s\"", arg);
			snprintf(t->policy.cp_mode, sizeof t->policy.cp_mode, "%s", arg);
			break;
		}
		case O_ITERS: if (wlb_opt_u32("--iterations", arg, 1, &t->iterations)) return 1; break;
		case O_SEED:
			if (wlb_opt_u32("--seed", arg, 0, &v))
				return 1;
			t->source.seed = v;
			break;
		case O_MODEL:
			if (wlb_model_preset(arg, &t->model, &e))
				return fail("--model: %s", e.msg);
			break;
		case O_CONTEXT: if (wlb_opt_u32("--context", arg, 1, &t->context)) return 1; break;
		case O_CPALGO:
			if (strcmp(arg, "allgather") && strcmp(arg, "ring") && strcmp(arg, "distca"))
				return fail("--cp-algo: expected allgather, ring or distca, got \"%s\"", arg);
			snprintf(t->parallel.cp_algo, sizeof t->parallel.cp_algo, "%s", arg);
			break;
		case O_TP: if (wlb_opt_u32("--tp", arg, 1, &v)) return 1; t->parallel.tp = (int)v; break;
		case O_CP: if (wlb_opt_u32("--cp", arg, 1, &v)) return 1; t->parallel.cp = (int)v; break;
		case O_PP:
			if (wlb_opt_u32("--pp", arg, 1, &v))
				return 1;
			/* another stage count drops the file's pp_layers: the default split */
			if (t->parallel.n_pp_layers && t->parallel.n_pp_layers != (int)v)
				t->parallel.n_pp_layers = 0;
			t->parallel.pp = (int)v;
			break;
		case O_DP: if (wlb_opt_u32("--dp", arg, 1, &v)) return 1; t->parallel.dp = (int)v; break;
		case O_MB:
			if (wlb_opt_u32("--microbatches", arg, 1, &v))
				return 1;
			t->parallel.microbatches = (int)v;
			break;
		case O_NAME: snprintf(t->name, sizeof t->name, "%s", arg); break;
		case O_GPU: snprintf(t->gpu, sizeof t->gpu, "%s", arg); break;
		}
	}
	if (wlb_trace_check(t, &e))
		return fail("%s%s%s", t->path[0] ? t->path : "",
			    !t->path[0] ? "" : a->config ? " (with --config and the command-line options): "
			    : " (with the command-line options): ", e.msg);
	return 0;
}

int wlb_opts_load(const char *path, struct wlb_trace *t)
{
	struct wlb_error e;
	if (wlb_trace_load(t, path, &e))
		return fail("%s", e.msg);
	return 0;
}

/* ---- gen ---- */

/* n as "192K" when a multiple of 1024, else the number. */
const char *wlb_opts_tokens_str(uint32_t n, char *buf, size_t cap)
{
	if (n && n % 1024 == 0)
		snprintf(buf, cap, "%uK", n / 1024);
	else
		snprintf(buf, cap, "%u", n);
	return buf;
}

const char *wlb_opts_thresholds_str(const struct wlb_policy *q, int kilo, char *buf, size_t cap)
{
	size_t n = 0;
	char t[16];

	snprintf(buf, cap, "none");
	if (q->n_thresholds)
		buf[0] = '\0';
	for (int i = 0; i < q->n_thresholds && n < cap; i++) {
		if (kilo)
			wlb_opts_tokens_str(q->thresholds[i], t, sizeof t);
		else
			snprintf(t, sizeof t, "%u", q->thresholds[i]);
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", t);
	}
	return buf;
}
