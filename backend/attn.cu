/* attn.cu — varlen causal attention on the GPU (attn_cuda.h): a
 * FlashAttention-2-style forward and backward in bf16 with fp32 accumulation
 * on the tensor cores (mma.sync m16n8k16, sm_80 and sm_90), head_dim 64 and
 * 128.  Semantics as attn.h (bottom-right causal pieces, GQA); checked
 * against the float64 reference attn_ref.c by tests/gpu/check_attn.cu.
 *
 * Tiling.  A block is 4 warps (128 threads).  Tiles are 64 rows: 64 query
 * rows (BM) by 64 keys (BN); each warp owns 16 rows of its tile, the M of
 * one mma.  Tiles of Q, K, V, dO are staged in shared memory row-major with
 * 8 bf16 of padding per row (PAD), which keeps rows 16-byte aligned for the
 * uint4 copies from global memory and makes every fragment load below
 * bank-conflict free.
 *
 * mma.m16n8k16.row.col fragments (g = lane / 4, t = lane % 4; a register
 * holds two bf16, the lower column / k in the low half):
 *   A 16x16:  a0 (g, 2t..2t+1)  a1 (g+8, 2t..)  a2 (g, 2t+8..)  a3 (g+8, 2t+8..)
 *   B 16x8:   b0 (k 2t..2t+1, n g)  b1 (k 2t+8.., n g)
 *   C 16x8:   c0 c1 (g, 2t..2t+1)  c2 c3 (g+8, 2t..2t+1)
 * Two adjacent C tiles (n-tiles 2i, 2i+1) of a score matrix are exactly the A
 * fragment of k-step i of the next product (P V, P^T dO, ...), so
 * probabilities never leave registers.  B operands whose k runs along a
 * row of the staged tile (K for Q K^T, Q for K Q^T) load as one 32-bit word;
 * those whose k runs down a column (V for P V, dO, Q, K in the backward's
 * second products) are assembled from two 16-bit loads (ld_col).
 *
 * Forward (attn_fwd_kernel): grid (piece, query tile, head), query tiles in
 * reverse order so that the longest (last) tiles of long pieces start first.
 * A block loads its Q tile into registers (A fragments), then walks the KV
 * tiles 0 .. the one holding the last key its last row sees (tiles wholly
 * beyond are skipped; the diagonal tile and a piece's ragged end are masked
 * element-wise).  Per KV tile: S = Q K^T (fp32), online softmax in base 2
 * (running max m and sum l per row, reduced over the 4 threads of a row with
 * shuffles; O rescaled by 2^(m_old - m_new)), O += P V.  The epilogue writes
 * O / l as bf16 and lse = (m + log2 l) ln 2 for the backward.
 *
 * Backward: attn_delta_kernel computes delta = rowsum(dO o O) (fp32, one
 * warp per row and head); attn_bwd_kernel, grid (piece, KV tile, KV head),
 * holds one KV tile of one KV head and loops over the query heads of its GQA
 * group and, for each, the query tiles that see any of its keys; per query
 * tile, with each warp owning 16 keys:
 *   S^T = K Q^T, P^T = exp2(S^T scale log2e - lse log2e) masked,
 *   dV += P^T dO, dP^T = V dO^T, dS^T = P^T o (dP^T - delta), dK += dS^T Q,
 * dS goes to shared memory (bf16, transposed to [query][key]) and each warp
 * adds its 16 query rows of dQ = dS K into dq_acc (fp32 atomicAdd).  dK and
 * dV stay in registers (fp32) for the whole loop: the block owns its keys
 * for all query heads of the group, so GQA needs no cross-block
 * accumulation and dkv_acc is not used (it may be NULL).  attn_dq_kernel
 * converts dq_acc (scaled) to bf16 dq.  Scratch used: dq_acc
 * [total_q][heads][d] float (zeroed here), delta [heads][total_q] float.
 *
 * Registers and shared memory per block (nvcc -Xptxas -v, sm_90, CUDA 13):
 * see the summary at the end of this file.  Global pointers must be 16-byte
 * aligned (cudaMalloc's are).
 *
 * Building with -DWLB_CUDA_EMU (and a header emulating the CUDA subset used
 * here) runs the same kernels on the CPU, one thread per CUDA thread, to
 * check the index arithmetic without a GPU; nvcc builds never define it. */
