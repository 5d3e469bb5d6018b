/* cost_stencil.c — which sampled shapes a GEMM or attention lookup blends,
 * and with what weights (cost_int.h): the shape itself, or its neighbours on
 * each axis of the DB's grid (profiler/shapes.c), weighted linearly in the
 * axis's size.  cost.c evaluates the blend. */
#include "cost_int.h"

#include <math.h>
#include <stdlib.h>

static void stencil_one(struct stencil *s, const void *key, double w)
{
	*s = (struct stencil){1, {key}, {w}};
}

/* out = (1 - f) a + f b */
static void stencil_mix(struct stencil *out, const struct stencil *a, const struct stencil *b, double f)
{
	struct stencil r = {0};
	for (int i = 0; i < a->n && r.n < STENCIL_MAX; i++)
		r.key[r.n] = a->key[i], r.w[r.n++] = (1 - f) * a->w[i];
	for (int i = 0; i < b->n && r.n < STENCIL_MAX; i++)
		r.key[r.n] = b->key[i], r.w[r.n++] = f * b->w[i];
	*out = r;
}

/* The keys of one column (one n) around k: the key at k, or the two either
 * side, weighted linearly in k.  0 when k is outside the column. */
static int gemm_col_stencil(const struct wlb_cost *c, const struct gemm_col *col, int64_t k,
			    struct stencil *s)
{
	const struct gemm_key *g = &c->gemm[col->first];
	size_t lo = 0, hi = col->count - 1;
	struct stencil a, b;

	if (k < g[lo].k || k > g[hi].k)
		return 0;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (g[mid].k <= k)
			lo = mid;
		else
			hi = mid;
	}
	if (g[lo].k == k || g[hi].k == k) {
		stencil_one(s, g[lo].k == k ? &g[lo] : &g[hi], 1);
		return 1;
	}
	stencil_one(&a, &g[lo], 1);
	stencil_one(&b, &g[hi], 1);
	stencil_mix(s, &a, &b, (double)(k - g[lo].k) / (double)(g[hi].k - g[lo].k));
	return 1;
}

/* The keys a GEMM (n, k) blends: its own column if it covers k, else the
 * nearest columns below and above n that do, weighted linearly in n.  A
 * GEMM's FLOPs and bytes are bilinear in (n, k), so this reproduces a
 * roofline exactly; only the bend between its compute and memory limbs is
 * smoothed.  0 when (n, k) is not inside the samples. */
int wlb_cost_gemm_stencil(const struct wlb_cost *c, int64_t n, int64_t k, struct stencil *s)
{
	const struct gemm_col *col = c->gcol;
	size_t nc = c->n_gcol, lo = 0, hi = nc, i, j;
	struct stencil a, b;

	while (lo < hi) { /* the first column of n or more */
		size_t mid = (lo + hi) / 2;
		if (col[mid].n < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < nc && col[lo].n == n && gemm_col_stencil(c, &col[lo], k, s))
		return 1;
	i = lo;
	j = lo < nc && col[lo].n == n ? lo + 1 : lo;
	while (i > 0 && !gemm_col_stencil(c, &col[i - 1], k, &a))
		i--;
	while (j < nc && !gemm_col_stencil(c, &col[j], k, &b))
		j++;
	if (i == 0 || j == nc)
		return 0;
	stencil_mix(s, &a, &b, (double)(n - col[i - 1].n) / (double)(col[j].n - col[i - 1].n));
	return 1;
}

/* A query's KV heads carried over to h query heads: the same grouping
 * (queries per KV head), at least one KV head. */
static double kv_at(int heads, int kv_heads, int h)
{
	double kv = (double)h * kv_heads / heads;
	return kv < 1 ? 1 : kv;
}

/* Keys [b, e) of one (direction, head_dim, heads), by kv_heads: the key at
 * kv, or the two either side, weighted linearly in kv_heads (the K and V
 * bytes a kernel reads).  0 when kv is outside them. */
static int attn_kv_stencil(const struct attn_key *a, size_t b, size_t e, double kv, struct stencil *s)
{
	size_t lo = b;
	struct stencil x, y;

	if (kv < a[b].kv_heads || kv > a[e - 1].kv_heads)
		return 0;
	while (lo + 1 < e && a[lo + 1].kv_heads <= kv)
		lo++;
	if (a[lo].kv_heads == kv) {
		stencil_one(s, &a[lo], 1);
		return 1;
	}
	stencil_one(&x, &a[lo], 1);
	stencil_one(&y, &a[lo + 1], 1);
	stencil_mix(s, &x, &y, (kv - a[lo].kv_heads) / (a[lo + 1].kv_heads - a[lo].kv_heads));
	return 1;
}

/* The keys [b, e) (sorted by head_dim, heads, kv_heads) an attention shape
 * blends on one axis — level 0 head_dim, level 1 heads: the group of keys
 * of its own size if that covers the rest of the shape, else the nearest
 * covering groups either side, weighted linearly in the size (the work of a
 * piece is linear in heads and in head_dim).  0 when not between two. */
static int attn_axis(const struct attn_key *a, size_t b, size_t e, int level, int heads,
		     int kv_heads, int head_dim, struct stencil *s)
{
	int x = level ? heads : head_dim, lo_x = 0, have_lo = 0;
	struct stencil lo_s, t;

	for (size_t g = b; g < e;) {
		int v = level ? a[g].heads : a[g].head_dim;
		size_t ge = g;
		while (ge < e && (level ? a[ge].heads : a[ge].head_dim) == v)
			ge++;
		int ok = level ? attn_kv_stencil(a, g, ge, kv_at(heads, kv_heads, v), &t)
			       : attn_axis(a, g, ge, 1, heads, kv_heads, head_dim, &t);
		g = ge;
		if (!ok)
			continue;
		if (v == x) {
			*s = t;
			return 1;
		}
		if (v < x) {
			lo_s = t;
			lo_x = v;
			have_lo = 1;
			continue;
		}
		if (!have_lo)
			return 0;
		stencil_mix(s, &lo_s, &t, (double)(x - lo_x) / (v - lo_x));
		return 1;
	}
	return 0;
}

/* The stencil of a shape: 1 inside the samples; 2 outside, from the
 * nearest head count of the same head_dim scaled by heads (work is per
 * head); 0 when there is no such key. */
int wlb_cost_attn_stencil(const struct wlb_cost *c, int bwd, int heads, int kv_heads, int head_dim,
			struct stencil *s)
{
	size_t b = 0, e;
	const struct attn_key *near = NULL;

	while (b < c->n_attn && c->attn[b].bwd < bwd)
		b++;
	for (e = b; e < c->n_attn && c->attn[e].bwd == bwd; e++) {
		const struct attn_key *k = &c->attn[e];
		int d = near ? abs(k->heads - heads) - abs(near->heads - heads) : -1;
		if (k->head_dim == head_dim &&
		    (d < 0 || (d == 0 && fabs(k->kv_heads - kv_at(heads, kv_heads, k->heads)) <
					     fabs(near->kv_heads - kv_at(heads, kv_heads, near->heads)))))
			near = k; /* the nearest head count, then the nearest grouping */
	}
	if (attn_axis(c->attn, b, e, 0, heads, kv_heads, head_dim, s))
		return 1;
	if (!near)
		return 0;
	stencil_one(s, near, (double)heads / near->heads);
	return 2;
}
