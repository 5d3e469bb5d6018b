/* model.h — transformer arithmetic: parameters, FLOPs, bytes moved by each
 * parallel dimension's collectives, and memory per rank.
 *
 * Conventions (DESIGN.md §3): bf16 weights and activations (2 bytes), one
 * "layer" is attention + MLP, a "token" count is tokens of one micro-batch as a
 * rank sees them.  FLOPs count a multiply-add as 2. */
#ifndef WLB_MODEL_H
#define WLB_MODEL_H

#include <stdint.h>

#include "err.h"

enum wlb_mlp { WLB_MLP_SWIGLU, WLB_MLP_GELU };

/* parallel.recompute (DESIGN.md §5): selective recomputes the attention core
 * in the backward (Megatron's selective recompute), full each whole layer
 * from its input. */
enum wlb_recompute { WLB_RECOMPUTE_NONE, WLB_RECOMPUTE_SELECTIVE, WLB_RECOMPUTE_FULL };
/* "none", "selective", "full" (as parallel.recompute spells them; "?" out
 * of range), and back: the mode, or -1 for any other name. */
const char *wlb_recompute_name(int recompute);
int wlb_recompute_parse(const char *name);

/* model.attention: how the attention core runs.  flash: one fused kernel
 * over the causal pieces (FlashAttention, cuDNN; the default).  unfused:
 * Megatron-LM's path before FlashAttention (2021): batched GEMMs over the
 * whole s x s score matrix of each sequence, with scale-mask-softmax and
 * dropout as memory-bound passes between them. */
enum wlb_attention { WLB_ATTN_FLASH, WLB_ATTN_UNFUSED };

/* Most pipeline stages (parallel.pp): the 1T-parameter runs use 64. */
#define WLB_MAX_PP 128
/* Sizes no real run reaches, refused so that a typo cannot run for hours:
 * micro-batches per DP replica (the largest published, PTD-P on 560 GPUs,
 * uses 1,120) and GPUs (tp x cp x pp x dp). */
#define WLB_MAX_MICROBATCHES 16384
#define WLB_MAX_GPUS 1048576
/* Model sizes, each some ten times the largest published (Megatron's 1T:
 * 128 layers, hidden 25,600, 160 heads; PaLM: FFN 73,728; Gemma: head_dim
 * 256, vocabulary 256K), so that a typo's arithmetic cannot overflow or run
 * for hours. */
#define WLB_MAX_LAYERS 1024
#define WLB_MAX_HIDDEN 262144
#define WLB_MAX_FFN_HIDDEN 1048576
#define WLB_MAX_HEADS 4096      /* model.heads and model.kv_heads */
#define WLB_MAX_HEAD_DIM 2048
#define WLB_MAX_VOCAB 16777216

struct wlb_model {
	char name[32];
	int layers;
	int hidden;
	int ffn_hidden;
	int heads;
	int kv_heads;
	int head_dim;
	int vocab;
	enum wlb_mlp mlp;
	int tied_embeddings;  /* the output projection is the input embedding */
	int attention;        /* enum wlb_attention */
	double dropout;       /* hidden and attention dropout probability (Megatron's
			       * --hidden-dropout / --attention-dropout), 0 = none */
};

struct wlb_parallel {
	int tp, cp, pp, dp;
	int vpp;              /* virtual stages per pipeline rank (1 = plain 1F1B) */
	int microbatches;     /* per DP replica */
	char schedule[16];    /* "1f1b" or "interleaved" */
	char cp_algo[16];     /* "allgather" (Llama 3 / WLB-LLM), "ring", or "distca": core
			       * attention disaggregated over the stage's dp x cp ranks
			       * (distca_sim.h) */
	int sequence_parallel;/* with TP; on by default */
	int zero;             /* 0-3: what the DP x CP ranks holding the same weights
			       * shard (DESIGN.md §5); 3 = FSDP, the default */
	int recompute;        /* enum wlb_recompute */
	int tp_comm_overlap;  /* TP all-gather / reduce-scatter hidden behind the GEMMs */
	int overlap_grad_reduce;  /* DP gradient reduction behind the backward (default on) */
	int overlap_param_gather; /* DP parameter all-gather behind the forward (default on) */
	int micro_batch_size; /* sequences of `context` tokens per micro-batch (default 1) */
	int n_pp_layers;      /* 0: the default split (wlb_stage_layers) */
	int pp_layers[WLB_MAX_PP]; /* layers per pipeline stage, summing to model.layers */
};

/* Finds a preset by name (llama2-7b, llama3-8b, llama2-70b, llama3-70b,
 * llama3-405b, wlb-550m, wlb-30b).  Returns 0, or WLB_EINVAL naming the presets. */
int wlb_model_preset(const char *name, struct wlb_model *out, struct wlb_error *err);
/* The preset names, NULL-terminated, for --help and error messages. */
const char *const *wlb_model_preset_names(void);

