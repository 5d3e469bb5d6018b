/* fuzz_tmp.c — the harnesses' scratch files (fuzz.h). */
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 8

static char dir[64];
static struct { char path[128]; int fd; } files[MAX_FILES];
static int n_files;

static void cleanup(void)
{
	for (int i = 0; i < n_files; i++) {
		close(files[i].fd);
		unlink(files[i].path);
	}
	if (dir[0])
		rmdir(dir);
}

static int open_file(const char *name)
{
	for (int i = 0; i < n_files; i++)
		if (!strcmp(strrchr(files[i].path, '/') + 1, name))
			return i;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/wlb-fuzz-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("fuzz: mkdtemp");
			dir[0] = '\0';
			return -1;
		}
		atexit(cleanup);
	}
	if (n_files == MAX_FILES) {
		fprintf(stderr, "fuzz: more than %d scratch files\n", MAX_FILES);
		return -1;
	}
	snprintf(files[n_files].path, sizeof files[n_files].path, "%s/%s", dir, name);
	files[n_files].fd = open(files[n_files].path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (files[n_files].fd < 0) {
		perror(files[n_files].path);
		return -1;
	}
	return n_files++;
}

const char *fuzz_tmp_file(const char *name, const uint8_t *data, size_t size)
{
	int i = open_file(name);

	/* a harness without its input file would pass everything: stop */
	if (i < 0)
		abort();
	/* write, then cut to size: truncating to 0 first frees the blocks each
	 * time, which costs milliseconds on ext4 */
	if ((size && pwrite(files[i].fd, data, size, 0) != (ssize_t)size) ||
	    ftruncate(files[i].fd, (off_t)size)) {
		perror(files[i].path);
		abort();
	}
	return files[i].path;
}

char *fuzz_tmp_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
