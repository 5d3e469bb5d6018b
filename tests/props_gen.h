/* props_gen.h — the random traces of the property tests (props.c): models,
 * layouts, document sources and policies drawn from one GSL generator, so a
 * case is replayed from its seed alone. */
#ifndef WLB_PROPS_GEN_H
#define WLB_PROPS_GEN_H

#include <gsl/gsl_rng.h>

#include "trace.h"

struct gen {
	gsl_rng *r;
	const char *preset;  /* distribution preset drawn, or NULL */
};

/* Uniform in [lo, hi]; 1 with probability p. */
int props_pick(gsl_rng *r, int lo, int hi);
int props_coin(gsl_rng *r, double p);

/* One draw of a whole trace into t (wlb_trace_init'ed here): 0 when it passes
 * wlb_trace_check, else the check's error (the caller frees t and redraws). */
int props_gen_trace(struct gen *g, struct wlb_trace *t, struct wlb_error *err);

#endif
