/* fuzz_trace.c — trace.json (wlb-trace/1): wlb_trace_load_string and
 * wlb_trace_load (from a scratch file, beside two lengths files the seeds
 * name), then wlb_trace_check. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "trace.h"

static const char lens_ok[] = "# document lengths in dataloader order\n100\n2048\n\n37\n8192\n";
static const char lens_bad[] = "100\n12abc\n";

/* data.lengths_file opens whatever it names: only plain file names (no '/'),
 * which resolve in the scratch directory (or, loaded from a string, the
 * current one), so that no input reads a device, a FIFO or /proc.  What
 * jansson refuses the loader refuses too, before opening anything. */
static int safe(const char *text, size_t len)
{
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *f = json_object_get(json_object_get(root, "data"), "lengths_file");
	int ok = 1;

	if (json_is_string(f)) {
		const char *s = json_string_value(f);
		ok = json_string_length(f) < 64 && strlen(s) == json_string_length(f) &&
		     strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
			     strlen(s);
	}
	json_decref(root);
	return ok;
}

static void load(int from_file, const char *text, size_t len)
{
	struct wlb_trace t;
	struct wlb_error err = {0};
	int rc;

	if (from_file)
		rc = wlb_trace_load(&t, fuzz_tmp_file("trace.json", (const uint8_t *)text, len), &err);
	else
		rc = wlb_trace_load_string(&t, text, "fuzz", &err);
	if (rc == 0) {
		wlb_trace_check(&t, &err);
		wlb_trace_free(&t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	char *text = fuzz_tmp_string(data, size);

	if (!init) {
		fuzz_tmp_file("lengths_small.txt", (const uint8_t *)lens_ok, sizeof lens_ok - 1);
		fuzz_tmp_file("lengths_bad.txt", (const uint8_t *)lens_bad, sizeof lens_bad - 1);
		init = 1;
	}
	if (safe(text, strlen(text)))
		load(0, text, strlen(text));
	if (safe((const char *)data, size))
		load(1, (const char *)data, size);
	free(text);
	return 0;
}
