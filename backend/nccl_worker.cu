/* nccl_worker.cu — the NCCL worker: one process per GPU, started by
 * nccl_run.cu (fork + exec of the same program, whose main calls
 * wlb_gpu_worker(), which runs wlb_cu_worker_main).  It maps the job file (nccl_int.h), joins
 * the node's communicator and its sub-communicators of 2, 4, 8, and times the
 * collectives or the send/recv as nccl-tests does (out-of-place, warm-up,
 * reps, median: wlb_cu_time_reps), or checks their values; it reports
 * progress, a status line and its timings in the file. */
#include <cuda_runtime.h>
#include <nccl.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nccl_int.h"

/* ---- one NCCL call --------------------------------------------------- */

/* One NCCL call on a stream: a collective, or one side of a send/recv. */
struct coll_call {
	int op;                         /* enum wlb_coll_op */
	int p2p;                        /* 0, or 1 send / 2 receive (peer) */
	int peer, g;
	ncclComm_t comm;
	ncclDataType_t dt;
	size_t count, esz;
	const void *s;
	void *r;
	cudaStream_t st;
};

static int coll_launch(void *ctx, int call, struct wlb_error *err)
{
	struct coll_call *c = (struct coll_call *)ctx;
	const char *sb = (const char *)c->s;
	char *rb = (char *)c->r;
	size_t chunk = c->count * c->esz;
	int rc = 0, p;

	(void)call;
	if (c->p2p == 1) {
		NC(ncclSend(c->s, c->count, c->dt, c->peer, c->comm, c->st), c->comm);
	} else if (c->p2p == 2) {
		NC(ncclRecv(c->r, c->count, c->dt, c->peer, c->comm, c->st), c->comm);
	} else if (c->op == WLB_ALL_REDUCE) {
		NC(ncclAllReduce(c->s, c->r, c->count, c->dt, ncclSum, c->comm, c->st), c->comm);
	} else if (c->op == WLB_ALL_GATHER) {
		NC(ncclAllGather(c->s, c->r, c->count, c->dt, c->comm, c->st), c->comm);
	} else if (c->op == WLB_REDUCE_SCATTER) {
		NC(ncclReduceScatter(c->s, c->r, c->count, c->dt, ncclSum, c->comm, c->st), c->comm);
	} else {
		/* all_to_all: chunk p of the send buffer to peer p, chunk p of the
		 * receive buffer from it, fused in one group */
		NC(ncclGroupStart(), c->comm);
		for (p = 0; p < c->g && !rc; p++) {
			ncclResult_t r = ncclSend(sb + p * chunk, c->count, c->dt, p, c->comm, c->st);
			if (r == ncclSuccess)
				r = ncclRecv(rb + p * chunk, c->count, c->dt, p, c->comm, c->st);
			if (r != ncclSuccess)
				rc = wlb_cu_nccl_fail(err, "ncclSend/ncclRecv", r, c->comm);
		}
		{
			ncclResult_t r = ncclGroupEnd();
			if (r != ncclSuccess && !rc)
				rc = wlb_cu_nccl_fail(err, "ncclGroupEnd", r, c->comm);
		}
	}
out:
	return rc;
}

/* ---- the worker (a child process, one GPU) ---------------------------- */

static void wk_tick(struct wk_rank *r)
{
	__atomic_add_fetch(&r->progress, 1, __ATOMIC_RELAXED);
}

struct wk {
	struct wk_hdr *h;
	int rank;
	cudaStream_t st;
	ncclComm_t world, sub[WK_MAX_GROUPS];
	void *sbuf, *rbuf;
	size_t buf_bytes;
};

static int wk_async_ok(ncclComm_t comm, struct wlb_error *err)
{
	ncclResult_t a = ncclSuccess;
	if (ncclCommGetAsyncError(comm, &a) == ncclSuccess && a != ncclSuccess)
		return wlb_cu_nccl_fail(err, "NCCL", a, comm);
	return 0;
}

