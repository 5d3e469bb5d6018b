/* test_trace.c — trace.json loading (every error names FILE:LINE:COL and the
 * key), defaults, checks, and save/load round trips. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docs.h"
#include "model.h"
#include "test.h"
#include "test_util.h"
#include "trace.h"

void test_trace(void);

#define MODEL "{\"layers\": 4, \"hidden\": 256, \"ffn_hidden\": 512, \"heads\": 8,\n" \
	"            \"kv_heads\": 4, \"head_dim\": 32, \"vocab\": 1000, \"mlp\": \"gelu\"}"
#define DIST "{\"mixture\": [\n" \
	"             {\"weight\": 0.9, \"lognormal\": {\"mu\": 6.5, \"sigma\": 1.0}, \"max\": 8192},\n" \
	"             {\"weight\": 0.1, \"pareto\": {\"x0\": 2048, \"alpha\": 1.5}, \"min\": 2048}]}"

static const char BASE[] =
	"{\n"
	"  \"format\": \"wlb-trace/1\",\n"
	"  \"name\": \"unit\",\n"
	"  \"model\": " MODEL ",\n"
	"  \"gpu\": \"h100-sxm\",\n"
	"  \"cluster\": {\"gpus_per_node\": 8, \"nodes\": 2},\n"
	"  \"parallel\": {\"tp\": 2, \"cp\": 2, \"pp\": 2, \"dp\": 2, \"vpp\": 1, \"microbatches\": 4,\n"
	"               \"schedule\": \"1f1b\", \"cp_algo\": \"ring\", \"sequence_parallel\": true,\n"
	"               \"fsdp\": false, \"recompute\": true},\n"
	"  \"context\": 8192,\n"
	"  \"policy\": {\"packing\": \"greedy\", \"sharding\": \"per-doc\", \"s_max\": 12288,\n"
	"             \"outlier_thresholds\": [2048, 4096], \"window\": 2},\n"
	"  \"data\": {\"iterations\": 3, \"seed\": 7,\n"
	"           \"distribution\": " DIST "}\n"
	"}\n";

/* s with the first occurrence of from replaced by to (malloc'd); *at gets the
 * offset of the replacement.  NULL when s lacks from. */
static char *replace(const char *s, const char *from, const char *to, size_t *at)
{
	const char *p = strstr(s, from);
	size_t a, nf = strlen(from), nt = strlen(to), ns = strlen(s);
	char *out;

	if (!p || !(out = malloc(ns - nf + nt + 1)))
		return NULL;
	a = (size_t)(p - s);
	memcpy(out, s, a);
	memcpy(out + a, to, nt);
	memcpy(out + a + nt, p + nf, ns - a - nf + 1);
	if (at)
		*at = a;
	return out;
}

/* "NAME:LINE:COL: " of the place needle marks in text: needle is searched
 * from offset `from` (from the start when it starts with '^' or is not found
 * there), '@' in it marking the place (its start when absent).  Columns count
 * characters, not bytes. */
static int place_of(const char *text, size_t from, const char *needle, char *buf, size_t cap)
{
	char pat[128];
	const char *p, *at = strchr(needle, '@');
	size_t off = at ? (size_t)(at - needle) : 0;
	int line = 1, col = 1;

	if (*needle == '^') {
		needle++;
		from = 0;
		off = off ? off - 1 : 0;
	}
	snprintf(pat, sizeof pat, "%.*s%s", (int)off, needle, at ? at + 1 : needle + off);
	if (!(p = strstr(text + from, pat)) && !(p = strstr(text, pat)))
		return -1;
	p += off;
	for (const char *q = text; q < p; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)*q & 0xC0) != 0x80) {
			col++;
		}
	}
	snprintf(buf, cap, "t.json:%d:%d: ", line, col);
	return 0;
}

/* Loads base with from -> to; expects a failure placed at needle whose
 * message holds what. */
static void bad_in(int src_line, const char *base, const char *from, const char *to,
		   const char *needle, const char *what)
{
	struct wlb_trace t;
	struct wlb_error e = {0, ""};
	char want[64];
	size_t at = 0;
	char *text = replace(base, from, to, &at);
	int rc;

	if (!text || place_of(text, at, needle, want, sizeof want)) {
		t_fail++;
		fprintf(stderr, "test_trace.c:%d: bad case (\"%s\" or \"%s\" not found)\n", src_line,
			from, needle);
		free(text);
		return;
	}
	rc = wlb_trace_load_string(&t, text, "t.json", &e);
	if (rc < 0 && !strncmp(e.msg, want, strlen(want)) && strstr(e.msg, what) &&
	    !t.source.lens && !t.source.batch_start) {
		t_pass++;
	} else {
		t_fail++;
		fprintf(stderr, "test_trace.c:%d: [trace] rc %d, want \"%s...%s\", got \"%s\"\n",
			src_line, rc, want, what, e.msg);
	}
	wlb_trace_free(&t);
	free(text);
}

#define BAD(from, to, needle, what) bad_in(__LINE__, BASE, from, to, needle, what)

static void expect_msg(int src_line, const char *text, const char *want)
{
	struct wlb_trace t;
	struct wlb_error e = {0, ""};
	int rc = wlb_trace_load_string(&t, text, "t.json", &e);

	if (rc < 0 && !strcmp(e.msg, want)) {
		t_pass++;
	} else {
		t_fail++;
		fprintf(stderr, "test_trace.c:%d: [trace] rc %d, want \"%s\", got \"%s\"\n",
			src_line, rc, want, e.msg);
	}
	wlb_trace_free(&t);
}

static int same_model(const struct wlb_model *a, const struct wlb_model *b)
{
	return !strcmp(a->name, b->name) && a->layers == b->layers && a->hidden == b->hidden &&
	       a->ffn_hidden == b->ffn_hidden && a->heads == b->heads &&
	       a->kv_heads == b->kv_heads && a->head_dim == b->head_dim &&
	       a->vocab == b->vocab && a->mlp == b->mlp;
}

