/* bench_des.c — speed of the discrete-event engine on a 1F1B-like graph of
 * about 50k tasks (pp stages x (compute, send) streams, m micro-batches,
 * forward / backward with p2p sends between stages), rebuilt and run 200
 * times on one graph, the way the simulator does every iteration.  Prints
 * "des: N tasks/s" (build + run) and the events per second of the runs. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "des.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

enum { P = 16, M = 780, REPS = 200 };

/* 1F1B: stage s does min(P - s, M) warm-up forwards, then alternates
 * backward / forward, then drains backwards.  Each forward and backward
 * is a compute task plus a send on the stage's comm stream (stream P + s)
 * to the next (forward) or previous (backward) stage.  Durations vary with
 * the micro-batch, as variable-length packing makes them. */
static int build(struct wlb_graph *g, uint32_t *fsend, uint32_t *bsend)
{
	if (wlb_graph_reset(g, 2 * P))
		return -1;
	for (uint32_t s = 0; s < P; s++) {
		uint32_t warm = P - s < M ? P - s : M, nf = 0, nb = 0;
		for (uint32_t step = 0; step < 2 * M; step++) {
			int fwd = nf < warm || (nf < M && (step - warm) % 2 == 1);
			uint32_t mb = fwd ? nf++ : nb++;
			double d = (fwd ? 1.0 : 2.0) * (1.0 + (double)((mb * 37 + s * 11) % 17) / 16.0);
			uint32_t c = wlb_graph_task(g, s, d, mb);
			if (c == UINT32_MAX)
				return -1;
			/* a forward waits for the previous stage's send; stages are
			 * built in order, so a backward's edge comes from a higher id
			 * and is added once that send exists (below) */
			if (fwd && s > 0 && wlb_graph_dep(g, fsend[(s - 1) * M + mb], c))
				return -1;
			uint32_t snd = wlb_graph_task(g, P + s, 0.05, mb);
			if (snd == UINT32_MAX || wlb_graph_dep(g, c, snd))
				return -1;
			(fwd ? fsend : bsend)[s * M + mb] = snd;
		}
	}
	/* backward of stage s waits for the backward send of stage s + 1 */
	for (uint32_t s = 0; s + 1 < P; s++)
		for (uint32_t mb = 0; mb < M; mb++) {
			/* bsend[s * M + mb] - 1 is the compute task of stage s's
			 * backward: each send directly follows its compute task */
			uint32_t c = bsend[s * M + mb] - 1;
			if (wlb_graph_dep(g, bsend[(s + 1) * M + mb], c))
				return -1;
		}
	return 0;
}

int main(void)
{
	struct wlb_graph *g;
	struct wlb_error err;
	uint32_t *fsend = malloc(sizeof *fsend * P * M), *bsend = malloc(sizeof *bsend * P * M);
	double t_build = 0, t_run = 0, ms = 0;
	size_t n = 0;

	if (!fsend || !bsend || wlb_graph_create(&g))
		return 1;
	for (int rep = 0; rep < REPS; rep++) {
		double t0 = now_s();
		if (build(g, fsend, bsend)) {
			fprintf(stderr, "bench_des: building the graph failed\n");
			return 1;
		}
		double t1 = now_s();
		if (wlb_des_run(g, &err)) {
			fprintf(stderr, "bench_des: %s\n", err.msg);
			return 1;
		}
		double t2 = now_s();
		t_build += t1 - t0;
		t_run += t2 - t1;
		n = wlb_graph_tasks(g);
		if (rep == 0)
			ms = wlb_graph_makespan(g);
		else if (wlb_graph_makespan(g) != ms) {
			fprintf(stderr, "bench_des: makespan changed between runs\n");
			return 1;
		}
	}
	printf("des: %.0f tasks/s (%zu tasks x %d graphs, build + run; makespan %.2f us)\n",
	       (double)n * REPS / (t_build + t_run), n, REPS, ms);
	printf("des: run alone %.0f events/s, build alone %.0f tasks/s\n",
	       (double)n * REPS / t_run, (double)n * REPS / t_build);
	wlb_graph_destroy(g);
	free(fsend);
	free(bsend);
	return 0;
}
