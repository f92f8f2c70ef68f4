/* SPDX-License-Identifier: MIT */
/* pytrace flow: every Python call and return of a live CPython process,
 * from an agent loaded into it (src/agent/) through a shared ring. */
#ifndef PYTRACE_FLOW_FLOW_H
#define PYTRACE_FLOW_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pytrace/pytrace.h"

/* Failures particular to flow, in struct pt_error.status next to enum
 * pt_status; the CLI uses them as exit codes. */
enum {
	PT_FLOW_E_NOCODE = 8,  /* the hook could not be installed: the target
	                          runs no Python code (or is not initialised) */
	PT_FLOW_E_BUSY = 9,    /* the target already has a profile hook */
	PT_FLOW_E_SANDBOX = 10, /* the target's own seccomp policy forbids a
	                          system call pytrace would make it run */
};

struct flow_sink;
struct flow_progress;

struct flow_options {
	pid_t pid;                   /* attach to this process, or */
	char *const *argv;           /* start this program (NULL-terminated) */
	const char *within_file;     /* --within FILE: part, or NULL */
	const char *within_func;     /* --within function, or NULL */
	const char *const *files;    /* --file substrings */
	size_t n_files;
	const char *const *funcs;    /* --function names */
	size_t n_funcs;
	bool flat, timestamps, durations, c_calls, json;
	bool show_tid;               /* the thread column from the first line */
	bool filter_in_target;       /* the agent applies the filters too, so
	                                events no line shows are not recorded */
	/* Set when a function --function (per name) or --within names is
	 * first described, so the CLI can warn about names that never ran.
	 * NULL: not wanted. */
	bool *funcs_seen;
	bool *within_seen;
	int out_fd;                  /* where lines go */
	unsigned install_timeout_ms; /* how long to wait for the hook */
	size_t ring_bytes;           /* size of the shared ring */
	/* called once the hook is installed, before the first line */
	void (*on_installed)(pid_t pid, const struct pt_python_info *py);
	/* Launch mode: *stop holds the signal pytrace got; it is passed on to
	 * the program (unless *from_terminal: the terminal sent it to the
	 * whole process group), which then has grace_ms to exit before it is
	 * killed. */
	volatile int *from_terminal;
	unsigned grace_ms;
	/* Aggregating (--count, --latency, --profile, --trace-events): the
	 * events go to sink (src/flow/events.h) instead of lines; out_fd is
	 * not written. NULL: lines. */
	const struct flow_sink *sink;
	/* Called from the consume loop about every tick_ms once the hook is
	 * in (the status line, --interval); NULL: never. */
	void (*on_tick)(void *arg, const struct flow_progress *p);
	void *tick_arg;
	unsigned tick_ms;
};

struct flow_progress {
	uint64_t events;             /* decoded so far */
	uint64_t dropped;            /* the agent's count so far */
	uint64_t elapsed_ms;         /* since the hook was installed */
};

struct flow_stats {
	uint64_t events;             /* calls and returns read */
	uint64_t lines;              /* lines written */
	uint64_t dropped;            /* events the agent could not record */
	uint64_t stalls;             /* times the target waited for room */
	uint64_t skipped;            /* events the agent's filters left out */
	bool filtered_in_target;     /* the agent had the filters */
	uint32_t untraced_children;  /* fork children that ran Python untraced */
	uint32_t interpreters;       /* 3.12+: the most interpreters seen (at the
	                                install and at the end); only one traced */
	bool target_exited;
	bool target_killed;          /* launched: pytrace SIGKILLed it (grace
	                                period over, or the output failed) */
	bool target_execed;          /* replaced its program: tracing ended */
	int target_status;           /* wait status, when target_exited */
	bool output_failed;          /* a write failed (EPIPE: reader gone) */
	int output_error;            /* its errno: EPIPE, EINTR (the output
	                                blocked when asked to stop), ENOSPC.. */
};

/* Runs a whole session: attach or launch, install, print until interrupted
 * (*stop becomes nonzero) or the target exits, detach. A launched program
 * is pytrace's child: interrupts are passed on to it, and the session ends
 * when it has exited (stats->target_status). Returns 0 or a negative status
 * (enum pt_status or PT_FLOW_E_*) with err filled. */
int pt_flow_run(const struct flow_options *opt, volatile int *stop,
		struct flow_stats *stats, struct pt_error *err);

#endif
