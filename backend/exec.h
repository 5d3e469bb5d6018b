/* exec.h — one rank of wlb-run: the iterations of a plan on a device and a
 * transport, in the schedule's order, with the real work of a training
 * step (DESIGN.md §1, issue: real backend).
 *
 * Ranks are mapped as DESIGN.md §3 says: TP innermost, then CP, then DP,
 * then PP (world rank = tp_i + tp (cp_i + cp (dp_i + dp pp_i))).  Each rank
 * runs its stage's chunks for its replica's micro-batches in the order of
 * wlb_sched_order (1F1B or interleaved), per layer: the QKV GEMM after a TP
 * all-gather (sequence parallelism), a CP all-gather of K and V, varlen
 * causal attention on the rank's pieces, the output projection and a TP
 * reduce-scatter, the SwiGLU MLP likewise; activations and their gradients
 * go between stages with each micro-batch's own size; the backward runs the
 * same in reverse (dK, dV reduce-scattered over CP); the iteration ends
 * with the gradient all-reduce over the stage's DP x CP ranks and an SGD
 * step.  The first stage's
 * input is random (no embedding lookup); the last stage adds the logits
 * GEMM and the gradient of the loss 1/2 |logits|^2 / tokens, a synthetic
 * loss with the real loss's shapes. */
#ifndef WLB_EXEC_H
#define WLB_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "dev.h"
#include "plan.h"
#include "trace.h"

struct wlb_exec_opts {
	int check;               /* --check: sharded attention and piece lists first */
	uint64_t seed;
	int quiet;               /* no progress on stderr (rank 0 shows it, progress.h) */
};

/* What each rank measured, gathered on every rank.  Per iteration and rank
 * a record of WLB_EXEC_HEAD doubles (wall ms, peak bytes, weight and
 * gradient bytes, DP gradient sync ms) then, per pipeline slot (position k, chunk c) at k * vpp + c, the
 * forward's start, end, attention and communication ms, then the
 * backward's; start and end are from the iteration's start on the device's
 * clock. */
#define WLB_EXEC_HEAD 4
#define WLB_EXEC_SLOT 8

struct wlb_exec_result {
	int world, m, vpp;
	size_t n_iters, rec_len;
	double *rec;             /* [iter][rank][rec_len] */
	/* --check: worst relative error over every rank and micro-batch of the
	 * sharded attention against unsharded, for O, dQ, dK, dV; micro-batch
	 * layouts checked */
	double check_err[4];
	long check_layouts;
	double tolerance;
	/* --check: signature of the last iteration's gradients (check_step.c),
	 * the same for every parallel configuration of the same documents */
	double signature;
};

static inline const double *wlb_exec_rec(const struct wlb_exec_result *x, size_t iter, int rank)
{
	return x->rec + (iter * (size_t)x->world + (size_t)rank) * x->rec_len;
}

int wlb_exec_rank(const struct wlb_trace *t, const struct wlb_plan *plan, struct wlb_dev *dev,
		  struct wlb_comm *world, const struct wlb_exec_opts *o, struct wlb_exec_result *out,
		  struct wlb_error *err);
void wlb_exec_result_free(struct wlb_exec_result *x);

#endif
