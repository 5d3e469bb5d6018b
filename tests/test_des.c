/* test_des.c — the discrete-event engine: hand-built graphs with their
 * timelines worked out in the comments, a 1F1B pipeline, ties and
 * determinism, cycles, reuse after reset, and a 100k-task random DAG checked
 * by brute force against the edge list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "des.h"
#include "test.h"

void test_des(void);

/* start and end of task id */
#define CHECK_SE(g, id, s, e) do { const struct wlb_task *k_ = wlb_graph_task_at(g, id); \
	CHECK(k_ != NULL); \
	if (k_) { CHECK_NEAR(k_->start_us, s, 0); CHECK_NEAR(k_->end_us, e, 0); } } while (0)

static void dep(struct wlb_graph *g, uint32_t a, uint32_t b)
{
	CHECK_EQ(wlb_graph_dep(g, a, b), 0);
}

static int run(struct wlb_graph *g)
{
	struct wlb_error err = {0};
	int rc = wlb_des_run(g, &err);
	if (rc)
		fprintf(stderr, "des: %s\n", err.msg);
	return rc;
}

static void chain(struct wlb_graph *g)
{
	/* A(s0,2) -> B(s1,3) -> C(s2,1) -> D(s0,4):
	 * A 0-2, B 2-5, C 5-6, D 6-10 (D also follows A on s0, already over) */
	CHECK_EQ(wlb_graph_reset(g, 3), 0);
	uint32_t a = wlb_graph_task(g, 0, 2, 10);
	uint32_t b = wlb_graph_task(g, 1, 3, 11);
	uint32_t c = wlb_graph_task(g, 2, 1, 12);
	uint32_t d = wlb_graph_task(g, 0, 4, 13);
	CHECK_EQ(a, 0);
	CHECK_EQ(d, 3);
	dep(g, a, b);
	dep(g, b, c);
	dep(g, c, d);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, a, 0, 2);
	CHECK_SE(g, b, 2, 5);
	CHECK_SE(g, c, 5, 6);
	CHECK_SE(g, d, 6, 10);
	CHECK_NEAR(wlb_graph_makespan(g), 10, 0);
	CHECK_EQ(wlb_graph_tasks(g), 4);
	CHECK_EQ(wlb_graph_task_at(g, c)->tag, 12);
	CHECK(wlb_graph_task_at(g, 4) == NULL);
}

static void diamond(struct wlb_graph *g)
{
	/* A(1) -> B(2), A -> C(5), B -> D(3), C -> D.
	 * B, C on different streams: A 0-1, B 1-3, C 1-6, D starts at
	 * A + max(B, C) = 6, ends 9. */
	CHECK_EQ(wlb_graph_reset(g, 3), 0);
	uint32_t a = wlb_graph_task(g, 0, 1, 0);
	uint32_t b = wlb_graph_task(g, 1, 2, 0);
	uint32_t c = wlb_graph_task(g, 2, 5, 0);
	uint32_t d = wlb_graph_task(g, 0, 3, 0);
	dep(g, a, b);
	dep(g, a, c);
	dep(g, b, d);
	dep(g, c, d);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, a, 0, 1);
	CHECK_SE(g, b, 1, 3);
	CHECK_SE(g, c, 1, 6);
	CHECK_SE(g, d, 6, 9);
	CHECK_NEAR(wlb_graph_makespan(g), 9, 0);

	/* B, C on the same stream: C waits for B. A 0-1, B 1-3, C 3-8, D starts
	 * at A + B + C = 8, ends 11. */
	CHECK_EQ(wlb_graph_reset(g, 2), 0);
	a = wlb_graph_task(g, 0, 1, 0);
	b = wlb_graph_task(g, 1, 2, 0);
	c = wlb_graph_task(g, 1, 5, 0);
	d = wlb_graph_task(g, 0, 3, 0);
	dep(g, a, b);
	dep(g, a, c);
	dep(g, b, d);
	dep(g, c, d);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, b, 1, 3);
	CHECK_SE(g, c, 3, 8);
	CHECK_SE(g, d, 8, 11);
	CHECK_NEAR(wlb_graph_makespan(g), 11, 0);
}

