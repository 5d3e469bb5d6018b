/* wlb-profile — build and inspect cost DBs.
 *
 *   wlb-profile --analytic --gpu NAME -o DB
 *   wlb-profile --import-nccl-tests FILE --op OP --ranks N [--nodes M] -o DB
 *   wlb-profile --show DB
 *   wlb-profile --estimate 'EXPR' [--db DB | --gpu NAME]
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analytic.h"
#include "gpu.h"
#include "import_attn.h"
#include "measure.h"
#include "model.h"
#include "cost.h"
#include "costdb.h"
#include "nccl_tests.h"
#include "stop.h"

#ifndef WLB_VERSION
#define WLB_VERSION "0.1"
#endif

#define fail(...) wlb_fail("wlb-profile", __VA_ARGS__)

static void usage(FILE *f)
{
	fprintf(f,
"usage: wlb-profile [-o DB] [--ops gemm,attn,coll,p2p] [--model M] [--quick] [--reps N] [--gpu NAME]\n"
"       wlb-profile --analytic --gpu NAME [--set NAME=VALUE,...] -o DB\n"
"       wlb-profile --import-nccl-tests FILE --op OP --ranks N [--nodes M] [--gpu NAME] -o DB\n"
"       wlb-profile --import-attn CSV [--gpu NAME] -o DB\n"
"       wlb-profile --show DB\n"
"       wlb-profile --estimate EXPR [--db DB | --gpu NAME]\n"
"\n"
"(no mode)    measures this node's GPU into DB (default GPU.db): cuBLASLt GEMMs of\n"
"             the model presets' layers after TP 1-16, our varlen attention kernel over\n"
"             a (q_len, kv_len) grid, NCCL collectives and p2p over the node's GPUs.\n"
"             Every finished measurement is committed; run it again to continue an\n"
"             interrupted profile.  --quick takes a few minutes.  Without a GPU it\n"
"             says so and points to --analytic.\n"
"--analytic   writes a complete cost DB from a roofline model calibrated on published\n"
"             figures (see README): GPUs h100-sxm, h200, a100-80g.  Rows are 'analytic'.\n"
"             Besides the presets' shapes, a grid covers every dense model up to 1T\n"
"             parameters (hidden <= 25600, head_dim 64-256, TP 1-16) and groups up to\n"
"             16384 ranks: their lookups are interpolated, never extrapolated.\n"
"  --set      changes the model's figures (profiler/analytic.h), e.g. to match your\n"
"             attention kernel: attn_eff_fwd, attn_eff_bwd (share of peak),\n"
"             attn_tile_overhead (pairs per query), attn_bwd_key_share, gemm_eff_max,\n"
"             ring_busbw_gbps, net_busbw_gbps, ...  The DB's run records them.\n"
"--import-nccl-tests  adds the out-of-place rows of an nccl-tests log (all_gather_perf,\n"
"             all_reduce_perf, ...) to DB as 'imported' samples of OP over N ranks on M\n"
"             nodes (default 1); a new DB takes its device row from --gpu.\n"
"--import-attn  adds the attention timings of tools/profile_attn.py (FlashAttention's\n"
"             flash_attn_varlen_func or PyTorch SDPA on your node) as 'imported' rows.\n"
"--show       prints the device, the runs, and sample counts and size ranges per table.\n"
"--estimate   answers one lookup; prints the time in microseconds and how it was found\n"
"             (exact, interpolated or extrapolated).  EXPR is one of\n"
"               gemm M N K\n"
"               attn fwd|bwd HEADS KV_HEADS HEAD_DIM Q_LEN KV_LEN\n"
"               coll all_reduce|all_gather|reduce_scatter|all_to_all RANKS NODES BYTES\n"
"               p2p intra|inter BYTES\n"
"               elementwise BYTES\n"
"             The DB is --db, or the built-in one of --gpu (default h100-sxm).\n"
"\n"
"examples:\n"
"  wlb-profile --analytic --gpu h100-sxm -o h100.db\n"
"  wlb-profile --analytic --gpu h100-sxm --set attn_eff_fwd=0.6,attn_eff_bwd=0.6 -o fa3.db\n"
"  wlb-profile --import-nccl-tests ag.log --op all_gather --ranks 8 -o h100.db\n"
"  wlb-profile --estimate 'gemm 16384 4096 4096' --gpu h100-sxm\n"
"  wlb-profile --estimate 'coll all_gather 8 1 67108864' --db h100.db\n");
}

/* ---- --show ---- */

