/* trace.c — trace.json (wlb-trace/1) in and out (DESIGN.md §5).
 *
 * jansson parses; it keeps no positions of values, so a small scanner below
 * walks the (already valid) text to the value a key path names and every
 * message starts "FILE:LINE:COL:" with the place of the offending value, or of
 * the key for unknown keys. */
#define _XOPEN_SOURCE 700 /* realpath, fsync */

#include "trace.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define FORMAT "wlb-trace/1"
#define MAX_DEPTH 8
#define CONTEXT_MAX 2147483648LL /* 2^31 */

/* ---- where a key path stands in the text ---- */

/* One step of a key path: an object key, or an array index when key is NULL. */
struct pel {
	const char *key;
	size_t idx;
};

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* i at an opening quote; returns the index after the closing one. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < n ? i + 1 : n;
}

/* i at the first character of a value; returns the index after it. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
	int depth = 0;

	if (i < n && s[i] == '"')
		return skip_string(s, n, i);
	if (i < n && s[i] != '{' && s[i] != '[') { /* number or literal */
		while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '+' ||
				 s[i] == '.'))
			i++;
		return i;
	}
	while (i < n) {
		if (s[i] == '"') {
			i = skip_string(s, n, i);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return n;
}

/* Whether the string token s[0..n) (quotes included) spells key. */
static int key_eq(const char *s, size_t n, const char *key)
{
	json_t *v;
	int eq;

	if (!memchr(s, '\\', n))
		return n - 2 == strlen(key) && !memcmp(s + 1, key, n - 2);
	v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
	eq = json_is_string(v) && !strcmp(json_string_value(v), key);
	json_decref(v);
	return eq;
}

/* Byte offset of the value at path p[0..depth) in s[0..n), or of its key
 * (want_key, last step an object key); -1 when the text has no such value. */
static long locate(const char *s, size_t n, const struct pel *p, int depth, int want_key)
{
	size_t i = skip_ws(s, n, 0);

	for (int d = 0; d < depth; d++) {
		if (p[d].key) {
			if (i >= n || s[i] != '{')
				return -1;
			i = skip_ws(s, n, i + 1);
			for (;;) {
				size_t ks = i;
				int hit;

				if (i >= n || s[i] != '"')
					return -1;
				i = skip_string(s, n, i);
				hit = key_eq(s + ks, i - ks, p[d].key);
				i = skip_ws(s, n, i);
				if (i >= n || s[i] != ':')
					return -1;
				i = skip_ws(s, n, i + 1);
				if (hit) {
					if (want_key && d == depth - 1)
						return (long)ks;
					break;
				}
				i = skip_ws(s, n, skip_value(s, n, i));
				if (i >= n || s[i] != ',')
					return -1;
				i = skip_ws(s, n, i + 1);
			}
		} else {
			if (i >= n || s[i] != '[')
				return -1;
			i = skip_ws(s, n, i + 1);
			for (size_t k = 0; k < p[d].idx; k++) {
				i = skip_ws(s, n, skip_value(s, n, i));
				if (i >= n || s[i] != ',')
					return -1;
				i = skip_ws(s, n, i + 1);
			}
			if (i >= n || s[i] == ']')
				return -1;
		}
	}
	return i < n ? (long)i : -1;
}

/* 1-based line and column (in characters, as jansson counts) of offset off. */
static void line_col(const char *s, long off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (long i = 0; i < off; i++) {
		if (s[i] == '\n') {
			++*line;
			*col = 1;
		} else if (((unsigned char)s[i] & 0xC0) != 0x80) {
			++*col;
		}
	}
}

static int is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Parses the key path that starts s ("parallel.tp must ...",
 * "data.batches[2][0] ...") into p, names copied into buf.  Returns its depth. */
static int parse_path(const char *s, char *buf, size_t cap, struct pel *p)
{
	size_t used = 0;
	int d = 0;

	while (d < MAX_DEPTH) {
		if (*s == '[') {
			char *e;
			unsigned long v;

			if (!isdigit((unsigned char)s[1]))
				break;
			v = strtoul(s + 1, &e, 10);
			if (*e != ']')
				break;
			p[d].key = NULL;
			p[d++].idx = v;
			s = e + 1;
		} else {
			size_t k = 0;

			while (is_name_char(s[k]))
				k++;
			if (!k || used + k + 1 > cap)
				break;
			memcpy(buf + used, s, k);
			buf[used + k] = '\0';
			p[d].key = buf + used;
			p[d++].idx = 0;
			used += k + 1;
			s += k;
		}
		if (*s == '.' && is_name_char(s[1]))
			s++;
		else if (*s != '[')
			break;
	}
	return d;
}

/* ---- the loader's state and messages ---- */

struct ld {
	const char *text;
	size_t len;
	const char *file;       /* the name messages give the text */
	char dir[512];          /* directory of relative paths; "" = current */
	struct wlb_error *err;
	struct pel path[MAX_DEPTH];
	int depth;
};

static const char *const top_keys[] = {
	"format", "name", "model", "gpu", "cluster", "parallel", "context", "policy", "data", NULL,
};
static const char *const model_keys[] = {
	"name", "layers", "hidden", "ffn_hidden", "heads", "kv_heads", "head_dim", "vocab", "mlp",
	NULL,
};
static const char *const cluster_keys[] = {"gpus_per_node", "nodes", NULL};
static const char *const parallel_keys[] = {
	"tp", "cp", "pp", "dp", "vpp", "microbatches", "schedule", "cp_algo",
	"sequence_parallel", "fsdp", "recompute", NULL,
};
static const char *const policy_keys[] = {
	"packing", "sharding", "s_max", "outlier_thresholds", "window", NULL,
};
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

static const struct {
	const char *name;
	enum wlb_dist_kind kind;
	const char *const *keys; /* its two parameters, a and b; NULL for point */
} kinds[] = {
	{"lognormal", WLB_DIST_LOGNORMAL, lognormal_keys},
	{"pareto", WLB_DIST_PARETO, pareto_keys},
	{"uniform", WLB_DIST_UNIFORM, uniform_keys},
	{"point", WLB_DIST_POINT, NULL},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

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

static void push(struct ld *l, const char *key, size_t idx)
{
	if (l->depth < MAX_DEPTH) {
		l->path[l->depth].key = key;
		l->path[l->depth].idx = idx;
	}
	l->depth++;
}

static void pop(struct ld *l)
{
	l->depth--;
}

/* "parallel.tp", "data.batches[1][0]"; "the top level" at depth 0. */
static void path_str(const struct ld *l, int depth, char *buf, size_t cap)
{
	size_t n = 0;

	if (depth > MAX_DEPTH)
		depth = MAX_DEPTH;
	snprintf(buf, cap, "the top level");
	for (int d = 0; d < depth && n < cap; d++) {
		if (l->path[d].key)
			n += (size_t)snprintf(buf + n, cap - n, "%s%s", d ? "." : "",
					      l->path[d].key);
		else
			n += (size_t)snprintf(buf + n, cap - n, "[%zu]", l->path[d].idx);
	}
}

/* Line and column of the value (or key) at the first depth steps of the path. */
static void where(const struct ld *l, int depth, int want_key, int *line, int *col)
{
	long at = locate(l->text, l->len, l->path, depth < MAX_DEPTH ? depth : MAX_DEPTH,
			 want_key);

	line_col(l->text, at < 0 ? 0 : at, line, col);
}

static int fail_at(struct ld *l, int want_key, int code, const char *fmt, ...) WLB_PRINTF(4, 5);
static int fail_at(struct ld *l, int want_key, int code, const char *fmt, ...)
{
	char msg[448];
	int line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	where(l, l->depth, want_key, &line, &col);
	return wlb_error_set(l->err, code, "%s:%d:%d: %s", l->file, line, col, msg);
}

/* Prefixes a helper's message in l->err with the place and path of the
 * current value. */
static int prefix_here(struct ld *l)
{
	char p[160];
	int line, col;

	path_str(l, l->depth, p, sizeof p);
	where(l, l->depth, 0, &line, &col);
	return wlb_error_prefix(l->err, "%s:%d:%d: %s", l->file, line, col, p);
}

/* The JSON text of v, compact and cut to 40 characters. */
static void compact(const json_t *v, char *buf, size_t cap)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);

	if (!s)
		snprintf(buf, cap, "?");
	else if (strlen(s) > 40)
		snprintf(buf, cap, "%.37s...", s);
	else
		snprintf(buf, cap, "%s", s);
	free(s);
}

