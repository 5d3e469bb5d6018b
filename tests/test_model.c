/* test_model.c — presets, checks and the arithmetic of sim/model.c, against
 * figures worked out by hand in the comments. */
#include <string.h>

#include "model.h"
#include "test.h"

/* A small model for hand arithmetic: h 64, f 128, 4 heads of 16, 2 KV heads. */
static struct wlb_model tiny(enum wlb_mlp mlp)
{
	struct wlb_model m = {"tiny", 4, 64, 128, 4, 2, 16, 100, mlp, 0, WLB_ATTN_FLASH, 0};
	return m;
}

static struct wlb_parallel par(int tp, int cp, int pp, int dp)
{
	struct wlb_parallel p = {tp, cp, pp, dp, 1, 4, "1f1b", "allgather", 1, 0, 0, 0, 1, 1, 1, 0, {0}};
	return p;
}

static void presets(void)
{
	struct wlb_model m;
	struct wlb_error e = {0, ""};
	const char *const *names = wlb_model_preset_names();
	int n = 0;

	for (; names[n]; n++) {
		CHECK_EQ(wlb_model_preset(names[n], &m, &e), 0);
		CHECK(!strcmp(m.name, names[n]));
		CHECK_EQ(wlb_model_check(&m, &e), 0);
	}
	CHECK_EQ(n, 7);

	CHECK_EQ(wlb_model_preset("llama3-405b", &m, &e), 0);
	CHECK_EQ(m.layers, 126);
	CHECK_EQ(m.hidden, 16384);
	CHECK_EQ(m.ffn_hidden, 53248);
	CHECK_EQ(m.heads, 128);
	CHECK_EQ(m.kv_heads, 8);
	CHECK_EQ(m.head_dim, 128);
	CHECK_EQ(m.vocab, 128256);
	CHECK_EQ(m.mlp, WLB_MLP_SWIGLU);

	CHECK_EQ(wlb_model_preset("llama-7b", &m, &e), WLB_EINVAL);
	CHECK_EQ(e.code, WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "unknown model preset \"llama-7b\"");
	CHECK_STR_HAS(e.msg, "(expected one of: llama2-7b, llama3-8b, llama2-70b, "
		      "llama3-70b, llama3-405b, wlb-550m, wlb-30b)");
	CHECK_EQ(wlb_model_preset(NULL, &m, &e), WLB_EINVAL);
}

