/* gpu_cuda.cu — gpu.h on CUDA: the device and its versions (runtime API;
 * NVML and cuDNN loaded at run time, both optional), cuBLASLt bf16 GEMMs,
 * our varlen attention kernels (attn.cu) and NCCL collectives over the
 * node's GPUs.
 *
 * One timing method for every primitive (time_reps): warm-up calls, then
 * `reps` calls each between two CUDA events, enqueued in batches behind a
 * short spin kernel so the GPU runs them back to back whatever the CPU's
 * launch cost; median, p10 and p90 on the host.  Inputs are random non-zero
 * bf16 (a seeded hash) rotating through buffer sets whose total exceeds
 * 2 x L2, so consecutive repetitions do not find their operands in cache.
 *
 * Collectives run in one process per GPU.  CUDA is not fork-safe (a child
 * forked after its parent touched CUDA cannot use the GPU), so each worker is
 * fork + exec of /proc/self/exe with WLB_NCCL_WORKER naming a shared file:
 * a constructor here sees the variable before main runs and becomes the
 * worker.  The parent writes the NCCL unique id and the job into that file
 * and maps it MAP_SHARED; the workers map it too, report progress, a status
 * line and their timings in it, and the parent reads them after waitpid.
 *
 * Future work: across nodes, the same worker under mpirun / srun (an MPI=1
 * build taking rank and local rank from the environment as nccl-tests does,
 * the unique id broadcast over MPI), filling nodes > 1 and inter-node p2p.
 *
 * Nothing here changes clocks, power limits or any other GPU setting. */
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern "C" {
#include "gpu.h"
}
#include "attn_cuda.h"

extern char **environ;

#define GIB (1024.0 * 1024.0 * 1024.0)
#define WS_BYTES ((size_t)32 << 20)   /* cuBLASLt workspace */
#define MAX_SETS 4096                  /* rotating buffer sets, at most */
#define BATCH 32                       /* reps enqueued behind one spin */
#define SPIN_NS_PER_OP 40000ull        /* spin time per enqueued rep */
#define WARMUP 5

/* The open device (wlb_gpu_open .. wlb_gpu_close). */
static struct {
	int open, device;
	size_t l2_bytes;
	cudaStream_t stream;
	cublasLtHandle_t lt;
	void *ws;
} G;

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

static int cuda_fail(struct wlb_error *err, const char *expr, cudaError_t e)
{
	char name[64];
	return wlb_error_set(err, e == cudaErrorMemoryAllocation ? WLB_ENOMEM : WLB_EIO, "%s: %s",
			     call_name(expr, name, sizeof name), cudaGetErrorString(e));
}

static int lt_fail(struct wlb_error *err, const char *expr, cublasStatus_t s)
{
	char name[64];
	return wlb_error_set(err, s == CUBLAS_STATUS_ALLOC_FAILED ? WLB_ENOMEM : WLB_EIO, "%s: %s",
			     call_name(expr, name, sizeof name), cublasLtGetStatusString(s));
}

static int nccl_fail(struct wlb_error *err, const char *expr, ncclResult_t r, ncclComm_t comm)
{
	char name[64];
	const char *last = ncclGetLastError(comm);
	call_name(expr, name, sizeof name);
	if (last && *last)
		return wlb_error_set(err, WLB_EIO, "%s: %s (%s)", name, ncclGetErrorString(r), last);
	return wlb_error_set(err, WLB_EIO, "%s: %s", name, ncclGetErrorString(r));
}

