/* test_distca.c — core attention disaggregation: the query split of one
 * document worked by hand, the greedy scheduler against brute force and
 * LPT's bound, conservation of attention work, the ping-pong arithmetic,
 * and the simulator's pooled layer on hand-checkable traces. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distca.h"
#include "model.h"
#include "sim.h"
#include "test.h"

void test_distca(void);

static double pairs_of(const struct wlb_ca_task *t)
{
	return wlb_pairs(t->q_len, t->kv_len);
}

static void test_split(void)
{
	struct wlb_ca_task out[4];

	/* L = 1000 in 3: targets 1/3 and 2/3 of 500500 pairs fall at rows 577.1
	 * and 816.4, rounded to tiles 640 and 768 */
	size_t n = wlb_ca_split(7, 0, 1000, 3, out);
	CHECK_EQ(n, 3);
	CHECK_EQ(out[0].q_len, 640);
	CHECK_EQ(out[0].kv_len, 640);
	CHECK_EQ(out[1].q_len, 128);
	CHECK_EQ(out[1].kv_len, 768);
	CHECK_EQ(out[2].q_len, 232);
	CHECK_EQ(out[2].kv_len, 1000);
	CHECK_EQ(out[2].doc, 7);
	CHECK_NEAR(pairs_of(&out[0]), 205120, 0);
	CHECK_NEAR(pairs_of(&out[1]), 90176, 0);
	CHECK_NEAR(pairs_of(&out[2]), 205204, 0);
	CHECK_NEAR(pairs_of(&out[0]) + pairs_of(&out[1]) + pairs_of(&out[2]), 1000.0 * 1001 / 2, 0);

	/* rows [256, 1280) in 2: half of 786944 pairs at row 923.0 -> 896 */
	n = wlb_ca_split(0, 256, 1280, 2, out);
	CHECK_EQ(n, 2);
	CHECK_EQ(out[0].q_len, 640);
	CHECK_EQ(out[0].kv_len, 896);
	CHECK_EQ(out[1].q_len, 384);
	CHECK_EQ(out[1].kv_len, 1280);
	CHECK_NEAR(pairs_of(&out[0]) + pairs_of(&out[1]), (1280.0 * 1281 - 256.0 * 257) / 2, 0);

	/* shorter than two tiles: one piece, whatever is asked */
	n = wlb_ca_split(0, 0, 200, 4, out);
	CHECK_EQ(n, 1);
	CHECK_EQ(out[0].q_len, 200);

	/* any length and count: pieces tile the range, whole tiles but the last */
	for (uint32_t L = 1; L < 5000; L += 37)
		for (int parts = 1; parts <= 4; parts++) {
			n = wlb_ca_split(0, 0, L, parts, out);
			double sum = 0;
			uint32_t end = 0;
			int ok = n >= 1 && n <= (size_t)parts;
			for (size_t i = 0; i < n; i++) {
				sum += pairs_of(&out[i]);
				ok &= out[i].kv_len == end + out[i].q_len;
				ok &= i + 1 == n || (out[i].q_len % WLB_ATTN_TILE == 0 && out[i].q_len > 0);
				ok &= L < WLB_ATTN_TILE || out[i].q_len >= WLB_ATTN_TILE;
				end = out[i].kv_len;
			}
			CHECK(ok && end == L && sum == (double)L * (L + 1) / 2);
		}
}

static double cost_pairs(void *ctx, uint32_t q, uint32_t kv)
{
	(void)ctx;
	return wlb_pairs(q, kv);
}

static double cost_queries(void *ctx, uint32_t q, uint32_t kv)
{
	(void)ctx;
	(void)kv;
	return q;
}

/* The best makespan of costs c[0..n) on m servers, by trying every assignment. */
static double brute(const double *c, int n, int m)
{
	double best = 1e300;
	int a[16] = {0};
	for (;;) {
		double load[8] = {0}, mx = 0;
		for (int i = 0; i < n; i++)
			load[a[i]] += c[i];
		for (int j = 0; j < m; j++)
			mx = load[j] > mx ? load[j] : mx;
		best = mx < best ? mx : best;
		int i = 0;
		while (i < n && ++a[i] == m)
			a[i++] = 0;
		if (i == n)
			return best;
	}
}

