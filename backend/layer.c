/* layer.c — one transformer layer's forward and backward on a rank, with
 * its TP and CP collectives (exec.h says what runs).  Row counts: a
 * micro-batch's rows on this CP rank (padding included) are gathered over
 * TP for the GEMMs and scattered back to rows/tp (sequence parallelism);
 * attention runs on the `real` rows only, which the pieces cover. */
#include <math.h>

#include "exec_int.h"

static void *alloc(struct wlb_rank *R, size_t elems)
{
	return DEV(R)->alloc(R->dev, (elems ? elems : 1) * R->esz, R->err);
}

static int gemm(struct wlb_rank *R, int ta, int tb, int m, int n, int k, const void *a,
		const void *b, void *c, int acc)
{
	return DEV(R)->gemm(R->dev, ta, tb, m, n, k, a, b, c, acc, R->err);
}

static struct wlb_dev_attn attn_shape(const struct wlb_rank *R, const struct wlb_mb_dev *mb)
{
	return (struct wlb_dev_attn){mb->n_pieces, mb->cu_q, mb->cu_k, mb->max_q, mb->max_k,
				     mb->real, mb->total_k, R->hl, R->kvl, R->d,
				     1.0 / sqrt((double)R->d)};
}

int wlb_layer_gather_kv(struct wlb_rank *R, const struct wlb_mb_dev *mb, const void *kv_all,
			void **kp, void **vp)
{
	int kw = R->kvl * R->d;
	void *kvp = wlb_rank_scratch(R, SC_KVP, (size_t)mb->total_k * 2 * kw);
	*kp = wlb_rank_scratch(R, SC_KP, (size_t)mb->total_k * kw);
	*vp = wlb_rank_scratch(R, SC_VP, (size_t)mb->total_k * kw);
	if (!kvp || !*kp || !*vp)
		return R->err->code;
	char *kvb = kvp;
	TRY_RC(DEV(R)->gather_rows(R->dev, kvp, kv_all, mb->kv_idx, mb->total_k, 2 * kw, R->err));
	TRY_RC(DEV(R)->copy2d(R->dev, *kp, kw, kvb, 2 * kw, mb->total_k, kw, R->err));
	return DEV(R)->copy2d(R->dev, *vp, kw, kvb + (size_t)kw * R->esz, 2 * kw, mb->total_k, kw,
			      R->err);
}

/* attention, timed */
static int attn(struct wlb_rank *R, const struct wlb_mb_dev *mb, int bwd, const void *q,
		const void *kp, const void *vp, void *o, void *lse, const void *dout, void *dq,
		void *dk, void *dv)
{
	struct wlb_dev_attn s = attn_shape(R, mb);
	int from;
	TRY_RC(wlb_rank_mark(R, &from));
	if (mb->n_pieces) {
		if (bwd)
			TRY_RC(DEV(R)->attn_bwd(R->dev, &s, q, kp, vp, o, lse, dout, dq, dk, dv, R->err));
		else
			TRY_RC(DEV(R)->attn_fwd(R->dev, &s, q, kp, vp, o, lse, R->err));
	}
	return wlb_rank_span(R, from, IV_ATTN);
}

int wlb_layer_fwd(struct wlb_rank *R, const struct wlb_mb_dev *mb, struct wlb_layer_w *w,
		  struct wlb_layer_act *a, void *x)
{
	const int rows = mb->rows, rs = rows / R->tp, H = R->H, qw = R->hl * R->d;
	const int kvw = 2 * R->kvl * R->d;
	void *qkv, *kv, *kp, *vp, *y, *ys;
	char *qkvb;

	a->xf = alloc(R, (size_t)rows * H);
	a->q = alloc(R, (size_t)rows * qw);
	a->kv_all = alloc(R, (size_t)R->cp * rows * kvw);
	a->o = alloc(R, (size_t)rows * qw);
	a->lse = DEV(R)->alloc(R->dev, ((size_t)R->hl * mb->real + 1) * R->dev->lse_size, R->err);
	a->xf2 = alloc(R, (size_t)rows * H);
	a->h = alloc(R, (size_t)rows * 2 * R->F);
	a->a = alloc(R, (size_t)rows * R->F);
	qkv = wlb_rank_scratch(R, SC_QKV, (size_t)rows * R->nqkv);
	kv = wlb_rank_scratch(R, SC_KV, (size_t)rows * kvw);
	y = wlb_rank_scratch(R, SC_Y, (size_t)rows * H);
	ys = wlb_rank_scratch(R, SC_YS, (size_t)rs * H);
	if (!a->xf || !a->q || !a->kv_all || !a->o || !a->lse || !a->xf2 || !a->h || !a->a || !qkv ||
	    !kv || !y || !ys)
		return R->err->code;
	qkvb = qkv;

