/* test_shard.c — CP sharders: hand-worked layouts, per-seq against a
 * token-by-token brute force, per-doc balance, adaptive's choice. */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "shard.h"
#include "test.h"

void test_shard(void);

static void make_docs(struct wlb_doc *d, const uint32_t *lens, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = (struct wlb_doc){(uint32_t)i, lens[i], 0};
}

/* Rank r's causal pairs counted token by token: the sequence padded to a
 * multiple of 2cp is cut into 2cp chunks, rank r owns chunks r and 2cp-1-r;
 * the token at position k of its document sees k + 1 keys. */
static double brute_per_seq(const uint32_t *lens, size_t n, int cp, int r)
{
	uint64_t total = 0, at = 0;
	for (size_t i = 0; i < n; i++)
		total += lens[i];
	uint64_t slots = 2 * (uint64_t)cp, chunk = (total + slots - 1) / slots;
	double pairs = 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < lens[i]; k++, at++) {
			uint64_t c = at / chunk;
			if (c == (uint64_t)r || c == slots - 1 - (uint64_t)r)
				pairs += k + 1;
		}
	return pairs;
}

static void hand(void)
{
	struct wlb_sharding s;
	struct wlb_doc d[4];

	/* one document of 8 over cp 2: chunks of 2; rank 0 holds (2,2) and (2,8):
	 * 3 + 15 = 18; rank 1 holds (2,4) and (2,6): 7 + 11 = 18 */
	wlb_sharding_init(&s, 2);
	make_docs(d, (uint32_t[]){8}, 1);
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_SEQ, d, 1, NULL), 0);
	CHECK_EQ(s.rank_start[1] - s.rank_start[0], 2);
	CHECK_EQ(s.pieces[1].q_len, 2);
	CHECK_EQ(s.pieces[1].kv_len, 8);
	CHECK_NEAR(wlb_sharding_rank_pairs(&s, 0), 18, 0);
	CHECK_NEAR(wlb_sharding_rank_pairs(&s, 1), 18, 0);

	/* documents 6 and 2, per-seq: rank 0 gets doc0[0,2) and doc1[0,2): 3 + 3;
	 * rank 1 gets doc0[2,4) and doc0[4,6): 7 + 11 = 18 -> imbalance 1.5 */
	make_docs(d, (uint32_t[]){6, 2}, 2);
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_SEQ, d, 2, NULL), 0);
	CHECK_NEAR(wlb_sharding_rank_pairs(&s, 0), 6, 0);
	CHECK_NEAR(wlb_sharding_rank_pairs(&s, 1), 18, 0);
	/* per-doc: 6 = 4 x 1 + 2, the remainder to slots 0 and 1 -> chunk sizes
	 * 2, 2, 1, 1; rank 0 = chunks 0 and 3:
	 * (2,2) + (1,6) = 3 + 6 = 9; rank 1 = chunks 1, 2: (2,4) + (1,5) = 7 + 5 = 12;
	 * doc 2: base 0, rem 2 from pointer 2 -> slots 2, 3: rank 1 gets (1,1) = 1,
	 * rank 0 gets (1,2) = 2.  Totals 11 and 13 = 24 = 21 + 3. */
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_DOC, d, 2, NULL), 0);
	CHECK_NEAR(wlb_sharding_rank_pairs(&s, 0), 11, 0);
	CHECK_NEAR(wlb_sharding_rank_pairs(&s, 1), 13, 0);
	CHECK_EQ(s.rank_tokens[0], 4);
	CHECK_EQ(s.rank_tokens[1], 4);
	CHECK_EQ(s.tokens_per_rank, 4);
	CHECK_EQ(s.pad_tokens, 0);
	wlb_sharding_free(&s);

	/* padding: 5 tokens over cp 2 -> 8 slots' worth, 2 per chunk, 3 pad */
	wlb_sharding_init(&s, 2);
	make_docs(d, (uint32_t[]){5}, 1);
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_SEQ, d, 1, NULL), 0);
	CHECK_EQ(s.tokens_per_rank, 4);
	CHECK_EQ(s.pad_tokens, 3);
	CHECK_EQ(s.rank_tokens[0] + s.rank_tokens[1], 5);
	wlb_sharding_free(&s);

	/* tile padding: 16 queries cost a whole 128-query tile */
	CHECK_NEAR(wlb_tiled_pairs(16, 16), wlb_pairs(128, 128), 0);
	CHECK_NEAR(wlb_tiled_pairs(128, 1000), wlb_pairs(128, 1000), 0);
	CHECK_NEAR(wlb_tiled_pairs(129, 129), wlb_pairs(256, 256), 0);
}