static void test_lpt(void)
{
	struct wlb_ca_sched s = {0};

	/* LPT's tight case on 2 servers: {3, 3, 2, 2, 2} -> 7 against 6 = 4/3 - 1/6 */
	static const uint32_t q5[] = {3, 3, 2, 2, 2};
	double c5[5];
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(wlb_ca_add(&s, (uint32_t)i, 0, q5[i]), 0);
		c5[i] = q5[i];
	}
	CHECK_EQ(wlb_ca_schedule(&s, 2, cost_queries, NULL, NULL), 0);
	CHECK_NEAR(s.max_us, 7, 0);
	CHECK_NEAR(brute(c5, 5, 2), 6, 0);
	CHECK(s.max_us <= (4.0 / 3 - 1.0 / 6) * 6 + 1e-12);

	/* 7 documents under two tiles (never split) on 3 servers: by hand LPT
	 * loads 20100+1830, 16290+5050, 11325+7260+4095 -> 22680 */
	static const uint32_t len[] = {200, 180, 150, 120, 100, 90, 60};
	double c7[7];
	wlb_ca_sched_clear(&s);
	for (int i = 0; i < 7; i++) {
		CHECK_EQ(wlb_ca_add(&s, (uint32_t)i, 0, len[i]), 0);
		c7[i] = wlb_pairs(len[i], len[i]);
	}
	CHECK_EQ(wlb_ca_schedule(&s, 3, cost_pairs, NULL, NULL), 0);
	CHECK_NEAR(s.max_us, 22680, 0);
	CHECK_NEAR(s.load[0], 21930, 0);
	CHECK_NEAR(s.load[1], 21340, 0);
	CHECK_NEAR(s.load[2], 22680, 0);
	double opt = brute(c7, 7, 3);
	CHECK(opt >= 65950.0 / 3);
	CHECK(s.max_us <= (4.0 / 3 - 1.0 / 9) * opt + 1e-9);
	wlb_ca_sched_free(&s);
}

static int home_table(void *ctx, const struct wlb_ca_task *t)
{
	return ((const int *)ctx)[t->doc];
}

static double cost_queries_of(void *ctx, uint32_t q, uint32_t kv)
{
	return cost_queries(ctx, q, kv);
}

/* Homes: a task stays home when it fits under the mean (12 / 3 = 4) there.
 * 5 (home 2) does not fit: least loaded, server 0; 4 (home 2) fits: stays;
 * 3 (home 0, now 5): least loaded, server 1.  Loads 5, 3, 4. */
static void test_home(void)
{
	struct wlb_ca_sched s = {0};
	static const int homes[] = {2, 2, 0};
	static const uint32_t q[] = {5, 4, 3};

	for (int i = 0; i < 3; i++)
		CHECK_EQ(wlb_ca_add(&s, (uint32_t)i, 0, q[i]), 0);
	CHECK_EQ(wlb_ca_schedule(&s, 3, cost_queries_of, home_table, (void *)homes), 0);
	CHECK_NEAR(s.load[0], 5, 0);
	CHECK_NEAR(s.load[1], 3, 0);
	CHECK_NEAR(s.load[2], 4, 0);
	for (size_t i = 0; i < s.n; i++)
		CHECK_EQ(s.tasks[i].server, s.tasks[i].doc == 0 ? 0 : s.tasks[i].doc == 1 ? 2 : 1);
	wlb_ca_sched_free(&s);
}

