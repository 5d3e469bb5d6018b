/* plot.c — wlb-plot's charts: each one a gnuplot script and its data files,
 * built in memory from checked reports.  Scripts name their data files by
 * plain names and default their output to NAME.png / NAME.svg, so
 * `gnuplot NAME.gp` in the output directory redraws the chart; text from
 * reports goes into single-quoted strings only (gnuplot runs backquoted
 * commands inside double quotes).  Here: the helpers, the charts of one
 * iteration (microbatch, cp, timeline) and plot_build; plot_cmp.c has the rest. */
#include "plot_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const plot_kinds[PLOT_N_KINDS] = {"microbatch", "cp", "timeline", "cdf", "doclen",
					      "speedup", "measured"};

#define PALETTE 10
static const unsigned pal[PALETTE] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
				      0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};

/* mixes colour c with white: f 0 keeps c, 1 gives white */
static unsigned tint(unsigned c, double f)
{
	unsigned out = 0;
	for (int s = 16; s >= 0; s -= 8) {
		double v = (c >> s) & 0xff;
		out |= (unsigned)(v + (255 - v) * f + 0.5) << s;
	}
	return out;
}

unsigned plot_colour(const char *name, int i)
{
	if (name && !strcmp(name, "Plain-4D"))
		return 0xc44e52;
	if (name && !strcmp(name, "Fixed-4D"))
		return 0xdd8452;
	if (name && !strcmp(name, "WLB-LLM"))
		return 0x4c72b0;
	/* enough for every --compare bundle beyond the three above */
	static const unsigned other[] = {0x55a868, 0x8172b3, 0x937860, 0xda8bc3, 0x8c8c8c,
					 0xccb974, 0x64b5cd, 0x2f4b7c};
	return other[i % 8];
}

/* s as a gnuplot single-quoted string: no substitution happens inside;
 * control characters become spaces and backquotes apostrophes ('', as
 * quotes are written). */
void plot_q(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\'' || ch == '`')
			fputs("''", f);
		else
			fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, f);
	}
	fputc('\'', f);
}

/* s with control characters and quotes dropped, for data-file strings and
 * script comments */
void plot_clean(char *dst, size_t cap, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 1 < cap; s++)
		if ((unsigned char)*s >= 0x20 && *s != 0x7f && *s != '"' && *s != '`')
			dst[n++] = *s;
	dst[n] = '\0';
}

