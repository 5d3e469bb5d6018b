/* export.c — a configuration as the arguments of the training frameworks
 * that run it: Megatron-LM's command line and TorchTitan's job TOML (what
 * wlb-tune --megatron / --torchtitan print).  What a framework cannot say
 * becomes a comment line. */
#include "export.h"

#include <stdio.h>
#include <string.h>

#include "opts.h"

/* "wlb (s_max N, outlier queues a,b)", "greedy (window W)", "bfd", "concat". */
static void policy_phrase(const struct wlb_policy *q, char *buf, size_t cap)
{
	char th[96];

	if (!strncmp(q->packing, "wlb", 3)) { /* wlb, wlb-mem */
		if (q->n_thresholds)
			snprintf(buf, cap, "%s (s_max %u, outlier queues %s)", q->packing, q->s_max,
				 wlb_opts_thresholds_str(q, 0, th, sizeof th));
		else
			snprintf(buf, cap, "%s (s_max %u, no outlier queue)", q->packing, q->s_max);
	} else if (!strcmp(q->packing, "greedy")) {
		snprintf(buf, cap, "greedy (window %u)", q->window);
	} else {
		snprintf(buf, cap, "%s", q->packing);
	}
}

/* wlb-mem: the token cap its memory cap comes to, which the loader's
 * packer applies besides s_max. */
static void mem_cap_comment(const struct wlb_trace *t, const struct wlb_parallel *p,
			    const struct wlb_policy *q)
{
	struct wlb_trace c = *t;
	struct wlb_actmem am;
	struct wlb_error e;

	if (strcmp(q->packing, "wlb-mem"))
		return;
	c.parallel = *p;
	c.policy = *q;
	if (!(q->mem_cap_gib > 0) || wlb_actmem_plan(&c, 0, &am, &e)) {
		printf("# wlb-mem: the loader's packer also caps each micro-batch's activations at what "
		       "fits the GPU (wlb-sim prints it as wlb-mem's cap)\n");
		return;
	}
	uint32_t tok = wlb_actmem_token_cap(&am, am.cap_bytes);
	printf("# wlb-mem: the loader's packer also caps each micro-batch at %u tokens (%.2f GiB of "
	       "activations per GPU on the heaviest stage, policy.mem_cap_gib), so at %u tokens with "
	       "s_max; the model needs no flag for it\n", tok, q->mem_cap_gib, tok < q->s_max ? tok : q->s_max);
}

static void loader_comment(const struct wlb_trace *t, const struct wlb_parallel *p,
			   const struct wlb_policy *q, const char *framework)
{
	char ph[160];

	policy_phrase(q, ph, sizeof ph);
	if (!strcmp(q->packing, "concat") && !strcmp(q->sharding, "per-seq"))
		printf("# packing: %s, CP sharding: per-seq — %s's own data loader and CP split do "
		       "this; no extra setting\n", ph, framework);
	else
		printf("# packing: %s, CP sharding: %s — wlb's packer and sharder drive the data "
		       "loader; %s has no %s for them\n", ph, q->sharding, framework,
		       strcmp(framework, "Megatron") ? "option" : "flag");
	mem_cap_comment(t, p, q);
	/* per-sequence CP: Megatron-Core's dynamic context parallelism (dev
	 * branch; Megatron Bridge's model.dynamic_context_parallel with
	 * model.max_seqlen_per_dp_cp_rank; earlier PRs named it hybrid context
	 * parallel): the flag name is not in a release yet, check the pin */
	if (q->cp_mode[0] && strcmp(q->cp_mode, "static"))
		printf("# CP mode: %s — per-sequence CP degree over the dp x cp pool: Megatron-Core's "
		       "dynamic context parallelism (--dynamic-context-parallel with "
		       "max_seqlen_per_dp_cp_rank = the per-rank token budget; dev branch, check the "
		       "flag in your Megatron-Core pin)%s\n", q->cp_mode,
		       strcmp(q->cp_mode, "dynamic-cost") ? "" :
		       "; its scheduler picks the smallest degree that fits, wlb's cost-model "
		       "placement needs a scheduler hook");
	if (strcmp(q->sharding, "hybrid"))
		return;
	/* what a loader for hybrid needs, and why the stock CP splits are not it */
	if (!strcmp(framework, "Megatron"))
		printf("# hybrid CP layout: stock Megatron-Core/TransformerEngine cannot express it — "
		       "THD (cu_seqlens) CP cuts every sequence into 2*cp chunks (per-doc, each padded "
		       "to a multiple of 2*cp), BSHD cuts the packed sequence (per-seq, no document "
		       "mask)\n");
	printf("# hybrid needs a custom data loader that places each CP rank's tokens from wlb's "
	       "pieces (document, q_len, kv_len) and a varlen attention given that rank's "
	       "cu_seqlens_q / cu_seqlens_kv against the all-gathered K and V (as wlb-run does)\n");
}

