/* test_cost.c — the estimation library on hand-made samples: exact hits,
 * hand-computed interpolation (over sizes, and between sampled shapes and
 * group sizes), extrapolation flagged and counted, monotonicity, source
 * priority. */
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "test.h"

void test_cost(void);

static struct wlb_costdb_data sample_data(void)
{
	struct wlb_costdb_data d;
	memset(&d, 0, sizeof d);
	d.has_device = 1;
	d.device = (struct wlb_device){"test-gpu", "Test GPU", 100, 80, 1000, 3000, 8, 400, 10, 50, 20};
	d.gemm = calloc(16, sizeof *d.gemm);
	d.attn = calloc(16, sizeof *d.attn);
	d.coll = calloc(16, sizeof *d.coll);
	d.p2p = calloc(16, sizeof *d.p2p);
#define G(m_, n_, k_, t_, src) d.gemm[d.n_gemm++] = (struct wlb_gemm_sample){1, src, m_, n_, k_, "bf16", t_, t_, t_, 1}
	G(128, 4096, 4096, 10, WLB_SRC_ANALYTIC);
	G(1024, 4096, 4096, 40, WLB_SRC_ANALYTIC);
	G(8192, 4096, 4096, 400, WLB_SRC_ANALYTIC);
	G(100, 64, 64, 10, WLB_SRC_ANALYTIC);   /* two points: linear in log-log */
	G(400, 64, 64, 20, WLB_SRC_ANALYTIC);
	G(100, 32, 32, 10, WLB_SRC_MEASURED);   /* noisy: 200 is "faster" than 100 */
	G(200, 32, 32, 8, WLB_SRC_MEASURED);
	G(300, 32, 32, 12, WLB_SRC_MEASURED);
	G(100, 32, 32, 999, WLB_SRC_ANALYTIC);  /* measured beats analytic */
#undef G
#define A(q_, kv_, p_, t_) d.attn[d.n_attn++] = (struct wlb_attn_sample){1, WLB_SRC_ANALYTIC, 0, 8, 8, 128, q_, kv_, p_, "analytic", t_, t_, t_, 1}
	A(128, 128, 4, 40);     /* 10 us per piece */
	A(128, 1024, 1, 50);
	A(1024, 1024, 1, 100);
	A(1024, 4096, 1, 400);
#undef A
#define C(b_, t_) d.coll[d.n_coll++] = (struct wlb_coll_sample){1, WLB_SRC_ANALYTIC, WLB_ALL_GATHER, 8, 1, b_, "ring", t_, 0, 0}
	C(1000, 10);
	C(1000000, 20);
	C(1000000000, 10010);
#undef C
	d.p2p[d.n_p2p++] = (struct wlb_p2p_sample){1, WLB_SRC_ANALYTIC, 1000, 0, 5};
	d.p2p[d.n_p2p++] = (struct wlb_p2p_sample){1, WLB_SRC_ANALYTIC, 1000000, 0, 15};
	return d;
}

/* Shapes around which lookups blend: GEMM (n, k) on {64, 128}^2 taking
 * n * k / 1000 us at m = 100 and 4x that at m = 400; attention keys of
 * 4 and 8 heads (MQA and MHA), head_dim 64 and 128, one piece (128, 1024)
 * taking heads * head_dim / 64 us (+ 1 us with kv_heads = heads: the K and
 * V reads); all-gathers of 4 and 8 ranks in a node, and across 2 nodes with
 * 1 and 4 ranks on each, 1 MB in (10 + 100 * bus factor / ranks per node)
 * us. */
