/* api_loader.c — the public streaming packer (wlb.h): pushed documents feed a
 * stream over a callback source, and the packers of pack.h run on it
 * unchanged, so an iteration is exactly what `wlb-trace pack` makes of the
 * same documents.  Each piece's origin (document id, offset) is recorded as
 * the stream cuts it and dropped once the piece is emitted. */
#define _GNU_SOURCE /* dladdr: the cost DB beside the library */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "blob.h"
#include "cost.h"
#include "grow.h"
#include "pack.h"
#include "packrun.h"
#include "trace.h"
#include "wlb.h"

_Static_assert(WLB_MAX_QUEUES == sizeof ((struct wlb_loader_config *)0)->thresholds /
	       sizeof(uint32_t), "wlb.h's thresholds hold WLB_MAX_QUEUES");

#define STATE_MAGIC "WLBSTATE"
#define STATE_VERSION 1u

struct pushed { uint64_t id; uint32_t len; };
/* A piece as the stream cut it; concat may emit it in parts (a sequence
 * boundary cuts it again), each part starting `used` tokens in. */
struct origin { uint64_t doc, offset; uint32_t len, used; };

struct wlb_loader {
	struct wlb_trace t;            /* model, gpu, parallel, context, policy */
	char workload[8], costdb[4096];
	struct wlb_cost *cost;
	struct wlb_workload work;
	struct wlb_pack_params params;
	struct wlb_packer *pk;
	struct wlb_stream *st;
	struct wlb_packed packed;
	uint64_t budget;               /* tokens per global batch */
	int finished;
	/* pushed, not yet read by the stream: q[q_head .. q_head + q_n) */
	struct pushed *q;
	size_t q_head, q_n, q_cap;
	uint64_t q_tokens;
	uint64_t cur_id;               /* the document the stream is cutting */
	/* origins of pieces org_base .. org_base + org_n - 1, at org[org_head ..) */
	struct origin *org;
	size_t org_head, org_n, org_cap;
	uint32_t org_base;
	int oom;                       /* the piece hook could not record */
	/* the iteration handed out */
	struct wlb_span *spans;
	size_t *mb_start;
	size_t cap_spans, cap_mb;
	struct wlb_error err;
};

const char *wlb_version(void)
{
	return WLB_VERSION;
}

void wlb_free(void *p)
{
	free(p);
}

void wlb_loader_config_init(struct wlb_loader_config *c)
{
	memset(c, 0, sizeof *c);
	c->packing = "wlb";
	c->n_thresholds = -1;
}

const char *wlb_loader_error(const wlb_loader *l)
{
	return l ? l->err.msg : "no loader";
}

static int read_pushed(void *ctx, uint32_t *len)
{
	struct wlb_loader *l = ctx;
	if (l->q_n == 0)
		return 0;
	l->cur_id = l->q[l->q_head].id;
	*len = l->q[l->q_head].len;
	l->q_tokens -= *len;
	l->q_head++;
	l->q_n--;
	return 1;
}

static void on_piece(void *ctx, const struct wlb_doc *piece, uint64_t doc, uint64_t offset)
{
	struct wlb_loader *l = ctx;
	(void)doc;
	if (l->org_head > 0 && l->org_head + l->org_n == l->org_cap) {
		memmove(l->org, l->org + l->org_head, l->org_n * sizeof *l->org);
		l->org_head = 0;
	}
	if (piece->id != (uint32_t)(l->org_base + l->org_n) ||
	    WLB_GROW(l->org, l->org_cap, l->org_head + l->org_n + 1)) {
		l->oom = 1;
		return;
	}
	l->org[l->org_head + l->org_n++] = (struct origin){l->cur_id, offset, piece->len, 0};
}

/* The cost DB of gpu: $WLB_COSTDB_DIR, beside this library (the build tree,
 * or an installed lib/'s ../share/wlb), then where the commands look. */
