/* SPDX-License-Identifier: MIT */
/* The ptrace event backend of `pytrace stacks`: starts a command under a
 * seccomp filter or attaches to a running process, follows its threads and
 * children, and reports the chosen system calls as events, each while its
 * thread is held stopped so the caller can read the stack there. */
#ifndef PYTRACE_TARGET_TRACER_H
#define PYTRACE_TARGET_TRACER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pytrace/pytrace.h"
#include "syscalls/syscalls.h"

enum pt_tev_kind {
	/* A chosen system call, at its entry. The thread stays stopped until
	 * the next pt_tracer_next_event call: read its stack now. */
	PT_TEV_SYSCALL_ENTRY,
	/* The same call returning (thread stopped likewise). A call that never
	 * returns (exit_group, the thread killed) ends in PT_TEV_THREAD_EXIT
	 * with in_syscall set instead. */
	PT_TEV_SYSCALL_EXIT,
	/* The process replaced its program: forget what was read from it. */
	PT_TEV_EXEC,
	/* The process mapped executable code (mmap with PROT_EXEC succeeded):
	 * module lists are stale. */
	PT_TEV_MAPS,
	/* A thread is gone; thread_user holds the caller's data to free. */
	PT_TEV_THREAD_EXIT,
	/* A process is gone (after all its threads); proc_user likewise. */
	PT_TEV_PROCESS_EXIT,
	/* The caller's interrupt flag was set: call pt_tracer_shutdown. */
	PT_TEV_INTERRUPTED,
	/* The caller's tick flag was set (a timer): nothing happened, but the
	 * caller may look at calls still under way. */
	PT_TEV_TICK,
	/* Nothing is traced any more. */
	PT_TEV_END,
	/* The backend failed (err holds the reason); call pt_tracer_free. */
	PT_TEV_ERROR,
};

struct pt_tev {
	enum pt_tev_kind kind;
	pid_t pid, tid;
	long nr;                 /* SYSCALL_*: the system call */
	uint64_t args[6];        /* SYSCALL_*: its argument registers */
	int64_t ret;             /* SYSCALL_EXIT: rax */
	struct timespec when;    /* SYSCALL_ENTRY: CLOCK_REALTIME at entry;
	                            SYSCALL_EXIT: at the exit stop */
	bool launcher;           /* SYSCALL_*: made by pytrace's own child before
	                            it executed the command (the execve itself) */
	bool in_syscall;         /* THREAD_EXIT: died inside a reported call */
	int status;              /* *_EXIT: wait status, or -1 if not seen */
	bool launched;           /* PROCESS_EXIT: the command pytrace started */
	int signal;              /* INTERRUPTED: the signal */
	/* Slots the caller may fill: per thread (SYSCALL_*) and per process
	 * (SYSCALL_*, EXEC, MAPS). The exit events hand the value back. */
	void **thread_user, **proc_user;
	void *user;              /* THREAD_EXIT / PROCESS_EXIT: the slot's value */
	struct pt_error err;     /* ERROR */
};

struct pt_tracer_opts {
	struct pt_syscall_set select;
	/* Launch mode: stop at every system call (PTRACE_SYSCALL) instead of
	 * installing a seccomp filter. For comparisons and old kernels. */
	bool no_seccomp;
	/* Set by the caller's signal handler; checked between events. The
	 * handler must be installed without SA_RESTART. */
	volatile sig_atomic_t *interrupted;
	/* Likewise, set by a timer's handler (no SA_RESTART): reported as
	 * PT_TEV_TICK, then cleared. NULL: no ticks. */
	volatile sig_atomic_t *tick;
	/* Follow child processes (fork, vfork; -f). Threads are always
	 * followed, and so is an exec. Without it, children are not traced
	 * (attach mode, no filter) or, in launch mode under the seccomp
	 * filter they inherit, traced silently: no event of theirs is
	 * reported, their chosen calls simply run. */
	bool follow_forks;
};

struct pt_tracer;

/* Starts path with argv (argv[0] as given) under the tracer, as pytrace's
 * child (target/launch.h: it dies with pytrace). The child stops itself, is
 * seized, installs the seccomp filter and executes path. A failure to
 * execute shows as the child exiting with 126 or 127; pt_tracer_exec_error
 * then says why. Errors: -PT_E_PERM, -PT_E_INTERNAL. */
int pt_tracer_launch(const struct pt_tracer_opts *opts, const char *path, char *const argv[],
		     struct pt_tracer **out, struct pt_error *err);

/* Seizes every thread of pid and steps it from system call to system call.
 * Nothing is left attached on failure. Errors: -PT_E_NOPROC, -PT_E_PERM,
 * -PT_E_EXITED, -PT_E_USAGE (our own process), -PT_E_INTERNAL. */
int pt_tracer_attach(const struct pt_tracer_opts *opts, pid_t pid, struct pt_tracer **out,
		     struct pt_error *err);

/* Resumes the thread of the previous event, then waits for the next one.
 * The returned event is valid until the next call. */
const struct pt_tev *pt_tracer_next_event(struct pt_tracer *tr);

/* Winds tracing down after an interrupt (sig: the signal pytrace got).
 * Attach mode: every thread is detached now and runs on. Launch mode, as
 * strace does: the command gets SIGCONT, and sig too when forward is set
 * (not when the terminal already sent it to the whole process group), and
 * tracing continues for up to grace_ms so it can exit with its filter
 * still served. What is left then is killed (SIGKILL): the command is
 * pytrace's child and does not outlive it (and its filter would fail the
 * chosen calls with ENOSYS once we are gone). Calling it again ends the
 * grace period. Keep calling pt_tracer_next_event until PT_TEV_END. */
void pt_tracer_shutdown(struct pt_tracer *tr, int sig, bool forward, unsigned grace_ms);

/* The launched command's wait status, or -1 (not launched, or it had not
 * exited when we detached). */
int pt_tracer_launched_status(const struct pt_tracer *tr);
/* After the launched command exited with 126 or 127 before its exec: why
 * (err filled, -126 or -127), or 0. */
int pt_tracer_exec_error(struct pt_tracer *tr, struct pt_error *err);
pid_t pt_tracer_launched_pid(const struct pt_tracer *tr);
bool pt_tracer_uses_seccomp(const struct pt_tracer *tr);
/* Whether the grace period after an interrupt ran out and the launched
 * processes (which carry the filter) were killed. */
bool pt_tracer_killed_launched(const struct pt_tracer *tr);
/* Threads traced right now. */
size_t pt_tracer_nthreads(const struct pt_tracer *tr);

/* Detaches from whatever is still traced and frees everything. */
void pt_tracer_free(struct pt_tracer *tr);

#endif
