/* report_sim.c — the simulator's report, CSV and Chrome trace. */
#include "report_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "report.h"

static json_t *lost(const double *ms)
{
	json_t *o = json_object();
	for (int l = 0; l < WLB_LOST_N; l++)
		json_object_set_new(o, wlb_lost_names[l], json_real(ms[l]));
	return o;
}

static json_t *summary(const struct wlb_sim_summary *s, const struct wlb_pack_summary *ps)
{
	json_t *o = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
			      "s:f, s:b, s:o, s:I, s:I, s:I}",
			      "iterations", (int)s->iterations, "iteration_ms_mean", s->iteration_ms_mean,
			      "iteration_ms_p50", s->iteration_ms_p50, "iteration_ms_p95", s->iteration_ms_p95,
			      "tokens_per_s", s->tokens_per_s, "mfu", s->mfu,
			      "imbalance_pp", s->imbalance_pp, "imbalance_cp", s->imbalance_cp,
			      "imbalance_dp", s->imbalance_dp, "bubble_fraction", s->bubble_fraction,
			      "ideal_ms", s->ideal_ms, "balance_efficiency", s->balance_efficiency,
			      "token_delay_iters", s->token_delay_iters,
			      "token_displacement_iters", ps->token_displacement_iters,
			      "peak_mem_gib", s->peak_mem_gib, "oom", s->oom, "lost_ms", lost(s->lost_ms),
			      "tokens", (json_int_t)ps->tokens, "pending_tokens", (json_int_t)ps->pending_tokens,
			      "extrapolated_lookups", (json_int_t)s->extrapolations);
	/* the CP layouts the sharder chose */
	json_object_set_new(o, "per_doc_share", json_real(ps->per_doc_share));
	json_object_set_new(o, "hybrid_share", json_real(ps->hybrid_share));
	json_object_set_new(o, "cut_doc_share", json_real(ps->cut_doc_share));
	if (o && s->a2a_exposed_ms > 0) /* cp_algo distca */
		json_object_set_new(o, "a2a_exposed_ms", json_real(s->a2a_exposed_ms));
	json_object_set_new(o, "imbalance_mem", json_real(s->imbalance_mem));
	json_object_set_new(o, "imbalance_mem_pp", json_real(s->imbalance_mem_pp));
	json_object_set_new(o, "imbalance_mem_dp", json_real(s->imbalance_mem_dp));
	json_object_set_new(o, "act_max_gib", json_real(ps->act_max_gib));
	json_object_set_new(o, "act_cap_gib", json_real(ps->act_cap_gib));
	return o;
}

static const char *const step_kinds[] = {"fwd", "bwd", "send_fwd", "send_bwd", "dp_sync", "barrier"};

/* Micro-batch index of (replica, position) within an iteration's records. */
static size_t pipeline_slot(const struct wlb_sim_mb *mb, int m)
{
	return (size_t)mb->replica * (size_t)m + mb->position;
}

/* Per iteration: its time and its micro-batches' times in pipeline order. */
static json_t *iteration_times(const struct wlb_sim_result *r, int m)
{
	json_t *its = json_array();
	size_t n = (size_t)r->dp * (size_t)m;
	for (size_t i = 0; i < r->n_iters; i++) {
		json_t *f = json_array(), *b = json_array();
		for (size_t k = 0; k < n; k++) {
			json_array_append_new(f, json_real(0));
			json_array_append_new(b, json_real(0));
		}
		for (size_t k = 0; k < n; k++) {
			const struct wlb_sim_mb *mb = &r->mbs[r->iters[i].first_mb + k];
			json_array_set_new(f, pipeline_slot(mb, m), json_real(mb->fwd_ms));
			json_array_set_new(b, pipeline_slot(mb, m), json_real(mb->bwd_ms));
		}
		json_array_append_new(its, json_pack("{s:f, s:o, s:o}", "time_ms", r->iters[i].time_ms,
						     "fwd_ms", f, "bwd_ms", b));
	}
	return its;
}