static int find_costdb(const char *gpu, char *out, size_t n, struct wlb_error *err)
{
	const char *env = getenv("WLB_COSTDB_DIR");
	Dl_info info;

	static const char here; /* an address inside this library */

	if (!(env && *env) && dladdr(&here, &info) && info.dli_fname) {
		char dir[2048];
		snprintf(dir, sizeof dir, "%s", info.dli_fname);
		char *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			snprintf(out, n, "%s/costdb/%s.db", dir, gpu);
			if (access(out, R_OK) == 0)
				return 0;
			snprintf(out, n, "%s/../share/wlb/costdb/%s.db", dir, gpu);
			if (access(out, R_OK) == 0)
				return 0;
		}
	}
	return wlb_cost_find_db(gpu, out, n, err);
}

static void copy_name(char *dst, size_t n, const char *src, const char *dflt)
{
	snprintf(dst, n, "%s", src ? src : dflt);
}

/* Builds everything from the resolved configuration in l->t, l->workload, l->costdb. */
static int setup(struct wlb_loader *l)
{
	struct wlb_error *e = &l->err;
	int rc;

	wlb_gsl_quiet();
	if (l->t.context < 1 || l->t.parallel.dp < 1 || l->t.parallel.microbatches < 1)
		return wlb_error_set(e, WLB_EINVAL, "context, dp and microbatches must be positive");
	wlb_policy_defaults(&l->t.policy, l->t.context);
	if ((rc = wlb_config_check(&l->t, e)))
		return rc;
	if (!strcmp(l->workload, "cost")) {
		char path[4096];
		if (!l->costdb[0] && (rc = find_costdb(l->t.gpu, path, sizeof path, e)))
			return rc;
		if ((rc = wlb_cost_load(&l->cost, l->costdb[0] ? l->costdb : path, e)))
			return rc;
		wlb_workload_cost(&l->work, l->cost, &l->t.model, &l->t.parallel, l->t.context);
	} else if (!strcmp(l->workload, "flops")) {
		wlb_workload_flops(&l->work, &l->t.model);
	} else {
		return wlb_error_set(e, WLB_EINVAL, "workload must be \"flops\" or \"cost\", got \"%s\"",
				     l->workload);
	}
	wlb_pack_params_from_trace(&l->t, &l->work, &l->params);
	if ((rc = wlb_packer_create(&l->pk, l->t.policy.packing, &l->params, e)))
		return rc;
	l->t.source = (struct wlb_source){.kind = WLB_SOURCE_CALLBACK, .read = read_pushed,
					  .read_ctx = l, .on_piece = on_piece, .piece_ctx = l};
	l->budget = (uint64_t)l->params.dp * (uint64_t)l->params.m * l->params.context;
	return wlb_stream_create(&l->st, &l->t.source, l->t.context, l->budget, e);
}

static void fail_out(const struct wlb_loader *l, const char *msg, char *errbuf, size_t errlen)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", l ? l->err.msg : msg);
}

int wlb_loader_create(wlb_loader **out, const struct wlb_loader_config *c, char *errbuf,
		      size_t errlen)
{
	struct wlb_loader *l;
	struct wlb_policy *pol;
	int rc;

	*out = NULL;
	if (!c) {
		fail_out(NULL, "no configuration", errbuf, errlen);
		return WLB_EINVAL;
	}
	if (!(l = calloc(1, sizeof *l))) {
		fail_out(NULL, "out of memory", errbuf, errlen);
		return WLB_ENOMEM;
	}
	wlb_trace_init(&l->t);
	pol = &l->t.policy;
	if (c->n_thresholds < -1 || c->n_thresholds > 8) {
		rc = wlb_error_set(&l->err, WLB_EINVAL, "n_thresholds must be -1 (default) or 0 to 8, "
				   "got %d", c->n_thresholds);
		goto fail;
	}
	if ((rc = wlb_model_preset(c->model ? c->model : "llama2-7b", &l->t.model, &l->err)))
		goto fail;
	copy_name(l->t.gpu, sizeof l->t.gpu, c->gpu, "h100-sxm");
	copy_name(pol->packing, sizeof pol->packing, c->packing, "wlb");
	copy_name(pol->doc_order, sizeof pol->doc_order, c->doc_order, "");
	copy_name(l->workload, sizeof l->workload, c->workload, "flops");
	copy_name(l->costdb, sizeof l->costdb, c->costdb, "");
	l->t.context = c->context;
	l->t.parallel.dp = c->dp;
	l->t.parallel.microbatches = c->microbatches;
	l->t.parallel.tp = c->tp ? c->tp : 1;
	l->t.parallel.cp = c->cp ? c->cp : 1;
	pol->s_max = c->s_max;
	pol->window = c->window;
	pol->n_thresholds = c->n_thresholds;
	for (int i = 0; i < c->n_thresholds; i++)
		pol->thresholds[i] = c->thresholds[i];
	if ((rc = setup(l)))
		goto fail;
	*out = l;
	return 0;
fail:
	fail_out(l, NULL, errbuf, errlen);
	wlb_loader_destroy(l);
	return rc;
}

