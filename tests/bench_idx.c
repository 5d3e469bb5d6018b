/* bench_idx.c — writes the input of the Megatron .idx benchmark
 * (tests/bench.sh times `wlb-trace stats` on it against cat): DIR/docs.idx,
 * N documents of one sequence, every eighth of two (so ~1.06 N sequences,
 * ~20.5 N bytes), and DIR/docs.json, a trace reading it.
 *
 *   bench_idx DIR N */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 1 << 16 };

static unsigned char buf[CHUNK * 8];
static size_t used;

static int flush(FILE *f)
{
	int ok = fwrite(buf, 1, used, f) == used;
	used = 0;
	return ok;
}

static int put(FILE *f, uint64_t x, int bytes)
{
	if (used + 8 > sizeof buf && !flush(f))
		return 0;
	for (int i = 0; i < bytes; i++)
		buf[used++] = (unsigned char)(x >> (8 * i));
	return 1;
}

/* sequence s's length: a cheap hash, skewed towards short documents */
static int32_t seq_len(uint64_t s)
{
	uint64_t r = (s + 1) * 0x9e3779b97f4a7c15ull;
	uint64_t u = (r >> 40) & 0xffff;
	return 1 + (int32_t)(u * u >> 19); /* 1 .. 8192 */
}

int main(int argc, char **argv)
{
	char path[1024];
	uint64_t n, seqs, ptr = 0;
	FILE *f;
	int ok = 1;

	if (argc != 3 || (n = strtoull(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: bench_idx DIR DOCUMENTS\n");
		return 2;
	}
	seqs = n + n / 8;
	snprintf(path, sizeof path, "%s/docs.idx", argv[1]);
	if (!(f = fopen(path, "wb"))) {
		perror(path);
		return 1;
	}
	fwrite("MMIDIDX\0\0", 1, 9, f);
	put(f, 1, 8);
	put(f, 8, 1); /* uint16 tokens */
	put(f, seqs, 8);
	put(f, n + 1, 8);
	for (uint64_t s = 0; s < seqs && ok; s++)
		ok = put(f, (uint32_t)seq_len(s), 4);
	for (uint64_t s = 0; s < seqs && ok; s++) {
		ok = put(f, ptr, 8);
		ptr += 2 * (uint64_t)seq_len(s);
	}
	/* documents 8k + 7 take two sequences */
	for (uint64_t d = 0, s = 0; d <= n && ok; d++) {
		ok = put(f, s, 8);
		s += d % 8 == 7 ? 2 : 1;
	}
	ok = ok && flush(f);
	if (fclose(f) || !ok) {
		perror(path);
		return 1;
	}
	snprintf(path, sizeof path, "%s/docs.json", argv[1]);
	if (!(f = fopen(path, "w"))) {
		perror(path);
		return 1;
	}
	fprintf(f, "{\"format\": \"wlb-trace/1\", \"name\": \"bench-idx\", \"model\": \"llama2-7b\",\n"
		   " \"parallel\": {\"tp\": 8, \"cp\": 2, \"pp\": 4, \"dp\": 1, \"microbatches\": 4},\n"
		   " \"context\": 131072, \"data\": {\"lengths_file\": \"docs.idx\"}}\n");
	return fclose(f) ? 1 : 0;
}
