/* model.c — model presets, config checks, and the transformer arithmetic of
 * model.h: parameters, FLOPs, collective sizes and memory per rank. */
#include "model.h"

#include <stdio.h>
#include <string.h>

#define BF16 2.0  /* bytes per bf16 element */
/* Gradients are accumulated and reduced in fp32: Megatron-LM's default for
 * bf16 (accumulate_allreduce_grads_in_fp32) and NeMo's (grad_reduce_in_fp32) */
#define GRAD_BYTES 4.0

struct preset {
	const char *name;
	int layers, hidden, ffn, heads, kv_heads, head_dim, vocab;
	enum wlb_mlp mlp;
};

static const struct preset presets[] = {
	{"llama2-7b",   32,  4096, 11008,  32, 32, 128,  32000, WLB_MLP_SWIGLU},
	{"llama3-8b",   32,  4096, 14336,  32,  8, 128, 128256, WLB_MLP_SWIGLU},
	{"llama2-70b",  80,  8192, 28672,  64,  8, 128,  32000, WLB_MLP_SWIGLU},
	{"llama3-70b",  80,  8192, 28672,  64,  8, 128, 128256, WLB_MLP_SWIGLU},
	{"llama3-405b", 126, 16384, 53248, 128,  8, 128, 128256, WLB_MLP_SWIGLU},
	/* The WLB-LLM paper's 550M and 30B models: their dimensions are not
	 * published, so these Llama-like shapes are our choice.  They give
	 * 0.551 B and 30.16 B parameters (untied embeddings), and fit the
	 * paper's configurations (550M: tp 2, pp 4; 30B: tp 8, pp 4). */
	{"wlb-550m",    16,  1536,  4096,  12, 12, 128,  32000, WLB_MLP_SWIGLU},
	{"wlb-30b",     56,  7168, 19200,  56,  8, 128,  32000, WLB_MLP_SWIGLU},
};
#define NPRESETS (sizeof presets / sizeof presets[0])

static const char *const preset_names[] = {
	"llama2-7b", "llama3-8b", "llama2-70b", "llama3-70b", "llama3-405b",
	"wlb-550m", "wlb-30b", NULL,
};

const char *const *wlb_model_preset_names(void)
{
	return preset_names;
}

int wlb_model_preset(const char *name, struct wlb_model *out, struct wlb_error *err)
{
	char list[256] = "";
	size_t n = 0;

	for (size_t i = 0; name && i < NPRESETS; i++) {
		const struct preset *p = &presets[i];
		if (strcmp(name, p->name))
			continue;
		memset(out, 0, sizeof *out);
		snprintf(out->name, sizeof out->name, "%s", p->name);
		out->layers = p->layers;
		out->hidden = p->hidden;
		out->ffn_hidden = p->ffn;
		out->heads = p->heads;
		out->kv_heads = p->kv_heads;
		out->head_dim = p->head_dim;
		out->vocab = p->vocab;
		out->mlp = p->mlp;
		return 0;
	}
	for (size_t i = 0; i < NPRESETS; i++)
		n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0,
				      "%s%s", i ? ", " : "", presets[i].name);
	return wlb_error_set(err, WLB_EINVAL,
			     "unknown model preset \"%s\" (expected one of: %s)",
			     name ? name : "(null)", list);
}

static const char *const recompute_names[] = {"none", "selective", "full"};

const char *wlb_recompute_name(int recompute)
{
	return recompute >= WLB_RECOMPUTE_NONE && recompute <= WLB_RECOMPUTE_FULL ?
		recompute_names[recompute] : "?";
}

int wlb_recompute_parse(const char *name)
{
	for (int i = WLB_RECOMPUTE_NONE; name && i <= WLB_RECOMPUTE_FULL; i++)
		if (!strcmp(name, recompute_names[i]))
			return i;
	return -1;
}

