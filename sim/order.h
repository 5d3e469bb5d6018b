/* order.h — where each document of a micro-batch lies in its packed sequence.
 *
 * Per-seq CP sharding cuts the packed sequence into 2·cp chunks and gives rank
 * r chunks r and 2cp-1-r.  That balances a document only when it fills the
 * whole sequence: a long document's later rows attend to more keys, so the
 * rank holding them does more work.  Inside a micro-batch the documents may
 * lie in any order (attention is masked per document and every token keeps
 * its own loss), so a packer can place its long documents where the zig-zag
 * split comes out even. */
#ifndef WLB_ORDER_H
#define WLB_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "docs.h"

enum wlb_doc_order {
	WLB_ORDER_STREAM, /* dataloader order (by document id) */
	WLB_ORDER_ZIGZAG, /* long documents moved to even out the per-seq split */
};

int wlb_doc_order_parse(const char *name, enum wlb_doc_order *out);
const char *wlb_doc_order_name(enum wlb_doc_order o);

/* Reusable buffers: no allocation once warm. */
struct wlb_order_scratch {
	int64_t *rank_pairs;  /* per CP rank */
	int64_t *best;        /* busiest rank's pairs per candidate place */
	size_t cap_rank, cap_best;
};

void wlb_order_scratch_free(struct wlb_order_scratch *s);

/* Causal pairs of rank r under per-seq sharding of docs[0..n) over cp ranks,
 * for all r into pairs[0..cp): exactly what shard.c's per-seq pieces hold. */
void wlb_order_rank_pairs(const struct wlb_doc *docs, size_t n, int cp, int64_t *pairs);

/* Reorders docs[0..n) in place for per-seq sharding over cp ranks: each of
 * the WLB_ORDER_MOVES longest documents longer than a quarter of a chunk, in
 * turn, moves to the place among the others that leaves the busiest rank the
 * fewest causal pairs (its own place on a tie, so the busiest rank never gets
 * more).  The other documents keep their relative order.  O(n·cp) per move.
 * Why so few: the outlier queues put one or two long documents in a
 * micro-batch, and a document within a quarter of a chunk lands on one or two
 * ranks wherever it lies, so moving it changes little.  Causal pairs stand in
 * for attention time: the sharder's own estimate would cost a cost-model
 * lookup per candidate place.  Returns 0 or WLB_ENOMEM. */
#define WLB_ORDER_MOVES 4
int wlb_order_zigzag(struct wlb_doc *docs, size_t n, int cp, struct wlb_order_scratch *s);

#endif
