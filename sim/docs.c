/* docs.c — document-length distributions, lengths files and the stream. */
#include "docs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "blob.h"
#include "grow.h"
#include "infile.h"
#include "megatron_idx.h"

/* ---- presets (../shared/doclen/README.md, checked there by Monte Carlo) ---- */

#define LOGN(w, mu, s, lo, hi) {w, WLB_DIST_LOGNORMAL, mu, s, lo, hi}
#define PARETO(w, x0, al, hi) {w, WLB_DIST_PARETO, x0, al, 0, hi}

static const struct { const char *name; struct wlb_dist d; } presets[] = {
	/* WLB-LLM's 128K pretraining mix: tokens > 8K / 32K / 64K ~ 24 / 16.7 / 13.3 % */
	{"wlb128k", {3, {LOGN(0.977, 7.75, 1.0, 0, 8192), PARETO(0.0184, 8192, 1.1, 65536),
			 {0.0046, WLB_DIST_UNIFORM, 65536, 131072, 0, 0}}}},
	/* ProLong 64K mix: tokens > 8K / 32K / 64K / 128K ~ 27.8 / 6.6 / 3.1 / 1.4 % */
	{"prolong64k", {2, {LOGN(0.947, 7.6, 0.65, 0, 8192), PARETO(0.053, 8192, 2.0, 524288)}}},
	/* FineWeb-like web text, mean ~ 700 tokens */
	{"web", {1, {LOGN(1.0, 6.0, 1.1, 0, 8192)}}},
	/* ByteScale's production set (2M context): 1 % of documents >= 128K carry ~45 % of tokens */
	{"bytescale", {4, {LOGN(0.80, 7.0, 1.0, 0, 4096), PARETO(0.19, 4096, 0.65, 131072),
			   PARETO(0.0095, 131072, 1.5, 2097152),
			   {0.0005, WLB_DIST_POINT, 2097152, 0, 0, 0}}}},
};

static const char *const preset_names[] = {"wlb128k", "prolong64k", "web", "bytescale", NULL};

const char *const *wlb_dist_preset_names(void)
{
	return preset_names;
}

int wlb_dist_preset(const char *name, struct wlb_dist *out, struct wlb_error *err)
{
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
		if (!strcmp(presets[i].name, name)) {
			*out = presets[i].d;
			return 0;
		}
	return wlb_error_set(err, WLB_EINVAL,
			     "unknown distribution preset \"%s\" (expected one of: wlb128k, "
			     "prolong64k, web, bytescale)", name);
}

/* ---- truncated components, sampled by inverse CDF (one uniform per draw) ---- */

static double comp_cdf(const struct wlb_dist_component *c, double x)
{
	switch (c->kind) {
	case WLB_DIST_LOGNORMAL: return x <= 0 ? 0 : gsl_cdf_lognormal_P(x, c->a, c->b);
	case WLB_DIST_PARETO: return gsl_cdf_pareto_P(x, c->b, c->a);
	case WLB_DIST_UNIFORM: return gsl_cdf_flat_P(x, c->a, c->b);
	case WLB_DIST_POINT: return x >= c->a ? 1 : 0;
	}
	return 0;
}

static double comp_inv(const struct wlb_dist_component *c, double u)
{
	switch (c->kind) {
	case WLB_DIST_LOGNORMAL: return gsl_cdf_lognormal_Pinv(u, c->a, c->b);
	case WLB_DIST_PARETO: return gsl_cdf_pareto_Pinv(u, c->b, c->a);
	case WLB_DIST_UNIFORM: return gsl_cdf_flat_Pinv(u, c->a, c->b);
	case WLB_DIST_POINT: return c->a;
	}
	return 1;
}

/* The CDF range [lo, hi] that truncation to [min, max] leaves. */
static void comp_range(const struct wlb_dist_component *c, double *lo, double *hi)
{
	*lo = c->min > 0 ? comp_cdf(c, c->min) : 0.0;
	*hi = c->max > 0 ? comp_cdf(c, c->max) : 1.0;
}

