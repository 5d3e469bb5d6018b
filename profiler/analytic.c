/* analytic.c — the analytic GPU models and the DB they write.
 *
 * Calibration (each figure is checked by tests/test_analytic.c):
 *  - H100 SXM dense bf16 peak 989.4 TFLOP/s (NVIDIA H100 datasheet).  GEMMs
 *    as training sustains them, not as a cube benchmark peaks: at most 74 %
 *    of the datasheet (gemm_eff_max; was 0.80 from NVIDIA's cuBLAS 12 runs,
 *    750-800 TFLOP/s on 8K cubes), half of that at 80 GFLOP
 *    (gemm_half_gflop; was 17.4).  The datasheet's rate is the 1.83 GHz boost
 *    clock; at the SXM's 700 W limit dense GEMMs hold about 1.7 GHz (0.93),
 *    and the per-rank GEMMs of a training step (2K-16K tokens against
 *    TP-split weights, an fp32 gradient accumulated in the weight-gradient
 *    GEMM's epilogue) lose to wave quantisation over 132 SMs what 8K cubes
 *    do not.  Calibrated on the published runs (traces/published,
 *    tools/validate-published.sh): at 0.80 / 17.4 the H100 rows without
 *    tensor parallelism (Llama 3.1 8B) came out 10-12 % short, after the
 *    costs that were missing (TP overlap's share, cross-entropy, dropout).
 *    A100: 312 TFLOP/s; 76 % at most, half of it at 30 GFLOP (were 0.85 and
 *    6): the 2021 runs of Narayanan et al. (cuBLAS 11) came out 20-35 %
 *    short at 0.85 / 6 once their unfused attention was priced.
 *  - Attention, H100: FlashAttention-2 forward of one causal 64K document,
 *    64 heads of 128, takes 206.3 ms = 341 TFLOP/s = 34.5 % of peak
 *    (DistCA compute-attn-H100.csv, ../shared/doclen/); backward from the
 *    packed 32K timing (150.1 ms fwd+bwd) minus that forward: 448 TFLOP/s
 *    counting 2.5x forward FLOPs = 45.3 %.  Packed documents of length L run
 *    at about L / (L + 520) of the long-document rate (DistCA
 *    compute-attn-megatron.csv): an overhead of 260 pairs per query token,
 *    one 128-query tile padded whole (flat latency from 16 to 128 query
 *    tokens), and 12 % slower with a single query tile (Hopper's TMA
 *    multicast pays from two tiles, 256 queries).  The fixed cost is a
 *    thread block's: the forward runs one per query tile, the backward one
 *    per key block (FlashAttention-2's backward loops over query tiles
 *    inside each key block), so a backward piece pays it per 128 keys.  A
 *    document's pieces under per-document sharding each read the document's
 *    keys up to their end, which is where that sharding's extra cost lies.
 *    Packed whole documents (q = kv) cannot tell the two apart, so the
 *    calibration above holds either way.  A100: FlashAttention-2
 *    reaches 50-73 % of peak (Dao 2023): 65 % forward, 55 % backward.
 *  - NCCL inside an H100 node: ring bus bandwidth ~370 GB/s on NVLink 4,
 *    ~480 GB/s for all-reduce with NVLS (NVIDIA nccl-tests on DGX H100),
 *    ~15 us small-message latency; across nodes ~46-49 GB/s per 400 Gb/s NIC
 *    (one per GPU).  A100 NVLink 3: ~230 GB/s, 200 Gb/s HDR NICs ~23.5 GB/s.
 *    Bus bandwidth converts with nccl-tests' factors (costdb.h). */
#include "analytic.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "shapes.h"
#include "shard.h"

/* Hopper SXM with NVLink 4 and a 400 Gb/s NIC per GPU: H100 and H200 share
 * the SMs, the kernels' efficiencies and the links */
