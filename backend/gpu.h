/* gpu.h — the GPU primitives that wlb-profile times and wlb-run executes,
 * behind one small C interface (DESIGN.md §1-2).
 *
 * With nvcc at build time it is implemented by gpu_cuda.cu (device, cuBLASLt
 * GEMMs, our varlen attention kernel of attn.h), gpu_time.cu (timing) and
 * nccl_run.cu / nccl_worker.cu (NCCL, one process per GPU); without, by
 * gpu_none.c, whose every call fails saying that this wlb
 * was built without CUDA.  Nothing here changes clocks, power limits or any
 * other GPU setting. */
#ifndef WLB_GPU_H
#define WLB_GPU_H

#include <stdint.h>

#include "costdb.h"
#include "err.h"

struct wlb_gpu_info {
	int devices;                 /* CUDA devices visible to this process */
	char name[128];              /* "NVIDIA H100 80GB HBM3" */
	int sms, cc_major, cc_minor;
	double mem_gib;
	double sm_clock_mhz, power_w, temp_c;  /* 0 when not readable */
	char driver[32], cuda[32], cudnn[32], nccl[32];
};

/* Median and spread of timed repetitions, microseconds. */
struct wlb_timing {
	double median_us, p10_us, p90_us;
	int reps;
};

/* Call first in the main of a program that measures collectives: a process
 * started as an NCCL worker (it re-runs the same program) does its work and
 * exits here; any other returns at once. */
void wlb_gpu_worker(void);

/* 1 when this wlb was built with CUDA. */
int wlb_gpu_built(void);

/* Opens device (0-based); fills info.  Fails with one line when there is no
 * CUDA build, no driver or no device. */
int wlb_gpu_open(int device, struct wlb_gpu_info *info, struct wlb_error *err);
void wlb_gpu_close(void);

/* bf16 GEMM C[m x n] = A[m x k] B[k x n] with fp32 accumulation (cuBLASLt),
 * inputs random and non-zero, rotated through buffers larger than L2 so the
 * cache is not measured; warm-up, then reps timed with CUDA events.  Laid out
 * as nn.Linear runs it: A and C row-major, B stored as its transpose (the
 * weight, n x k row-major): cuBLAS's "TN" GEMM. */
int wlb_gpu_time_gemm(int64_t m, int64_t n, int64_t k, int reps, struct wlb_timing *out,
		      struct wlb_error *err);

/* One varlen causal attention call of `pieces` equal pieces (q_len queries at
 * the end of kv_len keys), forward or backward, with the given heads per
 * rank; bf16.  The kernel's name is wlb_gpu_attn_kernel(). */
int wlb_gpu_time_attn(int64_t q_len, int64_t kv_len, int pieces, int bwd, int heads, int kv_heads,
		      int head_dim, int reps, struct wlb_timing *out, struct wlb_error *err);
const char *wlb_gpu_attn_kernel(void);

/* NCCL collectives and p2p over the node's GPUs, one process per GPU
 * launched here (fork; the NCCL unique id passes through a file), timed as
 * nccl-tests does for each size: out-of-place, warm-up, reps, median.  Fills
 * samples (op, ranks 2/4/8 as the node allows, nodes 1) and returns their
 * number in *n (caller frees *out).  With one GPU, *n = 0. */
int wlb_gpu_time_collectives(const int64_t *sizes, int n_sizes, int reps,
			     struct wlb_coll_sample **out, size_t *n, struct wlb_error *err);
int wlb_gpu_time_p2p(const int64_t *sizes, int n_sizes, int reps, struct wlb_p2p_sample **out,
		     size_t *n, struct wlb_error *err);

/* Checks for make test-gpu (tests/gpu/check_gpu.c). */

/* Runs the GEMM of wlb_gpu_time_gemm once on random bf16 inputs and compares
 * it with a float64 GEMM of the same inputs on the CPU: *max_rel_err =
 * max |gpu - cpu| / max(|cpu|, rms(cpu)) over C (bf16 rounding of C alone
 * gives up to 2^-9).  Needs wlb_gpu_open. */
int wlb_gpu_check_gemm(int m, int n, int k, double *max_rel_err, struct wlb_error *err);

/* Checks NCCL's values over the node's GPUs, launched as the timings are:
 * all_reduce in bf16 and fp32, all_gather, reduce_scatter and all_to_all in
 * bf16, on the whole node and on every sub-communicator of 2, 4, 8, for a
 * few counts, on known values whose sums bf16 holds exactly.  0 when every
 * element matched, or with fewer than two GPUs (nothing to check); else
 * the first mismatch or failure in one line. */
int wlb_gpu_check_allreduce(struct wlb_error *err);

#endif
