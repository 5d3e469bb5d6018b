/* import_attn.c — reads tools/profile_attn.py's CSV. */
#include "import_attn.h"
#include "infile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "direction,heads,kv_heads,head_dim,q_len,kv_len,pieces,median_us,p10_us,p90_us,kernel"

int wlb_attn_csv_parse(const char *path, struct wlb_attn_sample **out, size_t *n,
		       struct wlb_error *err)
{
	struct wlb_lines *rd = malloc(sizeof *rd);
	struct wlb_attn_sample *v = NULL;
	size_t cap = 0, cnt = 0;
	long no = 0;
	int rc = 0, got;

	*out = NULL;
	*n = 0;
	if (!rd)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	if ((rc = wlb_lines_open(rd, path, "attention CSV", err))) {
		free(rd);
		return rc;
	}
	while ((got = wlb_lines_next(rd, err)) > 0) {
		struct wlb_attn_sample s = {0};
		char dir[8], kernel[32], *line = rd->buf;
		int used = 0;

		no = rd->line;
		if (!line[0] || line[0] == '#')
			continue;
		if (no == 1 && !strcmp(line, HEADER))
			continue;
		if (sscanf(line, "%7[a-z],%d,%d,%d,%lld,%lld,%d,%lf,%lf,%lf,%31[^,]%n", dir, &s.heads,
			   &s.kv_heads, &s.head_dim, (long long *)&s.q_len, (long long *)&s.kv_len, &s.pieces,
			   &s.median_us, &s.p10_us, &s.p90_us, kernel, &used) != 11 || line[used] ||
		    (strcmp(dir, "fwd") && strcmp(dir, "bwd")) || s.heads < 1 || s.kv_heads < 1 ||
		    s.heads % s.kv_heads || s.head_dim < 1 || s.q_len < 1 || s.kv_len < s.q_len ||
		    s.pieces < 1 || !(s.median_us > 0) || s.p10_us > s.median_us || s.p90_us < s.median_us) {
			rc = wlb_error_set(err, WLB_EINVAL, "%s:%ld: expected %s with fwd|bwd, positive sizes, "
					   "kv_len >= q_len and p10 <= median <= p90, got \"%.60s\"", path, no,
					   HEADER, line);
			goto done;
		}
		s.bwd = !strcmp(dir, "bwd");
		s.source = WLB_SRC_IMPORTED;
		s.reps = 0;
		snprintf(s.kernel, sizeof s.kernel, "%s", kernel);
		if (cnt == cap) {
			size_t nc = cap ? 2 * cap : 64;
			struct wlb_attn_sample *x = realloc(v, nc * sizeof *x);
			if (!x) {
				rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
				goto done;
			}
			v = x;
			cap = nc;
		}
		v[cnt++] = s;
	}
	if (got < 0) {
		rc = got;
		goto done;
	}
	if (cnt == 0) {
		rc = wlb_error_set(err, WLB_EINVAL, "%s: no attention rows (expected the CSV of "
				   "tools/profile_attn.py)", path);
		goto done;
	}
	*out = v;
	*n = cnt;
	v = NULL;
done:
	free(v);
	wlb_lines_close(rd);
	free(rd);
	return rc;
}