int wlb_model_check(const struct wlb_model *m, struct wlb_error *err)
{
	const struct { const char *key; int v, max; } sizes[] = {
		{"layers", m->layers, WLB_MAX_LAYERS}, {"hidden", m->hidden, WLB_MAX_HIDDEN},
		{"ffn_hidden", m->ffn_hidden, WLB_MAX_FFN_HIDDEN}, {"heads", m->heads, WLB_MAX_HEADS},
		{"kv_heads", m->kv_heads, WLB_MAX_HEADS}, {"head_dim", m->head_dim, WLB_MAX_HEAD_DIM},
		{"vocab", m->vocab, WLB_MAX_VOCAB},
	};

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		if (sizes[i].v < 1)
			return wlb_error_set(err, WLB_EINVAL, "model.%s must be >= 1, got %d",
					     sizes[i].key, sizes[i].v);
		if (sizes[i].v > sizes[i].max)
			return wlb_error_set(err, WLB_ERANGE, "model.%s must be at most %d, got %d",
					     sizes[i].key, sizes[i].max, sizes[i].v);
	}
	if (m->heads % m->kv_heads)
		return wlb_error_set(err, WLB_EINVAL,
				     "model.kv_heads must divide heads (%d), got %d",
				     m->heads, m->kv_heads);
	if (!(m->dropout >= 0 && m->dropout < 1))
		return wlb_error_set(err, WLB_EINVAL, "model.dropout must be in [0, 1), got %g", m->dropout);
	if (m->mlp != WLB_MLP_SWIGLU && m->mlp != WLB_MLP_GELU)
		return wlb_error_set(err, WLB_EINVAL,
				     "model.mlp must be \"swiglu\" or \"gelu\", got %d", (int)m->mlp);
	return 0;
}

int wlb_parallel_check(const struct wlb_parallel *p, const struct wlb_model *m,
		       struct wlb_error *err)
{
	const struct { const char *key; int v; } sizes[] = {
		{"tp", p->tp}, {"cp", p->cp}, {"pp", p->pp}, {"dp", p->dp},
		{"vpp", p->vpp}, {"microbatches", p->microbatches},
	};
	int rc;

	/* The divisibility checks below divide by model sizes. */
	if ((rc = wlb_model_check(m, err)))
		return rc;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		if (sizes[i].v < 1)
			return wlb_error_set(err, WLB_EINVAL, "parallel.%s must be >= 1, got %d",
					     sizes[i].key, sizes[i].v);
	if (m->heads % p->tp)
		return wlb_error_set(err, WLB_EINVAL, "parallel.tp must divide heads (%d), got %d",
				     m->heads, p->tp);
	/* sequence parallelism splits [s, h] activations and the MLP over TP */
	if (m->hidden % p->tp)
		return wlb_error_set(err, WLB_EINVAL, "parallel.tp must divide model.hidden (%d), got %d",
				     m->hidden, p->tp);
	if (m->ffn_hidden % p->tp)
		return wlb_error_set(err, WLB_EINVAL, "parallel.tp must divide model.ffn_hidden (%d), got %d",
				     m->ffn_hidden, p->tp);
	/* tp > kv_heads replicates each KV head over tp / kv_heads ranks. */
	if (m->kv_heads % p->tp && p->tp % m->kv_heads)
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.tp must divide kv_heads (%d) or be a multiple of it, got %d",
				     m->kv_heads, p->tp);
	if (m->attention == WLB_ATTN_UNFUSED && p->cp > 1)
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.cp must be 1 with model.attention \"unfused\" (it has no "
				     "context parallelism), got %d", p->cp);
	if (p->microbatches > WLB_MAX_MICROBATCHES)
		return wlb_error_set(err, WLB_EINVAL, "parallel.microbatches must be at most %d, got %d",
				     WLB_MAX_MICROBATCHES, p->microbatches);
	if ((long long)p->tp * p->cp * p->pp * p->dp > WLB_MAX_GPUS)
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel: tp x cp x pp x dp must be at most %d GPUs, got %lld",
				     WLB_MAX_GPUS, (long long)p->tp * p->cp * p->pp * p->dp);
	if (p->pp > WLB_MAX_PP)
		return wlb_error_set(err, WLB_EINVAL, "parallel.pp must be at most %d, got %d", WLB_MAX_PP,
				     p->pp);
	if (p->zero < 0 || p->zero > 3)
		return wlb_error_set(err, WLB_EINVAL, "parallel.zero must be 0, 1, 2 or 3, got %d", p->zero);
	if (p->recompute < WLB_RECOMPUTE_NONE || p->recompute > WLB_RECOMPUTE_FULL)
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.recompute must be \"none\", \"selective\" or \"full\", got %d",
				     p->recompute);
	if (p->micro_batch_size < 1)
		return wlb_error_set(err, WLB_EINVAL, "parallel.micro_batch_size must be >= 1, got %d",
				     p->micro_batch_size);
	if (p->n_pp_layers) {
		long long sum = 0;
		if (p->n_pp_layers != p->pp)
			return wlb_error_set(err, WLB_EINVAL,
					     "parallel.pp_layers must have parallel.pp (%d) entries, got %d",
					     p->pp, p->n_pp_layers);
		for (int s = 0; s < p->pp; s++) {
			if (p->pp_layers[s] < p->vpp)
				return wlb_error_set(err, WLB_EINVAL,
						     "parallel.pp_layers[%d] must be >= parallel.vpp (%d), got %d",
						     s, p->vpp, p->pp_layers[s]);
			sum += p->pp_layers[s];
		}
		if (sum != m->layers)
			return wlb_error_set(err, WLB_EINVAL,
					     "parallel.pp_layers must sum to model.layers (%d), got %lld",
					     m->layers, sum);
	} else if (m->layers / p->pp < p->vpp) {
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.pp x parallel.vpp (%lld) must be at most model.layers (%d)",
				     (long long)p->pp * p->vpp, m->layers);
	}
	if (strcmp(p->schedule, "1f1b") && strcmp(p->schedule, "interleaved"))
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.schedule must be \"1f1b\" or \"interleaved\", got \"%.16s\"",
				     p->schedule);
	if (p->vpp > 1 && strcmp(p->schedule, "interleaved"))
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.vpp > 1 (%d) requires parallel.schedule \"interleaved\", got \"%.16s\"",
				     p->vpp, p->schedule);
	/* Megatron's interleaved schedule runs micro-batches in groups of pp. */
	if (p->vpp > 1 && p->microbatches % p->pp)
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.microbatches must be a multiple of parallel.pp (%d) when parallel.vpp > 1, got %d",
				     p->pp, p->microbatches);
	if (strcmp(p->cp_algo, "allgather") && strcmp(p->cp_algo, "ring") && strcmp(p->cp_algo, "distca"))
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.cp_algo must be \"allgather\", \"ring\" or \"distca\", got \"%.16s\"",
				     p->cp_algo);
	if (!strcmp(p->cp_algo, "distca") && m->attention == WLB_ATTN_UNFUSED)
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.cp_algo \"distca\" needs fused attention (model.attention "
				     "\"unfused\" has no attention tasks to move)");
	if (!strcmp(p->cp_algo, "ring") && p->cp > 256) /* WLB_RING_MAX_CP (stage.h) */
		return wlb_error_set(err, WLB_EINVAL,
				     "parallel.cp_algo \"ring\" is modelled up to 256 CP ranks, got cp %d",
				     p->cp);
	return 0;
}

