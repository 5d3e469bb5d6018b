/* props.c — property tests: random traces over models, layouts, document
 * distributions and policies, each run through packer, sharder and simulator
 * with the invariants checked (README "Property tests and valgrind").
 *
 * Case k of seed S draws everything from GSL's mt19937 seeded with a hash of
 * (S, k), so `props -s S -k K` replays one case alone.  A failing case prints
 * that command and its trace as wlb-trace/1. */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "json.h"
#include "pack.h"
#include "packrun.h"
#include "report_sim.h"
#include "sim.h"
#include "grow.h"
#include "props_gen.h"
#include "trace.h"

static const char *prog = "props";

/* what the cases covered, for the summary line on stderr */
static struct {
	unsigned long long mbs, per_doc, per_seq, cp_mbs, iters, redraws, batches_src;
} seen;

static void usage(FILE *f)
{
	fprintf(f,
"usage: props [-n N] [-s SEED] [-k CASE] [-c COSTDB] [-q]\n"
"  Draws N random traces (default 1000) from SEED (default 1) and checks on each:\n"
"  tokens conserved through the packer (emitted + pending = read, every stream\n"
"  piece emitted at most once and whole), every document's tokens in exactly one\n"
"  CP rank piece, per-doc ranks within one real token of each other, per-seq\n"
"  padding below 2cp, the simulated iteration never below the ideal and the lost\n"
"  time adding up to the difference, byte-identical reports for the same seed,\n"
"  and a wlb-config round trip changing nothing.\n"
"  -k CASE  run case CASE of SEED only (what a failure prints to replay it)\n"
"  -c DB    the h100-sxm cost DB (default build/costdb/h100-sxm.db)\n"
"  -q       no progress lines on stderr\n"
"  Ends with \"props: N passed, M failed\".  Replay a failure: props -s SEED -k CASE\n");
}

/* ---- the checks ---- */

struct fail {
	char msg[512];
	int failed;
};

static void failf(struct fail *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct fail *f, const char *fmt, ...)
{
	va_list ap;

	if (f->failed++)
		return; /* the first failure explains the case */
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
}

/* A reference stream over the same source: what each piece id holds. */
struct ref {
	struct wlb_stream *st;
	uint32_t *len;       /* by id */
	uint64_t *emitted;   /* tokens of id emitted so far */
	size_t n, cap;
};

/* Reads the reference's next batch: its size, 0 at the end, -1 out of
 * memory, -2 when ids are not 0, 1, 2, ... in stream order. */
static int ref_batch(struct ref *rf)
{
	const struct wlb_doc *d;
	size_t k = wlb_stream_next(rf->st, &d);

	for (size_t i = 0; i < k; i++) {
		if (rf->n == rf->cap) {
			size_t cap = rf->cap ? 2 * rf->cap : 256;
			uint32_t *l = realloc(rf->len, cap * sizeof *l);
			uint64_t *e = l ? realloc(rf->emitted, cap * sizeof *e) : NULL;
			if (l)
				rf->len = l;
			if (!e)
				return -1;
			rf->emitted = e;
			rf->cap = cap;
		}
		if (d[i].id != rf->n)
			return -2;
		rf->len[rf->n] = d[i].len;
		rf->emitted[rf->n++] = 0;
	}
	return k > 0;
}

/* 0 once the reference has read piece id. */
static int ref_upto(struct ref *rf, uint32_t id)
{
	int rc = 1;

	while (rf->n <= id && rc > 0)
		rc = ref_batch(rf);
	return rf->n > id ? 0 : -1;
}

struct row { uint32_t doc, lo, hi; };

static int by_doc_lo(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->doc != y->doc)
		return x->doc < y->doc ? -1 : 1;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

struct pctx {
	const struct wlb_trace *t;
	struct ref ref;
	struct fail *f;
	struct row *rows, *docs;
	size_t cap_rows, cap_docs;
	uint64_t iter_tokens;
};

