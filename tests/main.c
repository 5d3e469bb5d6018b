/* main.c — runs the unit tests listed in list.h (all, or those named). */
#include <stdio.h>
#include <string.h>

#include "test.h"

int t_pass, t_fail;
const char *t_name;

#define T(x) void test_##x(void);
#include "list.h"
#undef T

static const struct { const char *name; void (*fn)(void); } tests[] = {
#define T(x) {#x, test_##x},
#include "list.h"
#undef T
};

int main(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		int want = argc < 2;
		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], tests[i].name);
		if (!want)
			continue;
		t_name = tests[i].name;
		int f0 = t_fail;
		tests[i].fn();
		fprintf(stderr, "  %-10s %s\n", tests[i].name, t_fail == f0 ? "ok" : "FAILED");
	}
	printf("unit: %d passed, %d failed\n", t_pass, t_fail);
	return t_fail != 0;
}
