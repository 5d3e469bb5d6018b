/* test_limits.c — the size limits (each accepted at its value, refused one
 * past it with the message naming key and limit), the bounded readers
 * (special files, long lines, big and deep JSON) and the stop flag. */
#define _XOPEN_SOURCE 700 /* mkfifo, mkdtemp */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docs.h"
#include "import_attn.h"
#include "infile.h"
#include "json.h"
#include "model.h"
#include "nccl_tests.h"
#include "packrun.h"
#include "stop.h"
#include "test.h"
#include "trace.h"

void test_limits(void);

static void model_ok(const struct wlb_model *m)
{
	struct wlb_error e = {0, ""};
	int rc = wlb_model_check(m, &e);

	CHECK_EQ(rc, 0);
	if (rc)
		fprintf(stderr, "  %s\n", e.msg);
}

static void model_bad(const struct wlb_model *m, const char *want)
{
	struct wlb_error e = {0, ""};

	CHECK_EQ(wlb_model_check(m, &e), WLB_ERANGE);
	CHECK(!strcmp(e.msg, want));
	if (strcmp(e.msg, want))
		fprintf(stderr, "  want \"%s\", got \"%s\"\n", want, e.msg);
}

static void test_model_limits(void)
{
	const struct wlb_model m0 = {"m", 4, 256, 512, 8, 4, 32, 1000, WLB_MLP_GELU, 0, 0, 0};
	struct wlb_model m;

	m = m0; m.layers = WLB_MAX_LAYERS; model_ok(&m);
	m.layers++; model_bad(&m, "model.layers must be at most 1024, got 1025");
	m = m0; m.hidden = WLB_MAX_HIDDEN; model_ok(&m);
	m.hidden++; model_bad(&m, "model.hidden must be at most 262144, got 262145");
	m = m0; m.ffn_hidden = WLB_MAX_FFN_HIDDEN; model_ok(&m);
	m.ffn_hidden++; model_bad(&m, "model.ffn_hidden must be at most 1048576, got 1048577");
	m = m0; m.heads = m.kv_heads = WLB_MAX_HEADS; model_ok(&m);
	m.heads++; model_bad(&m, "model.heads must be at most 4096, got 4097");
	m.heads = WLB_MAX_HEADS; m.kv_heads++;
	model_bad(&m, "model.kv_heads must be at most 4096, got 4097");
	m = m0; m.head_dim = WLB_MAX_HEAD_DIM; model_ok(&m);
	m.head_dim++; model_bad(&m, "model.head_dim must be at most 2048, got 2049");
	m = m0; m.vocab = WLB_MAX_VOCAB; model_ok(&m);
	m.vocab++; model_bad(&m, "model.vocab must be at most 16777216, got 16777217");
}

/* A small trace with the given gpus_per_node, dp, microbatches, context,
 * window and iterations. */
static char *trace_text(int gpn, int dp, int mb, long long ctx, long long window, long long iters)
{
	char *s = malloc(1024);

	snprintf(s, 1024,
		 "{\"format\": \"wlb-trace/1\",\n"
		 " \"model\": {\"layers\": 4, \"hidden\": 256, \"ffn_hidden\": 512, \"heads\": 8,\n"
		 "           \"kv_heads\": 4, \"head_dim\": 32, \"vocab\": 1000, \"mlp\": \"gelu\"},\n"
		 " \"cluster\": {\"gpus_per_node\": %d},\n"
		 " \"parallel\": {\"dp\": %d, \"microbatches\": %d},\n"
		 " \"context\": %lld,\n"
		 " \"policy\": {\"packing\": \"greedy\", \"window\": %lld},\n"
		 " \"data\": {\"iterations\": %lld, \"distribution\": {\"preset\": \"web\"}}}\n",
		 gpn, dp, mb, ctx, window, iters);
	return s;
}

/* Loads text; want NULL: it loads, else the message holds want. */
static void load_case(int line, char *text, const char *want)
{
	struct wlb_trace t;
	struct wlb_error e = {0, ""};
	int rc = wlb_trace_load_string(&t, text, "t.json", &e);
	int good = want ? rc < 0 && !strncmp(e.msg, "t.json:", 7) && strstr(e.msg, want) : rc == 0;

	if (good) {
		t_pass++;
	} else {
		t_fail++;
		fprintf(stderr, "test_limits.c:%d: rc %d, want \"%s\", got \"%s\"\n", line, rc,
			want ? want : "(no error)", e.msg);
	}
	wlb_trace_free(&t);
	free(text);
}

