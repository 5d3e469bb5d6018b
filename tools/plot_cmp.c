/* plot_cmp.c — wlb-plot's charts across iterations, policies and reports:
 * cdf (iteration times), doclen (document lengths), speedup (per policy, and
 * against the context window) and measured (simulated against measured). */
#include "plot_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cdf: iteration times of each policy ---- */

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int plot_chart_cdf(struct plot_ctx *x)
{
	const struct plot_report *r = x->r;
	const struct plot_policy *s[64];
	const char *nm[64];
	char t1[256], t2[256], mainbuf[96];
	size_t ns = 0, most = 0;
	FILE *d;

	for (size_t i = 0; i < r->n_cmp && ns < 64; i++)
		if (r->cmp[i].has_times) {
			nm[ns] = r->cmp[i].name;
			s[ns++] = &r->cmp[i];
		}
	if (!ns && r->main.has_times) {
		nm[ns] = plot_main_name(r, mainbuf, sizeof mainbuf);
		s[ns++] = &r->main;
	}
	if (!ns)
		return plot_skip(x, "no iteration times (comparison[].iterations[].time_ms, iterations[].time_ms)");
	for (size_t i = 0; i < ns; i++)
		most = s[i]->n_iters > most ? s[i]->n_iters : most;
	snprintf(t1, sizeof t1, "Distribution of iteration times over %zu iterations", most);
	plot_cfg_line(r, 1, t2, sizeof t2);
	if (plot_begin(x, 1000, 600, "CDF of iteration times per policy", t1, t2) || !(d = plot_dat(x, NULL)))
		return WLB_ENOMEM;
	double *v = malloc((most + 1) * sizeof *v);
	if (!v)
		return WLB_ENOMEM;
	FILE *g = x->g;
	fputs("set xlabel 'iteration time (ms)'\nset ylabel 'iterations taking at most this long (%)'\n"
	      "set yrange [0:102]\nset ytics 0,20,100\nset offsets graph 0.02, graph 0.02, 0, 0\n"
	      "set grid xtics ytics back lt 1 lc rgb '#e4e4e4'\nplot ", g);
	for (size_t i = 0; i < ns; i++) {
		size_t n = 0;
		double sum = 0;
		for (size_t k = 0; k < s[i]->n_iters; k++)
			if (!isnan(s[i]->iters[k].time_ms))
				sum += v[n++] = s[i]->iters[k].time_ms;
		qsort(v, n, sizeof *v, cmp_dbl);
		char cn[96];
		plot_clean(cn, sizeof cn, nm[i]);
		fprintf(d, "%s# %s: iteration time (ms), share of iterations at or below it (%%)\n",
			i ? "\n\n" : "", cn);
		fprintf(d, "%.6g 0\n", v[0]);
		for (size_t k = 0; k < n; k++)
			fprintf(d, "%.6g %.6g\n", v[k], 100.0 * (double)(k + 1) / (double)n);
		char tt[160];
		snprintf(tt, sizeof tt, "%s (mean %.0f ms, median %.0f ms)", nm[i], sum / (double)n,
			 n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
		unsigned col = plot_colour(nm[i], (int)i);
		fprintf(g, "%s'%s' index %zu using 1:2 with steps lw 2 lc rgb '#%06x' title ", i ? ", \\\n     " : "",
			x->c->dat_name[0], i, col);
		plot_q(g, tt);
		if (n <= 60)
			fprintf(g, ", \\\n     '' index %zu every ::1 using 1:2 with points pt 7 ps 0.6 lc rgb '#%06x' notitle",
				i, col);
	}
	fputc('\n', g);
	free(v);
	snprintf(x->c->caption, sizeof x->c->caption,
		 "Cumulative distribution of iteration times: the further left and steeper, the faster "
		 "and steadier.");
	return plot_close(x);
}

/* ---- doclen: document lengths by log2 bin ---- */

int plot_chart_doclen(struct plot_ctx *x)
{
	const struct plot_report *r = x->r;
	char t1[256], t2[256], nd[32], nt[32];
	double docs = 0, toks = 0;
	FILE *d;

	for (size_t i = 0; i < r->n_bins; i++) {
		docs += r->bins[i].docs;
		toks += r->bins[i].tokens;
	}
	if (!r->n_bins || docs <= 0)
		return plot_skip(x, "no document-length histogram (key \"doclen_hist\")");
	plot_thousands(nd, sizeof nd, docs);
	plot_thousands(nt, sizeof nt, toks);
	snprintf(t1, sizeof t1, "Document lengths%s%s: %s documents, %s tokens", r->name ? " of " : "",
		 r->name ? r->name : "", nd, nt);
	plot_cfg_line(r, 1, t2, sizeof t2);
	if (plot_begin(x, 1000, 600, "document-length distribution", t1, t2) || !(d = plot_dat(x, NULL)))
		return WLB_ENOMEM;
	fputs("# bin  label  lo  hi  documents  tokens  documents_%  tokens_%\n", d);
	for (size_t i = 0; i < r->n_bins; i++) {
		const struct plot_bin *b = &r->bins[i];
		char lab[32];
		plot_size_label(lab, sizeof lab, b->lo);
		fprintf(d, "%zu \"%s\" %.0f %.0f %.0f %.0f %.6g %.6g\n", i, lab, b->lo, b->hi, b->docs, b->tokens,
			100 * b->docs / docs, toks > 0 ? 100 * b->tokens / toks : 0.0);
	}
	FILE *g = x->g;
	fprintf(g, "set xlabel 'document length (tokens; log2 bins, each labelled by its lower edge)'\n"
		   "set ylabel 'share of all documents or tokens (%%)'\nset yrange [0:*]\n"
		   "set xrange [-0.7:%zu.7]\nset boxwidth 0.38 absolute\n%s"
		   "plot '%s' using ($1-0.2):7 with boxes lc rgb '#8c9fcf' title ", r->n_bins - 1,
		r->n_bins > 24 ? "set xtics rotate by -60\n" : "", x->c->dat_name[0]);
	char tt[96];
	snprintf(tt, sizeof tt, "documents (%% of %s)", nd);
	plot_q(g, tt);
	fputs(", \\\n     '' using ($1+0.2):8 with boxes lc rgb '#2f4b8a' title ", g);
	snprintf(tt, sizeof tt, "tokens (%% of %s)", nt);
	plot_q(g, tt);
	fputs(", \\\n     '' using 1:(NaN):xtic(2) notitle\n", g);
	snprintf(x->c->caption, sizeof x->c->caption,
		 "Share of documents and of tokens by document length: a few long documents hold many "
		 "of the tokens, and their attention cost grows with the square of their length.");
	return plot_close(x);
}

/* ---- speedup: over the baseline, against the context window ---- */

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int is_measured(const struct plot_report *r)
{
	return r->source && !strcmp(r->source, "measured");
}

static int has_speedups(const struct plot_report *r)
{
	for (size_t i = 0; i < r->n_cmp; i++)
		if (!isnan(r->cmp[i].speedup))
			return 1;
	return 0;
}

/* "llama2-7b; 64K: TP4 CP2 PP4 DP1, 128K: TP8 CP2 PP4 DP1" for several reports */
static void several(const struct plot_report *const *u, size_t nu, int multi_cfg, char *buf, size_t cap)
{
	size_t n = 0;
	char c[32];

#define ADD(...) do { if (n < cap) n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__); } while (0)
	buf[0] = '\0';
	for (size_t i = 0; i < nu; i++) {
		size_t j = 0;
		while (j < i && !same_str(u[j]->model, u[i]->model))
			j++;
		if (j == i)
			ADD("%s%s", i ? ", " : "", u[i]->model && *u[i]->model ? u[i]->model : "custom model");
	}
	for (size_t i = 0; i < nu && i < 4; i++) {
		if (!multi_cfg && i)
			break;
		plot_size_label(c, sizeof c, (double)u[i]->context);
		ADD("%s", i ? ", " : "; ");
		if (multi_cfg)
			ADD("%s: ", c);
		ADD("TP%d CP%d PP%d DP%d", u[i]->tp, u[i]->cp, u[i]->pp, u[i]->dp);
	}
	if (multi_cfg && nu > 4)
		ADD(", ...");
#undef ADD
}

int plot_chart_speedup(struct plot_ctx *x)
{
	const struct plot_report *use[256];
	size_t nu = 0;
	int sim_any = 0, multi_model = 0, multi_cfg = 0;
	char t1[256], t2[256];
	FILE *d;

	for (size_t i = 0; i < x->n; i++)
		sim_any |= has_speedups(&x->all[i]) && !is_measured(&x->all[i]);
	for (size_t i = 0; i < x->n && nu < 256; i++)
		if (has_speedups(&x->all[i]) && is_measured(&x->all[i]) == !sim_any)
			use[nu++] = &x->all[i];
	if (!nu)
		return plot_skip(x, "no comparison with speedups (run wlb-sim with --compare)");
	int line = 0;
	for (size_t i = 1; i < nu; i++) {
		line |= use[i]->context != use[0]->context;
		multi_model |= !same_str(use[i]->model, use[0]->model);
		multi_cfg |= use[i]->tp != use[0]->tp || use[i]->cp != use[0]->cp || use[i]->pp != use[0]->pp ||
			     use[i]->dp != use[0]->dp;
	}
	const char *base = use[0]->cmp[0].name;
	if (line) {
		snprintf(t1, sizeof t1, "Speedup over %s against the context window", base);
		if (multi_model || multi_cfg)
			several(use, nu, multi_cfg, t2, sizeof t2);
		else
			plot_cfg_line(use[0], 0, t2, sizeof t2);
	} else {
		snprintf(t1, sizeof t1, "Speedup over %s (tokens per second)", base);
		plot_cfg_line(use[0], 1, t2, sizeof t2);
		if (multi_model || multi_cfg)
			several(use, nu, multi_cfg, t2, sizeof t2);
	}
	if (plot_begin(x, 1000, 600, line ? "speedup against the context window" : "speedup of each policy",
		  t1, t2) || !(d = plot_dat(x, NULL)))
		return WLB_ENOMEM;
	FILE *g = x->g;
	char yl[160];
	snprintf(yl, sizeof yl, "speedup over %s (ratio of tokens/s)", base);
	fputs("set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb '#666666' front\n"
	      "set ylabel ", g);
	plot_q(g, yl);
	fputc('\n', g);
	if (line) {
		/* one series per policy name (and model when several), points sorted by context */
		const char *names[64];
		const char *models[64];
		size_t nn = 0;
		for (size_t i = 0; i < nu; i++)
			for (size_t j = 0; j < use[i]->n_cmp; j++) {
				size_t s = 0;
				while (s < nn && !(same_str(names[s], use[i]->cmp[j].name) &&
						   (!multi_model || same_str(models[s], use[i]->model))))
					s++;
				if (s == nn && nn < 64) {
					names[nn] = use[i]->cmp[j].name;
					models[nn++] = use[i]->model;
				}
			}
		long long ctxs[256];
		size_t nc = 0;
		for (size_t i = 0; i < nu; i++) {
			size_t j = 0;
			while (j < nc && ctxs[j] != use[i]->context)
				j++;
			if (j == nc)
				ctxs[nc++] = use[i]->context;
		}
		qsort(ctxs, nc, sizeof *ctxs, plot_cmp_ll);
		fputs("set xlabel 'context window (K tokens)'\nset yrange [0:*]\n"
		      "set offsets graph 0.05, graph 0.05, graph 0.1, 0\nset xtics (", g);
		for (size_t j = 0; j < nc; j++)
			fprintf(g, "%s'%lldK' %.6g", j ? ", " : "", ctxs[j] / 1024, (double)ctxs[j] / 1024);
		fputs(")\nset key inside bottom right vertical box opaque\nplot ", g);
		for (size_t s = 0; s < nn; s++) {
			char lab[160];
			plot_clean(lab, sizeof lab, names[s]);
			fprintf(d, "%s# %s%s%s: context_K  speedup  report\n", s ? "\n\n" : "", lab,
				multi_model ? " " : "", multi_model && models[s] ? models[s] : "");
			for (size_t c = 0; c < nc; c++)
				for (size_t i = 0; i < nu; i++) {
					if (use[i]->context != ctxs[c] || (multi_model && !same_str(models[s], use[i]->model)))
						continue;
					for (size_t j = 0; j < use[i]->n_cmp; j++)
						if (same_str(use[i]->cmp[j].name, names[s]) && !isnan(use[i]->cmp[j].speedup))
							fprintf(d, "%.6g %.6g %s\n", (double)ctxs[c] / 1024,
								use[i]->cmp[j].speedup, use[i]->stem);
				}
			snprintf(lab, sizeof lab, "%s%s%s", names[s], multi_model ? ", " : "",
				 multi_model && models[s] ? models[s] : "");
			fprintf(g, "%s'%s' index %zu using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#%06x' title ",
				s ? ", \\\n     " : "", x->c->dat_name[0], s, plot_colour(names[s], (int)s));
			plot_q(g, lab);
		}
		fputc('\n', g);
		snprintf(x->c->caption, sizeof x->c->caption,
			 "Speedup of each policy over %s (ratio of tokens per second) at each context window.",
			 base);
	} else {
		size_t row = 0;
		fputs("# bar  label  speedup  rgb\n", d);
		for (size_t i = 0; i < nu; i++)
			for (size_t j = 0; j < use[i]->n_cmp; j++) {
				char lab[160];
				if (isnan(use[i]->cmp[j].speedup))
					continue;
				plot_clean(lab, sizeof lab, use[i]->cmp[j].name);
				fprintf(d, "%zu \"%s%s%s%s\" %.6g %u\n", row++, lab, nu > 1 ? " (" : "",
					nu > 1 ? use[i]->stem : "", nu > 1 ? ")" : "", use[i]->cmp[j].speedup,
					plot_colour(use[i]->cmp[j].name, (int)j));
			}
		fprintf(g, "set xlabel 'policy'\nset yrange [0:*]\nset offsets 0, 0, graph 0.12, 0\n"
			   "set xrange [-0.6:%zu.6]\nset boxwidth 0.6 absolute\nunset key\n%s"
			   "plot '%s' using 1:3:4:xtic(2) with boxes lc rgb variable notitle, \\\n"
			   "     '' using 1:3:(sprintf('%%.3fx', $3)) with labels offset 0,-0.9 tc rgb 'white' "
			   "font ',11' notitle\n",
			row - 1, row > 8 ? "set xtics rotate by -30\n" : "", x->c->dat_name[0]);
		snprintf(x->c->caption, sizeof x->c->caption,
			 "Speedup of each policy over %s, as a ratio of tokens per second on the same documents.",
			 base);
	}
	return plot_close(x);
}

/* ---- measured: simulated against measured iteration time ---- */

static const struct plot_policy *match_policy(const struct plot_report *s, const struct plot_policy *p,
					      const char *pname)
{
	for (size_t i = 0; i < s->n_cmp; i++) {
		const struct plot_policy *c = &s->cmp[i];
		if (p->packing && p->sharding && same_str(c->packing, p->packing) &&
		    same_str(c->sharding, p->sharding))
			return c;
	}
	for (size_t i = 0; i < s->n_cmp; i++)
		if (pname && same_str(s->cmp[i].name, pname))
			return &s->cmp[i];
	if (p->packing && same_str(s->main.packing, p->packing) && same_str(s->main.sharding, p->sharding))
		return &s->main;
	return NULL;
}

int plot_chart_measured(struct plot_ctx *x)
{
	char t1[256], t2[256], buf[96];
	size_t row = 0, pairs = 0, nmeas = 0;
	const struct plot_report *first = NULL, *last = NULL;
	FILE *d = NULL;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < x->n; i++) {
			const struct plot_report *m = &x->all[i], *s = NULL;
			if (!is_measured(m))
				continue;
			for (size_t j = 0; j < x->n && !s; j++) {
				const struct plot_report *c = &x->all[j];
				if (!is_measured(c) && same_str(c->model, m->model) && c->context == m->context &&
				    c->tp == m->tp && c->cp == m->cp && c->pp == m->pp && c->dp == m->dp)
					s = c;
			}
			if (!s)
				continue;
			size_t np = m->n_cmp ? m->n_cmp : 1;
			for (size_t k = 0; k < np; k++) {
				const struct plot_policy *p = m->n_cmp ? &m->cmp[k] : &m->main;
				const char *pn = m->n_cmp ? p->name : plot_main_name(m, buf, sizeof buf);
				const struct plot_policy *sp = match_policy(s, p, pn);
				if (!sp || isnan(sp->iter_ms) || isnan(p->iter_ms))
					continue;
				if (pass == 0) {
					first = first ? first : m;
					nmeas += last != m;
					last = m;
					pairs++;
					continue;
				}
				char lab[128];
				plot_clean(lab, sizeof lab, pn);
				fprintf(d, "%zu \"%s%s%s%s\" %.6g %.6g %+.1f\n", row++, lab, nmeas > 1 ? " (" : "",
					nmeas > 1 ? m->stem : "", nmeas > 1 ? ")" : "", sp->iter_ms, p->iter_ms,
					100 * (sp->iter_ms - p->iter_ms) / p->iter_ms);
			}
		}
		if (pass == 0) {
			if (!pairs)
				return plot_skip(x, "no measured report with a simulated one of the same configuration");
			snprintf(t1, sizeof t1, "Predicted against measured mean iteration time");
			plot_cfg_line(first, 1, t2, sizeof t2);
			if (plot_begin(x, 1000, 600, "predicted against measured iteration time", t1, t2) ||
			    !(d = plot_dat(x, NULL)))
				return WLB_ENOMEM;
			fputs("# bar  policy  simulated_ms  measured_ms  error_% (simulated vs measured)\n", d);
		}
	}
	fprintf(x->g, "set xlabel 'policy'\nset ylabel 'mean iteration time (ms)'\nset yrange [0:*]\n"
		      "set offsets 0, 0, graph 0.12, 0\nset xrange [-0.6:%zu.6]\nset boxwidth 0.38 absolute\n"
		      "plot '%s' using ($1-0.2):3 with boxes lc rgb '#8c9fcf' title 'simulated', \\\n"
		      "     '' using 1:(NaN):xtic(2) notitle, \\\n"
		      "     '' using ($1+0.2):4 with boxes lc rgb '#2f4b8a' title 'measured', \\\n"
		      "     '' using ($1+0.2):4:(sprintf('simulated %%+.1f%%%%', $5)) with labels offset 0,0.8 notitle\n",
		row - 1, x->c->dat_name[0]);
	snprintf(x->c->caption, sizeof x->c->caption,
		 "Simulated against measured mean iteration time per policy; the labels give the "
		 "simulation's error.");
	return plot_close(x);
}
