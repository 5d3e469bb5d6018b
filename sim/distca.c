/* distca.c — core attention tasks, their greedy scheduler and the ping-pong
 * arithmetic (see distca.h). */
#include "distca.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_heapsort.h>

#include "err.h"
#include "grow.h"
#include "shard.h"

size_t wlb_ca_split(uint32_t doc, uint32_t q_lo, uint32_t q_hi, int parts, struct wlb_ca_task *out)
{
	/* rows [q_lo, x) of a causal document hold (x(x+1) - q_lo(q_lo+1)) / 2 pairs */
	double base = (double)q_lo * (q_lo + 1.0), total = ((double)q_hi * (q_hi + 1.0) - base) / 2;
	uint32_t prev = q_lo;
	size_t n = 0;

	for (int j = 1; j < parts; j++) {
		double x = (-1 + sqrt(1 + 4 * (base + 2 * total * j / parts))) / 2;
		uint64_t tiles = (uint64_t)llround((x - q_lo) / WLB_ATTN_TILE);
		uint64_t cut = q_lo + tiles * WLB_ATTN_TILE;
		if (cut < (uint64_t)prev + WLB_ATTN_TILE)
			cut = (uint64_t)prev + WLB_ATTN_TILE;
		if (cut + WLB_ATTN_TILE > q_hi)
			break;
		out[n++] = (struct wlb_ca_task){doc, (uint32_t)cut - prev, (uint32_t)cut, -1, 0};
		prev = (uint32_t)cut;
	}
	out[n++] = (struct wlb_ca_task){doc, q_hi - prev, q_hi, -1, 0};
	return n;
}

void wlb_ca_sched_free(struct wlb_ca_sched *s)
{
	free(s->tasks);
	free(s->load);
	memset(s, 0, sizeof *s);
}

int wlb_ca_add(struct wlb_ca_sched *s, uint32_t doc, uint32_t q_lo, uint32_t q_hi)
{
	if (WLB_GROW(s->tasks, s->cap, s->n + 1))
		return WLB_ENOMEM;
	s->tasks[s->n++] = (struct wlb_ca_task){doc, q_hi - q_lo, q_hi, -1, 0};
	return 0;
}

static int by_cost(const void *pa, const void *pb)
{
	const struct wlb_ca_task *a = pa, *b = pb;
	if (a->cost_us != b->cost_us)
		return a->cost_us > b->cost_us ? -1 : 1;
	if (a->doc != b->doc)
		return a->doc < b->doc ? -1 : 1;
	return a->kv_len < b->kv_len ? -1 : a->kv_len > b->kv_len;
}

int wlb_ca_schedule(struct wlb_ca_sched *s, int servers, wlb_ca_cost_fn f, wlb_ca_home_fn home, void *ctx)
{
	double total = 0;
	size_t n0 = s->n;

	if (servers < 1 || WLB_GROW(s->load, s->cap_load, (size_t)servers))
		return WLB_ENOMEM;
	s->servers = servers;
	for (size_t i = 0; i < n0; i++)
		total += s->tasks[i].cost_us = f(ctx, s->tasks[i].q_len, s->tasks[i].kv_len);
	/* attention is stateless: a task above the mean load becomes query
	 * shards of about the mean each (the first shard stays in place) */
	double mean = total / servers;
	for (size_t i = 0; i < n0; i++) {
		struct wlb_ca_task t = s->tasks[i];
		if (t.cost_us <= mean || t.q_len < 2 * WLB_ATTN_TILE)
			continue;
		int parts = (int)ceil(t.cost_us / mean);
		if (parts > (int)(t.q_len / WLB_ATTN_TILE))
			parts = (int)(t.q_len / WLB_ATTN_TILE);
		if (WLB_GROW(s->tasks, s->cap, s->n + (size_t)parts))
			return WLB_ENOMEM;
		size_t k = wlb_ca_split(t.doc, t.kv_len - t.q_len, t.kv_len, parts, s->tasks + s->n);
		s->tasks[i] = s->tasks[s->n];
		s->tasks[s->n] = s->tasks[s->n + k - 1];
		s->n += k - 1;
	}
	s->total_us = 0;
	for (size_t i = 0; i < s->n; i++) /* every shard's own cost: tiles are not additive */
		s->total_us += s->tasks[i].cost_us = f(ctx, s->tasks[i].q_len, s->tasks[i].kv_len);
	/* in place, no allocation; the order is total, so no stability is needed */
	gsl_heapsort(s->tasks, s->n, sizeof *s->tasks, by_cost);
	for (int j = 0; j < servers; j++)
		s->load[j] = 0;
	mean = s->total_us / servers;
	for (size_t i = 0; i < s->n; i++) {
		int best = home ? home(ctx, &s->tasks[i]) : -1;
		if (best < 0 || best >= servers || s->load[best] + s->tasks[i].cost_us > mean) {
			best = 0;
			for (int j = 1; j < servers; j++)
				if (s->load[j] < s->load[best])
					best = j;
		}
		s->tasks[i].server = best;
		s->load[best] += s->tasks[i].cost_us;
	}
	s->max_us = 0;
	for (int j = 0; j < servers; j++)
		s->max_us = s->load[j] > s->max_us ? s->load[j] : s->max_us;
	return 0;
}

double wlb_ca_pingpong_exposed(const double compute[2], const double transfer[2])
{
	double a = transfer[0] - compute[1], b = transfer[1] - compute[0];
	return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}
