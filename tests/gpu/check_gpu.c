/* check_gpu.c — make test-gpu: the GPU interface (backend/gpu.h) on a real
 * GPU.  The device query, a bf16 GEMM's values against a float64 GEMM on
 * the CPU, GEMM and attention timings on small shapes, and on a multi-GPU
 * node NCCL's values and a short collective / p2p sweep.  Ends with
 * "check_gpu: N passed, M failed"; exits 2 when there is no CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"

static int pass, fail;

#define CHECK(c, ...) do { if (c) pass++; else { fail++; \
	fprintf(stderr, "check_gpu:%d: CHECK(%s) failed: ", __LINE__, #c); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* A timing that is a timing: positive, ordered, all reps counted. */
static void check_timing(const char *what, const struct wlb_timing *t, int reps)
{
	CHECK(t->median_us > 0 && isfinite(t->median_us), "%s: median %g us", what, t->median_us);
	CHECK(t->p10_us > 0 && t->p10_us <= t->median_us && t->median_us <= t->p90_us,
	      "%s: p10 %g, median %g, p90 %g us", what, t->p10_us, t->median_us, t->p90_us);
	CHECK(t->reps == reps, "%s: %d reps, asked %d", what, t->reps, reps);
}

static void check_gemm_values(void)
{
	static const int shapes[][3] = {{128, 96, 64}, {37, 40, 72}, {256, 1024, 512}, {1, 8, 4096}};
	struct wlb_error e = {0};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
		double rel = -1;
		int rc = wlb_gpu_check_gemm(m, n, k, &rel, &e);
		CHECK(rc == 0, "GEMM %dx%dx%d: %s", m, n, k, e.msg);
		/* bf16 output: 2^-9 relative rounding; allow fp32 accumulation order */
		CHECK(rc == 0 && rel >= 0 && rel < 1e-2, "GEMM %dx%dx%d: max relative error %g", m, n,
		      k, rel);
		printf("  gemm %dx%dx%d vs float64: max rel err %.2e\n", m, n, k, rel);
	}
	/* bad input is an error, not a crash */
	CHECK(wlb_gpu_check_gemm(0, 8, 8, &(double){0}, &e) != 0, "m = 0 accepted");
}

static void check_gemm_timing(void)
{
	struct wlb_timing t;
	struct wlb_error e = {0};
	int rc = wlb_gpu_time_gemm(2048, 2048, 2048, 20, &t, &e);
	CHECK(rc == 0, "time_gemm: %s", e.msg);
	if (rc)
		return;
	check_timing("gemm 2048^3", &t, 20);
	double tflops = 2.0 * 2048 * 2048 * 2048 / (t.median_us * 1e-6) / 1e12;
	/* an A100 does ~250 bf16 TFLOP/s at this size, an H100 ~600: below 5 the
	 * GEMM is not on tensor cores, above 2000 the timing measured nothing */
	CHECK(tflops > 5 && tflops < 2000, "gemm 2048^3: %.1f TFLOP/s", tflops);
	printf("  gemm 2048^3: %.1f us (p10 %.1f, p90 %.1f), %.0f TFLOP/s\n", t.median_us, t.p10_us,
	       t.p90_us, tflops);
	CHECK(wlb_gpu_time_gemm(64, 64, 64, 0, &t, &e) != 0, "reps = 0 accepted");
}

static void check_attn_timing(void)
{
	static const struct { long long q, kv; int pieces, heads, kv_heads, d; } c[] = {
		{512, 512, 4, 8, 8, 128}, {128, 1024, 8, 8, 2, 64}, {4096, 4096, 1, 4, 4, 128}};
	struct wlb_error e = {0};
	struct wlb_timing t;
	double fwd = 0;

	CHECK(!strcmp(wlb_gpu_attn_kernel(), "wlb-flash"), "kernel %s", wlb_gpu_attn_kernel());
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		for (int bwd = 0; bwd <= 1; bwd++) {
			char what[96];
			snprintf(what, sizeof what, "attn %s q %lld kv %lld x%d h %d/%d d %d",
				 bwd ? "bwd" : "fwd", c[i].q, c[i].kv, c[i].pieces, c[i].heads,
				 c[i].kv_heads, c[i].d);
			int rc = wlb_gpu_time_attn(c[i].q, c[i].kv, c[i].pieces, bwd, c[i].heads,
						   c[i].kv_heads, c[i].d, 10, &t, &e);
			CHECK(rc == 0, "%s: %s", what, e.msg);
			if (rc)
				continue;
			check_timing(what, &t, 10);
			if (!bwd)
				fwd = t.median_us;
			else /* the backward does about 2.5x the forward's work */
				CHECK(t.median_us > fwd, "%s: %.1f us, forward %.1f us", what, t.median_us,
				      fwd);
			printf("  %s: %.1f us\n", what, t.median_us);
		}
	CHECK(wlb_gpu_time_attn(64, 32, 1, 0, 8, 8, 128, 5, &t, &e) != 0, "q_len > kv_len accepted");
	CHECK(wlb_gpu_time_attn(64, 64, 1, 0, 8, 3, 128, 5, &t, &e) != 0, "kv_heads 3 of 8 accepted");
}