static void test_trace_limits(void)
{
	struct wlb_trace t;
	struct wlb_error e = {0, ""};
	uint32_t dummy = 1;

	load_case(__LINE__, trace_text(8, 1, 1, 4096, 1, WLB_MAX_ITERATIONS), NULL);
	load_case(__LINE__, trace_text(8, 1, 1, 4096, 1, WLB_MAX_ITERATIONS + 1),
		  "data.iterations must be at most 1000000, got 1000001");
	load_case(__LINE__, trace_text(8, 1, 1, 4096, WLB_MAX_WINDOW, 1), NULL);
	load_case(__LINE__, trace_text(8, 1, 1, 4096, WLB_MAX_WINDOW + 1, 1),
		  "policy.window must be at most 1024 global batches, got 1025");
	load_case(__LINE__, trace_text(WLB_MAX_GPUS_PER_NODE, 1, 1, 4096, 1, 1), NULL);
	load_case(__LINE__, trace_text(WLB_MAX_GPUS_PER_NODE + 1, 1, 1, 4096, 1, 1),
		  "cluster.gpus_per_node must be at most 4096, got 4097");
	/* 16384 micro-batches of 2^20 tokens = 2^34 exactly; one token more
	 * per sequence, or twice the replicas, is over */
	load_case(__LINE__, trace_text(8, 1, 16384, 1 << 20, 1, 1), NULL);
	load_case(__LINE__, trace_text(8, 1, 16384, (1 << 20) + 1, 1, 1),
		  "parallel.dp x microbatches x micro_batch_size x context must be at most "
		  "17179869184 tokens an iteration, got 1 x 16384 x 1 x 1048577");
	load_case(__LINE__, trace_text(8, 2, 16384, 1 << 20, 1, 1),
		  "got 2 x 16384 x 1 x 1048576");
	/* the command line's --iterations, checked after the overrides */
	char *text = trace_text(8, 1, 1, 4096, 1, 1);
	CHECK_EQ(wlb_trace_load_string(&t, text, "t.json", &e), 0);
	free(text);
	t.iterations = WLB_MAX_ITERATIONS + 1;
	CHECK(wlb_trace_check(&t, &e) < 0);
	CHECK_STR_HAS(e.msg, "data.iterations must be at most 1000000, got 1000001");
	/* documents: the count is checked before any length is read */
	t.iterations = 0;
	t.source.kind = WLB_SOURCE_LENGTHS;
	t.source.lens = &dummy;
	t.source.n_lens = WLB_MAX_DOCUMENTS;
	CHECK_EQ(wlb_trace_check(&t, &e), 0);
	t.source.n_lens = (size_t)WLB_MAX_DOCUMENTS + 1;
	CHECK(wlb_trace_check(&t, &e) < 0);
	CHECK(!strcmp(e.msg, "data.lengths_file must hold at most 268435456 documents, got 268435457"));
	t.source.kind = WLB_SOURCE_BATCHES;
	CHECK(wlb_trace_check(&t, &e) < 0);
	CHECK(!strcmp(e.msg, "data.batches must hold at most 268435456 documents, got 268435457"));
	t.source.lens = NULL;
	t.source.n_lens = 0;
	t.source.kind = WLB_SOURCE_DIST;
	wlb_trace_free(&t);
}

/* n nested arrays, "[[...]]", in a fresh string. */
static char *nested(int n)
{
	char *s = malloc((size_t)2 * n + 1);

	memset(s, '[', (size_t)n);
	memset(s + n, ']', (size_t)n);
	s[2 * n] = '\0';
	return s;
}

/* "[0,0,...,0]" with n values, in a fresh string. */
static char *zeros(size_t n)
{
	char *s = malloc(2 * n + 2);

	s[0] = '[';
	for (size_t i = 0; i < n; i++) {
		s[1 + 2 * i] = '0';
		s[2 + 2 * i] = i + 1 < n ? ',' : ']';
	}
	s[2 * n + 1] = '\0';
	return s;
}

