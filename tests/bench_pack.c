/* bench_pack.c — packing speed on the paper's 7B-128K setup, and the input
 * of the 1M-document lengths-file benchmark (tests/bench.sh times that one
 * against sort -n). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docs.h"
#include "model.h"
#include "pack.h"
#include "shard.h"
#include "workload.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Packs `batches` pre-drawn global batches; returns ms per batch. */
static double time_packer(const char *name, const struct wlb_source *src, uint32_t batches,
			  const struct wlb_pack_params *pp)
{
	struct wlb_packer *pk;
	struct wlb_stream *st;
	struct wlb_packed out = {0};
	struct wlb_error err;
	double best = 1e9;

	for (int rep = 0; rep < 5; rep++) {
		if (wlb_packer_create(&pk, name, pp, &err) ||
		    wlb_stream_create(&st, src, pp->context, 1, &err)) {
			fprintf(stderr, "bench: %s\n", err.msg);
			exit(1);
		}
		double t0 = now_s();
		uint32_t n = 0;
		while (n < batches && wlb_packer_next(pk, st, &out, &err) == 1)
			n++;
		double ms = (now_s() - t0) * 1e3 / n;
		best = ms < best ? ms : best;
		wlb_packer_destroy(pk);
		wlb_stream_destroy(st);
	}
	wlb_packed_free(&out);
	return best;
}

/* Milliseconds per batch of sharding the wlb packer's micro-batches of src
 * over cp ranks with kind (the packing itself not counted). */
static double time_sharding(const struct wlb_source *src, const struct wlb_pack_params *pp,
			    enum wlb_shard_kind kind, int cp)
{
	struct wlb_sharding sh;
	struct wlb_packer *pk;
	struct wlb_stream *st;
	struct wlb_packed out = {0};
	struct wlb_error err;
	double tsh = 0;
	uint32_t n = 0;

	wlb_sharding_init(&sh, cp);
	wlb_packer_create(&pk, "wlb", pp, &err);
	wlb_stream_create(&st, src, pp->context, 1, &err);
	while (wlb_packer_next(pk, st, &out, &err) == 1) {
		double t1 = now_s();
		for (uint32_t b = 0; b < out.n_mb; b++)
			wlb_shard(&sh, kind, out.docs + out.mb[b].first, out.mb[b].n, NULL);
		tsh += now_s() - t1;
		n++;
	}
	wlb_packed_free(&out);
	wlb_packer_destroy(pk);
	wlb_stream_destroy(st);
	wlb_sharding_free(&sh);
	return n ? tsh * 1e3 / n : 0;
}

