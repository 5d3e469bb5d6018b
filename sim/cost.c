/* cost.c — time estimates: per-shape monotone interpolants (curve.c) built
 * once from the cost DB's samples, a memo for repeated lookups.  Which
 * sampled shapes a lookup between them blends is cost_stencil.c's; finding
 * the built-in DBs is costfind.c's. */
#include "cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cost_int.h"
#include "curve.h"
#include "model.h"

/* Lower is preferred: a shape measured on this machine beats any other. */
static int source_rank(enum wlb_sample_source s)
{
	static const int rank[] = {[WLB_SRC_MEASURED] = 0, [WLB_SRC_IMPORTED] = 1,
				   [WLB_SRC_PUBLISHED] = 2, [WLB_SRC_ANALYTIC] = 3};
	return rank[s];
}

#define CMP(a, b) do { if ((a) != (b)) return (a) < (b) ? -1 : 1; } while (0)

static int gemm_cmp(const void *a, const void *b)
{
	const struct wlb_gemm_sample *x = a, *y = b;
	CMP(x->n, y->n);
	CMP(x->k, y->k);
	CMP(source_rank(x->source), source_rank(y->source));
	CMP(x->m, y->m);
	return 0;
}

static int attn_cmp(const void *a, const void *b)
{
	const struct wlb_attn_sample *x = a, *y = b;
	CMP(x->bwd, y->bwd);
	CMP(x->head_dim, y->head_dim);
	CMP(x->heads, y->heads);
	CMP(x->kv_heads, y->kv_heads);
	CMP(source_rank(x->source), source_rank(y->source));
	CMP(x->q_len, y->q_len);
	CMP(x->kv_len, y->kv_len);
	return 0;
}

/* A group of `ranks` over `nodes` nodes has this many on its fullest node. */
static int per_node(int ranks, int nodes)
{
	return nodes > 1 ? (ranks + nodes - 1) / nodes : ranks;
}

static int coll_cmp(const void *a, const void *b)
{
	const struct wlb_coll_sample *x = a, *y = b;
	CMP((int)x->op, (int)y->op);
	CMP(x->nodes > 1, y->nodes > 1);
	CMP(per_node(x->ranks, x->nodes), per_node(y->ranks, y->nodes));
	CMP(x->ranks, y->ranks);
	CMP(x->nodes, y->nodes);
	CMP(source_rank(x->source), source_rank(y->source));
	CMP(x->bytes, y->bytes);
	return 0;
}

static int p2p_cmp(const void *a, const void *b)
{
	const struct wlb_p2p_sample *x = a, *y = b;
	CMP(x->inter, y->inter);
	CMP(source_rank(x->source), source_rank(y->source));
	CMP(x->bytes, y->bytes);
	return 0;
}

static int build_gemm(struct wlb_cost *c, struct wlb_gemm_sample *s, size_t n, struct wlb_curve_pt *pts)
{
	if (n) /* qsort of a NULL array is undefined even when empty */
		qsort(s, n, sizeof *s, gemm_cmp);
	if (!(c->gemm = calloc(n ? n : 1, sizeof *c->gemm)))
		return WLB_ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t j = i, np = 0;
		while (j < n && s[j].n == s[i].n && s[j].k == s[i].k) {
			if (s[j].source == s[i].source) /* the best source of this shape only */
				pts[np++] = (struct wlb_curve_pt){(double)s[j].m, s[j].median_us};
			j++;
		}
		struct gemm_key *g = &c->gemm[c->n_gemm++];
		g->n = s[i].n;
		g->k = s[i].k;
		if (wlb_curve_build(&g->c, pts, np, WLB_CURVE_SCALE))
			return WLB_ENOMEM;
		i = j;
	}
	/* columns: the keys of one n (sorted by n, then k) */
	if (!(c->gcol = calloc(c->n_gemm ? c->n_gemm : 1, sizeof *c->gcol)))
		return WLB_ENOMEM;
	for (size_t i = 0; i < c->n_gemm; i++) {
		if (!c->n_gcol || c->gcol[c->n_gcol - 1].n != c->gemm[i].n)
			c->gcol[c->n_gcol++] = (struct gemm_col){c->gemm[i].n, i, 0};
		c->gcol[c->n_gcol - 1].count++;
	}
	return 0;
}

