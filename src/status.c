/* SPDX-License-Identifier: MIT */
/* Failure kinds: the error setter, exit codes and names. */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"
#include "pytrace/pytrace.h"

int pt_status_exit_code(int status)
{
	if (status < 0)
		status = -status;
	/* The codes are the statuses themselves: docs/pytrace.1 lists them. */
	return status >= PT_E_INTERNAL && status <= PT_E_EXITED ? status : PT_E_INTERNAL;
}

const char *pt_status_name(int status)
{
	static const char *const names[] = {
		[PT_OK] = "ok",
		[PT_E_INTERNAL] = "internal error",
		[PT_E_USAGE] = "usage error",
		[PT_E_NOPROC] = "no such process",
		[PT_E_PERM] = "permission denied",
		[PT_E_NOTPYTHON] = "not a Python process",
		[PT_E_VERSION] = "unsupported Python version",
		[PT_E_EXITED] = "process exited",
	};
	if (status < 0)
		status = -status;
	return status <= PT_E_EXITED ? names[status] : "unknown error";
}

int pt_error_set(struct pt_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->status = status;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -status;
}
