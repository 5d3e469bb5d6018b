/* wlb-plot — charts from wlb-report/1 reports, drawn by gnuplot.
 *
 * Every report is read and checked before anything is written; then each
 * chart's data files and script go into the output directory (atomically),
 * gnuplot runs there on the script (argv, no shell) writing a temp file that
 * is renamed to NAME.png / NAME.svg when gnuplot succeeds, and index.html
 * shows every chart (embedded) with a summary table. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "opts.h"
#include "plot.h"

#define fail(...) wlb_fail(wlb_prog, __VA_ARGS__)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wlb-plot REPORT... [-o DIR] [--format png|svg] [--only NAME]\n"
		"\n"
		"Draws charts from wlb-report/1 files (wlb-sim --json, wlb-trace pack --json) with\n"
		"gnuplot into DIR (default charts/), one file per chart, and prints their paths.\n"
		"Beside each chart NAME.png lie its data (NAME.dat) and its gnuplot script\n"
		"(NAME.gp): edit them and run `gnuplot NAME.gp` in DIR to redraw.  DIR/index.html\n"
		"shows every chart and a summary table, self-contained.\n"
		"\n"
		"charts (NAME):\n"
		"  microbatch  forward + backward time per micro-batch of one iteration, baseline vs\n"
		"              WLB-LLM (the iteration where the baseline is most imbalanced)\n"
		"  cp          attention time per CP rank, per-seq vs per-doc, adaptive's choice marked\n"
		"  timeline    Gantt chart of one iteration: stages x time, bubbles as gaps\n"
		"  cdf         distribution of iteration times per policy\n"
		"  doclen      document lengths by log2 bin: shares of documents and of tokens\n"
		"  speedup     speedup over the baseline per policy; against the context window\n"
		"              when reports of several contexts are given\n"
		"  measured    simulated vs measured iteration time, when a measured report (wlb-run)\n"
		"              is given with a simulated one of the same configuration\n"
		"With several reports, the per-report charts are named NAME-REPORT.\n"
		"\n"
		"options:\n"
		"  -o, --output DIR    output directory (created), default charts\n"
		"      --format FMT    png (default) or svg\n"
		"      --only NAME     draw only this chart\n"
		"  -h, --help          this text\n");
}

/* gnuplot's path on PATH, or NULL */
static const char *find_gnuplot(char *buf, size_t cap)
{
	const char *path = getenv("PATH");
	char dir[2048];

	if (!path || !*path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(dir, sizeof dir, "%.*s", (int)(n ? (n < 2000 ? n : 2000) : 1), n ? path : ".");
		snprintf(buf, cap, "%s/gnuplot", dir);
		if (access(buf, X_OK) == 0)
			return buf;
		path += n + (path[n] == ':');
	}
	return NULL;
}

static int mkdir_p(const char *dir)
{
	char p[4096];
	size_t n = strlen(dir);

	if (n >= sizeof p)
		return fail("%.64s...: path too long", dir);
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0777) && errno != EEXIST)
			return fail("%s: cannot create directory: %s", p, strerror(errno));
		p[i] = c;
	}
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return fail("%s: not a directory", dir);
	return 0;
}

/* dir/name into buf (cut to cap - 1 bytes) */
static void join(char *buf, size_t cap, const char *dir, const char *name)
{
	size_t n = strlen(dir), m = strlen(name), k = 0;
	int slash = !(n && dir[n - 1] == '/');

	for (size_t i = 0; i < n && k + 1 < cap; i++)
		buf[k++] = dir[i];
	if (slash && k + 1 < cap)
		buf[k++] = '/';
	for (size_t i = 0; i < m && k + 1 < cap; i++)
		buf[k++] = name[i];
	buf[k] = '\0';
}

static int put(const char *dir, const char *name, const char *data, size_t len)
{
	char path[4096];
	struct wlb_error err;

	join(path, sizeof path, dir, name);
	if (wlb_file_write(path, data, len, &err))
		return fail("%s", err.msg);
	return 0;
}

/* The last non-empty line of gnuplot's messages. */
static const char *last_line(char *msg, size_t n)
{
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	char *s = strrchr(msg, '\n');
	return s ? s + 1 : msg;
}

