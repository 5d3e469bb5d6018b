/* curve.h — one time-over-size curve of the cost model (cost.c): monotone,
 * interpolated in log-log space; not part of the library's interface. */
#ifndef WLB_CURVE_H
#define WLB_CURVE_H

#include <stddef.h>

#include <gsl/gsl_interp.h>

#include "cost.h"

/* Beyond the largest sample: time scales with the size (roofline), or grows
 * by a fitted bandwidth term (alpha-beta). */
enum wlb_curve_extrap { WLB_CURVE_SCALE, WLB_CURVE_ALPHA_BETA };

struct wlb_curve {
	size_t n;
	double *x, *t;        /* sizes and times, x strictly increasing, t non-decreasing */
	double *lx, *lt;      /* their logs, for the interpolant */
	gsl_interp *interp;   /* Steffen (n >= 3) or linear (n == 2); NULL for n == 1 */
	enum wlb_curve_extrap mode;
	double beta;          /* alpha-beta: fitted us per unit of x beyond the last sample */
};

struct wlb_curve_pt { double x, t; };

/* Builds c from n points (sorted here; equal sizes averaged; times made
 * non-decreasing — a larger size is never faster, so noise is flattened).
 * 0 or WLB_ENOMEM; free c with wlb_curve_free either way. */
int wlb_curve_build(struct wlb_curve *c, struct wlb_curve_pt *p, size_t n,
		    enum wlb_curve_extrap mode);
void wlb_curve_free(struct wlb_curve *c);
/* log of the time at x (lx = log x, given so callers that know it save a log). */
double wlb_curve_eval_log(const struct wlb_curve *c, double x, double lx, enum wlb_est *how);
double wlb_curve_eval(const struct wlb_curve *c, double x, enum wlb_est *how);

#endif