/* "PATH must be WANT, got VALUE" at the current value v. */
static int bad(struct ld *l, const json_t *v, int code, const char *fmt, ...) WLB_PRINTF(4, 5);
static int bad(struct ld *l, const json_t *v, int code, const char *fmt, ...)
{
	char want[160], got[48], p[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof want, fmt, ap);
	va_end(ap);
	compact(v, got, sizeof got);
	path_str(l, l->depth, p, sizeof p);
	return fail_at(l, 0, code, "%s must be %s, got %s", p, want, got);
}

/* A required key is absent from the current object. */
static int missing(struct ld *l, const char *key, const char *want)
{
	char p[160];

	path_str(l, l->depth, p, sizeof p);
	return fail_at(l, 0, WLB_EINVAL, "%s%s%s is missing (expected %s)",
		       l->depth ? p : "", l->depth ? "." : "", key, want);
}

/* Checks that v, the current value, is an object holding only keys. */
static int obj_keys(struct ld *l, json_t *v, const char *const *keys)
{
	const char *k;
	json_t *x;
	char list[256], p[160];
	int rc;

	if (!json_is_object(v))
		return bad(l, v, WLB_EINVAL, "an object");
	json_object_foreach(v, k, x) {
		if (in_list(k, keys))
			continue;
		join_list(keys, list, sizeof list);
		path_str(l, l->depth, p, sizeof p);
		push(l, k, 0);
		rc = fail_at(l, 1, WLB_EINVAL, "unknown key \"%s\" in %s (expected one of: %s)",
			     k, p, list);
		pop(l);
		return rc;
	}
	return 0;
}

/* Puts "FILE:LINE:COL" before a check's message in err: the place of the key
 * path that starts the message ("parallel.tp must ..."), or of the deepest
 * part of it the file holds; a message that starts otherwise gets the place
 * and path of base.  Without a loader (in-memory traces) the message stays. */
static int place(const struct ld *l, const char *base, struct wlb_error *err)
{
	struct pel p[MAX_DEPTH];
	char buf[256];
	long at = -1;
	int n, line, col;

	if (!l || !err)
		return err ? err->code : WLB_EINVAL;
	n = parse_path(err->msg, buf, sizeof buf, p);
	if (n > 0 && p[0].key && in_list(p[0].key, top_keys)) {
		while (n > 0 && (at = locate(l->text, l->len, p, n, 0)) < 0)
			n--;
		if (at >= 0) {
			line_col(l->text, at, &line, &col);
			return wlb_error_prefix(err, "%s:%d:%d", l->file, line, col);
		}
	}
	n = parse_path(base, buf, sizeof buf, p);
	while (n > 0 && (at = locate(l->text, l->len, p, n, 0)) < 0)
		n--;
	line_col(l->text, at < 0 ? 0 : at, &line, &col);
	return wlb_error_prefix(err, "%s:%d:%d: %s", l->file, line, col, base);
}

