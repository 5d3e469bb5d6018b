/* wlb-tune — search 4D configurations and balancing policies for a trace
 * with the simulator (sim/tune.h), show the best, and write the winner as a
 * wlb-config/1 (and as Megatron-LM arguments or a TorchTitan TOML). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "costdb.h"
#include "export.h"
#include "json.h"
#include "opts.h"
#include "stop.h"
#include "validate.h"
#include "tune.h"

#define fail(...) wlb_fail(wlb_prog, __VA_ARGS__)

#define TUNE_FORMAT "wlb-tune/1"
#define DEFAULT_ITERATIONS 20

static void usage(FILE *f)
{
	fprintf(f,
"usage: wlb-tune TRACE [--gpus N] [--iterations K] [--max-mem GIB] [--max-delay ITERS]\n"
"                [--threads T] [--time-limit S] [--top K] [--packings a,b,...]\n"
"                [--fixed-parallel] [--no-prune] [-o CONFIG] [--megatron] [--torchtitan]\n"
"                [--json FILE|-] [--costdb DB] [--quiet] [--validate [--device D]]\n"
"\n"
"Searches the 4D configurations (TP, CP, PP, DP, virtual stages, CP algorithm:\n"
"all-gather or ring; PP need not divide the layers) and the balancing policies\n"
"(packing, its s_max, outlier thresholds and window, CP sharding, CP mode:\n"
"static or per-sequence, wlb-sim --cp-mode) for the\n"
"trace's model, context, cluster and document distribution, simulating K\n"
"iterations of each candidate with the trace's global batch, and ranks them by\n"
"tokens per second.  A candidate over the memory limit climbs a ladder of ZeRO\n"
"stages and recompute modes (ZeRO-1, -2, -3 without recompute, then with\n"
"selective, then full) and keeps the fastest rung that fits; the table's zero\n"
"and recomp columns say which.  Candidates over the memory or token-delay limit\n"
"are never returned.  Prints the search's figures, the top candidates and the\n"
"speedup of the best over Plain-4D (concat + per-seq) on the trace's own\n"
"configuration.\n"
"\n"
"  --gpus N           GPUs to fill (tp x cp x pp x dp; default: the trace's)\n"
"  --iterations K     iterations simulated per candidate (default %d, at most\n"
"                     the trace's for a finite trace)\n"
"  --max-mem GIB      memory limit per GPU (default: the GPU's memory)\n"
"  --max-delay ITERS  token-delay limit in iterations (default: none; WLB-LLM\n"
"                     keeps about 0.5)\n"
"  --threads T        worker threads (default: one per core)\n"
"  --time-limit S     stop the search after S seconds (the best found so far)\n"
"  --top K            candidates shown and kept (default 5)\n"
"  --packings LIST    packings searched, of concat,greedy,bfd,wlb,wlb-mem (default\n"
"                     all; wlb-mem: wlb with each micro-batch's activations capped\n"
"                     at what fits --max-mem, tried at s_max 2 x context)\n"
"  --fixed-parallel   keep the trace's 4D configuration, tune the policy only\n"
"  --no-prune         evaluate every configuration (no throughput bound)\n"
"  -o CONFIG          write the best as wlb-config/1 with its predicted figures,\n"
"                     for wlb-sim TRACE --config CONFIG\n"
"  --megatron         print Megatron-LM arguments for the best\n"
"  --torchtitan       print a TorchTitan TOML for the best\n"
"  --json FILE        the search as wlb-tune/1 (- for stdout, nothing else printed)\n"
"  --costdb DB        cost DB (default: the built-in one of the trace's gpu)\n"
"  --quiet            no progress bar\n"
"  --validate         run the best and Plain-4D (same parallel layout) with\n"
"                     wlb-run, each against its prediction, and print the\n"
"                     measured speedup beside the predicted one (the best\n"
"                     with all-gather CP: wlb-run does not run ring)\n"
"  --device D         wlb-run's device for --validate: cuda (default) or cpu\n"
"\n"
"examples:\n"
"  wlb-tune traces/paper/7b-128k.json -o best.json && wlb-sim traces/paper/7b-128k.json --config best.json\n"
"  wlb-tune traces/paper/7b-128k.json --fixed-parallel --max-delay 0.5 --megatron\n"
"  wlb-tune traces/paper/70b-128k.json --gpus 128 --max-mem 70 --time-limit 30 --torchtitan\n",
		DEFAULT_ITERATIONS);
}

enum { T_GPUS = 300, T_ITERS, T_MAXMEM, T_MAXDELAY, T_THREADS, T_TIME, T_TOP, T_PACKINGS,
       T_FIXED, T_NOPRUNE, T_MEGATRON, T_TITAN, T_JSON, T_COSTDB, T_QUIET, T_VALIDATE, T_DEVICE };

static const struct option long_opts[] = {
	{"gpus", required_argument, 0, T_GPUS}, {"iterations", required_argument, 0, T_ITERS},
	{"max-mem", required_argument, 0, T_MAXMEM}, {"max-delay", required_argument, 0, T_MAXDELAY},
	{"threads", required_argument, 0, T_THREADS}, {"time-limit", required_argument, 0, T_TIME},
	{"top", required_argument, 0, T_TOP}, {"packings", required_argument, 0, T_PACKINGS},
	{"fixed-parallel", no_argument, 0, T_FIXED}, {"no-prune", no_argument, 0, T_NOPRUNE},
	{"megatron", no_argument, 0, T_MEGATRON}, {"torchtitan", no_argument, 0, T_TITAN},
	{"json", required_argument, 0, T_JSON}, {"costdb", required_argument, 0, T_COSTDB},
	{"quiet", no_argument, 0, T_QUIET}, {"validate", no_argument, 0, T_VALIDATE},
	{"device", required_argument, 0, T_DEVICE},
	{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
};

struct args {
	struct wlb_tune_opts o;
	const char *output, *json, *costdb, *device;
	int megatron, torchtitan, validate, iterations_set;
	char packings[128];
};

/* A finite number of at least lo (above lo when strict). */
static int opt_double(const char *opt, const char *s, double lo, int strict, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		return fail("%s: expected a number, got \"%s\"", opt, s);
	if (strict ? v <= lo : v < lo)
		return fail("%s: must be %s %g, got %s", opt, strict ? "above" : "at least", lo, s);
	*out = v;
	return 0;
}

