/* infile.c — opening user files safely, whole-file and line reads in bounds. */
#include "infile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind(mode_t m)
{
	return S_ISDIR(m) ? "directory" : S_ISFIFO(m) ? "FIFO" : S_ISSOCK(m) ? "socket" :
	       "device";
}

FILE *wlb_infile_open(const char *path, const char *what, struct wlb_error *err)
{
	struct stat st;
	FILE *f;
	int fd;

	/* O_NONBLOCK: opening a FIFO with no writer returns at once, to be refused */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK)) < 0) {
		wlb_error_set(err, WLB_EIO, "%s: cannot open %s: %s", path, what, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		wlb_error_set(err, WLB_EINVAL, "%s: expected a regular file (%s), got a %s", path,
			      what, kind(st.st_mode));
		close(fd);
		return NULL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (!(f = fdopen(fd, "rb"))) {
		wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
		close(fd);
	}
	return f;
}

char *wlb_infile_slurp(const char *path, const char *what, long long max, size_t *len,
		       struct wlb_error *err)
{
	FILE *f = wlb_infile_open(path, what, err);
	struct stat st;
	char *buf = NULL;
	size_t n = 0, cap;

	if (!f)
		return NULL;
	if (fstat(fileno(f), &st))
		st.st_size = 0;
	if ((long long)st.st_size > max) {
		wlb_error_set(err, WLB_ERANGE, "%s: %lld bytes, more than the %lld a %s may hold",
			      path, (long long)st.st_size, max, what);
		goto fail;
	}
	/* the file may grow while read: reading on past max notices */
	cap = (size_t)st.st_size + 2;
	if (!(buf = malloc(cap))) {
		wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	for (;;) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		char *nb;

		n += got;
		if ((long long)n > max) {
			wlb_error_set(err, WLB_ERANGE, "%s: more than the %lld bytes a %s may hold",
				      path, max, what);
			goto fail;
		}
		if (!got)
			break;
		if (n + 1 == cap) {
			if (!(nb = realloc(buf, cap * 2))) {
				wlb_error_set(err, WLB_ENOMEM, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (ferror(f)) {
		wlb_error_set(err, WLB_EIO, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

int wlb_lines_open(struct wlb_lines *r, const char *path, const char *what,
		   struct wlb_error *err)
{
	r->path = path;
	r->line = 0;
	r->buf[0] = '\0';
	if (!(r->f = wlb_infile_open(path, what, err)))
		return err ? err->code : WLB_EIO;
	return 0;
}

int wlb_lines_next(struct wlb_lines *r, struct wlb_error *err)
{
	size_t n = 0;
	int c;

	/* a byte at a time (these files are small), so that a line is never
	 * held past the limit and a NUL byte is seen */
	while ((c = getc(r->f)) != EOF && c != '\n') {
		if (n == WLB_LINE_MAX)
			return wlb_error_set(err, WLB_ERANGE, "%s:%ld: line longer than %d bytes, the "
					     "most a line may hold", r->path, r->line + 1, WLB_LINE_MAX);
		if (!c)
			return wlb_error_set(err, WLB_EINVAL, "%s:%ld: a NUL byte: not a text file",
					     r->path, r->line + 1);
		r->buf[n++] = (char)c;
	}
	if (ferror(r->f))
		return wlb_error_set(err, WLB_EIO, "%s:%ld: read error: %s", r->path, r->line + 1,
				     strerror(errno));
	if (c == EOF && n == 0)
		return 0;
	r->line++;
	if (n && r->buf[n - 1] == '\r')
		n--;
	r->buf[n] = '\0';
	return 1;
}

void wlb_lines_close(struct wlb_lines *r)
{
	if (r->f)
		fclose(r->f);
	r->f = NULL;
}
