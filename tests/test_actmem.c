/* test_actmem.c — memory-aware packing (actmem.h, wlb-mem): activation
 * bytes and token caps by hand, the cap over random streams, a case where
 * wlb overfills a micro-batch and wlb-mem does not, and the memory
 * divergence of a pack run by hand. */
#include <stdlib.h>
#include <string.h>

#include "docs.h"
#include "pack.h"
#include "packrun.h"
#include "schedule.h"
#include "test.h"
#include "test_util.h"

void test_actmem(void);

#define GIB 1073741824.0

/* One layer of hidden 8, ffn 16, 2 heads of 4, 2 KV heads, SwiGLU, no
 * recompute, tp 1: activations per token and layer = 4 x 2h (64) + 2 x qkv
 * width 24 (48) + 2 x 8 attention output (16) + 4 x 2 log-sum-exp (8) +
 * 3 x 2 x 16 MLP (96) = 232 bytes. */
#define ACT_TOKEN_LAYER 232.0

static void tiny(struct wlb_trace *t, int layers, const uint32_t *lens, size_t n)
{
	wlb_trace_init(t);
	t->model = (struct wlb_model){"tiny", layers, 8, 16, 2, 2, 4, 10, WLB_MLP_SWIGLU, 0, WLB_ATTN_FLASH, 0};
	t->context = 8;
	t->parallel.tp = t->parallel.cp = t->parallel.pp = t->parallel.dp = 1;
	t->parallel.microbatches = 2;
	snprintf(t->policy.sharding, sizeof t->policy.sharding, "per-seq");
	t->policy.s_max = 12;
	t->policy.n_thresholds = 0;
	t->source.kind = WLB_SOURCE_BATCHES;
	t->source.lens = malloc(n * sizeof *lens);
	memcpy(t->source.lens, lens, n * sizeof *lens);
	t->source.n_lens = n;
	t->source.batch_start = malloc(2 * sizeof *t->source.batch_start);
	t->source.batch_start[0] = 0;
	t->source.batch_start[1] = n;
	t->source.n_batches = 1;
	t->iterations = 0;
}

static void hand_bytes(void)
{
	struct wlb_trace t;
	struct wlb_actmem am;
	struct wlb_error err;
	static const uint32_t one[] = {8};

	/* 4 layers on pp 2: 2 a stage; cp 2 pads to multiples of 4 */
	tiny(&t, 4, one, 1);
	t.parallel.pp = 2;
	t.parallel.cp = 2;
	t.parallel.microbatches = 4;
	CHECK_EQ(wlb_actmem_plan(&t, 1.0, &am, &err), 0);
	CHECK_NEAR(am.bytes_token, 2 * ACT_TOKEN_LAYER, 1e-9);
	/* 10 tokens: padded to 12, 6 a rank: 6 x 464 */
	CHECK_NEAR(wlb_actmem_bytes(&am, 10), 6 * 464.0, 1e-9);
	CHECK_NEAR(wlb_actmem_bytes(&am, 12), 6 * 464.0, 1e-9);
	CHECK_NEAR(wlb_actmem_bytes(&am, 13), 8 * 464.0, 1e-9);
	/* whole blocks of 4 tokens (2 a rank, 928 bytes) */
	CHECK_EQ(wlb_actmem_token_cap(&am, 6 * 464.0), 12);
	CHECK_EQ(wlb_actmem_token_cap(&am, 6 * 464.0 - 1), 8);
	CHECK_EQ(wlb_actmem_token_cap(&am, 927), 0);
	/* 1F1B on 2 stages: stage 0 holds 2 micro-batches' 2 layers at its
	 * peak, stage 1 one; the cap is the tighter of (1 GiB - state) x 2 / 4
	 * and (1 GiB - state) x 2 / 2 */
	struct wlb_mem m0, m1;
	wlb_model_memory(&t.model, &t.parallel, 2, 1, 0, &m0);
	wlb_model_memory(&t.model, &t.parallel, 2, 0, 1, &m1);
	double s0 = m0.params_bytes + m0.grads_bytes + m0.optim_bytes;
	double s1 = m1.params_bytes + m1.grads_bytes + m1.optim_bytes;
	double f0 = (GIB - s0) * 2 / 4, f1 = (GIB - s1) * 2 / 2;
	CHECK_NEAR(am.fit_bytes, f0 < f1 ? f0 : f1, 1e-3);
	CHECK_NEAR(am.cap_bytes, am.fit_bytes, 1e-9);
	t.policy.mem_cap_gib = 0.5;
	CHECK_EQ(wlb_actmem_plan(&t, 1.0, &am, &err), 0);
	CHECK_NEAR(am.cap_bytes, GIB / 2, 1e-9);
	CHECK_EQ(wlb_actmem_plan(&t, 0, &am, &err), 0);
	CHECK_NEAR(am.fit_bytes, 0, 0);
	wlb_trace_free(&t);
}


