/* comm_cpu_coll.c — the CPU transport's collectives: every member sends
 * its blocks to the others and sums what it receives in member order, so
 * every member gets the same bits (small shapes only: the CPU reference
 * path).  Each collective takes the next tag of its communicator. */
#include <stdlib.h>
#include <string.h>

#include "comm_cpu_int.h"

static uint32_t coll_tag(struct cpu_comm *cc)
{
	return COLL_TAG | (cc->coll_seq++ & ~COLL_TAG);
}

static int overlap(const void *a, const void *b, size_t n)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	return n && x < y + n && y < x + n;
}

static void sum_into(void *dst, const void *src, size_t n, enum wlb_dtype t)
{
	if (t == WLB_DT_F64)
		for (size_t i = 0; i < n; i++)
			((double *)dst)[i] += ((const double *)src)[i];
	else
		for (size_t i = 0; i < n; i++)
			((float *)dst)[i] += ((const float *)src)[i];
}

/* Every member sends bytes to every other; recv gets member j's at j x bytes. */
int wlb_cpuc_gather(struct cpu_comm *cc, const void *send, void *recv, size_t bytes,
		  const char *what, struct wlb_error *err)
{
	int n = cc->pub.size, r = cc->pub.rank, rc;
	uint32_t tag = coll_tag(cc);
	struct msg *m;

	for (int k = 1; k < n; k++)
		if ((rc = wlb_cpuc_send_to(cc, cc->members[(r + k) % n], tag, send, bytes, err)))
			return rc;
	if (bytes)
		memmove((char *)recv + (size_t)r * bytes, send, bytes);
	for (int k = 1; k < n; k++) {
		int j = (r - k + n) % n;
		if ((rc = wlb_cpuc_take(cc, j, tag, what, bytes, &m, err)))
			return rc;
		if (bytes)
			memcpy((char *)recv + (size_t)j * bytes, m->data, bytes);
		free(m);
	}
	return 0;
}

/* Sends block j of send (at j x stride) to member j, then sums member 0's,
 * 1's, ... block into recv (count elements) in that order, so every member
 * summing the same blocks gets the same bits.  stride 0: all_reduce. */
static int reduce(struct cpu_comm *cc, const void *send, size_t stride, void *recv, size_t count,
		  enum wlb_dtype t, const char *what, struct wlb_error *err)
{
	int n = cc->pub.size, r = cc->pub.rank, rc = 0;
	struct msg *copy = NULL, *m = NULL;
	const char *own;
	size_t bytes;
	uint32_t tag;

	if ((rc = wlb_cpuc_check_buf(cc, count, t, stride ? (size_t)n : 1, 1, what, &bytes, err)))
		return rc;
	own = (const char *)send + (size_t)r * stride;
	tag = coll_tag(cc);
	for (int k = 1; k < n; k++) {
		int j = (r + k) % n;
		if ((rc = wlb_cpuc_send_to(cc, cc->members[j], tag, (const char *)send + (size_t)j * stride,
				  bytes, err)))
			return rc;
	}
	if (r > 0 && overlap(own, recv, bytes)) {
		if (!(copy = wlb_cpuc_msg_new(bytes)))
			return wlb_error_set(err, WLB_ENOMEM, "rank %d: %s: out of memory",
					     cc->w->rank, what);
		memcpy(copy->data, own, bytes);
		own = (const char *)copy->data;
	}
	for (int j = 0; j < n && !rc; j++) {
		const void *src = own;
		if (j != r) {
			if ((rc = wlb_cpuc_take(cc, j, tag, what, bytes, &m, err)))
				break;
			src = m->data;
		}
		if (j == 0) {
			if (bytes)
				memmove(recv, src, bytes);
		} else {
			sum_into(recv, src, count, t);
		}
		free(m);
		m = NULL;
	}
	free(copy);
	return rc;
}

int wlb_cpuc_all_gather(struct wlb_comm *c, const void *send, void *recv, size_t count,
			  enum wlb_dtype t, struct wlb_error *err)
{
	struct cpu_comm *cc = c->impl;
	size_t bytes;
	int rc = wlb_cpuc_check_buf(cc, count, t, (size_t)c->size, 0, "all_gather", &bytes, err);
	return rc ? rc : wlb_cpuc_gather(cc, send, recv, bytes, "all_gather", err);
}

int wlb_cpuc_reduce_scatter(struct wlb_comm *c, const void *send, void *recv, size_t count,
			      enum wlb_dtype t, struct wlb_error *err)
{
	size_t es = wlb_dtype_size(t);
	return reduce(c->impl, send, count * es, recv, count, t, "reduce_scatter", err);
}

int wlb_cpuc_all_reduce(struct wlb_comm *c, const void *send, void *recv, size_t count,
			  enum wlb_dtype t, struct wlb_error *err)
{
	return reduce(c->impl, send, 0, recv, count, t, "all_reduce", err);
}