static void params(void)
{
	struct wlb_model m;
	struct wlb_error e;

	/* llama2-7b: linear = 4*4096^2 (MHA: QKV 3h^2 + proj h^2) = 67,108,864
	 * + 3*4096*11008 = 135,266,304 -> 202,375,168; + 2*4096 = 202,383,360
	 * per layer; x32 = 6,476,267,520; + 2*32000*4096 + 4096 = 262,148,096
	 * -> 6,738,415,616 (the published figure). */
	wlb_model_preset("llama2-7b", &m, &e);
	CHECK_NEAR(wlb_model_linear_params_per_layer(&m), 202375168.0, 0);
	CHECK_NEAR(wlb_model_params_per_layer(&m), 202383360.0, 0);
	CHECK_NEAR(wlb_model_embedding_params(&m), 262148096.0, 0);
	CHECK_NEAR(wlb_model_params_total(&m), 6738415616.0, 0);
	/* lin = 2 x 202,375,168; att = 4 * 128 * 32 */
	CHECK_NEAR(wlb_model_lin_flops_per_token(&m), 404750336.0, 0);
	CHECK_NEAR(wlb_model_att_flops_per_pair(&m), 16384.0, 0);

	/* llama3-8b: QKV 4096*(4096+2*1024) = 25,165,824, proj 16,777,216,
	 * MLP 3*4096*14336 = 176,160,768, norms 8192 -> 218,112,000 per layer;
	 * x32 = 6,979,584,000 + 2*128256*4096 + 4096 = 1,050,677,248
	 * -> 8,030,261,248 (published). */
	wlb_model_preset("llama3-8b", &m, &e);
	CHECK_NEAR(wlb_model_params_per_layer(&m), 218112000.0, 0);
	CHECK_NEAR(wlb_model_params_total(&m), 8030261248.0, 0);

	/* llama2-70b: QKV 8192*10240 = 83,886,080, proj 67,108,864, MLP
	 * 3*8192*28672 = 704,643,072, norms 16384 -> 855,654,400; x80 =
	 * 68,452,352,000 + 2*32000*8192 + 8192 = 524,296,192 -> 68,976,648,192. */
	wlb_model_preset("llama2-70b", &m, &e);
	CHECK_NEAR(wlb_model_params_total(&m), 68976648192.0, 0);
	/* llama3-70b: same layers + 2*128256*8192 + 8192 -> 70,553,706,496. */
	wlb_model_preset("llama3-70b", &m, &e);
	CHECK_NEAR(wlb_model_params_total(&m), 70553706496.0, 0);
	/* llama3-405b: QKV 16384*18432 = 301,989,888, proj 268,435,456, MLP
	 * 3*16384*53248 = 2,617,245,696, norms 32768 -> 3,187,703,808; x126 =
	 * 401,650,679,808 + 2*128256*16384 + 16384 -> 405,853,388,800. */
	wlb_model_preset("llama3-405b", &m, &e);
	CHECK_NEAR(wlb_model_params_total(&m), 405853388800.0, 0);

	/* wlb-550m: QKV 1536*4608 = 7,077,888, proj 2,359,296, MLP
	 * 3*1536*4096 = 18,874,368, norms 3072 -> 28,314,624; x16 =
	 * 453,033,984 + 2*32000*1536 + 1536 -> 551,339,520. */
	wlb_model_preset("wlb-550m", &m, &e);
	CHECK_NEAR(wlb_model_params_total(&m), 551339520.0, 0);
	/* wlb-30b: QKV 7168*9216 = 66,060,288, proj 51,380,224, MLP
	 * 3*7168*19200 = 412,876,800, norms 14336 -> 530,331,648; x56 =
	 * 29,698,572,288 + 2*32000*7168 + 7168 -> 30,157,331,456. */
	wlb_model_preset("wlb-30b", &m, &e);
	CHECK_NEAR(wlb_model_params_total(&m), 30157331456.0, 0);

	/* tiny GELU: QKV 64*(64+64) = 8192, proj 4096, MLP 2*64*128 = 16384
	 * -> 28,672; SwiGLU MLP 24,576 -> 36,864. */
	m = tiny(WLB_MLP_GELU);
	CHECK_NEAR(wlb_model_linear_params_per_layer(&m), 28672.0, 0);
	m = tiny(WLB_MLP_SWIGLU);
	CHECK_NEAR(wlb_model_linear_params_per_layer(&m), 36864.0, 0);
	CHECK_NEAR(wlb_model_params_per_layer(&m), 36992.0, 0);
	/* 4 * 16 * 4 */
	CHECK_NEAR(wlb_model_att_flops_per_pair(&m), 256.0, 0);
}

static void pairs(void)
{
	/* whole document of 4: 1+2+3+4 = 10 */
	CHECK_NEAR(wlb_pairs(4, 4), 10.0, 0);
	CHECK_NEAR(wlb_pairs(1, 1), 1.0, 0);
	/* last 2 queries of a window of 5: query 4 sees 4 keys, query 5 sees 5 */
	CHECK_NEAR(wlb_pairs(2, 5), 9.0, 0);
	/* first half of a 128K doc + second half = the whole doc */
	CHECK_NEAR(wlb_pairs(65536, 65536) + wlb_pairs(65536, 131072),
		   wlb_pairs(131072, 131072), 0);
	/* 131072 * 131073 / 2 */
	CHECK_NEAR(wlb_pairs(131072, 131072), 8590000128.0, 0);
	CHECK_NEAR(wlb_pairs(0, 10), 0.0, 0);
}

