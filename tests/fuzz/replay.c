/* replay.c — runs a fuzz harness without libFuzzer: LLVMFuzzerTestOneInput
 * on every file of the directories (or files) given, in name order, then
 * "fuzz-replay NAME: N passed, 0 failed".  A crash or a sanitizer report
 * (under make asan) ends the process: tests/run.sh counts that as failed.
 * -v names each file on stderr before running it, so the last one named is
 * the one that crashed. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int verbose;

/* 0, or 1 when the file could not be read. */
static int replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		perror(path);
		return 1;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? 2 * cap : 4096);
			if (!nb) {
				fprintf(stderr, "%s: out of memory\n", path);
				free(buf);
				fclose(f);
				return 1;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		perror(path);
	} else {
		if (verbose)
			fprintf(stderr, "replay: %s\n", path);
		/* a copy of exactly len bytes, so ASan sees a read past the input */
		uint8_t *in = malloc(len ? len : 1);
		if (!in)
			bad = 1;
		else {
			memcpy(in, buf, len);
			LLVMFuzzerTestOneInput(in, len);
			free(in);
		}
	}
	free(buf);
	return bad;
}

int main(int argc, char **argv)
{
	size_t pass = 0, fail = 0;
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	if (!strncmp(name, "replay_", 7))
		name += 7;

	for (int i = 1; i < argc; i++) {
		struct dirent **ents;
		struct stat st;
		int n;

		if (!strcmp(argv[i], "-v")) {
			verbose = 1;
			continue;
		}
		if (stat(argv[i], &st) || !S_ISDIR(st.st_mode)) {
			replay(argv[i]) ? fail++ : pass++;
			continue;
		}
		if ((n = scandir(argv[i], &ents, NULL, alphasort)) < 0) {
			perror(argv[i]);
			fail++;
			continue;
		}
		for (int j = 0; j < n; j++) {
			char path[4096];
			if (ents[j]->d_name[0] != '.') {
				snprintf(path, sizeof path, "%s/%s", argv[i], ents[j]->d_name);
				replay(path) ? fail++ : pass++;
			}
			free(ents[j]);
		}
		free(ents);
	}
	printf("fuzz-replay %s: %zu passed, %zu failed\n", name, pass, fail);
	return fail != 0;
}