static void test_defaults(void)
{
	struct wlb_trace t;
	struct wlb_policy pol = {"", "", 0, -1, {0}, 0, "", 0, ""};

	wlb_trace_init(&t);
	CHECK_EQ(t.parallel.tp, 1);
	CHECK_EQ(t.parallel.dp, 1);
	CHECK_EQ(t.parallel.vpp, 1);
	CHECK_EQ(t.parallel.microbatches, 1);
	CHECK(!strcmp(t.parallel.schedule, "1f1b"));
	CHECK(!strcmp(t.parallel.cp_algo, "allgather"));
	CHECK_EQ(t.parallel.sequence_parallel, 1);
	CHECK_EQ(t.parallel.zero, 3);
	CHECK_EQ(t.parallel.recompute, 0);
	CHECK_EQ(t.cluster.gpus_per_node, 8);
	CHECK_EQ(t.cluster.nodes, 0);
	CHECK(!strcmp(t.gpu, "h100-sxm"));
	CHECK_EQ(t.iterations, 1);
	CHECK_EQ(t.source.seed, 1);
	CHECK_EQ(t.policy.n_thresholds, -1);
	CHECK(t.source.lens == NULL);
	wlb_trace_free(&t);

	wlb_policy_defaults(&pol, 131072);
	CHECK(!strcmp(pol.packing, "wlb"));
	CHECK(!strcmp(pol.sharding, "adaptive"));
	CHECK_EQ(pol.s_max, 196608);
	CHECK_EQ(pol.n_thresholds, 2);
	CHECK_EQ(pol.thresholds[0], 32768);
	CHECK_EQ(pol.thresholds[1], 65536);
	CHECK_EQ(pol.window, 1);
	/* 1.5 x 10000 = 15000, up to a multiple of 1024 */
	pol = (struct wlb_policy){"", "", 0, -1, {0}, 0, "", 0, ""};
	wlb_policy_defaults(&pol, 10000);
	CHECK_EQ(pol.s_max, 15360);
	CHECK_EQ(pol.thresholds[0], 2500);
	CHECK_EQ(pol.thresholds[1], 5000);
	/* set fields stay */
	pol = (struct wlb_policy){"bfd", "per-seq", 5000, 0, {0}, 3, "", 0, ""};
	wlb_policy_defaults(&pol, 4096);
	CHECK(!strcmp(pol.packing, "bfd"));
	CHECK(!strcmp(pol.sharding, "per-seq"));
	CHECK_EQ(pol.s_max, 5000);
	CHECK_EQ(pol.n_thresholds, 0);
	CHECK_EQ(pol.window, 3);
	/* tiny contexts keep the thresholds increasing and below the context */
	pol = (struct wlb_policy){"", "", 0, -1, {0}, 0, "", 0, ""};
	wlb_policy_defaults(&pol, 2);
	CHECK_EQ(pol.n_thresholds, 1);
	CHECK_EQ(pol.thresholds[0], 1);
	CHECK_EQ(pol.s_max, 1024);
	pol = (struct wlb_policy){"", "", 0, -1, {0}, 0, "", 0, ""};
	wlb_policy_defaults(&pol, 1);
	CHECK_EQ(pol.n_thresholds, 0);
}

