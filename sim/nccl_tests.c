/* nccl.c — the nccl-tests log importer: reads the text output of NVIDIA
 * nccl-tests (all_gather_perf and friends) into collective samples for the
 * cost DB (costdb.h).  The column header, when present, gives the layout of
 * the data rows, so logs of older nccl-tests parse too; launcher prefixes and
 * NCCL_DEBUG lines are skipped, and a row that does not parse, a run that
 * counted wrong values, or a busbw/algbw ratio that does not match the op
 * and rank count given is refused with FILE:LINE. */
#include "nccl_tests.h"
#include "infile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

/* The columns of a data row, from the log's column header ("#  size  count
 * type  redop  root  time  algbw  busbw  #wrong  time ..."), so logs of older
 * nccl-tests (no root column, "error" for "#wrong") parse too.  The first
 * time/algbw/busbw/#wrong are the out-of-place ones. */
#define NCCL_MAXCOL 24
enum { COL_ANY, COL_INT, COL_NUM, COL_WRONG };

struct tok {
	const char *s;
	int n;
};

struct nccl_layout {
	int ncols;
	unsigned char kind[NCCL_MAXCOL];
	int size, time, algbw, busbw, wrong; /* out-of-place columns; -1 when absent */
};

/* Splits p at blanks; returns the token count, NCCL_MAXCOL + 1 when more. */
static int tokenize(const char *p, struct tok *t)
{
	int n = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == NCCL_MAXCOL)
			return n + 1;
		t[n].s = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		t[n].n = (int)(p - t[n].s);
		n++;
	}
}

static int tok_is(const struct tok *t, const char *w)
{
	return (size_t)t->n == strlen(w) && !memcmp(t->s, w, (size_t)t->n);
}

static int tok_int(const struct tok *t, long long *v)
{
	char buf[32], *end;

	if (t->n >= (int)sizeof buf)
		return -1;
	memcpy(buf, t->s, (size_t)t->n);
	buf[t->n] = '\0';
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return *end || end == buf || errno ? -1 : 0;
}

/* A finite number >= 0. */
static int tok_num(const struct tok *t, double *v)
{
	char buf[48], *end;

	if (t->n >= (int)sizeof buf)
		return -1;
	memcpy(buf, t->s, (size_t)t->n);
	buf[t->n] = '\0';
	*v = strtod(buf, &end);
	return *end || end == buf || !isfinite(*v) || *v < 0 ? -1 : 0;
}

/* The layout a column header names; -1 when t is not one. */
static int nccl_layout(struct nccl_layout *l, const struct tok *t, int n)
{
	memset(l, 0, sizeof *l);
	l->size = l->time = l->algbw = l->busbw = l->wrong = -1;
	if (n > NCCL_MAXCOL)
		return -1;
	l->ncols = n;
	for (int i = 0; i < n; i++) {
		if (tok_is(&t[i], "size") || tok_is(&t[i], "count") || tok_is(&t[i], "root"))
			l->kind[i] = COL_INT;
		else if (tok_is(&t[i], "time") || tok_is(&t[i], "algbw") || tok_is(&t[i], "busbw"))
			l->kind[i] = COL_NUM;
		else if (tok_is(&t[i], "#wrong") || tok_is(&t[i], "error"))
			l->kind[i] = COL_WRONG;
		if (tok_is(&t[i], "size") && l->size < 0)
			l->size = i;
		else if (tok_is(&t[i], "time") && l->time < 0)
			l->time = i;
		else if (tok_is(&t[i], "algbw") && l->time >= 0 && l->algbw < 0)
			l->algbw = i;
		else if (tok_is(&t[i], "busbw") && l->algbw >= 0 && l->busbw < 0)
			l->busbw = i;
		else if (l->kind[i] == COL_WRONG && l->busbw >= 0 && l->wrong < 0)
			l->wrong = i;
	}
	return l->size >= 0 && l->busbw >= 0 ? 0 : -1;
}

/* The current nccl-tests layout, for logs whose column header is missing. */
static void nccl_layout_default(struct nccl_layout *l)
{
	static const char cols[] = "size count type redop root time algbw busbw #wrong "
				   "time algbw busbw #wrong";
	struct tok t[NCCL_MAXCOL + 1];
	nccl_layout(l, t, tokenize(cols, t));
}

/* Skips what launchers put before a line: mpirun's "[1,0]<stdout>:" and
 * srun --label's "0: ". */
static const char *skip_launcher_prefix(const char *p)
{
	const char *q = p;

	while (*q == ' ')
		q++;
	if (*q == '[') {
		const char *e = strchr(q, ']');
		if (e && (!strncmp(e + 1, "<stdout>:", 9) || !strncmp(e + 1, "<stderr>:", 9)))
			return e + 10;
	}
	if (isdigit((unsigned char)*q)) {
		while (isdigit((unsigned char)*q))
			q++;
		if (*q == ':')
			return q + 1;
	}
	return p;
}

struct nccl_row {
	long long size;
	double time_us, algbw, busbw;
};

/* Checks the tokens of a data row against the layout; 0 or -1, or 1 when
 * nccl-tests counted wrong values (its #wrong column). */