#ifndef WLB_CUDA_EMU
#include <cuda_runtime.h>
#endif
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attn_cuda.h"

#define NWARPS 4
#define NTHREADS (NWARPS * 32)
#define BM 64   /* query rows per tile: 16 per warp */
#define BN 64   /* keys per KV tile */
#define PAD 8   /* bf16 of padding per shared-memory row */
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

#ifdef WLB_CUDA_EMU
#define DYN_SMEM(name) unsigned char *name = emu_dyn_smem()
#define LAUNCH(k, grid, block, smem, stream, ...) emu_launch(k, grid, block, smem, __VA_ARGS__)
#else
#define DYN_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#define LAUNCH(k, grid, block, smem, stream, ...) k<<<grid, block, smem, stream>>>(__VA_ARGS__)
#endif

/* ---- warp-level primitives ---------------------------------------------- */

/* c += a b on the tensor cores: 16x16 bf16 times 16x8 bf16, fp32 */
static __device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], const uint32_t b[2])
{
#if defined(WLB_CUDA_EMU)
	emu_mma16816(c, a, b);
#elif defined(__CUDA_ARCH__)
	asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
		     "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
		     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
		     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
	(void)c, (void)a, (void)b;
#endif
}

static __device__ __forceinline__ float shfl_xor(float v, int mask)
{
#if defined(WLB_CUDA_EMU)
	return emu_shfl_xor(v, mask);
#elif defined(__CUDA_ARCH__)
	return __shfl_xor_sync(0xffffffffu, v, mask);
#else
	(void)mask;
	return v;
#endif
}

/* two floats to two bf16 (round to nearest even), lo in the low half */
static __device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
#if defined(__CUDA_ARCH__)
	uint32_t r;
	asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
	return r;
#elif defined(WLB_CUDA_EMU)
	return (uint32_t)emu_f2bf(lo) | (uint32_t)emu_f2bf(hi) << 16;
#else
	(void)lo, (void)hi;
	return 0;
#endif
}

static __device__ __forceinline__ float bf_lo(uint32_t w)
{
#if defined(__CUDA_ARCH__)
	return __uint_as_float(w << 16);
#elif defined(WLB_CUDA_EMU)
	return emu_bits_float(w << 16);
#else
	(void)w;
	return 0;
#endif
}

static __device__ __forceinline__ float bf_hi(uint32_t w)
{
	return bf_lo(w >> 16);
}

static __device__ __forceinline__ int imin(int a, int b)
{
	return a < b ? a : b;
}

/* two consecutive bf16 of a row */
static __device__ __forceinline__ uint32_t ld_row(const uint16_t *p)
{
	return *(const uint32_t *)p;
}

/* two bf16 of a column: p[0] and p[ld] */
static __device__ __forceinline__ uint32_t ld_col(const uint16_t *p, int ld)
{
	return (uint32_t)p[0] | (uint32_t)p[ld] << 16;
}

/* A fragment of the 16x16 block at p (row-major, pitch ld) */
static __device__ __forceinline__ void ld_a(uint32_t a[4], const uint16_t *p, int ld, int g, int t)
{
	const uint16_t *r = p + g * ld + 2 * t;
	a[0] = ld_row(r);
	a[1] = ld_row(r + 8 * ld);
	a[2] = ld_row(r + 8);
	a[3] = ld_row(r + 8 * ld + 8);
}

/* A fragment of k-step i from the C fragments of n-tiles 2i and 2i+1 */
static __device__ __forceinline__ void c_to_a(uint32_t a[4], const float c0[4], const float c1[4])
{
	a[0] = pack_bf16(c0[0], c0[1]);
	a[1] = pack_bf16(c0[2], c0[3]);
	a[2] = pack_bf16(c1[0], c1[1]);
	a[3] = pack_bf16(c1[2], c1[3]);
}

