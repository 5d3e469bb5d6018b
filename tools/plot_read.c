/* plot_read.c — reads a wlb-report/1 for wlb-plot and checks every key it
 * uses: a key of the wrong type is an error naming the file, its line and
 * column and the key path; keys wlb-plot does not use are ignored, and the
 * keys it uses are optional unless a chart cannot do without them. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infile.h"
#include "json.h"

const char *const plot_task_kinds[PT_N] = {"fwd", "bwd", "send_fwd", "send_bwd", "dp_sync"};

struct rd {
	const char *file, *text;
	size_t len;
	struct wlb_json_path path;
	struct wlb_error *err;
};

enum { T_OBJ, T_ARR, T_STR, T_NUM, T_INT };
static const char *const t_names[] = {"an object", "an array", "a string", "a number", "an integer"};

/* The error at the current path (its value when at_value, else the object
 * that lacks a key). */
static int fail_at(struct rd *r, const char *fmt, const char *a, const char *b)
{
	char where[256], what[256];
	int line = 0, col = 0;

	wlb_json_path_format(&r->path, where, sizeof where);
	snprintf(what, sizeof what, fmt, a, b);
	if (r->text && wlb_json_locate(r->text, r->len, &r->path, 0, &line, &col) == 0)
		return wlb_error_set(r->err, WLB_EINVAL, "%s:%d:%d: %s: %s", r->file, line, col, where,
				     what);
	return wlb_error_set(r->err, WLB_EINVAL, "%s: %s: %s", r->file, where, what);
}

static int type_ok(const json_t *v, int type)
{
	switch (type) {
	case T_OBJ: return json_is_object(v);
	case T_ARR: return json_is_array(v);
	case T_STR: return json_is_string(v);
	case T_NUM: return json_is_number(v);
	default:
		return json_is_integer(v) ||
		       (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
			fabs(json_real_value(v)) < 9e15);
	}
}

/* parent's member key (or element idx when key is NULL) of the given type:
 * *out NULL when absent and not required.  Leaves the path as it was. */
static int want(struct rd *r, const json_t *parent, const char *key, size_t idx, int type, int req,
		json_t **out)
{
	json_t *v = key ? json_object_get(parent, key) : json_array_get(parent, idx);
	char got[64];
	int rc = 0;

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (req) {
			char q[80];
			snprintf(q, sizeof q, "\"%s\"", key ? key : "");
			return fail_at(r, "missing key %s%s", q, "");
		}
		return 0;
	}
	wlb_json_path_push(&r->path, key, idx);
	if (!type_ok(v, type)) {
		wlb_json_brief(v, got, sizeof got);
		rc = fail_at(r, "expected %s, got %s", t_names[type], got);
	} else if (type == T_NUM && !isfinite(json_number_value(v))) {
		rc = fail_at(r, "expected a finite number%s%s", "", "");
	}
	wlb_json_path_pop(&r->path);
	if (rc == 0)
		*out = v;
	return rc;
}

static int get_num(struct rd *r, const json_t *o, const char *key, int req, double *x)
{
	json_t *v;
	int rc = want(r, o, key, 0, T_NUM, req, &v);
	*x = v ? json_number_value(v) : NAN;
	return rc;
}

/* An integer in [lo, hi]; keeps *x when absent. */
static int get_int(struct rd *r, const json_t *o, const char *key, int req, long long lo, long long hi,
		   long long *x)
{
	json_t *v;
	int rc = want(r, o, key, 0, T_INT, req, &v);
	if (rc || !v)
		return rc;
	long long n = (long long)json_number_value(v);
	if (n < lo || n > hi) {
		char a[32], b[64];
		snprintf(a, sizeof a, "%lld", lo);
		snprintf(b, sizeof b, "%lld, got %lld", hi, n);
		wlb_json_path_push(&r->path, key, 0);
		rc = fail_at(r, "expected an integer from %s to %s", a, b);
		wlb_json_path_pop(&r->path);
		return rc;
	}
	*x = n;
	return 0;
}

static int get_i(struct rd *r, const json_t *o, const char *key, int req, int lo, int hi, int *x)
{
	long long v = *x;
	int rc = get_int(r, o, key, req, lo, hi, &v);
	*x = (int)v;
	return rc;
}

static int get_str(struct rd *r, const json_t *o, const char *key, int req, const char **s)
{
	json_t *v;
	int rc = want(r, o, key, 0, T_STR, req, &v);
	*s = v ? json_string_value(v) : NULL;
	return rc;
}

