/* megatron_idx.c — a Megatron-LM .idx read through a read-only mmap, checked
 * in one sequential pass over its arrays. */
#define _DEFAULT_SOURCE /* MAP_POPULATE, where there is one */
#include "megatron_idx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char magic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0};

enum { HDR_BYTES = 34 }; /* magic, version, dtype code, two counts */

/* little-endian loads from possibly unaligned bytes (the arrays start at
 * offset 34); compilers turn these into single loads */
static inline uint32_t ld32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t ld64(const unsigned char *p)
{
	return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

int wlb_midx_is(const char *path, int fd)
{
	size_t len = strlen(path);
	unsigned char m[sizeof magic];

	if (len >= 4 && !strcmp(path + len - 4, ".idx"))
		return 1;
	return pread(fd, m, sizeof m, 0) == (ssize_t)sizeof m && !memcmp(m, magic, sizeof m);
}

/* Token bytes of Megatron's DType codes: uint8, int8, int16, int32, int64,
 * float64, float32, uint16; 0 = no such code. */
static unsigned itemsize(unsigned code)
{
	static const unsigned size[] = {0, 1, 1, 2, 4, 8, 8, 4, 2};
	return code < sizeof size / sizeof size[0] ? size[code] : 0;
}

/* The header: sets *sc, *dc and *isz, checks the file size against them. */
static int parse_header(const char *path, const unsigned char *h, uint64_t size, uint64_t *sc,
			uint64_t *dc, unsigned *isz, struct wlb_error *err)
{
	uint64_t want;

	if (size < sizeof magic || memcmp(h, magic, sizeof magic))
		return wlb_error_set(err, WLB_EINVAL, "%s: byte 0: not a Megatron-LM index: expected the "
				     "magic \"MMIDIDX\\0\\0\"", path);
	if (size < HDR_BYTES)
		return wlb_error_set(err, WLB_EINVAL, "%s: byte %llu: truncated header: expected %d "
				     "bytes, got %llu", path, (unsigned long long)size, HDR_BYTES,
				     (unsigned long long)size);
	if (ld64(h + 9) != 1)
		return wlb_error_set(err, WLB_EINVAL, "%s: byte 9: expected index version 1, got %llu",
				     path, (unsigned long long)ld64(h + 9));
	if (!(*isz = itemsize(h[17])))
		return wlb_error_set(err, WLB_EINVAL, "%s: byte 17: expected a token dtype code of 1 "
				     "to 8, got %u", path, h[17]);
	*sc = ld64(h + 18);
	*dc = ld64(h + 26);
	/* bound the counts before multiplying: every array entry takes a byte or more */
	if (*sc > size || *dc > size)
		want = UINT64_MAX;
	else
		want = HDR_BYTES + *sc * 12 + *dc * 8;
	if (size < want) {
		char w[32] = "more than 2^64";
		if (want != UINT64_MAX)
			snprintf(w, sizeof w, "%llu", (unsigned long long)want);
		return wlb_error_set(err, WLB_EINVAL, "%s: byte %llu: truncated: the header declares "
				     "%llu sequences and %llu document indices, expected %s bytes, "
				     "got %llu", path, (unsigned long long)size,
				     (unsigned long long)*sc, (unsigned long long)*dc, w,
				     (unsigned long long)size);
	}
	/* Megatron writes exactly the arrays, plus one int8 mode per sequence in a
	 * multimodal dataset (which the header does not record) */
	if (size != want && size != want + *sc)
		return wlb_error_set(err, WLB_EINVAL, "%s: byte %llu: %llu bytes after the arrays the "
				     "header declares (expected a file of %llu bytes, or %llu with "
				     "multimodal sequence modes)", path, (unsigned long long)want,
				     (unsigned long long)(size - want), (unsigned long long)want,
				     (unsigned long long)(want + *sc));
	if (*dc == 0)
		return wlb_error_set(err, WLB_EINVAL, "%s: byte 26: expected at least one document "
				     "index (the leading 0), got none", path);
	return 0;
}

/* The arrays, in one pass: document i is sequences [d[i], d[i+1]), and as
 * they tile [0, S) in order each sequence is met once, in order, which is
 * when its length and pointer are checked. */
static int parse_arrays(const char *path, const unsigned char *b, uint64_t sc, uint64_t dc,
			unsigned isz, uint32_t *out, size_t *n, struct wlb_error *err)
{
	const unsigned char *len = b + HDR_BYTES, *ptr = len + 4 * sc, *doc = ptr + 8 * sc;
	uint64_t off_len = HDR_BYTES, off_ptr = off_len + 4 * sc, off_doc = off_ptr + 8 * sc;
	uint64_t next_ptr = 0, s = ld64(doc), last = ld64(doc + 8 * (dc - 1));
	size_t cnt = 0;

	if (s != 0)
		return wlb_error_set(err, WLB_EINVAL, "%s: byte %llu: document_indices[0] must be 0, "
				     "got %lld", path, (unsigned long long)off_doc, (long long)s);
	if (last != sc)
		return wlb_error_set(err, WLB_EINVAL, "%s: byte %llu: the last document index must be "
				     "the sequence count %llu, got %lld", path,
				     (unsigned long long)(off_doc + 8 * (dc - 1)),
				     (unsigned long long)sc, (long long)last);
	for (uint64_t i = 1; i < dc; i++) {
		uint64_t e = ld64(doc + 8 * i), tokens = 0;

		/* signed: a negative index read as unsigned would pass the bound */
		if ((int64_t)e < (int64_t)s || e > sc)
			return wlb_error_set(err, WLB_EINVAL, "%s: byte %llu: document_indices[%llu] = "
					     "%lld: expected a value in [%llu, %llu] (non-decreasing)",
					     path, (unsigned long long)(off_doc + 8 * i),
					     (unsigned long long)i, (long long)e,
					     (unsigned long long)s, (unsigned long long)sc);
		for (; s < e; s++) {
			int32_t l = (int32_t)ld32(len + 4 * s);
			uint64_t p = ld64(ptr + 8 * s);

			if (l <= 0)
				return wlb_error_set(err, WLB_EINVAL, "%s: byte %llu: sequence_lengths[%llu] "
						     "must be positive, got %d", path,
						     (unsigned long long)(off_len + 4 * s),
						     (unsigned long long)s, l);
			if (p != next_ptr)
				return wlb_error_set(err, WLB_EINVAL, "%s: byte %llu: sequence_pointers[%llu] "
						     "= %lld, expected %llu (the lengths before it x "
						     "%u bytes a token)", path,
						     (unsigned long long)(off_ptr + 8 * s),
						     (unsigned long long)s, (long long)p,
						     (unsigned long long)next_ptr, isz);
			next_ptr += (uint64_t)l * isz;
			tokens += (uint64_t)l;
			if (tokens > UINT32_MAX)
				return wlb_error_set(err, WLB_ERANGE, "%s: byte %llu: document %llu holds "
						     "more than 4294967295 tokens", path,
						     (unsigned long long)(off_doc + 8 * i),
						     (unsigned long long)(i - 1));
		}
		if (tokens) /* a document of no sequence: no token reaches the loader */
			out[cnt++] = (uint32_t)tokens;
	}
	if (cnt == 0)
		return wlb_error_set(err, WLB_EINVAL, "%s: no document of one token or more in the index",
				     path);
	*n = cnt;
	return 0;
}

int wlb_midx_read(const char *path, uint32_t **lens, size_t *n, struct wlb_error *err)
{
	unsigned char h[HDR_BYTES];
	struct stat st;
	uint64_t sc = 0, dc = 0, size;
	unsigned isz = 0;
	void *map = MAP_FAILED;
	uint32_t *v = NULL;
	ssize_t got;
	int rc, fd = open(path, O_RDONLY);

	*lens = NULL;
	*n = 0;
	if (fd < 0)
		return wlb_error_set(err, WLB_EIO, "%s: cannot open Megatron index: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = wlb_error_set(err, WLB_EINVAL, "%s: expected a regular file (a Megatron index is "
				   "memory-mapped)", path);
		goto done;
	}
	size = (uint64_t)st.st_size;
	if (size > (uint64_t)WLB_MIDX_MAX_BYTES) {
		rc = wlb_error_set(err, WLB_ERANGE, "%s: %llu bytes, more than the %lld a Megatron index "
				   "may hold here", path, (unsigned long long)size, (long long)WLB_MIDX_MAX_BYTES);
		goto done;
	}
	got = pread(fd, h, sizeof h, 0);
	if (got < 0) {
		rc = wlb_error_set(err, WLB_EIO, "%s: read error: %s", path, strerror(errno));
		goto done;
	}
	memset(h + got, 0, sizeof h - (size_t)got);
	if ((rc = parse_header(path, h, size, &sc, &dc, &isz, err)) < 0)
		goto done;
#ifndef MAP_POPULATE
#define MAP_POPULATE 0
#endif
	/* populated at once: one call maps what page faults would, page by page */
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = wlb_error_set(err, WLB_EIO, "%s: cannot map: %s", path, strerror(errno));
		goto done;
	}
	posix_madvise(map, (size_t)size, POSIX_MADV_SEQUENTIAL);
	v = malloc((dc > 1 ? dc - 1 : 1) * sizeof *v);
	if (!v) {
		rc = wlb_error_set(err, WLB_ENOMEM, "%s: out of memory for %llu document lengths", path,
				   (unsigned long long)(dc - 1));
		goto done;
	}
	if ((rc = parse_arrays(path, map, sc, dc, isz, v, n, err)) < 0)
		goto done;
	*lens = v;
	v = NULL;
done:
	free(v);
	if (map != MAP_FAILED)
		munmap(map, (size_t)size);
	close(fd);
	return rc;
}