/* Checks a comma list of packer names. */
static int parse_packings(const char *s, char *buf, size_t cap)
{
	char tmp[128], *tok, *save;
	int n = 0;

	if (strlen(s) >= sizeof tmp || strlen(s) >= cap)
		return fail("--packings: list too long: \"%.40s...\"", s);
	snprintf(tmp, sizeof tmp, "%s", s);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++)
		if (!wlb_packer_find(tok))
			return fail("--packings: unknown packing \"%s\" (expected a comma list of concat, "
				    "greedy, bfd, wlb, wlb-mem)", tok);
	if (!n)
		return fail("--packings: expected a comma list of concat, greedy, bfd, wlb, wlb-mem, got \"%s\"",
			    s);
	snprintf(buf, cap, "%s", s);
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	uint32_t v;
	int c;

	a->o.max_delay = -1;
	optind = 1;
	opterr = 0; /* one line of ours instead */
	while ((c = getopt_long(argc, argv, "o:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); exit(0);
		case 'o': a->output = optarg; break;
		case T_GPUS:
			if (wlb_opt_u32("--gpus", optarg, 1, &v))
				return 1;
			a->o.gpus = (int)v;
			break;
		case T_ITERS:
			if (wlb_opt_u32("--iterations", optarg, 1, &a->o.iterations))
				return 1;
			a->iterations_set = 1;
			break;
		case T_MAXMEM:
			if (opt_double("--max-mem", optarg, 0, 1, &a->o.max_mem_gib))
				return 1;
			break;
		case T_MAXDELAY:
			if (opt_double("--max-delay", optarg, 0, 0, &a->o.max_delay))
				return 1;
			break;
		case T_THREADS:
			if (wlb_opt_u32("--threads", optarg, 1, &v))
				return 1;
			a->o.threads = (int)v;
			break;
		case T_TIME:
			if (opt_double("--time-limit", optarg, 0, 1, &a->o.time_limit_s))
				return 1;
			break;
		case T_TOP:
			if (wlb_opt_u32("--top", optarg, 1, &v))
				return 1;
			if (v > 1000)
				return fail("--top: at most 1000, got %u", v);
			a->o.top_k = (int)v;
			break;
		case T_PACKINGS:
			if (parse_packings(optarg, a->packings, sizeof a->packings))
				return 1;
			a->o.packings = a->packings;
			break;
		case T_FIXED: a->o.fixed_parallel = 1; break;
		case T_NOPRUNE: a->o.no_prune = 1; break;
		case T_MEGATRON: a->megatron = 1; break;
		case T_TITAN: a->torchtitan = 1; break;
		case T_JSON: a->json = optarg; break;
		case T_COSTDB: a->costdb = optarg; break;
		case T_QUIET: a->o.quiet = 1; break;
		case T_VALIDATE: a->validate = 1; break;
		case T_DEVICE:
			if (strcmp(optarg, "cpu") && strcmp(optarg, "cuda"))
				return fail("--device: expected cpu or cuda, got \"%s\"", optarg);
			a->device = optarg;
			break;
		default:
			return fail("%s: unknown option, or its value is missing (see %s --help)",
				    argv[optind - 1], wlb_prog);
		}
	}
	if (a->json && !strcmp(a->json, "-") && (a->megatron || a->torchtitan))
		return fail("--json - writes the JSON to stdout: it cannot go with --%s",
			    a->megatron ? "megatron" : "torchtitan");
	return 0;
}

