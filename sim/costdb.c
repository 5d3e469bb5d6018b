/* costdb.c — the cost DB in SQLite (DESIGN.md §5): names of the enums, the
 * schema, connections, and the writer.  The reader is costdb_read.c; the
 * nccl-tests log importer that feeds the DB is nccl.c.
 *
 * Schema: `PRAGMA user_version` is the schema version; every table is STRICT,
 * enums are stored as readable TEXT under CHECK constraints, sizes are CHECKed
 * positive, and every sample row references the run that produced it.  The
 * writer creates or upgrades the schema in one transaction through a table of
 * migration steps (version v → v+1), keeps one prepared statement per kind of
 * row, and wraps BEGIN IMMEDIATE / COMMIT / ROLLBACK.  The reader opens the
 * file read-only, refuses what is not ours or is newer, and loads every row
 * into memory in a fixed order inside one read transaction. */
#include "costdb_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 10000

static const char *const src_names[] = {"measured", "analytic", "published", "imported"};
static const char *const op_names[WLB_COLL_OPS] = {"all_reduce", "all_gather", "reduce_scatter",
						    "all_to_all"};

const char *wlb_sample_source_name(enum wlb_sample_source s)
{
	return (unsigned)s < sizeof src_names / sizeof src_names[0] ? src_names[s] : "invalid";
}

int wlb_sample_source_parse(const char *s, enum wlb_sample_source *src)
{
	for (unsigned i = 0; s && i < sizeof src_names / sizeof src_names[0]; i++)
		if (!strcmp(s, src_names[i])) {
			*src = (enum wlb_sample_source)i;
			return 0;
		}
	return WLB_EINVAL;
}

const char *wlb_coll_op_name(enum wlb_coll_op op)
{
	return (unsigned)op < WLB_COLL_OPS ? op_names[op] : "invalid";
}

/* Whether a and b are equal ignoring case, '_' and '-'. */
static int loose_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a == '_' || *a == '-')
			a++;
		while (*b == '_' || *b == '-')
			b++;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
		if (!*a)
			return 1;
		a++;
		b++;
	}
}

int wlb_coll_op_parse(const char *s, enum wlb_coll_op *op)
{
	for (int i = 0; s && *s && i < WLB_COLL_OPS; i++)
		if (loose_eq(s, op_names[i])) {
			*op = (enum wlb_coll_op)i;
			return 0;
		}
	return WLB_EINVAL;
}

double wlb_coll_busbw_factor(enum wlb_coll_op op, int ranks)
{
	if (ranks < 1 || (unsigned)op >= WLB_COLL_OPS)
		return 0;
	double f = (double)(ranks - 1) / ranks;
	return op == WLB_ALL_REDUCE ? 2 * f : f;
}

/* ---- schema ---- */

#define SRC_CHECK "source TEXT NOT NULL CHECK (source IN ('measured','analytic','published','imported'))"
#define RUN_REF "run INTEGER NOT NULL REFERENCES run(id)"

