/* nccl_run.cu — gpu.h's NCCL timings and checks over the node's GPUs:
 * wlb_gpu_time_collectives, wlb_gpu_time_p2p and wlb_gpu_check_allreduce.
 *
 * Collectives run in one process per GPU.  CUDA is not fork-safe (a child
 * forked after its parent touched CUDA cannot use the GPU), so each worker is
 * fork + exec of /proc/self/exe with WLB_NCCL_WORKER naming a shared file:
 * wlb_gpu_worker(), called first in main, sees the variable and becomes the
 * worker (nccl_worker.cu).  The parent writes the NCCL unique id and the job
 * into that file (nccl_int.h) and maps it MAP_SHARED; the workers map it too,
 * report progress, a status line and their timings in it, and the parent
 * reads them after waitpid.
 *
 * Future work: across nodes, the same worker under mpirun / srun (an MPI=1
 * build taking rank and local rank from the environment as nccl-tests does,
 * the unique id broadcast over MPI), filling nodes > 1 and inter-node p2p.
 *
 * Nothing here changes clocks, power limits or any other GPU setting. */
#include <nccl.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nccl_int.h"

extern char **environ;

#define WK_TIMEOUT_S 300                /* default; WLB_NCCL_TIMEOUT overrides */

/* ---- the worker's entry ------------------------------------------------ */

/* Called first thing in main (not from a constructor: CUDA registers each
 * file's kernels from static constructors whose order across files is not
 * defined, and the worker launches kernels).  A process started by wk_start
 * becomes the worker and never returns. */
extern "C" void wlb_gpu_worker(void)
{
	const char *path = getenv("WLB_NCCL_WORKER"), *rank = getenv("WLB_NCCL_RANK");
	int rc;
	if (!path || !rank)
		return;
	rc = wlb_cu_worker_main(path, atoi(rank));
	fflush(NULL);
	_exit(rc);
}

/* ---- the parent: start, watch, read ----------------------------------- */

/* The number of results that follow the sizes in the job file. */
static size_t wk_n_res(int mode, int nranks, int n_sizes)
{
	if (mode == WK_P2P)
		return (size_t)n_sizes * 2;
	if (mode == WK_COLL)
		return (size_t)WLB_COLL_OPS * WK_MAX_GROUPS * n_sizes * nranks;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void wk_release(struct wk_hdr *h, const char *path)
{
	if (h)
		munmap(h, h->file_bytes);
	if (path[0])
		unlink(path);
}

/* Waits for every worker; on the first failure or when no worker made
 * progress for the timeout, kills the rest.  0, or the failure as one line. */
static int wk_wait(struct wk_hdr *h, pid_t *pids, int nranks, struct wlb_error *err)
{
	int alive = nranks, bad = -1, bad_status = 0, killed = 0, hung = 0, r;
	int64_t last = -1;
	double t_last = now_s(), timeout = WK_TIMEOUT_S;
	const char *env = getenv("WLB_NCCL_TIMEOUT");
	struct timespec nap = {0, 10 * 1000 * 1000};

	if (env && atof(env) > 0)
		timeout = atof(env);
	while (alive > 0) {
		int64_t prog = 0;
		for (r = 0; r < nranks; r++) {
			int st = 0, done;
			pid_t p;
			if (pids[r] <= 0)
				continue;
			p = waitpid(pids[r], &st, WNOHANG);
			if (p == 0 || (p < 0 && errno == EINTR))
				continue;
			pids[r] = 0;
			alive--;
			done = __atomic_load_n(&h->rank[r].state, __ATOMIC_SEQ_CST) == WK_DONE;
			if (p < 0 && done)
				continue; /* SIGCHLD ignored by the program: no status, but done */
			if (bad < 0 && !killed &&
			    (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !done)) {
				bad = r;
				bad_status = p < 0 ? -1 : st;
			}
		}
		for (r = 0; r < nranks; r++)
			prog += __atomic_load_n(&h->rank[r].progress, __ATOMIC_RELAXED);
		if (prog != last) {
			last = prog;
			t_last = now_s();
		} else if (!killed && now_s() - t_last > timeout) {
			hung = 1;
		}
		if (!killed && (bad >= 0 || hung) && alive > 0) {
			for (r = 0; r < nranks; r++)
				if (pids[r] > 0)
					kill(pids[r], SIGKILL);
			killed = 1;
		}
		if (alive > 0)
			nanosleep(&nap, NULL);
	}
	if (bad >= 0) {
		struct wk_rank *k = &h->rank[bad];
		if (k->msg[0])
			return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d: %s", bad, k->msg);
		if (k->exec_errno)
			return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d: cannot exec "
					     "/proc/self/exe: %s", bad, strerror(k->exec_errno));
		if (bad_status < 0)
			return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d: lost (waitpid failed)",
					     bad);
		if (WIFSIGNALED(bad_status))
			return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d was killed by signal %d "
					     "(%s)", bad, WTERMSIG(bad_status),
					     strsignal(WTERMSIG(bad_status)));
		return wlb_error_set(err, WLB_EIO, "NCCL worker on GPU %d exited with status %d%s", bad,
				     WEXITSTATUS(bad_status),
				     WEXITSTATUS(bad_status) == 3 ? " (could not read its job file)" : "");
	}
	if (hung)
		return wlb_error_set(err, WLB_EIO, "NCCL workers made no progress for %.0f s (a hang? "
				     "NCCL_DEBUG=WARN tells more; WLB_NCCL_TIMEOUT sets the limit)",
				     timeout);
	return 0;
}