int wlb_dist_check(const struct wlb_dist *d, struct wlb_error *err)
{
	const char *key = "data.distribution.mixture";

	if (d->n < 1 || d->n > WLB_DIST_MAX_COMPONENTS)
		return wlb_error_set(err, WLB_EINVAL, "%s must hold 1 to %d components, got %d",
				     key, WLB_DIST_MAX_COMPONENTS, d->n);
	for (int i = 0; i < d->n; i++) {
		const struct wlb_dist_component *c = &d->c[i];
		double lo, hi;
		const char *bad = NULL;

		if (!(c->weight > 0) || !isfinite(c->weight))
			return wlb_error_set(err, WLB_EINVAL, "%s[%d].weight must be positive, got %g",
					     key, i, c->weight);
		switch (c->kind) {
		case WLB_DIST_LOGNORMAL:
			if (!(c->b > 0) || !isfinite(c->a) || !isfinite(c->b))
				bad = "lognormal.sigma must be positive and mu finite";
			break;
		case WLB_DIST_PARETO:
			if (!(c->a > 0) || !(c->b > 0) || !isfinite(c->a) || !isfinite(c->b))
				bad = "pareto.x0 and pareto.alpha must be positive";
			break;
		case WLB_DIST_UNIFORM:
			if (!(c->a >= 0) || !(c->b > c->a) || !isfinite(c->b))
				bad = "uniform needs 0 <= lo < hi";
			break;
		case WLB_DIST_POINT:
			if (!(c->a >= 1) || c->a > 4294967295.0)
				bad = "point must be a length of at least 1 token";
			break;
		}
		if (bad)
			return wlb_error_set(err, WLB_EINVAL, "%s[%d].%s", key, i, bad);
		if (c->min < 0 || c->max < 0 || (c->max > 0 && c->min > c->max))
			return wlb_error_set(err, WLB_EINVAL, "%s[%d] needs 0 <= min <= max, got min %g max %g",
					     key, i, c->min, c->max);
		comp_range(c, &lo, &hi);
		if (c->kind != WLB_DIST_POINT && !(hi > lo))
			return wlb_error_set(err, WLB_EINVAL,
					     "%s[%d]: truncation to [%g, %g] leaves no probability", key, i,
					     c->min, c->max);
		if (c->kind == WLB_DIST_POINT && ((c->min > 0 && c->a < c->min) || (c->max > 0 && c->a > c->max)))
			return wlb_error_set(err, WLB_EINVAL, "%s[%d]: point %g lies outside [min, max]",
					     key, i, c->a);
	}
	return 0;
}

double wlb_dist_mass_upto(const struct wlb_dist *d, double hi)
{
	double mass = 0, wsum = 0;

	for (int i = 0; i < d->n; i++) {
		const struct wlb_dist_component *c = &d->c[i];
		double lo, top, p;
		comp_range(c, &lo, &top);
		if (c->kind == WLB_DIST_POINT)
			p = c->a <= hi ? 1 : 0;
		else if (top > lo) /* the truncated component's share at or below hi */
			p = ((hi >= c->max && c->max > 0 ? top : comp_cdf(c, hi)) - lo) / (top - lo);
		else
			p = 0;
		mass += c->weight * (p > 0 ? (p < 1 ? p : 1) : 0);
		wsum += c->weight;
	}
	return wsum > 0 ? mass / wsum : 0;
}

/* A ready-to-draw mixture. */
struct sampler {
	gsl_rng *rng;
	gsl_ran_discrete_t *pick;
	const struct wlb_dist *d;
	double lo[WLB_DIST_MAX_COMPONENTS], hi[WLB_DIST_MAX_COMPONENTS];
};

static int sampler_init(struct sampler *s, const struct wlb_dist *d, uint64_t seed,
			struct wlb_error *err)
{
	double w[WLB_DIST_MAX_COMPONENTS];
	int rc = wlb_dist_check(d, err);

	if (rc)
		return rc;
	memset(s, 0, sizeof *s);
	s->d = d;
	for (int i = 0; i < d->n; i++) {
		w[i] = d->c[i].weight;
		comp_range(&d->c[i], &s->lo[i], &s->hi[i]);
	}
	s->rng = gsl_rng_alloc(gsl_rng_mt19937);
	s->pick = gsl_ran_discrete_preproc((size_t)d->n, w);
	if (!s->rng || !s->pick) {
		gsl_rng_free(s->rng);
		gsl_ran_discrete_free(s->pick);
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	}
	/* mt19937 takes an unsigned long seed; fold the high half in */
	gsl_rng_set(s->rng, (unsigned long)(seed ^ (seed >> 32)));
	return 0;
}

static void sampler_free(struct sampler *s)
{
	gsl_rng_free(s->rng);
	gsl_ran_discrete_free(s->pick);
}

