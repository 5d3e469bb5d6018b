/* validate.h — wlb-tune --validate: the tuner's pick and Plain-4D on the
 * same parallel layout, each run by wlb-run (the real backend) against its
 * own wlb-sim prediction, and the measured speedup beside the predicted. */
#ifndef WLB_VALIDATE_H
#define WLB_VALIDATE_H

#include <stdint.h>

#include "cost.h"
#include "trace.h"

/* best: the trace with the tuner's #1 applied; trace_path: the trace file
 * wlb-run reads the documents from; device: wlb-run's --device (NULL: its
 * default).  Prints the two runs' comparisons and the speedups; returns 0,
 * or 1 after printing why. */
int wlb_tune_validate(const char *trace_path, const struct wlb_trace *best, struct wlb_cost *cost,
		      const char *costdb, uint32_t iterations, const char *device);

#endif
