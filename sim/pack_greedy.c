/* pack_greedy.c — Fixed-4D (WLB-LLM §3.2): fixed-length sequences of
 * `context` tokens, balanced greedily over a window of W global batches.
 *
 * The packer reads W batches at once, sorts their documents longest first and
 * puts each into the sequence with the least attention work that still has
 * room; what fits nowhere opens the next window.  Sequence k of the window
 * goes to iteration k / (dp x m) of it.  Larger windows balance better but
 * train documents up to W-1 iterations early or late (token displacement). */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "pack.h"

struct greedy {
	uint32_t context, n_bins, window;
	const struct wlb_workload *work;
	struct wlb_doc *pool;         /* carried over + the window's documents */
	uint32_t *bin;                /* bin of pool[i] (placed ones) */
	uint64_t *fill;               /* tokens per bin */
	double *attn;                 /* attention work per bin */
	struct wlb_doc *out;          /* the window's output grouped by iteration */
	uint32_t *out_bin;            /* bin inside its iteration */
	size_t *it_off;               /* iteration j: out[it_off[j] .. it_off[j+1]) */
	size_t *cursor;
	size_t n_pool, cap_pool, cap_bin, cap_fill, cap_attn, cap_out, cap_out_bin, cap_off,
	       cap_cursor;
	uint32_t n_iters, next_iter;
};

static int greedy_create(void **state, const struct wlb_pack_params *p, struct wlb_error *err)
{
	struct greedy *g = calloc(1, sizeof *g);
	if (!g)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	g->context = p->context;
	g->n_bins = (uint32_t)(p->dp * p->m);
	g->window = p->window ? p->window : 1;
	g->work = p->work;
	*state = g;
	return 0;
}

/* Reads up to `window` batches and packs them; returns the iterations made. */
static int pack_window(struct greedy *g, struct wlb_stream *s)
{
	uint32_t w = 0, nb;
	size_t keep = 0;

	for (; w < g->window; w++) {
		const struct wlb_doc *in;
		size_t n_in = wlb_stream_next(s, &in);
		if (n_in == 0)
			break;
		if (WLB_GROW(g->pool, g->cap_pool, g->n_pool + n_in))
			return WLB_ENOMEM;
		memcpy(g->pool + g->n_pool, in, n_in * sizeof *in);
		g->n_pool += n_in;
	}
	if (w == 0)
		return 0;
	nb = w * g->n_bins;
	if (WLB_GROW(g->bin, g->cap_bin, g->n_pool) || WLB_GROW(g->fill, g->cap_fill, nb) ||
	    WLB_GROW(g->attn, g->cap_attn, nb) || WLB_GROW(g->out, g->cap_out, g->n_pool) ||
	    WLB_GROW(g->out_bin, g->cap_out_bin, g->n_pool) ||
	    WLB_GROW(g->it_off, g->cap_off, w + 1) || WLB_GROW(g->cursor, g->cap_cursor, w))
		return WLB_ENOMEM;
	memset(g->fill, 0, nb * sizeof *g->fill);
	memset(g->attn, 0, nb * sizeof *g->attn);
	wlb_docs_sort_desc(g->pool, g->n_pool);
	for (size_t i = 0; i < g->n_pool; i++) {
		uint32_t len = g->pool[i].len, best = UINT32_MAX;
		for (uint32_t k = 0; k < nb; k++)
			if (g->fill[k] + len <= g->context &&
			    (best == UINT32_MAX || g->attn[k] < g->attn[best]))
				best = k;
		g->bin[i] = best;
		if (best != UINT32_MAX) {
			g->fill[best] += len;
			g->attn[best] += g->work->attn(g->work, len, len);
		}
	}
	/* group the placed documents by iteration (keeping sorted order) and
	 * compact the unplaced ones to the front of pool */
	memset(g->it_off, 0, (w + 1) * sizeof *g->it_off);
	for (size_t i = 0; i < g->n_pool; i++)
		if (g->bin[i] != UINT32_MAX)
			g->it_off[g->bin[i] / g->n_bins + 1]++;
	for (uint32_t j = 0; j < w; j++) {
		g->it_off[j + 1] += g->it_off[j];
		g->cursor[j] = g->it_off[j];
	}
	for (size_t i = 0; i < g->n_pool; i++) {
		uint32_t b = g->bin[i];
		if (b == UINT32_MAX) {
			g->pool[keep++] = g->pool[i]; /* keep <= i: safe in place */
			continue;
		}
		size_t at = g->cursor[b / g->n_bins]++;
		g->out[at] = g->pool[i];
		g->out_bin[at] = b % g->n_bins;
	}
	g->n_pool = keep;
	g->n_iters = w;
	g->next_iter = 0;
	return (int)w;
}