void wlb_loader_destroy(wlb_loader *l)
{
	if (!l)
		return;
	wlb_packer_destroy(l->pk);
	wlb_stream_destroy(l->st);
	wlb_packed_free(&l->packed);
	wlb_cost_destroy(l->cost);
	free(l->q);
	free(l->org);
	free(l->spans);
	free(l->mb_start);
	free(l);
}

int wlb_loader_push(wlb_loader *l, uint64_t doc_id, uint64_t length)
{
	if (l->finished)
		return wlb_error_set(&l->err, WLB_EINVAL, "push after finish");
	if (length < 1 || length > UINT32_MAX)
		return wlb_error_set(&l->err, WLB_ERANGE, "document %llu: length must be 1 to %u tokens, "
				     "got %llu", (unsigned long long)doc_id, UINT32_MAX,
				     (unsigned long long)length);
	if (l->q_head > 0 && l->q_head + l->q_n == l->q_cap) {
		memmove(l->q, l->q + l->q_head, l->q_n * sizeof *l->q);
		l->q_head = 0;
	}
	if (WLB_GROW(l->q, l->q_cap, l->q_head + l->q_n + 1))
		return wlb_error_set(&l->err, WLB_ENOMEM, "out of memory");
	l->q[l->q_head + l->q_n++] = (struct pushed){doc_id, (uint32_t)length};
	l->q_tokens += length;
	return 0;
}

int wlb_loader_finish(wlb_loader *l)
{
	l->finished = 1;
	return 0;
}

uint64_t wlb_loader_buffered_tokens(const wlb_loader *l)
{
	return l->q_tokens + wlb_stream_held_tokens(l->st);
}

/* The packed iteration as spans; emitted pieces' origins are dropped. */
static int to_spans(struct wlb_loader *l, struct wlb_iteration *it)
{
	const struct wlb_packed *p = &l->packed;

	if (WLB_GROW(l->spans, l->cap_spans, p->n_docs + 1) ||
	    WLB_GROW(l->mb_start, l->cap_mb, (size_t)p->n_mb + 1))
		return wlb_error_set(&l->err, WLB_ENOMEM, "out of memory");
	size_t at = 0;
	for (uint32_t b = 0; b < p->n_mb; b++) {
		l->mb_start[b] = at;
		for (uint32_t k = 0; k < p->mb[b].n; k++) {
			const struct wlb_doc *d = &p->docs[p->mb[b].first + k];
			uint32_t rel = d->id - l->org_base;
			struct origin *o = rel < l->org_n ? &l->org[l->org_head + rel] : NULL;
			if (!o || d->len > o->len - o->used)
				return wlb_error_set(&l->err, WLB_EINVAL, "internal: piece %u has no origin",
						     d->id);
			l->spans[at++] = (struct wlb_span){o->doc, o->offset + o->used, d->len};
			o->used += d->len;
		}
	}
	l->mb_start[p->n_mb] = at;
	while (l->org_n > 0 && l->org[l->org_head].used == l->org[l->org_head].len) {
		l->org_head++;
		l->org_n--;
		l->org_base++;
	}
	*it = (struct wlb_iteration){p->iter, p->n_mb, l->mb_start, l->spans, at};
	return 1;
}

