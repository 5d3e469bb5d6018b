/* trace.c — trace.json (wlb-trace/1) and config.json (wlb-config/1) in: the
 * loader (DESIGN.md §5).  jansson parses; the loader walks the
 * tree with a key path of where it stands (trace_int.h), and json.c finds
 * where that path stands in the text, so every message starts
 * "FILE:LINE:COL:".  A config is a trace without data (plus the tuner's
 * "predicted" figures), read by the same code.  The data section is read in
 * trace_data.c; the defaults and cross-field checks in trace_check.c;
 * wlb_trace_save and wlb_config_save are in trace_save.c. */
#include "trace_int.h"
#include "infile.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = {
	"format", "name", "model", "gpu", "cluster", "parallel", "context", "policy", "data", NULL,
};
static const char *const config_keys[] = {
	"format", "name", "model", "gpu", "cluster", "parallel", "context", "policy", "predicted",
	NULL,
};
static const char *const model_keys[] = {
	"name", "layers", "hidden", "ffn_hidden", "heads", "kv_heads", "head_dim", "vocab", "mlp",
	"tied_embeddings", "attention", "dropout", NULL,
};
static const char *const cluster_keys[] = {"gpus_per_node", "nodes", NULL};
static const char *const parallel_keys[] = {
	"tp", "cp", "pp", "dp", "vpp", "microbatches", "schedule", "cp_algo",
	"sequence_parallel", "zero", "fsdp", "recompute", "tp_comm_overlap",
	"overlap_grad_reduce", "overlap_param_gather", "micro_batch_size", "pp_layers", NULL,
};
static const char *const policy_keys[] = {
	"packing", "sharding", "s_max", "outlier_thresholds", "window", "doc_order", "mem_cap_gib",
	"cp_mode", NULL,
};

/* ---- the loader's messages ---- */

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

static void join_list(const char *const *list, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; list[i] && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", list[i]);
}

int wlb_ld_fail_at(struct wlb_ld *l, int want_key, int code, const char *fmt, ...)
{
	char msg[448];
	int line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	wlb_json_locate(l->text, l->len, &l->path, want_key, &line, &col);
	return wlb_error_set(l->err, code, "%s:%d:%d: %s", l->file, line, col, msg);
}

int wlb_ld_prefix_here(struct wlb_ld *l)
{
	char p[160];
	int line, col;

	wlb_json_path_format(&l->path, p, sizeof p);
	wlb_json_locate(l->text, l->len, &l->path, 0, &line, &col);
	return wlb_error_prefix(l->err, "%s:%d:%d: %s", l->file, line, col, p);
}

/* "PATH must be WANT, got VALUE" at the current value v. */
int wlb_ld_bad(struct wlb_ld *l, const json_t *v, int code, const char *fmt, ...)
{
	char want[160], got[48], p[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof want, fmt, ap);
	va_end(ap);
	wlb_json_brief(v, got, sizeof got);
	wlb_json_path_format(&l->path, p, sizeof p);
	return wlb_ld_fail_at(l, 0, code, "%s must be %s, got %s", p, want, got);
}

/* A required key is absent from the current object. */
int wlb_ld_missing(struct wlb_ld *l, const char *key, const char *want)
{
	char p[160];

	wlb_json_path_format(&l->path, p, sizeof p);
	return wlb_ld_fail_at(l, 0, WLB_EINVAL, "%s%s%s is missing (expected %s)",
			      l->path.depth ? p : "", l->path.depth ? "." : "", key, want);
}

/* Checks that v, the current value, is an object holding only keys. */
int wlb_ld_obj_keys(struct wlb_ld *l, json_t *v, const char *const *keys)
{
	const char *k;
	json_t *x;
	char list[256], p[160];
	int rc;

	if (!json_is_object(v))
		return wlb_ld_bad(l, v, WLB_EINVAL, "an object");
	json_object_foreach(v, k, x) {
		if (in_list(k, keys))
			continue;
		join_list(keys, list, sizeof list);
		wlb_json_path_format(&l->path, p, sizeof p);
		wlb_ld_push(l, k, 0);
		rc = wlb_ld_fail_at(l, 1, WLB_EINVAL,
				    "unknown key \"%s\" in %s (expected one of: %s)", k, p, list);
		wlb_ld_pop(l);
		return rc;
	}
	return 0;
}

/* Puts "FILE:LINE:COL" before a check's message in err: the place of the key
 * path that starts the message ("parallel.tp must ..."), or of the deepest
 * part of it the file holds; a message that starts otherwise gets the place
 * and path of base.  Without a loader (in-memory traces) the message stays. */