/* The array o[key] of numbers into a new array *x of *n (NULL, 0 when absent). */
static int get_nums(struct rd *r, const json_t *o, const char *key, int req, double **x, size_t *n)
{
	json_t *a, *e;
	int rc = want(r, o, key, 0, T_ARR, req, &a);

	*x = NULL;
	*n = 0;
	if (rc || !a)
		return rc;
	if (!(*x = calloc(json_array_size(a) + 1, sizeof **x)))
		return wlb_error_set(r->err, WLB_ENOMEM, "%s: out of memory", r->file);
	*n = json_array_size(a);
	wlb_json_path_push(&r->path, key, 0);
	for (size_t i = 0; i < *n && rc == 0; i++)
		if ((rc = want(r, a, NULL, i, T_NUM, 1, &e)) == 0)
			(*x)[i] = json_number_value(e);
	wlb_json_path_pop(&r->path);
	return rc;
}

static void policy_free(struct plot_policy *p)
{
	for (size_t i = 0; i < p->n_iters; i++) {
		free(p->iters[i].fwd_ms);
		free(p->iters[i].bwd_ms);
	}
	free(p->iters);
	p->iters = NULL;
	p->n_iters = 0;
}

/* The figures of a summary or a comparison entry. */
static int read_figures(struct rd *r, const json_t *o, struct plot_policy *p)
{
	int rc;
	if ((rc = get_num(r, o, "iteration_ms_mean", 0, &p->iter_ms)) ||
	    (rc = get_num(r, o, "speedup", 0, &p->speedup)) ||
	    (rc = get_num(r, o, "imbalance_pp", 0, &p->imb_pp)) ||
	    (rc = get_num(r, o, "imbalance_cp", 0, &p->imb_cp)) ||
	    (rc = get_num(r, o, "mfu", 0, &p->mfu)))
		return rc;
	return get_num(r, o, "token_delay_iters", 0, &p->delay);
}

/* comparison[i].iterations: {time_ms, fwd_ms[], bwd_ms[]} each. */
static int read_cmp_iters(struct rd *r, const json_t *a, struct plot_policy *p)
{
	json_t *it;
	int rc = 0;

	if (!(p->iters = calloc(json_array_size(a) + 1, sizeof *p->iters)))
		return wlb_error_set(r->err, WLB_ENOMEM, "%s: out of memory", r->file);
	p->n_iters = json_array_size(a);
	for (size_t k = 0; k < p->n_iters && rc == 0; k++) {
		struct plot_iter *pi = &p->iters[k];
		size_t nb;
		if ((rc = want(r, a, NULL, k, T_OBJ, 1, &it)))
			break;
		wlb_json_path_push(&r->path, NULL, k);
		if (!(rc = get_num(r, it, "time_ms", 0, &pi->time_ms)) &&
		    !(rc = get_nums(r, it, "fwd_ms", 0, &pi->fwd_ms, &pi->n_mb)) &&
		    !(rc = get_nums(r, it, "bwd_ms", pi->fwd_ms != NULL, &pi->bwd_ms, &nb)) &&
		    nb != pi->n_mb) {
			wlb_json_path_push(&r->path, "bwd_ms", 0);
			char a1[32], a2[32];
			snprintf(a1, sizeof a1, "%zu", nb);
			snprintf(a2, sizeof a2, "%zu", pi->n_mb);
			rc = fail_at(r, "holds %s times but fwd_ms holds %s", a1, a2);
			wlb_json_path_pop(&r->path);
		}
		wlb_json_path_pop(&r->path);
		p->has_times |= !isnan(pi->time_ms);
		p->has_mb |= pi->n_mb > 0;
	}
	return rc;
}

/* Top-level iterations[]: time_ms and microbatches[] with replica, position,
 * fwd_ms, bwd_ms (placed in pipeline order when replica and position are given). */
