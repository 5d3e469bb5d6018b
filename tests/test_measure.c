/* test_measure.c — the measuring harness with a fake timer: the plan is
 * measured once, an interrupted run resumes without repeating or losing a
 * measurement, and the simulator reads the measured rows back. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytic.h"
#include "cost.h"
#include "measure.h"
#include "stop.h"
#include "test.h"

void test_measure(void);

/* Times from the analytic H100, so they are plausible and known here. */
struct fake {
	struct wlb_gpu_spec g;
	long calls, fail_after;  /* fail the call numbered fail_after (0: never) */
	long stop_after;         /* a SIGINT during the call numbered stop_after */
};

static int fake_gemm(void *ctx, int64_t m, int64_t n, int64_t k, int reps, struct wlb_timing *out,
		     struct wlb_error *err)
{
	struct fake *f = ctx;
	if (++f->calls == f->fail_after)
		return wlb_error_set(err, WLB_EIO, "fake GPU fell off the bus");
	if (f->calls == f->stop_after)
		wlb_stop_request();
	double t = wlb_analytic_gemm_us(&f->g, m, n, k) * 1.1; /* "measured": 10 % slower */
	*out = (struct wlb_timing){t, 0.98 * t, 1.02 * t, reps};
	return 0;
}

static int fake_attn(void *ctx, int64_t q, int64_t kv, int pieces, int bwd, int heads, int kv_heads,
		     int hd, int reps, struct wlb_timing *out, struct wlb_error *err)
{
	struct fake *f = ctx;
	(void)kv_heads;
	if (++f->calls == f->fail_after)
		return wlb_error_set(err, WLB_EIO, "fake GPU fell off the bus");
	double t = wlb_analytic_attn_us(&f->g, q, kv, pieces, bwd, heads, hd) * 0.8;
	*out = (struct wlb_timing){t, t, t, reps};
	return 0;
}

static int fake_coll(void *ctx, const int64_t *sizes, int n_sizes, int reps,
		     struct wlb_coll_sample **out, size_t *n, struct wlb_error *err)
{
	(void)ctx, (void)sizes, (void)n_sizes, (void)reps, (void)err;
	*out = NULL; /* a single GPU: nothing to measure */
	*n = 0;
	return 0;
}

static int fake_p2p(void *ctx, const int64_t *sizes, int n_sizes, int reps, struct wlb_p2p_sample **out,
		    size_t *n, struct wlb_error *err)
{
	(void)ctx, (void)reps, (void)err;
	*out = calloc((size_t)n_sizes, sizeof **out);
	for (int i = 0; i < n_sizes; i++)
		(*out)[i] = (struct wlb_p2p_sample){0, WLB_SRC_MEASURED, sizes[i], 0, 10 + sizes[i] / 3.0e5};
	*n = (size_t)n_sizes;
	return 0;
}

