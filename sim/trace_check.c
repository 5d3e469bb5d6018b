/* trace_check.c — a trace's defaults and cross-field checks (trace.h):
 * wlb_trace_init, wlb_policy_defaults, wlb_trace_check and wlb_config_check,
 * which the loaders (trace.c) run with their place in the file so that a
 * message starts "FILE:LINE:COL:", and commands run again without one after
 * applying command-line overrides. */
#include "trace_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dcp.h"

void wlb_policy_defaults(struct wlb_policy *pol, uint32_t context)
{
	if (!pol->packing[0])
		snprintf(pol->packing, sizeof pol->packing, "wlb");
	if (!pol->sharding[0])
		snprintf(pol->sharding, sizeof pol->sharding, "adaptive");
	if (!pol->s_max) {
		uint64_t s = ((uint64_t)context * 3 + 1) / 2;

		s = (s + 1023) / 1024 * 1024;
		pol->s_max = s > UINT32_MAX ? UINT32_MAX / 1024 * 1024 : (uint32_t)s;
	}
	if (pol->n_thresholds < 0) {
		uint32_t q = context / 4, h = context / 2;

		pol->n_thresholds = 0;
		if (q >= 1 && q < h)
			pol->thresholds[pol->n_thresholds++] = q;
		if (h >= 1)
			pol->thresholds[pol->n_thresholds++] = h;
	}
	if (!pol->window)
		pol->window = 1;
	if (!pol->cp_mode[0])
		snprintf(pol->cp_mode, sizeof pol->cp_mode, "static");
	/* the fixed-length baselines lay documents out as a dataloader
	 * concatenates them (Megatron); wlb places its long ones for the split */
	if (!pol->doc_order[0])
		snprintf(pol->doc_order, sizeof pol->doc_order, "%s",
			 strncmp(pol->packing, "wlb", 3) ? "stream" : "zigzag");
}

void wlb_trace_init(struct wlb_trace *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->gpu, sizeof t->gpu, "h100-sxm");
	t->cluster.gpus_per_node = 8;
	t->parallel.tp = t->parallel.cp = t->parallel.pp = t->parallel.dp = 1;
	t->parallel.vpp = 1;
	t->parallel.microbatches = 1;
	snprintf(t->parallel.schedule, sizeof t->parallel.schedule, "1f1b");
	snprintf(t->parallel.cp_algo, sizeof t->parallel.cp_algo, "allgather");
	t->parallel.sequence_parallel = 1;
	t->parallel.zero = 3;
	t->parallel.overlap_grad_reduce = 1;
	t->parallel.overlap_param_gather = 1;
	t->parallel.micro_batch_size = 1;
	t->parallel.tp_comm_overlap = 1;
	t->policy.n_thresholds = -1;
	t->iterations = 1;
	t->source.kind = WLB_SOURCE_DIST;
	t->source.seed = 1;
}

int wlb_ld_cfail(const struct wlb_ld *l, struct wlb_error *err, const char *base, int code,
		 const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->code = code;
	return wlb_ld_place(l, base, err);
}

static int check_policy(const struct wlb_trace *t, const struct wlb_ld *l, struct wlb_error *err)
{
	struct wlb_policy pol = t->policy;
	enum wlb_shard_kind sk;
	enum wlb_doc_order order;
	char list[128] = "";
	const struct wlb_packer_ops *const *ops = wlb_packers();

	wlb_policy_defaults(&pol, t->context);
	if (!wlb_packer_find(pol.packing)) {
		for (size_t i = 0, n = 0; ops[i]; i++)
			n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0,
					      "%s%s", i ? ", " : "", ops[i]->name);
		return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
				    "policy.packing must be one of: %s, got \"%s\"", list,
				    pol.packing);
	}
	if (wlb_shard_parse(pol.sharding, &sk))
		return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
				    "policy.sharding must be one of: per-seq, per-doc, adaptive, hybrid, "
				    "got \"%s\"", pol.sharding);
	if (wlb_doc_order_parse(pol.doc_order, &order))
		return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
				    "policy.doc_order must be one of: stream, zigzag, got \"%s\"",
				    pol.doc_order);
	if (pol.window > WLB_MAX_WINDOW)
		return wlb_ld_cfail(l, err, "policy", WLB_ERANGE,
				    "policy.window must be at most %d global batches, got %u",
				    WLB_MAX_WINDOW, pol.window);
	enum wlb_dcp_mode cpm;
	if (wlb_dcp_mode_parse(pol.cp_mode, &cpm))
		return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
				    "policy.cp_mode must be one of: static, dynamic-megatron, "
				    "dynamic-cost, got \"%s\"", pol.cp_mode);
	/* ring's stage costs and distca's attention pool are per static group */
	if (cpm != WLB_DCP_STATIC && strcmp(t->parallel.cp_algo, "allgather"))
		return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
				    "policy.cp_mode %s is modelled with parallel.cp_algo allgather, "
				    "got %s", pol.cp_mode, t->parallel.cp_algo);
	if (cpm != WLB_DCP_STATIC && t->model.attention == WLB_ATTN_UNFUSED)
		return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
				    "policy.cp_mode %s needs context parallelism, which model.attention "
				    "\"unfused\" has not", pol.cp_mode);
	if (pol.n_thresholds > WLB_MAX_QUEUES)
		return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
				    "policy.outlier_thresholds must hold at most %d thresholds, "
				    "got %d", WLB_MAX_QUEUES, pol.n_thresholds);
	for (int i = 0; i < pol.n_thresholds; i++) {
		uint32_t x = pol.thresholds[i];

		if (x < 1)
			return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
					    "policy.outlier_thresholds[%d] must be a positive "
					    "integer, got %u", i, x);
		if (i && x <= pol.thresholds[i - 1])
			return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
					    "policy.outlier_thresholds[%d] must be greater than "
					    "the one before it (%u), got %u", i,
					    pol.thresholds[i - 1], x);
		if (x >= t->context)
			return wlb_ld_cfail(l, err, "policy", WLB_EINVAL,
					    "policy.outlier_thresholds[%d] must be below context "
					    "(%u): longer documents are cut to the context, got %u",
					    i, t->context, x);
	}
	return 0;
}

