/* test_pack.c — the stream, the packers: hand-worked examples and properties
 * over many random streams (conservation, capacity, replica assignment). */
#include <stdlib.h>
#include <string.h>

#include "docs.h"
#include "pack.h"
#include "test.h"
#include "test_util.h"

void test_stream(void);
void test_pack(void);


static struct wlb_source lengths_source(const uint32_t *lens, size_t n)
{
	struct wlb_source s = {.kind = WLB_SOURCE_LENGTHS};
	s.lens = malloc(n * sizeof *lens);
	memcpy(s.lens, lens, n * sizeof *lens);
	s.n_lens = n;
	return s;
}

/* batches given as a flat list with 0 separating batches */
static struct wlb_source batches_source(const uint32_t *flat, size_t n)
{
	struct wlb_source s = {.kind = WLB_SOURCE_BATCHES};
	s.lens = malloc(n * sizeof *flat);
	s.batch_start = malloc((n + 2) * sizeof *s.batch_start);
	s.batch_start[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (flat[i] == 0)
			s.batch_start[++s.n_batches] = s.n_lens;
		else
			s.lens[s.n_lens++] = flat[i];
	}
	s.batch_start[++s.n_batches] = s.n_lens;
	return s;
}

void test_stream(void)
{
	/* lengths 5, 12, 3 with context 8 and 10 tokens per batch:
	 * batch 0 = 5, 5 (12 cut to a context piece of 8, cut again at the boundary)
	 * batch 1 = 3 (rest of that piece), 4 (second piece of the 12), 3 */
	uint32_t lens[] = {5, 12, 3};
	struct wlb_source src = lengths_source(lens, 3);
	struct wlb_stream *st;
	const struct wlb_doc *d;
	struct wlb_error err;

	CHECK_EQ(wlb_stream_create(&st, &src, 8, 10, &err), 0);
	CHECK_EQ(wlb_stream_next(st, &d), 2);
	CHECK_EQ(d[0].len, 5);
	CHECK_EQ(d[1].len, 5);
	CHECK_EQ(d[1].arrived, 0);
	CHECK_EQ(wlb_stream_next(st, &d), 3);
	CHECK_EQ(d[0].len, 3);
	CHECK_EQ(d[1].len, 4);
	CHECK_EQ(d[2].len, 3);
	CHECK_EQ(d[2].arrived, 1);
	CHECK_EQ(d[2].id, 4);
	CHECK_EQ(wlb_stream_next(st, &d), 0);
	CHECK_EQ(wlb_stream_tokens(st), 20);
	CHECK_EQ(wlb_stream_batches(st), 2);
	wlb_stream_destroy(st);
	wlb_source_free(&src);

	/* explicit batches are taken whole, long documents cut to the context */
	uint32_t flat[] = {3, 20, 0, 7};
	src = batches_source(flat, 4);
	CHECK_EQ(wlb_stream_create(&st, &src, 8, 1, &err), 0);
	CHECK_EQ(wlb_stream_next(st, &d), 4); /* 3, 8, 8, 4 */
	CHECK_EQ(d[3].len, 4);
	CHECK_EQ(wlb_stream_next(st, &d), 1);
	CHECK_EQ(d[0].len, 7);
	CHECK_EQ(wlb_stream_next(st, &d), 0);
	wlb_stream_destroy(st);
	wlb_source_free(&src);

	/* a distribution: same seed, same documents; wlb_source_collect agrees */
	struct wlb_source ds = {.kind = WLB_SOURCE_DIST, .seed = 7};
	CHECK_EQ(wlb_dist_preset("wlb128k", &ds.dist, &err), 0);
	uint32_t a[64], *b;
	size_t nb;
	CHECK_EQ(wlb_dist_sample_n(&ds.dist, 7, a, 64, &err), 0);
	CHECK_EQ(wlb_source_collect(&ds, 1, &b, &nb, &err), 0);
	CHECK_EQ(nb, 1);
	CHECK_EQ(b[0], a[0]);
	free(b);
	CHECK_EQ(wlb_stream_create(&st, &ds, 1u << 30, 1u << 30, &err), 0);
	{
		size_t n = wlb_stream_next(st, &d);
		int same = n > 64;
		for (int i = 0; i < 64 && same; i++)
			same = d[i].len == a[i];
		CHECK(same);
	}
	wlb_stream_destroy(st);
}

