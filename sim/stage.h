/* stage.h — what one micro-batch costs on one pipeline stage: forward and
 * backward time of a chunk of layers from the cost model, per CP rank folded
 * into the group's slowest member per layer (DESIGN.md §3).
 *
 * Per layer and CP rank: the GEMMs of QKV, output projection and MLP on the
 * rank's tokens (sequence parallel: the all-gathered sequence of the CP
 * rank, widths divided by TP), varlen attention on the rank's pieces, TP
 * all-gather / reduce-scatter (or all-reduce without sequence parallelism),
 * the CP all-gather of K and V (reduce-scatter of dK, dV backward) and
 * element-wise work; TP collectives overlap the GEMMs with tp_comm_overlap
 * (the rest is exposed), CP collectives are exposed.  With cp_algo "ring"
 * attention runs in cp steps instead, rank r's queries against the keys of
 * rank (r - s) mod cp at step s while the next block travels (K and V
 * forward; K, V, dK and dV backward, then dK and dV home): a step takes its
 * slowest rank's share of attention or the transfer, whichever is longer.
 * Backward GEMMs are twice the forward; full recompute adds the layer's
 * forward to its backward, selective recompute its attention forward.
 * Times are per layer: stages may hold different numbers of layers. */
#ifndef WLB_STAGE_H
#define WLB_STAGE_H

#include <stdint.h>

#include "cost.h"
#include "model.h"
#include "shard.h"

/* Everything that does not change between micro-batches. */
struct wlb_stage_plan {
	struct wlb_model model;
	struct wlb_parallel par;
	struct wlb_cost *cost;          /* used, not owned */
	int gpus_per_node;
	int64_t context;                /* sequence length (unfused attention's score rows) */
	int tp_nodes, cp_nodes, dp_nodes, pp_inter;
	int heads, kv_heads;            /* per rank, after TP */
	int64_t n_qkv, n_up, k_proj, k_down, n_logits; /* GEMM widths per rank */
	double act_bytes_token_layer;   /* stored for backward, per rank */
	double elem_bytes_token;        /* element-wise bytes per token and layer, forward */
	/* FSDP (zero 3) over the dp x cp ranks: one layer's parameter
	 * all-gather and gradient reduce-scatter, and the embedding's and the
	 * output layer's (each on its stage) */
	double fsdp_layer_ag_us, fsdp_layer_rs_us;
	double fsdp_first_ag_us, fsdp_first_rs_us, fsdp_last_ag_us, fsdp_last_rs_us;
};

/* Times of one micro-batch, per layer, split so the simulator can build
 * counterfactuals (CP balanced, no communication).  A chunk of L layers
 * takes L times these (wlb_chunk_layers). */
struct wlb_mb_cost {
	uint32_t tokens_rank;           /* per CP rank, padded */
	double fwd_max_us, fwd_mean_us; /* one layer's compute, attention at the slowest / mean CP rank */
	double bwd_max_us, bwd_mean_us; /* with what recompute repeats */
	double fwd_comm_us, bwd_comm_us;/* one layer's TP + CP communication, exposed */
	double first_fwd_us, first_bwd_us; /* embedding: the first chunk of stage 0 only */
	double last_fwd_us, last_bwd_us;   /* logits + loss: the last chunk of the last stage */
	double pp_send_us;              /* activations (or their gradients) to the next stage */
	double act_bytes;               /* activations one layer keeps for backward, per rank */
	double attn_fwd_rank_max_us, attn_fwd_rank_mean_us; /* one layer, over CP ranks */
	double rest_fwd_us, rest_bwd_us; /* one layer's GEMMs and element-wise work (no attention) */
	double tp_fwd_us, tp_bwd_us;    /* one layer's TP communication, exposed */
	double flops;                   /* model FLOPs of the whole micro-batch (fwd + bwd) */
};

int wlb_stage_plan_init(struct wlb_stage_plan *sp, const struct wlb_model *m,
			const struct wlb_parallel *p, int gpus_per_node, struct wlb_cost *cost,
			struct wlb_error *err);

/* Most CP ranks of a ring (its per-step shares live on the stack). */
#define WLB_RING_MAX_CP 256

/* The micro-batch sharded as sh (its tokens and per-rank pieces; with
 * sh->ring, its pairs between ranks in sh->src). */
void wlb_stage_mb_cost(const struct wlb_stage_plan *sp, const struct wlb_sharding *sh,
		       uint64_t tokens, double pairs, struct wlb_mb_cost *out);

/* Parameters, gradients and optimizer state per rank of stage s. */
double wlb_stage_state_bytes(const struct wlb_stage_plan *sp, int s);

/* What stage s does between its last backward and the next iteration's
 * first forward, exposed: the gradient all-reduce (zero 0) or
 * reduce-scatter (zero 1, 2) over dp x cp, behind the last micro-batch's
 * backward (bwd_window_us) with overlap_grad_reduce, never less than its
 * last layer's bucket; the optimizer step on the rank's shard; the
 * parameter all-gather (zero 1, 2), behind the next first forward
 * (fwd_window_us) with overlap_param_gather.  parts gets (comm, step). */
double wlb_stage_dp_sync_us(const struct wlb_stage_plan *sp, int s, double bwd_window_us,
			    double fwd_window_us, double parts[2]);

/* The share of an overlapped TP collective's time that the GEMMs beside it
 * hide.  TransformerEngine's userbuffer overlap runs the collective's
 * kernels on SMs and HBM bandwidth the GEMM would use, and splits the GEMM
 * into smaller, less efficient chunks, so the overlap wins only part of the
 * collective's time.  Calibrated on the H100 runs of the published set
 * (traces/published/, NeMo 24.09 and Megatron-Core 0.8 with
 * --tp-comm-overlap): full hiding leaves every TP > 1 row 10-20 % short,
 * none leaves them 5-10 % long. */
#define WLB_TP_OVERLAP_HIDDEN 0.5

/* Fused attention with dropout (model.dropout > 0) draws a Philox random
 * number per score, forward and again backward: it runs at these shares of
 * its rate without (cuDNN's fused attention, bf16, p = 0.125: forward
 * 75-85 %, backward 60-70 % of the no-dropout TFLOP/s, as benchmarked in
 * Dao-AILab/flash-attention#2597). */
#define WLB_DROPOUT_ATTN_FWD_RATE 0.80
#define WLB_DROPOUT_ATTN_BWD_RATE 0.65

/* Bytes the optimizer step streams per parameter of its shard: Adam reads
 * the fp32 master weight, both moments and the fp32 gradient and writes the
 * first three back and the bf16 weight. */
#define WLB_OPTIM_BYTES_PER_PARAM 30.0

#endif
