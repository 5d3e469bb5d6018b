/* test_config.c — config.json (wlb-config/1): save / load round trips,
 * applying a config over a trace, and the loader's messages (FILE:LINE:COL,
 * key, expected and got). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"
#include "trace.h"

void test_config(void);

static const char CFG[] =
	"{\n"
	"  \"format\": \"wlb-config/1\",\n"
	"  \"name\": \"cfg\",\n"
	"  \"model\": {\"layers\": 4, \"hidden\": 256, \"ffn_hidden\": 512, \"heads\": 8,\n"
	"            \"kv_heads\": 4, \"head_dim\": 32, \"vocab\": 1000, \"mlp\": \"gelu\"},\n"
	"  \"gpu\": \"h200\",\n"
	"  \"cluster\": {\"gpus_per_node\": 4, \"nodes\": 4},\n"
	"  \"parallel\": {\"tp\": 2, \"cp\": 2, \"pp\": 2, \"dp\": 2, \"vpp\": 2, \"microbatches\": 4,\n"
	"               \"schedule\": \"interleaved\", \"cp_algo\": \"ring\",\n"
	"               \"sequence_parallel\": false, \"fsdp\": false, \"recompute\": true,\n"
	"               \"tp_comm_overlap\": false},\n"
	"  \"context\": 8192,\n"
	"  \"policy\": {\"packing\": \"greedy\", \"sharding\": \"per-doc\", \"s_max\": 12288,\n"
	"             \"outlier_thresholds\": [2048, 4096], \"window\": 2},\n"
	"  \"predicted\": {\"iteration_ms_mean\": 12.5, \"notes\": [1, {\"x\": null}]}\n"
	"}\n";

/* CFG with from replaced by to (malloc'd; NULL when CFG lacks from). */
static char *variant(const char *from, const char *to)
{
	const char *p = strstr(CFG, from);
	size_t a, nf = strlen(from), nt = strlen(to), ns = strlen(CFG);
	char *out;

	if (!p || !(out = malloc(ns - nf + nt + 1)))
		return NULL;
	a = (size_t)(p - CFG);
	memcpy(out, CFG, a);
	memcpy(out + a, to, nt);
	memcpy(out + a + nt, p + nf, ns - a - nf + 1);
	return out;
}

/* Loading text as a config fails with a message that starts with place and
 * holds what. */
static void bad_text(int line, const char *text, const char *place, const char *what)
{
	struct wlb_trace t;
	struct wlb_error e = {0, ""};
	int rc = text ? wlb_config_load_string(&t, text, "c.json", &e) : 0;

	if (rc < 0 && !strncmp(e.msg, place, strlen(place)) && strstr(e.msg, what)) {
		t_pass++;
	} else {
		t_fail++;
		fprintf(stderr, "test_config.c:%d: [config] rc %d, want \"%s ...%s...\", got \"%s\"\n",
			line, rc, place, what, e.msg);
	}
	if (text)
		wlb_trace_free(&t);
}

static void bad_variant(int line, const char *from, const char *to, const char *place,
			const char *what)
{
	char *text = variant(from, to);

	if (!text) {
		t_fail++;
		fprintf(stderr, "test_config.c:%d: \"%s\" not in the config\n", line, from);
		return;
	}
	bad_text(line, text, place, what);
	free(text);
}

#define BAD(from, to, place, what) bad_variant(__LINE__, from, to, place, what)

