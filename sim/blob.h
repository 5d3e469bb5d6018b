/* blob.h — little-endian byte blobs for saved state (the library's packer
 * state): a growing writer and a bounds-checked reader.  A reader that runs
 * past its end stays failed (every later get reads 0), so a caller checks once. */
#ifndef WLB_BLOB_H
#define WLB_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "docs.h"

struct wlb_blob {
	unsigned char *b;
	size_t n, cap;
	int oom;          /* an allocation failed: the blob is incomplete */
};

void wlb_blob_u32(struct wlb_blob *w, uint32_t v);
void wlb_blob_u64(struct wlb_blob *w, uint64_t v);
void wlb_blob_bytes(struct wlb_blob *w, const void *p, size_t n);
/* A count, then each document's id, len and arrived. */
void wlb_blob_docs(struct wlb_blob *w, const struct wlb_doc *d, size_t n);
void wlb_blob_free(struct wlb_blob *w);

struct wlb_rblob {
	const unsigned char *b;
	size_t n, at;
	int bad;          /* read past the end, or a count larger than the rest */
};

uint32_t wlb_rblob_u32(struct wlb_rblob *r);
uint64_t wlb_rblob_u64(struct wlb_rblob *r);
void wlb_rblob_bytes(struct wlb_rblob *r, void *p, size_t n);
/* Reads wlb_blob_docs' count and documents into *d (grown with *cap);
 * returns the count (0 with bad set on a short blob, WLB_ENOMEM in *oom). */
size_t wlb_rblob_docs(struct wlb_rblob *r, struct wlb_doc **d, size_t *cap);

#endif
