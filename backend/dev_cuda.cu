/* dev_cuda.cu — the CUDA device of wlb-run (dev.h): bf16 buffers on one GPU,
 * cuBLASLt GEMMs with fp32 accumulation (dev_cuda_gemm.cu), the varlen
 * attention kernels of attn.cu, and small grid-stride kernels (fp32 math)
 * for the rest.  This file: memory, host copies, attention, the small
 * kernels, timing marks, open and close; dev_cuda_int.h is what the two
 * files share.
 *
 * Everything is enqueued on one non-blocking stream (dev->stream, which
 * comm_nccl.cu shares), so the device runs the executor's calls in its order
 * without host synchronisation.  Only download, upload and upload_int wait
 * for the stream (their host buffers are pageable staging), and sync.
 *
 * Memory comes from the stream-ordered allocator (cudaMallocAsync, plain
 * cudaMalloc where the device has no memory pools; the pool keeps what is
 * freed instead of returning it at each synchronisation), zeroed on the stream;
 * bytes / peak_bytes count what alloc handed out (not the cuBLASLt
 * workspace nor the attention backward's scratch).  GEMM plans (descriptors,
 * layouts and the heuristic's algorithm) are cached per shape, transposes
 * and operand alignment.  fill is dev_cpu.c's pure function of (seed, index),
 * r = splitmix64(seed ^ (i * 0x9E3779B97F4A7C15)) >> 12,
 * x_i = scale * ((2r + 1) / 2^52 - 1), computed in double and rounded to
 * bf16, so both devices start from the same values.  elapsed_ms is NaN
 * for a mark not recorded or not yet reached.  scatter_add_rows adds with
 * bf16 atomics: with repeated indices the order (and the last bit) is not
 * deterministic. */
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn_cuda.h"
#include "dev_cuda_int.h"

#define GOLDEN 0x9E3779B97F4A7C15ull

/* ---- kernels ---------------------------------------------------------- */

static unsigned grid_for(size_t n)
{
	size_t b = (n + 255) / 256;
	return b < 1 ? 1 : b > 16384 ? 16384 : (unsigned)b;
}

#define GRID_STRIDE(i, n) \
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
	     i += (size_t)gridDim.x * blockDim.x)