/* Sorted token counts of an iteration's two micro-batches. */
static void two_tokens(const struct wlb_packed *p, uint64_t out[2])
{
	out[0] = p->mb[0].tokens < p->mb[1].tokens ? p->mb[0].tokens : p->mb[1].tokens;
	out[1] = p->mb[0].tokens < p->mb[1].tokens ? p->mb[1].tokens : p->mb[0].tokens;
}

static void overfill(void)
{
	/* two micro-batches, context 8, s_max 12, one byte a token, cp 1, cap 8
	 * bytes.  Longest first: 6 -> mb A (W 21); each 2 goes to the lighter B
	 * (W 3, 6, 9, 12, 15 < 21).  wlb: B = 10 tokens, over the cap.  wlb-mem:
	 * B stops at 8 tokens; the fifth 2 goes to the one with fewer tokens,
	 * A: 8 and 8. */
	static const uint32_t flat[] = {6, 2, 2, 2, 2, 2};
	struct wlb_pack_params pp = {.context = 8, .s_max = 12, .dp = 1, .m = 2, .cp = 1,
				     .work = &t_pairs_work, .mem = {1.0, 1, 8, 8}};
	static const char *const names[] = {"wlb", "wlb-mem"};
	static const uint64_t want[2][2] = {{6, 10}, {8, 8}};
	struct wlb_error err;

	for (int k = 0; k < 2; k++) {
		struct wlb_source src = {.kind = WLB_SOURCE_BATCHES};
		struct wlb_stream *st;
		struct wlb_packer *pk;
		struct wlb_packed out = {0};
		uint64_t got[2];
		src.lens = malloc(sizeof flat);
		memcpy(src.lens, flat, sizeof flat);
		src.n_lens = 6;
		src.batch_start = malloc(2 * sizeof *src.batch_start);
		src.batch_start[0] = 0;
		src.batch_start[1] = 6;
		src.n_batches = 1;
		CHECK_EQ(wlb_packer_create(&pk, names[k], &pp, &err), 0);
		CHECK_EQ(wlb_stream_create(&st, &src, 8, 16, &err), 0);
		CHECK_EQ(wlb_packer_next(pk, st, &out, &err), 1);
		two_tokens(&out, got);
		CHECK_EQ(got[0], want[k][0]);
		CHECK_EQ(got[1], want[k][1]);
		CHECK_EQ(wlb_packer_pending_tokens(pk), 0);
		wlb_packed_free(&out);
		wlb_stream_destroy(st);
		wlb_packer_destroy(pk);
		wlb_source_free(&src);
	}
	/* a cap below a context-long micro-batch is refused */
	struct wlb_packer *pk;
	pp.mem.cap_bytes = 7;
	CHECK(wlb_packer_create(&pk, "wlb-mem", &pp, &err) < 0);
	CHECK_STR_HAS(err.msg, "less than the context (8)");
	pp.mem.cap_bytes = 0;
	CHECK(wlb_packer_create(&pk, "wlb-mem", &pp, &err) < 0);
	CHECK_STR_HAS(err.msg, "mem_cap_gib");
}

/* The cap holds over random streams, every token read is trained or
 * pending, and a second run packs the same. */
