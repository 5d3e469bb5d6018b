/* run_report.h — what wlb-run's ranks measured, in the simulator's result
 * structure, so that a measured report (wlb-report/1, source "measured") has
 * the simulator's fields and diffs against a prediction field by field. */
#ifndef WLB_RUN_REPORT_H
#define WLB_RUN_REPORT_H

#include <jansson.h>

#include "exec.h"
#include "sim.h"

/* r is wlb_sim_run's result for the same trace (the same micro-batches in
 * the same pipeline order); its times and metrics are replaced by the
 * measured ones (DESIGN.md §4): per micro-batch forward and backward time
 * summed over stages and chunks (each the slowest of its TP x CP ranks), CP
 * imbalance of measured attention time, iteration time (the slowest rank),
 * ideal time and bubbles from the stage workers' busy time, peak memory of
 * the device allocator; the timeline iteration's steps from the device's
 * clock.  Lost-time attribution needs counterfactual runs: a measured report
 * holds zeros there.  mem_gib: the device's memory (0 keeps the
 * prediction's limit). */
int wlb_run_report_apply(const struct wlb_trace *t, const struct wlb_exec_result *x, double mem_gib,
			 struct wlb_sim_result *r, struct wlb_error *err);

/* What only a measurement has, per iteration and pipeline worker (replica,
 * stage), each the slowest of the worker's TP x CP ranks: forward and
 * backward compute, the communication inside them (TP, CP), attention, the
 * DP x CP gradient sync, and idle time (the iteration's time less the
 * worker's steps and sync): the report's "stages". */
json_t *wlb_run_report_stages(const struct wlb_trace *t, const struct wlb_exec_result *x);

#endif