static void serial(struct wlb_graph *g)
{
	/* s0: X(4) Y(1) Z(2), no dependencies: one at a time, 0-4, 4-5, 5-7.
	 * s1: R(1), then Q(3) which needs Y: R 0-1, Q 5-8.
	 * s2: P(6), then W(1) which needs R: P 0-6, W 6-7 (stream order, not
	 * R's end at 1, decides). */
	CHECK_EQ(wlb_graph_reset(g, 3), 0);
	uint32_t x = wlb_graph_task(g, 0, 4, 0);
	uint32_t y = wlb_graph_task(g, 0, 1, 0);
	uint32_t z = wlb_graph_task(g, 0, 2, 0);
	uint32_t r = wlb_graph_task(g, 1, 1, 0);
	uint32_t q = wlb_graph_task(g, 1, 3, 0);
	uint32_t p = wlb_graph_task(g, 2, 6, 0);
	uint32_t w = wlb_graph_task(g, 2, 1, 0);
	dep(g, y, q);
	dep(g, r, w);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, x, 0, 4);
	CHECK_SE(g, y, 4, 5);
	CHECK_SE(g, z, 5, 7);
	CHECK_SE(g, r, 0, 1);
	CHECK_SE(g, q, 5, 8);
	CHECK_SE(g, p, 0, 6);
	CHECK_SE(g, w, 6, 7);
	CHECK_NEAR(wlb_graph_makespan(g), 8, 0);
}

static void zero_dur(struct wlb_graph *g)
{
	/* s0: Z1(0) Z2(0) T(3); s1: U(0) needs T, V(2) needs Z1; s2: J(0)
	 * joins V and Z2, then K(1).
	 * Z1 0-0, Z2 0-0, T 0-3; U 3-3, V after U on s1: 3-5; J 5-5, K 5-6.
	 * A graph of zero-duration tasks only ends at 0. */
	CHECK_EQ(wlb_graph_reset(g, 3), 0);
	uint32_t z1 = wlb_graph_task(g, 0, 0, 0);
	uint32_t z2 = wlb_graph_task(g, 0, 0, 0);
	uint32_t t = wlb_graph_task(g, 0, 3, 0);
	uint32_t u = wlb_graph_task(g, 1, 0, 0);
	uint32_t v = wlb_graph_task(g, 1, 2, 0);
	uint32_t j = wlb_graph_task(g, 2, 0, 0);
	uint32_t k = wlb_graph_task(g, 2, 1, 0);
	dep(g, t, u);
	dep(g, z1, v);
	dep(g, v, j);
	dep(g, z2, j);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, z1, 0, 0);
	CHECK_SE(g, z2, 0, 0);
	CHECK_SE(g, t, 0, 3);
	CHECK_SE(g, u, 3, 3);
	CHECK_SE(g, v, 3, 5);
	CHECK_SE(g, j, 5, 5);
	CHECK_SE(g, k, 5, 6);
	CHECK_NEAR(wlb_graph_makespan(g), 6, 0);

	CHECK_EQ(wlb_graph_reset(g, 2), 0);
	for (int i = 0; i < 10; i++)
		CHECK(wlb_graph_task(g, (uint32_t)i % 2, 0, 0) != UINT32_MAX);
	dep(g, 9, 0); /* s1's last before s0's first: still no cycle */
	CHECK_EQ(run(g), 0);
	CHECK_NEAR(wlb_graph_makespan(g), 0, 0);
	CHECK_SE(g, 0, 0, 0);
	CHECK_SE(g, 8, 0, 0);

	/* an empty graph runs and ends at 0 */
	CHECK_EQ(wlb_graph_reset(g, 0), 0);
	CHECK_EQ(run(g), 0);
	CHECK_EQ(wlb_graph_tasks(g), 0);
	CHECK_NEAR(wlb_graph_makespan(g), 0, 0);
}

static void non_topological(struct wlb_graph *g)
{
	/* ids 0 C(s0,1), 1 B(s1,2), 2 A(s2,3); A -> B -> C, every edge to a
	 * lower id: A 0-3, B 3-5, C 5-6. */
	CHECK_EQ(wlb_graph_reset(g, 3), 0);
	uint32_t c = wlb_graph_task(g, 0, 1, 0);
	uint32_t b = wlb_graph_task(g, 1, 2, 0);
	uint32_t a = wlb_graph_task(g, 2, 3, 0);
	dep(g, b, c);
	dep(g, a, b);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, a, 0, 3);
	CHECK_SE(g, b, 3, 5);
	CHECK_SE(g, c, 5, 6);

	/* ids 0 G(s1,2), 1 E(s0,1), 2 F(s0,1); G needs F, the second task
	 * of another stream: E 0-1, F 1-2, G 2-4. */
	CHECK_EQ(wlb_graph_reset(g, 2), 0);
	uint32_t gg = wlb_graph_task(g, 1, 2, 0);
	uint32_t e = wlb_graph_task(g, 0, 1, 0);
	uint32_t f = wlb_graph_task(g, 0, 1, 0);
	dep(g, f, gg);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, e, 0, 1);
	CHECK_SE(g, f, 1, 2);
	CHECK_SE(g, gg, 2, 4);
}