static uint32_t sampler_draw(struct sampler *s)
{
	size_t k = gsl_ran_discrete(s->rng, s->pick);
	const struct wlb_dist_component *c = &s->d->c[k];
	double u = s->lo[k] + (s->hi[k] - s->lo[k]) * gsl_rng_uniform(s->rng);
	double x = comp_inv(c, u);

	if (!(x >= 1)) /* also catches NaN from a Pinv at its edge */
		x = c->min > 1 ? c->min : 1;
	if (c->max > 0 && x > c->max)
		x = c->max;
	if (x > 4294967295.0)
		x = 4294967295.0;
	return (uint32_t)llround(x) ? (uint32_t)llround(x) : 1;
}

int wlb_dist_sample_n(const struct wlb_dist *d, uint64_t seed, uint32_t *out, size_t n,
		      struct wlb_error *err)
{
	struct sampler s;
	int rc = sampler_init(&s, d, seed, err);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		out[i] = sampler_draw(&s);
	sampler_free(&s);
	return 0;
}

/* ---- lengths files ---- */

int wlb_lengths_read(const char *path, uint32_t **lens, size_t *n, struct wlb_error *err)
{
	FILE *f = wlb_infile_open(path, "lengths file", err);
	char *buf = NULL;
	uint32_t *v = NULL;
	size_t cap = 0, cnt = 0, size = 0, line_at = 0;
	long line = 1;
	int rc = 0;

	*lens = NULL;
	*n = 0;
	if (!f)
		return err ? err->code : WLB_EIO;
	/* a Megatron-LM index (by its name or its magic) has a reader of its own */
	if (wlb_midx_is(path, fileno(f))) {
		fclose(f);
		return wlb_midx_read(path, lens, n, err);
	}
	/* slurp: one pass over one buffer is what makes 1M lines take milliseconds;
	 * a regular file's size is the first guess (1 MiB for /proc files) */
	struct stat st = {0};
	(void)fstat(fileno(f), &st);
	size_t first = S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < WLB_LENGTHS_MAX_BYTES
			       ? (size_t)st.st_size + 1 : 1 << 20;
	for (;;) {
		size_t want = size ? size * 2 : first, from = size;
		if (size >= WLB_LENGTHS_MAX_BYTES) {
			rc = wlb_error_set(err, WLB_ERANGE, "%s: larger than %lld bytes, the most a lengths "
					   "file may hold (one length a line)", path, (long long)WLB_LENGTHS_MAX_BYTES);
			goto done;
		}
		char *nb = realloc(buf, want + 1);
		if (!nb) {
			rc = wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
			goto done;
		}
		buf = nb;
		size += fread(buf + size, 1, want - size, f);
		/* lines are measured as they arrive: a 100 MB line is refused at
		 * its first megabytes */
		for (char *q = buf + from, *nl; (nl = memchr(q, '\n', (size_t)(buf + size - q)));
		     q = nl + 1, line++) {
			if ((size_t)(nl - buf) - line_at > WLB_LINE_MAX)
				break;
			line_at = (size_t)(nl - buf) + 1;
		}
		if (size - line_at > WLB_LINE_MAX) {
			rc = wlb_error_set(err, WLB_ERANGE, "%s:%ld: line longer than %d bytes, the most "
					   "a line may hold", path, line, WLB_LINE_MAX);
			goto done;
		}
		if (size < want)
			break;
	}
	line = 1;
	if (ferror(f)) {
		rc = wlb_error_set(err, WLB_EIO, "%s: read error: %s", path, strerror(errno));
		goto done;
	}
	buf[size] = '\0';
	for (char *p = buf, *end = buf + size; p < end; line++) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		char *q = p;
		uint64_t x = 0;

		if (!eol)
			eol = end;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q == eol || *q == '#' || (*q == '\r' && q + 1 == eol)) {
			p = eol + 1;
			continue;
		}
		char *digits = q;
		while (q < eol && *q >= '0' && *q <= '9' && x <= 0xffffffffu)
			x = x * 10 + (uint64_t)(*q++ - '0');
		while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q != eol || q == digits || x == 0 || x > 0xffffffffu) {
			int w = (int)(eol - p > 40 ? 40 : eol - p);
			rc = wlb_error_set(err, WLB_EINVAL,
					   "%s:%ld: expected a positive document length in tokens, got \"%.*s\"",
					   path, line, w, p);
			goto done;
		}
		if (cnt == WLB_MAX_DOCUMENTS) {
			rc = wlb_error_set(err, WLB_ERANGE, "%s:%ld: more than %d document lengths, the "
					   "most a trace may hold", path, line, WLB_MAX_DOCUMENTS);
			goto done;
		}
		if (cnt == cap && WLB_GROW(v, cap, cnt + 1)) {
			rc = wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
			goto done;
		}
		v[cnt++] = (uint32_t)x;
		p = eol + 1;
	}
	if (cnt == 0) {
		rc = wlb_error_set(err, WLB_EINVAL, "%s: no document lengths in the file", path);
		goto done;
	}
	*lens = v;
	*n = cnt;
	v = NULL;