static void range_line(const char *what, size_t n, double lo, double hi, const char *unit)
{
	if (n)
		printf("  %-14s %8zu rows   %s %.0f .. %.0f\n", what, n, unit, lo, hi);
	else
		printf("  %-14s %8zu rows\n", what, n);
}

static int show(const char *path)
{
	struct wlb_costdb_data d;
	struct wlb_error e;
	size_t by_src[4][4] = {{0}};

	if (wlb_costdb_read(path, &d, &e))
		return fail("%s", e.msg);
	const struct wlb_device *v = &d.device;
	printf("%s\n", path);
	if (d.has_device)
		printf("device %s (%s): %d SMs, %.1f GiB, %.1f TFLOP/s bf16, HBM %.0f GB/s, %d GPUs per node,\n"
		       "  NVLink %.0f GB/s (%.0f us), network %.0f GB/s (%.0f us) per GPU\n",
		       v->name, v->gpu_model, v->sms, v->mem_gib, v->peak_bf16_tflops, v->hbm_gbps,
		       v->gpus_per_node, v->nvlink_gbps, v->nvlink_lat_us, v->net_gbps, v->net_lat_us);
	else
		printf("device: none\n");
	for (size_t i = 0; i < d.n_runs; i++)
		printf("run %lld: %s on %s, wlb %s%s%s%s%s%s%s, flags %s\n", (long long)d.runs[i].id,
		       d.runs[i].time, d.runs[i].host, d.runs[i].tool_version,
		       d.runs[i].cuda_version[0] ? ", CUDA " : "", d.runs[i].cuda_version,
		       d.runs[i].nccl_version[0] ? ", NCCL " : "", d.runs[i].nccl_version,
		       d.runs[i].cudnn_version[0] ? ", cuDNN " : "", d.runs[i].cudnn_version,
		       d.runs[i].flags[0] ? d.runs[i].flags : "-");
	double lo = 1e300, hi = 0;
#define SPAN(arr, n, field, t) do { lo = 1e300; hi = 0; for (size_t i = 0; i < (n); i++) { \
	double x_ = (double)(arr)[i].field; lo = x_ < lo ? x_ : lo; hi = x_ > hi ? x_ : hi; \
	by_src[t][(arr)[i].source]++; } } while (0)
	SPAN(d.gemm, d.n_gemm, m, 0);
	range_line("gemm_sample", d.n_gemm, lo, hi, "m");
	SPAN(d.attn, d.n_attn, kv_len, 1);
	range_line("attn_sample", d.n_attn, lo, hi, "kv_len");
	SPAN(d.coll, d.n_coll, bytes, 2);
	range_line("coll_sample", d.n_coll, lo, hi, "bytes");
	SPAN(d.p2p, d.n_p2p, bytes, 3);
	range_line("p2p_sample", d.n_p2p, lo, hi, "bytes");
#undef SPAN
	static const char *const tables[] = {"gemm", "attn", "coll", "p2p"};
	printf("  by source:   ");
	for (int s = 0; s < 4; s++)
		printf(" %12s", wlb_sample_source_name((enum wlb_sample_source)s));
	printf("\n");
	for (int t = 0; t < 4; t++) {
		printf("  %-13s", tables[t]);
		for (int s = 0; s < 4; s++)
			printf(" %12zu", by_src[t][s]);
		printf("\n");
	}
	wlb_costdb_data_free(&d);
	return 0;
}

/* ---- --estimate ---- */

