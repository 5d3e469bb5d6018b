/* shapes.c — the per-rank GEMM and attention shapes of the model presets,
 * and the grid that covers the rest (shapes.h). */
#include "shapes.h"

#include <string.h>

#include "model.h"

static int add_shape(struct wlb_shape *s, int *n, struct wlb_shape x)
{
	for (int i = 0; i < *n; i++)
		if (s[i].a == x.a && s[i].b == x.b && s[i].c == x.c)
			return 0;
	if (*n == WLB_MAX_SHAPES)
		return WLB_ERANGE;
	s[(*n)++] = x;
	return 0;
}

static int model_shapes(const struct wlb_model *m, struct wlb_shape *gemm, int *n_gemm,
			struct wlb_shape *attn, int *n_attn)
{
	for (int tp = 1; tp <= 16; tp *= 2) {
		if (m->heads % tp)
			continue;
		int64_t h = m->hidden, q = (int64_t)m->heads * m->head_dim / tp;
		int64_t kvh = m->kv_heads >= tp ? m->kv_heads / tp : 1;
		int64_t ffn = m->mlp == WLB_MLP_SWIGLU ? 2 * (int64_t)m->ffn_hidden : m->ffn_hidden;
		struct wlb_shape g[] = {
			{q + 2 * kvh * m->head_dim, h, 0}, /* QKV */
			{h, q, 0},                         /* output projection */
			{ffn / tp, h, 0},                  /* MLP up (+ gate) */
			{h, m->ffn_hidden / tp, 0},        /* MLP down */
			{m->vocab / tp, h, 0},             /* logits */
		};
		for (size_t s = 0; s < sizeof g / sizeof g[0]; s++)
			if (add_shape(gemm, n_gemm, g[s]))
				return WLB_ERANGE;
		if (add_shape(attn, n_attn, (struct wlb_shape){m->heads / tp, kvh, m->head_dim}))
			return WLB_ERANGE;
	}
	return 0;
}

int wlb_model_shapes(const char *model, struct wlb_shape *gemm, int *n_gemm, struct wlb_shape *attn,
		     int *n_attn, struct wlb_error *err)
{
	const char *const *names = wlb_model_preset_names();
	struct wlb_model m;
	int rc;

	*n_gemm = *n_attn = 0;
	for (int i = 0; names[i]; i++) {
		if (model && strcmp(model, names[i]))
			continue;
		wlb_model_preset(names[i], &m, err);
		if (model_shapes(&m, gemm, n_gemm, attn, n_attn))
			return wlb_error_set(err, WLB_ERANGE, "more than %d model shapes", WLB_MAX_SHAPES);
	}
	if (model && *n_gemm == 0 && (rc = wlb_model_preset(model, &m, err)))
		return rc;
	return 0;
}

int wlb_grid_2_3(int64_t lo, int64_t hi, int64_t *out, int cap)
{
	int n = 0;
	for (int64_t p = 1; p <= hi; p *= 2) {
		int64_t v[2] = {p, p >= 2 ? 3 * p / 2 : 0}; /* ascending: p, 1.5 p, 2 p, ... */
		for (int i = 0; i < 2; i++)
			if (v[i] >= lo && v[i] <= hi && n < cap)
				out[n++] = v[i];
	}
	return n;
}

int wlb_grid_shapes(struct wlb_shape *gemm, int *n_gemm, struct wlb_shape *attn, int *n_attn,
		    struct wlb_error *err)
{
	static const int64_t head_dims[] = {64, 80, 96, 128, 160, 192, 256};
	int64_t s[64];
	int n = wlb_grid_2_3(WLB_GRID_GEMM_MIN, WLB_GRID_GEMM_MAX, s, 64);

	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (add_shape(gemm, n_gemm, (struct wlb_shape){s[i], s[j], 0}))
				goto full;
	for (size_t d = 0; d < sizeof head_dims / sizeof *head_dims; d++)
		for (int64_t h = 1; h <= WLB_GRID_HEADS_MAX; h *= 2)
			if (add_shape(attn, n_attn, (struct wlb_shape){h, 1, head_dims[d]}) ||
			    add_shape(attn, n_attn, (struct wlb_shape){h, h, head_dims[d]}))
				goto full;
	return 0;
full:
	return wlb_error_set(err, WLB_ERANGE, "more than %d shapes", WLB_MAX_SHAPES);
}