static void test_load_files(void)
{
	struct wlb_trace t, u;
	struct wlb_error e = {0, ""};
	struct wlb_model m;
	struct wlb_dist d;
	const struct wlb_dist_component *c;

	/* the DESIGN.md §5 example */
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_full.json", &e), 0);
	if (e.code)
		fprintf(stderr, "  %s\n", e.msg);
	CHECK(!strcmp(t.path, "tests/data/trace_full.json"));
	CHECK(!strcmp(t.name, "7b-128k"));
	CHECK_EQ(t.model.layers, 32);
	CHECK_EQ(t.model.hidden, 4096);
	CHECK_EQ(t.model.ffn_hidden, 11008);
	CHECK_EQ(t.model.heads, 32);
	CHECK_EQ(t.model.kv_heads, 32);
	CHECK_EQ(t.model.head_dim, 128);
	CHECK_EQ(t.model.vocab, 32000);
	CHECK_EQ(t.model.mlp, WLB_MLP_SWIGLU);
	CHECK(!strcmp(t.model.name, ""));
	CHECK(!strcmp(t.gpu, "h100-sxm"));
	CHECK_EQ(t.cluster.gpus_per_node, 8);
	CHECK_EQ(t.cluster.nodes, 0);
	CHECK_EQ(t.parallel.tp, 8);
	CHECK_EQ(t.parallel.cp, 2);
	CHECK_EQ(t.parallel.pp, 4);
	CHECK_EQ(t.parallel.dp, 1);
	CHECK_EQ(t.parallel.vpp, 1);
	CHECK_EQ(t.parallel.microbatches, 4);
	CHECK(!strcmp(t.parallel.schedule, "1f1b"));
	CHECK(!strcmp(t.parallel.cp_algo, "allgather"));
	CHECK_EQ(t.parallel.sequence_parallel, 1);
	CHECK_EQ(t.parallel.zero, 3);
	CHECK_EQ(t.parallel.recompute, 0);
	CHECK_EQ(t.context, 131072);
	CHECK(!strcmp(t.policy.packing, "wlb"));
	CHECK(!strcmp(t.policy.sharding, "adaptive"));
	CHECK_EQ(t.policy.s_max, 196608);
	CHECK_EQ(t.policy.n_thresholds, 2);
	CHECK_EQ(t.policy.thresholds[0], 32768);
	CHECK_EQ(t.policy.thresholds[1], 65536);
	CHECK_EQ(t.policy.window, 1);
	CHECK_EQ(t.iterations, 50);
	CHECK_EQ(t.source.kind, WLB_SOURCE_DIST);
	CHECK_EQ(t.source.seed, 1);
	CHECK_EQ(t.source.dist.n, 3);
	c = t.source.dist.c;
	CHECK_EQ(c[0].kind, WLB_DIST_LOGNORMAL);
	CHECK(c[0].weight == 0.977 && c[0].a == 7.75 && c[0].b == 1.0);
	CHECK(c[0].min == 0 && c[0].max == 8192);
	CHECK_EQ(c[1].kind, WLB_DIST_PARETO);
	CHECK(c[1].weight == 0.0184 && c[1].a == 8192 && c[1].b == 1.1);
	CHECK(c[1].min == 0 && c[1].max == 65536);
	CHECK_EQ(c[2].kind, WLB_DIST_UNIFORM);
	CHECK(c[2].weight == 0.0046 && c[2].a == 65536 && c[2].b == 131072);
	CHECK(c[2].min == 0 && c[2].max == 0);
	/* the same numbers as the wlb128k preset */
	CHECK_EQ(wlb_dist_preset("wlb128k", &d, &e), 0);
	CHECK(t_same_dist(&d, &t.source.dist));
	CHECK_EQ(wlb_trace_check(&t, &e), 0);
	wlb_trace_free(&t);

	/* presets for the model and the distribution; defaults elsewhere */
	CHECK_EQ(wlb_trace_load(&u, "tests/data/trace_preset.json", &e), 0);
	CHECK_EQ(wlb_model_preset("llama2-7b", &m, &e), 0);
	CHECK(same_model(&u.model, &m));
	CHECK(!strcmp(u.model.name, "llama2-7b"));
	CHECK(t_same_dist(&u.source.dist, &d));
	CHECK_EQ(u.parallel.dp, 1);
	CHECK_EQ(u.parallel.microbatches, 4);
	CHECK_EQ(u.context, 65536);
	CHECK(!strcmp(u.policy.packing, "wlb"));
	CHECK(!strcmp(u.policy.sharding, "adaptive"));
	CHECK_EQ(u.policy.s_max, 98304);
	CHECK_EQ(u.policy.n_thresholds, 2);
	CHECK_EQ(u.policy.thresholds[0], 16384);
	CHECK_EQ(u.policy.thresholds[1], 32768);
	CHECK_EQ(u.iterations, 10);
	CHECK_EQ(u.source.seed, 1);
	wlb_trace_free(&u);

	/* explicit batches */
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_batches.json", &e), 0);
	CHECK_EQ(t.model.kv_heads, 4);  /* = heads */
	CHECK_EQ(t.model.head_dim, 16); /* hidden / heads */
	CHECK_EQ(t.model.mlp, WLB_MLP_SWIGLU);
	CHECK_EQ(t.parallel.dp, 2);
	CHECK(!strcmp(t.policy.packing, "bfd"));
	CHECK(!strcmp(t.policy.sharding, "per-seq"));
	CHECK_EQ(t.policy.n_thresholds, 0);
	CHECK_EQ(t.policy.s_max, 1024);
	CHECK_EQ(t.source.kind, WLB_SOURCE_BATCHES);
	CHECK_EQ(t.source.seed, 3);
	CHECK_EQ(t.iterations, 3);
	CHECK_EQ(t.source.n_batches, 3);
	CHECK_EQ(t.source.n_lens, 9);
	if (t.source.n_batches == 3 && t.source.n_lens == 9) {
		static const uint32_t lens[9] = {16, 8, 8, 4, 4, 4, 4, 16, 32};
		static const size_t start[4] = {0, 3, 8, 9};
		CHECK(!memcmp(t.source.lens, lens, sizeof lens));
		CHECK(!memcmp(t.source.batch_start, start, sizeof start));
	}
	wlb_trace_free(&t);

	/* a lengths file, relative to the trace */
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_lengths.json", &e), 0);
	CHECK_EQ(t.source.kind, WLB_SOURCE_LENGTHS);
	CHECK(!strcmp(t.lengths_file, "lengths_small.txt"));
	CHECK_EQ(t.iterations, 2);
	CHECK_EQ(t.source.n_lens, 4);
	if (t.source.n_lens == 4) {
		CHECK_EQ(t.source.lens[0], 100);
		CHECK_EQ(t.source.lens[1], 2048);
		CHECK_EQ(t.source.lens[2], 37);
		CHECK_EQ(t.source.lens[3], 8192);
	}
	wlb_trace_free(&t);

	/* file errors */
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_bad_tp.json", &e), WLB_EINVAL);
	CHECK(!strcmp(e.msg, "tests/data/trace_bad_tp.json:8:22: parallel.tp must divide heads (32), got 3"));
	if (strcmp(e.msg, "tests/data/trace_bad_tp.json:8:22: parallel.tp must divide heads (32), got 3"))
		fprintf(stderr, "  got: %s\n", e.msg);
	CHECK(wlb_trace_load(&t, "tests/data/trace_lengths_bad.json", &e) < 0);
	CHECK_STR_HAS(e.msg, "tests/data/trace_lengths_bad.json:7:45: data.lengths_file: "
		      "tests/data/lengths_bad.txt:3: ");
	CHECK_STR_HAS(e.msg, "\"12abc\"");
	CHECK(t.source.lens == NULL);
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_lengths_missing.json", &e), WLB_EIO);
	CHECK_STR_HAS(e.msg, "tests/data/trace_lengths_missing.json:7:45: data.lengths_file: "
		      "tests/data/no_such_lengths.txt: cannot open");
	CHECK_EQ(wlb_trace_load(&t, "tests/data/no_such_trace.json", &e), WLB_EIO);
	CHECK_STR_HAS(e.msg, "tests/data/no_such_trace.json: cannot open");
	wlb_trace_free(&t);
}

