/* dev_cuda_int.h — what the CUDA device of wlb-run (dev.h) shares between
 * its two files: dev_cuda.cu (memory, copies, attention, the small kernels,
 * timing, open and close) and dev_cuda_gemm.cu (cuBLASLt GEMMs and their plan
 * cache).  The device's state (struct cdev) and the calls that cross between
 * the files.  Not part of dev.h; C++ (nvcc) only. */
#ifndef WLB_DEV_CUDA_INT_H
#define WLB_DEV_CUDA_INT_H

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <stddef.h>
#include <stdint.h>

#include "gpu_int.h"

extern "C" {
#include "comm.h"
#include "dev.h"
}

#define WS_BYTES ((size_t)32 << 20)  /* cuBLASLt workspace */
#define MAX_PLANS 64                  /* cached GEMM plans */

typedef __nv_bfloat16 bf16;

/* One cached cuBLASLt GEMM: the key (transposes, shape, operand alignment),
 * then the descriptors and the heuristic's algorithm (dev_cuda_gemm.cu). */
struct plan {
	int ta, tb, m, n, k;
	uint32_t al_a, al_b, al_c;          /* operand alignment in bytes */
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t la, lb, lc;  /* cuBLASLt's A (our B), B (our A), C */
	cublasLtMatmulAlgo_t algo;
};

struct block {
	void *p;
	size_t bytes;
};

struct cdev {
	struct wlb_dev d;
	int device, pools;
	cudaStream_t st;
	cublasLtHandle_t lt;
	void *ws;
	struct block *blocks;               /* what alloc handed out */
	size_t n_blocks, cap_blocks;
	float *dq_acc, *delta;              /* attention backward scratch, grow-only */
	size_t dq_acc_bytes, delta_bytes;
	struct plan plans[MAX_PLANS];
	int n_plans, evict;
	cudaEvent_t ev[WLB_DEV_MARKS];
	unsigned char rec[WLB_DEV_MARKS];
};

static inline struct cdev *X(struct wlb_dev *d)
{
	return (struct cdev *)d->impl;
}

/* ---- GEMM (dev_cuda_gemm.cu) ------------------------------------------ */

/* The gemm of dev.h, enqueued on x->st with the cached plan for its shape. */
int wlb_cdev_gemm(struct wlb_dev *d, int ta, int tb, int m, int n, int k, const void *a,
		  const void *b, void *c, int accumulate, struct wlb_error *err);

/* Destroys every cached plan (close). */
void wlb_cdev_plans_free(struct cdev *x);

#endif
