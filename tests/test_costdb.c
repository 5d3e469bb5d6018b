/* test_costdb.c — the SQLite cost DB: schema round trip, transactions
 * (commit, rollback, close without commit, a writer killed mid-transaction),
 * refusing newer schemas and files that are not ours, CHECK constraints, and
 * importing nccl-tests logs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "costdb.h"
#include "test.h"
#include "test_util.h"

void test_costdb(void);

/* ---- files and raw SQL ---- */

static int exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* Runs one SQL statement on path with the plain sqlite3 API. */
static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* One integer from a query on path (read-only); -999 when it fails. */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -999;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* ---- sample rows ---- */

static const struct wlb_device DEV = {
	"h100-sxm", "NVIDIA H100 80GB HBM3", 132, 79.6, 989.4, 3352.0, 8, 450.0, 2.5, 50.0, 8.0,
};

static struct wlb_gemm_sample gemm(int64_t run, int64_t m, int64_t n, int64_t k, double us)
{
	struct wlb_gemm_sample s = {run, WLB_SRC_MEASURED, m, n, k, "bf16", us, us * 0.98, us * 1.03, 50};
	return s;
}

static struct wlb_attn_sample attn(int64_t run, int bwd, int64_t q, int64_t kv, double us)
{
	struct wlb_attn_sample s = {run, WLB_SRC_ANALYTIC, bwd, 32, 8, 128, q, kv, 4, "cudnn-sdpa",
				    us, us * 0.9, us * 1.1, 20};
	return s;
}

static struct wlb_coll_sample coll(int64_t run, enum wlb_coll_op op, int ranks, int64_t bytes,
				   double us)
{
	struct wlb_coll_sample s = {run, WLB_SRC_PUBLISHED, op, ranks, 1, bytes, "ring", us,
				    bytes / us / 1e3, bytes / us / 1e3 * wlb_coll_busbw_factor(op, ranks)};
	return s;
}

static struct wlb_p2p_sample p2p(int64_t run, int inter, int64_t bytes, double us)
{
	struct wlb_p2p_sample s = {run, WLB_SRC_MEASURED, bytes, inter, us};
	return s;
}

static int same_gemm(const struct wlb_gemm_sample *a, const struct wlb_gemm_sample *b)
{
	return a->run == b->run && a->source == b->source && a->m == b->m && a->n == b->n &&
	       a->k == b->k && !strcmp(a->dtype, b->dtype) && a->median_us == b->median_us &&
	       a->p10_us == b->p10_us && a->p90_us == b->p90_us && a->reps == b->reps;
}

static int same_attn(const struct wlb_attn_sample *a, const struct wlb_attn_sample *b)
{
	return a->run == b->run && a->source == b->source && a->bwd == b->bwd &&
	       a->heads == b->heads && a->kv_heads == b->kv_heads && a->head_dim == b->head_dim &&
	       a->q_len == b->q_len && a->kv_len == b->kv_len && a->pieces == b->pieces &&
	       !strcmp(a->kernel, b->kernel) && a->median_us == b->median_us &&
	       a->p10_us == b->p10_us && a->p90_us == b->p90_us && a->reps == b->reps;
}

static int same_p2p(const struct wlb_p2p_sample *a, const struct wlb_p2p_sample *b)
{
	return a->run == b->run && a->source == b->source && a->bytes == b->bytes &&
	       a->inter == b->inter && a->median_us == b->median_us;
}

/* ---- names ---- */

