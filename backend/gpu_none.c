/* gpu_none.c — the GPU interface of a wlb built without CUDA (no nvcc at
 * build time): every call says so, in one line. */
#include "gpu.h"

#include <stdlib.h>

#include "comm.h"
#include "dev.h"

#define NO_CUDA "this wlb was built without CUDA (no nvcc at build time); rebuild on a machine " \
		"with the CUDA toolkit, or use wlb-profile --analytic"
#define NO_CUDA_RUN "this wlb was built without CUDA (no nvcc at build time); rebuild on a " \
		"machine with the CUDA toolkit, or run on the CPU device"

void wlb_gpu_worker(void)
{
}

int wlb_gpu_built(void)
{
	return 0;
}

int wlb_gpu_open(int device, struct wlb_gpu_info *info, struct wlb_error *err)
{
	(void)device;
	(void)info;
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA);
}

void wlb_gpu_close(void)
{
}

int wlb_gpu_time_gemm(int64_t m, int64_t n, int64_t k, int reps, struct wlb_timing *out,
		      struct wlb_error *err)
{
	(void)m, (void)n, (void)k, (void)reps, (void)out;
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA);
}

int wlb_gpu_time_attn(int64_t q_len, int64_t kv_len, int pieces, int bwd, int heads, int kv_heads,
		      int head_dim, int reps, struct wlb_timing *out, struct wlb_error *err)
{
	(void)q_len, (void)kv_len, (void)pieces, (void)bwd, (void)heads, (void)kv_heads;
	(void)head_dim, (void)reps, (void)out;
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA);
}

const char *wlb_gpu_attn_kernel(void)
{
	return "none";
}

int wlb_gpu_time_collectives(const int64_t *sizes, int n_sizes, int reps,
			     struct wlb_coll_sample **out, size_t *n, struct wlb_error *err)
{
	(void)sizes, (void)n_sizes, (void)reps;
	*out = NULL;
	*n = 0;
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA);
}

int wlb_gpu_time_p2p(const int64_t *sizes, int n_sizes, int reps, struct wlb_p2p_sample **out,
		     size_t *n, struct wlb_error *err)
{
	(void)sizes, (void)n_sizes, (void)reps;
	*out = NULL;
	*n = 0;
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA);
}

int wlb_gpu_check_gemm(int m, int n, int k, double *max_rel_err, struct wlb_error *err)
{
	(void)m, (void)n, (void)k;
	*max_rel_err = 0;
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA);
}

int wlb_gpu_check_allreduce(struct wlb_error *err)
{
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA);
}

int wlb_dev_cuda_open(int local_rank, struct wlb_dev **out, struct wlb_error *err)
{
	(void)local_rank;
	*out = NULL;
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA_RUN);
}

int wlb_comm_nccl_world(const struct wlb_launch *l, const char *id_file, double timeout_s,
			void *stream, struct wlb_comm **out, struct wlb_error *err)
{
	(void)l, (void)id_file, (void)timeout_s, (void)stream;
	*out = NULL;
	return wlb_error_set(err, WLB_EINVAL, NO_CUDA_RUN);
}
