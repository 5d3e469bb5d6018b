/* shard.c — per-seq, per-doc and adaptive CP sharding into attention pieces
 * (hybrid's search: shard_hybrid.c). */
#include "shard.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "model.h"
#include "shard_int.h"

static const char *const names[] = {"per-seq", "per-doc", "adaptive", "hybrid"};

int wlb_shard_parse(const char *name, enum wlb_shard_kind *out)
{
	for (int k = 0; k < 4; k++)
		if (!strcmp(name, names[k])) {
			*out = (enum wlb_shard_kind)k;
			return 0;
		}
	return WLB_EINVAL;
}

const char *wlb_shard_name(enum wlb_shard_kind k)
{
	return (unsigned)k < 4 ? names[k] : "?";
}

double wlb_tiled_pairs(uint32_t q_len, uint32_t kv_len)
{
	double q = q_len, qt = (double)((q_len + WLB_ATTN_TILE - 1) / WLB_ATTN_TILE * WLB_ATTN_TILE);
	return wlb_pairs(qt, kv_len + (qt - q));
}

static double tiled_rank_cost(const struct wlb_shard_estimate *e, const struct wlb_piece *p,
			      size_t n)
{
	double t = 0;
	(void)e;
	for (size_t i = 0; i < n; i++)
		t += wlb_tiled_pairs(p[i].q_len, p[i].kv_len);
	return t;
}

const struct wlb_shard_estimate wlb_shard_tiled_pairs = {tiled_rank_cost, NULL};

int wlb_sharding_init(struct wlb_sharding *s, int cp)
{
	memset(s, 0, sizeof *s);
	if (cp < 1)
		return WLB_EINVAL;
	s->cp = cp;
	s->rank_start = calloc((size_t)cp + 1, sizeof *s->rank_start);
	s->rank_tokens = calloc((size_t)cp, sizeof *s->rank_tokens);
	s->rank_cost = calloc((size_t)cp, sizeof *s->rank_cost);
	s->steps = calloc((size_t)cp, sizeof *s->steps);
	int bad = !s->rank_start || !s->rank_tokens || !s->rank_cost || !s->steps;
	for (struct wlb_shard_buf *b = &s->alt; b <= &s->hyb; b++) {
		b->start = calloc((size_t)cp + 1, sizeof *b->start);
		b->tokens = calloc((size_t)cp, sizeof *b->tokens);
		b->cost = calloc((size_t)cp, sizeof *b->cost);
		bad |= !b->start || !b->tokens || !b->cost;
	}
	if (bad) {
		wlb_sharding_free(s);
		return WLB_ENOMEM;
	}
	return 0;
}

void wlb_sharding_free(struct wlb_sharding *s)
{
	free(s->rank_start);
	free(s->rank_tokens);
	free(s->rank_cost);
	free(s->pieces);
	for (struct wlb_shard_buf *b = &s->alt; b <= &s->hyb; b++) {
		free(b->pieces);
		free(b->start);
		free(b->tokens);
		free(b->cost);
		free(b->src);
	}
	free(s->start);
	free(s->size);
	free(s->cstart);
	free(s->steps);
	free(s->src);
	free(s->by_len);
	free(s->whole);
	free(s->wdocs);
	free(s->wstart);
	free(s->ptr);
	wlb_source_scratch_free(&s->src_x);
	memset(s, 0, sizeof *s);
}

int wlb_layout_put(struct wlb_layout_out *l, uint32_t doc, uint32_t q, uint32_t kv)
{
	if (q == 0)
		return 0;
	if (WLB_GROW(*l->p, *l->cap, l->n + 1))
		return WLB_ENOMEM;
	(*l->p)[l->n++] = (struct wlb_piece){doc, q, kv};
	return 0;
}