static void properties(void)
{
	uint32_t lens[64];
	struct wlb_doc d[64];
	int bad_seq = 0, bad_sum = 0, bad_tok = 0, bad_doc_bal = 0, bad_adaptive = 0, cases = 0;
	unsigned rng = 12345;

	for (int trial = 0; trial < 400; trial++) {
		int cp = 1 << (trial % 4); /* 1, 2, 4, 8 */
		size_t n = 1 + (size_t)(trial % 13);
		double whole = 0, slack = 0;
		struct wlb_sharding s, a, b;

		for (size_t i = 0; i < n; i++) {
			rng = rng * 1103515245u + 12345u;
			/* a mix of short documents and long ones */
			lens[i] = 1 + (rng >> 8) % (trial % 3 ? 300u : 5000u);
			whole += wlb_pairs(lens[i], lens[i]);
			slack += 4.0 * lens[i] + 4.0 * cp;
		}
		make_docs(d, lens, n);
		wlb_sharding_init(&s, cp);
		wlb_sharding_init(&a, cp);
		wlb_sharding_init(&b, cp);

		wlb_shard(&s, WLB_SHARD_PER_SEQ, d, n, NULL);
		double sum = 0;
		for (int r = 0; r < cp; r++) {
			double p = wlb_sharding_rank_pairs(&s, r);
			bad_seq += p != brute_per_seq(lens, n, cp, r);
			sum += p;
		}
		bad_sum += sum != whole;

		wlb_shard(&a, WLB_SHARD_PER_DOC, d, n, NULL);
		double mx = 0, mn = 1e300;
		sum = 0;
		uint32_t tmin = UINT32_MAX, tmax = 0, ttot = 0;
		for (int r = 0; r < cp; r++) {
			double p = wlb_sharding_rank_pairs(&a, r);
			sum += p;
			mx = p > mx ? p : mx;
			mn = p < mn ? p : mn;
			tmin = a.rank_tokens[r] < tmin ? a.rank_tokens[r] : tmin;
			tmax = a.rank_tokens[r] > tmax ? a.rank_tokens[r] : tmax;
			ttot += a.rank_tokens[r];
		}
		bad_sum += sum != whole;
		/* identical pairs up to what remainder tokens can shift */
		bad_doc_bal += mx - mn > slack;
		/* same tokens per rank, up to one remainder token; same padded size */
		bad_tok += tmax - tmin > 1 || a.tokens_per_rank != s.tokens_per_rank ||
			   tmax > a.tokens_per_rank;
		bad_tok += a.tokens_per_rank * (uint32_t)cp != ttot + a.pad_tokens;

		/* adaptive predicts no worse than the better static layout */
		wlb_shard(&b, WLB_SHARD_ADAPTIVE, d, n, NULL);
		double cs = 0, cd = 0, ca = 0;
		for (int r = 0; r < cp; r++) {
			cs = s.rank_cost[r] > cs ? s.rank_cost[r] : cs;
			cd = a.rank_cost[r] > cd ? a.rank_cost[r] : cd;
			ca = b.rank_cost[r] > ca ? b.rank_cost[r] : ca;
		}
		bad_adaptive += ca != (cd < cs ? cd : cs);
		bad_adaptive += b.used != (cd < cs ? WLB_SHARD_PER_DOC : WLB_SHARD_PER_SEQ);
		cases++;
		wlb_sharding_free(&s);
		wlb_sharding_free(&a);
		wlb_sharding_free(&b);
	}
	CHECK_EQ(cases, 400);
	CHECK_EQ(bad_seq, 0);
	CHECK_EQ(bad_sum, 0);
	CHECK_EQ(bad_doc_bal, 0);
	CHECK_EQ(bad_tok, 0);
	CHECK_EQ(bad_adaptive, 0);

	/* documents divisible by 2cp: per-doc pairs identical on every rank */
	struct wlb_sharding s;
	wlb_sharding_init(&s, 4);
	make_docs(d, (uint32_t[]){800, 64, 4000, 8}, 4);
	wlb_shard(&s, WLB_SHARD_PER_DOC, d, 4, NULL);
	for (int r = 1; r < 4; r++)
		CHECK_NEAR(wlb_sharding_rank_pairs(&s, r), wlb_sharding_rank_pairs(&s, 0), 0);
	/* many short documents: per-seq wins on tiles, adaptive keeps it */
	uint32_t shortl[64];
	for (int i = 0; i < 64; i++)
		shortl[i] = 100 + (uint32_t)i;
	make_docs(d, shortl, 64);
	wlb_shard(&s, WLB_SHARD_ADAPTIVE, d, 64, NULL);
	CHECK_EQ(s.used, WLB_SHARD_PER_SEQ);
	/* one long document after short ones: per-doc balances it, adaptive picks it */
	make_docs(d, (uint32_t[]){2000, 2000, 60000}, 3);
	wlb_shard(&s, WLB_SHARD_ADAPTIVE, d, 3, NULL);
	CHECK_EQ(s.used, WLB_SHARD_PER_DOC);
	wlb_sharding_free(&s);
}