	/* attention block */
	TRY_RC(wlb_rank_ag(R, R->tpc, x, a->xf, (size_t)rs * H));
	TRY_RC(gemm(R, 0, 0, rows, R->nqkv, H, a->xf, w->qkv, qkv, 0));
	TRY_RC(DEV(R)->copy2d(R->dev, a->q, qw, qkvb, R->nqkv, rows, qw, R->err));
	TRY_RC(DEV(R)->copy2d(R->dev, kv, kvw, qkvb + (size_t)qw * R->esz, R->nqkv, rows, kvw, R->err));
	TRY_RC(wlb_rank_ag(R, R->cpc, kv, a->kv_all, (size_t)rows * kvw));
	TRY_RC(wlb_layer_gather_kv(R, mb, a->kv_all, &kp, &vp));
	TRY_RC(attn(R, mb, 0, a->q, kp, vp, a->o, a->lse, NULL, NULL, NULL, NULL));
	TRY_RC(gemm(R, 0, 0, rows, H, qw, a->o, w->o, y, 0));
	TRY_RC(wlb_rank_rs(R, R->tpc, y, ys, (size_t)rs * H));
	TRY_RC(DEV(R)->axpy(R->dev, x, ys, (size_t)rs * H, 1.0, R->err));

	/* SwiGLU MLP */
	TRY_RC(wlb_rank_ag(R, R->tpc, x, a->xf2, (size_t)rs * H));
	TRY_RC(gemm(R, 0, 0, rows, 2 * R->F, H, a->xf2, w->w1, a->h, 0));
	TRY_RC(DEV(R)->swiglu_fwd(R->dev, a->h, a->a, rows, R->F, R->err));
	TRY_RC(gemm(R, 0, 0, rows, H, R->F, a->a, w->w2, y, 0));
	TRY_RC(wlb_rank_rs(R, R->tpc, y, ys, (size_t)rs * H));
	return DEV(R)->axpy(R->dev, x, ys, (size_t)rs * H, 1.0, R->err);
}

void wlb_layer_act_free(struct wlb_rank *R, struct wlb_layer_act *a)
{
	void **p[] = {&a->xf, &a->q, &a->kv_all, &a->o, &a->lse, &a->xf2, &a->h, &a->a};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
		if (*p[i])
			DEV(R)->free(R->dev, *p[i]);
		*p[i] = NULL;
	}
}

int wlb_layer_bwd(struct wlb_rank *R, const struct wlb_mb_dev *mb, struct wlb_layer_w *w,
		  struct wlb_layer_act *a, void *dx)
{
	const int rows = mb->rows, rs = rows / R->tp, H = R->H, qw = R->hl * R->d;
	const int kw = R->kvl * R->d, kvw = 2 * kw, acc = !R->fresh;
	void *dyf = wlb_rank_scratch(R, SC_DYF, (size_t)rows * H);
	void *da = wlb_rank_scratch(R, SC_DA, (size_t)rows * R->F);
	void *dh = wlb_rank_scratch(R, SC_DH, (size_t)rows * 2 * R->F);
	void *dxf = wlb_rank_scratch(R, SC_DXF, (size_t)rows * H);
	void *t = wlb_rank_scratch(R, SC_T, (size_t)rs * H);
	void *dout = wlb_rank_scratch(R, SC_DO, (size_t)rows * qw);
	void *dq = wlb_rank_scratch(R, SC_DQ, (size_t)rows * qw);
	void *dkp = wlb_rank_scratch(R, SC_DKP, (size_t)mb->total_k * kw);
	void *dvp = wlb_rank_scratch(R, SC_DVP, (size_t)mb->total_k * kw);
	void *dkvp = wlb_rank_scratch(R, SC_DKVP, (size_t)mb->total_k * kvw);
	void *dkv_all = wlb_rank_scratch(R, SC_DKVALL, (size_t)R->cp * rows * kvw);
	void *dkv = wlb_rank_scratch(R, SC_DKV, (size_t)rows * kvw);
	void *dqkv = wlb_rank_scratch(R, SC_DQKV, (size_t)rows * R->nqkv);
	void *kp, *vp;