static void test_json_limits(const char *dir)
{
	struct wlb_error e = {0, ""};
	char path[512], *s;
	FILE *f;

	s = nested(WLB_JSON_MAX_NESTING);
	CHECK_EQ(wlb_json_check_shape(s, strlen(s), "j.json", &e), 0);
	free(s);
	s = nested(WLB_JSON_MAX_NESTING + 1);
	CHECK_EQ(wlb_json_check_shape(s, strlen(s), "j.json", &e), WLB_ERANGE);
	CHECK(!strcmp(e.msg, "j.json:1:65: JSON nested deeper than 64 arrays and objects"));
	free(s);
	/* brackets inside strings do not count */
	CHECK_EQ(wlb_json_check_shape("{\"a\": \"[[[[[\\\"[[\"}", 18, "j.json", &e), 0);
	s = zeros(WLB_JSON_MAX_ARRAY);
	CHECK_EQ(wlb_json_check_shape(s, strlen(s), "j.json", &e), 0);
	free(s);
	s = zeros((size_t)WLB_JSON_MAX_ARRAY + 1);
	CHECK_EQ(wlb_json_check_shape(s, strlen(s), "j.json", &e), WLB_ERANGE);
	/* value i (0-based) is at byte 1 + 2i, so value 2^24 (the one too
	 * many) at byte 2^25 + 1, column 2^25 + 2 */
	CHECK(!strcmp(e.msg, "j.json:1:33554434: an array of more than 16777216 values"));
	free(s);
	/* a file of more than WLB_JSON_MAX_BYTES (sparse: nothing is read) */
	snprintf(path, sizeof path, "%s/big.json", dir);
	if ((f = fopen(path, "w"))) {
		CHECK_EQ(ftruncate(fileno(f), WLB_JSON_MAX_BYTES + 1), 0);
		fclose(f);
	}
	struct wlb_trace t;
	CHECK_EQ(wlb_trace_load(&t, path, &e), WLB_ERANGE);
	CHECK_STR_HAS(e.msg, "big.json: 536870913 bytes, more than the 536870912 a trace may hold");
	CHECK(wlb_json_read(path, "report", 0, &e) == NULL);
	CHECK_STR_HAS(e.msg, "big.json: 536870913 bytes, more than the 536870912 a report may hold");
	/* the slurp's bound at its value and one past it */
	size_t len = 0;
	char *text;
	CHECK_EQ(truncate(path, 10), 0);
	CHECK((text = wlb_infile_slurp(path, "x", 10, &len, &e)) != NULL && len == 10);
	free(text);
	CHECK_EQ(truncate(path, 11), 0);
	CHECK(wlb_infile_slurp(path, "x", 10, &len, &e) == NULL);
	CHECK_STR_HAS(e.msg, "big.json: 11 bytes, more than the 10 a x may hold");
	remove(path);
	/* a deep trace file is refused at its place */
	snprintf(path, sizeof path, "%s/deep.json", dir);
	if ((f = fopen(path, "w"))) {
		s = nested(100);
		fprintf(f, "{\"format\":\n %s}\n", s);
		free(s);
		fclose(f);
	}
	CHECK_EQ(wlb_trace_load(&t, path, &e), WLB_ERANGE);
	CHECK_STR_HAS(e.msg, "deep.json:2:65: JSON nested deeper than 64 arrays and objects");
	remove(path);
}

/* A file of a comment line, then n bytes of c, then tail. */
static void write_line(const char *path, size_t n, char c, const char *tail)
{
	FILE *f = fopen(path, "w");
	char *s = malloc(n);

	if (!f || !s) {
		free(s);
		if (f)
			fclose(f);
		return;
	}
	memset(s, c, n);
	fputs("#\n", f);
	fwrite(s, 1, n, f);
	fputs(tail, f);
	fclose(f);
	free(s);
}

static void test_lines(const char *dir)
{
	struct wlb_error e = {0, ""};
	struct wlb_lines *r = malloc(sizeof *r);
	char path[512], want[600];
	uint32_t *lens = NULL;
	size_t n = 0;

	snprintf(path, sizeof path, "%s/lines.txt", dir);
	/* a line of exactly WLB_LINE_MAX bytes: leading blanks, then a length */
	write_line(path, WLB_LINE_MAX - 1, ' ', "5\n");
	CHECK_EQ(wlb_lengths_read(path, &lens, &n, &e), 0);
	CHECK_EQ(n, 1);
	CHECK(lens && lens[0] == 5);
	free(lens);
	CHECK_EQ(wlb_lines_open(r, path, "log", &e), 0);
	CHECK_EQ(wlb_lines_next(r, &e), 1);
	CHECK_EQ(wlb_lines_next(r, &e), 1);
	CHECK_EQ(strlen(r->buf), WLB_LINE_MAX);
	CHECK_EQ(wlb_lines_next(r, &e), 0);
	wlb_lines_close(r);
	/* one byte more */
	write_line(path, WLB_LINE_MAX, ' ', "5\n");
	snprintf(want, sizeof want, "%s:2: line longer than 65536 bytes, the most a line may hold", path);
	CHECK_EQ(wlb_lengths_read(path, &lens, &n, &e), WLB_ERANGE);
	CHECK(!strcmp(e.msg, want));
	CHECK_EQ(wlb_lines_open(r, path, "log", &e), 0);
	CHECK_EQ(wlb_lines_next(r, &e), 1);
	CHECK_EQ(wlb_lines_next(r, &e), WLB_ERANGE);
	CHECK(!strcmp(e.msg, want));
	wlb_lines_close(r);
	/* 100 MB in one line, to each line reader */
	write_line(path, 100u << 20, 'x', "");
	CHECK_EQ(wlb_lengths_read(path, &lens, &n, &e), WLB_ERANGE);
	CHECK(!strcmp(e.msg, want));
	struct wlb_coll_sample *cs = NULL;
	CHECK_EQ(wlb_nccl_tests_parse(path, WLB_ALL_GATHER, 8, 1, &cs, &n, &e), WLB_ERANGE);
	CHECK(!strcmp(e.msg, want));
	struct wlb_attn_sample *as = NULL;
	CHECK_EQ(wlb_attn_csv_parse(path, &as, &n, &e), WLB_ERANGE);
	CHECK(!strcmp(e.msg, want));
	/* NUL bytes: not text */
	write_line(path, 1000, '\0', "\n");
	snprintf(want, sizeof want, "%s:2: a NUL byte: not a text file", path);
	CHECK_EQ(wlb_nccl_tests_parse(path, WLB_ALL_GATHER, 8, 1, &cs, &n, &e), WLB_EINVAL);
	CHECK(!strcmp(e.msg, want));
	remove(path);
	free(r);
}