static int same_attn_key(const struct wlb_attn_sample *a, const struct wlb_attn_sample *b)
{
	return a->bwd == b->bwd && a->heads == b->heads && a->kv_heads == b->kv_heads &&
	       a->head_dim == b->head_dim;
}

static int build_attn(struct wlb_cost *c, struct wlb_attn_sample *s, size_t n, struct wlb_curve_pt *pts)
{
	if (n) /* qsort of a NULL array is undefined even when empty */
		qsort(s, n, sizeof *s, attn_cmp);
	if (!(c->attn = calloc(n ? n : 1, sizeof *c->attn)))
		return WLB_ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		struct attn_key *a = &c->attn[c->n_attn++];
		while (j < n && same_attn_key(&s[j], &s[i]))
			j++;
		*a = (struct attn_key){s[i].bwd, s[i].heads, s[i].kv_heads, s[i].head_dim, NULL, 0};
		if (!(a->rows = calloc(j - i, sizeof *a->rows)))
			return WLB_ENOMEM;
		/* rows by q_len, each a curve of per-piece time over kv_len */
		for (size_t r = i; r < j && s[r].source == s[i].source;) {
			size_t e = r, np = 0;
			while (e < j && s[e].source == s[i].source && s[e].q_len == s[r].q_len) {
				pts[np++] = (struct wlb_curve_pt){(double)s[e].kv_len, s[e].median_us / s[e].pieces};
				e++;
			}
			struct attn_row *row = &a->rows[a->n_rows++];
			row->q = s[r].q_len;
			row->lq = log((double)row->q);
			if (wlb_curve_build(&row->c, pts, np, WLB_CURVE_SCALE))
				return WLB_ENOMEM;
			r = e;
		}
		i = j;
	}
	return 0;
}

static int build_coll(struct wlb_cost *c, struct wlb_coll_sample *s, size_t n, struct wlb_curve_pt *pts)
{
	if (n) /* qsort of a NULL array is undefined even when empty */
		qsort(s, n, sizeof *s, coll_cmp);
	if (!(c->coll = calloc(n ? n : 1, sizeof *c->coll)))
		return WLB_ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t j = i, np = 0;
		while (j < n && s[j].op == s[i].op && s[j].ranks == s[i].ranks && s[j].nodes == s[i].nodes) {
			if (s[j].source == s[i].source)
				pts[np++] = (struct wlb_curve_pt){(double)s[j].bytes, s[j].median_us};
			j++;
		}
		struct coll_key *k = &c->coll[c->n_coll++];
		k->op = s[i].op;
		k->ranks = s[i].ranks;
		k->nodes = s[i].nodes;
		k->per_node = per_node(k->ranks, k->nodes);
		if (wlb_curve_build(&k->c, pts, np, WLB_CURVE_ALPHA_BETA))
			return WLB_ENOMEM;
		i = j;
	}
	return 0;
}

static int build_p2p(struct wlb_cost *c, struct wlb_p2p_sample *s, size_t n, struct wlb_curve_pt *pts)
{
	if (n) /* qsort of a NULL array is undefined even when empty */
		qsort(s, n, sizeof *s, p2p_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i, np = 0;
		while (j < n && s[j].inter == s[i].inter) {
			if (s[j].source == s[i].source)
				pts[np++] = (struct wlb_curve_pt){(double)s[j].bytes, s[j].median_us};
			j++;
		}
		int l = s[i].inter != 0;
		c->has_p2p[l] = 1;
		if (wlb_curve_build(&c->p2p[l], pts, np, WLB_CURVE_ALPHA_BETA))
			return WLB_ENOMEM;
		i = j;
	}
	return 0;
}

int wlb_cost_from_data(struct wlb_cost **out, struct wlb_costdb_data *d, const char *name,
		       struct wlb_error *err)
{
	struct wlb_cost *c;
	struct wlb_curve_pt *pts = NULL;
	size_t most = d->n_gemm;
	int rc = WLB_ENOMEM;