void test_measure(void)
{
	struct fake f = {.fail_after = 0};
	struct wlb_timer tm = {&f, fake_gemm, fake_attn, fake_coll, fake_p2p, "fake-flash"};
	struct wlb_measure_opts o = {WLB_OP_ALL, "llama2-7b", 1, 3, 1};
	struct wlb_measure_stats st, st2;
	struct wlb_run_info run = {0};
	struct wlb_costdb_data d;
	struct wlb_error err;
	char path[] = "/tmp/wlb-measure-XXXXXX";
	unsigned ops;
	int fd = mkstemp(path);

	close(fd);
	unlink(path);
	wlb_gpu_spec_find("h100-sxm", &f.g, &err);
	snprintf(run.host, sizeof run.host, "testhost");

	CHECK_EQ(wlb_measure_ops_parse("gemm,p2p", &ops), 0);
	CHECK_EQ(ops, WLB_OP_GEMM | WLB_OP_P2P);
	CHECK(wlb_measure_ops_parse("gemm,fft", &ops) < 0);

	/* interrupted at the 40th measurement: 39 kept, the run still "measuring" */
	f.fail_after = 40;
	CHECK(wlb_measure(path, &f.g.dev, &run, &tm, &o, &st, &err) < 0);
	CHECK_STR_HAS(err.msg, "fell off the bus");
	CHECK_EQ(st.measured, 39);
	CHECK_EQ(wlb_costdb_read(path, &d, &err), 0);
	CHECK_EQ(d.n_gemm + d.n_attn, 39);
	CHECK_EQ(d.n_runs, 1);
	CHECK(d.n_runs == 1 && !strcmp(d.runs[0].flags, "measuring"));
	wlb_costdb_data_free(&d);

	/* run again: the same run continues, nothing measured twice */
	f.fail_after = 0;
	f.calls = 0;
	CHECK_EQ(wlb_measure(path, &f.g.dev, &run, &tm, &o, &st2, &err), 0);
	CHECK(st2.resumed);
	CHECK_EQ(st2.run, st.run);
	CHECK_EQ(st2.skipped, 39);
	CHECK_EQ(st2.measured + st2.skipped, st2.planned);
	CHECK_EQ(st2.coll_measured, 0);
	CHECK_EQ(wlb_costdb_read(path, &d, &err), 0);
	/* llama2-7b under TP 1-16: 5 GEMM shapes x 5 TP (some shared) x 8 quick m values */
	size_t gemm_rows = d.n_gemm, attn_rows = d.n_attn;
	CHECK_EQ(gemm_rows + attn_rows + 2 /* the collective and p2p sweeps */, (size_t)st2.planned);
	CHECK_EQ(d.n_coll, 0);
	CHECK(d.n_p2p > 0);
	CHECK(d.n_runs == 1 && !strcmp(d.runs[0].flags, "measured"));
	int dup = 0;
	for (size_t i = 1; i < d.n_gemm; i++)
		dup += d.gemm[i].m == d.gemm[i - 1].m && d.gemm[i].n == d.gemm[i - 1].n &&
		       d.gemm[i].k == d.gemm[i - 1].k;
	CHECK_EQ(dup, 0);
	int measured = 1;
	for (size_t i = 0; i < d.n_attn; i++)
		measured &= d.attn[i].source == WLB_SRC_MEASURED && !strcmp(d.attn[i].kernel, "fake-flash");
	CHECK(measured);
	wlb_costdb_data_free(&d);

	/* the cost model reads the measured rows: exact at a sample (QKV of
	 * llama2-7b at TP 8: n 1536, k 4096; m 1024 is on the quick sweep) */
	struct wlb_cost *c;
	enum wlb_est how;
	CHECK_EQ(wlb_cost_load(&c, path, &err), 0);
	if (c) {
		CHECK_NEAR(wlb_cost_gemm_us(c, 1024, 1536, 4096, &how),
			   1.1 * wlb_analytic_gemm_us(&f.g, 1024, 1536, 4096), 1e-9);
		CHECK_EQ(how, WLB_EST_EXACT);
		wlb_cost_destroy(c);
	}
	/* another GPU's DB is not written into */
	struct wlb_device other = f.g.dev;
	snprintf(other.name, sizeof other.name, "a100-80g");
	CHECK(wlb_measure(path, &other, &run, &tm, &o, &st, &err) < 0);
	CHECK_STR_HAS(err.msg, "write to another DB");
	unlink(path);
	/* an unknown model is named */
	o.model = "gpt-5";
	CHECK(wlb_measure(path, &f.g.dev, &run, &tm, &o, &st, &err) < 0);
	CHECK_STR_HAS(err.msg, "gpt-5");
	unlink(path);
	/* Ctrl-C during the 30th measurement: it is kept, the run stops
	 * before the 31st, still "measuring" (the same command resumes) */
	o.model = "llama2-7b";
	f.calls = 0;
	f.stop_after = 30;
	CHECK_EQ(wlb_measure(path, &f.g.dev, &run, &tm, &o, &st, &err), WLB_EINTR);
	wlb_stop_clear();
	CHECK_EQ(st.measured, 30);
	CHECK_EQ(wlb_costdb_read(path, &d, &err), 0);
	CHECK_EQ(d.n_gemm + d.n_attn, 30);
	CHECK(d.n_runs == 1 && !strcmp(d.runs[0].flags, "measuring"));
	wlb_costdb_data_free(&d);
	unlink(path);
}