done:
	free(v);
	free(buf);
	fclose(f);
	return rc;
}

void wlb_source_free(struct wlb_source *s)
{
	free(s->lens);
	free(s->batch_start);
	s->lens = NULL;
	s->batch_start = NULL;
	s->n_lens = s->n_batches = 0;
}

/* ---- the stream ---- */

struct wlb_stream {
	const struct wlb_source *src;
	struct sampler sampler;
	int has_sampler;
	uint32_t context;
	uint64_t budget;        /* tokens per global batch (budgeted sources) */
	size_t pos;             /* next length to read (finite sources) */
	uint64_t doc_left;      /* tokens of the current document not yet in a piece */
	uint32_t piece_left;    /* tokens of the current context piece not yet handed out */
	uint32_t next_id;
	uint32_t batches;
	uint64_t tokens;
	uint64_t docs_read;     /* documents read so far (the current one included) */
	uint64_t doc_off;       /* tokens of the current document handed out */
	struct wlb_doc *buf;
	size_t cap;
};

int wlb_stream_create(struct wlb_stream **out, const struct wlb_source *src,
		      uint32_t context, uint64_t tokens_per_batch, struct wlb_error *err)
{
	struct wlb_stream *s;
	int rc;

	*out = NULL;
	if (context < 1 || tokens_per_batch < 1)
		return wlb_error_set(err, WLB_EINVAL, "context and tokens per batch must be positive");
	s = calloc(1, sizeof *s);
	if (!s)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	s->src = src;
	s->context = context;
	s->budget = tokens_per_batch;
	if (src->kind == WLB_SOURCE_DIST) {
		rc = sampler_init(&s->sampler, &src->dist, src->seed, err);
		if (rc) {
			free(s);
			return rc;
		}
		s->has_sampler = 1;
	}
	*out = s;
	return 0;
}

void wlb_stream_destroy(struct wlb_stream *s)
{
	if (!s)
		return;
	if (s->has_sampler)
		sampler_free(&s->sampler);
	free(s->buf);
	free(s);
}

uint32_t wlb_stream_batches(const struct wlb_stream *s)
{
	return s->batches;
}

uint64_t wlb_stream_tokens(const struct wlb_stream *s)
{
	return s->tokens;
}

static int push(struct wlb_stream *s, size_t *n, uint32_t len)
{
	if (WLB_GROW(s->buf, s->cap, *n + 1))
		return WLB_ENOMEM;
	s->buf[*n] = (struct wlb_doc){s->next_id++, len, s->batches};
	if (s->src->on_piece)
		s->src->on_piece(s->src->piece_ctx, &s->buf[*n], s->docs_read - 1, s->doc_off);
	s->doc_off += len;
	(*n)++;
	s->tokens += len;
	return 0;
}

/* Reads the next document of a budgeted source into doc_left; 0 at the end. */
static int read_doc(struct wlb_stream *s)
{
	uint32_t len;

	if (s->src->kind == WLB_SOURCE_DIST) {
		len = sampler_draw(&s->sampler);
	} else if (s->src->kind == WLB_SOURCE_CALLBACK) {
		if (!s->src->read(s->src->read_ctx, &len))
			return 0;
	} else {
		if (s->pos >= s->src->n_lens)
			return 0;
		len = s->src->lens[s->pos++];
	}
	s->doc_left = len;
	s->docs_read++;
	s->doc_off = 0;
	return 1;
}

