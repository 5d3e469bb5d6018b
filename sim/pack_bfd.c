/* pack_bfd.c — best-fit decreasing into dp x m sequences of `context` tokens
 * ("Fewer Truncations", Ding et al. 2024): longest document first, into the
 * fullest sequence it still fits; what fits nowhere opens the next iteration. */
#include <stdlib.h>

#include "grow.h"
#include "pack.h"

struct bfd {
	uint32_t context, n_bins;
	struct wlb_doc *pool, *placed;
	uint32_t *bin;
	uint64_t *fill;
	size_t n_pool, cap_pool, cap_placed, cap_bin, cap_fill;
};

static int bfd_create(void **state, const struct wlb_pack_params *p, struct wlb_error *err)
{
	struct bfd *b = calloc(1, sizeof *b);
	if (!b)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	b->context = p->context;
	b->n_bins = (uint32_t)(p->dp * p->m);
	*state = b;
	return 0;
}

static int bfd_next(void *state, struct wlb_packer *pk, struct wlb_stream *s,
		    struct wlb_packed *out)
{
	struct bfd *b = state;
	const struct wlb_doc *in;
	size_t n_in = wlb_stream_next(s, &in), n = 0, keep = 0;
	int rc;

	if (n_in == 0)
		return 0; /* the carried documents stay pending */
	if (WLB_GROW(b->pool, b->cap_pool, b->n_pool + n_in) ||
	    WLB_GROW(b->placed, b->cap_placed, b->n_pool + n_in) ||
	    WLB_GROW(b->bin, b->cap_bin, b->n_pool + n_in) ||
	    WLB_GROW(b->fill, b->cap_fill, b->n_bins))
		return WLB_ENOMEM;
	for (size_t i = 0; i < n_in; i++)
		b->pool[b->n_pool++] = in[i];
	wlb_docs_sort_desc(b->pool, b->n_pool);
	for (uint32_t k = 0; k < b->n_bins; k++)
		b->fill[k] = 0;
	for (size_t i = 0; i < b->n_pool; i++) {
		struct wlb_doc d = b->pool[i];
		uint32_t best = UINT32_MAX;
		for (uint32_t k = 0; k < b->n_bins; k++)
			if (b->fill[k] + d.len <= b->context &&
			    (best == UINT32_MAX || b->fill[k] > b->fill[best]))
				best = k;
		if (best == UINT32_MAX) {
			b->pool[keep++] = d; /* keep <= i: compacting in place is safe */
			continue;
		}
		b->fill[best] += d.len;
		b->placed[n] = d;
		b->bin[n++] = best;
	}
	b->n_pool = keep;
	rc = wlb_packed_emit(pk, out, b->placed, b->bin, n, b->n_bins, 0);
	return rc ? rc : 1;
}

static uint64_t bfd_pending(const void *state)
{
	const struct bfd *b = state;
	return wlb_docs_tokens(b->pool, b->n_pool);
}

static void bfd_destroy(void *state)
{
	struct bfd *b = state;
	free(b->pool);
	free(b->placed);
	free(b->bin);
	free(b->fill);
	free(b);
}

static int bfd_save(const void *state, struct wlb_blob *w)
{
	const struct bfd *b = state;
	wlb_blob_docs(w, b->pool, b->n_pool);
	return 0;
}

static int bfd_load(void *state, struct wlb_rblob *r)
{
	struct bfd *b = state;
	b->n_pool = wlb_rblob_docs(r, &b->pool, &b->cap_pool);
	return r->bad ? WLB_EINVAL : 0;
}

const struct wlb_packer_ops wlb_pack_bfd = {
	"bfd", "best-fit decreasing into fixed-length sequences (Fewer Truncations)",
	bfd_create, bfd_next, bfd_pending, bfd_destroy, bfd_save, bfd_load, NULL,
};
