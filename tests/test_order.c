/* test_order.c — document order inside a micro-batch for the per-seq split:
 * rank pairs against the sharder, hand-worked moves, one move against a brute
 * force over every place, properties over random micro-batches, scratch reuse. */
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "shard.h"
#include "test.h"

void test_order(void);

static uint64_t lcg(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x >> 33;
}

static void make_docs(struct wlb_doc *d, const uint32_t *lens, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = (struct wlb_doc){(uint32_t)i, lens[i], 0};
}

/* Every rank's causal pairs counted token by token: the sequence, padded to a
 * multiple of 2cp, is cut into 2cp chunks of ceil(total / 2cp) tokens, rank r
 * owns chunks r and 2cp-1-r; row x of a document sees x + 1 keys. */
static void brute_pairs(const struct wlb_doc *d, size_t n, int cp, int64_t *pairs)
{
	uint64_t total = 0, at = 0, slots = 2 * (uint64_t)cp;
	for (size_t i = 0; i < n; i++)
		total += d[i].len;
	uint64_t chunk = (total + slots - 1) / slots;
	for (int r = 0; r < cp; r++)
		pairs[r] = 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t x = 0; x < d[i].len; x++, at++) {
			uint64_t c = at / chunk;
			int r = c < (uint64_t)cp ? (int)c : (int)(slots - 1 - c);
			pairs[r] += x + 1;
		}
}

static int64_t brute_busiest(const struct wlb_doc *d, size_t n, int cp)
{
	int64_t pairs[64], mx = 0;
	brute_pairs(d, n, cp, pairs);
	for (int r = 0; r < cp; r++)
		mx = pairs[r] > mx ? pairs[r] : mx;
	return mx;
}

static uint64_t chunk_of(const struct wlb_doc *d, size_t n, int cp)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += d[i].len;
	return (total + 2 * (uint64_t)cp - 1) / (2 * (uint64_t)cp);
}

static int by_id(const void *a, const void *b)
{
	uint32_t x = ((const struct wlb_doc *)a)->id, y = ((const struct wlb_doc *)b)->id;
	return (x > y) - (x < y);
}

static int by_len_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x < y) - (x > y);
}

/* wlb_order_rank_pairs is what the per-seq sharder's pieces hold, rank by
 * rank, on random micro-batches (totals mostly not multiples of 2cp). */
