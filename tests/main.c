/* main.c — runs the unit tests listed in list.h (all, or those named),
 * leaving out those named in $WLB_SKIP (space or comma separated: make
 * valgrind's slow ones). */
#include <stdio.h>
#include <stdlib.h>
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

/* name is a word of the list (words separated by spaces or commas) */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p; p += strcspn(p, " ,")) {
		p += strspn(p, " ,");
		if (strcspn(p, " ,") == n && !strncmp(p, name, n))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *skip = getenv("WLB_SKIP");

	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		int want = argc < 2;
		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], tests[i].name);
		if (!want)
			continue;
		if (listed(skip, tests[i].name)) {
			fprintf(stderr, "  %-10s skipped (WLB_SKIP)\n", tests[i].name);
			continue;
		}
		t_name = tests[i].name;
		int f0 = t_fail;
		tests[i].fn();
		fprintf(stderr, "  %-10s %s\n", tests[i].name, t_fail == f0 ? "ok" : "FAILED");
	}
	printf("unit: %d passed, %d failed\n", t_pass, t_fail);
	return t_fail != 0;
}