static struct wlb_costdb_data grid_data(void)
{
	struct wlb_costdb_data d;
	memset(&d, 0, sizeof d);
	d.has_device = 1;
	d.device = (struct wlb_device){"test-gpu", "Test GPU", 100, 80, 1000, 3000, 8, 400, 10, 50, 20};
	d.gemm = calloc(8, sizeof *d.gemm);
	d.attn = calloc(16, sizeof *d.attn);
	d.coll = calloc(16, sizeof *d.coll);
	for (int n = 64; n <= 128; n *= 2)
		for (int k = 64; k <= 128; k *= 2)
			for (int m = 100; m <= 400; m *= 4)
				d.gemm[d.n_gemm++] = (struct wlb_gemm_sample){1, WLB_SRC_ANALYTIC, m, n, k, "bf16",
					n * k / 1000.0 * (m / 100), 0, 0, 1};
	for (int hd = 64; hd <= 128; hd *= 2)
		for (int h = 4; h <= 8; h *= 2)
			for (int kv = 1; kv <= h; kv = kv == 1 ? h : 2 * h) {
				double t = h * hd / 64.0 + (kv == h);
				d.attn[d.n_attn++] = (struct wlb_attn_sample){1, WLB_SRC_ANALYTIC, 0, h, kv, hd, 128,
					1024, 1, "analytic", t, t, t, 1};
			}
	static const int groups[][2] = {{4, 1}, {8, 1}, {2, 2}, {8, 2}, {16, 4}};
	for (size_t i = 0; i < sizeof groups / sizeof *groups; i++) {
		int r = groups[i][0], nodes = groups[i][1], per = nodes > 1 ? r / nodes : 1;
		d.coll[d.n_coll++] = (struct wlb_coll_sample){1, WLB_SRC_ANALYTIC, WLB_ALL_GATHER, r, nodes,
			1000000, "ring", 10 + 100.0 * (r - 1) / r / per, 0, 0};
	}
	return d;
}

static void test_cost_grid(void)
{
	struct wlb_costdb_data d = grid_data();
	struct wlb_cost *c;
	struct wlb_error err;
	enum wlb_est h;

	CHECK_EQ(wlb_cost_from_data(&c, &d, "grid", &err), 0);
	/* a sampled shape is exact; between them, bilinear in (n, k): n * k is
	 * bilinear, so the blend is n * k / 1000 itself */
	CHECK_NEAR(wlb_cost_gemm_us(c, 100, 128, 64, &h), 8.192, 1e-12);
	CHECK_EQ(h, WLB_EST_EXACT);
	CHECK_NEAR(wlb_cost_gemm_us(c, 100, 96, 64, &h), 6.144, 1e-12);
	CHECK_EQ(h, WLB_EST_INTERP);
	CHECK_NEAR(wlb_cost_gemm_us(c, 100, 80, 112, &h), 8.96, 1e-12);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* and over m on each key: 4x from 100 to 400 is slope 1 in log-log */
	CHECK_NEAR(wlb_cost_gemm_us(c, 200, 80, 112, &h), 17.92, 1e-9);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* outside the shapes, or beyond m: extrapolated */
	wlb_cost_gemm_us(c, 100, 256, 64, &h);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	wlb_cost_gemm_us(c, 100, 96, 48, &h);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	wlb_cost_gemm_us(c, 800, 96, 64, &h);
	CHECK_EQ(h, WLB_EST_EXTRAP);

	/* attention: exact keys */
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 128, 1024, 0, 8, 1, 64, &h), 8, 1e-12);
	CHECK_EQ(h, WLB_EST_EXACT);
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 128, 1024, 0, 4, 4, 128, &h), 9, 1e-12);
	CHECK_EQ(h, WLB_EST_EXACT);
	/* GQA between MQA and MHA, linear in kv_heads: 8 heads, 2 KV heads of
	 * 64 is 8 + 1 * (2 - 1) / (8 - 1) */
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 128, 1024, 0, 8, 2, 64, &h), 8 + 1.0 / 7, 1e-12);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* 6 heads, 2 KV heads (3 queries per KV head) of 96: at 4 heads that
	 * grouping has 4 / 3 KV heads (4 + 1/9 at 64, 8 + 1/9 at 128), at 8
	 * heads 8 / 3 (8 + 5/21, 16 + 5/21); halfway on both axes */
	double want = (4 + 1.0 / 9 + 8 + 1.0 / 9 + 8 + 5.0 / 21 + 16 + 5.0 / 21) / 4;
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 128, 1024, 0, 6, 2, 96, &h), want, 1e-12);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* outside: more heads, another head_dim */
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 128, 1024, 0, 16, 16, 64, &h), 2 * 9, 1e-12);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	wlb_cost_attn_piece_us(c, 128, 1024, 0, 4, 4, 256, &h);
	CHECK_EQ(h, WLB_EST_EXTRAP);

	/* collectives in a node: 6 ranks between 4 and 8, linear in the bus
	 * factor 5/6, where the curve is 10 + 100 * 5/6 */
	CHECK_NEAR(wlb_cost_coll_us(c, WLB_ALL_GATHER, 1000000, 6, 1, &h), 10 + 100.0 * 5 / 6, 1e-9);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* across nodes, 4 per node: 12 ranks between 8 and 16 (on 2 and 4 nodes) */
	CHECK_NEAR(wlb_cost_coll_us(c, WLB_ALL_GATHER, 1000000, 12, 3, &h), 10 + 100.0 * 11 / 12 / 4, 1e-9);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* 2 per node, none sampled: between 1 (2 ranks) and 4 per node (8
	 * ranks) on 2 nodes, log-log in the count: halfway in log */
	double t1 = 10 + 100.0 / 2, t4 = 10 + 100.0 * 7 / 8 / 4;
	CHECK_NEAR(wlb_cost_coll_us(c, WLB_ALL_GATHER, 1000000, 4, 2, &h), sqrt(t1 * t4), 1e-9);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* beyond the largest group: extrapolated */
	wlb_cost_coll_us(c, WLB_ALL_GATHER, 1000000, 32, 8, &h);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	wlb_cost_destroy(c);
}

