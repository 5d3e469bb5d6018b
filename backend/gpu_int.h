/* gpu_int.h — what the CUDA backend's files share; not part of gpu.h.
 *
 * gpu_cuda.cu (the device, GEMMs, attention) and nccl_run.cu with
 * nccl_worker.cu (NCCL over the node's GPUs) time their primitives the one way
 * gpu_time.cu implements (wlb_cu_time_reps), fill their buffers with its
 * random bf16 and report CUDA, cuBLASLt and NCCL failures in one line naming
 * the call.  C++ (nvcc) only. */
#ifndef WLB_GPU_INT_H
#define WLB_GPU_INT_H

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <stdint.h>
#include <string.h>

extern "C" {
#include "gpu.h"
}

#define GIB (1024.0 * 1024.0 * 1024.0)
#define WARMUP 5

/* ---- errors: one line naming the call (gpu_time.cu) -------------------- */

int wlb_cu_cuda_fail(struct wlb_error *err, const char *expr, cudaError_t e);
int wlb_cu_lt_fail(struct wlb_error *err, const char *expr, cublasStatus_t s);
int wlb_cu_nccl_fail(struct wlb_error *err, const char *expr, ncclResult_t r, ncclComm_t comm);

/* These need `int rc`, `struct wlb_error *err` and a label `out`. */
#define CU(x) do { cudaError_t e_ = (x); \
	if (e_ != cudaSuccess) { rc = wlb_cu_cuda_fail(err, #x, e_); goto out; } } while (0)
#define LT(x) do { cublasStatus_t s_ = (x); \
	if (s_ != CUBLAS_STATUS_SUCCESS) { rc = wlb_cu_lt_fail(err, #x, s_); goto out; } } while (0)
#define NC(x, comm) do { ncclResult_t r_ = (x); \
	if (r_ != ncclSuccess) { rc = wlb_cu_nccl_fail(err, #x, r_, comm); goto out; } } while (0)
#define TRY(x) do { if ((rc = (x)) != 0) goto out; } while (0)

/* ---- device memory, random fill, timing (gpu_time.cu) ------------------ */

/* cudaMalloc of bytes (at least 1); the error names what and its size. */
int wlb_cu_alloc(void **p, size_t bytes, const char *what, struct wlb_error *err);
void wlb_cu_free(void *p);

/* n random non-zero bf16 values from seed, on stream st. */
int wlb_cu_fill_bf16(uint16_t *x, size_t n, uint64_t seed, cudaStream_t st, struct wlb_error *err);

/* Enqueues one timed operation on the stream the caller timed with; call is
 * the running index (picks the rotating buffer set). */
typedef int (*wlb_cu_op_fn)(void *ctx, int call, struct wlb_error *err);

/* warm untimed calls; then reps calls, each between two events, in batches
 * behind a spin kernel; each batch starts with `align` untimed calls
 * (collectives: the ranks leave their spins at different times).  Median,
 * p10 and p90 into out. */
int wlb_cu_time_reps(cudaStream_t st, int warm, int align, int reps, wlb_cu_op_fn fn, void *ctx,
		     struct wlb_timing *out, struct wlb_error *err);

/* ---- the device (gpu_cuda.cu) ------------------------------------------ */

/* Visible CUDA devices, or the no-GPU error every entry point gives. */
int wlb_cu_count_devices(int *n, struct wlb_error *err);

/* ---- host helpers ----------------------------------------------------- */

/* Elements rounded up to 256 bytes' worth, so every set stays aligned. */
static inline size_t wlb_cu_pad(size_t elems)
{
	return (elems + 127) / 128 * 128;
}

/* bf16 bits to float, exactly. */
static inline float wlb_cu_bf16_to_float(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* Round to nearest even (values here are finite). */
static inline uint16_t wlb_cu_float_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/* strlcpy: copies what fits, always terminated. */
static inline void wlb_cu_copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);
	memcpy(dst, src, l);
	dst[l] = '\0';
}

#endif