static int read_main_iters(struct rd *r, const json_t *a, struct plot_report *rep)
{
	struct plot_policy *p = &rep->main;
	json_t *it, *mbs, *mb;
	int rc = 0;

	if (!(p->iters = calloc(json_array_size(a) + 1, sizeof *p->iters)))
		return wlb_error_set(r->err, WLB_ENOMEM, "%s: out of memory", r->file);
	p->n_iters = json_array_size(a);
	for (size_t k = 0; k < p->n_iters && rc == 0; k++) {
		struct plot_iter *pi = &p->iters[k];
		if ((rc = want(r, a, NULL, k, T_OBJ, 1, &it)))
			break;
		wlb_json_path_push(&r->path, NULL, k);
		if (!(rc = get_num(r, it, "time_ms", 0, &pi->time_ms)))
			rc = want(r, it, "microbatches", 0, T_ARR, 0, &mbs);
		if (rc == 0 && mbs && json_array_size(mbs)) {
			size_t n = json_array_size(mbs);
			wlb_json_path_push(&r->path, "microbatches", 0);
			pi->fwd_ms = calloc(n, sizeof *pi->fwd_ms);
			pi->bwd_ms = calloc(n, sizeof *pi->bwd_ms);
			if (!pi->fwd_ms || !pi->bwd_ms)
				rc = wlb_error_set(r->err, WLB_ENOMEM, "%s: out of memory", r->file);
			int all = 1;
			for (size_t j = 0; j < n && rc == 0; j++) {
				double f, b;
				int rep_i = -1, pos = -1;
				if ((rc = want(r, mbs, NULL, j, T_OBJ, 1, &mb)))
					break;
				wlb_json_path_push(&r->path, NULL, j);
				if (!(rc = get_i(r, mb, "replica", 0, 0, 1 << 20, &rep_i)) &&
				    !(rc = get_i(r, mb, "position", 0, 0, 1 << 20, &pos)) &&
				    !(rc = get_num(r, mb, "fwd_ms", 0, &f)))
					rc = get_num(r, mb, "bwd_ms", 0, &b);
				wlb_json_path_pop(&r->path);
				if (rc)
					break;
				size_t slot = j;
				if (rep_i >= 0 && pos >= 0 && rep->m > 0 &&
				    (size_t)rep_i * (size_t)rep->m + (size_t)pos < n)
					slot = (size_t)rep_i * (size_t)rep->m + (size_t)pos;
				if (isnan(f) || isnan(b))
					all = 0;
				pi->fwd_ms[slot] = f;
				pi->bwd_ms[slot] = b;
			}
			wlb_json_path_pop(&r->path);
			if (all)
				pi->n_mb = n;
		}
		wlb_json_path_pop(&r->path);
		p->has_times |= !isnan(pi->time_ms);
		p->has_mb |= pi->n_mb > 0;
	}
	return rc;
}

static int read_config(struct rd *r, const json_t *root, struct plot_report *p)
{
	json_t *c, *m, *par, *pol;
	int rc;

	if ((rc = want(r, root, "config", 0, T_OBJ, 0, &c)) || !c)
		return rc;
	wlb_json_path_push(&r->path, "config", 0);
	if ((rc = get_str(r, c, "name", 0, &p->name)) ||
	    (rc = get_int(r, c, "context", 0, 1, 1LL << 40, &p->context)))
		goto done;
	m = json_object_get(c, "model");
	if (json_is_string(m)) {
		p->model = json_string_value(m);
	} else if (m && !json_is_null(m)) {
		if ((rc = want(r, c, "model", 0, T_OBJ, 0, &m)))
			goto done;
		wlb_json_path_push(&r->path, "model", 0);
		rc = get_str(r, m, "name", 0, &p->model);
		wlb_json_path_pop(&r->path);
		if (rc)
			goto done;
	}
	if ((rc = want(r, c, "parallel", 0, T_OBJ, 0, &par)))
		goto done;
	if (par) {
		wlb_json_path_push(&r->path, "parallel", 0);
		if (!(rc = get_i(r, par, "tp", 0, 1, 1 << 20, &p->tp)) &&
		    !(rc = get_i(r, par, "cp", 0, 1, 1 << 20, &p->cp)) &&
		    !(rc = get_i(r, par, "pp", 0, 1, 1 << 20, &p->pp)) &&
		    !(rc = get_i(r, par, "dp", 0, 1, 1 << 20, &p->dp)) &&
		    !(rc = get_i(r, par, "vpp", 0, 1, 1 << 20, &p->vpp)) &&
		    !(rc = get_i(r, par, "microbatches", 0, 1, 1 << 20, &p->m)))
			rc = get_str(r, par, "schedule", 0, &p->schedule);
		wlb_json_path_pop(&r->path);
		if (rc)
			goto done;
	}
	if ((rc = want(r, c, "policy", 0, T_OBJ, 0, &pol)) || !pol)
		goto done;
	wlb_json_path_push(&r->path, "policy", 0);
	if (!(rc = get_str(r, pol, "packing", 0, &p->main.packing)))
		rc = get_str(r, pol, "sharding", 0, &p->main.sharding);
	wlb_json_path_pop(&r->path);
done:
	wlb_json_path_pop(&r->path);
	return rc;
}

