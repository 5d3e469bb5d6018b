/* exec.c — one rank of wlb-run: groups, weights, the schedule's steps,
 * pipeline sends, the DP gradient sync, timing marks and the records every
 * rank shares at the end (exec.h). */
#include "exec_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "schedule.h"

#define LR 1e-3

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	return wlb_mix64(a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull);
}

int wlb_run_fault(const char *what)
{
	const char *f = getenv("WLB_RUN_FAULT");
	return f && !strcmp(f, what);
}

void *wlb_rank_scratch(struct wlb_rank *R, int which, size_t elems)
{
	size_t bytes = (elems ? elems : 1) * R->esz;
	if (bytes > R->sc_cap[which]) {
		if (R->sc[which])
			DEV(R)->free(R->dev, R->sc[which]);
		R->sc_cap[which] = 0;
		if (!(R->sc[which] = DEV(R)->alloc(R->dev, bytes, R->err)))
			return NULL;
		R->sc_cap[which] = bytes;
	}
	return R->sc[which];
}

int wlb_rank_mark(struct wlb_rank *R, int *slot)
{
	if (R->n_marks >= WLB_DEV_MARKS)
		return wlb_error_set(R->err, WLB_ERANGE,
				     "rank %d: more than %d timing marks in one iteration (fewer "
				     "micro-batches or layers per stage)", R->world->rank, WLB_DEV_MARKS);
	*slot = R->n_marks++;
	return DEV(R)->mark(R->dev, *slot, R->err);
}

int wlb_rank_span(struct wlb_rank *R, int from, int kind)
{
	int to;
	TRY_RC(wlb_rank_mark(R, &to));
	if (R->span_at[kind] < 0)
		return 0;
	if (R->n_spans + 1 > R->cap_spans) {
		size_t cap = R->cap_spans ? 2 * R->cap_spans : 256;
		struct wlb_span *s = realloc(R->spans, cap * sizeof *s);
		if (!s)
			return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
		R->spans = s;
		R->cap_spans = cap;
	}
	R->spans[R->n_spans++] = (struct wlb_span){R->span_at[kind], from, to};
	return 0;
}

int wlb_rank_ag(struct wlb_rank *R, struct wlb_comm *c, const void *s, void *r, size_t count)
{
	int from;
	TRY_RC(wlb_rank_mark(R, &from));
	TRY_RC(c->ops->all_gather(c, s, r, count, R->dev->dtype, R->err));
	return wlb_rank_span(R, from, IV_COMM);
}

int wlb_rank_rs(struct wlb_rank *R, struct wlb_comm *c, const void *s, void *r, size_t count)
{
	int from;
	TRY_RC(wlb_rank_mark(R, &from));
	TRY_RC(c->ops->reduce_scatter(c, s, r, count, R->dev->dtype, R->err));
	return wlb_rank_span(R, from, IV_COMM);
}

/* ---- setup ------------------------------------------------------------ */