__device__ __forceinline__ uint64_t splitmix64(uint64_t z)
{
	z += GOLDEN;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static __global__ void fill_kernel(bf16 *x, size_t n, uint64_t seed, double scale)
{
	GRID_STRIDE(i, n) {
		uint64_t r = splitmix64(seed ^ ((uint64_t)i * GOLDEN)) >> 12;
		x[i] = __double2bfloat16(scale * ((double)(2 * r + 1) * 0x1p-52 - 1));
	}
}

static __global__ void gather_kernel(bf16 *dst, const bf16 *src, const int *idx, size_t n,
				     int cols)
{
	GRID_STRIDE(e, n) {
		size_t r = e / (size_t)cols, c = e % (size_t)cols;
		dst[e] = src[(size_t)idx[r] * cols + c];
	}
}

static __global__ void scatter_add_kernel(bf16 *dst, const bf16 *src, const int *idx, size_t n,
					  int cols)
{
	GRID_STRIDE(e, n) {
		size_t r = e / (size_t)cols, c = e % (size_t)cols;
		atomicAdd(dst + (size_t)idx[r] * cols + c, src[e]);
	}
}

static __global__ void axpy_kernel(bf16 *y, const bf16 *x, size_t n, float alpha)
{
	GRID_STRIDE(i, n)
		y[i] = __float2bfloat16_rn(__bfloat162float(y[i]) + alpha * __bfloat162float(x[i]));
}

__device__ __forceinline__ float sigmoid(float g)
{
	return 1.0f / (1.0f + expf(-g));
}

static __global__ void swiglu_fwd_kernel(const bf16 *h, bf16 *a, size_t n, int f)
{
	GRID_STRIDE(e, n) {
		size_t r = e / (size_t)f, j = e % (size_t)f, row = r * 2 * (size_t)f;
		float g = __bfloat162float(h[row + j]), u = __bfloat162float(h[row + f + j]);
		a[e] = __float2bfloat16_rn(g * sigmoid(g) * u);
	}
}

static __global__ void swiglu_bwd_kernel(const bf16 *h, const bf16 *da, bf16 *dh, size_t n,
					 int f)
{
	GRID_STRIDE(e, n) {
		size_t r = e / (size_t)f, j = e % (size_t)f, row = r * 2 * (size_t)f;
		float g = __bfloat162float(h[row + j]), u = __bfloat162float(h[row + f + j]);
		float d = __bfloat162float(da[e]), s = sigmoid(g);
		dh[row + j] = __float2bfloat16_rn(d * u * s * (1.0f + g * (1.0f - s)));
		dh[row + f + j] = __float2bfloat16_rn(d * g * s);
	}
}

static int launched(const char *what, struct wlb_error *err)
{
	cudaError_t e = cudaGetLastError();
	if (e != cudaSuccess)
		return wlb_error_set(err, WLB_EIO, "%s kernel launch: %s", what, cudaGetErrorString(e));
	return 0;
}

/* ---- memory ----------------------------------------------------------- */

static cudaError_t raw_alloc(struct cdev *x, void **p, size_t bytes)
{
	if (x->pools)
		return cudaMallocAsync(p, bytes ? bytes : 1, x->st);
	return cudaMalloc(p, bytes ? bytes : 1);
}

static void raw_free(struct cdev *x, void *p)
{
	if (!p)
		return;
	if (x->pools)
		cudaFreeAsync(p, x->st);
	else
		cudaFree(p);
}

static void *d_alloc(struct wlb_dev *d, size_t bytes, struct wlb_error *err)
{
	struct cdev *x = X(d);
	void *p = NULL;
	cudaError_t e;
	int rc = 0;

	if (x->n_blocks == x->cap_blocks) {
		size_t cap = x->cap_blocks ? 2 * x->cap_blocks : 256;
		struct block *b = (struct block *)realloc(x->blocks, cap * sizeof *b);
		if (!b) {
			wlb_error_set(err, WLB_ENOMEM, "alloc: out of host memory");
			return NULL;
		}
		x->blocks = b;
		x->cap_blocks = cap;
	}
	if ((e = raw_alloc(x, &p, bytes)) != cudaSuccess) {
		rc = wlb_cu_cuda_fail(err, x->pools ? "cudaMallocAsync" : "cudaMalloc", e);
		goto out;
	}
	CU(cudaMemsetAsync(p, 0, bytes, x->st));
	x->blocks[x->n_blocks].p = p;
	x->blocks[x->n_blocks++].bytes = bytes;
	d->bytes += bytes;
	if (d->bytes > d->peak_bytes)
		d->peak_bytes = d->bytes;
out:
	if (rc) {
		cudaGetLastError();
		if (p)
			raw_free(x, p);
		wlb_error_prefix(err, "alloc of %zu bytes (%.2f GiB in use)", bytes,
				 (double)d->bytes / GIB);
		return NULL;
	}
	return p;
}

static void d_free(struct wlb_dev *d, void *p)
{
	struct cdev *x = X(d);
	size_t i;

	if (!p)
		return;
	for (i = x->n_blocks; i-- > 0;)
		if (x->blocks[i].p == p) {
			d->bytes -= x->blocks[i].bytes;
			x->blocks[i] = x->blocks[--x->n_blocks];
			break;
		}
	raw_free(x, p);
}

/* Grow-only scratch on the stream (the old buffer is freed in stream order). */
static int scratch(struct cdev *x, float **p, size_t *have, size_t bytes, const char *what,
		   struct wlb_error *err)
{
	void *q = NULL;
	cudaError_t e;

	if (*have >= bytes && *p)
		return 0;
	raw_free(x, *p);
	*p = NULL;
	*have = 0;
	if ((e = raw_alloc(x, &q, bytes)) != cudaSuccess) {
		cudaGetLastError();
		return wlb_error_set(err, e == cudaErrorMemoryAllocation ? WLB_ENOMEM : WLB_EIO,
				     "%s scratch of %zu bytes: %s", what, bytes, cudaGetErrorString(e));
	}
	*p = (float *)q;
	*have = bytes;
	return 0;
}

/* ---- host <-> device -------------------------------------------------- */

/* Bytes between host and device in stream order, then waits: the host
 * buffer is pageable and the caller's again when this returns. */
static int copy_wait(struct wlb_dev *d, void *dst, const void *src, size_t bytes,
		     cudaMemcpyKind kind, const char *what, struct wlb_error *err)
{
	int rc = 0;

	if (!bytes)
		return 0;
	CU(cudaMemcpyAsync(dst, src, bytes, kind, X(d)->st));
	CU(cudaStreamSynchronize(X(d)->st));
out:
	if (rc)
		wlb_error_prefix(err, "%s of %zu bytes", what, bytes);
	return rc;
}

static int d_upload(struct wlb_dev *d, void *dst, const double *src, size_t n,
		    struct wlb_error *err)
{
	bf16 *h = (bf16 *)malloc((n ? n : 1) * sizeof *h);
	int rc;

	if (!h)
		return wlb_error_set(err, WLB_ENOMEM, "upload of %zu values: out of host memory", n);
	for (size_t i = 0; i < n; i++)
		h[i] = __double2bfloat16(src[i]); /* round to nearest even */
	rc = copy_wait(d, dst, h, n * sizeof *h, cudaMemcpyHostToDevice, "upload", err);
	free(h);
	return rc;
}

static int d_download(struct wlb_dev *d, double *dst, const void *src, size_t n,
		      struct wlb_error *err)
{
	bf16 *h = (bf16 *)malloc((n ? n : 1) * sizeof *h);
	int rc;

	if (!h)
		return wlb_error_set(err, WLB_ENOMEM, "download of %zu values: out of host memory", n);
	rc = copy_wait(d, h, src, n * sizeof *h, cudaMemcpyDeviceToHost, "download", err);
	for (size_t i = 0; !rc && i < n; i++)
		dst[i] = (double)__bfloat162float(h[i]);
	free(h);
	return rc;
}

static int d_upload_int(struct wlb_dev *d, int *dst, const int *src, size_t n,
			struct wlb_error *err)
{
	return copy_wait(d, dst, src, n * sizeof *src, cudaMemcpyHostToDevice, "upload_int", err);
}

static int d_put(struct wlb_dev *d, void *dst, const void *src, size_t bytes,
		 struct wlb_error *err)
{
	return copy_wait(d, dst, src, bytes, cudaMemcpyHostToDevice, "put", err);
}

static int d_get(struct wlb_dev *d, void *dst, const void *src, size_t bytes,
		 struct wlb_error *err)
{
	return copy_wait(d, dst, src, bytes, cudaMemcpyDeviceToHost, "get", err);
}

/* ---- attention -------------------------------------------------------- */

static int attn_args(const struct wlb_dev_attn *s, struct wlb_attn_dev *o, struct wlb_error *err)
{
	if (s->head_dim != 64 && s->head_dim != 128)
		return wlb_error_set(err, WLB_EINVAL, "cuda attention supports head_dim 64 or 128, "
				     "not %d", s->head_dim);
	if (s->heads < 1 || s->kv_heads < 1 || s->heads % s->kv_heads)
		return wlb_error_set(err, WLB_EINVAL, "kv_heads (%d) must divide heads (%d)",
				     s->kv_heads, s->heads);
	memset(o, 0, sizeof *o);
	o->n_pieces = s->n_pieces;
	o->cu_q = s->cu_q, o->cu_k = s->cu_k;
	o->max_q = s->max_q, o->max_k = s->max_k;
	o->total_q = s->total_q, o->total_k = s->total_k;
	o->heads = s->heads, o->kv_heads = s->kv_heads, o->head_dim = s->head_dim;
	o->scale = (float)s->scale;
	return 0;
}

/* attn.cu loads Q, K, V and dO 16 bytes at a time and O, dQ, dK, dV, lse 4
 * bytes at a time: a misaligned pointer would be a sticky misaligned-address
 * fault, so it is an error here (alloc's are aligned). */
static int attn_aligned(const void *const *p16, int n16, const void *const *p4, int n4,
			struct wlb_error *err)
{
	for (int i = 0; i < n16 + n4; i++) {
		const void *p = i < n16 ? p16[i] : p4[i - n16];
		size_t al = i < n16 ? 16 : 4;
		if ((uintptr_t)p % al)
			return wlb_error_set(err, WLB_EINVAL, "buffer %p is not %zu-byte aligned", p,
					     al);
	}
	return 0;
}

static int d_attn_fwd(struct wlb_dev *d, const struct wlb_dev_attn *s, const void *q,
		      const void *k, const void *v, void *o, void *lse, struct wlb_error *err)
{
	const void *p16[] = {q, k, v}, *p4[] = {o, lse};
	struct wlb_attn_dev a;
	int rc = 0, e;

	TRY(attn_args(s, &a, err));
	TRY(attn_aligned(p16, 3, p4, 2, err));
	e = wlb_attn_cuda_fwd(&a, (const uint16_t *)q, (const uint16_t *)k, (const uint16_t *)v,
			      (uint16_t *)o, (float *)lse, X(d)->st);
	if (e)
		rc = wlb_cu_cuda_fail(err, "wlb_attn_cuda_fwd", (cudaError_t)e);
out:
	if (rc)
		wlb_error_prefix(err, "attn_fwd");
	return rc;
}

static int d_attn_bwd(struct wlb_dev *d, const struct wlb_dev_attn *s, const void *q,
		      const void *k, const void *v, const void *o, const void *lse,
		      const void *dout, void *dq, void *dk, void *dv, struct wlb_error *err)
{
	struct cdev *x = X(d);
	const void *p16[] = {q, k, v, dout}, *p4[] = {o, lse, dq, dk, dv};
	struct wlb_attn_dev a;
	size_t nq, nk;
	int rc = 0, e;

	TRY(attn_args(s, &a, err));
	TRY(attn_aligned(p16, 4, p4, 5, err));
	nq = (size_t)(s->total_q > 0 ? s->total_q : 0) * s->heads * s->head_dim;
	nk = (size_t)(s->total_k > 0 ? s->total_k : 0) * s->kv_heads * s->head_dim;
	if (s->n_pieces == 0 || s->max_k == 0 || s->total_k == 0) {
		/* no keys: the kernels write nothing, the gradients are zero */
		if (nq)
			CU(cudaMemsetAsync(dq, 0, nq * sizeof(bf16), x->st));
		if (nk) {
			CU(cudaMemsetAsync(dk, 0, nk * sizeof(bf16), x->st));
			CU(cudaMemsetAsync(dv, 0, nk * sizeof(bf16), x->st));
		}
		goto out;
	}
	TRY(scratch(x, &x->dq_acc, &x->dq_acc_bytes, (nq ? nq : 1) * sizeof(float), "dq_acc", err));
	TRY(scratch(x, &x->delta, &x->delta_bytes,
		    ((size_t)(s->total_q > 0 ? s->total_q : 0) * s->heads + 1) * sizeof(float),
		    "delta", err));
	e = wlb_attn_cuda_bwd(&a, (const uint16_t *)q, (const uint16_t *)k, (const uint16_t *)v,
			      (const uint16_t *)o, (const float *)lse, (const uint16_t *)dout,
			      (uint16_t *)dq, (uint16_t *)dk, (uint16_t *)dv, x->dq_acc, NULL,
			      x->delta, x->st);
	if (e)
		rc = wlb_cu_cuda_fail(err, "wlb_attn_cuda_bwd", (cudaError_t)e);
out:
	if (rc)
		wlb_error_prefix(err, "attn_bwd");
	return rc;
}

/* ---- fill, rows, elementwise, copies -------------------------------- */

/* n_rows x cols items, negative counts as none. */
static size_t items(int rows, int cols)
{
	return (size_t)(rows > 0 ? rows : 0) * (size_t)(cols > 0 ? cols : 0);
}

/* Enqueues kern over n items on the stream; returns from the caller. */
#define ELEMENTWISE(name, kern, n, ...) do { \
	if (!(n)) \
		return 0; \
	kern<<<grid_for(n), 256, 0, X(d)->st>>>(__VA_ARGS__); \
	return launched(name, err); } while (0)

