/* test_attn_ref.c — the CPU float64 attention reference (backend/attn_ref.c):
 * forward against a naive masked-softmax implementation, backward against
 * central finite differences, and the context-parallel split property. */
#include <stdint.h>
#include <stdlib.h>

#include "attn.h"
#include "test.h"

void test_attn_ref(void);

static double lcg(uint64_t *st)  /* uniform in [-1, 1) */
{
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*st >> 11) / 4503599627370496.0 - 1.0;
}

static double *rand_buf(size_t n, uint64_t *st)
{
	double *b = malloc(sizeof *b * n);
	for (size_t i = 0; i < n && b; i++)
		b[i] = lcg(st);
	return b;
}

/* Materializes each (piece, head) score matrix with the bottom-right mask,
 * softmaxes its rows and multiplies by V; independent of attn_ref.c. */
static void naive_fwd(const struct wlb_attn_shape *s, const double *q, const double *k,
		      const double *v, double *o, double *lse)
{
	const int d = s->head_dim, total_q = s->cu_q[s->n_pieces];
	for (int p = 0; p < s->n_pieces; p++) {
		int ql = s->cu_q[p + 1] - s->cu_q[p], kl = s->cu_k[p + 1] - s->cu_k[p];
		double *sc = malloc(sizeof *sc * (size_t)(ql * kl + 1));
		for (int h = 0; h < s->heads; h++) {
			int kh = h * s->kv_heads / s->heads;
			for (int i = 0; i < ql; i++)
				for (int j = 0; j < kl; j++) {
					double x = 0;
					for (int c = 0; c < d; c++)
						x += q[((size_t)(s->cu_q[p] + i) * s->heads + h) * d + c] *
						     k[((size_t)(s->cu_k[p] + j) * s->kv_heads + kh) * d + c];
					sc[i * kl + j] = j - (kl - ql) > i ? -INFINITY : x * s->scale;
				}
			for (int i = 0; i < ql; i++) {
				double mx = -INFINITY, sum = 0;
				for (int j = 0; j < kl; j++)
					mx = fmax(mx, sc[i * kl + j]);
				for (int j = 0; j < kl; j++)
					sum += (sc[i * kl + j] = exp(sc[i * kl + j] - mx));
				double *orow = o + ((size_t)(s->cu_q[p] + i) * s->heads + h) * d;
				for (int c = 0; c < d; c++) {
					double acc = 0;
					for (int j = 0; j < kl; j++)
						acc += sc[i * kl + j] / sum *
						       v[((size_t)(s->cu_k[p] + j) * s->kv_heads + kh) * d + c];
					orow[c] = acc;
				}
				lse[(size_t)h * total_q + s->cu_q[p] + i] = mx + log(sum);
			}
		}
		free(sc);
	}
}

static double max_abs_diff(const double *a, const double *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(a[i] - b[i]));
	return m;
}

/* pieces: (q_len, kv_len) pairs */
static void make_shape(struct wlb_attn_shape *s, int *cu_q, int *cu_k, const int (*pc)[2], int n,
		       int heads, int kv_heads, int d)
{
	cu_q[0] = cu_k[0] = 0;
	for (int i = 0; i < n; i++) {
		cu_q[i + 1] = cu_q[i] + pc[i][0];
		cu_k[i + 1] = cu_k[i] + pc[i][1];
	}
	*s = (struct wlb_attn_shape){.n_pieces = n, .cu_q = cu_q, .cu_k = cu_k, .heads = heads,
				     .kv_heads = kv_heads, .head_dim = d, .scale = 1 / sqrt(d)};
}

static const int pieces[][2] = {{5, 5}, {3, 9}, {1, 1}, {7, 12}, {1, 6}, {4, 4}};
#define N_PIECES ((int)(sizeof pieces / sizeof pieces[0]))