/* Every reader refuses path with a message holding want. */
static void refuse_all(const char *path, const char *want)
{
	struct wlb_error e = {0, ""};
	struct wlb_trace t;
	uint32_t *lens = NULL;
	struct wlb_coll_sample *cs = NULL;
	struct wlb_attn_sample *as = NULL;
	size_t n = 0, len = 0;

	CHECK(wlb_lengths_read(path, &lens, &n, &e) < 0);
	CHECK_STR_HAS(e.msg, want);
	CHECK(wlb_nccl_tests_parse(path, WLB_ALL_GATHER, 8, 1, &cs, &n, &e) < 0);
	CHECK_STR_HAS(e.msg, want);
	CHECK(wlb_attn_csv_parse(path, &as, &n, &e) < 0);
	CHECK_STR_HAS(e.msg, want);
	CHECK(wlb_trace_load(&t, path, &e) < 0);
	CHECK_STR_HAS(e.msg, want);
	CHECK(wlb_config_load(&t, path, &e) < 0);
	CHECK_STR_HAS(e.msg, want);
	CHECK(wlb_json_read(path, "report", 0, &e) == NULL);
	CHECK_STR_HAS(e.msg, want);
	CHECK(wlb_infile_slurp(path, "report", 100, &len, &e) == NULL);
	CHECK_STR_HAS(e.msg, want);
}

static void test_special_files(const char *dir)
{
	char fifo[512], missing[512];

	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	snprintf(missing, sizeof missing, "%s/missing", dir);
	refuse_all(dir, "expected a regular file");
	refuse_all(dir, "got a directory");
	refuse_all("/dev/zero", "/dev/zero: expected a regular file");
	refuse_all("/dev/zero", "got a device");
	CHECK_EQ(mkfifo(fifo, 0600), 0);
	refuse_all(fifo, "got a FIFO"); /* at once: nothing writes to it */
	remove(fifo);
	refuse_all(missing, "cannot open");
	refuse_all(missing, "No such file or directory");
}

static void test_stop(void)
{
	struct wlb_trace t;
	struct wlb_packrun r;
	struct wlb_error e = {0, ""};
	char *text = trace_text(8, 1, 2, 4096, 1, 5);

	CHECK_EQ(wlb_trace_load_string(&t, text, "t.json", &e), 0);
	free(text);
	CHECK(!wlb_stop_requested());
	CHECK_EQ(wlb_packrun(&t, NULL, &r, &e), 0);
	CHECK_EQ(r.n_iters, 5);
	wlb_packrun_free(&r);
	wlb_stop_request();
	CHECK_EQ(wlb_packrun(&t, NULL, &r, &e), WLB_EINTR);
	CHECK(!strcmp(e.msg, "interrupted; nothing written"));
	CHECK_EQ(r.n_iters, 0);
	wlb_packrun_free(&r);
	wlb_stop_clear();
	CHECK(!wlb_stop_requested());
	wlb_trace_free(&t);
}

void test_limits(void)
{
	char dir[] = "/tmp/wlb-limits-XXXXXX";

	test_model_limits();
	test_trace_limits();
	test_stop();
	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	test_json_limits(dir);
	test_lines(dir);
	test_special_files(dir);
	rmdir(dir);
}