/* Runs gnuplot on NAME.gp in dir, to a temp file renamed to NAME.fmt. */
static int draw(const char *exe, const char *dir, const struct plot_chart *c, const char *fmt)
{
	char tmp[160], setout[200], gp[112], path[4096], tpath[4096], msg[8192];
	int fd[2], status = 0, rc = 0;
	size_t n = 0;
	ssize_t got;
	pid_t pid;

	snprintf(tmp, sizeof tmp, ".%s.tmp.%ld.%s", c->name, (long)getpid(), fmt);
	snprintf(setout, sizeof setout, "outfile='%s'", tmp);
	snprintf(gp, sizeof gp, "%s.gp", c->name);
	join(tpath, sizeof tpath, dir, tmp);
	snprintf(msg, sizeof msg, "%s.%s", c->name, fmt);
	join(path, sizeof path, dir, msg);
	if (pipe(fd))
		return fail("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(fd[0]);
		close(fd[1]);
		return fail("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		char *argv[] = {"gnuplot", "-e", setout, gp, NULL};
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		dup2(fd[1], 2);
		close(fd[0]);
		if (chdir(dir))
			_exit(126);
		execv(exe, argv);
		_exit(127);
	}
	close(fd[1]);
	while ((got = read(fd[0], msg + n, sizeof msg - 1 - n)) > 0 || (got < 0 && errno == EINTR))
		n += got > 0 ? (size_t)got : 0;
	msg[n] = '\0';
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	struct stat st;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) >= 126 && !n)
			rc = fail("%s: cannot run gnuplot (%s) there", dir, exe);
		else
			rc = fail("gnuplot failed on %s/%s: %s", dir, gp,
				  n ? last_line(msg, n) : "killed by a signal");
	} else if (stat(tpath, &st) || st.st_size == 0) {
		rc = fail("gnuplot wrote no chart from %s/%s", dir, gp);
	} else if (rename(tpath, path)) {
		rc = fail("%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
	} else if (n) { /* warnings: pass them on, one line each */
		for (char *s = msg, *e; *s; s = e + (*e != '\0')) {
			e = s + strcspn(s, "\n");
			if (e > s && strspn(s, " ^") < (size_t)(e - s))
				fprintf(stderr, "%s: gnuplot on %s: %.*s\n", wlb_prog, gp, (int)(e - s), s);
		}
	}
	if (rc)
		remove(tpath);
	return rc;
}

/* ---- index.html ---- */

static void html_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void base64(FILE *f, const unsigned char *p, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		fputc(a[v >> 18 & 63], f);
		fputc(a[v >> 12 & 63], f);
		fputc(i + 1 < n ? a[v >> 6 & 63] : '=', f);
		fputc(i + 2 < n ? a[v & 63] : '=', f);
	}
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void html_num(FILE *f, double v, const char *fmt, double scale)
{
	fputs("<td>", f);
	if (isnan(v))
		fputs("&ndash;", f);
	else
		fprintf(f, fmt, v * scale);
	fputs("</td>", f);
}

static void html_row(FILE *f, const struct plot_report *r, const char *policy, const struct plot_policy *p)
{
	fputs("<tr><td>", f);
	html_text(f, r->stem);
	fputs("</td><td>", f);
	html_text(f, r->source ? r->source : "");
	fputs("</td><td>", f);
	html_text(f, policy);
	fputs("</td>", f);
	html_num(f, p->iter_ms, "%.1f", 1);
	html_num(f, p->speedup, "%.3fx", 1);
	html_num(f, p->imb_pp, "%.3f", 1);
	html_num(f, p->imb_cp, "%.3f", 1);
	html_num(f, p->mfu, "%.1f%%", 100);
	html_num(f, p->delay, "%.3f", 1);
	fputs("</tr>\n", f);
}

