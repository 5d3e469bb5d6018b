/* validate.c — wlb-tune --validate (validate.h). */
#include "validate.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "opts.h"
#include "report_sim.h"
#include "sim.h"

#define fail(...) wlb_fail(wlb_prog, __VA_ARGS__)

/* wlb-run beside this program's executable */
static int find_run(char *out, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = 0;
	return snprintf(out, cap, "%s/wlb-run", self) < (int)cap && access(out, X_OK) == 0 ? 0 : -1;
}

/* Writes cfg's config and prediction, runs wlb-run on them; the measured
 * tokens/s into *tps. */
static int one(const char *name, const char *run, const char *trace_path, struct wlb_trace *cfg,
	       struct wlb_cost *cost, const char *costdb, uint32_t iterations, const char *device,
	       const char *dir, double *pred_tps, double *tps)
{
	char cfg_path[512], pred_path[512], meas_path[512], iters[16];
	struct wlb_sim_opts so = {WLB_ORDER_PACKED, 0, 1};
	struct wlb_sim_result r;
	struct wlb_error e;

	snprintf(cfg_path, sizeof cfg_path, "%s/%s-config.json", dir, name);
	snprintf(pred_path, sizeof pred_path, "%s/%s-predicted.json", dir, name);
	snprintf(meas_path, sizeof meas_path, "%s/%s-measured.json", dir, name);
	snprintf(iters, sizeof iters, "%u", iterations);
	cfg->iterations = iterations;
	if (wlb_config_save(cfg, NULL, cfg_path, &e) || wlb_sim_run(cfg, cost, &so, &r, &e))
		return fail("--validate: %s", e.msg);
	json_t *j = wlb_report_sim(cfg, costdb, &r, NULL, 0);
	*pred_tps = r.summary.tokens_per_s;
	wlb_sim_result_free(&r);
	int bad = wlb_json_write(j, pred_path, &e);
	json_decref(j);
	if (bad)
		return fail("--validate: %s", e.msg);

	const char *argv[20] = {run, trace_path, "--config", cfg_path, "--iterations", iters,
				"--costdb", costdb, "--json", meas_path, "--compare-with", pred_path,
				"--quiet"};
	int argc = 13;
	if (device) {
		argv[argc++] = "--device";
		argv[argc++] = device;
	}
	argv[argc] = NULL;
	printf("\n== %s: %s\n", name, cfg_path);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		execv(run, (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return fail("--validate: wlb-run on %s failed (see above)", name);
	json_error_t je;
	json_t *m = json_load_file(meas_path, 0, &je);
	json_t *v = json_object_get(json_object_get(m, "summary"), "tokens_per_s");
	*tps = json_is_number(v) ? json_number_value(v) : 0;
	json_decref(m);
	return *tps > 0 ? 0 : fail("--validate: %s has no measured tokens_per_s", meas_path);
}

int wlb_tune_validate(const char *trace_path, const struct wlb_trace *best, struct wlb_cost *cost,
		      const char *costdb, uint32_t iterations, const char *device)
{
	char run[PATH_MAX], dir[] = "/tmp/wlb-validate-XXXXXX";
	struct wlb_trace plain = *best;  /* shares the documents; only the policy changes */
	struct wlb_trace pick = *best;
	double pred[2], meas[2];

	if (find_run(run, sizeof run))
		return fail("--validate: wlb-run is not installed beside wlb-tune");
	if (!mkdtemp(dir))
		return fail("--validate: cannot make a temporary directory");
	snprintf(plain.policy.packing, sizeof plain.policy.packing, "concat");
	snprintf(plain.policy.sharding, sizeof plain.policy.sharding, "per-seq");
	int rc = one("picked", run, trace_path, &pick, cost, costdb, iterations, device, dir, &pred[0], &meas[0]) ||
		 one("plain-4d", run, trace_path, &plain, cost, costdb, iterations, device, dir, &pred[1], &meas[1]);
	if (!rc)
		printf("\nvalidation (%s): speedup of the pick over Plain-4D on the same layout: measured "
		       "%.3fx, predicted %.3fx\nreports in %s\n", device ? device : "cuda",
		       meas[0] / meas[1], pred[0] / pred[1], dir);
	return rc;
}
