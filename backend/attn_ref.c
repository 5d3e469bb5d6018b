/* attn_ref.c — varlen causal attention on the CPU in float64: the reference
 * the GPU kernels (attn.cu) are checked against, and the attention of
 * wlb-run's CPU path.  Semantics in attn.h.
 *
 * Forward, per piece, query head h and query j (bottom-right causal: it sees
 * keys 0 .. kv_len - q_len + j of its piece, through KV head h / group):
 *   s_t = scale * q . k_t,  lse = log sum_t exp(s_t),  o = sum_t exp(s_t - lse) v_t
 * computed in one pass with a running maximum (online softmax), so no score
 * buffer is needed.  Backward, with p_t = exp(s_t - lse) recomputed from the
 * saved lse and D = rowsum(dO o O):
 *   dv_t += p_t dO,  ds_t = p_t (dO . v_t - D),  dq += scale ds_t k_t,
 *   dk_t += scale ds_t q.
 * A query that sees no key (only possible when q_len > kv_len, outside the
 * contract) gets o = 0 and lse = -inf, and contributes no gradient. */
#include <math.h>
#include <string.h>

#include "attn.h"

static double dot(const double *a, const double *b, int d)
{
	double s = 0;
	for (int i = 0; i < d; i++)
		s += a[i] * b[i];
	return s;
}

/* the last key (piece-relative) query j of a piece may see */
static int last_key(int q_len, int kv_len, int j)
{
	int last = kv_len - q_len + j;
	return last < kv_len - 1 ? last : kv_len - 1;
}

void wlb_attn_ref_fwd(const struct wlb_attn_shape *s, const double *q, const double *k,
		      const double *v, double *o, double *lse)
{
	const int d = s->head_dim, group = s->heads / s->kv_heads;
	const int total_q = s->cu_q[s->n_pieces];
	for (int p = 0; p < s->n_pieces; p++) {
		const int q0 = s->cu_q[p], k0 = s->cu_k[p];
		const int q_len = s->cu_q[p + 1] - q0, kv_len = s->cu_k[p + 1] - k0;
		for (int h = 0; h < s->heads; h++) {
			const int kh = h / group;
			for (int j = 0; j < q_len; j++) {
				const double *qr = q + ((size_t)(q0 + j) * s->heads + h) * d;
				double *orow = o + ((size_t)(q0 + j) * s->heads + h) * d;
				double m = -INFINITY, l = 0;
				memset(orow, 0, sizeof *orow * (size_t)d);
				for (int t = 0; t <= last_key(q_len, kv_len, j); t++) {
					size_t kr = ((size_t)(k0 + t) * s->kv_heads + kh) * d;
					double x = s->scale * dot(qr, k + kr, d);
					if (x > m) {  /* rescale what was summed so far */
						double a = exp(m - x);
						l *= a;
						for (int i = 0; i < d; i++)
							orow[i] *= a;
						m = x;
					}
					double e = exp(x - m);
					l += e;
					for (int i = 0; i < d; i++)
						orow[i] += e * v[kr + i];
				}
				for (int i = 0; i < d && l > 0; i++)
					orow[i] /= l;
				lse[(size_t)h * total_q + q0 + j] = l > 0 ? m + log(l) : -INFINITY;
			}
		}
	}
}

void wlb_attn_ref_bwd(const struct wlb_attn_shape *s, const double *q, const double *k,
		      const double *v, const double *o, const double *lse, const double *dout,
		      double *dq, double *dk, double *dv)
{
	const int d = s->head_dim, group = s->heads / s->kv_heads;
	const int total_q = s->cu_q[s->n_pieces], total_k = s->cu_k[s->n_pieces];
	memset(dq, 0, sizeof *dq * (size_t)total_q * s->heads * d);
	memset(dk, 0, sizeof *dk * (size_t)total_k * s->kv_heads * d);
	memset(dv, 0, sizeof *dv * (size_t)total_k * s->kv_heads * d);
	for (int p = 0; p < s->n_pieces; p++) {
		const int q0 = s->cu_q[p], k0 = s->cu_k[p];
		const int q_len = s->cu_q[p + 1] - q0, kv_len = s->cu_k[p + 1] - k0;
		for (int h = 0; h < s->heads; h++) {
			const int kh = h / group;
			for (int j = 0; j < q_len; j++) {
				const size_t qr = ((size_t)(q0 + j) * s->heads + h) * d;
				const double row_lse = lse[(size_t)h * total_q + q0 + j];
				const double delta = dot(dout + qr, o + qr, d);
				if (!isfinite(row_lse))
					continue;
				for (int t = 0; t <= last_key(q_len, kv_len, j); t++) {
					const size_t kr = ((size_t)(k0 + t) * s->kv_heads + kh) * d;
					double pt = exp(s->scale * dot(q + qr, k + kr, d) - row_lse);
					double ds = pt * (dot(dout + qr, v + kr, d) - delta);
					for (int i = 0; i < d; i++) {
						dv[kr + i] += pt * dout[qr + i];
						dq[qr + i] += s->scale * ds * k[kr + i];
						dk[kr + i] += s->scale * ds * q[qr + i];
					}
				}
			}
		}
	}
}
