/* fuzz_costdb.c — the cost DB reader (wlb_costdb_read) on mutated SQLite
 * files: whatever the bytes, an error or the rows, never a crash.  The
 * reader opens the file read-only; the scratch file has no -journal beside
 * it, so the read-write recovery path never runs. */
#include "costdb.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wlb_costdb_data d;
	struct wlb_error err = {0};

	if (wlb_costdb_read(fuzz_tmp_file("cost.db", data, size), &d, &err) == 0)
		wlb_costdb_data_free(&d);
	return 0;
}