const char *plot_base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* 10120881 -> "10,120,881" */
void plot_thousands(char *buf, size_t cap, double v)
{
	char d[32];
	size_t n = (size_t)snprintf(d, sizeof d, "%.0f", v), k = 0;
	for (size_t i = 0; i < n && k + 2 < cap; i++) {
		if (i && d[i - 1] != '-' && (n - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = d[i];
	}
	buf[k] = '\0';
}

/* "128K", "1M", "1000" */
void plot_size_label(char *buf, size_t cap, double v)
{
	long long n = (long long)v;
	if (n >= 1048576 && n % 1048576 == 0)
		snprintf(buf, cap, "%lldM", n / 1048576);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, cap, "%lldK", n / 1024);
	else
		snprintf(buf, cap, "%lld", n);
}

/* "llama2-7b, 128K context, TP8 CP2 PP4 DP1, interleaved 1F1B (2 virtual
 * stages), 4 micro-batches per replica"; parts absent from the report left out */
void plot_cfg_line(const struct plot_report *r, int with_context, char *buf, size_t cap)
{
	char ctx[32];
	size_t n = 0;

#define ADD(...) do { if (n < cap) n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__); } while (0)
	buf[0] = '\0';
	ADD("%s", r->model && *r->model ? r->model : r->name && *r->name ? r->name : "custom model");
	if (with_context && r->context) {
		plot_size_label(ctx, sizeof ctx, (double)r->context);
		ADD(", %s context", ctx);
	}
	if (r->tp && r->cp && r->pp && r->dp)
		ADD(", TP%d CP%d PP%d DP%d", r->tp, r->cp, r->pp, r->dp);
	if (r->schedule && !strcmp(r->schedule, "interleaved") && r->vpp > 1)
		ADD(", interleaved 1F1B (%d virtual stages)", r->vpp);
	else if (r->schedule && !strcmp(r->schedule, "1f1b"))
		ADD(", 1F1B");
	if (r->m)
		ADD(", %d micro-batches%s", r->m, r->dp > 1 ? " per replica" : "");
#undef ADD
}

int plot_begin(struct plot_ctx *x, int w, int h, const char *what, const char *t1, const char *t2)
{
	struct plot_chart *c = x->c;
	FILE *g = open_memstream(&c->gp, &c->gp_len);
	char src[160];

	if (!(x->g = g))
		return WLB_ENOMEM;
	fprintf(g, "# %s.gp: %s, drawn by wlb-plot from", c->name, what);
	for (size_t i = 0; i < x->n; i++) {
		plot_clean(src, sizeof src, plot_base_name(x->all[i].path));
		fprintf(g, " %s", src);
	}
	fprintf(g, ".\n# Edit this script or its data and redraw in this directory with:  gnuplot %s.gp\n"
		   "# (another output file: gnuplot -e \"outfile='other.%s'\" %s.gp)\n",
		c->name, x->fmt, c->name);
	fprintf(g, "if (!exists(\"outfile\")) outfile = '%s.%s'\n", c->name, x->fmt);
	if (!strcmp(x->fmt, "svg"))
		fprintf(g, "set terminal svg size %d,%d noenhanced font 'DejaVu Sans,11' "
			   "background rgb 'white'\n", w, h);
	else
		fprintf(g, "set terminal pngcairo size %d,%d noenhanced font 'DejaVu Sans,10'\n", w, h);
	fputs("set output outfile\nset encoding utf8\nset title ", g);
	plot_q(g, t1);
	fputs(" . \"\\n\" . ", g);
	plot_q(g, t2);
	fputs(" font ',12'\n"
	      "set border 3 lc rgb '#505050'\nset tics nomirror out\n"
	      "set grid ytics back lt 1 lc rgb '#e4e4e4'\n"
	      "set key below center horizontal Left reverse samplen 1.5 spacing 1.1 width 1 height 1\n"
	      "set style fill solid 1.0 noborder\n", g);
	return 0;
}

FILE *plot_dat(struct plot_ctx *x, const char *suffix)
{
	struct plot_chart *c = x->c;
	int i = c->n_dat;
	char nm[sizeof c->name];
	FILE *f;

	if (i == PLOT_MAX_DAT)
		return NULL;
	memcpy(nm, c->name, sizeof nm);
	snprintf(c->dat_name[i], sizeof c->dat_name[i], "%.95s%s%.8s.dat", nm, suffix ? "-" : "",
		 suffix ? suffix : "");
	if (!(f = open_memstream(&c->dat[i], &c->dat_len[i])))
		return NULL;
	c->n_dat++;
	return x->d[i] = f;
}

/* closes the script and the data files; 1, or WLB_ENOMEM when a stream failed */
int plot_close(struct plot_ctx *x)
{
	int bad = 0;
	if (x->g) {
		fputs("unset output\n", x->g);
		bad |= fclose(x->g) != 0;
		x->g = NULL;
	}
	for (int i = 0; i < PLOT_MAX_DAT; i++)
		if (x->d[i]) {
			bad |= fclose(x->d[i]) != 0;
			x->d[i] = NULL;
		}
	return bad ? WLB_ENOMEM : 1;
}

int plot_skip(struct plot_ctx *x, const char *why)
{
	if (x->note)
		snprintf(x->note, x->note_cap, "%s", why);
	return 0;
}
/* ---- microbatch: per-micro-batch work, baseline vs WLB-LLM ---- */

static const struct plot_policy *find_mb(const struct plot_report *r, const char *name,
					  const struct plot_policy *not)
{
	for (size_t i = 0; i < r->n_cmp; i++)
		if (r->cmp[i].has_mb && &r->cmp[i] != not && (!name || !strcmp(r->cmp[i].name, name)))
			return &r->cmp[i];
	return NULL;
}

static double mb_ratio(const struct plot_iter *it)
{
	double mx = 0, sum = 0;
	for (size_t j = 0; j < it->n_mb; j++) {
		double w = it->fwd_ms[j] + it->bwd_ms[j];
		sum += w;
		mx = w > mx ? w : mx;
	}
	return sum > 0 ? mx * (double)it->n_mb / sum : 0;
}

int plot_chart_microbatch(struct plot_ctx *x)
{
	const struct plot_report *r = x->r;
	const struct plot_policy *s[2] = {NULL, NULL};
	const char *nm[2] = {NULL, NULL};
	char mainbuf[96], t1[256], t2[256];
	size_t k = 0, nmb = 0;
	double best = -1;
	int ns = 1;
	FILE *d;

	if (find_mb(r, NULL, NULL)) {
		s[0] = find_mb(r, "Plain-4D", NULL);
		s[0] = s[0] ? s[0] : find_mb(r, NULL, NULL);
		s[1] = find_mb(r, "WLB-LLM", s[0]);
		for (size_t i = r->n_cmp; !s[1] && i-- > 0;)
			if (r->cmp[i].has_mb && &r->cmp[i] != s[0])
				s[1] = &r->cmp[i];
		nm[0] = s[0]->name;
		if (s[1]) {
			nm[1] = s[1]->name;
			ns = 2;
		}
	} else if (r->main.has_mb) {
		s[0] = &r->main;
		nm[0] = plot_main_name(r, mainbuf, sizeof mainbuf);
	} else {
		return plot_skip(x, "no per-micro-batch times (comparison[].iterations[].fwd_ms, "
			       "iterations[].microbatches[].fwd_ms)");
	}
	for (size_t i = 0; i < s[0]->n_iters; i++) {
		double v = mb_ratio(&s[0]->iters[i]);
		if (s[0]->iters[i].n_mb && v > best) {
			best = v;
			k = i;
		}
	}
	nmb = s[0]->iters[k].n_mb;
	const struct plot_iter *o = ns == 2 && k < s[1]->n_iters ? &s[1]->iters[k] : NULL;
	if (o && o->n_mb > nmb)
		nmb = o->n_mb;
	if (o && o->n_mb)
		snprintf(t1, sizeof t1, "Work per micro-batch in iteration %zu: %s vs %s "
			 "(max/mean %.2f vs %.2f)", k, nm[0], nm[1], best, mb_ratio(o));
	else
		snprintf(t1, sizeof t1, "Work per micro-batch in iteration %zu: %s (max/mean %.2f)", k,
			 nm[0], best);
	plot_cfg_line(r, 1, t2, sizeof t2);
	int w = nmb > 16 ? (int)(400 + 30 * nmb) : 1000;
	w = w > 2400 ? 2400 : w;
	if (plot_begin(x, w, w > 1200 ? 600 + (w - 1200) / 5 : 600, "work per micro-batch of one iteration", t1,
		  t2) || !(d = plot_dat(x, NULL)))
		return WLB_ENOMEM;
	int by_rep = r->dp > 1 && r->m > 0 && nmb == (size_t)r->dp * (size_t)r->m;
	size_t every = nmb > 48 ? (nmb + 47) / 48 : 1;
	double ymax = 0;
	fprintf(d, "# micro-batch forward and backward times (ms) of iteration %zu, pipeline order%s\n"
		   "# slot  label", k, by_rep ? ", replica-major" : "");
	for (int i = 0; i < ns; i++) {
		char cn[96];
		plot_clean(cn, sizeof cn, nm[i]);
		fprintf(d, "  %s_fwd_ms  %s_bwd_ms", cn, cn);
	}
	fputc('\n', d);
	for (size_t j = 0; j < nmb; j++) {
		size_t pos = by_rep ? j % (size_t)r->m : j;
		fprintf(d, "%zu \"", j);
		if (pos % every == 0)
			fprintf(d, "%zu", pos);
		fputc('"', d);
		for (int i = 0; i < ns; i++) {
			const struct plot_iter *it = i ? o : &s[0]->iters[k];
			if (it && j < it->n_mb) {
				fprintf(d, " %.6g %.6g", it->fwd_ms[j], it->bwd_ms[j]);
				ymax = fmax(ymax, it->fwd_ms[j] + it->bwd_ms[j]);
			} else {
				fputs(" NaN NaN", d);
			}
		}
		fputc('\n', d);
	}
	FILE *g = x->g;
	if (by_rep) {
		fputs("set xlabel 'micro-batch, by position in its replica''s pipeline order'\n", g);
		for (int rep = 0; rep < r->dp; rep++) {
			double x0 = (double)rep * r->m - 0.5;
			if (rep)
				fprintf(g, "set arrow from first %.1f, graph 0 to first %.1f, graph 1 nohead dt 3 "
					   "lc rgb '#808080'\n", x0, x0);
			fprintf(g, "set label 'replica %d' at first %.2f, graph 0.96 center\n", rep,
				x0 + r->m / 2.0);
		}
	} else {
		fputs("set xlabel 'micro-batch, in pipeline order'\n", g);
	}
	fputs("set ylabel 'forward + backward time of the micro-batch (ms)'\n", g);
	fprintf(g, "set xrange [-0.7:%zu.7]\nset yrange [0:%.6g]\nset boxwidth %s absolute\n", nmb - 1,
		ymax > 0 ? ymax * (by_rep ? 1.14 : 1.05) : 1, ns == 2 ? "0.38" : "0.6");
	fputs("set style fill solid 1.0 border lc rgb 'white'\nplot ", g);
	for (int i = 0; i < ns; i++) {
		unsigned col = plot_colour(nm[i], i);
		const char *dx = ns == 1 ? "1" : i ? "($1+0.2)" : "($1-0.2)";
		int c0 = 3 + 2 * i;
		fprintf(g, "%s'%s' using %s:($%d+$%d) with boxes lc rgb '#%06x' title ", i ? ", \\\n     " : "",
			x->c->dat_name[0], dx, c0, c0 + 1, col);
		char tt[128];
		snprintf(tt, sizeof tt, "%s backward", nm[i]);
		plot_q(g, tt);
		fprintf(g, ", \\\n     '' using %s:%d with boxes lc rgb '#%06x' title ", dx, c0, tint(col, 0.55));
		snprintf(tt, sizeof tt, "%s forward", nm[i]);
		plot_q(g, tt);
	}
	fputs(", \\\n     '' using 1:(NaN):xtic(2) notitle\n", g);
	snprintf(x->c->caption, sizeof x->c->caption,
		 "Forward (light) and backward (dark) time of each micro-batch in iteration %zu, the "
		 "iteration where %s is most imbalanced.", k, nm[0]);
	return plot_close(x);
}

/* ---- cp: attention time per CP rank, per-seq vs per-doc ---- */

int plot_chart_cp(struct plot_ctx *x)
{
	const struct plot_report *r = x->r;
	char t1[256], t2[256], mainbuf[96], it[32] = "";
	const int cp = r->cp_n;
	const double gw = 2.0 * cp + 1.5;   /* slots per micro-batch group */
	double ymax = 0;
	int chosen = 0;
	size_t nb = r->n_cpmb < 16 ? r->n_cpmb : 16;   /* more would be unreadable */
	char part[64] = "";
	FILE *d;

	if (!r->has_cp)
		return plot_skip(x, "no per-CP-rank times (key \"cp_ranks\")");
	if (cp == 1)
		return plot_skip(x, "cp is 1: no CP ranks to compare");
	if (r->n_cpmb == 0)
		return plot_skip(x, "cp_ranks.microbatches is empty");
	if (r->cp_iter >= 0)
		snprintf(it, sizeof it, ", iteration %d", r->cp_iter);
	if (nb < r->n_cpmb)
		snprintf(part, sizeof part, ", first %zu of %zu micro-batches", nb, r->n_cpmb);
	snprintf(t1, sizeof t1, "Attention time per CP rank%s%s: per-seq vs per-doc sharding (run: %s)",
		 it, part, plot_main_name(r, mainbuf, sizeof mainbuf));
	plot_cfg_line(r, 1, t2, sizeof t2);
	double slots = gw * (double)nb;
	int w = (int)(260 + slots * (cp > 4 ? 9 : 18));
	w = w < 1000 ? 1000 : w > 2400 ? 2400 : w;
	if (plot_begin(x, w, w > 1200 ? 600 + (w - 1200) / 5 : 600,
		       "attention time per CP rank under per-seq and per-doc sharding", t1, t2) ||
	    !(d = plot_dat(x, NULL)))
		return WLB_ENOMEM;
	fprintf(d, "# attention time per layer, forward + backward (ms), per CP rank\n"
		   "# block 0: per-seq, block 1: per-doc, block 2: the sharding adaptive chose\n"
		   "# x  ms  replica  position  rank\n");
	for (int lay = 0; lay < 2; lay++) {
		for (size_t b = 0; b < nb; b++) {
			const struct plot_cp_mb *m = &r->cpmb[b];
			for (int k = 0; k < cp; k++) {
				double v = lay ? m->doc[k] : m->seq[k];
				ymax = v > ymax ? v : ymax;
				fprintf(d, "%.2f %.6g %d %d %d\n", gw * (double)b + lay * (cp + 0.5) + k, v,
					m->replica, m->position, k);
			}
		}
		fputs("\n\n", d);
	}
	fputs("# x  slowest-rank ms  used\n", d);
	for (size_t b = 0; b < nb; b++) {
		const struct plot_cp_mb *m = &r->cpmb[b];
		int lay = !m->used ? -1 : !strcmp(m->used, "per-doc") ? 1 : !strcmp(m->used, "per-seq") ? 0 : -1;
		double mx = 0;
		if (lay < 0)
			continue;
		for (int k = 0; k < cp; k++)
			mx = fmax(mx, lay ? m->doc[k] : m->seq[k]);
		fprintf(d, "%.2f %.6g %s\n", gw * (double)b + lay * (cp + 0.5) + (cp - 1) / 2.0, mx,
			lay ? "per-doc" : "per-seq");
		chosen++;
	}
	if (!chosen)
		fputs("NaN NaN none\n", d);
	FILE *g = x->g;
	int by_rep = r->dp > 1;
	fprintf(g, "set xlabel 'micro-batch; under each, CP ranks 0-%d with per-seq, then with per-doc'\n",
		cp - 1);
	fputs("set ylabel 'attention time per layer, forward + backward (ms)'\n", g);
	fprintf(g, "set xrange [-1:%.2f]\nset yrange [0:%.6g]\nset boxwidth 0.9 absolute\nset xtics (",
		gw * (double)nb - 1.0, ymax * 1.12 + 1e-9);
	for (size_t b = 0; b < nb; b++) {
		if (by_rep)
			fprintf(g, "%s'r%d mb %d' %.2f", b ? ", " : "", r->cpmb[b].replica, r->cpmb[b].position,
				gw * (double)b + cp - 0.25);
		else
			fprintf(g, "%s'mb %d' %.2f", b ? ", " : "", r->cpmb[b].position, gw * (double)b + cp - 0.25);
	}
	fputs(")\nset style fill solid 1.0 border lc rgb 'white'\n", g);
	fprintf(g, "plot '%s' index 0 using 1:2 with boxes lc rgb '#dd8452' "
		   "title 'per-seq (one bar per CP rank)', \\\n"
		   "     '' index 1 using 1:2 with boxes lc rgb '#4c72b0' "
		   "title 'per-doc (one bar per CP rank)'",
		x->c->dat_name[0]);
	if (chosen)
		fprintf(g, ", \\\n     '' index 2 using 1:($2+%.6g) with points pt 11 ps 1.4 lc rgb '#222222' "
			   "title 'adaptive chose this sharding'", ymax * 0.04);
	fputc('\n', g);
	snprintf(x->c->caption, sizeof x->c->caption,
		 "Attention time per layer on each CP rank, per-seq against per-doc sharding; the CP group "
		 "runs at its slowest rank.%s", chosen ? " Triangles mark adaptive's choice." : "");
	return plot_close(x);
}

/* ---- timeline: a Gantt chart of one iteration ---- */

int plot_cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

int plot_chart_timeline(struct plot_ctx *x)
{
	const struct plot_report *r = x->r;
	char t1[256], t2[256], mainbuf[96], it[32] = "";
	long long *keys;
	size_t nrow = 0;
	double t0 = 0, t_end = 0;
	int max_mb = -1, multi_rep = 0, cnt[PT_N] = {0};
	FILE *d;

	if (!r->has_tl || r->n_tasks == 0)
		return plot_skip(x, "no timeline (key \"timeline\")");
	if (!(keys = malloc(r->n_tasks * sizeof *keys)))
		return WLB_ENOMEM;
	for (size_t i = 0; i < r->n_tasks; i++) {
		const struct plot_task *t = &r->tasks[i];
		keys[i] = (long long)t->replica * 4096 + t->stage;
		t0 = fmin(t0, t->start_ms);
		t_end = fmax(t_end, t->end_ms);
		max_mb = t->mb > max_mb ? t->mb : max_mb;
		multi_rep |= t->replica > 0;
		cnt[t->kind]++;
	}
	qsort(keys, r->n_tasks, sizeof *keys, plot_cmp_ll);
	for (size_t i = 0; i < r->n_tasks; i++)
		if (!nrow || keys[i] != keys[nrow - 1])
			keys[nrow++] = keys[i];
	if (t_end <= t0)
		t_end = t0 + 1;
	if (r->tl_iter >= 0)
		snprintf(it, sizeof it, " of iteration %d", r->tl_iter);
	snprintf(t1, sizeof t1, "Pipeline timeline%s: %s (gaps are pipeline bubbles)", it,
		 plot_main_name(r, mainbuf, sizeof mainbuf));
	plot_cfg_line(r, 1, t2, sizeof t2);
	int rowpx = nrow <= 8 ? 52 : nrow <= 16 ? 34 : 22, w = 1300;
	int h = (int)nrow * rowpx + 250;
	double plot_px = w - 240;
	if (plot_begin(x, w, h, "pipeline timeline of one iteration", t1, t2) || !(d = plot_dat(x, NULL))) {
		free(keys);
		return WLB_ENOMEM;
	}
	fputs("# one iteration's tasks, one block per kind; row: replica x stage (0 at the top)\n", d);
	/* block 0: each row's span, drawn grey under the tasks so idle time shows */
	fputs("# row spans:  x_mid  row  x_half  y_half\n", d);
	for (size_t i = 0; i < nrow; i++)
		fprintf(d, "%.6g %zu %.6g 0.42\n", (t0 + t_end) / 2, i, (t_end - t0) / 2);
	int blk[PT_N], nblk = 1;
	static const char *const what[PT_N] = {"forward", "backward", "activation sends (forward)",
					       "gradient sends (backward)", "DP gradient sync"};
	for (int k = 0; k < PT_N; k++) {
		blk[k] = -1;
		if (!cnt[k])
			continue;
		blk[k] = nblk++;
		fprintf(d, "\n\n# %s:  x_mid  y  x_half  y_half  rgb  microbatch  chunk  start_ms  end_ms  label\n",
			what[k]);
		for (size_t i = 0; i < r->n_tasks; i++) {
			const struct plot_task *t = &r->tasks[i];
			long long key = (long long)t->replica * 4096 + t->stage;
			size_t row = 0;
			if (t->kind != k)
				continue;
			while (keys[row] != key)
				row++;
			int comp = k <= PT_BWD;
			unsigned col = t->mb >= 0 ? pal[t->mb % PALETTE] : 0x555555;
			if (k == PT_FWD)
				col = tint(col, 0.5);
			else if (!comp)
				col = k == PT_DP_SYNC ? 0x222222 : 0x888888;
			char lab[16] = "";
			double px = (t->end_ms - t->start_ms) / (t_end - t0) * plot_px;
			if (comp && t->mb >= 0 && px >= 8.0 + 7.0 * (t->mb >= 10) + 7.0 * (t->mb >= 100))
				snprintf(lab, sizeof lab, "%d", t->mb);
			fprintf(d, "%.6g %.2f %.6g %.2f %u %d %d %.6g %.6g \"%s\"\n",
				(t->start_ms + t->end_ms) / 2, (double)row + (comp ? -0.06 : 0.35),
				(t->end_ms - t->start_ms) / 2, comp ? 0.3 : 0.05, col, t->mb, t->chunk,
				t->start_ms, t->end_ms, lab);
		}
	}
	FILE *g = x->g;
	fprintf(g, "set xlabel 'time within the iteration (ms)'\nset xrange [%.6g:%.6g]\n", t0,
		t_end + (t_end - t0) * 0.01);
	fprintf(g, "set yrange [%zu.5:-0.5]\nset grid noytics\nset grid xtics back lt 1 lc rgb '#e4e4e4'\n"
		   "set ytics scale 0 (", nrow - 1);
	for (size_t i = 0; i < nrow; i++) {
		if (multi_rep)
			fprintf(g, "%s'replica %lld stage %lld' %zu", i ? ", " : "", keys[i] / 4096, keys[i] % 4096, i);
		else
			fprintf(g, "%s'stage %lld' %zu", i ? ", " : "", keys[i] % 4096, i);
	}
	int nkey = max_mb + 1 < PALETTE ? max_mb + 1 : PALETTE;
	int nent = nkey + 3 + (cnt[PT_SEND_FWD] + cnt[PT_SEND_BWD] > 0) + (cnt[PT_DP_SYNC] > 0);
	fprintf(g, ")\nset style fill solid 1.0 noborder\nset key maxrows %d\n",
		nent <= 8 ? 1 : nent <= 18 ? 2 : 3);
	for (size_t i = 1; i < nrow; i++)
		if (keys[i] / 4096 != keys[i - 1] / 4096)
			fprintf(g, "set arrow from graph 0, first %zu.5 to graph 1, first %zu.5 nohead lw 1.5 "
				   "lc rgb '#606060' front\n", i - 1, i - 1);
	const char *dn = x->c->dat_name[0];
	fprintf(g, "plot '%s' index 0 using 1:2:3:4 with boxxyerror lc rgb '#ececec' notitle", dn);
	for (int k = 0; k < PT_N; k++) {
		if (blk[k] < 0)
			continue;
		fprintf(g, ", \\\n     '' index %d using 1:2:3:4:5 with boxxyerror lc rgb variable notitle", blk[k]);
		if (k <= PT_BWD)
			fprintf(g, ", \\\n     '' index %d using 1:2:10 with labels font ',8' tc rgb '%s' notitle",
				blk[k], k == PT_FWD ? "#202020" : "#ffffff");
	}
	for (int i = 0; i < nkey; i++)
		fprintf(g, ", \\\n     keyentry with boxes lc rgb '#%06x' title 'mb %d%s'", pal[i], i,
			i == PALETTE - 1 && max_mb >= PALETTE ? " (colours repeat)" : "");
	fputs(", \\\n     keyentry with boxes lc rgb '#c8c8c8' title 'forward: light'"
	      ", \\\n     keyentry with boxes lc rgb '#505050' title 'backward: dark'", g);
	if (cnt[PT_SEND_FWD] + cnt[PT_SEND_BWD])
		fputs(", \\\n     keyentry with boxes lc rgb '#888888' title 'send (thin bar)'", g);
	if (cnt[PT_DP_SYNC])
		fputs(", \\\n     keyentry with boxes lc rgb '#222222' title 'DP sync (thin bar)'", g);
	fputs(", \\\n     keyentry with boxes lc rgb '#ececec' title 'idle (bubble)'", g);
	fputc('\n', g);
	snprintf(x->c->caption, sizeof x->c->caption,
		 "Each row is one pipeline stage%s; blocks are forward (light) and backward (dark) "
		 "passes coloured and numbered by micro-batch, thin bars sends%s; grey gaps are bubbles.",
		 multi_rep ? " of one DP replica" : "", cnt[PT_DP_SYNC] ? " and the DP gradient sync" : "");
	free(keys);
	return plot_close(x);
}
int plot_build(const char *kind, const struct plot_report *r, size_t n, const char *name, const char *fmt,
	       struct plot_chart *c, char *note, size_t note_cap)
{
	struct plot_ctx x = {.r = r, .all = r, .n = n, .fmt = fmt, .c = c, .note = note, .note_cap = note_cap};
	int rc = 0;

	memset(c, 0, sizeof *c);
	snprintf(c->name, sizeof c->name, "%s", name);
	if (note && note_cap)
		note[0] = '\0';
	if (!strcmp(kind, "microbatch"))
		rc = plot_chart_microbatch(&x);
	else if (!strcmp(kind, "cp"))
		rc = plot_chart_cp(&x);
	else if (!strcmp(kind, "timeline"))
		rc = plot_chart_timeline(&x);
	else if (!strcmp(kind, "cdf"))
		rc = plot_chart_cdf(&x);
	else if (!strcmp(kind, "doclen"))
		rc = plot_chart_doclen(&x);
	else if (!strcmp(kind, "speedup"))
		rc = plot_chart_speedup(&x);
	else if (!strcmp(kind, "measured"))
		rc = plot_chart_measured(&x);
	for (int i = 0; i < PLOT_N_KINDS; i++)
		if (!strcmp(kind, plot_kinds[i]))
			c->kind = plot_kinds[i];
	if (rc <= 0) {
		plot_close(&x);
		plot_chart_free(c);
	}
	return rc < 0 ? WLB_ENOMEM : rc;
}

void plot_chart_free(struct plot_chart *c)
{
	free(c->gp);
	for (int i = 0; i < c->n_dat; i++)
		free(c->dat[i]);
	c->gp = NULL;
	c->n_dat = 0;
}
