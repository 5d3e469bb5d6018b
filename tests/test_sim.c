/* test_sim.c — the simulator end to end on a hand-made cost DB and a small
 * in-memory trace: an iteration time computed by hand, the attribution of
 * lost time adding up, refusals of impossible inputs, OOM, determinism and
 * the timeline's documents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "sim.h"
#include "stage.h"
#include "test.h"

void test_sim(void);

/* A tiny model: 2 heads of 32 (hidden 64), SwiGLU MLP of 128, vocab 128. */
static const struct wlb_model tiny = {"tiny", 2, 64, 128, 2, 2, 32, 128, WLB_MLP_SWIGLU, 0, WLB_ATTN_FLASH, 0};

/* Samples for micro-batches of 256 tokens at tp 1: GEMMs (m = 256) of QKV
 * (n 192 = (2 + 2*2) x 32, k 64) 3 us, output projection (64, 64) 1 us, MLP
 * up (256 = 2 x 128, 64) 4 us, down (64, 128) 2 us, logits (128, 64) 5 us;
 * attention of one (128, 128) piece 7 us forward, 17 us backward.  HBM at
 * 1250 GB/s: element-wise work costs 2 us + bytes / 1e6. */
static struct wlb_costdb_data sample_data(const char *name, double mem_gib)
{
	struct wlb_costdb_data d;
	memset(&d, 0, sizeof d);
	d.has_device = 1;
	d.device = (struct wlb_device){"", "Test GPU", 100, mem_gib, 1000, 1250, 8, 400, 10, 50, 20};
	snprintf(d.device.name, sizeof d.device.name, "%s", name);
	d.gemm = calloc(8, sizeof *d.gemm);
	d.attn = calloc(4, sizeof *d.attn);
	d.coll = calloc(4, sizeof *d.coll);
	d.p2p = calloc(2, sizeof *d.p2p);
#define G(m_, n_, k_, t_) d.gemm[d.n_gemm++] = (struct wlb_gemm_sample){1, WLB_SRC_ANALYTIC, m_, n_, k_, "bf16", t_, t_, t_, 1}
	G(256, 192, 64, 3);
	G(256, 64, 64, 1);
	G(256, 256, 64, 4);
	G(256, 64, 128, 2);
	G(256, 128, 64, 5);
#undef G
#define A(b_, q_, kv_, t_) d.attn[d.n_attn++] = (struct wlb_attn_sample){1, WLB_SRC_ANALYTIC, b_, 2, 2, 32, q_, kv_, 1, "analytic", t_, t_, t_, 1}
	A(0, 128, 128, 7);
	A(1, 128, 128, 17);
#undef A
	d.coll[d.n_coll++] = (struct wlb_coll_sample){1, WLB_SRC_ANALYTIC, WLB_ALL_GATHER, 2, 1, 1000, "ring", 5, 0, 0};
	d.coll[d.n_coll++] = (struct wlb_coll_sample){1, WLB_SRC_ANALYTIC, WLB_ALL_GATHER, 2, 1, 1000000, "ring", 50, 0, 0};
	d.coll[d.n_coll++] = (struct wlb_coll_sample){1, WLB_SRC_ANALYTIC, WLB_REDUCE_SCATTER, 2, 1, 1000, "ring", 5, 0, 0};
	d.coll[d.n_coll++] = (struct wlb_coll_sample){1, WLB_SRC_ANALYTIC, WLB_REDUCE_SCATTER, 2, 1, 1000000, "ring", 50, 0, 0};
	d.p2p[d.n_p2p++] = (struct wlb_p2p_sample){1, WLB_SRC_ANALYTIC, 1000, 0, 3};
	d.p2p[d.n_p2p++] = (struct wlb_p2p_sample){1, WLB_SRC_ANALYTIC, 1000000, 0, 30};
	return d;
}

static struct wlb_cost *make_cost(const char *name, double mem_gib)
{
	struct wlb_costdb_data d = sample_data(name, mem_gib);
	struct wlb_cost *c = NULL;
	struct wlb_error err;

	if (wlb_cost_from_data(&c, &d, "test.db", &err)) {
		fprintf(stderr, "wlb_cost_from_data: %s\n", err.msg);
		return NULL;
	}
	return c;
}