static void fwd_vs_naive(int d, uint64_t seed)
{
	int cu_q[N_PIECES + 1], cu_k[N_PIECES + 1];
	struct wlb_attn_shape s;
	make_shape(&s, cu_q, cu_k, pieces, N_PIECES, 4, 2, d);
	size_t nq = (size_t)cu_q[N_PIECES] * 4 * d, nk = (size_t)cu_k[N_PIECES] * 2 * d;
	size_t nl = (size_t)cu_q[N_PIECES] * 4;
	double *q = rand_buf(nq, &seed), *k = rand_buf(nk, &seed), *v = rand_buf(nk, &seed);
	double *o = calloc(nq, sizeof *o), *o2 = calloc(nq, sizeof *o2);
	double *lse = calloc(nl, sizeof *lse), *lse2 = calloc(nl, sizeof *lse2);
	/* larger scores than 1/sqrt(d) stress the running-maximum rescaling */
	for (size_t i = 0; i < nq; i++)
		q[i] *= 3;
	wlb_attn_ref_fwd(&s, q, k, v, o, lse);
	naive_fwd(&s, q, k, v, o2, lse2);
	CHECK(max_abs_diff(o, o2, nq) < 1e-12);
	CHECK(max_abs_diff(lse, lse2, nl) < 1e-12);
	/* first query of piece 0 sees only key 0: its output is v of key 0 */
	for (int h = 0; h < 4; h++)
		CHECK_NEAR(o[(size_t)h * d + 1], v[(size_t)(h / 2) * d + 1], 1e-15);
	/* every output is a convex combination of values: within [-1, 1] */
	double mx = 0;
	for (size_t i = 0; i < nq; i++)
		mx = fmax(mx, fabs(o[i]));
	CHECK(mx <= 1);
	free(q), free(k), free(v), free(o), free(o2), free(lse), free(lse2);
}

static double loss(const struct wlb_attn_shape *s, const double *q, const double *k,
		   const double *v, const double *dout, double *o, double *lse, size_t nq)
{
	wlb_attn_ref_fwd(s, q, k, v, o, lse);
	double l = 0;
	for (size_t i = 0; i < nq; i++)
		l += dout[i] * o[i];
	return l;
}

/* L = sum(dO o O): its gradient is what wlb_attn_ref_bwd returns for dout = dO */
static void bwd_vs_fd(int d, uint64_t seed)
{
	int cu_q[N_PIECES + 1], cu_k[N_PIECES + 1];
	struct wlb_attn_shape s;
	make_shape(&s, cu_q, cu_k, pieces, N_PIECES, 4, 2, d);
	size_t nq = (size_t)cu_q[N_PIECES] * 4 * d, nk = (size_t)cu_k[N_PIECES] * 2 * d;
	size_t nl = (size_t)cu_q[N_PIECES] * 4;
	double *q = rand_buf(nq, &seed), *k = rand_buf(nk, &seed), *v = rand_buf(nk, &seed);
	double *dout = rand_buf(nq, &seed);
	double *o = calloc(nq, sizeof *o), *lse = calloc(nl, sizeof *lse);
	double *dq = calloc(nq, sizeof *dq), *dk = calloc(nk, sizeof *dk), *dv = calloc(nk, sizeof *dv);
	wlb_attn_ref_fwd(&s, q, k, v, o, lse);
	wlb_attn_ref_bwd(&s, q, k, v, o, lse, dout, dq, dk, dv);
	double *bufs[3] = {q, k, v}, *grads[3] = {dq, dk, dv};
	size_t sizes[3] = {nq, nk, nk};
	const double h = 1e-5;
	int nonzero = 0;
	for (int which = 0; which < 3; which++)
		for (int trial = 0; trial < 8; trial++) {
			size_t i = (size_t)((lcg(&seed) + 1) / 2 * (double)sizes[which]);
			double x = bufs[which][i];
			bufs[which][i] = x + h;
			double lp = loss(&s, q, k, v, dout, o, lse, nq);
			bufs[which][i] = x - h;
			double lm = loss(&s, q, k, v, dout, o, lse, nq);
			bufs[which][i] = x;
			double fd = (lp - lm) / (2 * h), g = grads[which][i];
			nonzero += fabs(g) > 1e-3;
			if (fabs(fd - g) > 1e-6 * fmax(fabs(g), 1e-2))
				fprintf(stderr, "  attn_ref: d=%d %c[%zu]: analytic %.12g, fd %.12g\n", d,
					"QKV"[which], i, g, fd);
			CHECK(fabs(fd - g) <= 1e-6 * fmax(fabs(g), 1e-2));
		}
	CHECK(nonzero >= 12);  /* the check is not vacuous */
	free(q), free(k), free(v), free(dout), free(o), free(lse), free(dq), free(dk), free(dv);
}

/* Context parallelism: a document of length L cut into chunks, each chunk a
 * piece (chunk length, prefix length up to the chunk's end) whose keys are
 * the whole prefix, gives the whole document's output rows and lse; the
 * chunks' dQ rows are the document's, and the dK / dV of each key summed
 * over the chunks that hold it are the document's (the reduce-scatter that
 * CP's backward does). */
