/* pack.h — packers: turn the document stream into each iteration's
 * micro-batches (DESIGN.md §3, PAPER.md Fix 1).
 *
 * One interface, one file per packer (pack_concat.c, pack_greedy.c, pack_bfd.c,
 * pack_wlb.c, which is also wlb-mem).  A packer pulls global batches from the stream as it needs them
 * (a windowed packer reads ahead) and emits one iteration per call.  Adding a
 * packer is one file plus one line in the table of pack.c. */
#ifndef WLB_PACK_H
#define WLB_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "actmem.h"
#include "blob.h"
#include "docs.h"
#include "err.h"
#include "order.h"
#include "workload.h"

#define WLB_MAX_QUEUES 8

struct wlb_pack_params {
	uint32_t context;     /* tokens per sequence for the fixed-length packers */
	uint32_t s_max;       /* wlb: most tokens in one micro-batch */
	uint32_t window;      /* greedy: global batches looked at together */
	int n_thresholds;     /* wlb: outlier queue thresholds L1 < L2 < ... */
	uint32_t thresholds[WLB_MAX_QUEUES];
	int dp, m;            /* micro-batches per iteration = dp x m */
	int cp;               /* CP ranks the sequences are sharded over */
	enum wlb_doc_order order; /* documents' order inside a micro-batch */
	const struct wlb_workload *work;
	struct wlb_actmem mem; /* wlb-mem: activations of a micro-batch and their cap */
};

/* One micro-batch: docs[first .. first + n) of its iteration. */
struct wlb_mb {
	size_t first;
	uint32_t n;
	uint32_t replica;
	uint64_t tokens;
	double work;          /* sum of W(d) over its documents */
};

/* One iteration's micro-batches; replica r owns mb[r*m .. r*m + m). */
struct wlb_packed {
	uint32_t iter;
	uint32_t n_mb;
	struct wlb_mb *mb;
	size_t cap_mb;
	struct wlb_doc *docs;
	size_t n_docs;
	size_t cap_docs;      /* grows geometrically, reused across iterations */
};

void wlb_packed_free(struct wlb_packed *p);

struct wlb_packer;

struct wlb_packer_ops {
	const char *name;
	const char *summary;
	int (*create)(void **state, const struct wlb_pack_params *p, struct wlb_error *err);
	/* Packs the next iteration into out (whose docs and bins are filled through
	 * wlb_packed_emit).  Returns 1, 0 when the stream is exhausted and nothing
	 * is left to emit, or a negative wlb_err. */
	int (*next)(void *state, struct wlb_packer *pk, struct wlb_stream *s,
		    struct wlb_packed *out);
	uint64_t (*pending_tokens)(const void *state);
	void (*destroy)(void *state);
	/* What the packer carries between iterations (queued, carried-over and
	 * packed-ahead documents) into a blob, and back into a fresh state made
	 * with the same params: the library's saved state.  0 or a negative wlb_err. */
	int (*save)(const void *state, struct wlb_blob *b);
	int (*load)(void *state, struct wlb_rblob *r);
	/* Global batches the next call reads from the stream (NULL: one). */
	uint32_t (*batches_needed)(const void *state);
};

/* The packers, NULL-terminated. */
const struct wlb_packer_ops *const *wlb_packers(void);
const struct wlb_packer_ops *wlb_packer_find(const char *name);

int wlb_packer_create(struct wlb_packer **out, const char *name,
		      const struct wlb_pack_params *p, struct wlb_error *err);
void wlb_packer_destroy(struct wlb_packer *pk);
const struct wlb_pack_params *wlb_packer_params(const struct wlb_packer *pk);
/* 1 with an iteration in out, 0 at the end of the stream, < 0 on error. */
int wlb_packer_next(struct wlb_packer *pk, struct wlb_stream *s, struct wlb_packed *out,
		    struct wlb_error *err);
/* Tokens read from the stream but not yet emitted (queued, carried over). */
uint64_t wlb_packer_pending_tokens(const struct wlb_packer *pk);
/* Global batches the next wlb_packer_next reads from the stream: 1, or a
 * windowed packer's window (0 while it emits what it packed ahead). */
uint32_t wlb_packer_batches_needed(const struct wlb_packer *pk);
/* The packer's state (iterations emitted and what its ops carry) into b, and
 * back into a packer created with the same name and params. */
int wlb_packer_save(const struct wlb_packer *pk, struct wlb_blob *b, struct wlb_error *err);
int wlb_packer_load(struct wlb_packer *pk, struct wlb_rblob *r, struct wlb_error *err);

/* For packers: writes docs[0..n) into out as the packer's next iteration, doc i into micro-batch bin[i]
 * (0 <= bin < n_bins), in dataloader order (by id) inside each one, or with
 * the packer's params.order zigzag placed for per-seq sharding (order.h), then
 * assigns micro-batches to DP replicas: in bin order (bin b to replica b / m),
 * or, with balanced, longest-processing-time first (heaviest micro-batch to the
 * lightest replica that still has room for one of its m).  Uses the packer's
 * scratch: no allocation once warm. */
int wlb_packed_emit(struct wlb_packer *pk, struct wlb_packed *out,
		    const struct wlb_doc *docs, const uint32_t *bin, size_t n,
		    uint32_t n_bins, int balanced);

/* Total tokens of docs[0..n). */
uint64_t wlb_docs_tokens(const struct wlb_doc *docs, size_t n);

/* Sorts docs by length, longest first; ties keep stream order (by id). */
void wlb_docs_sort_desc(struct wlb_doc *docs, size_t n);

#endif
