/* test.h — the unit tests' assertions.  Each tests/test_X.c defines
 * test_X(void) and lists it in tests/list.h; tests/main.c runs them and prints
 * "unit: N passed, M failed". */
#ifndef WLB_TEST_H
#define WLB_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

extern int t_pass, t_fail;
extern const char *t_name;

#define CHECK(c) do { if (c) t_pass++; else { t_fail++; \
	fprintf(stderr, "%s:%d: [%s] CHECK(%s) failed\n", __FILE__, __LINE__, t_name, #c); } } while (0)

#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ == b_) t_pass++; else { t_fail++; \
	fprintf(stderr, "%s:%d: [%s] %s == %s failed: %lld != %lld\n", \
		__FILE__, __LINE__, t_name, #a, #b, a_, b_); } } while (0)

/* |a - b| <= tol, tol absolute */
#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); \
	if (fabs(a_ - b_) <= (tol)) t_pass++; else { t_fail++; \
	fprintf(stderr, "%s:%d: [%s] %s ~ %s failed: %.10g vs %.10g (tol %g)\n", \
		__FILE__, __LINE__, t_name, #a, #b, a_, b_, (double)(tol)); } } while (0)

/* relative: |a - b| <= rel * |b| */
#define CHECK_REL(a, b, rel) CHECK_NEAR(a, b, fabs((double)(b)) * (rel))

#define CHECK_STR_HAS(s, sub) do { const char *s_ = (s); \
	if (s_ && strstr(s_, sub)) t_pass++; else { t_fail++; \
	fprintf(stderr, "%s:%d: [%s] \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, t_name, \
		s_ ? s_ : "(null)", sub); } } while (0)

#endif
