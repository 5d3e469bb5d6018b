/* report.c — wlb-report/1 documents. */
#include "report.h"

json_t *wlb_report_config(const struct wlb_trace *t)
{
	const struct wlb_model *m = &t->model;
	const struct wlb_parallel *p = &t->parallel;
	struct wlb_policy pol = t->policy;
	json_t *th = json_array(), *split = json_array(), *par;

	wlb_policy_defaults(&pol, t->context);
	for (int i = 0; i < pol.n_thresholds; i++)
		json_array_append_new(th, json_integer(pol.thresholds[i]));
	/* the layers of each stage as simulated: pp_layers, or the default split */
	for (int s = 0; s < p->pp && p->pp <= WLB_MAX_PP; s++)
		json_array_append_new(split, json_integer(wlb_stage_layers(p, m->layers, s)));
	par = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:b, s:i, s:s, s:b, s:b, s:b, "
			"s:i, s:o}",
			"tp", p->tp, "cp", p->cp, "pp", p->pp, "dp", p->dp, "vpp", p->vpp,
			"microbatches", p->microbatches, "schedule", p->schedule, "cp_algo", p->cp_algo,
			"sequence_parallel", p->sequence_parallel, "zero", p->zero,
			"recompute", wlb_recompute_name(p->recompute),
			"tp_comm_overlap", p->tp_comm_overlap,
			"overlap_grad_reduce", p->overlap_grad_reduce,
			"overlap_param_gather", p->overlap_param_gather,
			"micro_batch_size", p->micro_batch_size, "pp_layers", split);
	return json_pack("{s:s, s:{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:b, s:s, s:f}, s:s, "
			 "s:o, s:i, s:{s:s, s:s, s:i, s:o, s:i, s:s}, s:{s:i, s:I}}",
			 "name", t->name,
			 "model", "name", m->name, "layers", m->layers, "hidden", m->hidden,
			 "ffn_hidden", m->ffn_hidden, "heads", m->heads, "kv_heads", m->kv_heads,
			 "head_dim", m->head_dim, "vocab", m->vocab,
			 "mlp", m->mlp == WLB_MLP_SWIGLU ? "swiglu" : "gelu",
			 "tied_embeddings", m->tied_embeddings,
			 "attention", m->attention == WLB_ATTN_UNFUSED ? "unfused" : "flash",
			 "dropout", m->dropout,
			 "gpu", t->gpu,
			 "parallel", par,
			 "context", (int)t->context,
			 "policy", "packing", pol.packing, "sharding", pol.sharding, "s_max", (int)pol.s_max,
			 "outlier_thresholds", th, "window", (int)pol.window,
			 "doc_order", pol.doc_order,
			 "data", "iterations", (int)t->iterations, "seed", (json_int_t)t->source.seed);
}

static json_t *summary(const struct wlb_pack_summary *s)
{
	return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f}",
			 "iterations", (int)s->iterations,
			 "imbalance_pp", s->imbalance_pp, "imbalance_cp", s->imbalance_cp,
			 "imbalance_dp", s->imbalance_dp,
			 "token_delay_iters", s->token_delay_iters,
			 "token_displacement_iters", s->token_displacement_iters,
			 "documents", (json_int_t)s->documents, "tokens", (json_int_t)s->tokens,
			 "tokens_in", (json_int_t)s->tokens_in,
			 "pending_tokens", (json_int_t)s->pending_tokens,
			 "pack_ms_per_batch", s->pack_ms_per_batch,
			 "shard_ms_per_batch", s->shard_ms_per_batch,
			 "per_doc_share", s->per_doc_share, "hybrid_share", s->hybrid_share,
			 "cut_doc_share", s->cut_doc_share,
			 "imbalance_mem", s->imbalance_mem, "act_max_gib", s->act_max_gib,
			 "act_cap_gib", s->act_cap_gib);
}

json_t *wlb_report_doclen(const struct wlb_packrun *run)
{
	json_t *a = json_array();
	for (int b = 0; b < 32; b++)
		if (run->hist_docs[b])
			json_array_append_new(a, json_pack("{s:I, s:I, s:I, s:I}", "lo", (json_int_t)1 << b,
							   "hi", (json_int_t)1 << (b + 1),
							   "documents", (json_int_t)run->hist_docs[b],
							   "tokens", (json_int_t)run->hist_tokens[b]));
	return a;
}

json_t *wlb_report_pack(const struct wlb_trace *t, const char *tool, const struct wlb_packrun *run,
			const struct wlb_named_run *cmp, int n_cmp)
{
	json_t *its = json_array();

	for (size_t i = 0; i < run->n_iters; i++) {
		const struct wlb_iter_rec *ir = &run->iters[i];
		json_t *mbs = json_array();
		for (uint32_t b = 0; b < ir->n_mb; b++) {
			const struct wlb_mb_rec *mr = &run->mbs[ir->first_mb + b];
			json_array_append_new(mbs, json_pack("{s:i, s:I, s:i, s:f, s:f, s:s, s:f}",
				"replica", (int)mr->replica, "tokens", (json_int_t)mr->tokens,
				"documents", (int)mr->docs, "work", mr->work,
				"cp_imbalance", mr->cp_imbalance, "sharding", wlb_shard_name(mr->sharding),
				"act_gib", mr->act_gib));
		}
		json_array_append_new(its, json_pack("{s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:o}",
			"iteration", (int)ir->iter, "tokens", (json_int_t)ir->tokens,
			"imbalance_pp", ir->imbalance_pp, "imbalance_dp", ir->imbalance_dp,
			"imbalance_mem", ir->imbalance_mem, "act_max_gib", ir->act_max_gib,
			"delay_iters", ir->delay_iters, "microbatches", mbs));
	}
	json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "format", "wlb-report/1",
			      "tool", tool, "source", "packing", "workload", run->workload,
			      "config", wlb_report_config(t),
			      "iterations", its, "summary", summary(&run->summary));
	json_object_set_new(r, "doclen_hist", wlb_report_doclen(run));
	if (n_cmp > 0) {
		json_t *c = json_array();
		for (int i = 0; i < n_cmp; i++) {
			json_t *row = summary(&cmp[i].run->summary);
			json_object_set_new(row, "name", json_string(cmp[i].name));
			json_object_set_new(row, "packing", json_string(cmp[i].run->packing));
			json_object_set_new(row, "sharding", json_string(wlb_shard_name(cmp[i].run->sharding)));
			json_object_set_new(row, "doc_order",
					    json_string(wlb_doc_order_name(cmp[i].run->params.order)));
			json_array_append_new(c, row);
		}
		json_object_set_new(r, "comparison", c);
	}
	return r;
}
