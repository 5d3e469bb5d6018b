/* shard_int.h — what shard.c (the static layouts, adaptive) and
 * shard_hybrid.c share; not part of the library's interface. */
#ifndef WLB_SHARD_INT_H
#define WLB_SHARD_INT_H

#include "shard.h"

/* Output of one layout: pieces grouped by rank. */
struct wlb_layout_out {
	struct wlb_piece **p;
	size_t *cap, n;
	size_t *start;
	uint32_t *tokens;
};

/* Appends piece (doc, q, kv) unless q is 0.  Returns 0 or WLB_ENOMEM. */
int wlb_layout_put(struct wlb_layout_out *l, uint32_t doc, uint32_t q, uint32_t kv);

/* Chunk [a, b) of the concatenation of docs[0..n), document i starting at
 * start[i]: a piece per document it overlaps, their tokens added to *tokens. */
int wlb_layout_seq_chunk(struct wlb_layout_out *l, const struct wlb_doc *docs, const uint64_t *start,
			 size_t n, uint64_t a, uint64_t b, uint32_t *tokens);

/* What adaptive and hybrid compare for the layout p / start: the slowest
 * rank, or under ring CP the sum of the ring's steps.  cost[r] gets each
 * rank's estimate, src (cp x cp, ring only) its source pairs. */
int wlb_layout_cost(struct wlb_sharding *s, const struct wlb_shard_estimate *est,
		    const struct wlb_piece *p, const size_t *start, double *cost, double *src,
		    double *out);

/* Exchanges the layout in use with b. */
void wlb_layout_swap(struct wlb_sharding *s, struct wlb_shard_buf *b);

/* hybrid: tries its candidates after adaptive has put the better static
 * layout in use (predicted *best) and swaps in the best candidate only when
 * strictly better. */
int wlb_shard_hybrid(struct wlb_sharding *s, const struct wlb_doc *docs, size_t n, uint64_t total,
		     const struct wlb_shard_estimate *est, double best);

#endif