/* Packs the next iteration; the micro-batches' documents as lengths. */
static int next_lens(struct wlb_packer *pk, struct wlb_stream *st, struct wlb_packed *out)
{
	struct wlb_error err;
	return wlb_packer_next(pk, st, out, &err);
}

static int mb_is(const struct wlb_packed *p, uint32_t b, const uint32_t *lens, uint32_t n)
{
	const struct wlb_mb *mb = &p->mb[b];
	if (mb->n != n)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (p->docs[mb->first + i].len != lens[i])
			return 0;
	return 1;
}

static void hand_examples(void)
{
	struct wlb_pack_params pp = {.context = 100, .s_max = 150, .n_thresholds = 1,
				     .thresholds = {50}, .dp = 1, .m = 2, .work = &t_pairs_work};
	struct wlb_packer *pk;
	struct wlb_stream *st;
	struct wlb_packed out = {0};
	struct wlb_error err;

	/* wlb, N = 2, one queue above 50 tokens.
	 * iteration 0: 60 waits; 30 -> mb0, 20 -> mb1, 10 -> mb1 (W 210 < 465)
	 * iteration 1: 70 joins 60 in the queue, both released: 70 -> mb0, 60 -> mb1,
	 *              40 -> mb1 (W 1830 < 2485; 60 + 40 <= 150) */
	uint32_t flat[] = {60, 30, 20, 10, 0, 70, 40};
	struct wlb_source src = batches_source(flat, 7);
	CHECK_EQ(wlb_packer_create(&pk, "wlb", &pp, &err), 0);
	CHECK_EQ(wlb_stream_create(&st, &src, 100, 1, &err), 0);
	CHECK_EQ(next_lens(pk, st, &out), 1);
	CHECK(mb_is(&out, 0, (uint32_t[]){30}, 1));
	CHECK(mb_is(&out, 1, (uint32_t[]){20, 10}, 2));
	CHECK_EQ(wlb_packer_pending_tokens(pk), 60);
	CHECK_EQ(next_lens(pk, st, &out), 1);
	CHECK_EQ(out.iter, 1);
	CHECK(mb_is(&out, 0, (uint32_t[]){70}, 1) || mb_is(&out, 1, (uint32_t[]){70}, 1));
	CHECK(mb_is(&out, 0, (uint32_t[]){60, 40}, 2) || mb_is(&out, 1, (uint32_t[]){60, 40}, 2));
	CHECK_EQ(wlb_packer_pending_tokens(pk), 0);
	CHECK_EQ(next_lens(pk, st, &out), 0);
	wlb_packer_destroy(pk);
	wlb_stream_destroy(st);
	wlb_source_free(&src);

	/* s_max binds: 90 -> mb0, 80 -> mb1, and 71 fits neither (90+71 and 80+71
	 * exceed 150): carried over to open the next iteration */
	uint32_t flat2[] = {90, 80, 71, 0, 5};
	src = batches_source(flat2, 5);
	pp.n_thresholds = 0;
	CHECK_EQ(wlb_packer_create(&pk, "wlb", &pp, &err), 0);
	CHECK_EQ(wlb_stream_create(&st, &src, 100, 1, &err), 0);
	CHECK_EQ(next_lens(pk, st, &out), 1);
	CHECK_EQ(out.n_docs, 2);
	CHECK_EQ(wlb_packer_pending_tokens(pk), 71);
	CHECK_EQ(next_lens(pk, st, &out), 1); /* 71 first (carried) -> mb0, then 5 -> mb1 */
	CHECK(mb_is(&out, 0, (uint32_t[]){71}, 1));
	CHECK(mb_is(&out, 1, (uint32_t[]){5}, 1));
	CHECK_EQ(out.docs[0].arrived, 0);
	wlb_packer_destroy(pk);
	wlb_stream_destroy(st);
	wlb_source_free(&src);

	/* bfd, 2 sequences of 10: 7 -> s0, 5 -> s1, 4 -> s1 (fullest that fits),
	 * 3 -> s0 (7+3 = 10 fits, 9+3 does not); inside a sequence documents keep
	 * dataloader order: s0 = 3 (id 1), 7 (id 2); s1 = 5 (id 0), 4 (id 3) */
	uint32_t flat3[] = {5, 3, 7, 4};
	src = batches_source(flat3, 4);
	pp.context = 10;
	CHECK_EQ(wlb_packer_create(&pk, "bfd", &pp, &err), 0);
	CHECK_EQ(wlb_stream_create(&st, &src, 10, 1, &err), 0);
	CHECK_EQ(next_lens(pk, st, &out), 1);
	CHECK(mb_is(&out, 0, (uint32_t[]){3, 7}, 2));
	CHECK(mb_is(&out, 1, (uint32_t[]){5, 4}, 2));
	wlb_packer_destroy(pk);
	wlb_stream_destroy(st);
	wlb_source_free(&src);

	/* concat, 2 sequences of 4 from lengths 3, 6 at 8 tokens per batch: the
	 * stream gives 3, 4, 1 (6 cut to a context piece, then at the boundary);
	 * sequences are [3, 1 of the 4] and [3 of the 4, 1] */
	uint32_t lens[] = {3, 6};
	src = lengths_source(lens, 2);
	pp.context = 4;
	CHECK_EQ(wlb_packer_create(&pk, "concat", &pp, &err), 0);
	CHECK_EQ(wlb_stream_create(&st, &src, 4, 8, &err), 0);
	CHECK_EQ(next_lens(pk, st, &out), 1);
	CHECK(mb_is(&out, 0, (uint32_t[]){3, 1}, 2));
	CHECK(mb_is(&out, 1, (uint32_t[]){3, 1}, 2));
	CHECK_EQ(out.docs[1].id, out.docs[2].id); /* the split document */
	CHECK_EQ(out.mb[0].tokens, 4);
	wlb_packer_destroy(pk);
	wlb_stream_destroy(st);
	wlb_source_free(&src);

	/* greedy, window 1, 2 sequences of 10: longest first into the least
	 * attention work with room: 6 -> s0, 5 -> s1, 4 -> s1 (W 15 < 21),
	 * 3 -> s0 (s1 is at 9 and has no room for 3); in dataloader order (ids
	 * 3:0, 6:1, 4:2, 5:3) s0 = 3, 6 and s1 = 4, 5 */
	uint32_t flat4[] = {3, 6, 4, 5};
	src = batches_source(flat4, 4);
	pp.context = 10;
	CHECK_EQ(wlb_packer_create(&pk, "greedy", &pp, &err), 0);
	CHECK_EQ(wlb_stream_create(&st, &src, 10, 1, &err), 0);
	CHECK_EQ(next_lens(pk, st, &out), 1);
	CHECK(mb_is(&out, 0, (uint32_t[]){3, 6}, 2));
	CHECK(mb_is(&out, 1, (uint32_t[]){4, 5}, 2));
	wlb_packer_destroy(pk);
	wlb_stream_destroy(st);
	wlb_source_free(&src);
	wlb_packed_free(&out);

	/* DP balance: 4 micro-batches of W 100, 90, 20, 10 over 2 replicas: LPT
	 * gives {100, 10} and {90, 20} */
	uint32_t flat5[] = {14, 13, 6, 4};
	src = batches_source(flat5, 4);
	pp = (struct wlb_pack_params){.context = 20, .s_max = 20, .dp = 2, .m = 2, .work = &t_pairs_work};
	CHECK_EQ(wlb_packer_create(&pk, "wlb", &pp, &err), 0);
	CHECK_EQ(wlb_stream_create(&st, &src, 20, 1, &err), 0);
	CHECK_EQ(next_lens(pk, st, &out), 1);
	/* W(14) = 105, W(13) = 91, W(6) = 21, W(4) = 10 */
	CHECK_NEAR(out.mb[0].work + out.mb[1].work, 105 + 10, 1e-9);
	CHECK_NEAR(out.mb[2].work + out.mb[3].work, 91 + 21, 1e-9);
	CHECK_EQ(out.mb[0].replica, 0);
	CHECK_EQ(out.mb[3].replica, 1);
	wlb_packer_destroy(pk);
	wlb_stream_destroy(st);
	wlb_source_free(&src);
	wlb_packed_free(&out);
}