static void against_shard(void)
{
	static const int cps[] = {2, 3, 4, 8};
	struct wlb_doc d[32];
	int64_t pairs[8], brute[8];
	int bad_shard = 0, bad_brute = 0, bad_sum = 0, bad_rc = 0, cases = 0, padded = 0;
	uint64_t rng = 7;

	for (int trial = 0; trial < 600; trial++) {
		int cp = cps[trial % 4];
		size_t n = 1 + (size_t)(lcg(&rng) % 20);
		uint64_t total = 0, slots = 2 * (uint64_t)cp;
		int64_t whole = 0, sum = 0;
		struct wlb_sharding s;

		for (size_t i = 0; i < n; i++) {
			uint64_t u = lcg(&rng);
			/* mostly short documents, some long ones, some tiny ones */
			uint32_t len = u % 5 == 0 ? 1 + (uint32_t)(u >> 4) % 6000
				     : u % 5 == 1 ? 1 + (uint32_t)(u >> 4) % 3
						  : 1 + (uint32_t)(u >> 4) % 400;
			d[i] = (struct wlb_doc){(uint32_t)(3 * i + 1), len, (uint32_t)(u % 3)};
			total += len;
		}
		/* every 8th total a multiple of 2cp, the others not */
		if ((trial % 8 == 0) != (total % slots == 0)) {
			uint32_t add = trial % 8 == 0 ? (uint32_t)(slots - total % slots) : 1;
			d[n - 1].len += add;
			total += add;
		}
		padded += total % slots != 0;
		for (size_t i = 0; i < n; i++)
			whole += (int64_t)d[i].len * (d[i].len + 1) / 2;

		wlb_order_rank_pairs(d, n, cp, pairs);
		brute_pairs(d, n, cp, brute);
		wlb_sharding_init(&s, cp);
		bad_rc += wlb_shard(&s, WLB_SHARD_PER_SEQ, d, n, NULL) != 0;
		for (int r = 0; r < cp; r++) {
			bad_shard += (double)pairs[r] != wlb_sharding_rank_pairs(&s, r);
			bad_brute += pairs[r] != brute[r];
			sum += pairs[r];
		}
		bad_sum += sum != whole;
		wlb_sharding_free(&s);
		cases++;
	}
	CHECK_EQ(cases, 600);
	CHECK(padded > 450);
	CHECK_EQ(bad_rc, 0);
	CHECK_EQ(bad_shard, 0);
	CHECK_EQ(bad_brute, 0);
	CHECK_EQ(bad_sum, 0);

	/* fewer tokens than chunks: 3 tokens over cp 8 -> chunks of 1; rows 0, 1, 2
	 * land in chunks 0, 1, 2 -> ranks 0, 1, 2 hold 1, 2, 3 pairs */
	make_docs(d, (uint32_t[]){3}, 1);
	wlb_order_rank_pairs(d, 1, 8, pairs);
	CHECK_EQ(pairs[0], 1);
	CHECK_EQ(pairs[1], 2);
	CHECK_EQ(pairs[2], 3);
	CHECK_EQ(pairs[3] + pairs[4] + pairs[5] + pairs[6] + pairs[7], 0);
	/* documents 6 and 2 over cp 2 (test_shard's example): 6 and 18 */
	make_docs(d, (uint32_t[]){6, 2}, 2);
	wlb_order_rank_pairs(d, 2, 2, pairs);
	CHECK_EQ(pairs[0], 6);
	CHECK_EQ(pairs[1], 18);
	/* padding: 5 tokens over cp 2 -> chunks of 2: rank 0 holds rows 0-1 (3),
	 * rank 1 rows 2-3 (7) and row 4 (5) */
	make_docs(d, (uint32_t[]){5}, 1);
	wlb_order_rank_pairs(d, 1, 2, pairs);
	CHECK_EQ(pairs[0], 3);
	CHECK_EQ(pairs[1], 12);
	/* nothing at all */
	pairs[0] = pairs[1] = 99;
	wlb_order_rank_pairs(d, 0, 2, pairs);
	CHECK_EQ(pairs[0], 0);
	CHECK_EQ(pairs[1], 0);
}

static void check_ids(const struct wlb_doc *d, const uint32_t *want, size_t n, int line)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += d[i].id != want[i];
	if (bad)
		fprintf(stderr, "test_order.c:%d: ids differ\n", line);
	CHECK_EQ(bad, 0);
}

