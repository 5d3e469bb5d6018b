/* wlb-run — execute a trace's or a config's iterations on real ranks (CUDA
 * and NCCL, or the CPU reference path) and measure them into a
 * wlb-report/1 that diffs field by field against wlb-sim's prediction. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comm.h"
#include "cost.h"
#include "dev.h"
#include "exec.h"
#include "gpu.h"
#include "json.h"
#include "launch.h"
#include "opts.h"
#include "plan.h"
#include "report_sim.h"
#include "run_report.h"
#include "sim.h"
#include "stop.h"

#define fail(...) wlb_fail(wlb_prog, __VA_ARGS__)

static void usage(FILE *f)
{
	fprintf(f,
"usage: wlb-run TRACE [--config CONFIG] [--device cuda|cpu] [--nproc N] [--check]\n"
"               [--packing P] [--sharding S] [--doc-order O] [--iterations N] [--seed S]\n"
"               [--costdb DB]\n"
"               [--tp N] [--cp N] [--pp N] [--dp N] [--microbatches N]\n"
"               [--json FILE|-] [--chrome-trace FILE] [--timeline-iter K]\n"
"               [--compare-with REPORT] [--timeout SECONDS] [--id-file PATH] [--quiet]\n"
"\n"
"Runs the iterations wlb-sim replays - the same documents, packing, CP sharding\n"
"and 1F1B / interleaved schedule - on real ranks: per layer the QKV, output and\n"
"SwiGLU GEMMs, TP all-gather / reduce-scatter, CP all-gather of K and V, varlen\n"
"causal attention on each rank's pieces forward and backward, pipeline sends of\n"
"each micro-batch's own size, and the DP gradient all-reduce; weights and inputs\n"
"are random.  Prints and writes what it measured (wlb-report/1, source measured).\n"
"\n"
"  --device D         cuda (bf16 on GPUs: cuBLASLt, our varlen attention kernel,\n"
"                     NCCL) or cpu (float64 reference kernels, sockets between\n"
"                     processes: for tests on small shapes, never for speed);\n"
"                     default cuda\n"
"  --nproc N          ranks to start on this machine, one process each (default\n"
"                     tp x cp x pp x dp).  Under mpirun or srun the ranks come\n"
"                     from the environment instead (cuda only, with --id-file)\n"
"  --check            first check, for every micro-batch, that the device's\n"
"                     layouts give back libwlb's piece lists and that CP-sharded\n"
"                     attention (per-seq, per-doc, hybrid and the plan's) equals\n"
"                     unsharded attention: output, dQ, dK, dV\n"
"  --compare-with R   print measured against the report R (wlb-sim --json) per\n"
"                     field, with the error in percent\n"
"  --costdb DB        the cost DB the wlb packer and the prediction use (default:\n"
"                     the built-in one of the trace's gpu)\n"
"  --timeout S        stop every rank when the run takes longer, or a receive\n"
"                     waits longer (default 600)\n"
"  --id-file PATH     where rank 0 leaves the NCCL unique id (a shared file\n"
"                     system across nodes; default a temporary file)\n"
"  --quiet            no summary and no progress (errors and --compare-with's table\n"
"                     still print)\n"
"  the other options as in wlb-sim\n"
"\n"
"examples:\n"
"  wlb-run traces/run/tiny.json --device cpu --check\n"
"  wlb-run traces/run/7b-2layers-64k.json --packing concat --sharding per-seq --json run.json\n"
"  wlb-sim TRACE --config best.json --json pred.json &&\n"
"    wlb-run TRACE --config best.json --compare-with pred.json\n");
}

struct ctx {
	struct wlb_trace t;
	struct wlb_opts a;
	struct wlb_plan plan;
	struct wlb_sim_result pred, meas;
	const char *costdb, *device, *trace_path;
	json_t *compare;              /* --compare-with, loaded before the ranks start */
	char id_file[512];
};

/* ---- output on rank 0 ------------------------------------------------- */