static void test_load_inline(void)
{
	struct wlb_trace t;
	struct wlb_error e = {0, ""};
	int rc;

	rc = wlb_trace_load_string(&t, BASE, "t.json", &e);
	CHECK_EQ(rc, 0);
	if (rc)
		fprintf(stderr, "  %s\n", e.msg);
	CHECK(!strcmp(t.path, ""));
	CHECK(!strcmp(t.name, "unit"));
	CHECK_EQ(t.model.kv_heads, 4);
	CHECK_EQ(t.model.head_dim, 32);
	CHECK_EQ(t.model.mlp, WLB_MLP_GELU);
	CHECK_EQ(t.cluster.nodes, 2);
	CHECK_EQ(t.parallel.dp, 2);
	CHECK(!strcmp(t.parallel.cp_algo, "ring"));
	CHECK_EQ(t.parallel.zero, 1);
	CHECK_EQ(t.parallel.recompute, WLB_RECOMPUTE_FULL);
	CHECK(!strcmp(t.policy.packing, "greedy"));
	CHECK(!strcmp(t.policy.sharding, "per-doc"));
	CHECK_EQ(t.policy.s_max, 12288);
	CHECK_EQ(t.policy.window, 2);
	CHECK_EQ(t.source.seed, 7);
	CHECK_EQ(t.iterations, 3);
	CHECK_EQ(t.source.dist.c[1].min, 2048);
	CHECK_EQ(t.source.dist.c[1].max, 0);

	/* checks after command-line overrides name the key, without a place */
	t.parallel.tp = 3;
	CHECK_EQ(wlb_trace_check(&t, &e), WLB_EINVAL);
	CHECK(!strcmp(e.msg, "parallel.tp must divide heads (8), got 3"));
	t.parallel.tp = 2;
	t.context = 4096;
	CHECK(wlb_trace_check(&t, &e) < 0);
	CHECK(!strncmp(e.msg, "policy.outlier_thresholds[1] must be below context (4096)",
		       strlen("policy.outlier_thresholds[1] must be below context (4096)")));
	t.context = 8192;
	t.iterations = 0;
	CHECK(wlb_trace_check(&t, &e) < 0);
	CHECK_STR_HAS(e.msg, "data.iterations");
	t.iterations = 3;
	CHECK_EQ(wlb_trace_check(&t, &e), 0);
	wlb_trace_free(&t);

	/* a minimal trace: everything optional defaulted */
	rc = wlb_trace_load_string(&t, "{\"format\": \"wlb-trace/1\", \"model\": \"llama3-8b\",\n"
				   " \"context\": 4096, \"data\": {\"distribution\": {\"preset\": \"web\"}}}",
				   NULL, &e);
	CHECK_EQ(rc, 0);
	CHECK(!strcmp(t.name, ""));
	CHECK_EQ(t.model.kv_heads, 8);
	CHECK_EQ(t.parallel.tp, 1);
	CHECK_EQ(t.iterations, 1);
	CHECK_EQ(t.source.seed, 1);
	CHECK_EQ(t.policy.s_max, 6144);
	CHECK_EQ(t.policy.thresholds[0], 1024);
	CHECK_EQ(t.policy.thresholds[1], 2048);
	wlb_trace_free(&t);

	/* a key written with an escape is the same key */
	rc = wlb_trace_load_string(&t, "{\"format\": \"wlb-trace/1\", \"m\\u006fdel\": \"llama3-8b\",\n"
				   " \"context\": 4096, \"data\": {\"distribution\": {\"preset\": \"web\"}}}",
				   NULL, &e);
	CHECK_EQ(rc, 0);
	wlb_trace_free(&t);
	/* unnamed text */
	CHECK(wlb_trace_load_string(&t, "[]", NULL, &e) < 0);
	CHECK(!strcmp(e.msg, "<string>:1:1: the top level must be an object, got []"));
}