static int d_gather_rows(struct wlb_dev *d, void *dst, const void *src, const int *idx,
			 int n_rows, int cols, struct wlb_error *err)
{
	ELEMENTWISE("gather_rows", gather_kernel, items(n_rows, cols), (bf16 *)dst,
		    (const bf16 *)src, idx, items(n_rows, cols), cols);
}

static int d_scatter_add_rows(struct wlb_dev *d, void *dst, const void *src, const int *idx,
			      int n_rows, int cols, struct wlb_error *err)
{
	ELEMENTWISE("scatter_add_rows", scatter_add_kernel, items(n_rows, cols), (bf16 *)dst,
		    (const bf16 *)src, idx, items(n_rows, cols), cols);
}

static int d_axpy(struct wlb_dev *d, void *y, const void *x, size_t n, double alpha,
		  struct wlb_error *err)
{
	ELEMENTWISE("axpy", axpy_kernel, n, (bf16 *)y, (const bf16 *)x, n, (float)alpha);
}

static int d_swiglu_fwd(struct wlb_dev *d, const void *h, void *a, int rows, int f,
			struct wlb_error *err)
{
	ELEMENTWISE("swiglu_fwd", swiglu_fwd_kernel, items(rows, f), (const bf16 *)h, (bf16 *)a,
		    items(rows, f), f);
}