int wlb_ld_place(const struct wlb_ld *l, const char *base, struct wlb_error *err)
{
	struct wlb_json_path p;
	char buf[256];
	int line, col;

	if (!l || !err)
		return err ? err->code : WLB_EINVAL;
	if (wlb_json_path_parse(&p, err->msg, buf, sizeof buf) > 0 && p.step[0].key &&
	    in_list(p.step[0].key, top_keys)) {
		while (p.depth > 0 && wlb_json_locate(l->text, l->len, &p, 0, &line, &col) < 0)
			p.depth--;
		if (p.depth > 0)
			return wlb_error_prefix(err, "%s:%d:%d", l->file, line, col);
	}
	wlb_json_path_parse(&p, base, buf, sizeof buf);
	while (p.depth > 0 && wlb_json_locate(l->text, l->len, &p, 0, &line, &col) < 0)
		p.depth--;
	if (!p.depth)
		line = col = 1;
	return wlb_error_prefix(err, "%s:%d:%d: %s", l->file, line, col, base);
}

/* ---- typed values (at the current path) and keys ---- */

static const char *int_phrase(long long lo)
{
	return lo == 0 ? "a non-negative integer" : lo == 1 ? "a positive integer" : "an integer";
}

int wlb_ld_val_int(struct wlb_ld *l, const json_t *v, long long lo, long long hi, long long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo)
		return wlb_ld_bad(l, v, WLB_EINVAL, "%s", int_phrase(lo));
	if (json_integer_value(v) > hi)
		return wlb_ld_bad(l, v, WLB_ERANGE, "%s at most %lld", int_phrase(lo), hi);
	*out = json_integer_value(v);
	return 0;
}

int wlb_ld_val_str(struct wlb_ld *l, const json_t *v, int allow_empty, char *buf, size_t cap)
{
	size_t n;

	if (!json_is_string(v))
		return wlb_ld_bad(l, v, WLB_EINVAL, "a string");
	n = json_string_length(v);
	if (n >= cap || (!n && !allow_empty))
		return wlb_ld_bad(l, v, WLB_EINVAL, "a %sstring of at most %zu characters",
				  allow_empty ? "" : "non-empty ", cap - 1);
	memcpy(buf, json_string_value(v), n + 1);
	return 0;
}

/* Looks key up in obj and pushes it on the path when present. */
json_t *wlb_ld_enter(struct wlb_ld *l, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v)
		wlb_ld_push(l, key, 0);
	return v;
}

/* The getters return 1 when key is present and valid, 0 when absent (and not
 * required), or a negative wlb_err. */
int wlb_ld_get_int(struct wlb_ld *l, json_t *obj, const char *key, int req, long long lo,
		   long long hi, long long *out)
{
	json_t *v = wlb_ld_enter(l, obj, key);
	int rc;

	if (!v)
		return req ? wlb_ld_missing(l, key, int_phrase(lo)) : 0;
	rc = wlb_ld_val_int(l, v, lo, hi, out);
	wlb_ld_pop(l);
	return rc < 0 ? rc : 1;
}

static int get_pos(struct wlb_ld *l, json_t *obj, const char *key, int req, int *out)
{
	long long x = 0;
	int rc = wlb_ld_get_int(l, obj, key, req, 1, INT_MAX, &x);

	if (rc > 0)
		*out = (int)x;
	return rc;
}

static int get_u32(struct wlb_ld *l, json_t *obj, const char *key, long long hi, uint32_t *out)
{
	long long x = 0;
	int rc = wlb_ld_get_int(l, obj, key, 0, 1, hi, &x);

	if (rc > 0)
		*out = (uint32_t)x;
	return rc;
}

static int get_bool(struct wlb_ld *l, json_t *obj, const char *key, int *out)
{
	json_t *v = wlb_ld_enter(l, obj, key);
	int rc = 1;

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		rc = wlb_ld_bad(l, v, WLB_EINVAL, "true or false");
	else
		*out = json_is_true(v);
	wlb_ld_pop(l);
	return rc;
}

static int get_str(struct wlb_ld *l, json_t *obj, const char *key, int allow_empty, char *buf,
		   size_t cap)
{
	json_t *v = wlb_ld_enter(l, obj, key);
	int rc;

	if (!v)
		return 0;
	rc = wlb_ld_val_str(l, v, allow_empty, buf, cap);
	wlb_ld_pop(l);
	return rc < 0 ? rc : 1;
}

