/* test_lenstats.c — the two-pass length statistics against a full sort and
 * GSL's quantile, mean and standard deviation. */
#include <stdint.h>
#include <stdlib.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "lenstats.h"
#include "test.h"

void test_lenstats(void);

/* lengths spread over several 16-bit buckets and many equal values */
static void check_against_sort(size_t n, uint64_t seed, uint32_t spread)
{
	static const double qs[] = {0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.999, 1};
	enum { NQ = sizeof qs / sizeof qs[0] };
	uint32_t *v = malloc(n * sizeof *v);
	double *d = malloc(n * sizeof *d), above = 0, tok = 0, bin_tok = 0;
	struct wlb_lenstats s;
	struct wlb_error e;
	size_t bin_docs = 0;

	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		v[i] = 1 + (uint32_t)((seed >> 33) % spread);
		d[i] = v[i];
		tok += v[i];
		above += v[i] > 32768 ? v[i] : 0;
		if (v[i] >= 4096 && v[i] < 8192) {
			bin_docs++;
			bin_tok += v[i];
		}
	}
	CHECK_EQ(wlb_lenstats(v, n, qs, NQ, &s, &e), 0);
	gsl_sort(d, 1, n);
	CHECK_EQ(s.n, n);
	CHECK_EQ(s.min, d[0]);
	CHECK_EQ(s.max, d[n - 1]);
	CHECK_NEAR(s.tokens, tok, 0);
	CHECK_REL(s.mean, gsl_stats_mean(d, 1, n), 1e-12);
	CHECK_REL(s.sd, n > 1 ? gsl_stats_sd(d, 1, n) : 0, 1e-9);
	for (int k = 0; k < NQ; k++)
		CHECK_NEAR(s.q[k], gsl_stats_quantile_from_sorted_data(d, 1, n, qs[k]), 1e-9);
	CHECK_NEAR(s.above[1], above, 0);
	CHECK_EQ(s.bin_docs[12], bin_docs);
	CHECK_NEAR(s.bin_tokens[12], bin_tok, 0);
	free(v);
	free(d);
}

void test_lenstats(void)
{
	struct wlb_lenstats s;
	struct wlb_error e;

	check_against_sort(1, 1, 100);
	check_against_sort(2, 2, 100);
	check_against_sort(1001, 3, 50);          /* one bucket, many ties */
	check_against_sort(100000, 4, 300000);    /* five buckets */
	check_against_sort(54321, 5, 4000000000u); /* most buckets */

	/* by hand, sorted 1 2 4 8192: the median (2 + 4) / 2, the 90th
	 * percentile at index 2.7, 4 + 0.7 x 8188; a length equal to a cut is
	 * not above it */
	static const uint32_t v[] = {4, 8192, 2, 1};
	static const double qs[] = {0.5, 0.9};
	CHECK_EQ(wlb_lenstats(v, 4, qs, 2, &s, &e), 0);
	CHECK_NEAR(s.q[0], 3, 1e-12);
	CHECK_NEAR(s.q[1], 4 + 0.7 * 8188, 1e-9);
	CHECK_NEAR(s.above[0], 0, 0);
	CHECK_EQ(s.bin_docs[13], 1);
	CHECK(wlb_lenstats(v, 0, qs, 2, &s, &e) < 0);
	static const double bad[] = {1.5};
	CHECK(wlb_lenstats(v, 4, bad, 1, &s, &e) < 0);
	CHECK_STR_HAS(e.msg, "quantile 1.5 outside [0, 1]");
}
