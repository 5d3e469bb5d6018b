/* cost.h — time estimates from a cost DB (DESIGN.md §3).
 *
 * wlb_cost_load reads every sample once and builds, per shape (a GEMM's
 * (n, k), an attention call's (heads, kv_heads, head_dim) per rank, a
 * collective's (op, ranks, nodes)), monotone interpolants over its size in
 * log-log space (GSL's Steffen spline; linear below three points).
 *
 * A lookup is "exact" at a sample of its own shape.  It is "interpolated"
 * between samples of its shape, and between sampled shapes: a GEMM blends
 * the (n, k) around it bilinearly in n and k (work and bytes are bilinear
 * in them); attention blends the head_dims, head counts and kv_heads around
 * it linearly in each (a query's grouping, queries per KV head, carried to
 * the neighbouring head counts; MQA and MHA bound every grouping); a
 * collective blends the group sizes around it with as many ranks on its
 * fullest node, linearly in nccl-tests' bus factor, and, without such
 * groups, the ranks-per-node counts either side at as many nodes, log-log.
 * The analytic DB's grid (profiler/shapes.h) makes every shape of a dense
 * model up to 1T parameters interpolated at worst.  Outside the samples a
 * lookup follows a roofline (compute: time scales with the work) or
 * alpha-beta line (communication: time grows with bytes at the fitted
 * bandwidth) from the nearest sample or shape and is "extrapolated" —
 * counted, so reports can warn.  No SQL after loading; a small memo makes
 * repeated lookups cost a hash probe.  One wlb_cost is not thread-safe (its
 * memo): give each thread its own. */
#ifndef WLB_COST_H
#define WLB_COST_H

#include <stddef.h>
#include <stdint.h>

#include "costdb.h"
#include "err.h"
#include "shard.h"

enum wlb_est { WLB_EST_EXACT, WLB_EST_INTERP, WLB_EST_EXTRAP };
const char *wlb_est_name(enum wlb_est e);   /* "exact", "interpolated", "extrapolated" */

struct wlb_cost;

/* Finds the built-in DB of a GPU ("h100-sxm.db"): in $WLB_COSTDB_DIR, beside
 * the running command (../build/costdb, ../costdb, ../share/wlb/costdb) or
 * in the installed data directory.  The error says where it looked and how to
 * build one. */
int wlb_cost_find_db(const char *gpu, char *out, size_t n, struct wlb_error *err);

int wlb_cost_load(struct wlb_cost **out, const char *db_path, struct wlb_error *err);
/* From data already in memory (takes ownership of d's arrays). */
int wlb_cost_from_data(struct wlb_cost **out, struct wlb_costdb_data *d, const char *name,
		       struct wlb_error *err);
void wlb_cost_destroy(struct wlb_cost *c);
/* A view for another thread: shares c's read-only tables, has its own memo
 * and counters; destroy it before c. */
int wlb_cost_clone(struct wlb_cost **out, const struct wlb_cost *c);
const struct wlb_device *wlb_cost_device(const struct wlb_cost *c);

/* how may be NULL.  Times in microseconds. */
double wlb_cost_gemm_us(struct wlb_cost *c, int64_t m, int64_t n, int64_t k, enum wlb_est *how);
/* One varlen attention call over pieces (heads, kv_heads, head_dim per rank). */
double wlb_cost_attn_us(struct wlb_cost *c, const struct wlb_piece *p, size_t n, int bwd,
			int heads, int kv_heads, int head_dim, enum wlb_est *how);
/* One piece (q_len, kv_len) of a packed call: the call's time is the sum. */
double wlb_cost_attn_piece_us(struct wlb_cost *c, int64_t q_len, int64_t kv_len, int bwd,
			      int heads, int kv_heads, int head_dim, enum wlb_est *how);
double wlb_cost_coll_us(struct wlb_cost *c, enum wlb_coll_op op, int64_t bytes, int ranks,
			int nodes, enum wlb_est *how);
double wlb_cost_p2p_us(struct wlb_cost *c, int64_t bytes, int inter, enum wlb_est *how);
/* Memory-bound element-wise work moving `bytes` through HBM. */
double wlb_cost_elementwise_us(struct wlb_cost *c, double bytes);

/* Lookups that fell outside the samples since loading. */
uint64_t wlb_cost_extrapolations(const struct wlb_cost *c);

#endif