/* ---- the sections ---- */

static int parse_model(struct wlb_ld *l, json_t *v, struct wlb_model *m)
{
	char mlp[16] = "swiglu";
	json_t *x;
	int rc;

	if (json_is_string(v)) {
		if ((rc = wlb_model_preset(json_string_value(v), m, l->err)) < 0)
			return wlb_ld_prefix_here(l);
		return 0;
	}
	if (!json_is_object(v))
		return wlb_ld_bad(l, v, WLB_EINVAL, "a preset name or an object");
	if ((rc = wlb_ld_obj_keys(l, v, model_keys)) < 0)
		return rc;
	memset(m, 0, sizeof *m);
	if ((rc = get_str(l, v, "name", 1, m->name, sizeof m->name)) < 0 ||
	    (rc = get_pos(l, v, "layers", 1, &m->layers)) < 0 ||
	    (rc = get_pos(l, v, "hidden", 1, &m->hidden)) < 0 ||
	    (rc = get_pos(l, v, "ffn_hidden", 1, &m->ffn_hidden)) < 0 ||
	    (rc = get_pos(l, v, "heads", 1, &m->heads)) < 0 ||
	    (rc = get_pos(l, v, "vocab", 1, &m->vocab)) < 0)
		return rc;
	if ((rc = get_pos(l, v, "kv_heads", 0, &m->kv_heads)) < 0)
		return rc;
	if (!rc)
		m->kv_heads = m->heads;
	if ((rc = get_pos(l, v, "head_dim", 0, &m->head_dim)) < 0)
		return rc;
	if (!rc) {
		if (m->hidden % m->heads)
			return wlb_ld_fail_at(l, 0, WLB_EINVAL,
					      "model.head_dim is missing and model.heads (%d) does "
					      "not divide model.hidden (%d)", m->heads, m->hidden);
		m->head_dim = m->hidden / m->heads;
	}
	char attention[16] = "flash";
	if ((rc = get_str(l, v, "mlp", 0, mlp, sizeof mlp)) < 0 ||
	    (rc = get_bool(l, v, "tied_embeddings", &m->tied_embeddings)) < 0 ||
	    (rc = get_str(l, v, "attention", 0, attention, sizeof attention)) < 0)
		return rc;
	if (strcmp(attention, "flash") && strcmp(attention, "unfused")) {
		x = wlb_ld_enter(l, v, "attention");
		rc = wlb_ld_bad(l, x, WLB_EINVAL, "\"flash\" or \"unfused\"");
		wlb_ld_pop(l);
		return rc;
	}
	m->attention = strcmp(attention, "flash") ? WLB_ATTN_UNFUSED : WLB_ATTN_FLASH;
	if ((x = wlb_ld_enter(l, v, "dropout"))) {
		double d = json_number_value(x);
		rc = json_is_number(x) && d >= 0 && d < 1 ? 0 :
		     wlb_ld_bad(l, x, WLB_EINVAL, "a probability in [0, 1)");
		m->dropout = d;
		wlb_ld_pop(l);
		if (rc)
			return rc;
	}
	if (!strcmp(mlp, "swiglu")) {
		m->mlp = WLB_MLP_SWIGLU;
	} else if (!strcmp(mlp, "gelu")) {
		m->mlp = WLB_MLP_GELU;
	} else {
		x = wlb_ld_enter(l, v, "mlp");
		rc = wlb_ld_bad(l, x, WLB_EINVAL, "\"swiglu\" or \"gelu\"");
		wlb_ld_pop(l);
		return rc;
	}
	return 0;
}

static int parse_cluster(struct wlb_ld *l, json_t *v, struct wlb_cluster *c)
{
	int rc;

	if ((rc = wlb_ld_obj_keys(l, v, cluster_keys)) < 0 ||
	    (rc = get_pos(l, v, "gpus_per_node", 0, &c->gpus_per_node)) < 0 ||
	    (rc = get_pos(l, v, "nodes", 0, &c->nodes)) < 0)
		return rc;
	return 0;
}

/* parallel.recompute: "none" | "selective" | "full", or false / true for
 * "none" / "full" (what the key meant before it took a mode). */
