/* wlb.h — libwlb, the public API: the WLB-LLM packer and the context-parallel
 * sharders for a training job's data loader.  This is the one installed
 * header of libwlb.so ($(PREFIX)/include/wlb.h; pkg-config --cflags --libs wlb).
 *
 * Conventions.  Handles are opaque.  Functions that can fail return 0 (or a
 * positive status where said) and a negative code on failure:
 *   WLB_EINVAL (-1) a bad argument or a corrupt state blob, WLB_EIO (-2) a
 *   file (the cost DB) could not be read, WLB_ENOMEM (-3), WLB_ERANGE (-4) a
 *   number outside what the library holds.
 * The message of the last failure is wlb_loader_error(handle), or, for calls
 * that create a handle, written into the caller's errbuf (may be NULL).
 * The library never prints and never exits.  It is not thread-safe per
 * handle; distinct handles may be used from distinct threads.
 * Memory the library returns (state blobs) is freed with wlb_free. */
#ifndef WLB_H
#define WLB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WLB_API __attribute__((visibility("default")))
#else
#define WLB_API
#endif

#ifndef WLB_ERR_H /* the same codes as the library's internal err.h */
enum wlb_err { WLB_OK = 0, WLB_EINVAL = -1, WLB_EIO = -2, WLB_ENOMEM = -3, WLB_ERANGE = -4 };
#endif

/* "0.1": the library's version (the soname is libwlb.so.0). */
WLB_API const char *wlb_version(void);
WLB_API void wlb_free(void *p);

/* ---- the streaming packer ----
 *
 * Documents are pushed in dataloader order; each iteration takes one global
 * batch of dp x microbatches x context tokens, exactly as `wlb-trace pack`
 * reads a lengths file: a document longer than the context is cut into
 * context-long pieces, and a document crossing the global-batch boundary is
 * cut there (its tail opens the next batch).  The packer then runs the
 * chosen packing over those pieces; WLB-LLM's `wlb` delays long documents in
 * outlier queues and carries what does not fit, so a document may come out
 * iterations after it was pushed. */

struct wlb_loader_config {
	const char *packing;     /* "wlb" (NULL), "concat", "greedy" or "bfd" */
	uint32_t context;        /* tokens per sequence: required */
	int dp, microbatches;    /* DP replicas, micro-batches per replica: required */
	uint32_t s_max;          /* wlb: most tokens per micro-batch; 0 = 1.5 x context,
				  * rounded up to a multiple of 1024 */
	int n_thresholds;        /* wlb: outlier queues; -1 = context/4 and context/2, 0 = none */
	uint32_t thresholds[8];  /* increasing */
	uint32_t window;         /* greedy: global batches packed together; 0 = 1 */
	const char *doc_order;   /* "stream" | "zigzag"; NULL = zigzag for wlb, else stream */
	const char *workload;    /* what wlb balances: "flops" (NULL) or "cost" */
	const char *model;       /* preset name; NULL = "llama2-7b" */
	int tp, cp;              /* 0 = 1; cost: the per-rank shapes, zigzag: the split */
	const char *gpu;         /* cost: NULL = "h100-sxm" */
	const char *costdb;      /* cost: NULL = $WLB_COSTDB_DIR/<gpu>.db, else costdb/<gpu>.db
				  * beside libwlb.so (the build tree), else
				  * <libdir>/../share/wlb/costdb, else $(PREFIX)/share/wlb/costdb */
};

/* Zeroes c and sets the defaults above (packing wlb, n_thresholds -1). */
WLB_API void wlb_loader_config_init(struct wlb_loader_config *c);

typedef struct wlb_loader wlb_loader;

/* One piece of a pushed document: tokens [offset, offset + length) of it. */
struct wlb_span {
	uint64_t doc_id;
	uint64_t offset;
	uint64_t length;
};

/* One iteration: n_microbatches = dp x microbatches micro-batches, replica
 * r owning r*microbatches .. (r+1)*microbatches - 1; micro-batch b holds
 * spans[mb_start[b] .. mb_start[b+1]) in the order to pack them into its
 * sequence.  The pieces of one document never overlap and together cover
 * it once; each is its own attention unit (masked on its own).  Borrowed
 * until the next call on the loader. */
struct wlb_iteration {
	uint32_t index;          /* 0, 1, ... */
	uint32_t n_microbatches;
	const size_t *mb_start;  /* n_microbatches + 1 entries */
	const struct wlb_span *spans;
	size_t n_spans;
};

WLB_API int wlb_loader_create(wlb_loader **out, const struct wlb_loader_config *c,
			      char *errbuf, size_t errlen);
WLB_API void wlb_loader_destroy(wlb_loader *l);
/* The message of the last failure on l ("" if none). */
WLB_API const char *wlb_loader_error(const wlb_loader *l);

/* Appends a document of length tokens (1 .. 2^32-1) under the caller's id. */
WLB_API int wlb_loader_push(wlb_loader *l, uint64_t doc_id, uint64_t length);
/* End of the data: later wlb_loader_next calls pack what is left, as
 * `wlb-trace pack` does at the end of a lengths file (a last partial
 * batch; the outlier queues' documents stay unemitted). */
WLB_API int wlb_loader_finish(wlb_loader *l);
/* 1 with the next iteration in *it; 0 when not ready (less than what the
 * packer reads is buffered: one global batch, greedy a window of them) or,
 * after wlb_loader_finish, when nothing is left; < 0 on failure. */
