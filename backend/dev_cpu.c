/* dev_cpu.c — the CPU device of wlb-run (dev.h): host memory, elements are
 * double (WLB_DT_F64), GEMMs through GSL's CBLAS, attention from the float64
 * reference of attn_ref.c, the small kernels as plain loops.  It is the
 * reference path the GPU device is checked against, never used to measure
 * speed.  Every block carries a 64-byte header (size and a list link, so
 * that bytes / peak_bytes are exact and close frees what is left); fill is a
 * pure function of (seed, index) through splitmix64; marks are
 * CLOCK_MONOTONIC times in ms, taken when called (the CPU does its work in
 * call order, so sync has nothing to wait for). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_cblas.h>

#include "attn.h"
#include "dev.h"

#define HDR 64  /* header before each block; keeps the block 64-byte aligned */

struct blk {
	struct blk *prev, *next;
	size_t size;
};
_Static_assert(sizeof(struct blk) <= HDR, "block header must fit in HDR bytes");

struct cpu {
	struct wlb_dev dev;
	struct blk live;        /* circular list of the blocks allocated now */
	double marks[WLB_DEV_MARKS];
};

static struct cpu *cpu_of(struct wlb_dev *d)
{
	return d->impl;
}

static void *cpu_alloc(struct wlb_dev *d, size_t bytes, struct wlb_error *err)
{
	struct cpu *c = cpu_of(d);
	void *p = NULL;
	if (bytes > SIZE_MAX - HDR || posix_memalign(&p, HDR, HDR + bytes) != 0) {
		wlb_error_set(err, WLB_ENOMEM, "cpu: out of memory allocating %zu bytes", bytes);
		return NULL;
	}
	memset(p, 0, HDR + bytes);
	struct blk *b = p;
	b->size = bytes;
	b->next = c->live.next;
	b->prev = &c->live;
	c->live.next->prev = b;
	c->live.next = b;
	d->bytes += bytes;
	if (d->bytes > d->peak_bytes)
		d->peak_bytes = d->bytes;
	return (char *)p + HDR;
}

static void cpu_free(struct wlb_dev *d, void *p)
{
	if (!p)
		return;
	struct blk *b = (struct blk *)(void *)((char *)p - HDR);
	b->prev->next = b->next;
	b->next->prev = b->prev;
	d->bytes -= b->size;
	free(b);
}

static int cpu_upload(struct wlb_dev *d, void *dst, const double *src, size_t n,
		      struct wlb_error *err)
{
	(void)d, (void)err;
	if (n)
		memcpy(dst, src, sizeof *src * n);
	return 0;
}

static int cpu_download(struct wlb_dev *d, double *dst, const void *src, size_t n,
			struct wlb_error *err)
{
	(void)d, (void)err;
	if (n)
		memcpy(dst, src, sizeof *dst * n);
	return 0;
}

static int cpu_upload_int(struct wlb_dev *d, int *dst, const int *src, size_t n,
			  struct wlb_error *err)
{
	(void)d, (void)err;
	if (n)
		memcpy(dst, src, sizeof *src * n);
	return 0;
}

static int cpu_zero(struct wlb_dev *d, void *x, size_t bytes, struct wlb_error *err)
{
	(void)d, (void)err;
	if (bytes)
		memset(x, 0, bytes);
	return 0;
}

/* put and get: host memory is the device's */
static int cpu_copy(struct wlb_dev *d, void *dst, const void *src, size_t bytes,
		    struct wlb_error *err)
{
	(void)d, (void)err;
	if (bytes)
		memcpy(dst, src, bytes);
	return 0;
}

static uint64_t splitmix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* (2k + 1) / 2^52 - 1 for the top 52 bits k: exact, strictly inside (-1, 1) */
static int cpu_fill(struct wlb_dev *d, void *x, size_t n, uint64_t seed, double scale,
		    struct wlb_error *err)
{
	double *y = x;
	(void)d, (void)err;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = splitmix64(seed ^ ((uint64_t)i * 0x9E3779B97F4A7C15ULL)) >> 12;
		y[i] = scale * ((double)(2 * r + 1) * 0x1p-52 - 1);
	}
	return 0;
}

static int cpu_gemm(struct wlb_dev *d, int ta, int tb, int m, int n, int k, const void *a,
		    const void *b, void *c, int accumulate, struct wlb_error *err)
{
	(void)d;
	if (m < 0 || n < 0 || k < 0)
		return wlb_error_set(err, WLB_EINVAL, "cpu: gemm: negative size m=%d n=%d k=%d",
				     m, n, k);
	if (m == 0 || n == 0)
		return 0;
	if (k == 0) {  /* op(A) op(B) is zero; BLAS would reject lda = 0 */
		if (!accumulate)
			memset(c, 0, sizeof(double) * (size_t)m * (size_t)n);
		return 0;
	}
	cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
		    m, n, k, 1.0, a, ta ? m : k, b, tb ? k : n, accumulate ? 1.0 : 0.0, c, n);
	return 0;
}

