/* test_trace_save.c — wlb_trace_save: what it writes loads back equal,
 * saving twice gives the same bytes, and a failed save leaves nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"
#include "trace.h"

void test_trace_save(void);

/* Field by field, all but path. */
static int same_trace(const struct wlb_trace *a, const struct wlb_trace *b)
{
	const struct wlb_source *s = &a->source, *r = &b->source;

	if (strcmp(a->name, b->name) || !t_same_config(a, b))
		return 0;
	if (a->iterations != b->iterations || s->kind != r->kind || s->seed != r->seed ||
	    strcmp(a->lengths_file, b->lengths_file))
		return 0;
	if (s->kind == WLB_SOURCE_DIST)
		return t_same_dist(&s->dist, &r->dist);
	if (s->n_lens != r->n_lens || s->n_batches != r->n_batches ||
	    (s->n_lens && memcmp(s->lens, r->lens, s->n_lens * sizeof *s->lens)))
		return 0;
	for (size_t i = 0; s->kind == WLB_SOURCE_BATCHES && i <= s->n_batches; i++)
		if (s->batch_start[i] != r->batch_start[i])
			return 0;
	return 1;
}

void test_trace_save(void)
{
	static const char *const files[] = {
		"tests/data/trace_full.json", "tests/data/trace_preset.json",
		"tests/data/trace_batches.json",
	};
	char dir[] = "/tmp/wlb_trace_XXXXXX", path[256], path2[256], sub[256];
	struct wlb_trace t, u;
	struct wlb_error e = {0, ""};
	char *text, *text2;

	if (!mkdtemp(dir)) {
		t_fail++;
		fprintf(stderr, "test_trace: mkdtemp failed\n");
		return;
	}
	snprintf(path, sizeof path, "%s/out.json", dir);
	snprintf(path2, sizeof path2, "%s/out2.json", dir);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		CHECK_EQ(wlb_trace_load(&t, files[i], &e), 0);
		CHECK_EQ(wlb_trace_save(&t, NULL, path, &e), 0);
		CHECK_EQ(wlb_trace_load(&u, path, &e), 0);
		CHECK(same_trace(&t, &u));
		/* saving again gives the same bytes */
		CHECK_EQ(wlb_trace_save(&u, NULL, path2, &e), 0);
		text = t_slurp(path);
		text2 = t_slurp(path2);
		CHECK(text && text2 && !strcmp(text, text2));
		if (i == 0 && text) {
			/* shortest exact reals, integers as integers, the resolved policy */
			CHECK_STR_HAS(text, "\"weight\": 0.977,");
			CHECK_STR_HAS(text, "\"weight\": 0.0184,");
			CHECK_STR_HAS(text, "\"x0\": 8192,");
			CHECK_STR_HAS(text, "\"format\": \"wlb-trace/1\"");
			CHECK_STR_HAS(text, "\"window\": 1");
		}
		free(text);
		free(text2);
		wlb_trace_free(&u);
		/* a distribution preset is written by name */
		if (i == 1) {
			CHECK_EQ(wlb_trace_save(&t, "wlb128k", path, &e), 0);
			text = t_slurp(path);
			CHECK_STR_HAS(text, "\"preset\": \"wlb128k\"");
			free(text);
			CHECK_EQ(wlb_trace_load(&u, path, &e), 0);
			CHECK(same_trace(&t, &u));
			wlb_trace_free(&u);
			CHECK_EQ(wlb_trace_save(&t, "nope", path, &e), WLB_EINVAL);
			CHECK_STR_HAS(e.msg, "unknown distribution preset \"nope\"");
		}
		wlb_trace_free(&t);
	}

	/* the keys for real runs: written back as set, and loaded back equal */
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_full.json", &e), 0);
	t.parallel.zero = 2;
	t.parallel.recompute = WLB_RECOMPUTE_SELECTIVE;
	t.parallel.overlap_grad_reduce = 0;
	t.parallel.overlap_param_gather = 0;
	t.parallel.micro_batch_size = 3;
	t.parallel.n_pp_layers = 4;
	memcpy(t.parallel.pp_layers, (int[]){7, 9, 9, 7}, 4 * sizeof(int));
	t.model.tied_embeddings = 1;
	CHECK_EQ(wlb_trace_save(&t, NULL, path, &e), 0);
	text = t_slurp(path);
	CHECK_STR_HAS(text, "\"zero\": 2,");
	CHECK_STR_HAS(text, "\"recompute\": \"selective\",");
	CHECK_STR_HAS(text, "\"overlap_grad_reduce\": false,");
	CHECK_STR_HAS(text, "\"overlap_param_gather\": false,");
	CHECK_STR_HAS(text, "\"micro_batch_size\": 3,");
	CHECK_STR_HAS(text, "\"pp_layers\": [\n      7,\n      9,\n      9,\n      7\n    ]");
	CHECK_STR_HAS(text, "\"tied_embeddings\": true");
	CHECK(text && !strstr(text, "\"fsdp\""));
	free(text);
	CHECK_EQ(wlb_trace_load(&u, path, &e), 0);
	CHECK(same_trace(&t, &u));
	CHECK_EQ(u.parallel.zero, 2);
	CHECK_EQ(u.parallel.recompute, WLB_RECOMPUTE_SELECTIVE);
	CHECK_EQ(u.parallel.micro_batch_size, 3);
	CHECK_EQ(u.parallel.n_pp_layers, 4);
	CHECK_EQ(u.parallel.pp_layers[1], 9);
	CHECK_EQ(u.model.tied_embeddings, 1);
	CHECK_EQ(wlb_trace_save(&u, NULL, path2, &e), 0);
	text = t_slurp(path);
	text2 = t_slurp(path2);
	CHECK(text && text2 && !strcmp(text, text2));
	free(text);
	free(text2);
	wlb_trace_free(&u);
	/* the default split is not written: it follows pp */
	t.parallel.n_pp_layers = 0;
	t.parallel.recompute = WLB_RECOMPUTE_FULL;
	t.parallel.zero = 0;
	CHECK_EQ(wlb_trace_save(&t, NULL, path, &e), 0);
	text = t_slurp(path);
	CHECK(text && !strstr(text, "pp_layers"));
	CHECK_STR_HAS(text, "\"recompute\": \"full\",");
	CHECK_STR_HAS(text, "\"zero\": 0,");
	free(text);
	CHECK_EQ(wlb_trace_load(&u, path, &e), 0);
	CHECK(same_trace(&t, &u));
	CHECK_EQ(u.parallel.n_pp_layers, 0);
	wlb_trace_free(&u);
	wlb_trace_free(&t);

	/* an in-memory trace with an unresolved policy is written resolved */
	CHECK_EQ(wlb_trace_load(&t, "tests/data/trace_full.json", &e), 0);
	t.policy = (struct wlb_policy){"", "", 0, -1, {0}, 0, "", 0, ""};
	t.source.dist.c[0].weight = 0.1 + 0.2; /* needs 17 digits */
	CHECK_EQ(wlb_trace_save(&t, NULL, path, &e), 0);
	CHECK_EQ(wlb_trace_load(&u, path, &e), 0);
	wlb_policy_defaults(&t.policy, t.context);
	CHECK(same_trace(&t, &u));
	wlb_trace_free(&u);
	/* an invalid trace is not written; a failed write leaves no file behind */
	remove(path);
	t.parallel.tp = 5;
	CHECK_EQ(wlb_trace_save(&t, NULL, path, &e), WLB_EINVAL);
	CHECK_STR_HAS(e.msg, "parallel.tp must divide heads (32), got 5");
	CHECK(access(path, F_OK) != 0);
	t.parallel.tp = 8;
	snprintf(sub, sizeof sub, "%s/no/such/dir/t.json", dir);
	CHECK_EQ(wlb_trace_save(&t, NULL, sub, &e), WLB_EIO);
	CHECK_STR_HAS(e.msg, "cannot write");
	wlb_trace_free(&t);

	/* a lengths file: as written beside the trace, absolute elsewhere */
	snprintf(path, sizeof path, "%s/lens.txt", dir);
	t_write_file(path, "5\n7\n\n9\n");
	snprintf(path, sizeof path, "%s/in.json", dir);
	t_write_file(path, "{\"format\": \"wlb-trace/1\", \"model\": \"wlb-550m\", \"context\": 64,\n"
		   " \"data\": {\"lengths_file\": \"lens.txt\", \"seed\": 9}}\n");
	CHECK_EQ(wlb_trace_load(&t, path, &e), 0);
	CHECK_EQ(t.iterations, 0);
	CHECK_EQ(t.source.n_lens, 3);
	CHECK_EQ(wlb_trace_save(&t, NULL, path2, &e), 0);
	CHECK_EQ(wlb_trace_load(&u, path2, &e), 0);
	CHECK(same_trace(&t, &u));
	CHECK(!strcmp(u.lengths_file, "lens.txt"));
	wlb_trace_free(&u);
	snprintf(sub, sizeof sub, "%s/sub", dir);
	CHECK_EQ(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof sub, "%s/sub/t.json", dir);
	CHECK_EQ(wlb_trace_save(&t, NULL, sub, &e), 0);
	CHECK_EQ(wlb_trace_load(&u, sub, &e), 0);
	CHECK(u.lengths_file[0] == '/');
	CHECK_EQ(u.source.n_lens, 3);
	if (u.source.n_lens == 3)
		CHECK(!memcmp(u.source.lens, t.source.lens, 3 * sizeof *u.source.lens));
	wlb_trace_free(&u);
	wlb_trace_free(&t);
	remove(sub);
	snprintf(sub, sizeof sub, "%s/sub", dir);
	rmdir(sub);
	snprintf(path, sizeof path, "%s/lens.txt", dir);
	remove(path);
	snprintf(path, sizeof path, "%s/in.json", dir);
	remove(path);
	snprintf(path, sizeof path, "%s/out.json", dir);
	remove(path);
	remove(path2);
	CHECK_EQ(rmdir(dir), 0); /* nothing else (no temp files) left behind */
}