static int greedy_next(void *state, struct wlb_packer *pk, struct wlb_stream *s,
		       struct wlb_packed *out)
{
	struct greedy *g = state;
	uint32_t j;
	int rc;

	if (g->next_iter == g->n_iters) {
		rc = pack_window(g, s);
		if (rc <= 0)
			return rc;
	}
	j = g->next_iter++;
	rc = wlb_packed_emit(pk, out, g->out + g->it_off[j], g->out_bin + g->it_off[j],
			     g->it_off[j + 1] - g->it_off[j], g->n_bins, 0);
	return rc ? rc : 1;
}

static uint64_t greedy_pending(const void *state)
{
	const struct greedy *g = state;
	uint64_t t = wlb_docs_tokens(g->pool, g->n_pool);
	/* iterations of the window already packed but not yet emitted */
	if (g->next_iter < g->n_iters)
		t += wlb_docs_tokens(g->out + g->it_off[g->next_iter],
				     g->it_off[g->n_iters] - g->it_off[g->next_iter]);
	return t;
}

static void greedy_destroy(void *state)
{
	struct greedy *g = state;
	free(g->pool);
	free(g->bin);
	free(g->fill);
	free(g->attn);
	free(g->out);
	free(g->out_bin);
	free(g->it_off);
	free(g->cursor);
	free(g);
}

/* The pool, then each iteration of the window not yet emitted: its
 * documents and their bins. */
static int greedy_save(const void *state, struct wlb_blob *b)
{
	const struct greedy *g = state;
	wlb_blob_docs(b, g->pool, g->n_pool);
	wlb_blob_u32(b, g->n_iters - g->next_iter);
	for (uint32_t j = g->next_iter; j < g->n_iters; j++) {
		size_t lo = g->it_off[j], hi = g->it_off[j + 1];
		wlb_blob_docs(b, g->out + lo, hi - lo);
		for (size_t i = lo; i < hi; i++)
			wlb_blob_u32(b, g->out_bin[i]);
	}
	return 0;
}

static int greedy_load(void *state, struct wlb_rblob *r)
{
	struct greedy *g = state;
	struct wlb_doc *d = NULL;
	size_t cap = 0;
	uint32_t left;

	g->n_pool = wlb_rblob_docs(r, &g->pool, &g->cap_pool);
	left = wlb_rblob_u32(r);
	if (r->bad || left > g->window || WLB_GROW(g->it_off, g->cap_off, left + 1))
		return WLB_EINVAL;
	g->it_off[0] = 0;
	for (uint32_t j = 0; j < left && !r->bad; j++) {
		size_t n = wlb_rblob_docs(r, &d, &cap), at = g->it_off[j];
		if (r->bad || WLB_GROW(g->out, g->cap_out, at + n + 1) ||
		    WLB_GROW(g->out_bin, g->cap_out_bin, at + n + 1)) {
			free(d);
			return WLB_EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			g->out[at + i] = d[i];
			g->out_bin[at + i] = wlb_rblob_u32(r);
			if (g->out_bin[at + i] >= g->n_bins)
				r->bad = 1;
		}
		g->it_off[j + 1] = at + n;
	}
	free(d);
	g->n_iters = left;
	g->next_iter = 0;
	return r->bad ? WLB_EINVAL : 0;
}

static uint32_t greedy_batches_needed(const void *state)
{
	const struct greedy *g = state;
	return g->next_iter == g->n_iters ? g->window : 0;
}

const struct wlb_packer_ops wlb_pack_greedy = {
	"greedy", "fixed-length sequences balanced greedily over a window (Fixed-4D)",
	greedy_create, greedy_next, greedy_pending, greedy_destroy, greedy_save, greedy_load,
	greedy_batches_needed,
};