static int estimate(const char *expr, const char *db, const char *gpu)
{
	char path[4096], w[5][32];
	long long v[6];
	struct wlb_cost *c;
	struct wlb_error e;
	enum wlb_est how = WLB_EST_EXACT;
	double t;
	int n, used = 0, rc = 0;

	if (!db) {
		if (wlb_cost_find_db(gpu, path, sizeof path, &e))
			return fail("%s", e.msg);
		db = path;
	}
	if (wlb_cost_load(&c, db, &e))
		return fail("%s", e.msg);
	memset(v, 0, sizeof v);
	n = sscanf(expr, "%31s", w[0]);
#define BAD(what) do { rc = fail("--estimate: expected \"%s\", got \"%s\"", what, expr); goto done; } while (0)
	if (n != 1)
		BAD("gemm|attn|coll|p2p|elementwise ...");
	if (!strcmp(w[0], "gemm")) {
		if (sscanf(expr, "%*s %lld %lld %lld %n", &v[0], &v[1], &v[2], &used) != 3 || expr[used] ||
		    v[0] < 1 || v[1] < 1 || v[2] < 1)
			BAD("gemm M N K (positive integers)");
		t = wlb_cost_gemm_us(c, v[0], v[1], v[2], &how);
	} else if (!strcmp(w[0], "attn")) {
		if (sscanf(expr, "%*s %31s %lld %lld %lld %lld %lld %n", w[1], &v[0], &v[1], &v[2], &v[3],
			   &v[4], &used) != 6 || expr[used] || (strcmp(w[1], "fwd") && strcmp(w[1], "bwd")) ||
		    v[0] < 1 || v[1] < 1 || v[2] < 1 || v[3] < 1 || v[4] < v[3] || v[4] > 0x7fffffff)
			BAD("attn fwd|bwd HEADS KV_HEADS HEAD_DIM Q_LEN KV_LEN (KV_LEN >= Q_LEN)");
		t = wlb_cost_attn_piece_us(c, v[3], v[4], !strcmp(w[1], "bwd"), (int)v[0], (int)v[1],
					   (int)v[2], &how);
	} else if (!strcmp(w[0], "coll")) {
		enum wlb_coll_op op;
		if (sscanf(expr, "%*s %31s %lld %lld %lld %n", w[1], &v[0], &v[1], &v[2], &used) != 4 ||
		    expr[used] || wlb_coll_op_parse(w[1], &op) || v[0] < 1 || v[1] < 1 || v[1] > v[0] ||
		    v[2] < 1)
			BAD("coll all_reduce|all_gather|reduce_scatter|all_to_all RANKS NODES BYTES");
		t = wlb_cost_coll_us(c, op, v[2], (int)v[0], (int)v[1], &how);
	} else if (!strcmp(w[0], "p2p")) {
		if (sscanf(expr, "%*s %31s %lld %n", w[1], &v[0], &used) != 2 || expr[used] ||
		    (strcmp(w[1], "intra") && strcmp(w[1], "inter")) || v[0] < 1)
			BAD("p2p intra|inter BYTES");
		t = wlb_cost_p2p_us(c, v[0], !strcmp(w[1], "inter"), &how);
	} else if (!strcmp(w[0], "elementwise")) {
		if (sscanf(expr, "%*s %lld %n", &v[0], &used) != 1 || expr[used] || v[0] < 1)
			BAD("elementwise BYTES");
		t = wlb_cost_elementwise_us(c, (double)v[0]);
		how = WLB_EST_INTERP; /* a model of the device, not a sample */
	} else {
		BAD("gemm|attn|coll|p2p|elementwise ...");
	}
#undef BAD
	printf("%.2f %s\n", t, wlb_est_name(how));
done:
	wlb_cost_destroy(c);
	return rc;
}

/* ---- imports ---- */

/* Adds n parsed rows (collectives or attention) to out as one imported run,
 * creating the DB with gpu's device row when it is new; nothing is left
 * behind on failure. */