/* ---- typed values (at the current path) and keys ---- */

static const char *int_phrase(long long lo)
{
	return lo == 0 ? "a non-negative integer" : lo == 1 ? "a positive integer" : "an integer";
}

static int val_int(struct ld *l, const json_t *v, long long lo, long long hi, long long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo)
		return bad(l, v, WLB_EINVAL, "%s", int_phrase(lo));
	if (json_integer_value(v) > hi)
		return bad(l, v, WLB_ERANGE, "%s at most %lld", int_phrase(lo), hi);
	*out = json_integer_value(v);
	return 0;
}

static int val_str(struct ld *l, const json_t *v, int allow_empty, char *buf, size_t cap)
{
	size_t n;

	if (!json_is_string(v))
		return bad(l, v, WLB_EINVAL, "a string");
	n = json_string_length(v);
	if (n >= cap || (!n && !allow_empty))
		return bad(l, v, WLB_EINVAL, "a %sstring of at most %zu characters",
			   allow_empty ? "" : "non-empty ", cap - 1);
	memcpy(buf, json_string_value(v), n + 1);
	return 0;
}

/* Looks key up in obj and pushes it on the path when present. */
static json_t *enter(struct ld *l, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v)
		push(l, key, 0);
	return v;
}

/* The getters return 1 when key is present and valid, 0 when absent (and not
 * required), or a negative wlb_err. */
static int get_int(struct ld *l, json_t *obj, const char *key, int req, long long lo,
		   long long hi, long long *out)
{
	json_t *v = enter(l, obj, key);
	int rc;

	if (!v)
		return req ? missing(l, key, int_phrase(lo)) : 0;
	rc = val_int(l, v, lo, hi, out);
	pop(l);
	return rc < 0 ? rc : 1;
}

static int get_pos(struct ld *l, json_t *obj, const char *key, int req, int *out)
{
	long long x = 0;
	int rc = get_int(l, obj, key, req, 1, INT_MAX, &x);

	if (rc > 0)
		*out = (int)x;
	return rc;
}

static int get_u32(struct ld *l, json_t *obj, const char *key, long long hi, uint32_t *out)
{
	long long x = 0;
	int rc = get_int(l, obj, key, 0, 1, hi, &x);

	if (rc > 0)
		*out = (uint32_t)x;
	return rc;
}

static int get_num(struct ld *l, json_t *obj, const char *key, int req, double *out)
{
	json_t *v = enter(l, obj, key);
	int rc = 1;

	if (!v)
		return req ? missing(l, key, "a number") : 0;
	if (!json_is_number(v))
		rc = bad(l, v, WLB_EINVAL, "a number");
	else
		*out = json_number_value(v);
	pop(l);
	return rc;
}

static int get_bool(struct ld *l, json_t *obj, const char *key, int *out)
{
	json_t *v = enter(l, obj, key);
	int rc = 1;

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		rc = bad(l, v, WLB_EINVAL, "true or false");
	else
		*out = json_is_true(v);
	pop(l);
	return rc;
}

static int get_str(struct ld *l, json_t *obj, const char *key, int allow_empty, char *buf,
		   size_t cap)
{
	json_t *v = enter(l, obj, key);
	int rc;

	if (!v)
		return 0;
	rc = val_str(l, v, allow_empty, buf, cap);
	pop(l);
	return rc < 0 ? rc : 1;
}

/* ---- the sections ---- */

static int parse_model(struct ld *l, json_t *v, struct wlb_model *m)
{
	char mlp[16] = "swiglu";
	json_t *x;
	int rc;

	if (json_is_string(v)) {
		if ((rc = wlb_model_preset(json_string_value(v), m, l->err)) < 0)
			return prefix_here(l);
		return 0;
	}
	if (!json_is_object(v))
		return bad(l, v, WLB_EINVAL, "a preset name or an object");
	if ((rc = obj_keys(l, v, model_keys)) < 0)
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
			return fail_at(l, 0, WLB_EINVAL,
				       "model.head_dim is missing and model.heads (%d) does not "
				       "divide model.hidden (%d)", m->heads, m->hidden);
		m->head_dim = m->hidden / m->heads;
	}
	if ((rc = get_str(l, v, "mlp", 0, mlp, sizeof mlp)) < 0)
		return rc;
	if (!strcmp(mlp, "swiglu")) {
		m->mlp = WLB_MLP_SWIGLU;
	} else if (!strcmp(mlp, "gelu")) {
		m->mlp = WLB_MLP_GELU;
	} else {
		x = enter(l, v, "mlp");
		rc = bad(l, x, WLB_EINVAL, "\"swiglu\" or \"gelu\"");
		pop(l);
		return rc;
	}
	return 0;
}

static int parse_cluster(struct ld *l, json_t *v, struct wlb_cluster *c)
{
	int rc;

	if ((rc = obj_keys(l, v, cluster_keys)) < 0 ||
	    (rc = get_pos(l, v, "gpus_per_node", 0, &c->gpus_per_node)) < 0 ||
	    (rc = get_pos(l, v, "nodes", 0, &c->nodes)) < 0)
		return rc;
	return 0;
}

