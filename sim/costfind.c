/* costfind.c — finding the built-in cost DB of a GPU (wlb_cost_find_db). */
#include "cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef WLB_DATADIR
#define WLB_DATADIR "/usr/local/share/wlb"
#endif

int wlb_cost_find_db(const char *gpu, char *out, size_t n, struct wlb_error *err)
{
	char exe[2048], dirs[5][4096];
	const char *env = getenv("WLB_COSTDB_DIR");
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	int nd = 0;

	if (env && *env)
		snprintf(dirs[nd++], sizeof dirs[0], "%s", env);
	if (len > 0) {
		exe[len] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		snprintf(dirs[nd++], sizeof dirs[0], "%s/../build/costdb", exe);
		snprintf(dirs[nd++], sizeof dirs[0], "%s/../costdb", exe);
		snprintf(dirs[nd++], sizeof dirs[0], "%s/../share/wlb/costdb", exe);
	}
	snprintf(dirs[nd++], sizeof dirs[0], "%s/costdb", WLB_DATADIR);
	for (int i = 0; i < nd; i++) {
		snprintf(out, n, "%s/%s.db", dirs[i], gpu);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return wlb_error_set(err, WLB_EIO,
			     "no cost DB for GPU \"%s\" (looked for %s.db in $WLB_COSTDB_DIR, beside the "
			     "command and in %s/costdb); pass --costdb FILE or build one with "
			     "wlb-profile --analytic --gpu %s -o %s.db", gpu, gpu, WLB_DATADIR, gpu, gpu);
}
