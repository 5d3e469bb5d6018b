/* pack.c — the packer interface: the table of packers, emission of an
 * iteration's micro-batches and their assignment to DP replicas. */
#include "pack.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

extern const struct wlb_packer_ops wlb_pack_concat, wlb_pack_greedy, wlb_pack_bfd, wlb_pack_wlb,
	wlb_pack_wlb_mem;

static const struct wlb_packer_ops *const packers[] = {
	&wlb_pack_concat, &wlb_pack_greedy, &wlb_pack_bfd, &wlb_pack_wlb, &wlb_pack_wlb_mem, NULL,
};

struct keyed { double work; uint32_t bin; };

static int by_id(const void *a, const void *b)
{
	const struct wlb_doc *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

struct wlb_packer {
	const struct wlb_packer_ops *ops;
	void *state;
	struct wlb_pack_params p;
	uint32_t iter;          /* iterations emitted */
	/* scratch of wlb_packed_emit */
	size_t *start;
	size_t cap_start;
	struct keyed *order;
	size_t cap_order;
	struct wlb_mb *bins;
	size_t cap_bins;
	double *rep_work;
	uint32_t *rep_n;
	size_t cap_rep, cap_rep_n;
	struct wlb_order_scratch zigzag;
};

const struct wlb_packer_ops *const *wlb_packers(void)
{
	return packers;
}

const struct wlb_packer_ops *wlb_packer_find(const char *name)
{
	for (int i = 0; packers[i]; i++)
		if (!strcmp(packers[i]->name, name))
			return packers[i];
	return NULL;
}

int wlb_packer_create(struct wlb_packer **out, const char *name,
		      const struct wlb_pack_params *p, struct wlb_error *err)
{
	const struct wlb_packer_ops *ops = wlb_packer_find(name);
	struct wlb_packer *pk;
	int rc;

	*out = NULL;
	if (!ops)
		return wlb_error_set(err, WLB_EINVAL,
				     "unknown packing \"%s\" (expected concat, greedy, bfd or wlb)", name);
	if (p->context < 1 || p->dp < 1 || p->m < 1 || !p->work)
		return wlb_error_set(err, WLB_EINVAL, "packing needs a context, dp, m and a workload model");
	pk = calloc(1, sizeof *pk);
	if (!pk)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	pk->ops = ops;
	pk->p = *p;
	rc = ops->create(&pk->state, &pk->p, err);
	if (rc) {
		free(pk);
		return rc;
	}
	*out = pk;
	return 0;
}

void wlb_packer_destroy(struct wlb_packer *pk)
{
	if (!pk)
		return;
	pk->ops->destroy(pk->state);
	free(pk->start);
	free(pk->order);
	free(pk->bins);
	free(pk->rep_work);
	free(pk->rep_n);
	wlb_order_scratch_free(&pk->zigzag);
	free(pk);
}

const struct wlb_pack_params *wlb_packer_params(const struct wlb_packer *pk)
{
	return &pk->p;
}

int wlb_packer_next(struct wlb_packer *pk, struct wlb_stream *s, struct wlb_packed *out,
		    struct wlb_error *err)
{
	int rc = pk->ops->next(pk->state, pk, s, out);
	if (rc < 0)
		return wlb_error_set(err, rc, "packing \"%s\": out of memory", pk->ops->name);
	pk->iter += (uint32_t)rc;
	return rc;
}

uint64_t wlb_packer_pending_tokens(const struct wlb_packer *pk)
{
	return pk->ops->pending_tokens(pk->state);
}

uint32_t wlb_packer_batches_needed(const struct wlb_packer *pk)
{
	return pk->ops->batches_needed ? pk->ops->batches_needed(pk->state) : 1;
}

int wlb_packer_save(const struct wlb_packer *pk, struct wlb_blob *b, struct wlb_error *err)
{
	wlb_blob_u32(b, pk->iter);
	if (pk->ops->save(pk->state, b) || b->oom)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	return 0;
}

int wlb_packer_load(struct wlb_packer *pk, struct wlb_rblob *r, struct wlb_error *err)
{
	pk->iter = wlb_rblob_u32(r);
	if (pk->ops->load(pk->state, r) || r->bad)
		return wlb_error_set(err, WLB_EINVAL, "saved \"%s\" packer state is truncated or "
				     "inconsistent", pk->ops->name);
	return 0;
}

void wlb_packed_free(struct wlb_packed *p)
{
	free(p->mb);
	free(p->docs);
	memset(p, 0, sizeof *p);
}

uint64_t wlb_docs_tokens(const struct wlb_doc *docs, size_t n)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += docs[i].len;
	return t;
}

