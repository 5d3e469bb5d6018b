/* launch.c — forks the ranks of a local run and watches them, or reads the
 * rank of an mpirun / srun job from the environment (launch.h).
 *
 * Each rank holds the write end of a "life line" pipe that nobody writes:
 * it hangs up in the parent when the rank's files close as it exits, with
 * its sockets.  The parent sleeps in poll() on the life lines and numbers
 * the hang-ups, so when ranks fail one after the other (a crash, then the
 * ranks whose receives saw it go) it names the first in most runs, where
 * the exit statuses alone come back in no useful order; ranks that end in
 * the same wake-up tie (a crash first, then the lower rank).  SIGCHLD,
 * blocked and read from a signalfd, wakes it to reap.  All fds are
 * close-on-exec: a rank that runs a program (system()) does not keep them. */
#include "launch.h"
#include "stop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define GRACE_S 2.0   /* between SIGTERM and SIGKILL */
#define NAP_S 0.02    /* longest sleep between two looks at the ranks */

struct kids {
	int n, seq;
	int sfd;                      /* signalfd of SIGCHLD; -1 if none */
	pid_t pid[WLB_LAUNCH_MAX];
	int life[WLB_LAUNCH_MAX];     /* read end of the life line; -1 once hung up */
	int gone[WLB_LAUNCH_MAX];     /* when it hung up: 1, 2, ... (0: not yet) */
	int done[WLB_LAUNCH_MAX];     /* reaped */
	int status[WLB_LAUNCH_MAX];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Waits at most s seconds for a life line to hang up or a SIGCHLD; the
 * life lines that hung up together get the next number. */
static void listen_ranks(struct kids *k, double s)
{
	struct pollfd pf[WLB_LAUNCH_MAX + 1];
	int who[WLB_LAUNCH_MAX + 1], n = 0, hung = 0;

	if (k->sfd >= 0) {
		pf[n].fd = k->sfd;
		pf[n].events = POLLIN;
		who[n++] = -1;
	}
	for (int i = 0; i < k->n; i++)
		if (k->life[i] >= 0) {
			pf[n].fd = k->life[i];
			pf[n].events = POLLIN;
			who[n++] = i;
		}
	s = s < 0 ? 0 : s > NAP_S ? NAP_S : s;
	if (poll(pf, (nfds_t)n, (int)(s * 1000) + (s > 0)) <= 0)
		return;
	for (int j = 0; j < n; j++) {
		int i = who[j];
		if (!pf[j].revents)
			continue;
		if (i < 0) {
			struct signalfd_siginfo si;
			while (read(k->sfd, &si, sizeof si) > 0)
				;
			continue;
		}
		close(k->life[i]);
		k->life[i] = -1;
		if (!k->gone[i]) {
			k->gone[i] = k->seq + 1;
			hung = 1;
		}
	}
	k->seq += hung;
}

/* Reaps the ranks that ended; returns how many still run. */
static int reap(struct kids *k)
{
	int alive = 0;
	for (int i = 0; i < k->n; i++) {
		int st = 0;
		pid_t r;
		if (k->done[i])
			continue;
		r = waitpid(k->pid[i], &st, WNOHANG);
		if (r == k->pid[i] || (r < 0 && errno == ECHILD)) {
			/* ECHILD: reaped elsewhere (SIGCHLD ignored); status unknown */
			k->done[i] = 1;
			k->status[i] = r < 0 ? 0 : st;
			if (!k->gone[i])
				k->gone[i] = ++k->seq;
			if (k->life[i] >= 0) {
				close(k->life[i]);
				k->life[i] = -1;
			}
		} else {
			alive++;
		}
	}
	return alive;
}

static int failed(int st)
{
	return WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

/* the failed rank that went first; on a tie a crash, then the lower rank */
static int culprit(const struct kids *k)
{
	int f = -1;
	for (int i = 0; i < k->n; i++) {
		if (!k->done[i] || !failed(k->status[i]))
			continue;
		if (f < 0 || k->gone[i] < k->gone[f] ||
		    (k->gone[i] == k->gone[f] && WIFSIGNALED(k->status[i]) &&
		     !WIFSIGNALED(k->status[f])))
			f = i;
	}
	return f;
}

static void add(char *buf, size_t cap, const char *fmt, ...) WLB_PRINTF(3, 4);
static void add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	if (len + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

static void how(char *buf, size_t cap, int rank, int st)
{
	if (WIFSIGNALED(st))
		add(buf, cap, "rank %d killed by signal %d (%s)", rank, WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else
		add(buf, cap, "rank %d failed (exit status %d)", rank, WEXITSTATUS(st));
}

/* "rank 3" or "ranks 0, 1, 2" for the ranks with pick[i] set */
static void list(char *buf, size_t cap, const int *pick, int n)
{
	int cnt = 0, seen = 0;
	for (int i = 0; i < n; i++)
		cnt += pick[i] != 0;
	add(buf, cap, cnt == 1 ? "rank" : "ranks");
	for (int i = 0; i < n; i++)
		if (pick[i])
			add(buf, cap, "%s %d", seen++ ? "," : "", i);
}

/* SIGTERM to every rank still running, SIGKILL after the grace period,
 * everything reaped; stopped[i] says which were running. */
static int stop_rest(struct kids *k, int *stopped)
{
	int cnt = 0;
	double until;
	for (int i = 0; i < k->n; i++) {
		stopped[i] = !k->done[i];
		if (stopped[i]) {
			kill(k->pid[i], SIGTERM);
			cnt++;
		}
	}
	until = now_s() + GRACE_S;
	while (reap(k) > 0 && now_s() < until)
		listen_ranks(k, until - now_s());
	for (int i = 0; i < k->n; i++) {
		int st;
		if (k->done[i])
			continue;
		kill(k->pid[i], SIGKILL);
		while (waitpid(k->pid[i], &st, 0) < 0 && errno == EINTR)
			;
		k->done[i] = 1;
	}
	return cnt;
}

static int failure(struct kids *k, struct wlb_error *err)
{
	char msg[sizeof err->msg];
	int stopped[WLB_LAUNCH_MAX], f = culprit(k), then = 0;
	double until = now_s() + GRACE_S;

	/* the ranks that hung up no later than f are ending too: see how */
	for (;;) {
		int wait = 0;
		for (int i = 0; i < k->n; i++)
			wait |= !k->done[i] && k->gone[i] && k->gone[i] <= k->gone[f];
		if (!wait || now_s() >= until)
			break;
		listen_ranks(k, until - now_s());
		reap(k);
		f = culprit(k);
	}
	msg[0] = '\0';
	how(msg, sizeof msg, f, k->status[f]);
	for (int g = 1; g <= k->seq; g++)
		for (int i = 0; i < k->n; i++)
			if (i != f && k->gone[i] == g && k->done[i] && failed(k->status[i])) {
				add(msg, sizeof msg, then++ ? ", " : "; then ");
				how(msg, sizeof msg, i, k->status[i]);
			}
	if (stop_rest(k, stopped)) {
		add(msg, sizeof msg, "; stopped ");
		list(msg, sizeof msg, stopped, k->n);
	}
	return wlb_error_set(err, WLB_EINVAL, "%s", msg);
}

static int watch(struct kids *k, double timeout_s, struct wlb_error *err)
{
	double t0 = now_s();
	for (;;) {
		int alive = reap(k), cnt, stopped[WLB_LAUNCH_MAX];
		char names[sizeof err->msg];
		double left;

		/* SIGINT / SIGTERM to the command (stop.h): the ranks, which a
		 * terminal's Ctrl-C reaches too, are stopped */
		if (wlb_stop_requested()) {
			stop_rest(k, stopped);
			return wlb_stop_check(err);
		}
		if (culprit(k) >= 0)
			return failure(k, err);
		if (!alive)
			return 0;
		left = timeout_s > 0 ? t0 + timeout_s - now_s() : NAP_S;
		if (left > 0) {
			listen_ranks(k, left);
			continue;
		}
		cnt = stop_rest(k, stopped);
		names[0] = '\0';
		list(names, sizeof names, stopped, k->n);
		return wlb_error_set(err, WLB_EINVAL, "%s still running after %g s (a hang?); "
				     "stopped %s", names, timeout_s, cnt == 1 ? "it" : "them");
	}
}

static void close_fds(int *fd, int n)
{
	for (int i = 0; i < n; i++)
		if (fd[i] >= 0) {
			close(fd[i]);
			fd[i] = -1;
		}
}

/* In a new rank: its own sockets and life line stay open, the rest close. */
static void rank_setup(int i, int nproc, int fd[][WLB_LAUNCH_MAX], int (*life)[2],
		       struct wlb_launch *l)
{
	for (int a = 0; a < nproc; a++) {
		if (a != i)
			close_fds(fd[a], nproc);
		close(life[a][0]);
		if (a != i)
			close(life[a][1]);
	}
	memset(l, 0, sizeof *l);
	l->rank = i;
	l->size = nproc;
	l->local_rank = i;
	l->forked = 1;
	for (int j = 0; j < WLB_LAUNCH_MAX; j++)
		l->fd[j] = j < nproc ? fd[i][j] : -1;
}

int wlb_launch_fork(int nproc, double timeout_s, struct wlb_launch *l, struct wlb_error *err)
{
	int fd[WLB_LAUNCH_MAX][WLB_LAUNCH_MAX], life[WLB_LAUNCH_MAX][2];
	int made = 0, rc = 0, e = 0, stopped[WLB_LAUNCH_MAX];
	struct kids k;
	sigset_t chld, old;
	pid_t parent = getpid();

	if (nproc < 1 || nproc > WLB_LAUNCH_MAX)
		return wlb_error_set(err, WLB_EINVAL, "%d ranks: the launcher starts 1 to %d",
				     nproc, WLB_LAUNCH_MAX);
	memset(&k, 0, sizeof k);
	for (int i = 0; i < nproc; i++)
		k.life[i] = -1;
	for (int i = 0; i < nproc; i++)
		for (int j = 0; j < nproc; j++)
			fd[i][j] = -1;
	for (int i = 0; i < nproc && !rc; i++) {
		for (int j = i + 1; j < nproc && !rc; j++) {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
				e = errno;
				rc = wlb_error_set(err, WLB_EIO, "socket pair between ranks %d and %d: %s",
						   i, j, strerror(e));
				break;
			}
			fd[i][j] = sv[0];
			fd[j][i] = sv[1];
		}
	}
	for (int i = 0; i < nproc && !rc; i++) {
		if (pipe(life[i])) {
			e = errno;
			rc = wlb_error_set(err, WLB_EIO, "pipe: %s", strerror(e));
			break;
		}
		made++;
		fcntl(life[i][0], F_SETFD, FD_CLOEXEC);
		fcntl(life[i][1], F_SETFD, FD_CLOEXEC);
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	fflush(NULL);
	for (int i = 0; i < nproc && !rc; i++) {
		pid_t p = fork();
		if (p < 0) {
			e = errno;
			rc = wlb_error_set(err, WLB_EIO, "cannot start rank %d: fork: %s", i,
					   strerror(e));
			break;
		}
		if (p == 0) {
			/* a rank ends on SIGINT / SIGTERM; the parent reports it */
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
				_exit(127);
			rank_setup(i, nproc, fd, life, l);
			return 1;
		}
		k.pid[i] = p;
		k.n = i + 1;
	}
	for (int i = 0; i < nproc; i++)
		close_fds(fd[i], nproc);
	for (int i = 0; i < made; i++) {
		close(life[i][1]);
		k.life[i] = life[i][0];
	}
	k.sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (rc)
		stop_rest(&k, stopped);
	else
		rc = watch(&k, timeout_s, err);
	close_fds(k.life, made);
	if (k.sfd >= 0)
		close(k.sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* a non-negative decimal integer, the whole variable */
static int env_int(const char *name, int *v)
{
	const char *s = getenv(name);
	char *end;
	long x;

	if (!s || !*s)
		return 0;
	errno = 0;
	x = strtol(s, &end, 10);
	if (errno || *end || x < 0 || x > INT_MAX)
		return 0;
	*v = (int)x;
	return 1;
}

int wlb_launch_from_env(struct wlb_launch *l)
{
	static const char *const vars[][3] = {
		{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
		{"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
		{"PMI_RANK", "PMI_SIZE", NULL},
	};

	for (size_t v = 0; v < sizeof vars / sizeof vars[0]; v++) {
		int rank, size, local;
		if (!env_int(vars[v][0], &rank) || !env_int(vars[v][1], &size) || rank >= size)
			continue;
		if (!vars[v][2] || !env_int(vars[v][2], &local))
			local = rank;
		l->rank = rank;
		l->size = size;
		l->local_rank = local;
		l->forked = 0;
		for (int j = 0; j < WLB_LAUNCH_MAX; j++)
			l->fd[j] = -1;
		return 1;
	}
	return 0;
}
