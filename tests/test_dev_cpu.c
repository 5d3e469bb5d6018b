/* test_dev_cpu.c — the CPU device (backend/dev_cpu.c) through its ops table:
 * GEMM in every transpose combination and with accumulation against a naive
 * triple loop, fill's determinism and independence of n, gather / scatter-add
 * with repeated indices against hand-computed rows, copy2d, axpy, SwiGLU's
 * backward against central finite differences, attention against calling
 * attn_ref.c directly, the byte accounting of alloc / free, and marks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "dev.h"
#include "test.h"

void test_dev_cpu(void);

static double lcg(uint64_t *st)  /* uniform in [-1, 1) */
{
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*st >> 11) / 4503599627370496.0 - 1.0;
}

static double *dalloc(struct wlb_dev *d, size_t n)
{
	struct wlb_error err = {0};
	double *p = d->ops->alloc(d, sizeof *p * n, &err);
	CHECK(p != NULL);
	return p;
}

static void rand_fill(double *x, size_t n, uint64_t *st)
{
	for (size_t i = 0; i < n; i++)
		x[i] = lcg(st);
}

/* op(A) op(B) naively; A stored m x k (k x m when ta), B k x n (n x k when tb) */
static void naive_gemm(int ta, int tb, int m, int n, int k, const double *a, const double *b,
		       double *c, int acc)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double s = acc ? c[i * n + j] : 0;
			for (int p = 0; p < k; p++)
				s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
			c[i * n + j] = s;
		}
}

static void gemm(struct wlb_dev *d)
{
	enum { M = 5, N = 7, K = 3 };
	struct wlb_error err = {0};
	uint64_t st = 11;
	double a[M * K], b[K * N], c0[M * N], want[M * N], got[M * N];
	double *da = dalloc(d, M * K), *db = dalloc(d, K * N), *dc = dalloc(d, M * N);
	rand_fill(a, M * K, &st), rand_fill(b, K * N, &st), rand_fill(c0, M * N, &st);
	CHECK_EQ(d->ops->upload(d, da, a, M * K, &err), 0);
	CHECK_EQ(d->ops->upload(d, db, b, K * N, &err), 0);
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++)
			for (int acc = 0; acc < 2; acc++) {
				memcpy(want, c0, sizeof want);
				naive_gemm(ta, tb, M, N, K, a, b, want, acc);
				CHECK_EQ(d->ops->upload(d, dc, c0, M * N, &err), 0);
				CHECK_EQ(d->ops->gemm(d, ta, tb, M, N, K, da, db, dc, acc, &err), 0);
				CHECK_EQ(d->ops->download(d, got, dc, M * N, &err), 0);
				double mx = 0;
				for (int i = 0; i < M * N; i++)
					mx = fmax(mx, fabs(got[i] - want[i]));
				CHECK(mx <= 1e-12);
			}
	/* k == 0: C = 0, or unchanged when accumulating; m == 0 touches nothing */
	CHECK_EQ(d->ops->upload(d, dc, c0, M * N, &err), 0);
	CHECK_EQ(d->ops->gemm(d, 0, 0, M, N, 0, da, db, dc, 1, &err), 0);
	CHECK_EQ(d->ops->gemm(d, 0, 0, 0, N, K, da, db, dc, 0, &err), 0);
	CHECK_EQ(d->ops->download(d, got, dc, M * N, &err), 0);
	CHECK(memcmp(got, c0, sizeof got) == 0);
	CHECK_EQ(d->ops->gemm(d, 1, 0, M, N, 0, da, db, dc, 0, &err), 0);
	CHECK_EQ(d->ops->download(d, got, dc, M * N, &err), 0);
	CHECK_NEAR(got[0], 0, 0);
	CHECK_NEAR(got[M * N - 1], 0, 0);
	CHECK_EQ(d->ops->gemm(d, 0, 0, -1, N, K, da, db, dc, 0, &err), WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "gemm");
	d->ops->free(d, da), d->ops->free(d, db), d->ops->free(d, dc);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void fill(struct wlb_dev *d)
{
	enum { N = 1000 };
	struct wlb_error err = {0};
	double *x = dalloc(d, N), *y = dalloc(d, N), *z = dalloc(d, N);
	double hx[N], hy[N], hz[N];
	CHECK_EQ(d->ops->fill(d, x, N, 42, 0.5, &err), 0);
	CHECK_EQ(d->ops->fill(d, y, 37, 42, 0.5, &err), 0);  /* shorter: the same prefix */
	CHECK_EQ(d->ops->fill(d, z, N, 43, 0.5, &err), 0);
	d->ops->download(d, hx, x, N, &err);
	d->ops->download(d, hy, y, N, &err);
	d->ops->download(d, hz, z, N, &err);
	CHECK(memcmp(hx, hy, sizeof *hx * 37) == 0);
	CHECK_NEAR(hy[37], 0, 0);  /* not written past n */
	double lo = 1, hi = -1, mean = 0;
	int same = 0;
	for (int i = 0; i < N; i++) {
		lo = fmin(lo, hx[i]), hi = fmax(hi, hx[i]), mean += hx[i] / N;
		same += hx[i] == hz[i];
	}
	CHECK(lo > -0.5 && hi < 0.5);
	CHECK(lo < -0.45 && hi > 0.45);  /* spread over the range, not constant */
	CHECK(fabs(mean) < 0.05);
	CHECK(same < 5);                 /* another seed, other values */
	memcpy(hy, hx, sizeof hx);
	qsort(hy, N, sizeof *hy, cmp_double);
	int dup = 0;
	for (int i = 1; i < N; i++)
		dup += hy[i] == hy[i - 1];
	CHECK_EQ(dup, 0);                /* no short period in the index */
	CHECK_EQ(d->ops->fill(d, z, N, 42, 0.5, &err), 0);
	d->ops->download(d, hz, z, N, &err);
	CHECK(memcmp(hx, hz, sizeof hx) == 0);
	d->ops->free(d, x), d->ops->free(d, y), d->ops->free(d, z);
}