/* One micro-batch and its CP layout. */
static int on_mb(void *vc, const struct wlb_packed *p, uint32_t b, const struct wlb_sharding *sh)
{
	struct pctx *c = vc;
	const struct wlb_mb *mb = &p->mb[b];
	const struct wlb_doc *d = p->docs + mb->first;
	uint32_t m = (uint32_t)c->t->parallel.microbatches, cp = (uint32_t)sh->cp;
	uint64_t tok = 0, real = 0;

	seen.mbs++;
	seen.cp_mbs += cp > 1;
	seen.per_doc += cp > 1 && sh->used == WLB_SHARD_PER_DOC;
	seen.per_seq += cp > 1 && sh->used == WLB_SHARD_PER_SEQ;
	if (mb->replica != b / m)
		failf(c->f, "iteration %u micro-batch %u: replica %u, expected %u", p->iter, b,
		      mb->replica, b / m);
	if (WLB_GROW(c->docs, c->cap_docs, mb->n + 1) ||
	    WLB_GROW(c->rows, c->cap_rows, sh->n_pieces + 1))
		return WLB_ENOMEM;
	for (uint32_t i = 0; i < mb->n; i++) {
		tok += d[i].len;
		if (ref_upto(&c->ref, d[i].id)) {
			failf(c->f, "iteration %u: piece id %u is not one the stream handed out",
			      p->iter, d[i].id);
			continue;
		}
		c->ref.emitted[d[i].id] += d[i].len;
		if (c->ref.emitted[d[i].id] > c->ref.len[d[i].id])
			failf(c->f, "iteration %u: document %u emitted %llu tokens of its %u "
			      "(a piece twice?)", p->iter, d[i].id,
			      (unsigned long long)c->ref.emitted[d[i].id], c->ref.len[d[i].id]);
		c->docs[i] = (struct row){d[i].id, 0, d[i].len};
	}
	if (tok != mb->tokens)
		failf(c->f, "iteration %u micro-batch %u: tokens %llu, its documents hold %llu",
		      p->iter, b, (unsigned long long)mb->tokens, (unsigned long long)tok);
	c->iter_tokens += tok;

	/* every token of every document in exactly one rank's piece: per document,
	 * the pieces' [kv - q, kv) tile [0, len) */
	for (size_t i = 0; i < sh->n_pieces; i++) {
		const struct wlb_piece *pc = &sh->pieces[i];
		if (pc->q_len > pc->kv_len)
			failf(c->f, "piece of document %u: %u queries over %u keys", pc->doc, pc->q_len,
			      pc->kv_len);
		c->rows[i] = (struct row){pc->doc, pc->kv_len - pc->q_len, pc->kv_len};
	}
	qsort(c->rows, sh->n_pieces, sizeof *c->rows, by_doc_lo);
	qsort(c->docs, mb->n, sizeof *c->docs, by_doc_lo);
	size_t j = 0;
	for (uint32_t i = 0; i < mb->n; i++) {
		uint32_t at = 0;
		if (i && c->docs[i].doc == c->docs[i - 1].doc)
			failf(c->f, "iteration %u micro-batch %u: document %u twice", p->iter, b,
			      c->docs[i].doc);
		for (; j < sh->n_pieces && c->rows[j].doc == c->docs[i].doc; j++) {
			if (c->rows[j].lo != at)
				failf(c->f, "iteration %u micro-batch %u (%s): document %u: piece at "
				      "[%u, %u), expected one starting at %u", p->iter, b,
				      wlb_shard_name(sh->used), c->docs[i].doc, c->rows[j].lo,
				      c->rows[j].hi, at);
			at = c->rows[j].hi;
		}
		if (at != c->docs[i].hi)
			failf(c->f, "iteration %u micro-batch %u (%s): document %u of %u tokens: its "
			      "pieces cover [0, %u)", p->iter, b, wlb_shard_name(sh->used),
			      c->docs[i].doc, c->docs[i].hi, at);
	}
	if (j != sh->n_pieces)
		failf(c->f, "iteration %u micro-batch %u: a piece of document %u, not in it",
		      p->iter, b, c->rows[j].doc);

	/* rank totals: real tokens, and what shard.h promises of padding */
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint32_t r = 0; r < cp; r++) {
		uint64_t q = 0;
		for (size_t i = sh->rank_start[r]; i < sh->rank_start[r + 1]; i++)
			q += sh->pieces[i].q_len;
		if (q != sh->rank_tokens[r])
			failf(c->f, "rank %u: rank_tokens %u, its pieces hold %llu", r,
			      sh->rank_tokens[r], (unsigned long long)q);
		real += q;
		lo = q < lo ? (uint32_t)q : lo;
		hi = q > hi ? (uint32_t)q : hi;
	}
	if (real != tok)
		failf(c->f, "iteration %u micro-batch %u: ranks hold %llu real tokens of %llu",
		      p->iter, b, (unsigned long long)real, (unsigned long long)tok);
	if (sh->used == WLB_SHARD_PER_DOC && hi - lo > 1)
		failf(c->f, "iteration %u micro-batch %u: per-doc ranks hold %u to %u real tokens",
		      p->iter, b, lo, hi);
	if (sh->used == WLB_SHARD_PER_SEQ &&
	    ((uint64_t)sh->tokens_per_rank * cp != tok + sh->pad_tokens || sh->pad_tokens >= 2 * cp ||
	     hi > sh->tokens_per_rank))
		failf(c->f, "iteration %u micro-batch %u: per-seq: %u tokens per rank x %u ranks "
		      "with %u padding for %llu tokens (most on a rank %u)", p->iter, b,
		      sh->tokens_per_rank, cp, sh->pad_tokens, (unsigned long long)tok, hi);
	return 0;
}