static void print_summary(const struct ctx *c, const struct wlb_dev *dev, const struct wlb_exec_result *x)
{
	const struct wlb_sim_summary *s = &c->meas.summary;
	const struct wlb_parallel *p = &c->t.parallel;
	struct wlb_policy pol = c->t.policy;
	wlb_policy_defaults(&pol, c->t.context);

	printf("%s: TP%d CP%d PP%d DP%d, %d micro-batches per replica, %s%s, %s + %s\n",
	       c->t.name[0] ? c->t.name : c->trace_path, p->tp, p->cp, p->pp, p->dp, p->microbatches,
	       p->schedule, p->vpp > 1 ? " (virtual stages)" : "", pol.packing, pol.sharding);
	printf("measured %u iterations on %d %s ranks (%s)\n", s->iterations, x->world, dev->name,
	       dev->device_name);
	if (!strcmp(dev->name, "cpu"))
		printf("(the CPU reference path: float64 kernels, for correctness; its times are not "
		       "GPU times)\n");
	printf("\n  iteration time     %10.3f ms mean   %.3f p50   %.3f p95\n", s->iteration_ms_mean,
	       s->iteration_ms_p50, s->iteration_ms_p95);
	printf("  throughput         %10.0f tokens/s\n", s->tokens_per_s);
	printf("  ideal              %10.3f ms         balance efficiency %.3f\n", s->ideal_ms,
	       s->balance_efficiency);
	printf("  imbalance          pp %.3f   cp %.3f   dp %.3f   bubble fraction %.3f\n",
	       s->imbalance_pp, s->imbalance_cp, s->imbalance_dp, s->bubble_fraction);
	printf("  peak memory        %10.4f GiB per rank\n", s->peak_mem_gib);
	if (c->a.check) {
		static const char *const names[4] = {"O", "dQ", "dK", "dV"};
		printf("\n  check: %ld layouts give back libwlb's pieces; CP-sharded attention against "
		       "unsharded,\n  max relative error", x->check_layouts);
		for (int k = 0; k < 4; k++)
			printf(" %s %.2e", names[k], x->check_err[k]);
		printf(" (tolerance %.0e)\n", x->tolerance);
		printf("  gradient signature %.12e (equal for every parallel layout of the same step)\n",
		       x->signature);
	}
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void cmp_line(const char *field, double meas, double pred)
{
	if (isnan(pred))
		printf("  %-26s %12.4f %12s\n", field, meas, "-");
	else
		printf("  %-26s %12.4f %12.4f %+9.1f %%\n", field, meas, pred,
		       pred != 0 ? 100 * (meas - pred) / fabs(pred) : 0.0);
}

static json_t *load_report(const char *path)
{
	struct wlb_error e;
	json_t *rep = wlb_json_read(path, "report", 0, &e);
	if (!rep) {
		fail("--compare-with %s", e.msg);
		return NULL;
	}
	if (!json_is_object(json_object_get(rep, "summary")) ||
	    !json_is_array(json_object_get(rep, "iterations"))) {
		fail("--compare-with %s: not a wlb-report/1 (no summary or iterations)", path);
		json_decref(rep);
		return NULL;
	}
	return rep;
}

/* Measured against a wlb-sim report, field by field. */
static int compare_with(const struct ctx *c, const char *path, json_t *rep)
{
	static const char *const keys[] = {"iteration_ms_mean", "iteration_ms_p50", "iteration_ms_p95",
		"tokens_per_s", "mfu", "imbalance_pp", "imbalance_cp", "imbalance_dp", "bubble_fraction",
		"ideal_ms", "balance_efficiency", "peak_mem_gib"};
	const struct wlb_sim_summary *s = &c->meas.summary;
	double mine[] = {s->iteration_ms_mean, s->iteration_ms_p50, s->iteration_ms_p95, s->tokens_per_s,
			 s->mfu, s->imbalance_pp, s->imbalance_cp, s->imbalance_dp, s->bubble_fraction,
			 s->ideal_ms, s->balance_efficiency, s->peak_mem_gib};
	json_t *sum = json_object_get(rep, "summary"), *its = json_object_get(rep, "iterations");

	printf("\nmeasured against %s (%s):\n  %-26s %12s %12s %10s\n", path,
	       json_string_value(json_object_get(rep, "source")) ? json_string_value(json_object_get(rep, "source")) : "?",
	       "field", "measured", "predicted", "error");
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		cmp_line(keys[i], mine[i], num(sum, keys[i]));
	int differ = 0;
	for (size_t i = 0; i < c->meas.n_iters && i < json_array_size(its); i++) {
		const struct wlb_sim_iter *it = &c->meas.iters[i];
		json_t *pi = json_array_get(its, i), *pm = json_object_get(pi, "microbatches");
		char f[64];
		snprintf(f, sizeof f, "iteration %zu time_ms", i);
		cmp_line(f, it->time_ms, num(pi, "time_ms"));
		for (size_t j = 0; j < (size_t)c->t.parallel.dp * c->t.parallel.microbatches; j++) {
			const struct wlb_sim_mb *mb = &c->meas.mbs[it->first_mb + j];
			json_t *q = json_array_get(pm, j);
			if (!q || num(q, "tokens") != (double)mb->tokens) {
				differ = 1;
				continue;
			}
			snprintf(f, sizeof f, "  mb %u.%u fwd_ms", mb->replica, mb->position);
			cmp_line(f, mb->fwd_ms, num(q, "fwd_ms"));
			snprintf(f, sizeof f, "  mb %u.%u bwd_ms", mb->replica, mb->position);
			cmp_line(f, mb->bwd_ms, num(q, "bwd_ms"));
		}
	}
	if (differ)
		printf("  note: some micro-batches differ in tokens from the report's (other documents or "
		       "policy?); they are left out\n");
	return 0;
}

static int write_outputs(struct ctx *c, const struct wlb_dev *dev, const struct wlb_exec_result *x)
{
	struct wlb_error e;
	if (c->a.json) {
		json_t *j = wlb_report_sim(&c->t, c->costdb, &c->meas, NULL, 0);
		if (j) {
			json_object_set_new(j, "tool", json_string("wlb-run"));
			json_object_set_new(j, "source", json_string("measured"));
			json_object_set_new(j, "device", json_pack("{s:s, s:s, s:i}", "kind", dev->name,
								    "name", dev->device_name, "ranks", x->world));
			json_object_set_new(j, "stages", wlb_run_report_stages(&c->t, x));
			if (c->a.check)
				json_object_set_new(j, "check", json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}",
					"layouts", (json_int_t)x->check_layouts, "o", x->check_err[0],
					"dq", x->check_err[1], "dk", x->check_err[2], "dv", x->check_err[3],
					"tolerance", x->tolerance, "gradient_signature", x->signature));
		}
		int bad = wlb_json_write(j, c->a.json, &e);
		json_decref(j);
		if (bad)
			return fail("%s", e.msg);
	}
	if (c->a.chrome) {
		json_t *j = wlb_chrome_trace(&c->t, &c->meas);
		int bad = wlb_json_write(j, c->a.chrome, &e);
		json_decref(j);
		if (bad)
			return fail("%s", e.msg);
	}
	if (c->a.json && !strcmp(c->a.json, "-"))
		return 0;
	if (!c->a.quiet)
		print_summary(c, dev, x);
	return c->compare ? compare_with(c, c->a.compare_with, c->compare) : 0;
}