static void test_errors(void)
{
	char *b2;

	/* malformed JSON: jansson's text at jansson's line:column */
	BAD("\"name\": \"unit\",", "\"name\": \"unit\",,", "\"unit\",@,", "string or '}' expected near ','");
	BAD("\"tp\": 2", "\"tp\": 2, \"tp\": 4", "\"tp\": 2, \"tp@\"", "duplicate object key");
	BAD("\"fsdp\": false", "\"fsdp\": flase", "flas@e", "invalid token near 'flase'");
	expect_msg(__LINE__, "", "t.json:1:1: '[' or '{' expected near end of file");
	expect_msg(__LINE__, "{\"format\": \"wlb-trace/1\",\n \"name\": \"x\"",
		   "t.json:2:12: '}' expected near end of file");
	expect_msg(__LINE__, "[1, 2]", "t.json:1:1: the top level must be an object, got [1,2]");

	/* unknown keys, at every level: the key's place */
	BAD("\"parallel\": {", "\"paralel\": {", "\"paralel\"",
	    "unknown key \"paralel\" in the top level (expected one of: format, name, model, gpu, "
	    "cluster, parallel, context, policy, data)");
	BAD("\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"norm\": \"rms\"}", "\"norm\"",
	    "unknown key \"norm\" in model (expected one of: name, layers,");
	BAD("\"nodes\": 2}", "\"nodes\": 2, \"gpus\": 16}", "\"gpus\"",
	    "unknown key \"gpus\" in cluster (expected one of: gpus_per_node, nodes)");
	BAD("\"recompute\": true}", "\"recompute\": true, \"zero_stage\": 1}", "\"zero_stage\"",
	    "unknown key \"zero_stage\" in parallel (expected one of: tp, cp, pp, dp, vpp, "
	    "microbatches, schedule, cp_algo, sequence_parallel, zero, fsdp, recompute, "
	    "tp_comm_overlap, overlap_grad_reduce, overlap_param_gather, micro_batch_size, pp_layers)");
	BAD("\"window\": 2}", "\"window\": 2, \"queues\": 2}", "\"queues\"",
	    "unknown key \"queues\" in policy");
	BAD("\"seed\": 7,", "\"seed\": 7, \"shuffle\": true,", "\"shuffle\"",
	    "unknown key \"shuffle\" in data (expected one of: iterations, seed, distribution, "
	    "batches, lengths_file)");
	BAD("{\"mixture\": [", "{\"scale\": 2, \"mixture\": [", "\"scale\"",
	    "unknown key \"scale\" in data.distribution");
	BAD("\"min\": 2048}", "\"min\": 2048, \"mean\": 3}", "\"mean\"",
	    "unknown key \"mean\" in data.distribution.mixture[1]");
	BAD("\"sigma\": 1.0}", "\"sigma\": 1.0, \"mode\": 3}", "\"mode\"",
	    "unknown key \"mode\" in data.distribution.mixture[0].lognormal (expected one of: mu, sigma)");
	/* characters, not bytes, make the column */
	expect_msg(__LINE__, "{\n  \"format\": \"wlb-trace/1\",\n  \"name\": \"h\xc3\xa9llo\", \"nme\": 1}",
		   "t.json:3:20: unknown key \"nme\" in the top level (expected one of: format, name, "
		   "model, gpu, cluster, parallel, context, policy, data)");

	/* wrong types */
	BAD("\"tp\": 2", "\"tp\": \"8\"", "\"8\"", "parallel.tp must be a positive integer, got \"8\"");
	BAD("\"cp\": 2", "\"cp\": 2.0", "2.0", "parallel.cp must be a positive integer, got 2.0");
	BAD("\"context\": 8192", "\"context\": \"8192\"", "\"8192\"",
	    "context must be a positive integer, got \"8192\"");
	BAD("\"sequence_parallel\": true", "\"sequence_parallel\": 1", ": @1",
	    "parallel.sequence_parallel must be true or false, got 1");
	BAD("\"layers\": 4", "\"layers\": null", "null", "model.layers must be a positive integer, got null");
	BAD("\"name\": \"unit\"", "\"name\": 5", "5", "name must be a string, got 5");
	BAD("\"mlp\": \"gelu\"", "\"mlp\": \"relu\"", "\"relu\"",
	    "model.mlp must be \"swiglu\" or \"gelu\", got \"relu\"");
	BAD("[2048, 4096]", "\"2048\"", "\"2048\"",
	    "policy.outlier_thresholds must be an array of at most 8 increasing token counts, got \"2048\"");
	BAD("[2048, 4096]", "[2048, 4096.5]", "4096.5",
	    "policy.outlier_thresholds[1] must be a positive integer, got 4096.5");
	BAD("{\"weight\": 0.1,", "{\"weight\": \"0.1\",", "\"0.1\"",
	    "data.distribution.mixture[1].weight must be a number, got \"0.1\"");
	BAD("\"mu\": 6.5", "\"mu\": true", "true", "data.distribution.mixture[0].lognormal.mu must be a number, got true");
	BAD("{\"gpus_per_node\": 8, \"nodes\": 2}", "[8, 2]", "[8, 2]", "cluster must be an object, got [8,2]");
	BAD(MODEL, "70", "70", "model must be a preset name or an object, got 70");
	BAD("\"wlb-trace/1\"", "\"wlb-trace/2\"", "\"wlb-trace/2\"",
	    "format must be \"wlb-trace/1\", got \"wlb-trace/2\"");
	BAD("\"gpu\": \"h100-sxm\"", "\"gpu\": \"\"", "\"\"",
	    "gpu must be a non-empty string of at most 31 characters, got \"\"");
	BAD("\"schedule\": \"1f1b\"", "\"schedule\": \"zero-bubble-pipeline\"", "\"zero",
	    "parallel.schedule must be a non-empty string of at most 15 characters");

	/* zero, negative and too large sizes */
	BAD("\"tp\": 2", "\"tp\": 0", "0", "parallel.tp must be a positive integer, got 0");
	BAD("\"pp\": 2", "\"pp\": -1", "-1", "parallel.pp must be a positive integer, got -1");
	BAD("\"context\": 8192", "\"context\": 0", "0", "context must be a positive integer, got 0");
	BAD("\"context\": 8192", "\"context\": 2147483649", "2147483649",
	    "context must be a positive integer at most 2147483648, got 2147483649");
	BAD("\"layers\": 4", "\"layers\": 0", "0", "model.layers must be a positive integer, got 0");
	BAD("\"gpus_per_node\": 8", "\"gpus_per_node\": 0", "0",
	    "cluster.gpus_per_node must be a positive integer, got 0");
	BAD("\"nodes\": 2", "\"nodes\": 0", "0", "cluster.nodes must be a positive integer, got 0");
	BAD("\"iterations\": 3", "\"iterations\": 0", "0", "data.iterations must be a positive integer, got 0");
	BAD("\"window\": 2", "\"window\": 0", "0", "policy.window must be a positive integer, got 0");
	BAD("\"s_max\": 12288", "\"s_max\": -5", "-5", "policy.s_max must be a positive integer, got -5");
	BAD("\"seed\": 7", "\"seed\": -7", "-7", "data.seed must be a non-negative integer, got -7");
	BAD("[2048, 4096]", "[0, 4096]", "0", "policy.outlier_thresholds[0] must be a positive integer, got 0");
	BAD("\"microbatches\": 4", "\"microbatches\": 99999999999", "9",
	    "parallel.microbatches must be a positive integer at most 2147483647, got 99999999999");

	/* cross-field checks, placed at the key they name */
	BAD("\"tp\": 2", "\"tp\": 3", "3", "parallel.tp must divide heads (8), got 3");
	BAD("\"kv_heads\": 4", "\"kv_heads\": 3", "3", "model.kv_heads must divide heads (8), got 3");
	BAD("\"pp\": 2", "\"pp\": 8", "8", "parallel.pp x parallel.vpp (8) must be at most model.layers (4)");
	BAD("\"schedule\": \"1f1b\"", "\"schedule\": \"gpipe\"", "\"gpipe\"",
	    "parallel.schedule must be \"1f1b\" or \"interleaved\", got \"gpipe\"");
	BAD("\"gpus_per_node\": 8", "\"gpus_per_node\": 3", "\"tp\": @2",
	    "parallel.tp must divide cluster.gpus_per_node (3) or be a multiple of it, got 2");
	BAD("\"dp\": 2", "\"dp\": 4", "\"nodes\": @2",
	    "cluster.nodes (2) x cluster.gpus_per_node (8) must equal tp x cp x pp x dp = 32 GPUs");
	/* checks against a preset model (wlb-550m: 12 heads) */
	b2 = replace(BASE, MODEL, "\"wlb-550m\"", NULL);
	if (b2) {
		bad_in(__LINE__, b2, "\"tp\": 2", "\"tp\": 8", "8", "parallel.tp must divide heads (12), got 8");
		free(b2);
	}
	/* head_dim defaults to hidden / heads, which must then divide */
	b2 = replace(BASE, "\"head_dim\": 32, ", "", NULL);
	if (b2) {
		bad_in(__LINE__, b2, "\"hidden\": 256", "\"hidden\": 250", "^\"model\": @{",
		       "model.head_dim is missing and model.heads (8) does not divide model.hidden (250)");
		free(b2);
	}

	/* distributions */
	BAD("{\"weight\": 0.1,", "{\"weight\": 0,", "0", "data.distribution.mixture[1].weight must be positive, got 0");
	BAD("{\"weight\": 0.9,", "{\"weight\": -0.9,", "-0.9", "data.distribution.mixture[0].weight must be positive");
	BAD("\"sigma\": 1.0", "\"sigma\": 0", "0", "data.distribution.mixture[0].lognormal.sigma must be positive");
	BAD(MODEL, "\"llama9\"", "\"llama9\"", "model: unknown model preset \"llama9\" (expected one of: llama2-7b");
	BAD(DIST, "{\"preset\": \"nope\"}", "\"nope\"",
	    "data.distribution.preset: unknown distribution preset \"nope\"");
	BAD(DIST, "{\"preset\": 3}", "3", "data.distribution.preset must be a distribution preset name, got 3");
	BAD(DIST, "{\"mixture\": []}", "[]", "data.distribution.mixture must be an array of 1 to 16 components, got []");
	BAD(DIST, "{}", "{}", "data.distribution needs one of: preset, mixture");
	BAD("{\"mixture\": [", "{\"preset\": \"web\", \"mixture\": [", "\"mixture\"",
	    "data.distribution has both \"preset\" and \"mixture\"");
	BAD("\"max\": 8192},", "\"max\": 8192, \"point\": 5},", "\"point\"",
	    "data.distribution.mixture[0] has both \"lognormal\" and \"point\" (expected exactly one of: "
	    "lognormal, pareto, uniform, point)");
	BAD("\"pareto\": {\"x0\": 2048, \"alpha\": 1.5}, ", "", "@{\"weight\": 0.1",
	    "data.distribution.mixture[1] needs one of: lognormal, pareto, uniform, point");
	BAD(", \"sigma\": 1.0", "", "\"lognormal\": @{",
	    "data.distribution.mixture[0].lognormal.sigma is missing (expected a number)");
	BAD("{\"weight\": 0.9, ", "{", "^\"mixture\": [\n             @{",
	    "data.distribution.mixture[0].weight is missing (expected a number)");
	BAD("\"pareto\": {\"x0\": 2048, \"alpha\": 1.5}", "\"uniform\": {\"lo\": 4096, \"hi\": 1024}",
	    "\"uniform\": @{", "data.distribution.mixture[1].uniform needs 0 <= lo < hi");

	/* policy */
	BAD("\"packing\": \"greedy\"", "\"packing\": \"lpt\"", "\"lpt\"", "policy.packing must be one of: ");
	BAD("\"packing\": \"greedy\"", "\"packing\": \"lpt\"", "\"lpt\"", "got \"lpt\"");
	BAD("\"sharding\": \"per-doc\"", "\"sharding\": \"ring\"", "\"ring\"",
	    "policy.sharding must be one of: per-seq, per-doc, adaptive, hybrid, got \"ring\"");
	BAD("[2048, 4096]", "[4096, 2048]", "2048",
	    "policy.outlier_thresholds[1] must be greater than the one before it (4096), got 2048");
	BAD("[2048, 4096]", "[2048, 2048]", "2048, @2048",
	    "policy.outlier_thresholds[1] must be greater than the one before it (2048), got 2048");
	BAD("[2048, 4096]", "[2048, 8192]", "8192",
	    "policy.outlier_thresholds[1] must be below context (8192): longer documents are cut "
	    "to the context, got 8192");
	BAD("[2048, 4096]", "[1, 2, 3, 4, 5, 6, 7, 8, 9]", "[1",
	    "policy.outlier_thresholds must be an array of at most 8 increasing token counts");

	/* data sources */
	BAD("\"seed\": 7,", "\"seed\": 7, \"batches\": [[1]],", "\"batches\"",
	    "data has both \"distribution\" and \"batches\" (expected exactly one of: distribution, "
	    "batches, lengths_file)");
	BAD(",\n           \"distribution\": " DIST, "", "^\"data\": @{",
	    "data needs one of: distribution, batches, lengths_file");
	BAD("\"distribution\": " DIST, "\"batches\": [[1, 2], [3]]", "^\"iterations\": @3",
	    "data.iterations must be the number of batches (2), got 3");
	BAD("\"distribution\": " DIST, "\"batches\": [[1, 2], [3, 0]]", "[3, @0]",
	    "data.batches[1][1] must be a positive integer, got 0");
	BAD("\"distribution\": " DIST, "\"batches\": [[1, 2], [3, 4294967296]]", "4294967296",
	    "data.batches[1][1] must be a positive integer at most 4294967295, got 4294967296");
	BAD("\"distribution\": " DIST, "\"batches\": [[1], []]", "[1], @[]",
	    "data.batches[1] must be a non-empty array of document lengths, got []");
	BAD("\"distribution\": " DIST, "\"batches\": 5", "5",
	    "data.batches must be a non-empty array of batches, got 5");
	BAD("\"distribution\": " DIST, "\"lengths_file\": 5", "5",
	    "data.lengths_file must be a string, got 5");
	BAD("\"distribution\": " DIST, "\"lengths_file\": \"tests/data/lengths_bad.txt\"", "\"tests",
	    "data.lengths_file: tests/data/lengths_bad.txt:3: expected a positive document length");
	BAD("\"distribution\": " DIST, "\"lengths_file\": \"tests/data/nope.txt\"", "\"tests",
	    "data.lengths_file: tests/data/nope.txt: cannot open lengths file");

	/* missing keys: the place of the object that lacks them */
	BAD("\"context\": 8192,\n  ", "", "^@{", "context is missing (expected a positive integer)");
	BAD("\"format\": \"wlb-trace/1\",\n  ", "", "^@{", "format is missing (expected \"wlb-trace/1\")");
	BAD("\"model\": " MODEL ",\n  ", "", "^@{", "model is missing (expected a preset name or an object)");
	BAD("\"heads\": 8,", "", "^\"model\": @{", "model.heads is missing (expected a positive integer)");

	/* the scanner steps over strings holding quotes, braces and escapes */
	b2 = replace(BASE, "\"name\": \"unit\"", "\"name\": \"u{n[i\\\"t}]\\\\\"", NULL);
	if (b2) {
		bad_in(__LINE__, b2, "\"tp\": 2", "\"tp\": 3", "3", "parallel.tp must divide heads (8), got 3");
		bad_in(__LINE__, b2, "\"parallel\": {", "\"p\\u0061rallel\": {\"x\": [{}, \"}\"], ",
		       "\"x\"", "unknown key \"x\" in parallel");
		free(b2);
	}
}


