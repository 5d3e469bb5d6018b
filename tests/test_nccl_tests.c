/* test_nccl_tests.c — importing nccl-tests logs (sim/nccl_tests.c): the
 * out-of-place rows of a realistic log, its variants, and every refusal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costdb.h"
#include "nccl_tests.h"
#include "test.h"
#include "test_util.h"

void test_nccl_tests(void);

void test_nccl_tests(void)
{
	struct wlb_coll_sample *s = NULL;
	size_t n = 99;
	struct wlb_error e = {0};
	char path[64], want[256];

	CHECK_EQ(wlb_nccl_tests_parse("tests/data/nccl_all_gather_8.txt", WLB_ALL_GATHER, 8, 1, &s, &n, &e), 0);
	/* 31 sizes, 8 B .. 8 GiB; the first two have 0 bytes per rank in total
	 * (8 and 16 B over 8 ranks of 4-byte floats) and are skipped */
	CHECK_EQ(n, 29);
	if (n == 29) {
		CHECK_EQ(s[0].bytes, 32);
		CHECK_NEAR(s[0].median_us, 10.43, 1e-12);
		CHECK_NEAR(s[0].algbw_gbps, 0.0, 0);
		CHECK_NEAR(s[0].busbw_gbps, 0.0, 0);
		CHECK_EQ(s[17].bytes, 4194304); /* out-of-place, not in-place (28.01) */
		CHECK_NEAR(s[17].median_us, 28.25, 1e-12);
		CHECK_NEAR(s[17].algbw_gbps, 148.47, 1e-12);
		CHECK_NEAR(s[17].busbw_gbps, 129.91, 1e-12);
		CHECK_EQ(s[28].bytes, 8589934592LL);
		CHECK_NEAR(s[28].median_us, 20779, 1e-12);
		CHECK_NEAR(s[28].algbw_gbps, 413.39, 1e-12);
		CHECK_NEAR(s[28].busbw_gbps, 361.72, 1e-12);
		int all = 1;
		for (size_t i = 0; i < n; i++)
			all &= s[i].source == WLB_SRC_IMPORTED && s[i].op == WLB_ALL_GATHER &&
			       s[i].ranks == 8 && s[i].nodes == 1 && !s[i].algo[0] && s[i].run == 0 &&
			       (i == 0 || s[i].bytes == 2 * s[i - 1].bytes);
		CHECK(all);
	}

	/* into a DB and back */
	t_tmp_file(path);
	struct wlb_costdb *db = NULL;
	struct wlb_costdb_data d;
	struct wlb_run_info r = {0};
	strcpy(r.flags, "imported nccl_all_gather_8.txt");
	CHECK_EQ(wlb_costdb_open(&db, path, &e), 0);
	if (db) {
		CHECK_EQ(wlb_costdb_begin(db, &e), 0);
		CHECK_EQ(wlb_costdb_add_run(db, &r, &e), 0);
		for (size_t i = 0; i < n; i++) {
			s[i].run = r.id;
			CHECK_EQ(wlb_costdb_add_coll(db, &s[i], &e), 0);
		}
		CHECK_EQ(wlb_costdb_commit(db, &e), 0);
		wlb_costdb_close(db);
	}
	CHECK_EQ(wlb_costdb_read(path, &d, &e), 0);
	CHECK_EQ(d.n_coll, n);
	for (size_t i = 0; i < d.n_coll && i < n; i++)
		CHECK(t_same_coll(&d.coll[i], &s[i]));
	wlb_costdb_data_free(&d);
	t_tmp_remove(path);
	free(s);
	s = NULL;

	/* headers only; a broken row; a missing file */
	CHECK_EQ(wlb_nccl_tests_parse("tests/data/nccl_empty.txt", WLB_ALL_GATHER, 8, 1, &s, &n, &e), WLB_EINVAL);
	CHECK(!strcmp(e.msg, "tests/data/nccl_empty.txt: no nccl-tests data rows"));
	CHECK(s == NULL && n == 0);
	CHECK_EQ(wlb_nccl_tests_parse("tests/data/nccl_garbage.txt", WLB_ALL_GATHER, 8, 1, &s, &n, &e), WLB_EINVAL);
	CHECK(!strcmp(e.msg, "tests/data/nccl_garbage.txt:35: expected an nccl-tests data row (size count "
			     "type redop root time algbw busbw ...), got \"1048576         32768     "
			     "float    none      -1    16.2x   6...\""));
	if (strcmp(e.msg, "tests/data/nccl_garbage.txt:35: expected an nccl-tests data row (size count "
			  "type redop root time algbw busbw ...), got \"1048576         32768     "
			  "float    none      -1    16.2x   6...\""))
		fprintf(stderr, "  got: %s\n", e.msg);
	CHECK(s == NULL && n == 0);
	CHECK_EQ(wlb_nccl_tests_parse("tests/data/nccl_missing.txt", WLB_ALL_GATHER, 8, 1, &s, &n, &e), WLB_EIO);
	CHECK(!strcmp(e.msg, "tests/data/nccl_missing.txt: cannot open nccl-tests log: No such file or directory"));

	/* the log contradicts what the caller says it is */
	CHECK_EQ(wlb_nccl_tests_parse("tests/data/nccl_all_gather_8.txt", WLB_ALL_REDUCE, 8, 1, &s, &n, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "tests/data/nccl_all_gather_8.txt:29: busbw / algbw is 0.8774, but "
			     "all_reduce on 8 ranks gives 1.7500: wrong collective or rank count?");
	CHECK_EQ(wlb_nccl_tests_parse("tests/data/nccl_all_gather_8.txt", WLB_ALL_GATHER, 16, 2, &s, &n, &e), WLB_EINVAL);
	CHECK(!strcmp(e.msg, "tests/data/nccl_all_gather_8.txt: the log lists 8 ranks (\"# Rank\" lines), "
			     "but 16 were given"));
	CHECK_EQ(wlb_nccl_tests_parse("tests/data/nccl_all_gather_8.txt", WLB_ALL_GATHER, 8, 9, &s, &n, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "1 <= nodes <= ranks");

	/* variants: an older nccl-tests (no root column, "error" columns), N/A,
	 * mpirun --tag-output prefixes, NCCL_DEBUG lines, CRLF line ends */
	t_tmp_file(path);
	t_write_file(path,
		   "# nThread 1 nGpus 1 minBytes 1048576 maxBytes 4194304 step: 2(factor) warmup iters: 5 iters: 20\r\n"
		   "#\r\n"
		   "#                                                     out-of-place                       in-place\r\n"
		   "#       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw  error\r\n"
		   "#        (B)    (elements)                     (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)\r\n"
		   "node1:123:456 [0] NCCL INFO Launch mode Parallel\r\n"
		   "[1,0]<stdout>:     1048576        262144   float     sum    60.21   17.42   26.13  0e+00    60.01   17.47   26.21    N/A\r\n"
		   "\r\n"
		   "     2097152        524288   float     sum    101.3   20.70   31.05  0e+00    101.1   20.74   31.12    N/A\r\n"
		   "# Out of bounds values : 0 OK\r\n");
	CHECK_EQ(wlb_nccl_tests_parse(path, WLB_ALL_REDUCE, 4, 2, &s, &n, &e), 0);
	CHECK_EQ(n, 2);
	if (n == 2) {
		CHECK_EQ(s[0].bytes, 1048576);
		CHECK_NEAR(s[0].median_us, 60.21, 1e-12);
		CHECK_NEAR(s[0].busbw_gbps, 26.13, 1e-12);
		CHECK_EQ(s[1].bytes, 2097152);
		CHECK_NEAR(s[1].median_us, 101.3, 1e-12);
		CHECK_NEAR(s[1].algbw_gbps, 20.70, 1e-12);
		CHECK_EQ(s[1].nodes, 2);
		CHECK_EQ(s[1].op, WLB_ALL_REDUCE);
	}
	free(s);
	s = NULL;

	/* nccl-tests found wrong values: refused */
	t_write_file(path,
		   "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n"
		   "     1048576        262144     float     sum      -1    30.00   34.95   61.17      0    30.10   34.84   60.97      0\n"
		   "     2097152        524288     float     sum      -1    45.00   46.60   81.55      3    45.20   46.40   81.20      0\n");
	CHECK_EQ(wlb_nccl_tests_parse(path, WLB_ALL_REDUCE, 8, 1, &s, &n, &e), WLB_EINVAL);
	snprintf(want, sizeof want, "%s:3: nccl-tests counted wrong values at size 2097152: the run is "
		 "broken; not imported", path);
	CHECK(!strcmp(e.msg, want));
	/* a row cut short (the job was killed mid-line) */
	t_write_file(path, "     1048576        262144     float     sum      -1    30.00   34.95\n");
	CHECK_EQ(wlb_nccl_tests_parse(path, WLB_ALL_REDUCE, 8, 1, &s, &n, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, ":1: expected an nccl-tests data row");
	CHECK_STR_HAS(e.msg, "got \"1048576        262144     float     sum      -1    30.00   3...\"");
	/* a negative time */
	t_write_file(path, "     1048576        262144     float     sum      -1    -30.0   34.95   61.17      0    30.10   34.84   60.97      0\n");
	CHECK_EQ(wlb_nccl_tests_parse(path, WLB_ALL_REDUCE, 8, 1, &s, &n, &e), WLB_EINVAL);
	CHECK(s == NULL && n == 0);
	t_tmp_remove(path);
}

