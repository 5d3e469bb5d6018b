/* pack_stream.c — libwlb from C: document lengths on stdin (one per line, in
 * dataloader order) are pushed into the WLB-LLM packer; every iteration's
 * micro-batches are printed as doc:offset+length pieces, and each
 * micro-batch's CP layout (per-doc) as the ranks' token counts and
 * cu_seqlens_padded.  The state is saved and restored after every iteration,
 * as a checkpointing loader would, and the packer continues from the copy.
 *
 *   cc pack_stream.c $(pkg-config --cflags --libs wlb) -o pack_stream
 *   printf '5000\n300\n12000\n' | ./pack_stream 8192 1 2 2 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <wlb.h>

static int shard_and_print(const struct wlb_iteration *it, size_t b, int cp)
{
	uint32_t lens[4096];
	size_t n = it->mb_start[b + 1] - it->mb_start[b];
	wlb_cp_layout *lay;
	char err[256];

	if (n == 0 || n > sizeof lens / sizeof lens[0])
		return 0;
	for (size_t k = 0; k < n; k++)
		lens[k] = (uint32_t)it->spans[it->mb_start[b] + k].length;
	if (wlb_cp_shard(&lay, lens, n, cp, WLB_CP_PER_DOC, err, sizeof err)) {
		fprintf(stderr, "pack_stream: %s\n", err);
		return 1;
	}
	for (int r = 0; r < cp; r++) {
		const int64_t *idx;
		const int32_t *cu, *cup;
		size_t t = wlb_cp_rank_token_index(lay, r, &idx);
		size_t m = wlb_cp_rank_cu_seqlens(lay, r, &cu, &cup);
		printf("    cp rank %d: %zu tokens, %" PRId32 " rows\n", r, t, cup[m - 1]);
	}
	wlb_cp_layout_destroy(lay);
	return 0;
}

static int print_iteration(const struct wlb_iteration *it, int cp)
{
	printf("iteration %u\n", it->index);
	for (size_t b = 0; b < it->n_microbatches; b++) {
		printf("  mb %zu:", b);
		for (size_t k = it->mb_start[b]; k < it->mb_start[b + 1]; k++)
			printf(" %" PRIu64 ":%" PRIu64 "+%" PRIu64, it->spans[k].doc_id, it->spans[k].offset,
			       it->spans[k].length);
		putchar('\n');
		if (shard_and_print(it, b, cp))
			return 1;
	}
	return 0;
}

/* Saves l's state and replaces l by a loader restored from it. */
static int checkpoint(wlb_loader **l)
{
	void *blob;
	size_t len;
	wlb_loader *copy;
	char err[256];

	if (wlb_loader_save(*l, &blob, &len)) {
		fprintf(stderr, "pack_stream: %s\n", wlb_loader_error(*l));
		return 1;
	}
	int rc = wlb_loader_restore(&copy, blob, len, err, sizeof err);
	wlb_free(blob);
	if (rc) {
		fprintf(stderr, "pack_stream: %s\n", err);
		return 1;
	}
	wlb_loader_destroy(*l);
	*l = copy;
	return 0;
}

/* Emits every ready iteration; 0, or 1 on failure. */
static int drain(wlb_loader **l, int cp)
{
	struct wlb_iteration it;
	int rc;

	while ((rc = wlb_loader_next(*l, &it)) == 1)
		if (print_iteration(&it, cp) || checkpoint(l))
			return 1;
	if (rc < 0)
		fprintf(stderr, "pack_stream: %s\n", wlb_loader_error(*l));
	return rc < 0;
}

int main(int argc, char **argv)
{
	struct wlb_loader_config c;
	wlb_loader *l;
	char err[256];
	unsigned long long len;
	uint64_t id = 0;
	int cp;

	if (argc != 5) {
		fprintf(stderr, "usage: pack_stream CONTEXT DP MICROBATCHES CP < lengths\n");
		return 2;
	}
	wlb_loader_config_init(&c);
	c.context = (uint32_t)strtoul(argv[1], NULL, 10);
	c.dp = atoi(argv[2]);
	c.microbatches = atoi(argv[3]);
	c.cp = cp = atoi(argv[4]);
	if (cp < 1 || wlb_loader_create(&l, &c, err, sizeof err)) {
		fprintf(stderr, "pack_stream: %s\n", cp < 1 ? "CP must be positive" : err);
		return 1;
	}
	printf("libwlb %s\n", wlb_version());
	while (scanf("%llu", &len) == 1) {
		int bad = wlb_loader_push(l, id++, len);
		if (bad)
			fprintf(stderr, "pack_stream: %s\n", wlb_loader_error(l));
		if (bad || drain(&l, cp)) {
			wlb_loader_destroy(l);
			return 1;
		}
	}
	wlb_loader_finish(l);
	int rc = drain(&l, cp);
	wlb_loader_destroy(l);
	return rc;
}