int wlb_stage_layers(const struct wlb_parallel *p, int layers, int s)
{
	if (p->n_pp_layers)
		return p->pp_layers[s];
	/* the light stages alternate first, last, second, second to last, ... */
	int light = p->pp - layers % p->pp;
	int is_light = s < (light + 1) / 2 || s >= p->pp - light / 2;
	return layers / p->pp + !is_light;
}

int wlb_chunk_layers(const struct wlb_parallel *p, int layers, int s, int c)
{
	int n = wlb_stage_layers(p, layers, s);
	return n / p->vpp + (c < n % p->vpp);
}

/* Width of the fused QKV projection's output: all query heads plus K and V. */
static double qkv_width(const struct wlb_model *m)
{
	return (double)m->heads * m->head_dim + 2.0 * m->kv_heads * m->head_dim;
}

double wlb_model_linear_params_per_layer(const struct wlb_model *m)
{
	double h = m->hidden, f = m->ffn_hidden;
	double qkv = h * qkv_width(m);
	double proj = (double)m->heads * m->head_dim * h;
	double mlp = (m->mlp == WLB_MLP_SWIGLU ? 3.0 : 2.0) * h * f;
	return qkv + proj + mlp;
}

double wlb_model_params_per_layer(const struct wlb_model *m)
{
	return wlb_model_linear_params_per_layer(m) + 2.0 * m->hidden;
}

double wlb_model_embedding_params(const struct wlb_model *m)
{
	return (m->tied_embeddings ? 1.0 : 2.0) * m->vocab * (double)m->hidden + m->hidden;
}

double wlb_model_params_total(const struct wlb_model *m)
{
	return m->layers * wlb_model_params_per_layer(m) + wlb_model_embedding_params(m);
}

double wlb_model_lin_flops_per_token(const struct wlb_model *m)
{
	return 2.0 * wlb_model_linear_params_per_layer(m);
}

double wlb_model_att_flops_per_pair(const struct wlb_model *m)
{
	/* QK^T and PV, each a multiply-add per head_dim element per head. */
	return 4.0 * m->head_dim * (double)m->heads;
}

