/* nccl_tests.h — importing the logs of NVIDIA nccl-tests into collective samples
 * of the cost DB (struct wlb_coll_sample, costdb.h). */
#ifndef WLB_NCCL_TESTS_H
#define WLB_NCCL_TESTS_H

#include <stddef.h>

#include "costdb.h"
#include "err.h"

/* Parses the text output of NVIDIA nccl-tests (all_gather_perf and friends):
 * '#' lines are headers; data rows are "size count type redop root time algbw
 * busbw #wrong time algbw busbw #wrong" (out-of-place first).  Returns the
 * out-of-place rows as samples (source imported, algo "", run 0, op/ranks/
 * nodes as given) in *out, malloc'd: free() it.
 * Also: the column header line, when present, gives the layout (older
 * nccl-tests without "root", "error" for "#wrong"); "N/A" in #wrong columns is
 * accepted; blank lines, NCCL_DEBUG lines ("NCCL INFO"/"NCCL WARN") and the
 * prefixes of mpirun --tag-output ("[1,0]<stdout>:") and srun --label ("0: ")
 * are skipped; rows of size 0 (nccl-tests prints them when -b is below
 * ranks x word size) carry nothing and are skipped.  Refused, with FILE:LINE:
 * a row that does not parse, a row with wrong values counted, a busbw/algbw
 * ratio that is not wlb_coll_busbw_factor(op, ranks) (wrong op or ranks
 * given); with FILE: "# Rank N" lines listing another rank count, no data
 * row. */
int wlb_nccl_tests_parse(const char *path, enum wlb_coll_op op, int ranks, int nodes,
			 struct wlb_coll_sample **out, size_t *n, struct wlb_error *err);

#endif
