/* order.c — placing a micro-batch's long documents for the per-seq zig-zag split. */
#include "order.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grow.h"

static const char *const names[] = {"stream", "zigzag"};

int wlb_doc_order_parse(const char *name, enum wlb_doc_order *out)
{
	for (int k = 0; k < 2; k++)
		if (!strcmp(name, names[k])) {
			*out = (enum wlb_doc_order)k;
			return 0;
		}
	return WLB_EINVAL;
}

const char *wlb_doc_order_name(enum wlb_doc_order o)
{
	return (unsigned)o < 2 ? names[o] : "?";
}

void wlb_order_scratch_free(struct wlb_order_scratch *s)
{
	free(s->rank_pairs);
	free(s->best);
	memset(s, 0, sizeof *s);
}

/* The chunk per-seq sharding cuts (shard.c): total tokens over 2cp, rounded up. */
static uint64_t chunk_of(const struct wlb_doc *docs, size_t n, int cp)
{
	uint64_t total = 0, slots = 2u * (uint64_t)cp;
	for (size_t i = 0; i < n; i++)
		total += docs[i].len;
	return (total + slots - 1) / slots;
}

/* Adds sign x the causal pairs of a document of len tokens starting at token
 * at of the sequence to the ranks holding its rows.  Rows x0 .. x1-1 of a
 * document attend to 1 .. x1 keys: (x1 - x0)(x1 + x0 + 1) / 2 pairs. */
static void add_doc(int64_t *pairs, uint64_t at, uint32_t len, uint64_t chunk, int cp, int sign)
{
	uint64_t end = at + len;
	for (uint64_t c = at / chunk; c * chunk < end; c++) {
		uint64_t lo = c * chunk > at ? c * chunk : at;
		uint64_t hi = (c + 1) * chunk < end ? (c + 1) * chunk : end;
		int64_t x0 = (int64_t)(lo - at), x1 = (int64_t)(hi - at);
		int r = c < (uint64_t)cp ? (int)c : (int)(2 * (uint64_t)cp - 1 - c);
		pairs[r] += sign * ((x1 - x0) * (x1 + x0 + 1) / 2);
	}
}

static void rank_pairs(const struct wlb_doc *docs, size_t n, int cp, uint64_t chunk, int64_t *pairs)
{
	uint64_t at = 0;

	memset(pairs, 0, (size_t)cp * sizeof *pairs);
	if (chunk == 0)
		return;
	for (size_t i = 0; i < n; at += docs[i++].len)
		add_doc(pairs, at, docs[i].len, chunk, cp, 1);
}

void wlb_order_rank_pairs(const struct wlb_doc *docs, size_t n, int cp, int64_t *pairs)
{
	rank_pairs(docs, n, cp, chunk_of(docs, n, cp), pairs);
}

static int64_t busiest(const int64_t *pairs, int cp)
{
	int64_t mx = pairs[0];
	for (int r = 1; r < cp; r++)
		if (pairs[r] > mx)
			mx = pairs[r];
	return mx;
}

/* Index of the k-th longest document (ties: the earlier), skipping taken. */
static size_t kth_longest(const struct wlb_doc *docs, size_t n, const uint32_t *taken, int k)
{
	size_t best = n;
	for (size_t i = 0; i < n; i++) {
		int skip = 0;
		for (int t = 0; t < k; t++)
			skip |= taken[t] == docs[i].id;
		if (!skip && (best == n || docs[i].len > docs[best].len))
			best = i;
	}
	return best;
}

/* Moves docs[j] to where the busiest rank does the least.  The document
 * steps from the front to the back one neighbour at a time; a step changes
 * the places of just the two documents it swaps. */
static void move_best(struct wlb_doc *docs, size_t n, size_t j, int cp, uint64_t chunk,
		      struct wlb_order_scratch *s)
{
	struct wlb_doc d = docs[j];
	uint64_t at = 0;
	size_t best = j;

	memmove(docs + 1, docs, j * sizeof *docs);
	docs[0] = d;
	rank_pairs(docs, n, cp, chunk, s->rank_pairs);
	s->best[0] = busiest(s->rank_pairs, cp);
	for (size_t k = 0; k + 1 < n; k++) {
		struct wlb_doc next = docs[k + 1];
		add_doc(s->rank_pairs, at, d.len, chunk, cp, -1);
		add_doc(s->rank_pairs, at + d.len, next.len, chunk, cp, -1);
		add_doc(s->rank_pairs, at, next.len, chunk, cp, 1);
		add_doc(s->rank_pairs, at + next.len, d.len, chunk, cp, 1);
		docs[k] = next;
		docs[k + 1] = d;
		at += next.len;
		s->best[k + 1] = busiest(s->rank_pairs, cp);
	}
	for (size_t k = 0; k < n; k++)
		if (s->best[k] < s->best[best])
			best = k;
	/* d is at the back: put it at best */
	memmove(docs + best + 1, docs + best, (n - 1 - best) * sizeof *docs);
	docs[best] = d;
}

int wlb_order_zigzag(struct wlb_doc *docs, size_t n, int cp, struct wlb_order_scratch *s)
{
	uint32_t taken[WLB_ORDER_MOVES];
	uint64_t chunk;

	if (cp < 2 || n < 2)
		return 0;
	if (WLB_GROW(s->rank_pairs, s->cap_rank, (size_t)cp) || WLB_GROW(s->best, s->cap_best, n))
		return WLB_ENOMEM;
	chunk = chunk_of(docs, n, cp);
	for (int k = 0; k < WLB_ORDER_MOVES && (size_t)k < n; k++) {
		size_t j = kth_longest(docs, n, taken, k);
		if (4 * (uint64_t)docs[j].len <= chunk)
			break;
		taken[k] = docs[j].id;
		move_best(docs, n, j, cp, chunk, s);
	}
	return 0;
}