static int parse_parallel(struct ld *l, json_t *v, struct wlb_parallel *p)
{
	int rc;

	if ((rc = obj_keys(l, v, parallel_keys)) < 0 ||
	    (rc = get_pos(l, v, "tp", 0, &p->tp)) < 0 ||
	    (rc = get_pos(l, v, "cp", 0, &p->cp)) < 0 ||
	    (rc = get_pos(l, v, "pp", 0, &p->pp)) < 0 ||
	    (rc = get_pos(l, v, "dp", 0, &p->dp)) < 0 ||
	    (rc = get_pos(l, v, "vpp", 0, &p->vpp)) < 0 ||
	    (rc = get_pos(l, v, "microbatches", 0, &p->microbatches)) < 0 ||
	    (rc = get_str(l, v, "schedule", 0, p->schedule, sizeof p->schedule)) < 0 ||
	    (rc = get_str(l, v, "cp_algo", 0, p->cp_algo, sizeof p->cp_algo)) < 0 ||
	    (rc = get_bool(l, v, "sequence_parallel", &p->sequence_parallel)) < 0 ||
	    (rc = get_bool(l, v, "fsdp", &p->fsdp)) < 0 ||
	    (rc = get_bool(l, v, "recompute", &p->recompute)) < 0)
		return rc;
	return 0;
}

static int parse_policy(struct ld *l, json_t *v, struct wlb_policy *pol)
{
	json_t *a;
	int rc;

	if ((rc = obj_keys(l, v, policy_keys)) < 0 ||
	    (rc = get_str(l, v, "packing", 0, pol->packing, sizeof pol->packing)) < 0 ||
	    (rc = get_str(l, v, "sharding", 0, pol->sharding, sizeof pol->sharding)) < 0 ||
	    (rc = get_u32(l, v, "s_max", UINT32_MAX, &pol->s_max)) < 0 ||
	    (rc = get_u32(l, v, "window", UINT32_MAX, &pol->window)) < 0)
		return rc;
	if (!(a = enter(l, v, "outlier_thresholds")))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > WLB_MAX_QUEUES) {
		rc = bad(l, a, WLB_EINVAL, "an array of at most %d increasing token counts",
			 WLB_MAX_QUEUES);
		goto out;
	}
	pol->n_thresholds = (int)json_array_size(a);
	for (size_t i = 0; i < json_array_size(a); i++) {
		long long x = 0;

		push(l, NULL, i);
		rc = val_int(l, json_array_get(a, i), 1, UINT32_MAX, &x);
		pop(l);
		if (rc < 0)
			goto out;
		pol->thresholds[i] = (uint32_t)x;
	}
	rc = 0;
out:
	pop(l);
	return rc;
}

/* Exactly one of names[0..n) in obj (the current object): its index, or a
 * negative wlb_err naming what is missing or doubled. */
static int one_of(struct ld *l, json_t *obj, const char *const *names, size_t n)
{
	char list[128], p[160];
	int found = -1, rc;

	list[0] = '\0';
	for (size_t i = 0, m = 0; i < n; i++)
		m += (size_t)snprintf(list + m, m < sizeof list ? sizeof list - m : 0, "%s%s",
				      i ? ", " : "", names[i]);
	path_str(l, l->depth, p, sizeof p);
	for (size_t i = 0; i < n; i++) {
		if (!json_object_get(obj, names[i]))
			continue;
		if (found >= 0) {
			push(l, names[i], 0);
			rc = fail_at(l, 1, WLB_EINVAL,
				     "%s has both \"%s\" and \"%s\" (expected exactly one of: %s)",
				     p, names[found], names[i], list);
			pop(l);
			return rc;
		}
		found = (int)i;
	}
	if (found < 0)
		return fail_at(l, 0, WLB_EINVAL, "%s needs one of: %s", p, list);
	return found;
}

static int parse_component(struct ld *l, json_t *v, struct wlb_dist_component *c)
{
	const char *names[NKINDS];
	json_t *x;
	int k, rc;

	for (size_t i = 0; i < NKINDS; i++)
		names[i] = kinds[i].name;
	if ((rc = obj_keys(l, v, comp_keys)) < 0 ||
	    (rc = get_num(l, v, "weight", 1, &c->weight)) < 0 ||
	    (k = rc = one_of(l, v, names, NKINDS)) < 0)
		return rc;
	c->kind = kinds[k].kind;
	if (!kinds[k].keys) {
		if ((rc = get_num(l, v, kinds[k].name, 1, &c->a)) < 0)
			return rc;
	} else {
		x = enter(l, v, kinds[k].name);
		if ((rc = obj_keys(l, x, kinds[k].keys)) >= 0 &&
		    (rc = get_num(l, x, kinds[k].keys[0], 1, &c->a)) >= 0)
			rc = get_num(l, x, kinds[k].keys[1], 1, &c->b);
		pop(l);
		if (rc < 0)
			return rc;
	}
	if ((rc = get_num(l, v, "min", 0, &c->min)) < 0 ||
	    (rc = get_num(l, v, "max", 0, &c->max)) < 0)
		return rc;
	return 0;
}

