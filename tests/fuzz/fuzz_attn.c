/* fuzz_attn.c — attention timings CSV (wlb_attn_csv_parse). */
#include <stdlib.h>

#include "fuzz.h"
#include "import_attn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wlb_attn_sample *s = NULL;
	size_t n = 0;
	struct wlb_error err = {0};

	wlb_attn_csv_parse(fuzz_tmp_file("attn.csv", data, size), &s, &n, &err);
	free(s);
	return 0;
}
