/* schedule.h — pipeline schedules as task-graph generators (DESIGN.md §3).
 *
 * Workers are (DP replica, pipeline stage) pairs, each with a compute
 * stream, a send stream (activations forward, their gradients backward) and
 * a DP stream.  1F1B and interleaved 1F1B (vpp > 1) follow Megatron-LM's
 * order of forward and backward steps; micro-batches may differ in length,
 * so every step has its micro-batch's own time and every send its own size.
 * Each stage's gradient synchronisation waits for that stage of every
 * replica.  Nothing here is a formula: bubbles and imbalance come out of
 * the graph. */
#ifndef WLB_SCHEDULE_H
#define WLB_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "des.h"
#include "err.h"

/* One micro-batch as the schedule sees it (times in microseconds). */
struct wlb_sched_mb {
	double fwd_us, bwd_us;               /* one layer (one chunk without chunk_layers) */
	double first_fwd_us, first_bwd_us;   /* extra on the first chunk of stage 0 */
	double last_fwd_us, last_bwd_us;     /* extra on the last chunk of the last stage */
	double send_us;                      /* to the next stage, either direction */
};

/* FSDP (zero 3): every layer's parameters all-gathered before its forward
 * and again before its backward, its gradients reduce-scattered after it;
 * the embedding's on the first chunk of stage 0, the output layer's on the
 * last chunk of the last stage.  Overlapped collectives run behind the
 * previous layer's compute (prefetched one layer ahead), so a step lasts
 * the longer of its compute and them; the others add up. */
struct wlb_sched_fsdp {
	double layer_ag_us, layer_rs_us;     /* one layer's all-gather, reduce-scatter */
	double first_ag_us, first_rs_us;     /* the embedding's */
	double last_ag_us, last_rs_us;       /* the output layer's */
	int overlap_ag, overlap_rs;          /* overlap_param_gather, overlap_grad_reduce */
};

struct wlb_sched_in {
	int pp, vpp, dp, m;                  /* m micro-batches per replica */
	const struct wlb_sched_mb *mb;       /* replica d's i-th micro-batch: mb[d * m + i] */
	const int *chunk_layers;             /* layers of chunk c of stage s at [s * vpp + c];
					      * NULL: mb times are whole chunks */
	const struct wlb_sched_fsdp *fsdp;   /* NULL: none */
	const double *dp_sync_us;            /* per stage, exposed gradient sync; NULL = none */
};

enum wlb_step_kind { WLB_STEP_FWD, WLB_STEP_BWD, WLB_STEP_SEND_FWD, WLB_STEP_SEND_BWD,
		     WLB_STEP_DP_SYNC, WLB_STEP_BARRIER };

/* What a task of the graph is (its tag indexes an array of these). */
struct wlb_step {
	uint8_t kind;
	uint16_t stage, chunk;
	uint32_t replica, mb;
};

/* The order of compute steps of stage s: 2 x m x vpp steps, forward and
 * backward (kind WLB_STEP_FWD / BWD, mb, chunk). */
size_t wlb_sched_order(int pp, int vpp, int m, int s, struct wlb_step *out);

struct wlb_sched;
int wlb_sched_create(struct wlb_sched **out);
void wlb_sched_destroy(struct wlb_sched *s);

/* Builds the iteration's graph into g (reset here) and runs it. */
int wlb_sched_run(struct wlb_sched *s, struct wlb_graph *g, const struct wlb_sched_in *in,
		  struct wlb_error *err);
/* The step behind a task's tag, after wlb_sched_run. */
const struct wlb_step *wlb_sched_step(const struct wlb_sched *s, uint32_t tag);

/* Streams of worker (d, s): compute, send, dp. */
static inline uint32_t wlb_sched_stream(int pp, int d, int s, int k)
{
	return (uint32_t)(3 * (d * pp + s) + k);
}

#endif