static void random_streams(void)
{
	static const uint32_t contexts[] = {1024, 4096, 16384};
	struct wlb_error err;
	int over = 0, lost = 0, differ = 0, runs = 0;

	for (uint64_t seed = 1; seed <= 24; seed++) {
		uint32_t ctx = contexts[seed % 3];
		int cp = 1 << (seed % 3);
		struct wlb_pack_params pp = {.context = ctx, .s_max = 2 * ctx, .dp = 1 + (int)(seed % 2),
					     .m = 2 << (seed % 2), .cp = cp, .work = &t_pairs_work};
		/* between one and two contexts' worth of activations */
		pp.mem = (struct wlb_actmem){100.0 + (double)seed, cp, 0, 0};
		pp.mem.cap_bytes = wlb_actmem_bytes(&pp.mem, ctx) * (1.0 + (double)(seed % 5) / 5.0);
		if (seed % 2) {
			pp.n_thresholds = 2;
			pp.thresholds[0] = ctx / 4;
			pp.thresholds[1] = ctx / 2;
		}
		uint64_t tok[2] = {0, 0}, hash[2] = {0, 0};
		for (int rep = 0; rep < 2; rep++) {
			struct wlb_source src = {.kind = WLB_SOURCE_DIST, .seed = seed};
			struct wlb_packer *pk;
			struct wlb_stream *st;
			struct wlb_packed out = {0};
			wlb_dist_preset(seed % 4 ? "wlb128k" : "prolong64k", &src.dist, &err);
			CHECK_EQ(wlb_packer_create(&pk, "wlb-mem", &pp, &err), 0);
			CHECK_EQ(wlb_stream_create(&st, &src, ctx, (uint64_t)pp.dp * pp.m * ctx, &err), 0);
			for (int it = 0; it < 30 && wlb_packer_next(pk, st, &out, &err) == 1; it++)
				for (uint32_t b = 0; b < out.n_mb; b++) {
					uint64_t t = 0;
					for (uint32_t i = 0; i < out.mb[b].n; i++) {
						t += out.docs[out.mb[b].first + i].len;
						hash[rep] = hash[rep] * 1000003u + out.docs[out.mb[b].first + i].id;
					}
					over += t != out.mb[b].tokens || t > pp.s_max ||
						wlb_actmem_bytes(&pp.mem, t) > pp.mem.cap_bytes;
					tok[rep] += t;
				}
			lost += wlb_stream_tokens(st) != tok[rep] + wlb_packer_pending_tokens(pk);
			runs++;
			wlb_packed_free(&out);
			wlb_stream_destroy(st);
			wlb_packer_destroy(pk);
		}
		differ += hash[0] != hash[1] || tok[0] != tok[1];
	}
	CHECK_EQ(runs, 48);
	CHECK_EQ(over, 0);
	CHECK_EQ(lost, 0);
	CHECK_EQ(differ, 0);
}

/* Memory divergence of a pack run: the overfill case through the trace
 * path, one layer of 232 bytes a token, cp 1 (even token counts as they are). */
static void divergence(void)
{
	static const uint32_t flat[] = {6, 2, 2, 2, 2, 2};
	struct wlb_trace t;
	struct wlb_packrun r;
	struct wlb_error err;

	tiny(&t, 1, flat, 6);
	snprintf(t.policy.packing, sizeof t.policy.packing, "wlb");
	CHECK_EQ(wlb_packrun(&t, &t_pairs_work, &r, &err), 0);
	CHECK_EQ(r.n_iters, 1);
	/* 6 and 10 tokens: max / mean = 10 / 8 */
	CHECK_NEAR(r.iters[0].imbalance_mem, 1.25, 1e-12);
	CHECK_NEAR(r.summary.imbalance_mem, 1.25, 1e-12);
	CHECK_NEAR(r.summary.act_max_gib, 10 * ACT_TOKEN_LAYER / GIB, 1e-15);
	wlb_packrun_free(&r);
	/* a cap of 9 tokens' bytes holds 8 (whole pairs): 8 and 8 */
	snprintf(t.policy.packing, sizeof t.policy.packing, "wlb-mem");
	t.policy.mem_cap_gib = 9 * ACT_TOKEN_LAYER / GIB;
	CHECK_EQ(wlb_packrun(&t, &t_pairs_work, &r, &err), 0);
	CHECK_NEAR(r.iters[0].imbalance_mem, 1.0, 1e-12);
	CHECK_NEAR(r.summary.act_max_gib, 8 * ACT_TOKEN_LAYER / GIB, 1e-15);
	CHECK_NEAR(r.summary.act_cap_gib, t.policy.mem_cap_gib, 1e-15);
	CHECK_EQ(r.summary.tokens, 16);
	wlb_packrun_free(&r);
	/* without a cap and without a GPU (FLOP workload) wlb-mem refuses */
	t.policy.mem_cap_gib = 0;
	CHECK(wlb_packrun(&t, NULL, &r, &err) < 0);
	CHECK_STR_HAS(err.msg, "wlb-mem");
	wlb_trace_free(&t);
}

void test_actmem(void)
{
	hand_bytes();
	overfill();
	random_streams();
	divergence();
}
