/* test_cost.c — the estimation library on hand-made samples: exact hits,
 * hand-computed interpolation, extrapolation flagged and counted,
 * monotonicity, source priority. */
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

	/* no device row: refused */
	memset(&d, 0, sizeof d);
	CHECK(wlb_cost_from_data(&c, &d, "empty.db", &err) < 0);
	CHECK_STR_HAS(err.msg, "empty.db");
}