static int attn_shape(const struct wlb_dev_attn *s, struct wlb_attn_shape *out, const char *call,
		      struct wlb_error *err)
{
	if (s->n_pieces < 0 || !s->cu_q || !s->cu_k || s->heads <= 0 || s->kv_heads <= 0 ||
	    s->head_dim <= 0 || s->heads % s->kv_heads != 0)
		return wlb_error_set(err, WLB_EINVAL, "cpu: %s: bad shape (pieces %d, heads %d, "
				     "kv_heads %d, head_dim %d)", call, s->n_pieces, s->heads,
				     s->kv_heads, s->head_dim);
	if (s->cu_q[s->n_pieces] != s->total_q || s->cu_k[s->n_pieces] != s->total_k)
		return wlb_error_set(err, WLB_EINVAL, "cpu: %s: offsets end at %d / %d, totals "
				     "are %d / %d", call, s->cu_q[s->n_pieces],
				     s->cu_k[s->n_pieces], s->total_q, s->total_k);
	*out = (struct wlb_attn_shape){.n_pieces = s->n_pieces, .cu_q = s->cu_q,
				       .cu_k = s->cu_k, .heads = s->heads,
				       .kv_heads = s->kv_heads, .head_dim = s->head_dim,
				       .scale = s->scale};
	return 0;
}

static int cpu_attn_fwd(struct wlb_dev *d, const struct wlb_dev_attn *s, const void *q,
			const void *k, const void *v, void *o, void *lse, struct wlb_error *err)
{
	struct wlb_attn_shape sh;
	int rc = attn_shape(s, &sh, "attn_fwd", err);
	(void)d;
	if (rc)
		return rc;
	wlb_attn_ref_fwd(&sh, q, k, v, o, lse);
	return 0;
}

static int cpu_attn_bwd(struct wlb_dev *d, const struct wlb_dev_attn *s, const void *q,
			const void *k, const void *v, const void *o, const void *lse,
			const void *dout, void *dq, void *dk, void *dv, struct wlb_error *err)
{
	struct wlb_attn_shape sh;
	int rc = attn_shape(s, &sh, "attn_bwd", err);
	(void)d;
	if (rc)
		return rc;
	wlb_attn_ref_bwd(&sh, q, k, v, o, lse, dout, dq, dk, dv);
	return 0;
}

static int check_rows(const char *call, const int *idx, int n_rows, int cols,
		      struct wlb_error *err)
{
	if (n_rows < 0 || cols < 0)
		return wlb_error_set(err, WLB_EINVAL, "cpu: %s: negative size rows=%d cols=%d",
				     call, n_rows, cols);
	for (int i = 0; i < n_rows; i++)
		if (idx[i] < 0)
			return wlb_error_set(err, WLB_EINVAL, "cpu: %s: index %d is %d", call, i,
					     idx[i]);
	return 0;
}

static int cpu_gather_rows(struct wlb_dev *d, void *dst, const void *src, const int *idx,
			   int n_rows, int cols, struct wlb_error *err)
{
	double *y = dst;
	const double *x = src;
	int rc = check_rows("gather_rows", idx, n_rows, cols, err);
	(void)d;
	if (rc || cols == 0)
		return rc;
	for (int i = 0; i < n_rows; i++)
		memcpy(y + (size_t)i * cols, x + (size_t)idx[i] * cols, sizeof *y * (size_t)cols);
	return 0;
}

static int cpu_scatter_add_rows(struct wlb_dev *d, void *dst, const void *src, const int *idx,
				int n_rows, int cols, struct wlb_error *err)
{
	double *y = dst;
	const double *x = src;
	int rc = check_rows("scatter_add_rows", idx, n_rows, cols, err);
	(void)d;
	if (rc)
		return rc;
	for (int i = 0; i < n_rows; i++) {
		double *yr = y + (size_t)idx[i] * cols;
		const double *xr = x + (size_t)i * cols;
		for (int c = 0; c < cols; c++)
			yr[c] += xr[c];
	}
	return 0;
}

static int cpu_copy2d(struct wlb_dev *d, void *dst, int ldd, const void *src, int lds, int rows,
		      int cols, struct wlb_error *err)
{
	double *y = dst;
	const double *x = src;
	(void)d;
	if (rows < 0 || cols < 0 || ldd < cols || lds < cols)
		return wlb_error_set(err, WLB_EINVAL, "cpu: copy2d: bad shape rows=%d cols=%d "
				     "ldd=%d lds=%d", rows, cols, ldd, lds);
	if (cols == 0)
		return 0;
	for (int r = 0; r < rows; r++)
		memmove(y + (size_t)r * ldd, x + (size_t)r * lds, sizeof *y * (size_t)cols);
	return 0;
}

static int cpu_axpy(struct wlb_dev *d, void *y, const void *x, size_t n, double alpha,
		    struct wlb_error *err)
{
	double *yy = y;
	const double *xx = x;
	(void)d, (void)err;
	for (size_t i = 0; i < n; i++)
		yy[i] += alpha * xx[i];
	return 0;
}