static void hand(void)
{
	struct wlb_order_scratch s = {0};
	struct wlb_doc d[8];
	int64_t p[2];

	/* A = 12 (id 0) and four documents of 1 (ids 1-4) over cp 2: 16 tokens,
	 * chunks of 4; rank 0 holds chunks 0 and 3, rank 1 chunks 1 and 2.
	 * Stream order: A's rows 0-3 | 4-7 | 8-11 fill chunks 0, 1, 2:
	 * 10 | 26 | 42, the four 1s chunk 3: 4.  Rank 0 = 10 + 4 = 14, rank 1 =
	 * 26 + 42 = 68.  Only A moves (4·12 > 4; 4·1 = 4 is not more).  With p of
	 * the 1s before A (sequence 0-based positions p .. p+11):
	 *   p 0: 14 / 68                                           -> 68
	 *   p 1: c0 = 1 + (1+2+3) = 7, c1 = 4+5+6+7 = 22, c2 = 8+..+11 = 38,
	 *        c3 = 12 + 3 = 15: rank 0 = 22, rank 1 = 60         -> 60
	 *   p 2: c0 = 2 + 3 = 5, c1 = 3+..+6 = 18, c2 = 7+..+10 = 34,
	 *        c3 = 11 + 12 + 2 = 25: 30 / 52                     -> 52
	 *   p 3: c0 = 3 + 1 = 4, c1 = 2+..+5 = 14, c2 = 6+..+9 = 30,
	 *        c3 = 10 + 11 + 12 + 1 = 34: 38 / 44                -> 44
	 *   p 4: c0 = 4, c1 = 10, c2 = 26, c3 = 42: 46 / 36          -> 46
	 * so A goes after the third 1: ids 1 2 3 0 4, pairs 38 / 44. */
	make_docs(d, (uint32_t[]){12, 1, 1, 1, 1}, 5);
	wlb_order_rank_pairs(d, 5, 2, p);
	CHECK_EQ(p[0], 14);
	CHECK_EQ(p[1], 68);
	CHECK_EQ(wlb_order_zigzag(d, 5, 2, &s), 0);
	check_ids(d, (uint32_t[]){1, 2, 3, 0, 4}, 5, __LINE__);
	CHECK_EQ(d[3].len, 12);
	wlb_order_rank_pairs(d, 5, 2, p);
	CHECK_EQ(p[0], 38);
	CHECK_EQ(p[1], 44);

	/* A = 12 (id 0), B = 2 (id 1), C = 2 (id 2) over cp 2, chunks of 4: all
	 * three are longer than a quarter chunk (4·2 = 8 > 4), moved A, B, C.
	 * Stream A B C: c0 = 10, c1 = 26, c2 = 42, c3 = 3 + 3: 16 / 68.
	 * A among B C:  A B C -> 68;  B A C: c0 = 3 + (1+2) = 6, c1 = 3+..+6 = 18,
	 *   c2 = 7+..+10 = 34, c3 = 11 + 12 + 3 = 26: 32 / 52 -> 52;
	 *   B C A: c0 = 6, c1 = 10, c2 = 26, c3 = 42: 48 / 36 -> 48.  A to the back.
	 * B among C A: B C A -> 48 (own place), C B A -> 48 (the same lengths),
	 *   C A B -> 52: a tie, B keeps its place.
	 * C among B A: C B A -> 48, B C A -> 48 (own place), B A C -> 52: stays.
	 * Result ids 1 2 0, pairs 48 / 36. */
	make_docs(d, (uint32_t[]){12, 2, 2}, 3);
	wlb_order_rank_pairs(d, 3, 2, p);
	CHECK_EQ(p[0], 16);
	CHECK_EQ(p[1], 68);
	CHECK_EQ(wlb_order_zigzag(d, 3, 2, &s), 0);
	check_ids(d, (uint32_t[]){1, 2, 0}, 3, __LINE__);
	wlb_order_rank_pairs(d, 3, 2, p);
	CHECK_EQ(p[0], 48);
	CHECK_EQ(p[1], 36);

	/* Ties keep the own place.  1 (id 0), 2 (id 1), 3 (id 2) over cp 2: 6
	 * tokens, chunks of 2 (the fourth is padding): rank 0 holds chunk 0, rank 1
	 * chunks 1 and 2.  All three move (4·1 > 2), the 3 first, then the 2, the 1.
	 * Stream 1 2 3: c0 = 1 + 1, c1 = 2 + 1, c2 = 2 + 3: 2 / 8.
	 * 3 among 1 2: 3 1 2: c0 = 1+2, c1 = 3 + 1, c2 = 1+2: 3 / 7;  1 3 2:
	 *   c0 = 1 + 1, c1 = 2+3, c2 = 1+2: 2 / 8;  1 2 3: 8.  -> 3 1 2.
	 * 2 among 3 1: 2 3 1: c0 = 1+2, c1 = 1+2, c2 = 3 + 1: 3 / 7;  3 2 1:
	 *   c0 = 1+2, c1 = 3 + 1, c2 = 2 + 1: 3 / 7;  3 1 2 (own): 7.  Stays.
	 * 1 among 3 2: 1 3 2: 8;  3 1 2 (own): 7;  3 2 1: 7.  Stays.
	 * Result ids 2 0 1, pairs 3 / 7 (the first of the ties would give 2 3 1
	 * first, the last of them 3 2 1 at the end). */
	make_docs(d, (uint32_t[]){1, 2, 3}, 3);
	CHECK_EQ(wlb_order_zigzag(d, 3, 2, &s), 0);
	check_ids(d, (uint32_t[]){2, 0, 1}, 3, __LINE__);
	wlb_order_rank_pairs(d, 3, 2, p);
	CHECK_EQ(p[0], 3);
	CHECK_EQ(p[1], 7);

	/* A quarter chunk exactly does not move: 1 (id 0), 4 (id 1), 11 (id 2)
	 * over cp 2, chunks of 4.  Stream: c0 = 1 + (1+2+3) = 7, c1 = 4 + (1+2+3)
	 * = 10, c2 = 4+..+7 = 22, c3 = 8+..+11 = 38: 45 / 32.
	 * 11 among 1 4: 11 1 4: c0 = 10, c1 = 26, c2 = 9+10+11 + 1 = 31, c3 = 10:
	 *   20 / 57;  1 11 4: c0 = 1 + 6 = 7, c1 = 22, c2 = 38, c3 = 10: 17 / 60;
	 *   1 4 11: 45.  Stays.
	 * 4 among 1 11: 4 1 11: c0 = 10, c1 = 1 + 6 = 7, c2 = 22, c3 = 38: 48 / 29;
	 *   1 4 11: 45;  1 11 4: 60.  Stays.
	 * 1: 4·1 = 4 = the chunk, so it does not move, though 4 11 1 would give
	 * c0 = 10, c1 = 10, c2 = 26, c3 = 30 + 1: 41 / 36, less than 45. */
	make_docs(d, (uint32_t[]){1, 4, 11}, 3);
	CHECK_EQ(wlb_order_zigzag(d, 3, 2, &s), 0);
	check_ids(d, (uint32_t[]){0, 1, 2}, 3, __LINE__);
	wlb_order_rank_pairs(d, 3, 2, p);
	CHECK_EQ(p[0], 45);
	CHECK_EQ(p[1], 32);
	wlb_order_scratch_free(&s);
}