static int read_comparison(struct rd *r, const json_t *a, struct plot_report *p)
{
	json_t *e, *its;
	int rc = 0;

	if (!(p->cmp = calloc(json_array_size(a) + 1, sizeof *p->cmp)))
		return wlb_error_set(r->err, WLB_ENOMEM, "%s: out of memory", r->file);
	p->n_cmp = json_array_size(a);
	wlb_json_path_push(&r->path, "comparison", 0);
	for (size_t i = 0; i < p->n_cmp && rc == 0; i++) {
		struct plot_policy *c = &p->cmp[i];
		if ((rc = want(r, a, NULL, i, T_OBJ, 1, &e)))
			break;
		wlb_json_path_push(&r->path, NULL, i);
		if (!(rc = get_str(r, e, "name", 1, &c->name)) &&
		    !(rc = get_str(r, e, "packing", 0, &c->packing)) &&
		    !(rc = get_str(r, e, "sharding", 0, &c->sharding)) &&
		    !(rc = read_figures(r, e, c)) &&
		    /* wlb-trace pack's entries give "iterations" as a count */
		    !json_is_number(json_object_get(e, "iterations")) &&
		    !(rc = want(r, e, "iterations", 0, T_ARR, 0, &its)) && its) {
			wlb_json_path_push(&r->path, "iterations", 0);
			rc = read_cmp_iters(r, its, c);
			wlb_json_path_pop(&r->path);
		}
		wlb_json_path_pop(&r->path);
	}
	wlb_json_path_pop(&r->path);
	return rc;
}

static int read_cp(struct rd *r, const json_t *o, struct plot_report *p)
{
	json_t *a, *e;
	int rc;

	wlb_json_path_push(&r->path, "cp_ranks", 0);
	p->cp_iter = -1;
	if ((rc = get_i(r, o, "iteration", 0, 0, 1 << 30, &p->cp_iter)) ||
	    (rc = get_i(r, o, "cp", 1, 1, 1 << 16, &p->cp_n)) ||
	    (rc = want(r, o, "microbatches", 0, T_ARR, 1, &a)))
		goto done;
	if (!(p->cpmb = calloc(json_array_size(a) + 1, sizeof *p->cpmb))) {
		rc = wlb_error_set(r->err, WLB_ENOMEM, "%s: out of memory", r->file);
		goto done;
	}
	p->n_cpmb = json_array_size(a);
	wlb_json_path_push(&r->path, "microbatches", 0);
	for (size_t i = 0; i < p->n_cpmb && rc == 0; i++) {
		struct plot_cp_mb *c = &p->cpmb[i];
		size_t ns = 0, nd = 0;
		c->replica = 0;
		c->position = (int)i;
		if ((rc = want(r, a, NULL, i, T_OBJ, 1, &e)))
			break;
		wlb_json_path_push(&r->path, NULL, i);
		if (!(rc = get_i(r, e, "replica", 0, 0, 1 << 20, &c->replica)) &&
		    !(rc = get_i(r, e, "position", 0, 0, 1 << 20, &c->position)) &&
		    !(rc = get_str(r, e, "used", 0, &c->used)) &&
		    !(rc = get_nums(r, e, "per-seq", 1, &c->seq, &ns)) &&
		    !(rc = get_nums(r, e, "per-doc", 1, &c->doc, &nd)) &&
		    (ns != (size_t)p->cp_n || nd != (size_t)p->cp_n)) {
			char a1[32], a2[32];
			wlb_json_path_push(&r->path, ns != (size_t)p->cp_n ? "per-seq" : "per-doc", 0);
			snprintf(a1, sizeof a1, "%d", p->cp_n);
			snprintf(a2, sizeof a2, "%zu", ns != (size_t)p->cp_n ? ns : nd);
			rc = fail_at(r, "expected one time per CP rank (cp %s), got %s", a1, a2);
			wlb_json_path_pop(&r->path);
		}
		wlb_json_path_pop(&r->path);
	}
	wlb_json_path_pop(&r->path);
	p->has_cp = rc == 0;
done:
	wlb_json_path_pop(&r->path);
	return rc;
}