static int d_swiglu_bwd(struct wlb_dev *d, const void *h, const void *da, void *dh, int rows,
			int f, struct wlb_error *err)
{
	ELEMENTWISE("swiglu_bwd", swiglu_bwd_kernel, items(rows, f), (const bf16 *)h,
		    (const bf16 *)da, (bf16 *)dh, items(rows, f), f);
}

static int d_zero(struct wlb_dev *d, void *p, size_t bytes, struct wlb_error *err)
{
	int rc = 0;
	if (bytes)
		CU(cudaMemsetAsync(p, 0, bytes, X(d)->st));
out:
	return rc;
}

static int d_fill(struct wlb_dev *d, void *p, size_t n, uint64_t seed, double scale,
		  struct wlb_error *err)
{
	ELEMENTWISE("fill", fill_kernel, n, (bf16 *)p, n, seed, scale);
}

static int d_copy2d(struct wlb_dev *d, void *dst, int ldd, const void *src, int lds, int rows,
		    int cols, struct wlb_error *err)
{
	int rc = 0;

	if (rows <= 0 || cols <= 0)
		return 0;
	CU(cudaMemcpy2DAsync(dst, (size_t)ldd * sizeof(bf16), src, (size_t)lds * sizeof(bf16),
			     (size_t)cols * sizeof(bf16), (size_t)rows, cudaMemcpyDeviceToDevice,
			     X(d)->st));
out:
	if (rc)
		wlb_error_prefix(err, "copy2d %dx%d (ld %d <- %d)", rows, cols, ldd, lds);
	return rc;
}

