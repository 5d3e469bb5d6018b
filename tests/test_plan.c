/* test_plan.c — wlb-run's plan and layouts, and its measured report:
 * a layout worked out by hand, layouts that lose or double a token refused,
 * the plan packing exactly what the simulator packs, and measured records
 * turned into the report's metrics, checked against sums done by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytic.h"
#include "cost.h"
#include "plan.h"
#include "run_report.h"
#include "sim.h"
#include "test.h"
#include "test_util.h"

void test_plan(void);

/* Documents 5 (5 tokens) and 9 (3 tokens), per-seq over cp 2: four chunks
 * of two tokens; rank 0 holds chunks 0 and 3 (doc 5 positions 0-1, doc 9
 * positions 1-2), rank 1 chunks 1 and 2 (doc 5 positions 2-3; doc 5
 * position 4 and doc 9 position 0). */
static void test_layout_by_hand(void)
{
	const struct wlb_doc docs[2] = {{5, 5, 0}, {9, 3, 0}};
	struct wlb_sharding sh;
	struct wlb_layout l = {0};
	struct wlb_error err;

	CHECK_EQ(wlb_sharding_init(&sh, 2), 0);
	CHECK_EQ(wlb_shard(&sh, WLB_SHARD_PER_SEQ, docs, 2, NULL), 0);
	CHECK_EQ(sh.tokens_per_rank, 4);
	CHECK_EQ(wlb_layout_build(&l, docs, 2, sh.pieces, sh.rank_start, 2, 1, sh.tokens_per_rank, 1, &err), 0);
	CHECK_EQ(l.rows, 4);
	CHECK_EQ(l.real, 4);
	CHECK_EQ(l.n_pieces, 3);
	static const int cu_q[] = {0, 2, 3, 4}, cu_k[] = {0, 4, 9, 10};
	static const uint32_t row_doc[] = {0, 0, 0, 1}, row_pos[] = {2, 3, 4, 0};
	/* keys: doc 5 positions 0-1 are rank 0's rows 0-1, positions 2-4 rank
	 * 1's rows 0-2 (gathered rows 4-6); doc 9 position 0 is rank 1's row 3 */
	static const int kv[] = {0, 1, 4, 5, 0, 1, 4, 5, 6, 7};
	for (int j = 0; j < 4; j++) {
		CHECK_EQ(l.cu_q[j], cu_q[j]);
		CHECK_EQ(l.cu_k[j], cu_k[j]);
		CHECK_EQ(l.row_doc[j], row_doc[j]);
		CHECK_EQ(l.row_pos[j], row_pos[j]);
	}
	for (int j = 0; j < 10; j++)
		CHECK_EQ(l.kv_idx[j], kv[j]);
	CHECK_EQ(l.max_q, 2);
	CHECK_EQ(l.max_k, 5);

	/* tp 3: rows rounded up to 6, so rank 1's rows start at 6 */
	CHECK_EQ(wlb_layout_build(&l, docs, 2, sh.pieces, sh.rank_start, 2, 1, sh.tokens_per_rank, 3, &err), 0);
	CHECK_EQ(l.rows, 6);
	CHECK_EQ(l.real, 4);
	CHECK_EQ(l.kv_idx[2], 6);
	CHECK_EQ(l.kv_idx[9], 9);

	/* a token held twice, a token held by nobody, a piece outside its document */
	struct wlb_piece p[4] = {{5, 2, 2}, {9, 2, 3}, {5, 3, 4}, {5, 1, 5}};
	size_t st[3] = {0, 2, 4};
	CHECK(wlb_layout_build(&l, docs, 2, p, st, 2, 0, 4, 1, &err) < 0);
	CHECK_STR_HAS(err.msg, "held twice");
	p[2] = (struct wlb_piece){5, 2, 4};
	CHECK(wlb_layout_build(&l, docs, 2, p, st, 2, 0, 4, 1, &err) < 0);
	CHECK_STR_HAS(err.msg, "on no CP rank");
	p[2] = (struct wlb_piece){9, 2, 6};
	CHECK(wlb_layout_build(&l, docs, 2, p, st, 2, 0, 4, 1, &err) < 0);
	CHECK_STR_HAS(err.msg, "not in the micro-batch");
	wlb_layout_free(&l);
	wlb_sharding_free(&sh);
}

