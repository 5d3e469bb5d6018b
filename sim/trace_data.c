/* trace_data.c — the data section of trace.json: where the documents come
 * from (a distribution, explicit batches, or a lengths file), read with the
 * loader's helpers (trace_int.h), and the checks of a trace's data source. */
#include "trace_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys and component kinds ---- */

static const char *const data_keys[] = {
	"iterations", "seed", "distribution", "batches", "lengths_file", NULL,
};
static const char *const dist_keys[] = {"preset", "mixture", NULL};
static const char *const comp_keys[] = {
	"weight", "lognormal", "pareto", "uniform", "point", "min", "max", NULL,
};
static const char *const lognormal_keys[] = {"mu", "sigma", NULL};
static const char *const pareto_keys[] = {"x0", "alpha", NULL};
static const char *const uniform_keys[] = {"lo", "hi", NULL};

const struct wlb_trace_dist_kind wlb_trace_dist_kinds[WLB_TRACE_DIST_KINDS] = {
	{"lognormal", WLB_DIST_LOGNORMAL, lognormal_keys},
	{"pareto", WLB_DIST_PARETO, pareto_keys},
	{"uniform", WLB_DIST_UNIFORM, uniform_keys},
	{"point", WLB_DIST_POINT, NULL},
};

/* ---- reading ---- */

static int get_num(struct wlb_ld *l, json_t *obj, const char *key, int req, double *out)
{
	json_t *v = wlb_ld_enter(l, obj, key);
	int rc = 1;

	if (!v)
		return req ? wlb_ld_missing(l, key, "a number") : 0;
	if (!json_is_number(v))
		rc = wlb_ld_bad(l, v, WLB_EINVAL, "a number");
	else
		*out = json_number_value(v);
	wlb_ld_pop(l);
	return rc;
}

/* Exactly one of names[0..n) in obj (the current object): its index, or a
 * negative wlb_err naming what is missing or doubled. */
static int one_of(struct wlb_ld *l, json_t *obj, const char *const *names, size_t n)
{
	char list[128], p[160];
	int found = -1, rc;

	list[0] = '\0';
	for (size_t i = 0, m = 0; i < n; i++)
		m += (size_t)snprintf(list + m, m < sizeof list ? sizeof list - m : 0, "%s%s",
				      i ? ", " : "", names[i]);
	wlb_json_path_format(&l->path, p, sizeof p);
	for (size_t i = 0; i < n; i++) {
		if (!json_object_get(obj, names[i]))
			continue;
		if (found >= 0) {
			wlb_ld_push(l, names[i], 0);
			rc = wlb_ld_fail_at(l, 1, WLB_EINVAL,
					    "%s has both \"%s\" and \"%s\" (expected exactly one "
					    "of: %s)", p, names[found], names[i], list);
			wlb_ld_pop(l);
			return rc;
		}
		found = (int)i;
	}
	if (found < 0)
		return wlb_ld_fail_at(l, 0, WLB_EINVAL, "%s needs one of: %s", p, list);
	return found;
}

static int parse_component(struct wlb_ld *l, json_t *v, struct wlb_dist_component *c)
{
	const struct wlb_trace_dist_kind *kd;
	const char *names[WLB_TRACE_DIST_KINDS];
	json_t *x;
	int k, rc;

	for (size_t i = 0; i < WLB_TRACE_DIST_KINDS; i++)
		names[i] = wlb_trace_dist_kinds[i].name;
	if ((rc = wlb_ld_obj_keys(l, v, comp_keys)) < 0 ||
	    (rc = get_num(l, v, "weight", 1, &c->weight)) < 0 ||
	    (k = rc = one_of(l, v, names, WLB_TRACE_DIST_KINDS)) < 0)
		return rc;
	kd = &wlb_trace_dist_kinds[k];
	c->kind = kd->kind;
	if (!kd->keys) {
		if ((rc = get_num(l, v, kd->name, 1, &c->a)) < 0)
			return rc;
	} else {
		x = wlb_ld_enter(l, v, kd->name);
		if ((rc = wlb_ld_obj_keys(l, x, kd->keys)) >= 0 &&
		    (rc = get_num(l, x, kd->keys[0], 1, &c->a)) >= 0)
			rc = get_num(l, x, kd->keys[1], 1, &c->b);
		wlb_ld_pop(l);
		if (rc < 0)
			return rc;
	}
	if ((rc = get_num(l, v, "min", 0, &c->min)) < 0 ||
	    (rc = get_num(l, v, "max", 0, &c->max)) < 0)
		return rc;
	return 0;
}