void wlb_model_layer_comm(const struct wlb_model *m, const struct wlb_parallel *p,
			  double tokens_cp_rank, struct wlb_layer_comm *out)
{
	double act = tokens_cp_rank * m->hidden * BF16; /* full [s, h] bf16 tensor */

	memset(out, 0, sizeof *out);
	if (p->tp > 1) {
		if (p->sequence_parallel) {
			/* all-gather before QKV / MLP-in, reduce-scatter after
			 * out-proj / MLP-out; buffer = the gathered tensor. */
			out->tp_allgather_bytes = act;
			out->tp_reducescatter_bytes = act;
		} else {
			out->tp_allreduce_bytes = act;
		}
	}
	if (p->cp > 1) {
		/* K and V of the whole CP group for this TP rank's KV heads (at
		 * least one: with tp > kv_heads a KV head is replicated).  The
		 * ring algorithm moves one rank's share, kv_bytes / cp, per step
		 * (stage.c). */
		int kv = p->tp > 0 ? m->kv_heads / p->tp : m->kv_heads;
		if (kv < 1)
			kv = 1;
		double kv_bytes = 2.0 * tokens_cp_rank * p->cp * kv * m->head_dim * BF16;
		out->cp_kv_allgather_bytes = kv_bytes;
		out->cp_dkv_reducescatter_bytes = kv_bytes;
	}
	if (p->pp > 1)
		/* Megatron sends the SP-scattered tensor between stages. */
		out->pp_activation_bytes =
			act / (p->sequence_parallel && p->tp > 1 ? p->tp : 1);
}

double wlb_model_stage_params(const struct wlb_model *m, const struct wlb_parallel *p,
			      int stage_layers, int first_stage, int last_stage)
{
	double vh = (double)m->vocab * m->hidden;
	double n = stage_layers * wlb_model_params_per_layer(m);
	if (first_stage)
		n += vh;
	/* tied: the last stage keeps a copy of the embedding (Megatron), or
	 * with one stage uses the first's */
	if (last_stage)
		n += (m->tied_embeddings && first_stage ? 0 : vh) + m->hidden;
	return n / (p->tp > 1 ? p->tp : 1);
}

void wlb_model_dp_comm(const struct wlb_parallel *p, double params,
		       struct wlb_dp_comm *out)
{
	memset(out, 0, sizeof *out);
	if (p->dp * p->cp <= 1) /* DP x CP ranks hold the same weights */
		return;
	out->grad_bytes = GRAD_BYTES * params;
	out->param_bytes = p->zero >= 1 ? BF16 * params : 0;
}

void wlb_model_memory(const struct wlb_model *m, const struct wlb_parallel *p,
		      int stage_layers, int first_stage, int last_stage,
		      struct wlb_mem *out)
{
	double P = wlb_model_stage_params(m, p, stage_layers, first_stage, last_stage);
	/* the DP x CP ranks that hold the same weights share their state as
	 * far as the ZeRO stage says */
	double dp = p->dp * p->cp > 1 ? p->dp * p->cp : 1, tp = p->tp > 1 ? p->tp : 1;
	double h = m->hidden, f = m->ffn_hidden;

	memset(out, 0, sizeof *out);
	out->params_bytes = BF16 * P / (p->zero >= 3 ? dp : 1);
	out->grads_bytes = GRAD_BYTES * P / (p->zero >= 2 ? dp : 1);
	out->optim_bytes = 12.0 * P / (p->zero >= 1 ? dp : 1);
	if (p->zero >= 3 && dp > 1) /* the gathered layer and the one prefetched */
		out->params_bytes += 2 * BF16 * wlb_model_params_per_layer(m) / tp;

	/* Activations stored for backward per token per layer, bf16, flash
	 * attention (no s^2 scores), everything split over TP:
	 *   2h          norm1 input
	 *   2h          QKV GEMM input (norm1 output)
	 *   2(nh*hd + 2*kv*hd)   q, k, v
	 *   2*nh*hd     attention output (out-proj input)
	 *   4*nh        softmax log-sum-exp, fp32
	 *   2h          norm2 input
	 *   2h          MLP input (norm2 output)
	 *   SwiGLU: 3*2f (gate, up, activation output); GELU: 2*2f (fc1 out, gelu out)
	 * With full recompute only the layer input (2h) is kept.  Selective
	 * recompute keeps the attention core's inputs (q, k, v, which its
	 * checkpoint saves) and its output (the out-projection's input): with
	 * flash attention it drops only the log-sum-exp. */
	if (p->recompute == WLB_RECOMPUTE_FULL) {
		out->act_bytes_per_token_layer = 2.0 * h / tp;
		return;
	}
	double mlp_inner = (m->mlp == WLB_MLP_SWIGLU ? 3.0 : 2.0) * 2.0 * f;
	double a = 2 * h + 2 * h + 2.0 * qkv_width(m) + 2.0 * m->heads * m->head_dim
		+ (p->recompute == WLB_RECOMPUTE_SELECTIVE ? 0 : 4.0 * m->heads) + 2 * h + 2 * h + mlp_inner;
	out->act_bytes_per_token_layer = a / tp;
}