static int parse_dist(struct ld *l, json_t *v, struct wlb_dist *d)
{
	json_t *x;
	int rc;

	if ((rc = obj_keys(l, v, dist_keys)) < 0 || (rc = one_of(l, v, dist_keys, 2)) < 0)
		return rc;
	if (rc == 0) {
		x = enter(l, v, "preset");
		if (!json_is_string(x))
			rc = bad(l, x, WLB_EINVAL, "a distribution preset name");
		else if ((rc = wlb_dist_preset(json_string_value(x), d, l->err)) < 0)
			rc = prefix_here(l);
		pop(l);
		return rc;
	}
	x = enter(l, v, "mixture");
	if (!json_is_array(x) || !json_array_size(x) ||
	    json_array_size(x) > WLB_DIST_MAX_COMPONENTS) {
		rc = bad(l, x, WLB_EINVAL, "an array of 1 to %d components",
			 WLB_DIST_MAX_COMPONENTS);
		goto out;
	}
	memset(d, 0, sizeof *d);
	d->n = (int)json_array_size(x);
	for (size_t i = 0; i < json_array_size(x); i++) {
		push(l, NULL, i);
		rc = parse_component(l, json_array_get(x, i), &d->c[i]);
		pop(l);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	pop(l);
	return rc;
}

/* v: the current value, data.batches. */
static int parse_batches(struct ld *l, json_t *v, struct wlb_source *s)
{
	size_t nb, total = 0, k = 0;
	int rc = 0;

	if (!json_is_array(v) || !(nb = json_array_size(v)))
		return bad(l, v, WLB_EINVAL, "a non-empty array of batches");
	for (size_t i = 0; i < nb; i++) {
		json_t *b = json_array_get(v, i);

		if (!json_is_array(b) || !json_array_size(b)) {
			push(l, NULL, i);
			rc = bad(l, b, WLB_EINVAL, "a non-empty array of document lengths");
			pop(l);
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
		push(l, NULL, i);
		for (size_t j = 0; j < json_array_size(b) && rc >= 0; j++) {
			long long x = 0;

			push(l, NULL, j);
			if ((rc = val_int(l, json_array_get(b, j), 1, UINT32_MAX, &x)) >= 0)
				s->lens[k++] = (uint32_t)x;
			pop(l);
		}
		pop(l);
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
static int parse_lengths(struct ld *l, json_t *v, struct wlb_trace *t)
{
	char full[1100];
	const char *f = t->lengths_file;
	int rc, n;

	if ((rc = val_str(l, v, 0, t->lengths_file, sizeof t->lengths_file)) < 0)
		return rc;
	if (f[0] == '/' || !l->dir[0])
		n = snprintf(full, sizeof full, "%s", f);
	else
		n = snprintf(full, sizeof full, "%s/%s", l->dir, f);
	if (n < 0 || (size_t)n >= sizeof full)
		return bad(l, v, WLB_EINVAL, "a shorter path");
	if ((rc = wlb_lengths_read(full, &t->source.lens, &t->source.n_lens, l->err)) < 0)
		return prefix_here(l);
	t->source.kind = WLB_SOURCE_LENGTHS;
	return 0;
}

static int parse_data(struct ld *l, json_t *v, struct wlb_trace *t)
{
	static const char *const sources[] = {"distribution", "batches", "lengths_file"};
	long long it = 0, seed;
	int rc, has_it, which;
	json_t *x;

	if ((rc = obj_keys(l, v, data_keys)) < 0 || (which = rc = one_of(l, v, sources, 3)) < 0 ||
	    (has_it = rc = get_int(l, v, "iterations", 0, 1, UINT32_MAX, &it)) < 0)
		return rc;
	if ((rc = get_int(l, v, "seed", 0, 0, LLONG_MAX, &seed)) < 0)
		return rc;
	if (rc)
		t->source.seed = (uint64_t)seed;
	x = enter(l, v, sources[which]);
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
	pop(l);
	if (rc < 0)
		return rc;
	if (which == 1 && has_it && (size_t)it != t->source.n_batches) {
		x = enter(l, v, "iterations");
		rc = bad(l, x, WLB_EINVAL, "the number of batches (%zu)", t->source.n_batches);
		pop(l);
		return rc;
	}
	if (has_it)
		t->iterations = (uint32_t)it;
	else
		t->iterations = which == 1 ? (uint32_t)t->source.n_batches : which == 2 ? 0 : 1;
	return 0;
}

/* Parses section key of root with fn, when present (or missing and required). */
#define SECTION(key, req, want, call) do { \
	if ((v = enter(l, root, key))) { \
		rc = (call); \
		pop(l); \
		if (rc < 0) \
			return rc; \
	} else if (req) { \
		return missing(l, key, want); \
	} \
} while (0)

static int parse_root(struct ld *l, json_t *root, struct wlb_trace *t)
{
	long long ctx;
	json_t *v;
	int rc;

	if (!json_is_object(root))
		return bad(l, root, WLB_EINVAL, "an object");
	if (!(v = enter(l, root, "format")))
		return missing(l, "format", "\"" FORMAT "\"");
	rc = json_is_string(v) && !strcmp(json_string_value(v), FORMAT) ? 0 :
		bad(l, v, WLB_EINVAL, "\"" FORMAT "\"");
	pop(l);
	if (rc < 0 || (rc = obj_keys(l, root, top_keys)) < 0 ||
	    (rc = get_str(l, root, "name", 1, t->name, sizeof t->name)) < 0)
		return rc;
	SECTION("model", 1, "a preset name or an object", parse_model(l, v, &t->model));
	if ((rc = get_str(l, root, "gpu", 0, t->gpu, sizeof t->gpu)) < 0)
		return rc;
	SECTION("cluster", 0, "", parse_cluster(l, v, &t->cluster));
	SECTION("parallel", 0, "", parse_parallel(l, v, &t->parallel));
	if ((rc = get_int(l, root, "context", 1, 1, CONTEXT_MAX, &ctx)) < 0)
		return rc;
	t->context = (uint32_t)ctx;
	SECTION("policy", 0, "", parse_policy(l, v, &t->policy));
	SECTION("data", 1, "an object", parse_data(l, v, t));
	return 0;
}

/* ---- defaults and checks ---- */

void wlb_policy_defaults(struct wlb_policy *pol, uint32_t context)
{
	if (!pol->packing[0])
		snprintf(pol->packing, sizeof pol->packing, "wlb");
	if (!pol->sharding[0])
		snprintf(pol->sharding, sizeof pol->sharding, "adaptive");
	if (!pol->s_max) {
		uint64_t s = ((uint64_t)context * 3 + 1) / 2;

		s = (s + 1023) / 1024 * 1024;
		pol->s_max = s > UINT32_MAX ? UINT32_MAX / 1024 * 1024 : (uint32_t)s;
	}
	if (pol->n_thresholds < 0) {
		uint32_t q = context / 4, h = context / 2;

		pol->n_thresholds = 0;
		if (q >= 1 && q < h)
			pol->thresholds[pol->n_thresholds++] = q;
		if (h >= 1)
			pol->thresholds[pol->n_thresholds++] = h;
	}
	if (!pol->window)
		pol->window = 1;
}

void wlb_trace_init(struct wlb_trace *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->gpu, sizeof t->gpu, "h100-sxm");
	t->cluster.gpus_per_node = 8;
	t->parallel.tp = t->parallel.cp = t->parallel.pp = t->parallel.dp = 1;
	t->parallel.vpp = 1;
	t->parallel.microbatches = 1;
	snprintf(t->parallel.schedule, sizeof t->parallel.schedule, "1f1b");
	snprintf(t->parallel.cp_algo, sizeof t->parallel.cp_algo, "allgather");
	t->parallel.sequence_parallel = 1;
	t->parallel.fsdp = 1;
	t->policy.n_thresholds = -1;
	t->iterations = 1;
	t->source.kind = WLB_SOURCE_DIST;
	t->source.seed = 1;
}

static int cfail(const struct ld *l, struct wlb_error *err, const char *base, int code,
		 const char *fmt, ...) WLB_PRINTF(5, 6);
static int cfail(const struct ld *l, struct wlb_error *err, const char *base, int code,
		 const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->code = code;
	return place(l, base, err);
}

static int check_policy(const struct wlb_trace *t, const struct ld *l, struct wlb_error *err)
{
	struct wlb_policy pol = t->policy;
	enum wlb_shard_kind sk;
	char list[128] = "";
	const struct wlb_packer_ops *const *ops = wlb_packers();

	wlb_policy_defaults(&pol, t->context);
	if (!wlb_packer_find(pol.packing)) {
		for (size_t i = 0, n = 0; ops[i]; i++)
			n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0,
					      "%s%s", i ? ", " : "", ops[i]->name);
		return cfail(l, err, "policy", WLB_EINVAL,
			     "policy.packing must be one of: %s, got \"%s\"", list, pol.packing);
	}
	if (wlb_shard_parse(pol.sharding, &sk))
		return cfail(l, err, "policy", WLB_EINVAL,
			     "policy.sharding must be one of: per-seq, per-doc, adaptive, got \"%s\"",
			     pol.sharding);
	if (pol.n_thresholds > WLB_MAX_QUEUES)
		return cfail(l, err, "policy", WLB_EINVAL,
			     "policy.outlier_thresholds must hold at most %d thresholds, got %d",
			     WLB_MAX_QUEUES, pol.n_thresholds);
	for (int i = 0; i < pol.n_thresholds; i++) {
		uint32_t x = pol.thresholds[i];

		if (x < 1)
			return cfail(l, err, "policy", WLB_EINVAL,
				     "policy.outlier_thresholds[%d] must be a positive integer, got %u",
				     i, x);
		if (i && x <= pol.thresholds[i - 1])
			return cfail(l, err, "policy", WLB_EINVAL,
				     "policy.outlier_thresholds[%d] must be greater than the one "
				     "before it (%u), got %u", i, pol.thresholds[i - 1], x);
		if (x >= t->context)
			return cfail(l, err, "policy", WLB_EINVAL,
				     "policy.outlier_thresholds[%d] must be below context (%u): longer "
				     "documents are cut to the context, got %u", i, t->context, x);
	}
	return 0;
}

static int check_data(const struct wlb_trace *t, const struct ld *l, struct wlb_error *err)
{
	const struct wlb_source *s = &t->source;
	int rc;

	if (s->seed > (uint64_t)LLONG_MAX)
		return cfail(l, err, "data", WLB_ERANGE, "data.seed must be at most %lld, got %llu",
			     LLONG_MAX, (unsigned long long)s->seed);
	switch (s->kind) {
	case WLB_SOURCE_DIST:
		if ((rc = wlb_dist_check(&s->dist, err)) < 0)
			return place(l, "data.distribution", err);
		if (t->iterations < 1)
			return cfail(l, err, "data", WLB_EINVAL,
				     "data.iterations must be a positive integer for a distribution, got 0");
		return 0;
	case WLB_SOURCE_BATCHES:
		if (!s->n_batches || !s->lens || !s->batch_start)
			return cfail(l, err, "data", WLB_EINVAL, "data.batches holds no batches");
		for (size_t i = 0; i < s->n_batches; i++) {
			if (s->batch_start[i + 1] <= s->batch_start[i] ||
			    s->batch_start[i + 1] > s->n_lens)
				return cfail(l, err, "data", WLB_EINVAL,
					     "data.batches[%zu] must be a non-empty array of document "
					     "lengths", i);
			for (size_t j = s->batch_start[i]; j < s->batch_start[i + 1]; j++)
				if (!s->lens[j])
					return cfail(l, err, "data", WLB_EINVAL,
						     "data.batches[%zu][%zu] must be a positive integer, got 0",
						     i, j - s->batch_start[i]);
		}
		if (t->iterations > s->n_batches)
			return cfail(l, err, "data", WLB_EINVAL,
				     "data.iterations must be at most the number of batches (%zu), got %u",
				     s->n_batches, t->iterations);
		return 0;
	case WLB_SOURCE_LENGTHS:
		if (!s->n_lens || !s->lens)
			return cfail(l, err, "data", WLB_EINVAL, "data.lengths_file holds no lengths");
		return 0;
	}
	return cfail(l, err, "data", WLB_EINVAL, "data has an unknown source kind (%d)",
		     (int)s->kind);
}

static int check_trace(const struct wlb_trace *t, const struct ld *l, struct wlb_error *err)
{
	const struct wlb_parallel *p = &t->parallel;
	const struct wlb_cluster *c = &t->cluster;
	long long world;
	int rc;

	if (t->context < 1 || t->context > CONTEXT_MAX)
		return cfail(l, err, "context", WLB_ERANGE,
			     "context must be a positive integer at most %lld, got %u",
			     CONTEXT_MAX, t->context);
	if ((rc = wlb_model_check(&t->model, err)) < 0)
		return place(l, "model", err);
	if ((rc = wlb_parallel_check(p, &t->model, err)) < 0)
		return place(l, "parallel", err);
	if (c->gpus_per_node < 1)
		return cfail(l, err, "cluster", WLB_EINVAL,
			     "cluster.gpus_per_node must be a positive integer, got %d",
			     c->gpus_per_node);
	if (c->nodes < 0)
		return cfail(l, err, "cluster", WLB_EINVAL,
			     "cluster.nodes must be a positive integer (or 0 for as many as "
			     "needed), got %d", c->nodes);
	if (p->tp > c->gpus_per_node)
		return cfail(l, err, "parallel", WLB_EINVAL,
			     "parallel.tp must be at most cluster.gpus_per_node (%d): tensor "
			     "parallelism stays inside a node, got %d", c->gpus_per_node, p->tp);
	world = (long long)p->tp * p->cp * p->pp * p->dp;
	if (c->nodes > 0 && world > (long long)c->nodes * c->gpus_per_node)
		return cfail(l, err, "cluster", WLB_EINVAL,
			     "cluster.nodes (%d) x cluster.gpus_per_node (%d) must hold tp x cp x pp "
			     "x dp = %lld GPUs", c->nodes, c->gpus_per_node, world);
	if ((rc = check_policy(t, l, err)) < 0)
		return rc;
	return check_data(t, l, err);
}

int wlb_trace_check(const struct wlb_trace *t, struct wlb_error *err)
{
	return check_trace(t, NULL, err);
}

/* ---- loading ---- */

static int load_text(struct wlb_trace *t, const char *text, size_t len, const char *file,
		     const char *dir, struct wlb_error *err)
{
	struct ld l = {.text = text, .len = len, .file = file, .err = err};
	json_error_t je;
	json_t *root;
	int rc;

	snprintf(l.dir, sizeof l.dir, "%s", dir);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (je.line < 1)
			rc = wlb_error_set(err, WLB_EINVAL, "%s: %s", file, je.text);
		else
			rc = wlb_error_set(err, WLB_EINVAL, "%s:%d:%d: %s", file, je.line,
					   je.column < 1 ? 1 : je.column, je.text);
		goto done;
	}
	if ((rc = parse_root(&l, root, t)) < 0)
		goto done;
	wlb_policy_defaults(&t->policy, t->context);
	rc = check_trace(t, &l, err);
done:
	json_decref(root);
	if (rc < 0) {
		wlb_trace_free(t);
		wlb_trace_init(t);
	}
	return rc;
}