size_t wlb_stream_next(struct wlb_stream *s, const struct wlb_doc **docs)
{
	size_t n = 0;

	*docs = NULL;
	if (s->src->kind == WLB_SOURCE_BATCHES) {
		if (s->batches >= s->src->n_batches)
			return 0;
		for (size_t i = s->src->batch_start[s->batches]; i < s->src->batch_start[s->batches + 1]; i++) {
			s->docs_read++;
			s->doc_off = 0;
			for (uint64_t left = s->src->lens[i]; left > 0;) {
				uint32_t piece = left < s->context ? (uint32_t)left : s->context;
				if (push(s, &n, piece))
					return 0;
				left -= piece;
			}
		}
	} else {
		uint64_t fill = 0;
		while (fill < s->budget) {
			if (s->piece_left == 0) {
				if (s->doc_left == 0 && !read_doc(s))
					break;
				s->piece_left = s->doc_left < s->context ? (uint32_t)s->doc_left : s->context;
				s->doc_left -= s->piece_left;
			}
			/* a piece crossing the batch boundary is cut there */
			uint32_t take = s->piece_left;
			if (take > s->budget - fill)
				take = (uint32_t)(s->budget - fill);
			if (push(s, &n, take))
				return 0;
			s->piece_left -= take;
			fill += take;
		}
	}
	if (n == 0)
		return 0;
	s->batches++;
	*docs = s->buf;
	return n;
}

uint64_t wlb_stream_held_tokens(const struct wlb_stream *s)
{
	return s->doc_left + s->piece_left;
}

int wlb_stream_save(const struct wlb_stream *s, struct wlb_blob *b, struct wlb_error *err)
{
	if (s->src->kind == WLB_SOURCE_DIST)
		return wlb_error_set(err, WLB_EINVAL, "a stream over a distribution cannot be saved");
	wlb_blob_u64(b, s->pos);
	wlb_blob_u64(b, s->doc_left);
	wlb_blob_u32(b, s->piece_left);
	wlb_blob_u32(b, s->next_id);
	wlb_blob_u32(b, s->batches);
	wlb_blob_u64(b, s->tokens);
	wlb_blob_u64(b, s->docs_read);
	wlb_blob_u64(b, s->doc_off);
	return b->oom ? wlb_error_set(err, WLB_ENOMEM, "out of memory") : 0;
}

int wlb_stream_load(struct wlb_stream *s, struct wlb_rblob *r, struct wlb_error *err)
{
	if (s->src->kind == WLB_SOURCE_DIST)
		return wlb_error_set(err, WLB_EINVAL, "a stream over a distribution cannot be restored");
	s->pos = (size_t)wlb_rblob_u64(r);
	s->doc_left = wlb_rblob_u64(r);
	s->piece_left = wlb_rblob_u32(r);
	s->next_id = wlb_rblob_u32(r);
	s->batches = wlb_rblob_u32(r);
	s->tokens = wlb_rblob_u64(r);
	s->docs_read = wlb_rblob_u64(r);
	s->doc_off = wlb_rblob_u64(r);
	if (r->bad || s->pos > s->src->n_lens || s->piece_left > s->context)
		return wlb_error_set(err, WLB_EINVAL, "saved stream state is truncated or inconsistent");
	return 0;
}

int wlb_source_collect(const struct wlb_source *src, uint64_t max_tokens, uint32_t **lens,
		       size_t *n, struct wlb_error *err)
{
	struct sampler smp;
	uint32_t *v = NULL;
	size_t cnt = 0, cap = 0;
	uint64_t total = 0;
	int rc;

	*lens = NULL;
	*n = 0;
	if (src->kind != WLB_SOURCE_DIST) {
		v = malloc((src->n_lens ? src->n_lens : 1) * sizeof *v);
		if (!v)
			return wlb_error_set(err, WLB_ENOMEM, "out of memory");
		for (; cnt < src->n_lens && (max_tokens == 0 || total < max_tokens); cnt++)
			total += (v[cnt] = src->lens[cnt]);
		*lens = v;
		*n = cnt;
		return 0;
	}
	if (max_tokens == 0)
		return wlb_error_set(err, WLB_EINVAL, "a distribution needs a token count to sample");
	rc = sampler_init(&smp, &src->dist, src->seed, err);
	if (rc)
		return rc;
	while (total < max_tokens) {
		if (WLB_GROW(v, cap, cnt + 1)) {
			free(v);
			sampler_free(&smp);
			return wlb_error_set(err, WLB_ENOMEM, "out of memory");
		}
		total += (v[cnt++] = sampler_draw(&smp));
	}
	sampler_free(&smp);
	*lens = v;
	*n = cnt;
	return 0;
}