static void test_conservation(void)
{
	struct wlb_ca_sched s = {0};
	static const uint32_t len[] = {5000, 3000, 700, 100};
	double want = 0, per_doc[4] = {0}, biggest = 0;

	for (int i = 0; i < 4; i++) {
		CHECK_EQ(wlb_ca_add(&s, (uint32_t)i, 0, len[i]), 0);
		want += wlb_pairs(len[i], len[i]);
	}
	/* mean 4313600 pairs: 5000 (12502500) -> 3 shards, 3000 (4501500) -> 2 */
	CHECK_EQ(wlb_ca_schedule(&s, 4, cost_pairs, NULL, NULL), 0);
	CHECK_EQ(s.n, 7);
	double sum_load = 0;
	for (int j = 0; j < 4; j++)
		sum_load += s.load[j];
	for (size_t i = 0; i < s.n; i++) {
		per_doc[s.tasks[i].doc] += pairs_of(&s.tasks[i]);
		biggest = s.tasks[i].cost_us > biggest ? s.tasks[i].cost_us : biggest;
		CHECK(s.tasks[i].server >= 0 && s.tasks[i].server < 4);
	}
	CHECK_NEAR(sum_load, want, 0);
	CHECK_NEAR(s.total_us, want, 0);
	for (int i = 0; i < 4; i++)
		CHECK_NEAR(per_doc[i], wlb_pairs(len[i], len[i]), 0);
	/* list scheduling: the busiest is at most the mean plus one task */
	CHECK(s.max_us <= want / 4 + biggest);
	/* without the split the 5000 document alone would be 2.9 x the mean */
	CHECK(s.max_us < 1.3 * want / 4);
	wlb_ca_sched_free(&s);
}

static void test_pingpong(void)
{
	/* half 0's transfer 15 behind half 1's compute 20: hidden; half 1's 25
	 * behind half 0's 10: 15 shows */
	CHECK_NEAR(wlb_ca_pingpong_exposed((double[]){10, 20}, (double[]){15, 25}), 15, 0);
	CHECK_NEAR(wlb_ca_pingpong_exposed((double[]){5, 5}, (double[]){3, 4}), 0, 0);
	/* one half empty: nothing to hide behind */
	CHECK_NEAR(wlb_ca_pingpong_exposed((double[]){10, 0}, (double[]){8, 0}), 8, 0);
}

static int load_db(struct wlb_cost **c)
{
	struct wlb_error e;
	char path[4096];
	if (wlb_cost_find_db("h100-sxm", path, sizeof path, &e) && access("build/costdb/h100-sxm.db", R_OK) == 0)
		snprintf(path, sizeof path, "build/costdb/h100-sxm.db");
	return wlb_cost_load(c, path, &e);
}

static int sim(const char *json, const char *algo, struct wlb_cost *c, struct wlb_sim_result *r)
{
	struct wlb_trace t;
	struct wlb_error e;
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, -1, 1};
	int rc = wlb_trace_load_string(&t, json, "distca", &e);
	if (!rc) {
		snprintf(t.parallel.cp_algo, sizeof t.parallel.cp_algo, "%s", algo);
		rc = wlb_sim_run(&t, c, &o, r, &e);
	}
	if (rc)
		fprintf(stderr, "distca sim: %s\n", e.msg);
	wlb_trace_free(&t);
	return rc;
}

/* One rank, one document of 1000: the pool is one server, nothing moves,
 * and the attention is the two halves' pieces (c, c) and (1000 - c, 1000)
 * for a cut c on a tile instead of per-seq's two chunks (500, 500) and
 * (500, 1000), every layer forward and backward. */