static void test_names(void)
{
	enum wlb_sample_source src = WLB_SRC_MEASURED;
	enum wlb_coll_op op = WLB_ALL_REDUCE;

	CHECK(!strcmp(wlb_sample_source_name(WLB_SRC_MEASURED), "measured"));
	CHECK(!strcmp(wlb_sample_source_name(WLB_SRC_ANALYTIC), "analytic"));
	CHECK(!strcmp(wlb_sample_source_name(WLB_SRC_PUBLISHED), "published"));
	CHECK(!strcmp(wlb_sample_source_name(WLB_SRC_IMPORTED), "imported"));
	CHECK(!strcmp(wlb_sample_source_name((enum wlb_sample_source)7), "invalid"));
	CHECK_EQ(wlb_sample_source_parse("published", &src), 0);
	CHECK_EQ(src, WLB_SRC_PUBLISHED);
	CHECK_EQ(wlb_sample_source_parse("guessed", &src), WLB_EINVAL);

	CHECK(!strcmp(wlb_coll_op_name(WLB_ALL_REDUCE), "all_reduce"));
	CHECK(!strcmp(wlb_coll_op_name(WLB_ALL_GATHER), "all_gather"));
	CHECK(!strcmp(wlb_coll_op_name(WLB_REDUCE_SCATTER), "reduce_scatter"));
	CHECK(!strcmp(wlb_coll_op_name(WLB_ALL_TO_ALL), "all_to_all"));
	CHECK(!strcmp(wlb_coll_op_name(WLB_COLL_OPS), "invalid"));
	CHECK_EQ(wlb_coll_op_parse("all_gather", &op), 0);
	CHECK_EQ(op, WLB_ALL_GATHER);
	CHECK_EQ(wlb_coll_op_parse("allreduce", &op), 0);
	CHECK_EQ(op, WLB_ALL_REDUCE);
	CHECK_EQ(wlb_coll_op_parse("reducescatter", &op), 0);
	CHECK_EQ(op, WLB_REDUCE_SCATTER);
	CHECK_EQ(wlb_coll_op_parse("alltoall", &op), 0);
	CHECK_EQ(op, WLB_ALL_TO_ALL);
	CHECK_EQ(wlb_coll_op_parse("AllGather", &op), 0);
	CHECK_EQ(op, WLB_ALL_GATHER);
	CHECK_EQ(wlb_coll_op_parse("all-to-all", &op), 0);
	CHECK_EQ(op, WLB_ALL_TO_ALL);
	CHECK_EQ(wlb_coll_op_parse("broadcast", &op), WLB_EINVAL);
	CHECK_EQ(wlb_coll_op_parse("all_gathe", &op), WLB_EINVAL);
	CHECK_EQ(wlb_coll_op_parse("", &op), WLB_EINVAL);
	CHECK_EQ(op, WLB_ALL_TO_ALL); /* untouched on error */

	CHECK_NEAR(wlb_coll_busbw_factor(WLB_ALL_REDUCE, 8), 1.75, 1e-15);
	CHECK_NEAR(wlb_coll_busbw_factor(WLB_ALL_GATHER, 8), 0.875, 1e-15);
	CHECK_NEAR(wlb_coll_busbw_factor(WLB_REDUCE_SCATTER, 8), 0.875, 1e-15);
	CHECK_NEAR(wlb_coll_busbw_factor(WLB_ALL_TO_ALL, 8), 0.875, 1e-15);
	CHECK_NEAR(wlb_coll_busbw_factor(WLB_ALL_REDUCE, 2), 1.0, 1e-15);
	CHECK_NEAR(wlb_coll_busbw_factor(WLB_ALL_GATHER, 64), 63.0 / 64, 1e-15);
	CHECK_NEAR(wlb_coll_busbw_factor(WLB_ALL_REDUCE, 1), 0.0, 0);
	CHECK_NEAR(wlb_coll_busbw_factor(WLB_ALL_GATHER, 0), 0.0, 0);
}

/* ---- round trip and transactions ---- */

/* Writes a device, two runs and samples of every kind in one transaction;
 * the expected rows in read order go to the arrays. */
static void write_all(const char *path, struct wlb_run_info runs[2], struct wlb_gemm_sample g[3],
		      struct wlb_attn_sample a[3], struct wlb_coll_sample c[3], struct wlb_p2p_sample p[2])
{
	struct wlb_costdb *db = NULL;
	struct wlb_error e = {0};
	struct wlb_device first = DEV;

	CHECK_EQ(wlb_costdb_open(&db, path, &e), 0);
	if (!db) {
		fprintf(stderr, "  %s\n", e.msg);
		return;
	}
	memset(runs, 0, 2 * sizeof *runs);
	strcpy(runs[0].time, "2025-03-01T12:00:00Z");
	strcpy(runs[0].host, "hgx-h100-01");
	strcpy(runs[0].tool_version, "wlb 0.1");
	strcpy(runs[0].cuda_version, "12.4");
	strcpy(runs[0].nccl_version, "2.21.5");
	strcpy(runs[0].cudnn_version, "9.1.0");
	strcpy(runs[0].flags, "l2-flush");
	strcpy(runs[1].host, "laptop");
	strcpy(runs[1].flags, "analytic");

