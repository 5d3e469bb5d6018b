/* report.h — wlb-report/1 documents (DESIGN.md §5); written with wlb_json_write
 * (json.h). */
#ifndef WLB_REPORT_H
#define WLB_REPORT_H

#include <jansson.h>

#include "json.h"
#include "packrun.h"
#include "trace.h"

/* A named policy run for a comparison table. */
struct wlb_named_run {
	const char *name;              /* "Plain-4D", "Fixed-4D", "WLB-LLM", or the policy */
	const struct wlb_packrun *run;
};

/* The resolved configuration of t (model, parallel, context, policy, data). */
json_t *wlb_report_config(const struct wlb_trace *t);

/* The trained pieces by log2 length bin: [{"lo", "hi", "documents", "tokens"}]. */
json_t *wlb_report_doclen(const struct wlb_packrun *run);

/* A wlb-report/1 document of one pack run, with the per-iteration records
 * and the summary; with n_cmp > 0 also a "comparison" array. */
json_t *wlb_report_pack(const struct wlb_trace *t, const char *tool, const struct wlb_packrun *run,
			const struct wlb_named_run *cmp, int n_cmp);

#endif
