/* gpu_time.cu — what every CUDA primitive of the backend is built on
 * (gpu_int.h): one-line errors naming the failed call, device buffers, the
 * random bf16 fill and the one timing method.
 *
 * wlb_cu_time_reps: warm-up calls, then `reps` calls each between two CUDA
 * events, enqueued in batches behind a short spin kernel so the GPU runs them
 * back to back whatever the CPU's launch cost; median, p10 and p90 on the
 * host.  Inputs are random non-zero bf16 (a seeded hash); the callers rotate
 * them through buffer sets larger than L2 (gpu_cuda.cu). */
#include <cuda_bf16.h>

#include <stdint.h>
#include <stdlib.h>

#include "gpu_int.h"

#define BATCH 32                       /* reps enqueued behind one spin */
#define SPIN_NS_PER_OP 40000ull        /* spin time per enqueued rep */

/* ---- errors: one line naming the call ---------------------------------- */

/* The function name of a stringified call: "cudaMalloc(&p, n)" -> "cudaMalloc". */
static const char *call_name(const char *expr, char *buf, size_t n)
{
	size_t i = 0;
	while (expr[i] && expr[i] != '(' && expr[i] != ' ' && i + 1 < n) {
		buf[i] = expr[i];
		i++;
	}
	buf[i] = '\0';
	return buf;
}

int wlb_cu_cuda_fail(struct wlb_error *err, const char *expr, cudaError_t e)
{
	char name[64];
	return wlb_error_set(err, e == cudaErrorMemoryAllocation ? WLB_ENOMEM : WLB_EIO, "%s: %s",
			     call_name(expr, name, sizeof name), cudaGetErrorString(e));
}

int wlb_cu_lt_fail(struct wlb_error *err, const char *expr, cublasStatus_t s)
{
	char name[64];
	return wlb_error_set(err, s == CUBLAS_STATUS_ALLOC_FAILED ? WLB_ENOMEM : WLB_EIO, "%s: %s",
			     call_name(expr, name, sizeof name), cublasLtGetStatusString(s));
}

int wlb_cu_nccl_fail(struct wlb_error *err, const char *expr, ncclResult_t r, ncclComm_t comm)
{
	char name[64];
	const char *last = ncclGetLastError(comm);
	call_name(expr, name, sizeof name);
	if (last && *last)
		return wlb_error_set(err, WLB_EIO, "%s: %s (%s)", name, ncclGetErrorString(r), last);
	return wlb_error_set(err, WLB_EIO, "%s: %s", name, ncclGetErrorString(r));
}

/* After a kernel launch. */
static int launched(const char *what, struct wlb_error *err)
{
	cudaError_t e = cudaGetLastError();
	if (e != cudaSuccess)
		return wlb_error_set(err, WLB_EIO, "%s launch: %s", what, cudaGetErrorString(e));
	return 0;
}

int wlb_cu_alloc(void **p, size_t bytes, const char *what, struct wlb_error *err)
{
	cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
	if (e != cudaSuccess) {
		*p = NULL;
		cudaGetLastError();
		return wlb_error_set(err, e == cudaErrorMemoryAllocation ? WLB_ENOMEM : WLB_EIO,
				     "cudaMalloc of %.2f GiB (%s): %s", bytes / GIB, what,
				     cudaGetErrorString(e));
	}
	return 0;
}

void wlb_cu_free(void *p)
{
	if (p)
		cudaFree(p);
}

/* ---- kernels: random fill, spin --------------------------------------- */

__device__ __forceinline__ uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Uniform magnitudes in [1/16, 1) with a random sign: never zero, random
 * mantissa bits (what real activations look like to the power budget). */
__global__ void fill_bf16_kernel(uint16_t *x, size_t n, uint64_t seed)
{
	size_t stride = (size_t)gridDim.x * blockDim.x;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
		uint64_t h = mix64(seed * 0x9e3779b97f4a7c15ull + i);
		float mag = 0.0625f + 0.9375f * (float)(h >> 40) * (1.0f / 16777216.0f);
		x[i] = __bfloat16_as_ushort(__float2bfloat16_rn((h & 1) ? -mag : mag));
	}
}

int wlb_cu_fill_bf16(uint16_t *x, size_t n, uint64_t seed, cudaStream_t st, struct wlb_error *err)
{
	size_t blocks = (n + 255) / 256;
	if (!n)
		return 0;
	if (blocks > 8192)
		blocks = 8192;
	fill_bf16_kernel<<<(unsigned)blocks, 256, 0, st>>>(x, n, seed);
	return launched("fill_bf16 kernel", err);
}

/* Busy-waits ns nanoseconds of the GPU's global timer on one thread: holds
 * the stream while the CPU enqueues a batch behind it. */
__global__ void spin_kernel(unsigned long long ns)
{
	unsigned long long t0, t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
	do {
		asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	} while (t - t0 < ns);
}

/* ---- timing ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* q-quantile of sorted s[0..n-1], linear between order statistics. */
static double quantile(const double *s, int n, double q)
{
	double x = q * (n - 1);
	int i = (int)x;
	if (i >= n - 1)
		return s[n - 1];
	return s[i] + (s[i + 1] - s[i]) * (x - i);
}

/* warm untimed calls; then reps calls, each between two events, in batches
 * of BATCH behind a spin kernel; each batch starts with `align` untimed
 * calls (collectives: the ranks leave their spins at different times). */
int wlb_cu_time_reps(cudaStream_t st, int warm, int align, int reps, wlb_cu_op_fn fn, void *ctx,
		     struct wlb_timing *out, struct wlb_error *err)
{
	cudaEvent_t ev[2 * BATCH];
	double *t = NULL;
	int rc = 0, nev = 0, done = 0, call = 0, i;
	float ms;

	t = (double *)malloc((size_t)reps * sizeof *t);
	if (!t) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	for (; nev < 2 * BATCH; nev++)
		CU(cudaEventCreate(&ev[nev]));
	for (i = 0; i < warm; i++)
		TRY(fn(ctx, call++, err));
	CU(cudaStreamSynchronize(st));
	while (done < reps) {
		int b = reps - done < BATCH ? reps - done : BATCH;
		spin_kernel<<<1, 1, 0, st>>>((unsigned long long)(b + align) * SPIN_NS_PER_OP);
		TRY(launched("spin kernel", err));
		for (i = 0; i < align; i++)
			TRY(fn(ctx, call++, err));
		for (i = 0; i < b; i++) {
			CU(cudaEventRecord(ev[2 * i], st));
			TRY(fn(ctx, call++, err));
			CU(cudaEventRecord(ev[2 * i + 1], st));
		}
		CU(cudaEventSynchronize(ev[2 * b - 1]));
		for (i = 0; i < b; i++) {
			CU(cudaEventElapsedTime(&ms, ev[2 * i], ev[2 * i + 1]));
			t[done + i] = ms * 1000.0;
		}
		done += b;
	}
	qsort(t, (size_t)reps, sizeof *t, cmp_double);
	out->median_us = quantile(t, reps, 0.5);
	out->p10_us = quantile(t, reps, 0.1);
	out->p90_us = quantile(t, reps, 0.9);
	out->reps = reps;
out:
	if (rc)
		cudaStreamSynchronize(st); /* nothing in flight when the caller frees */
	for (i = 0; i < nev; i++)
		cudaEventDestroy(ev[i]);
	free(t);
	return rc;
}

