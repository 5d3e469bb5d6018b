/* lenstats.h — the statistics of a set of document lengths that `wlb-trace
 * stats` prints, in O(n) time and O(1) extra memory in n: exact quantiles
 * from 16-bit histograms instead of a sort, so that 100M lengths take a
 * fraction of a second. */
#ifndef WLB_LENSTATS_H
#define WLB_LENSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define WLB_LENSTATS_MAX_Q 16

struct wlb_lenstats {
	size_t n;
	double tokens;
	double mean, sd;          /* sd with the n - 1 denominator (0 for one length) */
	uint32_t min, max;
	double q[WLB_LENSTATS_MAX_Q]; /* as gsl_stats_quantile_from_sorted_data on the sorted lengths */
	double above[4];          /* tokens in documents longer than 8K, 32K, 64K, 128K */
	size_t bin_docs[32];      /* documents of length in [2^b, 2^(b+1)) */
	double bin_tokens[32];
};

/* Fills *s from lens[0..n) (n >= 1, every length >= 1) and the nq quantile
 * fractions qs (each in [0, 1], nq <= WLB_LENSTATS_MAX_Q). */
int wlb_lenstats(const uint32_t *lens, size_t n, const double *qs, int nq, struct wlb_lenstats *s,
		 struct wlb_error *err);

#endif