static int write_html(const char *dir, const struct plot_chart *c, size_t nc, const struct plot_report *r,
		      size_t nr, const char *fmt)
{
	char *buf = NULL, cfg[256], mainbuf[96], path[4096];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = 0;

	if (!f)
		return fail("out of memory");
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>wlb charts</title>\n<style>\n"
	      "body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; color: #222; "
	      "max-width: 1320px; margin: 1.5em auto; padding: 0 1em; }\n"
	      "table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.95em; }\n"
	      "th, td { padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }\n"
	      "th { background: #f3f3f3; }\n"
	      "td:nth-child(-n+3), th:nth-child(-n+3) { text-align: left; }\n"
	      "figure { margin: 1.5em 0 2.5em; }\n"
	      "figure img, figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }\n"
	      "figcaption { color: #444; margin-top: 0.4em; }\n"
	      "code { font-size: 0.95em; }\n</style>\n</head>\n<body>\n<h1>wlb charts</h1>\n<ul>\n", f);
	for (size_t i = 0; i < nr; i++) {
		plot_cfg_line(&r[i], 1, cfg, sizeof cfg);
		fputs("<li><code>", f);
		html_text(f, r[i].path);
		fputs("</code>: ", f);
		html_text(f, cfg);
		fputs("</li>\n", f);
	}
	fputs("</ul>\n<h2>Summary</h2>\n<table>\n<tr><th>report</th><th>source</th><th>policy</th>"
	      "<th>iteration ms</th><th>speedup</th><th>imbalance_pp</th><th>imbalance_cp</th>"
	      "<th>MFU</th><th>token delay (iterations)</th></tr>\n", f);
	for (size_t i = 0; i < nr; i++) {
		if (r[i].n_cmp)
			for (size_t k = 0; k < r[i].n_cmp; k++)
				html_row(f, &r[i], r[i].cmp[k].name, &r[i].cmp[k]);
		else
			html_row(f, &r[i], plot_main_name(&r[i], mainbuf, sizeof mainbuf), &r[i].main);
	}
	fputs("</table>\n<h2>Charts</h2>\n", f);
	for (size_t i = 0; i < nc && rc == 0; i++) {
		char file[128];
		unsigned char *img;
		size_t n = 0;
		snprintf(file, sizeof file, "%s.%s", c[i].name, fmt);
		join(path, sizeof path, dir, file);
		if (!(img = read_all(path, &n))) {
			rc = fail("%s: cannot read back: %s", path, strerror(errno));
			break;
		}
		fprintf(f, "<figure id=\"%s\">\n", c[i].name);
		if (!strcmp(fmt, "svg")) {
			const char *s = strstr((const char *)img, "<svg");
			fputs(s ? s : "", f);
		} else {
			fputs("<img alt=\"", f);
			html_text(f, c[i].caption);
			fputs("\" src=\"data:image/png;base64,", f);
			base64(f, img, n);
			fputs("\">\n", f);
		}
		free(img);
		fprintf(f, "<figcaption><b>%s</b>: ", file);
		html_text(f, c[i].caption);
		fputs(" Data:", f);
		for (int k = 0; k < c[i].n_dat; k++)
			fprintf(f, " <a href=\"%s\">%s</a>", c[i].dat_name[k], c[i].dat_name[k]);
		fprintf(f, "; script: <a href=\"%s.gp\">%s.gp</a>.</figcaption>\n</figure>\n", c[i].name,
			c[i].name);
	}
	fputs("<p>Drawn by wlb-plot " WLB_VERSION ". Redraw a chart after editing its script or data: "
	      "<code>gnuplot NAME.gp</code> in this directory.</p>\n</body>\n</html>\n", f);
	if (fclose(f))
		rc = rc ? rc : fail("out of memory");
	if (rc == 0)
		rc = put(dir, "index.html", buf, len);
	free(buf);
	return rc;
}

/* ---- main ---- */

