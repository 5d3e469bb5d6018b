/* trace_int.h — what trace.c (the loader), trace_check.c (defaults and
 * checks), trace_data.c (the data section) and trace_save.c share; not part
 * of the library's interface.
 *
 * The loader reads with a key path of where it stands (struct wlb_ld), so
 * every message starts "FILE:LINE:COL:" with the place of the offending value
 * (or of the key, for unknown keys) and names its key path. */
#ifndef WLB_TRACE_INT_H
#define WLB_TRACE_INT_H

#include <stddef.h>

#include <jansson.h>

#include "json.h"
#include "trace.h"

#define WLB_TRACE_FORMAT "wlb-trace/1"
#define WLB_TRACE_CONTEXT_MAX 2147483648LL /* 2^31 */

/* The loader's state. */
struct wlb_ld {
	const char *text;
	size_t len;
	const char *file;       /* the name messages give the text */
	char dir[512];          /* directory of relative paths; "" = current */
	struct wlb_error *err;
	struct wlb_json_path path; /* where the loader stands */
};

/* A distribution component kind as data.distribution.mixture spells it. */
struct wlb_trace_dist_kind {
	const char *name;
	enum wlb_dist_kind kind;
	const char *const *keys; /* its two parameters, a and b; NULL for point */
};

#define WLB_TRACE_DIST_KINDS 4
extern const struct wlb_trace_dist_kind wlb_trace_dist_kinds[WLB_TRACE_DIST_KINDS];

static inline void wlb_ld_push(struct wlb_ld *l, const char *key, size_t idx)
{
	wlb_json_path_push(&l->path, key, idx);
}

static inline void wlb_ld_pop(struct wlb_ld *l)
{
	wlb_json_path_pop(&l->path);
}

/* "FILE:LINE:COL: MESSAGE" at the current value (or its key: want_key). */
int wlb_ld_fail_at(struct wlb_ld *l, int want_key, int code, const char *fmt, ...)
	WLB_PRINTF(4, 5);
/* Prefixes a helper's message in l->err with the place and path of the
 * current value. */
int wlb_ld_prefix_here(struct wlb_ld *l);
/* "PATH must be WANT, got VALUE" at the current value v. */
int wlb_ld_bad(struct wlb_ld *l, const json_t *v, int code, const char *fmt, ...)
	WLB_PRINTF(4, 5);
/* A required key is absent from the current object. */
int wlb_ld_missing(struct wlb_ld *l, const char *key, const char *want);
/* Checks that v, the current value, is an object holding only keys. */
int wlb_ld_obj_keys(struct wlb_ld *l, json_t *v, const char *const *keys);

/* The current value v as an integer in [lo, hi], or a string of fewer than
 * cap bytes (empty only when allow_empty). */
int wlb_ld_val_int(struct wlb_ld *l, const json_t *v, long long lo, long long hi,
		   long long *out);
int wlb_ld_val_str(struct wlb_ld *l, const json_t *v, int allow_empty, char *buf, size_t cap);
/* Looks key up in obj and pushes it on the path when present. */
json_t *wlb_ld_enter(struct wlb_ld *l, json_t *obj, const char *key);
/* Key of obj as an integer in [lo, hi]: 1 when present and valid, 0 when
 * absent (and not required), or a negative wlb_err. */
int wlb_ld_get_int(struct wlb_ld *l, json_t *obj, const char *key, int req, long long lo,
		   long long hi, long long *out);

/* Puts "FILE:LINE:COL" before a check's message in err (see trace.c); l may
 * be NULL (an in-memory trace: the message stays). */
int wlb_ld_place(const struct wlb_ld *l, const char *base, struct wlb_error *err);
/* Sets err to the message and places it (wlb_ld_place). */
int wlb_ld_cfail(const struct wlb_ld *l, struct wlb_error *err, const char *base, int code,
		 const char *fmt, ...) WLB_PRINTF(5, 6);

/* trace_check.c: the checks of wlb_config_check (everything but the data
 * source) and of wlb_trace_check, placed in the file when l is not NULL. */
int wlb_ld_check_config(const struct wlb_trace *t, const struct wlb_ld *l, struct wlb_error *err);
int wlb_ld_check_trace(const struct wlb_trace *t, const struct wlb_ld *l, struct wlb_error *err);

/* trace_data.c: the data section v (the current value) into t, and the
 * checks of t's data source. */
int wlb_ld_parse_data(struct wlb_ld *l, json_t *v, struct wlb_trace *t);
int wlb_ld_check_data(const struct wlb_trace *t, const struct wlb_ld *l, struct wlb_error *err);

#endif