static double sigmoid(double x)
{
	return 1 / (1 + exp(-x));
}

static int cpu_swiglu_fwd(struct wlb_dev *d, const void *h, void *a, int rows, int f,
			  struct wlb_error *err)
{
	const double *hh = h;
	double *aa = a;
	(void)d;
	if (rows < 0 || f < 0)
		return wlb_error_set(err, WLB_EINVAL, "cpu: swiglu_fwd: negative size rows=%d f=%d",
				     rows, f);
	for (int r = 0; r < rows; r++) {
		const double *g = hh + (size_t)r * 2 * f, *u = g + f;
		double *ar = aa + (size_t)r * f;
		for (int j = 0; j < f; j++)
			ar[j] = g[j] / (1 + exp(-g[j])) * u[j];
	}
	return 0;
}

/* d silu(x) / dx = s (1 + x (1 - s)), s = sigmoid(x) */
static int cpu_swiglu_bwd(struct wlb_dev *d, const void *h, const void *da, void *dh, int rows,
			  int f, struct wlb_error *err)
{
	const double *hh = h, *dd = da;
	double *out = dh;
	(void)d;
	if (rows < 0 || f < 0)
		return wlb_error_set(err, WLB_EINVAL, "cpu: swiglu_bwd: negative size rows=%d f=%d",
				     rows, f);
	for (int r = 0; r < rows; r++) {
		const double *g = hh + (size_t)r * 2 * f, *u = g + f, *dr = dd + (size_t)r * f;
		double *dg = out + (size_t)r * 2 * f, *du = dg + f;
		for (int j = 0; j < f; j++) {
			double s = sigmoid(g[j]);
			dg[j] = dr[j] * u[j] * s * (1 + g[j] * (1 - s));
			du[j] = dr[j] * g[j] * s;
		}
	}
	return 0;
}

static int cpu_mark(struct wlb_dev *d, int slot, struct wlb_error *err)
{
	struct timespec ts;
	if (slot < 0 || slot >= WLB_DEV_MARKS)
		return wlb_error_set(err, WLB_EINVAL, "cpu: mark: slot %d outside 0 .. %d", slot,
				     WLB_DEV_MARKS - 1);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return wlb_error_set(err, WLB_EIO, "cpu: mark: clock_gettime: %s", strerror(errno));
	cpu_of(d)->marks[slot] = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
	return 0;
}

/* NAN for a slot out of range */
static double cpu_elapsed_ms(struct wlb_dev *d, int from, int to)
{
	if (from < 0 || from >= WLB_DEV_MARKS || to < 0 || to >= WLB_DEV_MARKS)
		return NAN;
	return cpu_of(d)->marks[to] - cpu_of(d)->marks[from];
}

static int cpu_sync(struct wlb_dev *d, struct wlb_error *err)
{
	(void)d, (void)err;
	return 0;
}

static void cpu_close(struct wlb_dev *d)
{
	struct cpu *c = cpu_of(d);
	while (c->live.next != &c->live)
		cpu_free(d, (char *)c->live.next + HDR);
	free(c);
}

static const struct wlb_dev_ops cpu_ops = {
	.alloc = cpu_alloc,
	.free = cpu_free,
	.upload = cpu_upload,
	.download = cpu_download,
	.upload_int = cpu_upload_int,
	.zero = cpu_zero,
	.put = cpu_copy,
	.get = cpu_copy,
	.fill = cpu_fill,
	.gemm = cpu_gemm,
	.attn_fwd = cpu_attn_fwd,
	.attn_bwd = cpu_attn_bwd,
	.gather_rows = cpu_gather_rows,
	.scatter_add_rows = cpu_scatter_add_rows,
	.copy2d = cpu_copy2d,
	.axpy = cpu_axpy,
	.swiglu_fwd = cpu_swiglu_fwd,
	.swiglu_bwd = cpu_swiglu_bwd,
	.mark = cpu_mark,
	.elapsed_ms = cpu_elapsed_ms,
	.sync = cpu_sync,
	.close = cpu_close,
};

/* "model name : X" of /proc/cpuinfo, else "cpu" */
static void cpu_model(char *out, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	snprintf(out, cap, "cpu");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		char *v = colon + 1, *e;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*v)
			snprintf(out, cap, "%s", v);
		break;
	}
	fclose(f);
}

int wlb_dev_cpu_open(struct wlb_dev **out, struct wlb_error *err)
{
	struct cpu *c = calloc(1, sizeof *c);
	*out = NULL;
	if (!c)
		return wlb_error_set(err, WLB_ENOMEM, "cpu: out of memory allocating %zu bytes",
				     sizeof *c);
	c->live.next = c->live.prev = &c->live;
	c->dev = (struct wlb_dev){.ops = &cpu_ops, .name = "cpu", .dtype = WLB_DT_F64,
				  .tolerance = 1e-9, .lse_size = sizeof(double), .stream = NULL,
				  .impl = c};
	cpu_model(c->dev.device_name, sizeof c->dev.device_name);
	*out = &c->dev;
	return 0;
}