static int setup(struct wlb_rank *R)
{
	const struct wlb_model *md = &R->t->model;
	const struct wlb_parallel *p = &R->t->parallel;
	int w = R->world->rank, chunks;

	R->tp = p->tp, R->cp = p->cp, R->pp = p->pp, R->dp = p->dp;
	R->vpp = p->vpp, R->m = p->microbatches;
	chunks = R->pp * R->vpp;
	if (R->world->size != R->tp * R->cp * R->pp * R->dp)
		return wlb_error_set(R->err, WLB_EINVAL, "tp x cp x pp x dp = %d ranks, but %d were started",
				     R->tp * R->cp * R->pp * R->dp, R->world->size);
	if (md->heads % R->tp || md->kv_heads % R->tp || md->ffn_hidden % R->tp ||
	    md->vocab % R->tp || md->layers % chunks)
		return wlb_error_set(R->err, WLB_EINVAL,
				     "model: heads (%d), kv_heads (%d), ffn_hidden (%d) and vocab (%d) must "
				     "divide by tp (%d), and layers (%d) by pp x vpp (%d)", md->heads,
				     md->kv_heads, md->ffn_hidden, md->vocab, R->tp, md->layers, chunks);
	if (R->m >= (1 << 18) || chunks >= (1 << 12))
		return wlb_error_set(R->err, WLB_ERANGE, "too many micro-batches or chunks to tag");
	R->tp_i = w % R->tp;
	R->cp_i = w / R->tp % R->cp;
	R->dp_i = w / (R->tp * R->cp) % R->dp;
	R->pp_i = w / (R->tp * R->cp * R->dp);
	R->H = md->hidden;
	R->F = md->ffn_hidden / R->tp;
	R->hl = md->heads / R->tp;
	R->kvl = md->kv_heads / R->tp;
	R->d = md->head_dim;
	R->V = md->vocab / R->tp;
	R->nqkv = (R->hl + 2 * R->kvl) * R->d;
	R->lpc = md->layers / chunks;
	R->esz = wlb_dtype_size(R->dev->dtype);
	R->span_at[0] = R->span_at[1] = -1;

	/* groups: every coordinate but one the same (colors), ordered by it */
	int tpc = R->tp, cpc = R->cp;
	struct wlb_comm *wc = R->world;
	TRY_RC(wlb_comm_split(wc, w / tpc, R->tp_i, &R->tpc, R->err));
	TRY_RC(wlb_comm_split(wc, R->tp_i + tpc * (R->dp_i + R->dp * R->pp_i), R->cp_i, &R->cpc, R->err));
	/* gradients are summed over the DP and CP ranks of a stage (Megatron's
	 * data-parallel group with CP) */
	TRY_RC(wlb_comm_split(wc, R->tp_i + tpc * R->pp_i, R->cp_i + cpc * R->dp_i, &R->dpc, R->err));
	TRY_RC(wlb_comm_split(wc, R->tp_i + tpc * (R->cp_i + cpc * R->dp_i), R->pp_i, &R->ppc, R->err));

	size_t nw = (size_t)R->vpp * R->lpc;
	R->w = calloc(nw, sizeof *R->w);
	R->mb = calloc((size_t)R->m, sizeof *R->mb);
	R->act = calloc((size_t)R->m * R->vpp, sizeof *R->act);
	R->step_mark = calloc((size_t)R->m * R->vpp * 4, sizeof *R->step_mark);
	R->fresh_chunk = calloc((size_t)R->vpp, sizeof *R->fresh_chunk);
	if (!R->w || !R->mb || !R->act || !R->step_mark || !R->fresh_chunk)
		return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
	for (size_t i = 0; i < (size_t)R->m * R->vpp; i++)
		if (!(R->act[i].l = calloc((size_t)R->lpc, sizeof *R->act[i].l)))
			return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");

	/* weights uniform in +-1/sqrt(fan in), a function of the global layer
	 * and the TP rank, so every replica starts the same */
	const int H = R->H, qw = R->hl * R->d;
	for (size_t i = 0; i < nw; i++) {
		struct wlb_layer_w *lw = &R->w[i];
		int chunk = (int)(i / (size_t)R->lpc);
		uint64_t layer = (uint64_t)((chunk * R->pp + R->pp_i) * R->lpc) + i % (size_t)R->lpc;
		struct { void **wp, **gp; size_t n; double fan; } t[] = {
			{&lw->qkv, &lw->g_qkv, (size_t)H * R->nqkv, H}, {&lw->o, &lw->g_o, (size_t)qw * H, qw * R->tp},
			{&lw->w1, &lw->g_w1, (size_t)H * 2 * R->F, H}, {&lw->w2, &lw->g_w2, (size_t)R->F * H, R->F * R->tp}};
		for (int k = 0; k < 4; k++) {
			*t[k].wp = DEV(R)->alloc(R->dev, t[k].n * R->esz, R->err);
			*t[k].gp = DEV(R)->alloc(R->dev, t[k].n * R->esz, R->err);
			if (!*t[k].wp || !*t[k].gp)
				return R->err->code;
			TRY_RC(DEV(R)->fill(R->dev, *t[k].wp, t[k].n,
					    mix(mix(R->seed, layer * 8 + (uint64_t)k), (uint64_t)R->tp_i),
					    1 / sqrt(t[k].fan), R->err));
		}
	}
	if (R->pp_i == R->pp - 1) {
		size_t n = (size_t)H * R->V;
		R->wout = DEV(R)->alloc(R->dev, n * R->esz, R->err);
		R->g_wout = DEV(R)->alloc(R->dev, n * R->esz, R->err);
		if (!R->wout || !R->g_wout)
			return R->err->code;
		TRY_RC(DEV(R)->fill(R->dev, R->wout, n, mix(R->seed, 7777 + (uint64_t)R->tp_i),
				    1 / sqrt((double)H), R->err));
	}
	if (R->check) {
		if (!(R->x0 = calloc((size_t)R->m, sizeof *R->x0)))
			return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
		return wlb_check_weights(R);
	}
	return 0;
}

