/* gpu_timer.c — backend/gpu.h as wlb-profile's timer (kept apart from
 * measure.c so the harness is tested without the GPU layer). */
#include "measure.h"

static int gpu_gemm(void *ctx, int64_t m, int64_t n, int64_t k, int reps, struct wlb_timing *out,
		    struct wlb_error *err)
{
	(void)ctx;
	return wlb_gpu_time_gemm(m, n, k, reps, out, err);
}

static int gpu_attn(void *ctx, int64_t q, int64_t kv, int pieces, int bwd, int heads, int kv_heads,
		    int hd, int reps, struct wlb_timing *out, struct wlb_error *err)
{
	(void)ctx;
	return wlb_gpu_time_attn(q, kv, pieces, bwd, heads, kv_heads, hd, reps, out, err);
}

static int gpu_coll(void *ctx, const int64_t *sizes, int n_sizes, int reps, struct wlb_coll_sample **out,
		    size_t *n, struct wlb_error *err)
{
	(void)ctx;
	return wlb_gpu_time_collectives(sizes, n_sizes, reps, out, n, err);
}

static int gpu_p2p(void *ctx, const int64_t *sizes, int n_sizes, int reps, struct wlb_p2p_sample **out,
		   size_t *n, struct wlb_error *err)
{
	(void)ctx;
	return wlb_gpu_time_p2p(sizes, n_sizes, reps, out, n, err);
}

const struct wlb_timer wlb_gpu_timer = {NULL, gpu_gemm, gpu_attn, gpu_coll, gpu_p2p, "wlb-flash"};