static int wk_time_coll(struct wk *w, struct wlb_error *err)
{
	struct wk_hdr *h = w->h;
	struct wlb_timing t;
	struct coll_call c;
	int rc = 0, op, gi, si;

	for (op = 0; op < WLB_COLL_OPS; op++)
		for (gi = 0; gi < h->n_groups; gi++) {
			int g = h->group[gi];
			if (!w->sub[gi])
				continue; /* this GPU is in no group of g */
			for (si = 0; si < h->n_sizes; si++) {
				size_t count = coll_count(op, g, wk_sizes(h)[si]);
				if (!count)
					continue;
				memset(&c, 0, sizeof c);
				c.op = op;
				c.g = g;
				c.comm = w->sub[gi];
				c.dt = ncclBfloat16;
				c.esz = 2;
				c.count = count;
				c.s = w->sbuf;
				c.r = w->rbuf;
				c.st = w->st;
				rc = wlb_cu_time_reps(w->st, WARMUP, 2, h->reps, coll_launch, &c, &t, err);
				if (!rc)
					rc = wk_async_ok(c.comm, err);
				if (rc) {
					wlb_error_prefix(err, "%s over %d GPUs, %lld bytes",
							 wlb_coll_op_name((enum wlb_coll_op)op), g,
							 (long long)coll_bytes(op, g, count));
					return rc;
				}
				if (w->rank % g == 0)
					*wk_res(h, op, gi, si, w->rank / g) = t.median_us;
				wk_tick(&h->rank[w->rank]);
			}
		}
	return 0;
}

/* GPU 0 sends to GPU 1, one direction; both time their side. */
static int wk_time_p2p(struct wk *w, struct wlb_error *err)
{
	struct wk_hdr *h = w->h;
	struct wlb_timing t;
	struct coll_call c;
	int rc = 0, si;

	for (si = 0; si < h->n_sizes; si++) {
		size_t count = (size_t)wk_sizes(h)[si] / 2;
		if (!count)
			continue;
		memset(&c, 0, sizeof c);
		c.p2p = w->rank == 0 ? 1 : 2;
		c.peer = 1 - w->rank;
		c.comm = w->world;
		c.dt = ncclBfloat16;
		c.esz = 2;
		c.count = count;
		c.s = w->sbuf;
		c.r = w->rbuf;
		c.st = w->st;
		rc = wlb_cu_time_reps(w->st, WARMUP, 2, h->reps, coll_launch, &c, &t, err);
		if (!rc)
			rc = wk_async_ok(c.comm, err);
		if (rc) {
			wlb_error_prefix(err, "send/recv of %lld bytes", (long long)count * 2);
			return rc;
		}
		*wk_res(h, 0, 0, si, w->rank) = t.median_us;
		wk_tick(&h->rank[w->rank]);
	}
	return 0;
}

/* Known values, exact in bf16 (small integers whose every partial sum is
 * below 256) and in fp32.  gr is the rank in the group, i the element. */
static double pat_sum(int g, int64_t i)
{
	double s = 0;
	for (int r = 0; r < g; r++)
		s += (double)((r + i) % 4 + 1);
	return s;
}

static double pat_id(int64_t a, int64_t b, int64_t j)
{
	return (double)((a * 5 + b * 3 + j) % 251 + 1);
}