/* ---- text ---- */

static void par_str(const struct wlb_parallel *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "TP%d CP%d PP%d DP%d", p->tp, p->cp, p->pp, p->dp);
}

static void print_row(const char *rank, const struct wlb_tune_cand *c)
{
	const struct wlb_parallel *p = &c->par;
	const struct wlb_policy *q = &c->pol;
	int wlb = !strncmp(q->packing, "wlb", 3), greedy = !strcmp(q->packing, "greedy");
	char smax[16], th[96], win[16], ms[32];

	if (wlb)
		wlb_opts_tokens_str(q->s_max, smax, sizeof smax);
	else
		snprintf(smax, sizeof smax, "-");
	if (wlb)
		wlb_opts_thresholds_str(q, 1, th, sizeof th);
	else
		snprintf(th, sizeof th, "-");
	if (greedy)
		snprintf(win, sizeof win, "%u", q->window);
	else
		snprintf(win, sizeof win, "-");
	snprintf(ms, sizeof ms, "%.1f ± %.1f", c->iteration_ms, c->iteration_ms_sd);
	/* "±" is two bytes and one column: its field is one byte wider */
	printf("%4s %3d %3d %3d %4d %3d %4d %4d %-6s %-9s %-7s %-8s %-16s %6s %-12s %6s %*s %10.0f %6.1f "
	       "%8.1f %7.3f %7.3f %7.3f\n", rank, p->tp, p->cp, p->pp, p->dp, p->vpp, p->microbatches, p->zero,
	       p->recompute == WLB_RECOMPUTE_SELECTIVE ? "sel" : wlb_recompute_name(p->recompute),
	       p->cp > 1 ? p->cp_algo : "-", q->packing, q->sharding, q->cp_mode[0] ? q->cp_mode : "static", smax,
	       th, win, 21, ms, c->tokens_per_s, 100 * c->mfu, c->peak_mem_gib, c->imbalance_pp,
	       c->imbalance_cp, c->token_delay_iters);
}

static double speedup(const struct wlb_tune_result *r, const struct wlb_tune_cand *c)
{
	return r->has_baseline && r->baseline.tokens_per_s > 0 ?
		c->tokens_per_s / r->baseline.tokens_per_s : 0;
}

