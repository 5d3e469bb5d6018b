/* test_sched.c — pipeline schedules on the event engine: Megatron's step
 * order, the closed forms of 1F1B and interleaved 1F1B for identical
 * micro-batches, and hand-drawn timelines for a heavy micro-batch, sends and
 * the DP gradient sync. */
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include "test.h"

void test_sched(void);

struct run {
	struct wlb_sched *s;
	struct wlb_graph *g;
	struct wlb_sched_mb *mb;
	int pp, vpp, dp, m;
};

static void run_init(struct run *r, int pp, int vpp, int dp, int m, double f, double b, double send)
{
	memset(r, 0, sizeof *r);
	r->pp = pp;
	r->vpp = vpp;
	r->dp = dp;
	r->m = m;
	wlb_sched_create(&r->s);
	wlb_graph_create(&r->g);
	r->mb = calloc((size_t)dp * m, sizeof *r->mb);
	for (int i = 0; i < dp * m; i++)
		r->mb[i] = (struct wlb_sched_mb){f, b, 0, 0, 0, 0, send};
}

static int run_go(struct run *r, const double *dp_sync)
{
	struct wlb_sched_in in = {r->pp, r->vpp, r->dp, r->m, r->mb, NULL, NULL, dp_sync};
	struct wlb_error err;
	int rc = wlb_sched_run(r->s, r->g, &in, &err);
	if (rc)
		fprintf(stderr, "wlb_sched_run: %s\n", err.msg);
	return rc;
}

static void run_free(struct run *r)
{
	wlb_sched_destroy(r->s);
	wlb_graph_destroy(r->g);
	free(r->mb);
}

/* The task of a step (NULL when there is none). */
static const struct wlb_task *find(const struct run *r, int kind, int replica, int stage, int mb,
				   int chunk)
{
	for (uint32_t i = 0; i < wlb_graph_tasks(r->g); i++) {
		const struct wlb_task *t = wlb_graph_task_at(r->g, i);
		const struct wlb_step *st = wlb_sched_step(r->s, t->tag);
		if (st->kind == kind && (int)st->replica == replica && st->stage == stage &&
		    (int)st->mb == mb && st->chunk == chunk)
			return t;
	}
	return NULL;
}

static double start_of(const struct run *r, int kind, int replica, int stage, int mb, int chunk)
{
	const struct wlb_task *t = find(r, kind, replica, stage, mb, chunk);
	return t ? t->start_us : -1;
}

static double makespan(int pp, int vpp, int dp, int m, double f, double b)
{
	struct run r;
	double t = -1;
	run_init(&r, pp, vpp, dp, m, f, b, 0);
	if (!run_go(&r, NULL))
		t = wlb_graph_makespan(r.g);
	run_free(&r);
	return t;
}

/* Checks the compute order of one stage against "F0 F1 B0 ..." (1F1B,
 * chunk 0). */
static void check_order(int pp, int m, int s, const char *want)
{
	struct wlb_step st[64];
	char got[256] = "";
	size_t n = wlb_sched_order(pp, 1, m, s, st), len = 0;

	CHECK_EQ(n, 2 * m);
	for (size_t i = 0; i < n && len + 8 < sizeof got; i++) {
		len += (size_t)snprintf(got + len, sizeof got - len, "%s%c%u", i ? " " : "",
					st[i].kind == WLB_STEP_FWD ? 'F' : st[i].kind == WLB_STEP_BWD ? 'B' : '?',
					(unsigned)st[i].mb);
		CHECK_EQ(st[i].chunk, 0);
		CHECK_EQ(st[i].stage, s);
	}
	if (strcmp(got, want)) {
		t_fail++;
		fprintf(stderr, "%s:%d: [%s] order pp=%d m=%d stage %d: got \"%s\", want \"%s\"\n",
			__FILE__, __LINE__, t_name, pp, m, s, got, want);
	} else {
		t_pass++;
	}
}