static int import_rows(const char *out, const char *gpu, const char *what, const void *rows, size_t n,
		       int coll)
{
	struct wlb_costdb *db = NULL;
	struct wlb_run_info run = {0};
	struct wlb_gpu_spec g;
	struct wlb_error e;
	int rc = 1, fresh = access(out, F_OK) != 0;

	if (!fresh) { /* check the target first: never add to something that is not a cost DB */
		struct wlb_costdb_data d;
		if (wlb_costdb_read(out, &d, &e))
			return fail("%s", e.msg);
		wlb_costdb_data_free(&d);
	} else if (wlb_gpu_spec_find(gpu, &g, &e)) {
		return fail("%s", e.msg);
	}
	if (gethostname(run.host, sizeof run.host - 1))
		snprintf(run.host, sizeof run.host, "unknown");
	snprintf(run.tool_version, sizeof run.tool_version, "%s", WLB_VERSION);
	snprintf(run.flags, sizeof run.flags, "imported %.200s", what);
	if (wlb_costdb_open(&db, out, &e) || wlb_costdb_begin(db, &e) ||
	    (fresh && wlb_costdb_put_device(db, &g.dev, &e)) || wlb_costdb_add_run(db, &run, &e)) {
		fail("%s", e.msg);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		int bad;
		if (coll) {
			struct wlb_coll_sample x = ((const struct wlb_coll_sample *)rows)[i];
			x.run = run.id;
			bad = wlb_costdb_add_coll(db, &x, &e);
		} else {
			struct wlb_attn_sample x = ((const struct wlb_attn_sample *)rows)[i];
			x.run = run.id;
			bad = wlb_costdb_add_attn(db, &x, &e);
		}
		if (bad) {
			fail("%s", e.msg);
			goto done;
		}
	}
	if (wlb_costdb_commit(db, &e)) {
		fail("%s", e.msg);
		goto done;
	}
	rc = 0;
done:
	if (db) {
		if (rc)
			wlb_costdb_rollback(db);
		wlb_costdb_close(db);
	}
	if (rc && fresh)
		remove(out); /* nothing half-written */
	return rc;
}

static int import_nccl(const char *file, const char *op_name, int ranks, int nodes, const char *gpu,
		       const char *out)
{
	struct wlb_coll_sample *s = NULL;
	struct wlb_error e;
	enum wlb_coll_op op;
	char what[300];
	size_t n = 0;
	int rc;

	if (!op_name || wlb_coll_op_parse(op_name, &op))
		return fail("--op: expected all_reduce, all_gather, reduce_scatter or all_to_all, got \"%s\"",
			    op_name ? op_name : "");
	if (ranks < 2 || nodes < 1 || nodes > ranks)
		return fail("--ranks must be at least 2 and --nodes between 1 and the ranks");
	if (wlb_nccl_tests_parse(file, op, ranks, nodes, &s, &n, &e))
		return fail("%s", e.msg);
	snprintf(what, sizeof what, "nccl-tests %.200s", file);
	rc = import_rows(out, gpu, what, s, n, 1);
	if (!rc)
		printf("%s: %zu %s samples over %d ranks on %d node%s imported from %s\n", out, n,
		       wlb_coll_op_name(op), ranks, nodes, nodes > 1 ? "s" : "", file);
	free(s);
	return rc;
}

static int import_attn(const char *file, const char *gpu, const char *out)
{
	struct wlb_attn_sample *s = NULL;
	struct wlb_error e;
	char what[300];
	size_t n = 0;
	int rc;

	if (wlb_attn_csv_parse(file, &s, &n, &e))
		return fail("%s", e.msg);
	snprintf(what, sizeof what, "attention %.200s", file);
	rc = import_rows(out, gpu, what, s, n, 0);
	if (!rc)
		printf("%s: %zu attention samples (%s) imported from %s\n", out, n, s[0].kernel, file);
	free(s);
	return rc;
}

/* ---- measuring ---- */

/* The analytic spec a measured GPU is filed under (its peak figures). */
static const char *spec_of(const char *gpu_name)
{
	if (strstr(gpu_name, "H200"))
		return "h200";
	if (strstr(gpu_name, "H100") && !strstr(gpu_name, "PCIe"))
		return "h100-sxm";
	if (strstr(gpu_name, "A100") && strstr(gpu_name, "80GB"))
		return "a100-80g";
	return NULL;
}

