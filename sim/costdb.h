/* costdb.h — the cost DB: a SQLite file of raw timing samples of one device
 * (DESIGN.md §5).  Writers open it with wlb_costdb_open (creating or upgrading
 * the schema) and add rows inside transactions; readers load every row into
 * memory once with wlb_costdb_read, so no SQL runs in a hot loop.  Fits are
 * derived when loading (cost.h), never stored. */
#ifndef WLB_COSTDB_H
#define WLB_COSTDB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define WLB_COSTDB_SCHEMA 1 /* PRAGMA user_version */

enum wlb_sample_source { WLB_SRC_MEASURED, WLB_SRC_ANALYTIC, WLB_SRC_PUBLISHED, WLB_SRC_IMPORTED };
/* "measured", "analytic", "published", "imported"; "invalid" for anything
 * else (which the DB's CHECK constraints refuse). */
const char *wlb_sample_source_name(enum wlb_sample_source s);
/* The inverse: 0, or WLB_EINVAL for an unknown name. */
int wlb_sample_source_parse(const char *s, enum wlb_sample_source *src);

enum wlb_coll_op { WLB_ALL_REDUCE, WLB_ALL_GATHER, WLB_REDUCE_SCATTER, WLB_ALL_TO_ALL, WLB_COLL_OPS };
const char *wlb_coll_op_name(enum wlb_coll_op op); /* "invalid" out of range */
/* "all_reduce", "all_gather", "reduce_scatter", "all_to_all" (also "allreduce"
 * and friends without the underscore, "all-gather", any case).  0, or
 * WLB_EINVAL for an unknown name. */
int wlb_coll_op_parse(const char *s, enum wlb_coll_op *op);
/* nccl-tests' bus-bandwidth factor: all-reduce 2(n-1)/n, the others (n-1)/n.
 * One rank moves nothing over a bus: 0, as nccl-tests prints; 0 too for
 * ranks < 1 or an unknown op. */
double wlb_coll_busbw_factor(enum wlb_coll_op op, int ranks);

struct wlb_device {
	char name[32];          /* the name traces use: "h100-sxm" */
	char gpu_model[64];     /* "NVIDIA H100 80GB HBM3" */
	int sms;
	double mem_gib;
	double peak_bf16_tflops;
	double hbm_gbps;
	int gpus_per_node;
	double nvlink_gbps;     /* per GPU, one direction */
	double nvlink_lat_us;
	double net_gbps;        /* per GPU (one NIC each), one direction */
	double net_lat_us;
};

struct wlb_run_info {
	int64_t id;
	char time[32];          /* ISO 8601 UTC */
	char host[64];
	char tool_version[32];
	char cuda_version[32];
	char nccl_version[32];
	char cudnn_version[32];
	char flags[256];        /* e.g. "analytic", "l2-flush" */
};

struct wlb_gemm_sample {
	int64_t run;
	enum wlb_sample_source source;
	int64_t m, n, k;        /* C[m x n] = A[m x k] B[k x n] */
	char dtype[8];          /* "bf16" */
	double median_us, p10_us, p90_us;
	int reps;
};

/* One attention call holding `pieces` pieces of equal shape (q_len, kv_len). */
struct wlb_attn_sample {
	int64_t run;
	enum wlb_sample_source source;
	int bwd;                /* 0 forward, 1 backward */
	int heads, kv_heads, head_dim; /* per rank, after TP */
	int64_t q_len, kv_len;
	int pieces;
	char kernel[32];        /* "analytic", "cudnn-sdpa", "wlb-flash", "flash-attn" ... */
	double median_us, p10_us, p90_us;
	int reps;
};

struct wlb_coll_sample {
	int64_t run;
	enum wlb_sample_source source;
	enum wlb_coll_op op;
	int ranks, nodes;
	int64_t bytes;          /* nccl-tests' size: the whole buffer */
	char algo[16];          /* "ring", "nvls", "tree", "" */
	double median_us, algbw_gbps, busbw_gbps;
};

struct wlb_p2p_sample {
	int64_t run;
	enum wlb_sample_source source;
	int64_t bytes;
	int inter;              /* 0 inside a node (NVLink), 1 across nodes */
	double median_us;
};

/* Everything a DB holds, in memory; arrays owned. */
struct wlb_costdb_data {
	struct wlb_device device;
	int has_device;
	struct wlb_run_info *runs;
	struct wlb_gemm_sample *gemm;
	struct wlb_attn_sample *attn;
	struct wlb_coll_sample *coll;
	struct wlb_p2p_sample *p2p;
	size_t n_runs, n_gemm, n_attn, n_coll, n_p2p;
};

/* Reads the whole DB (read-only; a missing file is not created).  Refuses a
 * file that is missing ("FILE: no such cost DB"), not SQLite or not ours
 * ("FILE: not a wlb cost DB (file is not a database)"), or of a newer schema
 * ("FILE: cost DB schema 2 is newer than this wlb reads (1): upgrade wlb").
 * Errors name the file.  Rows come in a fixed order: runs by id; gemm by
 * (n, k, m, dtype); attn by (direction, heads, kv_heads, head_dim, q_len,
 * kv_len, pieces); coll by (op, ranks, nodes, bytes); p2p by (link, bytes);
 * ties by insertion (TEXT enums sort by name: "bwd" before "fwd",
 * "all_gather" before "all_reduce", "inter" before "intra").  A hot journal
 * left by a crashed writer is rolled back first (that needs write access).
 * On error *out is empty. */
int wlb_costdb_read(const char *path, struct wlb_costdb_data *out, struct wlb_error *err);
void wlb_costdb_data_free(struct wlb_costdb_data *d);

struct wlb_costdb;

/* Opens path for writing, creating it (and the schema) if missing, upgrading
 * an older schema in one transaction; refuses a newer one, and a SQLite file
 * of another program.  Foreign keys on, a busy timeout for concurrent
 * writers. */
int wlb_costdb_open(struct wlb_costdb **out, const char *path, struct wlb_error *err);
void wlb_costdb_close(struct wlb_costdb *db);

/* Transactions: everything added between begin and commit lands together or
 * not at all (a crash or rollback leaves the DB as it was). */
int wlb_costdb_begin(struct wlb_costdb *db, struct wlb_error *err);
int wlb_costdb_commit(struct wlb_costdb *db, struct wlb_error *err);
void wlb_costdb_rollback(struct wlb_costdb *db);

/* Sets the DB's device (one per DB; replaces the row). */
int wlb_costdb_put_device(struct wlb_costdb *db, const struct wlb_device *dev,
			  struct wlb_error *err);
/* Adds a run; its id comes back in run->id.  An empty run->time is set to
 * the current UTC time. */
int wlb_costdb_add_run(struct wlb_costdb *db, struct wlb_run_info *run, struct wlb_error *err);
/* Replaces a run's flags (a profile marks itself "measuring", then "measured"). */
int wlb_costdb_set_run_flags(struct wlb_costdb *db, int64_t run, const char *flags,
			     struct wlb_error *err);
int wlb_costdb_add_gemm(struct wlb_costdb *db, const struct wlb_gemm_sample *s, struct wlb_error *err);
int wlb_costdb_add_attn(struct wlb_costdb *db, const struct wlb_attn_sample *s, struct wlb_error *err);
int wlb_costdb_add_coll(struct wlb_costdb *db, const struct wlb_coll_sample *s, struct wlb_error *err);
int wlb_costdb_add_p2p(struct wlb_costdb *db, const struct wlb_p2p_sample *s, struct wlb_error *err);

#endif