static void test_load(void)
{
	struct wlb_trace c;
	struct wlb_error e = {0, ""};

	CHECK_EQ(wlb_config_load_string(&c, CFG, "c.json", &e), 0);
	CHECK(!strcmp(c.name, "cfg"));
	CHECK(!strcmp(c.gpu, "h200"));
	CHECK_EQ(c.cluster.nodes, 4);
	CHECK_EQ(c.parallel.vpp, 2);
	CHECK(!strcmp(c.parallel.cp_algo, "ring"));
	CHECK_EQ(c.parallel.tp_comm_overlap, 0);
	CHECK_EQ(c.parallel.recompute, WLB_RECOMPUTE_FULL);
	CHECK_EQ(c.context, 8192);
	CHECK(!strcmp(c.policy.packing, "greedy"));
	CHECK_EQ(c.policy.n_thresholds, 2);
	CHECK_EQ(c.policy.thresholds[1], 4096);
	CHECK_EQ(c.policy.window, 2);
	CHECK_EQ(wlb_config_check(&c, &e), 0);
	CHECK(c.source.lens == NULL);
	wlb_trace_free(&c);

	/* a minimal config: defaults filled, the policy resolved */
	CHECK_EQ(wlb_config_load_string(&c, "{\"format\": \"wlb-config/1\", \"name\": \"m\", "
					"\"model\": \"llama2-7b\", \"context\": 4096}", "m.json", &e), 0);
	CHECK(!strcmp(c.policy.packing, "wlb"));
	CHECK(!strcmp(c.policy.sharding, "adaptive"));
	CHECK_EQ(c.policy.s_max, 6144);
	CHECK_EQ(c.policy.n_thresholds, 2);
	CHECK_EQ(c.parallel.tp_comm_overlap, 1);
	wlb_trace_free(&c);

	/* the keys for real runs, in a config as in a trace */
	CHECK_EQ(wlb_config_load_string(&c, "{\"format\": \"wlb-config/1\", \"name\": \"m\", "
					"\"model\": {\"layers\": 6, \"hidden\": 256, \"ffn_hidden\": 512, "
					"\"heads\": 8, \"vocab\": 1000, \"tied_embeddings\": true}, "
					"\"parallel\": {\"pp\": 3, \"pp_layers\": [1, 3, 2], \"zero\": 2, "
					"\"recompute\": \"selective\", \"overlap_param_gather\": false, "
					"\"micro_batch_size\": 2}, \"context\": 4096}", "m.json", &e), 0);
	CHECK_EQ(c.model.tied_embeddings, 1);
	CHECK_EQ(c.parallel.n_pp_layers, 3);
	CHECK_EQ(c.parallel.pp_layers[0], 1);
	CHECK_EQ(c.parallel.pp_layers[1], 3);
	CHECK_EQ(c.parallel.pp_layers[2], 2);
	CHECK_EQ(c.parallel.zero, 2);
	CHECK_EQ(c.parallel.recompute, WLB_RECOMPUTE_SELECTIVE);
	CHECK_EQ(c.parallel.overlap_grad_reduce, 1);
	CHECK_EQ(c.parallel.overlap_param_gather, 0);
	CHECK_EQ(c.parallel.micro_batch_size, 2);
	wlb_trace_free(&c);

	/* a missing file names it */
	CHECK(wlb_config_load(&c, "tests/data/no-such-config.json", &e) < 0);
	CHECK_STR_HAS(e.msg, "no-such-config.json: cannot open");
}

static void test_errors(void)
{
	/* no data: the key's place is given */
	BAD("  \"context\": 8192,\n", "  \"context\": 8192,\n  \"data\": {\"iterations\": 3},\n",
	    "c.json:13:3: data:", "a wlb-config/1 file holds no data");
	/* a trace is not a config */
	BAD("\"wlb-config/1\"", "\"wlb-trace/1\"", "c.json:2:13: ",
	    "format must be \"wlb-config/1\", got \"wlb-trace/1\"");
	BAD("  \"format\": \"wlb-config/1\",\n", "", "c.json:1:1: ",
	    "format is missing (expected \"wlb-config/1\")");
	BAD("\"gpu\": \"h200\",", "\"gpu\": \"h200\", \"colour\": 1,", "c.json:6:18: ",
	    "unknown key \"colour\" in the top level");
	BAD("\"predicted\": {", "\"predicted\": 3, \"p\": {", "c.json:15:19: ",
	    "unknown key \"p\"");
	BAD("\"predicted\": {\"iteration_ms_mean\": 12.5, \"notes\": [1, {\"x\": null}]}",
	    "\"predicted\": [1]", "c.json:15:16: ", "predicted must be an object, got [1]");
	BAD("\"tp\": 2,", "\"tp\": \"2\",", "c.json:8:22: ", "parallel.tp must be a positive integer");
	BAD("\"tp\": 2,", "\"tp\": 3,", "c.json:8:22: ", "parallel.tp must divide heads (8), got 3");
	BAD("\"tp_comm_overlap\": false", "\"tp_comm_overlap\": 0", "c.json:11:35: ",
	    "parallel.tp_comm_overlap must be true or false, got 0");
	BAD("\"packing\": \"greedy\"", "\"packing\": \"fast\"", "c.json:13:25: ",
	    "policy.packing must be one of");
	BAD("[2048, 4096]", "[4096, 2048]", "c.json:14:43: ",
	    "policy.outlier_thresholds[1] must be greater than the one before it");
	BAD("  \"context\": 8192,\n", "", "c.json:1:1: ", "context is missing");
	BAD("\"nodes\": 4", "\"nodes\": 3", "c.json:7:44: ", "cluster.nodes (3) x");
	BAD("\"recompute\": true", "\"recompute\": \"some\"", "c.json:10:72: ",
	    "parallel.recompute must be \"none\", \"selective\" or \"full\" (or false / true for "
	    "\"none\" / \"full\"), got \"some\"");
	BAD("\"tp_comm_overlap\": false}", "\"tp_comm_overlap\": false, \"pp_layers\": [3, 3]}",
	    "c.json:11:55: ", "parallel.pp_layers must sum to model.layers (4), got 6");
	BAD("\"fsdp\": false", "\"fsdp\": false, \"zero\": 3", "c.json:10:67: ",
	    "parallel.zero must be 0, 1 or 2 with parallel.fsdp false (fsdp: true is zero 3), got 3");
	/* malformed JSON: jansson's place */
	BAD("\"gpu\": \"h200\",", "\"gpu\": \"h200\",,", "c.json:6:17: ", "");
	bad_text(__LINE__, "", "c.json", "");
	bad_text(__LINE__, "[1]", "c.json:1:1: ", "the top level must be an object");

	/* a trace refuses "predicted" */
	{
		struct wlb_trace t;
		struct wlb_error e = {0, ""};

		CHECK(wlb_trace_load_string(&t, "{\"format\": \"wlb-trace/1\", \"name\": \"x\", "
					    "\"model\": \"llama2-7b\", \"context\": 4096, "
					    "\"predicted\": {}, \"data\": {\"iterations\": 1, "
					    "\"distribution\": {\"preset\": \"web\"}}}", "t.json", &e) < 0);
		CHECK_STR_HAS(e.msg, "unknown key \"predicted\"");
		wlb_trace_free(&t);
	}
}