static void test_sim_one_rank(struct wlb_cost *c)
{
	static const char *json =
		"{\"format\": \"wlb-trace/1\", \"model\": \"llama2-7b\", \"gpu\": \"h100-sxm\","
		" \"parallel\": {\"tp\": 1, \"cp\": 1, \"pp\": 1, \"dp\": 1, \"microbatches\": 1},"
		" \"context\": 1024, \"policy\": {\"packing\": \"greedy\", \"sharding\": \"per-seq\"},"
		" \"data\": {\"iterations\": 1, \"batches\": [[1000]]}}";
	struct wlb_sim_result a, d;
	struct wlb_piece chunks[2] = {{0, 500, 500}, {0, 500, 1000}};

	if (sim(json, "allgather", c, &a))
		return;
	if (!sim(json, "distca", c, &d)) {
		int found = 0;
		for (uint32_t cut = 0; cut < 1000; cut += WLB_ATTN_TILE) {
			double delta = 0;
			for (int b = 0; b < 2; b++)
				delta += (cut ? wlb_cost_attn_piece_us(c, cut, cut, b, 32, 32, 128, NULL) : 0) +
					 wlb_cost_attn_piece_us(c, 1000 - cut, 1000, b, 32, 32, 128, NULL) -
					 wlb_cost_attn_us(c, chunks, 2, b, 32, 32, 128, NULL);
			double got = d.iters[0].time_ms - a.iters[0].time_ms;
			found += fabs(got - 32 * delta / 1e3) <= 1e-9 * a.iters[0].time_ms;
		}
		CHECK_EQ(found, 1);
		CHECK_NEAR(d.summary.a2a_exposed_ms, 0, 0);
		CHECK_NEAR(d.summary.imbalance_cp, 1, 1e-12);
		wlb_sim_result_free(&d);
	}
	wlb_sim_result_free(&a);
}

/* Two replicas, one heavy micro-batch (a 64K document) and one light (64
 * documents of 1K): pooled, both run the same attention in lockstep, the
 * heavy one faster than alone; tokens conserved; the same twice. */
static void test_sim_pool(struct wlb_cost *c)
{
	char json[4096];
	int w = snprintf(json, sizeof json,
			 "{\"format\": \"wlb-trace/1\", \"model\": \"llama2-7b\", \"gpu\": \"h100-sxm\","
			 " \"parallel\": {\"tp\": 8, \"cp\": 2, \"pp\": 1, \"dp\": 2, \"microbatches\": 1},"
			 " \"context\": 65536, \"policy\": {\"packing\": \"greedy\", \"sharding\": \"per-seq\"},"
			 " \"data\": {\"iterations\": 2, \"batches\": [[65536");
	for (int i = 0; i < 64; i++)
		w += snprintf(json + w, sizeof json - (size_t)w, ", 1024");
	snprintf(json + w, sizeof json - (size_t)w, "], [65536, 65536]]}}");
	struct wlb_sim_result a, d, d2;

	if (sim(json, "allgather", c, &a))
		return;
	if (!sim(json, "distca", c, &d)) {
		const struct wlb_sim_mb *m = d.mbs, *ma = a.mbs;
		CHECK_EQ(d.n_mbs, 4);
		CHECK_NEAR(m[0].fwd_ms, m[1].fwd_ms, 1e-9);
		double heavy = ma[0].fwd_ms > ma[1].fwd_ms ? ma[0].fwd_ms : ma[1].fwd_ms;
		CHECK(m[0].fwd_ms < heavy);
		CHECK(d.iters[0].time_ms < a.iters[0].time_ms);
		CHECK(d.summary.imbalance_cp >= 1 && d.summary.imbalance_cp < 1.1);
		CHECK(d.summary.a2a_exposed_ms >= 0);
		CHECK_EQ(d.pack.summary.tokens + d.pack.summary.pending_tokens, d.pack.summary.tokens_in);
		CHECK_EQ(d.pack.summary.tokens, 4 * 65536);
		if (!sim(json, "distca", c, &d2)) {
			CHECK(!memcmp(d.iters, d2.iters, d.n_iters * sizeof *d.iters));
			CHECK(!memcmp(&d.summary, &d2.summary, sizeof d.summary));
			wlb_sim_result_free(&d2);
		}
		wlb_sim_result_free(&d);
	}
	wlb_sim_result_free(&a);
}

void test_distca(void)
{
	struct wlb_cost *c = NULL;

	test_split();
	test_lpt();
	test_home();
	test_conservation();
	test_pingpong();
	CHECK_EQ(load_db(&c), 0);
	if (!c)
		return;
	test_sim_one_rank(c);
	test_sim_pool(c);
	wlb_cost_destroy(c);
}