int wlb_trace_load(struct wlb_trace *t, const char *path, struct wlb_error *err)
{
	FILE *f = NULL;
	char *buf = NULL, dir[512] = "";
	const char *slash;
	size_t size = 0, cap = 0;
	int rc = 0;

	wlb_trace_init(t);
	if (strlen(path) >= sizeof t->path)
		return wlb_error_set(err, WLB_EINVAL, "%.64s...: path too long (at most %zu bytes)",
				     path, sizeof t->path - 1);
	if (!(f = fopen(path, "rb")))
		return wlb_error_set(err, WLB_EIO, "%s: cannot open: %s", path, strerror(errno));
	for (;;) {
		if (size == cap) {
			size_t want = cap ? cap * 2 : 1 << 16;
			char *nb = realloc(buf, want);

			if (!nb) {
				rc = wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
				goto done;
			}
			buf = nb;
			cap = want;
		}
		size_t got = fread(buf + size, 1, cap - size, f);

		size += got;
		if (!got)
			break;
	}
	if (ferror(f)) {
		rc = wlb_error_set(err, WLB_EIO, "%s: read error: %s", path, strerror(errno));
		goto done;
	}
	if ((slash = strrchr(path, '/')))
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	snprintf(t->path, sizeof t->path, "%s", path);
	rc = load_text(t, buf ? buf : "", size, path, dir, err);
done:
	free(buf);
	fclose(f);
	return rc;
}

