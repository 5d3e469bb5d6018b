/* comm_nccl.cu — the transport of wlb-run on GPUs (comm.h): NCCL
 * communicators, collectives and send/recv, all enqueued on the device's
 * stream (dev_cuda.cu's dev->stream).
 *
 * The world: rank 0 takes an NCCL unique id and writes it to id_file
 * (id_file.tmp.<pid>, fsync, rename, so no rank reads half of it); the
 * others poll for the file every 10 ms, at most timeout_s; then
 * ncclCommInitRank.  Once that returns on rank 0 every rank has joined, so
 * rank 0 removes the file (a later run cannot read a stale id).  The
 * communicators are blocking ones: a rank that never joins (or dies inside
 * ncclCommInitRank / ncclCommSplit) is the launcher's timeout to catch.
 *
 * Point-to-point is serialised on the compute stream: unlike comm.h's
 * promise, a send occupies the stream until the peer's receive runs
 * (anything beyond NCCL's connection buffers), so two ranks that both send
 * before they receive deadlock; the caller must pair them as Megatron's
 * fused send/receive steps do.  Tags are ignored (NCCL matches two ranks'
 * messages in order) and NCCL cannot see a receive whose count differs from
 * the send's.  Messages to itself (one stage with virtual stages) never
 * touch NCCL: the send copies into a staging block on the stream, the
 * receive takes the first one with its tag (same size, or an error naming
 * both) and copies it out.
 *
 * Failures: every blocking wait (barrier, wlb_comm_nccl_check) polls the
 * stream with cudaStreamQuery every 1 ms, and ncclCommGetAsyncError of every
 * communicator of this world, at most timeout_s; on an async error or the
 * timeout it aborts all of them (ncclCommAbort, so the stream drains), and
 * every later call fails at once.  Destroying a communicator whose stream
 * does not drain within DRAIN_S (an error path: a peer may never come)
 * aborts the world instead of ncclCommDestroy, which would wait forever. */
#include <cuda_runtime.h>
#include <nccl.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gpu_int.h"

extern "C" {
#include "comm.h"
#include "launch.h"
}

extern "C" int wlb_comm_nccl_check(struct wlb_comm *c, struct wlb_error *err);

#define DRAIN_S 10.0   /* destroy: longest wait for the stream before aborting */

/* What every communicator of one world shares. */
struct world {
	int refs, world_rank, failed;
	int pools;                      /* the device has stream-ordered allocation */
	double timeout_s;
	cudaStream_t st;
	float *zero;                    /* barrier: one device float, stays 0 */
	ncclComm_t *comms;              /* every live communicator, for abort */
	int n_comms, cap_comms;
};

/* A message to itself, staged on the device until its receive. */
struct selfmsg {
	uint32_t tag;
	size_t bytes;
	void *buf;
	struct selfmsg *next;
};

struct ncomm {
	struct wlb_comm c;
	ncclComm_t nc;
	struct world *w;
	struct selfmsg *self;           /* sent to itself, not yet received, in order */
};