	*out = NULL;
	if (!d->has_device) {
		rc = wlb_error_set(err, WLB_EINVAL, "%s: the cost DB has no device row", name);
		goto done;
	}
	most = most > d->n_attn ? most : d->n_attn;
	most = most > d->n_coll ? most : d->n_coll;
	most = most > d->n_p2p ? most : d->n_p2p;
	c = calloc(1, sizeof *c);
	pts = malloc((most ? most : 1) * sizeof *pts);
	if (!c || !pts) {
		free(c);
		goto nomem;
	}
	c->dev = d->device;
	c->memo = calloc((size_t)1 << MEMO_BITS, sizeof *c->memo);
	if (!c->memo || build_gemm(c, d->gemm, d->n_gemm, pts) ||
	    build_attn(c, d->attn, d->n_attn, pts) || build_coll(c, d->coll, d->n_coll, pts) ||
	    build_p2p(c, d->p2p, d->n_p2p, pts)) {
		wlb_cost_destroy(c);
		goto nomem;
	}
	*out = c;
	rc = 0;
	goto done;
nomem:
	rc = wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", name);
done:
	free(pts);
	wlb_costdb_data_free(d);
	return rc;
}

int wlb_cost_load(struct wlb_cost **out, const char *db_path, struct wlb_error *err)
{
	struct wlb_costdb_data d;
	int rc = wlb_costdb_read(db_path, &d, err);
	if (rc) {
		*out = NULL;
		return rc;
	}
	return wlb_cost_from_data(out, &d, db_path, err);
}

int wlb_cost_clone(struct wlb_cost **out, const struct wlb_cost *c)
{
	struct wlb_cost *k = malloc(sizeof *k);

	*out = NULL;
	if (!k)
		return WLB_ENOMEM;
	*k = *c;
	k->is_clone = 1;
	k->extrap = 0;
	memset(k->gcache, 0, sizeof k->gcache);
	memset(k->last, 0, sizeof k->last);
	if (!(k->memo = calloc((size_t)1 << MEMO_BITS, sizeof *k->memo))) {
		free(k);
		return WLB_ENOMEM;
	}
	*out = k;
	return 0;
}

void wlb_cost_destroy(struct wlb_cost *c)
{
	if (!c)
		return;
	if (c->is_clone) {
		free(c->memo);
		free(c);
		return;
	}
	for (size_t i = 0; i < c->n_gemm; i++)
		wlb_curve_free(&c->gemm[i].c);
	for (size_t i = 0; i < c->n_attn; i++) {
		for (size_t r = 0; r < c->attn[i].n_rows; r++)
			wlb_curve_free(&c->attn[i].rows[r].c);
		free(c->attn[i].rows);
	}
	for (size_t i = 0; i < c->n_coll; i++)
		wlb_curve_free(&c->coll[i].c);
	for (int l = 0; l < 2; l++)
		if (c->has_p2p[l])
			wlb_curve_free(&c->p2p[l]);
	free(c->gemm);
	free(c->gcol);
	free(c->attn);
	free(c->coll);
	free(c->memo);
	free(c);
}

const struct wlb_device *wlb_cost_device(const struct wlb_cost *c)
{
	return &c->dev;
}

uint64_t wlb_cost_extrapolations(const struct wlb_cost *c)
{
	return c->extrap;
}

const char *wlb_est_name(enum wlb_est e)
{
	return e == WLB_EST_EXACT ? "exact" : e == WLB_EST_INTERP ? "interpolated" : "extrapolated";
}

/* ---- lookups ---- */

static struct memo *memo_slot(struct wlb_cost *c, uint64_t k0, uint64_t k1, uint64_t k2)
{
	uint64_t h = k0 * 0x9E3779B97F4A7C15ull ^ k1 * 0xC2B2AE3D27D4EB4Full ^ k2 * 0x165667B19E3779F9ull;
	return &c->memo[(h ^ (h >> 29)) & ((1u << MEMO_BITS) - 1)];
}