	CHECK_EQ(wlb_costdb_begin(db, &e), 0);
	strcpy(first.name, "old-name");
	CHECK_EQ(wlb_costdb_put_device(db, &first, &e), 0);
	CHECK_EQ(wlb_costdb_put_device(db, &DEV, &e), 0); /* replaces */
	CHECK_EQ(wlb_costdb_add_run(db, &runs[0], &e), 0);
	CHECK_EQ(wlb_costdb_add_run(db, &runs[1], &e), 0);
	CHECK(runs[0].id > 0 && runs[1].id > runs[0].id);
	CHECK_EQ(strlen(runs[1].time), 20); /* "YYYY-MM-DDTHH:MM:SSZ", filled in */
	CHECK_EQ(runs[1].time[10], 'T');

	/* inserted out of order; read back by (n, k, m) */
	g[2] = gemm(runs[0].id, 8192, 4096, 4096, 812.5);
	g[0] = gemm(runs[0].id, 4096, 1024, 4096, 101.25);
	g[1] = gemm(runs[1].id, 2048, 4096, 1024, 52.0);
	g[1].source = WLB_SRC_ANALYTIC;
	strcpy(g[1].dtype, "fp8");
	CHECK_EQ(wlb_costdb_add_gemm(db, &g[2], &e), 0);
	CHECK_EQ(wlb_costdb_add_gemm(db, &g[0], &e), 0);
	CHECK_EQ(wlb_costdb_add_gemm(db, &g[1], &e), 0);

	/* read back by direction ("bwd" < "fwd"), then q_len */
	a[1] = attn(runs[0].id, 0, 1024, 4096, 210.0);
	a[0] = attn(runs[0].id, 1, 2048, 2048, 640.0);
	a[2] = attn(runs[0].id, 0, 8192, 8192, 1999.5);
	a[2].kv_heads = 32;
	a[2].source = WLB_SRC_MEASURED;
	CHECK_EQ(wlb_costdb_add_attn(db, &a[1], &e), 0);
	CHECK_EQ(wlb_costdb_add_attn(db, &a[2], &e), 0);
	CHECK_EQ(wlb_costdb_add_attn(db, &a[0], &e), 0);

	/* by op name ("all_gather" < "all_reduce"), then bytes */
	c[2] = coll(runs[0].id, WLB_ALL_REDUCE, 8, 1 << 20, 40.0);
	c[1] = coll(runs[0].id, WLB_ALL_GATHER, 8, 1 << 30, 2600.0);
	c[0] = coll(runs[0].id, WLB_ALL_GATHER, 8, 1 << 20, 16.0);
	c[1].nodes = 2;
	strcpy(c[1].algo, "");
	CHECK_EQ(wlb_costdb_add_coll(db, &c[2], &e), 0);
	CHECK_EQ(wlb_costdb_add_coll(db, &c[1], &e), 0);
	CHECK_EQ(wlb_costdb_add_coll(db, &c[0], &e), 0);
	/* by link name ("inter" < "intra") */
	p[1] = p2p(runs[0].id, 0, 1 << 24, 45.5);
	p[0] = p2p(runs[0].id, 1, 1 << 24, 340.0);
	CHECK_EQ(wlb_costdb_add_p2p(db, &p[1], &e), 0);
	CHECK_EQ(wlb_costdb_add_p2p(db, &p[0], &e), 0);
	CHECK_EQ(wlb_costdb_commit(db, &e), 0);
	wlb_costdb_close(db);
}