/* Writes the job file (the NCCL unique id, the sizes), starts one worker
 * per GPU 0 .. nranks-1 and waits for them.  On success *out is the mapped
 * file, for the caller to read and wk_release. */
static int wk_start(int mode, int nranks, const int *groups, int n_groups, const int64_t *sizes,
		    int n_sizes, int reps, struct wk_hdr **out, char *path, size_t path_n,
		    struct wlb_error *err)
{
	struct wk_hdr *h = NULL;
	pid_t pids[WK_MAX_RANKS], parent = getpid();
	char **envp = NULL, rank_env[32], *worker_env = NULL;
	char *argv[] = {(char *)"wlb-nccl-worker", NULL};
	const char *tmp = getenv("TMPDIR");
	size_t bytes, ne = 0, i;
	int rc = 0, fd = -1, r;

	*out = NULL;
	memset(pids, 0, sizeof pids);
	snprintf(path, path_n, "%s/wlb-nccl-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		rc = wlb_error_set(err, WLB_EIO, "%s: cannot create the NCCL job file: %s", path,
				   strerror(errno));
		path[0] = '\0';
		goto out;
	}
	bytes = sizeof *h + (size_t)n_sizes * sizeof(int64_t) +
		wk_n_res(mode, nranks, n_sizes) * sizeof(double);
	if (ftruncate(fd, (off_t)bytes) != 0) {
		rc = wlb_error_set(err, WLB_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	h = (struct wk_hdr *)mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		h = NULL;
		rc = wlb_error_set(err, WLB_EIO, "mmap of %s: %s", path, strerror(errno));
		goto out;
	}
	h->file_bytes = bytes;
	h->mode = mode;
	h->nranks = nranks;
	h->reps = reps;
	h->n_sizes = n_sizes;
	h->n_groups = n_groups;
	for (r = 0; r < n_groups; r++)
		h->group[r] = groups[r];
	if (n_sizes)
		memcpy(wk_sizes(h), sizes, (size_t)n_sizes * sizeof *sizes);
	for (i = 0; i < wk_n_res(mode, nranks, n_sizes); i++)
		wk_res(h, 0, 0, 0, 0)[i] = -1;
	NC(ncclGetUniqueId(&h->id), NULL);
	h->magic = WK_MAGIC;
	if (msync(h, bytes, MS_SYNC) != 0) {
		rc = wlb_error_set(err, WLB_EIO, "msync of %s: %s", path, strerror(errno));
		goto out;
	}

	/* the environment, plus where the job is and which GPU is whose */
	while (environ && environ[ne])
		ne++;
	envp = (char **)calloc(ne + 3, sizeof *envp);
	worker_env = (char *)malloc(strlen(path) + 32);
	if (!envp || !worker_env) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	sprintf(worker_env, "WLB_NCCL_WORKER=%s", path);
	for (i = 0, ne = 0; environ && environ[i]; i++)
		if (strncmp(environ[i], "WLB_NCCL_WORKER=", 16) && strncmp(environ[i], "WLB_NCCL_RANK=", 14))
			envp[ne++] = environ[i];
	envp[ne++] = worker_env;
	envp[ne++] = rank_env;
	envp[ne] = NULL;

	fflush(NULL);
	for (r = 0; r < nranks; r++) {
		snprintf(rank_env, sizeof rank_env, "WLB_NCCL_RANK=%d", r);
		pids[r] = fork();
		if (pids[r] == 0) {
			/* only async-signal-safe calls until exec */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(4);
			dup2(2, 1); /* NCCL_DEBUG's lines go to stderr, not our stdout */
			execve("/proc/self/exe", argv, envp);
			h->rank[r].exec_errno = errno;
			_exit(127);
		}
		if (pids[r] < 0) {
			pids[r] = 0;
			rc = wlb_error_set(err, WLB_EIO, "fork: %s", strerror(errno));
			for (int k = 0; k < r; k++)
				kill(pids[k], SIGKILL);
			for (int k = 0; k < r; k++)
				waitpid(pids[k], NULL, 0);
			goto out;
		}
	}
	rc = wk_wait(h, pids, nranks, err);
out:
	if (fd >= 0)
		close(fd);
	free(envp);
	free(worker_env);
	if (rc) {
		if (h)
			munmap(h, bytes);
		if (path[0])
			unlink(path);
		path[0] = '\0';
	} else {
		*out = h;
	}
	return rc;
}