/* Returns 1 with the memoised value, or 0 leaving the slot to fill. */
static int memo_get(struct memo *m, uint64_t k0, uint64_t k1, uint64_t k2, double *v,
		    enum wlb_est *how)
{
	if (m->k0 != k0 || m->k1 != k1 || m->k2 != k2)
		return 0;
	*v = m->v;
	*how = (enum wlb_est)m->how;
	return 1;
}

static double finish(struct wlb_cost *c, struct memo *m, uint64_t k0, uint64_t k1, uint64_t k2,
		     double v, enum wlb_est h, enum wlb_est *how)
{
	*m = (struct memo){k0, k1, k2, v, (int)h};
	if (h == WLB_EST_EXTRAP)
		c->extrap++;
	if (how)
		*how = h;
	return v;
}

static double gemm_lookup(struct wlb_cost *c, int64_t m, int64_t n, int64_t k, enum wlb_est *h)
{
	struct gemm_cached *e = &c->gcache[((uint64_t)n * 31 + (uint64_t)k) % GEMM_CACHE];
	const struct gemm_key *best = NULL;
	double dist = INFINITY, nk = (double)n * (double)k;

	if (e->n != n || e->k != k) {
		e->n = n;
		e->k = k;
		e->ok = wlb_cost_gemm_stencil(c, n, k, &e->s);
	}
	if (e->ok) { /* the shape itself (exact), or between sampled shapes */
		enum wlb_est worst = e->s.n == 1 ? WLB_EST_EXACT : WLB_EST_INTERP, hk;
		double t = 0, lm = log((double)m);
		for (int i = 0; i < e->s.n; i++) {
			const struct gemm_key *g = e->s.key[i];
			t += e->s.w[i] * exp(wlb_curve_eval_log(&g->c, (double)m, lm, &hk));
			if (hk > worst)
				worst = hk;
		}
		*h = worst;
		return t;
	}
	for (size_t i = 0; i < c->n_gemm; i++) {
		const struct gemm_key *g = &c->gemm[i];
		double d = fabs(log((double)g->n * (double)g->k / nk));
		if (d < dist) {
			dist = d;
			best = g;
		}
	}
	if (!best) { /* no GEMM samples at all: the device's roofline at 70 % */
		*h = WLB_EST_EXTRAP;
		return 2.0 * (double)m * nk / (c->dev.peak_bf16_tflops * 0.7 * 1e6);
	}
	/* outside the samples: the time of the same FLOPs on the nearest shape */
	double t = wlb_curve_eval(&best->c, (double)m * nk / ((double)best->n * (double)best->k), h);
	*h = WLB_EST_EXTRAP;
	return t;
}

double wlb_cost_gemm_us(struct wlb_cost *c, int64_t m, int64_t n, int64_t k, enum wlb_est *how)
{
	uint64_t k0 = (1ull << 60) | (uint64_t)m, k1 = (uint64_t)n, k2 = (uint64_t)k;
	struct memo *slot = memo_slot(c, k0, k1, k2);
	enum wlb_est h;
	double v;

	if (m <= 0 || n <= 0 || k <= 0)
		return finish(c, slot, 0, 0, 0, 0.0, WLB_EST_EXACT, how);
	if (memo_get(slot, k0, k1, k2, &v, &h))
		return finish(c, slot, k0, k1, k2, v, h, how);
	v = gemm_lookup(c, m, n, k, &h);
	return finish(c, slot, k0, k1, k2, v, h, how);
}

/* log time of one piece from the rows of a key: rows are sampled q_len,
 * each a curve over kv_len; between rows, linear in log q. */