static void rows(struct wlb_dev *d)
{
	struct wlb_error err = {0};
	/* src: 4 rows of 3 */
	const double src[12] = {1, 2, 3, 10, 20, 30, 100, 200, 300, 1000, 2000, 3000};
	const int idx[5] = {2, 0, 2, 3, 2};
	double got[15];
	double *ds = dalloc(d, 12), *dd = dalloc(d, 15);
	int *di = d->ops->alloc(d, sizeof idx, &err);
	CHECK(di != NULL);
	d->ops->upload(d, ds, src, 12, &err);
	d->ops->upload_int(d, di, idx, 5, &err);
	CHECK_EQ(d->ops->gather_rows(d, dd, ds, di, 5, 3, &err), 0);
	d->ops->download(d, got, dd, 15, &err);
	const double want_g[15] = {100, 200, 300, 1, 2, 3, 100, 200, 300, 1000, 2000, 3000,
				   100, 200, 300};
	CHECK(memcmp(got, want_g, sizeof got) == 0);
	/* dst = src (4 x 3); dst[idx[i]] += g[i] for g = rows 1, 2, 3, 4, 5 of 0.5s * i */
	double g[15];
	for (int i = 0; i < 15; i++)
		g[i] = 0.5 * (i / 3 + 1);
	d->ops->upload(d, dd, g, 15, &err);
	CHECK_EQ(d->ops->scatter_add_rows(d, ds, dd, di, 5, 3, &err), 0);
	d->ops->download(d, got, ds, 12, &err);
	/* row 0 += 1.0; row 1 untouched; row 2 += 0.5 + 1.5 + 2.5; row 3 += 2.0 */
	const double want_s[12] = {2, 3, 4, 10, 20, 30, 104.5, 204.5, 304.5, 1002, 2002, 3002};
	CHECK(memcmp(got, want_s, sizeof want_s) == 0);
	const int bad[1] = {-1};
	d->ops->upload_int(d, di, bad, 1, &err);
	CHECK_EQ(d->ops->gather_rows(d, dd, ds, di, 1, 3, &err), WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "gather_rows");
	d->ops->free(d, ds), d->ops->free(d, dd), d->ops->free(d, di);
}

