/* trace.h — trace.json (wlb-trace/1) and config.json (wlb-config/1) in and
 * out (DESIGN.md §5).
 *
 * The loader checks everything a later stage relies on and reports the first
 * problem as "FILE:LINE:COL: KEY: what was expected, got what", LINE:COL being
 * where the offending value (or key) stands in the file. */
#ifndef WLB_TRACE_H
#define WLB_TRACE_H

#include <stdint.h>

#include <jansson.h>

#include "docs.h"
#include "err.h"
#include "model.h"
#include "pack.h"
#include "shard.h"

/* Trace sizes no real run reaches, refused so that a typo cannot run for
 * hours or exhaust memory (the model's and parallel layout's are in model.h,
 * the documents' in docs.h):
 * - iterations (data.iterations, --iterations): a whole pretraining run is
 *   some 10^5 steps and a study simulates hundreds;
 * - tokens an iteration, dp x microbatches x micro_batch_size x context:
 *   2^34, a thousand times the largest published global batch (16M tokens,
 *   Llama 3 405B), whose documents the stream holds at once;
 * - policy.window, global batches the greedy packer holds together: the
 *   paper's largest is 8;
 * - cluster.gpus_per_node: the largest NVLink domain is 576. */
#define WLB_MAX_ITERATIONS 1000000
#define WLB_MAX_BATCH_TOKENS (1ll << 34)
#define WLB_MAX_WINDOW 1024
#define WLB_MAX_GPUS_PER_NODE 4096

struct wlb_cluster {
	int gpus_per_node;
	int nodes;          /* 0 = as many as tp*cp*pp*dp needs */
};

struct wlb_policy {
	char packing[16];   /* concat | greedy | bfd | wlb | wlb-mem */
	char sharding[16];  /* per-seq | per-doc | adaptive */
	uint32_t s_max;     /* 0 = default (see wlb_policy_defaults) */
	int n_thresholds;   /* -1 = default */
	uint32_t thresholds[WLB_MAX_QUEUES];
	uint32_t window;    /* 0 = default 1 */
	char doc_order[16]; /* stream | zigzag; "" = the packer's default (order.h) */
	double mem_cap_gib; /* wlb-mem: activation GiB one micro-batch may keep on a
			     * GPU; 0 = what fits the GPU (actmem.h) */
	char cp_mode[20];   /* static | dynamic-megatron | dynamic-cost (dcp.h); "" = static */
};

struct wlb_trace {
	char path[512];     /* file it came from ("" when built in memory) */
	char name[64];
	struct wlb_model model;
	char gpu[32];
	struct wlb_cluster cluster;
	struct wlb_parallel parallel;
	uint32_t context;
	struct wlb_policy policy;
	uint32_t iterations; /* 0 = as many as the source holds (finite sources) */
	struct wlb_source source;
	/* data.lengths_file as written in the trace (relative to the directory of
	 * path); WLB_SOURCE_LENGTHS only, what wlb_trace_save writes back. */
	char lengths_file[512];
};

/* Defaults for a trace without a policy: wlb + adaptive, s_max = 1.5 x context
 * (rounded to a multiple of 1024), two outlier queues at context/4 and
 * context/2, window 1.  Fills what is unset in pol. */
void wlb_policy_defaults(struct wlb_policy *pol, uint32_t context);

/* Fills t with the defaults of every optional field (parallel 1x1x1x1,
 * 1 micro-batch, 1f1b, allgather, sequence parallel and FSDP on, 8 GPUs per
 * node, gpu h100-sxm, 1 iteration, seed 1). */
void wlb_trace_init(struct wlb_trace *t);

/* Both initialise t (wlb_trace_init), fill it and resolve the policy
 * (wlb_policy_defaults).  On failure t holds nothing (wlb_trace_free is then a
 * no-op).  load_string names the text `name` in messages and reads a relative
 * lengths_file from the current directory. */
int wlb_trace_load(struct wlb_trace *t, const char *path, struct wlb_error *err);
int wlb_trace_load_string(struct wlb_trace *t, const char *text, const char *name,
			  struct wlb_error *err);
/* Checks cross-field constraints (also done by the loaders); commands call it
 * again after applying command-line overrides. */
int wlb_trace_check(const struct wlb_trace *t, struct wlb_error *err);
void wlb_trace_free(struct wlb_trace *t);

/* Writes t as wlb-trace/1 to path atomically (temp file + rename).  A
 * distribution source is written as its mixture (or preset name if it came
 * from one: dist_preset != NULL). */
int wlb_trace_save(const struct wlb_trace *t, const char *dist_preset, const char *path,
		   struct wlb_error *err);

/* ---- config.json (wlb-config/1): a trace without data, everything
 * resolved, plus the tuner's predicted figures ---- */

#define WLB_CONFIG_FORMAT "wlb-config/1"

/* Reads a config into t: the keys of a trace but "data" (refused: a config
 * holds no documents), and an optional "predicted" object (not read).  The
 * messages are the trace loader's ("FILE:LINE:COL: KEY: ...").  t's data
 * fields stay at wlb_trace_init's (no documents): apply it to a trace with
 * wlb_config_apply.  On failure t holds nothing. */
int wlb_config_load(struct wlb_trace *t, const char *path, struct wlb_error *err);
int wlb_config_load_string(struct wlb_trace *t, const char *text, const char *name,
			   struct wlb_error *err);
/* wlb_trace_check without the data source: what a config must satisfy. */
int wlb_config_check(const struct wlb_trace *t, struct wlb_error *err);
/* Copies model, gpu, cluster, parallel, context and policy of cfg onto t,
 * keeping t's name, data, iterations and seed; callers then run
 * wlb_trace_check (the config may not suit t's documents). */
void wlb_config_apply(struct wlb_trace *t, const struct wlb_trace *cfg);
/* The wlb-config/1 document of t (its policy resolved), with "predicted" a
 * copy of predicted when not NULL; NULL when t fails wlb_config_check (err
 * says why), predicted is not an object, or out of memory. */
json_t *wlb_config_json(const struct wlb_trace *t, const json_t *predicted,
			struct wlb_error *err);
/* Writes wlb_config_json(t, predicted) to path atomically (temp file +
 * rename; "-" = stdout). */
int wlb_config_save(const struct wlb_trace *t, const json_t *predicted, const char *path,
		    struct wlb_error *err);

#endif
