/* measure.c — sweeps, resumption and bookkeeping of a measuring run. */
#include "measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "shapes.h"
#include "stop.h"

int wlb_measure_ops_parse(const char *s, unsigned *ops)
{
	static const char *const names[] = {"gemm", "attn", "coll", "p2p"};
	char buf[128], *tok, *save;

	*ops = 0;
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int found = 0;
		for (int i = 0; i < 4; i++)
			if (!strcmp(tok, names[i])) {
				*ops |= 1u << i;
				found = 1;
			}
		if (!found)
			return WLB_EINVAL;
	}
	return *ops ? 0 : WLB_EINVAL;
}

/* ---- the plan ---- */

/* Token counts from 128 up: powers of two and, unless quick, their midpoints. */
static int m_values(int quick, int64_t *m)
{
	int n = 0;
	for (int64_t b = 128; b <= (quick ? 16384 : 131072); b *= 2) {
		m[n++] = b;
		if (!quick && b * 3 / 2 <= 131072)
			m[n++] = b * 3 / 2;
	}
	return n;
}

/* Query lengths, dense around the 128-token tile where FlashAttention's
 * tile effects live. */
static int q_values(int quick, int64_t *q)
{
	static const int64_t full[] = {16, 32, 64, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096,
				       8192, 16384, 32768, 65536, 131072};
	static const int64_t fast[] = {16, 128, 256, 512, 2048, 8192};
	const int64_t *v = quick ? fast : full;
	int n = quick ? (int)(sizeof fast / sizeof *fast) : (int)(sizeof full / sizeof *full);
	memcpy(q, v, (size_t)n * sizeof *q);
	return n;
}

static int64_t kv_max(int quick)
{
	return quick ? 16384 : 131072;
}

/* Sizes of collectives and p2p: 1 KiB to 4 GiB (quick: 256 MiB), doubling. */
static int byte_values(int quick, int64_t *b)
{
	int n = 0;
	for (int64_t x = 1024; x <= (quick ? (256ll << 20) : (4ll << 30)); x *= quick ? 4 : 2)
		b[n++] = x;
	return n;
}

/* ---- what the interrupted run already holds ---- */

struct done {
	const struct wlb_costdb_data *d;
	int64_t run;
};

static int have_gemm(const struct done *dn, int64_t m, int64_t n, int64_t k)
{
	for (size_t i = 0; dn->d && i < dn->d->n_gemm; i++) {
		const struct wlb_gemm_sample *s = &dn->d->gemm[i];
		if (s->run == dn->run && s->m == m && s->n == n && s->k == k)
			return 1;
	}
	return 0;
}

static int have_attn(const struct done *dn, const struct wlb_attn_sample *x)
{
	for (size_t i = 0; dn->d && i < dn->d->n_attn; i++) {
		const struct wlb_attn_sample *s = &dn->d->attn[i];
		if (s->run == dn->run && s->bwd == x->bwd && s->heads == x->heads &&
		    s->kv_heads == x->kv_heads && s->head_dim == x->head_dim && s->q_len == x->q_len &&
		    s->kv_len == x->kv_len)
			return 1;
	}
	return 0;
}

static int have_rows(const struct done *dn, int coll)
{
	if (!dn->d)
		return 0;
	size_t n = coll ? dn->d->n_coll : dn->d->n_p2p;
	for (size_t i = 0; i < n; i++)
		if ((coll ? dn->d->coll[i].run : dn->d->p2p[i].run) == dn->run)
			return 1;
	return 0;
}

/* ---- the run ---- */