/* batches[i] has n[i] documents; the trace owns copies. */
static void tiny_trace(struct wlb_trace *t, uint32_t context, const uint32_t *lens, const uint32_t *per_batch,
		       uint32_t n_batches)
{
	size_t n = 0;

	wlb_trace_init(t);
	t->model = tiny;
	snprintf(t->gpu, sizeof t->gpu, "test-gpu");
	t->context = context;
	t->parallel.tp = t->parallel.cp = t->parallel.pp = t->parallel.dp = 1;
	t->parallel.microbatches = 2;
	snprintf(t->policy.packing, sizeof t->policy.packing, "concat");
	snprintf(t->policy.sharding, sizeof t->policy.sharding, "per-seq");
	for (uint32_t b = 0; b < n_batches; b++)
		n += per_batch[b];
	t->source.kind = WLB_SOURCE_BATCHES;
	t->source.lens = malloc(n * sizeof *t->source.lens);
	memcpy(t->source.lens, lens, n * sizeof *lens);
	t->source.n_lens = n;
	t->source.batch_start = malloc((n_batches + 1) * sizeof *t->source.batch_start);
	t->source.batch_start[0] = 0;
	for (uint32_t b = 0; b < n_batches; b++)
		t->source.batch_start[b + 1] = t->source.batch_start[b] + per_batch[b];
	t->source.n_batches = n_batches;
	t->iterations = 0;
}

static void test_hand_time(void)
{
	static const uint32_t lens[] = {128, 128, 128, 128}, per[] = {4};
	struct wlb_trace t;
	struct wlb_sim_result r;
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_error err;
	struct wlb_cost *c = make_cost("test-gpu", 80);

	/* pp = dp = cp = tp = 1, context 256, two micro-batches of [128, 128]
	 * (concat); per-seq with one rank keeps each document a whole (128, 128)
	 * piece; no communication at all.  One chunk of both layers, 256 tokens:
	 *   GEMMs        3 + 1 + 4 + 2                         = 10 us per layer
	 *   element-wise 2 x (10 x 64 + 2 x (192 - 64) + 3 x 128) = 2560 B/token,
	 *                2 + 2560 x 256 / 1e6                   = 2.65536 us
	 *   attention    2 pieces x 7 = 14 fwd, 2 x 17 = 34 bwd
	 *   fwd chunk  2 x (10 + 2.65536 + 14)                  = 53.31072
	 *   bwd chunk  2 x (2 x 10 + 2 x 2.65536 + 34)          = 118.62144
	 *   embedding  2 + 2 x 256 x 64 / 1e6 = 2.032768 fwd, twice that bwd
	 *   logits     5 (GEMM) + cross-entropy 2 + 38 x 256 x 128 / 1e6
	 *              = 8.245184 fwd, 2 x 5 + 2 + 14 x 256 x 128 / 1e6
	 *              = 12.458752 bwd
	 *   micro-batch fwd 53.31072 + 2.032768 + 8.245184  = 63.588672 us
	 *               bwd 118.62144 + 4.065536 + 12.458752 = 135.145728 us
	 *   optimizer step over P = 2 x (64 x 192 + 64 x 64 + 3 x 64 x 128 +
	 *              2 x 64) + 2 x 128 x 64 + 64 = 98,624 parameters, 30 B
	 *              each: 2 + 30 x 98,624 / 1e6             = 4.95872 us
	 * One stage runs F0 B0 F1 B1 and the step: 2 x 198.7344 + 4.95872
	 * = 402.42752 us. */
	tiny_trace(&t, 256, lens, per, 1);
	CHECK(c != NULL);
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	CHECK_EQ(r.n_iters, 1);
	CHECK_EQ(r.n_mbs, 2);
	if (r.n_iters == 1 && r.n_mbs == 2) {
		for (int k = 0; k < 2; k++) {
			CHECK_EQ(r.mbs[k].tokens, 256);
			CHECK_EQ(r.mbs[k].docs, 2);
			CHECK_NEAR(r.mbs[k].fwd_ms, 0.063588672, 1e-12);
			CHECK_NEAR(r.mbs[k].bwd_ms, 0.135145728, 1e-12);
		}
		CHECK_NEAR(r.iters[0].time_ms, 0.40242752, 1e-12);
		CHECK_NEAR(r.summary.iteration_ms_mean, 0.40242752, 1e-12);
		/* nothing to lose: ideal = simulated, every part 0 */
		CHECK_NEAR(r.summary.ideal_ms, 0.40242752, 1e-12);
		for (int l = 0; l < WLB_LOST_N; l++)
			CHECK_NEAR(r.summary.lost_ms[l], 0, 1e-12);
		CHECK_NEAR(r.summary.bubble_fraction, 0, 1e-12);
		CHECK_NEAR(r.summary.tokens_per_s, 512 / 0.40242752e-3, 1e-3);
		CHECK_EQ(r.summary.oom, 0);
	}
	wlb_sim_result_free(&r);
	wlb_trace_free(&t);
	wlb_cost_destroy(c);
}