static void test_order(void)
{
	/* 1F1B: stage s warms up with min(pp - s - 1, m) forwards, then
	 * alternates one forward and one backward, then cools down */
	check_order(4, 6, 0, "F0 F1 F2 F3 B0 F4 B1 F5 B2 B3 B4 B5");
	check_order(4, 6, 1, "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 B4 B5");
	check_order(4, 6, 3, "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5");
	/* fewer micro-batches than the warm-up: all forwards, then all backwards */
	check_order(4, 2, 0, "F0 F1 B0 B1");
	check_order(4, 2, 2, "F0 F1 B0 B1");
	check_order(4, 2, 3, "F0 B0 F1 B1");

	/* interleaved, pp 2, vpp 2, m 4: forwards go in groups of pp
	 * micro-batches through chunk 0 then chunk 1, backwards the other way
	 * round; stage 0 warms up with (pp-1)*2 + (vpp-1)*pp = 4 forwards */
	struct wlb_step st[16];
	static const char want0[] = "F0.0 F1.0 F0.1 F1.1 F2.0 B0.1 F3.0 B1.1 F2.1 B0.0 F3.1 B1.0 "
				    "B2.1 B3.1 B2.0 B3.0";
	static const char want1[] = "F0.0 F1.0 F0.1 B0.1 F1.1 B1.1 F2.0 B0.0 F3.0 B1.0 F2.1 B2.1 "
				    "F3.1 B3.1 B2.0 B3.0";
	for (int s = 0; s < 2; s++) {
		char got[256] = "";
		size_t len = 0, n = wlb_sched_order(2, 2, 4, s, st);
		CHECK_EQ(n, 16);
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(got + len, sizeof got - len, "%s%c%u.%u", i ? " " : "",
						st[i].kind == WLB_STEP_FWD ? 'F' : 'B', (unsigned)st[i].mb,
						(unsigned)st[i].chunk);
		CHECK(!strcmp(got, s ? want1 : want0));
		if (strcmp(got, s ? want1 : want0))
			fprintf(stderr, "  stage %d: %s\n", s, got);
	}
}

