/* fuzz_config.c — config.json (wlb-config/1): wlb_config_load_string, then
 * wlb_config_check.  A config holds no data, so it opens no file. */
#include <stdlib.h>

#include "fuzz.h"
#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_tmp_string(data, size);
	struct wlb_trace t;
	struct wlb_error err = {0};

	if (wlb_config_load_string(&t, text, "fuzz", &err) == 0) {
		wlb_config_check(&t, &err);
		wlb_trace_free(&t);
	}
	free(text);
	return 0;
}