static int get_recompute(struct wlb_ld *l, json_t *obj, int *out)
{
	json_t *v = wlb_ld_enter(l, obj, "recompute");
	int rc = 1, mode;

	if (!v)
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v) ? WLB_RECOMPUTE_FULL : WLB_RECOMPUTE_NONE;
		goto out;
	}
	mode = json_is_string(v) ? wlb_recompute_parse(json_string_value(v)) : -1;
	if (mode >= 0) {
		*out = mode;
		goto out;
	}
	rc = wlb_ld_bad(l, v, WLB_EINVAL, "\"none\", \"selective\" or \"full\" (or false / true "
			"for \"none\" / \"full\")");
out:
	wlb_ld_pop(l);
	return rc;
}

/* parallel.pp_layers: 1 to WLB_MAX_PP positive layer counts (that there is
 * one a stage and that they sum to the layers is wlb_parallel_check's). */
static int get_pp_layers(struct wlb_ld *l, json_t *obj, struct wlb_parallel *p)
{
	json_t *a = wlb_ld_enter(l, obj, "pp_layers");
	int rc = 1;

	if (!a)
		return 0;
	if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > WLB_MAX_PP) {
		rc = wlb_ld_bad(l, a, WLB_EINVAL, "an array of 1 to %d layer counts, one a pipeline "
				"stage", WLB_MAX_PP);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(a); i++) {
		long long x = 0;

		wlb_ld_push(l, NULL, i);
		rc = wlb_ld_val_int(l, json_array_get(a, i), 1, INT_MAX, &x);
		wlb_ld_pop(l);
		if (rc < 0)
			goto out;
		p->pp_layers[i] = (int)x;
	}
	p->n_pp_layers = (int)json_array_size(a);
	rc = 1;
out:
	wlb_ld_pop(l);
	return rc;
}

/* parallel.zero, 0 to 3, and the older parallel.fsdp: true reads as zero 3,
 * false as zero 1 (Megatron's distributed optimizer, what it stood for).
 * Given both, they must agree: fsdp true with zero 3, false with 0 to 2. */
static int get_zero(struct wlb_ld *l, json_t *obj, int *out)
{
	json_t *v;
	int rc, fsdp = -1, zero_given;

	if ((rc = get_bool(l, obj, "fsdp", &fsdp)) < 0)
		return rc;
	if (!(v = wlb_ld_enter(l, obj, "zero"))) {
		if (fsdp >= 0)
			*out = fsdp ? 3 : 1;
		return 0;
	}
	zero_given = json_is_integer(v) && json_integer_value(v) >= 0 &&
		json_integer_value(v) <= 3;
	if (!zero_given)
		rc = wlb_ld_bad(l, v, WLB_EINVAL, "0, 1, 2 or 3");
	else if (fsdp == 1 && json_integer_value(v) != 3)
		rc = wlb_ld_bad(l, v, WLB_EINVAL, "3 with parallel.fsdp true (fsdp: true is zero 3)");
	else if (fsdp == 0 && json_integer_value(v) == 3)
		rc = wlb_ld_bad(l, v, WLB_EINVAL, "0, 1 or 2 with parallel.fsdp false (fsdp: true "
				"is zero 3)");
	else
		*out = (int)json_integer_value(v);
	wlb_ld_pop(l);
	return rc < 0 ? rc : 1;
}

static int parse_parallel(struct wlb_ld *l, json_t *v, struct wlb_parallel *p)
{
	int rc;

	if ((rc = wlb_ld_obj_keys(l, v, parallel_keys)) < 0 ||
	    (rc = get_pos(l, v, "tp", 0, &p->tp)) < 0 ||
	    (rc = get_pos(l, v, "cp", 0, &p->cp)) < 0 ||
	    (rc = get_pos(l, v, "pp", 0, &p->pp)) < 0 ||
	    (rc = get_pos(l, v, "dp", 0, &p->dp)) < 0 ||
	    (rc = get_pos(l, v, "vpp", 0, &p->vpp)) < 0 ||
	    (rc = get_pos(l, v, "microbatches", 0, &p->microbatches)) < 0 ||
	    (rc = get_str(l, v, "schedule", 0, p->schedule, sizeof p->schedule)) < 0 ||
	    (rc = get_str(l, v, "cp_algo", 0, p->cp_algo, sizeof p->cp_algo)) < 0 ||
	    (rc = get_bool(l, v, "sequence_parallel", &p->sequence_parallel)) < 0 ||
	    (rc = get_zero(l, v, &p->zero)) < 0 ||
	    (rc = get_recompute(l, v, &p->recompute)) < 0 ||
	    (rc = get_bool(l, v, "tp_comm_overlap", &p->tp_comm_overlap)) < 0 ||
	    (rc = get_bool(l, v, "overlap_grad_reduce", &p->overlap_grad_reduce)) < 0 ||
	    (rc = get_bool(l, v, "overlap_param_gather", &p->overlap_param_gather)) < 0 ||
	    (rc = get_pos(l, v, "micro_batch_size", 0, &p->micro_batch_size)) < 0 ||
	    (rc = get_pp_layers(l, v, p)) < 0)
		return rc;
	return 0;
}

