/* test_shard_hybrid.c — hybrid CP sharding: a hand-worked micro-batch where
 * it beats both static layouts, its layouts against a token-by-token
 * construction, and its estimate never above adaptive's. */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "shard.h"
#include "test.h"

void test_shard_hybrid(void);

enum { MAXN = 48, MAXCP = 8 };

static int rank_of_slot(uint32_t j, int cp)
{
	return j < (uint32_t)cp ? (int)j : 2 * cp - 1 - (int)j;
}

/* The rank of every token (doc i's token k at at[i] + k) of the layout that
 * keeps the documents with whole[i] whole, built token by token: each cut
 * document's tokens go to the 2cp slots in order, slot j taking len / 2cp
 * plus one when (j - ptr) mod 2cp < len mod 2cp, ptr advancing by the
 * remainder; then the whole documents' tokens, in order, fill the slots in
 * order up to S = ceil(total / 2cp) tokens each. */
static void brute_owner(const uint32_t *lens, size_t n, const int *whole, int cp, const uint64_t *at,
			int *owner)
{
	uint32_t slots = 2u * (uint32_t)cp, ptr = 0;
	uint64_t fill[2 * MAXCP] = {0}, total = at[n];
	uint64_t S = (total + slots - 1) / slots;

	for (size_t i = 0; i < n; i++) {
		if (whole[i])
			continue;
		uint32_t base = lens[i] / slots, rem = lens[i] % slots, k = 0;
		for (uint32_t j = 0; j < slots; j++) {
			uint32_t size = base + ((j + slots - ptr) % slots < rem);
			for (uint32_t t = 0; t < size; t++)
				owner[at[i] + k++] = rank_of_slot(j, cp);
			fill[j] += size;
		}
		ptr = (ptr + rem) % slots;
	}
	uint32_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (!whole[i])
			continue;
		for (uint32_t k = 0; k < lens[i]; k++) {
			while (fill[j] == S)
				j++;
			owner[at[i] + k] = rank_of_slot(j, cp);
			fill[j]++;
		}
	}
}

/* The layout in s, whatever it used, against brute_owner with its whole
 * documents (per-seq: all, per-doc: none, hybrid: the n - n_cut shortest,
 * ties by position).  Also checks tokens per rank.  Returns the faults. */
static int check_layout(const struct wlb_sharding *s, const uint32_t *lens, size_t n, int cp)
{
	uint64_t at[MAXN + 1];
	int whole[MAXN], bad = 0;
	size_t k = s->used == WLB_SHARD_PER_SEQ ? n : s->used == WLB_SHARD_PER_DOC ? 0 : n - s->n_cut;

	at[0] = 0;
	for (size_t i = 0; i < n; i++) {
		at[i + 1] = at[i] + lens[i];
		whole[i] = 0;
	}
	/* the k shortest, by selection */
	for (size_t c = 0; c < k; c++) {
		size_t m = n;
		for (size_t i = 0; i < n; i++)
			if (!whole[i] && (m == n || lens[i] < lens[m]))
				m = i;
		whole[m] = 1;
	}
	int *want = malloc(at[n] * sizeof *want), *got = malloc(at[n] * sizeof *got);
	brute_owner(lens, n, whole, cp, at, want);
	for (uint64_t t = 0; t < at[n]; t++)
		got[t] = -1;
	uint64_t held = 0;
	for (int r = 0; r < cp; r++) {
		uint32_t tok = 0;
		for (size_t i = s->rank_start[r]; i < s->rank_start[r + 1]; i++) {
			const struct wlb_piece *p = &s->pieces[i];
			if (p->doc >= n || p->q_len == 0 || p->q_len > p->kv_len || p->kv_len > lens[p->doc]) {
				bad++;
				continue;
			}
			for (uint32_t row = p->kv_len - p->q_len; row < p->kv_len; row++) {
				bad += got[at[p->doc] + row] != -1; /* held twice */
				got[at[p->doc] + row] = r;
			}
			tok += p->q_len;
		}
		bad += tok != s->rank_tokens[r] || tok > s->tokens_per_rank;
		held += tok;
	}
	bad += held != at[n] || (uint64_t)s->tokens_per_rank * (uint64_t)cp != at[n] + s->pad_tokens;
	bad += s->tokens_per_rank != 2 * ((at[n] + 2u * (unsigned)cp - 1) / (2u * (unsigned)cp));
	for (uint64_t t = 0; t < at[n]; t++)
		bad += got[t] != want[t];
	free(want);
	free(got);
	return bad;
}

