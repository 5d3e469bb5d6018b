/* check_step.c — wlb-run --check's end-to-end test of the training step.
 *
 * Under --check every weight element is a function of its place in the
 * whole (unsharded) model and every input row a function of its token
 * (document, position), so every parallel configuration of the same
 * documents computes the same step: the loss is a sum over tokens, and the
 * gradient of each weight, summed over DP x CP, does not depend on how
 * tokens, heads, layers and micro-batches were spread.  Each rank folds its
 * summed gradients into a signature, sum over elements of g x h(element)
 * with h a fixed pseudo-random weight of the element's global place; the
 * ranks holding distinct elements (DP and CP rank 0) add theirs.  Equal
 * signatures across configurations (up to rounding) say that TP with
 * sequence parallelism, CP sharding, the pipeline and DP computed the one
 * gradient; tests/run_cli.sh compares them. */
#include <math.h>
#include <stdlib.h>

#include "exec_int.h"

static double unit(uint64_t a, uint64_t b, uint64_t c)
{
	return wlb_unit64(a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xD6E8FEB86659FD93ull ^
			  c * 0xA0761D6478BD642Full);
}

/* Global (row, column) of a local element of tensor k of a layer (0 QKV,
 * 1 output, 2 MLP in, 3 MLP out, 4 logits). */
static void global_place(const struct wlb_rank *R, int k, int row, int col, uint64_t *gr, uint64_t *gc)
{
	const struct wlb_model *md = &R->t->model;
	const int d = R->d, qw = R->hl * d, kw = R->kvl * d;
	*gr = (uint64_t)row;
	*gc = (uint64_t)col;
	switch (k) {
	case 0: /* columns: q heads | k heads | v heads, this rank's heads of each */
		if (col < qw)
			*gc = (uint64_t)R->tp_i * qw + col;
		else if (col < qw + kw)
			*gc = (uint64_t)md->heads * d + (uint64_t)R->tp_i * kw + (col - qw);
		else
			*gc = (uint64_t)(md->heads + md->kv_heads) * d + (uint64_t)R->tp_i * kw + (col - qw - kw);
		break;
	case 1:
		*gr = (uint64_t)R->tp_i * qw + row;
		break;
	case 2: /* gate | up, this rank's slice of each */
		*gc = col < R->F ? (uint64_t)R->tp_i * R->F + col
				 : (uint64_t)md->ffn_hidden + (uint64_t)R->tp_i * R->F + (col - R->F);
		break;
	case 3:
		*gr = (uint64_t)R->tp_i * R->F + row;
		break;
	default:
		*gc = (uint64_t)R->tp_i * R->V + col;
	}
}

/* Shape of tensor k on this rank. */
static void local_shape(const struct wlb_rank *R, int k, int *rows, int *cols)
{
	const int H = R->H, qw = R->hl * R->d;
	int r[5] = {H, qw, H, R->F, H}, c[5] = {R->nqkv, H, 2 * R->F, H, R->V};
	*rows = r[k];
	*cols = c[k];
}

static uint64_t tensor_id(int layer, int k)
{
	return (uint64_t)layer * 8 + (uint64_t)k + 1;
}

/* Fills or folds every weight tensor of this rank: fill (g NULL) writes
 * the global values into the weights; else *sig gets sum g x h. */
static int each_tensor(struct wlb_rank *R, int fill, double *sig)
{
	double *host = NULL;
	size_t cap = 0;
	int rc = 0;
	size_t nw = (size_t)R->vpp * R->lpc;

	for (size_t i = 0; i <= nw && !rc; i++) {
		int chunk = (int)(i / (size_t)(R->lpc ? R->lpc : 1));
		int layer = i < nw ? (chunk * R->pp + R->pp_i) * R->lpc + (int)(i % (size_t)R->lpc)
				   : R->t->model.layers;
		struct wlb_layer_w *lw = i < nw ? &R->w[i] : NULL;
		void *w[4] = {lw ? lw->qkv : R->wout, lw ? lw->o : NULL, lw ? lw->w1 : NULL, lw ? lw->w2 : NULL};
		void *g[4] = {lw ? lw->g_qkv : R->g_wout, lw ? lw->g_o : NULL, lw ? lw->g_w1 : NULL,
			      lw ? lw->g_w2 : NULL};
		for (int k = 0; k < 4 && w[k] && !rc; k++) {
			int kk = lw ? k : 4, rows, cols;
			local_shape(R, kk, &rows, &cols);
			size_t n = (size_t)rows * cols;
			if (n > cap) {
				free(host);
				cap = n;
				if (!(host = malloc(n * sizeof *host)))
					return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
			}
			/* fan-in of the unsharded layer, as the random initialisation */
			int fan[5] = {R->H, R->hl * R->d * R->tp, R->H, R->F * R->tp, R->H};
			if (!fill && (rc = DEV(R)->download(R->dev, host, g[k], n, R->err)))
				break;
			for (int r = 0; r < rows; r++)
				for (int c = 0; c < cols; c++) {
					uint64_t gr, gc;
					global_place(R, kk, r, c, &gr, &gc);
					size_t at = (size_t)r * cols + c;
					if (fill)
						host[at] = unit(R->seed ^ tensor_id(layer, kk), gr, gc) / sqrt(fan[kk]);
					else
						*sig += host[at] * unit(~R->seed ^ tensor_id(layer, kk), gr, gc);
				}
			if (fill)
				rc = DEV(R)->upload(R->dev, w[k], host, n, R->err);
		}
	}
	free(host);
	return rc;
}

int wlb_check_weights(struct wlb_rank *R)
{
	return each_tensor(R, 1, NULL);
}

int wlb_check_signature(struct wlb_rank *R, double *sig)
{
	*sig = 0;
	if (R->dp_i != 0 || R->cp_i != 0) /* the same summed gradients as DP x CP rank 0 */
		return 0;
	return each_tensor(R, 0, sig);
}

int wlb_check_input(struct wlb_rank *R, const struct wlb_layout *l, const struct wlb_doc *docs,
		    void *x)
{
	const int rs = l->rows / R->tp, H = R->H;
	double *host = calloc((size_t)rs * H + 1, sizeof *host);
	if (!host)
		return wlb_error_set(R->err, WLB_ENOMEM, "out of memory");
	for (int i = 0; i < rs; i++) {
		int row = R->tp_i * rs + i; /* sequence parallelism: this rank's share of the rows */
		if (row >= l->real)
			continue;       /* padding stays zero, and so do its activations */
		for (int c = 0; c < H; c++)
			host[(size_t)i * H + c] = unit(R->seed ^ 0x5eedull, (uint64_t)docs[l->row_doc[row]].id << 32 |
						       l->row_pos[row], (uint64_t)c);
	}
	int rc = DEV(R)->upload(R->dev, x, host, (size_t)rs * H, R->err);
	free(host);
	return rc;
}
