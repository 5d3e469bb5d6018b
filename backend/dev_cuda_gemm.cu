/* dev_cuda_gemm.cu — the GEMMs of wlb-run's CUDA device (dev_cuda.cu):
 * row-major bf16 C = op(A) op(B) (+ C) through cuBLASLt with fp32
 * accumulation, on the device's stream with its 32 MiB workspace.  Plans
 * (the matmul descriptor, the three layouts and the heuristic's algorithm)
 * are cached per transposes, shape and operand alignment (the largest power
 * of two up to 256 bytes dividing each pointer), at most MAX_PLANS of them,
 * evicted round-robin. */
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <stdint.h>
#include <string.h>

#include "dev_cuda_int.h"

static uint32_t align_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	uint32_t al = 256;
	while (al > 2 && a % al)
		al >>= 1;
	return al;
}

static void plan_free(struct plan *p)
{
	if (p->la)
		cublasLtMatrixLayoutDestroy(p->la);
	if (p->lb)
		cublasLtMatrixLayoutDestroy(p->lb);
	if (p->lc)
		cublasLtMatrixLayoutDestroy(p->lc);
	if (p->op)
		cublasLtMatmulDescDestroy(p->op);
	memset(p, 0, sizeof *p);
}

/* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLASLt's
 * A is our B (n x k column-major as stored, or k x n transposed when tb), its
 * B is our A (k x m as stored, or m x k transposed when ta), C is n x m. */
static int plan_make(struct cdev *x, struct plan *p, struct wlb_error *err)
{
	cublasLtMatmulPreference_t pref = NULL;
	cublasLtMatmulHeuristicResult_t h;
	cublasOperation_t opa = p->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
	cublasOperation_t opb = p->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
	uint64_t ws = WS_BYTES, m = (uint64_t)p->m, n = (uint64_t)p->n, k = (uint64_t)p->k;
	int rc = 0, found = 0;

	memset(&h, 0, sizeof h);
	LT(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	LT(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
	LT(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
	if (p->tb)
		LT(cublasLtMatrixLayoutCreate(&p->la, CUDA_R_16BF, k, n, (int64_t)k));
	else
		LT(cublasLtMatrixLayoutCreate(&p->la, CUDA_R_16BF, n, k, (int64_t)n));
	if (p->ta)
		LT(cublasLtMatrixLayoutCreate(&p->lb, CUDA_R_16BF, m, k, (int64_t)m));
	else
		LT(cublasLtMatrixLayoutCreate(&p->lb, CUDA_R_16BF, k, m, (int64_t)k));
	LT(cublasLtMatrixLayoutCreate(&p->lc, CUDA_R_16BF, n, m, (int64_t)n));
	LT(cublasLtMatmulPreferenceCreate(&pref));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
						sizeof ws));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
						&p->al_b, sizeof p->al_b));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
						&p->al_a, sizeof p->al_a));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
						&p->al_c, sizeof p->al_c));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
						&p->al_c, sizeof p->al_c));
	LT(cublasLtMatmulAlgoGetHeuristic(x->lt, p->op, p->la, p->lb, p->lc, p->lc, pref, 1, &h,
					  &found));
	if (found < 1 || h.state != CUBLAS_STATUS_SUCCESS) {
		rc = wlb_error_set(err, WLB_EIO, "cublasLtMatmulAlgoGetHeuristic: no bf16 algorithm");
		goto out;
	}
	p->algo = h.algo;
out:
	if (pref)
		cublasLtMatmulPreferenceDestroy(pref);
	if (rc)
		plan_free(p);
	return rc;
}

/* The cached plan for this call, made on first use (round-robin eviction). */
static int plan_get(struct cdev *x, const struct plan *key, struct plan **out,
		    struct wlb_error *err)
{
	struct plan *p;
	int i, rc;

	for (i = 0; i < x->n_plans; i++) {
		p = &x->plans[i];
		if (p->ta == key->ta && p->tb == key->tb && p->m == key->m && p->n == key->n &&
		    p->k == key->k && p->al_a == key->al_a && p->al_b == key->al_b &&
		    p->al_c == key->al_c) {
			*out = p;
			return 0;
		}
	}
	if (x->n_plans < MAX_PLANS) {
		p = &x->plans[x->n_plans];
	} else {
		p = &x->plans[x->evict];
		x->evict = (x->evict + 1) % MAX_PLANS;
		plan_free(p);
	}
	*p = *key;
	p->op = NULL, p->la = p->lb = p->lc = NULL;
	if ((rc = plan_make(x, p, err)) != 0)
		return rc; /* p is zeroed: a slot below n_plans never matches (m >= 1) */
	if (p == &x->plans[x->n_plans])
		x->n_plans++;
	*out = p;
	return 0;
}

int wlb_cdev_gemm(struct wlb_dev *d, int ta, int tb, int m, int n, int k, const void *a,
		  const void *b, void *c, int accumulate, struct wlb_error *err)
{
	struct cdev *x = X(d);
	struct plan key, *p = NULL;
	float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
	int rc = 0;

	if (m < 0 || n < 0 || k < 0) {
		rc = wlb_error_set(err, WLB_EINVAL, "negative dimension");
		goto out;
	}
	if (!m || !n)
		return 0;
	if (!k) {
		if (!accumulate)
			CU(cudaMemsetAsync(c, 0, (size_t)m * n * sizeof(bf16), x->st));
		return 0;
	}
	memset(&key, 0, sizeof key);
	key.ta = !!ta, key.tb = !!tb, key.m = m, key.n = n, key.k = k;
	key.al_a = align_of(a), key.al_b = align_of(b), key.al_c = align_of(c);
	TRY(plan_get(x, &key, &p, err));
	LT(cublasLtMatmul(x->lt, p->op, &alpha, b, p->la, a, p->lb, &beta, c, p->lc, c, p->lc,
			  &p->algo, x->ws, WS_BYTES, x->st));
out:
	if (rc)
		wlb_error_prefix(err, "gemm %s%s %dx%dx%d", ta ? "T" : "N", tb ? "T" : "N", m, n, k);
	return rc;
}

void wlb_cdev_plans_free(struct cdev *x)
{
	for (int i = 0; i < x->n_plans; i++)
		plan_free(&x->plans[i]);
	x->n_plans = 0;
	x->evict = 0;
}
