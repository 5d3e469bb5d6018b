/* comm_cpu.c — the CPU transport (comm.h) over the Unix sockets between
 * the ranks that launch.c forked.  In each process one receiver thread reads
 * every socket into per-peer mailboxes, so a send never waits for the peer
 * to call recv (but a p2p group waits for its sends to be received, as
 * NCCL's do: see p2p_send).  A message: struct hdr (host byte order), then
 * the payload.
 *
 * Communicator ids: the world is 0.  Each process keeps next_id, above every
 * id it has been part of; split gathers it with (color, key), a group takes
 * the largest next_id of its members and each member moves past it: the id
 * is the same on every member and new to each, whatever splits some made
 * before, so a receive matching (source, id, tag) takes only its own.
 * Point-to-point tags must be below 2^31; collectives use 2^31 + a count per
 * communicator (members call collectives in the same order).  One thread at
 * a time per communicator; those left when the world is destroyed fail. */
#include "comm_cpu_int.h"
#include "launch.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>



size_t wlb_dtype_size(enum wlb_dtype t)
{
	return t == WLB_DT_F64 ? 8 : t == WLB_DT_F32 ? 4 : t == WLB_DT_BF16 ? 2 : 0;
}

struct msg *wlb_cpuc_msg_new(size_t bytes)
{
	struct msg *m;
	if (bytes > SIZE_MAX - sizeof *m)
		return NULL;
	if ((m = malloc(sizeof *m + bytes))) {
		m->next = NULL;
		m->h.bytes = bytes;
	}
	return m;
}