/* One document qualifies (4·len > chunk): it goes to the place, among all n
 * places between the others (kept in order), where the busiest rank has the
 * fewest pairs, brute-forced; its own place when that is one of them. */
static void one_move_brute(struct wlb_order_scratch *s)
{
	static const int cps[] = {2, 3, 4, 8};
	struct wlb_doc d[8], out[8], others[8], arr[8];
	int64_t val[8];
	int bad_setup = 0, bad_place = 0, bad_min = 0, bad_order = 0, bad_tie = 0, bad_rc = 0;
	int moved = 0, cases = 0;
	uint64_t rng = 2024;

	for (int trial = 0; trial < 800; trial++) {
		int cp = cps[trial % 4];
		size_t n = 2 + (size_t)(lcg(&rng) % 6), j = (size_t)(lcg(&rng) % n), m = 0;
		uint32_t big = 200 + (uint32_t)(lcg(&rng) % 3000);
		uint32_t small_max = big / (8 * (uint32_t)cp);

		for (size_t i = 0; i < n; i++) {
			uint32_t len = i == j ? big : 1 + (uint32_t)(lcg(&rng) % small_max);
			d[i] = (struct wlb_doc){(uint32_t)(100 + 7 * i), len, (uint32_t)(lcg(&rng) % 4)};
		}
		uint64_t chunk = chunk_of(d, n, cp);
		int qual = 0;
		for (size_t i = 0; i < n; i++)
			qual += 4 * (uint64_t)d[i].len > chunk;
		bad_setup += qual != 1 || 4 * (uint64_t)big <= chunk;

		for (size_t i = 0; i < n; i++)
			if (i != j)
				others[m++] = d[i];
		int64_t best = INT64_MAX;
		for (size_t p = 0; p < n; p++) {
			memcpy(arr, others, p * sizeof *arr);
			arr[p] = d[j];
			memcpy(arr + p + 1, others + p, (n - 1 - p) * sizeof *arr);
			val[p] = brute_busiest(arr, n, cp);
			best = val[p] < best ? val[p] : best;
		}

		memcpy(out, d, n * sizeof *out);
		bad_rc += wlb_order_zigzag(out, n, cp, s) != 0;
		size_t at = n;
		for (size_t i = 0, k = 0; i < n; i++) {
			if (out[i].id == d[j].id) {
				at = i;
				bad_order += memcmp(&out[i], &d[j], sizeof *out) != 0;
			} else {
				bad_order += k >= m || memcmp(&out[i], &others[k], sizeof *out) != 0;
				k++;
			}
		}
		if (at == n) {
			bad_place++;
			continue;
		}
		bad_min += brute_busiest(out, n, cp) != best || val[at] != best;
		bad_tie += val[j] == best && at != j;
		moved += at != j;
		cases++;
	}
	CHECK_EQ(cases, 800);
	CHECK_EQ(bad_setup, 0);
	CHECK_EQ(bad_rc, 0);
	CHECK_EQ(bad_place, 0);
	CHECK_EQ(bad_order, 0);
	CHECK_EQ(bad_min, 0);
	CHECK_EQ(bad_tie, 0);
	/* the long document moves in most cases, and stays in some */
	CHECK(moved > 400);
	CHECK(moved < 800);
}

