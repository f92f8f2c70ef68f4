/* SPDX-License-Identifier: MIT */
/* Filling a struct pt_error: the one helper every library module uses. */
#ifndef PYTRACE_ERROR_H
#define PYTRACE_ERROR_H

#include "pytrace/pytrace.h"

/* Sets err (if non-NULL) to status and a formatted one-line message;
 * returns -status, so callers can write `return pt_error_set(...)`. */
int pt_error_set(struct pt_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