	if (!dyf || !da || !dh || !dxf || !t || !dout || !dq || !dkp || !dvp || !dkvp || !dkv_all ||
	    !dkv || !dqkv)
		return R->err->code;

	/* SwiGLU MLP */
	TRY_RC(wlb_rank_ag(R, R->tpc, dx, dyf, (size_t)rs * H));
	TRY_RC(gemm(R, 0, 1, rows, R->F, H, dyf, w->w2, da, 0));
	TRY_RC(gemm(R, 1, 0, R->F, H, rows, a->a, dyf, w->g_w2, acc));
	TRY_RC(DEV(R)->swiglu_bwd(R->dev, a->h, da, dh, rows, R->F, R->err));
	TRY_RC(gemm(R, 0, 1, rows, H, 2 * R->F, dh, w->w1, dxf, 0));
	TRY_RC(gemm(R, 1, 0, H, 2 * R->F, rows, a->xf2, dh, w->g_w1, acc));
	TRY_RC(wlb_rank_rs(R, R->tpc, dxf, t, (size_t)rs * H));
	TRY_RC(DEV(R)->axpy(R->dev, dx, t, (size_t)rs * H, 1.0, R->err));

	/* attention block: dQ on this rank's rows; dK, dV for every key the
	 * pieces read, summed back onto the CP rank that holds the key */
	TRY_RC(wlb_rank_ag(R, R->tpc, dx, dyf, (size_t)rs * H));
	TRY_RC(gemm(R, 0, 1, rows, qw, H, dyf, w->o, dout, 0));
	TRY_RC(gemm(R, 1, 0, qw, H, rows, a->o, dyf, w->g_o, acc));
	TRY_RC(wlb_layer_gather_kv(R, mb, a->kv_all, &kp, &vp));
	TRY_RC(DEV(R)->zero(R->dev, dq, (size_t)rows * qw * R->esz, R->err)); /* padding rows */
	TRY_RC(attn(R, mb, 1, a->q, kp, vp, a->o, a->lse, dout, dq, dkp, dvp));
	char *dkvb = dkvp;
	TRY_RC(DEV(R)->copy2d(R->dev, dkvb, kvw, dkp, kw, mb->total_k, kw, R->err));
	TRY_RC(DEV(R)->copy2d(R->dev, dkvb + (size_t)kw * R->esz, kvw, dvp, kw, mb->total_k, kw, R->err));
	TRY_RC(DEV(R)->zero(R->dev, dkv_all, (size_t)R->cp * rows * kvw * R->esz, R->err));
	TRY_RC(DEV(R)->scatter_add_rows(R->dev, dkv_all, dkvp, mb->kv_idx, mb->total_k, kvw, R->err));
	TRY_RC(wlb_rank_rs(R, R->cpc, dkv_all, dkv, (size_t)rows * kvw));
	char *dqkvb = dqkv;
	TRY_RC(DEV(R)->copy2d(R->dev, dqkvb, R->nqkv, dq, qw, rows, qw, R->err));
	TRY_RC(DEV(R)->copy2d(R->dev, dqkvb + (size_t)qw * R->esz, R->nqkv, dkv, kvw, rows, kvw, R->err));
	TRY_RC(gemm(R, 0, 1, rows, H, R->nqkv, dqkv, w->qkv, dxf, 0));
	TRY_RC(gemm(R, 1, 0, H, R->nqkv, rows, a->xf, dqkv, w->g_qkv, acc));
	TRY_RC(wlb_rank_rs(R, R->tpc, dxf, t, (size_t)rs * H));
	TRY_RC(DEV(R)->axpy(R->dev, dx, t, (size_t)rs * H, 1.0, R->err));
	wlb_layer_act_free(R, a);
	return 0;
}