/* These need `int rc`, `struct wlb_error *err` and a label `out`. */
#define CU(x) do { cudaError_t e_ = (x); \
	if (e_ != cudaSuccess) { rc = cuda_fail(err, #x, e_); goto out; } } while (0)
#define LT(x) do { cublasStatus_t s_ = (x); \
	if (s_ != CUBLAS_STATUS_SUCCESS) { rc = lt_fail(err, #x, s_); goto out; } } while (0)
#define NC(x, comm) do { ncclResult_t r_ = (x); \
	if (r_ != ncclSuccess) { rc = nccl_fail(err, #x, r_, comm); goto out; } } while (0)
#define TRY(x) do { if ((rc = (x)) != 0) goto out; } while (0)

/* After a kernel launch. */
static int launched(const char *what, struct wlb_error *err)
{
	cudaError_t e = cudaGetLastError();
	if (e != cudaSuccess)
		return wlb_error_set(err, WLB_EIO, "%s launch: %s", what, cudaGetErrorString(e));
	return 0;
}

static int dev_alloc(void **p, size_t bytes, const char *what, struct wlb_error *err)
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

static void dev_free(void *p)
{
	if (p)
		cudaFree(p);
}

static int need_open(struct wlb_error *err)
{
	if (!G.open)
		return wlb_error_set(err, WLB_EINVAL, "the GPU is not open (call wlb_gpu_open first)");
	return 0;
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

static int fill_bf16(uint16_t *x, size_t n, uint64_t seed, cudaStream_t st, struct wlb_error *err)
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

/* Enqueues one timed operation on the stream the caller timed with; call is
 * the running index (picks the rotating buffer set). */
typedef int (*op_fn)(void *ctx, int call, struct wlb_error *err);

/* warm untimed calls; then reps calls, each between two events, in batches
 * of BATCH behind a spin kernel; each batch starts with `align` untimed
 * calls (collectives: the ranks leave their spins at different times). */
static int time_reps(cudaStream_t st, int warm, int align, int reps, op_fn fn, void *ctx,
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

/* How many buffer sets of set_bytes to rotate through: enough to exceed
 * 2 x L2, as many as fit in 80 % of free memory, at least one. */
static int rotation(size_t set_bytes)
{
	size_t want = 2 * G.l2_bytes / (set_bytes ? set_bytes : 1) + 1, free_b = 0, total = 0;
	if (want > MAX_SETS)
		want = MAX_SETS;
	if (cudaMemGetInfo(&free_b, &total) == cudaSuccess) {
		size_t fit = (size_t)(0.8 * (double)free_b) / (set_bytes ? set_bytes : 1);
		if (want > fit)
			want = fit;
	}
	return want < 1 ? 1 : (int)want;
}

/* Elements rounded up to 256 bytes' worth, so every set stays aligned. */
static size_t pad(size_t elems)
{
	return (elems + 127) / 128 * 128;
}

/* ---- host bf16 -------------------------------------------------------- */

static float bf16_to_float(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* Round to nearest even (values here are finite). */
static uint16_t float_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/* ---- device and versions ---------------------------------------------- */

/* strlcpy: copies what fits, always terminated. */
static void copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);
	memcpy(dst, src, l);
	dst[l] = '\0';
}

static void version_str(char *buf, size_t n, int major, int minor, int patch)
{
	if (patch >= 0)
		snprintf(buf, n, "%d.%d.%d", major, minor, patch);
	else
		snprintf(buf, n, "%d.%d", major, minor);
}

/* cuDNN's version if libcudnn.so.9 loads, else "". */
static void read_cudnn(struct wlb_gpu_info *info)
{
	void *h = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
	size_t (*get)(void);
	if (!h)
		return;
	get = (size_t (*)(void))dlsym(h, "cudnnGetVersion");
	if (get) {
		size_t v = get(); /* major * 10000 + minor * 100 + patch since cuDNN 9 */
		version_str(info->cudnn, sizeof info->cudnn, (int)(v / 10000), (int)(v % 10000 / 100),
			    (int)(v % 100));
	}
	dlclose(h);
}

/* NVML, loaded at run time and only read: SM clock, power, temperature and
 * the driver's version.  Whatever is missing stays 0 (or ""). */
typedef int nvml_ret;
typedef struct nvml_device_st *nvml_device;

static void read_nvml(int device, struct wlb_gpu_info *info)
{
	void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	nvml_ret (*init)(void), (*shutdown)(void);
	nvml_ret (*by_bus)(const char *, nvml_device *), (*by_index)(unsigned, nvml_device *);
	nvml_ret (*clock)(nvml_device, int, unsigned *), (*power)(nvml_device, unsigned *);
	nvml_ret (*temp)(nvml_device, int, unsigned *), (*driver)(char *, unsigned);
	nvml_device d = NULL;
	char bus[64];
	unsigned v;

	if (!h)
		return;
	init = (nvml_ret (*)(void))dlsym(h, "nvmlInit_v2");
	shutdown = (nvml_ret (*)(void))dlsym(h, "nvmlShutdown");
	by_bus = (nvml_ret (*)(const char *, nvml_device *))dlsym(h, "nvmlDeviceGetHandleByPciBusId_v2");
	by_index = (nvml_ret (*)(unsigned, nvml_device *))dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
	clock = (nvml_ret (*)(nvml_device, int, unsigned *))dlsym(h, "nvmlDeviceGetClockInfo");
	power = (nvml_ret (*)(nvml_device, unsigned *))dlsym(h, "nvmlDeviceGetPowerUsage");
	temp = (nvml_ret (*)(nvml_device, int, unsigned *))dlsym(h, "nvmlDeviceGetTemperature");
	driver = (nvml_ret (*)(char *, unsigned))dlsym(h, "nvmlSystemGetDriverVersion");
	if (!init || !shutdown || init() != 0) {
		dlclose(h);
		return;
	}
	/* CUDA and NVML number devices differently (CUDA_VISIBLE_DEVICES,
	 * CUDA_DEVICE_ORDER): find ours by PCI bus id; by index only when
	 * nothing renumbers. */
	if (!by_bus || cudaDeviceGetPCIBusId(bus, (int)sizeof bus, device) != cudaSuccess ||
	    by_bus(bus, &d) != 0) {
		d = NULL;
		if (by_index && !getenv("CUDA_VISIBLE_DEVICES") && !getenv("CUDA_DEVICE_ORDER") &&
		    by_index((unsigned)device, &d) != 0)
			d = NULL;
	}
	if (d) {
		if (clock && clock(d, 1 /* NVML_CLOCK_SM */, &v) == 0)
			info->sm_clock_mhz = v;
		if (power && power(d, &v) == 0)
			info->power_w = v / 1000.0; /* mW */
		if (temp && temp(d, 0 /* NVML_TEMPERATURE_GPU */, &v) == 0)
			info->temp_c = v;
	}
	if (driver) {
		char s[96] = "";
		if (driver(s, (unsigned)sizeof s) == 0 && s[0])
			copy_str(info->driver, sizeof info->driver, s);
	}
	shutdown();
	dlclose(h);
}

/* Visible CUDA devices, or the no-GPU error every entry point gives. */
static int count_devices(int *n, struct wlb_error *err)
{
	cudaError_t e = cudaGetDeviceCount(n);
	const char *why;
	void *drv;

	if (e == cudaSuccess && *n > 0)
		return 0;
	why = e == cudaSuccess ? "0 devices" : cudaGetErrorString(e);
	cudaGetLastError();
	*n = 0;
	drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (!drv)
		drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
	if (drv) {
		dlclose(drv);
		return wlb_error_set(err, WLB_EINVAL, "no CUDA GPU found (cudaGetDeviceCount: %s); "
				     "use wlb-profile --analytic", why);
	}
	return wlb_error_set(err, WLB_EINVAL, "no CUDA GPU found (cudaGetDeviceCount: %s; no NVIDIA "
			     "driver: libcuda.so.1 not found); use wlb-profile --analytic", why);
}

int wlb_gpu_built(void)
{
	return 1;
}

int wlb_gpu_open(int device, struct wlb_gpu_info *info, struct wlb_error *err)
{
	struct wlb_gpu_info in;
	cudaDeviceProp p;
	int rc = 0, n = 0, v = 0;

	wlb_gpu_close();
	memset(&in, 0, sizeof in);
	TRY(count_devices(&n, err));
	if (device < 0 || device >= n) {
		rc = wlb_error_set(err, WLB_EINVAL, "CUDA device %d does not exist (%d found)", device, n);
		goto out;
	}
	CU(cudaSetDevice(device));
	CU(cudaGetDeviceProperties(&p, device));
	in.devices = n;
	copy_str(in.name, sizeof in.name, p.name);
	in.sms = p.multiProcessorCount;
	in.cc_major = p.major;
	in.cc_minor = p.minor;
	in.mem_gib = (double)p.totalGlobalMem / GIB;
	CU(cudaDriverGetVersion(&v)); /* the driver's CUDA API; NVML's version replaces it */
	version_str(in.driver, sizeof in.driver, v / 1000, v % 1000 / 10, -1);
	CU(cudaRuntimeGetVersion(&v));
	version_str(in.cuda, sizeof in.cuda, v / 1000, v % 1000 / 10, -1);
	NC(ncclGetVersion(&v), NULL);
	version_str(in.nccl, sizeof in.nccl, v / 10000, v % 10000 / 100, v % 100);
	read_cudnn(&in);
	read_nvml(device, &in);

	G.device = device;
	G.l2_bytes = p.l2CacheSize > 0 ? (size_t)p.l2CacheSize : (size_t)50 << 20;
	CU(cudaStreamCreateWithFlags(&G.stream, cudaStreamNonBlocking));
	LT(cublasLtCreate(&G.lt));
	TRY(dev_alloc(&G.ws, WS_BYTES, "cuBLASLt workspace", err));
	G.open = 1;
	if (info)
		*info = in;
out:
	if (rc)
		wlb_gpu_close();
	return rc;
}

void wlb_gpu_close(void)
{
	if (G.stream)
		cudaStreamSynchronize(G.stream);
	dev_free(G.ws);
	if (G.lt)
		cublasLtDestroy(G.lt);
	if (G.stream)
		cudaStreamDestroy(G.stream);
	memset(&G, 0, sizeof G);
}

/* ---- GEMM ------------------------------------------------------------- */

/* C[m x n] = A[m x k] B[k x n] the way nn.Linear runs it: A row-major (the
 * activations), B stored as its transpose W[n x k] row-major (the weight),
 * C row-major.  In cuBLASLt's column-major terms: C^T = op_T(W) A^T, the
 * "TN" GEMM. */
struct gemm {
	int64_t m, n, k;
	int nsets;
	size_t sa, sw, sc;                  /* elements per set */
	uint16_t *a, *w, *c;
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t la, lw, lc;
	cublasLtMatmulPreference_t pref;
	cublasLtMatmulAlgo_t algo;
	float alpha, beta;
};

static void gemm_free(struct gemm *q)
{
	if (G.stream)
		cudaStreamSynchronize(G.stream);
	dev_free(q->a);
	dev_free(q->w);
	dev_free(q->c);
	if (q->pref)
		cublasLtMatmulPreferenceDestroy(q->pref);
	if (q->la)
		cublasLtMatrixLayoutDestroy(q->la);
	if (q->lw)
		cublasLtMatrixLayoutDestroy(q->lw);
	if (q->lc)
		cublasLtMatrixLayoutDestroy(q->lc);
	if (q->op)
		cublasLtMatmulDescDestroy(q->op);
	memset(q, 0, sizeof *q);
}

static int gemm_setup(struct gemm *q, int64_t m, int64_t n, int64_t k, int rotate,
		      struct wlb_error *err)
{
	cublasLtMatmulHeuristicResult_t h;
	cublasOperation_t trans = CUBLAS_OP_T;
	uint64_t ws = WS_BYTES;
	int rc = 0, found = 0;

	memset(&h, 0, sizeof h);
	q->m = m, q->n = n, q->k = k;
	q->alpha = 1.0f, q->beta = 0.0f;
	q->sa = pad((size_t)(m * k));
	q->sw = pad((size_t)(n * k));
	q->sc = pad((size_t)(m * n));
	q->nsets = rotate ? rotation(2 * (q->sa + q->sw + q->sc)) : 1;
	LT(cublasLtMatmulDescCreate(&q->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	LT(cublasLtMatmulDescSetAttribute(q->op, CUBLASLT_MATMUL_DESC_TRANSA, &trans, sizeof trans));
	LT(cublasLtMatrixLayoutCreate(&q->lw, CUDA_R_16BF, (uint64_t)k, (uint64_t)n, k));
	LT(cublasLtMatrixLayoutCreate(&q->la, CUDA_R_16BF, (uint64_t)k, (uint64_t)m, k));
	LT(cublasLtMatrixLayoutCreate(&q->lc, CUDA_R_16BF, (uint64_t)n, (uint64_t)m, n));
	LT(cublasLtMatmulPreferenceCreate(&q->pref));
	LT(cublasLtMatmulPreferenceSetAttribute(q->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
						sizeof ws));
	LT(cublasLtMatmulAlgoGetHeuristic(G.lt, q->op, q->lw, q->la, q->lc, q->lc, q->pref, 1, &h,
					  &found));
	if (found < 1 || h.state != CUBLAS_STATUS_SUCCESS) {
		rc = wlb_error_set(err, WLB_EIO, "cublasLtMatmulAlgoGetHeuristic: no bf16 algorithm");
		goto out;
	}
	q->algo = h.algo;
	TRY(dev_alloc((void **)&q->a, 2 * q->sa * q->nsets, "GEMM A", err));
	TRY(dev_alloc((void **)&q->w, 2 * q->sw * q->nsets, "GEMM B", err));
	TRY(dev_alloc((void **)&q->c, 2 * q->sc * q->nsets, "GEMM C", err));
	TRY(fill_bf16(q->a, q->sa * q->nsets, 1, G.stream, err));
	TRY(fill_bf16(q->w, q->sw * q->nsets, 2, G.stream, err));
out:
	return rc;
}

static int gemm_launch(void *ctx, int call, struct wlb_error *err)
{
	struct gemm *q = (struct gemm *)ctx;
	size_t s = (size_t)(call % q->nsets);
	uint16_t *c = q->c + s * q->sc;
	int rc = 0;

	LT(cublasLtMatmul(G.lt, q->op, &q->alpha, q->w + s * q->sw, q->lw, q->a + s * q->sa, q->la,
			  &q->beta, c, q->lc, c, q->lc, &q->algo, G.ws, WS_BYTES, G.stream));
out:
	return rc;
}

static int gemm_args(int64_t m, int64_t n, int64_t k, struct wlb_error *err)
{
	if (m < 1 || n < 1 || k < 1 || m > INT_MAX || n > INT_MAX || k > INT_MAX)
		return wlb_error_set(err, WLB_EINVAL, "dimensions must be 1 .. %d", INT_MAX);
	return 0;
}

int wlb_gpu_time_gemm(int64_t m, int64_t n, int64_t k, int reps, struct wlb_timing *out,
		      struct wlb_error *err)
{
	struct gemm q;
	int rc = 0;

	memset(&q, 0, sizeof q);
	TRY(need_open(err));
	TRY(gemm_args(m, n, k, err));
	if (reps < 1) {
		rc = wlb_error_set(err, WLB_EINVAL, "reps must be at least 1, got %d", reps);
		goto out;
	}
	CU(cudaSetDevice(G.device));
	TRY(gemm_setup(&q, m, n, k, 1, err));
	TRY(time_reps(G.stream, WARMUP, 0, reps, gemm_launch, &q, out, err));
out:
	gemm_free(&q);
	if (rc && G.open)
		wlb_error_prefix(err, "GEMM %lldx%lldx%lld", (long long)m, (long long)n, (long long)k);
	return rc;
}

int wlb_gpu_check_gemm(int m, int n, int k, double *max_rel_err, struct wlb_error *err)
{
	struct gemm q;
	uint16_t *ha = NULL, *hw = NULL, *hc = NULL;
	double *ref = NULL, rms = 0, worst = 0;
	int rc = 0, i, j, l;

	memset(&q, 0, sizeof q);
	*max_rel_err = 0;
	TRY(need_open(err));
	TRY(gemm_args(m, n, k, err));
	if ((double)m * n * k > 1e10) {
		rc = wlb_error_set(err, WLB_EINVAL, "GEMM %dx%dx%d: too large for the CPU reference", m,
				   n, k);
		goto out;
	}
	CU(cudaSetDevice(G.device));
	TRY(gemm_setup(&q, m, n, k, 0, err));
	TRY(gemm_launch(&q, 0, err));
	CU(cudaStreamSynchronize(G.stream));
	ha = (uint16_t *)malloc((size_t)m * k * sizeof *ha);
	hw = (uint16_t *)malloc((size_t)n * k * sizeof *hw);
	hc = (uint16_t *)malloc((size_t)m * n * sizeof *hc);
	ref = (double *)malloc((size_t)m * n * sizeof *ref);
	if (!ha || !hw || !hc || !ref) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	CU(cudaMemcpy(ha, q.a, (size_t)m * k * 2, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hw, q.w, (size_t)n * k * 2, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hc, q.c, (size_t)m * n * 2, cudaMemcpyDeviceToHost));
	for (i = 0; i < m; i++)
		for (j = 0; j < n; j++) {
			double s = 0;
			for (l = 0; l < k; l++)
				s += (double)bf16_to_float(ha[(size_t)i * k + l]) *
				     bf16_to_float(hw[(size_t)j * k + l]);
			ref[(size_t)i * n + j] = s;
			rms += s * s;
		}
	rms = sqrt(rms / ((double)m * n));
	/* |gpu - ref| / max(|ref|, rms(ref)): bf16 rounding of C alone gives up
	 * to 2^-9; elements near zero are judged against the typical size. */
	for (size_t e = 0; e < (size_t)m * n; e++) {
		double d = fabs(bf16_to_float(hc[e]) - ref[e]);
		double s = fabs(ref[e]) > rms ? fabs(ref[e]) : rms;
		double r = s > 0 ? d / s : d;
		if (!(r <= worst)) /* NaN sticks */
			worst = r;
	}
	*max_rel_err = worst;
out:
	gemm_free(&q);
	if (rc && G.open)
		wlb_error_prefix(err, "GEMM check %dx%dx%d", m, n, k);
	free(ha);
	free(hw);
	free(hc);
	free(ref);
	return rc;
}

/* ---- attention -------------------------------------------------------- */

struct attn {
	struct wlb_attn_dev s;
	int *cu_q, *cu_k;                   /* device, n_pieces + 1 each */
	int bwd, nsets;
	size_t nq, nk, nl;                  /* elements per set: like Q, like K, like lse */
	uint16_t *q, *k, *v, *o, *dout, *dq, *dk, *dv;
	float *lse, *dq_acc, *dkv_acc, *delta;  /* dkv_acc: unused by attn.cu, NULL */
};

static void attn_free(struct attn *a)
{
	if (G.stream)
		cudaStreamSynchronize(G.stream);
	dev_free(a->cu_q);
	dev_free(a->cu_k);
	dev_free(a->q);
	dev_free(a->k);
	dev_free(a->v);
	dev_free(a->o);
	dev_free(a->dout);
	dev_free(a->dq);
	dev_free(a->dk);
	dev_free(a->dv);
	dev_free(a->lse);
	dev_free(a->dq_acc);
	dev_free(a->dkv_acc);
	dev_free(a->delta);
	memset(a, 0, sizeof *a);
}

static int attn_fwd_set(struct attn *a, size_t s, struct wlb_error *err)
{
	int e = wlb_attn_cuda_fwd(&a->s, a->q + s * a->nq, a->k + s * a->nk, a->v + s * a->nk,
				  a->o + s * a->nq, a->lse + s * a->nl, G.stream);
	if (e)
		return wlb_error_set(err, WLB_EIO, "wlb_attn_cuda_fwd: %s",
				     cudaGetErrorString((cudaError_t)e));
	return 0;
}

static int attn_launch(void *ctx, int call, struct wlb_error *err)
{
	struct attn *a = (struct attn *)ctx;
	size_t s = (size_t)(call % a->nsets);
	int e;

	if (!a->bwd)
		return attn_fwd_set(a, s, err);
	e = wlb_attn_cuda_bwd(&a->s, a->q + s * a->nq, a->k + s * a->nk, a->v + s * a->nk,
			      a->o + s * a->nq, a->lse + s * a->nl, a->dout + s * a->nq,
			      a->dq + s * a->nq, a->dk + s * a->nk, a->dv + s * a->nk, a->dq_acc,
			      a->dkv_acc, a->delta, G.stream);
	if (e)
		return wlb_error_set(err, WLB_EIO, "wlb_attn_cuda_bwd: %s",
				     cudaGetErrorString((cudaError_t)e));
	return 0;
}

static int attn_setup(struct attn *a, int64_t q_len, int64_t kv_len, int pieces, int bwd,
		      int heads, int kv_heads, int head_dim, struct wlb_error *err)
{
	int *hq = NULL, *hk = NULL, rc = 0, i;
	size_t sq, sk, set_bytes, n;

	if (q_len < 1 || kv_len < q_len || pieces < 1)
		return wlb_error_set(err, WLB_EINVAL, "need 1 <= q_len <= kv_len and pieces >= 1");
	if (heads < 1 || kv_heads < 1 || heads % kv_heads)
		return wlb_error_set(err, WLB_EINVAL, "kv_heads (%d) must divide heads (%d)", kv_heads,
				     heads);
	if (head_dim != 64 && head_dim != 128)
		return wlb_error_set(err, WLB_EINVAL, "head_dim must be 64 or 128, got %d", head_dim);
	if ((double)kv_len * pieces > INT_MAX)
		return wlb_error_set(err, WLB_EINVAL, "%d pieces of %lld keys exceed the kernel's int "
				     "offsets", pieces, (long long)kv_len);
	a->bwd = bwd;
	a->s.n_pieces = pieces;
	a->s.max_q = (int)q_len;
	a->s.max_k = (int)kv_len;
	a->s.total_q = (int)(q_len * pieces);
	a->s.total_k = (int)(kv_len * pieces);
	a->s.heads = heads;
	a->s.kv_heads = kv_heads;
	a->s.head_dim = head_dim;
	a->s.scale = (float)(1.0 / sqrt((double)head_dim));
	sq = (size_t)a->s.total_q * heads * head_dim;
	sk = (size_t)a->s.total_k * kv_heads * head_dim;
	a->nq = pad(sq);
	a->nk = pad(sk);
	a->nl = pad((size_t)heads * a->s.total_q);
	/* per set: q k v o lse (+ dout dq dk dv); the scratch is shared */
	set_bytes = bwd ? 2 * (4 * a->nq + 4 * a->nk) + 4 * a->nl : 2 * (2 * a->nq + 2 * a->nk) + 4 * a->nl;
	a->nsets = rotation(set_bytes);
	n = (size_t)a->nsets;

	hq = (int *)malloc((size_t)(pieces + 1) * sizeof *hq);
	hk = (int *)malloc((size_t)(pieces + 1) * sizeof *hk);
	if (!hq || !hk) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i <= pieces; i++) {
		hq[i] = (int)(i * q_len);
		hk[i] = (int)(i * kv_len);
	}
	TRY(dev_alloc((void **)&a->cu_q, (size_t)(pieces + 1) * sizeof(int), "cu_q", err));
	TRY(dev_alloc((void **)&a->cu_k, (size_t)(pieces + 1) * sizeof(int), "cu_k", err));
	CU(cudaMemcpy(a->cu_q, hq, (size_t)(pieces + 1) * sizeof(int), cudaMemcpyHostToDevice));
	CU(cudaMemcpy(a->cu_k, hk, (size_t)(pieces + 1) * sizeof(int), cudaMemcpyHostToDevice));
	a->s.cu_q = a->cu_q;
	a->s.cu_k = a->cu_k;

	TRY(dev_alloc((void **)&a->q, 2 * a->nq * n, "attention Q", err));
	TRY(dev_alloc((void **)&a->k, 2 * a->nk * n, "attention K", err));
	TRY(dev_alloc((void **)&a->v, 2 * a->nk * n, "attention V", err));
	TRY(dev_alloc((void **)&a->o, 2 * a->nq * n, "attention O", err));
	TRY(dev_alloc((void **)&a->lse, 4 * a->nl * n, "attention LSE", err));
	TRY(fill_bf16(a->q, a->nq * n, 11, G.stream, err));
	TRY(fill_bf16(a->k, a->nk * n, 12, G.stream, err));
	TRY(fill_bf16(a->v, a->nk * n, 13, G.stream, err));
	if (bwd) {
		TRY(dev_alloc((void **)&a->dout, 2 * a->nq * n, "attention dO", err));
		TRY(dev_alloc((void **)&a->dq, 2 * a->nq * n, "attention dQ", err));
		TRY(dev_alloc((void **)&a->dk, 2 * a->nk * n, "attention dK", err));
		TRY(dev_alloc((void **)&a->dv, 2 * a->nk * n, "attention dV", err));
		TRY(dev_alloc((void **)&a->dq_acc, 4 * sq, "attention dQ accumulator", err));
		/* dkv_acc stays NULL: attn.cu keeps dK, dV in registers */
		TRY(dev_alloc((void **)&a->delta, 4 * (size_t)heads * a->s.total_q, "attention delta",
			      err));
		TRY(fill_bf16(a->dout, a->nq * n, 14, G.stream, err));
		for (size_t s = 0; s < n; s++) /* O and LSE from a real forward */
			TRY(attn_fwd_set(a, s, err));
	}
	CU(cudaStreamSynchronize(G.stream));
out:
	free(hq);
	free(hk);
	return rc;
}

int wlb_gpu_time_attn(int64_t q_len, int64_t kv_len, int pieces, int bwd, int heads, int kv_heads,
		      int head_dim, int reps, struct wlb_timing *out, struct wlb_error *err)
{
	struct attn a;
	int rc = 0;

	memset(&a, 0, sizeof a);
	TRY(need_open(err));
	if (reps < 1) {
		rc = wlb_error_set(err, WLB_EINVAL, "reps must be at least 1, got %d", reps);
		goto out;
	}
	CU(cudaSetDevice(G.device));
	TRY(attn_setup(&a, q_len, kv_len, pieces, bwd, heads, kv_heads, head_dim, err));
	TRY(time_reps(G.stream, WARMUP, 0, reps, attn_launch, &a, out, err));
out:
	attn_free(&a);
	if (rc && G.open)
		wlb_error_prefix(err, "attention %s q_len %lld kv_len %lld x%d", bwd ? "bwd" : "fwd",
				 (long long)q_len, (long long)kv_len, pieces);
	return rc;
}

const char *wlb_gpu_attn_kernel(void)
{
	return "wlb-flash";
}

/* ---- NCCL: the job file shared with one worker process per GPU -------- */

#define WK_MAGIC 0x776c626eu            /* "wlbn" */
#define WK_MAX_RANKS 64
#define WK_MAX_GROUPS 3                 /* sub-communicators of 2, 4, 8 */
#define WK_TIMEOUT_S 300                /* default; WLB_NCCL_TIMEOUT overrides */

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

static int64_t *wk_sizes(struct wk_hdr *h)
{
	return (int64_t *)(h + 1);
}

/* WK_COLL: median us of (op, group size, size, group) written by the
 * group's first rank; WK_P2P: (size, rank).  -1 when not measured. */
static double *wk_res(struct wk_hdr *h, int op, int gi, int si, int grp)
{
	double *r = (double *)(wk_sizes(h) + h->n_sizes);
	if (h->mode == WK_P2P)
		return r + (size_t)si * 2 + grp;
	return r + (((size_t)op * WK_MAX_GROUPS + gi) * h->n_sizes + si) * h->nranks + grp;
}

static size_t wk_n_res(int mode, int nranks, int n_sizes)
{
	if (mode == WK_P2P)
		return (size_t)n_sizes * 2;
	if (mode == WK_COLL)
		return (size_t)WLB_COLL_OPS * WK_MAX_GROUPS * n_sizes * nranks;
	return 0;
}

static void wk_tick(struct wk_rank *r)
{
	__atomic_add_fetch(&r->progress, 1, __ATOMIC_RELAXED);
}

/* Elements per rank of an op on `g` ranks for nccl-tests' size `bytes` (the
 * whole buffer), bf16: all_reduce the whole buffer; all_gather's send,
 * reduce_scatter's receive and all_to_all's per-peer chunk a g-th of it. */
static size_t coll_count(int op, int g, int64_t bytes)
{
	if (bytes < 2)
		return 0;
	return op == WLB_ALL_REDUCE ? (size_t)bytes / 2 : (size_t)bytes / 2 / (size_t)g;
}

/* The bytes actually moved for a count (sizes round down to whole elements). */
static int64_t coll_bytes(int op, int g, size_t count)
{
	return op == WLB_ALL_REDUCE ? (int64_t)count * 2 : (int64_t)count * g * 2;
}

/* One NCCL call on a stream: a collective, or one side of a send/recv. */
struct coll_call {
	int op;                         /* enum wlb_coll_op */
	int p2p;                        /* 0, or 1 send / 2 receive (peer) */
	int peer, g;
	ncclComm_t comm;
	ncclDataType_t dt;
	size_t count, esz;
	const void *s;
	void *r;
	cudaStream_t st;
};

static int coll_launch(void *ctx, int call, struct wlb_error *err)
{
	struct coll_call *c = (struct coll_call *)ctx;
	const char *sb = (const char *)c->s;
	char *rb = (char *)c->r;
	size_t chunk = c->count * c->esz;
	int rc = 0, p;

	(void)call;
	if (c->p2p == 1) {
		NC(ncclSend(c->s, c->count, c->dt, c->peer, c->comm, c->st), c->comm);
	} else if (c->p2p == 2) {
		NC(ncclRecv(c->r, c->count, c->dt, c->peer, c->comm, c->st), c->comm);
	} else if (c->op == WLB_ALL_REDUCE) {
		NC(ncclAllReduce(c->s, c->r, c->count, c->dt, ncclSum, c->comm, c->st), c->comm);
	} else if (c->op == WLB_ALL_GATHER) {
		NC(ncclAllGather(c->s, c->r, c->count, c->dt, c->comm, c->st), c->comm);
	} else if (c->op == WLB_REDUCE_SCATTER) {
		NC(ncclReduceScatter(c->s, c->r, c->count, c->dt, ncclSum, c->comm, c->st), c->comm);
	} else {
		/* all_to_all: chunk p of the send buffer to peer p, chunk p of the
		 * receive buffer from it, fused in one group */
		NC(ncclGroupStart(), c->comm);
		for (p = 0; p < c->g && !rc; p++) {
			ncclResult_t r = ncclSend(sb + p * chunk, c->count, c->dt, p, c->comm, c->st);
			if (r == ncclSuccess)
				r = ncclRecv(rb + p * chunk, c->count, c->dt, p, c->comm, c->st);
			if (r != ncclSuccess)
				rc = nccl_fail(err, "ncclSend/ncclRecv", r, c->comm);
		}
		{
			ncclResult_t r = ncclGroupEnd();
			if (r != ncclSuccess && !rc)
				rc = nccl_fail(err, "ncclGroupEnd", r, c->comm);
		}
	}
out:
	return rc;
}

/* ---- the worker (a child process, one GPU) ---------------------------- */

struct wk {
	struct wk_hdr *h;
	int rank;
	cudaStream_t st;
	ncclComm_t world, sub[WK_MAX_GROUPS];
	void *sbuf, *rbuf;
	size_t buf_bytes;
};

static int wk_async_ok(ncclComm_t comm, struct wlb_error *err)
{
	ncclResult_t a = ncclSuccess;
	if (ncclCommGetAsyncError(comm, &a) == ncclSuccess && a != ncclSuccess)
		return nccl_fail(err, "NCCL", a, comm);
	return 0;
}

static int wk_time_coll(struct wk *w, struct wlb_error *err)
{
	struct wk_hdr *h = w->h;
	struct wlb_timing t;
	struct coll_call c;
	int rc = 0, op, gi, si;

	for (op = 0; op < WLB_COLL_OPS; op++)
		for (gi = 0; gi < h->n_groups; gi++) {
			int g = h->group[gi];
			if (!w->sub[gi])
				continue; /* this GPU is in no group of g */
			for (si = 0; si < h->n_sizes; si++) {
				size_t count = coll_count(op, g, wk_sizes(h)[si]);
				if (!count)
					continue;
				memset(&c, 0, sizeof c);
				c.op = op;
				c.g = g;
				c.comm = w->sub[gi];
				c.dt = ncclBfloat16;
				c.esz = 2;
				c.count = count;
				c.s = w->sbuf;
				c.r = w->rbuf;
				c.st = w->st;
				rc = time_reps(w->st, WARMUP, 2, h->reps, coll_launch, &c, &t, err);
				if (!rc)
					rc = wk_async_ok(c.comm, err);
				if (rc) {
					wlb_error_prefix(err, "%s over %d GPUs, %lld bytes",
							 wlb_coll_op_name((enum wlb_coll_op)op), g,
							 (long long)coll_bytes(op, g, count));
					return rc;
				}
				if (w->rank % g == 0)
					*wk_res(h, op, gi, si, w->rank / g) = t.median_us;
				wk_tick(&h->rank[w->rank]);
			}
		}
	return 0;
}

/* GPU 0 sends to GPU 1, one direction; both time their side. */
static int wk_time_p2p(struct wk *w, struct wlb_error *err)
{
	struct wk_hdr *h = w->h;
	struct wlb_timing t;
	struct coll_call c;
	int rc = 0, si;

	for (si = 0; si < h->n_sizes; si++) {
		size_t count = (size_t)wk_sizes(h)[si] / 2;
		if (!count)
			continue;
		memset(&c, 0, sizeof c);
		c.p2p = w->rank == 0 ? 1 : 2;
		c.peer = 1 - w->rank;
		c.comm = w->world;
		c.dt = ncclBfloat16;
		c.esz = 2;
		c.count = count;
		c.s = w->sbuf;
		c.r = w->rbuf;
		c.st = w->st;
		rc = time_reps(w->st, WARMUP, 2, h->reps, coll_launch, &c, &t, err);
		if (!rc)
			rc = wk_async_ok(c.comm, err);
		if (rc) {
			wlb_error_prefix(err, "send/recv of %lld bytes", (long long)count * 2);
			return rc;
		}
		*wk_res(h, 0, 0, si, w->rank) = t.median_us;
		wk_tick(&h->rank[w->rank]);
	}
	return 0;
}

/* Known values, exact in bf16 (small integers whose every partial sum is
 * below 256) and in fp32.  gr is the rank in the group, i the element. */
static double pat_sum(int g, int64_t i)
{
	double s = 0;
	for (int r = 0; r < g; r++)
		s += (double)((r + i) % 4 + 1);
	return s;
}

static double pat_id(int64_t a, int64_t b, int64_t j)
{
	return (double)((a * 5 + b * 3 + j) % 251 + 1);
}

/* Runs op once on known values and compares every element. */
static int wk_check_op(struct wk *w, ncclComm_t comm, int g, int gr, int op, int f32, size_t c,
		       void *hs, void *hr, struct wlb_error *err)
{
	size_t esz = f32 ? 4 : 2, ns = op == WLB_ALL_GATHER ? c : (size_t)g * c;
	size_t nr = op == WLB_REDUCE_SCATTER ? c : (size_t)g * c, i;
	struct coll_call call;
	int rc = 0;

	for (i = 0; i < ns; i++) {
		double v;
		if (op == WLB_ALL_REDUCE && f32)
			v = (double)((gr * 7 + (int64_t)i) % 1000);
		else if (op == WLB_ALL_REDUCE || op == WLB_REDUCE_SCATTER)
			v = (double)((gr + (int64_t)i) % 4 + 1);
		else if (op == WLB_ALL_GATHER)
			v = pat_id(gr, 0, (int64_t)i);
		else /* all_to_all: chunk p goes to peer p */
			v = pat_id(gr, (int64_t)(i / c), (int64_t)(i % c));
		if (f32)
			((float *)hs)[i] = (float)v;
		else
			((uint16_t *)hs)[i] = float_to_bf16((float)v);
	}
	CU(cudaMemcpy(w->sbuf, hs, ns * esz, cudaMemcpyHostToDevice));
	CU(cudaMemset(w->rbuf, 0xff, nr * esz)); /* NaN: an element never written shows */
	memset(&call, 0, sizeof call);
	call.op = op;
	call.g = g;
	call.comm = comm;
	call.dt = f32 ? ncclFloat32 : ncclBfloat16;
	call.esz = esz;
	call.count = op == WLB_ALL_REDUCE ? (size_t)g * c : c;
	call.s = w->sbuf;
	call.r = w->rbuf;
	call.st = w->st;
	TRY(coll_launch(&call, 0, err));
	CU(cudaStreamSynchronize(w->st));
	TRY(wk_async_ok(comm, err));
	CU(cudaMemcpy(hr, w->rbuf, nr * esz, cudaMemcpyDeviceToHost));
	for (i = 0; i < nr; i++) {
		double want, got = f32 ? ((float *)hr)[i] : bf16_to_float(((uint16_t *)hr)[i]);
		if (op == WLB_ALL_REDUCE && f32) {
			want = 0;
			for (int r = 0; r < g; r++)
				want += (double)((r * 7 + (int64_t)i) % 1000);
		} else if (op == WLB_ALL_REDUCE) {
			want = pat_sum(g, (int64_t)i);
		} else if (op == WLB_REDUCE_SCATTER) {
			want = pat_sum(g, (int64_t)((size_t)gr * c + i));
		} else if (op == WLB_ALL_GATHER) {
			want = pat_id((int64_t)(i / c), 0, (int64_t)(i % c));
		} else {
			want = pat_id((int64_t)(i / c), gr, (int64_t)(i % c));
		}
		if (!(got == want)) {
			rc = wlb_error_set(err, WLB_EIO, "%s (%s) over %d GPUs, %zu elements per rank: "
					   "element %zu is %g, expected %g",
					   wlb_coll_op_name((enum wlb_coll_op)op), f32 ? "fp32" : "bf16",
					   g, c, i, got, want);
			goto out;
		}
	}
out:
	return rc;
}

static int wk_check(struct wk *w, struct wlb_error *err)
{
	static const size_t counts[] = {1, 4099, 262147};
	struct wk_hdr *h = w->h;
	void *hs = NULL, *hr = NULL;
	int rc = 0, gi, op;

	hs = malloc(w->buf_bytes);
	hr = malloc(w->buf_bytes);
	if (!hs || !hr) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	/* gi == n_groups: the whole node */
	for (gi = 0; gi <= h->n_groups; gi++) {
		ncclComm_t comm = gi < h->n_groups ? w->sub[gi] : w->world;
		int g = gi < h->n_groups ? h->group[gi] : h->nranks;
		if (!comm)
			continue;
		for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
			for (op = 0; op < WLB_COLL_OPS; op++)
				TRY(wk_check_op(w, comm, g, w->rank % g, op, 0, counts[ci], hs, hr, err));
			TRY(wk_check_op(w, comm, g, w->rank % g, WLB_ALL_REDUCE, 1, counts[ci], hs, hr, err));
			wk_tick(&h->rank[w->rank]);
		}
	}
out:
	free(hs);
	free(hr);
	return rc;
}

static int wk_run(struct wk_hdr *h, int rank, struct wlb_error *err)
{
	struct wk w;
	int rc = 0, gi;
	int64_t max_bytes = 0;

	memset(&w, 0, sizeof w);
	w.h = h;
	w.rank = rank;
	CU(cudaSetDevice(rank));
	CU(cudaStreamCreateWithFlags(&w.st, cudaStreamNonBlocking));
	NC(ncclCommInitRank(&w.world, h->nranks, h->id, rank), NULL);
	wk_tick(&h->rank[rank]);
	for (gi = 0; gi < h->n_groups; gi++) {
		/* groups of g consecutive GPUs: color rank / g; GPUs beyond the
		 * last whole group sit this size out */
		int g = h->group[gi];
		int color = rank < h->nranks / g * g ? rank / g : NCCL_SPLIT_NOCOLOR;
		NC(ncclCommSplit(w.world, color, rank, &w.sub[gi], NULL), w.world);
		wk_tick(&h->rank[rank]);
	}
	if (h->mode == WK_CHECK) {
		max_bytes = (int64_t)h->nranks * 262147 * 4;
	} else {
		for (int i = 0; i < h->n_sizes; i++)
			if (wk_sizes(h)[i] > max_bytes)
				max_bytes = wk_sizes(h)[i];
	}
	w.buf_bytes = pad((size_t)max_bytes) + 256;
	TRY(dev_alloc(&w.sbuf, w.buf_bytes, "NCCL send buffer", err));
	TRY(dev_alloc(&w.rbuf, w.buf_bytes, "NCCL receive buffer", err));
	TRY(fill_bf16((uint16_t *)w.sbuf, w.buf_bytes / 2, 100 + (uint64_t)rank, w.st, err));
	TRY(fill_bf16((uint16_t *)w.rbuf, w.buf_bytes / 2, 200 + (uint64_t)rank, w.st, err));
	CU(cudaStreamSynchronize(w.st));
	if (h->mode == WK_COLL)
		rc = wk_time_coll(&w, err);
	else if (h->mode == WK_P2P)
		rc = wk_time_p2p(&w, err);
	else
		rc = wk_check(&w, err);
out:
	if (w.st)
		cudaStreamSynchronize(w.st);
	/* a failed rank aborts: its peers may never reach a clean teardown */
	for (gi = 0; gi < WK_MAX_GROUPS; gi++)
		if (w.sub[gi]) {
			if (rc)
				ncclCommAbort(w.sub[gi]);
			else
				ncclCommDestroy(w.sub[gi]);
		}
	if (w.world) {
		if (rc)
			ncclCommAbort(w.world);
		else
			ncclCommDestroy(w.world);
	}
	dev_free(w.sbuf);
	dev_free(w.rbuf);
	if (w.st)
		cudaStreamDestroy(w.st);
	return rc;
}

static int wk_main(const char *path, int rank)
{
	struct wk_hdr *h;
	struct wk_rank *me;
	struct wlb_error e;
	struct stat sb;
	int fd, rc;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 3;
	if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < sizeof *h) {
		close(fd);
		return 3;
	}
	h = (struct wk_hdr *)mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED)
		return 3;
	if (h->magic != WK_MAGIC || rank < 0 || rank >= h->nranks ||
	    (size_t)sb.st_size < h->file_bytes) {
		munmap(h, (size_t)sb.st_size);
		return 3;
	}
	me = &h->rank[rank];
	__atomic_store_n(&me->state, WK_RUNNING, __ATOMIC_SEQ_CST);
	memset(&e, 0, sizeof e);
	rc = wk_run(h, rank, &e);
	if (rc)
		copy_str(me->msg, sizeof me->msg, e.msg);
	__atomic_store_n(&me->state, rc ? WK_FAILED : WK_DONE, __ATOMIC_SEQ_CST);
	munmap(h, (size_t)sb.st_size);
	return rc ? 1 : 0;
}

/* Runs before main in every process that links this file: a worker started
 * by wk_start becomes the worker and never reaches main. */
__attribute__((constructor)) static void wk_hook(void)
{
	const char *path = getenv("WLB_NCCL_WORKER"), *rank = getenv("WLB_NCCL_RANK");
	int rc;
	if (!path || !rank)
		return;
	rc = wk_main(path, atoi(rank));
	fflush(NULL);
	_exit(rc);
}

/* ---- the parent: start, watch, read ----------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void wk_release(struct wk_hdr *h, const char *path)
{
	if (h)
		munmap(h, h->file_bytes);
	if (path[0])
		unlink(path);
}

/* Waits for every worker; on the first failure or when no worker made
 * progress for the timeout, kills the rest.  0, or the failure as one line. */
static int wk_wait(struct wk_hdr *h, pid_t *pids, int nranks, struct wlb_error *err)
{
	int alive = nranks, bad = -1, bad_status = 0, killed = 0, hung = 0, r;
	int64_t last = -1;
	double t_last = now_s(), timeout = WK_TIMEOUT_S;
	const char *env = getenv("WLB_NCCL_TIMEOUT");
	struct timespec nap = {0, 10 * 1000 * 1000};

	if (env && atof(env) > 0)
		timeout = atof(env);
	while (alive > 0) {
		int64_t prog = 0;
		for (r = 0; r < nranks; r++) {
			int st = 0, done;
			pid_t p;
			if (pids[r] <= 0)
				continue;
			p = waitpid(pids[r], &st, WNOHANG);
			if (p == 0 || (p < 0 && errno == EINTR))
				continue;
			pids[r] = 0;
			alive--;
			done = __atomic_load_n(&h->rank[r].state, __ATOMIC_SEQ_CST) == WK_DONE;
			if (p < 0 && done)
				continue; /* SIGCHLD ignored by the program: no status, but done */
			if (bad < 0 && !killed &&
			    (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !done)) {
				bad = r;
				bad_status = p < 0 ? -1 : st;
			}
		}
		for (r = 0; r < nranks; r++)
			prog += __atomic_load_n(&h->rank[r].progress, __ATOMIC_RELAXED);
		if (prog != last) {
			last = prog;
			t_last = now_s();
		} else if (!killed && now_s() - t_last > timeout) {
			hung = 1;
		}
		if (!killed && (bad >= 0 || hung) && alive > 0) {
			for (r = 0; r < nranks; r++)
				if (pids[r] > 0)
					kill(pids[r], SIGKILL);
			killed = 1;
		}
		if (alive > 0)
			nanosleep(&nap, NULL);
	}
	if (bad >= 0) {
		struct wk_rank *k = &h->rank[bad];
		if (k->msg[0])
			return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d: %s", bad, k->msg);
		if (k->exec_errno)
			return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d: cannot exec "
					     "/proc/self/exe: %s", bad, strerror(k->exec_errno));
		if (bad_status < 0)
			return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d: lost (waitpid failed)",
					     bad);
		if (WIFSIGNALED(bad_status))
			return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d was killed by signal %d "
					     "(%s)", bad, WTERMSIG(bad_status),
					     strsignal(WTERMSIG(bad_status)));
		return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d exited with status %d%s", bad,
				     WEXITSTATUS(bad_status),
				     WEXITSTATUS(bad_status) == 3 ? " (could not read its job file)" : "");
	}
	if (hung)
		return wlb_error_set(err, WLB_EIO, "NCCL workers made no progress for %.0f s (a hang? "
				     "NCCL_DEBUG=WARN tells more; WLB_NCCL_TIMEOUT sets the limit)",
				     timeout);
	return 0;
}

/* Writes the job file (the NCCL unique id, the sizes), starts one worker
 * per GPU 0 .. nranks-1 and waits for them.  On success *out is the mapped
 * file, for the caller to read and wk_release. */
static int wk_start(int mode, int nranks, const int *groups, int n_groups, const int64_t *sizes,
		    int n_sizes, int reps, struct wk_hdr **out, char *path, size_t path_n,
		    struct wlb_error *err)
{
	struct wk_hdr *h = NULL;
	pid_t pids[WK_MAX_RANKS], parent = getpid();
	char **envp = NULL, rank_env[32], *worker_env = NULL;
	char *argv[] = {(char *)"wlb-nccl-worker", NULL};
	const char *tmp = getenv("TMPDIR");
	size_t bytes, ne = 0, i;
	int rc = 0, fd = -1, r;

	*out = NULL;
	memset(pids, 0, sizeof pids);
	snprintf(path, path_n, "%s/wlb-nccl-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		rc = wlb_error_set(err, WLB_EIO, "%s: cannot create the NCCL job file: %s", path,
				   strerror(errno));
		path[0] = '\0';
		goto out;
	}
	bytes = sizeof *h + (size_t)n_sizes * sizeof(int64_t) +
		wk_n_res(mode, nranks, n_sizes) * sizeof(double);
	if (ftruncate(fd, (off_t)bytes) != 0) {
		rc = wlb_error_set(err, WLB_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	h = (struct wk_hdr *)mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		h = NULL;
		rc = wlb_error_set(err, WLB_EIO, "mmap of %s: %s", path, strerror(errno));
		goto out;
	}
	h->file_bytes = bytes;
	h->mode = mode;
	h->nranks = nranks;
	h->reps = reps;
	h->n_sizes = n_sizes;
	h->n_groups = n_groups;
	for (r = 0; r < n_groups; r++)
		h->group[r] = groups[r];
	if (n_sizes)
		memcpy(wk_sizes(h), sizes, (size_t)n_sizes * sizeof *sizes);
	for (i = 0; i < wk_n_res(mode, nranks, n_sizes); i++)
		wk_res(h, 0, 0, 0, 0)[i] = -1;
	NC(ncclGetUniqueId(&h->id), NULL);
	h->magic = WK_MAGIC;
	if (msync(h, bytes, MS_SYNC) != 0) {
		rc = wlb_error_set(err, WLB_EIO, "msync of %s: %s", path, strerror(errno));
		goto out;
	}

	/* the environment, plus where the job is and which GPU is whose */
	while (environ && environ[ne])
		ne++;
	envp = (char **)calloc(ne + 3, sizeof *envp);
	worker_env = (char *)malloc(strlen(path) + 32);
	if (!envp || !worker_env) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	sprintf(worker_env, "WLB_NCCL_WORKER=%s", path);
	for (i = 0, ne = 0; environ && environ[i]; i++)
		if (strncmp(environ[i], "WLB_NCCL_WORKER=", 16) && strncmp(environ[i], "WLB_NCCL_RANK=", 14))
			envp[ne++] = environ[i];
	envp[ne++] = worker_env;
	envp[ne++] = rank_env;
	envp[ne] = NULL;

	fflush(NULL);
	for (r = 0; r < nranks; r++) {
		snprintf(rank_env, sizeof rank_env, "WLB_NCCL_RANK=%d", r);
		pids[r] = fork();
		if (pids[r] == 0) {
			/* only async-signal-safe calls until exec */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(4);
			dup2(2, 1); /* NCCL_DEBUG's lines go to stderr, not our stdout */
			execve("/proc/self/exe", argv, envp);
			h->rank[r].exec_errno = errno;
			_exit(127);
		}
		if (pids[r] < 0) {
			pids[r] = 0;
			rc = wlb_error_set(err, WLB_EIO, "fork: %s", strerror(errno));
			for (int k = 0; k < r; k++)
				kill(pids[k], SIGKILL);
			for (int k = 0; k < r; k++)
				waitpid(pids[k], NULL, 0);
			goto out;
		}
	}
	rc = wk_wait(h, pids, nranks, err);
out:
	if (fd >= 0)
		close(fd);
	free(envp);
	free(worker_env);
	if (rc) {
		if (h)
			munmap(h, bytes);
		if (path[0])
			unlink(path);
		path[0] = '\0';
	} else {
		*out = h;
	}
	return rc;
}

/* Group sizes 2, 4, 8 that fit in n GPUs. */
static int node_groups(int n, int *groups)
{
	int k = 0;
	for (int g = 2; g <= 8 && k < WK_MAX_GROUPS; g *= 2)
		if (g <= n)
			groups[k++] = g;
	return k;
}

static int sweep_args(const int64_t *sizes, int n_sizes, int reps, struct wlb_error *err)
{
	if (n_sizes < 0 || (n_sizes > 0 && !sizes))
		return wlb_error_set(err, WLB_EINVAL, "no sizes");
	if (reps < 1)
		return wlb_error_set(err, WLB_EINVAL, "reps must be at least 1, got %d", reps);
	for (int i = 0; i < n_sizes; i++)
		if (sizes[i] < 1)
			return wlb_error_set(err, WLB_EINVAL, "sizes must be positive, got %lld",
					     (long long)sizes[i]);
	return 0;
}

int wlb_gpu_time_collectives(const int64_t *sizes, int n_sizes, int reps,
			     struct wlb_coll_sample **out, size_t *n, struct wlb_error *err)
{
	struct wk_hdr *h = NULL;
	struct wlb_coll_sample *v = NULL;
	char path[PATH_MAX] = "";
	int groups[WK_MAX_GROUPS], n_groups, devices = 0, nranks, rc = 0, op, gi, si;
	size_t cap, k = 0;

	*out = NULL;
	*n = 0;
	TRY(sweep_args(sizes, n_sizes, reps, err));
	TRY(count_devices(&devices, err));
	if (devices < 2 || n_sizes == 0)
		return 0; /* nothing to measure with one GPU */
	nranks = devices < WK_MAX_RANKS ? devices : WK_MAX_RANKS;
	n_groups = node_groups(nranks, groups);
	TRY(wk_start(WK_COLL, nranks, groups, n_groups, sizes, n_sizes, reps, &h, path, sizeof path,
		     err));
	cap = (size_t)WLB_COLL_OPS * n_groups * n_sizes;
	v = (struct wlb_coll_sample *)calloc(cap, sizeof *v);
	if (!v) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	for (op = 0; op < WLB_COLL_OPS; op++)
		for (gi = 0; gi < n_groups; gi++)
			for (si = 0; si < n_sizes; si++) {
				int g = groups[gi];
				size_t count = coll_count(op, g, sizes[si]);
				double us = -1;
				if (!count)
					continue;
				/* the groups of g ran side by side, as TP or CP
				 * groups do in training: the slowest one counts */
				for (int grp = 0; grp < nranks / g; grp++)
					if (*wk_res(h, op, gi, si, grp) > us)
						us = *wk_res(h, op, gi, si, grp);
				if (us <= 0) {
					rc = wlb_error_set(err, WLB_EIO, "%s over %d GPUs, %lld bytes: "
							   "no time reported",
							   wlb_coll_op_name((enum wlb_coll_op)op), g,
							   (long long)sizes[si]);
					goto out;
				}
				struct wlb_coll_sample *s = &v[k++];
				s->source = WLB_SRC_MEASURED;
				s->op = (enum wlb_coll_op)op;
				s->ranks = g;
				s->nodes = 1;
				s->bytes = coll_bytes(op, g, count);
				s->median_us = us;
				s->algbw_gbps = (double)s->bytes / (us * 1e-6) / 1e9;
				s->busbw_gbps = s->algbw_gbps * wlb_coll_busbw_factor(s->op, g);
			}
	*out = v;
	*n = k;
	v = NULL;
out:
	free(v);
	if (h || path[0])
		wk_release(h, path);
	if (rc)
		wlb_error_prefix(err, "NCCL collectives");
	return rc;
}

int wlb_gpu_time_p2p(const int64_t *sizes, int n_sizes, int reps, struct wlb_p2p_sample **out,
		     size_t *n, struct wlb_error *err)
{
	struct wk_hdr *h = NULL;
	struct wlb_p2p_sample *v = NULL;
	char path[PATH_MAX] = "";
	int devices = 0, rc = 0, si;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	TRY(sweep_args(sizes, n_sizes, reps, err));
	TRY(count_devices(&devices, err));
	if (devices < 2 || n_sizes == 0)
		return 0;
	TRY(wk_start(WK_P2P, 2, NULL, 0, sizes, n_sizes, reps, &h, path, sizeof path, err));
	v = (struct wlb_p2p_sample *)calloc((size_t)n_sizes, sizeof *v);
	if (!v) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	for (si = 0; si < n_sizes; si++) {
		size_t count = (size_t)sizes[si] / 2;
		double a, b;
		if (!count)
			continue;
		a = *wk_res(h, 0, 0, si, 0);
		b = *wk_res(h, 0, 0, si, 1);
		if (a <= 0 || b <= 0) {
			rc = wlb_error_set(err, WLB_EIO, "send/recv of %lld bytes: no time reported",
					   (long long)sizes[si]);
			goto out;
		}
		v[k].source = WLB_SRC_MEASURED;
		v[k].bytes = (int64_t)count * 2;
		v[k].inter = 0;
		v[k].median_us = a > b ? a : b; /* done when both sides are */
		k++;
	}
	*out = v;
	*n = k;
	v = NULL;
out:
	free(v);
	if (h || path[0])
		wk_release(h, path);
	if (rc)
		wlb_error_prefix(err, "NCCL send/recv");
	return rc;
}

int wlb_gpu_check_allreduce(struct wlb_error *err)
{
	struct wk_hdr *h = NULL;
	char path[PATH_MAX] = "";
	int groups[WK_MAX_GROUPS], n_groups, devices = 0, nranks, rc = 0;

	TRY(count_devices(&devices, err));
	if (devices < 2)
		return 0;
	nranks = devices < WK_MAX_RANKS ? devices : WK_MAX_RANKS;
	n_groups = node_groups(nranks, groups);
	TRY(wk_start(WK_CHECK, nranks, groups, n_groups, NULL, 0, 1, &h, path, sizeof path, err));
out:
	if (h || path[0])
		wk_release(h, path);
	return rc;
}
