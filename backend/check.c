/* check.c — wlb-run --check: for every micro-batch of the plan that this
 * rank's CP group holds, under both static layouts and hybrid's (per-seq,
 * per-doc, hybrid, computed by libwlb's sharder) and under the plan's own, the layout the
 * device uses must give back exactly libwlb's piece lists, and the
 * CP-sharded attention — K and V all-gathered over the CP group, the
 * rank's pieces, dK and dV reduce-scattered back — must equal unsharded
 * attention of the whole micro-batch computed here in float64 from the
 * same (device-rounded) inputs: forward output and dQ, dK, dV, within the
 * device's tolerance, relative to the largest reference value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "exec_int.h"

/* Input value of tensor which at (document id, position, head, dim). */
static double value(uint64_t seed, int which, uint32_t doc, uint32_t pos, int head, int dim)
{
	uint64_t z = seed ^ ((uint64_t)which << 60) ^ ((uint64_t)doc << 36) ^ ((uint64_t)pos << 12) ^
		     ((uint64_t)head << 7) ^ (uint64_t)dim;
	return wlb_unit64(z + 0x9E3779B97F4A7C15ull);
}

/* The unsharded reference's arrays, grow-only across micro-batches. */
enum { F_Q, F_K, F_V, F_O, F_LSE, F_DOUT, F_DQ, F_DK, F_DV, F_GOT, F_N };

struct ref {
	double *a[F_N];
	size_t cap[F_N];
};

static int grow(struct ref *f, int i, size_t n)
{
	if (n <= f->cap[i])
		return 0;
	double *x = realloc(f->a[i], n * sizeof *x);
	if (!x)
		return -1;
	f->a[i] = x;
	f->cap[i] = n;
	return 0;
}

/* Round host values through the device's element type. */
static int round_dev(struct wlb_rank *R, double *x, size_t n, void *buf)
{
	TRY_RC(DEV(R)->upload(R->dev, buf, x, n, R->err));
	return DEV(R)->download(R->dev, x, buf, n, R->err);
}

static double rel_err(const double *got, const double *want, size_t n, double scale)
{
	double e = 0;
	for (size_t i = 0; i < n; i++)
		e = fmax(e, fabs(got[i] - want[i]));
	return scale > 0 ? e / scale : e;
}

/* The device layout must give back the pieces: rows cu_q[j] .. cu_q[j+1]
 * of one document at consecutive positions ending at kv_len - 1. */
static int check_pieces(struct wlb_rank *R, const struct wlb_mb_dev *mb, const struct wlb_doc *docs,
			const struct wlb_piece *want, size_t n_want)
{
	const struct wlb_layout *l = &R->lay;
	size_t n = (size_t)mb->n_pieces + 1;
	int *cq = malloc(n * sizeof *cq), *ck = malloc(n * sizeof *ck), rc = 0;
	if (!cq || !ck) {
		free(cq);
		free(ck);
		return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
	}
	if ((rc = DEV(R)->get(R->dev, cq, mb->cu_q, n * sizeof *cq, R->err)) ||
	    (rc = DEV(R)->get(R->dev, ck, mb->cu_k, n * sizeof *ck, R->err)))
		goto out;
	if ((size_t)mb->n_pieces != n_want)
		rc = wlb_error_set(R->err, WLB_EINVAL, "check: %d pieces on the device, libwlb has %zu",
				   mb->n_pieces, n_want);
	for (size_t j = 0; !rc && j < n_want; j++) {
		int q = cq[j + 1] - cq[j], kv = ck[j + 1] - ck[j];
		uint32_t d = l->row_doc[cq[j]];
		int ok = q > 0 && docs[d].id == want[j].doc && (uint32_t)q == want[j].q_len &&
			 (uint32_t)kv == want[j].kv_len;
		for (int i = 0; ok && i < q; i++)
			ok = l->row_doc[cq[j] + i] == d && l->row_pos[cq[j] + i] == (uint32_t)(kv - q + i);
		if (!ok)
			rc = wlb_error_set(R->err, WLB_EINVAL,
					   "check: piece %zu on the device is (doc %u, q %d, kv %d), libwlb "
					   "has (doc %u, q %u, kv %u)", j, docs[d].id, q, kv, want[j].doc,
					   want[j].q_len, want[j].kv_len);
	}
out:
	free(cq);
	free(ck);
	return rc;
}

