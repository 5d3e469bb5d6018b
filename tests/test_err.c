#include <string.h>

#include "err.h"
#include "test.h"

void test_err(void);
void test_err(void)
{
	struct wlb_error e;
	CHECK_EQ(wlb_error_set(&e, WLB_EINVAL, "tp must divide %d, got %d", 32, 3), WLB_EINVAL);
	CHECK(!strcmp(e.msg, "tp must divide 32, got 3"));
	wlb_error_prefix(&e, "%s:%d:%d", "t.json", 12, 5);
	CHECK(!strcmp(e.msg, "t.json:12:5: tp must divide 32, got 3"));
	CHECK_EQ(e.code, WLB_EINVAL);
	CHECK_EQ(wlb_error_set(NULL, WLB_EIO, "x"), WLB_EIO);
}
