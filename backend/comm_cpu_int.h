/* comm_cpu_int.h — what the CPU transport's files share (comm_cpu.c: the
 * world, sockets, mailboxes, point-to-point and split; comm_cpu_coll.c: the
 * collectives, made of point-to-point messages).  Not part of comm.h. */
#ifndef WLB_COMM_CPU_INT_H
#define WLB_COMM_CPU_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "launch.h"

#define COLL_TAG 0x80000000u
/* on a message's id: the sender waits for an acknowledgement (a p2p group's
 * send), and the acknowledgement itself (see p2p_send) */
#define WANT_ACK 0x40000000u
#define ACK 0x80000000u

struct hdr {
	uint32_t id, tag;
	uint64_t bytes;
};

_Static_assert(sizeof(struct hdr) == 16, "no padding in the header");

struct msg {
	struct msg *next;
	struct hdr h;
	unsigned char data[];
};

_Static_assert(offsetof(struct msg, data) % 8 == 0, "payload aligned for doubles");

struct peer {
	int fd;                      /* -1: self, or after the world stopped */
	pthread_mutex_t send_mu;     /* one message at a time on the socket */
	struct msg *head, *tail;     /* mailbox, under world mu */
	int closed, close_errno;     /* under mu; errno 0: end of file */
	/* the receiver thread's own */
	struct hdr hdr;
	size_t hdr_got, got;
	struct msg *cur;
	int rx_done;
};

struct world {
	int rank, size;
	double timeout_s;
	struct peer peer[WLB_LAUNCH_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t rx;
	int wake[2];
	int stopped;                 /* under mu: the world comm was destroyed */
	int refs;                    /* under mu: communicators alive */
	uint32_t next_id;
};

struct cpu_comm {
	struct wlb_comm pub;
	struct world *w;
	uint32_t id, coll_seq;
	int members[];               /* world rank of each member */
};

/* A message with room for bytes of payload (NULL when out of memory). */
struct msg *wlb_cpuc_msg_new(size_t bytes);
/* A message of bytes to world rank wdst on cc with tag; never waits for the
 * receiver. */
int wlb_cpuc_send_to(struct cpu_comm *cc, int wdst, uint32_t tag, const void *buf, size_t bytes,
		     struct wlb_error *err);
/* Takes the first message of cc from member src with tag, waiting at most
 * the world's timeout; what names the operation in errors.  Unless want is
 * SIZE_MAX the message must hold want bytes (a collective's).  The caller
 * frees *out. */
int wlb_cpuc_take(struct cpu_comm *cc, int src, uint32_t tag, const char *what, size_t want,
		  struct msg **out, struct wlb_error *err);
/* Checks a buffer of blocks x count elements of t (sum: t must add); its
 * bytes per block into *bytes. */
int wlb_cpuc_check_buf(struct cpu_comm *cc, size_t count, enum wlb_dtype t, size_t blocks, int sum,
		       const char *what, size_t *bytes, struct wlb_error *err);

/* comm_cpu_coll.c */
int wlb_cpuc_gather(struct cpu_comm *cc, const void *send, void *recv, size_t bytes,
		    const char *what, struct wlb_error *err);
int wlb_cpuc_all_gather(struct wlb_comm *c, const void *send, void *recv, size_t count,
			enum wlb_dtype t, struct wlb_error *err);
int wlb_cpuc_reduce_scatter(struct wlb_comm *c, const void *send, void *recv, size_t count,
			    enum wlb_dtype t, struct wlb_error *err);
int wlb_cpuc_all_reduce(struct wlb_comm *c, const void *send, void *recv, size_t count,
			enum wlb_dtype t, struct wlb_error *err);

#endif
