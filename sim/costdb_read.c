/* costdb_read.c — the cost DB's reader (costdb.h): opens the file read-only
 * (rolling back a hot journal a crashed writer left), refuses what is missing,
 * not ours, older or newer, and loads the device and every sample row into
 * memory in a fixed order inside one read transaction, so no SQL runs in a
 * hot loop.  Connections and schema checks are costdb.c's (costdb_int.h). */
#include "costdb_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "grow.h"

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

static int col_source(sqlite3_stmt *st, int i, enum wlb_sample_source *src)
{
	return wlb_sample_source_parse((const char *)sqlite3_column_text(st, i), src);
}

static int row_run(sqlite3_stmt *st, void *dst)
{
	struct wlb_run_info *r = dst;
	r->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, r->time, sizeof r->time);
	col_text(st, 2, r->host, sizeof r->host);
	col_text(st, 3, r->tool_version, sizeof r->tool_version);
	col_text(st, 4, r->cuda_version, sizeof r->cuda_version);
	col_text(st, 5, r->nccl_version, sizeof r->nccl_version);
	col_text(st, 6, r->cudnn_version, sizeof r->cudnn_version);
	col_text(st, 7, r->flags, sizeof r->flags);
	return 0;
}

static int row_gemm(sqlite3_stmt *st, void *dst)
{
	struct wlb_gemm_sample *s = dst;
	s->run = sqlite3_column_int64(st, 0);
	s->m = sqlite3_column_int64(st, 2);
	s->n = sqlite3_column_int64(st, 3);
	s->k = sqlite3_column_int64(st, 4);
	col_text(st, 5, s->dtype, sizeof s->dtype);
	s->median_us = sqlite3_column_double(st, 6);
	s->p10_us = sqlite3_column_double(st, 7);
	s->p90_us = sqlite3_column_double(st, 8);
	s->reps = sqlite3_column_int(st, 9);
	return col_source(st, 1, &s->source);
}

static int row_attn(sqlite3_stmt *st, void *dst)
{
	struct wlb_attn_sample *s = dst;
	const char *dir = (const char *)sqlite3_column_text(st, 2);
	s->run = sqlite3_column_int64(st, 0);
	s->bwd = dir && !strcmp(dir, "bwd");
	s->heads = sqlite3_column_int(st, 3);
	s->kv_heads = sqlite3_column_int(st, 4);
	s->head_dim = sqlite3_column_int(st, 5);
	s->q_len = sqlite3_column_int64(st, 6);
	s->kv_len = sqlite3_column_int64(st, 7);
	s->pieces = sqlite3_column_int(st, 8);
	col_text(st, 9, s->kernel, sizeof s->kernel);
	s->median_us = sqlite3_column_double(st, 10);
	s->p10_us = sqlite3_column_double(st, 11);
	s->p90_us = sqlite3_column_double(st, 12);
	s->reps = sqlite3_column_int(st, 13);
	if (!dir || (!s->bwd && strcmp(dir, "fwd")))
		return WLB_EINVAL;
	return col_source(st, 1, &s->source);
}

static int row_coll(sqlite3_stmt *st, void *dst)
{
	struct wlb_coll_sample *s = dst;
	s->run = sqlite3_column_int64(st, 0);
	s->ranks = sqlite3_column_int(st, 3);
	s->nodes = sqlite3_column_int(st, 4);
	s->bytes = sqlite3_column_int64(st, 5);
	col_text(st, 6, s->algo, sizeof s->algo);
	s->median_us = sqlite3_column_double(st, 7);
	s->algbw_gbps = sqlite3_column_double(st, 8);
	s->busbw_gbps = sqlite3_column_double(st, 9);
	if (wlb_coll_op_parse((const char *)sqlite3_column_text(st, 2), &s->op))
		return WLB_EINVAL;
	return col_source(st, 1, &s->source);
}