/* Everything but the data source. */
int wlb_ld_check_config(const struct wlb_trace *t, const struct wlb_ld *l, struct wlb_error *err)
{
	const struct wlb_parallel *p = &t->parallel;
	const struct wlb_cluster *c = &t->cluster;
	long long world;
	int rc;

	if (t->context < 1 || t->context > WLB_TRACE_CONTEXT_MAX)
		return wlb_ld_cfail(l, err, "context", WLB_ERANGE,
				    "context must be a positive integer at most %lld, got %u",
				    WLB_TRACE_CONTEXT_MAX, t->context);
	if ((rc = wlb_model_check(&t->model, err)) < 0)
		return wlb_ld_place(l, "model", err);
	if ((rc = wlb_parallel_check(p, &t->model, err)) < 0)
		return wlb_ld_place(l, "parallel", err);
	/* the packers fill micro-batches of micro_batch_size x context tokens */
	if ((long long)p->micro_batch_size * t->context > WLB_TRACE_CONTEXT_MAX)
		return wlb_ld_cfail(l, err, "parallel", WLB_ERANGE,
				    "parallel.micro_batch_size x context must be at most %lld tokens, got "
				    "%d x %u", WLB_TRACE_CONTEXT_MAX, p->micro_batch_size, t->context);
	/* the stream holds an iteration's documents at once */
	long long rows = (long long)p->dp * p->microbatches;
	long long seq = (long long)p->micro_batch_size * t->context;
	if (seq > WLB_MAX_BATCH_TOKENS / rows)
		return wlb_ld_cfail(l, err, "parallel", WLB_ERANGE,
				    "parallel.dp x microbatches x micro_batch_size x context must be at "
				    "most %lld tokens an iteration, got %d x %d x %d x %u",
				    WLB_MAX_BATCH_TOKENS, p->dp, p->microbatches, p->micro_batch_size,
				    t->context);
	if (c->gpus_per_node < 1)
		return wlb_ld_cfail(l, err, "cluster", WLB_EINVAL,
				    "cluster.gpus_per_node must be a positive integer, got %d",
				    c->gpus_per_node);
	if (c->gpus_per_node > WLB_MAX_GPUS_PER_NODE)
		return wlb_ld_cfail(l, err, "cluster", WLB_ERANGE,
				    "cluster.gpus_per_node must be at most %d, got %d",
				    WLB_MAX_GPUS_PER_NODE, c->gpus_per_node);
	if (c->nodes < 0)
		return wlb_ld_cfail(l, err, "cluster", WLB_EINVAL,
				    "cluster.nodes must be a positive integer (or 0 for as many as "
				    "needed), got %d", c->nodes);
	/* TP spans whole nodes or stays inside one (the paper's 70B runs TP16
	 * on nodes of 8) */
	if (p->tp > c->gpus_per_node ? p->tp % c->gpus_per_node : c->gpus_per_node % p->tp)
		return wlb_ld_cfail(l, err, "parallel", WLB_EINVAL,
				    "parallel.tp must divide cluster.gpus_per_node (%d) or be a "
				    "multiple of it, got %d", c->gpus_per_node, p->tp);
	world = (long long)p->tp * p->cp * p->pp * p->dp;
	if (c->nodes > 0 && world != (long long)c->nodes * c->gpus_per_node)
		return wlb_ld_cfail(l, err, "cluster", WLB_EINVAL,
				    "cluster.nodes (%d) x cluster.gpus_per_node (%d) must equal tp "
				    "x cp x pp x dp = %lld GPUs", c->nodes, c->gpus_per_node,
				    world);
	return check_policy(t, l, err);
}

int wlb_ld_check_trace(const struct wlb_trace *t, const struct wlb_ld *l, struct wlb_error *err)
{
	int rc;

	if ((rc = wlb_ld_check_config(t, l, err)) < 0)
		return rc;
	return wlb_ld_check_data(t, l, err);
}

int wlb_trace_check(const struct wlb_trace *t, struct wlb_error *err)
{
	return wlb_ld_check_trace(t, NULL, err);
}

int wlb_config_check(const struct wlb_trace *t, struct wlb_error *err)
{
	return wlb_ld_check_config(t, NULL, err);
}