static int parse_policy(struct wlb_ld *l, json_t *v, struct wlb_policy *pol)
{
	json_t *a;
	int rc;

	if ((rc = wlb_ld_obj_keys(l, v, policy_keys)) < 0 ||
	    (rc = get_str(l, v, "packing", 0, pol->packing, sizeof pol->packing)) < 0 ||
	    (rc = get_str(l, v, "sharding", 0, pol->sharding, sizeof pol->sharding)) < 0 ||
	    (rc = get_u32(l, v, "s_max", UINT32_MAX, &pol->s_max)) < 0 ||
	    (rc = get_u32(l, v, "window", UINT32_MAX, &pol->window)) < 0 ||
	    (rc = get_str(l, v, "doc_order", 0, pol->doc_order, sizeof pol->doc_order)) < 0 ||
	    (rc = get_str(l, v, "cp_mode", 0, pol->cp_mode, sizeof pol->cp_mode)) < 0)
		return rc;
	if ((a = wlb_ld_enter(l, v, "mem_cap_gib"))) {
		double g = json_number_value(a);
		rc = json_is_number(a) && g > 0 ? 0 : wlb_ld_bad(l, a, WLB_EINVAL, "a positive number of GiB");
		pol->mem_cap_gib = g;
		wlb_ld_pop(l);
		if (rc)
			return rc;
	}
	if (!(a = wlb_ld_enter(l, v, "outlier_thresholds")))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > WLB_MAX_QUEUES) {
		rc = wlb_ld_bad(l, a, WLB_EINVAL, "an array of at most %d increasing token counts",
				WLB_MAX_QUEUES);
		goto out;
	}
	pol->n_thresholds = (int)json_array_size(a);
	for (size_t i = 0; i < json_array_size(a); i++) {
		long long x = 0;

		wlb_ld_push(l, NULL, i);
		rc = wlb_ld_val_int(l, json_array_get(a, i), 1, UINT32_MAX, &x);
		wlb_ld_pop(l);
		if (rc < 0)
			goto out;
		pol->thresholds[i] = (uint32_t)x;
	}
	rc = 0;
out:
	wlb_ld_pop(l);
	return rc;
}

/* Parses section key of root with fn, when present (or missing and required). */
#define SECTION(key, req, want, call) do { \
	if ((v = wlb_ld_enter(l, root, key))) { \
		rc = (call); \
		wlb_ld_pop(l); \
		if (rc < 0) \
			return rc; \
	} else if (req) { \
		return wlb_ld_missing(l, key, want); \
	} \
} while (0)

/* The root of a trace, or of a config (no data; "predicted" is the tuner's
 * and is not read). */
static int parse_root(struct wlb_ld *l, json_t *root, struct wlb_trace *t, int config)
{
	const char *format = config ? WLB_CONFIG_FORMAT : WLB_TRACE_FORMAT;
	char want[32];
	long long ctx;
	json_t *v;
	int rc;

	if (!json_is_object(root))
		return wlb_ld_bad(l, root, WLB_EINVAL, "an object");
	snprintf(want, sizeof want, "\"%s\"", format);
	if (!(v = wlb_ld_enter(l, root, "format")))
		return wlb_ld_missing(l, "format", want);
	rc = json_is_string(v) && !strcmp(json_string_value(v), format) ? 0 :
		wlb_ld_bad(l, v, WLB_EINVAL, "%s", want);
	wlb_ld_pop(l);
	if (rc < 0)
		return rc;
	if (config && json_object_get(root, "data")) {
		wlb_ld_push(l, "data", 0);
		rc = wlb_ld_fail_at(l, 1, WLB_EINVAL,
				    "data: a " WLB_CONFIG_FORMAT " file holds no data (the documents "
				    "come from the trace it is applied to)");
		wlb_ld_pop(l);
		return rc;
	}
	if ((rc = wlb_ld_obj_keys(l, root, config ? config_keys : top_keys)) < 0 ||
	    (rc = get_str(l, root, "name", 1, t->name, sizeof t->name)) < 0)
		return rc;
	SECTION("model", 1, "a preset name or an object", parse_model(l, v, &t->model));
	if ((rc = get_str(l, root, "gpu", 0, t->gpu, sizeof t->gpu)) < 0)
		return rc;
	SECTION("cluster", 0, "", parse_cluster(l, v, &t->cluster));
	SECTION("parallel", 0, "", parse_parallel(l, v, &t->parallel));
	if ((rc = wlb_ld_get_int(l, root, "context", 1, 1, WLB_TRACE_CONTEXT_MAX, &ctx)) < 0)
		return rc;
	t->context = (uint32_t)ctx;
	SECTION("policy", 0, "", parse_policy(l, v, &t->policy));
	if (config)
		SECTION("predicted", 0, "", json_is_object(v) ? 0 :
			wlb_ld_bad(l, v, WLB_EINVAL, "an object"));
	else
		SECTION("data", 1, "an object", wlb_ld_parse_data(l, v, t));
	return 0;
}

