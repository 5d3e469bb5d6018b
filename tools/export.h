/* export.h — a configuration as Megatron-LM arguments or a TorchTitan TOML. */
#ifndef WLB_EXPORT_H
#define WLB_EXPORT_H

#include "trace.h"

/* Print the model and context of t under parallel layout p and policy pol
 * to stdout, a comment line for whatever the framework cannot express. */
void wlb_export_megatron(const struct wlb_trace *t, const struct wlb_parallel *p,
			 const struct wlb_policy *pol);
void wlb_export_torchtitan(const struct wlb_trace *t, const struct wlb_parallel *p,
			   const struct wlb_policy *pol);

#endif
