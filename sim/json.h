/* json.h — JSON-file helpers on top of jansson: where a key path stands in
 * the text (for "FILE:LINE:COL:" messages), atomic writes, numbers written
 * with the fewest digits that read back exactly, and short value texts for
 * messages. */
#ifndef WLB_JSON_H
#define WLB_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

#define WLB_JSON_MAX_DEPTH 8

/* What a JSON file users give (trace, config, report) may hold; the largest
 * the tools write are far below: a report of 1,000 iterations of 1,024
 * micro-batches is some 150 MB, a trace nests 5 levels.  The file size bounds
 * jansson's memory (about 50 bytes a value); depth and array length are
 * checked on the text before jansson reads it. */
#define WLB_JSON_MAX_BYTES (512ll << 20)
#define WLB_JSON_MAX_NESTING 64
#define WLB_JSON_MAX_ARRAY (1 << 24)

/* One step of a key path: an object key, or an array index when key is NULL. */
struct wlb_json_step {
	const char *key;
	size_t idx;
};

/* A key path: "parallel.tp", "data.batches[2][0]"; depth 0 is the top level.
 * depth may exceed WLB_JSON_MAX_DEPTH: the steps past it are not kept, and
 * the functions below use the first WLB_JSON_MAX_DEPTH.  Key strings are
 * borrowed. */
struct wlb_json_path {
	int depth;
	struct wlb_json_step step[WLB_JSON_MAX_DEPTH];
};

/* Appends the step key (an object key) or, key NULL, idx (an array index). */
void wlb_json_path_push(struct wlb_json_path *p, const char *key, size_t idx);
void wlb_json_path_pop(struct wlb_json_path *p);

/* Fills p with the key path that starts s ("parallel.tp must ...",
 * "data.batches[2][0] ..."), its key names copied into buf[0..cap).
 * Returns its depth (0 when s starts with no key). */
int wlb_json_path_parse(struct wlb_json_path *p, const char *s, char *buf, size_t cap);

/* Writes p as "parallel.tp", "data.batches[1][0]"; "the top level" at depth 0. */
void wlb_json_path_format(const struct wlb_json_path *p, char *buf, size_t cap);

/* 1-based line and column (in characters, a UTF-8 sequence counting one, as
 * jansson counts) of the value at path in the valid JSON text[0..len), or of
 * its key (want_key, the last step an object key); keys match however the
 * text escapes them.  Returns 0, or -1 when the text holds no such value
 * (line and column are then 1:1). */
int wlb_json_locate(const char *text, size_t len, const struct wlb_json_path *path,
		    int want_key, int *line, int *col);

/* Checks that text[0..len) (JSON, valid or not) nests at most
 * WLB_JSON_MAX_NESTING arrays and objects deep and that no array holds more
 * than WLB_JSON_MAX_ARRAY values; else "FILE:LINE:COL: ..." at the opening
 * bracket too deep or the first value too many.  0 or WLB_ERANGE. */
int wlb_json_check_shape(const char *text, size_t len, const char *file, struct wlb_error *err);

/* Reads the JSON file path (what names it: "report") within the limits
 * above (wlb_infile_slurp, wlb_json_check_shape), parsed with jansson's
 * flags; a syntax error as "FILE:LINE:COL: jansson's text".  NULL after
 * setting err. */
json_t *wlb_json_read(const char *path, const char *what, size_t flags, struct wlb_error *err);

/* x as a JSON integer when it is integral (and below 2^53), else a real. */
json_t *wlb_json_number(double x);

/* The fewest significant digits (1 to 17) that write every non-integral x[i]
 * back exactly, for JSON_REAL_PRECISION (which applies to a whole dump);
 * 0 when an x[i] is not finite. */
int wlb_json_real_precision(const double *x, size_t n);

/* The compact JSON text of v (ASCII), cut to 40 characters with "..." when
 * longer, for "got VALUE" in messages. */
void wlb_json_brief(const json_t *v, char *buf, size_t cap);

/* Writes j, indented, keys in order, to path ("-" = stdout) atomically: a
 * temp file beside it, flushed to disk, then renamed, so a reader never sees
 * half a file.  Reals get 10 significant digits, or precision (1 to 17) with
 * wlb_json_write_prec.  j NULL (a failed build) is reported as out of memory. */
int wlb_json_write(json_t *j, const char *path, struct wlb_error *err);
/* Writes len bytes to path atomically (temp file, fsync, rename); "-" = stdout. */
int wlb_file_write(const char *path, const char *data, size_t len, struct wlb_error *err);
int wlb_json_write_prec(json_t *j, const char *path, int precision, struct wlb_error *err);
/* The text wlb_json_write_prec writes (newline-terminated, not NUL-terminated),
 * its length in *len; NULL when j is NULL or out of memory.  Caller frees. */
char *wlb_json_text(const json_t *j, int precision, size_t *len);

#endif
