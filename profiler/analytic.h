/* analytic.h — roofline models of a GPU node with efficiency curves,
 * calibrated on published figures; `wlb-profile --analytic` writes their
 * values into a cost DB as `analytic` samples.  The figures and their sources
 * are in analytic.c next to the numbers they set. */
#ifndef WLB_ANALYTIC_H
#define WLB_ANALYTIC_H

#include <stdint.h>

#include "costdb.h"
#include "err.h"

struct wlb_gpu_spec {
	struct wlb_device dev;
	/* GEMM: t = launch + max(flops / (peak * eff), bytes / hbm),
	 * eff = eff_max * F / (F + half_gflop * 1e9) */
	double gemm_eff_max, gemm_half_gflop, gemm_launch_us;
	/* attention piece (q, kv): (tile_pairs + tile_overhead * 128 * blocks)
	 * * 4 * head_dim * heads flops at peak * eff, where blocks counts the
	 * piece's 128-query tiles (forward) or, for bwd_key_share of it, its
	 * 128-key blocks (backward); 1 / single_tile_eff times slower when the
	 * piece has a single query tile (no TMA multicast); a call adds launch_us */
	double attn_eff_fwd, attn_eff_bwd, attn_tile_overhead, attn_single_tile_eff;
	double attn_bwd_key_share;
	double attn_launch_fwd_us, attn_launch_bwd_us;
	/* collectives: t = lat + bytes * busbw_factor / busbw */
	double ring_busbw_gbps;      /* inside a node */
	double nvls_busbw_gbps;      /* all-reduce with NVLink SHARP, 0 = none */
	double coll_lat_us;          /* small message inside a node */
	double net_busbw_gbps;       /* per NIC (one per GPU) */
	double net_lat_us;
	double p2p_gbps, p2p_lat_us; /* send/recv inside a node */
};

/* Specs by name: h100-sxm, h200, a100-80g. */
int wlb_gpu_spec_find(const char *name, struct wlb_gpu_spec *out, struct wlb_error *err);
const char *const *wlb_gpu_spec_names(void);
/* Changes figures of a spec: "NAME=VALUE[,NAME=VALUE...]", NAME a field
 * above (attn_eff_fwd, ring_busbw_gbps, ...); each value is checked against
 * the range that makes sense for it.  On error *g may be partly changed. */
int wlb_gpu_spec_set(struct wlb_gpu_spec *g, const char *assignments, struct wlb_error *err);

double wlb_analytic_gemm_us(const struct wlb_gpu_spec *g, int64_t m, int64_t n, int64_t k);
/* A call of `pieces` pieces of shape (q_len, kv_len). */
double wlb_analytic_attn_us(const struct wlb_gpu_spec *g, int64_t q_len, int64_t kv_len,
			    int pieces, int bwd, int heads, int head_dim);
/* algo, if not NULL, receives "ring", "nvls" or "net". */
double wlb_analytic_coll_us(const struct wlb_gpu_spec *g, enum wlb_coll_op op, int64_t bytes,
			    int ranks, int nodes, const char **algo);
double wlb_analytic_p2p_us(const struct wlb_gpu_spec *g, int64_t bytes, int inter);

/* Writes a complete DB for gpu, with the figures in set (NULL: none)
 * changed by wlb_gpu_spec_set, into path: GEMM shapes of every model preset
 * after TP 1/2/4/8/16 and the shape grid of shapes.h, over m from 128 to
 * 256K; attention over the (q_len, kv_len) grid for the presets' and the
 * grid's per-rank head shapes; collectives for 2-8 ranks in a node and the
 * grid's groups across nodes (up to 16384 ranks), 1 KiB to 4 GiB; p2p.  One
 * transaction.  Reports the rows written in *rows. */
int wlb_analytic_write(const char *gpu, const char *set, const char *path, const char *tool_version,
		       long *rows, struct wlb_error *err);

#endif
