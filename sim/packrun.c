/* packrun.c — stream -> packer -> sharder over a trace, with balance metrics. */
#include "packrun.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grow.h"
#include "stop.h"

#define GIB 1073741824.0

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

void wlb_pack_params_from_trace(const struct wlb_trace *t, const struct wlb_workload *w,
				struct wlb_pack_params *p)
{
	struct wlb_policy pol = t->policy;

	uint64_t mbs = t->parallel.micro_batch_size > 1 ? (uint64_t)t->parallel.micro_batch_size : 1;

	wlb_policy_defaults(&pol, t->context);
	memset(p, 0, sizeof *p);
	/* a micro-batch of micro_batch_size sequences is filled as one of that
	 * many times the tokens (wlb_trace_check keeps the product in range) */
	p->context = (uint32_t)(t->context * mbs);
	p->s_max = (uint32_t)(pol.s_max * mbs > UINT32_MAX ? UINT32_MAX : pol.s_max * mbs);
	p->window = pol.window;
	p->n_thresholds = pol.n_thresholds;
	memcpy(p->thresholds, pol.thresholds, sizeof p->thresholds);
	p->dp = t->parallel.dp;
	p->m = t->parallel.microbatches;
	p->cp = t->parallel.cp;
	if (wlb_doc_order_parse(pol.doc_order, &p->order))
		p->order = WLB_ORDER_STREAM; /* unreachable: wlb_trace_check refused it */
	p->work = w;
	/* out of memory leaves the cap at 0: wlb-mem then refuses to start */
	struct wlb_error e;
	if (wlb_actmem_plan(t, w ? w->mem_gib : 0, &p->mem, &e))
		memset(&p->mem, 0, sizeof p->mem);
}

double wlb_max_over_mean(const double *v, size_t n)
{
	double mx = 0, sum = 0;
	for (size_t i = 0; i < n; i++) {
		sum += v[i];
		if (v[i] > mx)
			mx = v[i];
	}
	return sum > 0 ? mx * (double)n / sum : 1.0;
}

int wlb_packrun(const struct wlb_trace *t, const struct wlb_workload *w, struct wlb_packrun *out,
		struct wlb_error *err)
{
	return wlb_packrun_with(t, w, NULL, out, err);
}

int wlb_packrun_with(const struct wlb_trace *t, const struct wlb_workload *w,
		     const struct wlb_packrun_hooks *hooks, struct wlb_packrun *out,
		     struct wlb_error *err)
{
	struct wlb_workload flops;
	struct wlb_shard_estimate est_cost, *est = NULL;
	struct wlb_packer *pk = NULL;
	struct wlb_stream *st = NULL;
	struct wlb_packed packed = {0};
	struct wlb_sharding sh;
	struct wlb_policy pol = t->policy;
	struct wlb_pack_summary *sum = &out->summary;
	double *vals = NULL, delay_tok = 0, disp_tok = 0, pack_us = 0, shard_us = 0, cp_imb = 0;
	size_t cap_vals = 0, n_cp = 0, n_perdoc = 0, n_hybrid = 0;
	uint64_t n_cut = 0;
	int cp = t->parallel.cp, rc;

	memset(out, 0, sizeof *out);
	if (wlb_sharding_init(&sh, cp))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	sh.ring = cp > 1 && !strcmp(t->parallel.cp_algo, "ring");
	wlb_policy_defaults(&pol, t->context);
	if (!w) {
		wlb_workload_flops(&flops, &t->model);
		w = &flops;
	} else {
		wlb_shard_estimate_from(&est_cost, w);
		est = &est_cost;
	}
	out->workload = w->name;
	wlb_pack_params_from_trace(t, w, &out->params);
	snprintf(out->packing, sizeof out->packing, "%s", pol.packing);
	if (wlb_shard_parse(pol.sharding, &out->sharding)) {
		rc = wlb_error_set(err, WLB_EINVAL, "unknown sharding \"%s\" (expected per-seq, per-doc, "
				   "adaptive or hybrid)", pol.sharding);
		goto done;
	}
	rc = wlb_packer_create(&pk, pol.packing, &out->params, err);
	out->params.work = NULL; /* the workload may live on this stack frame only */
	if (rc)
		goto done;
	rc = wlb_stream_create(&st, &t->source, t->context,
			       (uint64_t)t->parallel.dp * (uint64_t)t->parallel.microbatches * out->params.context,
			       err);
	if (rc)
		goto done;