/* The whole of wlb_order_zigzag redone by brute force, for documents of
 * distinct lengths: up to WLB_ORDER_MOVES times, the longest document not yet
 * moved, if 4·len > chunk, tries every place between the others (kept in
 * order), each counted token by token, and goes to the one with the least
 * busiest rank, its own place on a tie.  The header leaves open which of
 * several other places that tie it takes, so every such choice is followed:
 * outs gets every order the header allows (*nout of them, at most MAX_OUTS;
 * more sets *nout to -1). */
enum { MAX_DOCS = 16, MAX_OUTS = 64 };

static void ref_zigzag(const struct wlb_doc *d, size_t n, int cp, int k, uint32_t *taken,
		       struct wlb_doc (*outs)[MAX_DOCS], int *nout, int *moves)
{
	struct wlb_doc others[MAX_DOCS], arr[MAX_DOCS];
	int64_t val[MAX_DOCS], best = INT64_MAX;
	size_t j = n, m = 0;

	for (size_t i = 0; i < n && k < WLB_ORDER_MOVES && (size_t)k < n; i++) {
		int t = 0;
		while (t < k && taken[t] != d[i].id)
			t++;
		if (t == k && (j == n || d[i].len > d[j].len))
			j = i;
	}
	if (j == n || 4 * (uint64_t)d[j].len <= chunk_of(d, n, cp)) {
		*moves = k;
		if (*nout >= 0 && *nout < MAX_OUTS)
			memcpy(outs[(*nout)++], d, n * sizeof *d);
		else
			*nout = -1;
		return;
	}
	taken[k] = d[j].id;
	for (size_t i = 0; i < n; i++)
		if (i != j)
			others[m++] = d[i];
	for (size_t p = 0; p < n; p++) {
		memcpy(arr, others, p * sizeof *arr);
		arr[p] = d[j];
		memcpy(arr + p + 1, others + p, (n - 1 - p) * sizeof *arr);
		val[p] = brute_busiest(arr, n, cp);
		best = val[p] < best ? val[p] : best;
	}
	for (size_t p = 0; p < n; p++) {
		if (val[p] != best || (val[j] == best && p != j))
			continue;
		memcpy(arr, others, p * sizeof *arr);
		arr[p] = d[j];
		memcpy(arr + p + 1, others + p, (n - 1 - p) * sizeof *arr);
		ref_zigzag(arr, n, cp, k + 1, taken, outs, nout, moves);
	}
}