static int read_timeline(struct rd *r, const json_t *o, struct plot_report *p)
{
	json_t *a, *e;
	int rc;

	wlb_json_path_push(&r->path, "timeline", 0);
	p->tl_iter = -1;
	if ((rc = get_i(r, o, "iteration", 0, 0, 1 << 30, &p->tl_iter)) ||
	    (rc = want(r, o, "tasks", 0, T_ARR, 1, &a)))
		goto done;
	if (!(p->tasks = calloc(json_array_size(a) + 1, sizeof *p->tasks))) {
		rc = wlb_error_set(r->err, WLB_ENOMEM, "%s: out of memory", r->file);
		goto done;
	}
	p->n_tasks = json_array_size(a);
	wlb_json_path_push(&r->path, "tasks", 0);
	for (size_t i = 0; i < p->n_tasks && rc == 0; i++) {
		struct plot_task *t = &p->tasks[i];
		const char *kind;
		t->mb = -1;
		if ((rc = want(r, a, NULL, i, T_OBJ, 1, &e)))
			break;
		wlb_json_path_push(&r->path, NULL, i);
		if (!(rc = get_i(r, e, "replica", 1, 0, 4095, &t->replica)) &&
		    !(rc = get_i(r, e, "stage", 1, 0, 4095, &t->stage)) &&
		    !(rc = get_str(r, e, "kind", 1, &kind)) &&
		    !(rc = get_i(r, e, "microbatch", 0, 0, 1 << 20, &t->mb)) &&
		    !(rc = get_i(r, e, "chunk", 0, 0, 1 << 10, &t->chunk)) &&
		    !(rc = get_num(r, e, "start_ms", 1, &t->start_ms)) &&
		    !(rc = get_num(r, e, "end_ms", 1, &t->end_ms))) {
			t->kind = -1;
			for (int k = 0; k < PT_N; k++)
				if (!strcmp(kind, plot_task_kinds[k]))
					t->kind = k;
			if (t->kind < 0) {
				wlb_json_path_push(&r->path, "kind", 0);
				rc = fail_at(r, "expected fwd, bwd, send_fwd, send_bwd or dp_sync, got \"%.40s\"%s",
					     kind, "");
				wlb_json_path_pop(&r->path);
			} else if (t->end_ms < t->start_ms) {
				wlb_json_path_push(&r->path, "end_ms", 0);
				rc = fail_at(r, "ends before start_ms%s%s", "", "");
				wlb_json_path_pop(&r->path);
			}
		}
		wlb_json_path_pop(&r->path);
	}
	wlb_json_path_pop(&r->path);
	p->has_tl = rc == 0;
done:
	wlb_json_path_pop(&r->path);
	return rc;
}

static int read_hist(struct rd *r, const json_t *a, struct plot_report *p)
{
	json_t *e;
	int rc = 0;

	if (!(p->bins = calloc(json_array_size(a) + 1, sizeof *p->bins)))
		return wlb_error_set(r->err, WLB_ENOMEM, "%s: out of memory", r->file);
	p->n_bins = json_array_size(a);
	wlb_json_path_push(&r->path, "doclen_hist", 0);
	for (size_t i = 0; i < p->n_bins && rc == 0; i++) {
		struct plot_bin *b = &p->bins[i];
		if ((rc = want(r, a, NULL, i, T_OBJ, 1, &e)))
			break;
		wlb_json_path_push(&r->path, NULL, i);
		if (!(rc = get_num(r, e, "lo", 1, &b->lo)) && !(rc = get_num(r, e, "hi", 1, &b->hi)) &&
		    !(rc = get_num(r, e, "documents", 1, &b->docs)))
			rc = get_num(r, e, "tokens", 1, &b->tokens);
		if (rc == 0 && (b->lo < 0 || b->hi < b->lo || b->docs < 0 || b->tokens < 0))
			rc = fail_at(r, "expected 0 <= lo <= hi and counts of at least 0%s%s", "", "");
		wlb_json_path_pop(&r->path);
	}
	wlb_json_path_pop(&r->path);
	return rc;
}