/* ---- one rank ---------------------------------------------------------- */

static int run_rank(struct ctx *c, const struct wlb_launch *l)
{
	struct wlb_dev *dev = NULL;
	struct wlb_comm *world = NULL;
	struct wlb_exec_result x = {0};
	struct wlb_exec_opts o = {c->a.check, c->t.source.seed, c->a.quiet};
	struct wlb_error e = {0};
	double timeout = c->a.timeout_s > 0 ? c->a.timeout_s : 600;
	int rc = 1, cpu = !strcmp(c->device, "cpu");

	if (cpu ? wlb_dev_cpu_open(&dev, &e) : wlb_dev_cuda_open(l->local_rank, &dev, &e))
		goto out;
	if (cpu ? wlb_comm_cpu_world(l, timeout, &world, &e)
		: wlb_comm_nccl_world(l, c->id_file, timeout, dev->stream, &world, &e))
		goto out;
	if (wlb_exec_rank(&c->t, &c->plan, dev, world, &o, &x, &e))
		goto out;
	rc = 0;
	if (c->a.check && !(x.check_err[0] <= x.tolerance && x.check_err[1] <= x.tolerance &&
			    x.check_err[2] <= x.tolerance && x.check_err[3] <= x.tolerance)) {
		snprintf(e.msg, sizeof e.msg, "check failed: CP-sharded attention differs from unsharded "
			 "by up to %.2e (O %.2e, dQ %.2e, dK %.2e, dV %.2e; tolerance %.0e)",
			 fmax(fmax(x.check_err[0], x.check_err[1]), fmax(x.check_err[2], x.check_err[3])),
			 x.check_err[0], x.check_err[1], x.check_err[2], x.check_err[3], x.tolerance);
		if (l->rank != 0) /* every rank has the gathered result; one says it */
			e.msg[0] = 0;
		rc = 1;
	}
	if (l->rank == 0) {
		if (wlb_run_report_apply(&c->t, &x, cpu ? 0 : c->pred.mem_limit_gib, &c->meas, &e))
			rc = 1;
		else if (write_outputs(c, dev, &x))
			rc = 1, e.msg[0] = 0;
	}
out:
	if (rc && e.msg[0] && strncmp(e.msg, "rank ", 5))
		fprintf(stderr, "%s: rank %d: %s\n", wlb_prog, l->rank, e.msg);
	else if (rc && e.msg[0])
		fprintf(stderr, "%s: %s\n", wlb_prog, e.msg);
	fflush(stdout);
	wlb_exec_result_free(&x);
	wlb_comm_destroy(world);
	wlb_dev_close(dev);
	return rc;
}

