/* actmem.h — activation memory of micro-batches: what memory-aware packing
 * bounds and what the reports compare (DESIGN.md §4 peak_mem_gib).
 *
 * A micro-batch of T tokens keeps, on one GPU of a stage of L layers,
 * act_bytes_per_token_layer (model.c: flash attention, so linear in tokens)
 * x L x its CP rank's tokens.  The rank's tokens are counted as the per-seq
 * sharder pads them, T rounded up to a multiple of 2cp, over cp: an upper
 * bound for every sharder.  The figure the packer and the reports use is the
 * micro-batch's activations on the stage with the most layers. */
#ifndef WLB_ACTMEM_H
#define WLB_ACTMEM_H

#include <stdint.h>

#include "err.h"

struct wlb_actmem {
	double bytes_token;   /* per token of a CP rank's share, heaviest stage, one GPU */
	int cp;
	/* most activation bytes one micro-batch may keep so that no stage can
	 * run out of memory, whatever the micro-batch order: over stages s,
	 * (gpu - state_s) x layers_max / in-flight layers_s; 0 when the GPU's
	 * memory is not known */
	double fit_bytes;
	double cap_bytes;     /* the cap in force (policy.mem_cap_gib or fit_bytes) */
};

struct wlb_trace;

/* The plan of trace t on a GPU of gpu_mem_gib (0: unknown; then fit_bytes and,
 * without policy.mem_cap_gib, cap_bytes are 0).  0 or WLB_ENOMEM. */
int wlb_actmem_plan(const struct wlb_trace *t, double gpu_mem_gib, struct wlb_actmem *out,
		    struct wlb_error *err);

/* Activation bytes of a micro-batch of `tokens` tokens on one GPU of the
 * heaviest stage. */
double wlb_actmem_bytes(const struct wlb_actmem *a, uint64_t tokens);

/* The most tokens a micro-batch may hold within cap_bytes (0 when even 2cp
 * tokens exceed it; UINT32_MAX when bytes_token is 0). */
uint32_t wlb_actmem_token_cap(const struct wlb_actmem *a, double cap_bytes);

#endif
