/* test_comm.c — the rank launcher and the CPU transport.  Each scenario
 * forks its ranks with wlb_launch_fork; a rank checks its own values, prints
 * what is wrong and exits 1, so the parent checks one exit status per
 * scenario.  Collectives are checked against closed forms (sums of integer
 * products, exact in floating point) on 1, 2, 4 and 6 ranks, within split
 * groups too; then the launcher's failures (exit status, signal, hang) and
 * the transport's (peer gone, timeout, wrong size), each leaving no zombie. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "comm.h"
#include "launch.h"
#include "test.h"

void test_comm(void);

static int c_rank, c_bad;      /* in a rank: its number, checks that failed */
static struct wlb_error cerr;  /* in a rank: the last call's error */

#define EXPECT(c) do { if (!(c)) { c_bad++; \
	fprintf(stderr, "comm rank %d: %s:%d: %s\n", c_rank, __FILE__, __LINE__, #c); } } while (0)
#define EXPECT_OK(call) do { int rc_ = (call); if (rc_) { c_bad++; \
	fprintf(stderr, "comm rank %d: %s:%d: %s: %s\n", c_rank, __FILE__, __LINE__, #call, \
		cerr.msg); } } while (0)
/* call fails with an error containing sub */
#define EXPECT_ERR(call, sub) do { cerr.msg[0] = '\0'; int rc_ = (call); \
	if (!rc_ || !strstr(cerr.msg, sub)) { c_bad++; \
	fprintf(stderr, "comm rank %d: %s:%d: %s: rc %d, \"%s\" lacks \"%s\"\n", c_rank, \
		__FILE__, __LINE__, #call, rc_, cerr.msg, sub); } } while (0)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* In the parent: forks n ranks running fn, returns wlb_launch_fork's result. */
static int launch(int n, double timeout_s, int (*fn)(const struct wlb_launch *),
		  struct wlb_error *err)
{
	struct wlb_launch l;
	int rc = wlb_launch_fork(n, timeout_s, &l, err);
	if (rc == 1) {
		c_rank = l.rank;
		c_bad = 0;
		_exit(fn(&l));
	}
	return rc;
}

/* a scenario whose ranks all succeed */
static int ok(int n, int (*fn)(const struct wlb_launch *))
{
	struct wlb_error err = {0};
	int rc = launch(n, 20, fn, &err);
	if (rc)
		fprintf(stderr, "comm: %d ranks: %s\n", n, err.msg);
	return rc;
}

static void no_zombies(void)
{
	errno = 0;
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
}

static struct wlb_comm *world(const struct wlb_launch *l, double timeout_s)
{
	struct wlb_error err = {0};
	struct wlb_comm *w;
	if (wlb_comm_cpu_world(l, timeout_s, &w, &err)) {
		fprintf(stderr, "comm rank %d: world: %s\n", l->rank, err.msg);
		_exit(1);
	}
	return w;
}

/* ---- collectives; wr[i] is the world rank of member i ---- */

static void colls(struct wlb_comm *c, const int *wr)
{
	enum { K = 5 };
	int n = c->size, r = c->rank, me = wr[r];
	double s = 0, sd[4 * 6 * K], rd[4 * 6 * K], bits[6 * K];
	float sf[6 * K], rf[6 * K];

	EXPECT(c->world_rank == me);
	for (int i = 0; i < n; i++)
		s += wr[i] + 1;

	/* all_gather: member i's block holds wr[i] * 10 + k */
	for (int k = 0; k < K; k++) {
		sd[k] = me * 10 + k;
		sf[k] = (float)(me * 10 + k);
	}
	EXPECT_OK(c->ops->all_gather(c, sd, rd, K, WLB_DT_F64, &cerr));
	EXPECT_OK(c->ops->all_gather(c, sf, rf, K, WLB_DT_F32, &cerr));
	for (int i = 0; i < n; i++)
		for (int k = 0; k < K; k++) {
			EXPECT(rd[i * K + k] == wr[i] * 10 + k);
			EXPECT(rf[i * K + k] == (float)(wr[i] * 10 + k));
		}

	/* reduce_scatter: element x of the send buffer is (me + 1)(x + 1), so
	 * member r gets s (r K + k + 1) */
	for (int x = 0; x < n * K; x++) {
		sd[x] = (me + 1) * (x + 1);
		sf[x] = (float)((me + 1) * (x + 1));
	}
	EXPECT_OK(c->ops->reduce_scatter(c, sd, rd, K, WLB_DT_F64, &cerr));
	EXPECT_OK(c->ops->reduce_scatter(c, sf, rf, K, WLB_DT_F32, &cerr));
	for (int k = 0; k < K; k++) {
		EXPECT(rd[k] == s * (r * K + k + 1));
		EXPECT(rf[k] == (float)(s * (r * K + k + 1)));
	}
	/* in place: recv is this member's own block */
	EXPECT_OK(c->ops->reduce_scatter(c, sd, sd + r * K, K, WLB_DT_F64, &cerr));
	for (int k = 0; k < K; k++)
		EXPECT(sd[r * K + k] == s * (r * K + k + 1));

	/* all_reduce, in place for f64 */
	for (int k = 0; k < K; k++) {
		sd[k] = (me + 1) * (k + 1);
		sf[k] = (float)((me + 1) * (k + 1));
	}
	EXPECT_OK(c->ops->all_reduce(c, sd, sd, K, WLB_DT_F64, &cerr));
	EXPECT_OK(c->ops->all_reduce(c, sf, rf, K, WLB_DT_F32, &cerr));
	for (int k = 0; k < K; k++) {
		EXPECT(sd[k] == s * (k + 1));
		EXPECT(rf[k] == (float)(s * (k + 1)));
	}

	/* sums that round: every member gets the same bits */
	for (int k = 0; k < K; k++)
		sd[k] = (me + 1) * 0.1 + k * 1e-3 + 1.0 / (me + 3);
	EXPECT_OK(c->ops->all_reduce(c, sd, rd, K, WLB_DT_F64, &cerr));
	EXPECT_OK(c->ops->all_gather(c, rd, bits, K, WLB_DT_F64, &cerr));
	for (int i = 1; i < n; i++)
		EXPECT(!memcmp(bits, bits + i * K, K * sizeof bits[0]));

	EXPECT_ERR(c->ops->all_reduce(c, sd, rd, K, WLB_DT_BF16, &cerr), "bf16");
	EXPECT_OK(c->ops->barrier(c, &cerr));
	/* empty collectives are fine */
	EXPECT_OK(c->ops->all_reduce(c, sd, rd, 0, WLB_DT_F64, &cerr));
}

/* p2p between ranks 2i and 2i + 1: tags out of order, wrong size, bad tag */
static void p2p(struct wlb_comm *c)
{
	int r = c->rank, peer = r ^ 1;
	double a[3] = {2.5, 3.5, 4.5}, b = 1.5, got[3] = {0};
	float f = 7.25f, gf = 0;

	if (peer >= c->size)
		return;
	if (r % 2 == 0) {
		EXPECT_OK(c->ops->send(c, peer, 2, a, 2, WLB_DT_F64, &cerr));
		EXPECT_OK(c->ops->send(c, peer, 1, &b, 1, WLB_DT_F64, &cerr));
		EXPECT_OK(c->ops->send(c, peer, 6, &f, 1, WLB_DT_F32, &cerr));
		EXPECT_ERR(c->ops->recv(c, peer, 5, got, 2, WLB_DT_F64, &cerr),
			   "has 24 bytes, expected 16");
		/* the next message on tag 5 still arrives */
		EXPECT_OK(c->ops->recv(c, peer, 5, got, 1, WLB_DT_F64, &cerr));
		EXPECT(got[0] == 9);
	} else {
		EXPECT_OK(c->ops->recv(c, peer, 1, got, 1, WLB_DT_F64, &cerr));
		EXPECT(got[0] == 1.5);
		EXPECT_OK(c->ops->recv(c, peer, 2, got, 2, WLB_DT_F64, &cerr));
		EXPECT(got[0] == 2.5 && got[1] == 3.5);
		EXPECT_OK(c->ops->recv(c, peer, 6, &gf, 1, WLB_DT_F32, &cerr));
		EXPECT(gf == 7.25f);
		EXPECT_OK(c->ops->send(c, peer, 5, a, 3, WLB_DT_F64, &cerr));
		got[0] = 9;
		EXPECT_OK(c->ops->send(c, peer, 5, got, 1, WLB_DT_F64, &cerr));
	}
	EXPECT_ERR(c->ops->send(c, peer, 0x80000000u, a, 1, WLB_DT_F64, &cerr), "2^31");
	EXPECT_ERR(c->ops->send(c, c->size, 0, a, 1, WLB_DT_F64, &cerr), "not a member");
}

/* 8 MB to the next rank while the previous one sends 8 MB here (with two
 * ranks: both ways at once) */
static void big(struct wlb_comm *c)
{
	size_t n = (size_t)1 << 20;
	int r = c->rank, to = (r + 1) % c->size, from = (r + c->size - 1) % c->size;
	double *s = malloc(n * sizeof *s), *g = malloc(n * sizeof *g);
	size_t bad = 0;

	EXPECT(s && g);
	if (!s || !g)
		goto out;
	for (size_t i = 0; i < n; i++)
		s[i] = r * 1e7 + (double)i;
	EXPECT_OK(c->ops->send(c, to, 3, s, n, WLB_DT_F64, &cerr));
	EXPECT_OK(c->ops->recv(c, from, 3, g, n, WLB_DT_F64, &cerr));
	for (size_t i = 0; i < n; i++)
		bad += g[i] != from * 1e7 + (double)i;
	EXPECT(bad == 0);
out:
	free(s);
	free(g);
}

static int rank_basic(const struct wlb_launch *l)
{
	struct wlb_comm *w = world(l, 5), *one = NULL;
	int wr[WLB_LAUNCH_MAX];
	double x = 4, y = 0;

	EXPECT(w->rank == l->rank && w->size == l->size);
	for (int i = 0; i < w->size; i++)
		wr[i] = i;
	colls(w, wr);
	p2p(w);
	if (w->size > 1)
		big(w);

	/* alone: no messages, and a message to itself */
	EXPECT_OK(wlb_comm_split(w, l->rank, 0, &one, &cerr));
	if (one) {
		EXPECT(one->rank == 0 && one->size == 1);
		colls(one, &l->rank);
		EXPECT_OK(one->ops->send(one, 0, 4, &x, 1, WLB_DT_F64, &cerr));
		EXPECT_OK(one->ops->recv(one, 0, 4, &y, 1, WLB_DT_F64, &cerr));
		EXPECT(y == 4);
	}
	wlb_comm_destroy(one);
	EXPECT_OK(w->ops->barrier(w, &cerr));
	wlb_comm_destroy(w);
	return c_bad != 0;
}

static int find(const int *v, int n, int x)
{
	for (int i = 0; i < n; i++)
		if (v[i] == x)
			return i;
	return -1;
}

/* Six ranks: s1 by parity, ordered by -rank; the even group splits s1
 * again (so the ranks have made different numbers of splits); s2 by
 * rank / 3 mixes the two groups.  Ranks 0 and 2 share all four
 * communicators: the same tag on each reaches the right one. */
static int rank_split(const struct wlb_launch *l)
{
	static const int par[2][3] = {{4, 2, 0}, {5, 3, 1}}, third[2][3] = {{0, 1, 2}, {3, 4, 5}};
	struct wlb_comm *w = world(l, 5), *s1 = NULL, *s1b = NULL, *s2 = NULL;
	int r = l->rank;
	const int *g1 = par[r % 2], *g2 = third[r / 3];
	double v, sum = 0;

	EXPECT_OK(wlb_comm_split(w, r % 2, -r, &s1, &cerr));
	if (!s1)
		return 1;
	EXPECT(s1->size == 3 && s1->rank == find(g1, 3, r));
	colls(s1, g1);
	if (r % 2 == 0) {
		EXPECT_OK(wlb_comm_split(s1, 0, 0, &s1b, &cerr));
		if (!s1b)
			return 1;
		EXPECT(s1b->size == 3 && s1b->rank == s1->rank);
		colls(s1b, g1);
	}
	EXPECT_OK(wlb_comm_split(w, r / 3, r, &s2, &cerr));
	if (!s2)
		return 1;
	EXPECT(s2->size == 3 && s2->rank == find(g2, 3, r));
	colls(s2, g2);
	v = r + 1;
	EXPECT_OK(s2->ops->all_reduce(s2, &v, &sum, 1, WLB_DT_F64, &cerr));
	EXPECT(sum == (r < 3 ? 6 : 15));

	if (r == 0) {
		v = 300;
		EXPECT_OK(s2->ops->send(s2, 2, 7, &v, 1, WLB_DT_F64, &cerr));
		v = 200;
		EXPECT_OK(s1->ops->send(s1, 1, 7, &v, 1, WLB_DT_F64, &cerr));
		v = 100;
		EXPECT_OK(w->ops->send(w, 2, 7, &v, 1, WLB_DT_F64, &cerr));
		v = 400;
		EXPECT_OK(s1b->ops->send(s1b, 1, 7, &v, 1, WLB_DT_F64, &cerr));
	} else if (r == 2) {
		EXPECT_OK(w->ops->recv(w, 0, 7, &v, 1, WLB_DT_F64, &cerr));
		EXPECT(v == 100);
		EXPECT_OK(s1b->ops->recv(s1b, 2, 7, &v, 1, WLB_DT_F64, &cerr));
		EXPECT(v == 400);
		EXPECT_OK(s1->ops->recv(s1, 2, 7, &v, 1, WLB_DT_F64, &cerr));
		EXPECT(v == 200);
		EXPECT_OK(s2->ops->recv(s2, 0, 7, &v, 1, WLB_DT_F64, &cerr));
		EXPECT(v == 300);
	}
	EXPECT_OK(w->ops->barrier(w, &cerr));
	wlb_comm_destroy(s1b);
	wlb_comm_destroy(s1);
	wlb_comm_destroy(w);
	/* what outlives the world fails instead of touching freed state */
	EXPECT_ERR(s2->ops->barrier(s2, &cerr), "destroyed");
	wlb_comm_destroy(s2);
	return c_bad != 0;
}

/* ---- failures ---- */

static int rank_exit3(const struct wlb_launch *l)
{
	if (l->rank == 1)
		_exit(3);
	sleep(30);
	return 0;
}

static int rank_segv(const struct wlb_launch *l)
{
	if (l->rank == 0) {
		struct rlimit no = {0, 0};
		setrlimit(RLIMIT_CORE, &no);
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	sleep(30);
	return 0;
}

static int rank_hang(const struct wlb_launch *l)
{
	if (l->rank == 1)
		sleep(30);
	return 0;
}

/* rank 1 sends one message and dies: it is still delivered, then the next
 * receive fails at once */
static int rank_peer_dies(const struct wlb_launch *l)
{
	struct wlb_comm *w = world(l, 10);
	double v = 42, t0;

	if (l->rank == 1) {
		EXPECT_OK(w->ops->send(w, 0, 4, &v, 1, WLB_DT_F64, &cerr));
		_exit(c_bad != 0);
	}
	v = 0;
	EXPECT_OK(w->ops->recv(w, 1, 4, &v, 1, WLB_DT_F64, &cerr));
	EXPECT(v == 42);
	t0 = now_s();
	EXPECT_ERR(w->ops->recv(w, 1, 5, &v, 1, WLB_DT_F64, &cerr), "closed");
	EXPECT(now_s() - t0 < 2);
	EXPECT_ERR(w->ops->send(w, 1, 5, &v, 1, WLB_DT_F64, &cerr), "rank 1");
	wlb_comm_destroy(w);
	return c_bad != 0;
}

/* rank 0 waits 0.5 s for a message that does not come, then lets rank 1 go */
static int rank_timeout(const struct wlb_launch *l)
{
	struct wlb_comm *w = world(l, l->rank == 0 ? 0.5 : 5);
	double v = 1, t0 = now_s(), dt;

	if (l->rank == 0) {
		EXPECT_ERR(w->ops->recv(w, 1, 8, &v, 1, WLB_DT_F64, &cerr),
			   "rank 0: no message from rank 1 after 0.5 s");
		dt = now_s() - t0;
		EXPECT(dt > 0.45 && dt < 2);
		EXPECT_OK(w->ops->send(w, 1, 9, &v, 1, WLB_DT_F64, &cerr));
	} else {
		EXPECT_OK(w->ops->recv(w, 0, 9, &v, 1, WLB_DT_F64, &cerr));
	}
	wlb_comm_destroy(w);
	return c_bad != 0;
}

static void from_env(void)
{
	static const char *const names[] = {
		"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
		"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "PMI_RANK", "PMI_SIZE",
	};
	enum { N = sizeof names / sizeof names[0] };
	char *saved[N];
	struct wlb_launch l;

	for (int i = 0; i < N; i++) {
		const char *v = getenv(names[i]);
		saved[i] = v ? strdup(v) : NULL;
		unsetenv(names[i]);
	}
	CHECK_EQ(wlb_launch_from_env(&l), 0);
	setenv("PMI_RANK", "3", 1);
	setenv("PMI_SIZE", "8", 1);
	CHECK_EQ(wlb_launch_from_env(&l), 1);
	CHECK(l.rank == 3 && l.size == 8 && l.local_rank == 3 && !l.forked && l.fd[0] == -1);
	setenv("SLURM_PROCID", "5", 1);
	setenv("SLURM_NTASKS", "16", 1);
	setenv("SLURM_LOCALID", "1", 1);
	CHECK_EQ(wlb_launch_from_env(&l), 1);
	CHECK(l.rank == 5 && l.size == 16 && l.local_rank == 1);
	setenv("OMPI_COMM_WORLD_RANK", "2", 1);
	setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
	CHECK_EQ(wlb_launch_from_env(&l), 1);
	CHECK(l.rank == 2 && l.size == 4 && l.local_rank == 2);
	setenv("OMPI_COMM_WORLD_RANK", "4x", 1);   /* not a number: Slurm's then */
	CHECK_EQ(wlb_launch_from_env(&l), 1);
	CHECK_EQ(l.rank, 5);
	for (int i = 0; i < N; i++) {
		if (saved[i])
			setenv(names[i], saved[i], 1);
		else
			unsetenv(names[i]);
		free(saved[i]);
	}
}

void test_comm(void)
{
	struct wlb_error err = {0};
	struct wlb_launch l;
	double t0;

	CHECK_EQ(wlb_dtype_size(WLB_DT_F64), 8);
	CHECK_EQ(wlb_dtype_size(WLB_DT_F32), 4);
	CHECK_EQ(wlb_dtype_size(WLB_DT_BF16), 2);
	from_env();
	CHECK(wlb_launch_fork(0, 1, &l, &err) < 0);
	CHECK(wlb_launch_fork(WLB_LAUNCH_MAX + 1, 1, &l, &err) < 0);
	l.forked = 0;
	CHECK(wlb_comm_cpu_world(&l, 1, &(struct wlb_comm *){NULL}, &err) < 0);
	CHECK_STR_HAS(err.msg, "--nproc");

	CHECK_EQ(ok(1, rank_basic), 0);
	CHECK_EQ(ok(2, rank_basic), 0);
	CHECK_EQ(ok(4, rank_basic), 0);
	CHECK_EQ(ok(6, rank_split), 0);
	CHECK_EQ(ok(2, rank_peer_dies), 0);
	CHECK_EQ(ok(2, rank_timeout), 0);
	no_zombies();

	CHECK(launch(3, 20, rank_exit3, &err) < 0);
	CHECK_STR_HAS(err.msg, "rank 1 failed (exit status 3); stopped ranks 0, 2");
	no_zombies();

	CHECK(launch(2, 20, rank_segv, &err) < 0);
	CHECK_STR_HAS(err.msg, "rank 0 killed by signal 11");
	CHECK_STR_HAS(err.msg, strsignal(SIGSEGV));
	CHECK_STR_HAS(err.msg, "stopped rank 1");
	no_zombies();

	t0 = now_s();
	CHECK(launch(2, 1, rank_hang, &err) < 0);
	CHECK(now_s() - t0 < 3);
	CHECK_STR_HAS(err.msg, "rank 1 still running after 1 s (a hang?); stopped it");
	no_zombies();
}
