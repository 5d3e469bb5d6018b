/* stop.c — the SIGINT / SIGTERM flag the long loops poll (stop.h). */
#include "stop.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void wlb_stop_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* restart interrupted reads and writes: the loops notice the flag; a
	 * second signal finds the default action and ends the process */
	sa.sa_flags = SA_RESTART | SA_RESETHAND;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int wlb_stop_requested(void)
{
	return stop_flag != 0;
}

int wlb_stop_check(struct wlb_error *err)
{
	return stop_flag ? wlb_error_set(err, WLB_EINTR, "interrupted; nothing written") : 0;
}

void wlb_stop_clear(void)
{
	stop_flag = 0;
}

void wlb_stop_request(void)
{
	stop_flag = 1;
}
