/* fuzz_report.c — wlb-plot's reader of wlb-report/1 (plot_report_load). */
#include "../../tools/plot.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plot_report r;
	struct wlb_error err = {0};

	if (plot_report_load(&r, fuzz_tmp_file("report.json", data, size), &err) == 0)
		plot_report_free(&r);
	return 0;
}