/* Two iterations on pp 2, dp 2, cp 2, uneven documents: lost parts add up. */
static void big_trace(struct wlb_trace *t)
{
	static const uint32_t lens[] = {1000, 300, 200, 100, 48, 400,      /* 2048 */
					512, 512, 256, 256, 256, 128, 128, /* 2048 */
					1500, 20, 28, 300, 200};           /* 2048 */
	static const uint32_t per[] = {6, 7, 5};

	tiny_trace(t, 512, lens, per, 3);
	t->model.layers = 4;
	t->parallel.pp = 2;
	t->parallel.dp = 2;
	t->parallel.cp = 2;
	snprintf(t->policy.packing, sizeof t->policy.packing, "wlb");
	snprintf(t->policy.sharding, sizeof t->policy.sharding, "adaptive");
}

static void test_attribution(void)
{
	struct wlb_trace t;
	struct wlb_sim_result r, r2;
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_error err;
	struct wlb_cost *c = make_cost("test-gpu", 80);

	big_trace(&t);
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	CHECK(r.n_iters >= 2);
	double sum = 0;
	for (int l = 0; l < WLB_LOST_N; l++)
		sum += r.summary.lost_ms[l];
	CHECK_NEAR(sum, r.summary.iteration_ms_mean - r.summary.ideal_ms, 1e-9);
	CHECK(r.summary.iteration_ms_mean > r.summary.ideal_ms);
	CHECK(r.summary.lost_ms[WLB_LOST_COMM] > 0); /* sends and CP collectives */
	CHECK(r.summary.lost_ms[WLB_LOST_BUBBLE] > 0); /* two stages */
	for (size_t i = 0; i < r.n_iters; i++) {
		double s = 0;
		for (int l = 0; l < WLB_LOST_N; l++)
			s += r.iters[i].lost_ms[l];
		CHECK_NEAR(s, r.iters[i].time_ms - r.iters[i].ideal_ms, 1e-9);
	}
	CHECK(r.summary.balance_efficiency > 0 && r.summary.balance_efficiency <= 1);
	CHECK_EQ(r.pp, 2);
	CHECK_EQ(r.dp, 2);

	/* same inputs twice: identical summaries and iteration times */
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r2, &err), 0);
	CHECK(!memcmp(&r.summary, &r2.summary, sizeof r.summary));
	CHECK_EQ(r.n_iters, r2.n_iters);
	for (size_t i = 0; i < r.n_iters && i < r2.n_iters; i++)
		CHECK(r.iters[i].time_ms == r2.iters[i].time_ms);
	wlb_sim_result_free(&r2);

	/* OOM: a device whose memory lies between the peak stage's state and
	 * state + activations */
	int worst = 0;
	for (int s = 1; s < r.pp; s++)
		if (r.mem[s].state_gib + r.mem[s].act_gib > r.mem[worst].state_gib + r.mem[worst].act_gib)
			worst = s;
	double state = r.mem[worst].state_gib, act = r.mem[worst].act_gib, top = 0;
	for (int s = 0; s < r.pp; s++)
		if (r.mem[s].state_gib > top)
			top = r.mem[s].state_gib;
	CHECK(act > 0);
	CHECK_NEAR(r.summary.peak_mem_gib, state + act, 1e-12);
	CHECK_EQ(r.summary.oom, 0);
	wlb_sim_result_free(&r);
	wlb_cost_destroy(c);

	double lim = (state > top ? state : top) + act / 2;
	c = make_cost("test-gpu", lim);
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	CHECK_EQ(r.summary.oom, 1);
	CHECK_NEAR(r.mem_limit_gib, lim, 0);
	CHECK(r.summary.peak_mem_gib > r.mem_limit_gib);
	wlb_sim_result_free(&r);
	wlb_cost_destroy(c);
	wlb_trace_free(&t);
}

static void test_refusals(void)
{
	struct wlb_trace t;
	struct wlb_sim_result r;
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_error err;
	struct wlb_cost *c = make_cost("other-gpu", 80);

	/* a cost DB of another GPU */
	big_trace(&t);
	err.msg[0] = 0;
	CHECK(wlb_sim_run(&t, c, &o, &r, &err) < 0);
	CHECK_STR_HAS(err.msg, "other-gpu");
	CHECK_STR_HAS(err.msg, "test-gpu");
	CHECK_EQ(r.n_iters, 0);
	wlb_cost_destroy(c);

	c = make_cost("test-gpu", 80);
	/* 2 x cp above the context */
	t.context = 2;
	t.parallel.cp = 2;
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "cp");
	CHECK_STR_HAS(err.msg, "context");
	t.context = 3;
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), WLB_EINVAL);
	t.context = 512;

	/* a cluster of the wrong size: 3 nodes x 8 != 1 x 2 x 2 x 2 */
	t.cluster.nodes = 3;
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "3 nodes");
	CHECK_STR_HAS(err.msg, "8 GPUs");
	t.cluster.nodes = 1; /* 1 x 8 = 8: fine */
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	wlb_sim_result_free(&r);
	wlb_cost_destroy(c);
	wlb_trace_free(&t);
}

