/* sim_int.h — the simulator's state, shared by sim.c and sim_dcp.c. */
#ifndef WLB_SIM_INT_H
#define WLB_SIM_INT_H

#include "distca_sim.h"
#include "progress.h"
#include "sim.h"
#include "stage.h"

struct wlb_sim_dcp;

struct ctx {
	const struct wlb_trace *t;
	const struct wlb_sim_opts *o;
	struct wlb_sim_result *out;
	struct wlb_error *err;
	struct wlb_stage_plan sp;
	struct wlb_sched *sched;
	struct wlb_graph *graph;
	struct wlb_mb_cost *mbc;       /* the iteration's micro-batches, packed order */
	struct wlb_sched_mb *smb;      /* schedule input, pipeline order */
	uint32_t *perm;                /* pipeline position -> packed index */
	double *key, *dp_sync, *dp_step, *busy, *times, *vals;
	double *stage_peak, *rep_peak;  /* peak_memory's: bytes per stage, per replica */
	int *chunk_layers;             /* [s * vpp + c] */
	struct wlb_sched_fsdp fsdp;
	int has_fsdp;
	struct wlb_step *order;
	size_t cap_times, cap_vals, n_mb;
	int workers;
	double flops, tokens, time_ms, mem_limit;
	uint64_t extrap0;
	struct wlb_sharding alt;       /* the static layouts, for the timeline iteration */
	struct wlb_progress prog;
	int distca;                    /* parallel.cp_algo "distca" */
	struct wlb_ca_ctx ca;
	double *ca_imb, *ca_exp;       /* per micro-batch, packed order */
	/* what the schedule runs: par (dp and microbatches are the pool's
	 * ranks and the most sequences a rank runs, with per-sequence CP),
	 * run[perm[k]] for its k-th (replica, position) */
	struct wlb_parallel par;
	const struct wlb_mb_cost *run;
	size_t n_run, cap_smb, cap_order, cap_busy, cap_perm;
	uint32_t *perm_static;         /* order_mbs's, while a per-sequence schedule is tried */
	struct wlb_sim_dcp *dcp;       /* NULL: static CP */
};

/* Per-sequence CP (sim_dcp.c): NULL-safe free; init with the trace's
 * cp_mode (c->dcp stays NULL for static). */
int wlb_sim_dcp_init(struct ctx *c, struct wlb_error *err);
void wlb_sim_dcp_free(struct ctx *c);
/* Re-bins the iteration's documents into sequences, schedules them over
 * the pool and points c->run, c->perm, c->par and c->n_run at the
 * pool's (rank, position) slots.  *wait_us gets the group waits the
 * schedule adds on top of the slowest rank's own work (per stage). */
int wlb_sim_dcp_iter(struct ctx *c, const struct wlb_packed *p, double *wait_us);
/* The degree index of the static layout when the cost model's scheduler may
 * keep it for an iteration (it is one of its placements: every micro-batch
 * on its replica's aligned group of cp ranks), else -1. */
int wlb_sim_dcp_static_k(const struct ctx *c);
/* Adds the iteration's figures to the result: the schedule's, or the
 * static layout's when the simulator kept that (faster). */
void wlb_sim_dcp_account(struct ctx *c, const struct wlb_packed *p, int kept_static);

#endif
