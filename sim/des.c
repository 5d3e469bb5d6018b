/* des.c — the discrete-event engine behind des.h.
 *
 * Building a graph appends to flat arrays: tasks, the per-stream chain
 * (stream_next), and the edge list (before, after).  wlb_des_run turns the
 * edges into successor lists in CSR form (a counting sort by `before`, stable
 * in insertion order), counts every task's pending predecessors (its
 * dependencies, plus one for the task before it on its stream), starts the
 * tasks with none at time 0, and then pops completion events off a binary
 * heap ordered by (time, sequence number of the push).  A completion
 * decrements its successors' counts; a task whose count reaches zero starts
 * at the event's time.  Every buffer grows geometrically and survives
 * wlb_graph_reset, so a warm graph runs without allocating. */
#include "des.h"

#include <math.h>
#include <stdlib.h>

#include "grow.h"

#define NONE UINT32_MAX

struct ev {
	double t;     /* completion time */
	uint32_t seq; /* order of the push: breaks ties in t */
	uint32_t task;
};

struct wlb_graph {
	uint32_t n_streams;
	uint32_t *stream_last; /* last task added to each stream, or NONE */
	size_t streams_cap;

	struct wlb_task *tasks;
	uint32_t *stream_next; /* the task after this one on its stream, or NONE */
	uint32_t *pending;     /* during a run: predecessors not yet finished */
	uint32_t *off;         /* CSR offsets into succ, n + 1 of them */
	size_t n, tasks_cap, next_cap, pending_cap, off_cap;

	uint32_t *eb, *ea; /* edge list: eb[i] before ea[i] */
	uint32_t *succ;    /* CSR successors, grouped by before */
	size_t ne, eb_cap, ea_cap, succ_cap;

	struct ev *heap;
	size_t heap_n, heap_cap;

	double makespan;
};

int wlb_graph_create(struct wlb_graph **out)
{
	struct wlb_graph *g = calloc(1, sizeof *g);

	*out = g;
	return g ? 0 : WLB_ENOMEM;
}

void wlb_graph_destroy(struct wlb_graph *g)
{
	if (!g)
		return;
	free(g->stream_last);
	free(g->tasks);
	free(g->stream_next);
	free(g->pending);
	free(g->off);
	free(g->eb);
	free(g->ea);
	free(g->succ);
	free(g->heap);
	free(g);
}

int wlb_graph_reset(struct wlb_graph *g, uint32_t n_streams)
{
	g->n = 0;
	g->ne = 0;
	g->heap_n = 0;
	g->makespan = 0;
	g->n_streams = 0;
	if (WLB_GROW(g->stream_last, g->streams_cap, n_streams))
		return WLB_ENOMEM;
	for (uint32_t s = 0; s < n_streams; s++)
		g->stream_last[s] = NONE;
	g->n_streams = n_streams;
	return 0;
}

uint32_t wlb_graph_task(struct wlb_graph *g, uint32_t stream, double dur_us, uint32_t tag)
{
	uint32_t id = (uint32_t)g->n, prev;
	struct wlb_task *t;

	if (stream >= g->n_streams || !(dur_us >= 0) || isinf(dur_us) || g->n >= NONE - 1)
		return NONE;
	if (WLB_GROW(g->tasks, g->tasks_cap, g->n + 1) ||
	    WLB_GROW(g->stream_next, g->next_cap, g->n + 1))
		return NONE;
	t = &g->tasks[id];
	t->stream = stream;
	t->tag = tag;
	t->dur_us = dur_us;
	t->start_us = t->end_us = NAN;
	g->stream_next[id] = NONE;
	prev = g->stream_last[stream];
	if (prev != NONE)
		g->stream_next[prev] = id;
	g->stream_last[stream] = id;
	g->n++;
	return id;
}

int wlb_graph_dep(struct wlb_graph *g, uint32_t before, uint32_t after)
{
	if (before >= g->n || after >= g->n)
		return WLB_EINVAL;
	if (g->ne >= NONE)
		return WLB_ENOMEM;
	if (WLB_GROW(g->eb, g->eb_cap, g->ne + 1) || WLB_GROW(g->ea, g->ea_cap, g->ne + 1))
		return WLB_ENOMEM;
	g->eb[g->ne] = before;
	g->ea[g->ne] = after;
	g->ne++;
	return 0;
}