/* Megatron-LM's pipeline split: nothing for equal stages, else
 * --decoder-first/last-pipeline-num-layers around equal middle stages (with
 * vpp > 1, --num-layers-per-virtual-pipeline-stage when each stage's layers
 * split evenly over its chunks).  What the flags cannot say goes into *note
 * as a comment line.  Returns the number of arguments added. */
static int megatron_split(const struct wlb_trace *t, const struct wlb_parallel *p,
			  char (*args)[96], char *note, size_t cap)
{
	int L = t->model.layers, pp = p->pp, first = wlb_stage_layers(p, L, 0);
	int last = wlb_stage_layers(p, L, pp - 1), mid = pp > 2 ? wlb_stage_layers(p, L, 1) : -1;
	int n = 0, even = 1, mid_equal = 1;
	char split[512];

	note[0] = '\0';
	if (pp < 2)
		return 0;
	for (int s = 1; s < pp; s++)
		even &= wlb_stage_layers(p, L, s) == first;
	for (int s = 2; s < pp - 1; s++)
		mid_equal &= wlb_stage_layers(p, L, s) == mid;
	wlb_opts_stage_split(p, L, split, sizeof split);
	if (p->vpp > 1) {
		if (even && first % p->vpp == 0)
			snprintf(args[n++], sizeof args[0], "--num-layers-per-virtual-pipeline-stage %d",
				 first / p->vpp);
		else
			snprintf(note, cap, "# layers per stage %s over %d virtual stages each: not "
				 "expressible with --num-layers-per-virtual-pipeline-stage; set the split "
				 "by hand (--pipeline-model-parallel-layout in recent Megatron-LM)\n",
				 split, p->vpp);
		return n;
	}
	if (even)
		return 0;
	if (pp == 2) { /* the last stage takes what the first leaves */
		snprintf(args[n++], sizeof args[0], "--decoder-first-pipeline-num-layers %d", first);
		return n;
	}
	if (!mid_equal) {
		snprintf(note, cap, "# layers per stage %s: not expressible with "
			 "--decoder-first/last-pipeline-num-layers (the middle stages differ); set the "
			 "split by hand (--pipeline-model-parallel-layout in recent Megatron-LM)\n", split);
		return 0;
	}
	if (first != mid)
		snprintf(args[n++], sizeof args[0], "--decoder-first-pipeline-num-layers %d", first);
	if (last != mid)
		snprintf(args[n++], sizeof args[0], "--decoder-last-pipeline-num-layers %d", last);
	return n;
}