int wlb_rank_mb_upload(struct wlb_rank *R, const struct wlb_layout *l, struct wlb_mb_dev *mb)
{
	int total_k = l->cu_k[l->n_pieces];
	wlb_rank_mb_free(R, mb);
	*mb = (struct wlb_mb_dev){l->rows, l->real, l->n_pieces, l->max_q, l->max_k, total_k,
				  NULL, NULL, NULL, 0};
	mb->cu_q = DEV(R)->alloc(R->dev, sizeof(int) * ((size_t)l->n_pieces + 1), R->err);
	mb->cu_k = DEV(R)->alloc(R->dev, sizeof(int) * ((size_t)l->n_pieces + 1), R->err);
	mb->kv_idx = DEV(R)->alloc(R->dev, sizeof(int) * ((size_t)total_k + 1), R->err);
	if (!mb->cu_q || !mb->cu_k || !mb->kv_idx)
		return R->err->code;
	TRY_RC(DEV(R)->upload_int(R->dev, mb->cu_q, l->cu_q, (size_t)l->n_pieces + 1, R->err));
	TRY_RC(DEV(R)->upload_int(R->dev, mb->cu_k, l->cu_k, (size_t)l->n_pieces + 1, R->err));
	return DEV(R)->upload_int(R->dev, mb->kv_idx, l->kv_idx, (size_t)total_k, R->err);
}

void wlb_rank_mb_free(struct wlb_rank *R, struct wlb_mb_dev *mb)
{
	if (mb->cu_q)
		DEV(R)->free(R->dev, mb->cu_q);
	if (mb->cu_k)
		DEV(R)->free(R->dev, mb->cu_k);
	if (mb->kv_idx)
		DEV(R)->free(R->dev, mb->kv_idx);
	mb->cu_q = mb->cu_k = mb->kv_idx = NULL;
}

/* ---- steps ------------------------------------------------------------ */

static uint32_t tag(int bwd, int k, int g)
{
	return (uint32_t)bwd << 30 | (uint32_t)k << 12 | (uint32_t)g;
}

static int step_begin(struct wlb_rank *R, int slot, int bwd)
{
	int base = WLB_EXEC_HEAD + slot * WLB_EXEC_SLOT + 4 * bwd;
	R->span_at[IV_ATTN] = base + 2;
	R->span_at[IV_COMM] = base + 3;
	return wlb_rank_mark(R, &R->step_mark[(slot * 2 + bwd) * 2]);
}

static int step_end(struct wlb_rank *R, int slot, int bwd)
{
	R->span_at[IV_ATTN] = R->span_at[IV_COMM] = -1;
	return wlb_rank_mark(R, &R->step_mark[(slot * 2 + bwd) * 2 + 1]);
}

