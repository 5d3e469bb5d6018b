/* test_midx.c — Megatron-LM .idx files written here byte by byte (the layout
 * of megatron/core/datasets/indexed_dataset.py's _IndexWriter) read against
 * the same documents as a text lengths file, and every refusal. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docs.h"
#include "megatron_idx.h"
#include "test.h"
#include "test_util.h"

void test_midx(void);

/* An index in memory: header, lengths, pointers, document indices. */
struct idx {
	unsigned char *b;
	size_t size;
	size_t len_at, ptr_at, doc_at; /* byte offsets of the three arrays */
};

static void put(unsigned char *p, uint64_t x, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(x >> (8 * i));
}

/* sequences of lens[0..s), documents delimited by doc[0..d); token dtype code */
static struct idx build(const int32_t *lens, size_t s, const int64_t *doc, size_t d, int code)
{
	static const int isz[] = {0, 1, 1, 2, 4, 8, 8, 4, 2};
	struct idx x;
	uint64_t ptr = 0;

	x.len_at = 34;
	x.ptr_at = x.len_at + 4 * s;
	x.doc_at = x.ptr_at + 8 * s;
	x.size = x.doc_at + 8 * d;
	x.b = calloc(1, x.size + 64); /* room for trailing bytes */
	memcpy(x.b, "MMIDIDX\0\0", 9);
	put(x.b + 9, 1, 8);
	x.b[17] = (unsigned char)code;
	put(x.b + 18, s, 8);
	put(x.b + 26, d, 8);
	for (size_t i = 0; i < s; i++) {
		put(x.b + x.len_at + 4 * i, (uint32_t)lens[i], 4);
		put(x.b + x.ptr_at + 8 * i, ptr, 8);
		ptr += (uint64_t)lens[i] * (uint64_t)isz[code >= 1 && code <= 8 ? code : 4];
	}
	for (size_t i = 0; i < d; i++)
		put(x.b + x.doc_at + 8 * i, (uint64_t)doc[i], 8);
	return x;
}

static void save(const char *path, const unsigned char *b, size_t size)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ(fwrite(b, 1, size, f), size);
		fclose(f);
	}
}

/* Reads x (cut or padded to size) saved as path; the error message in e. */
static int read_as(const char *path, const struct idx *x, size_t size, uint32_t **v, size_t *n,
		   struct wlb_error *e)
{
	save(path, x->b, size);
	e->msg[0] = '\0';
	return wlb_lengths_read(path, v, n, e);
}

/* Expects a refusal holding want, in one line. */
static void refused(const char *path, const struct idx *x, size_t size, const char *want)
{
	struct wlb_error e;
	uint32_t *v;
	size_t n;

	CHECK(read_as(path, x, size, &v, &n, &e) < 0);
	CHECK(v == NULL && n == 0);
	CHECK_STR_HAS(e.msg, want);
	CHECK_STR_HAS(e.msg, path);
	CHECK(strchr(e.msg, '\n') == NULL);
}

static void check_same_as_text(const char *idx_path, const char *txt_path)
{
	struct wlb_error e;
	uint32_t *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	uint64_t ta = 0, tb = 0;

	CHECK_EQ(wlb_lengths_read(idx_path, &a, &na, &e), 0);
	CHECK_EQ(wlb_lengths_read(txt_path, &b, &nb, &e), 0);
	CHECK(na > 0);
	CHECK_EQ(na, nb);
	for (size_t i = 0; i < na && i < nb; i++) {
		ta += a[i];
		tb += b[i];
	}
	CHECK_EQ(ta, tb);
	CHECK(na == nb && !memcmp(a, b, na * sizeof *a));
	free(a);
	free(b);
}

/* Random multi-sequence documents: the index and the text file of the sums
 * (each document's length summed here as it is written). */
