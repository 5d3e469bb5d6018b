/* pack_concat.c — Plain-4D: concatenate documents in stream order and cut the
 * token stream into sequences of exactly `context` tokens (Megatron's
 * default).  A document crossing a cut is split; each part is its own
 * attention piece.  A batch holding more than dp x m x context tokens (only
 * explicit batches can) carries its tail to the next iteration. */
#include <stdlib.h>

#include "grow.h"
#include "pack.h"

struct concat {
	uint32_t context, n_bins;
	struct wlb_doc *pool, *out;
	uint32_t *bin;
	size_t n_pool, cap_pool, cap_out, cap_bin;
};

static int concat_create(void **state, const struct wlb_pack_params *p, struct wlb_error *err)
{
	struct concat *c = calloc(1, sizeof *c);
	if (!c)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	c->context = p->context;
	c->n_bins = (uint32_t)(p->dp * p->m);
	*state = c;
	return 0;
}

static int concat_next(void *state, struct wlb_packer *pk, struct wlb_stream *s,
		       struct wlb_packed *out)
{
	struct concat *c = state;
	const struct wlb_doc *in;
	size_t n_in = wlb_stream_next(s, &in), n = 0, keep = 0;
	uint32_t b = 0, fill = 0;
	int rc;

	if (n_in == 0 && c->n_pool == 0)
		return 0;
	if (WLB_GROW(c->pool, c->cap_pool, c->n_pool + n_in))
		return WLB_ENOMEM;
	for (size_t i = 0; i < n_in; i++)
		c->pool[c->n_pool++] = in[i];
	/* at most one split per cut: n_pool + n_bins pieces */
	if (WLB_GROW(c->out, c->cap_out, c->n_pool + c->n_bins) ||
	    WLB_GROW(c->bin, c->cap_bin, c->n_pool + c->n_bins))
		return WLB_ENOMEM;
	for (size_t i = 0; i < c->n_pool; i++) {
		struct wlb_doc d = c->pool[i];
		while (d.len > 0 && b < c->n_bins) {
			uint32_t take = d.len < c->context - fill ? d.len : c->context - fill;
			c->out[n] = d;
			c->out[n].len = take;
			c->bin[n++] = b;
			d.len -= take;
			fill += take;
			if (fill == c->context) {
				b++;
				fill = 0;
			}
		}
		if (d.len > 0)
			c->pool[keep++] = d; /* all sequences full: carried over */
	}
	c->n_pool = keep;
	rc = wlb_packed_emit(pk, out, c->out, c->bin, n,
			     c->n_bins, 0);
	return rc ? rc : 1;
}

static uint64_t concat_pending(const void *state)
{
	const struct concat *c = state;
	return wlb_docs_tokens(c->pool, c->n_pool);
}

static void concat_destroy(void *state)
{
	struct concat *c = state;
	free(c->pool);
	free(c->out);
	free(c->bin);
	free(c);
}

static int concat_save(const void *state, struct wlb_blob *b)
{
	const struct concat *c = state;
	wlb_blob_docs(b, c->pool, c->n_pool);
	return 0;
}

static int concat_load(void *state, struct wlb_rblob *r)
{
	struct concat *c = state;
	c->n_pool = wlb_rblob_docs(r, &c->pool, &c->cap_pool);
	return r->bad ? WLB_EINVAL : 0;
}

const struct wlb_packer_ops wlb_pack_concat = {
	"concat", "fixed-length sequences of the token stream in order (Plain-4D)",
	concat_create, concat_next, concat_pending, concat_destroy, concat_save, concat_load, NULL,
};