static void test_timeline(void)
{
	struct wlb_trace t;
	struct wlb_sim_result r;
	struct wlb_sim_opts o = {WLB_ORDER_HEAVY_FIRST, 0, 1};
	struct wlb_error err;
	struct wlb_cost *c = make_cost("test-gpu", 80);

	big_trace(&t);
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	CHECK(r.n_timeline > 0);
	size_t m = (size_t)t.parallel.microbatches, n_mb = (size_t)t.parallel.dp * m;
	size_t compute = 0, matched = 0, ends = 0;
	double last = 0;
	for (size_t i = 0; i < r.n_timeline; i++) {
		const struct wlb_timeline_task *tt = &r.timeline[i];
		last = tt->end_us > last ? tt->end_us : last;
		if (tt->step.kind != WLB_STEP_FWD && tt->step.kind != WLB_STEP_BWD)
			continue;
		compute++;
		/* the micro-batch at this pipeline position of this replica */
		for (size_t k = 0; k < n_mb; k++) {
			const struct wlb_sim_mb *mb = &r.mbs[r.iters[0].first_mb + k];
			if (mb->replica != tt->step.replica || mb->position != tt->step.mb)
				continue;
			matched += tt->first_doc == mb->first_doc && tt->n_docs == mb->docs && mb->docs > 0;
		}
		ends += tt->end_us >= tt->start_us;
	}
	/* every compute step: dp x pp stages x m x 2, one chunk each */
	CHECK_EQ(compute, (size_t)t.parallel.dp * t.parallel.pp * m * 2);
	CHECK_EQ(matched, compute);
	CHECK_EQ(ends, compute);
	CHECK_NEAR(last / 1e3, r.iters[0].time_ms, 1e-12);
	/* heavy-first: position 0 of each replica is its heaviest */
	for (size_t k = 0; k < n_mb; k++) {
		const struct wlb_sim_mb *a = &r.mbs[r.iters[0].first_mb + k];
		for (size_t j = 0; j < n_mb; j++) {
			const struct wlb_sim_mb *b = &r.mbs[r.iters[0].first_mb + j];
			if (a->replica == b->replica && a->position < b->position)
				CHECK(a->fwd_ms + a->bwd_ms >= b->fwd_ms + b->bwd_ms);
		}
	}
	/* the documents of the first micro-batch are the batch's: the tokens of
	 * the iteration's micro-batches add up to the batch (2048) */
	uint64_t tok = 0;
	for (size_t k = 0; k < n_mb; k++)
		tok += r.mbs[r.iters[0].first_mb + k].tokens;
	CHECK_EQ(tok, r.iters[0].tokens);
	wlb_sim_result_free(&r);

	/* no timeline unless asked */
	o.timeline_iter = -1;
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	CHECK_EQ(r.n_timeline, 0);
	wlb_sim_result_free(&r);
	wlb_cost_destroy(c);
	wlb_trace_free(&t);
}

/* wlb_ring_steps by hand.  cp 2, src [[3, 1], [2, 6]], cost [8, 4]:
 * step 0 (own keys): rank 0 8 x 3/4 = 6, rank 1 4 x 6/8 = 3 -> 6;
 * step 1 (the other's): rank 0 8 x 1/4 = 2, rank 1 4 x 2/8 = 1 -> 2.
 * cp 3, src [[1, 0, 1], [0, 0, 0], [2, 1, 1]], cost [10, 7, 8]: rank 1 has
 * no pairs and no share; step s pairs rank r with rank (r - s) mod 3:
 * step 0: 10 x 1/2 = 5, 8 x 1/4 = 2 -> 5; step 1: rank 0 <- 2: 10 x 1/2 = 5,
 * rank 2 <- 1: 8 x 1/4 = 2 -> 5; step 2: rank 0 <- 1: 0, rank 2 <- 0:
 * 8 x 2/4 = 4 -> 4. */
static void test_ring_steps(void)
{
	double s2[2], s3[3];
	wlb_ring_steps((const double[]){3, 1, 2, 6}, (const double[]){8, 4}, 2, s2);
	CHECK_NEAR(s2[0], 6, 1e-12);
	CHECK_NEAR(s2[1], 2, 1e-12);
	wlb_ring_steps((const double[]){1, 0, 1, 0, 0, 0, 2, 1, 1}, (const double[]){10, 7, 8}, 3, s3);
	CHECK_NEAR(s3[0], 5, 1e-12);
	CHECK_NEAR(s3[1], 5, 1e-12);
	CHECK_NEAR(s3[2], 4, 1e-12);
}