static int by_len_desc(const void *a, const void *b)
{
	const struct wlb_doc *x = a, *y = b;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

void wlb_docs_sort_desc(struct wlb_doc *docs, size_t n)
{
	qsort(docs, n, sizeof *docs, by_len_desc);
}

/* Heaviest first; ties by bin index, so the order is deterministic. */
static int by_work_desc(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	if (x->work != y->work)
		return x->work > y->work ? -1 : 1;
	return (x->bin > y->bin) - (x->bin < y->bin);
}

int wlb_packed_emit(struct wlb_packer *pk, struct wlb_packed *out,
		    const struct wlb_doc *docs, const uint32_t *bin, size_t n,
		    uint32_t n_bins, int balanced)
{
	const struct wlb_workload *w = pk->p.work;
	uint32_t m = (uint32_t)pk->p.m, dp = (uint32_t)pk->p.dp;

	if (n_bins != dp * m)
		return WLB_EINVAL;
	if (WLB_GROW(out->docs, out->cap_docs, n ? n : 1) || WLB_GROW(out->mb, out->cap_mb, n_bins) ||
	    WLB_GROW(pk->start, pk->cap_start, n_bins + 1) ||
	    WLB_GROW(pk->order, pk->cap_order, n_bins) || WLB_GROW(pk->bins, pk->cap_bins, n_bins) ||
	    WLB_GROW(pk->rep_work, pk->cap_rep, dp) || WLB_GROW(pk->rep_n, pk->cap_rep_n, dp))
		return WLB_ENOMEM;

	/* counting sort by bin */
	memset(pk->start, 0, (n_bins + 1) * sizeof *pk->start);
	for (size_t i = 0; i < n; i++)
		pk->start[bin[i] + 1]++;
	for (uint32_t b = 0; b < n_bins; b++) {
		pk->start[b + 1] += pk->start[b];
		pk->bins[b] = (struct wlb_mb){pk->start[b], (uint32_t)(pk->start[b + 1] - pk->start[b]),
					      0, 0, 0.0};
	}
	for (size_t i = 0; i < n; i++) {
		struct wlb_mb *mb = &pk->bins[bin[i]];
		size_t at = pk->start[bin[i]]++;
		out->docs[at] = docs[i];
		mb->tokens += docs[i].len;
		mb->work += wlb_workload_doc(w, docs[i].len);
	}
	/* inside a micro-batch, documents lie in dataloader order, as a loader
	 * concatenates them, or placed for the zig-zag split: the order decides
	 * what per-seq sharding cuts */
	for (uint32_t b = 0; b < n_bins; b++) {
		qsort(out->docs + pk->bins[b].first, pk->bins[b].n, sizeof *out->docs, by_id);
		if (pk->p.order == WLB_ORDER_ZIGZAG &&
		    wlb_order_zigzag(out->docs + pk->bins[b].first, pk->bins[b].n, pk->p.cp, &pk->zigzag))
			return WLB_ENOMEM;
	}

	if (balanced && dp > 1) {
		/* LPT: heaviest micro-batch to the lightest replica with room */
		for (uint32_t b = 0; b < n_bins; b++)
			pk->order[b] = (struct keyed){pk->bins[b].work, b};
		qsort(pk->order, n_bins, sizeof *pk->order, by_work_desc);
		for (uint32_t r = 0; r < dp; r++) {
			pk->rep_work[r] = 0;
			pk->rep_n[r] = 0;
		}
		for (uint32_t k = 0; k < n_bins; k++) {
			struct wlb_mb *mb = &pk->bins[pk->order[k].bin];
			uint32_t best = UINT32_MAX;
			for (uint32_t r = 0; r < dp; r++)
				if (pk->rep_n[r] < m && (best == UINT32_MAX || pk->rep_work[r] < pk->rep_work[best]))
					best = r;
			mb->replica = best;
			pk->rep_work[best] += mb->work;
			pk->rep_n[best]++;
		}
		/* lay out replica-major, each replica's micro-batches in assignment order */
		for (uint32_t r = 0; r < dp; r++)
			pk->rep_n[r] = 0;
		for (uint32_t k = 0; k < n_bins; k++) {
			struct wlb_mb *mb = &pk->bins[pk->order[k].bin];
			out->mb[mb->replica * m + pk->rep_n[mb->replica]++] = *mb;
		}
	} else {
		for (uint32_t b = 0; b < n_bins; b++) {
			pk->bins[b].replica = b / m;
			out->mb[b] = pk->bins[b];
		}
	}
	out->iter = pk->iter;
	out->n_mb = n_bins;
	out->n_docs = n;
	return 0;
}