/* Version 0 (an empty file) → 1. */
static const char SCHEMA_V1[] =
	"CREATE TABLE device (\n"
	"  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
	"  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 31),\n"
	"  gpu_model TEXT NOT NULL CHECK (length(gpu_model) <= 63),\n"
	"  sms INTEGER NOT NULL CHECK (sms > 0),\n"
	"  mem_gib REAL NOT NULL CHECK (mem_gib > 0),\n"
	"  peak_bf16_tflops REAL NOT NULL CHECK (peak_bf16_tflops > 0),\n"
	"  hbm_gbps REAL NOT NULL CHECK (hbm_gbps > 0),\n"
	"  gpus_per_node INTEGER NOT NULL CHECK (gpus_per_node > 0),\n"
	"  nvlink_gbps REAL NOT NULL CHECK (nvlink_gbps >= 0),\n"
	"  nvlink_lat_us REAL NOT NULL CHECK (nvlink_lat_us >= 0),\n"
	"  net_gbps REAL NOT NULL CHECK (net_gbps >= 0),\n"
	"  net_lat_us REAL NOT NULL CHECK (net_lat_us >= 0)\n"
	") STRICT;\n"
	"CREATE TABLE run (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  time TEXT NOT NULL CHECK (length(time) <= 31),\n"
	"  host TEXT NOT NULL CHECK (length(host) <= 63),\n"
	"  tool_version TEXT NOT NULL CHECK (length(tool_version) <= 31),\n"
	"  cuda_version TEXT NOT NULL CHECK (length(cuda_version) <= 31),\n"
	"  nccl_version TEXT NOT NULL CHECK (length(nccl_version) <= 31),\n"
	"  cudnn_version TEXT NOT NULL CHECK (length(cudnn_version) <= 31),\n"
	"  flags TEXT NOT NULL CHECK (length(flags) <= 255)\n"
	") STRICT;\n"
	"CREATE TABLE gemm_sample (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  " RUN_REF ",\n"
	"  " SRC_CHECK ",\n"
	"  m INTEGER NOT NULL CHECK (m > 0),\n"
	"  n INTEGER NOT NULL CHECK (n > 0),\n"
	"  k INTEGER NOT NULL CHECK (k > 0),\n"
	"  dtype TEXT NOT NULL CHECK (length(dtype) BETWEEN 1 AND 7),\n"
	"  median_us REAL NOT NULL CHECK (median_us > 0),\n"
	"  p10_us REAL NOT NULL CHECK (p10_us >= 0),\n"
	"  p90_us REAL NOT NULL CHECK (p90_us >= 0),\n"
	"  reps INTEGER NOT NULL CHECK (reps >= 0)\n"
	") STRICT;\n"
	"CREATE TABLE attn_sample (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  " RUN_REF ",\n"
	"  " SRC_CHECK ",\n"
	"  direction TEXT NOT NULL CHECK (direction IN ('fwd','bwd')),\n"
	"  heads INTEGER NOT NULL CHECK (heads > 0),\n"
	"  kv_heads INTEGER NOT NULL CHECK (kv_heads > 0 AND heads % kv_heads = 0),\n"
	"  head_dim INTEGER NOT NULL CHECK (head_dim > 0),\n"
	"  q_len INTEGER NOT NULL CHECK (q_len > 0),\n"
	"  kv_len INTEGER NOT NULL CHECK (kv_len >= q_len),\n"
	"  pieces INTEGER NOT NULL CHECK (pieces > 0),\n"
	"  kernel TEXT NOT NULL CHECK (length(kernel) <= 31),\n"
	"  median_us REAL NOT NULL CHECK (median_us > 0),\n"
	"  p10_us REAL NOT NULL CHECK (p10_us >= 0),\n"
	"  p90_us REAL NOT NULL CHECK (p90_us >= 0),\n"
	"  reps INTEGER NOT NULL CHECK (reps >= 0)\n"
	") STRICT;\n"
	"CREATE TABLE coll_sample (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  " RUN_REF ",\n"
	"  " SRC_CHECK ",\n"
	"  op TEXT NOT NULL CHECK (op IN ('all_reduce','all_gather','reduce_scatter','all_to_all')),\n"
	"  ranks INTEGER NOT NULL CHECK (ranks > 0),\n"
	"  nodes INTEGER NOT NULL CHECK (nodes > 0 AND nodes <= ranks),\n"
	"  bytes INTEGER NOT NULL CHECK (bytes > 0),\n"
	"  algo TEXT NOT NULL CHECK (length(algo) <= 15),\n"
	"  median_us REAL NOT NULL CHECK (median_us > 0),\n"
	"  algbw_gbps REAL NOT NULL CHECK (algbw_gbps >= 0),\n"
	"  busbw_gbps REAL NOT NULL CHECK (busbw_gbps >= 0)\n"
	") STRICT;\n"
	"CREATE TABLE p2p_sample (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  " RUN_REF ",\n"
	"  " SRC_CHECK ",\n"
	"  link TEXT NOT NULL CHECK (link IN ('intra','inter')),\n"
	"  bytes INTEGER NOT NULL CHECK (bytes > 0),\n"
	"  median_us REAL NOT NULL CHECK (median_us > 0)\n"
	") STRICT;\n"
	"CREATE INDEX gemm_sample_key ON gemm_sample (n, k, m);\n"
	"CREATE INDEX attn_sample_key ON attn_sample (direction, heads, kv_heads, head_dim);\n"
	"CREATE INDEX coll_sample_key ON coll_sample (op, ranks, nodes, bytes);\n"
	"CREATE INDEX p2p_sample_key ON p2p_sample (link, bytes);\n";

/* migrations[v] takes a DB of schema v to v + 1.  A new schema version adds
 * its step here (ALTER TABLE ... / CREATE ...) and bumps WLB_COSTDB_SCHEMA. */
static const char *const migrations[] = {
	SCHEMA_V1, /* 0 → 1: an empty file gets the schema */
};
_Static_assert(sizeof migrations / sizeof migrations[0] == WLB_COSTDB_SCHEMA,
	       "one migration step per schema version");