static int row_p2p(sqlite3_stmt *st, void *dst)
{
	struct wlb_p2p_sample *s = dst;
	const char *link = (const char *)sqlite3_column_text(st, 2);
	s->run = sqlite3_column_int64(st, 0);
	s->inter = link && !strcmp(link, "inter");
	s->bytes = sqlite3_column_int64(st, 3);
	s->median_us = sqlite3_column_double(st, 4);
	if (!link || (!s->inter && strcmp(link, "intra")))
		return WLB_EINVAL;
	return col_source(st, 1, &s->source);
}

/* The big tables are read in insertion order and sorted here, on the
 * same keys as costdb.h promises (SQLite's ORDER BY over them took most of
 * a load): a stable sort, ties kept in insertion order. */
#define KEY(a, b) do { if ((a) != (b)) return (a) < (b) ? -1 : 1; } while (0)

static int gemm_order(const void *a, const void *b)
{
	const struct wlb_gemm_sample *x = a, *y = b;
	KEY(x->n, y->n);
	KEY(x->k, y->k);
	KEY(x->m, y->m);
	return strcmp(x->dtype, y->dtype);
}

static int attn_order(const void *a, const void *b)
{
	const struct wlb_attn_sample *x = a, *y = b;
	KEY(!x->bwd, !y->bwd); /* "bwd" before "fwd" */
	KEY(x->heads, y->heads);
	KEY(x->kv_heads, y->kv_heads);
	KEY(x->head_dim, y->head_dim);
	KEY(x->q_len, y->q_len);
	KEY(x->kv_len, y->kv_len);
	KEY(x->pieces, y->pieces);
	return 0;
}

static int coll_order(const void *a, const void *b)
{
	const struct wlb_coll_sample *x = a, *y = b;
	int c = strcmp(wlb_coll_op_name(x->op), wlb_coll_op_name(y->op));
	if (c)
		return c;
	KEY(x->ranks, y->ranks);
	KEY(x->nodes, y->nodes);
	KEY(x->bytes, y->bytes);
	return 0;
}

struct ranked { const char *row; size_t seq; int (*cmp)(const void *, const void *); };

static int by_rank(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int c = x->cmp(x->row, y->row);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorts n rows of elem bytes stably by cmp. */
static int sort_rows(void *arr, size_t n, size_t elem, int (*cmp)(const void *, const void *))
{
	if (n == 0) /* arr may be NULL: an empty table */
		return 0;
	struct ranked *r = malloc(n * sizeof *r);
	char *out = malloc(n * elem);

	if (!r || !out) {
		free(r);
		free(out);
		return WLB_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ranked){(char *)arr + i * elem, i, cmp};
	qsort(r, n, sizeof *r, by_rank);
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * elem, r[i].row, elem);
	memcpy(arr, out, n * elem);
	free(r);
	free(out);
	return 0;
}

/* What the reader loads: the rows of one table, in a fixed order (key
 * columns, then id; TEXT enums sort by name): by SQL, or read by id and
 * sorted by `order`. */
struct load {
	const char *table;
	const char *sql;
	int (*row)(sqlite3_stmt *st, void *dst);
	size_t elem;
	int (*order)(const void *, const void *);
};

static const struct load loads[] = {
	{"run", "SELECT id, time, host, tool_version, cuda_version, nccl_version, cudnn_version, flags "
		"FROM run ORDER BY id", row_run, sizeof(struct wlb_run_info), NULL},
	{"gemm_sample", "SELECT run, source, m, n, k, dtype, median_us, p10_us, p90_us, reps "
			"FROM gemm_sample ORDER BY id",
	 row_gemm, sizeof(struct wlb_gemm_sample), gemm_order},
	{"attn_sample", "SELECT run, source, direction, heads, kv_heads, head_dim, q_len, kv_len, "
			"pieces, kernel, median_us, p10_us, p90_us, reps FROM attn_sample ORDER BY id",
	 row_attn, sizeof(struct wlb_attn_sample), attn_order},
	{"coll_sample", "SELECT run, source, op, ranks, nodes, bytes, algo, median_us, algbw_gbps, "
			"busbw_gbps FROM coll_sample ORDER BY id",
	 row_coll, sizeof(struct wlb_coll_sample), coll_order},
	{"p2p_sample", "SELECT run, source, link, bytes, median_us FROM p2p_sample "
		       "ORDER BY link, bytes, id",
	 row_p2p, sizeof(struct wlb_p2p_sample), NULL},
};

