/* lenstats.c — length statistics in two passes over the lengths. */
#include "lenstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t cuts[4] = {8192, 32768, 65536, 131072};

static int log2u(uint32_t x)
{
	int b = 0;
	for (int k = 16; k > 0; k /= 2)
		if (x >> k) {
			x >>= k;
			b += k;
		}
	return b;
}

/* Exact order statistics: the high-half histogram of every length, and the
 * low-half histograms of the few buckets the quantiles fall in. */
struct select {
	size_t *hi;              /* 65536 counts of x >> 16 */
	signed char *slot;       /* 65536: the low histogram of a bucket, or -1 */
	size_t *lo;              /* nslot x 65536 counts of x & 0xffff */
	int nslot;
};

/* The bucket holding rank and the rank inside it. */
static uint32_t bucket_of(const size_t *hi, size_t rank, size_t *inside)
{
	size_t below = 0;
	uint32_t b = 0;

	while (below + hi[b] <= rank)
		below += hi[b++];
	*inside = rank - below;
	return b;
}

/* The rank-th smallest length (0-based). */
static uint32_t value_at(const struct select *s, size_t rank)
{
	size_t inside, below = 0;
	uint32_t b = bucket_of(s->hi, rank, &inside), lo = 0;
	const size_t *h = s->lo + (size_t)s->slot[b] * 65536;

	while (below + h[lo] <= inside)
		below += h[lo++];
	return b << 16 | lo;
}

int wlb_lenstats(const uint32_t *lens, size_t n, const double *qs, int nq, struct wlb_lenstats *s,
		 struct wlb_error *err)
{
	struct select sel = {0};
	double sum = 0, var = 0;
	int rc = 0;

	memset(s, 0, sizeof *s);
	if (n == 0 || nq < 0 || nq > WLB_LENSTATS_MAX_Q)
		return wlb_error_set(err, WLB_EINVAL, "length statistics need lengths and at most %d "
				     "quantiles", WLB_LENSTATS_MAX_Q);
	for (int k = 0; k < nq; k++)
		if (!(qs[k] >= 0 && qs[k] <= 1))
			return wlb_error_set(err, WLB_EINVAL, "quantile %g outside [0, 1]", qs[k]);
	sel.hi = calloc(65536, sizeof *sel.hi);
	sel.slot = malloc(65536);
	if (!sel.hi || !sel.slot) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto done;
	}
	s->n = n;
	s->min = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = lens[i];
		int b = log2u(x);
		sum += x;
		s->min = x < s->min ? x : s->min;
		s->max = x > s->max ? x : s->max;
		sel.hi[x >> 16]++;
		s->bin_docs[b]++;
		s->bin_tokens[b] += x;
		for (int k = 0; k < 4; k++)
			if (x > cuts[k])
				s->above[k] += x;
	}
	s->tokens = sum;
	s->mean = sum / (double)n;
	/* a low-half histogram for each bucket holding a rank a quantile reads */
	memset(sel.slot, -1, 65536);
	for (int k = 0; k < nq; k++) {
		size_t lhs = (size_t)(qs[k] * (double)(n - 1)), inside;
		for (size_t r = lhs; r <= lhs + 1 && r < n; r++) {
			uint32_t b = bucket_of(sel.hi, r, &inside);
			if (sel.slot[b] < 0)
				sel.slot[b] = (signed char)sel.nslot++;
		}
	}
	sel.lo = calloc((size_t)(sel.nslot ? sel.nslot : 1) * 65536, sizeof *sel.lo);
	if (!sel.lo) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t x = lens[i];
		int sl = sel.slot[x >> 16];
		double d = x - s->mean;
		var += d * d;
		if (sl >= 0)
			sel.lo[(size_t)sl * 65536 + (x & 0xffff)]++;
	}
	s->sd = n > 1 ? sqrt(var / (double)(n - 1)) : 0;
	for (int k = 0; k < nq; k++) {
		double idx = qs[k] * (double)(n - 1);
		size_t lhs = (size_t)idx;
		double delta = idx - (double)lhs, a = value_at(&sel, lhs);
		s->q[k] = lhs + 1 < n ? (1 - delta) * a + delta * value_at(&sel, lhs + 1) : a;
	}
done:
	free(sel.hi);
	free(sel.slot);
	free(sel.lo);
	return rc;
}
