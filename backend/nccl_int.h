/* nccl_int.h — the job file that nccl_run.cu (the parent) and
 * nccl_worker.cu (one process per GPU) share, mapped MAP_SHARED by both: the
 * NCCL unique id and the job, then each rank's state, progress and error, then
 * the sizes and the timings.  Not part of gpu.h; C++ (nvcc) only. */
#ifndef WLB_NCCL_INT_H
#define WLB_NCCL_INT_H

#include <nccl.h>

#include <stddef.h>
#include <stdint.h>

#include "gpu_int.h"

#define WK_MAGIC 0x776c626eu            /* "wlbn" */
#define WK_MAX_RANKS 64
#define WK_MAX_GROUPS 3                 /* sub-communicators of 2, 4, 8 */

enum { WK_COLL, WK_P2P, WK_CHECK };
enum { WK_PENDING, WK_RUNNING, WK_DONE, WK_FAILED };

struct wk_rank {
	int state;
	int exec_errno;                 /* the exec failed: its errno */
	int64_t progress;               /* bumped after each step */
	char msg[512];                  /* the error, one line */
};

/* Followed by int64_t sizes[n_sizes] and double results[]. */
struct wk_hdr {
	uint32_t magic;
	int mode, nranks, reps, n_sizes, n_groups;
	int group[WK_MAX_GROUPS];
	size_t file_bytes;
	ncclUniqueId id;
	struct wk_rank rank[WK_MAX_RANKS];
};

static inline int64_t *wk_sizes(struct wk_hdr *h)
{
	return (int64_t *)(h + 1);
}

/* WK_COLL: median us of (op, group size, size, group) written by the
 * group's first rank; WK_P2P: (size, rank).  -1 when not measured. */
static inline double *wk_res(struct wk_hdr *h, int op, int gi, int si, int grp)
{
	double *r = (double *)(wk_sizes(h) + h->n_sizes);
	if (h->mode == WK_P2P)
		return r + (size_t)si * 2 + grp;
	return r + (((size_t)op * WK_MAX_GROUPS + gi) * h->n_sizes + si) * h->nranks + grp;
}

/* Elements per rank of an op on `g` ranks for nccl-tests' size `bytes` (the
 * whole buffer), bf16: all_reduce the whole buffer; all_gather's send,
 * reduce_scatter's receive and all_to_all's per-peer chunk a g-th of it. */
static inline size_t coll_count(int op, int g, int64_t bytes)
{
	if (bytes < 2)
		return 0;
	return op == WLB_ALL_REDUCE ? (size_t)bytes / 2 : (size_t)bytes / 2 / (size_t)g;
}

/* The bytes actually moved for a count (sizes round down to whole elements). */
static inline int64_t coll_bytes(int op, int g, size_t count)
{
	return op == WLB_ALL_REDUCE ? (int64_t)count * 2 : (int64_t)count * g * 2;
}

/* The worker: maps the job file at path, runs rank's part of the job on GPU
 * rank and reports in the file.  The exit status for the process: 0 done,
 * 1 failed (the message is in the file), 3 the job file could not be read. */
int wlb_cu_worker_main(const char *path, int rank);

#endif
