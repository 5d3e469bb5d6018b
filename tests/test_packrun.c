/* test_packrun.c — metrics of a pack run checked by hand, and the trend of
 * the WLB-LLM paper's Table 2 (7B, 128K, TP8 CP2 PP4 DP1, 4 micro-batches). */
#include <stdlib.h>
#include <string.h>

#include "packrun.h"
#include "test.h"

void test_packrun(void);
void test_paper(void);

/* A model small enough to follow by hand: linear params per layer =
 * 8*(8+16) QKV + 8*8 out + 3*8*16 MLP = 640, so lin = 1280 FLOPs per token;
 * att = 4 * head_dim 4 * heads 2 = 32 FLOPs per pair. */
static void tiny_trace(struct wlb_trace *t)
{
	wlb_trace_init(t);
	t->model = (struct wlb_model){"tiny", 1, 8, 16, 2, 2, 4, 10, WLB_MLP_SWIGLU, 0, WLB_ATTN_FLASH, 0};
	t->context = 100;
	t->parallel.tp = t->parallel.cp = t->parallel.pp = t->parallel.dp = 1;
	t->parallel.microbatches = 2;
	snprintf(t->policy.packing, sizeof t->policy.packing, "wlb");
	snprintf(t->policy.sharding, sizeof t->policy.sharding, "per-seq");
	t->policy.s_max = 150;
	t->policy.n_thresholds = 1;
	t->policy.thresholds[0] = 50;
	static const uint32_t lens[] = {60, 30, 20, 10, 70, 40};
	t->source.kind = WLB_SOURCE_BATCHES;
	t->source.lens = malloc(sizeof lens);
	memcpy(t->source.lens, lens, sizeof lens);
	t->source.n_lens = 6;
	t->source.batch_start = malloc(3 * sizeof *t->source.batch_start);
	t->source.batch_start[0] = 0;
	t->source.batch_start[1] = 4;
	t->source.batch_start[2] = 6;
	t->source.n_batches = 2;
	t->iterations = 0;
}

void test_packrun(void)
{
	struct wlb_trace t;
	struct wlb_packrun r;
	struct wlb_error err;

	/* W(d) = 1280 d + 32 d(d+1)/2.
	 * iteration 0: 60 queued; 30 -> mb0 (53280), 20 -> mb1 (32320), 10 -> mb1
	 *   (14560): 53280 / mean(53280, 46880) = 1.0638978...
	 * iteration 1: 60 and 70 released; 70 -> mb0 (169120), 60 -> mb1 (135360),
	 *   40 -> mb1 (77440): 212800 / mean(169120, 212800) = 1.1143695...
	 * delay: 60 tokens one iteration late out of 230 */
	tiny_trace(&t);
	CHECK_EQ(wlb_packrun(&t, NULL, &r, &err), 0);
	CHECK_EQ(r.n_iters, 2);
	CHECK_NEAR(r.mbs[0].work, 53280, 1e-6);
	CHECK_NEAR(r.iters[0].imbalance_pp, 53280.0 / 50080.0, 1e-12);
	CHECK_NEAR(r.iters[1].imbalance_pp, 212800.0 / 190960.0, 1e-12);
	CHECK_NEAR(r.summary.imbalance_pp, (53280.0 / 50080.0 + 212800.0 / 190960.0) / 2, 1e-12);
	CHECK_NEAR(r.summary.token_delay_iters, 60.0 / 230.0, 1e-12);
	CHECK_EQ(r.summary.tokens, 230);
	CHECK_EQ(r.summary.tokens_in, 230);
	CHECK_EQ(r.summary.pending_tokens, 0);
	CHECK_EQ(r.summary.documents, 6);
	CHECK_NEAR(r.summary.imbalance_cp, 1.0, 0);
	wlb_packrun_free(&r);

	/* cp 2 with per-seq: mb1 of iteration 1 is [60, 40]: 100 tokens, chunks of
	 * 25: rank 0 = doc60[0,25) + doc40[15,40): 325 + (25*15 + 325) = 1025;
	 * rank 1 = doc60[25,50) + doc60[50,60)+doc40[0,15): (25*25+325) + (10*50+55)
	 * + 120 = 950 + 555 + 120 = 1625; max/mean = 1625 / 1325 */
	t.parallel.cp = 2;
	snprintf(t.policy.doc_order, sizeof t.policy.doc_order, "stream");
	CHECK_EQ(wlb_packrun(&t, NULL, &r, &err), 0);
	CHECK_NEAR(r.mbs[3].cp_imbalance, 1625.0 / 1325.0, 1e-12);
	wlb_packrun_free(&r);

	/* wlb's default zigzag order moves doc60 behind doc40 ([40, 60]):
	 * rank 0 = doc40[0,25) + doc60[35,60): 325 + 25*(36+60)/2 = 325 + 1200;
	 * rank 1 = doc40[25,40) + doc60[0,35): 15*(26+40)/2 + 35*36/2 = 495 + 630;
	 * max/mean = 1525 / 1325.  Then doc40's own best place is where it is. */
	t.policy.doc_order[0] = 0;
	CHECK_EQ(wlb_packrun(&t, NULL, &r, &err), 0);
	CHECK_NEAR(r.mbs[3].cp_imbalance, 1525.0 / 1325.0, 1e-12);
	CHECK_NEAR(r.summary.per_doc_share, 0, 0);
	CHECK_NEAR(r.summary.hybrid_share, 0, 0);
	CHECK_NEAR(r.summary.cut_doc_share, 0, 0); /* per-seq keeps every document whole */
	wlb_packrun_free(&r);

	/* per-doc cuts all 6 documents, in all 4 micro-batches */
	snprintf(t.policy.sharding, sizeof t.policy.sharding, "per-doc");
	CHECK_EQ(wlb_packrun(&t, NULL, &r, &err), 0);
	CHECK_NEAR(r.summary.per_doc_share, 1, 0);
	CHECK_NEAR(r.summary.cut_doc_share, 1, 0);
	wlb_packrun_free(&r);

	/* hybrid: its shares as its micro-batch records say; a micro-batch it
	 * leaves to adaptive cuts all (per-doc) or none (per-seq) */
	snprintf(t.policy.sharding, sizeof t.policy.sharding, "hybrid");
	CHECK_EQ(wlb_packrun(&t, NULL, &r, &err), 0);
	size_t hy = 0, pd = 0, docs_pd = 0;
	for (size_t b = 0; b < r.n_mbs; b++) {
		hy += r.mbs[b].sharding == WLB_SHARD_HYBRID;
		pd += r.mbs[b].sharding == WLB_SHARD_PER_DOC;
		docs_pd += r.mbs[b].sharding == WLB_SHARD_PER_DOC ? r.mbs[b].docs : 0;
	}
	CHECK_EQ(r.n_mbs, 4);
	CHECK_NEAR(r.summary.hybrid_share, (double)hy / 4, 0);
	CHECK_NEAR(r.summary.per_doc_share, (double)pd / 4, 0);
	if (hy == 0)
		CHECK_NEAR(r.summary.cut_doc_share, (double)docs_pd / 6, 0);
	else
		CHECK(r.summary.cut_doc_share > (double)docs_pd / 6 && r.summary.cut_doc_share < 1);
	wlb_packrun_free(&r);
	wlb_trace_free(&t);
}