/* Source pairs: m[r][o] = rank r's query rows against the keys rank o holds. */
static int source_of(const struct wlb_sharding *s, struct wlb_source_scratch *x, double *m)
{
	for (int k = 0; k < s->cp * s->cp; k++)
		m[k] = -1; /* every entry must be written */
	return wlb_sharding_source_pairs(s, x, m);
}

static void source_hand(void)
{
	struct wlb_sharding s;
	struct wlb_source_scratch x = {0};
	struct wlb_doc d[2];
	double m[4];

	/* one document of 8 over cp 2, per-seq: rank 0 rows {0,1,6,7}, rank 1
	 * rows {2..5}.  m00 = rows 0,1: 1 + 2, rows 6,7 see keys {0,1,6}, {0,1,6,7}:
	 * 3 + 4 -> 10; m01 = rows 6,7 see keys 2..5: 4 + 4 = 8; m10 = rows 2..5
	 * see keys 0,1: 4 x 2 = 8; m11 = rows 2..5 see 2..x: 1+2+3+4 = 10 */
	wlb_sharding_init(&s, 2);
	make_docs(d, (uint32_t[]){8}, 1);
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_SEQ, d, 1, NULL), 0);
	CHECK_EQ(source_of(&s, &x, m), 0);
	CHECK_NEAR(m[0], 10, 0);
	CHECK_NEAR(m[1], 8, 0);
	CHECK_NEAR(m[2], 8, 0);
	CHECK_NEAR(m[3], 10, 0);
	/* documents 6 and 2, per-doc (chunks as in hand()): doc 0 rank 0 rows
	 * {0,1,5}, rank 1 rows {2,3,4}: m00 = 1 + 2 + 3 (row 5: keys 0,1,5),
	 * m01 = 3 (row 5: keys 2,3,4), m10 = 3 x 2, m11 = 1 + 2 + 3; doc 1 row 0
	 * on rank 1 (m11 += 1), row 1 on rank 0 (key 0 on rank 1: m01 += 1, key 1:
	 * m00 += 1) -> m = [7 4; 6 7], rows 11 and 13 as rank_pairs */
	make_docs(d, (uint32_t[]){6, 2}, 2);
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_DOC, d, 2, NULL), 0);
	CHECK_EQ(source_of(&s, &x, m), 0);
	CHECK_NEAR(m[0], 7, 0);
	CHECK_NEAR(m[1], 4, 0);
	CHECK_NEAR(m[2], 6, 0);
	CHECK_NEAR(m[3], 7, 0);
	/* no documents: all zero */
	CHECK_EQ(wlb_shard(&s, WLB_SHARD_PER_SEQ, d, 0, NULL), 0);
	CHECK_EQ(source_of(&s, &x, m), 0);
	CHECK(m[0] == 0 && m[1] == 0 && m[2] == 0 && m[3] == 0);
	wlb_sharding_free(&s);
	wlb_source_scratch_free(&x);
	CHECK(x.rows == NULL && x.cap == 0);
	wlb_source_scratch_free(&x); /* idempotent */
}