static int nccl_row(const struct nccl_layout *l, const struct tok *t, int n, struct nccl_row *r)
{
	if (n != l->ncols)
		return -1;
	for (int i = 0; i < n; i++) {
		long long iv;
		double dv;
		if (l->kind[i] == COL_INT && tok_int(&t[i], &iv))
			return -1;
		if (l->kind[i] == COL_NUM && tok_num(&t[i], &dv))
			return -1;
		if (l->kind[i] == COL_WRONG && !tok_is(&t[i], "N/A") && tok_num(&t[i], &dv))
			return -1;
	}
	tok_int(&t[l->size], &r->size);
	tok_num(&t[l->time], &r->time_us);
	tok_num(&t[l->algbw], &r->algbw);
	tok_num(&t[l->busbw], &r->busbw);
	if (r->size < 0 || (r->size > 0 && r->time_us <= 0))
		return -1;
	if (l->wrong >= 0 && !tok_is(&t[l->wrong], "N/A")) {
		double wrong;
		tok_num(&t[l->wrong], &wrong);
		if (wrong > 0)
			return 1;
	}
	return 0;
}

int wlb_nccl_tests_parse(const char *path, enum wlb_coll_op op, int ranks, int nodes,
			 struct wlb_coll_sample **out, size_t *n, struct wlb_error *err)
{
	struct wlb_lines *rd = NULL;
	size_t cap = 0;
	long lineno = 0;
	int ret = 0, got, ranks_seen = 0, ranks_checked = 0;
	double factor = wlb_coll_busbw_factor(op, ranks);
	struct nccl_layout l;
	struct tok t[NCCL_MAXCOL + 1];

	*out = NULL;
	*n = 0;
	if ((unsigned)op >= WLB_COLL_OPS || ranks < 1 || nodes < 1 || nodes > ranks) {
		ret = wlb_error_set(err, WLB_EINVAL, "%s: importing needs a collective and "
				    "1 <= nodes <= ranks, got op %d, %d ranks on %d nodes",
				    path, (int)op, ranks, nodes);
		goto done;
	}
	if (!(rd = malloc(sizeof *rd))) {
		ret = wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	if ((ret = wlb_lines_open(rd, path, "nccl-tests log", err))) {
		free(rd);
		rd = NULL;
		goto done;
	}
	nccl_layout_default(&l);
	while ((got = wlb_lines_next(rd, err)) > 0) {
		const char *p;
		struct nccl_row r;
		int nt, bad;

		lineno = rd->line;
		p = skip_launcher_prefix(rd->buf);
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			continue;
		if (*p == '#') { /* a header; its "Rank N ..." lines count the ranks */
			struct nccl_layout hl;
			long long rk;
			nt = tokenize(p + 1, t);
			if (nt >= 2 && tok_is(&t[0], "Rank") && !tok_int(&t[1], &rk) && rk >= 0 &&
			    rk < 1 << 24 && rk + 1 > ranks_seen)
				ranks_seen = (int)rk + 1;
			else if (!nccl_layout(&hl, t, nt))
				l = hl;
			continue;
		}
		if (strstr(p, "NCCL INFO") || strstr(p, "NCCL WARN")) /* NCCL_DEBUG output */
			continue;
		nt = tokenize(p, t);
		if ((bad = nccl_row(&l, t, nt, &r)) < 0) {
			int w = (int)strlen(p) > 60 ? 60 : (int)strlen(p);
			ret = wlb_error_set(err, WLB_EINVAL,
					    "%s:%ld: expected an nccl-tests data row (size count type redop "
					    "root time algbw busbw ...), got \"%.*s%s\"",
					    path, lineno, w, p, p[w] ? "..." : "");
			goto done;
		}
		if (bad) {
			ret = wlb_error_set(err, WLB_EINVAL, "%s:%ld: nccl-tests counted wrong values at "
					    "size %lld: the run is broken; not imported",
					    path, lineno, r.size);
			goto done;
		}
		if (!ranks_checked && ranks_seen && ranks_seen != ranks) {
			ret = wlb_error_set(err, WLB_EINVAL,
					    "%s: the log lists %d ranks (\"# Rank\" lines), but %d were given",
					    path, ranks_seen, ranks);
			goto done;
		}
		ranks_checked = 1;
		if (r.size == 0) /* -b below ranks x word size: nothing moved, nothing to learn */
			continue;
		/* busbw = algbw x factor(op, ranks) in every nccl-tests; both printed
		 * with two decimals.  A mismatch means the op or ranks given are wrong. */
		if (r.algbw >= 1 && fabs(r.busbw - r.algbw * factor) > 0.02 + 0.002 * r.busbw) {
			ret = wlb_error_set(err, WLB_EINVAL,
					    "%s:%ld: busbw / algbw is %.4f, but %s on %d ranks gives %.4f: "
					    "wrong collective or rank count?",
					    path, lineno, r.busbw / r.algbw, wlb_coll_op_name(op), ranks, factor);
			goto done;
		}
		if (WLB_GROW(*out, cap, *n + 1)) {
			ret = wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
			goto done;
		}
		struct wlb_coll_sample *s = &(*out)[(*n)++];
		memset(s, 0, sizeof *s);
		s->source = WLB_SRC_IMPORTED;
		s->op = op;
		s->ranks = ranks;
		s->nodes = nodes;
		s->bytes = r.size;
		s->median_us = r.time_us;
		s->algbw_gbps = r.algbw;
		s->busbw_gbps = r.busbw;
	}
	if (got < 0) {
		ret = got;
		goto done;
	}
	if (!*n)
		ret = wlb_error_set(err, WLB_EINVAL, "%s: no nccl-tests data rows", path);
done:
	if (rd)
		wlb_lines_close(rd);
	free(rd);
	if (ret) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return ret;
}
