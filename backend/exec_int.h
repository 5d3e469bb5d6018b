/* exec_int.h — what the executor's files share (exec.c: ranks, schedule,
 * iterations; layer.c: one layer's forward and backward; check.c: --check).
 * Not part of exec.h. */
#ifndef WLB_EXEC_INT_H
#define WLB_EXEC_INT_H

#include "exec.h"

/* One layer's weights and their gradients. */
struct wlb_layer_w {
	void *qkv, *o, *w1, *w2;           /* H x nqkv, hl d x H, H x 2F, F x H */
	void *g_qkv, *g_o, *g_w1, *g_w2;
};

/* What a layer's forward keeps for its backward. */
struct wlb_layer_act {
	void *xf, *q, *kv_all, *o, *lse, *xf2, *h, *a;
};

/* A micro-batch's token layout on this rank, on the device. */
struct wlb_mb_dev {
	int rows, real, n_pieces, max_q, max_k, total_k;
	int *cu_q, *cu_k, *kv_idx;
	uint64_t tokens;
};

/* One (micro-batch, chunk) in flight: its layers' activations. */
struct wlb_chunk_act {
	struct wlb_layer_act *l;           /* [layers per chunk] */
	void *x;                           /* the chunk's running activation, rows/tp x H */
	void *dx;                          /* its gradient, in the backward */
	void *xf_last, *logits;            /* last chunk of the model only */
};

enum { SC_QKV, SC_KV, SC_KP, SC_VP, SC_KVP, SC_Y, SC_YS, SC_DYF, SC_DA, SC_DH, SC_DXF, SC_DO,
       SC_DQ, SC_DKP, SC_DVP, SC_DKVP, SC_DKVALL, SC_DKV, SC_DQKV, SC_T, SC_N };

enum { IV_ATTN, IV_COMM };

struct wlb_span {
	int rec;                           /* where in the rank's record the time adds up */
	int from, to;                      /* marks */
};

struct wlb_rank {
	const struct wlb_trace *t;
	const struct wlb_plan *plan;
	struct wlb_dev *dev;
	struct wlb_comm *world, *tpc, *cpc, *ppc, *dpc;  /* dpc: DP x CP, for gradients */
	struct wlb_error *err;
	uint64_t seed;
	int check;                         /* --check: global weights and inputs (check_step.c) */
	int tp, cp, pp, dp, vpp, m;
	int tp_i, cp_i, pp_i, dp_i;
	int H, F, hl, kvl, d, V, nqkv, lpc; /* local widths, layers per chunk */
	size_t esz;
	size_t state_bytes;                /* weights and gradients */
	struct wlb_layer_w *w;             /* [chunk * lpc + layer] */
	void *wout, *g_wout;               /* last stage: H x V */
	int fresh;                         /* the running chunk's gradients overwrite */
	struct wlb_mb_dev *mb;             /* [position], this iteration */
	void **x0;                         /* --check: [position] first-stage inputs */
	struct wlb_chunk_act *act;         /* [position * vpp + chunk] */
	struct wlb_layout lay;
	void *sc[SC_N];
	size_t sc_cap[SC_N];
	/* timing: marks of this iteration, and spans adding into the record */
	int n_marks, mark0;
	struct wlb_span *spans;
	size_t n_spans, cap_spans;
	struct wlb_p2p group[4];           /* the pipeline's next p2p group (exec.c) */
	int n_group;
	int span_at[2];                    /* record offsets of attention and comm spans, -1: none */
	int *step_mark;                    /* [slot * 2 + bwd][start, end] marks */
	int *fresh_chunk;                  /* [chunk]: its next gradient overwrites */
	double *rec;                       /* this rank's record of the running iteration */
};

/* The executor's deterministic values: splitmix64's finaliser, and a
 * double uniform in [-1, 1) from it. */
static inline uint64_t wlb_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline double wlb_unit64(uint64_t z)
{
	return (double)(wlb_mix64(z) >> 11) / 9007199254740992.0 * 2 - 1;
}

#define DEV(R) ((R)->dev->ops)
#define TRY_RC(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)

/* A scratch buffer of at least elems elements (grow-only, contents kept
 * only when it does not grow). */
void *wlb_rank_scratch(struct wlb_rank *R, int which, size_t elems);
/* A new mark; spans add the time from a mark to now into rec[cur + kind]. */
int wlb_rank_mark(struct wlb_rank *R, int *slot);
int wlb_rank_span(struct wlb_rank *R, int from, int kind);

/* Collectives over a group, timed as communication. */
int wlb_rank_ag(struct wlb_rank *R, struct wlb_comm *c, const void *s, void *r, size_t count);
int wlb_rank_rs(struct wlb_rank *R, struct wlb_comm *c, const void *s, void *r, size_t count);

/* layer.c: x (rows/tp x H) in place; the layer's activations into a. */
int wlb_layer_fwd(struct wlb_rank *R, const struct wlb_mb_dev *mb, struct wlb_layer_w *w,
		  struct wlb_layer_act *a, void *x);
/* dx (rows/tp x H) in place; frees a's buffers. */
int wlb_layer_bwd(struct wlb_rank *R, const struct wlb_mb_dev *mb, struct wlb_layer_w *w,
		  struct wlb_layer_act *a, void *dx);
/* Varlen attention of one micro-batch's layout: K and V from the CP group's
 * all-gathered [cp rows][2 kvl d] rows (K | V per row) into the rank's
 * piece order. */
int wlb_layer_gather_kv(struct wlb_rank *R, const struct wlb_mb_dev *mb, const void *kv_all,
			void **kp, void **vp);
void wlb_layer_act_free(struct wlb_rank *R, struct wlb_layer_act *a);

/* Test hook: 1 when the environment's WLB_RUN_FAULT names this fault
 * ("die" or "hang": rank 1 exits or stops in its first step; "kv": CP rank
 * 0's key indices are swapped in --check), so the tests can show that
 * failures are caught. */
int wlb_run_fault(const char *what);

/* check.c: --check on every micro-batch of the plan this rank's CP group
 * holds; errors into x. */
int wlb_check_run(struct wlb_rank *R, struct wlb_exec_result *x);

/* check_step.c: under --check, weights from their place in the whole model,
 * inputs from their tokens (x: rows/tp x H of micro-batch layout l), and
 * the signature of the summed gradients (exec.c's note explains). */
int wlb_check_weights(struct wlb_rank *R);
int wlb_check_input(struct wlb_rank *R, const struct wlb_layout *l, const struct wlb_doc *docs,
		    void *x);
int wlb_check_signature(struct wlb_rank *R, double *sig);

/* exec.c: the device layout of a layout (uploads). */
int wlb_rank_mb_upload(struct wlb_rank *R, const struct wlb_layout *l, struct wlb_mb_dev *mb);
void wlb_rank_mb_free(struct wlb_rank *R, struct wlb_mb_dev *mb);

#endif