static void test_round_trip(void)
{
	char dir[] = "/tmp/wlb_config_XXXXXX", path[256], path2[256];
	struct wlb_trace t, c, d;
	struct wlb_error e = {0, ""};
	json_t *pred;
	char *text, *text2;

	if (!mkdtemp(dir)) {
		t_fail++;
		fprintf(stderr, "test_config: mkdtemp failed\n");
		return;
	}
	snprintf(path, sizeof path, "%s/c.json", dir);
	snprintf(path2, sizeof path2, "%s/c2.json", dir);

	/* a trace's configuration, with predicted figures */
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_full.json", &e), 0);
	t.parallel.recompute = WLB_RECOMPUTE_FULL;
	t.parallel.tp_comm_overlap = 0;
	t.parallel.zero = 1;
	t.parallel.overlap_grad_reduce = 0;
	t.parallel.micro_batch_size = 2;
	t.parallel.n_pp_layers = 4;
	memcpy(t.parallel.pp_layers, (int[]){6, 10, 10, 6}, 4 * sizeof(int));
	t.model.tied_embeddings = 1;
	snprintf(t.parallel.cp_algo, sizeof t.parallel.cp_algo, "ring");
	pred = json_pack("{s:f, s:f, s:i}", "iteration_ms_mean", 1580.25, "tokens_per_s", 330510.5,
			 "rank", 1);
	CHECK(pred != NULL);
	CHECK_EQ(wlb_config_save(&t, pred, path, &e), 0);
	text = t_slurp(path);
	CHECK_STR_HAS(text, "\"format\": \"wlb-config/1\"");
	CHECK_STR_HAS(text, "\"tp_comm_overlap\": false");
	CHECK_STR_HAS(text, "\"outlier_thresholds\": [");
	CHECK_STR_HAS(text, "\"iteration_ms_mean\": 1580.25");
	CHECK_STR_HAS(text, "\"zero\": 1,");
	CHECK_STR_HAS(text, "\"recompute\": \"full\",");
	CHECK_STR_HAS(text, "\"overlap_grad_reduce\": false,");
	CHECK_STR_HAS(text, "\"micro_batch_size\": 2,");
	CHECK_STR_HAS(text, "\"tied_embeddings\": true");
	CHECK_STR_HAS(text, "\"pp_layers\": [");
	CHECK(text && !strstr(text, "\"data\""));
	CHECK_EQ(wlb_config_load(&c, path, &e), 0);
	CHECK(t_same_config(&t, &c));
	CHECK(!strcmp(c.name, t.name));
	CHECK_EQ(c.parallel.n_pp_layers, 4);
	CHECK_EQ(c.parallel.pp_layers[3], 6);
	CHECK_EQ(c.parallel.micro_batch_size, 2);
	CHECK_EQ(c.model.tied_embeddings, 1);
	/* saving what was loaded gives the same bytes */
	CHECK_EQ(wlb_config_save(&c, pred, path2, &e), 0);
	text2 = t_slurp(path2);
	CHECK(text && text2 && !strcmp(text, text2));
	free(text2);
	/* without predicted figures, no "predicted" */
	CHECK_EQ(wlb_config_save(&c, NULL, path2, &e), 0);
	text2 = t_slurp(path2);
	CHECK(text2 && !strstr(text2, "\"predicted\""));
	CHECK_EQ(wlb_config_load(&d, path2, &e), 0);
	CHECK(t_same_config(&c, &d));
	wlb_trace_free(&d);
	free(text2);
	free(text);
	wlb_trace_free(&c);

	/* an unresolved policy is written resolved */
	t.policy = (struct wlb_policy){"", "", 0, -1, {0}, 0, "", 0, ""};
	CHECK_EQ(wlb_config_save(&t, NULL, path, &e), 0);
	CHECK_EQ(wlb_config_load(&c, path, &e), 0);
	wlb_policy_defaults(&t.policy, t.context);
	CHECK(t_same_config(&t, &c));
	wlb_trace_free(&c);

	/* an invalid configuration or predicted figures that are no object are
	 * not written */
	remove(path);
	t.parallel.tp = 5;
	CHECK_EQ(wlb_config_save(&t, NULL, path, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "parallel.tp must divide heads (32), got 5");
	CHECK(access(path, F_OK) != 0);
	t.parallel.tp = 8;
	json_t *arr = json_array();
	CHECK_EQ(wlb_config_save(&t, arr, path, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "predicted must be an object");
	CHECK(access(path, F_OK) != 0);
	json_decref(arr);
	json_decref(pred);
	wlb_trace_free(&t);
	remove(path2);
	CHECK_EQ(rmdir(dir), 0); /* nothing else (no temp files) left behind */
}

static void test_apply(void)
{
	struct wlb_trace t, c;
	struct wlb_error e = {0, ""};
	char *text;

	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_full.json", &e), 0);
	text = variant("\"packing\": \"greedy\"", "\"packing\": \"concat\"");
	CHECK(text != NULL);
	CHECK_EQ(wlb_config_load_string(&c, text, "c.json", &e), 0);
	free(text);
	uint64_t seed = t.source.seed;
	uint32_t iters = t.iterations;
	const struct wlb_dist dist = t.source.dist;
	wlb_config_apply(&t, &c);
	CHECK(t_same_config(&t, &c));
	CHECK(!strcmp(t.name, "7b-128k"));        /* the trace's */
	CHECK(!strcmp(t.policy.packing, "concat"));
	CHECK_EQ(t.source.seed, seed);
	CHECK_EQ(t.iterations, iters);
	CHECK_EQ(t.source.dist.n, dist.n);
	CHECK_EQ(t.source.kind, WLB_SOURCE_DIST);
	CHECK_EQ(wlb_trace_check(&t, &e), 0);
	wlb_trace_free(&c);
	wlb_trace_free(&t);

	/* the data of a batches trace stays */
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_batches.json", &e), 0);
	size_t nb = t.source.n_batches;
	CHECK_EQ(wlb_config_load_string(&c, CFG, "c.json", &e), 0);
	c.parallel.zero = 0;
	c.parallel.recompute = WLB_RECOMPUTE_SELECTIVE;
	c.parallel.micro_batch_size = 3;
	c.parallel.n_pp_layers = 2;
	c.parallel.pp_layers[0] = 3;
	c.parallel.pp_layers[1] = 1;
	c.model.tied_embeddings = 1;
	wlb_config_apply(&t, &c);
	CHECK(t_same_config(&t, &c));
	CHECK_EQ(t.parallel.zero, 0);
	CHECK_EQ(t.parallel.recompute, WLB_RECOMPUTE_SELECTIVE);
	CHECK_EQ(t.parallel.micro_batch_size, 3);
	CHECK_EQ(t.parallel.n_pp_layers, 2);
	CHECK_EQ(t.parallel.pp_layers[0], 3);
	CHECK_EQ(t.model.tied_embeddings, 1);
	CHECK_EQ(t.source.n_batches, nb);
	CHECK(t.source.lens != NULL);
	wlb_trace_free(&c);
	wlb_trace_free(&t);
}

void test_config(void)
{
	test_load();
	test_errors();
	test_round_trip();
	test_apply();
}