/* Copies rows [0, n) of a rows x D tile from global memory (row stride
 * `stride` elements) into shared memory (pitch D + PAD); rows n .. rows - 1
 * become zero.  16 bytes per thread and step. */
template <int D>
static __device__ __forceinline__ void load_tile(uint16_t *dst, const uint16_t *src, size_t stride,
						 int n, int rows)
{
	const int chunks = D / 8;
	for (int i = (int)threadIdx.x; i < rows * chunks; i += NTHREADS) {
		const int r = i / chunks, c = i % chunks;
		uint4 val = make_uint4(0, 0, 0, 0);
		if (r < n)
			val = *(const uint4 *)(src + (size_t)r * stride + c * 8);
		*(uint4 *)(dst + r * (D + PAD) + c * 8) = val;
	}
}

/* ---- forward -------------------------------------------------------------- */

struct fwd_params {
	const int *cu_q, *cu_k;
	const uint16_t *q, *k, *v;
	uint16_t *o;
	float *lse;
	int heads, kv_heads, total_q;
	float scale_log2;  /* scale * log2(e) */
};

template <int D>
static __global__ void __launch_bounds__(NTHREADS) attn_fwd_kernel(struct fwd_params p)
{
	constexpr int LD = D + PAD;
	const int piece = blockIdx.x, h = blockIdx.z;
	const int qt = (int)(gridDim.y - 1 - blockIdx.y);
	const int q0 = p.cu_q[piece], q_len = p.cu_q[piece + 1] - q0;
	const int k0 = p.cu_k[piece], kv_len = p.cu_k[piece + 1] - k0;
	const int m0 = qt * BM;
	if (m0 >= q_len)
		return;
	const int off = kv_len - q_len;  /* query row r sees keys 0 .. r + off */
	const int kh = h / (p.heads / p.kv_heads);
	const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
	const size_t q_stride = (size_t)p.heads * D, k_stride = (size_t)p.kv_heads * D;
	const int rows = imin(BM, q_len - m0);

	DYN_SMEM(smem);
	uint16_t *qs = (uint16_t *)smem, *ks = qs + BM * LD, *vs = ks + BN * LD;

	load_tile<D>(qs, p.q + (size_t)(q0 + m0) * q_stride + (size_t)h * D, q_stride, rows, BM);
	__syncthreads();
	uint32_t qa[D / 16][4];  /* this warp's 16 query rows, as A fragments */
#pragma unroll
	for (int kk = 0; kk < D / 16; kk++)
		ld_a(qa[kk], qs + warp * 16 * LD + kk * 16, LD, g, t);

	float acc[D / 8][4];  /* O, 16 rows x D: n-tile nt holds columns nt*8 .. */
#pragma unroll
	for (int nt = 0; nt < D / 8; nt++)
		acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0;
	float row_m[2] = {-INFINITY, -INFINITY}, row_l[2] = {0, 0};  /* rows g, g + 8 */
	const int r0 = m0 + warp * 16 + g;  /* this thread's rows: r0 and r0 + 8 */
	const int n_tiles = (off + m0 + rows - 1) / BN + 1;  /* through the last row's last key */

	for (int j = 0; j < n_tiles; j++) {
		const int n0 = j * BN, n = imin(BN, kv_len - n0);
		__syncthreads();  /* everyone is done with the previous K and V */
		load_tile<D>(ks, p.k + (size_t)(k0 + n0) * k_stride + (size_t)kh * D, k_stride, n, BN);
		load_tile<D>(vs, p.v + (size_t)(k0 + n0) * k_stride + (size_t)kh * D, k_stride, n, BN);
		__syncthreads();

		/* S = Q K^T: B (k = dim, n = key) is a row of K */
		float s[BN / 8][4];
#pragma unroll
		for (int nt = 0; nt < BN / 8; nt++) {
			s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0;
			const uint16_t *kr = ks + (nt * 8 + g) * LD + 2 * t;
#pragma unroll
			for (int kk = 0; kk < D / 16; kk++) {
				uint32_t b[2] = {ld_row(kr + kk * 16), ld_row(kr + kk * 16 + 8)};
				mma16816(s[nt], qa[kk], b);
			}
		}
		/* scale to base 2; mask the diagonal tile and the piece's end */
		const bool mask = n0 + BN - 1 > off + m0 || n0 + BN > kv_len;
#pragma unroll
		for (int nt = 0; nt < BN / 8; nt++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				const int key = n0 + nt * 8 + 2 * t + (e & 1), row = r0 + 8 * (e >> 1);
				s[nt][e] = mask && (key > row + off || key >= kv_len) ? -INFINITY
										     : s[nt][e] * p.scale_log2;
			}
		/* online softmax, rows g (hf 0) and g + 8 (hf 1) */
#pragma unroll
		for (int hf = 0; hf < 2; hf++) {
			float mx = -INFINITY;
#pragma unroll
			for (int nt = 0; nt < BN / 8; nt++)
				mx = fmaxf(mx, fmaxf(s[nt][2 * hf], s[nt][2 * hf + 1]));
			mx = fmaxf(mx, shfl_xor(mx, 1));
			mx = fmaxf(mx, shfl_xor(mx, 2));
			const float m_new = fmaxf(row_m[hf], mx);
			const float m_use = m_new == -INFINITY ? 0.f : m_new;  /* no key seen yet */
			const float alpha = exp2f(row_m[hf] - m_use);
			row_m[hf] = m_new;
			float sum = 0;
#pragma unroll
			for (int nt = 0; nt < BN / 8; nt++) {
				s[nt][2 * hf] = exp2f(s[nt][2 * hf] - m_use);
				s[nt][2 * hf + 1] = exp2f(s[nt][2 * hf + 1] - m_use);
				sum += s[nt][2 * hf] + s[nt][2 * hf + 1];
			}
			row_l[hf] = row_l[hf] * alpha + sum;  /* this thread's share of the row */
#pragma unroll
			for (int nt = 0; nt < D / 8; nt++) {
				acc[nt][2 * hf] *= alpha;
				acc[nt][2 * hf + 1] *= alpha;
			}
		}
		/* O += P V: B (k = key, n = dim) is a column of V */
#pragma unroll
		for (int kk = 0; kk < BN / 16; kk++) {
			uint32_t pa[4];
			c_to_a(pa, s[2 * kk], s[2 * kk + 1]);
			const uint16_t *vr = vs + (kk * 16 + 2 * t) * LD + g;
#pragma unroll
			for (int nt = 0; nt < D / 8; nt++) {
				uint32_t b[2] = {ld_col(vr + nt * 8, LD), ld_col(vr + 8 * LD + nt * 8, LD)};
				mma16816(acc[nt], pa, b);
			}
		}
	}

	/* epilogue: O / l in bf16, lse in natural log */
#pragma unroll
	for (int hf = 0; hf < 2; hf++) {
		float l = row_l[hf];
		l += shfl_xor(l, 1);
		l += shfl_xor(l, 2);
		const int row = r0 + 8 * hf;
		const float inv = l > 0 ? 1 / l : 0;
		if (row < q_len) {
			uint16_t *orow = p.o + (size_t)(q0 + row) * q_stride + (size_t)h * D + 2 * t;
#pragma unroll
			for (int nt = 0; nt < D / 8; nt++)
				*(uint32_t *)(orow + nt * 8) =
					pack_bf16(acc[nt][2 * hf] * inv, acc[nt][2 * hf + 1] * inv);
			if (t == 0)
				p.lse[(size_t)h * p.total_q + q0 + row] =
					l > 0 ? (row_m[hf] + log2f(l)) * LN2 : -INFINITY;
		}
	}
}

