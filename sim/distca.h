/* distca.h — core attention disaggregation (DistCA, arXiv 2510.18121):
 * the core attention softmax(QK^T)V of every layer leaves its micro-batch's
 * ranks as tasks on (query shard, causal key prefix) pieces, a greedy
 * scheduler balances them over a pool of attention servers, an all-to-all
 * carries them there (Q, K, V; backward also O, dO) and the results back
 * (O + LSE; dQ, dK, dV), and two half-batches ping-pong so that one half's
 * transfer hides behind the other half's compute.
 *
 * This file holds the pieces that know nothing of the simulator: the split
 * of a document's queries into tile-multiple shards, the scheduler (split
 * what exceeds the mean load, then LPT: longest task first onto the least
 * loaded server) and the ping-pong arithmetic.  distca_sim.c applies them to
 * an iteration's micro-batches. */
#ifndef WLB_DISTCA_H
#define WLB_DISTCA_H

#include <stddef.h>
#include <stdint.h>

/* q_len queries [kv_len - q_len, kv_len) of document doc (the caller's
 * index) against their causal key prefix [0, kv_len). */
struct wlb_ca_task {
	uint32_t doc;
	uint32_t q_len, kv_len;
	int server;
	double cost_us;
};

/* Cuts queries [q_lo, q_hi) of one document into at most `parts` shards of
 * about equal causal pairs, every cut on a whole tile (WLB_ATTN_TILE) from
 * q_lo, so every shard but a range shorter than a tile holds at least one
 * tile.  Writes the shards' (q_len, kv_len) in order into out (room for
 * `parts`) and returns how many.  Their pairs sum to those of the range. */
size_t wlb_ca_split(uint32_t doc, uint32_t q_lo, uint32_t q_hi, int parts, struct wlb_ca_task *out);

/* Cost of one task (the cost DB's attention model). */
typedef double (*wlb_ca_cost_fn)(void *ctx, uint32_t q_len, uint32_t kv_len);
/* The server that holds a task's queries already (its home), or -1. */
typedef int (*wlb_ca_home_fn)(void *ctx, const struct wlb_ca_task *t);

/* One scheduling round's tasks and servers; buffers grow, never shrink. */
struct wlb_ca_sched {
	struct wlb_ca_task *tasks;
	size_t n, cap;
	double *load;                /* per server, after wlb_ca_schedule */
	size_t cap_load;
	int servers;
	double max_us, total_us;     /* the busiest server's load; the sum */
};

void wlb_ca_sched_free(struct wlb_ca_sched *s);
static inline void wlb_ca_sched_clear(struct wlb_ca_sched *s) { s->n = 0; }
/* Adds queries [q_lo, q_hi) of document doc as one task.  0 or WLB_ENOMEM. */
int wlb_ca_add(struct wlb_ca_sched *s, uint32_t doc, uint32_t q_lo, uint32_t q_hi);

/* Balances the tasks over `servers` servers: costs them with f, splits each
 * task above the mean load (total / servers) into ceil(cost / mean) query
 * shards (wlb_ca_split), sorts by cost (descending; ties by document and
 * position) and gives each in turn to its home (home(ctx, task), when home
 * is not NULL and says one) if it stays within the mean there, else to the
 * least loaded server (the lowest index on ties): LPT, with what fits at
 * home not moved.  Either way no server ends above the mean plus one task.
 * Sets every task's server and cost, load[], max_us and total_us.
 * Deterministic.  0 or WLB_ENOMEM. */
int wlb_ca_schedule(struct wlb_ca_sched *s, int servers, wlb_ca_cost_fn f, wlb_ca_home_fn home, void *ctx);

/* Ping-pong of two half-batches: half h's transfer (dispatch + return)
 * runs while the other half computes, so what shows is
 * max(0, transfer[0] - compute[1]) + max(0, transfer[1] - compute[0]). */
double wlb_ca_pingpong_exposed(const double compute[2], const double transfer[2]);

#endif
