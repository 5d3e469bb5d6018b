/* dcp.c — the per-sequence CP degree schedulers (dcp.h). */
#include "dcp.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>

#include "grow.h"

static const char *const mode_names[] = {"static", "dynamic-megatron", "dynamic-cost"};

int wlb_dcp_mode_parse(const char *s, enum wlb_dcp_mode *out)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, mode_names[i])) {
			*out = (enum wlb_dcp_mode)i;
			return 0;
		}
	return WLB_EINVAL;
}

const char *wlb_dcp_mode_name(enum wlb_dcp_mode m)
{
	return (unsigned)m < 3 ? mode_names[m] : "?";
}

void wlb_dcp_pool_init(struct wlb_dcp_pool *pl, int ranks)
{
	pl->ranks = ranks;
	pl->n_deg = 0;
	for (int d = 1; d <= ranks && pl->n_deg < WLB_DCP_MAX_DEG - 1; d *= 2)
		if (ranks % d == 0)
			pl->deg[pl->n_deg++] = d;
	if (pl->deg[pl->n_deg - 1] != ranks) /* the full group, when P is no power of two */
		pl->deg[pl->n_deg++] = ranks;
}

void wlb_dcp_scratch_free(struct wlb_dcp_scratch *x)
{
	free(x->free);
	free(x->key);
	free(x->area);
	free(x->idx);
	free(x->alt);
	free(x->sorted);
	memset(x, 0, sizeof *x);
}

static double group_start(const double *free, int r0, int d)
{
	double s = 0;
	for (int r = r0; r < r0 + d; r++)
		s = free[r] > s ? free[r] : s;
	return s;
}

double wlb_dcp_time(const struct wlb_dcp_problem *pr, struct wlb_dcp_place *places, size_t n,
		    double *free)
{
	const struct wlb_dcp_pool *pl = pr->pool;
	double span = 0;

	memset(free, 0, (size_t)pl->ranks * sizeof *free);
	for (size_t i = 0; i < n; i++) {
		struct wlb_dcp_place *p = &places[i];
		int d = pl->deg[p->k], r0 = (int)p->group * d;
		p->start = group_start(free, r0, d);
		p->end = p->start + pr->cost[(size_t)p->seq * pl->n_deg + p->k];
		for (int r = r0; r < r0 + d; r++)
			free[r] = p->end;
		span = p->end > span ? p->end : span;
	}
	return span;
}

static int grow(const struct wlb_dcp_problem *pr, struct wlb_dcp_scratch *x, struct wlb_error *err)
{
	size_t n = pr->n > 0 ? pr->n : 1;
	if (WLB_GROW(x->free, x->cap_free, (size_t)pr->pool->ranks) || WLB_GROW(x->key, x->cap_key, n) ||
	    WLB_GROW(x->area, x->cap_area, n) || WLB_GROW(x->idx, x->cap_idx, n) ||
	    WLB_GROW(x->alt, x->cap_alt, n) || WLB_GROW(x->sorted, x->cap_sorted, n))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	return 0;
}

/* The smallest allowed degree of sequence i, or -1. */
static int min_k(const struct wlb_dcp_problem *pr, size_t i)
{
	for (int k = 0; k < pr->pool->n_deg; k++)
		if (pr->cost[i * pr->pool->n_deg + k] >= 0)
			return k;
	return -1;
}

/* x->idx = 0..n-1 ordered by x->key descending, ties by ascending index
 * (gsl's sort is not stable: runs of equal keys are put in order after). */
static void order_desc(struct wlb_dcp_scratch *x, size_t n)
{
	size_t *tmp = x->sorted;
	for (size_t i = 0; i < n; i++)
		x->area[i] = -x->key[i];
	gsl_sort_index(tmp, x->area, 1, n);
	/* equal keys: ascending index, by insertion inside each run of ties */
	for (size_t a = 0; a < n;) {
		size_t b = a + 1;
		while (b < n && x->area[tmp[b]] == x->area[tmp[a]])
			b++;
		for (size_t i = a + 1; i < b; i++)
			for (size_t j = i; j > a && tmp[j - 1] > tmp[j]; j--) {
				size_t t = tmp[j];
				tmp[j] = tmp[j - 1];
				tmp[j - 1] = t;
			}
		a = b;
	}
	for (size_t i = 0; i < n; i++)
		x->idx[i] = (uint32_t)tmp[i];
}

int wlb_dcp_megatron(const struct wlb_dcp_problem *pr, struct wlb_dcp_scratch *x,
		     struct wlb_dcp_place *out, struct wlb_error *err)
{
	const struct wlb_dcp_pool *pl = pr->pool;
	int rc;