static void test_closed_forms(void)
{
	/* 1F1B, identical micro-batches, no communication:
	 * T = (m + p - 1)(f + b), whether m < p, m == p or m > p, with f < b or
	 * f > b; replicas without a DP sync are independent */
	static const struct { int p, m, dp; double f, b; } c1[] = {
		{1, 1, 1, 1, 2}, {1, 5, 1, 3, 7}, {2, 1, 1, 1, 2}, {4, 2, 1, 1, 2}, {4, 4, 1, 1, 2},
		{4, 6, 1, 1, 2}, {4, 16, 1, 1.5, 3.25}, {3, 7, 1, 3, 1}, {8, 3, 1, 2, 5},
		{8, 32, 1, 1, 2}, {4, 6, 2, 1, 2}, {3, 5, 4, 2.5, 4},
	};
	for (size_t i = 0; i < sizeof c1 / sizeof c1[0]; i++)
		CHECK_NEAR(makespan(c1[i].p, 1, c1[i].dp, c1[i].m, c1[i].f, c1[i].b),
			   (c1[i].m + c1[i].p - 1) * (c1[i].f + c1[i].b), 0);

	/* Interleaved 1F1B (Megatron's order), identical micro-batches with
	 * chunk times fc and bc (a stage's f and b split over v chunks):
	 *
	 *   T = (m v + p - 1)(fc + bc)
	 *
	 * i.e. m (f + b) plus a bubble of (p - 1)(f + b) / v, Narayanan et al.
	 * 2021's bubble shrunk by v.  By hand for p = 2, v = 2, m = 4, fc = 1,
	 * bc = 2 (F/B mb.chunk; S0 and S1 the stages; chunk c of the model is
	 * stage 0 then stage 1, so chunk 1 of S0 waits for chunk 0 of S1; orders
	 * as in test_order):
	 *
	 *  t  0  1  2  3  4  5  6  7  8  9  10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27
	 *  S0 F00F10F01F11F20 . B01---F30B11---F21B00---F31B10--- . B21--- . B31---B20---B30---|
	 *  S1  . F00F10F01B01---F11B11---F20B00---F30B10---F21B21---F31B31---B20---B30--- .  . |
	 *
	 * S0: F00 0-1, F10 1-2, F01 2-3 (S1's F00 ended at 2), F11 3-4, F20 4-5,
	 *     B01 6-8 (S1's B01 4-6), F30 8-9, B11 9-11 (S1's 7-9), F21 11-12
	 *     (S1's F20 9-10), B00 12-14 (S1's 10-12), F31 14-15 (S1's F30
	 *     12-13), B10 15-17 (S1's 13-15), B21 18-20 (S1's 16-18), B31 21-23
	 *     (S1's 19-21), B20 23-25 (S1's 21-23), B30 25-27 (S1's 23-25).
	 * S1: F00 1-2, F10 2-3, F01 3-4, B01 4-6, F11 6-7, B11 7-9, F20 9-10,
	 *     B00 10-12 (after S0's B01), F30 12-13, B10 13-15 (S0's B11 ended
	 *     11), F21 15-16, B21 16-18, F31 18-19 (S0's F31 ended 15; S1 busy),
	 *     B31 19-21, B20 21-23 (S0's B21 ended 20), B30 23-25 (S0's B31 23).
	 * Makespan 27 = (4 * 2 + 2 - 1) * (1 + 2).  The engine agrees for every
	 * p in {2, 3, 4, 8}, v in {2, 3, 4}, m in {p, 2p, 3p, 4p} and for fc > bc
	 * as well; m == p (where Megatron runs all forwards first) included. */
	{
		struct run r;
		run_init(&r, 2, 2, 1, 4, 1, 2, 0);
		CHECK_EQ(run_go(&r, NULL), 0);
		CHECK_NEAR(wlb_graph_makespan(r.g), 27, 0);
		CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 0, 0, 1), 6, 0);
		CHECK_NEAR(start_of(&r, WLB_STEP_FWD, 0, 0, 2, 1), 11, 0);
		CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 1, 0, 0), 10, 0);
		CHECK_NEAR(start_of(&r, WLB_STEP_FWD, 0, 1, 3, 1), 18, 0);
		CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 1, 3, 0), 23, 0);
		CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 0, 3, 0), 25, 0);
		run_free(&r);
	}
	static const int ps[] = {2, 3, 4, 8}, vs[] = {2, 3, 4};
	int bad = 0;
	for (size_t a = 0; a < 4; a++)
		for (size_t c = 0; c < 3; c++)
			for (int k = 1; k <= 4; k++) {
				int p = ps[a], v = vs[c], m = k * p;
				double fc = 1, bc = 2;
				bad += makespan(p, v, 1, m, fc, bc) != (m * v + p - 1) * (fc + bc);
				fc = 3, bc = 1;
				bad += makespan(p, v, 1, m, fc, bc) != (m * v + p - 1) * (fc + bc);
			}
	CHECK_EQ(bad, 0);
	/* and with f = 6, b = 12 split over v = 3: fc = 2, bc = 4, dp 2 */
	CHECK_NEAR(makespan(4, 3, 2, 8, 2, 4), (8 * 3 + 4 - 1) * 6.0, 0);
}