/* Random micro-batches of distinct lengths, up to a dozen of them long,
 * against ref_zigzag: one of the orders it allows, exactly. */
static void against_ref(struct wlb_order_scratch *s)
{
	static const int cps[] = {2, 3, 4, 8};
	static struct wlb_doc outs[MAX_OUTS][MAX_DOCS];
	struct wlb_doc d[MAX_DOCS];
	uint32_t taken[WLB_ORDER_MOVES];
	int bad_rc = 0, bad_same = 0, overflow = 0, unique = 0, cases = 0;
	int hist[WLB_ORDER_MOVES + 1] = {0};
	uint64_t rng = 31337;

	for (int trial = 0; trial < 300; trial++) {
		int cp = cps[trial % 4], nout = 0, moves = 0, found = 0;
		size_t n = 2 + (size_t)(lcg(&rng) % (MAX_DOCS - 1));
		uint64_t share = 2 + lcg(&rng) % 5; /* one in share documents long */

		for (size_t i = 0; i < n; i++) {
			uint32_t len;
			int dup;
			do {
				uint64_t u = lcg(&rng);
				len = u % share == 0 ? 100 + (uint32_t)(u >> 3) % 1500
						     : 1 + (uint32_t)(u >> 3) % 80;
				dup = 0;
				for (size_t k = 0; k < i; k++)
					dup |= d[k].len == len;
			} while (dup);
			d[i] = (struct wlb_doc){(uint32_t)(i * 11 % 37), len, (uint32_t)(i % 2)};
		}
		ref_zigzag(d, n, cp, 0, taken, outs, &nout, &moves);
		bad_rc += wlb_order_zigzag(d, n, cp, s) != 0;
		if (nout < 0) {
			overflow++;
			continue;
		}
		for (int o = 0; o < nout; o++)
			found |= memcmp(d, outs[o], n * sizeof *d) == 0;
		bad_same += !found;
		unique += nout == 1;
		hist[moves]++;
		cases++;
	}
	CHECK_EQ(cases + overflow, 300);
	CHECK(cases > 280);
	CHECK(unique > 150);
	CHECK_EQ(bad_rc, 0);
	CHECK_EQ(bad_same, 0);
	/* every number of moves, the cap included, comes up */
	for (int k = 1; k <= WLB_ORDER_MOVES; k++)
		CHECK(hist[k] > 10);
}

/* Random micro-batches with several long documents: a permutation, never a
 * busier busiest rank, documents that cannot move keep their order, the same
 * output from the same input. */
