/* launch.h — start the ranks of a run on this machine (wlb-run --nproc N):
 * one process per rank, forked from the command; or, under mpirun / srun,
 * take the rank from the environment as nccl-tests does.
 *
 * The parent forks the ranks after making a Unix socket pair between every
 * two of them (the CPU transport, comm_cpu.c), then only watches: when a
 * rank exits non-zero or is killed it stops the others (SIGTERM, then
 * SIGKILL after a grace period) and says which rank failed and how; after
 * the timeout it stops every rank still running and names them.  Ranks die
 * with the parent (PR_SET_PDEATHSIG), so nothing is left behind. */
#ifndef WLB_LAUNCH_H
#define WLB_LAUNCH_H

#include "err.h"

#define WLB_LAUNCH_MAX 64

struct wlb_launch {
	int rank, size;          /* this process; size ranks in all */
	int local_rank;          /* on this node (picks the GPU) */
	int forked;              /* 1 when started by wlb_launch_fork */
	int fd[WLB_LAUNCH_MAX];  /* forked: socket to rank i (-1 for itself) */
};

/* Forks nproc ranks (1 <= nproc <= WLB_LAUNCH_MAX).  In a rank it returns 1
 * with l filled: the caller runs the rank and _exit()s with its status.  In
 * the parent it returns 0 once every rank has finished, all with status 0,
 * or a negative wlb_err with err naming the failed or hung rank (ranks print
 * their own error lines).  timeout_s <= 0: no timeout. */
int wlb_launch_fork(int nproc, double timeout_s, struct wlb_launch *l, struct wlb_error *err);

/* Under mpirun (OMPI_COMM_WORLD_*), Slurm (SLURM_PROCID, SLURM_NTASKS,
 * SLURM_LOCALID) or PMI (PMI_RANK, PMI_SIZE): fills l (no sockets) and
 * returns 1; 0 when none of them set a rank. */
int wlb_launch_from_env(struct wlb_launch *l);

#endif