static void print_result(const struct wlb_trace *t, const char *trace_name, const struct args *a,
			 const struct wlb_tune_result *r, uint32_t iters, double mem_limit)
{
	const struct wlb_parallel *p = &t->parallel;
	int gpus = a->o.gpus ? a->o.gpus : p->tp * p->cp * p->pp * p->dp;
	char buf[64];

	printf("%s: %s, context %u, %d GPUs (%s, %d per node), global batch %d x %u tokens\n",
	       t->name[0] ? t->name : trace_name, t->model.name[0] ? t->model.name : "custom model",
	       t->context, gpus, t->gpu, t->cluster.gpus_per_node, p->dp * p->microbatches, t->context);
	printf("search: %zu configurations, %zu candidates evaluated, %zu configurations pruned, "
	       "%zu infeasible, %.1f s", r->configs, r->evaluated, r->pruned, r->infeasible,
	       r->elapsed_s);
	if (a->o.time_limit_s > 0)
		printf(", time limit %g s (%s)\n", a->o.time_limit_s,
		       r->timed_out ? "hit: the best found so far" : "not hit");
	else
		printf(", no time limit\n");
	if (a->o.max_delay >= 0)
		snprintf(buf, sizeof buf, "%g iterations", a->o.max_delay);
	else
		snprintf(buf, sizeof buf, "none");
	printf("        %u iterations per candidate, memory limit %.1f GiB, token-delay limit %s%s%s%s\n\n",
	       iters, mem_limit, buf, a->o.fixed_parallel ? ", fixed 4D configuration" : "",
	       a->o.packings ? ", packings " : "", a->o.packings ? a->o.packings : "");
	printf("%4s %3s %3s %3s %4s %3s %4s %4s %-6s %-9s %-7s %-8s %-16s %6s %-12s %6s %20s %10s %6s %8s "
	       "%7s %7s %7s\n", "rank", "TP", "CP", "PP", "DP", "vpp", "m", "zero", "recomp", "cp_algo", "packing",
	       "sharding", "cp_mode", "s_max", "thresholds", "window", "iteration ms", "tokens/s", "MFU %",
	       "peak GiB", "imb_pp", "imb_cp", "delay");
	for (size_t i = 0; i < r->n_top; i++) {
		snprintf(buf, sizeof buf, "%zu", i + 1);
		print_row(buf, &r->top[i]);
	}
	putchar('\n');
	if (!r->has_baseline) {
		printf("Plain-4D on the trace's own configuration: not simulated (%s)\n",
		       r->baseline.why[0] ? r->baseline.why : "no result");
		return;
	}
	const struct wlb_tune_cand *b = &r->baseline;
	par_str(&b->par, buf, sizeof buf);
	printf("Plain-4D on the trace's own configuration (%s, concat + per-seq): %.1f ± %.1f ms, "
	       "%.0f tokens/s, MFU %.1f %%, peak %.1f GiB%s%s\n", buf, b->iteration_ms,
	       b->iteration_ms_sd, b->tokens_per_s, 100 * b->mfu, b->peak_mem_gib,
	       b->feasible ? "" : " — infeasible: ", b->feasible ? "" : b->why);
	if (r->n_top)
		printf("speedup of #1 over Plain-4D: %.3fx (tokens/s)\n", speedup(r, &r->top[0]));
}

/* ---- JSON ---- */

static json_t *num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

/* The predicted figures of c (what -o writes under "predicted"). */
static json_t *predicted_json(const struct wlb_tune_result *r, const struct wlb_tune_cand *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "iteration_ms_mean", num(c->iteration_ms));
	json_object_set_new(o, "iteration_ms_sd", num(c->iteration_ms_sd));
	json_object_set_new(o, "tokens_per_s", num(c->tokens_per_s));
	json_object_set_new(o, "mfu", num(c->mfu));
	json_object_set_new(o, "peak_mem_gib", num(c->peak_mem_gib));
	json_object_set_new(o, "imbalance_pp", num(c->imbalance_pp));
	json_object_set_new(o, "imbalance_cp", num(c->imbalance_cp));
	json_object_set_new(o, "token_delay_iters", num(c->token_delay_iters));
	if (r->has_baseline && r->baseline.tokens_per_s > 0)
		json_object_set_new(o, "speedup_over_plain4d", num(speedup(r, c)));
	return o;
}

/* A candidate: rank (0 = none), its parallel and policy sections as a
 * config writes them, and its figures. */