/* ---- backward ------------------------------------------------------------- */

/* delta[h][row] = sum_d dO o O, one warp per (row, head) */
static __global__ void attn_delta_kernel(const uint16_t *o, const uint16_t *dout, float *delta,
					 int total_q, int heads, int d)
{
	const long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
	const int lane = threadIdx.x % 32;
	if (w >= (long long)total_q * heads)
		return;  /* whole warps */
	const uint16_t *a = o + (size_t)w * d, *b = dout + (size_t)w * d;
	float s = 0;
	for (int i = 2 * lane; i < d; i += 64) {
		const uint32_t x = ld_row(a + i), y = ld_row(b + i);
		s += bf_lo(x) * bf_lo(y) + bf_hi(x) * bf_hi(y);
	}
	for (int m = 16; m > 0; m /= 2)
		s += shfl_xor(s, m);
	if (lane == 0)
		delta[(size_t)(w % heads) * total_q + (size_t)(w / heads)] = s;
}

/* dq = dq_acc in bf16, two at a time */
static __global__ void attn_dq_kernel(const float *acc, uint16_t *dq, size_t pairs)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < pairs;
	     i += (size_t)gridDim.x * blockDim.x)
		((uint32_t *)dq)[i] = pack_bf16(acc[2 * i], acc[2 * i + 1]);
}