int wlb_trace_load_string(struct wlb_trace *t, const char *text, const char *name,
			  struct wlb_error *err)
{
	wlb_trace_init(t);
	return load_text(t, text, strlen(text), name ? name : "<string>", "", err);
}

void wlb_trace_free(struct wlb_trace *t)
{
	wlb_source_free(&t->source);
}

/* ---- saving ---- */

static int set(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) != 0;
}

static int add(json_t *a, json_t *v)
{
	return json_array_append_new(a, v) != 0;
}

static int integral(double x)
{
	return x == floor(x) && fabs(x) < 9007199254740992.0;
}

/* A length-like number as an integer when it is one. */
static json_t *jnum(double x)
{
	return integral(x) ? json_integer((json_int_t)x) : json_real(x);
}

/* The fewest significant digits that write every non-integral number of d
 * back exactly (JSON_REAL_PRECISION applies to the whole dump); 0 when one is
 * not finite. */
static int real_precision(const struct wlb_dist *d)
{
	for (int i = 0; i < d->n; i++) {
		const struct wlb_dist_component *c = &d->c[i];
		const double x[5] = {c->weight, c->a, c->b, c->min, c->max};

		for (int j = 0; j < 5; j++)
			if (!isfinite(x[j]))
				return 0;
	}
	for (int p = 1; p < 17; p++) {
		int ok = 1;

		for (int i = 0; i < d->n && ok; i++) {
			const struct wlb_dist_component *c = &d->c[i];
			const double x[5] = {c->weight, c->a, c->b, c->min, c->max};

			for (int j = 0; j < 5 && ok; j++) {
				char buf[40];

				if (integral(x[j]))
					continue;
				snprintf(buf, sizeof buf, "%.*g", p, x[j]);
				ok = strtod(buf, NULL) == x[j];
			}
		}
		if (ok)
			return p;
	}
	return 17;
}

