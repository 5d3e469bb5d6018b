/* pack_wlb.c — WLB-LLM's variable-length packing with outlier delay
 * (Algorithm 1, PAPER.md Fix 1).
 *
 * Documents longer than the first threshold wait in FIFO queues, one per
 * threshold level, until N = dp x m of them have gathered; then N are released
 * together so each micro-batch gets one.  The rest, longest first after what
 * was carried over, go to the micro-batch with the least workload W, or else
 * to the one with the fewest tokens, as long as it stays within s_max tokens;
 * what fits nowhere is carried to the next iteration.  Micro-batches are
 * assigned to DP replicas balanced (LPT).
 *
 * Decided where the paper is silent: a micro-batch may reach s_max exactly
 * (the paper writes "<"); s_max must be at least the context, so a
 * context-length piece always fits an empty micro-batch; at the end of the
 * data, queued documents stay pending (no flush).
 *
 * wlb-mem is the same packer with a memory cap (actmem.h): a micro-batch
 * also keeps at most params.mem.cap_bytes of activations on a GPU.  With
 * flash attention activations are linear in tokens, so the cap is a token
 * cap derived from the model, the parallel layout, the schedule's in-flight
 * micro-batches and the GPU; it is refused below a context (a context-long
 * document must fit an empty micro-batch).  Among micro-batches of equal
 * workload it takes the one with fewer tokens, which keeps memory even where
 * the workload does not decide. */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "pack.h"

struct queue {
	struct wlb_doc *d;
	size_t head, n, cap;  /* live entries d[head .. head + n) */
};

struct wlbp {
	uint32_t s_max, n_bins;  /* s_max: the token cap, memory's included */
	int even_mem;            /* wlb-mem: ties of workload to the fewer tokens */
	int n_queues;
	uint32_t thresholds[WLB_MAX_QUEUES];
	const struct wlb_workload *work;
	struct queue q[WLB_MAX_QUEUES];
	struct wlb_doc *remained, *fresh, *set;
	uint32_t *bin;
	uint64_t *tokens;
	double *load;
	size_t n_remained, cap_remained, cap_fresh, cap_set, cap_bin, cap_tokens, cap_load;
};

static int create(void **state, const struct wlb_pack_params *p, int mem, struct wlb_error *err)
{
	struct wlbp *w;
	uint32_t s_max = p->s_max;

	if (mem) {
		uint32_t cap = wlb_actmem_token_cap(&p->mem, p->mem.cap_bytes);
		if (p->mem.bytes_token <= 0 || p->mem.cap_bytes <= 0)
			return wlb_error_set(err, WLB_EINVAL, "packing wlb-mem needs the activation memory "
					     "cap: policy.mem_cap_gib, or the GPU's memory from a cost DB");
		if (cap < p->context)
			return wlb_error_set(err, WLB_EINVAL,
					     "packing wlb-mem: %.2f GiB of activations hold %u tokens per "
					     "micro-batch, less than the context (%u): a context-length "
					     "document must fit one micro-batch", p->mem.cap_bytes / 1073741824.0,
					     cap, p->context);
		s_max = cap < s_max ? cap : s_max;
	}
	if (p->s_max < p->context)
		return wlb_error_set(err, WLB_EINVAL,
				     "policy.s_max (%u) must be at least the context (%u): a "
				     "context-length document must fit one micro-batch", p->s_max, p->context);
	for (int i = 0; i < p->n_thresholds; i++)
		if (p->thresholds[i] < 1 || (i && p->thresholds[i] <= p->thresholds[i - 1]))
			return wlb_error_set(err, WLB_EINVAL,
					     "policy.outlier_thresholds must be positive and increasing");
	w = calloc(1, sizeof *w);
	if (!w)
		return wlb_error_set(err, WLB_ENOMEM, "out of memory");
	w->s_max = s_max;
	w->even_mem = mem;
	w->n_bins = (uint32_t)(p->dp * p->m);
	w->n_queues = p->n_thresholds;
	memcpy(w->thresholds, p->thresholds, sizeof w->thresholds);
	w->work = p->work;
	*state = w;
	return 0;
}

static int wlbp_create(void **state, const struct wlb_pack_params *p, struct wlb_error *err)
{
	return create(state, p, 0, err);
}

static int wlbp_create_mem(void **state, const struct wlb_pack_params *p, struct wlb_error *err)
{
	return create(state, p, 1, err);
}

static int enqueue(struct queue *q, struct wlb_doc d)
{
	if (q->head > 0 && q->head + q->n == q->cap) {
		memmove(q->d, q->d + q->head, q->n * sizeof *q->d);
		q->head = 0;
	}
	if (WLB_GROW(q->d, q->cap, q->head + q->n + 1))
		return WLB_ENOMEM;
	q->d[q->head + q->n++] = d;
	return 0;
}

/* Queue level of an outlier (len > L1): the highest i with L_i <= len. */
static int level(const struct wlbp *w, uint32_t len)
{
	int i = 0;
	while (i + 1 < w->n_queues && w->thresholds[i + 1] <= len)
		i++;
	return i;
}