#define HOPPER_SXM \
	.gemm_eff_max = 0.74, .gemm_half_gflop = 80, .gemm_launch_us = 4, \
	.attn_eff_fwd = 0.348, .attn_eff_bwd = 0.456, .attn_tile_overhead = 260, \
	.attn_single_tile_eff = 0.88, .attn_bwd_key_share = 1, .attn_launch_fwd_us = 5, \
	.attn_launch_bwd_us = 8, \
	.ring_busbw_gbps = 370, .nvls_busbw_gbps = 480, .coll_lat_us = 15, \
	.net_busbw_gbps = 47.5, .net_lat_us = 30, .p2p_gbps = 370, .p2p_lat_us = 10

static const struct wlb_gpu_spec specs[] = {
	{.dev = {"h100-sxm", "NVIDIA H100 80GB HBM3", 132, 79.6, 989.4, 3350, 8, 450, 15, 50, 30},
	 HOPPER_SXM},
	/* 141 GB of HBM3e at 4.8 TB/s */
	{.dev = {"h200", "NVIDIA H200", 132, 139.8, 989.4, 4800, 8, 450, 15, 50, 30}, HOPPER_SXM},
	{
		.dev = {"a100-80g", "NVIDIA A100-SXM4-80GB", 108, 79.2, 312, 2039, 8, 300, 12, 25, 30},
		.gemm_eff_max = 0.76, .gemm_half_gflop = 30, .gemm_launch_us = 4,
		.attn_eff_fwd = 0.65, .attn_eff_bwd = 0.55, .attn_tile_overhead = 260,
		.attn_single_tile_eff = 1.0, .attn_bwd_key_share = 1, .attn_launch_fwd_us = 5,
		.attn_launch_bwd_us = 8, .ring_busbw_gbps = 230, .nvls_busbw_gbps = 0, .coll_lat_us = 12,
		.net_busbw_gbps = 23.5, .net_lat_us = 30, .p2p_gbps = 230, .p2p_lat_us = 10,
	},
};

static const char *const spec_names[] = {"h100-sxm", "h200", "a100-80g", NULL};

const char *const *wlb_gpu_spec_names(void)
{
	return spec_names;
}

int wlb_gpu_spec_find(const char *name, struct wlb_gpu_spec *out, struct wlb_error *err)
{
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
		if (!strcmp(specs[i].dev.name, name)) {
			*out = specs[i];
			return 0;
		}
	return wlb_error_set(err, WLB_EINVAL, "unknown GPU \"%s\" (expected h100-sxm, h200 or a100-80g)",
			     name);
}

/* The figures --set may change, with the values that make sense for them. */
static const struct knob {
	const char *name;
	size_t off;
	double lo, hi;
	int open_lo; /* lo itself excluded */
} knobs[] = {
#define K(f, lo, hi, open) {#f, offsetof(struct wlb_gpu_spec, f), lo, hi, open}
	K(gemm_eff_max, 0, 1, 1), K(gemm_half_gflop, 0, 1e6, 0), K(gemm_launch_us, 0, 1e6, 0),
	K(attn_eff_fwd, 0, 1, 1), K(attn_eff_bwd, 0, 1, 1), K(attn_tile_overhead, 0, 1e6, 0),
	K(attn_single_tile_eff, 0, 1, 1), K(attn_bwd_key_share, 0, 1, 0),
	K(attn_launch_fwd_us, 0, 1e6, 0), K(attn_launch_bwd_us, 0, 1e6, 0),
	K(ring_busbw_gbps, 0, 1e5, 1), K(nvls_busbw_gbps, 0, 1e5, 0), K(coll_lat_us, 0, 1e6, 0),
	K(net_busbw_gbps, 0, 1e5, 1), K(net_lat_us, 0, 1e6, 0), K(p2p_gbps, 0, 1e5, 1),
	K(p2p_lat_us, 0, 1e6, 0),
#undef K
};