/* The pipeline's p2p, Megatron's way: the schedule's steps are grouped into
 * units (a lone forward of the warm-up, a forward with the backward after
 * it in the steady state, a lone backward of the cool-down); between two
 * units one group sends what the previous unit produced and receives what
 * the next one needs.  Under NCCL, whose sends wait for their receives,
 * this is what keeps neighbouring stages from waiting on each other. */

static int add_p2p(struct wlb_rank *R, int send, int peer, uint32_t t, void *buf, size_t n)
{
	if (R->n_group == 4)
		return wlb_error_set(R->err, WLB_ERANGE, "internal: more than 4 p2p ops in a group");
	R->group[R->n_group++] = (struct wlb_p2p){send, peer, t, buf, n, R->dev->dtype};
	return 0;
}

/* Issues the group, then frees what it sent (stream-ordered on a GPU). */
static int flush_p2p(struct wlb_rank *R)
{
	int rc = R->n_group ? R->ppc->ops->p2p(R->ppc, R->group, R->n_group, R->err) : 0;
	for (int i = 0; i < R->n_group; i++)
		if (R->group[i].send)
			DEV(R)->free(R->dev, R->group[i].buf);
	R->n_group = 0;
	return rc;
}

/* Buffers of a step's input, and its receive into the group. */
static int step_input(struct wlb_rank *R, size_t iter, const struct wlb_step *st)
{
	const int k = (int)st->mb, c = st->chunk, bwd = st->kind == WLB_STEP_BWD;
	const int g = c * R->pp + R->pp_i, last = R->pp * R->vpp - 1;
	struct wlb_chunk_act *ca = &R->act[k * R->vpp + c];
	size_t n = (size_t)R->mb[k].rows / (size_t)R->tp * (size_t)R->H;
	void **buf = bwd ? &ca->dx : &ca->x;

	if (!(*buf = DEV(R)->alloc(R->dev, n * R->esz, R->err)))
		return R->err->code;
	if (bwd)
		return g == last ? 0 : add_p2p(R, 0, (R->pp_i + 1) % R->pp, tag(1, k, g), ca->dx, n);
	if (g != 0)
		return add_p2p(R, 0, (R->pp_i + R->pp - 1) % R->pp, tag(0, k, g), ca->x, n);
	if (R->check)
		return DEV(R)->copy2d(R->dev, ca->x, R->H, R->x0[k], R->H, (int)(n / (size_t)R->H), R->H,
				      R->err);
	/* the first stage's input: random, standing in for the embedding */
	return DEV(R)->fill(R->dev, ca->x, n, mix(mix(mix(R->seed, iter), (uint64_t)(R->dp_i * R->m + k)),
						  (uint64_t)(R->cp_i * R->tp + R->tp_i)), 1.0, R->err);
}

static int fwd(struct wlb_rank *R, int k, int c)
{
	const int g = c * R->pp + R->pp_i, last = R->pp * R->vpp - 1, slot = k * R->vpp + c;
	const struct wlb_mb_dev *mb = &R->mb[k];
	struct wlb_chunk_act *ca = &R->act[slot];
	size_t n = (size_t)mb->rows / (size_t)R->tp * (size_t)R->H;

	TRY_RC(step_begin(R, slot, 0));
	if (R->world->rank == 1 && wlb_run_fault("die"))
		_exit(7);
	while (R->world->rank == 1 && wlb_run_fault("hang"))
		sleep(1);
	for (int l = 0; l < R->lpc; l++)
		TRY_RC(wlb_layer_fwd(R, mb, &R->w[c * R->lpc + l], &ca->l[l], ca->x));
	if (g == last) {
		ca->xf_last = DEV(R)->alloc(R->dev, (size_t)mb->rows * R->H * R->esz, R->err);
		ca->logits = DEV(R)->alloc(R->dev, (size_t)mb->rows * R->V * R->esz, R->err);
		if (!ca->xf_last || !ca->logits)
			return R->err->code;
		TRY_RC(wlb_rank_ag(R, R->tpc, ca->x, ca->xf_last, n));
		TRY_RC(DEV(R)->gemm(R->dev, 0, 0, mb->rows, R->V, R->H, ca->xf_last, R->wout, ca->logits,
				    0, R->err));
	}
	TRY_RC(step_end(R, slot, 0));
	void *x = ca->x;
	ca->x = NULL;
	if (g != last) /* sent, and freed, with the next group */
		return add_p2p(R, 1, (R->pp_i + 1) % R->pp, tag(0, k, g + 1), x, n);
	DEV(R)->free(R->dev, x);
	return 0;
}

