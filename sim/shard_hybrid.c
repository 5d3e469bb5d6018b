/* shard_hybrid.c — hybrid CP sharding: per micro-batch, some documents kept
 * whole in per-seq's zig-zag chunks, the rest cut per document.
 *
 * A candidate marks the documents it keeps whole.  The cut ones are dealt as
 * per-doc deals them (2·cp chunks each, the remainder tokens round-robin from
 * a pointer that starts at slot 0 and carries across them, in sequence
 * order), so slot j holds C_j = floor(T_C / 2cp) + (j < T_C mod 2cp) of
 * their T_C tokens.  The whole ones are concatenated in sequence order and
 * cut into 2·cp consecutive chunks, chunk j being S - C_j long where S is
 * per-seq's chunk (the micro-batch's tokens over 2cp, rounded up), so that
 * every slot holds S tokens with the padding at the end, as in per-seq.  Rank r
 * holds slots r and 2cp-1-r.  Keeping none whole is per-doc, keeping all is
 * per-seq.
 *
 * Candidates keep the k shortest documents whole (short documents cut per
 * document cost whole tiles for few queries; long ones kept whole unbalance
 * the ranks): every k when there are few documents, else k and n - k over
 * powers of two and 1.5 times them, then a local search around the best k
 * with halving steps. */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "shard_int.h"

enum { HYBRID_ALL_K = 16, HYBRID_REFINE = 24 };

/* Remainder tokens of a cut document (pointer ptr, rem of them) that land in
 * slots [0, j): the slots ptr .. ptr+rem-1, cyclic. */
static uint32_t extras_before(uint32_t j, uint32_t ptr, uint32_t rem, uint32_t slots)
{
	uint32_t end = ptr + rem, a = end < slots ? end : slots, t = 0;
	if (j > ptr)
		t += (j < a ? j : a) - ptr;
	if (end > slots)
		t += j < end - slots ? j : end - slots;
	return t;
}

/* The candidate whose whole documents are s->whole[i] != 0, into s->alt. */
static int build(struct wlb_sharding *s, const struct wlb_doc *docs, size_t n, uint64_t total)
{
	struct wlb_layout_out l = {&s->alt.pieces, &s->alt.cap, 0, s->alt.start, s->alt.tokens};
	uint32_t slots = 2u * (uint32_t)s->cp, ptr = 0, n_cut = 0;
	uint64_t S = (total + slots - 1) / slots, tw = 0, tc = 0;
	size_t nw = 0;

	for (size_t i = 0; i < n; i++) {
		if (s->whole[i]) {
			s->wdocs[nw] = docs[i];
			s->wstart[nw++] = tw;
			tw += docs[i].len;
		} else {
			s->ptr[i] = ptr;
			ptr = (ptr + docs[i].len % slots) % slots;
			tc += docs[i].len;
			n_cut++;
		}
	}
	uint64_t cbase = tc / slots, crem = tc % slots;
	for (uint32_t r = 0; r < (uint32_t)s->cp; r++) {
		uint32_t pair[2] = {r, slots - 1 - r};
		l.start[r] = l.n;
		l.tokens[r] = 0;
		for (int h = 0; h < 2; h++) {
			uint64_t j = pair[h], a = j * S - (j * cbase + (j < crem ? j : crem));
			uint64_t b = a + S - (cbase + (j < crem));
			if (wlb_layout_seq_chunk(&l, s->wdocs, s->wstart, nw, a, b, &l.tokens[r]))
				return WLB_ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			if (s->whole[i])
				continue;
			uint32_t len = docs[i].len, base = len / slots, rem = len % slots;
			for (int h = 0; h < 2; h++) {
				uint32_t j = pair[h], e0 = extras_before(j, s->ptr[i], rem, slots);
				uint32_t q = base + extras_before(j + 1, s->ptr[i], rem, slots) - e0;
				uint32_t at = j * base + e0;
				if (wlb_layout_put(&l, docs[i].id, q, at + q))
					return WLB_ENOMEM;
				l.tokens[r] += q;
			}
		}
	}
	l.start[s->cp] = l.n;
	s->alt.n = l.n;
	s->alt.n_cut = n_cut;
	return 0;
}

static int by_len(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

struct search {
	struct wlb_sharding *s;
	const struct wlb_doc *docs;
	size_t n;
	uint64_t total;
	const struct wlb_shard_estimate *est;
	double best;     /* the best candidate's estimate, in s->hyb */
	size_t best_k;   /* 0: none yet */
};

/* Builds and weighs the candidate keeping the k shortest whole; keeps it in
 * s->hyb when strictly better than the best so far. */
static int try_k(struct search *x, size_t k)
{
	struct wlb_sharding *s = x->s;
	double c;
	int rc;

	if (k == 0 || k >= x->n || k == x->best_k)
		return 0;
	memset(s->whole, 0, x->n);
	for (size_t i = 0; i < k; i++)
		s->whole[s->by_len[i] & 0xffffffffu] = 1;
	if ((rc = build(s, x->docs, x->n, x->total)) ||
	    (rc = wlb_layout_cost(s, x->est, s->alt.pieces, s->alt.start, s->alt.cost, s->alt.src, &c)))
		return rc;
	if (c < x->best) {
		struct wlb_shard_buf t = s->alt;
		s->alt = s->hyb;
		s->hyb = t;
		x->best = c;
		x->best_k = k;
	}
	return 0;
}

int wlb_shard_hybrid(struct wlb_sharding *s, const struct wlb_doc *docs, size_t n, uint64_t total,
		     const struct wlb_shard_estimate *est, double best)
{
	struct search x = {s, docs, n, total, est, best, 0};
	size_t cells = (size_t)s->cp * (size_t)s->cp;
	int rc = 0;

	if (n < 2)
		return 0;
	if (WLB_GROW(s->by_len, s->cap_by_len, n) || WLB_GROW(s->whole, s->cap_whole, n) ||
	    WLB_GROW(s->wdocs, s->cap_wdocs, n) || WLB_GROW(s->wstart, s->cap_wstart, n) ||
	    WLB_GROW(s->ptr, s->cap_ptr, n) ||
	    (s->ring && WLB_GROW(s->hyb.src, s->hyb.cap_src, cells)))
		return WLB_ENOMEM;
	/* by length, then position: the k shortest are by_len[0..k) */
	for (size_t i = 0; i < n; i++)
		s->by_len[i] = (uint64_t)docs[i].len << 32 | (uint64_t)i;
	qsort(s->by_len, n, sizeof *s->by_len, by_len);

	if (n <= HYBRID_ALL_K) {
		for (size_t k = 1; k < n && !rc; k++)
			rc = try_k(&x, k);
	} else {
		for (size_t p = 1; p < n && !rc; p *= 2) {
			size_t q = p + p / 2;
			rc = try_k(&x, p) || try_k(&x, n - p) || try_k(&x, q) || (q < n && try_k(&x, n - q));
		}
		/* local search around the best, halving the step */
		size_t k = x.best_k, step = k ? (k < n - k ? k : n - k) / 4 : 0;
		for (int it = 0; step > 0 && it < HYBRID_REFINE && !rc; it++) {
			size_t before = x.best_k;
			rc = (step < k && try_k(&x, k - step)) || try_k(&x, k + step);
			if (x.best_k == before)
				step /= 2;
			k = x.best_k;
		}
	}
	if (rc)
		return WLB_ENOMEM;
	if (x.best_k) {
		wlb_layout_swap(s, &s->hyb);
		s->used = WLB_SHARD_HYBRID;
	}
	return 0;
}