static int on_iter(void *vc, const struct wlb_packed *p, const struct wlb_iter_rec *rec)
{
	struct pctx *c = vc;
	uint32_t want = (uint32_t)(c->t->parallel.dp * c->t->parallel.microbatches);

	if (p->n_mb != want)
		failf(c->f, "iteration %u: %u micro-batches, expected dp x m = %u", p->iter, p->n_mb,
		      want);
	if (rec->tokens != c->iter_tokens)
		failf(c->f, "iteration %u: %llu tokens, its micro-batches hold %llu", p->iter,
		      (unsigned long long)rec->tokens, (unsigned long long)c->iter_tokens);
	c->iter_tokens = 0;
	return 0;
}

/* Packer and sharder: conservation against a second stream over the source. */
static int check_pack(const struct wlb_trace *t, struct fail *f, struct wlb_error *err)
{
	struct pctx c = {.t = t, .f = f};
	struct wlb_packrun_hooks h = {&c, on_mb, on_iter};
	struct wlb_pack_params pp;
	struct wlb_packrun run;
	int rc;

	wlb_pack_params_from_trace(t, NULL, &pp);
	rc = wlb_stream_create(&c.ref.st, &t->source, t->context,
			       (uint64_t)t->parallel.dp * (uint64_t)t->parallel.microbatches * pp.context,
			       err);
	if (!rc)
		rc = wlb_packrun_with(t, NULL, &h, &run, err);
	if (!rc) {
		const struct wlb_pack_summary *s = &run.summary;
		uint64_t unseen = 0;

		if (s->tokens + s->pending_tokens != s->tokens_in)
			failf(f, "packer: %llu tokens emitted + %llu pending != %llu read",
			      (unsigned long long)s->tokens, (unsigned long long)s->pending_tokens,
			      (unsigned long long)s->tokens_in);
		/* read the reference as far as the run read */
		int more = 1;
		while (wlb_stream_tokens(c.ref.st) < s->tokens_in && more > 0)
			more = ref_batch(&c.ref);
		if (more == -2)
			failf(f, "stream: piece ids are not 0, 1, 2, ... in stream order");
		if (wlb_stream_tokens(c.ref.st) != s->tokens_in)
			failf(f, "packer read %llu tokens, the same stream's batches hold %llu",
			      (unsigned long long)s->tokens_in,
			      (unsigned long long)wlb_stream_tokens(c.ref.st));
		for (size_t i = 0; i < c.ref.n; i++)
			unseen += c.ref.len[i] - c.ref.emitted[i];
		if (unseen != s->pending_tokens)
			failf(f, "packer: %llu tokens read and never emitted, pending says %llu",
			      (unsigned long long)unseen, (unsigned long long)s->pending_tokens);
		/* at the end of the data only concat flushes what it carries; the
		 * others leave it pending (README, pack_bfd.c, pack_wlb.c) */
		if (t->iterations == 0 && s->pending_tokens && !strcmp(run.packing, "concat"))
			failf(f, "packer concat: the whole source packed, yet %llu tokens pending",
			      (unsigned long long)s->pending_tokens);
		wlb_packrun_free(&run);
	}
	wlb_stream_destroy(c.ref.st);
	free(c.ref.len);
	free(c.ref.emitted);
	free(c.rows);
	free(c.docs);
	return rc;
}