static void pipeline_1f1b(struct wlb_graph *g)
{
	/* p = 2 stages, m = 2 micro-batches, f = 1, b = 2.
	 * stage 0 (s0): F0 F1 B0 B1;  stage 1 (s1): F0 B0 F1 B1;
	 * F(s-1) -> F(s), B(s+1) -> B(s).
	 *   s0 F0 0-1, F1 1-2
	 *   s1 F0 1-2 (needs s0 F0), B0 2-4, F1 4-5 (stream: after B0; s0 F1
	 *      ended at 2), B1 5-7
	 *   s0 B0 4-6 (needs s1 B0 at 4), B1 7-9 (needs s1 B1 at 7)
	 * makespan (m + p - 1)(f + b) = 3 * 3 = 9. */
	enum { P = 2, M = 2 };
	const double f = 1, b = 2;
	uint32_t F[P][M], B[P][M];

	CHECK_EQ(wlb_graph_reset(g, P), 0);
	F[0][0] = wlb_graph_task(g, 0, f, 0);
	F[0][1] = wlb_graph_task(g, 0, f, 1);
	B[0][0] = wlb_graph_task(g, 0, b, 0);
	B[0][1] = wlb_graph_task(g, 0, b, 1);
	F[1][0] = wlb_graph_task(g, 1, f, 0);
	B[1][0] = wlb_graph_task(g, 1, b, 0);
	F[1][1] = wlb_graph_task(g, 1, f, 1);
	B[1][1] = wlb_graph_task(g, 1, b, 1);
	for (int mb = 0; mb < M; mb++) {
		dep(g, F[0][mb], F[1][mb]);
		dep(g, B[1][mb], B[0][mb]);
	}
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, F[0][0], 0, 1);
	CHECK_SE(g, F[0][1], 1, 2);
	CHECK_SE(g, F[1][0], 1, 2);
	CHECK_SE(g, B[1][0], 2, 4);
	CHECK_SE(g, F[1][1], 4, 5);
	CHECK_SE(g, B[1][1], 5, 7);
	CHECK_SE(g, B[0][0], 4, 6);
	CHECK_SE(g, B[0][1], 7, 9);
	CHECK_NEAR(wlb_graph_makespan(g), (M + P - 1) * (f + b), 0);
}

/* Many ties: 32 streams of 20 tasks with durations 0.1, 0.25 or 0 so that
 * ends coincide often, each task also waiting on tasks of the previous
 * "round" on two other streams; built twice from the same seed. */
static void build_ties(struct wlb_graph *g)
{
	enum { S = 32, R = 20 };
	static const double durs[] = {0.1, 0.25, 0, 0.1};

	CHECK_EQ(wlb_graph_reset(g, S), 0);
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t s = 0; s < S; s++) {
			uint32_t id = wlb_graph_task(g, s, durs[(r + s) % 4], r * S + s);
			if (r > 0) {
				dep(g, (r - 1) * S + (s + 1) % S, id);
				dep(g, (r - 1) * S + (s + 7) % S, id);
			}
		}
}

