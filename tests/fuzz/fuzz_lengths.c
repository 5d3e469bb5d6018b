/* fuzz_lengths.c — lengths files (wlb_lengths_read). */
#include <stdlib.h>

#include "docs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t *lens = NULL;
	size_t n = 0;
	struct wlb_error err = {0};

	wlb_lengths_read(fuzz_tmp_file("lengths.txt", data, size), &lens, &n, &err);
	free(lens);
	return 0;
}