int wlb_loader_next(wlb_loader *l, struct wlb_iteration *it)
{
	uint64_t need = (uint64_t)wlb_packer_batches_needed(l->pk) * l->budget;
	int rc;

	memset(it, 0, sizeof *it);
	if (!l->finished && wlb_loader_buffered_tokens(l) < need)
		return 0;
	rc = wlb_packer_next(l->pk, l->st, &l->packed, &l->err);
	if (l->oom)
		return wlb_error_set(&l->err, WLB_ENOMEM, "out of memory");
	if (rc <= 0)
		return rc;
	return to_spans(l, it);
}

/* ---- saved state ---- */

static void put_str(struct wlb_blob *b, const char *s)
{
	wlb_blob_u32(b, (uint32_t)strlen(s));
	wlb_blob_bytes(b, s, strlen(s));
}

static void get_str(struct wlb_rblob *r, char *s, size_t n)
{
	uint32_t len = wlb_rblob_u32(r);
	if (len >= n) {
		r->bad = 1;
		len = 0;
	}
	wlb_rblob_bytes(r, s, len);
	s[len] = '\0';
}

int wlb_loader_save(wlb_loader *l, void **blob, size_t *len)
{
	struct wlb_blob b = {0};
	const struct wlb_policy *pol = &l->t.policy;
	int rc;

	*blob = NULL;
	*len = 0;
	wlb_blob_bytes(&b, STATE_MAGIC, 8);
	wlb_blob_u32(&b, STATE_VERSION);
	/* the resolved configuration */
	put_str(&b, l->t.model.name);
	put_str(&b, l->t.gpu);
	put_str(&b, pol->packing);
	put_str(&b, pol->doc_order);
	put_str(&b, l->workload);
	put_str(&b, l->costdb);
	wlb_blob_u32(&b, l->t.context);
	wlb_blob_u32(&b, (uint32_t)l->t.parallel.dp);
	wlb_blob_u32(&b, (uint32_t)l->t.parallel.microbatches);
	wlb_blob_u32(&b, (uint32_t)l->t.parallel.tp);
	wlb_blob_u32(&b, (uint32_t)l->t.parallel.cp);
	wlb_blob_u32(&b, pol->s_max);
	wlb_blob_u32(&b, pol->window);
	wlb_blob_u32(&b, (uint32_t)pol->n_thresholds);
	for (int i = 0; i < pol->n_thresholds; i++)
		wlb_blob_u32(&b, pol->thresholds[i]);
	/* where the data stands */
	wlb_blob_u32(&b, (uint32_t)l->finished);
	wlb_blob_u64(&b, l->cur_id);
	wlb_blob_u64(&b, l->q_n);
	for (size_t i = 0; i < l->q_n; i++) {
		wlb_blob_u64(&b, l->q[l->q_head + i].id);
		wlb_blob_u32(&b, l->q[l->q_head + i].len);
	}
	wlb_blob_u32(&b, l->org_base);
	wlb_blob_u64(&b, l->org_n);
	for (size_t i = 0; i < l->org_n; i++) {
		const struct origin *o = &l->org[l->org_head + i];
		wlb_blob_u64(&b, o->doc);
		wlb_blob_u64(&b, o->offset);
		wlb_blob_u32(&b, o->len);
		wlb_blob_u32(&b, o->used);
	}
	if ((rc = wlb_stream_save(l->st, &b, &l->err)) || (rc = wlb_packer_save(l->pk, &b, &l->err))) {
		wlb_blob_free(&b);
		return rc;
	}
	if (b.oom) {
		wlb_blob_free(&b);
		return wlb_error_set(&l->err, WLB_ENOMEM, "out of memory");
	}
	*blob = b.b;
	*len = b.n;
	return 0;
}

