/* SPDX-License-Identifier: MIT */
/* The one check helper every unit test uses: prints "ok - what" or
 * "not ok - what" (the format tools/run-unit counts) and counts failures. */
#ifndef PYTRACE_TESTS_UNIT_CHECK_H
#define PYTRACE_TESTS_UNIT_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int n_failed;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!ok)
		n_failed++;
}

#endif