static void check_nccl(int devices)
{
	static const int64_t sizes[] = {1 << 10, 1 << 20, 64 << 20};
	struct wlb_coll_sample *c = NULL;
	struct wlb_p2p_sample *p = NULL;
	struct wlb_error e = {0};
	size_t n = 99, i;
	int rc;

	rc = wlb_gpu_check_allreduce(&e);
	CHECK(rc == 0, "NCCL values: %s", e.msg);
	rc = wlb_gpu_time_collectives(sizes, 3, 5, &c, &n, &e);
	CHECK(rc == 0, "time_collectives: %s", e.msg);
	if (devices < 2) {
		CHECK(rc == 0 && n == 0 && !c, "one GPU: %zu collective samples", n);
		printf("  one GPU: collectives not measured\n");
		free(c);
		return;
	}
	/* 4 ops x 3 sizes for each group size 2, 4, 8 the node holds */
	size_t groups = devices >= 8 ? 3 : devices >= 4 ? 2 : 1;
	CHECK(rc == 0 && n == 4 * 3 * groups, "%zu collective samples, expected %zu", n, 4 * 3 * groups);
	for (i = 0; rc == 0 && i < n; i++) {
		CHECK(c[i].source == WLB_SRC_MEASURED && c[i].nodes == 1 && c[i].ranks >= 2,
		      "sample %zu: source %d, nodes %d, ranks %d", i, (int)c[i].source, c[i].nodes,
		      c[i].ranks);
		CHECK(c[i].median_us > 0 && c[i].busbw_gbps > 0 && c[i].algbw_gbps > 0,
		      "%s %d GPUs %lld bytes: %g us", wlb_coll_op_name(c[i].op), c[i].ranks,
		      (long long)c[i].bytes, c[i].median_us);
		CHECK(fabs(c[i].busbw_gbps - c[i].algbw_gbps * wlb_coll_busbw_factor(c[i].op, c[i].ranks))
		      < 1e-9 * c[i].busbw_gbps, "busbw factor");
		if (c[i].bytes == 64 << 20)
			printf("  %-14s %d GPUs 64 MiB: %8.1f us, busbw %6.1f GB/s\n",
			       wlb_coll_op_name(c[i].op), c[i].ranks, c[i].median_us, c[i].busbw_gbps);
	}
	free(c);
	rc = wlb_gpu_time_p2p(sizes, 3, 5, &p, &n, &e);
	CHECK(rc == 0 && n == 3, "time_p2p: %zu samples: %s", n, rc ? e.msg : "");
	for (i = 0; rc == 0 && i < n; i++) {
		CHECK(p[i].median_us > 0 && p[i].inter == 0 && p[i].bytes == sizes[i],
		      "p2p %lld bytes: %g us", (long long)p[i].bytes, p[i].median_us);
		printf("  send/recv %lld bytes: %.1f us\n", (long long)p[i].bytes, p[i].median_us);
	}
	free(p);
}

int main(void)
{
	struct wlb_gpu_info info;
	struct wlb_error e = {0};

	wlb_gpu_worker(); /* the NCCL workers of the all-reduce check never return */
	if (wlb_gpu_open(0, &info, &e)) { /* no driver, no device, or no CUDA build */
		fprintf(stderr, "check_gpu: no CUDA device: %s\n", e.msg);
		return 2;
	}
	CHECK(wlb_gpu_built(), "opened a GPU in a build without CUDA");
	printf("check_gpu: %s, %d SMs, cc %d.%d, %.1f GiB, %d device(s); driver %s, CUDA %s, "
	       "NCCL %s, cuDNN %s; SM %.0f MHz, %.0f W, %.0f C\n", info.name, info.sms,
	       info.cc_major, info.cc_minor, info.mem_gib, info.devices, info.driver, info.cuda,
	       info.nccl, info.cudnn[0] ? info.cudnn : "-", info.sm_clock_mhz, info.power_w,
	       info.temp_c);
	CHECK(info.devices >= 1 && info.sms > 0 && info.mem_gib > 1 && info.name[0], "device info");
	CHECK(info.cc_major >= 8, "compute capability %d.%d: wlb builds for sm_80 and sm_90",
	      info.cc_major, info.cc_minor);
	CHECK(info.cuda[0] && info.nccl[0] && info.driver[0], "versions: cuda '%s' nccl '%s' driver '%s'",
	      info.cuda, info.nccl, info.driver);
	CHECK(info.sm_clock_mhz >= 0 && info.power_w >= 0 && info.temp_c >= 0, "NVML readings");

	check_gemm_values();
	check_gemm_timing();
	check_attn_timing();
	check_nccl(info.devices);
	wlb_gpu_close();
	/* closed: calls fail in one line */
	struct wlb_timing t;
	CHECK(wlb_gpu_time_gemm(64, 64, 64, 5, &t, &e) != 0 && strstr(e.msg, "not open"),
	      "time_gemm after close: %s", e.msg);
	printf("check_gpu: %d passed, %d failed\n", pass, fail);
	return fail != 0;
}