static void random_pair(const char *idx_path, const char *txt_path)
{
	enum { D = 5000 };
	int32_t *lens = malloc(5 * D * sizeof *lens);
	int64_t *doc = malloc((D + 1) * sizeof *doc);
	FILE *t = fopen(txt_path, "w");
	size_t s = 0;
	uint64_t r = 12345;

	doc[0] = 0;
	fprintf(t, "# %d documents\n", D);
	for (size_t i = 0; i < D; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		int k = 1 + (int)(r >> 60) % 5; /* 1 to 5 sequences */
		uint64_t sum = 0;
		for (int j = 0; j < k; j++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			lens[s] = 1 + (int32_t)((r >> 33) % 30000);
			sum += (uint64_t)lens[s++];
		}
		doc[i + 1] = (int64_t)s;
		fprintf(t, "%llu\n", (unsigned long long)sum);
	}
	fclose(t);
	struct idx x = build(lens, s, doc, D + 1, 8);
	save(idx_path, x.b, x.size);
	free(x.b);
	free(lens);
	free(doc);
}

void test_midx(void)
{
	/* documents {100}, {1948}, {} (skipped), {5, 37}, {2000, 48, 1} */
	static const int32_t lens[] = {100, 1948, 5, 37, 2000, 48, 1};
	static const int64_t doc[] = {0, 1, 2, 2, 4, 7};
	static const uint32_t want[] = {100, 1948, 42, 2049};
	struct wlb_error e;
	char tmp[64], txt[64], path[80];
	uint32_t *v;
	size_t n;

	t_tmp_file(tmp);
	t_tmp_file(txt);
	snprintf(path, sizeof path, "%s.idx", tmp);

	/* every dtype code reads, the pointers stepping by its size; found by
	 * the magic without the .idx name too */
	for (int code = 1; code <= 8; code++) {
		struct idx x = build(lens, 7, doc, 6, code);
		CHECK_EQ(read_as(code % 2 ? path : tmp, &x, x.size, &v, &n, &e), 0);
		CHECK_EQ(n, 4);
		CHECK(n == 4 && !memcmp(v, want, sizeof want));
		free(v);
		free(x.b);
	}
	/* the same documents as a text file: same count, total and order */
	t_write_file(txt, "# the documents of the index above\n100\n1948\n42\n2049\n");
	{
		struct idx x = build(lens, 7, doc, 6, 4);
		save(path, x.b, x.size);
		check_same_as_text(path, txt);
		/* a multimodal index: one int8 mode per sequence after the arrays */
		CHECK_EQ(read_as(path, &x, x.size + 7, &v, &n, &e), 0);
		CHECK_EQ(n, 4);
		free(v);
		free(x.b);
	}
	random_pair(path, txt);
	check_same_as_text(path, txt);
	/* the committed example and its text twin */
	check_same_as_text("tests/data/megatron_small.idx", "tests/data/megatron_small.txt");

	/* refusals, each naming the byte */
	struct idx x = build(lens, 7, doc, 6, 4);
	char msg[160];
	snprintf(msg, sizeof msg, "byte %zu: truncated: the header declares 7 sequences and 6 document "
		 "indices, expected %zu bytes, got %zu", x.size - 8, x.size, x.size - 8);
	refused(path, &x, x.size - 8, msg);
	refused(path, &x, 20, "byte 20: truncated header: expected 34 bytes, got 20");
	refused(path, &x, 0, "byte 0: not a Megatron-LM index");
	snprintf(msg, sizeof msg, "byte %zu: 3 bytes after the arrays", x.size);
	refused(path, &x, x.size + 3, msg);

	x.b[6] = 'Y';
	refused(path, &x, x.size, "byte 0: not a Megatron-LM index: expected the magic");
	x.b[6] = 'X';
	x.b[9] = 2;
	refused(path, &x, x.size, "byte 9: expected index version 1, got 2");
	x.b[9] = 1;
	x.b[17] = 9;
	refused(path, &x, x.size, "byte 17: expected a token dtype code of 1 to 8, got 9");
	x.b[17] = 0;
	refused(path, &x, x.size, "byte 17: expected a token dtype code of 1 to 8, got 0");
	x.b[17] = 4;

	/* document indices: not from 0, decreasing, not ending at the count */
	put(x.b + x.doc_at, 1, 8);
	snprintf(msg, sizeof msg, "byte %zu: document_indices[0] must be 0, got 1", x.doc_at);
	refused(path, &x, x.size, msg);
	put(x.b + x.doc_at, 0, 8);
	put(x.b + x.doc_at + 8 * 3, 1, 8); /* 0 1 2 1 4 7 */
	snprintf(msg, sizeof msg, "byte %zu: document_indices[3] = 1: expected a value in [2, 7]",
		 x.doc_at + 24);
	refused(path, &x, x.size, msg);
	put(x.b + x.doc_at + 8 * 3, (uint64_t)-5, 8);
	refused(path, &x, x.size, "document_indices[3] = -5");
	put(x.b + x.doc_at + 8 * 3, 4, 8);
	put(x.b + x.doc_at + 8 * 5, 6, 8);
	snprintf(msg, sizeof msg, "byte %zu: the last document index must be the sequence count 7, got 6",
		 x.doc_at + 40);
	refused(path, &x, x.size, msg);
	put(x.b + x.doc_at + 8 * 5, 7, 8);

	/* pointers: sequence 3 starts at (100 + 1948 + 5) x 4 bytes */
	put(x.b + x.ptr_at + 8 * 3, 8211, 8);
	snprintf(msg, sizeof msg, "byte %zu: sequence_pointers[3] = 8211, expected 8212", x.ptr_at + 24);
	refused(path, &x, x.size, msg);
	put(x.b + x.ptr_at + 8 * 3, 8212, 8);
	put(x.b + x.ptr_at, 4, 8);
	refused(path, &x, x.size, "sequence_pointers[0] = 4, expected 0");
	put(x.b + x.ptr_at, 0, 8);

	/* lengths: zero and negative */
	put(x.b + x.len_at + 4 * 2, 0, 4);
	snprintf(msg, sizeof msg, "byte %zu: sequence_lengths[2] must be positive, got 0", x.len_at + 8);
	refused(path, &x, x.size, msg);
	put(x.b + x.len_at + 4 * 2, (uint32_t)-3, 4);
	refused(path, &x, x.size, "sequence_lengths[2] must be positive, got -3");
	put(x.b + x.len_at + 4 * 2, 5, 4);
	CHECK_EQ(read_as(path, &x, x.size, &v, &n, &e), 0); /* restored: reads again */
	free(v);
	free(x.b);

	/* a document past 2^32 - 1 tokens: three sequences of 2^31 - 1 */
	{
		static const int32_t big[] = {2147483647, 2147483647, 2147483647};
		static const int64_t one[] = {0, 3};
		struct idx y = build(big, 3, one, 2, 8);
		refused(path, &y, y.size, "document 0 holds more than 4294967295 tokens");
		free(y.b);
	}
	/* no document, and only empty ones */
	{
		static const int64_t none[] = {0}, empty[] = {0, 0, 0};
		struct idx y = build(lens, 0, none, 1, 4);
		refused(path, &y, y.size, "no document of one token or more");
		free(y.b);
		y = build(lens, 0, empty, 3, 4);
		refused(path, &y, y.size, "no document of one token or more");
		free(y.b);
		y = build(lens, 0, none, 0, 4);
		refused(path, &y, y.size, "byte 26: expected at least one document index");
		free(y.b);
	}
	/* a text file named .idx is not taken for a lengths file */
	t_write_file(path, "100\n200\n");
	CHECK(wlb_lengths_read(path, &v, &n, &e) < 0);
	CHECK_STR_HAS(e.msg, "byte 0: not a Megatron-LM index");

	unlink(path);
	unlink(tmp);
	unlink(txt);
}