static void layer_comm(void)
{
	struct wlb_model m;
	struct wlb_error e;
	struct wlb_layer_comm c;
	struct wlb_parallel p = par(8, 2, 4, 1);

	/* llama2-7b, tp 8 (SP), cp 2, pp 4, 65536 tokens per CP rank:
	 * TP buffer 65536*4096*2 = 536,870,912; CP K+V: 4 KV heads per TP
	 * rank: 2 * 65536 * 2 * 512 * 2 = 268,435,456; PP 536,870,912/8. */
	wlb_model_preset("llama2-7b", &m, &e);
	wlb_model_layer_comm(&m, &p, 65536, &c);
	CHECK_NEAR(c.tp_allgather_bytes, 536870912.0, 0);
	CHECK_NEAR(c.tp_reducescatter_bytes, 536870912.0, 0);
	CHECK_NEAR(c.tp_allreduce_bytes, 0.0, 0);
	CHECK_NEAR(c.cp_kv_allgather_bytes, 268435456.0, 0);
	CHECK_NEAR(c.cp_dkv_reducescatter_bytes, 268435456.0, 0);
	CHECK_NEAR(c.pp_activation_bytes, 67108864.0, 0);

	/* ring moves the same total */
	strcpy(p.cp_algo, "ring");
	wlb_model_layer_comm(&m, &p, 65536, &c);
	CHECK_NEAR(c.cp_kv_allgather_bytes, 268435456.0, 0);

	/* no SP: one all-reduce of the full tensor, PP sends the full tensor */
	p.sequence_parallel = 0;
	wlb_model_layer_comm(&m, &p, 65536, &c);
	CHECK_NEAR(c.tp_allgather_bytes, 0.0, 0);
	CHECK_NEAR(c.tp_reducescatter_bytes, 0.0, 0);
	CHECK_NEAR(c.tp_allreduce_bytes, 536870912.0, 0);
	CHECK_NEAR(c.pp_activation_bytes, 536870912.0, 0);

	/* tiny, 1000 tokens, tp 1 cp 1 pp 1: nothing moves */
	m = tiny(WLB_MLP_SWIGLU);
	p = par(1, 1, 1, 1);
	wlb_model_layer_comm(&m, &p, 1000, &c);
	CHECK_NEAR(c.tp_allgather_bytes + c.tp_reducescatter_bytes + c.tp_allreduce_bytes
		   + c.cp_kv_allgather_bytes + c.cp_dkv_reducescatter_bytes
		   + c.pp_activation_bytes, 0.0, 0);

	/* tiny, tp 1, cp 4, pp 2, 1000 tokens: K+V 2*1000*4*(2*16)*2 = 512,000;
	 * PP 1000*64*2 = 128,000 (tp 1: nothing to scatter). */
	p = par(1, 4, 2, 1);
	wlb_model_layer_comm(&m, &p, 1000, &c);
	CHECK_NEAR(c.tp_allgather_bytes, 0.0, 0);
	CHECK_NEAR(c.cp_kv_allgather_bytes, 512000.0, 0);
	CHECK_NEAR(c.pp_activation_bytes, 128000.0, 0);

	/* tiny, tp 4 > kv_heads 2: one (replicated) KV head per rank:
	 * 2*1000*4*16*2 = 256,000; TP 1000*64*2 = 128,000; PP 128,000/4. */
	p = par(4, 4, 2, 1);
	wlb_model_layer_comm(&m, &p, 1000, &c);
	CHECK_NEAR(c.cp_kv_allgather_bytes, 256000.0, 0);
	CHECK_NEAR(c.tp_allgather_bytes, 128000.0, 0);
	CHECK_NEAR(c.pp_activation_bytes, 32000.0, 0);
}