/* Random streams through every packer: nothing lost or duplicated, capacity
 * and replica layout respected. */
static void properties(void)
{
	static const char *const packers[] = {"concat", "greedy", "bfd", "wlb"};
	static const uint32_t contexts[] = {1024, 4096, 16384};
	struct wlb_error err;
	int bad_conservation = 0, bad_capacity = 0, bad_layout = 0, bad_dup = 0, runs = 0;

	for (uint64_t seed = 1; seed <= 24; seed++)
		for (int k = 0; k < 4; k++) {
			uint32_t ctx = contexts[seed % 3];
			struct wlb_pack_params pp = {.context = ctx, .s_max = ctx + ctx / (1 + seed % 3),
						     .window = 1 + (uint32_t)(seed % 3),
						     .dp = 1 + (int)(seed % 3), .m = 1 << (seed % 3),
						     .work = &t_pairs_work};
			struct wlb_source src = {.kind = WLB_SOURCE_DIST, .seed = seed};
			struct wlb_packer *pk;
			struct wlb_stream *st, *replay;
			struct wlb_packed out = {0};
			const struct wlb_doc *d;
			uint64_t in_tok = 0, out_tok = 0;
			size_t n;

			if (seed % 2) {
				pp.n_thresholds = 2;
				pp.thresholds[0] = ctx / 4;
				pp.thresholds[1] = ctx / 2;
			}
			wlb_dist_preset(seed % 4 ? "wlb128k" : "prolong64k", &src.dist, &err);
			CHECK_EQ(wlb_packer_create(&pk, packers[k], &pp, &err), 0);
			uint64_t budget = (uint64_t)pp.dp * (uint64_t)pp.m * ctx;
			wlb_stream_create(&st, &src, ctx, budget, &err);
			size_t cap_ids = 1 << 16;
			uint32_t *seen = calloc(cap_ids, sizeof *seen);
			for (int it = 0; it < 30; it++) {
				if (next_lens(pk, st, &out) != 1) {
					bad_layout++;
					break;
				}
				uint32_t cap = strcmp(packers[k], "wlb") ? ctx : pp.s_max;
				bad_layout += out.n_mb != (uint32_t)(pp.dp * pp.m);
				for (uint32_t b = 0; b < out.n_mb; b++) {
					const struct wlb_mb *mb = &out.mb[b];
					uint64_t t = 0;
					bad_layout += mb->replica != b / (uint32_t)pp.m;
					for (uint32_t i = 0; i < mb->n; i++) {
						const struct wlb_doc *x = &out.docs[mb->first + i];
						t += x->len;
						if (x->id < cap_ids) {
							bad_dup += strcmp(packers[k], "concat") && seen[x->id];
							seen[x->id] += x->len;
						}
					}
					bad_capacity += t != mb->tokens || t > cap;
					out_tok += t;
				}
			}
			/* replay the batches the packer read and account for every piece */
			wlb_stream_create(&replay, &src, ctx, budget, &err);
			for (uint32_t b = 0; b < wlb_stream_batches(st); b++) {
				n = wlb_stream_next(replay, &d);
				for (size_t i = 0; i < n; i++) {
					in_tok += d[i].len;
					if (d[i].id < cap_ids)
						bad_conservation += seen[d[i].id] > d[i].len ||
							(strcmp(packers[k], "concat") && seen[d[i].id] &&
							 seen[d[i].id] != d[i].len);
				}
			}
			bad_conservation += in_tok != wlb_stream_tokens(st);
			bad_conservation += in_tok != out_tok + wlb_packer_pending_tokens(pk);
			runs++;
			free(seen);
			wlb_stream_destroy(replay);
			wlb_stream_destroy(st);
			wlb_packer_destroy(pk);
			wlb_packed_free(&out);
		}
	CHECK_EQ(runs, 96);
	CHECK_EQ(bad_conservation, 0);
	CHECK_EQ(bad_capacity, 0);
	CHECK_EQ(bad_layout, 0);
	CHECK_EQ(bad_dup, 0);
}

void test_pack(void)
{
	struct wlb_error err;
	struct wlb_packer *pk;
	struct wlb_pack_params pp = {.context = 100, .s_max = 99, .dp = 1, .m = 1, .work = &t_pairs_work};

	hand_examples();
	properties();
	/* s_max below the context is refused; unknown packers are named */
	CHECK(wlb_packer_create(&pk, "wlb", &pp, &err) < 0);
	CHECK_STR_HAS(err.msg, "s_max");
	CHECK(wlb_packer_create(&pk, "best", &pp, &err) < 0);
	CHECK_STR_HAS(err.msg, "\"best\"");
}