static int ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

/* The heap never holds more than one event per task, and run() sizes it to
 * n beforehand, so pushes cannot fail. */
static void heap_push(struct wlb_graph *g, struct ev e)
{
	struct ev *h = g->heap;
	size_t i = g->heap_n++;

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ev_less(&e, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = e;
}

static struct ev heap_pop(struct wlb_graph *g)
{
	struct ev *h = g->heap, top = h[0], last = h[--g->heap_n];
	size_t n = g->heap_n, i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && ev_less(&h[c + 1], &h[c]))
			c++;
		if (!ev_less(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (n)
		h[i] = last;
	return top;
}

/* Successor lists: off[b]..off[b+1] index succ.  Counts go into off, turn
 * into end positions by a prefix sum, and a reverse pass over the edges
 * fills each list back to front, so it keeps insertion order and off[b]
 * ends as its start. */
static void build_csr(struct wlb_graph *g)
{
	size_t n = g->n, ne = g->ne;
	uint32_t *off = g->off, *pend = g->pending;

	for (size_t i = 0; i <= n; i++)
		off[i] = 0;
	for (size_t i = 0; i < n; i++)
		pend[i] = 0;
	for (size_t e = 0; e < ne; e++) {
		off[g->eb[e]]++;
		pend[g->ea[e]]++;
	}
	for (size_t i = 0, sum = 0; i <= n; i++) {
		sum += off[i];
		off[i] = (uint32_t)sum;
	}
	for (size_t e = ne; e-- > 0;)
		g->succ[--off[g->eb[e]]] = g->ea[e];
	for (size_t i = 0; i < n; i++)
		if (g->stream_next[i] != NONE)
			pend[g->stream_next[i]]++;
}

static void start(struct wlb_graph *g, uint32_t id, double t, uint32_t *seq)
{
	struct wlb_task *k = &g->tasks[id];

	k->start_us = t;
	k->end_us = t + k->dur_us;
	heap_push(g, (struct ev){.t = k->end_us, .seq = (*seq)++, .task = id});
}

static void release(struct wlb_graph *g, uint32_t id, double t, uint32_t *seq)
{
	if (--g->pending[id] == 0)
		start(g, id, t, seq);
}

int wlb_des_run(struct wlb_graph *g, struct wlb_error *err)
{
	size_t n = g->n, done = 0;
	uint32_t seq = 0;
	double makespan = 0;

	if (WLB_GROW(g->pending, g->pending_cap, n) || WLB_GROW(g->off, g->off_cap, n + 1) ||
	    WLB_GROW(g->succ, g->succ_cap, g->ne) || WLB_GROW(g->heap, g->heap_cap, n))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory for a graph of %zu tasks", n);
	build_csr(g);
	for (size_t i = 0; i < n; i++)
		g->tasks[i].start_us = g->tasks[i].end_us = NAN;
	g->heap_n = 0;
	for (size_t i = 0; i < n; i++)
		if (g->pending[i] == 0)
			start(g, (uint32_t)i, 0.0, &seq);
	while (g->heap_n) {
		struct ev e = heap_pop(g);
		uint32_t nx = g->stream_next[e.task];

		done++;
		makespan = e.t; /* events leave the heap in time order */
		for (uint32_t j = g->off[e.task]; j < g->off[e.task + 1]; j++)
			release(g, g->succ[j], e.t, &seq);
		if (nx != NONE)
			release(g, nx, e.t, &seq);
	}
	g->makespan = makespan;
	if (done < n) {
		for (size_t i = 0; i < n; i++) {
			const struct wlb_task *k = &g->tasks[i];
			if (isnan(k->start_us))
				return wlb_error_set(err, WLB_EINVAL,
						     "task %zu (stream %u, tag %u) can never start: "
						     "dependency cycle", i, (unsigned)k->stream,
						     (unsigned)k->tag);
		}
	}
	return 0;
}

size_t wlb_graph_tasks(const struct wlb_graph *g)
{
	return g->n;
}

const struct wlb_task *wlb_graph_task_at(const struct wlb_graph *g, uint32_t id)
{
	return id < g->n ? &g->tasks[id] : NULL;
}

double wlb_graph_makespan(const struct wlb_graph *g)
{
	return g->makespan;
}