static int parse_dist(struct wlb_ld *l, json_t *v, struct wlb_dist *d)
{
	json_t *x;
	int rc;

	if ((rc = wlb_ld_obj_keys(l, v, dist_keys)) < 0 || (rc = one_of(l, v, dist_keys, 2)) < 0)
		return rc;
	if (rc == 0) {
		x = wlb_ld_enter(l, v, "preset");
		if (!json_is_string(x))
			rc = wlb_ld_bad(l, x, WLB_EINVAL, "a distribution preset name");
		else if ((rc = wlb_dist_preset(json_string_value(x), d, l->err)) < 0)
			rc = wlb_ld_prefix_here(l);
		wlb_ld_pop(l);
		return rc;
	}
	x = wlb_ld_enter(l, v, "mixture");
	if (!json_is_array(x) || !json_array_size(x) ||
	    json_array_size(x) > WLB_DIST_MAX_COMPONENTS) {
		rc = wlb_ld_bad(l, x, WLB_EINVAL, "an array of 1 to %d components",
				WLB_DIST_MAX_COMPONENTS);
		goto out;
	}
	memset(d, 0, sizeof *d);
	d->n = (int)json_array_size(x);
	for (size_t i = 0; i < json_array_size(x); i++) {
		wlb_ld_push(l, NULL, i);
		rc = parse_component(l, json_array_get(x, i), &d->c[i]);
		wlb_ld_pop(l);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	wlb_ld_pop(l);
	return rc;
}

/* v: the current value, data.batches. */
static int parse_batches(struct wlb_ld *l, json_t *v, struct wlb_source *s)
{
	size_t nb, total = 0, k = 0;
	int rc = 0;

	if (!json_is_array(v) || !(nb = json_array_size(v)))
		return wlb_ld_bad(l, v, WLB_EINVAL, "a non-empty array of batches");
	for (size_t i = 0; i < nb; i++) {
		json_t *b = json_array_get(v, i);

		if (!json_is_array(b) || !json_array_size(b)) {
			wlb_ld_push(l, NULL, i);
			rc = wlb_ld_bad(l, b, WLB_EINVAL, "a non-empty array of document lengths");
			wlb_ld_pop(l);
			return rc;
		}
		total += json_array_size(b);
	}
	s->lens = malloc(total * sizeof *s->lens);
	s->batch_start = malloc((nb + 1) * sizeof *s->batch_start);
	if (!s->lens || !s->batch_start)
		return wlb_error_set(l->err, WLB_ENOMEM, "%s: out of memory", l->file);
	for (size_t i = 0; i < nb; i++) {
		json_t *b = json_array_get(v, i);

		s->batch_start[i] = k;
		wlb_ld_push(l, NULL, i);
		for (size_t j = 0; j < json_array_size(b) && rc >= 0; j++) {
			long long x = 0;

			wlb_ld_push(l, NULL, j);
			if ((rc = wlb_ld_val_int(l, json_array_get(b, j), 1, UINT32_MAX, &x)) >= 0)
				s->lens[k++] = (uint32_t)x;
			wlb_ld_pop(l);
		}
		wlb_ld_pop(l);
		if (rc < 0)
			return rc;
	}
	s->batch_start[nb] = k;
	s->n_lens = k;
	s->n_batches = nb;
	s->kind = WLB_SOURCE_BATCHES;
	return 0;
}

/* v: the current value, data.lengths_file. */
static int parse_lengths(struct wlb_ld *l, json_t *v, struct wlb_trace *t)
{
	char full[1100];
	const char *f = t->lengths_file;
	int rc, n;

	if ((rc = wlb_ld_val_str(l, v, 0, t->lengths_file, sizeof t->lengths_file)) < 0)
		return rc;
	if (f[0] == '/' || !l->dir[0])
		n = snprintf(full, sizeof full, "%s", f);
	else
		n = snprintf(full, sizeof full, "%s/%s", l->dir, f);
	if (n < 0 || (size_t)n >= sizeof full)
		return wlb_ld_bad(l, v, WLB_EINVAL, "a shorter path");
	if ((rc = wlb_lengths_read(full, &t->source.lens, &t->source.n_lens, l->err)) < 0)
		return wlb_ld_prefix_here(l);
	t->source.kind = WLB_SOURCE_LENGTHS;
	return 0;
}

int wlb_ld_parse_data(struct wlb_ld *l, json_t *v, struct wlb_trace *t)
{
	static const char *const sources[] = {"distribution", "batches", "lengths_file"};
	long long it = 0, seed;
	int rc, has_it, which;
	json_t *x;

	if ((rc = wlb_ld_obj_keys(l, v, data_keys)) < 0 ||
	    (which = rc = one_of(l, v, sources, 3)) < 0 ||
	    (has_it = rc = wlb_ld_get_int(l, v, "iterations", 0, 1, UINT32_MAX, &it)) < 0)
		return rc;
	if ((rc = wlb_ld_get_int(l, v, "seed", 0, 0, LLONG_MAX, &seed)) < 0)
		return rc;
	if (rc)
		t->source.seed = (uint64_t)seed;
	x = wlb_ld_enter(l, v, sources[which]);
	switch (which) {
	case 0:
		if ((rc = parse_dist(l, x, &t->source.dist)) >= 0)
			t->source.kind = WLB_SOURCE_DIST;
		break;
	case 1:
		rc = parse_batches(l, x, &t->source);
		break;
	default:
		rc = parse_lengths(l, x, t);
		break;
	}
	wlb_ld_pop(l);
	if (rc < 0)
		return rc;
	if (which == 1 && has_it && (size_t)it != t->source.n_batches) {
		x = wlb_ld_enter(l, v, "iterations");
		rc = wlb_ld_bad(l, x, WLB_EINVAL, "the number of batches (%zu)",
				t->source.n_batches);
		wlb_ld_pop(l);
		return rc;
	}
	if (has_it)
		t->iterations = (uint32_t)it;
	else
		t->iterations = which == 1 ? (uint32_t)t->source.n_batches : which == 2 ? 0 : 1;
	return 0;
}

/* ---- checks ---- */

int wlb_ld_check_data(const struct wlb_trace *t, const struct wlb_ld *l, struct wlb_error *err)
{
	const struct wlb_source *s = &t->source;
	int rc;

	if (t->iterations > WLB_MAX_ITERATIONS)
		return wlb_ld_cfail(l, err, "data", WLB_ERANGE,
				    "data.iterations must be at most %d, got %u", WLB_MAX_ITERATIONS,
				    t->iterations);
	if ((s->kind == WLB_SOURCE_BATCHES || s->kind == WLB_SOURCE_LENGTHS) &&
	    s->n_lens > WLB_MAX_DOCUMENTS)
		return wlb_ld_cfail(l, err, "data", WLB_ERANGE,
				    "%s must hold at most %d documents, got %zu",
				    s->kind == WLB_SOURCE_BATCHES ? "data.batches" : "data.lengths_file",
				    WLB_MAX_DOCUMENTS, s->n_lens);
	if (s->seed > (uint64_t)LLONG_MAX)
		return wlb_ld_cfail(l, err, "data", WLB_ERANGE,
				    "data.seed must be at most %lld, got %llu", LLONG_MAX,
				    (unsigned long long)s->seed);
	switch (s->kind) {
	case WLB_SOURCE_DIST:
		if ((rc = wlb_dist_check(&s->dist, err)) < 0)
			return wlb_ld_place(l, "data.distribution", err);
		/* longer documents are cut to the context, but a distribution with
		 * nothing else is a mistake (a mu of 1e300, a tail in the wrong unit) */
		if (!(wlb_dist_mass_upto(&s->dist, t->context) > 0))
			return wlb_ld_cfail(l, err, "data.distribution", WLB_EINVAL,
					    "data.distribution has no probability mass in [1, context = %u] "
					    "tokens: every document would be longer than the context",
					    t->context);
		if (t->iterations < 1)
			return wlb_ld_cfail(l, err, "data", WLB_EINVAL,
					    "data.iterations must be a positive integer for a "
					    "distribution, got 0");
		return 0;
	case WLB_SOURCE_BATCHES:
		if (!s->n_batches || !s->lens || !s->batch_start)
			return wlb_ld_cfail(l, err, "data", WLB_EINVAL,
					    "data.batches holds no batches");
		for (size_t i = 0; i < s->n_batches; i++) {
			if (s->batch_start[i + 1] <= s->batch_start[i] ||
			    s->batch_start[i + 1] > s->n_lens)
				return wlb_ld_cfail(l, err, "data", WLB_EINVAL,
						    "data.batches[%zu] must be a non-empty array "
						    "of document lengths", i);
			for (size_t j = s->batch_start[i]; j < s->batch_start[i + 1]; j++)
				if (!s->lens[j])
					return wlb_ld_cfail(l, err, "data", WLB_EINVAL,
							    "data.batches[%zu][%zu] must be a "
							    "positive integer, got 0", i,
							    j - s->batch_start[i]);
		}
		if (t->iterations > s->n_batches)
			return wlb_ld_cfail(l, err, "data", WLB_EINVAL,
					    "data.iterations must be at most the number of batches "
					    "(%zu), got %u", s->n_batches, t->iterations);
		return 0;
	case WLB_SOURCE_LENGTHS:
		if (!s->n_lens || !s->lens)
			return wlb_ld_cfail(l, err, "data", WLB_EINVAL,
					    "data.lengths_file holds no lengths");
		return 0;
	case WLB_SOURCE_CALLBACK: /* the library's, never a trace's */
		break;
	}
	return wlb_ld_cfail(l, err, "data", WLB_EINVAL, "data has an unknown source kind (%d)",
			    (int)s->kind);
}
