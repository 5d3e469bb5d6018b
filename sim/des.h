/* des.h — a discrete-event engine for task graphs.  Generic: it knows
 * nothing about LLMs.
 *
 * A graph is tasks on streams.  A stream runs its tasks one at a time in the
 * order they were added to it (like a CUDA stream); a task also waits for all
 * of its dependencies to finish.  wlb_des_run plays the graph with a binary
 * heap of events ordered by (time, sequence number), so ties resolve the
 * same way every run, and fills every task's start and end.  Graphs are
 * rebuilt every iteration: wlb_graph_reset keeps the memory. */
#ifndef WLB_DES_H
#define WLB_DES_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct wlb_task {
	uint32_t stream;
	uint32_t tag;        /* the caller's, e.g. an index into its own records */
	double dur_us;
	double start_us, end_us; /* filled by wlb_des_run */
};

struct wlb_graph;

int wlb_graph_create(struct wlb_graph **out);
void wlb_graph_destroy(struct wlb_graph *g);
/* Empties the graph and sets its number of streams (memory is kept). */
int wlb_graph_reset(struct wlb_graph *g, uint32_t n_streams);
/* Adds a task at the end of its stream; returns its id (0, 1, 2, ... in the
 * order added), or UINT32_MAX when out of memory, the stream does not exist
 * or dur_us is negative or not finite. */
uint32_t wlb_graph_task(struct wlb_graph *g, uint32_t stream, double dur_us, uint32_t tag);
/* after waits for before to finish.  0, or WLB_ENOMEM / WLB_EINVAL (an id
 * that is not a task).  Ids may be added in any order; an edge that closes a
 * cycle (with itself, or against stream order) is found by wlb_des_run. */
int wlb_graph_dep(struct wlb_graph *g, uint32_t before, uint32_t after);

/* Plays the graph: a task starts as soon as the task before it on its stream
 * and all its dependencies have ended.  Returns 0, or WLB_EINVAL naming the
 * first task that can never start (a dependency cycle, counting stream
 * order); tasks that never ran then have start_us = end_us = NaN.  Running
 * again without changes gives bitwise the same times. */
int wlb_des_run(struct wlb_graph *g, struct wlb_error *err);

size_t wlb_graph_tasks(const struct wlb_graph *g);
const struct wlb_task *wlb_graph_task_at(const struct wlb_graph *g, uint32_t id);
/* Largest end time (the makespan) of the last run; 0 before one. */
double wlb_graph_makespan(const struct wlb_graph *g);

#endif