static void check_all(const char *path, const struct wlb_run_info runs[2],
		      const struct wlb_gemm_sample g[3], const struct wlb_attn_sample a[3],
		      const struct wlb_coll_sample c[3], const struct wlb_p2p_sample p[2])
{
	struct wlb_costdb_data d;
	struct wlb_error e = {0};

	CHECK_EQ(wlb_costdb_read(path, &d, &e), 0);
	CHECK(d.has_device);
	CHECK(!strcmp(d.device.name, DEV.name));
	CHECK(!strcmp(d.device.gpu_model, DEV.gpu_model));
	CHECK_EQ(d.device.sms, DEV.sms);
	CHECK(d.device.mem_gib == DEV.mem_gib);
	CHECK(d.device.peak_bf16_tflops == DEV.peak_bf16_tflops);
	CHECK(d.device.hbm_gbps == DEV.hbm_gbps);
	CHECK_EQ(d.device.gpus_per_node, DEV.gpus_per_node);
	CHECK(d.device.nvlink_gbps == DEV.nvlink_gbps);
	CHECK(d.device.nvlink_lat_us == DEV.nvlink_lat_us);
	CHECK(d.device.net_gbps == DEV.net_gbps);
	CHECK(d.device.net_lat_us == DEV.net_lat_us);
	CHECK_EQ(d.n_runs, 2);
	for (size_t i = 0; i < d.n_runs && i < 2; i++) {
		CHECK_EQ(d.runs[i].id, runs[i].id);
		CHECK(!strcmp(d.runs[i].time, runs[i].time));
		CHECK(!strcmp(d.runs[i].host, runs[i].host));
		CHECK(!strcmp(d.runs[i].tool_version, runs[i].tool_version));
		CHECK(!strcmp(d.runs[i].cuda_version, runs[i].cuda_version));
		CHECK(!strcmp(d.runs[i].nccl_version, runs[i].nccl_version));
		CHECK(!strcmp(d.runs[i].cudnn_version, runs[i].cudnn_version));
		CHECK(!strcmp(d.runs[i].flags, runs[i].flags));
	}
	CHECK_EQ(d.n_gemm, 3);
	for (size_t i = 0; i < d.n_gemm && i < 3; i++)
		CHECK(same_gemm(&d.gemm[i], &g[i]));
	CHECK_EQ(d.n_attn, 3);
	for (size_t i = 0; i < d.n_attn && i < 3; i++)
		CHECK(same_attn(&d.attn[i], &a[i]));
	CHECK_EQ(d.n_coll, 3);
	for (size_t i = 0; i < d.n_coll && i < 3; i++)
		CHECK(t_same_coll(&d.coll[i], &c[i]));
	CHECK_EQ(d.n_p2p, 2);
	for (size_t i = 0; i < d.n_p2p && i < 2; i++)
		CHECK(same_p2p(&d.p2p[i], &p[i]));
	wlb_costdb_data_free(&d);
	CHECK(d.gemm == NULL && d.n_gemm == 0);
}

static void test_round_trip(void)
{
	char path[64];
	struct wlb_run_info runs[2];
	struct wlb_gemm_sample g[3];
	struct wlb_attn_sample a[3];
	struct wlb_coll_sample c[3];
	struct wlb_p2p_sample p[2];

	t_tmp_file(path); /* an empty file: schema version 0, created on open */
	write_all(path, runs, g, a, c, p);
	check_all(path, runs, g, a, c, p);

	/* what is on disk: the schema version, STRICT tables, readable enums,
	 * indexes on the lookup keys, one device row */
	CHECK_EQ(raw_int(path, "PRAGMA user_version"), WLB_COSTDB_SCHEMA);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM pragma_table_list WHERE strict = 1 AND name IN "
			       "('device','run','gemm_sample','attn_sample','coll_sample','p2p_sample')"), 6);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM device"), 1);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM coll_sample WHERE source = 'published' AND "
			       "op = 'all_gather'"), 2);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM attn_sample WHERE direction = 'bwd'"), 1);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM p2p_sample WHERE link = 'inter'"), 1);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
			       "('gemm_sample_key','attn_sample_key','coll_sample_key','p2p_sample_key')"), 4);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM pragma_index_info('coll_sample_key')"), 4);

	/* reopening an existing DB for writing keeps what is there */
	struct wlb_costdb *db = NULL;
	struct wlb_error e = {0};
	CHECK_EQ(wlb_costdb_open(&db, path, &e), 0);
	wlb_costdb_close(db);
	check_all(path, runs, g, a, c, p);
	t_tmp_remove(path);
}