static double rows_eval_log(const struct attn_key *a, int64_t q, int64_t kv, enum wlb_est *h)
{
	const struct attn_row *rows = a->rows;
	size_t n = a->n_rows, lo = 0, hi = n - 1;
	double lkv = log((double)kv);

	if (q <= rows[0].q) { /* below the smallest sampled q: the same query tile */
		double x = kv > rows[0].q ? (double)kv : (double)rows[0].q;
		double t = wlb_curve_eval_log(&rows[0].c, x, log(x), h);
		if (q < rows[0].q && *h == WLB_EST_EXACT)
			*h = WLB_EST_INTERP;
		return t;
	}
	if (q >= rows[n - 1].q) {
		const struct attn_row *r = &rows[n - 1];
		double t = wlb_curve_eval_log(&r->c, (double)kv, lkv, h);
		if (q > r->q) { /* more queries than sampled: scale with the tile-padded work */
			*h = WLB_EST_EXTRAP;
			t += log(wlb_tiled_pairs((uint32_t)q, (uint32_t)kv) /
				 wlb_tiled_pairs((uint32_t)r->q, (uint32_t)(kv - q + r->q)));
		}
		return t;
	}
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (rows[mid].q <= q)
			lo = mid;
		else
			hi = mid;
	}
	if (rows[lo].q == q)
		return wlb_curve_eval_log(&rows[lo].c, (double)kv, lkv, h);
	enum wlb_est ha, hb;
	double ta = wlb_curve_eval_log(&rows[lo].c, (double)kv, lkv, &ha);
	double tb = kv > rows[hi].q ? wlb_curve_eval_log(&rows[hi].c, (double)kv, lkv, &hb)
				    : wlb_curve_eval_log(&rows[hi].c, (double)rows[hi].q, rows[hi].lq, &hb);
	double f = (log((double)q) - rows[lo].lq) / (rows[hi].lq - rows[lo].lq);
	*h = ha == WLB_EST_EXTRAP || hb == WLB_EST_EXTRAP ? WLB_EST_EXTRAP : WLB_EST_INTERP;
	return ta + f * (tb - ta);
}

static double attn_lookup(struct wlb_cost *c, int64_t q, int64_t kv, int bwd, int heads,
			  int kv_heads, int head_dim, enum wlb_est *h)
{
	struct attn_cached *e = &c->last[bwd]; /* callers ask about one shape at a time */

	if (!e->valid || e->heads != heads || e->kv_heads != kv_heads || e->head_dim != head_dim) {
		*e = (struct attn_cached){1, heads, kv_heads, head_dim, 0, {0, {0}, {0}}};
		e->ok = wlb_cost_attn_stencil(c, bwd, heads, kv_heads, head_dim, &e->s);
	}
	if (!e->ok) { /* nothing sampled: FlashAttention-2-class roofline */
		*h = WLB_EST_EXTRAP;
		return (bwd ? 2.5 : 1.0) * 4.0 * head_dim * heads * wlb_tiled_pairs((uint32_t)q, (uint32_t)kv) /
		       (c->dev.peak_bf16_tflops * 0.35 * 1e6);
	}
	if (e->s.n == 1 && e->ok == 1)
		return exp(rows_eval_log(e->s.key[0], q, kv, h));
	enum wlb_est worst = e->ok == 2 ? WLB_EST_EXTRAP : WLB_EST_INTERP, hk;
	double t = 0;
	for (int i = 0; i < e->s.n; i++) {
		t += e->s.w[i] * exp(rows_eval_log(e->s.key[i], q, kv, &hk));
		if (hk > worst)
			worst = hk;
	}
	*h = worst;
	return t;
}

double wlb_cost_attn_piece_us(struct wlb_cost *c, int64_t q_len, int64_t kv_len, int bwd,
			      int heads, int kv_heads, int head_dim, enum wlb_est *how)
{
	uint64_t k0 = (2ull << 60) | ((uint64_t)(bwd != 0) << 59) | ((uint64_t)heads << 40) |
		      ((uint64_t)kv_heads << 20) | (uint64_t)head_dim;
	struct memo *slot = memo_slot(c, k0, (uint64_t)q_len, (uint64_t)kv_len);
	enum wlb_est h;
	double v;

	if (q_len <= 0)
		return finish(c, slot, 0, 0, 0, 0.0, WLB_EST_EXACT, how);
	if (kv_len < q_len)
		kv_len = q_len;
	if (memo_get(slot, k0, (uint64_t)q_len, (uint64_t)kv_len, &v, &h))
		return finish(c, slot, k0, (uint64_t)q_len, (uint64_t)kv_len, v, h, how);
	v = attn_lookup(c, q_len, kv_len, bwd != 0, heads, kv_heads, head_dim, &h);
	return finish(c, slot, k0, (uint64_t)q_len, (uint64_t)kv_len, v, h, how);
}