static void test_heavy(void)
{
	struct run r;

	/* 1F1B p = 3, m = 4, f = 1, b = 2 except micro-batch 1: f = 3, b = 6.
	 * Orders: S0 F0 F1 F2 B0 F3 B1 B2 B3; S1 F0 F1 B0 F2 B1 F3 B2 B3;
	 * S2 F0 B0 F1 B1 F2 B2 F3 B3.
	 *
	 *  S0  F0 0-1  F1 1-4  F2 4-5  . B0 9-11  F3 11-12 ... B1 22-28  B2 28-30  B3 30-32
	 *  S1  F0 1-2  . F1 4-7  B0 7-9  F2 9-10 ... B1 16-22  F3 22-23  B2 23-25 . B3 26-28
	 *  S2  F0 2-3  B0 3-5 .. F1 7-10  B1 10-16  F2 16-17  B2 17-19 .. F3 23-24  B3 24-26
	 *
	 * S1's F1 waits for S0's F1 (ends 4); S1's B0 waits for S1 to finish F1
	 * (7); S2's F2 waits for S2's B1 (ends 16); S1's B1 waits for S2's B1
	 * (16); S0's B1 for S1's B1 (22); S0's B2 for S0 itself (28); critical
	 * path S0 F0 F1 -> S1 F1 -> S2 F1 B1 -> S1 B1 -> S0 B1 B2 B3 = 32. */
	run_init(&r, 3, 1, 1, 4, 1, 2, 0);
	r.mb[1].fwd_us = 3;
	r.mb[1].bwd_us = 6;
	CHECK_EQ(run_go(&r, NULL), 0);
	CHECK_NEAR(wlb_graph_makespan(r.g), 32, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_FWD, 0, 1, 1, 0), 4, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 1, 0, 0), 7, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 2, 1, 0), 10, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_FWD, 0, 2, 2, 0), 16, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 1, 1, 0), 16, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_FWD, 0, 1, 3, 0), 22, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 0, 0, 0), 9, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 0, 1, 0), 22, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 1, 3, 0), 26, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 0, 3, 0), 30, 0);
	/* the same micro-batches with equal ones would give (4 + 2) * 3 = 18 */
	run_free(&r);

	/* sends: p = 2, m = 2, f = 1, b = 2, send 0.5 on each stage's send stream
	 * (none after the last stage's forward or the first stage's backward):
	 *  S0 compute  F0 0-1  F1 1-2  ....  B0 5-7  .  B1 8-10
	 *  S0 send       sF0 1-1.5  sF1 2-2.5
	 *  S1 compute  F0 1.5-2.5  B0 2.5-4.5  F1 4.5-5.5  B1 5.5-7.5
	 *  S1 send       sB0 4.5-5  sB1 7.5-8
	 * makespan 10 (9 without sends). */
	run_init(&r, 2, 1, 1, 2, 1, 2, 0.5);
	CHECK_EQ(run_go(&r, NULL), 0);
	CHECK_NEAR(wlb_graph_makespan(r.g), 10, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_SEND_FWD, 0, 0, 1, 0), 2, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_FWD, 0, 1, 0, 0), 1.5, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_FWD, 0, 1, 1, 0), 4.5, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_SEND_BWD, 0, 1, 0, 0), 4.5, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 0, 0, 0), 5, 0);
	CHECK_NEAR(start_of(&r, WLB_STEP_BWD, 0, 0, 1, 0), 8, 0);
	CHECK(find(&r, WLB_STEP_SEND_FWD, 0, 1, 0, 0) == NULL);
	CHECK(find(&r, WLB_STEP_SEND_BWD, 0, 0, 0, 0) == NULL);
	/* 2 stages x 2 micro-batches x (F + B) compute, 4 sends */
	CHECK_EQ(wlb_graph_tasks(r.g), 12);
	run_free(&r);
}