/* Against a token-by-token count: owner[] = the rank whose piece covers each
 * row of the packed documents; rank r's row x sees keys 0..x, each counted
 * against its owner.  One scratch serves every case (sizes grow and shrink). */
static void source_brute(void)
{
	enum { MAXN = 40, TRIALS = 240 };
	static const int cps[] = {1, 2, 3, 4, 8};
	static const enum wlb_shard_kind kinds[] = {WLB_SHARD_PER_SEQ, WLB_SHARD_PER_DOC,
						    WLB_SHARD_ADAPTIVE, WLB_SHARD_HYBRID};
	uint32_t lens[MAXN];
	uint64_t at[MAXN + 1];
	struct wlb_doc d[MAXN];
	double m[64], brute[64], m2[64];
	int *owner = NULL, bad_m = 0, bad_row = 0, bad_total = 0, bad_cover = 0, bad_reuse = 0;
	int cases = 0, adaptive_doc = 0, n_adaptive = 0, n_hybrid = 0, odd_total = 0, bad_ring = 0;
	struct wlb_source_scratch x = {0}, fresh = {0};
	unsigned rng = 777;

	for (int trial = 0; trial < TRIALS; trial++) {
		int cp = cps[trial % 5];
		enum wlb_shard_kind kind = kinds[trial / 5 % 4];
		struct wlb_sharding s;
		double whole = 0, grand = 0;
		rng = rng * 1103515245u + 12345u;
		size_t n = 1 + (rng >> 8) % MAXN;
		at[0] = 0;
		for (size_t i = 0; i < n; i++) {
			rng = rng * 1103515245u + 12345u;
			lens[i] = 1 + (rng >> 8) % (trial % 4 == 0 && i % 16 == 1 ? 3000u : 50u);
			/* ids are not indices: descending, 7 + 3k */
			d[i] = (struct wlb_doc){7 + 3 * (uint32_t)(n - 1 - i), lens[i], 0};
			at[i + 1] = at[i] + lens[i];
			whole += (double)lens[i] * (lens[i] + 1) / 2;
		}
		odd_total += at[n] % (2u * (unsigned)cp) != 0;
		owner = realloc(owner, at[n] * sizeof *owner);
		for (uint64_t k = 0; k < at[n]; k++)
			owner[k] = -1;
		wlb_sharding_init(&s, cp);
		bad_cover += wlb_shard(&s, kind, d, n, NULL) != 0;
		adaptive_doc += kind == WLB_SHARD_ADAPTIVE && s.used == WLB_SHARD_PER_DOC;
		n_adaptive += kind == WLB_SHARD_ADAPTIVE;
		n_hybrid += s.used == WLB_SHARD_HYBRID;
		for (int pass = 0; pass < 2; pass++) { /* 0: owners, 1: count pairs */
			memset(brute, 0, sizeof brute);
			for (int r = 0; r < cp; r++)
				for (size_t i = s.rank_start[r]; i < s.rank_start[r + 1]; i++) {
					const struct wlb_piece *p = &s.pieces[i];
					size_t doc = n - 1 - (p->doc - 7) / 3;
					if (p->doc < 7 || (p->doc - 7) % 3 || doc >= n || p->kv_len > lens[doc] ||
					    p->q_len > p->kv_len) {
						bad_cover++;
						continue;
					}
					int *o = owner + at[doc];
					for (uint32_t row = p->kv_len - p->q_len; row < p->kv_len; row++) {
						if (pass == 0) {
							bad_cover += o[row] != -1;
							o[row] = r;
						} else
							for (uint32_t y = 0; y <= row; y++)
								brute[r * cp + o[y]]++;
					}
				}
			for (uint64_t k = 0; pass == 0 && k < at[n]; k++)
				bad_cover += owner[k] < 0;
			if (bad_cover)
				break;
		}
		bad_m += source_of(&s, &x, m) != 0;
		for (int r = 0; r < cp; r++) {
			double row = 0;
			for (int o = 0; o < cp; o++) {
				bad_m += m[r * cp + o] != brute[r * cp + o];
				row += m[r * cp + o];
			}
			bad_row += row != wlb_sharding_rank_pairs(&s, r);
			grand += row;
		}
		bad_total += grand != whole;
		/* the warm scratch gives what a fresh one does */
		bad_reuse += source_of(&s, &fresh, m2) != 0 ||
			     memcmp(m, m2, (size_t)(cp * cp) * sizeof *m) != 0;
		wlb_source_scratch_free(&fresh);
		/* ring CP: the sharder keeps the pairs of the layout it used
		 * (adaptive may choose otherwise, weighing ring steps) */
		s.ring = 1;
		bad_ring += wlb_shard(&s, kind, d, n, NULL) != 0 || source_of(&s, &x, m) != 0 ||
			    (cp > 1 && memcmp(m, s.src, (size_t)(cp * cp) * sizeof *m) != 0);
		wlb_sharding_free(&s);
		cases++;
	}
	free(owner);
	wlb_source_scratch_free(&x);
	CHECK_EQ(cases, TRIALS);
	CHECK_EQ(bad_cover, 0);
	CHECK_EQ(bad_m, 0);
	CHECK_EQ(bad_row, 0);
	CHECK_EQ(bad_total, 0);
	CHECK_EQ(bad_reuse, 0);
	CHECK_EQ(bad_ring, 0);
	CHECK(adaptive_doc > 0 && adaptive_doc < n_adaptive); /* adaptive took both */
	CHECK(n_hybrid > 0);
	CHECK(odd_total > 0);
}