static int measure_mode(const char *out, const char *gpu, const char *ops, const char *model,
			int quick, int reps, int quiet)
{
	struct wlb_gpu_info info;
	struct wlb_gpu_spec spec;
	struct wlb_measure_opts mo = {WLB_OP_ALL, model, quick, reps, quiet};
	struct wlb_measure_stats st;
	struct wlb_run_info run = {0};
	struct wlb_error e;
	char path[512];
	int rc;

	if (ops && wlb_measure_ops_parse(ops, &mo.ops))
		return fail("--ops: expected a comma list of gemm, attn, coll, p2p, got \"%s\"", ops);
	if (model) {
		struct wlb_model m;
		if (wlb_model_preset(model, &m, &e))
			return fail("--model: %s", e.msg);
	}
	if (wlb_gpu_open(0, &info, &e))
		return fail("%s", e.msg);
	if (!gpu && !(gpu = spec_of(info.name))) {
		wlb_gpu_close();
		return fail("%s is none of the GPUs wlb knows (h100-sxm, h200, a100-80g): say which one it "
			    "is like with --gpu NAME", info.name);
	}
	if (wlb_gpu_spec_find(gpu, &spec, &e)) {
		wlb_gpu_close();
		return fail("%s", e.msg);
	}
	/* the device as measured, its peak figures from the spec */
	snprintf(spec.dev.gpu_model, sizeof spec.dev.gpu_model, "%.63s", info.name);
	spec.dev.sms = info.sms;
	spec.dev.mem_gib = info.mem_gib;
	if (!out) {
		snprintf(path, sizeof path, "%s.db", gpu);
		out = path;
	}
	if (gethostname(run.host, sizeof run.host - 1))
		snprintf(run.host, sizeof run.host, "unknown");
	snprintf(run.tool_version, sizeof run.tool_version, "%s", WLB_VERSION);
	snprintf(run.cuda_version, sizeof run.cuda_version, "%s", info.cuda);
	snprintf(run.nccl_version, sizeof run.nccl_version, "%s", info.nccl);
	snprintf(run.cudnn_version, sizeof run.cudnn_version, "%s", info.cudnn);
	fprintf(stderr, "wlb-profile: %s (%d SMs, %.0f GiB, driver %s, CUDA %s; SM clock %.0f MHz, %.0f W, "
		"%.0f C) into %s%s\n", info.name, info.sms, info.mem_gib, info.driver, info.cuda,
		info.sm_clock_mhz, info.power_w, info.temp_c, out, quick ? " (quick)" : "");
	wlb_stop_install(); /* the long part: Ctrl-C stops it cleanly (stop.h) */
	rc = wlb_measure(out, &spec.dev, &run, &wlb_gpu_timer, &mo, &st, &e);
	wlb_gpu_close();
	if (rc == WLB_EINTR) {
		fail("interrupted; every finished measurement is kept in %s: run the same command "
		     "again to continue", out);
		return WLB_STOP_STATUS;
	}
	if (rc)
		return fail("%s (every finished measurement is kept: run the same command again to "
			    "continue)", e.msg);
	printf("%s: %ld measurements%s%s, run %lld\n", out, st.measured,
	       st.resumed ? ", resumed" : "", st.skipped ? " (the rest were already there)" : "",
	       (long long)st.run);
	if ((mo.ops & WLB_OP_COLL) && !st.coll_measured)
		printf("collectives were not measured: a single GPU; the DB keeps no collective rows "
		       "(add analytic or imported ones, e.g. --import-nccl-tests)\n");
	return 0;
}

/* ---- main ---- */