static json_t *cand_json(const struct wlb_trace *t, const struct wlb_tune_result *r,
			 const struct wlb_tune_cand *c, size_t rank)
{
	struct wlb_trace u = *t; /* shares the documents; only its configuration changes */
	json_t *o = json_object(), *cfg;

	wlb_tune_apply(&u, c);
	if (rank)
		json_object_set_new(o, "rank", json_integer((json_int_t)rank));
	if ((cfg = wlb_config_json(&u, NULL, NULL))) {
		json_object_set(o, "parallel", json_object_get(cfg, "parallel"));
		json_object_set(o, "policy", json_object_get(cfg, "policy"));
		json_decref(cfg);
	}
	json_t *pr = predicted_json(r, c);
	json_object_update(o, pr);
	json_decref(pr);
	json_object_set_new(o, "feasible", json_boolean(c->feasible));
	if (!c->feasible && c->why[0])
		json_object_set_new(o, "why", json_string(c->why));
	return o;
}

static json_t *tune_json(const struct wlb_trace *t, const struct args *a,
			 const struct wlb_tune_result *r, uint32_t iters, double mem_limit,
			 struct wlb_error *err)
{
	json_t *root = json_object(), *s = json_object(), *top = json_array(), *cfg;

	if (!(cfg = wlb_config_json(t, NULL, err))) {
		json_decref(root);
		json_decref(s);
		json_decref(top);
		return NULL;
	}
	json_object_set_new(root, "format", json_string(TUNE_FORMAT));
	json_object_set_new(root, "config", cfg);
	json_object_set_new(s, "configurations", json_integer((json_int_t)r->configs));
	json_object_set_new(s, "evaluated", json_integer((json_int_t)r->evaluated));
	json_object_set_new(s, "pruned", json_integer((json_int_t)r->pruned));
	json_object_set_new(s, "infeasible", json_integer((json_int_t)r->infeasible));
	json_object_set_new(s, "elapsed_s", num(r->elapsed_s));
	json_object_set_new(s, "time_limit_hit", json_boolean(r->timed_out));
	json_object_set_new(s, "iterations_per_candidate", json_integer(iters));
	json_object_set_new(s, "max_mem_gib", num(mem_limit));
	json_object_set_new(s, "max_delay_iters", a->o.max_delay >= 0 ? num(a->o.max_delay) :
			    json_null());
	json_object_set_new(s, "fixed_parallel", json_boolean(a->o.fixed_parallel));
	json_object_set_new(s, "packings", json_string(a->o.packings ? a->o.packings :
						       "concat,greedy,bfd,wlb,wlb-mem"));
	json_object_set_new(root, "search", s);
	json_object_set_new(root, "baseline", r->has_baseline ? cand_json(t, r, &r->baseline, 0) :
			    json_null());
	for (size_t i = 0; i < r->n_top; i++)
		json_array_append_new(top, cand_json(t, r, &r->top[i], i + 1));
	json_object_set_new(root, "top", top);
	return root;
}

/* What of c wlb-run cannot run, or NULL: it runs static all-gather CP. */
static const char *unrunnable(const struct wlb_tune_cand *c)
{
	if (c->par.cp > 1 && !strcmp(c->par.cp_algo, "ring"))
		return "ring CP";
	if (!strcmp(c->par.cp_algo, "distca"))
		return "disaggregated attention";
	if (c->pol.cp_mode[0] && strcmp(c->pol.cp_mode, "static"))
		return "a per-sequence CP degree";
	return NULL;
}

