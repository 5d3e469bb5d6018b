/* lenstats.c — length statistics from one pass over the lengths (a second,
 * over the lengths of 64K tokens or more only, when a quantile falls there).
 *
 * Lengths below 2^16 are counted exactly, one counter per value; longer ones
 * per 2^16-wide bucket, with the bucket's token sum.  Every statistic but a
 * quantile inside a long bucket follows from those counters; such a quantile
 * takes a low-half histogram of its bucket, filled by the second pass. */
#include "lenstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { H = 65536 };

static const uint32_t cuts[4] = {8192, 32768, 65536, 131072};

struct counts {
	uint64_t *small;     /* H: documents of each length below H */
	uint64_t *big;       /* H: documents of length in [j H, (j + 1) H), j >= 1 */
	uint64_t *big_tok;   /* H: their tokens */
	signed char *slot;   /* H: bucket j's low-half histogram in lo, or -1 */
	uint64_t *lo;        /* nslot x H */
	int nslot;
	size_t n_small;      /* documents below H: bucket 0 */
};

static uint64_t in_bucket(const struct counts *c, uint32_t j)
{
	return j ? c->big[j] : c->n_small;
}

/* The bucket holding rank (0-based, sorted order) and the rank inside it. */
static uint32_t bucket_of(const struct counts *c, size_t rank, size_t *inside)
{
	size_t below = 0;
	uint32_t j = 0;

	while (below + in_bucket(c, j) <= rank)
		below += in_bucket(c, j++);
	*inside = rank - below;
	return j;
}

/* The rank-th smallest length. */
static uint32_t value_at(const struct counts *c, size_t rank)
{
	size_t inside, below = 0;
	uint32_t j = bucket_of(c, rank, &inside), x = 0;
	const uint64_t *h = j ? c->lo + (size_t)c->slot[j] * H : c->small;

	while (below + h[x] <= inside)
		below += h[x++];
	return j << 16 | x;
}

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

/* The derived figures: bins, tokens above the cuts. */
static void derive(const struct counts *c, const uint64_t *eq, struct wlb_lenstats *s)
{
	for (uint32_t x = 1; x < H; x++) {
		int b = log2u(x);
		s->bin_docs[b] += c->small[x];
		s->bin_tokens[b] += (double)(c->small[x] * x);
	}
	for (uint32_t j = 1; j < H; j++) {
		int b = 16 + log2u(j); /* a bucket lies inside one bin */
		s->bin_docs[b] += c->big[j];
		s->bin_tokens[b] += (double)c->big_tok[j];
	}
	for (int k = 0; k < 4; k++) {
		uint64_t a = 0;
		for (uint32_t x = cuts[k] + 1; x < H; x++)
			a += c->small[x] * x;
		for (uint32_t j = cuts[k] >> 16 ? cuts[k] >> 16 : 1; j < H; j++)
			a += c->big_tok[j];
		/* a cut of 64K or more opens its bucket: lengths equal to it are not longer */
		if (cuts[k] >= H)
			a -= eq[k] * cuts[k];
		s->above[k] = (double)a;
	}
}

int wlb_lenstats(const uint32_t *lens, size_t n, const double *qs, int nq, struct wlb_lenstats *s,
		 struct wlb_error *err)
{
	struct counts c = {0};
	uint64_t sum = 0, sq_lo = 0, sq_hi = 0, eq[4] = {0};
	uint32_t lo = UINT32_MAX, hi = 0;
	int rc = 0;

	memset(s, 0, sizeof *s);
	if (n == 0 || n > (size_t)UINT32_MAX + 1 || nq < 0 || nq > WLB_LENSTATS_MAX_Q)
		return wlb_error_set(err, WLB_EINVAL, "length statistics need 1 to 2^32 lengths and at "
				     "most %d quantiles", WLB_LENSTATS_MAX_Q);
	for (int k = 0; k < nq; k++)
		if (!(qs[k] >= 0 && qs[k] <= 1))
			return wlb_error_set(err, WLB_EINVAL, "quantile %g outside [0, 1]", qs[k]);
	c.small = calloc(H, sizeof *c.small);
	c.big = calloc(H, sizeof *c.big);
	c.big_tok = calloc(H, sizeof *c.big_tok);
	c.slot = malloc(H);
	if (!c.small || !c.big || !c.big_tok || !c.slot) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto done;
	}
	/* integer sums, exact: n <= 2^32 lengths below 2^32; the sum of squares
	 * in two 64-bit halves */
	for (size_t i = 0; i < n; i++) {
		uint32_t x = lens[i];
		uint64_t sq = (uint64_t)x * x;
		sum += x;
		sq_lo += sq;
		sq_hi += sq_lo < sq;
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
		if (x < H) {
			c.small[x]++;
		} else {
			c.big[x >> 16]++;
			c.big_tok[x >> 16] += x;
			eq[2] += x == cuts[2];
			eq[3] += x == cuts[3];
		}
	}
	for (uint32_t x = 0; x < H; x++)
		c.n_small += c.small[x];
	s->n = n;
	s->min = lo;
	s->max = hi;
	s->tokens = (double)sum;
	s->mean = (double)sum / (double)n;
	if (n > 1) {
		double ssq = ldexp((double)sq_hi, 64) + (double)sq_lo;
		double var = (ssq - (double)sum * s->mean) / (double)(n - 1);
		s->sd = var > 0 ? sqrt(var) : 0;
	}
	derive(&c, eq, s);

	/* a low-half histogram for each long bucket a quantile reads */
	memset(c.slot, -1, H);
	for (int k = 0; k < nq; k++) {
		size_t r0 = (size_t)(qs[k] * (double)(n - 1)), inside;
		for (size_t r = r0; r <= r0 + 1 && r < n; r++) {
			uint32_t j = bucket_of(&c, r, &inside);
			if (j && c.slot[j] < 0)
				c.slot[j] = (signed char)c.nslot++;
		}
	}
	if (c.nslot) {
		c.lo = calloc((size_t)c.nslot * H, sizeof *c.lo);
		if (!c.lo) {
			rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < n; i++) {
			uint32_t x = lens[i];
			if (x >= H && c.slot[x >> 16] >= 0)
				c.lo[(size_t)c.slot[x >> 16] * H + (x & (H - 1))]++;
		}
	}
	for (int k = 0; k < nq; k++) {
		double idx = qs[k] * (double)(n - 1);
		size_t r0 = (size_t)idx;
		double delta = idx - (double)r0, a = value_at(&c, r0);
		/* as gsl_stats_quantile_from_sorted_data interpolates */
		s->q[k] = r0 + 1 < n ? (1 - delta) * a + delta * value_at(&c, r0 + 1) : a;
	}
done:
	free(c.small);
	free(c.big);
	free(c.big_tok);
	free(c.slot);
	free(c.lo);
	return rc;
}
