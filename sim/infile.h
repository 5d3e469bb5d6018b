/* infile.h — reading the files users name, within bounds.
 *
 * Every reader of a user file opens it here: a missing file, a directory, a
 * FIFO (its open would wait for a writer for ever), a device such as
 * /dev/zero (endless) or a socket is refused in one line naming the file;
 * whole-file readers refuse more than their limit of bytes before reading,
 * and line readers a line longer than WLB_LINE_MAX, naming FILE:LINE, without
 * buffering the rest of it. */
#ifndef WLB_INFILE_H
#define WLB_INFILE_H

#include <stdio.h>

#include "err.h"

/* The longest line a line-based file (lengths file, nccl-tests log,
 * attention CSV) may hold: their lines are under 200 bytes. */
#define WLB_LINE_MAX 65536

/* Opens path for reading as a regular file; what names the kind of file in
 * messages ("lengths file").  NULL after setting err. */
FILE *wlb_infile_open(const char *path, const char *what, struct wlb_error *err);

/* The whole of path, NUL-terminated, in *len bytes (malloc'd), or NULL
 * after setting err; a file of more than max bytes is refused before it is
 * read. */
char *wlb_infile_slurp(const char *path, const char *what, long long max, size_t *len,
		       struct wlb_error *err);

/* A line reader: buf holds one line at a time. */
struct wlb_lines {
	FILE *f;
	const char *path;
	long line;                  /* 1-based number of the line in buf */
	char buf[WLB_LINE_MAX + 1]; /* the line, its newline removed */
};

/* wlb_infile_open into r (r->path borrows path).  0 or a negative wlb_err. */
int wlb_lines_open(struct wlb_lines *r, const char *path, const char *what,
		   struct wlb_error *err);
/* The next line in r->buf (a trailing "\r" removed): 1, or 0 at the end, or a
 * negative wlb_err ("FILE:LINE: line longer than N bytes", a NUL byte, a read
 * error). */
int wlb_lines_next(struct wlb_lines *r, struct wlb_error *err);
void wlb_lines_close(struct wlb_lines *r);

#endif