static void copy_axpy(struct wlb_dev *d)
{
	struct wlb_error err = {0};
	double src[4 * 5], dst[3 * 6], got[3 * 6];
	for (int i = 0; i < 20; i++)
		src[i] = i;
	for (int i = 0; i < 18; i++)
		dst[i] = -1;
	double *ds = dalloc(d, 20), *dd = dalloc(d, 18);
	d->ops->upload(d, ds, src, 20, &err);
	d->ops->upload(d, dd, dst, 18, &err);
	/* rows 1..3, columns 2..4 of src (ld 5) into columns 1..3 of dst (ld 6) */
	CHECK_EQ(d->ops->copy2d(d, dd + 1, 6, ds + 5 + 2, 5, 3, 3, &err), 0);
	d->ops->download(d, got, dd, 18, &err);
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 6; c++)
			CHECK_NEAR(got[r * 6 + c], c >= 1 && c <= 3 ? (r + 1) * 5 + c + 1 : -1, 0);
	CHECK_EQ(d->ops->copy2d(d, dd, 2, ds, 5, 3, 3, &err), WLB_EINVAL);
	/* y += alpha x */
	CHECK_EQ(d->ops->axpy(d, dd, ds, 18, -0.25, &err), 0);
	double got2[18];
	d->ops->download(d, got2, dd, 18, &err);
	for (int i = 0; i < 18; i++)
		CHECK_NEAR(got2[i], got[i] - 0.25 * i, 1e-15);
	d->ops->free(d, ds), d->ops->free(d, dd);
}

/* L = sum(a o w), a = swiglu(h); its gradient in h is swiglu_bwd(h, da = w) */
static double swi_loss(struct wlb_dev *d, const double *h, const double *w, double *dh_,
		       double *da_, int r, int f)
{
	struct wlb_error err = {0};
	double a[3 * 4], l = 0;
	d->ops->upload(d, dh_, h, (size_t)r * 2 * f, &err);
	CHECK_EQ(d->ops->swiglu_fwd(d, dh_, da_, r, f, &err), 0);
	d->ops->download(d, a, da_, (size_t)r * f, &err);
	for (int i = 0; i < r * f; i++)
		l += a[i] * w[i];
	return l;
}

static void swiglu(struct wlb_dev *d)
{
	enum { R = 3, F = 4 };
	struct wlb_error err = {0};
	uint64_t st = 5;
	double h[R * 2 * F], w[R * F], dh[R * 2 * F], a[R * F];
	rand_fill(h, R * 2 * F, &st), rand_fill(w, R * F, &st);
	for (int i = 0; i < R * 2 * F; i++)
		h[i] *= 4;  /* gates well into both tails of the sigmoid */
	double *dbh = dalloc(d, R * 2 * F), *dba = dalloc(d, R * F), *dbd = dalloc(d, R * 2 * F);
	/* forward, one value by hand */
	swi_loss(d, h, w, dbh, dba, R, F);
	d->ops->download(d, a, dba, R * F, &err);
	double g = h[2 * F + 1], u = h[2 * F + F + 1];
	CHECK_REL(a[F + 1], g / (1 + exp(-g)) * u, 1e-15);
	d->ops->upload(d, dba, w, R * F, &err);
	d->ops->upload(d, dbh, h, R * 2 * F, &err);
	CHECK_EQ(d->ops->swiglu_bwd(d, dbh, dba, dbd, R, F, &err), 0);
	d->ops->download(d, dh, dbd, R * 2 * F, &err);
	const double e = 1e-5;
	for (int i = 0; i < R * 2 * F; i++) {
		double x = h[i];
		h[i] = x + e;
		double lp = swi_loss(d, h, w, dbh, dba, R, F);
		h[i] = x - e;
		double lm = swi_loss(d, h, w, dbh, dba, R, F);
		h[i] = x;
		CHECK_REL(dh[i], (lp - lm) / (2 * e), 1e-6);
	}
	d->ops->free(d, dbh), d->ops->free(d, dba), d->ops->free(d, dbd);
}