/* Runs op once on known values and compares every element. */
static int wk_check_op(struct wk *w, ncclComm_t comm, int g, int gr, int op, int f32, size_t c,
		       void *hs, void *hr, struct wlb_error *err)
{
	size_t esz = f32 ? 4 : 2, ns = op == WLB_ALL_GATHER ? c : (size_t)g * c;
	size_t nr = op == WLB_REDUCE_SCATTER ? c : (size_t)g * c, i;
	struct coll_call call;
	int rc = 0;

	for (i = 0; i < ns; i++) {
		double v;
		if (op == WLB_ALL_REDUCE && f32)
			v = (double)((gr * 7 + (int64_t)i) % 1000);
		else if (op == WLB_ALL_REDUCE || op == WLB_REDUCE_SCATTER)
			v = (double)((gr + (int64_t)i) % 4 + 1);
		else if (op == WLB_ALL_GATHER)
			v = pat_id(gr, 0, (int64_t)i);
		else /* all_to_all: chunk p goes to peer p */
			v = pat_id(gr, (int64_t)(i / c), (int64_t)(i % c));
		if (f32)
			((float *)hs)[i] = (float)v;
		else
			((uint16_t *)hs)[i] = wlb_cu_float_to_bf16((float)v);
	}
	CU(cudaMemcpy(w->sbuf, hs, ns * esz, cudaMemcpyHostToDevice));
	CU(cudaMemset(w->rbuf, 0xff, nr * esz)); /* NaN: an element never written shows */
	memset(&call, 0, sizeof call);
	call.op = op;
	call.g = g;
	call.comm = comm;
	call.dt = f32 ? ncclFloat32 : ncclBfloat16;
	call.esz = esz;
	call.count = op == WLB_ALL_REDUCE ? (size_t)g * c : c;
	call.s = w->sbuf;
	call.r = w->rbuf;
	call.st = w->st;
	TRY(coll_launch(&call, 0, err));
	CU(cudaStreamSynchronize(w->st));
	TRY(wk_async_ok(comm, err));
	CU(cudaMemcpy(hr, w->rbuf, nr * esz, cudaMemcpyDeviceToHost));
	for (i = 0; i < nr; i++) {
		double want, got = f32 ? ((float *)hr)[i] : wlb_cu_bf16_to_float(((uint16_t *)hr)[i]);
		if (op == WLB_ALL_REDUCE && f32) {
			want = 0;
			for (int r = 0; r < g; r++)
				want += (double)((r * 7 + (int64_t)i) % 1000);
		} else if (op == WLB_ALL_REDUCE) {
			want = pat_sum(g, (int64_t)i);
		} else if (op == WLB_REDUCE_SCATTER) {
			want = pat_sum(g, (int64_t)((size_t)gr * c + i));
		} else if (op == WLB_ALL_GATHER) {
			want = pat_id((int64_t)(i / c), 0, (int64_t)(i % c));
		} else {
			want = pat_id((int64_t)(i / c), gr, (int64_t)(i % c));
		}
		if (!(got == want)) {
			rc = wlb_error_set(err, WLB_EIO, "%s (%s) over %d GPUs, %zu elements per rank: "
					   "element %zu is %g, expected %g",
					   wlb_coll_op_name((enum wlb_coll_op)op), f32 ? "fp32" : "bf16",
					   g, c, i, got, want);
			goto out;
		}
	}
out:
	return rc;
}

static int wk_check(struct wk *w, struct wlb_error *err)
{
	static const size_t counts[] = {1, 4099, 262147};
	struct wk_hdr *h = w->h;
	void *hs = NULL, *hr = NULL;
	int rc = 0, gi, op;

	hs = malloc(w->buf_bytes);
	hr = malloc(w->buf_bytes);
	if (!hs || !hr) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	/* gi == n_groups: the whole node */
	for (gi = 0; gi <= h->n_groups; gi++) {
		ncclComm_t comm = gi < h->n_groups ? w->sub[gi] : w->world;
		int g = gi < h->n_groups ? h->group[gi] : h->nranks;
		if (!comm)
			continue;
		for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
			for (op = 0; op < WLB_COLL_OPS; op++)
				TRY(wk_check_op(w, comm, g, w->rank % g, op, 0, counts[ci], hs, hr, err));
			TRY(wk_check_op(w, comm, g, w->rank % g, WLB_ALL_REDUCE, 1, counts[ci], hs, hr, err));
			wk_tick(&h->rank[w->rank]);
		}
	}
out:
	free(hs);
	free(hr);
	return rc;
}