static json_t *mixture_json(const struct wlb_dist *d)
{
	json_t *a = json_array();
	int fail = !a;

	for (int i = 0; i < d->n && !fail; i++) {
		const struct wlb_dist_component *c = &d->c[i];
		json_t *o = json_object(), *k = NULL;
		size_t kk = 0;

		while (kk < NKINDS && kinds[kk].kind != c->kind)
			kk++;
		if (kk == NKINDS) {
			json_decref(o);
			fail = 1;
			break;
		}
		fail |= set(o, "weight", jnum(c->weight));
		if (kinds[kk].keys) {
			k = json_object();
			fail |= set(k, kinds[kk].keys[0], jnum(c->a));
			fail |= set(k, kinds[kk].keys[1], jnum(c->b));
		} else {
			k = jnum(c->a);
		}
		fail |= set(o, kinds[kk].name, k);
		if (c->min != 0)
			fail |= set(o, "min", jnum(c->min));
		if (c->max != 0)
			fail |= set(o, "max", jnum(c->max));
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
	}
	if (fail) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *trace_json(const struct wlb_trace *t, const struct wlb_policy *pol,
			  const char *dist_preset, const char *lengths_file)
{
	const struct wlb_model *m = &t->model;
	const struct wlb_parallel *p = &t->parallel;
	json_t *root = json_object(), *o;
	int fail = !root;

	fail |= set(root, "format", json_string(FORMAT));
	if (t->name[0])
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
	fail |= set(o, "fsdp", json_boolean(p->fsdp));
	fail |= set(o, "recompute", json_boolean(p->recompute));
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
	fail |= set(root, "policy", o);
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
	char tmp[600], lengths[PATH_MAX] = "";
	json_t *root = NULL;
	char *text = NULL;
	FILE *f = NULL;
	int rc, made = 0, prec = 17, n;

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
	if (!(root = trace_json(t, &pol, dist_preset, lengths)) ||
	    !(text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				JSON_REAL_PRECISION(prec)))) {
		rc = wlb_error_set(err, WLB_ENOMEM,
				   "%s: cannot build the JSON (out of memory, or a string that is "
				   "not UTF-8)", path);
		goto done;
	}
	n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp) {
		rc = wlb_error_set(err, WLB_EINVAL, "%.64s...: path too long", path);
		goto done;
	}
	if (!(f = fopen(tmp, "w"))) {
		rc = wlb_error_set(err, WLB_EIO, "%s: cannot write: %s", tmp, strerror(errno));
		goto done;
	}
	made = 1;
	if (fputs(text, f) == EOF || fputc('\n', f) == EOF || fflush(f) || fsync(fileno(f))) {
		rc = wlb_error_set(err, WLB_EIO, "%s: write error: %s", tmp, strerror(errno));
		goto done;
	}
	n = fclose(f);
	f = NULL;
	if (n) {
		rc = wlb_error_set(err, WLB_EIO, "%s: write error: %s", tmp, strerror(errno));
		goto done;
	}
	if (rename(tmp, path)) {
		rc = wlb_error_set(err, WLB_EIO, "%s: cannot rename %s to it: %s", path, tmp,
				   strerror(errno));
		goto done;
	}
	made = 0;
	rc = 0;
done:
	if (f)
		fclose(f);
	if (made)
		remove(tmp);
	free(text);
	json_decref(root);
	return rc;
}