/* The unsharded reference of a micro-batch: every document whole, this TP
 * rank's heads, inputs rounded through the device's element type. */
static int reference(struct wlb_rank *R, struct ref *f, const struct wlb_doc *docs, uint32_t nd)
{
	const int hl = R->hl, kvl = R->kvl, d = R->d, qw = hl * d, kw = kvl * d;
	uint64_t total = 0;
	void *buf = NULL;
	int *cu = NULL, rc = 0;

	for (uint32_t i = 0; i < nd; i++)
		total += docs[i].len;
	size_t nq = total * qw, nk = total * kw;
	size_t need[F_N] = {nq, nk, nk, nq, (size_t)hl * total, nq, nq, nk, nk, nq + 2 * nk};
	for (int i = 0; i < F_N; i++)
		if (grow(f, i, need[i] + 1))
			return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
	double *fq = f->a[F_Q], *fk = f->a[F_K], *fv = f->a[F_V], *fdo = f->a[F_DOUT];
	if (!(cu = malloc(sizeof *cu * ((size_t)nd + 1))))
		return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
	cu[0] = 0;
	for (uint32_t i = 0, t = 0; i < nd; i++) {
		for (uint32_t p = 0; p < docs[i].len; p++, t++) {
			for (int h = 0; h < hl; h++)
				for (int e = 0; e < d; e++) {
					size_t at = ((size_t)t * hl + h) * d + e;
					fq[at] = value(R->seed, 0, docs[i].id, p, R->tp_i * hl + h, e);
					fdo[at] = value(R->seed, 3, docs[i].id, p, R->tp_i * hl + h, e);
				}
			for (int h = 0; h < kvl; h++)
				for (int e = 0; e < d; e++) {
					size_t at = ((size_t)t * kvl + h) * d + e;
					fk[at] = value(R->seed, 1, docs[i].id, p, R->tp_i * kvl + h, e);
					fv[at] = value(R->seed, 2, docs[i].id, p, R->tp_i * kvl + h, e);
				}
		}
		cu[i + 1] = cu[i] + (int)docs[i].len;
	}
	if (!(buf = DEV(R)->alloc(R->dev, (nq > nk ? nq : nk) * R->esz + 16, R->err)))
		rc = R->err->code;
	if (!rc && !(rc = round_dev(R, fq, nq, buf)) && !(rc = round_dev(R, fk, nk, buf)) &&
	    !(rc = round_dev(R, fv, nk, buf)) && !(rc = round_dev(R, fdo, nq, buf))) {
		struct wlb_attn_shape s = {(int)nd, cu, cu, hl, kvl, d, 1 / sqrt((double)d)};
		wlb_attn_ref_fwd(&s, fq, fk, fv, f->a[F_O], f->a[F_LSE]);
		wlb_attn_ref_bwd(&s, fq, fk, fv, f->a[F_O], f->a[F_LSE], fdo, f->a[F_DQ], f->a[F_DK],
				 f->a[F_DV]);
	}
	if (buf)
		DEV(R)->free(R->dev, buf);
	free(cu);
	return rc;
}

/* One micro-batch under one sharding against its reference f: pieces, then
 * numerics. */
static int check_mb(struct wlb_rank *R, struct ref *f, const struct wlb_doc *docs, uint32_t nd,
		    const struct wlb_piece *pieces, const size_t *start, uint32_t tokens_rank,
		    struct wlb_exec_result *x)
{
	const int hl = R->hl, kvl = R->kvl, d = R->d, qw = hl * d, kw = kvl * d;
	struct wlb_mb_dev mb = {0};
	void *q, *kv, *kv_all, *o, *dout, *dq, *dkp, *dvp, *dkvp, *dkv_all, *dkv;
	void *kp, *vp, *lse = NULL;
	int rc;