static struct ncomm *N(struct wlb_comm *c)
{
	return (struct ncomm *)c->impl;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* ---- the world's registry, abort, waits ------------------------------- */

static int world_add(struct world *w, ncclComm_t nc, struct wlb_error *err)
{
	if (w->n_comms == w->cap_comms) {
		int cap = w->cap_comms ? 2 * w->cap_comms : 8;
		ncclComm_t *a = (ncclComm_t *)realloc(w->comms, (size_t)cap * sizeof *a);
		if (!a)
			return wlb_error_set(err, WLB_ENOMEM, "out of memory");
		w->comms = a;
		w->cap_comms = cap;
	}
	w->comms[w->n_comms++] = nc;
	return 0;
}

static void world_remove(struct world *w, ncclComm_t nc)
{
	for (int i = 0; i < w->n_comms; i++)
		if (w->comms[i] == nc) {
			w->comms[i] = w->comms[--w->n_comms];
			return;
		}
}

static void world_abort(struct world *w)
{
	if (w->failed)
		return;
	w->failed = 1;
	for (int i = 0; i < w->n_comms; i++)
		ncclCommAbort(w->comms[i]);
	w->n_comms = 0;
}

static void world_unref(struct world *w)
{
	if (--w->refs > 0)
		return;
	if (w->zero)
		cudaFree(w->zero);
	free(w->comms);
	free(w);
}

static int world_failed(struct world *w, struct wlb_error *err)
{
	if (w->failed)
		return wlb_error_set(err, WLB_EIO, "rank %d: NCCL was aborted after an earlier failure",
				     w->world_rank);
	return 0;
}

/* The first async error of any communicator, as an error (then aborted). */
static int async_errors(struct world *w, struct wlb_error *err)
{
	for (int i = 0; i < w->n_comms; i++) {
		ncclResult_t a = ncclSuccess;
		if (ncclCommGetAsyncError(w->comms[i], &a) != ncclSuccess || a == ncclSuccess ||
		    a == ncclInProgress)
			continue;
		world_abort(w);
		return wlb_error_set(err, WLB_EIO, "rank %d: NCCL async error: %s", w->world_rank,
				     ncclGetErrorString(a));
	}
	return 0;
}

/* Waits until the stream is idle: at most timeout_s (<= 0: forever),
 * watching every communicator for async errors. */
static int wait_stream(struct world *w, struct wlb_error *err)
{
	double t0 = now_s();
	cudaError_t e;
	int rc;

	if ((rc = world_failed(w, err)) != 0)
		return rc;
	for (;;) {
		e = cudaStreamQuery(w->st);
		if (e == cudaSuccess)
			break;
		if (e != cudaErrorNotReady) {
			cudaGetLastError();
			world_abort(w);
			return wlb_error_set(err, WLB_EIO, "rank %d: cudaStreamQuery: %s", w->world_rank,
					     cudaGetErrorString(e));
		}
		if ((rc = async_errors(w, err)) != 0)
			return rc;
		if (w->timeout_s > 0 && now_s() - t0 > w->timeout_s) {
			world_abort(w);
			return wlb_error_set(err, WLB_EIO, "rank %d: NCCL did not finish within %g s "
					     "(a rank died or hangs?)", w->world_rank, w->timeout_s);
		}
		sleep_ms(1);
	}
	return async_errors(w, err);
}

/* Whether the stream finishes its work within s seconds (polling). */
static int drained(struct world *w, double s)
{
	double t0 = now_s();
	cudaError_t e;

	while ((e = cudaStreamQuery(w->st)) == cudaErrorNotReady && now_s() - t0 < s)
		sleep_ms(1);
	if (e != cudaSuccess)
		cudaGetLastError();
	return e == cudaSuccess;
}

/* ---- operations ------------------------------------------------------- */

static int nccl_type(enum wlb_dtype t, ncclDataType_t *out, struct wlb_error *err)
{
	switch (t) {
	case WLB_DT_F32:
		*out = ncclFloat32;
		return 0;
	case WLB_DT_BF16:
		*out = ncclBfloat16;
		return 0;
	case WLB_DT_F64:
		*out = ncclFloat64;
		return 0;
	}
	return wlb_error_set(err, WLB_EINVAL, "unknown dtype %d", (int)t);
}

/* The prologue of every operation: not aborted, a known dtype. */
static int begin(struct ncomm *n, enum wlb_dtype t, ncclDataType_t *dt, struct wlb_error *err)
{
	int rc = world_failed(n->w, err);
	if (!rc && dt)
		rc = nccl_type(t, dt, err);
	return rc;
}

/* Names the rank (and what) in an error. */
static int fail(struct ncomm *n, int rc, const char *what, struct wlb_error *err)
{
	if (rc && !n->w->failed)
		wlb_error_prefix(err, "rank %d: %s", n->w->world_rank, what);
	return rc;
}

static int wrap(struct world *w, ncclComm_t nc, struct wlb_comm **out, struct wlb_error *err);

static int c_split(struct wlb_comm *c, int color, int key, struct wlb_comm **out,
		   struct wlb_error *err)
{
	struct ncomm *n = N(c);
	ncclComm_t nc = NULL;
	int rc;