struct bar {
	struct wlb_progress prog;
	double t0;
	long planned, at;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void tick(struct bar *b, long measured)
{
	char extra[48];

	b->at++;
	double el = now_s() - b->t0, left = measured ? el / (double)measured * (double)(b->planned - b->at) : 0;
	snprintf(extra, sizeof extra, "shapes, about %.0f s left  ", left);
	wlb_progress_show(&b->prog, (size_t)b->at, (size_t)b->planned, extra);
}

static int commit_one(struct wlb_costdb *db, int (*add)(struct wlb_costdb *, const void *, struct wlb_error *),
		      const void *row, struct wlb_error *err)
{
	int rc = wlb_costdb_begin(db, err);
	if (!rc && !(rc = add(db, row, err)))
		rc = wlb_costdb_commit(db, err);
	if (rc)
		wlb_costdb_rollback(db);
	return rc;
}

static int add_gemm(struct wlb_costdb *db, const void *r, struct wlb_error *e) { return wlb_costdb_add_gemm(db, r, e); }
static int add_attn(struct wlb_costdb *db, const void *r, struct wlb_error *e) { return wlb_costdb_add_attn(db, r, e); }
static int add_coll(struct wlb_costdb *db, const void *r, struct wlb_error *e) { return wlb_costdb_add_coll(db, r, e); }
static int add_p2p(struct wlb_costdb *db, const void *r, struct wlb_error *e) { return wlb_costdb_add_p2p(db, r, e); }

int wlb_measure(const char *path, const struct wlb_device *dev, const struct wlb_run_info *run_tmpl,
		const struct wlb_timer *tm, const struct wlb_measure_opts *o,
		struct wlb_measure_stats *st, struct wlb_error *err)
{
	struct wlb_shape gemm[WLB_MAX_SHAPES], attn[WLB_MAX_SHAPES];
	int64_t ms[64], qs[32], bytes[64];
	int n_gemm, n_attn, n_m = m_values(o->quick, ms), n_q = q_values(o->quick, qs);
	int n_b = byte_values(o->quick, bytes), reps = o->reps ? o->reps : o->quick ? 5 : 20;
	struct wlb_costdb_data data, *have = NULL;
	struct wlb_costdb *db = NULL;
	struct wlb_run_info run = *run_tmpl;
	struct bar bar = {.t0 = now_s()};
	struct done dn = {NULL, 0};
	int rc;

	memset(st, 0, sizeof *st);
	wlb_progress_start(&bar.prog, "profiling", o->quiet);
	if ((rc = wlb_model_shapes(o->model, gemm, &n_gemm, attn, &n_attn, err)))
		return rc;
	/* a run of this host still "measuring" is taken up again */
	if (access(path, F_OK) == 0) {
		if ((rc = wlb_costdb_read(path, &data, err)))
			return rc;
		have = &data;
		for (size_t i = 0; i < data.n_runs; i++)
			if (!strcmp(data.runs[i].flags, "measuring") && !strcmp(data.runs[i].host, run.host)) {
				dn = (struct done){&data, data.runs[i].id};
				st->resumed = 1;
			}
		if (data.has_device && strcmp(data.device.name, dev->name)) {
			rc = wlb_error_set(err, WLB_EINVAL, "%s holds %s, not this %s: write to another DB",
					   path, data.device.name, dev->name);
			goto done;
		}
	}
	if ((rc = wlb_costdb_open(&db, path, err)))
		goto done;
	if (st->resumed) {
		run.id = dn.run;
	} else {
		snprintf(run.flags, sizeof run.flags, "measuring");
		if ((rc = wlb_costdb_begin(db, err)) || (rc = wlb_costdb_put_device(db, dev, err)) ||
		    (rc = wlb_costdb_add_run(db, &run, err)) || (rc = wlb_costdb_commit(db, err))) {
			wlb_costdb_rollback(db);
			goto done;
		}
	}
	st->run = run.id;

	/* the plan's size, for the progress bar */
	long n_attn_pts = 0;
	for (int i = 0; i < n_q; i++)
		for (int64_t kv = qs[i]; kv <= kv_max(o->quick); kv = wlb_kv_next(kv, kv_max(o->quick)))
			n_attn_pts++;
	bar.planned = ((o->ops & WLB_OP_GEMM) ? (long)n_gemm * n_m : 0) +
		      ((o->ops & WLB_OP_ATTN) ? 2L * n_attn * n_attn_pts : 0) +
		      ((o->ops & WLB_OP_COLL) != 0) + ((o->ops & WLB_OP_P2P) != 0);
	st->planned = bar.planned;