/* The slowest rank's tile-padded pairs, recomputed from the pieces. */
static double slowest(const struct wlb_sharding *s)
{
	double mx = 0;
	for (int r = 0; r < s->cp; r++) {
		double c = 0;
		for (size_t i = s->rank_start[r]; i < s->rank_start[r + 1]; i++)
			c += wlb_tiled_pairs(s->pieces[i].q_len, s->pieces[i].kv_len);
		mx = c > mx ? c : mx;
	}
	return mx;
}

/* One document of 8192 tokens, then eight of 256, over cp 2 (S = 2560).
 * Cutting the long one per document (2048 tokens a slot, C_j = 2048) and
 * keeping the short ones whole (512 a slot: two short documents each)
 * gives rank 0 slots 0 and 3: docs 1, 2, 7, 8 whole, doc 0 (2048, 2048) and
 * (2048, 8192); rank 1 docs 3..6 whole, doc 0 (2048, 4096), (2048, 6144).
 * Both ranks: 2048 (2048 + 8192) - 2048·2047 = 2048·8193 long pairs plus
 * 4 x 256·257/2 = 16910848.  Per-doc cuts the short ones in 64-token pieces,
 * a 128 tile each: rank 0 per short document (128,128) + (128,320) tiled =
 * 8256 + 32832, rank 1 (128,192) + (128,256) = 16448 + 24640, 41088 both:
 * 16779264 + 8 x 41088 = 17107968.  Per-seq: rank 1 holds doc 0's
 * [2560, 7680): 2560·12800 - 2560·2559 = 26216960. */
static void hand(void)
{
	struct wlb_sharding s;
	struct wlb_doc d[9];
	uint32_t lens[9];

	for (uint32_t i = 0; i < 9; i++) {
		lens[i] = i ? 256 : 8192;
		d[i] = (struct wlb_doc){i, lens[i], 0};
	}
	CHECK_EQ(wlb_sharding_init(&s, 2), 0);
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_SEQ, d, 9, NULL), 0);
	CHECK_NEAR(slowest(&s), 26216960, 0);
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_DOC, d, 9, NULL), 0);
	CHECK_NEAR(slowest(&s), 17107968, 0);
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_ADAPTIVE, d, 9, NULL), 0);
	CHECK_EQ(s.used, WLB_SHARD_PER_DOC);

	CHECK_EQ(wlb_shard(&s, WLB_SHARD_HYBRID, d, 9, NULL), 0);
	CHECK_EQ(s.used, WLB_SHARD_HYBRID);
	CHECK_EQ(s.n_cut, 1);
	CHECK_NEAR(s.rank_cost[0], 16910848, 0);
	CHECK_NEAR(s.rank_cost[1], 16910848, 0);
	CHECK_NEAR(slowest(&s), 16910848, 0);
	static const struct wlb_piece want[2][6] = {
		{{1, 256, 256}, {2, 256, 256}, {7, 256, 256}, {8, 256, 256}, {0, 2048, 2048}, {0, 2048, 8192}},
		{{3, 256, 256}, {4, 256, 256}, {5, 256, 256}, {6, 256, 256}, {0, 2048, 4096}, {0, 2048, 6144}}};
	int bad = 0;
	for (int r = 0; r < 2; r++) {
		CHECK_EQ(s.rank_start[r + 1] - s.rank_start[r], 6);
		for (int i = 0; i < 6 && s.rank_start[r] + (size_t)i < s.rank_start[r + 1]; i++) {
			const struct wlb_piece *p = &s.pieces[s.rank_start[r] + (size_t)i];
			bad += p->doc != want[r][i].doc || p->q_len != want[r][i].q_len ||
			       p->kv_len != want[r][i].kv_len;
		}
		CHECK_EQ(s.rank_tokens[r], 5120);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(s.pad_tokens, 0);
	CHECK_EQ(check_layout(&s, lens, 9, 2), 0);
	/* one document: nothing to choose, adaptive's layout */
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_HYBRID, d, 1, NULL), 0);
	CHECK(s.used != WLB_SHARD_HYBRID);
	wlb_sharding_free(&s);

	enum wlb_shard_kind k;
	CHECK_EQ(wlb_shard_parse("hybrid", &k), 0);
	CHECK_EQ(k, WLB_SHARD_HYBRID);
	CHECK(!strcmp(wlb_shard_name(WLB_SHARD_HYBRID), "hybrid"));
}

