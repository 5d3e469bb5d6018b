/* megatron_idx.h — document lengths from a Megatron-LM indexed dataset's .idx.
 *
 * The .idx (megatron/core/datasets/indexed_dataset.py) is, little-endian:
 *   9-byte magic "MMIDIDX\0\0", uint64 version 1, uint8 token dtype code (1..8),
 *   uint64 sequence_count S, uint64 document_count D,
 *   int32 sequence_lengths[S], int64 sequence_pointers[S] (byte offsets into
 *   the .bin), int64 document_indices[D] (0, ..., S: document i is sequences
 *   [d[i], d[i+1])), and, in multimodal datasets, int8 sequence_modes[S].
 * A document's length is the sum of its sequences' lengths.  The .bin is never
 * opened. */
#ifndef WLB_MEGATRON_IDX_H
#define WLB_MEGATRON_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The largest .idx read: 16 GiB, some 800 million single-sequence documents. */
#define WLB_MIDX_MAX_BYTES (16ll << 30)

/* 1 when path is a Megatron index: its name ends in ".idx" or the file open
 * on fd starts with the magic (read with pread, the offset is kept). */
int wlb_midx_is(const char *path, int fd);

/* Reads the document lengths of the index at path, in document order, into
 * *lens (owned by the caller; free).  Documents of no sequence carry no token
 * and are skipped.  Every inconsistency is refused in one line naming the
 * file and the byte offset. */
int wlb_midx_read(const char *path, uint32_t **lens, size_t *n, struct wlb_error *err);

#endif
