/* plan.c — the packed and sharded iterations wlb-run executes, and the
 * token layout of one CP rank. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "packrun.h"
#include "workload.h"

struct build {
	struct wlb_plan *p;
	struct wlb_error *err;
};

static int on_mb(void *vc, const struct wlb_packed *pk, uint32_t b, const struct wlb_sharding *sh)
{
	struct build *c = vc;
	struct wlb_plan *p = c->p;
	const struct wlb_mb *mb = &pk->mb[b];
	size_t np = sh->rank_start[sh->cp];

	if (WLB_GROW(p->mbs, p->cap_mbs, p->n_mbs + 1) ||
	    WLB_GROW(p->docs, p->cap_docs, p->n_docs + mb->n + 1) ||
	    WLB_GROW(p->pieces, p->cap_pieces, p->n_pieces + np + 1) ||
	    WLB_GROW(p->start, p->cap_start, p->n_start + (size_t)sh->cp + 1))
		return wlb_error_set(c->err, WLB_ENOMEM, "out of memory");
	/* replica r owns the packed micro-batches r*m .. r*m + m (pack.h) */
	p->mbs[p->n_mbs++] = (struct wlb_plan_mb){mb->replica, b % (uint32_t)p->m, p->n_docs, mb->n,
						  mb->tokens, sh->tokens_per_rank, sh->used, p->n_start};
	if (mb->n)
		memcpy(p->docs + p->n_docs, pk->docs + mb->first, mb->n * sizeof *p->docs);
	p->n_docs += mb->n;
	for (int r = 0; r <= sh->cp; r++)
		p->start[p->n_start++] = p->n_pieces + sh->rank_start[r];
	if (np)
		memcpy(p->pieces + p->n_pieces, sh->pieces, np * sizeof *p->pieces);
	p->n_pieces += np;
	return 0;
}

static int on_iter(void *vc, const struct wlb_packed *pk, const struct wlb_iter_rec *rec)
{
	struct build *c = vc;
	(void)rec;
	if (pk->n_mb != (uint32_t)(c->p->dp * c->p->m))
		return wlb_error_set(c->err, WLB_EINVAL, "iteration %u has %u micro-batches, expected %d",
				     pk->iter, pk->n_mb, c->p->dp * c->p->m);
	c->p->n_iters++;
	return 0;
}

int wlb_plan_build(const struct wlb_trace *t, struct wlb_cost *cost, struct wlb_plan *p,
		   struct wlb_error *err)
{
	struct build c = {p, err};
	struct wlb_packrun_hooks hooks = {&c, on_mb, on_iter};
	struct wlb_packrun pr;
	struct wlb_workload w;
	int rc;

	memset(p, 0, sizeof *p);
	p->cp = t->parallel.cp;
	p->dp = t->parallel.dp;
	p->m = t->parallel.microbatches;
	wlb_workload_cost(&w, cost, &t->model, &t->parallel, t->context);
	rc = wlb_packrun_with(t, &w, &hooks, &pr, err);
	wlb_packrun_free(&pr);
	if (rc)
		wlb_plan_free(p);
	return rc;
}

void wlb_plan_free(struct wlb_plan *p)
{
	free(p->mbs);
	free(p->docs);
	free(p->pieces);
	free(p->start);
	memset(p, 0, sizeof *p);
}