/* Whether this node has the GPUs the ranks need, asked in a child so that
 * the parent never initialises CUDA (its forked ranks could not use it). */
static int probe_gpus(int need)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct wlb_gpu_info info;
		struct wlb_error e;
		int rc = 0;
		if (wlb_gpu_open(0, &info, &e)) {
			char *hint = strstr(e.msg, "; use wlb-profile"); /* the profiler's advice */
			if (hint)
				*hint = 0;
			rc = fail("%s; use --device cpu for the CPU reference path", e.msg);
		} else if (info.devices < need)
			rc = fail("%d ranks need %d GPUs on this node; %d found", need, need, info.devices);
		fflush(NULL);
		_exit(rc);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return fail("could not start the GPU probe");
	return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	static struct ctx c;
	struct wlb_sim_opts so = {WLB_ORDER_PACKED, 0, 1};
	struct wlb_cost *cost = NULL;
	struct wlb_launch l;
	struct wlb_error e = {0};
	char path[4096];
	int rc = 1;

	wlb_prog = "wlb-run";
	wlb_gsl_quiet();
	wlb_trace_init(&c.t);
	c.a.usage = usage;
	if (wlb_opts_parse(argc, argv, &c.a, "packing sharding s-max thresholds window doc-order iterations seed "
			   "json chrome-trace timeline-iter costdb quiet config nproc device check "
			   "compare-with timeout id-file tp cp pp dp microbatches"))
		return 1;
	if (optind + 1 != argc) {
		if (optind == argc)
			usage(stderr);
		else
			fail("expected one TRACE (see --help)");
		return 1;
	}
	c.trace_path = argv[optind];
	if (wlb_opts_load(argv[optind], &c.t) || wlb_opts_apply(&c.t, &c.a))
		return 1;
	c.device = c.a.device ? c.a.device : "cuda";
	if (!strcmp(c.device, "cuda") && !wlb_gpu_built())
		return fail("this wlb was built without CUDA: run with --device cpu, or rebuild where nvcc is found");
	const struct wlb_parallel *p = &c.t.parallel;
	int world = p->tp * p->cp * p->pp * p->dp, from_env = 0;
	char why[768];
	if (wlb_opts_run_refusal(&c.t, why, sizeof why))
		return fail("%s", why);
	if (c.a.nproc && (int)c.a.nproc != world)
		return fail("--nproc %u: the configuration needs tp x cp x pp x dp = %d ranks", c.a.nproc, world);
	if (world > WLB_LAUNCH_MAX)
		return fail("%d ranks: wlb-run starts at most %d on one machine (use mpirun or srun)", world,
			    WLB_LAUNCH_MAX);
	so.timeline_iter = (int)c.a.timeline_iter;
	so.quiet = 1;

	if (c.a.compare_with && !(c.compare = load_report(c.a.compare_with)))
		return 1;
	if (!strcmp(c.device, "cuda") && !c.a.nproc && wlb_launch_from_env(&l) && l.size > 1)
		; /* each rank finds its own GPU */
	else if (!strcmp(c.device, "cuda") && probe_gpus(world))
		return 1;
	c.costdb = c.a.costdb;
	if (!c.costdb) {
		if (wlb_cost_find_db(c.t.gpu, path, sizeof path, &e))
			return fail("%s", e.msg);
		c.costdb = path;
	}
	if (wlb_cost_load(&cost, c.costdb, &e))
		return fail("%s", e.msg);
	/* the prediction (kept for the report's structure and the memory limit),
	 * and the plan the ranks execute: the same packing */
	if (wlb_sim_run(&c.t, cost, &so, &c.pred, &e) || wlb_sim_run(&c.t, cost, &so, &c.meas, &e) ||
	    wlb_plan_build(&c.t, cost, &c.plan, &e)) {
		fail("%s", e.msg);
		goto done;
	}
	if (c.plan.n_iters != c.meas.n_iters) {
		fail("internal: the plan has %zu iterations, the simulator %zu", c.plan.n_iters, c.meas.n_iters);
		goto done;
	}
	if (c.a.id_file)
		snprintf(c.id_file, sizeof c.id_file, "%s", c.a.id_file);
	else
		snprintf(c.id_file, sizeof c.id_file, "/tmp/wlb-run-%ld.id", (long)getpid());

	memset(&l, 0, sizeof l);
	if (!c.a.nproc && wlb_launch_from_env(&l) && l.size > 1) {
		from_env = 1;
		if (l.size != world) {
			fail("the launcher started %d ranks, the configuration needs %d", l.size, world);
			goto done;
		}
		if (!strcmp(c.device, "cpu") || !c.a.id_file) {
			fail("under mpirun / srun: --device cuda and an --id-file on a file system every node sees");
			goto done;
		}
	}
	if (from_env) {
		rc = run_rank(&c, &l);
		goto done;
	}
	wlb_stop_install(); /* the parent only: under mpirun / srun the launcher stops the ranks */
	int r = wlb_launch_fork(world, c.a.timeout_s > 0 ? c.a.timeout_s + 30 : 630, &l, &e);
	if (r == 1) {   /* a rank */
		rc = run_rank(&c, &l);
		fflush(NULL);
		_exit(rc);
	}
	if (r < 0)
		fail("%s", e.msg);
	rc = r == WLB_EINTR ? WLB_STOP_STATUS : r < 0;
	unlink(c.id_file);
done:
	wlb_plan_free(&c.plan);
	wlb_sim_result_free(&c.pred);
	wlb_sim_result_free(&c.meas);
	wlb_cost_destroy(cost);
	wlb_trace_free(&c.t);
	json_decref(c.compare);
	return rc;
}
