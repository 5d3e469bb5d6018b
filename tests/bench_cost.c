/* bench_cost.c — cost-model lookups per second, memoised and not. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cost.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	enum { SHAPES = 4096, N = 20000000 };
	struct wlb_cost *c;
	struct wlb_error err;
	static int64_t q[SHAPES], kv[SHAPES], m[SHAPES];
	double sink = 0;

	if (argc < 2 || wlb_cost_load(&c, argv[1], &err)) {
		fprintf(stderr, "bench_cost: %s\n", argc < 2 ? "usage: bench_cost DB" : err.msg);
		return 1;
	}
	srand(1);
	for (int i = 0; i < SHAPES; i++) {
		q[i] = 16 + rand() % 8192;
		kv[i] = q[i] + rand() % 65536;
		m[i] = 128 + rand() % 131072;
	}
	/* a simulator asks about the same shapes again and again: memo hits */
	double t0 = now_s();
	for (int i = 0; i < N; i++) {
		int s = i & (SHAPES - 1);
		sink += wlb_cost_attn_piece_us(c, q[s], kv[s], i & 1, 4, 4, 128, NULL);
	}
	double hit = N / (now_s() - t0);
	t0 = now_s();
	for (int i = 0; i < N; i++)
		sink += wlb_cost_gemm_us(c, m[i & (SHAPES - 1)], 1536, 4096, NULL);
	double ghit = N / (now_s() - t0);
	/* fresh shapes every time: interpolation, no memo */
	t0 = now_s();
	for (int i = 0; i < N / 20; i++)
		sink += wlb_cost_attn_piece_us(c, 16 + i % 100000, 200000 + i, 0, 4, 4, 128, NULL);
	double miss = (N / 20) / (now_s() - t0);
	printf("\ncost model lookups (h100-sxm analytic DB)\n");
	printf("  %-40s %8.1f M/s   target: > 10 M/s  %s\n", "attention piece, repeated shapes", hit / 1e6,
	       hit > 10e6 ? "ok" : "MISSED");
	printf("  %-40s %8.1f M/s   target: > 10 M/s  %s\n", "GEMM, repeated shapes", ghit / 1e6,
	       ghit > 10e6 ? "ok" : "MISSED");
	printf("  %-40s %8.1f M/s   (interpolation every time)\n", "attention piece, new shapes", miss / 1e6);
	wlb_cost_destroy(c);
	return sink < 0;
}