struct bwd_params {
	const int *cu_q, *cu_k;
	const uint16_t *q, *k, *v, *dout;
	const float *lse, *delta;
	float *dq_acc;
	uint16_t *dk, *dv;
	int heads, kv_heads, total_q;
	float scale, scale_log2;
};

template <int D>
static __global__ void __launch_bounds__(NTHREADS) attn_bwd_kernel(struct bwd_params p)
{
	constexpr int LD = D + PAD, LDS = BN + PAD;
	const int piece = blockIdx.x, kh = blockIdx.z;
	const int kt = (int)(gridDim.y - 1 - blockIdx.y);
	const int q0 = p.cu_q[piece], q_len = p.cu_q[piece + 1] - q0;
	const int k0 = p.cu_k[piece], kv_len = p.cu_k[piece + 1] - k0;
	const int n0 = kt * BN;
	if (n0 >= kv_len)
		return;
	const int off = kv_len - q_len;
	const int group = p.heads / p.kv_heads;
	const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
	const size_t q_stride = (size_t)p.heads * D, k_stride = (size_t)p.kv_heads * D;

	DYN_SMEM(smem);
	uint16_t *ks = (uint16_t *)smem, *vs = ks + BN * LD, *qs = vs + BN * LD, *dos = qs + BM * LD;
	uint16_t *dss = dos + BM * LD;                 /* dS [query][key] */
	float *lse_s = (float *)(dss + BM * LDS);      /* lse * log2(e) per query row */
	float *dl_s = lse_s + BM;                      /* delta per query row */

	load_tile<D>(ks, p.k + (size_t)(k0 + n0) * k_stride + (size_t)kh * D, k_stride,
		     imin(BN, kv_len - n0), BN);
	load_tile<D>(vs, p.v + (size_t)(k0 + n0) * k_stride + (size_t)kh * D, k_stride,
		     imin(BN, kv_len - n0), BN);

	float dk[D / 8][4], dv[D / 8][4];  /* this warp's 16 keys x D */
#pragma unroll
	for (int nt = 0; nt < D / 8; nt++)
		for (int e = 0; e < 4; e++)
			dk[nt][e] = dv[nt][e] = 0;
	const int key0 = n0 + warp * 16 + g;  /* this thread's keys: key0 and key0 + 8 */
	const uint16_t *kw = ks + warp * 16 * LD, *vw = vs + warp * 16 * LD;
	/* the first query tile whose last row sees key n0 */
	const int qt0 = n0 - off <= 0 ? 0 : (n0 - off) / BM;
	const int n_qt = (q_len + BM - 1) / BM;

	for (int gi = 0; gi < group; gi++) {
		const int h = kh * group + gi;
		for (int qt = qt0; qt < n_qt; qt++) {
			const int m0 = qt * BM, rows = imin(BM, q_len - m0);
			__syncthreads();  /* the previous tile's Q, dO, dS are no longer read */
			load_tile<D>(qs, p.q + (size_t)(q0 + m0) * q_stride + (size_t)h * D, q_stride, rows, BM);
			load_tile<D>(dos, p.dout + (size_t)(q0 + m0) * q_stride + (size_t)h * D, q_stride,
				     rows, BM);
			for (int i = threadIdx.x; i < BM; i += NTHREADS) {
				const size_t at = (size_t)h * p.total_q + q0 + m0 + i;
				lse_s[i] = i < rows ? p.lse[at] * LOG2E : 0;
				dl_s[i] = i < rows ? p.delta[at] : 0;
			}
			__syncthreads();

			/* S^T = K Q^T, 16 keys x BM queries: B (k = dim, n = query) is a row of Q */
			float st[BM / 8][4];
#pragma unroll
			for (int nt = 0; nt < BM / 8; nt++)
				st[nt][0] = st[nt][1] = st[nt][2] = st[nt][3] = 0;
#pragma unroll
			for (int kk = 0; kk < D / 16; kk++) {
				uint32_t a[4];
				ld_a(a, kw + kk * 16, LD, g, t);
#pragma unroll
				for (int nt = 0; nt < BM / 8; nt++) {
					const uint16_t *qr = qs + (nt * 8 + g) * LD + kk * 16 + 2 * t;
					uint32_t b[2] = {ld_row(qr), ld_row(qr + 8)};
					mma16816(st[nt], a, b);
				}
			}
			/* P^T, zero where masked (key beyond the row's last, or outside the piece) */
#pragma unroll
			for (int nt = 0; nt < BM / 8; nt++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					const int ql = nt * 8 + 2 * t + (e & 1), key = key0 + 8 * (e >> 1);
					const bool vis = key < kv_len && ql < rows && key <= m0 + ql + off;
					st[nt][e] = vis ? exp2f(st[nt][e] * p.scale_log2 - lse_s[ql]) : 0;
				}
			/* dV += P^T dO: B (k = query, n = dim) is a column of dO */
#pragma unroll
			for (int kk = 0; kk < BM / 16; kk++) {
				uint32_t a[4];
				c_to_a(a, st[2 * kk], st[2 * kk + 1]);
				const uint16_t *dr = dos + (kk * 16 + 2 * t) * LD + g;
#pragma unroll
				for (int nt = 0; nt < D / 8; nt++) {
					uint32_t b[2] = {ld_col(dr + nt * 8, LD), ld_col(dr + 8 * LD + nt * 8, LD)};
					mma16816(dv[nt], a, b);
				}
			}
			/* dP^T = V dO^T: B (k = dim, n = query) is a row of dO */
			float dp[BM / 8][4];
#pragma unroll
			for (int nt = 0; nt < BM / 8; nt++)
				dp[nt][0] = dp[nt][1] = dp[nt][2] = dp[nt][3] = 0;
#pragma unroll
			for (int kk = 0; kk < D / 16; kk++) {
				uint32_t a[4];
				ld_a(a, vw + kk * 16, LD, g, t);
#pragma unroll
				for (int nt = 0; nt < BM / 8; nt++) {
					const uint16_t *dr = dos + (nt * 8 + g) * LD + kk * 16 + 2 * t;
					uint32_t b[2] = {ld_row(dr), ld_row(dr + 8)};
					mma16816(dp[nt], a, b);
				}
			}
			/* dS^T = P^T o (dP^T - delta), into dp; also to shared memory as dS */
#pragma unroll
			for (int nt = 0; nt < BM / 8; nt++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					const int ql = nt * 8 + 2 * t + (e & 1);
					dp[nt][e] = st[nt][e] * (dp[nt][e] - dl_s[ql]);
					dss[ql * LDS + warp * 16 + g + 8 * (e >> 1)] =
						(uint16_t)pack_bf16(dp[nt][e], 0);
				}
			/* dK += dS^T Q: B (k = query, n = dim) is a column of Q */
#pragma unroll
			for (int kk = 0; kk < BM / 16; kk++) {
				uint32_t a[4];
				c_to_a(a, dp[2 * kk], dp[2 * kk + 1]);
				const uint16_t *qr = qs + (kk * 16 + 2 * t) * LD + g;
#pragma unroll
				for (int nt = 0; nt < D / 8; nt++) {
					uint32_t b[2] = {ld_col(qr + nt * 8, LD), ld_col(qr + 8 * LD + nt * 8, LD)};
					mma16816(dk[nt], a, b);
				}
			}
			__syncthreads();  /* dS complete */

			/* dQ += dS K for this warp's 16 query rows: B (k = key, n = dim) is a column of K */
			uint32_t sa[BN / 16][4];
#pragma unroll
			for (int kk = 0; kk < BN / 16; kk++)
				ld_a(sa[kk], dss + warp * 16 * LDS + kk * 16, LDS, g, t);
			const int ql = warp * 16 + g;
#pragma unroll 4
			for (int nt = 0; nt < D / 8; nt++) {
				float c[4] = {0, 0, 0, 0};
#pragma unroll
				for (int kk = 0; kk < BN / 16; kk++) {
					const uint16_t *kr = ks + (kk * 16 + 2 * t) * LD + nt * 8 + g;
					uint32_t b[2] = {ld_col(kr, LD), ld_col(kr + 8 * LD, LD)};
					mma16816(c, sa[kk], b);
				}
#pragma unroll
				for (int hf = 0; hf < 2; hf++)
					if (ql + 8 * hf < rows) {
						float *dst = p.dq_acc + (size_t)(q0 + m0 + ql + 8 * hf) * q_stride +
							     (size_t)h * D + nt * 8 + 2 * t;
						atomicAdd(dst, c[2 * hf] * p.scale);
						atomicAdd(dst + 1, c[2 * hf + 1] * p.scale);
					}
			}
		}
	}

	/* this block's keys: dK (scaled) and dV in bf16 */
#pragma unroll
	for (int hf = 0; hf < 2; hf++) {
		const int key = key0 + 8 * hf;
		if (key >= kv_len)
			continue;
		const size_t at = (size_t)(k0 + key) * k_stride + (size_t)kh * D + 2 * t;
#pragma unroll
		for (int nt = 0; nt < D / 8; nt++) {
			*(uint32_t *)(p.dk + at + nt * 8) =
				pack_bf16(dk[nt][2 * hf] * p.scale, dk[nt][2 * hf + 1] * p.scale);
			*(uint32_t *)(p.dv + at + nt * 8) = pack_bf16(dv[nt][2 * hf], dv[nt][2 * hf + 1]);
		}
	}
}