int wlb_gpu_spec_set(struct wlb_gpu_spec *g, const char *assignments, struct wlb_error *err)
{
	const char *p = assignments;

	for (;;) {
		size_t n = strcspn(p, "=,"), len = strcspn(p, ",");
		const struct knob *k = NULL;
		for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
			if (strlen(knobs[i].name) == n && !strncmp(knobs[i].name, p, n))
				k = &knobs[i];
		if (!k) {
			char names[512] = "";
			for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
				snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
					 i ? ", " : "", knobs[i].name);
			return wlb_error_set(err, WLB_EINVAL, "unknown figure \"%.*s\" (expected NAME=VALUE, "
					     "NAME one of %s)", (int)n, p, names);
		}
		char num[64], *end;
		size_t vlen = len > n ? len - n - 1 : 0;
		snprintf(num, sizeof num, "%.*s", (int)(vlen < sizeof num ? vlen : sizeof num - 1), p + n + 1);
		double v = vlen && vlen < sizeof num ? strtod(num, &end) : NAN;
		if (!vlen || vlen >= sizeof num || *end || !(v >= k->lo && v <= k->hi) ||
		    (k->open_lo && v == k->lo))
			return wlb_error_set(err, WLB_EINVAL, "%s: expected a number in %c%g, %g], got \"%.*s\"",
					     k->name, k->open_lo ? '(' : '[', k->lo, k->hi, (int)vlen,
					     len > n ? p + n + 1 : "");
		*(double *)((char *)g + k->off) = v;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

double wlb_analytic_gemm_us(const struct wlb_gpu_spec *g, int64_t m, int64_t n, int64_t k)
{
	double flops = 2.0 * (double)m * (double)n * (double)k;
	double eff = g->gemm_eff_max * flops / (flops + g->gemm_half_gflop * 1e9);
	double compute = flops / (g->dev.peak_bf16_tflops * 1e6 * eff);
	double bytes = 2.0 * ((double)m * k + (double)k * n + (double)m * n);
	double memory = bytes / (g->dev.hbm_gbps * 1e3);
	return g->gemm_launch_us + (compute > memory ? compute : memory);
}

double wlb_analytic_attn_us(const struct wlb_gpu_spec *g, int64_t q_len, int64_t kv_len,
			    int pieces, int bwd, int heads, int head_dim)
{
	double q_tiles = ceil((double)q_len / WLB_ATTN_TILE);
	double blocks = q_tiles; /* thread blocks, each paying the fixed cost */
	if (bwd)
		blocks += g->attn_bwd_key_share * (ceil((double)kv_len / WLB_ATTN_TILE) - q_tiles);
	double work = wlb_tiled_pairs((uint32_t)q_len, (uint32_t)kv_len) +
		      g->attn_tile_overhead * blocks * WLB_ATTN_TILE;
	double eff = (bwd ? g->attn_eff_bwd : g->attn_eff_fwd) *
		     (q_tiles <= 1 ? g->attn_single_tile_eff : 1.0);
	double flops = (bwd ? WLB_BWD_ATTN_FACTOR : 1.0) * 4.0 * head_dim * heads * work;
	return (bwd ? g->attn_launch_bwd_us : g->attn_launch_fwd_us) +
	       pieces * flops / (g->dev.peak_bf16_tflops * 1e6 * eff);
}

double wlb_analytic_coll_us(const struct wlb_gpu_spec *g, enum wlb_coll_op op, int64_t bytes,
			    int ranks, int nodes, const char **algo)
{
	double busbw, lat;
	const char *a;

	if (ranks <= 1)
		return 0;
	if (nodes <= 1) {
		lat = g->coll_lat_us;
		if (op == WLB_ALL_REDUCE && g->nvls_busbw_gbps > 0 && ranks >= 4) {
			busbw = g->nvls_busbw_gbps;
			a = "nvls";
		} else {
			busbw = g->ring_busbw_gbps;
			a = "ring";
		}
	} else {
		/* each rank of the group drives its own NIC: the bus bandwidth is
		 * the NICs' of one node's ranks, at most NVLink's */
		int per_node = (ranks + nodes - 1) / nodes;
		busbw = g->net_busbw_gbps * per_node;
		if (busbw > g->ring_busbw_gbps)
			busbw = g->ring_busbw_gbps;
		lat = g->net_lat_us;
		a = "net";
	}
	if (algo)
		*algo = a;
	return lat + (double)bytes * wlb_coll_busbw_factor(op, ranks) / (busbw * 1e3);
}

double wlb_analytic_p2p_us(const struct wlb_gpu_spec *g, int64_t bytes, int inter)
{
	return inter ? g->net_lat_us / 2 + (double)bytes / (g->net_busbw_gbps * 1e3)
		     : g->p2p_lat_us + (double)bytes / (g->p2p_gbps * 1e3);
}

/* ---- the DB ---- */

static void now_iso(char *buf, size_t n)
{
	/* SOURCE_DATE_EPOCH keeps rebuilt DBs identical (reproducible builds) */
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_rows(struct wlb_costdb *db, const struct wlb_gpu_spec *g, int64_t run, long *rows,
		      struct wlb_error *err)
{
	struct wlb_shape gemm[WLB_MAX_SHAPES], attn[WLB_MAX_SHAPES];
	static const enum wlb_coll_op ops[] = {WLB_ALL_REDUCE, WLB_ALL_GATHER, WLB_REDUCE_SCATTER,
					       WLB_ALL_TO_ALL};
	int groups[256][2], n_groups = 0, n_gemm = 0, n_attn = 0, n_nodes, rc;
	int64_t nodes[64];

	if ((rc = wlb_model_shapes(NULL, gemm, &n_gemm, attn, &n_attn, err)) ||
	    (rc = wlb_grid_shapes(gemm, &n_gemm, attn, &n_attn, err)))
		return rc;
	/* collectives: every group in a node, and groups spanning 2, 3, 4, 6,
	 * 8, 12, ... nodes with 1, 2, 4 or 8 ranks on each (cost.c interpolates
	 * the group sizes between them) */
	for (int r = 2; r <= g->dev.gpus_per_node; r++)
		groups[n_groups][0] = r, groups[n_groups++][1] = 1;
	n_nodes = wlb_grid_2_3(2, WLB_GRID_COLL_RANKS_MAX / 2, nodes, 64);
	for (int per = 1; per <= g->dev.gpus_per_node && per <= 8; per *= 2)
		for (int i = 0; i < n_nodes && per * nodes[i] <= WLB_GRID_COLL_RANKS_MAX && n_groups < 256; i++)
			groups[n_groups][0] = per * (int)nodes[i], groups[n_groups++][1] = (int)nodes[i];
	for (int s = 0; s < n_gemm; s++)
		for (int64_t base = 128; base <= 262144; base *= 2)
			for (int64_t m = base; m <= base * 3 / 2 && m <= 262144; m += base / 2) {
				struct wlb_gemm_sample x = {run, WLB_SRC_ANALYTIC, m, gemm[s].a, gemm[s].b,
							    "bf16", 0, 0, 0, 1};
				x.median_us = x.p10_us = x.p90_us = wlb_analytic_gemm_us(g, m, x.n, x.k);
				if ((rc = wlb_costdb_add_gemm(db, &x, err)))
					return rc;
				(*rows)++;
			}
	/* query lengths dense around the 128-token tile, kv from q doubling to 128K */
	static const int64_t qs[] = {16, 32, 64, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048,
				     3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152,
				     65536, 98304, 131072};
	for (int s = 0; s < n_attn; s++)
		for (int bwd = 0; bwd < 2; bwd++)
			for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
				for (int64_t kv = qs[i]; kv <= 131072; kv = wlb_kv_next(kv, 131072)) {
					/* packed as a loader would: about 32K keys per call */
					int pieces = kv >= 32768 ? 1 : (int)(32768 / kv);
					struct wlb_attn_sample x = {run, WLB_SRC_ANALYTIC, bwd, (int)attn[s].a,
								    (int)attn[s].b, (int)attn[s].c, qs[i], kv,
								    pieces, "analytic", 0, 0, 0, 1};
					x.median_us = x.p10_us = x.p90_us =
						wlb_analytic_attn_us(g, qs[i], kv, pieces, bwd, x.heads, x.head_dim);
					if ((rc = wlb_costdb_add_attn(db, &x, err)))
						return rc;
					(*rows)++;
				}
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
		for (int k = 0; k < n_groups; k++)
			/* up to a whole stage's fp32 gradients (Llama 3.1 8B on one
			 * stage: 32 GB) */
			for (int64_t bytes = 1024; bytes <= (64ll << 30); bytes *= 2) {
				const char *algo;
				struct wlb_coll_sample x = {run, WLB_SRC_ANALYTIC, ops[o], groups[k][0],
							    groups[k][1], bytes, "", 0, 0, 0};
				x.median_us = wlb_analytic_coll_us(g, ops[o], bytes, x.ranks, x.nodes, &algo);
				snprintf(x.algo, sizeof x.algo, "%s", algo);
				x.algbw_gbps = (double)bytes / (x.median_us * 1e3);
				x.busbw_gbps = x.algbw_gbps * wlb_coll_busbw_factor(ops[o], x.ranks);
				if ((rc = wlb_costdb_add_coll(db, &x, err)))
					return rc;
				(*rows)++;
			}
	for (int inter = 0; inter < 2; inter++)
		for (int64_t bytes = 1024; bytes <= (4ll << 30); bytes *= 2) {
			struct wlb_p2p_sample x = {run, WLB_SRC_ANALYTIC, bytes, inter,
						   wlb_analytic_p2p_us(g, bytes, inter)};
			if ((rc = wlb_costdb_add_p2p(db, &x, err)))
				return rc;
			(*rows)++;
		}
	return 0;
}

int wlb_analytic_write(const char *gpu, const char *set, const char *path, const char *tool_version,
		       long *rows, struct wlb_error *err)
{
	struct wlb_gpu_spec g;
	struct wlb_costdb *db = NULL;
	struct wlb_run_info run = {0};
	char tmp[4096];
	int rc;

	*rows = 0;
	if ((rc = wlb_gpu_spec_find(gpu, &g, err)) || (set && (rc = wlb_gpu_spec_set(&g, set, err))))
		return rc;
	if (set && strlen(set) > sizeof run.flags - sizeof "analytic --set ")
		return wlb_error_set(err, WLB_EINVAL, "the changed figures take %zu characters, more than "
				     "the DB's run record holds (%zu)", strlen(set),
				     sizeof run.flags - sizeof "analytic --set ");
	/* a fresh DB beside the target, renamed over it once complete */
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	remove(tmp);
	if ((rc = wlb_costdb_open(&db, tmp, err)))
		return rc;
	now_iso(run.time, sizeof run.time);
	if (gethostname(run.host, sizeof run.host - 1))
		snprintf(run.host, sizeof run.host, "unknown");
	snprintf(run.tool_version, sizeof run.tool_version, "%s", tool_version);
	/* the DB says which figures were changed */
	snprintf(run.flags, sizeof run.flags, "analytic%s%s", set ? " --set " : "", set ? set : "");
	if ((rc = wlb_costdb_begin(db, err)) || (rc = wlb_costdb_put_device(db, &g.dev, err)) ||
	    (rc = wlb_costdb_add_run(db, &run, err)) || (rc = write_rows(db, &g, run.id, rows, err)) ||
	    (rc = wlb_costdb_commit(db, err))) {
		wlb_costdb_rollback(db);
		wlb_costdb_close(db);
		remove(tmp);
		return rc;
	}
	wlb_costdb_close(db);
	if (rename(tmp, path)) {
		remove(tmp);
		return wlb_error_set(err, WLB_EIO, "%s: cannot write: %s", path, strerror(errno));
	}
	return 0;
}
