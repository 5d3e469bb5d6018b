/* json.c — JSON-file helpers: key-path positions, numbers, atomic writes.
 *
 * jansson parses but keeps no positions of values, so a small scanner walks
 * the (already valid) text to the value a key path names. */
#define _XOPEN_SOURCE 700 /* fsync */

#include "json.h"
#include "infile.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- key paths ---- */

void wlb_json_path_push(struct wlb_json_path *p, const char *key, size_t idx)
{
	if (p->depth >= 0 && p->depth < WLB_JSON_MAX_DEPTH) {
		p->step[p->depth].key = key;
		p->step[p->depth].idx = idx;
	}
	p->depth++;
}

void wlb_json_path_pop(struct wlb_json_path *p)
{
	p->depth--;
}

static int is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

int wlb_json_path_parse(struct wlb_json_path *p, const char *s, char *buf, size_t cap)
{
	size_t used = 0;
	int d = 0;

	while (d < WLB_JSON_MAX_DEPTH) {
		if (*s == '[') {
			char *e;
			unsigned long v;

			if (!isdigit((unsigned char)s[1]))
				break;
			v = strtoul(s + 1, &e, 10);
			if (*e != ']')
				break;
			p->step[d].key = NULL;
			p->step[d++].idx = v;
			s = e + 1;
		} else {
			size_t k = 0;

			while (is_name_char(s[k]))
				k++;
			if (!k || used + k + 1 > cap)
				break;
			memcpy(buf + used, s, k);
			buf[used + k] = '\0';
			p->step[d].key = buf + used;
			p->step[d++].idx = 0;
			used += k + 1;
			s += k;
		}
		if (*s == '.' && is_name_char(s[1]))
			s++;
		else if (*s != '[')
			break;
	}
	p->depth = d;
	return d;
}

void wlb_json_path_format(const struct wlb_json_path *p, char *buf, size_t cap)
{
	int depth = p->depth < WLB_JSON_MAX_DEPTH ? p->depth : WLB_JSON_MAX_DEPTH;
	size_t n = 0;

	snprintf(buf, cap, "the top level");
	for (int d = 0; d < depth && n < cap; d++) {
		if (p->step[d].key)
			n += (size_t)snprintf(buf + n, cap - n, "%s%s", d ? "." : "", p->step[d].key);
		else
			n += (size_t)snprintf(buf + n, cap - n, "[%zu]", p->step[d].idx);
	}
}

/* ---- where a key path stands in the text ---- */

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
static long locate(const char *s, size_t n, const struct wlb_json_step *p, int depth,
		   int want_key)
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

int wlb_json_locate(const char *text, size_t len, const struct wlb_json_path *path,
		    int want_key, int *line, int *col)
{
	int depth = path->depth < WLB_JSON_MAX_DEPTH ? path->depth : WLB_JSON_MAX_DEPTH;
	long at = locate(text, len, path->step, depth, want_key);

	*line = 1;
	*col = 1;
	for (long i = 0; i < at; i++) {
		if (text[i] == '\n') {
			++*line;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			++*col;
		}
	}
	return at < 0 ? -1 : 0;
}

/* ---- bounds ---- */

static int shape_fail(const char *text, size_t at, const char *file, struct wlb_error *err,
		      const char *what)
{
	int line = 1, col = 1;

	for (size_t i = 0; i < at; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			col++;
		}
	}
	return wlb_error_set(err, WLB_ERANGE, "%s:%d:%d: %s", file, line, col, what);
}

int wlb_json_check_shape(const char *text, size_t len, const char *file, struct wlb_error *err)
{
	/* per open bracket: values seen so far (commas + 1) in an array, -1 in an object */
	long long count[WLB_JSON_MAX_NESTING];
	int depth = 0;
	char msg[96];

	for (size_t i = 0; i < len; i++) {
		switch (text[i]) {
		case '"':
			i = skip_string(text, len, i) - 1;
			break;
		case '[':
		case '{':
			if (depth == WLB_JSON_MAX_NESTING) {
				snprintf(msg, sizeof msg, "JSON nested deeper than %d arrays and objects",
					 WLB_JSON_MAX_NESTING);
				return shape_fail(text, i, file, err, msg);
			}
			count[depth++] = text[i] == '[' ? 1 : -1;
			break;
		case ']':
		case '}':
			if (depth)
				depth--;
			break;
		case ',':
			if (depth && count[depth - 1] > 0 && ++count[depth - 1] > WLB_JSON_MAX_ARRAY) {
				snprintf(msg, sizeof msg, "an array of more than %d values",
					 WLB_JSON_MAX_ARRAY);
				return shape_fail(text, i + 1, file, err, msg);
			}
			break;
		}
	}
	return 0;
}