static int load_table(sqlite3 *db, const char *path, const struct load *l, void **arr, size_t *n,
		      struct wlb_error *err)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc = sqlite3_prepare_v2(db, l->sql, -1, &st, NULL), ret = 0;
	char what[64];

	snprintf(what, sizeof what, "reading %s", l->table);
	if (rc != SQLITE_OK) {
		ret = wlb_cdb_error(err, db, rc, path, what);
		goto done;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (wlb_grow(arr, &cap, *n + 1, l->elem)) {
			ret = wlb_error_set(err, WLB_ENOMEM, "%s: %s: out of memory", path, what);
			goto done;
		}
		char *dst = (char *)*arr + *n * l->elem;
		memset(dst, 0, l->elem);
		if (l->row(st, dst)) {
			ret = wlb_error_set(err, WLB_EINVAL, "%s: %s: row %zu holds an unknown enum value",
					    path, what, *n + 1);
			goto done;
		}
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		ret = wlb_cdb_error(err, db, rc, path, what);
	else if (l->order && sort_rows(*arr, *n, l->elem, l->order))
		ret = wlb_error_set(err, WLB_ENOMEM, "%s: %s: out of memory", path, what);
done:
	sqlite3_finalize(st);
	return ret;
}

static int load_device(sqlite3 *db, const char *path, struct wlb_costdb_data *d,
		       struct wlb_error *err)
{
	static const char sql[] = "SELECT name, gpu_model, sms, mem_gib, peak_bf16_tflops, hbm_gbps, "
				  "gpus_per_node, nvlink_gbps, nvlink_lat_us, net_gbps, net_lat_us "
				  "FROM device WHERE id = 1";
	struct wlb_device *v = &d->device;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL), ret = 0;

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		col_text(st, 0, v->name, sizeof v->name);
		col_text(st, 1, v->gpu_model, sizeof v->gpu_model);
		v->sms = sqlite3_column_int(st, 2);
		v->mem_gib = sqlite3_column_double(st, 3);
		v->peak_bf16_tflops = sqlite3_column_double(st, 4);
		v->hbm_gbps = sqlite3_column_double(st, 5);
		v->gpus_per_node = sqlite3_column_int(st, 6);
		v->nvlink_gbps = sqlite3_column_double(st, 7);
		v->nvlink_lat_us = sqlite3_column_double(st, 8);
		v->net_gbps = sqlite3_column_double(st, 9);
		v->net_lat_us = sqlite3_column_double(st, 10);
		d->has_device = 1;
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		ret = wlb_cdb_error(err, db, rc, path, "reading device");
	sqlite3_finalize(st);
	return ret;
}

/* A write that died mid-transaction leaves a hot journal, which a read-only
 * connection may not roll back (SQLITE_READONLY_ROLLBACK).  Opening the file
 * read-write (never creating it) and touching the schema rolls it back, so
 * the reader sees the DB as it was before the interrupted write. */