	*out = NULL;
	if ((rc = begin(n, WLB_DT_F32, NULL, err)) != 0)
		goto out;
	NC(ncclCommSplit(n->nc, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &nc, NULL), n->nc);
	if (color < 0 || !nc) {
		if (nc)
			ncclCommDestroy(nc);
		rc = wlb_error_set(err, WLB_EINVAL, "color must be >= 0, got %d", color);
		goto out;
	}
	TRY(wrap(n->w, nc, out, err));
out:
	return fail(n, rc, "split", err);
}

enum { OP_ALL_GATHER, OP_REDUCE_SCATTER, OP_ALL_REDUCE };

/* One collective on the world's stream (sums for the reductions). */
static int coll(struct wlb_comm *c, int op, const void *send, void *recv, size_t count,
		enum wlb_dtype t, struct wlb_error *err)
{
	static const char *const names[] = {"all_gather", "reduce_scatter", "all_reduce"};
	struct ncomm *n = N(c);
	ncclDataType_t dt = ncclFloat32;
	int rc;

	if ((rc = begin(n, t, &dt, err)) != 0)
		goto out;
	if (op == OP_ALL_GATHER)
		NC(ncclAllGather(send, recv, count, dt, n->nc, n->w->st), n->nc);
	else if (op == OP_REDUCE_SCATTER)
		NC(ncclReduceScatter(send, recv, count, dt, ncclSum, n->nc, n->w->st), n->nc);
	else
		NC(ncclAllReduce(send, recv, count, dt, ncclSum, n->nc, n->w->st), n->nc);
out:
	return fail(n, rc, names[op], err);
}

static int c_all_gather(struct wlb_comm *c, const void *send, void *recv, size_t count,
			enum wlb_dtype t, struct wlb_error *err)
{
	return coll(c, OP_ALL_GATHER, send, recv, count, t, err);
}

static int c_reduce_scatter(struct wlb_comm *c, const void *send, void *recv, size_t count,
			    enum wlb_dtype t, struct wlb_error *err)
{
	return coll(c, OP_REDUCE_SCATTER, send, recv, count, t, err);
}

static int c_all_reduce(struct wlb_comm *c, const void *send, void *recv, size_t count,
			enum wlb_dtype t, struct wlb_error *err)
{
	return coll(c, OP_ALL_REDUCE, send, recv, count, t, err);
}

static int check_peer(struct ncomm *n, int peer, struct wlb_error *err)
{
	if (peer < 0 || peer >= n->c.size)
		return wlb_error_set(err, WLB_EINVAL, "peer %d outside 0 .. %d", peer, n->c.size - 1);
	return 0;
}

/* Device memory in stream order (plain cudaMalloc / cudaFree without pools). */
static cudaError_t stage_alloc(struct world *w, void **p, size_t bytes)
{
	return w->pools ? cudaMallocAsync(p, bytes ? bytes : 1, w->st)
			: cudaMalloc(p, bytes ? bytes : 1);
}

static void stage_free(struct world *w, void *p)
{
	if (w->pools)
		cudaFreeAsync(p, w->st);
	else
		cudaFree(p);
}

/* A send to itself: a copy of buf, queued. */
static int self_send(struct ncomm *n, uint32_t tag, const void *buf, size_t bytes,
		     struct wlb_error *err)
{
	struct selfmsg *m = (struct selfmsg *)calloc(1, sizeof *m), **end;
	int rc = 0;