static struct wlb_cost *h100(void)
{
	char path[64];
	long rows;
	struct wlb_error err;
	struct wlb_cost *c = NULL;
	t_tmp_file(path);
	if (wlb_analytic_write("h100-sxm", NULL, path, "test", &rows, &err) || wlb_cost_load(&c, path, &err))
		fprintf(stderr, "plan: %s\n", err.msg);
	t_tmp_remove(path);
	return c;
}

static void small_trace(struct wlb_trace *t)
{
	struct wlb_error err;
	CHECK_EQ(wlb_trace_load(t, "traces/run/tiny.json", &err), 0);
	t->parallel.cp = 2;
	t->parallel.dp = 2;
	t->parallel.pp = 2;
	t->iterations = 3;
}

/* The plan is the simulator's packing: same micro-batches, documents,
 * sharding, pipeline slots. */
static void test_plan_is_sim(struct wlb_cost *c)
{
	struct wlb_trace t;
	struct wlb_plan p;
	struct wlb_sim_result r;
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_error err;

	small_trace(&t);
	CHECK_EQ(wlb_plan_build(&t, c, &p, &err), 0);
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	CHECK_EQ(p.n_iters, r.n_iters);
	for (size_t i = 0; i < r.n_iters && i < p.n_iters; i++)
		for (size_t b = 0; b < 4; b++) {
			const struct wlb_sim_mb *s = &r.mbs[r.iters[i].first_mb + b];
			const struct wlb_plan_mb *m = wlb_plan_mb(&p, i, (int)s->replica, (int)s->position);
			CHECK_EQ(m->tokens, s->tokens);
			CHECK_EQ(m->n_docs, s->docs);
			CHECK_EQ(m->tokens_rank, s->tokens_rank);
			CHECK_EQ(m->used, s->sharding);
			int same = 1;
			for (uint32_t k = 0; k < m->n_docs; k++)
				same &= p.docs[m->first_doc + k].id == r.doc_ids[s->first_doc + k];
			CHECK(same);
			/* every CP rank's pieces hold tokens_rank tokens at most, and all
			 * of them hold the micro-batch's tokens */
			uint64_t sum = 0;
			for (int rk = 0; rk < 2; rk++) {
				uint64_t n = 0;
				for (size_t j = p.start[m->first_start + rk]; j < p.start[m->first_start + rk + 1]; j++)
					n += p.pieces[j].q_len;
				CHECK(n <= m->tokens_rank);
				sum += n;
			}
			CHECK_EQ(sum, m->tokens);
		}
	wlb_sim_result_free(&r);
	wlb_plan_free(&p);
	wlb_trace_free(&t);
}

/* Records by hand: tp 1, cp 2, pp 2, dp 1, m 2, vpp 1 -> 4 ranks; rank
 * (cp c, stage s) = c + 2 s.  Step (k, fwd) of every rank runs 1 + k + c ms
 * with 0.5 + c ms of attention; backward twice the forward, attention 1 + c. */