/* BASE with from -> to, loaded; 0 when it loads. */
static int load_with(struct wlb_trace *t, const char *from, const char *to)
{
	struct wlb_error e = {0, ""};
	char *text = replace(BASE, from, to, NULL);
	int rc = text ? wlb_trace_load_string(t, text, "t.json", &e) : -1;

	if (rc)
		fprintf(stderr, "  load_with(%s -> %s): %s\n", from, to, e.msg);
	free(text);
	return rc;
}

/* The keys of DESIGN.md §5 "Keys added for real runs". */
static void test_run_keys(void)
{
	struct wlb_trace t;
	char big[1024];
	size_t n;

	/* defaults */
	CHECK_EQ(load_with(&t, "\"fsdp\": false, ", ""), 0);
	CHECK_EQ(t.parallel.zero, 3);
	CHECK_EQ(t.parallel.overlap_grad_reduce, 1);
	CHECK_EQ(t.parallel.overlap_param_gather, 1);
	CHECK_EQ(t.parallel.micro_batch_size, 1);
	CHECK_EQ(t.parallel.n_pp_layers, 0);
	CHECK_EQ(t.model.tied_embeddings, 0);
	wlb_trace_free(&t);

	/* recompute: the three modes, and the booleans */
	CHECK_EQ(load_with(&t, "\"recompute\": true", "\"recompute\": \"selective\""), 0);
	CHECK_EQ(t.parallel.recompute, WLB_RECOMPUTE_SELECTIVE);
	CHECK_EQ(load_with(&t, "\"recompute\": true", "\"recompute\": \"full\""), 0);
	CHECK_EQ(t.parallel.recompute, WLB_RECOMPUTE_FULL);
	CHECK_EQ(load_with(&t, "\"recompute\": true", "\"recompute\": \"none\""), 0);
	CHECK_EQ(t.parallel.recompute, WLB_RECOMPUTE_NONE);
	CHECK_EQ(load_with(&t, "\"recompute\": true", "\"recompute\": false"), 0);
	CHECK_EQ(t.parallel.recompute, WLB_RECOMPUTE_NONE);
	CHECK_EQ(load_with(&t, "\"recompute\": true", "\"recompute\": true"), 0);
	CHECK_EQ(t.parallel.recompute, WLB_RECOMPUTE_FULL);

	/* zero, and fsdp as it was: true 3, false 1; both when they agree */
	CHECK_EQ(load_with(&t, "\"fsdp\": false", "\"zero\": 2"), 0);
	CHECK_EQ(t.parallel.zero, 2);
	CHECK_EQ(load_with(&t, "\"fsdp\": false", "\"zero\": 0"), 0);
	CHECK_EQ(t.parallel.zero, 0);
	CHECK_EQ(load_with(&t, "\"fsdp\": false", "\"fsdp\": true"), 0);
	CHECK_EQ(t.parallel.zero, 3);
	CHECK_EQ(load_with(&t, "\"fsdp\": false", "\"fsdp\": false"), 0);
	CHECK_EQ(t.parallel.zero, 1);
	CHECK_EQ(load_with(&t, "\"fsdp\": false", "\"fsdp\": false, \"zero\": 0"), 0);
	CHECK_EQ(t.parallel.zero, 0);
	CHECK_EQ(load_with(&t, "\"fsdp\": false", "\"zero\": 3, \"fsdp\": true"), 0);
	CHECK_EQ(t.parallel.zero, 3);

	/* the overlap flags, the micro-batch size, tied embeddings */
	CHECK_EQ(load_with(&t, "\"recompute\": true}", "\"recompute\": true, \"overlap_grad_reduce\": "
			   "false, \"overlap_param_gather\": false, \"micro_batch_size\": 4}"), 0);
	CHECK_EQ(t.parallel.overlap_grad_reduce, 0);
	CHECK_EQ(t.parallel.overlap_param_gather, 0);
	CHECK_EQ(t.parallel.micro_batch_size, 4);
	CHECK_EQ(load_with(&t, "\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"tied_embeddings\": true}"), 0);
	CHECK_EQ(t.model.tied_embeddings, 1);
	/* the attention kernel and dropout (flash and 0 by default) */
	CHECK_EQ(t.model.attention, WLB_ATTN_FLASH);
	CHECK_NEAR(t.model.dropout, 0.0, 0);
	CHECK_EQ(load_with(&t, "\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"dropout\": 0.1}"), 0);
	CHECK_NEAR(t.model.dropout, 0.1, 0);
	{ /* unfused attention needs cp 1: the base's CP 2 becomes DP */
		struct wlb_error e = {0, ""};
		char *b1 = replace(BASE, "\"cp\": 2, \"pp\": 2, \"dp\": 2", "\"cp\": 1, \"pp\": 2, \"dp\": 4", NULL);
		char *b2 = b1 ? replace(b1, "\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"attention\": \"unfused\"}",
					NULL) : NULL;
		CHECK(b2 != NULL);
		if (b2) {
			CHECK_EQ(wlb_trace_load_string(&t, b2, "t.json", &e), 0);
			CHECK_EQ(t.model.attention, WLB_ATTN_UNFUSED);
		}
		free(b1);
		free(b2);
	}

	/* pp_layers: 4 layers over pp 2 as 1 + 3 */
	CHECK_EQ(load_with(&t, "\"recompute\": true}", "\"recompute\": true, \"pp_layers\": [1, 3]}"), 0);
	CHECK_EQ(t.parallel.n_pp_layers, 2);
	CHECK_EQ(t.parallel.pp_layers[0], 1);
	CHECK_EQ(t.parallel.pp_layers[1], 3);
	CHECK_EQ(wlb_stage_layers(&t.parallel, t.model.layers, 0), 1);
	CHECK_EQ(wlb_stage_layers(&t.parallel, t.model.layers, 1), 3);
	/* after the load, the checks name the key without a place */
	t.parallel.pp_layers[1] = 2;
	CHECK_EQ(wlb_trace_check(&t, NULL), WLB_EINVAL);
	{
		struct wlb_error e = {0, ""};
		CHECK_EQ(wlb_trace_check(&t, &e), WLB_EINVAL);
		CHECK(!strcmp(e.msg, "parallel.pp_layers must sum to model.layers (4), got 3"));
	}
	wlb_trace_free(&t);

	/* rejections, at the offending value */
#define RK "\"recompute\": true}"
	BAD("\"recompute\": true", "\"recompute\": \"partial\"", "\"partial\"",
	    "parallel.recompute must be \"none\", \"selective\" or \"full\" (or false / true for "
	    "\"none\" / \"full\"), got \"partial\"");
	BAD("\"recompute\": true", "\"recompute\": 1", ": @1",
	    "parallel.recompute must be \"none\", \"selective\" or \"full\" (or false / true for "
	    "\"none\" / \"full\"), got 1");
	BAD("\"fsdp\": false", "\"zero\": 4", "4", "parallel.zero must be 0, 1, 2 or 3, got 4");
	BAD("\"fsdp\": false", "\"zero\": -1", "-1", "parallel.zero must be 0, 1, 2 or 3, got -1");
	BAD("\"fsdp\": false", "\"zero\": \"3\"", "\"3\"", "parallel.zero must be 0, 1, 2 or 3, got \"3\"");
	BAD("\"fsdp\": false", "\"fsdp\": true, \"zero\": 1", "\"zero\": @1",
	    "parallel.zero must be 3 with parallel.fsdp true (fsdp: true is zero 3), got 1");
	BAD("\"fsdp\": false", "\"fsdp\": false, \"zero\": 3", "\"zero\": @3",
	    "parallel.zero must be 0, 1 or 2 with parallel.fsdp false (fsdp: true is zero 3), got 3");
	BAD("\"fsdp\": false", "\"fsdp\": \"yes\"", "\"yes\"", "parallel.fsdp must be true or false, got \"yes\"");
	BAD(RK, "\"recompute\": true, \"overlap_grad_reduce\": 1}", ": @1}",
	    "parallel.overlap_grad_reduce must be true or false, got 1");
	BAD(RK, "\"recompute\": true, \"overlap_param_gather\": null}", "null",
	    "parallel.overlap_param_gather must be true or false, got null");
	BAD(RK, "\"recompute\": true, \"micro_batch_size\": 0}", ": @0}",
	    "parallel.micro_batch_size must be a positive integer, got 0");
	BAD("\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"tied_embeddings\": \"yes\"}", "\"yes\"",
	    "model.tied_embeddings must be true or false, got \"yes\"");
	BAD("\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"attention\": \"fast\"}", "\"fast\"",
	    "model.attention must be \"flash\" or \"unfused\", got \"fast\"");
	BAD("\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"dropout\": 1}", ": @1}",
	    "model.dropout must be a probability in [0, 1), got 1");
	BAD("\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"dropout\": \"0.1\"}", "\"0.1\"",
	    "model.dropout must be a probability in [0, 1), got \"0.1\"");
	/* unfused attention has no context parallelism (the base has cp 2) */
	BAD("\"mlp\": \"gelu\"}", "\"mlp\": \"gelu\", \"attention\": \"unfused\"}", "\"cp\": @2",
	    "parallel.cp must be 1 with model.attention \"unfused\" (it has no context parallelism), got 2");
	BAD(RK, "\"recompute\": true, \"pp_layers\": [1, 2, 1]}", "[1, 2, 1]",
	    "parallel.pp_layers must have parallel.pp (2) entries, got 3");
	BAD(RK, "\"recompute\": true, \"pp_layers\": [1, 2]}", "[1, 2]",
	    "parallel.pp_layers must sum to model.layers (4), got 3");
	BAD(RK, "\"recompute\": true, \"pp_layers\": [4, 0]}", "[4, @0]",
	    "parallel.pp_layers[1] must be a positive integer, got 0");
	BAD(RK, "\"recompute\": true, \"pp_layers\": [2, 2.0]}", "2.0",
	    "parallel.pp_layers[1] must be a positive integer, got 2.0");
	BAD(RK, "\"recompute\": true, \"pp_layers\": []}", "[]",
	    "parallel.pp_layers must be an array of 1 to 128 layer counts, one a pipeline stage, got []");
	BAD(RK, "\"recompute\": true, \"pp_layers\": 4}", "4}",
	    "parallel.pp_layers must be an array of 1 to 128 layer counts, one a pipeline stage, got 4");
	/* more entries than WLB_MAX_PP: refused by the loader */
	n = (size_t)snprintf(big, sizeof big, "\"recompute\": true, \"pp_layers\": [1");
	for (int i = 1; i < 129; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, ", 1");
	snprintf(big + n, sizeof big - n, "]}");
	BAD(RK, big, "[1, 1", "parallel.pp_layers must be an array of 1 to 128 layer counts");
	/* with vpp 2 each stage needs 2 layers */
	{
		char *b2 = replace(BASE, "\"vpp\": 1", "\"vpp\": 2", NULL);
		if (b2) {
			bad_in(__LINE__, b2, RK, "\"recompute\": true, \"pp_layers\": [1, 3]}", "[@1, 3]",
			       "parallel.pp_layers[0] must be >= parallel.vpp (2), got 1");
			free(b2);
		}
	}
#undef RK
}

