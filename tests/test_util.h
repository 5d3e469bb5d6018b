/* test_util.h — what several test files need: temp files, file contents,
 * and field-by-field comparisons of traces and cost-DB rows. */
#ifndef WLB_TEST_UTIL_H
#define WLB_TEST_UTIL_H

#include "costdb.h"
#include "trace.h"
#include "workload.h"

/* A fresh empty file under /tmp; its name in buf (at least 64 bytes). */
void t_tmp_file(char *buf);
/* Removes path and its SQLite journal. */
void t_tmp_remove(const char *path);
void t_write_file(const char *path, const char *text);
/* The file's contents, NUL-terminated (malloc'd), or NULL. */
char *t_slurp(const char *path);

int t_same_dist(const struct wlb_dist *a, const struct wlb_dist *b);
/* Model, gpu, cluster, parallel (every field), context and policy: what a
 * wlb-config/1 holds. */
int t_same_config(const struct wlb_trace *a, const struct wlb_trace *b);
int t_same_coll(const struct wlb_coll_sample *a, const struct wlb_coll_sample *b);

/* W(d) = d(d+1)/2: attention pairs only, no linear part, easy to follow by hand. */
extern const struct wlb_workload t_pairs_work;

#endif