	if (!m)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	m->tag = tag;
	m->bytes = bytes;
	CU(stage_alloc(n->w, &m->buf, bytes));
	if (bytes)
		CU(cudaMemcpyAsync(m->buf, buf, bytes, cudaMemcpyDeviceToDevice, n->w->st));
	for (end = &n->self; *end; end = &(*end)->next)
		;
	*end = m;
	return 0;
out:
	cudaGetLastError();
	if (m->buf)
		stage_free(n->w, m->buf);
	free(m);
	return rc;
}

/* A receive from itself: the first queued message with the tag. */
static int self_recv(struct ncomm *n, uint32_t tag, void *buf, size_t bytes, struct wlb_error *err)
{
	struct selfmsg **at = &n->self, *m;
	int rc = 0;

	while (*at && (*at)->tag != tag)
		at = &(*at)->next;
	if (!(m = *at))
		return wlb_error_set(err, WLB_EINVAL, "no message to itself with tag %u was sent "
				     "before its receive", tag);
	*at = m->next; /* a message of the wrong size is consumed, as on the CPU */
	if (m->bytes != bytes)
		rc = wlb_error_set(err, WLB_EINVAL, "message to itself (tag %u) has %zu bytes, "
				   "expected %zu", tag, m->bytes, bytes);
	else if (bytes)
		CU(cudaMemcpyAsync(buf, m->buf, bytes, cudaMemcpyDeviceToDevice, n->w->st));
out:
	stage_free(n->w, m->buf);
	free(m);
	return rc;
}

static void self_drop(struct ncomm *n)
{
	while (n->self) {
		struct selfmsg *m = n->self;
		n->self = m->next;
		stage_free(n->w, m->buf);
		free(m);
	}
}

static int c_send(struct wlb_comm *c, int peer, uint32_t tag, const void *buf, size_t count,
		  enum wlb_dtype t, struct wlb_error *err)
{
	struct ncomm *n = N(c);
	ncclDataType_t dt = ncclFloat32;
	int rc;

	if ((rc = begin(n, t, &dt, err)) != 0)
		goto out;
	TRY(check_peer(n, peer, err));
	if (peer == n->c.rank)
		TRY(self_send(n, tag, buf, count * wlb_dtype_size(t), err));
	else /* tags: NCCL matches in order */
		NC(ncclSend(buf, count, dt, peer, n->nc, n->w->st), n->nc);
out:
	return fail(n, rc, "send", err);
}

static int c_recv(struct wlb_comm *c, int peer, uint32_t tag, void *buf, size_t count,
		  enum wlb_dtype t, struct wlb_error *err)
{
	struct ncomm *n = N(c);
	ncclDataType_t dt = ncclFloat32;
	int rc;