/* Under ring CP adaptive keeps the layout whose ring steps (wlb_ring_steps of
 * the ranks' tile-padded pairs) sum lower, per-seq on a tie; computed here
 * from the two static layouts.  Some micro-batches must choose otherwise
 * than all-gather's adaptive, which weighs the slowest rank's total. */
static void ring_adaptive(void)
{
	struct wlb_doc d[24];
	double cost[8], steps[8];
	int bad = 0, differs = 0;
	unsigned rng = 4242;

	for (int trial = 0; trial < 300; trial++) {
		int cp = trial % 2 ? 2 : 4;
		size_t n = 2 + trial % 20;
		double ring_cost[2];
		enum wlb_shard_kind used_ag;
		struct wlb_sharding s;
		for (size_t i = 0; i < n; i++) {
			rng = rng * 1103515245u + 12345u;
			d[i] = (struct wlb_doc){(uint32_t)i, 1 + (rng >> 8) % (i % 5 ? 300u : 4000u), 0};
		}
		wlb_sharding_init(&s, cp);
		wlb_shard(&s, WLB_SHARD_ADAPTIVE, d, n, NULL);
		used_ag = s.used;
		s.ring = 1;
		for (int k = 0; k < 2; k++) {
			wlb_shard(&s, k ? WLB_SHARD_PER_DOC : WLB_SHARD_PER_SEQ, d, n, NULL);
			for (int r = 0; r < cp; r++)
				cost[r] = wlb_shard_tiled_pairs.rank_cost(&wlb_shard_tiled_pairs,
									  s.pieces + s.rank_start[r],
									  s.rank_start[r + 1] - s.rank_start[r]);
			wlb_ring_steps(s.src, cost, cp, steps);
			ring_cost[k] = 0;
			for (int k2 = 0; k2 < cp; k2++)
				ring_cost[k] += steps[k2];
		}
		wlb_shard(&s, WLB_SHARD_ADAPTIVE, d, n, NULL);
		bad += s.used != (ring_cost[1] < ring_cost[0] ? WLB_SHARD_PER_DOC : WLB_SHARD_PER_SEQ);
		differs += s.used != used_ag;
		wlb_sharding_free(&s);
	}
	CHECK_EQ(bad, 0);
	CHECK(differs > 0);
}

void test_shard(void)
{
	enum wlb_shard_kind k;
	hand();
	properties();
	source_hand();
	source_brute();
	ring_adaptive();
	CHECK_EQ(wlb_shard_parse("per-doc", &k), 0);
	CHECK_EQ(k, WLB_SHARD_PER_DOC);
	CHECK(wlb_shard_parse("perdoc", &k) < 0);
}
