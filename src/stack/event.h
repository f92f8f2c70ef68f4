/* SPDX-License-Identifier: MIT */
/* One traced system call with the stack read at its entry: what the
 * stacks command hands to the output layer. */
#ifndef PYTRACE_STACK_EVENT_H
#define PYTRACE_STACK_EVENT_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "pytrace/pytrace.h"
#include "syscalls/syscalls.h"

struct pt_syscall_event {
	struct timespec when;            /* CLOCK_REALTIME at entry */
	pid_t pid, tid;
	const struct pt_syscall *sc;     /* the call, decoded, and its return */
	const struct pt_thread *thread;  /* the stack at entry, or NULL */
	const char *no_stack;            /* why thread is NULL */
	bool native;                     /* show the merged native + Python stack */
	bool python;                     /* the process runs CPython */
	/* What this record is: the whole call (printed once it returned), the
	 * start of a call still under way (strace's "<unfinished ...>", with
	 * the stack), or the return of one shown so (its "<... resumed>"). */
	enum { PT_EV_CALL, PT_EV_UNFINISHED, PT_EV_RESUMED } phase;
	bool show_time;                  /* -T: print the duration */
	int64_t duration_ns;             /* entry to return; -1 unknown */
};

#endif