	if ((rc = begin(n, t, &dt, err)) != 0)
		goto out;
	TRY(check_peer(n, peer, err));
	if (peer == n->c.rank)
		TRY(self_recv(n, tag, buf, count * wlb_dtype_size(t), err));
	else
		NC(ncclRecv(buf, count, dt, peer, n->nc, n->w->st), n->nc);
out:
	return fail(n, rc, "recv", err);
}

/* Messages to itself are staged on the host side (sends before receives);
 * the others go in one NCCL group, so that neighbours sending to each other
 * do not wait on each other. */
static int c_p2p(struct wlb_comm *c, const struct wlb_p2p *ops, int n_ops, struct wlb_error *err)
{
	struct ncomm *n = N(c);
	ncclDataType_t dt = ncclFloat32;
	int rc = 0, grouped = 0;

	for (int i = 0; i < n_ops && !rc; i++)
		if (ops[i].send && ops[i].peer == n->c.rank)
			rc = c_send(c, ops[i].peer, ops[i].tag, ops[i].buf, ops[i].count, ops[i].t, err);
	for (int i = 0; i < n_ops && !rc; i++) {
		const struct wlb_p2p *o = &ops[i];
		if ((rc = begin(n, o->t, &dt, err)) || (rc = check_peer(n, o->peer, err)))
			break;
		if (o->peer == n->c.rank)
			continue;
		if (!grouped) {
			NC(ncclGroupStart(), n->nc);
			grouped = 1;
		}
		if (o->send)
			NC(ncclSend(o->buf, o->count, dt, o->peer, n->nc, n->w->st), n->nc);
		else
			NC(ncclRecv(o->buf, o->count, dt, o->peer, n->nc, n->w->st), n->nc);
	}
out:
	if (grouped) {
		ncclResult_t r = ncclGroupEnd();
		if (!rc && r != ncclSuccess)
			rc = wlb_cu_nccl_fail(err, "ncclGroupEnd()", r, n->nc);
	}
	for (int i = 0; i < n_ops && !rc; i++)
		if (!ops[i].send && ops[i].peer == n->c.rank)
			rc = c_recv(c, ops[i].peer, ops[i].tag, ops[i].buf, ops[i].count, ops[i].t, err);
	return fail(n, rc, "p2p", err);
}

static int c_wait(struct wlb_comm *c, struct wlb_error *err)
{
	return wait_stream(N(c)->w, err);
}

static int c_barrier(struct wlb_comm *c, struct wlb_error *err)
{
	struct ncomm *n = N(c);
	int rc;

	if ((rc = begin(n, WLB_DT_F32, NULL, err)) != 0)
		goto out;
	NC(ncclAllReduce(n->w->zero, n->w->zero, 1, ncclFloat32, ncclSum, n->nc, n->w->st), n->nc);
	rc = wait_stream(n->w, err);
out:
	return fail(n, rc, "barrier", err);
}

static void c_destroy(struct wlb_comm *c)
{
	struct ncomm *n;

	if (!c)
		return;
	n = N(c);
	/* work the stream does not finish soon (an error path): a peer it waits
	 * for may never come, and ncclCommDestroy would wait with it; abort */
	if (!n->w->failed && !drained(n->w, DRAIN_S))
		world_abort(n->w);
	if (!n->w->failed) { /* aborted communicators are freed already */
		world_remove(n->w, n->nc);
		ncclCommDestroy(n->nc);
	}
	self_drop(n);
	world_unref(n->w);
	free(n);
}

static const struct wlb_comm_ops nccl_ops = {
	c_split, c_all_gather, c_reduce_scatter, c_all_reduce, c_send, c_recv, c_barrier,
	c_destroy, c_p2p, c_wait,
};

static int wrap(struct world *w, ncclComm_t nc, struct wlb_comm **out, struct wlb_error *err)
{
	struct ncomm *n = (struct ncomm *)calloc(1, sizeof *n);
	int rc = 0, r = 0, s = 0;

	if (!n) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	NC(ncclCommUserRank(nc, &r), nc);
	NC(ncclCommCount(nc, &s), nc);
	TRY(world_add(w, nc, err));
	n->c.ops = &nccl_ops;
	n->c.rank = r;
	n->c.size = s;
	n->c.world_rank = w->world_rank;
	n->c.impl = n;
	n->nc = nc;
	n->w = w;
	w->refs++;
	*out = &n->c;
out:
	if (rc) {
		free(n);
		ncclCommDestroy(nc);
	}
	return rc;
}

/* Waits for everything enqueued on the stream (compute and communication),
 * at most the world's timeout; 0, or an error naming the rank after which
 * every NCCL call of this world fails.  Call it before a host wait that
 * could hang on a dead peer (wlb_dev's sync, download). */
extern "C" int wlb_comm_nccl_check(struct wlb_comm *c, struct wlb_error *err)
{
	if (!c || c->ops != &nccl_ops)
		return wlb_error_set(err, WLB_EINVAL, "wlb_comm_nccl_check: not an NCCL communicator");
	return wait_stream(N(c)->w, err);
}

/* ---- the world -------------------------------------------------------- */

static int write_id(const char *path, const ncclUniqueId *id, struct wlb_error *err)
{
	char tmp[4096];
	const char *p = (const char *)id;
	size_t left = sizeof *id;
	int fd, e = 0;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return wlb_error_set(err, WLB_EINVAL, "NCCL id file name too long: %s", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return wlb_error_set(err, WLB_EIO, "cannot create %s: %s", tmp, strerror(errno));
	while (left && !e) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno != EINTR)
			e = errno;
		else if (w > 0)
			p += w, left -= (size_t)w;
	}
	if (!e && fsync(fd) != 0)
		e = errno;
	if (close(fd) != 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) != 0)
		e = errno;
	if (e) {
		unlink(tmp);
		return wlb_error_set(err, WLB_EIO, "cannot write the NCCL id file %s: %s", path,
				     strerror(e));
	}
	return 0;
}