static void test_transactions(void)
{
	char path[64];
	struct wlb_run_info runs[2];
	struct wlb_gemm_sample g[3];
	struct wlb_attn_sample a[3];
	struct wlb_coll_sample c[3];
	struct wlb_p2p_sample p[2];
	struct wlb_costdb *db = NULL;
	struct wlb_error e = {0};
	struct wlb_run_info r = {0};

	t_tmp_file(path);
	write_all(path, runs, g, a, c, p);

	/* rollback: nothing of it stays, and the handle goes on working */
	CHECK_EQ(wlb_costdb_open(&db, path, &e), 0);
	if (!db)
		goto out;
	CHECK_EQ(wlb_costdb_begin(db, &e), 0);
	CHECK_EQ(wlb_costdb_add_run(db, &r, &e), 0);
	struct wlb_gemm_sample x = gemm(r.id, 64, 64, 64, 3.0);
	CHECK_EQ(wlb_costdb_add_gemm(db, &x, &e), 0);
	struct wlb_coll_sample y = coll(r.id, WLB_ALL_TO_ALL, 4, 4096, 9.0);
	CHECK_EQ(wlb_costdb_add_coll(db, &y, &e), 0);
	wlb_costdb_rollback(db);
	wlb_costdb_rollback(db); /* twice is harmless */
	check_all(path, runs, g, a, c, p);

	/* a failed row inside a transaction does not spoil the others */
	CHECK_EQ(wlb_costdb_begin(db, &e), 0);
	CHECK_EQ(wlb_costdb_begin(db, &e), WLB_EINVAL); /* nested: refused, named */
	CHECK_STR_HAS(e.msg, "begin: cannot start a transaction within a transaction");
	x = gemm(runs[0].id, 64, 64, 64, 3.0);
	CHECK_EQ(wlb_costdb_add_gemm(db, &x, &e), 0);
	x.m = 0;
	CHECK_EQ(wlb_costdb_add_gemm(db, &x, &e), WLB_EINVAL);
	x.m = 32;
	CHECK_EQ(wlb_costdb_add_gemm(db, &x, &e), 0);
	CHECK_EQ(wlb_costdb_commit(db, &e), 0);
	CHECK_EQ(wlb_costdb_commit(db, &e), WLB_EINVAL); /* nothing open */
	CHECK_STR_HAS(e.msg, path);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM gemm_sample"), 5);
	CHECK_EQ(raw_exec(path, "DELETE FROM gemm_sample WHERE m IN (32, 64)"), SQLITE_OK);

	/* closing without commit (what a crash between rows looks like to the
	 * caller): the rows are gone, the DB is as it was */
	CHECK_EQ(wlb_costdb_begin(db, &e), 0);
	memset(&r, 0, sizeof r);
	CHECK_EQ(wlb_costdb_add_run(db, &r, &e), 0);
	x = gemm(r.id, 128, 128, 128, 5.0);
	CHECK_EQ(wlb_costdb_add_gemm(db, &x, &e), 0);
	struct wlb_p2p_sample z = p2p(r.id, 0, 1024, 4.0);
	CHECK_EQ(wlb_costdb_add_p2p(db, &z, &e), 0);
	wlb_costdb_close(db);
	db = NULL;
	check_all(path, runs, g, a, c, p);
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);

	/* a writer killed mid-transaction after SQLite spilled rows into the
	 * file: a hot journal is left; the reader rolls it back and sees the DB
	 * as it was */
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct wlb_costdb *w = NULL;
		struct wlb_error we;
		struct wlb_run_info wr = {0};
		if (wlb_costdb_open(&w, path, &we) || wlb_costdb_begin(w, &we) ||
		    wlb_costdb_add_run(w, &wr, &we))
			_exit(2);
		for (int i = 1; i <= 60000; i++) {
			struct wlb_gemm_sample s = gemm(wr.id, i, 4096, 4096, 1.0 + i);
			if (wlb_costdb_add_gemm(w, &s, &we))
				_exit(3);
		}
		_exit(0); /* no commit, no close */
	}
	int status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	char journal[96];
	snprintf(journal, sizeof journal, "%s-journal", path);
	CHECK(exists(journal)); /* the crash is real: a hot journal */
	check_all(path, runs, g, a, c, p);
	CHECK(!exists(journal)); /* rolled back */
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM gemm_sample"), 3);
	/* and the writer goes on */
	CHECK_EQ(wlb_costdb_open(&db, path, &e), 0);
	if (db) {
		x = gemm(runs[0].id, 256, 256, 256, 7.0);
		CHECK_EQ(wlb_costdb_add_gemm(db, &x, &e), 0); /* autocommit */
		wlb_costdb_close(db);
		db = NULL;
	}
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM gemm_sample"), 4);
out:
	wlb_costdb_close(db);
	t_tmp_remove(path);
}