	for (uint32_t it = 0; t->iterations == 0 || it < t->iterations; it++) {
		/* SIGINT / SIGTERM: polled once an iteration, costing nothing */
		if ((rc = wlb_stop_check(err)))
			goto done;
		double t0 = now_us();
		rc = wlb_packer_next(pk, st, &packed, err);
		double t1 = now_us();
		if (rc < 0)
			goto done;
		if (rc == 0)
			break;
		pack_us += t1 - t0;
		if (WLB_GROW(out->iters, out->cap_iters, out->n_iters + 1) ||
		    WLB_GROW(out->mbs, out->cap_mbs, out->n_mbs + packed.n_mb) ||
		    WLB_GROW(vals, cap_vals, packed.n_mb + (size_t)t->parallel.dp + (size_t)cp)) {
			rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
			goto done;
		}
		struct wlb_iter_rec *ir = &out->iters[out->n_iters++];
		double it_delay = 0;
		*ir = (struct wlb_iter_rec){packed.iter, packed.n_mb, out->n_mbs, 0, 1, 1, 0, t1 - t0, 1, 0};

		for (uint32_t b = 0; b < packed.n_mb; b++) {
			const struct wlb_mb *mb = &packed.mb[b];
			const struct wlb_doc *d = packed.docs + mb->first;
			struct wlb_mb_rec *mr = &out->mbs[out->n_mbs++];
			double ts = now_us();

			if (wlb_shard(&sh, out->sharding, d, mb->n, est)) {
				rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
				goto done;
			}
			shard_us += now_us() - ts;
			*mr = (struct wlb_mb_rec){mb->tokens, mb->n, mb->replica, mb->work, 1.0, 0, sh.used,
						  wlb_actmem_bytes(&out->params.mem, mb->tokens) / GIB};
			for (int r = 0; r < cp; r++) {
				vals[r] = wlb_sharding_rank_pairs(&sh, r);
				if (sh.rank_cost[r] > mr->cp_cost_max)
					mr->cp_cost_max = sh.rank_cost[r];
			}
			if (!est)
				mr->cp_cost_max *= w->att; /* tile-padded pairs to FLOPs */
			if (cp > 1 && mb->n > 0) {
				mr->cp_imbalance = wlb_max_over_mean(vals, (size_t)cp);
				cp_imb += mr->cp_imbalance;
				n_cp++;
			}
			n_perdoc += sh.used == WLB_SHARD_PER_DOC && mb->n > 0;
			n_hybrid += sh.used == WLB_SHARD_HYBRID;
			n_cut += sh.n_cut;
			if (hooks && hooks->mb && (rc = hooks->mb(hooks->ctx, &packed, b, &sh)))
				goto done;
			sum->cp_cost += mr->cp_cost_max;
			for (uint32_t k = 0; k < mb->n; k++) {
				double dl = (double)packed.iter - (double)d[k].arrived;
				int lb = 31 - __builtin_clz(d[k].len);
				out->hist_docs[lb]++;
				out->hist_tokens[lb] += d[k].len;
				it_delay += dl * d[k].len;
				disp_tok += fabs(dl) * d[k].len;
			}
			ir->tokens += mb->tokens;
			sum->documents += mb->n;
		}
		delay_tok += it_delay;
		ir->delay_iters = ir->tokens ? it_delay / (double)ir->tokens : 0;
		sum->tokens += ir->tokens;

		for (uint32_t b = 0; b < packed.n_mb; b++)
			vals[b] = packed.mb[b].work;
		ir->imbalance_pp = wlb_max_over_mean(vals, packed.n_mb);
		for (uint32_t b = 0; b < packed.n_mb; b++) {
			vals[b] = out->mbs[ir->first_mb + b].act_gib;
			if (vals[b] > ir->act_max_gib)
				ir->act_max_gib = vals[b];
		}
		ir->imbalance_mem = wlb_max_over_mean(vals, packed.n_mb);
		sum->imbalance_mem += ir->imbalance_mem;
		if (ir->act_max_gib > sum->act_max_gib)
			sum->act_max_gib = ir->act_max_gib;
		for (int r = 0; r < t->parallel.dp; r++)
			vals[r] = 0;
		for (uint32_t b = 0; b < packed.n_mb; b++)
			vals[packed.mb[b].replica] += packed.mb[b].work;
		ir->imbalance_dp = wlb_max_over_mean(vals, (size_t)t->parallel.dp);
		sum->imbalance_pp += ir->imbalance_pp;
		sum->imbalance_dp += ir->imbalance_dp;
		if (hooks && hooks->iter && (rc = hooks->iter(hooks->ctx, &packed, ir)))
			goto done;
	}
	rc = 0;
	sum->iterations = (uint32_t)out->n_iters;
	if (out->n_iters) {
		sum->imbalance_pp /= (double)out->n_iters;
		sum->imbalance_dp /= (double)out->n_iters;
		sum->imbalance_mem /= (double)out->n_iters;
		sum->pack_ms_per_batch = pack_us / 1e3 / (double)out->n_iters;
		sum->shard_ms_per_batch = shard_us / 1e3 / (double)out->n_iters;
	}
	sum->imbalance_cp = n_cp ? cp_imb / (double)n_cp : 1.0;
	sum->per_doc_share = out->n_mbs ? (double)n_perdoc / (double)out->n_mbs : 0;
	sum->hybrid_share = out->n_mbs ? (double)n_hybrid / (double)out->n_mbs : 0;
	sum->cut_doc_share = sum->documents ? (double)n_cut / (double)sum->documents : 0;
	sum->token_delay_iters = sum->tokens ? delay_tok / (double)sum->tokens : 0;
	sum->token_displacement_iters = sum->tokens ? disp_tok / (double)sum->tokens : 0;
	sum->tokens_in = wlb_stream_tokens(st);
	sum->pending_tokens = wlb_packer_pending_tokens(pk);
	sum->act_cap_gib = out->params.mem.cap_bytes / GIB;
done:
	free(vals);
	wlb_packed_free(&packed);
	wlb_sharding_free(&sh);
	wlb_packer_destroy(pk);
	wlb_stream_destroy(st);
	if (rc)
		wlb_packrun_free(out);
	return rc;
}

void wlb_packrun_free(struct wlb_packrun *r)
{
	free(r->iters);
	free(r->mbs);
	r->iters = NULL;
	r->mbs = NULL;
	r->n_iters = r->n_mbs = 0;
}