static int bwd(struct wlb_rank *R, int k, int c)
{
	const int g = c * R->pp + R->pp_i, last = R->pp * R->vpp - 1, slot = k * R->vpp + c;
	const struct wlb_mb_dev *mb = &R->mb[k];
	struct wlb_chunk_act *ca = &R->act[slot];
	size_t n = (size_t)mb->rows / (size_t)R->tp * (size_t)R->H;
	void *dx = ca->dx;

	R->fresh = R->fresh_chunk[c];
	TRY_RC(step_begin(R, slot, 1));
	if (g == last) { /* loss 1/2 |logits|^2 / tokens: its gradient is logits / tokens */
		size_t nl = (size_t)mb->rows * R->V;
		void *dl = wlb_rank_scratch(R, SC_DO, nl);
		void *dxf = wlb_rank_scratch(R, SC_DXF, (size_t)mb->rows * R->H);
		if (!dl || !dxf)
			return R->err->code;
		TRY_RC(DEV(R)->zero(R->dev, dl, nl * R->esz, R->err));
		TRY_RC(DEV(R)->axpy(R->dev, dl, ca->logits, nl, 1.0 / (double)(mb->tokens + 1), R->err));
		TRY_RC(DEV(R)->gemm(R->dev, 0, 1, mb->rows, R->H, R->V, dl, R->wout, dxf, 0, R->err));
		TRY_RC(DEV(R)->gemm(R->dev, 1, 0, R->H, R->V, mb->rows, ca->xf_last, dl, R->g_wout,
				    !R->fresh, R->err));
		TRY_RC(wlb_rank_rs(R, R->tpc, dxf, dx, n));
		DEV(R)->free(R->dev, ca->xf_last);
		DEV(R)->free(R->dev, ca->logits);
		ca->xf_last = ca->logits = NULL;
	}
	for (int l = R->lpc - 1; l >= 0; l--)
		TRY_RC(wlb_layer_bwd(R, mb, &R->w[c * R->lpc + l], &ca->l[l], dx));
	R->fresh_chunk[c] = 0;
	TRY_RC(step_end(R, slot, 1));
	ca->dx = NULL;
	if (g != 0)
		return add_p2p(R, 1, (R->pp_i + R->pp - 1) % R->pp, tag(1, k, g - 1), dx, n);
	DEV(R)->free(R->dev, dx);
	return 0;
}

/* The schedule's steps, unit by unit (see add_p2p). */
static int run_steps(struct wlb_rank *R, size_t iter, const struct wlb_step *order, size_t n_steps)
{
	for (size_t i = 0; i < n_steps;) {
		size_t len = i + 1 < n_steps && order[i].kind == WLB_STEP_FWD &&
			     order[i + 1].kind == WLB_STEP_BWD ? 2 : 1;
		for (size_t j = i; j < i + len; j++)
			TRY_RC(step_input(R, iter, &order[j]));
		TRY_RC(flush_p2p(R));
		for (size_t j = i; j < i + len; j++)
			TRY_RC(order[j].kind == WLB_STEP_FWD ? fwd(R, (int)order[j].mb, order[j].chunk)
							     : bwd(R, (int)order[j].mb, order[j].chunk));
		i += len;
	}
	return flush_p2p(R);
}