static void ties(struct wlb_graph *g)
{
	struct wlb_graph *h;
	size_t n;
	double *se;

	build_ties(g);
	CHECK_EQ(run(g), 0);
	n = wlb_graph_tasks(g);
	CHECK_EQ(n, 640);
	se = malloc(2 * n * sizeof *se);
	for (uint32_t i = 0; i < n; i++) {
		se[2 * i] = wlb_graph_task_at(g, i)->start_us;
		se[2 * i + 1] = wlb_graph_task_at(g, i)->end_us;
	}
	/* round 0 (tasks 0..31) all start at 0; in round 1 every task waits
	 * for its stream's round-0 task and two others */
	for (uint32_t i = 0; i < 32; i++)
		CHECK_NEAR(se[2 * i], 0, 0);

	/* the same graph again */
	CHECK_EQ(run(g), 0);
	int same = 1;
	for (uint32_t i = 0; i < n; i++)
		same &= wlb_graph_task_at(g, i)->start_us == se[2 * i] &&
			wlb_graph_task_at(g, i)->end_us == se[2 * i + 1];
	CHECK(same);

	/* a fresh, identical graph */
	CHECK_EQ(wlb_graph_create(&h), 0);
	build_ties(h);
	CHECK_EQ(run(h), 0);
	same = wlb_graph_tasks(h) == n;
	for (uint32_t i = 0; same && i < n; i++)
		same &= wlb_graph_task_at(h, i)->start_us == se[2 * i] &&
			wlb_graph_task_at(h, i)->end_us == se[2 * i + 1];
	CHECK(same);
	CHECK(wlb_graph_makespan(h) == wlb_graph_makespan(g));
	wlb_graph_destroy(h);

	/* a 3-wide tie: three streams end at 2 together, a join starts at 2 */
	CHECK_EQ(wlb_graph_reset(g, 4), 0);
	for (uint32_t s = 0; s < 3; s++) {
		wlb_graph_task(g, s, 1, 0);
		wlb_graph_task(g, s, 1, 0);
	}
	uint32_t j = wlb_graph_task(g, 3, 0.5, 0);
	for (uint32_t i = 0; i < 6; i++)
		dep(g, i, j);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, j, 2, 2.5);
	free(se);
}

static void errors(struct wlb_graph *g)
{
	struct wlb_error err = {0};

	/* two tasks waiting on each other */
	CHECK_EQ(wlb_graph_reset(g, 4), 0);
	wlb_graph_task(g, 0, 1, 5);
	uint32_t a = wlb_graph_task(g, 2, 1, 6);
	uint32_t b = wlb_graph_task(g, 3, 1, 7);
	dep(g, a, b);
	dep(g, b, a);
	CHECK_EQ(wlb_des_run(g, &err), WLB_EINVAL);
	CHECK_EQ(err.code, WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "can never start");
	CHECK_STR_HAS(err.msg, "task 1 (stream 2, tag 6)");
	CHECK_SE(g, 0, 0, 1); /* task 0 is outside the cycle and ran */
	CHECK(isnan(wlb_graph_task_at(g, a)->start_us));

	/* a task waiting on itself */
	CHECK_EQ(wlb_graph_reset(g, 1), 0);
	a = wlb_graph_task(g, 0, 1, 3);
	dep(g, a, a);
	CHECK_EQ(wlb_des_run(g, &err), WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "task 0 (stream 0, tag 3) can never start: dependency cycle");

	/* against stream order: X then Y on s0, but X waits for Y */
	CHECK_EQ(wlb_graph_reset(g, 1), 0);
	a = wlb_graph_task(g, 0, 1, 0);
	b = wlb_graph_task(g, 0, 1, 0);
	dep(g, b, a);
	CHECK_EQ(wlb_des_run(g, &err), WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "task 0 (stream 0, tag 0) can never start");

	/* a NULL err is allowed */
	CHECK_EQ(wlb_des_run(g, NULL), WLB_EINVAL);

	/* invalid ids, streams, durations */
	CHECK_EQ(wlb_graph_dep(g, 0, 2), WLB_EINVAL);
	CHECK_EQ(wlb_graph_dep(g, 7, 0), WLB_EINVAL);
	CHECK_EQ(wlb_graph_dep(g, UINT32_MAX, 1), WLB_EINVAL);
	CHECK_EQ(wlb_graph_task(g, 1, 1, 0), UINT32_MAX);
	CHECK_EQ(wlb_graph_task(g, 0, -1, 0), UINT32_MAX);
	CHECK_EQ(wlb_graph_task(g, 0, NAN, 0), UINT32_MAX);
	CHECK_EQ(wlb_graph_task(g, 0, INFINITY, 0), UINT32_MAX);
	CHECK_EQ(wlb_graph_tasks(g), 2);

	/* reuse after the error: a different graph, correct times.
	 * s0: A(2); s1: B(1) C(4), C needs A: A 0-2, B 0-1, C 2-6. */
	CHECK_EQ(wlb_graph_reset(g, 2), 0);
	CHECK_EQ(wlb_graph_tasks(g), 0);
	a = wlb_graph_task(g, 0, 2, 0);
	b = wlb_graph_task(g, 1, 1, 0);
	uint32_t c = wlb_graph_task(g, 1, 4, 0);
	dep(g, a, c);
	CHECK_EQ(run(g), 0);
	CHECK_SE(g, a, 0, 2);
	CHECK_SE(g, b, 0, 1);
	CHECK_SE(g, c, 2, 6);
	CHECK_NEAR(wlb_graph_makespan(g), 6, 0);
}