static void test_dp_sync(void)
{
	struct run r;
	double sync[2] = {1, 10};

	/* two replicas, p = 2, m = 2: replica 0 f = 1, b = 2; replica 1 twice
	 * as slow.  Replica 0: S0 F0 0-1 F1 1-2 B0 4-6 B1 7-9; S1 F0 1-2 B0 2-4
	 * F1 4-5 B1 5-7.  Replica 1: everything doubled, S1's last backward ends
	 * 14, S0's 18.  Stage 1's sync (10) starts at max(7, 14) = 14 on both
	 * replicas, stage 0's (1) at max(9, 18) = 18: makespan max(24, 19). */
	run_init(&r, 2, 1, 2, 2, 1, 2, 0);
	for (int i = 2; i < 4; i++)
		r.mb[i] = (struct wlb_sched_mb){2, 4, 0, 0, 0, 0, 0};
	CHECK_EQ(run_go(&r, sync), 0);
	const struct wlb_task *b0 = find(&r, WLB_STEP_BWD, 0, 1, 1, 0), *b1 = find(&r, WLB_STEP_BWD, 1, 1, 1, 0);
	CHECK(b0 && b1);
	if (b0 && b1) {
		CHECK_NEAR(b0->end_us, 7, 0);
		CHECK_NEAR(b1->end_us, 14, 0);
	}
	for (int d = 0; d < 2; d++) {
		const struct wlb_task *s0 = find(&r, WLB_STEP_DP_SYNC, d, 0, 0, 0);
		const struct wlb_task *s1 = find(&r, WLB_STEP_DP_SYNC, d, 1, 0, 0);
		CHECK(s0 && s1);
		if (!s0 || !s1)
			continue;
		CHECK_NEAR(s0->start_us, 18, 0);
		CHECK_NEAR(s0->end_us, 19, 0);
		CHECK_NEAR(s1->start_us, 14, 0);
		CHECK_NEAR(s1->end_us, 24, 0);
		CHECK_EQ(s1->stream, wlb_sched_stream(2, d, 1, 2));
	}
	CHECK_NEAR(wlb_graph_makespan(r.g), 24, 0);
	/* the slow replica alone would end at 18 + 1 = 19 and the fast one at
	 * 7 + 10 = 17: the sync makes both wait */
	run_free(&r);

	/* one replica: the sync tasks (the optimizer step) follow its own
	 * backwards: stage 0's last ends at 9, stage 1's at 7 + 10 = 17 */
	run_init(&r, 2, 1, 1, 2, 1, 2, 0);
	CHECK_EQ(run_go(&r, sync), 0);
	CHECK_NEAR(wlb_graph_makespan(r.g), 17, 0);
	CHECK(find(&r, WLB_STEP_DP_SYNC, 0, 0, 0, 0) != NULL);
	run_go(&r, NULL);
	CHECK_NEAR(wlb_graph_makespan(r.g), 9, 0);
	CHECK(find(&r, WLB_STEP_DP_SYNC, 0, 0, 0, 0) == NULL);
	run_free(&r);
}

static void test_determinism(void)
{
	struct run a, b;

	/* uneven micro-batches, sends, sync, interleaved: the same times twice,
	 * and again on a reused graph */
	run_init(&a, 4, 2, 2, 8, 1, 2, 0.25);
	run_init(&b, 4, 2, 2, 8, 1, 2, 0.25);
	for (int i = 0; i < 16; i++) {
		a.mb[i].fwd_us = b.mb[i].fwd_us = 1 + (i * 7 % 5) * 0.3;
		a.mb[i].bwd_us = b.mb[i].bwd_us = 2 + (i * 3 % 4) * 0.7;
		a.mb[i].first_fwd_us = b.mb[i].first_fwd_us = 0.1;
		a.mb[i].last_bwd_us = b.mb[i].last_bwd_us = 0.2;
	}
	double sync[4] = {0.5, 1, 1.5, 2};
	CHECK_EQ(run_go(&a, sync), 0);
	CHECK_EQ(run_go(&b, sync), 0);
	size_t n = wlb_graph_tasks(a.g), same = 0;
	CHECK_EQ(n, wlb_graph_tasks(b.g));
	for (uint32_t i = 0; i < n && n == wlb_graph_tasks(b.g); i++) {
		const struct wlb_task *x = wlb_graph_task_at(a.g, i), *y = wlb_graph_task_at(b.g, i);
		const struct wlb_step *u = wlb_sched_step(a.s, x->tag), *v = wlb_sched_step(b.s, y->tag);
		same += x->start_us == y->start_us && x->end_us == y->end_us && x->stream == y->stream &&
			u->kind == v->kind && u->stage == v->stage && u->chunk == v->chunk &&
			u->replica == v->replica && u->mb == v->mb;
	}
	CHECK_EQ(same, n);
	double t0 = wlb_graph_makespan(a.g);
	CHECK(t0 > 0);
	CHECK_EQ(run_go(&a, sync), 0);
	CHECK(wlb_graph_makespan(a.g) == t0);
	CHECK(wlb_graph_makespan(b.g) == t0);
	run_free(&a);
	run_free(&b);
}

void test_sched(void)
{
	test_order();
	test_closed_forms();
	test_heavy();
	test_dp_sync();
	test_determinism();
}