/* Index of document id among docs[0..n), which the packers keep in id order. */
static int by_doc_id(const void *a, const void *b)
{
	const struct wlb_doc_at *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* The place in the micro-batch of document id (its documents may lie in any
 * order: order.h), or -1. */
static long find_doc(const struct wlb_layout *l, uint32_t n, uint32_t id)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (l->by_id[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && l->by_id[lo].id == id ? (long)l->by_id[lo].at : -1;
}

int wlb_layout_build(struct wlb_layout *l, const struct wlb_doc *docs, uint32_t n_docs,
		     const struct wlb_piece *pieces, const size_t *rank_start, int cp, int r,
		     uint32_t tokens_rank, int tp, struct wlb_error *err)
{
	uint64_t total = 0;
	int rows = (int)((tokens_rank + (uint32_t)tp - 1) / (uint32_t)tp * (uint32_t)tp);
	size_t mine = rank_start[r + 1] - rank_start[r];

	if (WLB_GROW(l->doc_start, l->cap_doc, (size_t)n_docs + 1) ||
	    WLB_GROW(l->by_id, l->cap_by_id, (size_t)n_docs + 1))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n_docs; i++) {
		l->by_id[i] = (struct wlb_doc_at){docs[i].id, i};
		l->doc_start[i] = total;
		total += docs[i].len;
	}
	l->doc_start[n_docs] = total;
	qsort(l->by_id, n_docs, sizeof *l->by_id, by_doc_id);
	for (uint32_t i = 1; i < n_docs; i++)
		if (l->by_id[i].id == l->by_id[i - 1].id)
			return wlb_error_set(err, WLB_EINVAL, "document %u is twice in the micro-batch",
					     l->by_id[i].id);
	if (WLB_GROW(l->where, l->cap_where, total + 1) ||
	    WLB_GROW(l->row_doc, l->cap_row, (size_t)rows + 1) ||
	    WLB_GROW(l->row_pos, l->cap_pos, (size_t)rows + 1) ||
	    WLB_GROW(l->cu_q, l->cap_cu_q, mine + 1) || WLB_GROW(l->cu_k, l->cap_cu_k, mine + 1))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < total; i++)
		l->where[i] = -1;

	/* every CP rank's pieces, so that each token is known to be held once */
	for (int rr = 0; rr < cp; rr++) {
		int row = 0;
		for (size_t j = rank_start[rr]; j < rank_start[rr + 1]; j++) {
			const struct wlb_piece *pc = &pieces[j];
			long k = find_doc(l, n_docs, pc->doc);
			if (k < 0 || pc->q_len == 0 || pc->q_len > pc->kv_len || pc->kv_len > docs[k].len)
				return wlb_error_set(err, WLB_EINVAL,
						     "CP rank %d: piece %zu (doc %u, q %u, kv %u) is not in the micro-batch",
						     rr, j - rank_start[rr], pc->doc, pc->q_len, pc->kv_len);
			for (uint32_t pos = pc->kv_len - pc->q_len; pos < pc->kv_len; pos++, row++) {
				int *w = &l->where[l->doc_start[k] + pos];
				if (*w >= 0 || row >= (int)tokens_rank)
					return wlb_error_set(err, WLB_EINVAL,
							     "CP rank %d: token %u of doc %u is %s", rr, pos, pc->doc,
							     *w >= 0 ? "held twice" : "beyond tokens_per_rank");
				*w = rr * rows + row;
				if (rr == r) {
					l->row_doc[row] = (uint32_t)k;
					l->row_pos[row] = pos;
				}
			}
		}
		if (rr == r)
			l->real = row;
	}
	for (uint64_t i = 0; i < total; i++)
		if (l->where[i] < 0)
			return wlb_error_set(err, WLB_EINVAL, "token %llu of the micro-batch is on no CP rank",
					     (unsigned long long)i);

	size_t keys = 0;
	for (size_t j = rank_start[r]; j < rank_start[r + 1]; j++)
		keys += pieces[j].kv_len;
	if (WLB_GROW(l->kv_idx, l->cap_kv, keys + 1))
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	l->rows = rows;
	l->n_pieces = (int)mine;
	l->max_q = l->max_k = 0;
	l->cu_q[0] = l->cu_k[0] = 0;
	for (size_t j = 0; j < mine; j++) {
		const struct wlb_piece *pc = &pieces[rank_start[r] + j];
		uint64_t s = l->doc_start[find_doc(l, n_docs, pc->doc)];
		for (uint32_t t = 0; t < pc->kv_len; t++)
			l->kv_idx[l->cu_k[j] + (int)t] = l->where[s + t];
		l->cu_q[j + 1] = l->cu_q[j] + (int)pc->q_len;
		l->cu_k[j + 1] = l->cu_k[j] + (int)pc->kv_len;
		if ((int)pc->q_len > l->max_q)
			l->max_q = (int)pc->q_len;
		if ((int)pc->kv_len > l->max_k)
			l->max_k = (int)pc->kv_len;
	}
	return 0;
}

void wlb_layout_free(struct wlb_layout *l)
{
	free(l->cu_q);
	free(l->cu_k);
	free(l->kv_idx);
	free(l->row_doc);
	free(l->row_pos);
	free(l->where);
	free(l->doc_start);
	free(l->by_id);
	memset(l, 0, sizeof *l);
}