/* The first document overlapping the chunk is found by bisection. */
int wlb_layout_seq_chunk(struct wlb_layout_out *l, const struct wlb_doc *docs, const uint64_t *start,
			 size_t n, uint64_t a, uint64_t b, uint32_t *tokens)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* first i with start[i] + len > a */
		size_t mid = (lo + hi) / 2;
		if (start[mid] + docs[mid].len <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < n && start[i] < b; i++) {
		uint64_t qs = start[i] > a ? start[i] : a;
		uint64_t qe = start[i] + docs[i].len < b ? start[i] + docs[i].len : b;
		if (wlb_layout_put(l, docs[i].id, (uint32_t)(qe - qs), (uint32_t)(qe - start[i])))
			return WLB_ENOMEM;
		*tokens += (uint32_t)(qe - qs);
	}
	return 0;
}

static int per_seq(struct wlb_sharding *s, struct wlb_layout_out *l, const struct wlb_doc *docs,
		   size_t n, uint64_t total)
{
	uint32_t slots = 2u * (uint32_t)s->cp;
	uint64_t chunk = (total + slots - 1) / slots;

	if (WLB_GROW(s->start, s->cap_start, n ? n : 1))
		return WLB_ENOMEM;
	for (size_t i = 0, at = 0; i < n; at += docs[i++].len)
		s->start[i] = at;
	for (int r = 0; r < s->cp; r++) {
		l->start[r] = l->n;
		l->tokens[r] = 0;
		if (wlb_layout_seq_chunk(l, docs, s->start, n, r * chunk, (r + 1) * chunk, &l->tokens[r]) ||
		    wlb_layout_seq_chunk(l, docs, s->start, n, (slots - 1 - r) * chunk, (slots - r) * chunk,
					 &l->tokens[r]))
			return WLB_ENOMEM;
	}
	l->start[s->cp] = l->n;
	return 0;
}

/* Each document in 2cp chunks; its remainder tokens go one each to the slots
 * from a round-robin pointer that carries across documents.  One pass over the
 * documents writes rank r's pieces into its own region [2nr, 2n(r+1)), then
 * the regions are closed up. */
static int per_doc(struct wlb_sharding *s, struct wlb_layout_out *l, const struct wlb_doc *docs,
		   size_t n)
{
	uint32_t slots = 2u * (uint32_t)s->cp, ptr = 0;
	size_t region = 2 * n, at = 0;
	struct wlb_piece *p;

	if (WLB_GROW(s->size, s->cap_size, slots) || WLB_GROW(s->cstart, s->cap_cstart, slots) ||
	    WLB_GROW(*l->p, *l->cap, region * (size_t)s->cp + 1))
		return WLB_ENOMEM;
	p = *l->p;
	for (int r = 0; r < s->cp; r++) {
		l->start[r] = region * (size_t)r; /* a cursor during the pass */
		l->tokens[r] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t len = docs[i].len, base = len / slots, rem = len % slots, pos = 0;
		for (uint32_t j = 0; j < slots; j++) {
			uint32_t off = (j + slots - ptr) % slots; /* j in [ptr, ptr + rem) mod slots */
			s->size[j] = base + (off < rem);
			s->cstart[j] = pos;
			pos += s->size[j];
		}
		ptr = (ptr + rem) % slots;
		for (uint32_t r = 0; r < (uint32_t)s->cp; r++) {
			uint32_t pair[2] = {r, slots - 1 - r};
			for (int h = 0; h < 2; h++) {
				uint32_t q = s->size[pair[h]];
				if (q == 0)
					continue;
				p[l->start[r]++] = (struct wlb_piece){docs[i].id, q, s->cstart[pair[h]] + q};
				l->tokens[r] += q;
			}
		}
	}
	for (int r = 0; r < s->cp; r++) {
		size_t from = region * (size_t)r, cnt = l->start[r] - from;
		memmove(p + at, p + from, cnt * sizeof *p);
		l->start[r] = at;
		at += cnt;
	}
	l->start[s->cp] = at;
	l->n = at;
	return 0;
}