static int wk_run(struct wk_hdr *h, int rank, struct wlb_error *err)
{
	struct wk w;
	int rc = 0, gi;
	int64_t max_bytes = 0;

	memset(&w, 0, sizeof w);
	w.h = h;
	w.rank = rank;
	CU(cudaSetDevice(rank));
	CU(cudaStreamCreateWithFlags(&w.st, cudaStreamNonBlocking));
	NC(ncclCommInitRank(&w.world, h->nranks, h->id, rank), NULL);
	wk_tick(&h->rank[rank]);
	for (gi = 0; gi < h->n_groups; gi++) {
		/* groups of g consecutive GPUs: color rank / g; GPUs beyond the
		 * last whole group sit this size out */
		int g = h->group[gi];
		int color = rank < h->nranks / g * g ? rank / g : NCCL_SPLIT_NOCOLOR;
		NC(ncclCommSplit(w.world, color, rank, &w.sub[gi], NULL), w.world);
		wk_tick(&h->rank[rank]);
	}
	if (h->mode == WK_CHECK) {
		max_bytes = (int64_t)h->nranks * 262147 * 4;
	} else {
		for (int i = 0; i < h->n_sizes; i++)
			if (wk_sizes(h)[i] > max_bytes)
				max_bytes = wk_sizes(h)[i];
	}
	w.buf_bytes = wlb_cu_pad((size_t)max_bytes) + 256;
	TRY(wlb_cu_alloc(&w.sbuf, w.buf_bytes, "NCCL send buffer", err));
	TRY(wlb_cu_alloc(&w.rbuf, w.buf_bytes, "NCCL receive buffer", err));
	TRY(wlb_cu_fill_bf16((uint16_t *)w.sbuf, w.buf_bytes / 2, 100 + (uint64_t)rank, w.st, err));
	TRY(wlb_cu_fill_bf16((uint16_t *)w.rbuf, w.buf_bytes / 2, 200 + (uint64_t)rank, w.st, err));
	CU(cudaStreamSynchronize(w.st));
	if (h->mode == WK_COLL)
		rc = wk_time_coll(&w, err);
	else if (h->mode == WK_P2P)
		rc = wk_time_p2p(&w, err);
	else
		rc = wk_check(&w, err);
out:
	if (w.st)
		cudaStreamSynchronize(w.st);
	/* a failed rank aborts: its peers may never reach a clean teardown */
	for (gi = 0; gi < WK_MAX_GROUPS; gi++)
		if (w.sub[gi]) {
			if (rc)
				ncclCommAbort(w.sub[gi]);
			else
				ncclCommDestroy(w.sub[gi]);
		}
	if (w.world) {
		if (rc)
			ncclCommAbort(w.world);
		else
			ncclCommDestroy(w.world);
	}
	wlb_cu_free(w.sbuf);
	wlb_cu_free(w.rbuf);
	if (w.st)
		cudaStreamDestroy(w.st);
	return rc;
}

int wlb_cu_worker_main(const char *path, int rank)
{
	struct wk_hdr *h;
	struct wk_rank *me;
	struct wlb_error e;
	struct stat sb;
	int fd, rc;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 3;
	if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < sizeof *h) {
		close(fd);
		return 3;
	}
	h = (struct wk_hdr *)mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED)
		return 3;
	if (h->magic != WK_MAGIC || rank < 0 || rank >= h->nranks ||
	    (size_t)sb.st_size < h->file_bytes) {
		munmap(h, (size_t)sb.st_size);
		return 3;
	}
	me = &h->rank[rank];
	__atomic_store_n(&me->state, WK_RUNNING, __ATOMIC_SEQ_CST);
	memset(&e, 0, sizeof e);
	rc = wk_run(h, rank, &e);
	if (rc)
		wlb_cu_copy_str(me->msg, sizeof me->msg, e.msg);
	__atomic_store_n(&me->state, rc ? WK_FAILED : WK_DONE, __ATOMIC_SEQ_CST);
	munmap(h, (size_t)sb.st_size);
	return rc ? 1 : 0;
}