static void test_measured_by_hand(struct wlb_cost *c)
{
	struct wlb_trace t;
	struct wlb_sim_result r;
	struct wlb_sim_opts o = {WLB_ORDER_PACKED, 0, 1};
	struct wlb_exec_result x = {0};
	struct wlb_error err;

	small_trace(&t);
	t.parallel.dp = 1;
	t.iterations = 1;
	CHECK_EQ(wlb_sim_run(&t, c, &o, &r, &err), 0);
	x.world = 4, x.m = 2, x.vpp = 1, x.n_iters = 1;
	x.rec_len = WLB_EXEC_HEAD + WLB_EXEC_SLOT * 2;
	x.rec = calloc(4 * x.rec_len, sizeof *x.rec);
	for (int rk = 0; rk < 4; rk++) {
		int cc = rk % 2, s = rk / 2;
		double *h = x.rec + rk * x.rec_len, at = 0;
		h[0] = 40 + rk;                        /* wall: the iteration takes 43 */
		h[1] = (1 + rk) * 1073741824.0;        /* peak: 4 GiB at most */
		h[2] = 0.5 * 1073741824.0;
		for (int k = 0; k < 2; k++) {
			double *f = h + WLB_EXEC_HEAD + k * WLB_EXEC_SLOT, d = 1 + k + cc;
			f[0] = at, f[1] = at + d, f[2] = 0.5 + cc;
			f[4] = at + 10, f[5] = at + 10 + 2 * d, f[6] = 1 + cc;
			at += s;
		}
	}
	CHECK_EQ(wlb_run_report_apply(&t, &x, 80, &r, &err), 0);
	/* forward of micro-batch k: both stages, the slower CP rank (c = 1):
	 * 2 x (2 + k); backward twice that */
	for (int b = 0; b < 2; b++) {
		const struct wlb_sim_mb *mb = &r.mbs[b];
		CHECK_NEAR(mb->fwd_ms, 2 * (2 + mb->position), 1e-12);
		CHECK_NEAR(mb->bwd_ms, 4 * (2 + mb->position), 1e-12);
		/* attention per CP rank over both stages: c 0: 2 x 1.5, c 1: 2 x 3.5 */
		CHECK_NEAR(mb->cp_imbalance, 7.0 / 5.0, 1e-12);
	}
	CHECK_NEAR(r.iters[0].time_ms, 43, 1e-12);
	/* busy of each stage: its slower rank, 3 x (2 + 3) = 15; ideal 15 */
	CHECK_NEAR(r.iters[0].ideal_ms, 15, 1e-12);
	CHECK_NEAR(r.iters[0].bubble_fraction, 1 - 15.0 / 43, 1e-12);
	CHECK_NEAR(r.iters[0].imbalance_pp, 6.0 / 5.0, 1e-12);   /* forwards 4 and 6 */
	CHECK_NEAR(r.summary.peak_mem_gib, 4, 1e-12);
	CHECK_NEAR(r.mem[1].act_gib, 3.5, 1e-12);
	CHECK_NEAR(r.summary.iteration_ms_mean, 43, 1e-12);
	CHECK_NEAR(r.summary.lost_ms[WLB_LOST_BUBBLE], 0, 0);
	CHECK_EQ(r.n_timeline, 2 * 2 * 2);
	CHECK_NEAR(r.timeline[1].end_us, 12000, 1e-9);  /* stage 0, cp 0, k 0 backward: 10 .. 12 ms */
	/* per worker, the slower CP rank (c = 1): forwards 2 + 3, backwards 10,
	 * attention 2 x (1.5 + 2), idle 43 - 15 */
	json_t *st = wlb_run_report_stages(&t, &x);
	json_t *w1 = json_array_get(json_object_get(json_array_get(st, 0), "workers"), 1);
	CHECK_EQ(json_integer_value(json_object_get(w1, "stage")), 1);
	CHECK_NEAR(json_real_value(json_object_get(w1, "fwd_ms")), 5, 1e-12);
	CHECK_NEAR(json_real_value(json_object_get(w1, "bwd_ms")), 10, 1e-12);
	CHECK_NEAR(json_real_value(json_object_get(w1, "attn_ms")), 7, 1e-12);
	CHECK_NEAR(json_real_value(json_object_get(w1, "comm_ms")), 0, 0);
	CHECK_NEAR(json_real_value(json_object_get(w1, "idle_ms")), 28, 1e-12);
	json_decref(st);
	free(x.rec);
	wlb_sim_result_free(&r);
	wlb_trace_free(&t);
}

void test_plan(void)
{
	struct wlb_cost *c = h100();
	CHECK(c != NULL);
	test_layout_by_hand();
	if (c) {
		test_plan_is_sim(c);
		test_measured_by_hand(c);
	}
	wlb_cost_destroy(c);
}
