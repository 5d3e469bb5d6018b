/* curve.c — one curve of the cost model: time over a size, monotone,
 * interpolated in log-log space (GSL's Steffen spline; linear below three
 * points), extrapolated as a roofline or an alpha-beta line (curve.h). */
#include "curve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_fit.h>

static int by_x(const void *a, const void *b)
{
	const struct wlb_curve_pt *p = a, *q = b;
	return (p->x > q->x) - (p->x < q->x);
}

/* Builds c from n points (sorted here; equal sizes averaged; times made
 * non-decreasing — a larger size is never faster, so noise is flattened). */
int wlb_curve_build(struct wlb_curve *c, struct wlb_curve_pt *p, size_t n,
		    enum wlb_curve_extrap mode)
{
	size_t m = 0;

	memset(c, 0, sizeof *c);
	qsort(p, n, sizeof *p, by_x);
	c->x = malloc(n * sizeof *c->x);
	c->t = malloc(n * sizeof *c->t);
	c->lx = malloc(n * sizeof *c->lx);
	c->lt = malloc(n * sizeof *c->lt);
	if (!c->x || !c->t || !c->lx || !c->lt)
		return WLB_ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		double sum = 0;
		while (j < n && p[j].x == p[i].x)
			sum += p[j++].t;
		c->x[m] = p[i].x;
		c->t[m] = sum / (double)(j - i);
		if (m > 0 && c->t[m] < c->t[m - 1])
			c->t[m] = c->t[m - 1];
		m++;
		i = j;
	}
	c->n = m;
	for (size_t i = 0; i < m; i++) {
		c->lx[i] = log(c->x[i]);
		c->lt[i] = log(c->t[i] > 1e-9 ? c->t[i] : 1e-9);
	}
	if (m >= 2) {
		c->interp = gsl_interp_alloc(m >= 3 ? gsl_interp_steffen : gsl_interp_linear, m);
		if (!c->interp || gsl_interp_init(c->interp, c->lx, c->lt, m))
			return WLB_ENOMEM;
	}
	c->mode = mode;
	if (mode == WLB_CURVE_ALPHA_BETA && m >= 2) {
		/* bandwidth term from a least-squares line over the upper half */
		size_t h = m / 2;
		double c0, c1, cov00, cov01, cov11, ss;
		gsl_fit_linear(c->x + h, 1, c->t + h, 1, m - h, &c0, &c1, &cov00, &cov01, &cov11, &ss);
		c->beta = c1 > 0 ? c1 : c->t[m - 1] / c->x[m - 1];
	} else if (m >= 1) {
		c->beta = c->t[m - 1] / c->x[m - 1];
	}
	return 0;
}

void wlb_curve_free(struct wlb_curve *c)
{
	if (c->interp)
		gsl_interp_free(c->interp);
	free(c->x);
	free(c->t);
	free(c->lx);
	free(c->lt);
}

/* log of the time at x (lx = log x, given so callers that know it save a log). */
double wlb_curve_eval_log(const struct wlb_curve *c, double x, double lx, enum wlb_est *how)
{
	size_t n = c->n;

	if (x < c->x[0]) {
		*how = WLB_EST_EXTRAP; /* below the smallest sample: its time is the floor */
		return c->lt[0];
	}
	if (x > c->x[n - 1]) {
		*how = WLB_EST_EXTRAP;
		if (c->mode == WLB_CURVE_ALPHA_BETA)
			return log(c->t[n - 1] + c->beta * (x - c->x[n - 1]));
		return c->lt[n - 1] + lx - c->lx[n - 1]; /* roofline: time grows with the work */
	}
	size_t lo = 0, hi = n - 1;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (c->x[mid] <= x)
			lo = mid;
		else
			hi = mid;
	}
	if (x == c->x[lo] || x == c->x[hi]) {
		*how = WLB_EST_EXACT;
		return x == c->x[lo] ? c->lt[lo] : c->lt[hi];
	}
	*how = WLB_EST_INTERP;
	return gsl_interp_eval(c->interp, c->lx, c->lt, lx, NULL);
}

double wlb_curve_eval(const struct wlb_curve *c, double x, enum wlb_est *how)
{
	return exp(wlb_curve_eval_log(c, x, log(x), how));
}