/* ---- refusals ---- */

static void test_refusals(void)
{
	char path[64], want[256];
	struct wlb_costdb *db = NULL;
	struct wlb_costdb_data d;
	struct wlb_error e = {0};

	/* a newer schema: the reader and the writer refuse, naming both versions */
	t_tmp_file(path);
	CHECK_EQ(wlb_costdb_open(&db, path, &e), 0);
	wlb_costdb_close(db);
	db = NULL;
	CHECK_EQ(raw_exec(path, "PRAGMA user_version = 2"), SQLITE_OK);
	CHECK_EQ(wlb_costdb_read(path, &d, &e), WLB_EINVAL);
	snprintf(want, sizeof want, "%s: cost DB schema 2 is newer than this wlb reads (1): upgrade wlb", path);
	CHECK(!strcmp(e.msg, want));
	if (strcmp(e.msg, want))
		fprintf(stderr, "  got: %s\n", e.msg);
	CHECK(d.runs == NULL && d.n_runs == 0);
	e.msg[0] = '\0';
	CHECK_EQ(wlb_costdb_open(&db, path, &e), WLB_EINVAL);
	CHECK(db == NULL);
	snprintf(want, sizeof want, "%s: cost DB schema 2 is newer than this wlb writes (1): upgrade wlb", path);
	CHECK(!strcmp(e.msg, want));
	CHECK_EQ(raw_int(path, "PRAGMA user_version"), 2); /* untouched */
	t_tmp_remove(path);

	/* a missing DB: named, and not created by reading */
	t_tmp_file(path);
	t_tmp_remove(path);
	CHECK_EQ(wlb_costdb_read(path, &d, &e), WLB_EIO);
	snprintf(want, sizeof want, "%s: no such cost DB", path);
	CHECK(!strcmp(e.msg, want));
	CHECK(!exists(path));

	/* a text file */
	t_write_file(path, "this is not a database, just some text long enough to be read as a header\n"
			 "of a SQLite file, which it is not.  wlb must refuse it with a clear message.\n");
	CHECK_EQ(wlb_costdb_read(path, &d, &e), WLB_EINVAL);
	snprintf(want, sizeof want, "%s: not a wlb cost DB (file is not a database)", path);
	CHECK(!strcmp(e.msg, want));
	if (strcmp(e.msg, want))
		fprintf(stderr, "  got: %s\n", e.msg);
	CHECK_EQ(wlb_costdb_open(&db, path, &e), WLB_EINVAL);
	CHECK(db == NULL);
	CHECK(!strcmp(e.msg, want));
	t_tmp_remove(path);

	/* an empty file is an empty DB: nothing to read (the writer creates it) */
	t_tmp_file(path);
	CHECK_EQ(wlb_costdb_read(path, &d, &e), WLB_EINVAL);
	snprintf(want, sizeof want, "%s: not a wlb cost DB (empty database)", path);
	CHECK(!strcmp(e.msg, want));
	t_tmp_remove(path);

	/* another program's SQLite DB: neither read nor taken over */
	t_tmp_file(path);
	CHECK_EQ(raw_exec(path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"), SQLITE_OK);
	CHECK_EQ(wlb_costdb_read(path, &d, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "not a wlb cost DB (user_version 0: another program's database)");
	CHECK_EQ(wlb_costdb_open(&db, path, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "another program's database");
	CHECK_EQ(raw_int(path, "SELECT count(*) FROM sqlite_schema"), 1);
	t_tmp_remove(path);

	/* our version number on a DB without our tables */
	t_tmp_file(path);
	CHECK_EQ(raw_exec(path, "CREATE TABLE device (x INTEGER); PRAGMA user_version = 1"), SQLITE_OK);
	CHECK_EQ(wlb_costdb_read(path, &d, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "not a wlb cost DB (schema 1 but no table run)");
	t_tmp_remove(path);
}

static void test_constraints(void)
{
	char path[64];
	struct wlb_costdb *db = NULL;
	struct wlb_error e = {0};
	struct wlb_run_info r = {0};
	struct wlb_costdb_data d;

	t_tmp_file(path);
	CHECK_EQ(wlb_costdb_open(&db, path, &e), 0);
	if (!db)
		goto out;
	CHECK_EQ(wlb_costdb_add_run(db, &r, &e), 0);

	struct wlb_gemm_sample g = gemm(r.id, 64, 64, 64, 3.0);
	g.source = (enum wlb_sample_source)9;
	CHECK_EQ(wlb_costdb_add_gemm(db, &g, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, path);
	CHECK_STR_HAS(e.msg, "gemm sample (m 64, n 64, k 64): CHECK constraint failed: source IN");
	g = gemm(r.id, 64, -1, 64, 3.0);
	CHECK_EQ(wlb_costdb_add_gemm(db, &g, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "CHECK constraint failed: n > 0");
	g = gemm(r.id, 64, 64, 64, 0.0);
	CHECK_EQ(wlb_costdb_add_gemm(db, &g, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "median_us > 0");
	memset(g.dtype, 'x', sizeof g.dtype); /* no NUL: bound by length, refused */
	g.median_us = 1;
	CHECK_EQ(wlb_costdb_add_gemm(db, &g, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "length(dtype)");
	g = gemm(r.id + 100, 64, 64, 64, 3.0); /* no such run */
	CHECK_EQ(wlb_costdb_add_gemm(db, &g, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "FOREIGN KEY constraint failed");

	struct wlb_attn_sample a = attn(r.id, 2, 64, 64, 5.0);
	CHECK_EQ(wlb_costdb_add_attn(db, &a, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "direction IN");
	a = attn(r.id, 0, 128, 64, 5.0); /* q beyond the causal window */
	CHECK_EQ(wlb_costdb_add_attn(db, &a, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "kv_len >= q_len");
	a = attn(r.id, 0, 64, 64, 5.0);
	a.kv_heads = 5; /* 32 heads do not group into 5 */
	CHECK_EQ(wlb_costdb_add_attn(db, &a, &e), WLB_EINVAL);

	struct wlb_coll_sample c = coll(r.id, (enum wlb_coll_op)7, 8, 1024, 5.0);
	CHECK_EQ(wlb_costdb_add_coll(db, &c, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "op IN");
	c = coll(r.id, WLB_ALL_GATHER, 8, 1024, 5.0);
	c.nodes = 9;
	CHECK_EQ(wlb_costdb_add_coll(db, &c, &e), WLB_EINVAL);
	c = coll(r.id, WLB_ALL_GATHER, 8, 0, 5.0);
	CHECK_EQ(wlb_costdb_add_coll(db, &c, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "bytes > 0");

	struct wlb_p2p_sample p = p2p(r.id, 3, 1024, 5.0);
	CHECK_EQ(wlb_costdb_add_p2p(db, &p, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "link IN");

	struct wlb_device dev = DEV;
	dev.name[0] = '\0';
	CHECK_EQ(wlb_costdb_put_device(db, &dev, &e), WLB_EINVAL);
	dev = DEV;
	dev.sms = 0;
	CHECK_EQ(wlb_costdb_put_device(db, &dev, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "sms > 0");
	wlb_costdb_close(db);
	db = NULL;

	/* nothing of that landed */
	CHECK_EQ(wlb_costdb_read(path, &d, &e), 0);
	CHECK_EQ(d.n_runs, 1);
	CHECK_EQ(d.has_device, 0);
	CHECK_EQ(d.n_gemm + d.n_attn + d.n_coll + d.n_p2p, 0);
	wlb_costdb_data_free(&d);
out:
	wlb_costdb_close(db);
	t_tmp_remove(path);
}

/* ---- nccl-tests logs ---- */

void test_costdb(void)
{
	test_names();
	test_round_trip();
	test_transactions();
	test_refusals();
	test_constraints();
}