int main(int argc, char **argv)
{
	enum { BATCHES = 2000, MILLION = 1000000 };
	const uint32_t ctx = 131072;
	struct wlb_model m;
	struct wlb_workload w;
	struct wlb_error err;
	struct wlb_source dist = {.kind = WLB_SOURCE_DIST, .seed = 1}, src = {.kind = WLB_SOURCE_BATCHES};
	struct wlb_stream *st;
	const struct wlb_doc *d;
	const char *dir = argc > 1 ? argv[1] : ".";

	wlb_gsl_quiet();
	wlb_model_preset("llama2-7b", &m, &err);
	wlb_workload_flops(&w, &m);
	wlb_dist_preset("wlb128k", &dist.dist, &err);

	/* draw the global batches once, so only packing is timed */
	wlb_stream_create(&st, &dist, ctx, 4ull * ctx, &err);
	src.batch_start = malloc((BATCHES + 1) * sizeof *src.batch_start);
	size_t cap = 0;
	for (uint32_t b = 0; b < BATCHES; b++) {
		size_t n = wlb_stream_next(st, &d);
		src.batch_start[b] = src.n_lens;
		if (src.n_lens + n > cap) {
			cap = 2 * (src.n_lens + n);
			src.lens = realloc(src.lens, cap * sizeof *src.lens);
		}
		for (size_t i = 0; i < n; i++)
			src.lens[src.n_lens++] = d[i].len;
	}
	src.batch_start[BATCHES] = src.n_lens;
	src.n_batches = BATCHES;
	wlb_stream_destroy(st);

	struct wlb_pack_params pp = {.context = ctx, .s_max = 196608, .window = 1, .n_thresholds = 2,
				     .thresholds = {32768, 65536}, .dp = 1, .m = 4, .work = &w};
	printf("packing, llama2-7b 128K, 4 micro-batches, wlb128k (%.1f documents per batch), "
	       "best of 5 over %d batches\n", (double)src.n_lens / BATCHES, BATCHES);
	printf("  %-22s %12s   %s\n", "packer", "ms / batch", "target");
	const char *names[] = {"concat", "greedy", "bfd", "wlb"};
	for (int i = 0; i < 4; i++) {
		double ms = time_packer(names[i], &src, BATCHES, &pp);
		printf("  %-22s %12.4f   %s\n", names[i], ms,
		       !strcmp(names[i], "wlb") ? (ms < 0.1 ? "< 0.1 (WLB-LLM: 20 ms)  ok" :
						   "< 0.1 (WLB-LLM: 20 ms)  MISSED") : "");
	}
	pp.cp = 2;
	pp.order = WLB_ORDER_ZIGZAG; /* wlb's default: long documents placed for CP 2 */
	double zz = time_packer("wlb", &src, BATCHES, &pp);
	printf("  %-22s %12.4f   %s\n", "wlb, zigzag order", zz,
	       zz < 0.1 ? "< 0.1  ok" : "< 0.1  MISSED");
	pp.order = WLB_ORDER_STREAM;
	pp.window = 8;
	printf("  %-22s %12.4f\n", "greedy, window 8", time_packer("greedy", &src, BATCHES, &pp));

	/* CP sharding of the same micro-batches (adaptive computes both layouts,
	 * hybrid those and its candidates) */
	pp.window = 1;
	for (int cp = 2; cp <= 8; cp *= 4) {
		double ad = time_sharding(&src, &pp, WLB_SHARD_ADAPTIVE, cp);
		double hy = time_sharding(&src, &pp, WLB_SHARD_HYBRID, cp);
		char what[64];
		snprintf(what, sizeof what, "(cp %d, 4 micro-batches)", cp);
		printf("  %-22s %12.4f   %s\n", "adaptive sharding", ad, what);
		printf("  %-22s %12.4f   < 1 (%.1fx adaptive)  %s\n", "hybrid sharding", hy, hy / ad,
		       hy < 1 ? "ok" : "MISSED");
	}

	/* 1M document lengths for the lengths-file benchmark */
	{
		char path[1024];
		uint32_t *v = malloc(MILLION * sizeof *v);
		wlb_dist_sample_n(&dist.dist, 1, v, MILLION, &err);
		snprintf(path, sizeof path, "%s/lengths-1m.txt", dir);
		FILE *f = fopen(path, "w");
		if (!f) {
			perror(path);
			return 1;
		}
		for (int i = 0; i < MILLION; i++)
			fprintf(f, "%u\n", v[i]);
		fclose(f);
		free(v);
		snprintf(path, sizeof path, "%s/lengths-1m.json", dir);
		f = fopen(path, "w");
		fprintf(f, "{\"format\": \"wlb-trace/1\", \"name\": \"bench-1m\", \"model\": \"llama2-7b\",\n"
			   " \"parallel\": {\"tp\": 8, \"cp\": 2, \"pp\": 4, \"dp\": 1, \"microbatches\": 4},\n"
			   " \"context\": 131072, \"policy\": {\"packing\": \"wlb\", \"sharding\": \"adaptive\"},\n"
			   " \"data\": {\"lengths_file\": \"lengths-1m.txt\"}}\n");
		fclose(f);
	}
	free(src.lens);
	free(src.batch_start);
	return 0;
}