static double pack_imbalance(const char *packing, uint32_t window, int queues, double *delay)
{
	struct wlb_trace t;
	struct wlb_packrun r;
	struct wlb_error err;
	double imb = -1;

	wlb_trace_init(&t);
	wlb_model_preset("llama2-7b", &t.model, &err);
	t.context = 131072;
	t.parallel.tp = 8;
	t.parallel.cp = 2;
	t.parallel.pp = 4;
	t.parallel.dp = 1;
	t.parallel.microbatches = 4;
	t.source.kind = WLB_SOURCE_DIST;
	t.source.seed = 1;
	wlb_dist_preset("wlb128k", &t.source.dist, &err);
	t.iterations = 200;
	snprintf(t.policy.packing, sizeof t.policy.packing, "%s", packing);
	snprintf(t.policy.sharding, sizeof t.policy.sharding, "adaptive");
	t.policy.window = window;
	t.policy.n_thresholds = queues;
	t.policy.thresholds[0] = 32768;
	t.policy.thresholds[1] = 65536;
	if (wlb_packrun(&t, NULL, &r, &err) == 0) {
		imb = r.summary.imbalance_pp;
		if (delay)
			*delay = r.summary.token_delay_iters;
		wlb_packrun_free(&r);
	}
	wlb_trace_free(&t);
	return imb;
}

void test_paper(void)
{
	double delay = 9, w1, w2, w4, w8;

	/* Table 2: original packing 1.44, greedy over 1/2/4/8 batches
	 * 1.41/1.22/1.11/1.08, WLB-LLM 1.24 (one queue) and 1.05 (two queues),
	 * token delay 0.5 iteration */
	CHECK(pack_imbalance("concat", 1, 0, NULL) > 1.25);
	w1 = pack_imbalance("greedy", 1, 0, NULL);
	w2 = pack_imbalance("greedy", 2, 0, NULL);
	w4 = pack_imbalance("greedy", 4, 0, NULL);
	w8 = pack_imbalance("greedy", 8, 0, NULL);
	CHECK(w1 > 1.3);
	CHECK(w1 > w2 && w2 > w4 && w4 > w8);
	CHECK(w8 < 1.1);
	CHECK(pack_imbalance("wlb", 1, 0, NULL) > 1.15);
	CHECK(pack_imbalance("wlb", 1, 2, &delay) <= 1.05);
	CHECK(delay > 0 && delay < 1.0);
}