	TRY_RC(wlb_layout_build(&R->lay, docs, nd, pieces, start, R->cp, R->cp_i, tokens_rank, R->tp,
				R->err));
	const struct wlb_layout *l = &R->lay;
	const int rows = l->rows, real = l->real;
	if (R->cp_i == 0 && l->n_pieces && l->cu_k[l->n_pieces] > 1 && wlb_run_fault("kv")) {
		int *idx = R->lay.kv_idx, last = l->cu_k[l->n_pieces] - 1, tmp = idx[0];
		idx[0] = idx[last];
		idx[last] = tmp;
	}
	uint64_t total = 0;
	for (uint32_t i = 0; i < nd; i++)
		total += docs[i].len;
	size_t nq = total * qw, nk = total * kw;
	double *fq = f->a[F_Q], *fk = f->a[F_K], *fv = f->a[F_V], *fo = f->a[F_O];
	double *fdo = f->a[F_DOUT], *fdq = f->a[F_DQ], *fdk = f->a[F_DK], *fdv = f->a[F_DV];
	if ((rc = wlb_rank_mb_upload(R, l, &mb)) ||
	    (rc = check_pieces(R, &mb, docs, pieces + start[R->cp_i], start[R->cp_i + 1] - start[R->cp_i])))
		goto out;
	x->check_layouts++;

	/* this rank's rows of the inputs, from the reference's */
	uint64_t *at = calloc((size_t)rows + 1, sizeof *at);
	double *hq = calloc((size_t)rows * qw + 1, sizeof *hq), *hkv = calloc((size_t)rows * 2 * kw + 1, sizeof *hkv);
	double *hdo = calloc((size_t)rows * qw + 1, sizeof *hdo);
	if (!at || !hq || !hkv || !hdo) {
		rc = wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
		goto free_host;
	}
	for (int i = 0; i < real; i++) {
		at[i] = l->doc_start[l->row_doc[i]] + l->row_pos[i];
		memcpy(hq + (size_t)i * qw, fq + at[i] * qw, sizeof *hq * qw);
		memcpy(hdo + (size_t)i * qw, fdo + at[i] * qw, sizeof *hdo * qw);
		memcpy(hkv + (size_t)i * 2 * kw, fk + at[i] * kw, sizeof *hkv * kw);
		memcpy(hkv + (size_t)i * 2 * kw + kw, fv + at[i] * kw, sizeof *hkv * kw);
	}
	q = wlb_rank_scratch(R, SC_QKV, (size_t)rows * qw);
	kv = wlb_rank_scratch(R, SC_KV, (size_t)rows * 2 * kw);
	kv_all = wlb_rank_scratch(R, SC_Y, (size_t)R->cp * rows * 2 * kw);
	o = wlb_rank_scratch(R, SC_YS, (size_t)rows * qw);
	dout = wlb_rank_scratch(R, SC_DO, (size_t)rows * qw);
	dq = wlb_rank_scratch(R, SC_DQ, (size_t)rows * qw);
	dkp = wlb_rank_scratch(R, SC_DKP, (size_t)mb.total_k * kw);
	dvp = wlb_rank_scratch(R, SC_DVP, (size_t)mb.total_k * kw);
	dkvp = wlb_rank_scratch(R, SC_DA, (size_t)mb.total_k * 2 * kw);
	dkv_all = wlb_rank_scratch(R, SC_DKVALL, (size_t)R->cp * rows * 2 * kw);
	dkv = wlb_rank_scratch(R, SC_DKV, (size_t)rows * 2 * kw);
	lse = DEV(R)->alloc(R->dev, ((size_t)hl * real + 1) * R->dev->lse_size, R->err);
	if (!q || !kv || !kv_all || !o || !dout || !dq || !dkp || !dvp || !dkvp || !dkv_all || !dkv || !lse) {
		rc = R->err->code;
		goto free_host;
	}
	struct wlb_dev_attn sa = {mb.n_pieces, mb.cu_q, mb.cu_k, mb.max_q, mb.max_k, real, mb.total_k,
				  hl, kvl, d, 1 / sqrt((double)d)};
	char *dkvb = dkvp;
	if ((rc = DEV(R)->upload(R->dev, q, hq, (size_t)rows * qw, R->err)) ||
	    (rc = DEV(R)->upload(R->dev, kv, hkv, (size_t)rows * 2 * kw, R->err)) ||
	    (rc = DEV(R)->upload(R->dev, dout, hdo, (size_t)rows * qw, R->err)) ||
	    (rc = R->cpc->ops->all_gather(R->cpc, kv, kv_all, (size_t)rows * 2 * kw, R->dev->dtype, R->err)) ||
	    (rc = wlb_layer_gather_kv(R, &mb, kv_all, &kp, &vp)) ||
	    (mb.n_pieces && (rc = DEV(R)->attn_fwd(R->dev, &sa, q, kp, vp, o, lse, R->err))) ||
	    (mb.n_pieces && (rc = DEV(R)->attn_bwd(R->dev, &sa, q, kp, vp, o, lse, dout, dq, dkp, dvp, R->err))) ||
	    (rc = DEV(R)->copy2d(R->dev, dkvb, 2 * kw, dkp, kw, mb.total_k, kw, R->err)) ||
	    (rc = DEV(R)->copy2d(R->dev, dkvb + (size_t)kw * R->esz, 2 * kw, dvp, kw, mb.total_k, kw, R->err)) ||
	    (rc = DEV(R)->zero(R->dev, dkv_all, (size_t)R->cp * rows * 2 * kw * R->esz, R->err)) ||
	    (rc = DEV(R)->scatter_add_rows(R->dev, dkv_all, dkvp, mb.kv_idx, mb.total_k, 2 * kw, R->err)) ||
	    (rc = R->cpc->ops->reduce_scatter(R->cpc, dkv_all, dkv, (size_t)rows * 2 * kw, R->dev->dtype, R->err)))
		goto free_host;