/* Group sizes 2, 4, 8 that fit in n GPUs. */
static int node_groups(int n, int *groups)
{
	int k = 0;
	for (int g = 2; g <= 8 && k < WK_MAX_GROUPS; g *= 2)
		if (g <= n)
			groups[k++] = g;
	return k;
}

static int sweep_args(const int64_t *sizes, int n_sizes, int reps, struct wlb_error *err)
{
	if (n_sizes < 0 || (n_sizes > 0 && !sizes))
		return wlb_error_set(err, WLB_EINVAL, "no sizes");
	if (reps < 1)
		return wlb_error_set(err, WLB_EINVAL, "reps must be at least 1, got %d", reps);
	for (int i = 0; i < n_sizes; i++)
		if (sizes[i] < 1)
			return wlb_error_set(err, WLB_EINVAL, "sizes must be positive, got %lld",
					     (long long)sizes[i]);
	return 0;
}

int wlb_gpu_time_collectives(const int64_t *sizes, int n_sizes, int reps,
			     struct wlb_coll_sample **out, size_t *n, struct wlb_error *err)
{
	struct wk_hdr *h = NULL;
	struct wlb_coll_sample *v = NULL;
	char path[PATH_MAX] = "";
	int groups[WK_MAX_GROUPS], n_groups, devices = 0, nranks, rc = 0, op, gi, si;
	size_t cap, k = 0;