static void dp_comm_and_memory(void)
{
	struct wlb_model m = tiny(WLB_MLP_SWIGLU);
	struct wlb_parallel p = par(2, 1, 2, 4);
	struct wlb_dp_comm d;
	struct wlb_mem mem;
	struct wlb_error e;

	/* tiny, tp 2, pp 2 (2 layers a stage), dp 4.  First stage: 2*36,992 +
	 * 100*64 = 80,384 -> 40,192 per TP rank.  Last stage: 73,984 + 6,400 +
	 * 64 = 80,448 -> 40,224.  Middle (neither): 73,984 -> 36,992.
	 * Gradients travel in fp32 (4 B), parameters in bf16 (2 B). */
	CHECK_NEAR(wlb_model_stage_params(&m, &p, 2, 1, 0), 40192.0, 0);
	CHECK_NEAR(wlb_model_stage_params(&m, &p, 2, 0, 1), 40224.0, 0);
	CHECK_NEAR(wlb_model_stage_params(&m, &p, 2, 0, 0), 36992.0, 0);
	/* pp 1: one stage holds everything: (4*36,992 + 12,864) / 2 = 80,416;
	 * tied, one embedding matrix less: (147,968 + 6,464) / 2 = 77,216 */
	CHECK_NEAR(wlb_model_stage_params(&m, &p, 4, 1, 1), 80416.0, 0);
	m.tied_embeddings = 1;
	CHECK_NEAR(wlb_model_stage_params(&m, &p, 4, 1, 1), 77216.0, 0);
	/* on its own stage, the last keeps a copy of the tied embedding */
	CHECK_NEAR(wlb_model_stage_params(&m, &p, 2, 0, 1), 40224.0, 0);
	m.tied_embeddings = 0;

	p.zero = 0; /* gradient all-reduce, no parameter gather */
	wlb_model_dp_comm(&p, 40192.0, &d);
	CHECK_NEAR(d.grad_bytes, 160768.0, 0);
	CHECK_NEAR(d.param_bytes, 0.0, 0);
	for (int z = 1; z <= 3; z++) {
		p.zero = z;
		wlb_model_dp_comm(&p, 40192.0, &d);
		CHECK_NEAR(d.grad_bytes, 160768.0, 0);
		CHECK_NEAR(d.param_bytes, 80384.0, 0);
	}
	p.dp = 1;
	wlb_model_dp_comm(&p, 40192.0, &d);
	CHECK_NEAR(d.grad_bytes + d.param_bytes, 0.0, 0);

	/* Memory, first stage, P = 40,192: without FSDP params 2P = 80,384,
	 * grads 4P = 160,768, optimizer 12P/4 = 120,576. */
	p = par(2, 1, 2, 4);
	p.zero = 1;
	wlb_model_memory(&m, &p, 2, 1, 0, &mem);
	CHECK_NEAR(mem.params_bytes, 80384.0, 0);
	CHECK_NEAR(mem.grads_bytes, 160768.0, 0);
	CHECK_NEAR(mem.optim_bytes, 120576.0, 0);
	/* activations: 4 x 2h = 512, qkv 2*(64+64) = 256, attn out 2*64 = 128,
	 * LSE 4*4 = 16, SwiGLU 3*2*128 = 768 -> 1,680 / tp 2 = 840 */
	CHECK_NEAR(mem.act_bytes_per_token_layer, 840.0, 0);

	/* zero 0 shards nothing: optimizer 12P = 482,304 */
	p.zero = 0;
	wlb_model_memory(&m, &p, 2, 1, 0, &mem);
	CHECK_NEAR(mem.optim_bytes, 482304.0, 0);
	CHECK_NEAR(mem.grads_bytes, 160768.0, 0);
	/* zero 2: gradients too, 160,768 / 4 */
	p.zero = 2;
	wlb_model_memory(&m, &p, 2, 1, 0, &mem);
	CHECK_NEAR(mem.grads_bytes, 40192.0, 0);
	CHECK_NEAR(mem.params_bytes, 80384.0, 0);
	/* FSDP: all three over dp 4, plus two whole layers of bf16 weights per
	 * TP rank (the one running and the one prefetched): 2 * 2 * 18,496 */
	p.zero = 3;
	wlb_model_memory(&m, &p, 2, 1, 0, &mem);
	CHECK_NEAR(mem.params_bytes, 20096.0 + 73984.0, 0);
	CHECK_NEAR(mem.grads_bytes, 40192.0, 0);
	CHECK_NEAR(mem.optim_bytes, 120576.0, 0);

	/* selective recompute drops the LSE: 1,680 - 16 = 1,664 / 2 */
	p.recompute = WLB_RECOMPUTE_SELECTIVE;
	wlb_model_memory(&m, &p, 2, 1, 0, &mem);
	CHECK_NEAR(mem.act_bytes_per_token_layer, 832.0, 0);

	/* recompute keeps the layer input: 2*64 / 2 = 64 */
	p.recompute = WLB_RECOMPUTE_FULL;
	wlb_model_memory(&m, &p, 2, 1, 0, &mem);
	CHECK_NEAR(mem.act_bytes_per_token_layer, 64.0, 0);

	/* GELU: MLP 2*2*128 = 512 -> 1,424 / 2 = 712 */
	m = tiny(WLB_MLP_GELU);
	p = par(2, 1, 2, 4);
	wlb_model_memory(&m, &p, 2, 1, 0, &mem);
	CHECK_NEAR(mem.act_bytes_per_token_layer, 712.0, 0);

	/* llama2-7b on one GPU, no TP/DP: P = 6,738,415,616; (2 + 4 + 12)P = 18P bytes;
	 * activations 4*8192 + 2*12288 + 8192 + 128 + 6*11008 = 131,712 */
	wlb_model_preset("llama2-7b", &m, &e);
	p = par(1, 1, 1, 1);
	wlb_model_memory(&m, &p, 32, 1, 1, &mem);
	CHECK_NEAR(mem.params_bytes + mem.grads_bytes + mem.optim_bytes,
		   18.0 * 6738415616.0, 0);
	CHECK_NEAR(mem.act_bytes_per_token_layer, 131712.0, 0);
}