	/* compare this rank's rows: O, dQ, then dK and dV */
	double *g = f->a[F_GOT], scale[4] = {0, 0, 0, 0}, *want[4] = {fo, fdq, fdk, fdv};
	size_t len[4] = {nq, nq, nk, nk};
	for (int k = 0; k < 4; k++)
		for (size_t i = 0; i < len[k]; i++)
			scale[k] = fmax(scale[k], fabs(want[k][i]));
	if ((rc = DEV(R)->download(R->dev, g, o, (size_t)real * qw, R->err)))
		goto free_host;
	for (int i = 0; i < real; i++)
		x->check_err[0] = fmax(x->check_err[0], rel_err(g + (size_t)i * qw, fo + at[i] * qw, qw, scale[0]));
	if ((rc = DEV(R)->download(R->dev, g, dq, (size_t)real * qw, R->err)))
		goto free_host;
	for (int i = 0; i < real; i++)
		x->check_err[1] = fmax(x->check_err[1], rel_err(g + (size_t)i * qw, fdq + at[i] * qw, qw, scale[1]));
	if ((rc = DEV(R)->download(R->dev, g, dkv, (size_t)real * 2 * kw, R->err)))
		goto free_host;
	for (int i = 0; i < real; i++) {
		const double *row = g + (size_t)i * 2 * kw;
		x->check_err[2] = fmax(x->check_err[2], rel_err(row, fdk + at[i] * kw, kw, scale[2]));
		x->check_err[3] = fmax(x->check_err[3], rel_err(row + kw, fdv + at[i] * kw, kw, scale[3]));
	}
free_host:
	free(at);
	free(hq);
	free(hkv);
	free(hdo);
	if (lse)
		DEV(R)->free(R->dev, lse);
out:
	wlb_rank_mb_free(R, &mb);
	return rc;
}

int wlb_check_run(struct wlb_rank *R, struct wlb_exec_result *x)
{
	const struct wlb_plan *p = R->plan;
	struct wlb_sharding sh;
	struct ref f = {0};
	int rc = 0;

	if (wlb_sharding_init(&sh, R->cp))
		return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
	for (size_t it = 0; it < p->n_iters && !rc; it++)
		for (int k = 0; k < R->m && !rc; k++) {
			const struct wlb_plan_mb *pm = wlb_plan_mb(p, it, R->dp_i, k);
			const struct wlb_doc *docs = p->docs + pm->first_doc;
			if ((rc = reference(R, &f, docs, pm->n_docs)))
				break;
			rc = check_mb(R, &f, docs, pm->n_docs, p->pieces, p->start + pm->first_start,
				      pm->tokens_rank, x);
			/* the static layouts, and hybrid's (tile-padded yardstick) */
			static const enum wlb_shard_kind kinds[] = {WLB_SHARD_PER_SEQ, WLB_SHARD_PER_DOC,
								    WLB_SHARD_HYBRID};
			for (int kind = 0; kind < 3 && !rc; kind++) {
				if (wlb_shard(&sh, kinds[kind], docs, pm->n_docs, NULL)) {
					rc = wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
					break;
				}
				rc = check_mb(R, &f, docs, pm->n_docs, sh.pieces, sh.rank_start,
					      sh.tokens_per_rank, x);
			}
			if (!rc)
				rc = R->world->ops->barrier(R->world, R->err);
		}
	for (int i = 0; i < F_N; i++)
		free(f.a[i]);
	wlb_sharding_free(&sh);
	return rc;
}
