/* test_api.c — the public API of libwlb (wlb.h): the streaming packer on
 * hand-worked streams, save/restore at every step and on every truncation of
 * a state, the CP layouts and their THD metadata worked by hand. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "test.h"
#include "wlb.h"

void test_api(void);

static wlb_loader *make(const char *packing, uint32_t context, int dp, int m)
{
	struct wlb_loader_config c;
	wlb_loader *l = NULL;
	char err[256];

	wlb_loader_config_init(&c);
	c.packing = packing;
	c.context = context;
	c.dp = dp;
	c.microbatches = m;
	CHECK_EQ(wlb_loader_create(&l, &c, err, sizeof err), 0);
	return l;
}

/* "doc:off+len ..." of an iteration's micro-batches, "|" between them */
static void spans_text(const struct wlb_iteration *it, char *out, size_t n)
{
	size_t at = 0;
	out[0] = '\0';
	for (uint32_t b = 0; b < it->n_microbatches; b++) {
		at += (size_t)snprintf(out + at, n - at, "%s", b ? "|" : "");
		for (size_t k = it->mb_start[b]; k < it->mb_start[b + 1]; k++)
			at += (size_t)snprintf(out + at, n - at, "%s%llu:%llu+%llu",
					       k > it->mb_start[b] ? " " : "",
					       (unsigned long long)it->spans[k].doc_id,
					       (unsigned long long)it->spans[k].offset,
					       (unsigned long long)it->spans[k].length);
	}
}

static void test_errors(void)
{
	struct wlb_loader_config c;
	wlb_loader *l;
	char err[256];

	wlb_loader_config_init(&c);
	c.context = 100;
	c.dp = 1;
	c.microbatches = 1;
	c.packing = "nope";
	CHECK_EQ(wlb_loader_create(&l, &c, err, sizeof err), WLB_EINVAL);
	CHECK(l == NULL);
	CHECK_STR_HAS(err, "packing must be one of: concat, greedy, bfd, wlb, wlb-mem, got \"nope\"");
	c.packing = "wlb";
	c.dp = 0;
	CHECK_EQ(wlb_loader_create(&l, &c, err, sizeof err), WLB_EINVAL);
	CHECK_STR_HAS(err, "dp");
	c.dp = 1;
	c.workload = "speed";
	CHECK_EQ(wlb_loader_create(&l, &c, err, sizeof err), WLB_EINVAL);
	CHECK_STR_HAS(err, "workload");

	l = make("wlb", 100, 1, 1);
	CHECK_EQ(wlb_loader_push(l, 7, 0), WLB_ERANGE);
	CHECK_STR_HAS(wlb_loader_error(l), "document 7");
	CHECK_EQ(wlb_loader_push(l, 7, 1ull << 32), WLB_ERANGE);
	wlb_loader_destroy(l);
}

/* concat, context 100, dp 1, m 2: a global batch is 200 tokens */
static void test_stream_cuts(void)
{
	wlb_loader *l = make("concat", 100, 1, 2);
	struct wlb_iteration it;
	char s[512];

	CHECK_EQ(wlb_loader_push(l, 10, 150), 0);
	CHECK_EQ(wlb_loader_next(l, &it), 0); /* 150 < 200: not ready */
	CHECK_EQ(wlb_loader_buffered_tokens(l), 150);
	CHECK_EQ(wlb_loader_push(l, 11, 50), 0);
	CHECK_EQ(wlb_loader_next(l, &it), 1);
	CHECK_EQ(it.index, 0);
	CHECK_EQ(it.n_microbatches, 2);
	spans_text(&it, s, sizeof s);
	/* 150 is cut at the context: 100 + 50; the second sequence holds the tail and doc 11 */
	CHECK(!strcmp(s, "10:0+100|10:100+50 11:0+50"));
	CHECK_EQ(wlb_loader_next(l, &it), 0);
	/* a document crossing the batch boundary: its tail opens the next batch */
	CHECK_EQ(wlb_loader_push(l, 12, 250), 0);
	CHECK_EQ(wlb_loader_next(l, &it), 1);
	spans_text(&it, s, sizeof s);
	CHECK(!strcmp(s, "12:0+100|12:100+100"));
	CHECK_EQ(wlb_loader_buffered_tokens(l), 50);
	CHECK_EQ(wlb_loader_next(l, &it), 0);
	/* finish: the last partial batch comes out, then nothing */
	CHECK_EQ(wlb_loader_finish(l), 0);
	CHECK_EQ(wlb_loader_push(l, 13, 5), WLB_EINVAL);
	CHECK_EQ(wlb_loader_next(l, &it), 1);
	spans_text(&it, s, sizeof s);
	CHECK(!strcmp(s, "12:200+50|"));
	CHECK_EQ(wlb_loader_next(l, &it), 0);
	wlb_loader_destroy(l);
}