json_t *wlb_json_read(const char *path, const char *what, size_t flags, struct wlb_error *err)
{
	json_error_t je;
	size_t len;
	char *text = wlb_infile_slurp(path, what, WLB_JSON_MAX_BYTES, &len, err);
	json_t *j = NULL;

	if (!text)
		return NULL;
	if (wlb_json_check_shape(text, len, path, err))
		goto done;
	if (!(j = json_loadb(text, len, flags, &je))) {
		if (je.line < 1)
			wlb_error_set(err, WLB_EINVAL, "%s: %s", path, je.text);
		else
			wlb_error_set(err, WLB_EINVAL, "%s:%d:%d: %s", path, je.line,
				      je.column < 1 ? 1 : je.column, je.text);
	}
done:
	free(text);
	return j;
}

/* ---- values ---- */

static int integral(double x)
{
	return x == floor(x) && fabs(x) < 9007199254740992.0;
}

json_t *wlb_json_number(double x)
{
	return integral(x) ? json_integer((json_int_t)x) : json_real(x);
}

int wlb_json_real_precision(const double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	for (int p = 1; p < 17; p++) {
		size_t i = 0;

		for (; i < n; i++) {
			char buf[40];

			if (integral(x[i]))
				continue;
			snprintf(buf, sizeof buf, "%.*g", p, x[i]);
			if (strtod(buf, NULL) != x[i])
				break;
		}
		if (i == n)
			return p;
	}
	return 17;
}

void wlb_json_brief(const json_t *v, char *buf, size_t cap)
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

/* ---- atomic writes ---- */

int wlb_json_write(json_t *j, const char *path, struct wlb_error *err)
{
	return wlb_json_write_prec(j, path, 10, err);
}

static int file_write(const char *path, const char *data, size_t len, struct wlb_error *err)
{
	char tmp[PATH_MAX + 32];
	FILE *f;
	int n, e;

	if (!strcmp(path, "-")) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout))
			return wlb_error_set(err, WLB_EIO, "stdout: write error");
		return 0;
	}
	n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return wlb_error_set(err, WLB_EINVAL, "%.64s...: path too long", path);
	if (!(f = fopen(tmp, "w")))
		return wlb_error_set(err, WLB_EIO, "%s: cannot write: %s", path, strerror(errno));
	errno = 0;
	if (fwrite(data, 1, len, f) != len || fflush(f) || fsync(fileno(f))) {
		e = errno;
		fclose(f);
		n = wlb_error_set(err, WLB_EIO, "%s: write error: %s", tmp, strerror(e ? e : EIO));
		goto fail;
	}
	if (fclose(f)) {
		n = wlb_error_set(err, WLB_EIO, "%s: write error: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path)) {
		n = wlb_error_set(err, WLB_EIO, "%s: cannot rename %s to it: %s", path, tmp,
				  strerror(errno));
		goto fail;
	}
	return 0;
fail:
	remove(tmp);
	return n;
}

/* SIGINT / SIGTERM wait while the temp file exists: a second Ctrl-C (the
 * first only asks the loops to stop, stop.h) would otherwise kill the
 * process between fopen and rename and leave the temp behind. */
int wlb_file_write(const char *path, const char *data, size_t len, struct wlb_error *err)
{
	sigset_t block, old;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	rc = file_write(path, data, len, err);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

char *wlb_json_text(const json_t *j, int precision, size_t *len)
{
	const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(precision);
	char *text;

	if (!j || !(text = json_dumps(j, flags)))
		return NULL;
	*len = strlen(text);
	text[(*len)++] = '\n'; /* json_dumps leaves room for the NUL: it becomes the newline */
	return text;
}

int wlb_json_write_prec(json_t *j, const char *path, int precision, struct wlb_error *err)
{
	size_t len;
	char *text = wlb_json_text(j, precision, &len);
	int rc;

	if (!text)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory building JSON");
	rc = wlb_file_write(path, text, len, err);
	free(text);
	return rc;
}