/* The report wlb-sim --json writes for t (wlb_json_write's 10 digits). */
static int sim_report(const struct wlb_trace *t, struct wlb_cost *cost, const struct wlb_sim_opts *o,
		      struct wlb_sim_result *res, char **text, size_t *len, struct wlb_error *err)
{
	int rc = wlb_sim_run(t, cost, o, res, err);
	json_t *j;

	*text = NULL;
	if (rc)
		return rc;
	j = wlb_report_sim(t, t->gpu, res, NULL, 0);
	*text = wlb_json_text(j, 10, len);
	json_decref(j);
	return *text ? 0 : wlb_error_set(err, WLB_ENOMEM, "out of memory building the report");
}

/* Simulated time against the ideal and the lost-time attribution, per
 * iteration.  The parts telescope over the counterfactual runs, so they sum to
 * time - ideal up to rounding: 1e-9 of the time. */
static void check_sim(const struct wlb_sim_result *res, struct fail *f)
{
	const struct wlb_pack_summary *ps = &res->pack.summary;

	if (ps->tokens + ps->pending_tokens != ps->tokens_in)
		failf(f, "sim: %llu tokens emitted + %llu pending != %llu read",
		      (unsigned long long)ps->tokens, (unsigned long long)ps->pending_tokens,
		      (unsigned long long)ps->tokens_in);
	seen.iters += res->n_iters;
	for (size_t i = 0; i < res->n_iters; i++) {
		const struct wlb_sim_iter *it = &res->iters[i];
		double sum = 0, tol = 1e-9 * fmax(it->time_ms, it->ideal_ms);

		for (int l = 0; l < WLB_LOST_N; l++)
			sum += it->lost_ms[l];
		if (!isfinite(it->time_ms) || !isfinite(sum) || !(it->ideal_ms > 0))
			failf(f, "iteration %u: time %g ms, ideal %g ms, lost %g ms", it->iter,
			      it->time_ms, it->ideal_ms, sum);
		if (it->time_ms < it->ideal_ms - tol)
			failf(f, "iteration %u: simulated %.12g ms, below the ideal %.12g ms", it->iter,
			      it->time_ms, it->ideal_ms);
		if (fabs(sum - (it->time_ms - it->ideal_ms)) > tol)
			failf(f, "iteration %u: lost parts sum to %.12g ms, time - ideal is %.12g ms",
			      it->iter, sum, it->time_ms - it->ideal_ms);
	}
}

/* The config of t through wlb-config/1 text and back. */
static void check_config(const struct wlb_trace *t, struct wlb_trace *back, struct fail *f,
			 struct wlb_error *err)
{
	struct wlb_trace c;
	json_t *j = wlb_config_json(t, NULL, err);
	size_t n1 = 0, n2 = 0, n3 = 0;
	char *a = wlb_json_text(j, 10, &n1), *b = NULL, *x = NULL;

