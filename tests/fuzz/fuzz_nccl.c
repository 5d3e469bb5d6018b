/* fuzz_nccl.c — nccl-tests logs (wlb_nccl_tests_parse), read as an 8-rank
 * all-gather on one node (the seeds' run) and as a 2-rank all-reduce over
 * two nodes (other bus-bandwidth factor and rank count). */
#include <stdlib.h>

#include "fuzz.h"
#include "nccl_tests.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct { enum wlb_coll_op op; int ranks, nodes; } as[] = {
		{WLB_ALL_GATHER, 8, 1}, {WLB_ALL_REDUCE, 2, 2}};
	const char *path = fuzz_tmp_file("nccl.txt", data, size);

	for (size_t i = 0; i < sizeof as / sizeof as[0]; i++) {
		struct wlb_coll_sample *s = NULL;
		size_t n = 0;
		struct wlb_error err = {0};

		wlb_nccl_tests_parse(path, as[i].op, as[i].ranks, as[i].nodes, &s, &n, &err);
		free(s);
	}
	return 0;
}
