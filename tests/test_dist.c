/* test_dist.c — distribution presets against the statistics of
 * ../shared/doclen/README.md, and truncation against closed forms. */
#include <stdlib.h>

#include "docs.h"
#include "test.h"

void test_dist(void);

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* token share of documents longer than cut, in percent */
static double share_above(const uint32_t *v, size_t n, uint32_t cut)
{
	double all = 0, above = 0;
	for (size_t i = 0; i < n; i++) {
		all += v[i];
		if (v[i] > cut)
			above += v[i];
	}
	return 100 * above / all;
}

void test_dist(void)
{
	enum { N = 400000 };
	uint32_t *v = malloc(N * sizeof *v);
	struct wlb_dist d;
	struct wlb_error err;

	/* wlb128k: tokens > 8K / 32K / 64K ~ 24 / 16.7 / 13.3 %, median ~ 2.1K */
	CHECK_EQ(wlb_dist_preset("wlb128k", &d, &err), 0);
	CHECK_EQ(wlb_dist_sample_n(&d, 1, v, N, &err), 0);
	CHECK_NEAR(share_above(v, N, 8192), 24.0, 1.5);
	CHECK_NEAR(share_above(v, N, 32768), 16.7, 1.5);
	CHECK_NEAR(share_above(v, N, 65536), 13.3, 1.5);
	qsort(v, N, sizeof *v, cmp_u32);
	CHECK_NEAR(v[N / 2], 2100, 150);
	CHECK(v[N - 1] <= 131072);

	/* prolong64k: tokens > 8K / 32K / 64K / 128K ~ 27.8 / 6.6 / 3.1 / 1.4 % */
	CHECK_EQ(wlb_dist_preset("prolong64k", &d, &err), 0);
	CHECK_EQ(wlb_dist_sample_n(&d, 2, v, N, &err), 0);
	CHECK_NEAR(share_above(v, N, 8192), 27.8, 1.5);
	CHECK_NEAR(share_above(v, N, 32768), 6.6, 1.0);

	/* bytescale: ~1 % of documents >= 128K carry ~45 % of tokens */
	CHECK_EQ(wlb_dist_preset("bytescale", &d, &err), 0);
	CHECK_EQ(wlb_dist_sample_n(&d, 3, v, N, &err), 0);
	CHECK_NEAR(share_above(v, N, 131071), 45.0, 4.0);

	/* closed forms: uniform[100, 300] has mean 200; a point mass is exact;
	 * truncation keeps every draw in [min, max] */
	d = (struct wlb_dist){2, {{1, WLB_DIST_UNIFORM, 100, 300, 0, 0},
				  {1, WLB_DIST_POINT, 5000, 0, 0, 0}}};
	CHECK_EQ(wlb_dist_check(&d, &err), 0);
	/* mass up to a length, by hand: half the weight is uniform on [100,
	 * 300], half a point at 5000 */
	CHECK_NEAR(wlb_dist_mass_upto(&d, 50), 0.0, 1e-12);
	CHECK_NEAR(wlb_dist_mass_upto(&d, 150), 0.5 * 0.25, 1e-12);
	CHECK_NEAR(wlb_dist_mass_upto(&d, 4999), 0.5, 1e-12);
	CHECK_NEAR(wlb_dist_mass_upto(&d, 5000), 1.0, 1e-12);
	CHECK_EQ(wlb_dist_sample_n(&d, 4, v, N, &err), 0);
	double su = 0, nu = 0;
	int other = 0;
	for (int i = 0; i < N; i++) {
		if (v[i] == 5000)
			continue;
		other += v[i] < 100 || v[i] > 300;
		su += v[i];
		nu++;
	}
	CHECK_EQ(other, 0);
	CHECK_NEAR(su / nu, 200, 0.5);
	CHECK_NEAR(nu / N, 0.5, 0.005);
	d = (struct wlb_dist){1, {{1, WLB_DIST_LOGNORMAL, 7.0, 2.0, 500, 900}}};
	CHECK_EQ(wlb_dist_sample_n(&d, 5, v, 10000, &err), 0);
	other = 0;
	for (int i = 0; i < 10000; i++)
		other += v[i] < 500 || v[i] > 900;
	CHECK_EQ(other, 0);

	/* bad distributions are refused with the key named */
	d = (struct wlb_dist){1, {{0, WLB_DIST_POINT, 5, 0, 0, 0}}};
	CHECK(wlb_dist_check(&d, &err) < 0);
	CHECK_STR_HAS(err.msg, "mixture[0].weight must be positive");
	d = (struct wlb_dist){1, {{1, WLB_DIST_PARETO, 8192, 1.1, 0, 4096}}};
	CHECK(wlb_dist_check(&d, &err) < 0);
	CHECK_STR_HAS(err.msg, "no probability");
	d = (struct wlb_dist){1, {{1, WLB_DIST_UNIFORM, 10, 5, 0, 0}}};
	CHECK(wlb_dist_check(&d, &err) < 0);
	CHECK_STR_HAS(err.msg, "uniform");
	CHECK(wlb_dist_preset("nope", &d, &err) < 0);
	CHECK_STR_HAS(err.msg, "wlb128k");
	/* a lognormal with mu 1e300 has no mass below any context: the trace
	 * check refuses it (tests/cli.sh) */
	d = (struct wlb_dist){1, {{1, WLB_DIST_LOGNORMAL, 1e300, 1, 0, 0}}};
	CHECK_EQ(wlb_dist_check(&d, &err), 0);
	CHECK_NEAR(wlb_dist_mass_upto(&d, 131072), 0.0, 0);
	/* truncated to [1000, 2000]: all of it below 2000, a quarter below
	 * 1250 of a uniform */
	d = (struct wlb_dist){1, {{1, WLB_DIST_UNIFORM, 0, 4000, 1000, 2000}}};
	CHECK_NEAR(wlb_dist_mass_upto(&d, 2000), 1.0, 1e-12);
	CHECK_NEAR(wlb_dist_mass_upto(&d, 1250), 0.25, 1e-12);
	free(v);
}
