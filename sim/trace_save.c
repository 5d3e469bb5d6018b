/* trace_save.c — wlb_trace_save: a trace written back as wlb-trace/1
 * (DESIGN.md §5), atomically (wlb_json_write_prec); wlb_config_save: its
 * configuration without the data as wlb-config/1. */
#define _XOPEN_SOURCE 700 /* realpath */

#include "trace_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) != 0;
}

static int add(json_t *a, json_t *v)
{
	return json_array_append_new(a, v) != 0;
}

/* The fewest significant digits that write every number of d back exactly
 * (JSON_REAL_PRECISION applies to the whole dump); 0 when one is not finite. */
static int real_precision(const struct wlb_dist *d)
{
	double x[5 * WLB_DIST_MAX_COMPONENTS];
	size_t n = 0;

	for (int i = 0; i < d->n && i < WLB_DIST_MAX_COMPONENTS; i++) {
		const struct wlb_dist_component *c = &d->c[i];

		x[n++] = c->weight;
		x[n++] = c->a;
		x[n++] = c->b;
		x[n++] = c->min;
		x[n++] = c->max;
	}
	return wlb_json_real_precision(x, n);
}

static json_t *mixture_json(const struct wlb_dist *d)
{
	json_t *a = json_array();
	int fail = !a;

	for (int i = 0; i < d->n && !fail; i++) {
		const struct wlb_dist_component *c = &d->c[i];
		const struct wlb_trace_dist_kind *kd = wlb_trace_dist_kinds;
		json_t *o = json_object(), *k = NULL;

		while (kd < wlb_trace_dist_kinds + WLB_TRACE_DIST_KINDS && kd->kind != c->kind)
			kd++;
		if (kd == wlb_trace_dist_kinds + WLB_TRACE_DIST_KINDS) {
			json_decref(o);
			fail = 1;
			break;
		}
		fail |= set(o, "weight", wlb_json_number(c->weight));
		if (kd->keys) {
			k = json_object();
			fail |= set(k, kd->keys[0], wlb_json_number(c->a));
			fail |= set(k, kd->keys[1], wlb_json_number(c->b));
		} else {
			k = wlb_json_number(c->a);
		}
		fail |= set(o, kd->name, k);
		if (c->min != 0)
			fail |= set(o, "min", wlb_json_number(c->min));
		if (c->max != 0)
			fail |= set(o, "max", wlb_json_number(c->max));
		fail |= add(a, o);
	}
	if (fail) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static void dir_of(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(buf, cap, ".");
	else
		snprintf(buf, cap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

/* data.lengths_file for a trace written to dest: as written when dest lies
 * in the directory t came from, else the file's absolute path. */
static int lengths_out(const struct wlb_trace *t, const char *dest, char *out, size_t cap,
		       struct wlb_error *err)
{
	char sdir[512], ddir[512], a[PATH_MAX], b[PATH_MAX], full[1100];
	const char *f = t->lengths_file;

	if (!f[0])
		return wlb_error_set(err, WLB_EINVAL,
				     "data.lengths_file: the trace names no lengths file to write");
	dir_of(t->path[0] ? t->path : "x", sdir, sizeof sdir);
	dir_of(dest, ddir, sizeof ddir);
	if (f[0] != '/' && realpath(sdir, a) && realpath(ddir, b) && strcmp(a, b)) {
		snprintf(full, sizeof full, "%s/%s", sdir, f);
		if (!realpath(full, a))
			return wlb_error_set(err, WLB_EIO, "data.lengths_file: cannot resolve %s: %s",
					     full, strerror(errno));
		f = a;
	}
	if (strlen(f) >= cap)
		return wlb_error_set(err, WLB_EINVAL, "data.lengths_file: path too long: %s", f);
	snprintf(out, cap, "%s", f);
	return 0;
}

static json_t *data_json(const struct wlb_trace *t, const char *dist_preset,
			 const char *lengths_file)
{
	const struct wlb_source *s = &t->source;
	json_t *o = json_object(), *x;
	size_t nb = s->n_batches;
	int fail = !o;

	if (s->kind == WLB_SOURCE_BATCHES && t->iterations && t->iterations < nb)
		nb = t->iterations;
	if (t->iterations)
		fail |= set(o, "iterations", json_integer(t->iterations));
	fail |= set(o, "seed", json_integer((json_int_t)s->seed));
	switch (s->kind) {
	case WLB_SOURCE_DIST:
		if (dist_preset) {
			x = json_object();
			fail |= set(x, "preset", json_string(dist_preset));
		} else {
			x = json_object();
			fail |= set(x, "mixture", mixture_json(&s->dist));
		}
		fail |= set(o, "distribution", x);
		break;
	case WLB_SOURCE_BATCHES:
		x = json_array();
		for (size_t i = 0; i < nb && !fail; i++) {
			json_t *b = json_array();

			for (size_t j = s->batch_start[i]; j < s->batch_start[i + 1]; j++)
				fail |= add(b, json_integer(s->lens[j]));
			fail |= add(x, b);
		}
		fail |= set(o, "batches", x);
		break;
	case WLB_SOURCE_LENGTHS:
		fail |= set(o, "lengths_file", json_string(lengths_file));
		break;
	case WLB_SOURCE_CALLBACK: /* the library's: nothing a file can hold */
		fail = 1;
		break;
	}
	if (fail) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The trace as wlb-trace/1, or (config) all but its data as wlb-config/1. */
static json_t *trace_json(const struct wlb_trace *t, const struct wlb_policy *pol, int config,
			  const char *dist_preset, const char *lengths_file)
{
	const struct wlb_model *m = &t->model;
	const struct wlb_parallel *p = &t->parallel;
	json_t *root = json_object(), *o;
	int fail = !root;

	fail |= set(root, "format", json_string(config ? WLB_CONFIG_FORMAT : WLB_TRACE_FORMAT));
	if (t->name[0] || config) /* a config's loader needs one */
		fail |= set(root, "name", json_string(t->name));

	o = json_object();
	if (m->name[0])
		fail |= set(o, "name", json_string(m->name));
	fail |= set(o, "layers", json_integer(m->layers));
	fail |= set(o, "hidden", json_integer(m->hidden));
	fail |= set(o, "ffn_hidden", json_integer(m->ffn_hidden));
	fail |= set(o, "heads", json_integer(m->heads));
	fail |= set(o, "kv_heads", json_integer(m->kv_heads));
	fail |= set(o, "head_dim", json_integer(m->head_dim));
	fail |= set(o, "vocab", json_integer(m->vocab));
	fail |= set(o, "mlp", json_string(m->mlp == WLB_MLP_GELU ? "gelu" : "swiglu"));
	fail |= set(o, "tied_embeddings", json_boolean(m->tied_embeddings));
	if (m->attention == WLB_ATTN_UNFUSED) /* flash, the default, stays implicit */
		fail |= set(o, "attention", json_string("unfused"));
	if (m->dropout > 0)
		fail |= set(o, "dropout", json_real(m->dropout));
	fail |= set(root, "model", o);
	fail |= set(root, "gpu", json_string(t->gpu));

	o = json_object();
	fail |= set(o, "gpus_per_node", json_integer(t->cluster.gpus_per_node));
	if (t->cluster.nodes)
		fail |= set(o, "nodes", json_integer(t->cluster.nodes));
	fail |= set(root, "cluster", o);

	o = json_object();
	fail |= set(o, "tp", json_integer(p->tp));
	fail |= set(o, "cp", json_integer(p->cp));
	fail |= set(o, "pp", json_integer(p->pp));
	fail |= set(o, "dp", json_integer(p->dp));
	fail |= set(o, "vpp", json_integer(p->vpp));
	fail |= set(o, "microbatches", json_integer(p->microbatches));
	fail |= set(o, "schedule", json_string(p->schedule));
	fail |= set(o, "cp_algo", json_string(p->cp_algo));
	fail |= set(o, "sequence_parallel", json_boolean(p->sequence_parallel));
	fail |= set(o, "zero", json_integer(p->zero));
	fail |= set(o, "recompute", json_string(wlb_recompute_name(p->recompute)));
	fail |= set(o, "tp_comm_overlap", json_boolean(p->tp_comm_overlap));
	fail |= set(o, "overlap_grad_reduce", json_boolean(p->overlap_grad_reduce));
	fail |= set(o, "overlap_param_gather", json_boolean(p->overlap_param_gather));
	fail |= set(o, "micro_batch_size", json_integer(p->micro_batch_size));
	if (p->n_pp_layers) { /* else the default split, whatever pp becomes */
		json_t *pl = json_array();

		for (int s = 0; s < p->n_pp_layers; s++)
			fail |= add(pl, json_integer(p->pp_layers[s]));
		fail |= set(o, "pp_layers", pl);
	}
	fail |= set(root, "parallel", o);
	fail |= set(root, "context", json_integer(t->context));

	o = json_object();
	fail |= set(o, "packing", json_string(pol->packing));
	fail |= set(o, "sharding", json_string(pol->sharding));
	fail |= set(o, "s_max", json_integer(pol->s_max));
	json_t *th = json_array();
	for (int i = 0; i < pol->n_thresholds; i++)
		fail |= add(th, json_integer(pol->thresholds[i]));
	fail |= set(o, "outlier_thresholds", th);
	fail |= set(o, "window", json_integer(pol->window));
	if (pol->mem_cap_gib > 0)
		fail |= set(o, "mem_cap_gib", json_real(pol->mem_cap_gib));
	if (t->policy.doc_order[0]) /* else its default follows the packing */
		fail |= set(o, "doc_order", json_string(pol->doc_order));
	if (strcmp(pol->cp_mode, "static")) /* written only when per-sequence */
		fail |= set(o, "cp_mode", json_string(pol->cp_mode));
	fail |= set(root, "policy", o);
	if (!config)
		fail |= set(root, "data", data_json(t, dist_preset, lengths_file));
	if (fail) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int wlb_trace_save(const struct wlb_trace *t, const char *dist_preset, const char *path,
		   struct wlb_error *err)
{
	struct wlb_policy pol = t->policy;
	struct wlb_dist tmp_dist;
	char lengths[PATH_MAX] = "";
	json_t *root = NULL;
	int rc, prec = 17;

	if ((rc = wlb_trace_check(t, err)) < 0)
		goto done;
	wlb_policy_defaults(&pol, t->context);
	if (t->source.kind == WLB_SOURCE_DIST && dist_preset &&
	    (rc = wlb_dist_preset(dist_preset, &tmp_dist, err)) < 0)
		goto done;
	if (t->source.kind == WLB_SOURCE_DIST && !dist_preset &&
	    !(prec = real_precision(&t->source.dist))) {
		rc = wlb_error_set(err, WLB_EINVAL,
				   "data.distribution: cannot write a number that is not finite");
		goto done;
	}
	if (t->source.kind == WLB_SOURCE_LENGTHS &&
	    (rc = lengths_out(t, path, lengths, sizeof lengths, err)) < 0)
		goto done;
	if (!(root = trace_json(t, &pol, 0, dist_preset, lengths))) {
		rc = wlb_error_set(err, WLB_ENOMEM,
				   "%s: cannot build the JSON (out of memory, or a string that is "
				   "not UTF-8)", path);
		goto done;
	}
	/* a trace always goes to a file: "-" names one here, not stdout */
	rc = wlb_json_write_prec(root, strcmp(path, "-") ? path : "./-", prec, err);
done:
	json_decref(root);
	return rc;
}

json_t *wlb_config_json(const struct wlb_trace *t, const json_t *predicted, struct wlb_error *err)
{
	struct wlb_policy pol = t->policy;
	json_t *root, *copy;

	if (wlb_config_check(t, err) < 0)
		return NULL;
	if (predicted && !json_is_object(predicted)) {
		wlb_error_set(err, WLB_EINVAL, "predicted must be an object");
		return NULL;
	}
	wlb_policy_defaults(&pol, t->context);
	if (!(root = trace_json(t, &pol, 1, NULL, NULL)))
		goto oom;
	if (predicted) {
		if (!(copy = json_deep_copy(predicted)) || set(root, "predicted", copy)) {
			json_decref(root);
			goto oom;
		}
	}
	return root;
oom:
	wlb_error_set(err, WLB_ENOMEM, "cannot build the " WLB_CONFIG_FORMAT " JSON (out of memory, "
		      "or a string that is not UTF-8)");
	return NULL;
}

int wlb_config_save(const struct wlb_trace *t, const json_t *predicted, const char *path,
		    struct wlb_error *err)
{
	json_t *root = wlb_config_json(t, predicted, err);
	int rc;

	if (!root)
		return err ? err->code : WLB_EINVAL;
	rc = wlb_json_write(root, path, err);
	json_decref(root);
	return rc;
}