/* Checks positive sizes and that heads*head_dim is consistent. */
int wlb_model_check(const struct wlb_model *m, struct wlb_error *err);
/* Checks the parallel config against the model: tp divides heads and relates
 * to kv_heads, every stage has at least vpp layers (pp_layers, when given,
 * has pp entries summing to the layers), every size >= 1. */
int wlb_parallel_check(const struct wlb_parallel *p, const struct wlb_model *m,
		       struct wlb_error *err);

/* Layers of pipeline stage s: pp_layers[s], or without it an even split
 * with the remainder on the middle stages (the first and last carry the
 * embedding and the loss, so they get the lighter share). */
int wlb_stage_layers(const struct wlb_parallel *p, int layers, int s);
/* Layers of chunk c (0..vpp-1) of stage s: its layers split as evenly as
 * possible, the earlier chunks taking the remainder. */
int wlb_chunk_layers(const struct wlb_parallel *p, int layers, int s, int c);

/* Parameters of the linear layers of one transformer layer (QKV, output
 * projection, MLP); what `lin` is made of. */
double wlb_model_linear_params_per_layer(const struct wlb_model *m);
/* All parameters of one layer (linear + two RMSNorm weight vectors). */
double wlb_model_params_per_layer(const struct wlb_model *m);
/* Input embedding + output projection (untied) + final norm. */
double wlb_model_embedding_params(const struct wlb_model *m);
double wlb_model_params_total(const struct wlb_model *m);

/* Forward FLOPs per token per layer of the linear layers: 2 x linear params. */
double wlb_model_lin_flops_per_token(const struct wlb_model *m);
/* Forward attention FLOPs per (query, key) pair per layer: 4 x head_dim x heads. */
double wlb_model_att_flops_per_pair(const struct wlb_model *m);

/* Causal (query, key) pairs of a piece of q_len queries at the end of a window
 * of kv_len keys: q(kv-q) + q(q+1)/2.  A whole document of length L is (L, L). */
static inline double wlb_pairs(double q_len, double kv_len)
{
	return q_len * (kv_len - q_len) + q_len * (q_len + 1.0) / 2.0;
}

/* Backward FLOPs relative to forward: 2x for GEMMs, 2.5x for attention. */
#define WLB_BWD_GEMM_FACTOR 2.0
#define WLB_BWD_ATTN_FACTOR 2.5

/* Bytes moved by the collectives of one layer for one micro-batch on one rank,
 * as buffer sizes (the total tensor an all-gather produces / a reduce-scatter
 * consumes, nccl-tests' "size"), forward direction; backward moves the same. */
struct wlb_layer_comm {
	double tp_allgather_bytes;      /* per call; 2 calls per layer with SP */
	double tp_reducescatter_bytes;  /* per call; 2 calls per layer with SP */
	double tp_allreduce_bytes;      /* per call; 2 calls per layer without SP */
	double cp_kv_allgather_bytes;   /* K and V of the whole CP group */
	double cp_dkv_reducescatter_bytes; /* backward, same size */
	double pp_activation_bytes;     /* one send between stages (per TP rank) */
};

/* tokens_cp_rank: tokens of the micro-batch held by one CP rank (before TP/SP). */
void wlb_model_layer_comm(const struct wlb_model *m, const struct wlb_parallel *p,
			  double tokens_cp_rank, struct wlb_layer_comm *out);

/* Parameters one TP rank of a pipeline stage holds: its layers, the input
 * embedding on the first stage, the output projection (a copy of the
 * embedding when tied) and the final norm on the last. */
double wlb_model_stage_params(const struct wlb_model *m, const struct wlb_parallel *p,
			      int stage_layers, int first_stage, int last_stage);

/* The DP x CP collectives over `params` parameters of one rank, as buffer
 * sizes: gradients in fp32 (Megatron's default with bf16), all-reduced with
 * zero 0 and reduce-scattered otherwise; parameters in bf16, all-gathered
 * with zero >= 1 (after the optimizer step; FSDP per layer before each
 * forward and backward).  Zero when dp x cp is 1. */
struct wlb_dp_comm {
	double grad_bytes;
	double param_bytes;
};
void wlb_model_dp_comm(const struct wlb_parallel *p, double params,
		       struct wlb_dp_comm *out);

/* Memory per rank, bytes.  Mixed precision with Adam: bf16 weights (2 B),
 * fp32 gradients (4 B), fp32 master weights + two moments (12 B), sharded
 * over dp x cp (the ranks holding the same weights) by the ZeRO stage:
 * 1 the optimizer state (Megatron's distributed optimizer), 2 and the
 * gradients, 3 and the weights (FSDP, which also holds the layer it runs and
 * the one it prefetches whole). */
struct wlb_mem {
	double params_bytes;
	double grads_bytes;
	double optim_bytes;
	double act_bytes_per_token_layer; /* stored for backward, per TP rank */
};
void wlb_model_memory(const struct wlb_model *m, const struct wlb_parallel *p,
		      int stage_layers, int first_stage, int last_stage,
		      struct wlb_mem *out);

#endif