	if ((rc = grow(pr, x, err)))
		return rc;
	for (size_t i = 0; i < pr->n; i++) {
		int k = min_k(pr, i);
		if (k < 0)
			return wlb_error_set(err, WLB_EINVAL, "sequence %zu fits no CP degree of the pool", i);
		x->key[i] = pr->sq[i] / pl->deg[k];
	}
	order_desc(x, pr->n);
	/* LPT on the estimate: per-rank estimated load in free[] */
	memset(x->free, 0, (size_t)pl->ranks * sizeof *x->free);
	for (size_t j = 0; j < pr->n; j++) {
		uint32_t i = x->idx[j];
		int k = min_k(pr, i), d = pl->deg[k], best = 0;
		double best_load = 0;
		for (int g = 0; g < pl->ranks / d; g++) {
			double load = group_start(x->free, g * d, d);
			if (g == 0 || load < best_load) {
				best_load = load;
				best = g;
			}
		}
		for (int r = best * d; r < best * d + d; r++)
			x->free[r] = best_load + x->key[i];
		out[j] = (struct wlb_dcp_place){i, (uint32_t)best, k, 0, 0};
	}
	wlb_dcp_time(pr, out, pr->n, x->free);
	return 0;
}

/* Greedy over sequences by their smallest GPU-time (degree x time), largest
 * first.  For each, every (degree, aligned group) is scored by a lower bound
 * on the final makespan: max(the latest finish so far with it, (GPU-time
 * committed, idle gaps included, + the remaining sequences' smallest GPU-time)
 * / P); ties go to the smaller GPU-time, then the smaller degree and group. */
int wlb_dcp_cost(const struct wlb_dcp_problem *pr, struct wlb_dcp_scratch *x,
		 struct wlb_dcp_place *out, struct wlb_error *err)
{
	const struct wlb_dcp_pool *pl = pr->pool;
	double remaining = 0, committed = 0, span = 0, P = pl->ranks;
	int rc;

	if ((rc = grow(pr, x, err)))
		return rc;
	for (size_t i = 0; i < pr->n; i++) {
		double a = -1;
		for (int k = 0; k < pl->n_deg; k++) {
			double c = pr->cost[i * pl->n_deg + k];
			if (c >= 0 && (a < 0 || pl->deg[k] * c < a))
				a = pl->deg[k] * c;
		}
		if (a < 0)
			return wlb_error_set(err, WLB_EINVAL, "sequence %zu fits no CP degree of the pool", i);
		x->key[i] = a;
		remaining += a;
	}
	order_desc(x, pr->n);
	double *free = x->free;
	memset(free, 0, (size_t)pl->ranks * sizeof *free);
	for (size_t j = 0; j < pr->n; j++) {
		uint32_t i = x->idx[j];
		double best_lb = 0, best_area = 0;
		int best_k = -1, best_g = 0;
		remaining -= x->key[i];
		for (int k = 0; k < pl->n_deg; k++) {
			double c = pr->cost[(size_t)i * pl->n_deg + k];
			int d = pl->deg[k];
			if (c < 0)
				continue;
			for (int g = 0; g < pl->ranks / d; g++) {
				double s = group_start(free, g * d, d), idle = 0;
				for (int r = g * d; r < g * d + d; r++)
					idle += s - free[r];
				double area = d * c + idle, end = s + c;
				double lb = end > span ? end : span, fill = (committed + area + remaining) / P;
				lb = fill > lb ? fill : lb;
				if (best_k < 0 || lb < best_lb || (lb == best_lb && area < best_area)) {
					best_lb = lb;
					best_area = area;
					best_k = k;
					best_g = g;
				}
			}
		}
		int d = pl->deg[best_k];
		double s = group_start(free, best_g * d, d), end = s + pr->cost[(size_t)i * pl->n_deg + best_k];
		for (int r = best_g * d; r < best_g * d + d; r++)
			free[r] = end;
		committed += best_area;
		span = end > span ? end : span;
		out[j] = (struct wlb_dcp_place){i, (uint32_t)best_g, best_k, s, end};
	}
	/* Megatron's placement, with the same costs, when it is shorter */
	struct wlb_dcp_place *alt = x->alt;
	double mine = wlb_dcp_time(pr, out, pr->n, free);
	if ((rc = wlb_dcp_megatron(pr, x, alt, err)))
		return rc;
	double theirs = wlb_dcp_time(pr, alt, pr->n, free);
	if (theirs < mine)
		memcpy(out, alt, pr->n * sizeof *out);
	else
		wlb_dcp_time(pr, out, pr->n, free);
	return 0;
}