	*out = NULL;
	*n = 0;
	TRY(sweep_args(sizes, n_sizes, reps, err));
	TRY(wlb_cu_count_devices(&devices, err));
	if (devices < 2 || n_sizes == 0)
		return 0; /* nothing to measure with one GPU */
	nranks = devices < WK_MAX_RANKS ? devices : WK_MAX_RANKS;
	n_groups = node_groups(nranks, groups);
	TRY(wk_start(WK_COLL, nranks, groups, n_groups, sizes, n_sizes, reps, &h, path, sizeof path,
		     err));
	cap = (size_t)WLB_COLL_OPS * n_groups * n_sizes;
	v = (struct wlb_coll_sample *)calloc(cap, sizeof *v);
	if (!v) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	for (op = 0; op < WLB_COLL_OPS; op++)
		for (gi = 0; gi < n_groups; gi++)
			for (si = 0; si < n_sizes; si++) {
				int g = groups[gi];
				size_t count = coll_count(op, g, sizes[si]);
				double us = -1;
				if (!count)
					continue;
				/* the groups of g ran side by side, as TP or CP
				 * groups do in training: the slowest one counts */
				for (int grp = 0; grp < nranks / g; grp++)
					if (*wk_res(h, op, gi, si, grp) > us)
						us = *wk_res(h, op, gi, si, grp);
				if (us <= 0) {
					rc = wlb_error_set(err, WLB_EIO, "%s over %d GPUs, %lld bytes: "
							   "no time reported",
							   wlb_coll_op_name((enum wlb_coll_op)op), g,
							   (long long)sizes[si]);
					goto out;
				}
				struct wlb_coll_sample *s = &v[k++];
				s->source = WLB_SRC_MEASURED;
				s->op = (enum wlb_coll_op)op;
				s->ranks = g;
				s->nodes = 1;
				s->bytes = coll_bytes(op, g, count);
				s->median_us = us;
				s->algbw_gbps = (double)s->bytes / (us * 1e-6) / 1e9;
				s->busbw_gbps = s->algbw_gbps * wlb_coll_busbw_factor(s->op, g);
			}
	*out = v;
	*n = k;
	v = NULL;
out:
	free(v);
	if (h || path[0])
		wk_release(h, path);
	if (rc)
		wlb_error_prefix(err, "NCCL collectives");
	return rc;
}

int wlb_gpu_time_p2p(const int64_t *sizes, int n_sizes, int reps, struct wlb_p2p_sample **out,
		     size_t *n, struct wlb_error *err)
{
	struct wk_hdr *h = NULL;
	struct wlb_p2p_sample *v = NULL;
	char path[PATH_MAX] = "";
	int devices = 0, rc = 0, si;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	TRY(sweep_args(sizes, n_sizes, reps, err));
	TRY(wlb_cu_count_devices(&devices, err));
	if (devices < 2 || n_sizes == 0)
		return 0;
	TRY(wk_start(WK_P2P, 2, NULL, 0, sizes, n_sizes, reps, &h, path, sizeof path, err));
	v = (struct wlb_p2p_sample *)calloc((size_t)n_sizes, sizeof *v);
	if (!v) {
		rc = wlb_error_set(err, WLB_ENOMEM, "out of memory");
		goto out;
	}
	for (si = 0; si < n_sizes; si++) {
		size_t count = (size_t)sizes[si] / 2;
		double a, b;
		if (!count)
			continue;
		a = *wk_res(h, 0, 0, si, 0);
		b = *wk_res(h, 0, 0, si, 1);
		if (a <= 0 || b <= 0) {
			rc = wlb_error_set(err, WLB_EIO, "send/recv of %lld bytes: no time reported",
					   (long long)sizes[si]);
			goto out;
		}
		v[k].source = WLB_SRC_MEASURED;
		v[k].bytes = (int64_t)count * 2;
		v[k].inter = 0;
		v[k].median_us = a > b ? a : b; /* done when both sides are */
		k++;
	}
	*out = v;
	*n = k;
	v = NULL;
out:
	free(v);
	if (h || path[0])
		wk_release(h, path);
	if (rc)
		wlb_error_prefix(err, "NCCL send/recv");
	return rc;
}

int wlb_gpu_check_allreduce(struct wlb_error *err)
{
	struct wk_hdr *h = NULL;
	char path[PATH_MAX] = "";
	int groups[WK_MAX_GROUPS], n_groups, devices = 0, nranks, rc = 0;

	TRY(wlb_cu_count_devices(&devices, err));
	if (devices < 2)
		return 0;
	nranks = devices < WK_MAX_RANKS ? devices : WK_MAX_RANKS;
	n_groups = node_groups(nranks, groups);
	TRY(wk_start(WK_CHECK, nranks, groups, n_groups, NULL, 0, 1, &h, path, sizeof path, err));
out:
	if (h || path[0])
		wk_release(h, path);
	return rc;
}