static json_t *timeline(const struct wlb_sim_result *r)
{
	json_t *tasks = json_array();
	for (size_t i = 0; i < r->n_timeline; i++) {
		const struct wlb_timeline_task *tt = &r->timeline[i];
		if (tt->step.kind == WLB_STEP_BARRIER)
			continue;
		json_array_append_new(tasks, json_pack("{s:i, s:i, s:s, s:i, s:i, s:f, s:f}",
			"replica", (int)tt->step.replica, "stage", tt->step.stage,
			"kind", step_kinds[tt->step.kind], "microbatch", (int)tt->step.mb,
			"chunk", tt->step.chunk, "start_ms", tt->start_us / 1e3, "end_ms", tt->end_us / 1e3));
	}
	return json_pack("{s:i, s:o}", "iteration", r->timeline_iter, "tasks", tasks);
}

static json_t *cp_ranks(const struct wlb_sim_result *r)
{
	json_t *mbs = json_array();
	const struct wlb_sim_iter *it = NULL;
	for (size_t i = 0; i < r->n_iters; i++)
		if ((int)r->iters[i].iter == r->timeline_iter)
			it = &r->iters[i];
	if (!it)
		return NULL;
	for (size_t b = 0; b < r->n_cp_mb; b++) {
		const struct wlb_sim_mb *mb = &r->mbs[it->first_mb + b];
		json_t *lay[2] = {json_array(), json_array()};
		for (int k = 0; k < 2; k++)
			for (int rk = 0; rk < r->cp; rk++)
				json_array_append_new(lay[k], json_real(r->cp_rank_ms[(b * 2 + k) * (size_t)r->cp + rk]));
		json_array_append_new(mbs, json_pack("{s:i, s:i, s:s, s:o, s:o}", "replica", (int)mb->replica,
			"position", (int)mb->position, "used", wlb_shard_name(r->cp_used[b]),
			"per-seq", lay[0], "per-doc", lay[1]));
	}
	return json_pack("{s:i, s:i, s:o}", "iteration", r->timeline_iter, "cp", r->cp, "microbatches", mbs);
}