/* Runs wlb_parallel_check on p and checks that it fails naming `want`. */
static void bad_par(const struct wlb_parallel *p, const struct wlb_model *m, const char *want)
{
	struct wlb_error e = {0, ""};
	CHECK_EQ(wlb_parallel_check(p, m, &e), WLB_EINVAL);
	CHECK_EQ(e.code, WLB_EINVAL);
	CHECK_STR_HAS(e.msg, want);
}

static void bad_model(const struct wlb_model *m, const char *want)
{
	struct wlb_error e = {0, ""};
	CHECK_EQ(wlb_model_check(m, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, want);
}

static void checks(void)
{
	struct wlb_model m, b;
	struct wlb_parallel p, q;
	struct wlb_error e;

	wlb_model_preset("llama2-7b", &m, &e);
	b = m; b.layers = 0; bad_model(&b, "model.layers must be >= 1, got 0");
	b = m; b.hidden = -1; bad_model(&b, "model.hidden must be >= 1, got -1");
	b = m; b.ffn_hidden = 0; bad_model(&b, "model.ffn_hidden");
	b = m; b.heads = 0; bad_model(&b, "model.heads");
	b = m; b.kv_heads = 0; bad_model(&b, "model.kv_heads must be >= 1");
	b = m; b.head_dim = 0; bad_model(&b, "model.head_dim");
	b = m; b.vocab = 0; bad_model(&b, "model.vocab");
	b = m; b.kv_heads = 5; bad_model(&b, "model.kv_heads must divide heads (32), got 5");
	b = m; b.mlp = (enum wlb_mlp)7; bad_model(&b, "model.mlp");

	/* the paper's configurations are accepted */
	p = par(8, 2, 4, 1);
	CHECK_EQ(wlb_parallel_check(&p, &m, &e), 0);
	wlb_model_preset("wlb-30b", &b, &e);
	q = par(8, 4, 4, 1);
	CHECK_EQ(wlb_parallel_check(&q, &b, &e), 0);
	wlb_model_preset("wlb-550m", &b, &e);
	q = par(2, 2, 4, 2);
	CHECK_EQ(wlb_parallel_check(&q, &b, &e), 0);
	/* llama3-8b: tp 16 > kv_heads 8 replicates KV heads */
	wlb_model_preset("llama3-8b", &b, &e);
	q = par(16, 1, 1, 1);
	CHECK_EQ(wlb_parallel_check(&q, &b, &e), 0);
	/* interleaved with vpp 2, 8 micro-batches over pp 4 */
	q = par(8, 2, 4, 1);
	q.vpp = 2; q.microbatches = 8; strcpy(q.schedule, "interleaved");
	CHECK_EQ(wlb_parallel_check(&q, &m, &e), 0);

	q = p; q.tp = 0; bad_par(&q, &m, "parallel.tp must be >= 1, got 0");
	q = p; q.cp = 0; bad_par(&q, &m, "parallel.cp must be >= 1");
	q = p; q.pp = -2; bad_par(&q, &m, "parallel.pp must be >= 1, got -2");
	q = p; q.dp = 0; bad_par(&q, &m, "parallel.dp must be >= 1");
	q = p; q.vpp = 0; bad_par(&q, &m, "parallel.vpp must be >= 1");
	q = p; q.microbatches = 0; bad_par(&q, &m, "parallel.microbatches must be >= 1");
	q = p; q.tp = 3; bad_par(&q, &m, "parallel.tp must divide heads (32), got 3");
	/* heads 48, kv 12: tp 8 divides heads but neither divides the other */
	b = m; b.heads = 48; b.kv_heads = 12;
	q = p; q.tp = 8; bad_par(&q, &b, "parallel.tp must divide kv_heads (12) or be a multiple of it, got 8");
	/* uneven splits are fine while every chunk has a layer */
	b.layers = 30;
	q = p; q.tp = 4; q.pp = 8;
	CHECK_EQ(wlb_parallel_check(&q, &b, &e), 0);
	q = p; q.pp = 4; q.vpp = 3; q.microbatches = 8; strcpy(q.schedule, "interleaved");
	CHECK_EQ(wlb_parallel_check(&q, &m, &e), 0);
	q.vpp = 9; bad_par(&q, &m, "parallel.pp x parallel.vpp (36) must be at most model.layers (32)");
	q = p; q.pp = 64; bad_par(&q, &m, "parallel.pp x parallel.vpp (64) must be at most model.layers (32)");
	q = p; q.pp = 4; q.n_pp_layers = 3;
	bad_par(&q, &m, "parallel.pp_layers must have parallel.pp (4) entries, got 3");
	q.n_pp_layers = 4; q.pp_layers[0] = 7; q.pp_layers[1] = q.pp_layers[2] = 9; q.pp_layers[3] = 6;
	bad_par(&q, &m, "parallel.pp_layers must sum to model.layers (32), got 31");
	q.pp_layers[3] = 7;
	CHECK_EQ(wlb_parallel_check(&q, &m, &e), 0);
	q.vpp = 8; q.microbatches = 8; strcpy(q.schedule, "interleaved");
	bad_par(&q, &m, "parallel.pp_layers[0] must be >= parallel.vpp (8), got 7");
	q = p; q.pp = WLB_MAX_PP + 1; bad_par(&q, &m, "parallel.pp must be at most 128");
	q = p; q.zero = 4; bad_par(&q, &m, "parallel.zero must be 0, 1, 2 or 3, got 4");
	q = p; q.recompute = 3; bad_par(&q, &m, "parallel.recompute must be");
	q = p; q.micro_batch_size = 0; bad_par(&q, &m, "parallel.micro_batch_size must be >= 1, got 0");
	q = p; q.microbatches = WLB_MAX_MICROBATCHES + 1;
	bad_par(&q, &m, "parallel.microbatches must be at most 16384, got 16385");
	q = p; q.dp = 1 << 16; /* 8 x 2 x 4 x 65536 = 2^22 GPUs */
	bad_par(&q, &m, "parallel: tp x cp x pp x dp must be at most 1048576 GPUs, got 4194304");
	/* TP must split the hidden size and the MLP that sequence parallelism splits */
	b = m; b.hidden = 4100; b.head_dim = 128;
	q = p; q.tp = 8; bad_par(&q, &b, "parallel.tp must divide model.hidden (4100), got 8");
	b = m; b.ffn_hidden = 11004;
	q = p; q.tp = 8; bad_par(&q, &b, "parallel.tp must divide model.ffn_hidden (11004), got 8");
	q = p; q.vpp = 2; q.microbatches = 8;
	bad_par(&q, &m, "parallel.vpp > 1 (2) requires parallel.schedule \"interleaved\", got \"1f1b\"");
	q = p; q.vpp = 2; q.microbatches = 6; strcpy(q.schedule, "interleaved");
	bad_par(&q, &m, "parallel.microbatches must be a multiple of parallel.pp (4)");
	q = p; strcpy(q.schedule, "gpipe");
	bad_par(&q, &m, "parallel.schedule must be \"1f1b\" or \"interleaved\", got \"gpipe\"");
	q = p; strcpy(q.cp_algo, "ulysses");
	bad_par(&q, &m, "parallel.cp_algo must be \"allgather\", \"ring\" or \"distca\", got \"ulysses\"");
	/* a bad model is reported before the parallel config */
	b = m; b.kv_heads = 0;
	bad_par(&p, &b, "model.kv_heads must be >= 1");
}

/* The stage split: pp_layers as given, or even with the remainder on the
 * middle stages; chunks of a stage as even as possible. */
static void stage_split(void)
{
	struct wlb_parallel p = par(8, 1, 16, 1);
	int want405[16] = {7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7}, sum = 0;

	/* Llama 3 405B: 126 = 16 x 8 - 2, the two light stages at the ends */
	for (int s = 0; s < 16; s++) {
		CHECK_EQ(wlb_stage_layers(&p, 126, s), want405[s]);
		sum += wlb_stage_layers(&p, 126, s);
	}
	CHECK_EQ(sum, 126);
	/* 10 over 4: base 2, two extra layers, light stages first and last */
	p.pp = 4;
	CHECK_EQ(wlb_stage_layers(&p, 10, 0), 2);
	CHECK_EQ(wlb_stage_layers(&p, 10, 1), 3);
	CHECK_EQ(wlb_stage_layers(&p, 10, 2), 3);
	CHECK_EQ(wlb_stage_layers(&p, 10, 3), 2);
	/* 13 over 4: one heavy stage, the third (light: first, second, last) */
	CHECK_EQ(wlb_stage_layers(&p, 13, 0), 3);
	CHECK_EQ(wlb_stage_layers(&p, 13, 1), 3);
	CHECK_EQ(wlb_stage_layers(&p, 13, 2), 4);
	CHECK_EQ(wlb_stage_layers(&p, 13, 3), 3);
	/* 11 over 4: one light stage, the first */
	CHECK_EQ(wlb_stage_layers(&p, 11, 0), 2);
	CHECK_EQ(wlb_stage_layers(&p, 11, 1), 3);
	CHECK_EQ(wlb_stage_layers(&p, 11, 2), 3);
	CHECK_EQ(wlb_stage_layers(&p, 11, 3), 3);
	/* divisible: all equal */
	CHECK_EQ(wlb_stage_layers(&p, 32, 0), 8);
	CHECK_EQ(wlb_stage_layers(&p, 32, 3), 8);
	/* given */
	p.n_pp_layers = 4;
	p.pp_layers[0] = 5; p.pp_layers[1] = 11; p.pp_layers[2] = 11; p.pp_layers[3] = 5;
	CHECK_EQ(wlb_stage_layers(&p, 32, 1), 11);
	CHECK_EQ(wlb_stage_layers(&p, 32, 3), 5);
	/* 11 layers over 3 chunks: 4, 4, 3; 5 over 3: 2, 2, 1 */
	p.vpp = 3;
	CHECK_EQ(wlb_chunk_layers(&p, 32, 1, 0), 4);
	CHECK_EQ(wlb_chunk_layers(&p, 32, 1, 1), 4);
	CHECK_EQ(wlb_chunk_layers(&p, 32, 1, 2), 3);
	CHECK_EQ(wlb_chunk_layers(&p, 32, 0, 0), 2);
	CHECK_EQ(wlb_chunk_layers(&p, 32, 0, 2), 1);
}

void test_model(void);
void test_model(void)
{
	stage_split();
	presets();
	params();
	pairs();
	layer_comm();
	dp_comm_and_memory();
	checks();
}