	json_decref(j);
	*back = *t; /* shares t's source: not freed */
	if (!a) {
		failf(f, "config: wlb_config_json: %s", err->msg);
		return;
	}
	a[n1 - 1] = 0;
	if (wlb_config_load_string(&c, a, "config", err)) {
		failf(f, "config: its own text does not load: %s", err->msg);
		free(a);
		return;
	}
	j = wlb_config_json(&c, NULL, err);
	b = wlb_json_text(j, 10, &n2);
	json_decref(j);
	wlb_config_apply(back, &c);
	j = wlb_config_json(back, NULL, err);
	x = wlb_json_text(j, 10, &n3);
	json_decref(j);
	if (!b || n2 != n1 || memcmp(a, b, n1 - 1))
		failf(f, "config: saving what was loaded gives other bytes");
	else if (!x || n3 != n1 || memcmp(a, x, n1 - 1))
		failf(f, "config: the trace with its config applied saves other bytes");
	else if (wlb_trace_check(back, err))
		failf(f, "config: the trace with its config applied fails its check: %s", err->msg);
	wlb_trace_free(&c);
	free(a);
	free(b);
	free(x);
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* t as wlb-trace/1 on stderr; lengths go to a file the trace names, kept. */
static void print_trace(const struct wlb_trace *t, const char *preset)
{
	char path[] = "/tmp/wlb-props-XXXXXX";
	struct wlb_error e = {0, ""};
	struct wlb_trace u = *t; /* shares t's source */
	int fd = mkstemp(path);
	char buf[4096];
	size_t n;
	FILE *in;

	if (fd < 0)
		return;
	close(fd);
	if (t->source.kind == WLB_SOURCE_LENGTHS) {
		FILE *lf;
		snprintf(u.lengths_file, sizeof u.lengths_file, "%s.lengths", path);
		if (!(lf = fopen(u.lengths_file, "w")))
			return;
		for (size_t i = 0; i < t->source.n_lens; i++)
			fprintf(lf, "%u\n", t->source.lens[i]);
		fclose(lf);
	}
	if (wlb_trace_save(&u, preset, path, &e)) {
		fprintf(stderr, "  (trace not written: %s)\n", e.msg);
	} else if ((in = fopen(path, "r"))) {
		while ((n = fread(buf, 1, sizeof buf, in)) > 0)
			fwrite(buf, 1, n, stderr);
		fclose(in);
	}
	remove(path);
}

/* Case k of seed: 0 passed, 1 failed. */
static int run_case(uint64_t seed, uint64_t k, gsl_rng *r, struct wlb_cost *cost)
{
	struct gen g = {r, NULL};
	struct wlb_trace t, back;
	struct wlb_sim_opts so = {WLB_ORDER_PACKED, -1, 1};
	struct wlb_sim_result ra, rb;
	struct wlb_error e = {0, ""};
	struct fail f = {"", 0};
	char *ta = NULL, *tb = NULL;
	size_t na = 0, nb = 0;
	int tries = 0;

	memset(&ra, 0, sizeof ra);
	memset(&rb, 0, sizeof rb);
	gsl_rng_set(r, (unsigned long)(splitmix(seed ^ splitmix(k)) & 0xffffffffu));
	while (props_gen_trace(&g, &t, &e)) { /* redraw what the checks refuse */
		wlb_trace_free(&t);
		seen.redraws++;
		if (++tries == 50) {
			printf("props: case %llu of seed %llu: no valid trace in 50 draws, the last: %s\n",
			       (unsigned long long)k, (unsigned long long)seed, e.msg);
			return 1;
		}
	}
	seen.batches_src += t.source.kind != WLB_SOURCE_DIST;
	so.order = (enum wlb_mb_order)props_pick(r, 0, 2);
	so.timeline_iter = props_coin(r, 0.3) ? 0 : -1;

	if (check_pack(&t, &f, &e))
		failf(&f, "packrun: %s", e.msg);
	if (sim_report(&t, cost, &so, &ra, &ta, &na, &e)) {
		failf(&f, "sim: %s", e.msg);
	} else {
		check_sim(&ra, &f);
		check_config(&t, &back, &f, &e);
		/* the same seed again, through the config's round trip */
		if (!f.failed && sim_report(&back, cost, &so, &rb, &tb, &nb, &e))
			failf(&f, "sim after the config round trip: %s", e.msg);
		else if (!f.failed && (na != nb || memcmp(ta, tb, na))) {
			wlb_sim_result_free(&rb);
			free(tb);
			tb = NULL;
			if (sim_report(&t, cost, &so, &rb, &tb, &nb, &e) || na != nb || memcmp(ta, tb, na))
				failf(&f, "the same trace and seed gave another report");
			else
				failf(&f, "the config round trip changed the report");
		}
	}
	if (f.failed) {
		printf("props: case %llu of seed %llu failed: %s\n", (unsigned long long)k,
		       (unsigned long long)seed, f.msg);
		fprintf(stderr, "props: replay: %s -s %llu -k %llu  (%d failed checks; mb-order %s, "
			"timeline %d); the trace:\n", prog, (unsigned long long)seed,
			(unsigned long long)k, f.failed, wlb_mb_order_name(so.order), so.timeline_iter);
		print_trace(&t, g.preset);
	}
	wlb_sim_result_free(&ra);
	wlb_sim_result_free(&rb);
	free(ta);
	free(tb);
	wlb_trace_free(&t);
	return f.failed != 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s[0] || s[0] == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n = 1000, seed = 1, only = 0;
	int have_only = 0, quiet = 0, opt;
	const char *db = "build/costdb/h100-sxm.db";
	struct wlb_cost *cost = NULL;
	struct wlb_error e = {0, ""};
	unsigned pass = 0, fail = 0;

	prog = argv[0];
	while ((opt = getopt(argc, argv, "n:s:k:c:qh")) != -1) {
		switch (opt) {
		case 'n': if (parse_u64(optarg, &n)) goto bad; break;
		case 's': if (parse_u64(optarg, &seed)) goto bad; break;
		case 'k': if (parse_u64(optarg, &only)) goto bad; have_only = 1; break;
		case 'c': db = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	wlb_gsl_quiet();
	if (wlb_cost_load(&cost, db, &e)) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		return 1;
	}
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	if (!r) {
		fprintf(stderr, "%s: out of memory\n", prog);
		wlb_cost_destroy(cost);
		return 1;
	}
	time_t t0 = time(NULL);
	uint64_t from = have_only ? only : 0, to = have_only ? only + 1 : n;
	for (uint64_t k = from; k < to; k++) {
		if (run_case(seed, k, r, cost))
			fail++;
		else
			pass++;
		if (!quiet && !have_only && n >= 10 && (k + 1) % (n / 10) == 0)
			fprintf(stderr, "props: %llu/%llu cases, %u failed, %lds\n",
				(unsigned long long)(k + 1), (unsigned long long)n, fail,
				(long)(time(NULL) - t0));
	}
	if (!quiet)
		fprintf(stderr, "props: %llu micro-batches checked (%llu over cp > 1 ranks: %llu "
			"per-seq, %llu per-doc), %llu iterations simulated, %llu traces from explicit "
			"batches or lengths, %llu redraws, %lds\n", seen.mbs, seen.cp_mbs, seen.per_seq, seen.per_doc,
			seen.iters, seen.batches_src, seen.redraws, (long)(time(NULL) - t0));
	printf("props: %u passed, %u failed\n", pass, fail);
	gsl_rng_free(r);
	wlb_cost_destroy(cost);
	return fail != 0;
bad:
	fprintf(stderr, "%s: -%c needs a non-negative integer, got \"%s\"\n", prog, opt, optarg);
	return 2;
}