static const char *const tables[] = {"device", "run", "gemm_sample", "attn_sample", "coll_sample",
				     "p2p_sample"};

/* ---- connections ---- */

int wlb_cdb_sqlite_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT: case SQLITE_NOTADB: case SQLITE_CORRUPT: case SQLITE_MISMATCH:
	case SQLITE_ERROR:
		return WLB_EINVAL;
	case SQLITE_NOMEM:
		return WLB_ENOMEM;
	default:
		return WLB_EIO;
	}
}

int wlb_cdb_error(struct wlb_error *err, sqlite3 *db, int rc, const char *path, const char *what)
{
	return wlb_error_set(err, wlb_cdb_sqlite_code(rc), "%s: %s: %s", path, what,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* Opens path with flags, sets what every connection gets.  Returns the SQLite
 * code; *out is NULL on failure. */
int wlb_cdb_connect(sqlite3 **out, const char *path, int flags)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_extended_result_codes(db, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close(db);
		db = NULL;
	}
	*out = db;
	return rc;
}

/* One integer from a one-row query. */
int wlb_cdb_query_int(sqlite3 *db, const char *sql, const char *arg, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && arg)
		rc = sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*v = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			*v = 0;
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* The first of our tables db lacks, or NULL. */
static int missing_table(sqlite3 *db, const char **name)
{
	*name = NULL;
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		int64_t n;
		int rc = wlb_cdb_query_int(db, "SELECT count(*) FROM sqlite_schema "
					   "WHERE type = 'table' AND name = ?", tables[i], &n);
		if (rc != SQLITE_OK)
			return rc;
		if (!n) {
			*name = tables[i];
			break;
		}
	}
	return SQLITE_OK;
}

/* Checks that db (of user_version ver) is a cost DB this wlb can use;
 * `verb` is "reads" or "writes". */
int wlb_cdb_check_schema(sqlite3 *db, int64_t ver, const char *path, const char *verb,
			 struct wlb_error *err)
{
	const char *miss;
	int rc;

	if (ver > WLB_COSTDB_SCHEMA)
		return wlb_error_set(err, WLB_EINVAL,
				     "%s: cost DB schema %lld is newer than this wlb %s (%d): upgrade wlb",
				     path, (long long)ver, verb, WLB_COSTDB_SCHEMA);
	if (ver < 0)
		return wlb_error_set(err, WLB_EINVAL, "%s: not a wlb cost DB (user_version %lld)", path,
				     (long long)ver);
	if (ver < WLB_COSTDB_SCHEMA)
		return 0; /* the writer upgrades; the reader says so */
	if ((rc = missing_table(db, &miss)) != SQLITE_OK)
		return wlb_error_set(err, wlb_cdb_sqlite_code(rc), "%s: not a wlb cost DB (%s)", path,
				     sqlite3_errmsg(db));
	if (miss)
		return wlb_error_set(err, WLB_EINVAL, "%s: not a wlb cost DB (schema %lld but no table %s)",
				     path, (long long)ver, miss);
	return 0;
}

/* ---- writing ---- */

enum { ST_DEVICE, ST_RUN, ST_GEMM, ST_ATTN, ST_COLL, ST_P2P, N_STMT };