static void properties(struct wlb_order_scratch *s)
{
	static const int cps[] = {2, 3, 4, 8};
	enum { N = 48 };
	struct wlb_doc d[N], out[N], again[N], a[N], b[N];
	uint32_t lens[N], ka[N], kb[N];
	int bad_rc = 0, bad_perm = 0, bad_worse = 0, bad_fixed = 0, bad_det = 0;
	int improved = 0, capped = 0, cases = 0;
	uint64_t rng = 99;

	for (int trial = 0; trial < 400; trial++) {
		int cp = cps[trial % 4];
		size_t n = 2 + (size_t)(lcg(&rng) % (N - 1));
		struct wlb_order_scratch fresh = {0};

		for (size_t i = 0; i < n; i++) {
			uint64_t u = lcg(&rng);
			uint32_t len = u % 4 == 0 ? 300 + (uint32_t)(u >> 3) % 8000
						  : 1 + (uint32_t)(u >> 3) % 300;
			/* ids unique but not increasing with the place */
			d[i] = (struct wlb_doc){(uint32_t)(i * 37 % 101), len, (uint32_t)(u % 5)};
			lens[i] = len;
		}
		memcpy(out, d, n * sizeof *out);
		memcpy(again, d, n * sizeof *out);
		bad_rc += wlb_order_zigzag(out, n, cp, s) != 0;
		bad_rc += wlb_order_zigzag(again, n, cp, &fresh) != 0;
		wlb_order_scratch_free(&fresh);
		bad_det += memcmp(out, again, n * sizeof *out) != 0;

		memcpy(a, d, n * sizeof *a);
		memcpy(b, out, n * sizeof *b);
		qsort(a, n, sizeof *a, by_id);
		qsort(b, n, sizeof *b, by_id);
		bad_perm += memcmp(a, b, n * sizeof *a) != 0;

		int64_t before = brute_busiest(d, n, cp), after = brute_busiest(out, n, cp);
		bad_worse += after > before;
		improved += after < before;

		/* Can move: longer than a quarter chunk and at least as long as the
		 * WLB_ORDER_MOVES-th longest.  The rest keep their relative order. */
		uint64_t chunk = chunk_of(d, n, cp);
		qsort(lens, n, sizeof *lens, by_len_desc);
		uint32_t thr = lens[(n < WLB_ORDER_MOVES ? n : WLB_ORDER_MOVES) - 1];
		size_t na = 0, nb = 0, nq = 0;
		for (size_t i = 0; i < n; i++) {
			nq += 4 * (uint64_t)d[i].len > chunk;
			if (!(4 * (uint64_t)d[i].len > chunk && d[i].len >= thr))
				ka[na++] = d[i].id;
			if (!(4 * (uint64_t)out[i].len > chunk && out[i].len >= thr))
				kb[nb++] = out[i].id;
		}
		bad_fixed += na != nb || memcmp(ka, kb, na * sizeof *ka) != 0;
		capped += nq > WLB_ORDER_MOVES && lens[WLB_ORDER_MOVES] < thr;
		cases++;
	}
	CHECK_EQ(cases, 400);
	CHECK_EQ(bad_rc, 0);
	CHECK_EQ(bad_det, 0);
	CHECK_EQ(bad_perm, 0);
	CHECK_EQ(bad_worse, 0);
	CHECK_EQ(bad_fixed, 0);
	CHECK(improved > 100);
	/* cases where a qualifying document is past the WLB_ORDER_MOVES longest */
	CHECK(capped > 50);

	/* cp 1, and fewer than two documents: untouched */
	struct wlb_order_scratch z = {0};
	make_docs(d, (uint32_t[]){5000, 3, 7, 2000, 1}, 5);
	memcpy(out, d, 5 * sizeof *out);
	CHECK_EQ(wlb_order_zigzag(out, 5, 1, &z), 0);
	CHECK(memcmp(out, d, 5 * sizeof *out) == 0);
	CHECK_EQ(wlb_order_zigzag(out, 1, 4, &z), 0);
	CHECK(memcmp(out, d, 5 * sizeof *out) == 0);
	CHECK_EQ(wlb_order_zigzag(out, 0, 4, &z), 0);
	CHECK(memcmp(out, d, 5 * sizeof *out) == 0);
	/* while with cp 2 the 5000 leaves the front, easing rank 1 */
	CHECK_EQ(wlb_order_zigzag(out, 5, 2, &z), 0);
	CHECK(out[0].id != 0);
	CHECK(brute_busiest(out, 5, 2) < brute_busiest(d, 5, 2));
	wlb_order_scratch_free(&z);
}

/* One scratch through growing (and then shrinking) n and cp gives what a
 * fresh one gives; freeing leaves it empty and reusable. */
