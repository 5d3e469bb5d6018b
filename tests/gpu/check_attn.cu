/* check_attn.cu — the GPU attention kernels (backend/attn.cu) against the
 * float64 CPU reference (backend/attn_ref.c) on small random varlen shapes:
 * pieces with q_len < kv_len and q_len of 1, 16, 100, 128, 300, GQA, MQA and
 * MHA, head_dim 64 and 128.  Inputs are random bf16; the reference runs in
 * double on the same (rounded) values.  Passes when, for each case,
 *   ||O - ref|| / ||ref|| <= 2e-2, max |lse - ref| <= 1e-2,
 *   ||dX - ref|| / ||ref|| <= 5e-2 for dQ, dK, dV
 * each measured over the whole tensor and over each piece's rows, the worst
 * counting (outputs are pre-filled with NaN, so a row the kernels fail to
 * write fails).
 * Prints one line per case, "ok" or "FAIL", then "check_attn: N passed, M
 * failed", and exits 1 on any failure; with no CUDA device it prints
 * "check_attn: no CUDA device" (and the runtime's reason) and exits 2.
 *
 * `make test-gpu` builds and runs it.  By hand, from the repository root:
 *   nvcc -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -Ibackend \
 *        tests/gpu/check_attn.cu backend/attn.cu backend/attn_ref.c -o check_attn
 *   ./check_attn
 * (code=sm_80 for Ampere). */
#ifndef WLB_CUDA_EMU
#include <cuda_runtime.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "attn_cuda.h"

#define MAX_PIECES 10

struct check_case {
	const char *name;
	int head_dim, heads, kv_heads, n;
	int pieces[MAX_PIECES][2];  /* (q_len, kv_len) */
};