/* The gradient all-reduce over DP x CP (timed into the record's head), then SGD. */
static int dp_sync_and_step(struct wlb_rank *R)
{
	size_t nw = (size_t)R->vpp * R->lpc;
	const int H = R->H, qw = R->hl * R->d;
	R->span_at[IV_COMM] = 3;
	for (size_t i = 0; i <= nw; i++) {
		struct wlb_layer_w *lw = i < nw ? &R->w[i] : NULL;
		if (!lw && !R->wout)
			break;
		void *wp[4] = {lw ? lw->qkv : R->wout, lw ? lw->o : NULL, lw ? lw->w1 : NULL, lw ? lw->w2 : NULL};
		void *gp[4] = {lw ? lw->g_qkv : R->g_wout, lw ? lw->g_o : NULL, lw ? lw->g_w1 : NULL,
			       lw ? lw->g_w2 : NULL};
		size_t n[4] = {lw ? (size_t)H * R->nqkv : (size_t)H * R->V, (size_t)qw * H,
			       (size_t)H * 2 * R->F, (size_t)R->F * H};
		for (int k = 0; k < 4 && wp[k]; k++) {
			int from;
			TRY_RC(wlb_rank_mark(R, &from));
			if (R->dpc->size > 1)
				TRY_RC(R->dpc->ops->all_reduce(R->dpc, gp[k], gp[k], n[k], R->dev->dtype,
							       R->err));
			TRY_RC(wlb_rank_span(R, from, IV_COMM));
			TRY_RC(DEV(R)->axpy(R->dev, wp[k], gp[k], n[k], -LR, R->err));
		}
	}
	R->span_at[IV_COMM] = -1;
	return 0;
}

static int iteration(struct wlb_rank *R, size_t iter, double *rec)
{
	struct wlb_step *order = NULL;
	size_t n_steps;
	double t0;
	int rc = 0;

	for (int k = 0; k < R->m; k++) {
		const struct wlb_plan_mb *pm = wlb_plan_mb(R->plan, iter, R->dp_i, k);
		const size_t *st = R->plan->start + pm->first_start;
		TRY_RC(wlb_layout_build(&R->lay, R->plan->docs + pm->first_doc, pm->n_docs,
					R->plan->pieces, st, R->cp, R->cp_i, pm->tokens_rank, R->tp, R->err));
		TRY_RC(wlb_rank_mb_upload(R, &R->lay, &R->mb[k]));
		R->mb[k].tokens = pm->tokens;
		if (R->check && R->pp_i == 0) {
			size_t n = (size_t)R->lay.rows / (size_t)R->tp * (size_t)R->H;
			if (R->x0[k])
				DEV(R)->free(R->dev, R->x0[k]);
			if (!(R->x0[k] = DEV(R)->alloc(R->dev, n * R->esz, R->err)))
				return R->err->code;
			TRY_RC(wlb_check_input(R, &R->lay, R->plan->docs + pm->first_doc, R->x0[k]));
		}
	}
	if (!(order = malloc((size_t)R->m * R->vpp * 2 * sizeof *order)))
		return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
	n_steps = wlb_sched_order(R->pp, R->vpp, R->m, R->pp_i, order);
	for (int c = 0; c < R->vpp; c++)
		R->fresh_chunk[c] = 1;
	R->n_marks = 0;
	R->n_spans = 0;
	R->dev->peak_bytes = R->dev->bytes; /* this iteration's peak, not --check's */
	if ((rc = DEV(R)->sync(R->dev, R->err)) || (rc = R->world->ops->barrier(R->world, R->err)))
		goto out;
	t0 = now_ms();
	if ((rc = wlb_rank_mark(R, &R->mark0)))
		goto out;
	rc = run_steps(R, iter, order, n_steps);
	if (rc || (rc = dp_sync_and_step(R)) || (rc = R->world->ops->wait(R->world, R->err)) ||
	    (rc = DEV(R)->sync(R->dev, R->err)))
		goto out;
	rec[0] = now_ms() - t0;
	rec[1] = (double)R->dev->peak_bytes;
	rec[2] = (double)R->state_bytes;
	for (int s = 0; s < R->m * R->vpp * 2; s++) {
		double *r = rec + WLB_EXEC_HEAD + (s / 2) * WLB_EXEC_SLOT + 4 * (s % 2);
		r[0] = DEV(R)->elapsed_ms(R->dev, R->mark0, R->step_mark[s * 2]);
		r[1] = DEV(R)->elapsed_ms(R->dev, R->mark0, R->step_mark[s * 2 + 1]);
	}
	for (size_t i = 0; i < R->n_spans; i++)
		rec[R->spans[i].rec] += DEV(R)->elapsed_ms(R->dev, R->spans[i].from, R->spans[i].to);
out:
	free(order);
	return rc;
}

