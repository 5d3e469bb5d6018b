/* emu.h — runs the CUDA kernels of backend/attn.cu on the CPU, one std::thread
 * per CUDA thread, to check their index arithmetic without a GPU.
 *   g++ -std=c++20 -O1 -pthread -DWLB_CUDA_EMU -include emu.h -x c++ backend/attn.cu ...
 * Emulates: threadIdx/blockIdx/gridDim/blockDim, __syncthreads (block
 * barrier), the warp shuffle and mma.m16n8k16 bf16 (warp barrier + exchange
 * buffers, fragment layouts of the PTX ISA), atomicAdd on float, dynamic
 * shared memory (filled with 0xff = bf16 NaN so stale reads show), and the
 * few CUDA runtime calls attn.cu and check_attn.cu make (device memory is
 * host memory). */
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n)

struct dim3 {
	unsigned x, y, z;
	constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct uint4 { unsigned x, y, z, w; };
static inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }

typedef enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
	       cudaErrorNoDevice = 100 } cudaError_t;
typedef void *cudaStream_t;
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost,
		      cudaMemcpyDeviceToDevice };
struct cudaDeviceProp { char name[256]; int major, minor; };

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 gridDim, blockDim;

struct emu_warp {
	uint32_t a[2][32][4], b[2][32][2];
	float f[2][32];
};
struct emu_block {
	std::unique_ptr<std::barrier<>> bar;
	std::vector<std::unique_ptr<std::barrier<>>> wbar;
	std::vector<emu_warp> warps;
	unsigned char *smem;
};
inline emu_block *emu_cur;
inline thread_local unsigned emu_phase;
inline size_t emu_max_smem = 227 * 1024;

static inline unsigned char *emu_dyn_smem(void) { return emu_cur->smem; }
static inline void __syncthreads(void) { emu_cur->bar->arrive_and_wait(); }

static inline float emu_bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint16_t emu_f2bf(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return 0x7fc0;
	u += 0x7fffu + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}
static inline float emu_bf(uint32_t reg, int half) { return emu_bits_float(((reg >> (16 * half)) & 0xffffu) << 16); }

static inline float emu_shfl_xor(float v, int mask)
{
	const unsigned w = threadIdx.x / 32, l = threadIdx.x % 32, ph = emu_phase++ & 1;
	emu_warp &X = emu_cur->warps[w];
	X.f[ph][l] = v;
	emu_cur->wbar[w]->arrive_and_wait();
	return X.f[ph][l ^ (unsigned)mask];
}

/* PTX ISA fragment layouts of mma.m16n8k16 with .bf16 inputs */
static inline void emu_mma16816(float c[4], const uint32_t a[4], const uint32_t b[2])
{
	const unsigned w = threadIdx.x / 32, l = threadIdx.x % 32, ph = emu_phase++ & 1;
	emu_warp &X = emu_cur->warps[w];
	memcpy(X.a[ph][l], a, 16);
	memcpy(X.b[ph][l], b, 8);
	emu_cur->wbar[w]->arrive_and_wait();
	const int g = l / 4, t = l % 4;
	for (int i = 0; i < 4; i++) {
		const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
		float acc = 0;
		for (int k = 0; k < 16; k++) {
			const int la = (row % 8) * 4 + (k % 8) / 2, ra = row / 8 + 2 * (k / 8);
			const int lb = col * 4 + (k % 8) / 2, rb = k / 8;
			acc += emu_bf(X.a[ph][la][ra], k % 2) * emu_bf(X.b[ph][lb][rb], k % 2);
		}
		c[i] += acc;
	}
}

static inline float atomicAdd(float *p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }

template <class... P, class... A>
static void emu_launch(void (*k)(P...), dim3 grid, dim3 block, size_t smem, A... args)
{
	if (smem > emu_max_smem) {
		fprintf(stderr, "emu: %zu bytes of shared memory\n", smem);
		abort();
	}
	gridDim = grid;
	blockDim = block;
	const unsigned nt = block.x * block.y * block.z, nw = (nt + 31) / 32;
	std::vector<unsigned char> sm(smem + 16);
	for (unsigned z = 0; z < grid.z; z++)
		for (unsigned y = 0; y < grid.y; y++)
			for (unsigned x = 0; x < grid.x; x++) {
				emu_block B;
				B.bar = std::make_unique<std::barrier<>>(nt);
				for (unsigned w = 0; w < nw; w++)
					B.wbar.push_back(std::make_unique<std::barrier<>>(32));
				B.warps.resize(nw);
				memset(sm.data(), 0xff, sm.size());
				B.smem = sm.data();
				emu_cur = &B;
				std::vector<std::thread> th;
				for (unsigned i = 0; i < nt; i++)
					th.emplace_back([&, i] {
						threadIdx = dim3(i, 0, 0);
						blockIdx = dim3(x, y, z);
						emu_phase = 0;
						k(args...);
						B.bar->arrive_and_drop();
						B.wbar[i / 32]->arrive_and_drop();
					});
				for (auto &t : th)
					t.join();
				emu_cur = nullptr;
			}
}

template <class T> static cudaError_t cudaFuncSetAttribute(T, cudaFuncAttribute, int) { return cudaSuccess; }
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t) { memset(p, v, n); return cudaSuccess; }
static inline cudaError_t cudaMalloc(void **p, size_t n) { *p = malloc(n); /* exact size: ASan sees overreads (glibc aligns 16) */ return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
static inline cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) { memcpy(d, s, n); return cudaSuccess; }
static inline cudaError_t cudaMemset(void *p, int v, size_t n) { memset(p, v, n); return cudaSuccess; }
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
static inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceCount(int *n) { *n = getenv("EMU_NO_DEVICE") ? 0 : 1; return cudaSuccess; }
static inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) { snprintf(p->name, sizeof p->name, "CPU emulation"); p->major = 9; p->minor = 0; return cudaSuccess; }
static inline const char *cudaGetErrorString(cudaError_t e) { return e ? "emulated error" : "no error"; }
