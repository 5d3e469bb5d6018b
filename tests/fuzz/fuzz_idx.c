/* fuzz_idx.c — Megatron-LM indexes (.idx, wlb_lengths_read's mmap reader in
 * megatron_idx.c): the scratch file's name ends in .idx, so every input,
 * magic or not, goes to that reader. */
#include <stdlib.h>

#include "docs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t *lens = NULL;
	size_t n = 0;
	struct wlb_error err = {0};

	wlb_lengths_read(fuzz_tmp_file("corpus.idx", data, size), &lens, &n, &err);
	free(lens);
	return 0;
}
