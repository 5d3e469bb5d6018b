/* test_util.c — helpers shared by the test files. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

void t_tmp_file(char *buf)
{
	strcpy(buf, "/tmp/wlb-test-XXXXXX");
	int fd = mkstemp(buf);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

void t_tmp_remove(const char *path)
{
	char j[96];
	snprintf(j, sizeof j, "%s-journal", path);
	unlink(path);
	unlink(j);
}

void t_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

char *t_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)))
		buf[fread(buf, 1, (size_t)n, f)] = '\0';
	fclose(f);
	return buf;
}

int t_same_dist(const struct wlb_dist *a, const struct wlb_dist *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++) {
		const struct wlb_dist_component *x = &a->c[i], *y = &b->c[i];
		if (x->weight != y->weight || x->kind != y->kind || x->a != y->a ||
		    x->b != y->b || x->min != y->min || x->max != y->max)
			return 0;
	}
	return 1;
}

int t_same_config(const struct wlb_trace *a, const struct wlb_trace *b)
{
	const struct wlb_model *m = &a->model, *n = &b->model;
	const struct wlb_parallel *p = &a->parallel, *q = &b->parallel;
	const struct wlb_policy *x = &a->policy, *y = &b->policy;

	if (strcmp(m->name, n->name) || m->layers != n->layers || m->hidden != n->hidden ||
	    m->ffn_hidden != n->ffn_hidden || m->heads != n->heads || m->kv_heads != n->kv_heads ||
	    m->head_dim != n->head_dim || m->vocab != n->vocab || m->mlp != n->mlp ||
	    m->tied_embeddings != n->tied_embeddings)
		return 0;
	if (strcmp(a->gpu, b->gpu) || a->cluster.gpus_per_node != b->cluster.gpus_per_node ||
	    a->cluster.nodes != b->cluster.nodes || a->context != b->context)
		return 0;
	if (p->tp != q->tp || p->cp != q->cp || p->pp != q->pp || p->dp != q->dp ||
	    p->vpp != q->vpp || p->microbatches != q->microbatches ||
	    strcmp(p->schedule, q->schedule) || strcmp(p->cp_algo, q->cp_algo) ||
	    p->sequence_parallel != q->sequence_parallel || p->zero != q->zero ||
	    p->recompute != q->recompute || p->tp_comm_overlap != q->tp_comm_overlap ||
	    p->overlap_grad_reduce != q->overlap_grad_reduce ||
	    p->overlap_param_gather != q->overlap_param_gather ||
	    p->micro_batch_size != q->micro_batch_size || p->n_pp_layers != q->n_pp_layers)
		return 0;
	for (int s = 0; s < p->n_pp_layers && s < WLB_MAX_PP; s++)
		if (p->pp_layers[s] != q->pp_layers[s])
			return 0;
	if (strcmp(x->packing, y->packing) || strcmp(x->sharding, y->sharding) ||
	    x->s_max != y->s_max || x->n_thresholds != y->n_thresholds || x->window != y->window)
		return 0;
	for (int i = 0; i < x->n_thresholds; i++)
		if (x->thresholds[i] != y->thresholds[i])
			return 0;
	return 1;
}

int t_same_coll(const struct wlb_coll_sample *a, const struct wlb_coll_sample *b)
{
	return a->run == b->run && a->source == b->source && a->op == b->op &&
	       a->ranks == b->ranks && a->nodes == b->nodes && a->bytes == b->bytes &&
	       !strcmp(a->algo, b->algo) && a->median_us == b->median_us &&
	       a->algbw_gbps == b->algbw_gbps && a->busbw_gbps == b->busbw_gbps;
}

static double pairs_attn(const struct wlb_workload *w, double q, double kv)
{
	(void)w;
	return wlb_pairs(q, kv);
}

static double zero_linear(const struct wlb_workload *w, double t)
{
	(void)w;
	(void)t;
	return 0;
}

const struct wlb_workload t_pairs_work = {.attn = pairs_attn, .linear = zero_linear, .att = 1};