/* Ring CP on the stage: cp 2, tp 1, one layer.  Documents [128, 128, 128,
 * 128] per-seq (chunks of 128) give each rank two whole documents, each a
 * sampled (128, 128) piece: attention 14 us forward, 34 backward per rank,
 * all of it against the rank's own keys.  So the ring's step 0 computes it
 * all and step 1 nothing: the same compute as all-gather, the K/V transfer
 * (one rank's K and V, 2 x 256 x 2 heads x 32 x 2 B = 65536 B) hidden behind
 * step 0 forward (14 us > the p2p time), K, V, dK, dV (131072 B) behind it
 * backward (34 us), and dK, dV sent home exposed.  Documents [256, 256]
 * cut rank 0 = doc0 rows 0-127 + doc1 rows 128-255, rank 1 the mirror: each
 * rank's queries take 8256 + 8256 pairs from its own keys and 128 x 128 =
 * 16384 from the other's, so step 0 is 16512/32896 of a rank's attention and
 * step 1 16384/32896. */
static void test_ring_stage(void)
{
	struct wlb_cost *c = make_cost("test-gpu", 80);
	struct wlb_parallel p = {0};
	struct wlb_stage_plan sp;
	struct wlb_sharding sh;
	struct wlb_mb_cost ag, ring;
	struct wlb_error err;
	struct wlb_model m = tiny;
	struct wlb_doc four[4] = {{0, 128, 0}, {1, 128, 0}, {2, 128, 0}, {3, 128, 0}};
	struct wlb_doc two[2] = {{0, 256, 0}, {1, 256, 0}};

	m.layers = 1;
	p.tp = p.pp = p.dp = p.vpp = p.microbatches = p.micro_batch_size = 1;
	p.cp = 2;
	snprintf(p.schedule, sizeof p.schedule, "1f1b");
	snprintf(p.cp_algo, sizeof p.cp_algo, "ring");
	CHECK(c != NULL);
	CHECK_EQ(wlb_stage_plan_init(&sp, &m, &p, 8, c, &err), 0);
	CHECK_EQ(wlb_sharding_init(&sh, 2), 0);
	double send_f = wlb_cost_p2p_us(c, 65536, 0, NULL), send_b = wlb_cost_p2p_us(c, 131072, 0, NULL);
	CHECK(send_f < 14 && send_b < 34); /* the premise of the hand computation */

	CHECK_EQ(wlb_shard(&sh, WLB_SHARD_PER_SEQ, four, 4, NULL), 0);
	wlb_stage_mb_cost(&sp, &sh, 512, 4 * 8256.0, &ag);
	sh.ring = 1;
	CHECK_EQ(wlb_shard(&sh, WLB_SHARD_PER_SEQ, four, 4, NULL), 0);
	CHECK_NEAR(sh.src[0], 2 * 8256, 0);
	CHECK_NEAR(sh.src[1], 0, 0);
	wlb_stage_mb_cost(&sp, &sh, 512, 4 * 8256.0, &ring);
	CHECK_NEAR(ring.fwd_max_us, ag.fwd_max_us, 1e-9);
	CHECK_NEAR(ring.bwd_max_us, ag.bwd_max_us, 1e-9);
	CHECK_NEAR(ring.fwd_comm_us, 0, 1e-9);
	CHECK_NEAR(ring.bwd_comm_us, send_f, 1e-9);
	CHECK(ag.fwd_comm_us > 0); /* all-gather's is exposed */

	CHECK_EQ(wlb_shard(&sh, WLB_SHARD_PER_SEQ, two, 2, NULL), 0);
	CHECK_NEAR(sh.src[0], 16512, 0);
	CHECK_NEAR(sh.src[1], 16384, 0);
	CHECK_NEAR(sh.src[2], 16384, 0);
	CHECK_NEAR(sh.src[3], 16512, 0);
	wlb_stage_mb_cost(&sp, &sh, 512, 2 * 32896.0, &ring);
	double f = wlb_cost_attn_us(c, sh.pieces, sh.rank_start[1], 0, 2, 2, 32, NULL);
	double b = wlb_cost_attn_us(c, sh.pieces, sh.rank_start[1], 1, 2, 2, 32, NULL);
	double f0 = f * 16512 / 32896, f1 = f * 16384 / 32896, b0 = b * 16512 / 32896, b1 = b * 16384 / 32896;
	/* both ranks hold the same shapes: the same attention; steps as above */
	CHECK_NEAR(ring.fwd_max_us - ring.fwd_mean_us, f0 + f1 - f, 1e-9);
	CHECK_NEAR(ring.fwd_comm_us, (send_f > f0 ? send_f - f0 : 0), 1e-9);
	CHECK_NEAR(ring.bwd_comm_us, (send_b > b0 ? send_b - b0 : 0) + send_f, 1e-9);
	CHECK_NEAR(ring.bwd_max_us - ring.bwd_mean_us, b0 + b1 - b, 1e-9);
	wlb_sharding_free(&sh);
	wlb_cost_destroy(c);
}

