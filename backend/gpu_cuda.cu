/* gpu_cuda.cu — gpu.h on CUDA: the device and its versions (runtime API;
 * NVML and cuDNN loaded at run time, both optional), cuBLASLt bf16 GEMMs and
 * our varlen attention kernels (attn.cu).  NCCL collectives over the node's
 * GPUs are nccl_run.cu's.
 *
 * Every primitive is timed the one way gpu_time.cu implements (warm-up, then
 * reps between CUDA events, batched behind a spin kernel; median, p10, p90).
 * Inputs are random non-zero bf16 (a seeded hash) rotating through buffer
 * sets whose total exceeds 2 x L2, so consecutive repetitions do not find
 * their operands in cache.
 *
 * Nothing here changes clocks, power limits or any other GPU setting. */
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_cuda.h"
#include "gpu_int.h"

#define WS_BYTES ((size_t)32 << 20)   /* cuBLASLt workspace */
#define MAX_SETS 4096                  /* rotating buffer sets, at most */

/* The open device (wlb_gpu_open .. wlb_gpu_close). */
static struct {
	int open, device;
	size_t l2_bytes;
	cudaStream_t stream;
	cublasLtHandle_t lt;
	void *ws;
} G;

static int need_open(struct wlb_error *err)
{
	if (!G.open)
		return wlb_error_set(err, WLB_EINVAL, "the GPU is not open (call wlb_gpu_open first)");
	return 0;
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

/* ---- device and versions ---------------------------------------------- */

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
			wlb_cu_copy_str(info->driver, sizeof info->driver, s);
	}
	shutdown();
	dlclose(h);
}

/* Visible CUDA devices, or the no-GPU error every entry point gives. */
int wlb_cu_count_devices(int *n, struct wlb_error *err)
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
	TRY(wlb_cu_count_devices(&n, err));
	if (device < 0 || device >= n) {
		rc = wlb_error_set(err, WLB_EINVAL, "CUDA device %d does not exist (%d found)", device, n);
		goto out;
	}
	CU(cudaSetDevice(device));
	CU(cudaGetDeviceProperties(&p, device));
	in.devices = n;
	wlb_cu_copy_str(in.name, sizeof in.name, p.name);
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
	TRY(wlb_cu_alloc(&G.ws, WS_BYTES, "cuBLASLt workspace", err));
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
	wlb_cu_free(G.ws);
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
	wlb_cu_free(q->a);
	wlb_cu_free(q->w);
	wlb_cu_free(q->c);
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
	q->sa = wlb_cu_pad((size_t)(m * k));
	q->sw = wlb_cu_pad((size_t)(n * k));
	q->sc = wlb_cu_pad((size_t)(m * n));
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
	TRY(wlb_cu_alloc((void **)&q->a, 2 * q->sa * q->nsets, "GEMM A", err));
	TRY(wlb_cu_alloc((void **)&q->w, 2 * q->sw * q->nsets, "GEMM B", err));
	TRY(wlb_cu_alloc((void **)&q->c, 2 * q->sc * q->nsets, "GEMM C", err));
	TRY(wlb_cu_fill_bf16(q->a, q->sa * q->nsets, 1, G.stream, err));
	TRY(wlb_cu_fill_bf16(q->w, q->sw * q->nsets, 2, G.stream, err));
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
	TRY(wlb_cu_time_reps(G.stream, WARMUP, 0, reps, gemm_launch, &q, out, err));
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
				s += (double)wlb_cu_bf16_to_float(ha[(size_t)i * k + l]) *
				     wlb_cu_bf16_to_float(hw[(size_t)j * k + l]);
			ref[(size_t)i * n + j] = s;
			rms += s * s;
		}
	rms = sqrt(rms / ((double)m * n));
	/* |gpu - ref| / max(|ref|, rms(ref)): bf16 rounding of C alone gives up
	 * to 2^-9; elements near zero are judged against the typical size. */
	for (size_t e = 0; e < (size_t)m * n; e++) {
		double d = fabs(wlb_cu_bf16_to_float(hc[e]) - ref[e]);
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
	wlb_cu_free(a->cu_q);
	wlb_cu_free(a->cu_k);
	wlb_cu_free(a->q);
	wlb_cu_free(a->k);
	wlb_cu_free(a->v);
	wlb_cu_free(a->o);
	wlb_cu_free(a->dout);
	wlb_cu_free(a->dq);
	wlb_cu_free(a->dk);
	wlb_cu_free(a->dv);
	wlb_cu_free(a->lse);
	wlb_cu_free(a->dq_acc);
	wlb_cu_free(a->dkv_acc);
	wlb_cu_free(a->delta);
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
	a->nq = wlb_cu_pad(sq);
	a->nk = wlb_cu_pad(sk);
	a->nl = wlb_cu_pad((size_t)heads * a->s.total_q);
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
	TRY(wlb_cu_alloc((void **)&a->cu_q, (size_t)(pieces + 1) * sizeof(int), "cu_q", err));
	TRY(wlb_cu_alloc((void **)&a->cu_k, (size_t)(pieces + 1) * sizeof(int), "cu_k", err));
	CU(cudaMemcpy(a->cu_q, hq, (size_t)(pieces + 1) * sizeof(int), cudaMemcpyHostToDevice));
	CU(cudaMemcpy(a->cu_k, hk, (size_t)(pieces + 1) * sizeof(int), cudaMemcpyHostToDevice));
	a->s.cu_q = a->cu_q;
	a->s.cu_k = a->cu_k;

	TRY(wlb_cu_alloc((void **)&a->q, 2 * a->nq * n, "attention Q", err));
	TRY(wlb_cu_alloc((void **)&a->k, 2 * a->nk * n, "attention K", err));
	TRY(wlb_cu_alloc((void **)&a->v, 2 * a->nk * n, "attention V", err));
	TRY(wlb_cu_alloc((void **)&a->o, 2 * a->nq * n, "attention O", err));
	TRY(wlb_cu_alloc((void **)&a->lse, 4 * a->nl * n, "attention LSE", err));
	TRY(wlb_cu_fill_bf16(a->q, a->nq * n, 11, G.stream, err));
	TRY(wlb_cu_fill_bf16(a->k, a->nk * n, 12, G.stream, err));
	TRY(wlb_cu_fill_bf16(a->v, a->nk * n, 13, G.stream, err));
	if (bwd) {
		TRY(wlb_cu_alloc((void **)&a->dout, 2 * a->nq * n, "attention dO", err));
		TRY(wlb_cu_alloc((void **)&a->dq, 2 * a->nq * n, "attention dQ", err));
		TRY(wlb_cu_alloc((void **)&a->dk, 2 * a->nk * n, "attention dK", err));
		TRY(wlb_cu_alloc((void **)&a->dv, 2 * a->nk * n, "attention dV", err));
		TRY(wlb_cu_alloc((void **)&a->dq_acc, 4 * sq, "attention dQ accumulator", err));
		/* dkv_acc stays NULL: attn.cu keeps dK, dV in registers */
		TRY(wlb_cu_alloc((void **)&a->delta, 4 * (size_t)heads * a->s.total_q, "attention delta",
			      err));
		TRY(wlb_cu_fill_bf16(a->dout, a->nq * n, 14, G.stream, err));
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
	TRY(wlb_cu_time_reps(G.stream, WARMUP, 0, reps, attn_launch, &a, out, err));
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