/* ---- timing, sync, close ---------------------------------------------- */

static int d_mark(struct wlb_dev *d, int slot, struct wlb_error *err)
{
	struct cdev *x = X(d);
	int rc = 0;

	if (slot < 0 || slot >= WLB_DEV_MARKS)
		return wlb_error_set(err, WLB_EINVAL, "mark: slot %d outside 0 .. %d", slot,
				     WLB_DEV_MARKS - 1);
	if (!x->ev[slot])
		CU(cudaEventCreate(&x->ev[slot]));
	CU(cudaEventRecord(x->ev[slot], x->st));
	x->rec[slot] = 1;
out:
	if (rc)
		wlb_error_prefix(err, "mark %d", slot);
	return rc;
}

static double d_elapsed_ms(struct wlb_dev *d, int from, int to)
{
	struct cdev *x = X(d);
	float ms = 0;

	if (from < 0 || from >= WLB_DEV_MARKS || to < 0 || to >= WLB_DEV_MARKS || !x->rec[from] ||
	    !x->rec[to])
		return NAN; /* no such mark */
	if (cudaEventElapsedTime(&ms, x->ev[from], x->ev[to]) != cudaSuccess) {
		cudaGetLastError(); /* not complete: no sync since */
		return NAN;
	}
	return ms;
}