/* Save after every push, restore, continue both: the same iterations. */
static void test_save_restore(void)
{
	static const uint32_t lens[] = {900, 30, 3000, 120, 5000, 77, 640, 2100, 9000, 15, 333, 1200,
					4100, 60, 700, 2500, 80, 8000, 410, 90};
	const size_t n = sizeof lens / sizeof lens[0];
	wlb_loader *a = make("wlb", 4096, 2, 2), *b;
	struct wlb_iteration ia, ib;
	char sa[2048], sb[2048], err[256];
	int same = 1, iters = 0;

	for (size_t i = 0; i < n; i++) {
		void *blob, *blob2;
		size_t len, len2;

		CHECK_EQ(wlb_loader_push(a, 1000 + i, lens[i]), 0);
		CHECK_EQ(wlb_loader_save(a, &blob, &len), 0);
		CHECK_EQ(wlb_loader_restore(&b, blob, len, err, sizeof err), 0);
		/* a restored loader saves the same bytes */
		CHECK_EQ(wlb_loader_save(b, &blob2, &len2), 0);
		CHECK(len == len2 && !memcmp(blob, blob2, len));
		wlb_free(blob2);
		if (i == n / 2) { /* every truncation fails cleanly; a flipped magic too */
			int all = 1;
			for (size_t cut = 0; cut < len; cut++) {
				wlb_loader *x = NULL;
				all &= wlb_loader_restore(&x, blob, cut, err, sizeof err) < 0 && !x;
			}
			CHECK(all);
			wlb_loader *x = NULL;
			((char *)blob)[0] ^= 1;
			CHECK_EQ(wlb_loader_restore(&x, blob, len, err, sizeof err), WLB_EINVAL);
			CHECK(x == NULL);
			CHECK_STR_HAS(err, "magic");
		}
		wlb_free(blob);
		for (;;) {
			int ra = wlb_loader_next(a, &ia), rb = wlb_loader_next(b, &ib);
			same &= ra == rb;
			if (ra != 1 || rb != 1)
				break;
			spans_text(&ia, sa, sizeof sa);
			spans_text(&ib, sb, sizeof sb);
			same &= !strcmp(sa, sb) && ia.index == ib.index;
			iters++;
		}
		wlb_loader_destroy(a);
		a = b; /* continue from the copy */
	}
	CHECK(same);
	/* 48016 tokens over batches of 2 x 2 x 4096 = 16384: two full ones */
	CHECK_EQ(iters, 2);
	wlb_loader_destroy(a);
}

static void check_rank(const wlb_cp_layout *s, int r, const char *pieces, const int64_t *idx,
		       size_t n_idx, const int32_t *cu, const int32_t *cup, size_t n_cu)
{
	const struct wlb_cp_piece *p;
	const int64_t *ix;
	const int32_t *c, *cp;
	char txt[256] = "";
	size_t np = wlb_cp_rank_pieces(s, r, &p), at = 0;

	for (size_t k = 0; k < np; k++)
		at += (size_t)snprintf(txt + at, sizeof txt - at, "%s(%u,%u,%u)", k ? " " : "", p[k].doc,
				       p[k].start, p[k].end);
	CHECK(!strcmp(txt, pieces));
	CHECK_EQ(wlb_cp_rank_token_index(s, r, &ix), n_idx);
	CHECK(!memcmp(ix, idx, n_idx * sizeof *idx));
	CHECK_EQ(wlb_cp_rank_cu_seqlens(s, r, &c, &cp), n_cu);
	CHECK(!memcmp(c, cu, n_cu * sizeof *cu));
	CHECK(!memcmp(cp, cup, n_cu * sizeof *cup));
}

