/* comm.h — the transport of wlb-run: communicators over groups of ranks,
 * point-to-point messages and the collectives a 4D-parallel step needs.
 *
 * Two implementations behind one table of operations: comm_cpu.c (processes
 * on one machine, Unix sockets between every pair, made by the launcher;
 * the CPU reference path) and comm_nccl.cu (NCCL on GPUs).  Buffers belong
 * to the communicator's device: host memory for the CPU, device memory for
 * NCCL.  Collectives sum in rank order, so every member gets the same bits.
 *
 * The CPU transport buffers sends in the receiving process, so a send never
 * waits for its receiver; an NCCL send holds its stream until the peer's
 * receive runs.  So pipeline neighbours exchange through p2p, a group of
 * sends and receives that complete together (ncclGroupStart/End), as
 * Megatron-LM batches its p2p ops; two neighbours may then each send to the
 * other.  A receive waits for its message at most the timeout given when the
 * world was made.  Messages between two ranks carry a tag; a receive takes
 * the first message from that peer with that tag (NCCL ignores tags and
 * matches in order, which the executor's deterministic order makes the same
 * thing). */
#ifndef WLB_COMM_H
#define WLB_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum wlb_dtype { WLB_DT_F64, WLB_DT_F32, WLB_DT_BF16 };

size_t wlb_dtype_size(enum wlb_dtype t);

struct wlb_comm;

/* One send (send = 1) or receive of a group (the p2p operation). */
struct wlb_p2p {
	int send, peer;
	uint32_t tag;
	void *buf;
	size_t count;
	enum wlb_dtype t;
};

struct wlb_comm_ops {
	/* Collective over the members of c: those passing the same color form
	 * a new communicator, ordered by key (ties by rank in c). */
	int (*split)(struct wlb_comm *c, int color, int key, struct wlb_comm **out,
		     struct wlb_error *err);
	/* recv holds size x count elements, member i's block at i x count. */
	int (*all_gather)(struct wlb_comm *c, const void *send, void *recv, size_t count,
			  enum wlb_dtype t, struct wlb_error *err);
	/* send holds size x count elements; member i gets the sum of every
	 * member's block i in recv (count elements). */
	int (*reduce_scatter)(struct wlb_comm *c, const void *send, void *recv, size_t count,
			      enum wlb_dtype t, struct wlb_error *err);
	/* Sum of count elements; send == recv is allowed. */
	int (*all_reduce)(struct wlb_comm *c, const void *send, void *recv, size_t count,
			  enum wlb_dtype t, struct wlb_error *err);
	/* To member peer of c; buf may be reused when it returns.  Tags are
	 * below 2^31 (the CPU transport keeps the rest for collectives). */
	int (*send)(struct wlb_comm *c, int peer, uint32_t tag, const void *buf, size_t count,
		    enum wlb_dtype t, struct wlb_error *err);
	/* From member peer of c: the message must hold exactly count elements
	 * (a different size is an error naming both sizes). */
	int (*recv)(struct wlb_comm *c, int peer, uint32_t tag, void *buf, size_t count,
		    enum wlb_dtype t, struct wlb_error *err);
	int (*barrier)(struct wlb_comm *c, struct wlb_error *err);
	void (*destroy)(struct wlb_comm *c);
	/* Sends and receives that complete together (see the top). */
	int (*p2p)(struct wlb_comm *c, const struct wlb_p2p *ops, int n, struct wlb_error *err);
	/* Waits for the work enqueued on the communicator, at most its timeout,
	 * failing on an asynchronous error (NCCL); call before a host wait that
	 * a dead peer could hang.  Nothing to wait for on the CPU. */
	int (*wait)(struct wlb_comm *c, struct wlb_error *err);
};

struct wlb_comm {
	const struct wlb_comm_ops *ops;
	int rank, size;         /* this process in the communicator */
	int world_rank;
	void *impl;
};

/* Convenience wrappers: c->ops->x(c, ...). */
static inline int wlb_comm_split(struct wlb_comm *c, int color, int key, struct wlb_comm **out,
				 struct wlb_error *err)
{
	return c->ops->split(c, color, key, out, err);
}

static inline void wlb_comm_destroy(struct wlb_comm *c)
{
	if (c)
		c->ops->destroy(c);
}

/* The world of a forked launch over its sockets (comm_cpu.c), which it owns
 * from then on (destroying the world closes them): one world per launch.  A
 * receive waits at most timeout_s (<= 0: forever), then fails naming the
 * peer. */
struct wlb_launch;
int wlb_comm_cpu_world(const struct wlb_launch *l, double timeout_s, struct wlb_comm **out,
		       struct wlb_error *err);

/* The world over NCCL (comm_nccl.cu): rank 0 writes the unique id to
 * id_file (temp file + rename), the others wait for it (at most timeout_s);
 * operations are enqueued on stream (a cudaStream_t of the device, wlb_dev).
 * Fails with one line in a build without CUDA. */
int wlb_comm_nccl_world(const struct wlb_launch *l, const char *id_file, double timeout_s,
			void *stream, struct wlb_comm **out, struct wlb_error *err);

#endif