static const struct check_case cases[] = {
	{"d64 gqa4/2 varlen", 64, 4, 2, 9,
	 {{1, 1}, {16, 16}, {100, 100}, {128, 128}, {300, 300}, {16, 200}, {100, 333}, {1, 77}, {64, 65}}},
	{"d128 gqa4/2 varlen", 128, 4, 2, 9,
	 {{1, 1}, {16, 16}, {100, 100}, {128, 128}, {300, 300}, {16, 200}, {100, 333}, {1, 77}, {64, 65}}},
	{"d64 mha2 long", 64, 2, 2, 3, {{300, 300}, {1, 300}, {128, 129}}},
	{"d128 mqa4/1", 128, 4, 1, 4, {{65, 130}, {64, 64}, {17, 17}, {128, 700}}},
	{"d128 one piece", 128, 2, 2, 1, {{300, 300}}},
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static double uniform(void)  /* [-1, 1) */
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

static uint16_t to_bf16(double x)
{
	float f = (float)x;
	uint32_t u;
	memcpy(&u, &f, 4);
	u += 0x7fffu + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

static double from_bf16(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* random bf16 values scaled by amp, and the same values as double */
static void fill(uint16_t *b, double *d, size_t n, double amp)
{
	for (size_t i = 0; i < n; i++) {
		b[i] = to_bf16(amp * uniform());
		d[i] = from_bf16(b[i]);
	}
}

/* ||x - ref|| / ||ref|| with x in bf16 over elements [from, to); NaN if x
 * holds a NaN there */
static double rel_err_range(const uint16_t *x, const double *ref, size_t from, size_t to)
{
	double num = 0, den = 0;
	for (size_t i = from; i < to; i++) {
		double e = from_bf16(x[i]) - ref[i];
		num += e * e;
		den += ref[i] * ref[i];
	}
	return sqrt(num) / (den > 0 ? sqrt(den) : 1);
}

/* the largest of the whole tensor's and each piece's relative error (a
 * wrong tile in one piece would hide in the whole tensor's norm); rows per
 * piece from cu, `row` elements per row */
static double rel_err(const uint16_t *x, const double *ref, const int *cu, int n, size_t row)
{
	double worst = rel_err_range(x, ref, 0, (size_t)cu[n] * row);
	for (int i = 0; i < n; i++) {
		double e = rel_err_range(x, ref, (size_t)cu[i] * row, (size_t)cu[i + 1] * row);
		worst = e > worst || e != e ? e : worst;
	}
	return worst;
}

static int cuda_ok(cudaError_t e, const char *what)
{
	if (e != cudaSuccess)
		fprintf(stderr, "check_attn: %s: %s\n", what, cudaGetErrorString(e));
	return e == cudaSuccess;
}

static void *dev_alloc(size_t bytes)
{
	void *p = NULL;
	if (!cuda_ok(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc"))
		exit(1);
	return p;
}

static void to_dev(void *dst, const void *src, size_t bytes)
{
	if (!cuda_ok(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy"))
		exit(1);
}

static void to_host(void *dst, const void *src, size_t bytes)
{
	if (!cuda_ok(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy"))
		exit(1);
}

static int run_case(const struct check_case *c)
{
	const int d = c->head_dim, H = c->heads, KH = c->kv_heads;
	int cu_q[MAX_PIECES + 1] = {0}, cu_k[MAX_PIECES + 1] = {0}, max_q = 0, max_k = 0;
	for (int i = 0; i < c->n; i++) {
		cu_q[i + 1] = cu_q[i] + c->pieces[i][0];
		cu_k[i + 1] = cu_k[i] + c->pieces[i][1];
		max_q = c->pieces[i][0] > max_q ? c->pieces[i][0] : max_q;
		max_k = c->pieces[i][1] > max_k ? c->pieces[i][1] : max_k;
	}
	const int tq = cu_q[c->n], tk = cu_k[c->n];
	const size_t nq = (size_t)tq * H * d, nk = (size_t)tk * KH * d, nl = (size_t)tq * H;

	uint16_t *hq = (uint16_t *)malloc(nq * 2), *hk = (uint16_t *)malloc(nk * 2);
	uint16_t *hv = (uint16_t *)malloc(nk * 2), *hdo = (uint16_t *)malloc(nq * 2);
	uint16_t *ho = (uint16_t *)malloc(nq * 2), *hdq = (uint16_t *)malloc(nq * 2);
	uint16_t *hdk = (uint16_t *)malloc(nk * 2), *hdv = (uint16_t *)malloc(nk * 2);
	float *hlse = (float *)malloc(nl * sizeof(float));
	double *q = (double *)malloc(nq * 8), *k = (double *)malloc(nk * 8), *v = (double *)malloc(nk * 8);
	double *dout = (double *)malloc(nq * 8), *o = (double *)malloc(nq * 8);
	double *lse = (double *)malloc(nl * 8), *dq = (double *)malloc(nq * 8);
	double *dk = (double *)malloc(nk * 8), *dv = (double *)malloc(nk * 8);
	if (!hq || !hk || !hv || !hdo || !ho || !hdq || !hdk || !hdv || !hlse || !q || !k || !v ||
	    !dout || !o || !lse || !dq || !dk || !dv) {
		fprintf(stderr, "check_attn: out of memory\n");
		exit(1);
	}
	/* q scaled up so that softmax is far from uniform */
	fill(hq, q, nq, 2.0);
	fill(hk, k, nk, 1.0);
	fill(hv, v, nk, 1.0);
	fill(hdo, dout, nq, 1.0);

	struct wlb_attn_shape rs = {c->n, cu_q, cu_k, H, KH, d, 1 / sqrt((double)d)};
	wlb_attn_ref_fwd(&rs, q, k, v, o, lse);
	wlb_attn_ref_bwd(&rs, q, k, v, o, lse, dout, dq, dk, dv);

	int *dcu_q = (int *)dev_alloc(sizeof cu_q), *dcu_k = (int *)dev_alloc(sizeof cu_k);
	uint16_t *dQ = (uint16_t *)dev_alloc(nq * 2), *dK = (uint16_t *)dev_alloc(nk * 2);
	uint16_t *dV = (uint16_t *)dev_alloc(nk * 2), *dO = (uint16_t *)dev_alloc(nq * 2);
	uint16_t *dOut = (uint16_t *)dev_alloc(nq * 2), *gdq = (uint16_t *)dev_alloc(nq * 2);
	uint16_t *gdk = (uint16_t *)dev_alloc(nk * 2), *gdv = (uint16_t *)dev_alloc(nk * 2);
	float *dLse = (float *)dev_alloc(nl * 4), *dqacc = (float *)dev_alloc(nq * 4);
	float *dkvacc = (float *)dev_alloc(nk * 4 * 2), *delta = (float *)dev_alloc(nl * 4);
	to_dev(dcu_q, cu_q, sizeof cu_q);
	to_dev(dcu_k, cu_k, sizeof cu_k);
	to_dev(dQ, hq, nq * 2);
	to_dev(dK, hk, nk * 2);
	to_dev(dV, hv, nk * 2);
	to_dev(dOut, hdo, nq * 2);
	/* NaN everywhere an output goes: unwritten entries fail the check */
	cudaMemset(dO, 0xff, nq * 2);
	cudaMemset(dLse, 0xff, nl * 4);
	cudaMemset(gdq, 0xff, nq * 2);
	cudaMemset(gdk, 0xff, nk * 2);
	cudaMemset(gdv, 0xff, nk * 2);
	cudaMemset(dqacc, 0xff, nq * 4);

	struct wlb_attn_dev s = {c->n, dcu_q, dcu_k, max_q, max_k, tq, tk, H, KH, d,
				 (float)(1 / sqrt((double)d))};
	int rc = wlb_attn_cuda_fwd(&s, dQ, dK, dV, dO, dLse, NULL);
	if (rc || !cuda_ok(cudaDeviceSynchronize(), "forward")) {
		printf("check_attn: %-22s FAIL (forward: error %d)\n", c->name, rc);
		exit(1);
	}
	rc = wlb_attn_cuda_bwd(&s, dQ, dK, dV, dO, dLse, dOut, gdq, gdk, gdv, dqacc, dkvacc, delta, NULL);
	if (rc || !cuda_ok(cudaDeviceSynchronize(), "backward")) {
		printf("check_attn: %-22s FAIL (backward: error %d)\n", c->name, rc);
		exit(1);
	}
	to_host(ho, dO, nq * 2);
	to_host(hlse, dLse, nl * 4);
	to_host(hdq, gdq, nq * 2);
	to_host(hdk, gdk, nk * 2);
	to_host(hdv, gdv, nk * 2);

	double e_o = rel_err(ho, o, cu_q, c->n, (size_t)H * d), e_lse = 0;
	for (size_t i = 0; i < nl; i++) {
		double e = fabs(hlse[i] - lse[i]);
		e_lse = e > e_lse || e != e ? e : e_lse;
	}
	double e_dq = rel_err(hdq, dq, cu_q, c->n, (size_t)H * d);
	double e_dk = rel_err(hdk, dk, cu_k, c->n, (size_t)KH * d);
	double e_dv = rel_err(hdv, dv, cu_k, c->n, (size_t)KH * d);
	int ok = e_o <= 2e-2 && e_lse <= 1e-2 && e_dq <= 5e-2 && e_dk <= 5e-2 && e_dv <= 5e-2;
	printf("check_attn: %-22s O %.2e lse %.2e dQ %.2e dK %.2e dV %.2e  %s\n", c->name, e_o, e_lse,
	       e_dq, e_dk, e_dv, ok ? "ok" : "FAIL");

	cudaFree(dcu_q), cudaFree(dcu_k), cudaFree(dQ), cudaFree(dK), cudaFree(dV), cudaFree(dO);
	cudaFree(dOut), cudaFree(gdq), cudaFree(gdk), cudaFree(gdv), cudaFree(dLse), cudaFree(dqacc);
	cudaFree(dkvacc), cudaFree(delta);
	free(hq), free(hk), free(hv), free(hdo), free(ho), free(hdq), free(hdk), free(hdv), free(hlse);
	free(q), free(k), free(v), free(dout), free(o), free(lse), free(dq), free(dk), free(dv);
	return ok;
}

int main(int argc, char **argv)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n < 1) {
		printf("check_attn: no CUDA device (%s)\n",
		       e != cudaSuccess ? cudaGetErrorString(e) : "none visible");
		return 2;
	}
	struct cudaDeviceProp prop;
	if (cuda_ok(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties"))
		printf("check_attn: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
	int passes = 0, fails = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* a case number on the command line runs that case only */
		if (argc > 1 && atoi(argv[1]) != (int)i)
			continue;
		if (run_case(&cases[i]))
			passes++;
		else
			fails++;
	}
	printf("check_attn: %d passed, %d failed\n", passes, fails);
	return fails ? 1 : 0;
}