int main(int argc, char **argv)
{
	struct args a;
	struct wlb_trace t;
	struct wlb_tune_result r;
	struct wlb_cost *cost = NULL;
	struct wlb_error e;
	char path[4096];
	const char *db;
	uint32_t iters;
	double mem_limit;
	int rc = 1;

	wlb_prog = "wlb-tune";
	wlb_gsl_quiet();
	memset(&a, 0, sizeof a);
	memset(&r, 0, sizeof r);
	wlb_trace_init(&t);
	if (parse_args(argc, argv, &a))
		goto done;
	if (optind + 1 != argc) {
		if (optind == argc)
			usage(stderr);
		else
			fail("expected one TRACE (see --help)");
		goto done;
	}
	if (wlb_opts_load(argv[optind], &t))
		goto done;
	/* a finite trace holds so many iterations */
	if (!a.iterations_set && t.source.kind != WLB_SOURCE_DIST) {
		uint32_t have = t.iterations;
		if (!have && t.source.kind == WLB_SOURCE_BATCHES)
			have = (uint32_t)t.source.n_batches;
		if (have && have < DEFAULT_ITERATIONS)
			a.o.iterations = have;
	}
	iters = a.o.iterations ? a.o.iterations : DEFAULT_ITERATIONS;
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
	mem_limit = a.o.max_mem_gib > 0 ? a.o.max_mem_gib : wlb_cost_device(cost)->mem_gib;
	wlb_stop_install(); /* the long part: Ctrl-C stops it cleanly (stop.h) */
	if (wlb_tune_run(&t, cost, &a.o, &r, &e)) {
		fail("%s", e.msg);
		goto done;
	}
	if (!r.n_top) {
		fail("no candidate fits the limits");
		goto done;
	}
	if (a.output) {
		struct wlb_trace best = t; /* shares the documents; only its configuration changes */
		json_t *pred = predicted_json(&r, &r.top[0]);
		int bad;

		wlb_tune_apply(&best, &r.top[0]);
		bad = wlb_config_save(&best, pred, a.output, &e);
		json_decref(pred);
		if (bad) {
			fail("%s", e.msg);
			goto done;
		}
	}
	if (a.json) {
		json_t *j = tune_json(&t, &a, &r, iters, mem_limit, &e);
		int bad = j ? wlb_json_write(j, a.json, &e) : 1;

		json_decref(j);
		if (bad) {
			fail("%s", e.msg);
			goto done;
		}
		if (!strcmp(a.json, "-")) {
			rc = 0;
			goto done;
		}
	}
	print_result(&t, argv[optind], &a, &r, iters, mem_limit);
	if (a.output)
		printf("wrote #1 as " WLB_CONFIG_FORMAT " to %s\n", a.output);
	if (a.megatron)
		wlb_export_megatron(&t, &r.top[0].par, &r.top[0].pol);
	if (a.torchtitan)
		wlb_export_torchtitan(&t, &r.top[0].par, &r.top[0].pol);
	rc = 0;
	if (a.validate) {
		/* wlb-run runs static all-gather CP only (no ring, no disaggregated
		 * attention, no per-sequence CP degree): the best candidate it can run */
		size_t k = 0;
		while (k < r.n_top && unrunnable(&r.top[k]))
			k++;
		if (k == r.n_top) {
			fflush(stdout); /* the table first, then why */
			rc = fail("--validate: the top %zu use ring CP, disaggregated attention or a "
				  "per-sequence CP degree, which wlb-run does not run (static all-gather "
				  "only); try --top with more candidates", r.n_top);
			goto done;
		}
		if (k)
			printf("\n#1 uses %s, which wlb-run does not run (all-gather only): validating "
			       "#%zu, the best with static all-gather CP\n", unrunnable(&r.top[0]), k + 1);
		struct wlb_trace best = t;
		char why[768];
		wlb_tune_apply(&best, &r.top[k]);
		/* wlb-run all-reduces whole gradients after the last backward: the
		 * pick is measured and predicted that way, both sides alike */
		struct wlb_parallel *bp = &best.parallel;
		if (bp->dp * bp->cp > 1 && (bp->zero != 0 || bp->overlap_grad_reduce)) {
			printf("\nwlb-run all-reduces gradients after the last backward: #%zu (ZeRO-%d%s) is "
			       "validated that way (zero 0, no overlapped reduction), prediction and run alike\n",
			       k + 1, bp->zero, bp->overlap_grad_reduce ? ", overlapped" : "");
			bp->zero = 0;
			bp->overlap_grad_reduce = bp->overlap_param_gather = 0;
		}
		if (wlb_opts_run_refusal(&best, why, sizeof why)) {
			fflush(stdout);
			rc = fail("--validate: wlb-run cannot run #%zu: %s", k + 1, why);
			goto done;
		}
		rc = wlb_tune_validate(argv[optind], &best, cost, db, iters, a.device);
	}
done:
	wlb_tune_result_free(&r);
	wlb_cost_destroy(cost);
	wlb_trace_free(&t);
	return rc && wlb_stop_requested() ? WLB_STOP_STATUS : rc;
}