static void scratch_reuse(struct wlb_order_scratch *s)
{
	enum { N = 400 };
	struct wlb_doc *d = malloc(N * sizeof *d), *x = malloc(N * sizeof *x),
		       *y = malloc(N * sizeof *y);
	int bad_rc = 0, bad_same = 0, bad_cap = 0, cases = 0;
	uint64_t rng = 5;

	for (int step = 0; step < 60; step++) {
		int grow = step < 40;
		size_t n = grow ? 2 + 9 * (size_t)step : 2 + (size_t)(lcg(&rng) % 50);
		int cp = grow ? 2 + step : 2 + (int)(lcg(&rng) % 6);
		struct wlb_order_scratch fresh = {0};

		for (size_t i = 0; i < n; i++) {
			uint64_t u = lcg(&rng);
			uint32_t len = u % 6 == 0 ? 1000 + (uint32_t)(u >> 3) % 20000
						  : 1 + (uint32_t)(u >> 3) % 500;
			d[i] = (struct wlb_doc){(uint32_t)i, len, 0};
		}
		memcpy(x, d, n * sizeof *x);
		memcpy(y, d, n * sizeof *y);
		bad_rc += wlb_order_zigzag(x, n, cp, s) != 0;
		bad_rc += wlb_order_zigzag(y, n, cp, &fresh) != 0;
		bad_same += memcmp(x, y, n * sizeof *x) != 0;
		bad_cap += s->cap_rank < (size_t)cp || s->cap_best < n;
		wlb_order_scratch_free(&fresh);
		cases++;
	}
	CHECK_EQ(cases, 60);
	CHECK_EQ(bad_rc, 0);
	CHECK_EQ(bad_same, 0);
	CHECK_EQ(bad_cap, 0);

	wlb_order_scratch_free(s);
	CHECK(s->rank_pairs == NULL && s->best == NULL);
	CHECK_EQ(s->cap_rank + s->cap_best, 0);
	/* usable again after freeing, and freeing twice is harmless */
	make_docs(d, (uint32_t[]){12, 1, 1, 1, 1}, 5);
	CHECK_EQ(wlb_order_zigzag(d, 5, 2, s), 0);
	CHECK_EQ(d[3].id, 0);
	wlb_order_scratch_free(s);
	wlb_order_scratch_free(s);
	CHECK(s->rank_pairs == NULL && s->best == NULL);
	free(d);
	free(x);
	free(y);
}

void test_order(void)
{
	struct wlb_order_scratch s = {0};
	enum wlb_doc_order o = WLB_ORDER_STREAM;

	against_shard();
	hand();
	one_move_brute(&s);
	against_ref(&s);
	properties(&s);
	scratch_reuse(&s);

	CHECK_EQ(wlb_doc_order_parse("zigzag", &o), 0);
	CHECK_EQ(o, WLB_ORDER_ZIGZAG);
	CHECK_EQ(wlb_doc_order_parse("stream", &o), 0);
	CHECK_EQ(o, WLB_ORDER_STREAM);
	for (int k = WLB_ORDER_STREAM; k <= WLB_ORDER_ZIGZAG; k++) {
		o = (enum wlb_doc_order)(1 - k);
		CHECK_EQ(wlb_doc_order_parse(wlb_doc_order_name((enum wlb_doc_order)k), &o), 0);
		CHECK_EQ(o, k);
	}
	CHECK(strcmp(wlb_doc_order_name(WLB_ORDER_ZIGZAG), "zigzag") == 0);
	CHECK_EQ(wlb_doc_order_parse("zig-zag", &o), WLB_EINVAL);
	CHECK_EQ(wlb_doc_order_parse("", &o), WLB_EINVAL);
	CHECK_EQ(wlb_doc_order_parse("Stream", &o), WLB_EINVAL);
	CHECK(strcmp(wlb_doc_order_name((enum wlb_doc_order)7), "?") == 0);
}