/* ---- the whole run ----------------------------------------------------- */

static void teardown(struct wlb_rank *R)
{
	if (R->w)
		for (size_t i = 0; i < (size_t)R->vpp * R->lpc; i++) {
			void *p[] = {R->w[i].qkv, R->w[i].o, R->w[i].w1, R->w[i].w2, R->w[i].g_qkv,
				     R->w[i].g_o, R->w[i].g_w1, R->w[i].g_w2};
			for (int k = 0; k < 8; k++)
				if (p[k])
					DEV(R)->free(R->dev, p[k]);
		}
	for (int i = 0; i < R->n_group; i++) /* a failed iteration's unsent group */
		if (R->group[i].send)
			DEV(R)->free(R->dev, R->group[i].buf);
	if (R->act)
		for (size_t i = 0; i < (size_t)R->m * R->vpp; i++) {
			void *p[] = {R->act[i].x, R->act[i].dx, R->act[i].xf_last, R->act[i].logits};
			for (int k = 0; k < 4; k++)
				if (p[k])
					DEV(R)->free(R->dev, p[k]);
			for (int l = 0; R->act[i].l && l < R->lpc; l++)
				wlb_layer_act_free(R, &R->act[i].l[l]);
			free(R->act[i].l);
		}
	if (R->mb)
		for (int k = 0; k < R->m; k++)
			wlb_rank_mb_free(R, &R->mb[k]);
	if (R->x0)
		for (int k = 0; k < R->m; k++)
			if (R->x0[k])
				DEV(R)->free(R->dev, R->x0[k]);
	free(R->x0);
	for (int i = 0; i < SC_N; i++)
		if (R->sc[i])
			DEV(R)->free(R->dev, R->sc[i]);
	if (R->wout)
		DEV(R)->free(R->dev, R->wout);
	if (R->g_wout)
		DEV(R)->free(R->dev, R->g_wout);
	wlb_comm_destroy(R->tpc);
	wlb_comm_destroy(R->cpc);
	wlb_comm_destroy(R->dpc);
	wlb_comm_destroy(R->ppc);
	wlb_layout_free(&R->lay);
	free(R->w);
	free(R->mb);
	free(R->act);
	free(R->step_mark);
	free(R->fresh_chunk);
	free(R->spans);
}

/* Every rank's n doubles at x->rec-like positions: all-gathered over the
 * world through the device (NCCL needs device memory). */