static int read_root(struct rd *r, const json_t *root, struct plot_report *p)
{
	json_t *o;
	const char *fmt;
	int rc;

	if (!json_is_object(root))
		return fail_at(r, "expected an object (a wlb-report/1)%s%s", "", "");
	if ((rc = get_str(r, root, "format", 1, &fmt)))
		return rc;
	if (strcmp(fmt, "wlb-report/1")) {
		wlb_json_path_push(&r->path, "format", 0);
		rc = fail_at(r, "expected \"wlb-report/1\", got \"%.40s\"%s", fmt, "");
		wlb_json_path_pop(&r->path);
		return rc;
	}
	if ((rc = get_str(r, root, "source", 0, &p->source)) || (rc = read_config(r, root, p)))
		return rc;
	if ((rc = want(r, root, "summary", 0, T_OBJ, 0, &o)))
		return rc;
	if (o) {
		wlb_json_path_push(&r->path, "summary", 0);
		rc = read_figures(r, o, &p->main);
		p->main.speedup = NAN;  /* a summary's speedup is not a comparison's */
		wlb_json_path_pop(&r->path);
		if (rc)
			return rc;
	}
	if ((rc = want(r, root, "iterations", 0, T_ARR, 0, &o)))
		return rc;
	if (o) {
		wlb_json_path_push(&r->path, "iterations", 0);
		rc = read_main_iters(r, o, p);
		wlb_json_path_pop(&r->path);
		if (rc)
			return rc;
	}
	if ((rc = want(r, root, "comparison", 0, T_ARR, 0, &o)) || (o && (rc = read_comparison(r, o, p))))
		return rc;
	if ((rc = want(r, root, "cp_ranks", 0, T_OBJ, 0, &o)) || (o && (rc = read_cp(r, o, p))))
		return rc;
	if ((rc = want(r, root, "timeline", 0, T_OBJ, 0, &o)) || (o && (rc = read_timeline(r, o, p))))
		return rc;
	if ((rc = want(r, root, "doclen_hist", 0, T_ARR, 0, &o)) || (o && (rc = read_hist(r, o, p))))
		return rc;
	return 0;
}

int plot_report_load(struct plot_report *p, const char *path, struct wlb_error *err)
{
	struct rd r = {.file = path, .err = err};
	json_error_t je;
	char *text;
	int rc;

	memset(p, 0, sizeof *p);
	p->path = path;
	p->main.iter_ms = p->main.speedup = p->main.imb_pp = p->main.imb_cp = NAN;
	p->main.mfu = p->main.delay = NAN;
	if (!(text = wlb_infile_slurp(path, "report", WLB_JSON_MAX_BYTES, &r.len, err)))
		return err->code;
	r.text = text;
	if (r.len == 0) {
		rc = wlb_error_set(err, WLB_EINVAL, "%s: empty file, expected a wlb-report/1", path);
		goto done;
	}
	if ((rc = wlb_json_check_shape(text, r.len, path, err)) < 0)
		goto done;
	if (!(p->root = json_loadb(text, r.len, JSON_REJECT_DUPLICATES, &je))) {
		if (je.line < 1)
			rc = wlb_error_set(err, WLB_EINVAL, "%s: %s", path, je.text);
		else
			rc = wlb_error_set(err, WLB_EINVAL, "%s:%d:%d: %s", path, je.line,
					   je.column < 1 ? 1 : je.column, je.text);
		goto done;
	}
	rc = read_root(&r, p->root, p);
done:
	free(text);
	if (rc < 0)
		plot_report_free(p);
	return rc;
}

void plot_report_free(struct plot_report *p)
{
	policy_free(&p->main);
	for (size_t i = 0; i < p->n_cmp; i++)
		policy_free(&p->cmp[i]);
	free(p->cmp);
	for (size_t i = 0; i < p->n_cpmb; i++) {
		free(p->cpmb[i].seq);
		free(p->cpmb[i].doc);
	}
	free(p->cpmb);
	free(p->tasks);
	free(p->bins);
	json_decref(p->root);
	const char *path = p->path;
	memset(p, 0, sizeof *p);
	p->path = path;
}

const char *plot_main_name(const struct plot_report *r, char *buf, size_t cap)
{
	const char *pk = r->main.packing, *sh = r->main.sharding;

	if (!pk || !sh)
		return r->n_cmp == 0 && pk ? pk : "the report's policy";
	for (size_t i = 0; i < r->n_cmp; i++)
		if (r->cmp[i].packing && r->cmp[i].sharding && !strcmp(r->cmp[i].packing, pk) &&
		    !strcmp(r->cmp[i].sharding, sh))
			return r->cmp[i].name;
	if (!strcmp(pk, "concat") && !strcmp(sh, "per-seq"))
		return "Plain-4D";
	if (!strcmp(pk, "wlb") && !strcmp(sh, "adaptive"))
		return "WLB-LLM";
	snprintf(buf, cap, "%s + %s", pk, sh);
	return buf;
}
