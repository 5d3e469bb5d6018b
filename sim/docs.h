/* docs.h — document-length distributions and the document stream.
 *
 * A training run reads documents in dataloader order.  The stream cuts every
 * document longer than the context window into context-length pieces as it
 * reads them, and hands out one global batch per iteration: the next
 * dp x m x context tokens, a document crossing the batch boundary being cut
 * there (its tail opens the next batch), exactly as a Megatron-style
 * concatenating dataloader does.  Explicit `batches` are taken as given. */
#ifndef WLB_DOCS_H
#define WLB_DOCS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* One document or piece of one, the unit everything downstream moves. */
struct wlb_doc {
	uint32_t id;      /* unique per piece, in stream order */
	uint32_t len;     /* tokens, >= 1 */
	uint32_t arrived; /* index of the global batch that brought it */
};

enum wlb_dist_kind { WLB_DIST_LOGNORMAL, WLB_DIST_PARETO, WLB_DIST_UNIFORM, WLB_DIST_POINT };

struct wlb_dist_component {
	double weight;
	enum wlb_dist_kind kind;
	double a, b;       /* lognormal (mu, sigma); pareto (x0, alpha); uniform (lo, hi); point (n, -) */
	double min, max;   /* truncation (inclusive); 0 = none */
};

#define WLB_DIST_MAX_COMPONENTS 16

struct wlb_dist {
	int n;
	struct wlb_dist_component c[WLB_DIST_MAX_COMPONENTS];
};

/* The most bytes a lengths file may hold: 2 GiB, some 200 million lengths. */
#define WLB_LENGTHS_MAX_BYTES (2ll << 30)
/* The most documents a trace may list (a lengths file, or data.batches all
 * together): 2^28, 268 million, 1 GiB of lengths; the largest pretraining
 * sets hold some 100 million documents of 128K context a run. */
#define WLB_MAX_DOCUMENTS (1 << 28)

/* Distribution presets of ../shared/doclen: wlb128k, prolong64k, web, bytescale. */
int wlb_dist_preset(const char *name, struct wlb_dist *out, struct wlb_error *err);
const char *const *wlb_dist_preset_names(void);
/* Checks weights > 0, parameters in range, min <= max and a non-empty support. */
int wlb_dist_check(const struct wlb_dist *d, struct wlb_error *err);
/* The probability that a document drawn from d (each component truncated to
 * its [min, max]) has a length in [1, hi] tokens. */
double wlb_dist_mass_upto(const struct wlb_dist *d, double hi);

/* Where the documents come from. */
enum wlb_source_kind { WLB_SOURCE_DIST, WLB_SOURCE_BATCHES, WLB_SOURCE_LENGTHS, WLB_SOURCE_CALLBACK };

struct wlb_source {
	enum wlb_source_kind kind;
	struct wlb_dist dist;       /* WLB_SOURCE_DIST */
	uint64_t seed;
	/* WLB_SOURCE_BATCHES: lens[batch_start[i] .. batch_start[i+1]) is batch i;
	 * WLB_SOURCE_LENGTHS: lens[0 .. n_lens) in dataloader order.  Owned. */
	uint32_t *lens;
	size_t n_lens;
	size_t *batch_start;
	size_t n_batches;
	/* WLB_SOURCE_CALLBACK (the library's push queue): read(ctx, &len) gives
	 * the next document's length and returns 1, or 0 when none is there. */
	int (*read)(void *ctx, uint32_t *len);
	void *read_ctx;
	/* Optional, any source: called as the stream cuts each piece, with the
	 * index of its document in dataloader order (0, 1, ...) and the tokens of
	 * that document before the piece. */
	void (*on_piece)(void *ctx, const struct wlb_doc *piece, uint64_t doc, uint64_t offset);
	void *piece_ctx;
};

void wlb_source_free(struct wlb_source *s);

/* Reads a lengths file: one positive integer per line (blank lines and lines
 * starting with '#' skipped).  Errors name the file and line.  A Megatron-LM
 * .idx (named *.idx, or starting with its magic) is read by wlb_midx_read
 * (megatron_idx.h): one length per document, errors naming the byte. */
int wlb_lengths_read(const char *path, uint32_t **lens, size_t *n, struct wlb_error *err);

struct wlb_stream;

/* tokens_per_batch = dp x m x context; context cuts long documents. */
int wlb_stream_create(struct wlb_stream **out, const struct wlb_source *src,
		      uint32_t context, uint64_t tokens_per_batch, struct wlb_error *err);
void wlb_stream_destroy(struct wlb_stream *s);

/* The next global batch, borrowed until the next call.  Returns the number of
 * documents (0 when a finite source is exhausted). */
size_t wlb_stream_next(struct wlb_stream *s, const struct wlb_doc **docs);
/* Batches handed out so far. */
uint32_t wlb_stream_batches(const struct wlb_stream *s);
/* Tokens handed out so far. */
uint64_t wlb_stream_tokens(const struct wlb_stream *s);

/* Where a stream stands (not its source's documents nor a distribution's
 * generator): what wlb_stream_load needs to continue a stream over the same
 * source exactly.  Save fails on a distribution source (WLB_EINVAL). */
struct wlb_blob;
struct wlb_rblob;
int wlb_stream_save(const struct wlb_stream *s, struct wlb_blob *b, struct wlb_error *err);
int wlb_stream_load(struct wlb_stream *s, struct wlb_rblob *r, struct wlb_error *err);
/* Tokens of the current document not yet handed out (CALLBACK sources: what
 * the stream holds beyond what read() has still to give). */
uint64_t wlb_stream_held_tokens(const struct wlb_stream *s);

/* The document lengths a stream over src reads, in order, before any cutting:
 * all of a finite source (or until max_tokens), or a distribution's draws
 * until max_tokens (same seed, same documents as the stream).  Owned by the
 * caller (free). */
int wlb_source_collect(const struct wlb_source *src, uint64_t max_tokens, uint32_t **lens,
		       size_t *n, struct wlb_error *err);

/* Draws n document lengths (each >= 1) from d with GSL's mt19937 seeded by seed. */
int wlb_dist_sample_n(const struct wlb_dist *d, uint64_t seed, uint32_t *out, size_t n,
		      struct wlb_error *err);

#endif