static void deliver(struct world *w, int src, struct msg *m)
{
	struct peer *p = &w->peer[src];
	pthread_mutex_lock(&w->mu);
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void peer_closed(struct world *w, int src, int e)
{
	struct peer *p = &w->peer[src];
	free(p->cur);
	p->cur = NULL;
	p->rx_done = 1;
	pthread_mutex_lock(&w->mu);
	p->closed = 1;
	p->close_errno = e;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Reads what src's socket holds (a bounded number of reads, then back to
 * poll so no peer starves the others). */
static void rx_read(struct world *w, int src)
{
	struct peer *p = &w->peer[src];
	for (int it = 0; it < 64; it++) {
		unsigned char *dst;
		size_t want;
		ssize_t r;
		if (p->hdr_got < sizeof p->hdr) {
			dst = (unsigned char *)&p->hdr + p->hdr_got;
			want = sizeof p->hdr - p->hdr_got;
		} else {
			dst = p->cur->data + p->got;
			want = p->cur->h.bytes - p->got;
		}
		r = recv(p->fd, dst, want, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				peer_closed(w, src, errno);
			return;
		}
		if (r == 0) {
			peer_closed(w, src, 0);
			return;
		}
		if (p->hdr_got < sizeof p->hdr) {
			p->hdr_got += (size_t)r;
			if (p->hdr_got < sizeof p->hdr)
				continue;
			p->cur = p->hdr.bytes > SIZE_MAX ? NULL : wlb_cpuc_msg_new((size_t)p->hdr.bytes);
			if (!p->cur) {
				peer_closed(w, src, ENOMEM);
				return;
			}
			p->cur->h = p->hdr;
			p->got = 0;
		} else {
			p->got += (size_t)r;
		}
		if (p->got == p->cur->h.bytes) {
			deliver(w, src, p->cur);
			p->cur = NULL;
			p->hdr_got = 0;
		}
	}
}

static void *rx_main(void *arg)
{
	struct world *w = arg;
	struct pollfd pf[WLB_LAUNCH_MAX + 1];
	int who[WLB_LAUNCH_MAX + 1];

	for (;;) {
		nfds_t n = 1;
		pf[0] = (struct pollfd){.fd = w->wake[0], .events = POLLIN};
		for (int j = 0; j < w->size; j++)
			if (w->peer[j].fd >= 0 && !w->peer[j].rx_done) {
				pf[n] = (struct pollfd){.fd = w->peer[j].fd, .events = POLLIN};
				who[n++] = j;
			}
		if (poll(pf, n, -1) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			for (nfds_t i = 1; i < n; i++)
				peer_closed(w, who[i], errno);
			return NULL;
		}
		if (pf[0].revents)
			return NULL;
		for (nfds_t i = 1; i < n; i++)
			if (pf[i].revents)
				rx_read(w, who[i]);
	}
}

static int send_id(struct cpu_comm *cc, uint32_t id, int wdst, uint32_t tag, const void *buf,
		   size_t bytes, struct wlb_error *err)
{
	struct world *w = cc->w;
	struct peer *p = &w->peer[wdst];
	struct hdr h = {id, tag, bytes};
	struct iovec iov[2] = {{&h, sizeof h}, {(void *)buf, bytes}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	int e = 0;

	if (wdst == w->rank) {
		struct msg *m = wlb_cpuc_msg_new(bytes);
		if (!m)
			return wlb_error_set(err, WLB_ENOMEM, "rank %d: out of memory for a %zu-byte "
					     "message", w->rank, bytes);
		m->h = h;
		if (bytes)
			memcpy(m->data, buf, bytes);
		deliver(w, wdst, m);
		return 0;
	}
	pthread_mutex_lock(&p->send_mu);
	if (p->fd < 0)
		e = EBADF;
	while (!e && mh.msg_iovlen > 0) {
		ssize_t r = sendmsg(p->fd, &mh, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno != EINTR)
				e = errno;
			continue;
		}
		while (mh.msg_iovlen > 0 && (size_t)r >= mh.msg_iov->iov_len) {
			r -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + r;
			mh.msg_iov->iov_len -= (size_t)r;
		}
	}
	pthread_mutex_unlock(&p->send_mu);
	if (e == EBADF)
		return wlb_error_set(err, WLB_EIO, "rank %d: send to rank %d after the world "
				     "communicator was destroyed", w->rank, wdst);
	if (e == EPIPE || e == ECONNRESET)
		return wlb_error_set(err, WLB_EIO, "rank %d: rank %d closed its connection (it died?)",
				     w->rank, wdst);
	if (e)
		return wlb_error_set(err, WLB_EIO, "rank %d: send to rank %d: %s", w->rank, wdst,
				     strerror(e));
	return 0;
}

int wlb_cpuc_send_to(struct cpu_comm *cc, int wdst, uint32_t tag, const void *buf, size_t bytes,
		   struct wlb_error *err)
{
	return send_id(cc, cc->id, wdst, tag, buf, bytes, err);
}

/* Takes the first message of id from member src of cc with tag, waiting at
 * most the world's timeout; what names the operation in errors.  Unless want
 * is SIZE_MAX the message must hold want bytes (a collective's). */
static int take_id(struct cpu_comm *cc, uint32_t id, int src, uint32_t tag, const char *what,
		   size_t want, struct msg **out, struct wlb_error *err)
{
	struct world *w = cc->w;
	int wsrc = cc->members[src], timed_out = 0, rc = 0;
	struct peer *p = &w->peer[wsrc];
	struct timespec dl;

	*out = NULL;
	if (w->timeout_s > 0) {
		double t;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		t = (double)dl.tv_sec + (double)dl.tv_nsec * 1e-9 + w->timeout_s;
		dl.tv_sec = (time_t)t;
		dl.tv_nsec = (long)((t - (double)dl.tv_sec) * 1e9);
	}
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct msg **pp = &p->head, *prev = NULL;
		while (*pp && (((*pp)->h.id & ~WANT_ACK) != id || (*pp)->h.tag != tag)) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp) {
			*out = *pp;
			*pp = (*out)->next;
			if (p->tail == *out)
				p->tail = prev;
			break;
		}
		if (w->stopped) {
			rc = wlb_error_set(err, WLB_EIO, "rank %d: %s after the world communicator "
					   "was destroyed", w->rank, what);
			break;
		}
		if (p->closed) {
			rc = wlb_error_set(err, WLB_EIO, "rank %d: rank %d closed its connection (%s) "
					   "before %s", w->rank, wsrc, p->close_errno ?
					   strerror(p->close_errno) : "it died?", what);
			break;
		}
		if (timed_out) {
			rc = wlb_error_set(err, WLB_EIO, "rank %d: no message from rank %d after %g s "
					   "(%s)", w->rank, wsrc, w->timeout_s, what);
			break;
		}
		if (w->timeout_s > 0)
			timed_out = pthread_cond_timedwait(&w->cv, &w->mu, &dl) == ETIMEDOUT;
		else
			pthread_cond_wait(&w->cv, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	if (!rc && want != SIZE_MAX && (*out)->h.bytes != want) {
		rc = wlb_error_set(err, WLB_EINVAL, "rank %d: %s: rank %d sent %zu bytes, expected "
				   "%zu (members called it with different counts?)", w->rank, what,
				   wsrc, (*out)->h.bytes, want);
		free(*out);
		*out = NULL;
	}
	return rc;
}

int wlb_cpuc_take(struct cpu_comm *cc, int src, uint32_t tag, const char *what, size_t want,
		struct msg **out, struct wlb_error *err)
{
	return take_id(cc, cc->id, src, tag, what, want, out, err);
}

int wlb_cpuc_check_buf(struct cpu_comm *cc, size_t count, enum wlb_dtype t, size_t blocks, int sum,
		     const char *what, size_t *bytes, struct wlb_error *err)
{
	size_t es = wlb_dtype_size(t);
	if (!es)
		return wlb_error_set(err, WLB_EINVAL, "rank %d: %s: unknown data type %d",
				     cc->w->rank, what, (int)t);
	if (sum && t == WLB_DT_BF16)
		return wlb_error_set(err, WLB_EINVAL, "rank %d: %s: the CPU transport has no bf16 "
				     "sums (use f32 or f64)", cc->w->rank, what);
	if (count > SIZE_MAX / es / blocks)
		return wlb_error_set(err, WLB_ERANGE, "rank %d: %s: %zu elements is too many",
				     cc->w->rank, what, count);
	*bytes = count * es;
	return 0;
}

static int check_peer(struct cpu_comm *cc, int peer, uint32_t tag, const char *what,
		      struct wlb_error *err)
{
	if (peer < 0 || peer >= cc->pub.size)
		return wlb_error_set(err, WLB_EINVAL, "rank %d: %s: peer %d is not a member (%d "
				     "ranks)", cc->w->rank, what, peer, cc->pub.size);
	if (tag & COLL_TAG)
		return wlb_error_set(err, WLB_EINVAL, "rank %d: %s: tag %u is reserved (tags must be "
				     "below 2^31)", cc->w->rank, what, tag);
	return 0;
}


/* A single send is buffered: it never waits for its receiver.  A send of
 * a p2p group asks for an acknowledgement, which the receiver sends when it
 * takes the message, and the group completes only with them: a rendezvous,
 * as NCCL's, so an order of sends and receives that would deadlock on GPUs
 * deadlocks here too, and a receive's timeout names it. */
static int p2p_send(struct cpu_comm *cc, int peer, uint32_t tag, const void *buf, size_t count,
		    enum wlb_dtype t, int want_ack, struct wlb_error *err)
{
	size_t bytes;
	int rc = check_peer(cc, peer, tag, "send", err);
	if (!rc)
		rc = wlb_cpuc_check_buf(cc, count, t, 1, 0, "send", &bytes, err);
	return rc ? rc : send_id(cc, cc->id | (want_ack ? WANT_ACK : 0), cc->members[peer], tag, buf,
				 bytes, err);
}

static int p2p_acked(struct cpu_comm *cc, int peer, uint32_t tag, struct wlb_error *err)
{
	struct msg *m;
	char what[48];
	snprintf(what, sizeof what, "its receive of send tag %u", tag);
	int rc = take_id(cc, cc->id | ACK, peer, tag, what, 0, &m, err);
	free(m);
	return rc;
}

static int p2p_recv(struct cpu_comm *cc, int peer, uint32_t tag, void *buf, size_t count,
		    enum wlb_dtype t, struct wlb_error *err)
{
	struct msg *m;
	size_t bytes;
	char what[32];
	int rc = check_peer(cc, peer, tag, "recv", err);

	if (!rc)
		rc = wlb_cpuc_check_buf(cc, count, t, 1, 0, "recv", &bytes, err);
	if (rc)
		return rc;
	snprintf(what, sizeof what, "recv, tag %u", tag);
	if ((rc = wlb_cpuc_take(cc, peer, tag, what, SIZE_MAX, &m, err)))
		return rc;
	/* a message of the wrong size is consumed: it can match nothing else */
	if (m->h.bytes != bytes)
		rc = wlb_error_set(err, WLB_EINVAL, "rank %d: message from rank %d (tag %u) has %zu "
				   "bytes, expected %zu", cc->w->rank, cc->members[peer], tag,
				   m->h.bytes, bytes);
	else if (bytes)
		memcpy(buf, m->data, bytes);
	int ack = m->h.id & WANT_ACK ? send_id(cc, cc->id | ACK, cc->members[peer], tag, NULL, 0, err) : 0;
	free(m);
	return rc ? rc : ack;
}

static int cpu_send(struct wlb_comm *c, int peer, uint32_t tag, const void *buf, size_t count,
		    enum wlb_dtype t, struct wlb_error *err)
{
	return p2p_send(c->impl, peer, tag, buf, count, t, 0, err);
}

static int cpu_recv(struct wlb_comm *c, int peer, uint32_t tag, void *buf, size_t count,
		    enum wlb_dtype t, struct wlb_error *err)
{
	return p2p_recv(c->impl, peer, tag, buf, count, t, err);
}

static int cpu_barrier(struct wlb_comm *c, struct wlb_error *err)
{
	return wlb_cpuc_gather(c->impl, NULL, NULL, 0, "barrier", err);
}

static int cpu_split(struct wlb_comm *c, int color, int key, struct wlb_comm **out,
		     struct wlb_error *err);
static void cpu_destroy(struct wlb_comm *c);

/* A group: its sends go out, its receives are taken, then the group waits
 * for its sends' acknowledgements (NCCL's ncclGroupStart/End). */
static int cpu_p2p(struct wlb_comm *c, const struct wlb_p2p *ops, int n, struct wlb_error *err)
{
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		if (ops[i].send)
			rc = p2p_send(c->impl, ops[i].peer, ops[i].tag, ops[i].buf, ops[i].count, ops[i].t, 1,
				      err);
	for (int i = 0; i < n && !rc; i++)
		if (!ops[i].send)
			rc = p2p_recv(c->impl, ops[i].peer, ops[i].tag, ops[i].buf, ops[i].count, ops[i].t, err);
	for (int i = 0; i < n && !rc; i++)
		if (ops[i].send)
			rc = p2p_acked(c->impl, ops[i].peer, ops[i].tag, err);
	return rc;
}

static int cpu_wait(struct wlb_comm *c, struct wlb_error *err)
{
	(void)c, (void)err;
	return 0;
}

static const struct wlb_comm_ops cpu_ops = {
	.split = cpu_split,
	.all_gather = wlb_cpuc_all_gather,
	.reduce_scatter = wlb_cpuc_reduce_scatter,
	.all_reduce = wlb_cpuc_all_reduce,
	.send = cpu_send,
	.recv = cpu_recv,
	.barrier = cpu_barrier,
	.destroy = cpu_destroy,
	.p2p = cpu_p2p,
	.wait = cpu_wait,
};

static struct cpu_comm *comm_new(struct world *w, uint32_t id, int size)
{
	struct cpu_comm *cc = calloc(1, sizeof *cc + (size_t)size * sizeof cc->members[0]);
	if (!cc)
		return NULL;
	cc->pub.ops = &cpu_ops;
	cc->pub.size = size;
	cc->pub.world_rank = w->rank;
	cc->pub.impl = cc;
	cc->w = w;
	cc->id = id;
	pthread_mutex_lock(&w->mu);
	w->refs++;
	pthread_mutex_unlock(&w->mu);
	return cc;
}

static int cpu_split(struct wlb_comm *c, int color, int key, struct wlb_comm **out,
		     struct wlb_error *err)
{
	struct cpu_comm *cc = c->impl, *nc;
	struct world *w = cc->w;
	int n = c->size, cnt = 0, rc;
	int64_t mine[3] = {color, key, w->next_id};
	int64_t *all = malloc((size_t)n * (sizeof mine + sizeof(int64_t))), *grp;
	uint32_t id = 0;

	*out = NULL;
	if (!all)
		return wlb_error_set(err, WLB_ENOMEM, "rank %d: split: out of memory", w->rank);
	grp = all + 3 * n;
	if ((rc = wlb_cpuc_gather(cc, mine, all, sizeof mine, "split", err)))
		goto out;
	/* members of this color by (key, rank in c): insertion keeps rank order on ties */
	for (int j = 0; j < n; j++) {
		int i = cnt;
		if (all[3 * j] != color)
			continue;
		cnt++;
		while (i > 0 && all[3 * grp[i - 1] + 1] > all[3 * j + 1]) {
			grp[i] = grp[i - 1];
			i--;
		}
		grp[i] = j;
		if ((uint32_t)all[3 * j + 2] > id)
			id = (uint32_t)all[3 * j + 2];
	}
	if (!(nc = comm_new(w, id, cnt))) {
		rc = wlb_error_set(err, WLB_ENOMEM, "rank %d: split: out of memory", w->rank);
		goto out;
	}
	w->next_id = id + 1;
	for (int i = 0; i < cnt; i++) {
		nc->members[i] = cc->members[grp[i]];
		if (grp[i] == c->rank)
			nc->pub.rank = i;
	}
	*out = &nc->pub;
out:
	free(all);
	return rc;
}

/* Drops a reference; the last frees the world. */
static void world_unref(struct world *w)
{
	int left;
	pthread_mutex_lock(&w->mu);
	left = --w->refs;
	pthread_mutex_unlock(&w->mu);
	if (left > 0)
		return;
	for (int j = 0; j < w->size; j++) {
		struct peer *p = &w->peer[j];
		while (p->head) {
			struct msg *m = p->head;
			p->head = m->next;
			free(m);
		}
		free(p->cur);
		pthread_mutex_destroy(&p->send_mu);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/* Stops the receiver thread and closes the sockets: the peers see end of
 * file only now, after everything this rank sent. */
static void world_stop(struct world *w)
{
	char b = 0;
	ssize_t r;
	for (int j = 0; j < w->size; j++)
		if (w->peer[j].fd >= 0)
			shutdown(w->peer[j].fd, SHUT_WR);
	r = write(w->wake[1], &b, 1);
	(void)r;
	pthread_join(w->rx, NULL);
	pthread_mutex_lock(&w->mu);
	w->stopped = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int j = 0; j < w->size; j++) {
		struct peer *p = &w->peer[j];
		pthread_mutex_lock(&p->send_mu);
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
		pthread_mutex_unlock(&p->send_mu);
	}
	close(w->wake[0]);
	close(w->wake[1]);
}

static void cpu_destroy(struct wlb_comm *c)
{
	struct cpu_comm *cc = c->impl;
	if (cc->id == 0)
		world_stop(cc->w);
	world_unref(cc->w);
	free(cc);
}

int wlb_comm_cpu_world(const struct wlb_launch *l, double timeout_s, struct wlb_comm **out,
		       struct wlb_error *err)
{
	struct world *w;
	struct cpu_comm *cc;
	pthread_condattr_t ca;

	*out = NULL;
	if (!l->forked)
		return wlb_error_set(err, WLB_EINVAL, "the CPU transport needs ranks started by "
				     "wlb-run --nproc (under mpirun or srun use NCCL)");
	if (l->size < 1 || l->size > WLB_LAUNCH_MAX || l->rank < 0 || l->rank >= l->size)
		return wlb_error_set(err, WLB_EINVAL, "rank %d of %d: not a launch of 1 to %d ranks",
				     l->rank, l->size, WLB_LAUNCH_MAX);
	for (int j = 0; j < l->size; j++)
		if (j != l->rank && l->fd[j] < 0)
			return wlb_error_set(err, WLB_EINVAL, "rank %d: no socket to rank %d",
					     l->rank, j);
	if (!(w = calloc(1, sizeof *w)))
		return wlb_error_set(err, WLB_ENOMEM, "rank %d: out of memory", l->rank);
	w->rank = l->rank;
	w->size = l->size;
	w->timeout_s = timeout_s;
	w->next_id = 1;
	for (int j = 0; j < w->size; j++) {
		w->peer[j].fd = j == w->rank ? -1 : l->fd[j];
		pthread_mutex_init(&w->peer[j].send_mu, NULL);
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pipe(w->wake)) {
		int e = errno;
		world_unref(w);
		return wlb_error_set(err, WLB_EIO, "rank %d: pipe: %s", l->rank, strerror(e));
	}
	cc = comm_new(w, 0, w->size);
	if (!cc || pthread_create(&w->rx, NULL, rx_main, w)) {
		free(cc);
		close(w->wake[0]);
		close(w->wake[1]);
		world_unref(w);
		return wlb_error_set(err, WLB_EIO, "rank %d: cannot start the receiver thread",
				     l->rank);
	}
	cc->pub.rank = w->rank;
	for (int j = 0; j < w->size; j++)
		cc->members[j] = j;
	*out = &cc->pub;
	return 0;
}