static void cp_split(uint64_t seed)
{
	enum { L = 23, H = 4, KH = 2, D = 8 };
	const int cuts[] = {0, 5, 11, 17, L};  /* 4 chunks, as 2 * cp with cp = 2 */
	const int nc = 4;
	int cu_q[2] = {0, L}, cu_k[2] = {0, L}, pq[5], pk[5];
	struct wlb_attn_shape whole = {1, cu_q, cu_k, H, KH, D, 1 / sqrt(D)}, split = whole;
	pq[0] = pk[0] = 0;
	for (int c = 0; c < nc; c++) {
		pq[c + 1] = pq[c] + cuts[c + 1] - cuts[c];
		pk[c + 1] = pk[c] + cuts[c + 1];
	}
	split.n_pieces = nc, split.cu_q = pq, split.cu_k = pk;
	const int tk = pk[nc];
	double *q = rand_buf(L * H * D, &seed), *k = rand_buf(L * KH * D, &seed);
	double *v = rand_buf(L * KH * D, &seed), *dout = rand_buf(L * H * D, &seed);
	double *o = calloc(L * H * D, sizeof *o), *lse = calloc(L * H, sizeof *lse);
	double *dq = calloc(L * H * D, sizeof *dq), *dk = calloc(L * KH * D, sizeof *dk);
	double *dv = calloc(L * KH * D, sizeof *dv);
	/* split layout: the same query rows; keys of chunk c = rows 0 .. cuts[c+1] */
	double *ks = calloc((size_t)tk * KH * D, sizeof *ks), *vs = calloc((size_t)tk * KH * D, sizeof *vs);
	double *os = calloc(L * H * D, sizeof *os), *lses = calloc(L * H, sizeof *lses);
	double *dqs = calloc(L * H * D, sizeof *dqs), *dks = calloc((size_t)tk * KH * D, sizeof *dks);
	double *dvs = calloc((size_t)tk * KH * D, sizeof *dvs);
	for (int c = 0; c < nc; c++) {
		memcpy(ks + (size_t)pk[c] * KH * D, k, sizeof *k * cuts[c + 1] * KH * D);
		memcpy(vs + (size_t)pk[c] * KH * D, v, sizeof *v * cuts[c + 1] * KH * D);
	}
	wlb_attn_ref_fwd(&whole, q, k, v, o, lse);
	wlb_attn_ref_fwd(&split, q, ks, vs, os, lses);
	CHECK(max_abs_diff(o, os, L * H * D) < 1e-13);
	CHECK(max_abs_diff(lse, lses, L * H) < 1e-13);
	wlb_attn_ref_bwd(&whole, q, k, v, o, lse, dout, dq, dk, dv);
	wlb_attn_ref_bwd(&split, q, ks, vs, os, lses, dout, dqs, dks, dvs);
	CHECK(max_abs_diff(dq, dqs, L * H * D) < 1e-13);
	/* reduce the chunks' key gradients onto the document's keys */
	double *dkr = calloc(L * KH * D, sizeof *dkr), *dvr = calloc(L * KH * D, sizeof *dvr);
	for (int c = 0; c < nc; c++)
		for (int i = 0; i < cuts[c + 1] * KH * D; i++) {
			dkr[i] += dks[(size_t)pk[c] * KH * D + i];
			dvr[i] += dvs[(size_t)pk[c] * KH * D + i];
		}
	CHECK(max_abs_diff(dk, dkr, L * KH * D) < 1e-12);
	CHECK(max_abs_diff(dv, dvr, L * KH * D) < 1e-12);
	free(dkr), free(dvr);
	/* and the chunks are not trivially equal to attention over the chunk only */
	int cu_c[2] = {0, cuts[2] - cuts[1]};
	struct wlb_attn_shape alone = {1, cu_c, cu_c, H, KH, D, 1 / sqrt(D)};
	double *oa = calloc((size_t)cu_c[1] * H * D, sizeof *oa), *la = calloc((size_t)cu_c[1] * H, sizeof *la);
	wlb_attn_ref_fwd(&alone, q + (size_t)cuts[1] * H * D, k + (size_t)cuts[1] * KH * D,
			 v + (size_t)cuts[1] * KH * D, oa, la);
	CHECK(max_abs_diff(oa, o + (size_t)cuts[1] * H * D, (size_t)cu_c[1] * H * D) > 1e-3);
	free(q), free(k), free(v), free(dout), free(o), free(lse), free(dq), free(dk), free(dv);
	free(ks), free(vs), free(os), free(lses), free(dqs), free(dks), free(dvs), free(oa), free(la);
}

void test_attn_ref(void)
{
	fwd_vs_naive(8, 1);
	fwd_vs_naive(16, 2);
	bwd_vs_fd(8, 3);
	bwd_vs_fd(16, 4);
	cp_split(5);
}