static const char *const stmt_sql[N_STMT] = {
	"INSERT OR REPLACE INTO device (id, name, gpu_model, sms, mem_gib, peak_bf16_tflops, "
	"hbm_gbps, gpus_per_node, nvlink_gbps, nvlink_lat_us, net_gbps, net_lat_us) "
	"VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	"INSERT INTO run (time, host, tool_version, cuda_version, nccl_version, cudnn_version, flags) "
	"VALUES (?, ?, ?, ?, ?, ?, ?)",
	"INSERT INTO gemm_sample (run, source, m, n, k, dtype, median_us, p10_us, p90_us, reps) "
	"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	"INSERT INTO attn_sample (run, source, direction, heads, kv_heads, head_dim, q_len, kv_len, "
	"pieces, kernel, median_us, p10_us, p90_us, reps) "
	"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	"INSERT INTO coll_sample (run, source, op, ranks, nodes, bytes, algo, median_us, algbw_gbps, "
	"busbw_gbps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	"INSERT INTO p2p_sample (run, source, link, bytes, median_us) VALUES (?, ?, ?, ?, ?)",
};

struct wlb_costdb {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[N_STMT];
};

/* Brings db from schema `ver` to WLB_COSTDB_SCHEMA in one transaction,
 * re-reading the version under the write lock (another writer may have
 * created the schema meanwhile). */
static int upgrade(sqlite3 *db, const char *path, struct wlb_error *err)
{
	char sql[64];
	int64_t ver = 0, ntab = 0;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), ret = 0;

	if (rc != SQLITE_OK)
		return wlb_cdb_error(err, db, rc, path, "creating the schema");
	if ((rc = wlb_cdb_query_int(db, "PRAGMA user_version", NULL, &ver)) != SQLITE_OK ||
	    (rc = wlb_cdb_query_int(db, "SELECT count(*) FROM sqlite_schema", NULL, &ntab)) != SQLITE_OK) {
		ret = wlb_cdb_error(err, db, rc, path, "creating the schema");
		goto done;
	}
	if (ver == 0 && ntab) {
		ret = wlb_error_set(err, WLB_EINVAL,
				    "%s: not a wlb cost DB (user_version 0: another program's database)",
				    path);
		goto done;
	}
	if ((ret = wlb_cdb_check_schema(db, ver, path, "writes", err)))
		goto done;
	for (int64_t v = ver; v < WLB_COSTDB_SCHEMA; v++) {
		if ((rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL)) != SQLITE_OK) {
			snprintf(sql, sizeof sql, "upgrading schema %lld to %lld", (long long)v,
				 (long long)v + 1);
			ret = wlb_cdb_error(err, db, rc, path, sql);
			goto done;
		}
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", WLB_COSTDB_SCHEMA);
	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		ret = wlb_cdb_error(err, db, rc, path, "creating the schema");
done:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int wlb_costdb_open(struct wlb_costdb **out, const char *path, struct wlb_error *err)
{
	struct wlb_costdb *h = calloc(1, sizeof *h);
	int64_t ver = 0;
	int rc, ret = 0;

	*out = NULL;
	if (!h || !(h->path = strdup(path))) {
		ret = wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	struct stat sb;
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		ret = wlb_error_set(err, WLB_EIO, "%s: cannot write a cost DB there: not a regular file",
				    path);
		goto done;
	}
	rc = wlb_cdb_connect(&h->db, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (rc != SQLITE_OK) {
		ret = wlb_error_set(err, WLB_EIO, "%s: cannot open cost DB for writing: %s", path,
				    sqlite3_errstr(rc));
		goto done;
	}
	if ((rc = wlb_cdb_query_int(h->db, "PRAGMA user_version", NULL, &ver)) != SQLITE_OK) {
		ret = wlb_error_set(err, wlb_cdb_sqlite_code(rc), "%s: not a wlb cost DB (%s)", path,
				    sqlite3_errmsg(h->db));
		goto done;
	}
	if ((ret = wlb_cdb_check_schema(h->db, ver, path, "writes", err)))
		goto done;
	if (ver < WLB_COSTDB_SCHEMA && (ret = upgrade(h->db, path, err)))
		goto done;
	for (int i = 0; i < N_STMT; i++)
		if ((rc = sqlite3_prepare_v3(h->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					     &h->st[i], NULL)) != SQLITE_OK) {
			ret = wlb_cdb_error(err, h->db, rc, path, "preparing statements");
			goto done;
		}
	*out = h;
	h = NULL;
done:
	wlb_costdb_close(h);
	return ret;
}

void wlb_costdb_close(struct wlb_costdb *h)
{
	if (!h)
		return;
	for (int i = 0; i < N_STMT; i++)
		sqlite3_finalize(h->st[i]);
	if (h->db && !sqlite3_get_autocommit(h->db)) /* never committed: gone */
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(h->db);
	free(h->path);
	free(h);
}

int wlb_costdb_begin(struct wlb_costdb *h, struct wlb_error *err)
{
	int rc = sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : wlb_cdb_error(err, h->db, rc, h->path, "begin");
}

int wlb_costdb_commit(struct wlb_costdb *h, struct wlb_error *err)
{
	int rc = sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : wlb_cdb_error(err, h->db, rc, h->path, "commit");
}

void wlb_costdb_rollback(struct wlb_costdb *h)
{
	if (!sqlite3_get_autocommit(h->db))
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Binds a fixed-size char field, which may lack its NUL when full (the
 * schema's length CHECK then refuses it). */
#define BIND_FIELD(st, i, f) sqlite3_bind_text((st), (i), (f), (int)strnlen((f), sizeof(f)), SQLITE_STATIC)

/* Steps an insert whose values are bound; `what` names the row in errors. */
static int insert(struct wlb_costdb *h, sqlite3_stmt *st, int brc, const char *what,
		  struct wlb_error *err)
{
	int rc = brc == SQLITE_OK ? sqlite3_step(st) : brc, ret = 0;

	if (rc != SQLITE_DONE)
		ret = wlb_cdb_error(err, h->db, rc, h->path, what);
	sqlite3_reset(st);
	return ret;
}

int wlb_costdb_put_device(struct wlb_costdb *h, const struct wlb_device *d, struct wlb_error *err)
{
	sqlite3_stmt *st = h->st[ST_DEVICE];
	int rc = BIND_FIELD(st, 1, d->name);
	char what[64];

	if (!rc) rc = BIND_FIELD(st, 2, d->gpu_model);
	if (!rc) rc = sqlite3_bind_int(st, 3, d->sms);
	if (!rc) rc = sqlite3_bind_double(st, 4, d->mem_gib);
	if (!rc) rc = sqlite3_bind_double(st, 5, d->peak_bf16_tflops);
	if (!rc) rc = sqlite3_bind_double(st, 6, d->hbm_gbps);
	if (!rc) rc = sqlite3_bind_int(st, 7, d->gpus_per_node);
	if (!rc) rc = sqlite3_bind_double(st, 8, d->nvlink_gbps);
	if (!rc) rc = sqlite3_bind_double(st, 9, d->nvlink_lat_us);
	if (!rc) rc = sqlite3_bind_double(st, 10, d->net_gbps);
	if (!rc) rc = sqlite3_bind_double(st, 11, d->net_lat_us);
	snprintf(what, sizeof what, "device %.32s", d->name);
	return insert(h, st, rc, what, err);
}

int wlb_costdb_add_run(struct wlb_costdb *h, struct wlb_run_info *r, struct wlb_error *err)
{
	sqlite3_stmt *st = h->st[ST_RUN];
	int rc, ret;

	if (!r->time[0]) {
		time_t now = time(NULL);
		struct tm tm;
		if (gmtime_r(&now, &tm))
			strftime(r->time, sizeof r->time, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	rc = BIND_FIELD(st, 1, r->time);
	if (!rc) rc = BIND_FIELD(st, 2, r->host);
	if (!rc) rc = BIND_FIELD(st, 3, r->tool_version);
	if (!rc) rc = BIND_FIELD(st, 4, r->cuda_version);
	if (!rc) rc = BIND_FIELD(st, 5, r->nccl_version);
	if (!rc) rc = BIND_FIELD(st, 6, r->cudnn_version);
	if (!rc) rc = BIND_FIELD(st, 7, r->flags);
	if ((ret = insert(h, st, rc, "run", err)))
		return ret;
	r->id = sqlite3_last_insert_rowid(h->db);
	return 0;
}

int wlb_costdb_set_run_flags(struct wlb_costdb *h, int64_t run, const char *flags,
			     struct wlb_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->db, "UPDATE run SET flags = ?1 WHERE id = ?2", -1, &st, NULL);

	if (!rc)
		rc = sqlite3_bind_text(st, 1, flags, -1, SQLITE_STATIC);
	if (!rc)
		rc = sqlite3_bind_int64(st, 2, run);
	if (!rc)
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(h->db);
	sqlite3_finalize(st);
	return rc ? wlb_cdb_error(err, h->db, rc, h->path, "update run flags") : 0;
}

int wlb_costdb_add_gemm(struct wlb_costdb *h, const struct wlb_gemm_sample *s, struct wlb_error *err)
{
	sqlite3_stmt *st = h->st[ST_GEMM];
	int rc = sqlite3_bind_int64(st, 1, s->run);
	char what[128];

	if (!rc) rc = sqlite3_bind_text(st, 2, wlb_sample_source_name(s->source), -1, SQLITE_STATIC);
	if (!rc) rc = sqlite3_bind_int64(st, 3, s->m);
	if (!rc) rc = sqlite3_bind_int64(st, 4, s->n);
	if (!rc) rc = sqlite3_bind_int64(st, 5, s->k);
	if (!rc) rc = BIND_FIELD(st, 6, s->dtype);
	if (!rc) rc = sqlite3_bind_double(st, 7, s->median_us);
	if (!rc) rc = sqlite3_bind_double(st, 8, s->p10_us);
	if (!rc) rc = sqlite3_bind_double(st, 9, s->p90_us);
	if (!rc) rc = sqlite3_bind_int(st, 10, s->reps);
	snprintf(what, sizeof what, "gemm sample (m %lld, n %lld, k %lld)", (long long)s->m,
		 (long long)s->n, (long long)s->k);
	return insert(h, st, rc, what, err);
}

int wlb_costdb_add_attn(struct wlb_costdb *h, const struct wlb_attn_sample *s, struct wlb_error *err)
{
	sqlite3_stmt *st = h->st[ST_ATTN];
	int rc = sqlite3_bind_int64(st, 1, s->run);
	char what[160];

	if (!rc) rc = sqlite3_bind_text(st, 2, wlb_sample_source_name(s->source), -1, SQLITE_STATIC);
	if (!rc) rc = sqlite3_bind_text(st, 3, s->bwd == 0 ? "fwd" : s->bwd == 1 ? "bwd" : "invalid",
					-1, SQLITE_STATIC);
	if (!rc) rc = sqlite3_bind_int(st, 4, s->heads);
	if (!rc) rc = sqlite3_bind_int(st, 5, s->kv_heads);
	if (!rc) rc = sqlite3_bind_int(st, 6, s->head_dim);
	if (!rc) rc = sqlite3_bind_int64(st, 7, s->q_len);
	if (!rc) rc = sqlite3_bind_int64(st, 8, s->kv_len);
	if (!rc) rc = sqlite3_bind_int(st, 9, s->pieces);
	if (!rc) rc = BIND_FIELD(st, 10, s->kernel);
	if (!rc) rc = sqlite3_bind_double(st, 11, s->median_us);
	if (!rc) rc = sqlite3_bind_double(st, 12, s->p10_us);
	if (!rc) rc = sqlite3_bind_double(st, 13, s->p90_us);
	if (!rc) rc = sqlite3_bind_int(st, 14, s->reps);
	snprintf(what, sizeof what, "attention sample (%s, heads %d/%d x %d, q %lld, kv %lld)",
		 s->bwd ? "bwd" : "fwd", s->heads, s->kv_heads, s->head_dim, (long long)s->q_len,
		 (long long)s->kv_len);
	return insert(h, st, rc, what, err);
}

int wlb_costdb_add_coll(struct wlb_costdb *h, const struct wlb_coll_sample *s, struct wlb_error *err)
{
	sqlite3_stmt *st = h->st[ST_COLL];
	int rc = sqlite3_bind_int64(st, 1, s->run);
	char what[128];

	if (!rc) rc = sqlite3_bind_text(st, 2, wlb_sample_source_name(s->source), -1, SQLITE_STATIC);
	if (!rc) rc = sqlite3_bind_text(st, 3, wlb_coll_op_name(s->op), -1, SQLITE_STATIC);
	if (!rc) rc = sqlite3_bind_int(st, 4, s->ranks);
	if (!rc) rc = sqlite3_bind_int(st, 5, s->nodes);
	if (!rc) rc = sqlite3_bind_int64(st, 6, s->bytes);
	if (!rc) rc = BIND_FIELD(st, 7, s->algo);
	if (!rc) rc = sqlite3_bind_double(st, 8, s->median_us);
	if (!rc) rc = sqlite3_bind_double(st, 9, s->algbw_gbps);
	if (!rc) rc = sqlite3_bind_double(st, 10, s->busbw_gbps);
	snprintf(what, sizeof what, "collective sample (%s, %d ranks on %d nodes, %lld bytes)",
		 wlb_coll_op_name(s->op), s->ranks, s->nodes, (long long)s->bytes);
	return insert(h, st, rc, what, err);
}

int wlb_costdb_add_p2p(struct wlb_costdb *h, const struct wlb_p2p_sample *s, struct wlb_error *err)
{
	sqlite3_stmt *st = h->st[ST_P2P];
	int rc = sqlite3_bind_int64(st, 1, s->run);
	char what[96];

	if (!rc) rc = sqlite3_bind_text(st, 2, wlb_sample_source_name(s->source), -1, SQLITE_STATIC);
	if (!rc) rc = sqlite3_bind_text(st, 3, s->inter == 0 ? "intra" : s->inter == 1 ? "inter" : "invalid",
					-1, SQLITE_STATIC);
	if (!rc) rc = sqlite3_bind_int64(st, 4, s->bytes);
	if (!rc) rc = sqlite3_bind_double(st, 5, s->median_us);
	snprintf(what, sizeof what, "p2p sample (%s, %lld bytes)", s->inter ? "inter" : "intra",
		 (long long)s->bytes);
	return insert(h, st, rc, what, err);
}