static int wlbp_next(void *state, struct wlb_packer *pk, struct wlb_stream *s,
		     struct wlb_packed *out)
{
	struct wlbp *w = state;
	const struct wlb_doc *in;
	size_t n_in = wlb_stream_next(s, &in), n_fresh = 0, n_set = 0, n_placed = 0, keep = 0;
	uint32_t N = w->n_bins;
	int rc;

	if (n_in == 0)
		return 0; /* end of data: queued and carried documents stay pending */
	if (WLB_GROW(w->fresh, w->cap_fresh, n_in + (size_t)w->n_queues * N))
		return WLB_ENOMEM;
	for (size_t i = 0; i < n_in; i++) {
		if (w->n_queues > 0 && in[i].len > w->thresholds[0]) {
			if (enqueue(&w->q[level(w, in[i].len)], in[i]))
				return WLB_ENOMEM;
		} else {
			w->fresh[n_fresh++] = in[i];
		}
	}
	for (int k = 0; k < w->n_queues; k++) {
		struct queue *q = &w->q[k];
		if (q->n >= N) {
			memcpy(w->fresh + n_fresh, q->d + q->head, N * sizeof *q->d);
			n_fresh += N;
			q->head += N;
			q->n -= N;
		}
	}
	wlb_docs_sort_desc(w->fresh, n_fresh);

	n_set = w->n_remained + n_fresh;
	if (WLB_GROW(w->set, w->cap_set, n_set) || WLB_GROW(w->bin, w->cap_bin, n_set) ||
	    WLB_GROW(w->remained, w->cap_remained, n_set) ||
	    WLB_GROW(w->tokens, w->cap_tokens, N) || WLB_GROW(w->load, w->cap_load, N))
		return WLB_ENOMEM;
	if (w->n_remained) /* memcpy from a NULL buffer is undefined even for 0 bytes */
		memcpy(w->set, w->remained, w->n_remained * sizeof *w->set);
	if (n_fresh)
		memcpy(w->set + w->n_remained, w->fresh, n_fresh * sizeof *w->set);
	memset(w->tokens, 0, N * sizeof *w->tokens);
	memset(w->load, 0, N * sizeof *w->load);

	for (size_t i = 0; i < n_set; i++) {
		struct wlb_doc d = w->set[i];
		uint32_t lw = 0, lt = 0, b = UINT32_MAX;
		for (uint32_t k = 1; k < N; k++) {
			if (w->load[k] < w->load[lw] ||
			    (w->even_mem && w->load[k] == w->load[lw] && w->tokens[k] < w->tokens[lw]))
				lw = k;
			if (w->tokens[k] < w->tokens[lt])
				lt = k;
		}
		if (w->tokens[lw] + d.len <= w->s_max)
			b = lw;
		else if (w->tokens[lt] + d.len <= w->s_max)
			b = lt;
		if (b == UINT32_MAX) {
			w->remained[keep++] = d;
			continue;
		}
		w->tokens[b] += d.len;
		w->load[b] += wlb_workload_doc(w->work, d.len);
		w->set[n_placed] = d; /* n_placed <= i: compacting in place is safe */
		w->bin[n_placed++] = b;
	}
	w->n_remained = keep;
	rc = wlb_packed_emit(pk, out, w->set, w->bin, n_placed, N, 1);
	return rc ? rc : 1;
}

static uint64_t wlbp_pending(const void *state)
{
	const struct wlbp *w = state;
	uint64_t t = wlb_docs_tokens(w->remained, w->n_remained);
	for (int k = 0; k < w->n_queues; k++)
		t += wlb_docs_tokens(w->q[k].d + w->q[k].head, w->q[k].n);
	return t;
}

static void wlbp_destroy(void *state)
{
	struct wlbp *w = state;
	for (int k = 0; k < WLB_MAX_QUEUES; k++)
		free(w->q[k].d);
	free(w->remained);
	free(w->fresh);
	free(w->set);
	free(w->bin);
	free(w->tokens);
	free(w->load);
	free(w);
}

static int wlbp_save(const void *state, struct wlb_blob *b)
{
	const struct wlbp *w = state;
	for (int k = 0; k < w->n_queues; k++)
		wlb_blob_docs(b, w->q[k].d + w->q[k].head, w->q[k].n);
	wlb_blob_docs(b, w->remained, w->n_remained);
	return 0;
}

static int wlbp_load(void *state, struct wlb_rblob *r)
{
	struct wlbp *w = state;
	for (int k = 0; k < w->n_queues; k++) {
		w->q[k].head = 0;
		w->q[k].n = wlb_rblob_docs(r, &w->q[k].d, &w->q[k].cap);
	}
	w->n_remained = wlb_rblob_docs(r, &w->remained, &w->cap_remained);
	return r->bad ? WLB_EINVAL : 0;
}

const struct wlb_packer_ops wlb_pack_wlb = {
	"wlb", "variable-length packing with outlier delay (WLB-LLM Algorithm 1)",
	wlbp_create, wlbp_next, wlbp_pending, wlbp_destroy, wlbp_save, wlbp_load, NULL,
};

const struct wlb_packer_ops wlb_pack_wlb_mem = {
	"wlb-mem", "wlb with each micro-batch's activation memory capped (policy.mem_cap_gib)",
	wlbp_create_mem, wlbp_next, wlbp_pending, wlbp_destroy, wlbp_save, wlbp_load, NULL,
};