enum { O_ANALYTIC = 256, O_GPU, O_IMPORT, O_IMPORT_ATTN, O_OP, O_RANKS, O_NODES, O_SHOW, O_ESTIMATE, O_DB, O_OPS,
       O_MODEL, O_QUICK, O_REPS, O_QUIET, O_SET };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"analytic", no_argument, 0, O_ANALYTIC}, {"gpu", required_argument, 0, O_GPU},
		{"import-nccl-tests", required_argument, 0, O_IMPORT}, {"op", required_argument, 0, O_OP},
		{"import-attn", required_argument, 0, O_IMPORT_ATTN},
		{"ranks", required_argument, 0, O_RANKS}, {"nodes", required_argument, 0, O_NODES},
		{"show", required_argument, 0, O_SHOW}, {"estimate", required_argument, 0, O_ESTIMATE},
		{"db", required_argument, 0, O_DB}, {"costdb", required_argument, 0, O_DB},
		{"ops", required_argument, 0, O_OPS}, {"model", required_argument, 0, O_MODEL},
		{"quick", no_argument, 0, O_QUICK}, {"reps", required_argument, 0, O_REPS},
		{"quiet", no_argument, 0, O_QUIET}, {"set", required_argument, 0, O_SET},
		{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	const char *gpu = NULL, *out = NULL, *import = NULL, *import_at = NULL, *op = NULL, *showdb = NULL,
		   *expr = NULL, *db = NULL, *ops = NULL, *model = NULL, *set = NULL;
	int analytic = 0, ranks = 0, nodes = 1, quick = 0, reps = 0, quiet = 0, c, modes;
	struct wlb_error e;

	wlb_gpu_worker(); /* an NCCL worker of a measuring run never returns */
	wlb_gsl_quiet();
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case O_ANALYTIC: analytic = 1; break;
		case O_GPU: gpu = optarg; break;
		case O_IMPORT: import = optarg; break;
		case O_IMPORT_ATTN: import_at = optarg; break;
		case O_OP: op = optarg; break;
		case O_RANKS:
		case O_NODES: {
			long x = strtol(optarg, &end, 10);
			if (*end || end == optarg || x < 1 || x > 1 << 20)
				return fail("--%s: expected a positive integer, got \"%s\"",
					    c == O_RANKS ? "ranks" : "nodes", optarg);
			*(c == O_RANKS ? &ranks : &nodes) = (int)x;
			break;
		}
		case O_SHOW: showdb = optarg; break;
		case O_ESTIMATE: expr = optarg; break;
		case O_DB: db = optarg; break;
		case O_OPS: ops = optarg; break;
		case O_MODEL: model = optarg; break;
		case O_SET: set = optarg; break;
		case O_QUICK: quick = 1; break;
		case O_QUIET: quiet = 1; break;
		case O_REPS: {
			long x = strtol(optarg, &end, 10);
			if (*end || end == optarg || x < 1 || x > 100000)
				return fail("--reps: expected a positive integer, got \"%s\"", optarg);
			reps = (int)x;
			break;
		}
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return fail("see wlb-profile --help");
		}
	}
	if (optind != argc)
		return fail("unexpected argument \"%s\" (see --help)", argv[optind]);
	modes = analytic + !!import + !!import_at + !!showdb + !!expr;
	if (modes > 1)
		return fail("choose one of --analytic, --import-nccl-tests, --import-attn, --show, --estimate");
	if (set && !analytic)
		return fail("--set goes with --analytic");
	if (modes == 0)
		return measure_mode(out, gpu, ops, model, quick, reps, quiet);
	if (showdb)
		return show(showdb);
	if (expr)
		return estimate(expr, db, gpu ? gpu : "h100-sxm");
	if (!out)
		return fail("-o DB is required");
	if (import)
		return import_nccl(import, op, ranks, nodes, gpu ? gpu : "h100-sxm", out);
	if (import_at)
		return import_attn(import_at, gpu ? gpu : "h100-sxm", out);
	if (!gpu)
		return fail("--analytic needs --gpu NAME (h100-sxm, h200, a100-80g)");
	long rows;
	if (set) { /* checked here first so that the message names the option */
		struct wlb_gpu_spec g;
		if (!wlb_gpu_spec_find(gpu, &g, &e) && wlb_gpu_spec_set(&g, set, &e))
			return fail("--set: %s", e.msg);
	}
	if (wlb_analytic_write(gpu, set, out, WLB_VERSION, &rows, &e))
		return fail("%s", e.msg);
	printf("%s: %ld analytic samples for %s\n", out, rows, gpu);
	return 0;
}
