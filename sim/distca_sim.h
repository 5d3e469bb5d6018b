/* distca_sim.h — core attention disaggregation (parallel.cp_algo "distca")
 * applied to one iteration's micro-batches (the model is in distca.h).
 *
 * The pool.  1F1B runs the DP replicas' micro-batches at the same pipeline
 * position side by side, so a layer's attention pools the tasks of those dp
 * micro-batches over the dp x cp ranks of the stage (one server per rank
 * position of a TP group: each TP rank serves its own heads).  Stages idle
 * in the pipeline's warm-up and drain lend their ranks: at forward slot
 * t = k + s (micro-batch k on stage s; backward: j + s with j counted from
 * the last micro-batch) pp - 1 - t stages have nothing to do, and their
 * ranks are shared evenly among the t + 1 busy ones.  A micro-batch's time
 * is the mean over its stages (the schedule takes one time per micro-batch;
 * interleaved schedules are treated as 1F1B here).
 *
 * One layer of a pooled position.  Each micro-batch is cut into two
 * half-batches at the tile boundary that splits its work most evenly (its
 * GEMMs in proportion to tokens, its attention to causal pairs), so that
 * each half has as much to hide the other's transfer; a document across the cut
 * becomes two query ranges (the second half attends to the first's keys,
 * computed first).  Each half's tasks are scheduled on the pool
 * (wlb_ca_schedule, costs from the cost DB's attention pieces, backward
 * scheduled apart from forward).  Tokens live where the base layout puts
 * them: rank replica x cp + k holds the k-th contiguous share of its
 * micro-batch (borrowed servers hold nothing).  What a server needs and does
 * not hold crosses the all-to-all: per task its query rows (forward Q out,
 * O and the LSE back; backward Q, O, dO and the LSE out, dQ back), per
 * document and server the longest key prefix its tasks need, once (K and V
 * out; backward dK and dV back as well); bf16, the LSE fp32.  An all-to-all's
 * time is the cost DB's all_to_all at the nccl-tests size of its busiest
 * rank (max of bytes sent and received, x P / (P - 1)).  The layer's compute
 * is the group's slowest rank's GEMMs and element-wise work (the replicas
 * run in lockstep through the all-to-alls) plus each half's busiest server;
 * its exposed communication the TP collectives plus the ping-pong's
 * (wlb_ca_pingpong_exposed).  No CP all-gather: K and V travel with the
 * tasks.  Activation memory stays that of the base layout (in-place
 * attention servers). */
#ifndef WLB_DISTCA_SIM_H
#define WLB_DISTCA_SIM_H

#include "distca.h"
#include "pack.h"
#include "stage.h"

struct wlb_ca_range;

struct wlb_ca_ctx {
	struct wlb_ca_sched sched;
	struct wlb_ca_range *ranges;     /* the group's query ranges, both halves */
	size_t n_ranges, cap_ranges;
	double *out_b, *in_b;            /* bytes per server of one all-to-all */
	size_t cap_out, cap_in;
};

void wlb_ca_ctx_free(struct wlb_ca_ctx *x);

/* Replaces the attention and CP parts of mbc[] (packed order) by their
 * disaggregated times.  perm maps pipeline slot (replica x m + position) to
 * packed index.  imb[b] gets micro-batch b's attention imbalance (busiest
 * server over the mean of the servers used) and exposed_us[b] one layer's
 * exposed all-to-all time, forward plus backward.  0 or WLB_ENOMEM. */
int wlb_ca_apply(struct wlb_ca_ctx *x, const struct wlb_stage_plan *sp, const struct wlb_packed *p,
		 const uint32_t *perm, struct wlb_mb_cost *mbc, double *imb, double *exposed_us);

#endif