json_t *wlb_report_sim(const struct wlb_trace *t, const char *costdb, const struct wlb_sim_result *r,
		       const struct wlb_sim_named *cmp, int n_cmp)
{
	json_t *its = json_array(), *mem = json_array();

	for (size_t i = 0; i < r->n_iters; i++) {
		const struct wlb_sim_iter *it = &r->iters[i];
		json_t *mbs = json_array();
		for (size_t k = 0; k < (size_t)r->dp * t->parallel.microbatches; k++) {
			const struct wlb_sim_mb *mb = &r->mbs[it->first_mb + k];
			json_array_append_new(mbs, json_pack("{s:i, s:i, s:I, s:i, s:i, s:f, s:f, s:f, s:s}",
				"replica", (int)mb->replica, "position", (int)mb->position,
				"tokens", (json_int_t)mb->tokens, "documents", (int)mb->docs,
				"tokens_per_cp_rank", (int)mb->tokens_rank, "fwd_ms", mb->fwd_ms,
				"bwd_ms", mb->bwd_ms, "cp_imbalance", mb->cp_imbalance,
				"sharding", wlb_shard_name(mb->sharding)));
		}
		json_array_append_new(its, json_pack("{s:i, s:f, s:f, s:I, s:f, s:f, s:f, s:f, s:o, s:f, s:o}",
			"iteration", (int)it->iter, "time_ms", it->time_ms, "ideal_ms", it->ideal_ms,
			"tokens", (json_int_t)it->tokens, "imbalance_pp", it->imbalance_pp,
			"imbalance_cp", it->imbalance_cp, "imbalance_dp", it->imbalance_dp,
			"bubble_fraction", it->bubble_fraction, "lost_ms", lost(it->lost_ms),
			"peak_mem_gib", it->peak_mem_gib, "microbatches", mbs));
		json_t *o = json_array_get(its, json_array_size(its) - 1);
		json_object_set_new(o, "imbalance_mem", json_real(it->imbalance_mem));
		json_object_set_new(o, "imbalance_mem_pp", json_real(it->imbalance_mem_pp));
		json_object_set_new(o, "imbalance_mem_dp", json_real(it->imbalance_mem_dp));
	}
	for (int s = 0; s < r->pp; s++) {
		double tot = r->mem[s].state_gib + r->mem[s].act_gib;
		json_array_append_new(mem, json_pack("{s:i, s:f, s:f, s:f, s:f, s:b}", "stage", s,
			"state_gib", r->mem[s].state_gib, "activations_gib", r->mem[s].act_gib,
			"total_gib", tot, "limit_gib", r->mem_limit_gib, "oom", tot > r->mem_limit_gib));
	}
	json_t *rep = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "format", "wlb-report/1",
				"tool", "wlb-sim", "source", "simulated", "workload", "cost",
				"costdb", costdb, "config", wlb_report_config(t), "iterations", its,
				"summary", summary(&r->summary, &r->pack.summary), "memory", mem);
	json_object_set_new(rep, "doclen_hist", wlb_report_doclen(&r->pack));
	if (r->dcp.mode != WLB_DCP_STATIC) {
		const struct wlb_sim_dcp_stats *d = &r->dcp;
		json_t *deg = json_array();
		for (int k = 0; k < d->pool.n_deg; k++)
			json_array_append_new(deg, json_pack("{s:i, s:I, s:I}", "degree", d->pool.deg[k],
				"sequences", (json_int_t)d->degree_seqs[k], "tokens", (json_int_t)d->degree_tokens[k]));
		json_object_set_new(rep, "per_sequence_cp", json_pack(
			"{s:s, s:i, s:i, s:I, s:o, s:f, s:f, s:f, s:f, s:f, s:i}",
			"mode", wlb_dcp_mode_name((enum wlb_dcp_mode)d->mode), "pool_ranks", d->ranks,
			"budget_tokens_per_rank", (int)d->budget_tokens, "sequences", (json_int_t)d->sequences,
			"degrees", deg, "sequences_per_rank_min", d->seqs_per_rank_min,
			"sequences_per_rank_mean", d->seqs_per_rank_mean,
			"sequences_per_rank_max", d->seqs_per_rank_max, "slots_per_rank", d->slots,
			"group_wait_ms", d->group_wait_ms, "static_iterations", (int)d->static_iters));
	}
	if (r->n_timeline)
		json_object_set_new(rep, "timeline", timeline(r));
	if (r->n_cp_mb) {
		json_t *cr = cp_ranks(r);
		if (cr)
			json_object_set_new(rep, "cp_ranks", cr);
	}
	if (n_cmp > 0) {
		json_t *c = json_array();
		double base = cmp[0].res->summary.tokens_per_s; /* tokens per iteration may differ */
		for (int i = 0; i < n_cmp; i++) {
			struct wlb_policy pol = cmp[i].trace->policy;
			wlb_policy_defaults(&pol, cmp[i].trace->context);
			const struct wlb_sim_summary *s = &cmp[i].res->summary;
			json_array_append_new(c, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:f}",
				"name", cmp[i].name, "packing", pol.packing, "sharding", pol.sharding,
				"cp_mode", pol.cp_mode,
				"doc_order", pol.doc_order,
				"iteration_ms_mean", s->iteration_ms_mean,
				"speedup", s->tokens_per_s / base, "imbalance_pp", s->imbalance_pp,
				"imbalance_cp", s->imbalance_cp, "mfu", s->mfu,
				"token_delay_iters", s->token_delay_iters));
			json_t *row = json_array_get(c, (size_t)i);
			json_object_set_new(row, "cp_algo", json_string(cmp[i].trace->parallel.cp_algo));
			json_object_set_new(row, "peak_mem_gib", json_real(s->peak_mem_gib));
			json_object_set_new(row, "imbalance_mem", json_real(s->imbalance_mem));
			json_object_set_new(row, "oom", json_boolean(s->oom));
			/* what tools/policy-table.sh tabulates and attributes per row */
			json_object_set_new(row, "tokens_per_s", json_real(s->tokens_per_s));
			json_object_set_new(row, "bubble_fraction", json_real(s->bubble_fraction));
			json_object_set_new(row, "ideal_ms", json_real(s->ideal_ms));
			json_object_set_new(row, "lost_ms", lost(s->lost_ms));
			json_object_set_new(row, "iterations",
					    iteration_times(cmp[i].res, cmp[i].trace->parallel.microbatches));
		}
		json_object_set_new(rep, "comparison", c);
	}
	return rep;
}