double wlb_cost_attn_us(struct wlb_cost *c, const struct wlb_piece *p, size_t n, int bwd,
			int heads, int kv_heads, int head_dim, enum wlb_est *how)
{
	enum wlb_est worst = WLB_EST_EXACT, h;
	double t = 0;

	for (size_t i = 0; i < n; i++) {
		t += wlb_cost_attn_piece_us(c, p[i].q_len, p[i].kv_len, bwd, heads, kv_heads, head_dim, &h);
		if (h > worst)
			worst = h;
	}
	if (how)
		*how = worst;
	return t;
}

/* The time of `ranks` on the column of keys of one kind — op, in a node or
 * across nodes, and then `per` ranks on the fullest node: the key of that
 * many ranks, or the two either side, linear in nccl-tests' bus factor (at
 * one bus bandwidth, time grows with it).  0 when not between two. */
static int coll_column(const struct wlb_cost *c, enum wlb_coll_op op, int spans, int per, int ranks,
		       int64_t bytes, double *t, enum wlb_est *h)
{
	const struct coll_key *lo = NULL, *hi = NULL;
	enum wlb_est ha, hb;

	for (size_t i = 0; i < c->n_coll && !hi; i++) { /* sorted by ranks in a column */
		const struct coll_key *k = &c->coll[i];
		if (k->op != op || (k->nodes > 1) != spans || (spans && k->per_node != per) || k->ranks < 2)
			continue;
		if (k->ranks <= ranks)
			lo = k;
		else
			hi = k;
	}
	if (lo && lo->ranks == ranks) {
		*t = wlb_curve_eval(&lo->c, (double)bytes, h); /* another node count */
		if (*h == WLB_EST_EXACT)
			*h = WLB_EST_INTERP;
		return 1;
	}
	if (!lo || !hi)
		return 0;
	double ta = wlb_curve_eval(&lo->c, (double)bytes, &ha), tb = wlb_curve_eval(&hi->c, (double)bytes, &hb);
	double fa = wlb_coll_busbw_factor(op, lo->ranks), fb = wlb_coll_busbw_factor(op, hi->ranks);
	*t = ta + (tb - ta) * (wlb_coll_busbw_factor(op, ranks) - fa) / (fb - fa);
	*h = ha == WLB_EST_EXTRAP || hb == WLB_EST_EXTRAP ? WLB_EST_EXTRAP : WLB_EST_INTERP;
	return 1;
}