	if (o->ops & WLB_OP_GEMM)
		for (int s = 0; s < n_gemm; s++)
			for (int i = 0; i < n_m; i++) {
				struct wlb_gemm_sample x = {run.id, WLB_SRC_MEASURED, ms[i], gemm[s].a, gemm[s].b,
							    "bf16", 0, 0, 0, reps};
				struct wlb_timing t;
				if ((rc = wlb_stop_check(err))) /* SIGINT: what is committed stays */
					goto done;
				if (have_gemm(&dn, x.m, x.n, x.k)) {
					st->skipped++;
					tick(&bar, st->measured);
					continue;
				}
				if ((rc = tm->gemm(tm->ctx, x.m, x.n, x.k, reps, &t, err)))
					goto done;
				x.median_us = t.median_us, x.p10_us = t.p10_us, x.p90_us = t.p90_us;
				if ((rc = commit_one(db, add_gemm, &x, err)))
					goto done;
				st->measured++;
				tick(&bar, st->measured);
			}
	if (o->ops & WLB_OP_ATTN)
		for (int s = 0; s < n_attn; s++)
			for (int bwd = 0; bwd < 2; bwd++)
				for (int i = 0; i < n_q; i++)
					for (int64_t kv = qs[i]; kv <= kv_max(o->quick);
					     kv = wlb_kv_next(kv, kv_max(o->quick))) {
						/* packed as a loader would: about 32K keys per call */
						int pieces = kv >= 32768 ? 1 : (int)(32768 / kv);
						struct wlb_attn_sample x = {run.id, WLB_SRC_MEASURED, bwd, (int)attn[s].a,
									    (int)attn[s].b, (int)attn[s].c, qs[i], kv,
									    pieces, "", 0, 0, 0, reps};
						struct wlb_timing t;
						snprintf(x.kernel, sizeof x.kernel, "%s", tm->kernel);
						if ((rc = wlb_stop_check(err)))
							goto done;
						if (have_attn(&dn, &x)) {
							st->skipped++;
							tick(&bar, st->measured);
							continue;
						}
						if ((rc = tm->attn(tm->ctx, x.q_len, x.kv_len, pieces, bwd, x.heads,
								   x.kv_heads, x.head_dim, reps, &t, err)))
							goto done;
						x.median_us = t.median_us, x.p10_us = t.p10_us, x.p90_us = t.p90_us;
						if ((rc = commit_one(db, add_attn, &x, err)))
							goto done;
						st->measured++;
						tick(&bar, st->measured);
					}
	for (int coll = 1; coll >= 0; coll--) {
		if (!(o->ops & (coll ? WLB_OP_COLL : WLB_OP_P2P)))
			continue;
		if ((rc = wlb_stop_check(err)))
			goto done;
		if (have_rows(&dn, coll)) {
			st->skipped++;
			st->coll_measured |= coll;
			tick(&bar, st->measured);
			continue;
		}
		void *rows = NULL;
		size_t n = 0;
		rc = coll ? tm->coll(tm->ctx, bytes, n_b, reps, (struct wlb_coll_sample **)&rows, &n, err)
			  : tm->p2p(tm->ctx, bytes, n_b, reps, (struct wlb_p2p_sample **)&rows, &n, err);
		/* all sizes of one kind land together: a partial sweep is not kept */
		if (!rc && n && !(rc = wlb_costdb_begin(db, err))) {
			for (size_t i = 0; i < n && !rc; i++) {
				if (coll) {
					struct wlb_coll_sample *c = (struct wlb_coll_sample *)rows + i;
					c->run = run.id;
					c->source = WLB_SRC_MEASURED;
					rc = add_coll(db, c, err);
				} else {
					struct wlb_p2p_sample *c = (struct wlb_p2p_sample *)rows + i;
					c->run = run.id;
					c->source = WLB_SRC_MEASURED;
					rc = add_p2p(db, c, err);
				}
			}
			if (!rc)
				rc = wlb_costdb_commit(db, err);
			else
				wlb_costdb_rollback(db);
		}
		free(rows);
		if (rc)
			goto done;
		if (coll)
			st->coll_measured = n > 0;
		st->measured++;
		tick(&bar, st->measured);
	}
	rc = wlb_costdb_set_run_flags(db, run.id, "measured", err);
done:
	wlb_progress_end(&bar.prog);
	wlb_costdb_close(db);
	if (have)
		wlb_costdb_data_free(have);
	return rc;
}