static int read_id(const char *path, double timeout_s, ncclUniqueId *id, struct wlb_error *err)
{
	double t0 = now_s();
	char *p = (char *)id;
	size_t got = 0;
	int fd;

	while ((fd = open(path, O_RDONLY)) < 0) {
		if (errno != ENOENT)
			return wlb_error_set(err, WLB_EIO, "cannot open the NCCL id file %s: %s", path,
					     strerror(errno));
		if (timeout_s > 0 && now_s() - t0 > timeout_s)
			return wlb_error_set(err, WLB_EIO, "no NCCL id file %s after %g s (did rank 0 "
					     "start?)", path, timeout_s);
		sleep_ms(10);
	}
	while (got < sizeof *id) {
		ssize_t r = read(fd, p + got, sizeof *id - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != sizeof *id)
		return wlb_error_set(err, WLB_EIO, "the NCCL id file %s holds %zu bytes, not %zu", path,
				     got, sizeof *id);
	return 0;
}

extern "C" int wlb_comm_nccl_world(const struct wlb_launch *l, const char *id_file,
				   double timeout_s, void *stream, struct wlb_comm **out,
				   struct wlb_error *err)
{
	struct world *w = NULL;
	ncclUniqueId id;
	ncclComm_t nc = NULL;
	int rc = 0, dev = 0;

	*out = NULL;
	if (!l || l->size < 1 || l->rank < 0 || l->rank >= l->size || !stream ||
	    (l->size > 1 && !id_file))
		return wlb_error_set(err, WLB_EINVAL, "wlb_comm_nccl_world: bad arguments");
	memset(&id, 0, sizeof id);
	if (!(w = (struct world *)calloc(1, sizeof *w))) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	w->world_rank = l->rank;
	w->timeout_s = timeout_s;
	w->st = (cudaStream_t)stream;
	w->refs = 1; /* ours, until the world communicator holds it */
	CU(cudaGetDevice(&dev));
	if (cudaDeviceGetAttribute(&w->pools, cudaDevAttrMemoryPoolsSupported, dev) != cudaSuccess) {
		cudaGetLastError();
		w->pools = 0;
	}
	CU(cudaMalloc((void **)&w->zero, sizeof(float)));
	CU(cudaMemsetAsync(w->zero, 0, sizeof(float), w->st));
	if (l->rank == 0) {
		NC(ncclGetUniqueId(&id), NULL);
		if (l->size > 1)
			TRY(write_id(id_file, &id, err));
	} else {
		TRY(read_id(id_file, timeout_s, &id, err));
	}
	NC(ncclCommInitRank(&nc, l->size, id, l->rank), NULL);
	if (l->rank == 0 && l->size > 1)
		unlink(id_file); /* every rank has joined, so has read it */
	rc = wrap(w, nc, out, err); /* destroys nc when it fails */
out:
	if (rc)
		wlb_error_prefix(err, "rank %d: NCCL world of %d", l->rank, l->size);
	if (w)
		world_unref(w);
	return rc;
}