/* Ring CP: what adaptive and hybrid weigh, recomputed from the pieces. */
static double ring_cost(const struct wlb_sharding *s)
{
	double cost[MAXCP], steps[MAXCP], t = 0;
	for (int r = 0; r < s->cp; r++)
		cost[r] = wlb_shard_tiled_pairs.rank_cost(&wlb_shard_tiled_pairs, s->pieces + s->rank_start[r],
							  s->rank_start[r + 1] - s->rank_start[r]);
	wlb_ring_steps(s->src, cost, s->cp, steps);
	for (int k = 0; k < s->cp; k++)
		t += steps[k];
	return t;
}

/* Random micro-batches: every layout hybrid returns is the token-by-token
 * one of its whole documents; its slowest rank (or ring steps) is never
 * above the better static layout's, recomputed from their pieces; and it is
 * strictly better often enough. */
static void random_batches(void)
{
	static const int cps[] = {1, 2, 3, 4, 8};
	struct wlb_doc d[MAXN];
	uint32_t lens[MAXN];
	int bad_layout = 0, worse = 0, bad_cost = 0, better = 0, cases = 0, bad_det = 0;
	unsigned rng = 9001;
	struct wlb_sharding h, q, st;

	for (int trial = 0; trial < 600; trial++) {
		int cp = cps[trial % 5], ring = trial % 7 == 3 && cp > 1;
		rng = rng * 1103515245u + 12345u;
		size_t n = 1 + (rng >> 8) % (trial % 3 ? 12u : MAXN);
		for (size_t i = 0; i < n; i++) {
			rng = rng * 1103515245u + 12345u;
			/* short documents with a few long ones among them */
			lens[i] = 1 + (rng >> 8) % ((rng >> 4) % 6 == 0 ? 20000u : 700u);
			d[i] = (struct wlb_doc){(uint32_t)i, lens[i], 0};
		}
		wlb_sharding_init(&h, cp);
		wlb_sharding_init(&q, cp);
		wlb_sharding_init(&st, cp);
		h.ring = q.ring = st.ring = ring;
		wlb_shard(&h, WLB_SHARD_HYBRID, d, n, NULL);
		bad_layout += check_layout(&h, lens, n, cp);
		double hy = ring ? ring_cost(&h) : slowest(&h), best = 1e300;
		for (int k = 0; k < 2; k++) {
			wlb_shard(&st, k ? WLB_SHARD_PER_DOC : WLB_SHARD_PER_SEQ, d, n, NULL);
			double c = ring ? ring_cost(&st) : slowest(&st);
			best = c < best ? c : best;
		}
		worse += hy > best;
		better += hy < best;
		bad_cost += h.used == WLB_SHARD_HYBRID && !(hy < best);
		/* a warm sharder after another micro-batch gives the same layout */
		wlb_shard(&q, WLB_SHARD_HYBRID, d + n / 2, n - n / 2, NULL);
		wlb_shard(&q, WLB_SHARD_HYBRID, d, n, NULL);
		bad_det += q.n_pieces != h.n_pieces || q.used != h.used ||
			   memcmp(q.pieces, h.pieces, h.n_pieces * sizeof *h.pieces) != 0;
		wlb_sharding_free(&h);
		wlb_sharding_free(&q);
		wlb_sharding_free(&st);
		cases++;
	}
	CHECK_EQ(cases, 600);
	CHECK_EQ(bad_layout, 0);
	CHECK_EQ(worse, 0);
	CHECK_EQ(bad_cost, 0);
	CHECK_EQ(bad_det, 0);
	CHECK(better > 200); /* 410 of 600 */
}

void test_shard_hybrid(void)
{
	hand();
	random_batches();
}