static int d_sync(struct wlb_dev *d, struct wlb_error *err)
{
	int rc = 0;
	CU(cudaStreamSynchronize(X(d)->st));
out:
	return rc;
}

static void d_close(struct wlb_dev *d)
{
	struct cdev *x;
	int i;

	if (!d)
		return;
	x = X(d);
	if (x->st) {
		cudaStreamSynchronize(x->st);
		for (size_t b = 0; b < x->n_blocks; b++)
			raw_free(x, x->blocks[b].p);
		raw_free(x, x->dq_acc);
		raw_free(x, x->delta);
		cudaStreamSynchronize(x->st);
	}
	wlb_cdev_plans_free(x);
	for (i = 0; i < WLB_DEV_MARKS; i++)
		if (x->ev[i])
			cudaEventDestroy(x->ev[i]);
	wlb_cu_free(x->ws);
	if (x->lt)
		cublasLtDestroy(x->lt);
	if (x->st)
		cudaStreamDestroy(x->st);
	free(x->blocks);
	free(x);
}

static const struct wlb_dev_ops cuda_ops = {
	d_alloc, d_free, d_upload, d_download, d_upload_int, d_zero, d_fill, wlb_cdev_gemm, d_attn_fwd,
	d_attn_bwd, d_gather_rows, d_scatter_add_rows, d_copy2d, d_axpy, d_swiglu_fwd,
	d_swiglu_bwd, d_mark, d_elapsed_ms, d_sync, d_close, d_put, d_get,
};

/* The stream-ordered allocator's pool keeps what is freed (the default
 * release threshold, 0, hands it back to the driver at every synchronisation,
 * so each iteration's first allocations would map memory again inside the
 * timed steps).  Not fatal: without it the pool only costs time. */
static void keep_pool(int device)
{
	cudaMemPool_t pool;
	uint64_t keep = UINT64_MAX;

	if (cudaDeviceGetMemPool(&pool, device) != cudaSuccess ||
	    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep) != cudaSuccess)
		cudaGetLastError();
}

extern "C" int wlb_dev_cuda_open(int local_rank, struct wlb_dev **out, struct wlb_error *err)
{
	struct cdev *x;
	cudaDeviceProp p;
	cudaError_t e;
	int rc = 0, n = 0, dev;

	*out = NULL;
	if ((e = cudaGetDeviceCount(&n)) != cudaSuccess) {
		cudaGetLastError();
		n = 0;
	}
	/* one visible device: a launcher bound this rank to its GPU
	 * (CUDA_VISIBLE_DEVICES per rank), whatever its local rank */
	dev = n == 1 && local_rank > 0 ? 0 : local_rank;
	if (local_rank < 0 || dev >= n)
		return wlb_error_set(err, WLB_EINVAL, "no CUDA device %d (found %d%s%s)", local_rank, n,
				     e != cudaSuccess ? ": " : "",
				     e != cudaSuccess ? cudaGetErrorString(e) : "");
	if (!(x = (struct cdev *)calloc(1, sizeof *x)))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	x->d.ops = &cuda_ops;
	x->d.name = "cuda";
	x->d.dtype = WLB_DT_BF16;
	x->d.tolerance = 2e-2;
	x->d.lse_size = sizeof(float);
	x->d.impl = x;
	x->device = dev;
	CU(cudaSetDevice(dev));
	CU(cudaGetDeviceProperties(&p, dev));
	wlb_cu_copy_str(x->d.device_name, sizeof x->d.device_name, p.name);
	if (cudaDeviceGetAttribute(&x->pools, cudaDevAttrMemoryPoolsSupported, dev) != cudaSuccess) {
		cudaGetLastError();
		x->pools = 0;
	}
	if (x->pools)
		keep_pool(dev);
	CU(cudaStreamCreateWithFlags(&x->st, cudaStreamNonBlocking));
	x->d.stream = (void *)x->st;
	LT(cublasLtCreate(&x->lt));
	TRY(wlb_cu_alloc(&x->ws, WS_BYTES, "cuBLASLt workspace", err));
	*out = &x->d;
out:
	if (rc) {
		wlb_error_prefix(err, "CUDA device %d", dev);
		d_close(&x->d);
	}
	return rc;
}