int wlb_report_sim_csv(const struct wlb_sim_result *r, const char *path, struct wlb_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	fprintf(f, "iteration,time_ms,ideal_ms,tokens,imbalance_pp,imbalance_cp,imbalance_dp,"
		   "bubble_fraction");
	for (int l = 0; l < WLB_LOST_N; l++)
		fprintf(f, ",lost_%s_ms", wlb_lost_names[l]);
	fprintf(f, ",peak_mem_gib\n");
	for (size_t i = 0; i < r->n_iters; i++) {
		const struct wlb_sim_iter *it = &r->iters[i];
		fprintf(f, "%u,%.6f,%.6f,%llu,%.6f,%.6f,%.6f,%.6f", it->iter, it->time_ms, it->ideal_ms,
			(unsigned long long)it->tokens, it->imbalance_pp, it->imbalance_cp, it->imbalance_dp,
			it->bubble_fraction);
		for (int l = 0; l < WLB_LOST_N; l++)
			fprintf(f, ",%.6f", it->lost_ms[l]);
		fprintf(f, ",%.6f\n", it->peak_mem_gib);
	}
	fclose(f);
	rc = wlb_file_write(path, buf, len, err);
	free(buf);
	return rc;
}

/* One process per worker (replica, stage), one thread per stream, events in
 * microseconds: what chrome://tracing and Perfetto read. */
json_t *wlb_chrome_trace(const struct wlb_trace *t, const struct wlb_sim_result *r)
{
	static const char *const streams[] = {"compute", "send", "dp"};
	static const char *const kinds[] = {"F", "B", "send act", "send grad", "grad sync", "barrier"};
	json_t *ev = json_array();
	int pp = t->parallel.pp;

	for (int d = 0; d < r->dp; d++)
		for (int s = 0; s < pp; s++) {
			char name[64];
			int pid = d * pp + s;
			snprintf(name, sizeof name, "replica %d stage %d", d, s);
			json_array_append_new(ev, json_pack("{s:s, s:s, s:i, s:{s:s}}", "name", "process_name",
							    "ph", "M", "pid", pid, "args", "name", name));
			json_array_append_new(ev, json_pack("{s:s, s:s, s:i, s:{s:i}}", "name",
							    "process_sort_index", "ph", "M", "pid", pid,
							    "args", "sort_index", pid));
			for (int k = 0; k < 3; k++)
				json_array_append_new(ev, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name",
								    "thread_name", "ph", "M", "pid", pid, "tid", k,
								    "args", "name", streams[k]));
		}
	for (size_t i = 0; i < r->n_timeline; i++) {
		const struct wlb_timeline_task *tt = &r->timeline[i];
		const struct wlb_step *st = &tt->step;
		char name[64];
		int tid = st->kind == WLB_STEP_FWD || st->kind == WLB_STEP_BWD ? 0
			  : st->kind == WLB_STEP_DP_SYNC ? 2 : 1;
		if (st->kind == WLB_STEP_BARRIER)
			continue;
		if (st->kind == WLB_STEP_DP_SYNC)
			snprintf(name, sizeof name, "%s", kinds[st->kind]);
		else if (t->parallel.vpp > 1)
			snprintf(name, sizeof name, "%s%u.%u", kinds[st->kind], st->mb, st->chunk);
		else
			snprintf(name, sizeof name, "%s%u", kinds[st->kind], st->mb);
		json_t *args = json_pack("{s:i, s:i, s:i}", "replica", (int)st->replica, "stage", st->stage,
					 "chunk", st->chunk);
		if (st->kind != WLB_STEP_DP_SYNC) {
			json_t *docs = json_array();
			for (uint32_t k = 0; k < tt->n_docs; k++)
				json_array_append_new(docs, json_integer(r->doc_ids[tt->first_doc + k]));
			json_object_set_new(args, "microbatch", json_integer(st->mb));
			json_object_set_new(args, "documents", docs);
		}
		json_array_append_new(ev, json_pack("{s:s, s:s, s:s, s:f, s:f, s:i, s:i, s:o}", "name", name,
			"cat", st->kind == WLB_STEP_FWD ? "forward" : st->kind == WLB_STEP_BWD ? "backward" : "comm",
			"ph", "X", "ts", tt->start_us, "dur", tt->end_us - tt->start_us,
			"pid", (int)(st->replica * (uint32_t)pp + st->stage), "tid", tid, "args", args));
	}
	return json_pack("{s:o, s:s}", "traceEvents", ev, "displayTimeUnit", "ms");
}