static void attn(struct wlb_dev *d)
{
	enum { H = 4, KH = 2, D = 8 };
	struct wlb_error err = {0};
	const int cu_q[4] = {0, 5, 8, 15}, cu_k[4] = {0, 5, 14, 26};
	const int tq = 15, tk = 26;
	const size_t nq = (size_t)tq * H * D, nk = (size_t)tk * KH * D, nl = (size_t)tq * H;
	uint64_t st = 3;
	double *q = malloc(sizeof *q * nq), *k = malloc(sizeof *k * nk), *v = malloc(sizeof *v * nk);
	double *dout = malloc(sizeof *dout * nq);
	double *o = calloc(nq, sizeof *o), *lse = calloc(nl, sizeof *lse);
	double *o2 = calloc(nq, sizeof *o2), *lse2 = calloc(nl, sizeof *lse2);
	double *g[3], *g2[3];
	size_t gn[3] = {nq, nk, nk};
	for (int i = 0; i < 3; i++)
		g[i] = calloc(gn[i], sizeof *g[i]), g2[i] = calloc(gn[i], sizeof *g2[i]);
	rand_fill(q, nq, &st), rand_fill(k, nk, &st), rand_fill(v, nk, &st);
	rand_fill(dout, nq, &st);
	struct wlb_attn_shape s = {3, cu_q, cu_k, H, KH, D, 1 / sqrt(D)};
	wlb_attn_ref_fwd(&s, q, k, v, o, lse);
	wlb_attn_ref_bwd(&s, q, k, v, o, lse, dout, g[0], g[1], g[2]);

	int *dcq = d->ops->alloc(d, sizeof cu_q, &err), *dck = d->ops->alloc(d, sizeof cu_k, &err);
	double *dq = dalloc(d, nq), *dk = dalloc(d, nk), *dv = dalloc(d, nk), *ddo = dalloc(d, nq);
	double *dob = dalloc(d, nq), *dl = d->ops->alloc(d, d->lse_size * nl, &err);
	double *gq = dalloc(d, nq), *gk = dalloc(d, nk), *gv = dalloc(d, nk);
	d->ops->upload_int(d, dcq, cu_q, 4, &err);
	d->ops->upload_int(d, dck, cu_k, 4, &err);
	d->ops->upload(d, dq, q, nq, &err), d->ops->upload(d, dk, k, nk, &err);
	d->ops->upload(d, dv, v, nk, &err), d->ops->upload(d, ddo, dout, nq, &err);
	struct wlb_dev_attn da = {.n_pieces = 3, .cu_q = dcq, .cu_k = dck, .max_q = 7, .max_k = 12,
				  .total_q = tq, .total_k = tk, .heads = H, .kv_heads = KH,
				  .head_dim = D, .scale = 1 / sqrt(D)};
	CHECK_EQ(d->ops->attn_fwd(d, &da, dq, dk, dv, dob, dl, &err), 0);
	CHECK_EQ(d->ops->attn_bwd(d, &da, dq, dk, dv, dob, dl, ddo, gq, gk, gv, &err), 0);
	d->ops->download(d, o2, dob, nq, &err), d->ops->download(d, lse2, dl, nl, &err);
	d->ops->download(d, g2[0], gq, nq, &err), d->ops->download(d, g2[1], gk, nk, &err);
	d->ops->download(d, g2[2], gv, nk, &err);
	CHECK(memcmp(o, o2, sizeof *o * nq) == 0);
	CHECK(memcmp(lse, lse2, sizeof *lse * nl) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(memcmp(g[i], g2[i], sizeof *g[i] * gn[i]) == 0);
	da.total_q = 14;  /* disagrees with cu_q */
	CHECK_EQ(d->ops->attn_fwd(d, &da, dq, dk, dv, dob, dl, &err), WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "attn_fwd");
	d->ops->free(d, dcq), d->ops->free(d, dck), d->ops->free(d, dq), d->ops->free(d, dk);
	d->ops->free(d, dv), d->ops->free(d, ddo), d->ops->free(d, dob), d->ops->free(d, dl);
	d->ops->free(d, gq), d->ops->free(d, gk), d->ops->free(d, gv);
	free(q), free(k), free(v), free(dout), free(o), free(lse), free(o2), free(lse2);
	for (int i = 0; i < 3; i++)
		free(g[i]), free(g2[i]);
}

static void memory(struct wlb_dev *d)
{
	struct wlb_error err = {0};
	size_t b0 = d->bytes, p0 = d->peak_bytes;
	CHECK_EQ(b0, 0);  /* every earlier part freed what it took */
	unsigned char *a = d->ops->alloc(d, 1000, &err);
	unsigned char *b = d->ops->alloc(d, 24, &err);
	CHECK(a && b);
	CHECK_EQ((uintptr_t)a % 64, 0);
	CHECK_EQ((uintptr_t)b % 64, 0);
	int zero = 1;
	for (int i = 0; i < 1000; i++)
		zero &= a[i] == 0;
	CHECK(zero);
	CHECK_EQ(d->bytes, 1024);
	CHECK_EQ(d->peak_bytes, p0 > 1024 ? p0 : 1024);
	d->ops->free(d, a);
	CHECK_EQ(d->bytes, 24);
	void *c = d->ops->alloc(d, 100, &err);
	CHECK_EQ(d->bytes, 124);
	CHECK_EQ(d->peak_bytes, p0 > 1024 ? p0 : 1024);
	d->ops->free(d, b), d->ops->free(d, c), d->ops->free(d, NULL);
	CHECK_EQ(d->bytes, 0);
	CHECK(d->ops->alloc(d, SIZE_MAX - 8, &err) == NULL);
	CHECK_EQ(err.code, WLB_ENOMEM);
	CHECK_STR_HAS(err.msg, "cpu: out of memory allocating");
	CHECK_EQ(d->bytes, 0);
}

static void marks(struct wlb_dev *d)
{
	struct wlb_error err = {0};
	volatile double x = 0;
	CHECK_EQ(d->ops->mark(d, 0, &err), 0);
	for (int i = 0; i < 100000; i++)
		x += sqrt(i);
	CHECK_EQ(d->ops->mark(d, WLB_DEV_MARKS - 1, &err), 0);
	CHECK_EQ(d->ops->sync(d, &err), 0);
	double ms = d->ops->elapsed_ms(d, 0, WLB_DEV_MARKS - 1);
	CHECK(ms >= 0 && ms < 10000);
	CHECK_NEAR(d->ops->elapsed_ms(d, WLB_DEV_MARKS - 1, 0), -ms, 0);
	CHECK_EQ(d->ops->mark(d, WLB_DEV_MARKS, &err), WLB_EINVAL);
	CHECK_STR_HAS(err.msg, "mark");
	CHECK_EQ(d->ops->mark(d, -1, &err), WLB_EINVAL);
	CHECK(isnan(d->ops->elapsed_ms(d, 0, WLB_DEV_MARKS)));
}

void test_dev_cpu(void)
{
	struct wlb_dev *d = NULL;
	struct wlb_error err = {0};
	CHECK_EQ(wlb_dev_cpu_open(&d, &err), 0);
	if (!d)
		return;
	CHECK(strcmp(d->name, "cpu") == 0);
	CHECK_EQ(d->dtype, WLB_DT_F64);
	CHECK_EQ(d->lse_size, sizeof(double));
	CHECK_NEAR(d->tolerance, 1e-9, 0);
	CHECK(d->stream == NULL);
	CHECK(d->device_name[0] != '\0');
	CHECK_EQ(d->bytes, 0);
	gemm(d);
	fill(d);
	rows(d);
	copy_axpy(d);
	swiglu(d);
	attn(d);
	memory(d);
	marks(d);
	/* close frees what is still allocated (checked by make asan) */
	CHECK(d->ops->alloc(d, 4096, &err) != NULL);
	wlb_dev_close(d);
}