/* The configuration part of a blob into l (wlb_trace_init'ed). */
static int read_config(struct wlb_loader *l, struct wlb_rblob *r)
{
	struct wlb_policy *pol = &l->t.policy;
	char magic[8], model[64];
	int rc;

	wlb_rblob_bytes(r, magic, 8);
	if (r->bad || memcmp(magic, STATE_MAGIC, 8))
		return wlb_error_set(&l->err, WLB_EINVAL, "not a wlb loader state (bad magic)");
	uint32_t v = wlb_rblob_u32(r);
	if (v != STATE_VERSION)
		return wlb_error_set(&l->err, WLB_EINVAL, "loader state version %u; this library "
				     "reads version %u", v, STATE_VERSION);
	get_str(r, model, sizeof model);
	get_str(r, l->t.gpu, sizeof l->t.gpu);
	get_str(r, pol->packing, sizeof pol->packing);
	get_str(r, pol->doc_order, sizeof pol->doc_order);
	get_str(r, l->workload, sizeof l->workload);
	get_str(r, l->costdb, sizeof l->costdb);
	l->t.context = wlb_rblob_u32(r);
	l->t.parallel.dp = (int)wlb_rblob_u32(r);
	l->t.parallel.microbatches = (int)wlb_rblob_u32(r);
	l->t.parallel.tp = (int)wlb_rblob_u32(r);
	l->t.parallel.cp = (int)wlb_rblob_u32(r);
	pol->s_max = wlb_rblob_u32(r);
	pol->window = wlb_rblob_u32(r);
	pol->n_thresholds = (int)wlb_rblob_u32(r);
	if (r->bad || pol->n_thresholds < 0 || pol->n_thresholds > WLB_MAX_QUEUES)
		return wlb_error_set(&l->err, WLB_EINVAL, "loader state: truncated configuration");
	for (int i = 0; i < pol->n_thresholds; i++)
		pol->thresholds[i] = wlb_rblob_u32(r);
	if ((rc = wlb_model_preset(model, &l->t.model, &l->err)))
		return rc;
	return setup(l);
}

static int read_data(struct wlb_loader *l, struct wlb_rblob *r)
{
	l->finished = (int)wlb_rblob_u32(r);
	l->cur_id = wlb_rblob_u64(r);
	uint64_t n = wlb_rblob_u64(r);
	if (r->bad || n > (r->n - r->at) / 12 || WLB_GROW(l->q, l->q_cap, (size_t)n + 1))
		return WLB_EINVAL;
	for (size_t i = 0; i < n; i++) {
		l->q[i].id = wlb_rblob_u64(r);
		l->q[i].len = wlb_rblob_u32(r);
		l->q_tokens += l->q[i].len;
	}
	l->q_n = (size_t)n;
	l->org_base = wlb_rblob_u32(r);
	n = wlb_rblob_u64(r);
	if (r->bad || n > (r->n - r->at) / 24 || WLB_GROW(l->org, l->org_cap, (size_t)n + 1))
		return WLB_EINVAL;
	for (size_t i = 0; i < n; i++) {
		l->org[i].doc = wlb_rblob_u64(r);
		l->org[i].offset = wlb_rblob_u64(r);
		l->org[i].len = wlb_rblob_u32(r);
		l->org[i].used = wlb_rblob_u32(r);
		if (l->org[i].used > l->org[i].len)
			r->bad = 1;
	}
	l->org_n = (size_t)n;
	return r->bad ? WLB_EINVAL : 0;
}

int wlb_loader_restore(wlb_loader **out, const void *blob, size_t len, char *errbuf, size_t errlen)
{
	struct wlb_rblob r = {blob, len, 0, 0};
	struct wlb_loader *l;
	int rc;

	*out = NULL;
	if (!(l = calloc(1, sizeof *l))) {
		fail_out(NULL, "out of memory", errbuf, errlen);
		return WLB_ENOMEM;
	}
	wlb_trace_init(&l->t);
	if ((rc = read_config(l, &r)))
		goto fail;
	if ((rc = read_data(l, &r))) {
		wlb_error_set(&l->err, rc, "loader state: truncated or inconsistent data");
		goto fail;
	}
	if ((rc = wlb_stream_load(l->st, &r, &l->err)) || (rc = wlb_packer_load(l->pk, &r, &l->err)))
		goto fail;
	if (r.at != r.n) {
		rc = wlb_error_set(&l->err, WLB_EINVAL, "loader state: %zu bytes past its end", r.n - r.at);
		goto fail;
	}
	*out = l;
	return 0;
fail:
	fail_out(l, NULL, errbuf, errlen);
	wlb_loader_destroy(l);
	return rc;
}