/* One run of t on the hand-made DB: its first iteration's time in us. */
static double run_us(struct wlb_trace *t)
{
	struct wlb_cost *c = make_cost("test-gpu", 80);
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_sim_result r;
	struct wlb_error err;
	double us = -1;

	CHECK(c != NULL);
	if (c && wlb_sim_run(t, c, &o, &r, &err) == 0) {
		if (r.n_iters >= 1)
			us = r.iters[0].time_ms * 1e3;
		wlb_sim_result_free(&r);
	} else if (c) {
		fprintf(stderr, "wlb_sim_run: %s\n", err.msg);
	}
	wlb_cost_destroy(c);
	return us;
}

/* The hand DB's two-rank all-gather and reduce-scatter: 5 us at 1000 B and
 * 50 us at 1e6 B, a straight line in log-log space between them; its
 * all-reduce is unsampled, so the device's link (400 GB/s, 10 us; bus
 * factor 1 for two ranks). */
static double coll2(double bytes)
{
	return 5.0 * cbrt(bytes / 1000.0);
}

/* The tiny model's per-layer times at 256 tokens (test_hand_time): forward
 * 10 + 2.65536 + 14, backward 20 + 5.31072 + 34; embedding 2.032768 fwd,
 * 4.065536 bwd; logits + loss 8.245184 fwd, 12.458752 bwd.  Parameters: a
 * layer 41,088, the embedding 8,192, the output layer 8,192 + 64. */
#define LAYER_F 26.65536
#define LAYER_B 59.31072
#define EMB_F 2.032768
#define EMB_B 4.065536
#define OUT_F 8.245184
#define OUT_B 12.458752
#define STEP(params) (2.0 + 30.0 * (params) / 1e6)

/* ZeRO stages over dp 2, one micro-batch of 256 tokens a replica. */
static void test_zero(void)
{
	static const uint32_t lens[] = {128, 128, 128, 128}, per[] = {4};
	struct wlb_trace t;
	double compute = 2 * LAYER_F + 2 * LAYER_B + EMB_F + EMB_B + OUT_F + OUT_B, P = 98624;

	tiny_trace(&t, 256, lens, per, 1);
	t.parallel.dp = 2;
	t.parallel.microbatches = 1;
	/* zero 0: gradient all-reduce of 4 x 98,624 B in fp32, then the whole
	 * optimizer step; overlapped, only the last layer's bucket is exposed */
	t.parallel.zero = 0;
	t.parallel.overlap_grad_reduce = 0;
	double ar = 10 + 4 * P / 400e3;
	CHECK_NEAR(run_us(&t), compute + ar + STEP(P), 1e-6);
	t.parallel.overlap_grad_reduce = 1;
	CHECK_NEAR(run_us(&t), compute + ar / 2 + STEP(P), 1e-6);
	/* zero 1 and 2: reduce-scatter of the fp32 gradients, the step on half
	 * the parameters, all-gather of the bf16 parameters */
	for (int z = 1; z <= 2; z++) {
		t.parallel.zero = z;
		t.parallel.overlap_grad_reduce = t.parallel.overlap_param_gather = 0;
		CHECK_NEAR(run_us(&t), compute + coll2(4 * P) + coll2(2 * P) + STEP(P / 2), 1e-6);
		/* behind the backward (118.6 us) and the forward (53.3 us): one
		 * bucket of each of the two layers left */
		t.parallel.overlap_grad_reduce = t.parallel.overlap_param_gather = 1;
		CHECK_NEAR(run_us(&t), compute + coll2(4 * P) / 2 + coll2(2 * P) / 2 + STEP(P / 2), 1e-6);
	}
	/* FSDP without overlap: per iteration exactly two all-gathers and one
	 * reduce-scatter of the stage's parameters, layer by layer, embedding
	 * and output layer each on its own */
	t.parallel.zero = 3;
	t.parallel.overlap_grad_reduce = t.parallel.overlap_param_gather = 0;
	double fsdp = 2 * (2 * coll2(2 * 41088) + coll2(2 * 8192) + coll2(2 * 8256)) +
		      2 * coll2(4 * 41088) + coll2(4 * 8192) + coll2(4 * 8256);
	CHECK_NEAR(run_us(&t), compute + fsdp + STEP(P / 2), 1e-6);
	/* with overlap, two layers of compute are too short to hide them:
	 * forward 2 x 21.74 + 12.70 + 12.73 = 68.9 us of gathers against
	 * 63.6 us of compute, backward 155.7 against 135.1 */
	t.parallel.overlap_grad_reduce = t.parallel.overlap_param_gather = 1;
	double ag = 2 * coll2(2 * 41088) + coll2(2 * 8192) + coll2(2 * 8256);
	double rs = 2 * coll2(4 * 41088) + coll2(4 * 8192) + coll2(4 * 8256);
	CHECK(ag > 2 * LAYER_F + EMB_F + OUT_F && ag + rs > 2 * LAYER_B + EMB_B + OUT_B);
	CHECK_NEAR(run_us(&t), ag + ag + rs + STEP(P / 2), 1e-6);
	/* eight layers are long enough: the collectives hide entirely */
	t.model.layers = 8;
	double P8 = 8 * 41088 + 16448;
	CHECK_NEAR(run_us(&t), 8 * (LAYER_F + LAYER_B) + EMB_F + EMB_B + OUT_F + OUT_B + STEP(P8 / 2), 1e-6);
	/* and without overlap they add up again */
	t.parallel.overlap_grad_reduce = t.parallel.overlap_param_gather = 0;
	double fsdp8 = 2 * (8 * coll2(2 * 41088) + coll2(2 * 8192) + coll2(2 * 8256)) +
		       8 * coll2(4 * 41088) + coll2(4 * 8192) + coll2(4 * 8256);
	CHECK_NEAR(run_us(&t), 8 * (LAYER_F + LAYER_B) + EMB_F + EMB_B + OUT_F + OUT_B + fsdp8 + STEP(P8 / 2),
		   1e-6);
	wlb_trace_free(&t);
}