/* wlb_lengths_read sizes its buffer from the file: a 1-byte file without a
 * newline, and one past the 1 MiB a pipe starts with (150,001 lines, the
 * last without newline), each read whole. */
static void test_lengths_sizes(void)
{
	char path[64];
	uint32_t *lens = NULL;
	size_t n = 0;
	struct wlb_error e;
	FILE *f;

	t_tmp_file(path);
	t_write_file(path, "7");
	CHECK_EQ(wlb_lengths_read(path, &lens, &n, &e), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(n == 1 ? lens[0] : 0, 7);
	free(lens);
	lens = NULL;
	if ((f = fopen(path, "w"))) {
		for (int i = 0; i < 150000; i++)
			fputs("1234567\n", f);
		fputs("9", f);
		fclose(f);
	}
	CHECK_EQ(wlb_lengths_read(path, &lens, &n, &e), 0);
	CHECK_EQ(n, 150001);
	if (n == 150001) {
		uint64_t sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += lens[i];
		CHECK_EQ(sum, 150000ull * 1234567 + 9);
		CHECK_EQ(lens[n - 1], 9);
	}
	free(lens);
	t_tmp_remove(path);
}

void test_trace(void)
{
	test_defaults();
	test_load_files();
	test_lengths_sizes();
	test_load_inline();
	test_errors();
	test_run_keys();
}
