/* report_sim.h — the simulator's outputs: wlb-report/1 (DESIGN.md §5), one
 * CSV row per iteration, and the Chrome trace of one iteration (Perfetto). */
#ifndef WLB_REPORT_SIM_H
#define WLB_REPORT_SIM_H

#include <jansson.h>

#include "sim.h"

struct wlb_sim_named {
	const char *name;                  /* "Plain-4D", "Fixed-4D", "WLB-LLM", or the policy */
	const struct wlb_trace *trace;     /* its policy */
	const struct wlb_sim_result *res;
};

/* cmp[0] is the baseline of the speedups (ratios of tokens per second). */
json_t *wlb_report_sim(const struct wlb_trace *t, const char *costdb, const struct wlb_sim_result *r,
		       const struct wlb_sim_named *cmp, int n_cmp);
int wlb_report_sim_csv(const struct wlb_sim_result *r, const char *path, struct wlb_error *err);
json_t *wlb_chrome_trace(const struct wlb_trace *t, const struct wlb_sim_result *r);

#endif