/* Recompute: selective repeats the attention forward (2 pieces x 7 us a
 * layer) in the backward, full the whole layer's forward. */
static void test_recompute(void)
{
	static const uint32_t lens[] = {128, 128, 128, 128}, per[] = {4};
	struct wlb_trace t;
	double none = 2 * (2 * LAYER_F + 2 * LAYER_B + EMB_F + EMB_B + OUT_F + OUT_B) + STEP(98624);

	tiny_trace(&t, 256, lens, per, 1);
	CHECK_NEAR(run_us(&t), none, 1e-6);
	t.parallel.recompute = WLB_RECOMPUTE_SELECTIVE;
	CHECK_NEAR(run_us(&t), none + 2 * 2 * 14, 1e-6);
	t.parallel.recompute = WLB_RECOMPUTE_FULL;
	CHECK_NEAR(run_us(&t), none + 2 * 2 * LAYER_F, 1e-6);
	wlb_trace_free(&t);
}

/* An uneven pipeline: 3 layers on 2 stages, one micro-batch.  F0 send F1
 * B1 send B0 and stage 0's optimizer step; a send of 256 x 64 x 2 B =
 * 32,768 B takes 3 x 32.768^(1/3) = 9.6 us on the hand DB's p2p line. */
static void test_uneven_stages(void)
{
	static const uint32_t lens[] = {128, 128}, per[] = {2};
	struct wlb_trace t;

	tiny_trace(&t, 256, lens, per, 1);
	t.model.layers = 3;
	t.parallel.pp = 2;
	t.parallel.microbatches = 1;
	/* the default split puts the light stage first: [1, 2] */
	double split12 = (LAYER_F + EMB_F) + 9.6 + (2 * LAYER_F + OUT_F) + (2 * LAYER_B + OUT_B) + 9.6 +
			 (LAYER_B + EMB_B) + STEP(41088 + 8192);
	CHECK_NEAR(run_us(&t), split12, 1e-6);
	t.parallel.n_pp_layers = 2;
	t.parallel.pp_layers[0] = 1;
	t.parallel.pp_layers[1] = 2;
	CHECK_NEAR(run_us(&t), split12, 1e-6);
	t.parallel.pp_layers[0] = 2;
	t.parallel.pp_layers[1] = 1;
	CHECK_NEAR(run_us(&t), (2 * LAYER_F + EMB_F) + 9.6 + (LAYER_F + OUT_F) + (LAYER_B + OUT_B) + 9.6 +
				       (2 * LAYER_B + EMB_B) + STEP(2 * 41088 + 8192), 1e-6);
	wlb_trace_free(&t);
}