WLB_API int wlb_loader_next(wlb_loader *l, struct wlb_iteration *it);
/* Tokens pushed and not yet read into a global batch. */
WLB_API uint64_t wlb_loader_buffered_tokens(const wlb_loader *l);

/* The whole state as a versioned byte blob (malloc'd, wlb_free it):
 * configuration, buffered documents, the stream's position, the packer's
 * queued and carried documents.  wlb_loader_restore makes a loader that
 * continues exactly as l would. */
WLB_API int wlb_loader_save(wlb_loader *l, void **blob, size_t *len);
WLB_API int wlb_loader_restore(wlb_loader **out, const void *blob, size_t len,
			       char *errbuf, size_t errlen);

/* ---- the context-parallel sharders ----
 *
 * One micro-batch of n documents (lengths[i] tokens, packed in this order
 * into one sequence, document i starting at the sum of the lengths before
 * it) split over cp ranks; both layouts cut 2cp chunks and give rank r
 * chunks r and 2cp-1-r:
 *   PER_SEQ   the packed sequence is cut (padded at its end to a multiple
 *             of 2cp);
 *   PER_DOC   every document is cut, its remainder tokens dealt one each
 *             round-robin over the chunks (no padding inside documents);
 *   ADAPTIVE  whichever of the two leaves the busiest rank fewer
 *             128-token-tile-padded causal pairs (ties: PER_SEQ);
 *   HYBRID    per document: kept whole in the per-seq zig-zag chunks or cut
 *             as PER_DOC, whichever leaves the busiest rank fewer tile-padded
 *             pairs; never worse than ADAPTIVE (README "Hybrid sharding").
 *
 * Per rank:
 *   pieces       (doc, start, end): the rank holds tokens [start, end) of
 *                document doc, in this order (documents ascending);
 *   token_index  the positions in the packed sequence of the rank's tokens,
 *                in order: what a loader gathers the rank's input with;
 *   cu_seqlens, cu_seqlens_padded  (int32, n + 1 entries each) the THD
 *                layout of the rank's tensor, TransformerEngine's
 *                convention for packed sequences: document i's real tokens
 *                on this rank are token_index[cu_seqlens[i] .. cu_seqlens[i+1])
 *                and sit at rows cu_seqlens_padded[i] .. + their count of the
 *                rank's tensor, the rows up to cu_seqlens_padded[i+1] being
 *                padding.  PER_DOC: document i's slot is 2*ceil(L_i / 2cp)
 *                rows on every rank, i.e. TransformerEngine's global
 *                cu_seqlens_padded (each sequence padded to a multiple of
 *                2cp for zig-zag CP) divided by cp, as TE splits it per
 *                rank; the global arrays are cu_seqlens = prefix sums of
 *                L_i and cu_seqlens_padded = cp x this array.  TE's THD
 *                CP kernels take chunk k as positions [k*c, (k+1)*c) of the
 *                padded document, which is PER_DOC's placement only when L_i
 *                is a multiple of 2cp (remainders are dealt round-robin
 *                here): pad documents to a multiple of 2cp for TE, or run a
 *                varlen attention over the pieces.  PER_SEQ: no
 *                padding inside documents; the sequence's end padding (the
 *                rank's 2*ceil(total / 2cp) rows minus its real tokens) is
 *                the last document's.  HYBRID: as PER_SEQ (TransformerEngine's
 *                THD CP cannot express it: it needs per-rank varlen attention
 *                against all-gathered keys).  A document without tokens on the
 *                rank has an empty entry. */
enum wlb_cp_mode { WLB_CP_PER_SEQ = 0, WLB_CP_PER_DOC = 1, WLB_CP_ADAPTIVE = 2, WLB_CP_HYBRID = 3 };

typedef struct wlb_cp_layout wlb_cp_layout;

struct wlb_cp_piece {
	uint32_t doc, start, end;
};

/* lengths[0..n) >= 1 each, their sum < 2^31; cp >= 1. */
WLB_API int wlb_cp_shard(wlb_cp_layout **out, const uint32_t *lengths, size_t n, int cp,
			 enum wlb_cp_mode mode, char *errbuf, size_t errlen);
WLB_API void wlb_cp_layout_destroy(wlb_cp_layout *s);
/* What the layout used: PER_SEQ, PER_DOC (adaptive's choice) or HYBRID. */
WLB_API enum wlb_cp_mode wlb_cp_layout_used(const wlb_cp_layout *s);
WLB_API int wlb_cp_layout_cp(const wlb_cp_layout *s);
/* Rank r's pieces; returns their count. */
WLB_API size_t wlb_cp_rank_pieces(const wlb_cp_layout *s, int r, const struct wlb_cp_piece **p);
/* Rank r's token_index; returns the rank's real tokens. */
WLB_API size_t wlb_cp_rank_token_index(const wlb_cp_layout *s, int r, const int64_t **idx);
/* Rank r's cu_seqlens and cu_seqlens_padded; returns n + 1. */
WLB_API size_t wlb_cp_rank_cu_seqlens(const wlb_cp_layout *s, int r, const int32_t **cu,
				      const int32_t **cu_padded);

#ifdef __cplusplus
}
#endif

#endif