static double max_rank_cost(const struct wlb_shard_estimate *est, const struct wlb_piece *p,
			    const size_t *start, int cp, double *cost)
{
	double mx = 0;
	for (int r = 0; r < cp; r++) {
		double c = est->rank_cost(est, p + start[r], start[r + 1] - start[r]);
		if (cost)
			cost[r] = c;
		if (c > mx)
			mx = c;
	}
	return mx;
}

void wlb_source_scratch_free(struct wlb_source_scratch *x)
{
	free(x->rows);
	memset(x, 0, sizeof *x);
}

static int by_doc_row(const void *a, const void *b)
{
	const struct wlb_rows *x = a, *y = b;
	if (x->doc != y->doc)
		return x->doc < y->doc ? -1 : 1;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Pairs of query rows [a, b) with keys [u, v) of one causal document: row x
 * sees keys u .. min(x, v - 1). */
static double block_pairs(double a, double b, double u, double v)
{
	double lo = a > u ? a : u, hi = b < v ? b : v, t = 0;
	if (hi > lo) /* rows inside the key block see 1 .. hi - u of its keys */
		t += (hi - lo) * ((lo - u + 1) + (hi - u)) / 2;
	lo = a > v ? a : v;
	if (b > lo) /* rows past it see all of it */
		t += (b - lo) * (v - u);
	return t;
}

/* wlb_sharding_source_pairs of the layout whose rank r holds p[start[r] ..
 * start[r + 1]). */
static int source_pairs(const struct wlb_piece *p, const size_t *start, int cp,
			struct wlb_source_scratch *x, double *m)
{
	size_t n = start[cp];

	memset(m, 0, (size_t)cp * (size_t)cp * sizeof *m);
	if (WLB_GROW(x->rows, x->cap, n ? n : 1))
		return WLB_ENOMEM;
	for (int r = 0; r < cp; r++)
		for (size_t i = start[r]; i < start[r + 1]; i++)
			x->rows[i] = (struct wlb_rows){p[i].doc, p[i].kv_len - p[i].q_len, p[i].kv_len, r};
	/* a document's row ranges, in order, tile it: each query range meets
	 * the key ranges that start before it ends */
	qsort(x->rows, n, sizeof *x->rows, by_doc_row);
	for (size_t g = 0; g < n;) {
		size_t e = g + 1;
		while (e < n && x->rows[e].doc == x->rows[g].doc)
			e++;
		for (size_t i = g; i < e; i++)
			for (size_t j = g; j < e && x->rows[j].lo < x->rows[i].hi; j++)
				m[x->rows[i].rank * cp + x->rows[j].rank] +=
					block_pairs(x->rows[i].lo, x->rows[i].hi, x->rows[j].lo, x->rows[j].hi);
		g = e;
	}
	return 0;
}

int wlb_sharding_source_pairs(const struct wlb_sharding *s, struct wlb_source_scratch *x, double *m)
{
	return source_pairs(s->pieces, s->rank_start, s->cp, x, m);
}

void wlb_ring_steps(const double *src, const double *cost, int cp, double *steps)
{
	for (int s = 0; s < cp; s++)
		steps[s] = 0;
	for (int r = 0; r < cp; r++) {
		const double *row = src + (size_t)r * cp;
		double total = 0;
		for (int o = 0; o < cp; o++)
			total += row[o];
		if (total <= 0)
			continue;
		for (int s = 0; s < cp; s++) {
			double share = cost[r] * row[(r - s + cp) % cp] / total;
			if (share > steps[s])
				steps[s] = share;
		}
	}
}

int wlb_layout_cost(struct wlb_sharding *s, const struct wlb_shard_estimate *est,
		    const struct wlb_piece *p, const size_t *start, double *cost, double *src,
		    double *out)
{
	double mx = max_rank_cost(est, p, start, s->cp, cost);
	if (!s->ring) {
		*out = mx;
		return 0;
	}
	if (source_pairs(p, start, s->cp, &s->src_x, src))
		return WLB_ENOMEM;
	wlb_ring_steps(src, cost, s->cp, s->steps);
	*out = 0;
	for (int k = 0; k < s->cp; k++)
		*out += s->steps[k];
	return 0;
}

void wlb_layout_swap(struct wlb_sharding *s, struct wlb_shard_buf *b)
{
	struct wlb_shard_buf cur = {s->pieces, s->cap_pieces, s->n_pieces, s->rank_start, s->rank_tokens,
				    s->rank_cost, s->src, s->cap_src, s->n_cut};
	s->pieces = b->pieces;
	s->cap_pieces = b->cap;
	s->n_pieces = b->n;
	s->rank_start = b->start;
	s->rank_tokens = b->tokens;
	s->rank_cost = b->cost;
	s->src = b->src;
	s->cap_src = b->cap_src;
	s->n_cut = b->n_cut;
	*b = cur;
}

int wlb_shard(struct wlb_sharding *s, enum wlb_shard_kind kind, const struct wlb_doc *docs,
	      size_t n, const struct wlb_shard_estimate *est)
{
	struct wlb_layout_out main = {&s->pieces, &s->cap_pieces, 0, s->rank_start, s->rank_tokens};
	struct wlb_layout_out alt = {&s->alt.pieces, &s->alt.cap, 0, s->alt.start, s->alt.tokens};
	uint32_t slots = 2u * (uint32_t)s->cp;
	uint64_t total = 0;
	int rc;

	if (!est)
		est = &wlb_shard_tiled_pairs;
	for (size_t i = 0; i < n; i++)
		total += docs[i].len;
	s->tokens_per_rank = (uint32_t)((total + slots - 1) / slots * 2);
	s->pad_tokens = s->tokens_per_rank * (uint32_t)s->cp - (uint32_t)total;

	if (kind == WLB_SHARD_PER_DOC)
		rc = per_doc(s, &main, docs, n);
	else
		rc = per_seq(s, &main, docs, n, total);
	if (rc)
		return rc;
	s->n_pieces = main.n;
	s->used = kind == WLB_SHARD_PER_DOC ? WLB_SHARD_PER_DOC : WLB_SHARD_PER_SEQ;
	s->n_cut = kind == WLB_SHARD_PER_DOC ? (uint32_t)n : 0;
	size_t cells = (size_t)s->cp * (size_t)s->cp;
	if (s->ring && WLB_GROW(s->src, s->cap_src, cells))
		return WLB_ENOMEM;
	double best, other;
	if ((rc = wlb_layout_cost(s, est, s->pieces, s->rank_start, s->rank_cost, s->src, &best)))
		return rc;
	if (kind != WLB_SHARD_ADAPTIVE && kind != WLB_SHARD_HYBRID)
		return 0;

	if (s->ring && WLB_GROW(s->alt.src, s->alt.cap_src, cells))
		return WLB_ENOMEM;
	if ((rc = per_doc(s, &alt, docs, n)) ||
	    (rc = wlb_layout_cost(s, est, s->alt.pieces, s->alt.start, s->alt.cost, s->alt.src, &other)))
		return rc;
	s->alt.n = alt.n;
	s->alt.n_cut = (uint32_t)n;
	if (other < best) {
		/* per-doc predicted faster: swap it in (ties keep per-seq: fewer pieces) */
		wlb_layout_swap(s, &s->alt);
		s->used = WLB_SHARD_PER_DOC;
		best = other;
	}
	if (kind == WLB_SHARD_HYBRID)
		return wlb_shard_hybrid(s, docs, n, total, est, best);
	return 0;
}

double wlb_sharding_rank_pairs(const struct wlb_sharding *s, int r)
{
	double t = 0;
	for (size_t i = s->rank_start[r]; i < s->rank_start[r + 1]; i++)
		t += wlb_pairs(s->pieces[i].q_len, s->pieces[i].kv_len);
	return t;
}