/* micro_batch_size 2: one micro-batch holds two sequences' tokens. */
static void test_micro_batch_size(void)
{
	static const uint32_t lens[] = {128, 128, 128, 128}, per[] = {4};
	struct wlb_trace t;
	struct wlb_sim_result r;
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_error err;
	struct wlb_cost *c = make_cost("test-gpu", 80);

	tiny_trace(&t, 256, lens, per, 1);
	t.parallel.microbatches = 1;
	t.parallel.micro_batch_size = 2;
	CHECK(c != NULL);
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	CHECK_EQ(r.n_mbs, 1);
	if (r.n_mbs == 1) {
		CHECK_EQ(r.mbs[0].tokens, 512);
		CHECK_EQ(r.mbs[0].docs, 4);
	}
	wlb_sim_result_free(&r);
	wlb_cost_destroy(c);
	wlb_trace_free(&t);
}

/* Per-sequence CP on big_trace's pool of 4 (dp 2 x cp 2): every token
 * trained once, the attribution adding up, deterministic, sequences at
 * allowed degrees only, and the cost model's schedule no slower in its own
 * list schedule terms than Megatron's rule (checked in test_dcp). */
static void test_dynamic_cp(void)
{
	static const char *const modes[] = {"dynamic-megatron", "dynamic-cost"};
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_error err;
	struct wlb_cost *c = make_cost("test-gpu", 80);

	for (int m = 0; m < 2; m++) {
		struct wlb_trace t;
		struct wlb_sim_result r, r2;
		big_trace(&t);
		snprintf(t.policy.cp_mode, sizeof t.policy.cp_mode, "%s", modes[m]);
		CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
		CHECK_EQ(r.dcp.mode, m + 1);
		CHECK_EQ(r.dcp.ranks, 4);
		/* wlb's s_max (1.5 x 512 rounded up to 1024) over cp 2 */
		CHECK_EQ(r.dcp.budget_tokens, 512);
		const struct wlb_pack_summary *ps = &r.pack.summary;
		CHECK_EQ(ps->tokens + ps->pending_tokens, ps->tokens_in);
		uint64_t tok = 0, seqs = 0, trained = 0;
		for (int k = 0; k < r.dcp.pool.n_deg; k++) {
			tok += r.dcp.degree_tokens[k];
			seqs += r.dcp.degree_seqs[k];
		}
		for (size_t i = 0; i < r.n_iters; i++)
			trained += r.iters[i].tokens;
		CHECK_EQ(tok, trained);
		CHECK_EQ(tok, ps->tokens);
		CHECK_EQ(seqs, r.dcp.sequences);
		/* the stream cuts documents at the context (512), so every piece
		 * fits one rank: Megatron's rule runs them all at degree 1 */
		if (m == 0)
			CHECK_EQ(r.dcp.degree_seqs[0], r.dcp.sequences);
		double sum = 0;
		for (int l = 0; l < WLB_LOST_N; l++)
			sum += r.summary.lost_ms[l];
		CHECK_NEAR(sum, r.summary.iteration_ms_mean - r.summary.ideal_ms, 1e-9);
		CHECK(r.summary.token_delay_iters >= 0);
		CHECK_EQ(wlb_sim_run(&t, c, &o, &r2, &err), 0);
		CHECK(!memcmp(&r.summary, &r2.summary, sizeof r.summary));
		CHECK(!memcmp(&r.dcp, &r2.dcp, sizeof r.dcp));
		wlb_sim_result_free(&r2);
		if (m == 1) { /* the static layout is one of its placements: never slower */
			struct wlb_trace ts = t;
			snprintf(ts.policy.cp_mode, sizeof ts.policy.cp_mode, "static");
			CHECK_EQ(wlb_sim_run(&ts, c, &o, &r2, &err), 0);
			int never_slower = r2.n_iters == r.n_iters;
			for (size_t i = 0; never_slower && i < r.n_iters; i++)
				never_slower = r.iters[i].time_ms <= r2.iters[i].time_ms + 1e-9;
			CHECK(never_slower);
			CHECK(r.dcp.static_iters <= r.n_iters);
			wlb_sim_result_free(&r2);
		}
		wlb_sim_result_free(&r);
		/* ring attention is not modelled per sequence: refused */
		snprintf(t.parallel.cp_algo, sizeof t.parallel.cp_algo, "ring");
		CHECK(wlb_sim_run(&t, c, &o, &r, &err) < 0);
		CHECK_STR_HAS(err.msg, "cp_algo allgather");
		wlb_trace_free(&t);
	}
	wlb_cost_destroy(c);
}

void test_sim(void)
{
	test_dynamic_cp();
	test_hand_time();
	test_attribution();
	test_refusals();
	test_timeline();
	test_ring_steps();
	test_ring_stage();
	test_zero();
	test_recompute();
	test_uneven_stages();
	test_micro_batch_size();
}