void wlb_config_apply(struct wlb_trace *t, const struct wlb_trace *cfg)
{
	t->model = cfg->model;
	memcpy(t->gpu, cfg->gpu, sizeof t->gpu);
	t->cluster = cfg->cluster;
	t->parallel = cfg->parallel;
	t->context = cfg->context;
	t->policy = cfg->policy;
}

/* ---- loading ---- */

static int load_text(struct wlb_trace *t, const char *text, size_t len, const char *file,
		     const char *dir, int config, struct wlb_error *err)
{
	struct wlb_ld l = {.text = text, .len = len, .file = file, .err = err};
	json_error_t je;
	json_t *root;
	int rc;

	snprintf(l.dir, sizeof l.dir, "%s", dir);
	if ((rc = wlb_json_check_shape(text, len, file, err)) < 0)
		return rc;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (je.line < 1)
			rc = wlb_error_set(err, WLB_EINVAL, "%s: %s", file, je.text);
		else
			rc = wlb_error_set(err, WLB_EINVAL, "%s:%d:%d: %s", file, je.line,
					   je.column < 1 ? 1 : je.column, je.text);
		goto done;
	}
	if ((rc = parse_root(&l, root, t, config)) < 0)
		goto done;
	int order_given = t->policy.doc_order[0] != 0;
	wlb_policy_defaults(&t->policy, t->context);
	/* the default document order follows the packing, which the command
	 * line may still change */
	if (!order_given)
		t->policy.doc_order[0] = 0;
	rc = config ? wlb_ld_check_config(t, &l, err) : wlb_ld_check_trace(t, &l, err);
done:
	json_decref(root);
	if (rc < 0) {
		wlb_trace_free(t);
		wlb_trace_init(t);
	}
	return rc;
}

static int load_file(struct wlb_trace *t, const char *path, int config, struct wlb_error *err)
{
	char *buf, dir[512] = "";
	const char *slash;
	size_t size = 0;
	int rc;

	wlb_trace_init(t);
	if (strlen(path) >= sizeof t->path)
		return wlb_error_set(err, WLB_EINVAL, "%.64s...: path too long (at most %zu bytes)",
				     path, sizeof t->path - 1);
	if (!(buf = wlb_infile_slurp(path, config ? "config" : "trace", WLB_JSON_MAX_BYTES, &size,
				     err)))
		return err ? err->code : WLB_EIO;
	if ((slash = strrchr(path, '/')))
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	snprintf(t->path, sizeof t->path, "%s", path);
	rc = load_text(t, buf, size, path, dir, config, err);
	free(buf);
	return rc;
}

int wlb_trace_load(struct wlb_trace *t, const char *path, struct wlb_error *err)
{
	return load_file(t, path, 0, err);
}

int wlb_config_load(struct wlb_trace *t, const char *path, struct wlb_error *err)
{
	return load_file(t, path, 1, err);
}

int wlb_trace_load_string(struct wlb_trace *t, const char *text, const char *name,
			  struct wlb_error *err)
{
	wlb_trace_init(t);
	return load_text(t, text, strlen(text), name ? name : "<string>", "", 0, err);
}

int wlb_config_load_string(struct wlb_trace *t, const char *text, const char *name,
			   struct wlb_error *err)
{
	wlb_trace_init(t);
	return load_text(t, text, strlen(text), name ? name : "<string>", "", 1, err);
}

void wlb_trace_free(struct wlb_trace *t)
{
	wlb_source_free(&t->source);
}