static uint64_t lcg(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x >> 33;
}

static void random_dag(struct wlb_graph *g)
{
	enum { N = 100000, S = 64, MAXDEP = 4 };
	uint32_t *eb = malloc((size_t)N * MAXDEP * sizeof *eb);
	uint32_t *ea = malloc((size_t)N * MAXDEP * sizeof *ea);
	uint32_t *prev = malloc(N * sizeof *prev), last[S];
	double *ready = malloc(N * sizeof *ready);
	size_t ne = 0, bad_build = 0;
	uint64_t x = 42;

	/* first a small graph, so the big one reuses and grows the buffers */
	build_ties(g);
	CHECK_EQ(run(g), 0);

	CHECK_EQ(wlb_graph_reset(g, S), 0);
	for (uint32_t s = 0; s < S; s++)
		last[s] = UINT32_MAX;
	for (uint32_t i = 0; i < N; i++) {
		uint32_t s = (uint32_t)(lcg(&x) % S);
		/* durations on a 1/8 grid (ties) and about one in eight zero */
		double d = (double)(lcg(&x) % 80) / 8.0;
		if (lcg(&x) % 8 == 0)
			d = 0;
		bad_build += wlb_graph_task(g, s, d, i) != i;
		prev[i] = last[s];
		last[s] = i;
		uint32_t k = i ? (uint32_t)(lcg(&x) % MAXDEP) : 0;
		for (uint32_t j = 0; j < k; j++) {
			/* mostly near, sometimes far back */
			uint32_t back = lcg(&x) % 4 ? 1 + (uint32_t)(lcg(&x) % 200) : 1 + (uint32_t)(lcg(&x) % i);
			uint32_t before = back > i ? 0 : i - back;
			bad_build += wlb_graph_dep(g, before, i) != 0;
			eb[ne] = before;
			ea[ne] = i;
			ne++;
		}
	}
	CHECK_EQ(bad_build, 0);
	CHECK(ne > N); /* about 1.5 dependencies a task */
	CHECK_EQ(run(g), 0);
	CHECK_EQ(wlb_graph_tasks(g), N);

	/* brute force: start >= each dependency's end and the previous
	 * same-stream end; and exactly the largest of them (or 0) */
	for (uint32_t i = 0; i < N; i++)
		ready[i] = prev[i] == UINT32_MAX ? 0 : wlb_graph_task_at(g, prev[i])->end_us;
	size_t bad_dep = 0, bad_stream = 0, bad_start = 0, bad_end = 0;
	for (size_t e = 0; e < ne; e++) {
		double end = wlb_graph_task_at(g, eb[e])->end_us;
		bad_dep += !(wlb_graph_task_at(g, ea[e])->start_us >= end);
		if (end > ready[ea[e]])
			ready[ea[e]] = end;
	}
	double mx = 0;
	for (uint32_t i = 0; i < N; i++) {
		const struct wlb_task *k = wlb_graph_task_at(g, i);
		if (prev[i] != UINT32_MAX)
			bad_stream += !(k->start_us >= wlb_graph_task_at(g, prev[i])->end_us);
		bad_start += k->start_us != ready[i];
		bad_end += k->end_us != k->start_us + k->dur_us;
		if (k->end_us > mx)
			mx = k->end_us;
	}
	CHECK_EQ(bad_dep, 0);
	CHECK_EQ(bad_stream, 0);
	CHECK_EQ(bad_start, 0);
	CHECK_EQ(bad_end, 0);
	CHECK(wlb_graph_makespan(g) == mx);
	CHECK(mx > 0);

	free(eb);
	free(ea);
	free(prev);
	free(ready);
}

void test_des(void)
{
	struct wlb_graph *g;

	CHECK_EQ(wlb_graph_create(&g), 0);
	/* before any reset: no streams, no tasks */
	CHECK_EQ(wlb_graph_task(g, 0, 1, 0), UINT32_MAX);
	CHECK_EQ(wlb_graph_tasks(g), 0);
	CHECK_NEAR(wlb_graph_makespan(g), 0, 0);
	chain(g);
	diamond(g);
	serial(g);
	zero_dur(g);
	non_topological(g);
	pipeline_1f1b(g);
	ties(g);
	errors(g);
	random_dag(g);
	wlb_graph_destroy(g);
	wlb_graph_destroy(NULL);
}