static int gather(struct wlb_rank *R, const double *mine, double *all, size_t n)
{
	size_t bytes = n * sizeof(double);
	void *s = DEV(R)->alloc(R->dev, bytes, R->err);
	void *r = DEV(R)->alloc(R->dev, bytes * (size_t)R->world->size, R->err);
	int rc = !s || !r ? R->err->code : 0;
	if (!rc)
		rc = DEV(R)->put(R->dev, s, mine, bytes, R->err);
	if (!rc)
		rc = R->world->ops->all_gather(R->world, s, r, n, WLB_DT_F64, R->err);
	if (!rc)
		rc = R->world->ops->wait(R->world, R->err);
	if (!rc)
		rc = DEV(R)->sync(R->dev, R->err);
	if (!rc)
		rc = DEV(R)->get(R->dev, all, r, bytes * (size_t)R->world->size, R->err);
	if (s)
		DEV(R)->free(R->dev, s);
	if (r)
		DEV(R)->free(R->dev, r);
	return rc;
}

int wlb_exec_rank(const struct wlb_trace *t, const struct wlb_plan *plan, struct wlb_dev *dev,
		  struct wlb_comm *world, const struct wlb_exec_opts *o, struct wlb_exec_result *out,
		  struct wlb_error *err)
{
	struct wlb_rank R = {0};
	double *mine = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	R.t = t, R.plan = plan, R.dev = dev, R.world = world, R.err = err, R.seed = o->seed;
	R.check = o->check;
	out->world = world->size;
	out->m = t->parallel.microbatches;
	out->vpp = t->parallel.vpp;
	out->n_iters = plan->n_iters;
	out->rec_len = WLB_EXEC_HEAD + (size_t)WLB_EXEC_SLOT * out->m * out->vpp;
	out->tolerance = dev->tolerance;
	out->rec = calloc(out->n_iters * out->world * out->rec_len + 1, sizeof *out->rec);
	mine = calloc(out->rec_len + 5, sizeof *mine);
	if (!out->rec || !mine) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = setup(&R)))
		goto out;
	R.state_bytes = dev->bytes;
	if (o->check) {
		double c[5], *all = calloc(5 * (size_t)world->size, sizeof *all);
		if (!all) {
			rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
			goto out;
		}
		if (!(rc = wlb_check_run(&R, out))) {
			memcpy(c, out->check_err, sizeof out->check_err);
			c[4] = (double)out->check_layouts;
			rc = gather(&R, c, all, 5);
		}
		for (int r = 0; !rc && r < world->size; r++) {
			for (int k = 0; k < 4; k++)
				out->check_err[k] = fmax(out->check_err[k], all[r * 5 + k]);
			if (r != world->rank)
				out->check_layouts += (long)all[r * 5 + 4];
		}
		free(all);
		if (rc)
			goto out;
	}
	struct wlb_progress prog;
	wlb_progress_start(&prog, "running", o->quiet || world->rank != 0);
	for (size_t i = 0; i < plan->n_iters; i++) {
		if (plan->n_iters > 1)
			wlb_progress_show(&prog, i, plan->n_iters, "iterations");
		memset(mine, 0, out->rec_len * sizeof *mine);
		if ((rc = iteration(&R, i, mine)) ||
		    (rc = gather(&R, mine, out->rec + i * out->world * out->rec_len, out->rec_len)))
			goto out;
	}
	wlb_progress_end(&prog);
	if (o->check) { /* the last step's gradients, summed over the ranks that own them */
		double sig, *all = calloc((size_t)world->size, sizeof *all);
		if (!all) {
			rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
			goto out;
		}
		if (!(rc = wlb_check_signature(&R, &sig)) && !(rc = gather(&R, &sig, all, 1)))
			for (int r = 0; r < world->size; r++)
				out->signature += all[r];
		free(all);
	}
out:
	if (rc && err->msg[0] && strncmp(err->msg, "rank ", 5))
		wlb_error_prefix(err, "rank %d", world->rank);
	free(mine);
	teardown(&R);
	if (rc)
		wlb_exec_result_free(out);
	return rc;
}

void wlb_exec_result_free(struct wlb_exec_result *x)
{
	free(x->rec);
	memset(x, 0, sizeof *x);
}
