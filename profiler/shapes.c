/* shapes.c — the per-rank GEMM and attention shapes of the model presets. */
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
