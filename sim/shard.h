/* shard.h — context-parallel sharders: split one micro-batch over the cp
 * ranks of a CP group into per-rank attention pieces (DESIGN.md §3, PAPER.md
 * Fix 2).
 *
 * Both static layouts cut 2·cp chunks and give rank r chunks r and 2cp-1-r:
 * per-seq cuts the packed sequence, per-doc cuts every document.  Every rank
 * holds the same number of tokens: the sequence is padded at its end to a
 * multiple of 2·cp (at most 2cp-1 tokens; padding does no attention), and
 * per-doc deals each document's remainder tokens round-robin over the 2·cp
 * chunk slots with a pointer that carries across documents (no padding inside
 * documents).  adaptive computes both and keeps the one whose slowest rank is
 * predicted faster.  hybrid chooses per document: the documents it keeps
 * whole are concatenated and cut in zig-zag chunks as per-seq does, the
 * others are cut per document; it tries keeping the k shortest whole for a
 * few k and keeps the best only when it beats adaptive's (shard_hybrid.c). */
#ifndef WLB_SHARD_H
#define WLB_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "docs.h"
#include "err.h"

enum wlb_shard_kind { WLB_SHARD_PER_SEQ, WLB_SHARD_PER_DOC, WLB_SHARD_ADAPTIVE, WLB_SHARD_HYBRID };

/* q_len queries at the end of a causal window of kv_len keys of document doc. */
struct wlb_piece {
	uint32_t doc;
	uint32_t q_len;
	uint32_t kv_len;
};

/* Predicted attention time of one rank's pieces; the adaptive sharder's
 * yardstick.  The default is tile-padded pairs (queries rounded up to 128). */
struct wlb_shard_estimate {
	double (*rank_cost)(const struct wlb_shard_estimate *e,
			    const struct wlb_piece *p, size_t n);
	const void *ctx;
};

extern const struct wlb_shard_estimate wlb_shard_tiled_pairs;

#define WLB_ATTN_TILE 128

/* Pairs of a piece with its queries rounded up to whole 128-token tiles. */
double wlb_tiled_pairs(uint32_t q_len, uint32_t kv_len);

/* Reusable buffers of wlb_sharding_source_pairs: no allocation once warm. */
struct wlb_source_scratch {
	struct wlb_rows { uint32_t doc, lo, hi; int rank; } *rows;
	size_t cap;
};

/* A layout besides the one in use: adaptive's other one, hybrid's best
 * candidate so far. */
struct wlb_shard_buf {
	struct wlb_piece *pieces;
	size_t cap, n;
	size_t *start;               /* cp + 1 */
	uint32_t *tokens;            /* cp */
	double *cost;                /* cp */
	double *src;                 /* cp x cp under ring */
	size_t cap_src;
	uint32_t n_cut;              /* documents cut per document */
};

struct wlb_sharding {
	int cp;
	enum wlb_shard_kind used;    /* per-seq, per-doc or hybrid (what adaptive or hybrid chose) */
	uint32_t n_cut;              /* documents the used layout cut per document */
	uint32_t tokens_per_rank;    /* including padding */
	uint32_t pad_tokens;         /* padding at the end of the sequence */
	size_t *rank_start;          /* pieces of rank r: [rank_start[r], rank_start[r+1]) */
	struct wlb_piece *pieces;
	size_t n_pieces, cap_pieces;
	uint32_t *rank_tokens;       /* real (non-padding) tokens per rank */
	double *rank_cost;           /* estimate of each rank (adaptive's yardstick) */
	/* the other layouts, for adaptive and hybrid, and scratch */
	struct wlb_shard_buf alt, hyb;
	uint64_t *start;
	uint32_t *size, *cstart;
	size_t cap_start, cap_size, cap_cstart;
	/* hybrid's scratch: documents by length, which are whole, the whole
	 * ones in sequence order and where each starts in their concatenation,
	 * the cut ones' remainder pointers */
	uint64_t *by_len;
	uint8_t *whole;
	struct wlb_doc *wdocs;
	uint64_t *wstart;
	uint32_t *ptr;
	size_t cap_by_len, cap_whole, cap_wdocs, cap_wstart, cap_ptr;
	/* ring CP, set by the caller after init: adaptive weighs each layout by
	 * its ring steps (wlb_ring_steps), and src holds the used layout's
	 * wlb_sharding_source_pairs (cp x cp) */
	int ring;
	double *src;                 /* cp x cp, grown on first use */
	double *steps;               /* cp */
	size_t cap_src;
	struct wlb_source_scratch src_x;
};

int wlb_shard_parse(const char *name, enum wlb_shard_kind *out);
const char *wlb_shard_name(enum wlb_shard_kind k);

int wlb_sharding_init(struct wlb_sharding *s, int cp);
void wlb_sharding_free(struct wlb_sharding *s);

/* Shards the micro-batch docs[0..n) (in sequence order).  est may be NULL for
 * the static layouts; adaptive and hybrid use it (NULL = tiled pairs). */
int wlb_shard(struct wlb_sharding *s, enum wlb_shard_kind kind,
	      const struct wlb_doc *docs, size_t n, const struct wlb_shard_estimate *est);

/* Exact causal pairs of rank r's pieces. */
double wlb_sharding_rank_pairs(const struct wlb_sharding *s, int r);

void wlb_source_scratch_free(struct wlb_source_scratch *x);

/* m[r * cp + o] = the causal pairs between rank r's queries and the keys rank
 * o holds (every rank holds the keys and values of the tokens whose queries
 * it holds): what step (r - o) mod cp of ring attention computes on rank r.
 * Row r sums to wlb_sharding_rank_pairs(s, r).  Returns 0 or WLB_ENOMEM. */
int wlb_sharding_source_pairs(const struct wlb_sharding *s, struct wlb_source_scratch *x, double *m);

/* Ring CP: steps[s] = the slowest rank's share of its cost[r] at step s,
 * when it computes against the keys of rank (r - s) mod cp, shared in
 * proportion to src's pairs (a rank without pairs has no share). */
void wlb_ring_steps(const double *src, const double *cost, int cp, double *steps);

#endif
