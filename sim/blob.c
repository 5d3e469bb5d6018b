/* blob.c — little-endian byte blobs for saved state. */
#include "blob.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

void wlb_blob_bytes(struct wlb_blob *w, const void *p, size_t n)
{
	if (w->oom || WLB_GROW(w->b, w->cap, w->n + n + 1)) {
		w->oom = 1;
		return;
	}
	if (n)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

void wlb_blob_u32(struct wlb_blob *w, uint32_t v)
{
	unsigned char x[4];
	for (int i = 0; i < 4; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	wlb_blob_bytes(w, x, 4);
}

void wlb_blob_u64(struct wlb_blob *w, uint64_t v)
{
	wlb_blob_u32(w, (uint32_t)v);
	wlb_blob_u32(w, (uint32_t)(v >> 32));
}

void wlb_blob_docs(struct wlb_blob *w, const struct wlb_doc *d, size_t n)
{
	wlb_blob_u64(w, n);
	for (size_t i = 0; i < n; i++) {
		wlb_blob_u32(w, d[i].id);
		wlb_blob_u32(w, d[i].len);
		wlb_blob_u32(w, d[i].arrived);
	}
}

void wlb_blob_free(struct wlb_blob *w)
{
	free(w->b);
	memset(w, 0, sizeof *w);
}

void wlb_rblob_bytes(struct wlb_rblob *r, void *p, size_t n)
{
	if (r->bad || n > r->n - r->at) {
		r->bad = 1;
		memset(p, 0, n);
		return;
	}
	memcpy(p, r->b + r->at, n);
	r->at += n;
}

uint32_t wlb_rblob_u32(struct wlb_rblob *r)
{
	unsigned char x[4];
	uint32_t v = 0;
	wlb_rblob_bytes(r, x, 4);
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)x[i] << (8 * i);
	return v;
}

uint64_t wlb_rblob_u64(struct wlb_rblob *r)
{
	uint64_t lo = wlb_rblob_u32(r);
	return lo | (uint64_t)wlb_rblob_u32(r) << 32;
}

size_t wlb_rblob_docs(struct wlb_rblob *r, struct wlb_doc **d, size_t *cap)
{
	uint64_t n = wlb_rblob_u64(r);

	if (r->bad || n > (r->n - r->at) / 12) { /* 12 bytes a document */
		r->bad = 1;
		return 0;
	}
	if (WLB_GROW(*d, *cap, n ? (size_t)n : 1)) {
		r->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		(*d)[i].id = wlb_rblob_u32(r);
		(*d)[i].len = wlb_rblob_u32(r);
		(*d)[i].arrived = wlb_rblob_u32(r);
	}
	return (size_t)n;
}