/* ---- host side ------------------------------------------------------------ */

static int bad_shape(const struct wlb_attn_dev *s)
{
	return !s || (s->head_dim != 64 && s->head_dim != 128) || s->heads <= 0 || s->kv_heads <= 0 ||
	       s->heads % s->kv_heads || s->heads > 65535 || s->n_pieces < 0 || s->max_q < 0 ||
	       s->max_k < 0 || s->total_q < 0 || s->total_k < 0;
}

static size_t fwd_smem_bytes(int d)
{
	return (size_t)(BM + 2 * BN) * (d + PAD) * sizeof(uint16_t);
}

static size_t bwd_smem_bytes(int d)
{
	return (size_t)(2 * BN + 2 * BM) * (d + PAD) * sizeof(uint16_t) +
	       (size_t)BM * (BN + PAD) * sizeof(uint16_t) + 2 * BM * sizeof(float);
}

template <int D>
static int launch_fwd(const struct fwd_params *p, dim3 grid, cudaStream_t st)
{
	const size_t smem = fwd_smem_bytes(D);
	cudaError_t e = cudaFuncSetAttribute(attn_fwd_kernel<D>,
					     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
	if (e != cudaSuccess)
		return (int)e;
	LAUNCH(attn_fwd_kernel<D>, grid, NTHREADS, smem, st, *p);
	return (int)cudaGetLastError();
}

template <int D>
static int launch_bwd(const struct bwd_params *p, dim3 grid, cudaStream_t st)
{
	const size_t smem = bwd_smem_bytes(D);
	cudaError_t e = cudaFuncSetAttribute(attn_bwd_kernel<D>,
					     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
	if (e != cudaSuccess)
		return (int)e;
	LAUNCH(attn_bwd_kernel<D>, grid, NTHREADS, smem, st, *p);
	return (int)cudaGetLastError();
}

extern "C" int wlb_attn_cuda_fwd(const struct wlb_attn_dev *s, const uint16_t *q, const uint16_t *k,
				 const uint16_t *v, uint16_t *o, float *lse, void *stream)
{
	if (bad_shape(s))
		return (int)cudaErrorInvalidValue;
	if (s->n_pieces == 0 || s->max_q == 0 || s->total_q == 0)
		return 0;
	const int tiles = (s->max_q + BM - 1) / BM;
	if (tiles > 65535)
		return (int)cudaErrorInvalidValue;
	struct fwd_params p = {s->cu_q, s->cu_k, q, k, v, o, lse, s->heads, s->kv_heads, s->total_q,
			       s->scale * LOG2E};
	dim3 grid((unsigned)s->n_pieces, (unsigned)tiles, (unsigned)s->heads);
	cudaStream_t st = (cudaStream_t)stream;
	return s->head_dim == 64 ? launch_fwd<64>(&p, grid, st) : launch_fwd<128>(&p, grid, st);
}

extern "C" int wlb_attn_cuda_bwd(const struct wlb_attn_dev *s, const uint16_t *q, const uint16_t *k,
				 const uint16_t *v, const uint16_t *o, const float *lse,
				 const uint16_t *dout, uint16_t *dq, uint16_t *dk, uint16_t *dv,
				 float *dq_acc, float *dkv_acc, float *delta, void *stream)
{
	(void)dkv_acc;  /* dK, dV accumulate in registers: see the top of this file */
	if (bad_shape(s))
		return (int)cudaErrorInvalidValue;
	if (s->n_pieces == 0 || s->max_k == 0 || s->total_k == 0)
		return 0;
	const int tiles = (s->max_k + BN - 1) / BN;
	if (tiles > 65535)
		return (int)cudaErrorInvalidValue;
	cudaStream_t st = (cudaStream_t)stream;
	const int d = s->head_dim;
	const size_t elems = (size_t)s->total_q * s->heads * d;
	cudaError_t e;
	int rc;
	if (elems) {
		if ((e = cudaMemsetAsync(dq_acc, 0, elems * sizeof(float), st)) != cudaSuccess)
			return (int)e;
		const long long warps = (long long)s->total_q * s->heads;
		LAUNCH(attn_delta_kernel, (unsigned)((warps + 7) / 8), 256, 0, st, o, dout, delta,
		       s->total_q, s->heads, d);
		if ((e = cudaGetLastError()) != cudaSuccess)
			return (int)e;
	}
	struct bwd_params p = {s->cu_q, s->cu_k, q, k, v, dout, lse, delta, dq_acc, dk, dv,
			       s->heads, s->kv_heads, s->total_q, s->scale, s->scale * LOG2E};
	dim3 grid((unsigned)s->n_pieces, (unsigned)tiles, (unsigned)s->kv_heads);
	rc = d == 64 ? launch_bwd<64>(&p, grid, st) : launch_bwd<128>(&p, grid, st);
	if (rc || !elems)
		return rc;
	const size_t pairs = elems / 2;
	size_t blocks = (pairs + 255) / 256;
	LAUNCH(attn_dq_kernel, (unsigned)(blocks < 65536 ? blocks : 65536), 256, 0, st, dq_acc, dq,
	       pairs);
	return (int)cudaGetLastError();
}

/* Resources per block of 128 threads, nvcc -Xptxas -v, CUDA 13.0, sm_90
 * (shared memory is dynamic, from fwd_smem_bytes / bwd_smem_bytes):
 *   attn_fwd_kernel<64>    128 registers, no spill    27,648 B shared
 *   attn_fwd_kernel<128>   168 registers, no spill    52,224 B shared
 *   attn_bwd_kernel<64>    167 registers, no spill    46,592 B shared
 *   attn_bwd_kernel<128>   255 registers, 4 B spilled 79,360 B shared
 *   attn_delta_kernel 32, attn_dq_kernel 14 registers, no shared memory
 * sm_80 is alike (fwd 128 / 172, bwd 255 with 4 B spilled / 254 without).
 * The spill is one word on the stack, negligible.  Room to grow: cp.async
 * double buffering of the K / V tiles, ldmatrix for the column operands,
 * coalesced O stores through shared memory, and a split backward (dK/dV
 * and dQ kernels) in place of the dQ atomics. */