/* Documents of 5 and 3 tokens over cp 2 (4 chunks), worked by hand. */
static void test_shard(void)
{
	static const uint32_t lens[] = {5, 3};
	wlb_cp_layout *s;
	char err[256];

	/* per-doc: doc 0 = chunks of 2,1,1,1 (its remainder to chunk 0, the
	 * pointer moves to 1); doc 1 = 0,1,1,1.  Rank 0 holds chunks 0 and 3,
	 * rank 1 chunks 1 and 2.  Slots per document: 2*ceil(5/4) = 4, 2*ceil(3/4) = 2 */
	CHECK_EQ(wlb_cp_shard(&s, lens, 2, 2, WLB_CP_PER_DOC, err, sizeof err), 0);
	CHECK_EQ(wlb_cp_layout_used(s), WLB_CP_PER_DOC);
	check_rank(s, 0, "(0,0,2) (0,4,5) (1,2,3)", (const int64_t[]){0, 1, 4, 7}, 4,
		   (const int32_t[]){0, 3, 4}, (const int32_t[]){0, 4, 6}, 3);
	check_rank(s, 1, "(0,2,3) (0,3,4) (1,0,1) (1,1,2)", (const int64_t[]){2, 3, 5, 6}, 4,
		   (const int32_t[]){0, 2, 4}, (const int32_t[]){0, 4, 6}, 3);
	wlb_cp_layout_destroy(s);

	/* per-seq: 8 tokens in chunks of 2; rank 0 = [0,2) + [6,8), rank 1 = [2,6) */
	CHECK_EQ(wlb_cp_shard(&s, lens, 2, 2, WLB_CP_PER_SEQ, err, sizeof err), 0);
	check_rank(s, 0, "(0,0,2) (1,1,3)", (const int64_t[]){0, 1, 6, 7}, 4,
		   (const int32_t[]){0, 2, 4}, (const int32_t[]){0, 2, 4}, 3);
	check_rank(s, 1, "(0,2,4) (0,4,5) (1,0,1)", (const int64_t[]){2, 3, 4, 5}, 4,
		   (const int32_t[]){0, 3, 4}, (const int32_t[]){0, 3, 4}, 3);
	wlb_cp_layout_destroy(s);

	/* per-seq end padding: 7 tokens over cp 2 = chunks of 2, the last one 1 + 1 pad (rank 0) */
	CHECK_EQ(wlb_cp_shard(&s, (const uint32_t[]){7}, 1, 2, WLB_CP_PER_SEQ, err, sizeof err), 0);
	check_rank(s, 0, "(0,0,2) (0,6,7)", (const int64_t[]){0, 1, 6}, 3,
		   (const int32_t[]){0, 3}, (const int32_t[]){0, 4}, 2);
	wlb_cp_layout_destroy(s);

	/* hybrid: one 8192-token document among eight of 256 at cp 2.  Cutting
	 * the long one (2048 a chunk) and keeping the short ones whole in the
	 * zig-zag chunks (S = 10240 / 4 = 2560 a chunk, so 512 of them: two
	 * documents) beats both static layouts: rank 0 = chunks 0 and 3, rank 1
	 * = chunks 1 and 2; the THD arrays are per-seq's (no padding inside). */
	static uint32_t hy[9] = {8192, 256, 256, 256, 256, 256, 256, 256, 256};
	static int64_t idx0[5120], idx1[5120];
	int32_t cu0[10] = {0, 4096}, cu1[10] = {0, 4096};
	for (int i = 0; i < 2048; i++) {
		idx0[i] = i;
		idx0[2048 + i] = 6144 + i;
		idx1[i] = 2048 + i;
		idx1[2048 + i] = 4096 + i;
	}
	for (int k = 0; k < 4; k++)   /* rank 0: docs 1, 2, 7, 8; rank 1: docs 3 to 6 */
		for (int i = 0; i < 256; i++) {
			int d0 = k < 2 ? 1 + k : 5 + k, d1 = 3 + k;
			idx0[4096 + 256 * k + i] = 8192 + 256 * (d0 - 1) + i;
			idx1[4096 + 256 * k + i] = 8192 + 256 * (d1 - 1) + i;
		}
	for (int i = 1; i <= 8; i++) {
		cu0[i + 1] = cu0[i] + (i == 1 || i == 2 || i == 7 || i == 8 ? 256 : 0);
		cu1[i + 1] = cu1[i] + (i >= 3 && i <= 6 ? 256 : 0);
	}
	CHECK_EQ(wlb_cp_shard(&s, hy, 9, 2, WLB_CP_HYBRID, err, sizeof err), 0);
	CHECK_EQ(wlb_cp_layout_used(s), WLB_CP_HYBRID);
	check_rank(s, 0, "(0,0,2048) (0,6144,8192) (1,0,256) (2,0,256) (7,0,256) (8,0,256)", idx0, 5120,
		   cu0, cu0, 10);
	check_rank(s, 1, "(0,2048,4096) (0,4096,6144) (3,0,256) (4,0,256) (5,0,256) (6,0,256)", idx1, 5120, cu1, cu1, 10);
	wlb_cp_layout_destroy(s);

	CHECK_EQ(wlb_cp_shard(&s, lens, 2, 2, (enum wlb_cp_mode)4, err, sizeof err), WLB_EINVAL);
	CHECK_STR_HAS(err, "mode must be");
	CHECK_EQ(wlb_cp_shard(&s, (const uint32_t[]){4, 0}, 2, 2, WLB_CP_PER_DOC, err, sizeof err),
		 WLB_EINVAL);
	CHECK_EQ(wlb_cp_shard(&s, lens, 2, 0, WLB_CP_PER_DOC, err, sizeof err), WLB_EINVAL);
}

void test_api(void)
{
	test_errors();
	test_stream_cuts();
	test_save_restore();
	test_shard();
}