void wlb_export_megatron(const struct wlb_trace *t, const struct wlb_parallel *p, const struct wlb_policy *pol)
{
	const struct wlb_model *m = &t->model;
	int dist_opt = p->zero == 1 || p->zero == 2;
	char args[48][96], split_note[768];
	int n = 0;

#define ARG(...) snprintf(args[n++], sizeof args[0], __VA_ARGS__)
	ARG("--tensor-model-parallel-size %d", p->tp);
	ARG("--context-parallel-size %d", p->cp);
	int distca = !strcmp(p->cp_algo, "distca");
	if (p->cp > 1 && !distca)
		ARG("--cp-comm-type %s", strcmp(p->cp_algo, "ring") ? "allgather" : "p2p");
	ARG("--pipeline-model-parallel-size %d", p->pp);
	n += megatron_split(t, p, args + n, split_note, sizeof split_note);
	ARG("--seq-length %u", t->context);
	ARG("--max-position-embeddings %u", t->context);
	ARG("--micro-batch-size %d", p->micro_batch_size);
	ARG("--global-batch-size %d", p->dp * p->microbatches * p->micro_batch_size);
	if (p->tp > 1 && p->sequence_parallel)
		ARG("--sequence-parallel");
	if (dist_opt)
		ARG("--use-distributed-optimizer");
	if (p->zero == 3 && p->pp == 1)
		ARG("--use-torch-fsdp2");
	if (p->zero == 3 && p->pp > 1) { /* torch FSDP2 refuses pipeline parallelism */
		ARG("--use-megatron-fsdp");
		ARG("--data-parallel-sharding-strategy optim_grads_params");
	}
	if (p->overlap_grad_reduce)
		ARG("--overlap-grad-reduce");
	/* Megatron gathers parameters behind the forward only with its
	 * distributed optimizer, and only with the gradient overlap on */
	if (p->overlap_param_gather && dist_opt && p->overlap_grad_reduce)
		ARG("--overlap-param-gather");
	if (p->recompute == WLB_RECOMPUTE_SELECTIVE)
		ARG("--recompute-granularity selective");
	if (p->recompute == WLB_RECOMPUTE_FULL) {
		ARG("--recompute-granularity full");
		ARG("--recompute-method uniform");
		ARG("--recompute-num-layers 1");
	}
	if (p->tp > 1 && p->sequence_parallel && p->tp_comm_overlap)
		ARG("--tp-comm-overlap");
	ARG("--num-layers %d", m->layers);
	ARG("--hidden-size %d", m->hidden);
	ARG("--ffn-hidden-size %d", m->ffn_hidden);
	ARG("--num-attention-heads %d", m->heads);
	if (m->head_dim * m->heads != m->hidden)
		ARG("--kv-channels %d", m->head_dim);
	if (m->kv_heads < m->heads) {
		ARG("--group-query-attention");
		ARG("--num-query-groups %d", m->kv_heads);
	}
	if (m->mlp == WLB_MLP_SWIGLU)
		ARG("--swiglu");
	if (!m->tied_embeddings) /* Megatron ties them unless told */
		ARG("--untie-embeddings-and-output-weights");
#undef ARG
	printf("\n# Megatron-LM arguments for #1 on %d GPUs (%d per node): the data-parallel size "
	       "(%d) is what the world size leaves\n", p->tp * p->cp * p->pp * p->dp,
	       t->cluster.gpus_per_node, p->dp);
	loader_comment(t, p, pol, "Megatron");
	if (distca)
		printf("# cp_algo distca: core attention disaggregation needs DistCA's runtime "
		       "(arXiv 2510.18121: attention tasks, their scheduler, the all-to-all and the "
		       "ping-pong of two half-batches); stock Megatron-LM has no flag for it. The "
		       "flags below are the rest of the configuration; the %d ranks of each stage "
		       "(dp x cp) serve the attention\n", p->dp * p->cp);
	fputs(split_note, stdout);
	if (p->zero == 0)
		printf("# zero 0: plain data parallelism, each rank holding the whole optimizer "
		       "state (no --use-distributed-optimizer)\n");
	if (p->zero == 2)
		printf("# predicted with gradients sharded too (ZeRO-2); --use-distributed-optimizer "
		       "reduce-scatters them but keeps every rank's whole gradient buffer "
		       "(Megatron FSDP's --data-parallel-sharding-strategy optim_grads shards them)\n");
	if (p->zero == 3 && p->pp > 1)
		printf("# zero 3 with pipeline parallelism: Megatron FSDP (--use-custom-fsdp in older "
		       "Megatron-LM); --use-torch-fsdp2 refuses pipeline parallelism\n");
	if (p->overlap_param_gather && dist_opt && !p->overlap_grad_reduce)
		printf("# overlap_param_gather without overlap_grad_reduce: Megatron's "
		       "--overlap-param-gather needs --overlap-grad-reduce; left out\n");
	for (int i = 0; i < n; i++)
		printf("%s%s\n", args[i], i + 1 < n ? " \\" : "");
}

/* TorchTitan's own split of `layers` over `stages` stages when the embedding
 * counts as `in` layers and the output as `out` (its
 * generate_llm_fqn_per_model_part): the layers of stage s, or -1 where it
 * would refuse. */
static int titan_stage_layers(int layers, int stages, int in, int out, int s)
{
	int eff = layers + in + out, per = eff / stages, n = per + (s < eff % stages);

	if (stages < 2 || per < 1 || in > per || out > per)
		return -1;
	return n - (s == 0 ? in : 0) - (s == stages - 1 ? out : 0);
}

/* Layers of TorchTitan's virtual stage v (chunk v / pp of rank v % pp, as
 * its looped schedules place them). */
static int virtual_stage_layers(const struct wlb_parallel *p, int layers, int v)
{
	return wlb_chunk_layers(p, layers, v % p->pp, v / p->pp);
}

/* TorchTitan's pipeline split: first/last_stage_less_layers that make its
 * own split ours, or else module_fqns_per_model_part spelled out. */
