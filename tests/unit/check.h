/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A minimal test harness for host-sim unit tests. Each test is a function
 * run by RUN_TEST; it prints "PASS name" or "FAIL name: why" (the first
 * failed check, with file and line). check_finish() prints a summary and
 * returns the process exit status: non-zero if any test failed.
 *
 *	static void test_foo(void) { CHECK(1 + 1 == 2); }
 *	int main(void) { RUN_TEST(test_foo); return check_finish(); }
 */
#ifndef VIRIDIAN_TESTS_CHECK_H
#define VIRIDIAN_TESTS_CHECK_H

#include <stdbool.h>
#include <stdio.h>

struct check_state {
	const char *test;
	bool failed;
	char why[512];
	unsigned int passed, failures;
};

static struct check_state check_state;

/* Record the first failure of the running test; later ones are implied. */
#define CHECKF(cond, ...)						\
	do {								\
		if (!(cond) && !check_state.failed) {			\
			int n_ = snprintf(check_state.why,		\
					  sizeof(check_state.why),	\
					  "%s:%d: ", __FILE__, __LINE__); \
			if (n_ > 0 && (size_t)n_ < sizeof(check_state.why)) \
				snprintf(check_state.why + n_,		\
					 sizeof(check_state.why) - (size_t)n_, \
					 __VA_ARGS__);			\
			check_state.failed = true;			\
		}							\
	} while (0)

#define CHECK(cond)	CHECKF(cond, "%s", #cond)

/* Stop the running test (after a failed check it cannot continue). */
#define REQUIRE(cond)							\
	do {								\
		CHECK(cond);						\
		if (check_state.failed)					\
			return;						\
	} while (0)

static inline void check_run(const char *name, void (*fn)(void))
{
	check_state.test = name;
	check_state.failed = false;
	check_state.why[0] = '\0';
	fn();
	if (check_state.failed) {
		printf("FAIL %s: %s\n", name, check_state.why);
		check_state.failures++;
	} else {
		printf("PASS %s\n", name);
		check_state.passed++;
	}
	fflush(stdout);
}

#define RUN_TEST(fn)	check_run(#fn, fn)

static inline int check_finish(void)
{
	printf("%u passed, %u failed\n", check_state.passed,
	       check_state.failures);
	return check_state.failures ? 1 : 0;
}

#endif /* VIRIDIAN_TESTS_CHECK_H */