void test_cost(void)
{
	struct wlb_costdb_data d = sample_data();
	struct wlb_cost *c;
	struct wlb_error err;
	enum wlb_est h;

	CHECK_EQ(wlb_cost_from_data(&c, &d, "test", &err), 0);
	/* the exact value at a sample */
	CHECK_NEAR(wlb_cost_gemm_us(c, 1024, 4096, 4096, &h), 40, 1e-9);
	CHECK_EQ(h, WLB_EST_EXACT);
	/* two samples: log-log linear; 100 -> 10, 400 -> 20 has slope 1/2, so
	 * t(200) = 10 * 2^0.5 */
	CHECK_NEAR(wlb_cost_gemm_us(c, 200, 64, 64, &h), 10 * sqrt(2.0), 1e-9);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* Steffen between samples stays between their values */
	double mid = wlb_cost_gemm_us(c, 3000, 4096, 4096, &h);
	CHECK(mid > 40 && mid < 400);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* beyond the largest m: roofline, time grows with the work, flagged */
	uint64_t x0 = wlb_cost_extrapolations(c);
	CHECK_NEAR(wlb_cost_gemm_us(c, 16384, 4096, 4096, &h), 800, 1e-9);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	CHECK_EQ(wlb_cost_extrapolations(c), x0 + 1);
	CHECK_NEAR(wlb_cost_gemm_us(c, 16384, 4096, 4096, &h), 800, 1e-9); /* memo hit, counted */
	CHECK_EQ(wlb_cost_extrapolations(c), x0 + 2);
	/* below the smallest: the smallest sample's time, flagged */
	CHECK_NEAR(wlb_cost_gemm_us(c, 64, 4096, 4096, &h), 10, 1e-9);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	/* an unsampled shape: the same FLOPs on the nearest shape (8192x4096 has
	 * twice the n*k of 4096x4096: m 512 -> 1024 there) */
	CHECK_NEAR(wlb_cost_gemm_us(c, 512, 8192, 4096, &h), 40, 1e-9);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	/* measured beats analytic; noise flattened so a larger m is never faster */
	CHECK_NEAR(wlb_cost_gemm_us(c, 100, 32, 32, &h), 10, 1e-9);
	CHECK_NEAR(wlb_cost_gemm_us(c, 200, 32, 32, &h), 10, 1e-9);

	/* attention: per piece = call / pieces */
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 128, 128, 0, 8, 8, 128, &h), 10, 1e-9);
	CHECK_EQ(h, WLB_EST_EXACT);
	struct wlb_piece p[3] = {{0, 128, 128}, {0, 128, 128}, {0, 1024, 4096}};
	CHECK_NEAR(wlb_cost_attn_us(c, p, 3, 0, 8, 8, 128, &h), 420, 1e-9);
	CHECK_EQ(h, WLB_EST_EXACT);
	/* q between rows: log-linear in q between the rows' values at kv 1024:
	 * q 362 is about halfway in log from 128 (50) to 1024 (100) */
	double f = log(362.0 / 128) / log(8.0);
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 362, 1024, 0, 8, 8, 128, &h), exp(log(50) + f * log(2)), 1e-9);
	CHECK_EQ(h, WLB_EST_INTERP);
	/* fewer queries than the smallest row share its 128-query tile */
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 16, 128, 0, 8, 8, 128, &h), 10, 1e-9);
	/* twice the heads of the nearest sampled key: twice the time, flagged */
	CHECK_NEAR(wlb_cost_attn_piece_us(c, 128, 128, 0, 16, 16, 128, &h), 20, 1e-9);
	CHECK_EQ(h, WLB_EST_EXTRAP);

	/* collectives: exact, then alpha-beta beyond the largest sample with the
	 * slope fitted on the upper half: (20010 - ... ) = 1e-5 us per byte */
	CHECK_NEAR(wlb_cost_coll_us(c, WLB_ALL_GATHER, 1000000, 8, 1, &h), 20, 1e-9);
	CHECK_EQ(h, WLB_EST_EXACT);
	CHECK_NEAR(wlb_cost_coll_us(c, WLB_ALL_GATHER, 2000000000, 8, 1, &h), 20010, 1e-6);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	CHECK_NEAR(wlb_cost_coll_us(c, WLB_ALL_GATHER, 12345, 1, 1, &h), 0, 0);
	/* four ranks: the 8-rank curve scaled by the bus factors (3/4) / (7/8) */
	CHECK_NEAR(wlb_cost_coll_us(c, WLB_ALL_GATHER, 1000000, 4, 1, &h), 20 * 0.75 / 0.875, 1e-9);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	/* p2p: two samples, log-log linear */
	CHECK_NEAR(wlb_cost_p2p_us(c, 1000, 0, &h), 5, 1e-9);
	CHECK_NEAR(wlb_cost_p2p_us(c, 31623, 0, &h), 5 * pow(3.0, log(31.623) / log(1000.0)), 1e-3);
	/* nothing sampled across nodes: the device's link, alpha-beta */
	CHECK_NEAR(wlb_cost_p2p_us(c, 50000, 1, &h), 20 + 50000 / 50e3, 1e-9);
	CHECK_EQ(h, WLB_EST_EXTRAP);
	CHECK_NEAR(wlb_cost_elementwise_us(c, 2.4e6), 2 + 2.4e6 / (0.8 * 3000e3), 1e-9);

	/* monotone non-decreasing in size for every op, across sample edges */
	int bad = 0;
	double prev[6] = {0};
	for (double x = 1; x < 4e9; x *= 1.07) {
		double t[6] = {
			wlb_cost_gemm_us(c, (int64_t)x, 4096, 4096, NULL),
			wlb_cost_gemm_us(c, (int64_t)x, 32, 32, NULL),
			x <= 131072 ? wlb_cost_attn_piece_us(c, 128, (int64_t)x, 0, 8, 8, 128, NULL) : prev[2],
			x <= 131072 ? wlb_cost_attn_piece_us(c, (int64_t)x, 131072, 0, 8, 8, 128, NULL) : prev[3],
			wlb_cost_coll_us(c, WLB_ALL_GATHER, (int64_t)x, 8, 1, NULL),
			wlb_cost_p2p_us(c, (int64_t)x, 0, NULL),
		};
		for (int i = 0; i < 6; i++) {
			bad += t[i] < prev[i] - 1e-9;
			prev[i] = t[i];
		}
	}
	CHECK_EQ(bad, 0);
	wlb_cost_destroy(c);

	test_cost_grid();

	/* no device row: refused */
	memset(&d, 0, sizeof d);
	CHECK(wlb_cost_from_data(&c, &d, "empty.db", &err) < 0);
	CHECK_STR_HAS(err.msg, "empty.db");
}
