/* dev.h — the compute device of wlb-run: memory, the kernels of a
 * transformer layer's forward and backward, and timing marks.
 *
 * Two implementations behind one table: dev_cpu.c (plain C in float64, GEMMs
 * through GSL's CBLAS, attention from attn_ref.c; the CPU reference path,
 * never used to measure speed) and dev_cuda.cu (bf16 on a GPU: cuBLASLt
 * GEMMs, the varlen attention kernel of attn.cu, small kernels for the
 * rest).  The executor (exec.c) only calls these, so the same schedule runs
 * on both.  Buffers hold `dtype` elements; index arrays are int on the
 * device.  Matrices are row-major.  Every call returns 0 or a negative
 * wlb_err with err filled (one line naming the call). */
#ifndef WLB_DEV_H
#define WLB_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "err.h"

/* Varlen causal attention over pieces, semantics of attn.h; cu_q and cu_k
 * are device int arrays of n_pieces + 1 offsets, max_q / max_k the largest
 * piece's lengths.  lse is [heads][total_q] of lse_size bytes each (double
 * on the CPU, float on the GPU). */
struct wlb_dev_attn {
	int n_pieces;
	const int *cu_q, *cu_k;
	int max_q, max_k, total_q, total_k;
	int heads, kv_heads, head_dim;
	double scale;
};

struct wlb_dev;

struct wlb_dev_ops {
	/* Zeroed memory; NULL with err filled when it does not fit. */
	void *(*alloc)(struct wlb_dev *d, size_t bytes, struct wlb_error *err);
	void (*free)(struct wlb_dev *d, void *p);
	/* Host doubles to n device elements and back (rounded to dtype). */
	int (*upload)(struct wlb_dev *d, void *dst, const double *src, size_t n,
		      struct wlb_error *err);
	int (*download)(struct wlb_dev *d, double *dst, const void *src, size_t n,
			struct wlb_error *err);
	/* Host ints to a device int array. */
	int (*upload_int)(struct wlb_dev *d, int *dst, const int *src, size_t n,
			  struct wlb_error *err);
	/* bytes of zeros. */
	int (*zero)(struct wlb_dev *d, void *x, size_t bytes, struct wlb_error *err);
	/* n values uniform in (-scale, scale), a pure function of (seed, index). */
	int (*fill)(struct wlb_dev *d, void *x, size_t n, uint64_t seed, double scale,
		    struct wlb_error *err);
	/* C[m x n] = op(A) op(B) (+ C when accumulate); op(A) is m x k: A is
	 * stored m x k, or k x m when ta; op(B) is k x n: B is k x n, or n x k
	 * when tb. */
	int (*gemm)(struct wlb_dev *d, int ta, int tb, int m, int n, int k, const void *a,
		    const void *b, void *c, int accumulate, struct wlb_error *err);
	int (*attn_fwd)(struct wlb_dev *d, const struct wlb_dev_attn *s, const void *q,
			const void *k, const void *v, void *o, void *lse, struct wlb_error *err);
	/* dq, dk, dv are overwritten. */
	int (*attn_bwd)(struct wlb_dev *d, const struct wlb_dev_attn *s, const void *q,
			const void *k, const void *v, const void *o, const void *lse,
			const void *dout, void *dq, void *dk, void *dv, struct wlb_error *err);
	/* Rows of `cols` elements: dst[i] = src[idx[i]] for i < n_rows. */
	int (*gather_rows)(struct wlb_dev *d, void *dst, const void *src, const int *idx,
			   int n_rows, int cols, struct wlb_error *err);
	/* dst[idx[i]] += src[i]; idx may repeat (summed in i order on the CPU). */
	int (*scatter_add_rows)(struct wlb_dev *d, void *dst, const void *src, const int *idx,
				int n_rows, int cols, struct wlb_error *err);
	/* A rows x cols block between strided matrices: dst[r*ldd + c] = src[r*lds + c]. */
	int (*copy2d)(struct wlb_dev *d, void *dst, int ldd, const void *src, int lds, int rows,
		      int cols, struct wlb_error *err);
	/* y += alpha x over n elements. */
	int (*axpy)(struct wlb_dev *d, void *y, const void *x, size_t n, double alpha,
		    struct wlb_error *err);
	/* SwiGLU: h is rows x 2f (gate | up), a = silu(gate) * up is rows x f;
	 * backward writes dh from h and da. */
	int (*swiglu_fwd)(struct wlb_dev *d, const void *h, void *a, int rows, int f,
			  struct wlb_error *err);
	int (*swiglu_bwd)(struct wlb_dev *d, const void *h, const void *da, void *dh, int rows,
			  int f, struct wlb_error *err);
	/* Timing: mark records "now" in slot (0 <= slot < WLB_DEV_MARKS) in the
	 * device's order of work; elapsed_ms is valid after sync. */
	int (*mark)(struct wlb_dev *d, int slot, struct wlb_error *err);
	double (*elapsed_ms)(struct wlb_dev *d, int from, int to);  /* NaN: no such mark */
	int (*sync)(struct wlb_dev *d, struct wlb_error *err);
	void (*close)(struct wlb_dev *d);
	/* Raw bytes between host and device (results, float64 records). */
	int (*put)(struct wlb_dev *d, void *dst, const void *src, size_t bytes,
		   struct wlb_error *err);
	int (*get)(struct wlb_dev *d, void *dst, const void *src, size_t bytes,
		   struct wlb_error *err);
};

#define WLB_DEV_MARKS 16384

struct wlb_dev {
	const struct wlb_dev_ops *ops;
	const char *name;        /* "cpu" or "cuda" */
	enum wlb_dtype dtype;    /* of activations, weights and gradients */
	double tolerance;        /* relative error --check accepts against float64 */
	size_t lse_size;         /* bytes of one log-sum-exp value */
	size_t bytes, peak_bytes; /* allocated now and at most */
	char device_name[128];   /* "NVIDIA H100 80GB HBM3", or the CPU's model */
	void *stream;            /* cudaStream_t for comm_nccl; NULL on the CPU */
	void *impl;
};

int wlb_dev_cpu_open(struct wlb_dev **out, struct wlb_error *err);
/* GPU local_rank of this node; one line without CUDA, driver or device. */
int wlb_dev_cuda_open(int local_rank, struct wlb_dev **out, struct wlb_error *err);

static inline void wlb_dev_close(struct wlb_dev *d)
{
	if (d)
		d->ops->close(d);
}

#endif