static void make_stems(struct plot_report *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *b = strrchr(r[i].path, '/');
		size_t k = 0;
		b = b ? b + 1 : r[i].path;
		for (; *b && k < 32; b++)
			r[i].stem[k++] = (*b >= 'a' && *b <= 'z') || (*b >= 'A' && *b <= 'Z') ||
					 (*b >= '0' && *b <= '9') || *b == '-' || *b == '_' || *b == '.' ? *b : '_';
		r[i].stem[k] = '\0';
		if (k > 5 && !strcmp(r[i].stem + k - 5, ".json"))
			r[i].stem[k - 5] = '\0';
		if (!r[i].stem[0] || r[i].stem[0] == '.')
			snprintf(r[i].stem, sizeof r[i].stem, "report%zu", i + 1);
		char base[sizeof r[i].stem];
		snprintf(base, sizeof base, "%s", r[i].stem);
		for (int dup = 2;; dup++) {
			size_t j = 0;
			while (j < i && strcmp(r[j].stem, r[i].stem))
				j++;
			if (j == i)
				break;
			snprintf(r[i].stem, sizeof r[i].stem, "%.32s-%d", base, dup);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"output", required_argument, 0, 'o'},
					   {"format", required_argument, 0, 'F'},
					   {"only", required_argument, 0, 'O'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	const char *dir = "charts", *fmt = "png", *only = NULL;
	struct plot_report *r = NULL;
	struct plot_chart *c = NULL;
	size_t nr = 0, nc = 0;
	char exe[4096], note[256], name[96];
	int opt, rc = 1;

	wlb_prog = "wlb-plot";
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'o': dir = optarg; break;
		case 'F': fmt = optarg; break;
		case 'O': only = optarg; break;
		case 'h': usage(stdout); return 0;
		case ':': return fail("%s needs a value (see wlb-plot --help)", argv[optind - 1]);
		default: return fail("unknown option %s (see wlb-plot --help)", argv[optind - 1]);
		}
	}
	if (strcmp(fmt, "png") && strcmp(fmt, "svg"))
		return fail("--format: expected png or svg, got \"%s\"", fmt);
	if (only) {
		int k = 0;
		while (k < PLOT_N_KINDS && strcmp(only, plot_kinds[k]))
			k++;
		if (k == PLOT_N_KINDS)
			return fail("--only: expected microbatch, cp, timeline, cdf, doclen, speedup or "
				    "measured, got \"%s\"", only);
	}
	if (!*dir)
		return fail("-o: expected a directory");
	if (optind >= argc)
		return fail("no report given (usage: wlb-plot REPORT... [-o DIR]; see --help)");
	nr = (size_t)(argc - optind);
	if (!(r = calloc(nr, sizeof *r)) || !(c = calloc(PLOT_N_KINDS * nr + 2, sizeof *c))) {
		free(r);
		return fail("out of memory");
	}
	for (size_t i = 0; i < nr; i++) {
		struct wlb_error err;
		if (plot_report_load(&r[i], argv[optind + (int)i], &err) < 0) {
			fail("%s", err.msg);
			nr = i;
			goto done;
		}
	}
	make_stems(r, nr);
	if (!find_gnuplot(exe, sizeof exe)) {
		fail("gnuplot not found: apt-get install --no-install-recommends gnuplot-nox");
		goto done;
	}
	/* every chart in memory first: nothing is written when one cannot be built */
	for (int k = 0; k < PLOT_N_KINDS; k++) {
		const char *kind = plot_kinds[k];
		int cross = !strcmp(kind, "speedup") || !strcmp(kind, "measured");
		if (only && strcmp(only, kind))
			continue;
		for (size_t i = 0; i < (cross ? 1 : nr); i++) {
			if (cross || nr == 1)
				snprintf(name, sizeof name, "%s", kind);
			else
				snprintf(name, sizeof name, "%s-%s", kind, r[i].stem);
			int b = plot_build(kind, cross ? r : &r[i], cross ? nr : 1, name, fmt, &c[nc], note,
					   sizeof note);
			if (b < 0) {
				fail("out of memory");
				goto done;
			}
			if (b > 0)
				nc++;
			else if (strcmp(kind, "measured"))
				fprintf(stderr, "%s: %s: %s skipped: %s\n", wlb_prog,
					cross ? (nr == 1 ? r[0].path : "the reports") : r[i].path, kind, note);
		}
	}
	if (nc == 0) {
		fail("nothing to draw from %s", nr == 1 ? r[0].path : "these reports");
		goto done;
	}
	if (mkdir_p(dir))
		goto done;
	for (size_t i = 0; i < nc; i++) {
		char gp[112], out[4096];
		for (int k = 0; k < c[i].n_dat; k++)
			if (put(dir, c[i].dat_name[k], c[i].dat[k], c[i].dat_len[k]))
				goto done;
		snprintf(gp, sizeof gp, "%s.gp", c[i].name);
		if (put(dir, gp, c[i].gp, c[i].gp_len) || draw(exe, dir, &c[i], fmt))
			goto done;
		snprintf(gp, sizeof gp, "%s.%s", c[i].name, fmt);
		join(out, sizeof out, dir, gp);
		printf("%s\n", out);
	}
	if (write_html(dir, c, nc, r, nr, fmt))
		goto done;
	join(exe, sizeof exe, dir, "index.html");
	printf("%s\n", exe);
	rc = fflush(stdout) ? fail("stdout: write error") : 0;
done:
	for (size_t i = 0; i < nc; i++)
		plot_chart_free(&c[i]);
	for (size_t i = 0; i < nr; i++)
		plot_report_free(&r[i]);
	free(c);
	free(r);
	return rc;
}
