#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

int wlb_error_set(struct wlb_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int wlb_error_prefix(struct wlb_error *err, const char *fmt, ...)
{
	char head[256];
	size_t hn, mn, cap = sizeof err->msg - 1;
	va_list ap;

	if (!err)
		return WLB_EINVAL;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head - 2, fmt, ap);
	va_end(ap);
	strcat(head, ": ");
	hn = strlen(head);
	mn = strlen(err->msg);
	if (hn + mn > cap)
		mn = cap - hn;
	memmove(err->msg + hn, err->msg, mn);
	memcpy(err->msg, head, hn);
	err->msg[hn + mn] = '\0';
	return err->code;
}

int wlb_fail(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void wlb_gsl_quiet(void)
{
	gsl_set_error_handler_off();
}