static double coll_lookup(const struct wlb_cost *c, enum wlb_coll_op op, int64_t bytes, int ranks,
			  int nodes, enum wlb_est *h)
{
	const struct coll_key *near = NULL;
	int spans = nodes > 1, per = per_node(ranks, nodes), p0 = 0, p1 = 0;
	double t, t0 = 0, t1 = 0;
	enum wlb_est h0 = WLB_EST_EXACT, h1 = WLB_EST_EXACT;

	for (size_t i = 0; i < c->n_coll; i++) {
		const struct coll_key *k = &c->coll[i];
		if (k->op != op)
			continue;
		if (k->ranks == ranks && k->nodes == nodes)
			return wlb_curve_eval(&k->c, (double)bytes, h);
		/* the same kind of link with the nearest group size, if need be */
		if ((k->nodes > 1) == spans && k->ranks > 1 &&
		    (!near || abs(k->ranks - ranks) < abs(near->ranks - ranks)))
			near = k;
	}
	/* between group sizes sampled with as many ranks on a node */
	if (coll_column(c, op, spans, per, ranks, bytes, &t, h))
		return t;
	/* across nodes, between the nearest counts of ranks per node sampled on
	 * either side, at as many nodes: log-log in the count (a node's ranks
	 * drive a NIC each, so the bandwidth grows with them) */
	for (size_t i = 0; spans && i < c->n_coll && !p1; i++) {
		const struct coll_key *k = &c->coll[i], *prev = i ? k - 1 : NULL;
		int p = k->per_node;
		if (k->op != op || k->nodes < 2 || p == per ||
		    (prev && prev->op == op && prev->nodes > 1 && prev->per_node == p))
			continue; /* one try per count (sorted by it) */
		if (p < per && coll_column(c, op, 1, p, p * nodes, bytes, &t0, &h0))
			p0 = p;
		else if (p > per && p0 && coll_column(c, op, 1, p, p * nodes, bytes, &t1, &h1))
			p1 = p;
	}
	if (p1) {
		*h = h0 == WLB_EST_EXTRAP || h1 == WLB_EST_EXTRAP ? WLB_EST_EXTRAP : WLB_EST_INTERP;
		return exp(log(t0) + (log(t1) - log(t0)) * log((double)per / p0) / log((double)p1 / p0));
	}
	if (near) { /* same bus bandwidth: time scales with nccl-tests' bus factor */
		t = wlb_curve_eval(&near->c, (double)bytes, h);
		*h = WLB_EST_EXTRAP;
		return t * wlb_coll_busbw_factor(op, ranks) / wlb_coll_busbw_factor(op, near->ranks);
	}
	*h = WLB_EST_EXTRAP; /* nothing sampled: the device's links, alpha-beta */
	double bw = spans ? c->dev.net_gbps : c->dev.nvlink_gbps;
	double lat = spans ? c->dev.net_lat_us : c->dev.nvlink_lat_us;
	return lat + (double)bytes * wlb_coll_busbw_factor(op, ranks) / (bw * 1e3);
}

double wlb_cost_coll_us(struct wlb_cost *c, enum wlb_coll_op op, int64_t bytes, int ranks,
			int nodes, enum wlb_est *how)
{
	uint64_t k0 = (3ull << 60) | ((uint64_t)op << 40) | ((uint64_t)ranks << 20) | (uint64_t)nodes;
	struct memo *slot = memo_slot(c, k0, (uint64_t)bytes, 0);
	enum wlb_est h;
	double v;

	if (ranks <= 1 || bytes <= 0)
		return finish(c, slot, 0, 0, 0, 0.0, WLB_EST_EXACT, how);
	if (memo_get(slot, k0, (uint64_t)bytes, 0, &v, &h))
		return finish(c, slot, k0, (uint64_t)bytes, 0, v, h, how);
	v = coll_lookup(c, op, bytes, ranks, nodes < 1 ? 1 : nodes, &h);
	return finish(c, slot, k0, (uint64_t)bytes, 0, v, h, how);
}

double wlb_cost_p2p_us(struct wlb_cost *c, int64_t bytes, int inter, enum wlb_est *how)
{
	int l = inter != 0;
	enum wlb_est h;
	double v;

	if (bytes <= 0)
		v = 0, h = WLB_EST_EXACT;
	else if (c->has_p2p[l])
		v = wlb_curve_eval(&c->p2p[l], (double)bytes, &h);
	else {
		h = WLB_EST_EXTRAP;
		v = (l ? c->dev.net_lat_us : c->dev.nvlink_lat_us) +
		    (double)bytes / ((l ? c->dev.net_gbps : c->dev.nvlink_gbps) * 1e3);
	}
	if (h == WLB_EST_EXTRAP)
		c->extrap++;
	if (how)
		*how = h;
	return v;
}

/* Element-wise kernels stream their bytes through HBM at ~80 % of its peak
 * (STREAM-like copies on H100 reach 2.6-2.9 TB/s of 3.35), plus a launch. */
double wlb_cost_elementwise_us(struct wlb_cost *c, double bytes)
{
	if (bytes <= 0)
		return 0;
	return 2.0 + bytes / (0.8 * c->dev.hbm_gbps * 1e3);
}