static int recover(const char *path, struct wlb_error *err)
{
	sqlite3 *db = NULL;
	int64_t n;
	int rc = wlb_cdb_connect(&db, path, SQLITE_OPEN_READWRITE), ret = 0;

	if (rc == SQLITE_OK)
		rc = wlb_cdb_query_int(db, "SELECT count(*) FROM sqlite_schema", NULL, &n);
	if (rc != SQLITE_OK)
		ret = wlb_error_set(err, wlb_cdb_sqlite_code(rc),
				    "%s: an interrupted write left %s-journal, and rolling it back "
				    "(which needs write access) failed: %s",
				    path, path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_close(db);
	return ret;
}

void wlb_costdb_data_free(struct wlb_costdb_data *d)
{
	if (!d)
		return;
	free(d->runs);
	free(d->gemm);
	free(d->attn);
	free(d->coll);
	free(d->p2p);
	memset(d, 0, sizeof *d);
}

int wlb_costdb_read(const char *path, struct wlb_costdb_data *out, struct wlb_error *err)
{
	void **arrs[] = {(void **)&out->runs, (void **)&out->gemm, (void **)&out->attn,
			 (void **)&out->coll, (void **)&out->p2p};
	size_t *ns[] = {&out->n_runs, &out->n_gemm, &out->n_attn, &out->n_coll, &out->n_p2p};
	sqlite3 *db = NULL;
	struct stat sb;
	int64_t ver = 0, ntab = 0;
	int rc, ret = 0, in_txn = 0;

	memset(out, 0, sizeof *out);
	if (stat(path, &sb)) {
		if (errno == ENOENT)
			return wlb_error_set(err, WLB_EIO, "%s: no such cost DB", path);
		return wlb_error_set(err, WLB_EIO, "%s: cannot open cost DB: %s", path, strerror(errno));
	}
	/* a FIFO would block SQLite's open, a device be read for ever */
	if (!S_ISREG(sb.st_mode))
		return wlb_error_set(err, WLB_EIO, "%s: not a wlb cost DB (a %s)", path,
				     S_ISDIR(sb.st_mode) ? "directory" : S_ISFIFO(sb.st_mode) ? "FIFO" :
				     "device or socket");
	for (int tries = 0;; tries++) {
		rc = wlb_cdb_connect(&db, path, SQLITE_OPEN_READONLY);
		if (rc != SQLITE_OK) {
			ret = wlb_error_set(err, WLB_EIO, "%s: cannot open cost DB: %s", path,
					    sqlite3_errstr(rc));
			goto done;
		}
		rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		if (rc == SQLITE_OK) {
			in_txn = 1;
			rc = wlb_cdb_query_int(db, "PRAGMA user_version", NULL, &ver);
		}
		if (rc != SQLITE_READONLY_ROLLBACK || tries)
			break;
		sqlite3_close(db);
		db = NULL;
		in_txn = 0;
		if ((ret = recover(path, err)))
			goto done;
	}
	if (rc == SQLITE_OK)
		rc = wlb_cdb_query_int(db, "SELECT count(*) FROM sqlite_schema", NULL, &ntab);
	if (rc != SQLITE_OK) {
		ret = wlb_error_set(err, wlb_cdb_sqlite_code(rc), "%s: not a wlb cost DB (%s)", path,
				    sqlite3_errmsg(db));
		goto done;
	}
	if (ver == 0) {
		ret = wlb_error_set(err, WLB_EINVAL, "%s: not a wlb cost DB (%s)", path,
				    ntab ? "user_version 0: another program's database" : "empty database");
		goto done;
	}
	if ((ret = wlb_cdb_check_schema(db, ver, path, "reads", err)))
		goto done;
	if (ver < WLB_COSTDB_SCHEMA) {
		ret = wlb_error_set(err, WLB_EINVAL,
				    "%s: cost DB schema %lld is older than this wlb reads (%d): "
				    "open it for writing (wlb-profile) to upgrade it",
				    path, (long long)ver, WLB_COSTDB_SCHEMA);
		goto done;
	}
	if ((ret = load_device(db, path, out, err)))
		goto done;
	for (size_t i = 0; i < sizeof loads / sizeof loads[0]; i++)
		if ((ret = load_table(db, path, &loads[i], arrs[i], ns[i], err)))
			goto done;
done:
	if (in_txn)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	if (ret)
		wlb_costdb_data_free(out);
	return ret;
}