static void print_titan_split(const struct wlb_trace *t, const struct wlb_parallel *p)
{
	int L = t->model.layers, S = p->pp * p->vpp, in, out, lps = 0;

	for (in = 0; in <= L; in++) {
		for (out = 0; out <= L; out++) {
			int v = 0;
			while (v < S && titan_stage_layers(L, S, in, out, v) ==
			       virtual_stage_layers(p, L, v))
				v++;
			if (v == S)
				goto found;
		}
	}
	printf("# the layers per stage of #1, spelled out (no pipeline_parallel_*_less_layers "
	       "makes TorchTitan's own split this one)\n");
	printf("module_fqns_per_model_part = [");
	for (int v = 0, next = 0; v < S; v++) {
		int n = virtual_stage_layers(p, L, v);
		printf("%s[", v ? ", " : "");
		if (v == 0)
			printf("\"tok_embeddings\"%s", n ? ", " : "");
		for (int i = 0; i < n; i++, next++)
			printf("%s\"layers.%d\"", i ? ", " : "", next);
		if (v == S - 1)
			printf("%s\"norm\", \"output\"", n ? ", " : "");
		printf("]");
	}
	printf("]\n");
	return;
found:
	printf("pipeline_parallel_first_stage_less_layers = %d\n", in);
	printf("pipeline_parallel_last_stage_less_layers = %d\n", out);
	if (p->vpp == 1)
		return;
	/* with several stages a rank, the stage count comes from layers_per_stage */
	for (int x = 1; x <= L + in + out && !lps; x++)
		if ((L + in + out + x - 1) / x == S)
			lps = x;
	if (lps)
		printf("pipeline_parallel_layers_per_stage = %d\n", lps);
	else
		printf("# no pipeline_parallel_layers_per_stage gives %d stages of %d layers; "
		       "TorchTitan's looped schedules default to 2 stages a rank\n", S, L);
}

void wlb_export_torchtitan(const struct wlb_trace *t, const struct wlb_parallel *p, const struct wlb_policy *pol)
{
	int fsdp = p->zero == 3, mbs = p->micro_batch_size;

	printf("\n# TorchTitan job config for #1 on %d GPUs (%d per node)\n",
	       p->tp * p->cp * p->pp * p->dp, t->cluster.gpus_per_node);
	loader_comment(t, p, pol, "TorchTitan");
	if (!fsdp)
		printf("# zero %d: TorchTitan has no ZeRO-1/2; data parallelism replicates (DDP) "
		       "instead, every rank holding the whole optimizer state\n", p->zero);
	if (t->model.tied_embeddings)
		printf("# model.tied_embeddings: TorchTitan's Llama has untied embeddings; tie them in "
		       "the model definition\n");
	printf("[parallelism]\n");
	printf("data_parallel_replicate_degree = %d\n", fsdp ? 1 : p->dp);
	printf("data_parallel_shard_degree = %d\n", fsdp ? p->dp : 1);
	printf("tensor_parallel_degree = %d\n", p->tp);
	if (p->tp > 1 && p->tp_comm_overlap)
		printf("enable_async_tensor_parallel = true\n");
	printf("context_parallel_degree = %d\n", p->cp);
	if (!strcmp(p->cp_algo, "distca"))
		printf("# cp_algo distca: core attention disaggregation needs DistCA's runtime; "
		       "TorchTitan has no option for it\n");
	else if (p->cp > 1)
		printf("context_parallel_rotate_method = \"%s\"\n",
		       strcmp(p->cp_algo, "ring") ? "allgather" : "alltoall");
	printf("pipeline_parallel_degree = %d\n", p->pp);
	printf("pipeline_parallel_schedule = \"%s\"\n", p->vpp > 1 ? "Interleaved1F1B" : "1F1B");
	if (p->pp > 1)
		print_titan_split(t, p);
	printf("pipeline_parallel_microbatch_size = %d\n", mbs);
	printf("\n[training]\n");
	printf("seq_len = %u\n", t->context);
	/* with a pipeline the local batch is cut into the micro-batches; without
	 * one, the micro-batches are gradient-accumulation steps */
	printf("local_batch_size = %d\n", p->pp > 1 ? p->microbatches * mbs : mbs);
	printf("global_batch_size = %d\n", p->dp * p->microbatches * mbs);
	printf("\n[activation_checkpoint]\n");
	printf("mode = \"%s\"\n", wlb_recompute_name(p->recompute));
	if (p->recompute == WLB_RECOMPUTE_SELECTIVE)
		printf("selective_ac_option = \"op\"\n");
}
