/* SPDX-License-Identifier: MIT */
/* Starting a command as pytrace's traced child, ending it, and breakpoints in
 * it: the one launcher `stacks` and `flow` share. */
#ifndef PYTRACE_TARGET_LAUNCH_H
#define PYTRACE_TARGET_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>
#include <time.h>

#include "pytrace/pytrace.h"

struct sock_fprog;

struct pt_launch_opts {
	/* PTRACE_O_* to seize the child with; PTRACE_O_EXITKILL is always
	 * added (see "What pytrace's death does" in launch.c). */
	unsigned long ptrace_options;
	/* A seccomp filter the child installs once seized, before its exec,
	 * or NULL. */
	const struct sock_fprog *filter;
	/* argv[0] is looked up on PATH (execvp) rather than taken as a path. */
	bool search_path;
};

/* The command pytrace started. */
struct pt_launch {
	pid_t pid;
	int status;              /* wait status once reaped, else -1 */
	int exec_fd;             /* the child's report if it could not exec */
	char path[512];          /* the program, for messages */
	bool traced;             /* we are (still) its tracer */
	bool execed;             /* an exec event was seen */
	bool stepping;           /* resumed with PTRACE_SINGLESTEP */
	/* Ending, as strace ends the command it started: */
	volatile int *interrupted;      /* a signal number the caller's handler
	                                   stores (pt_launch_poll looks), or NULL */
	volatile int *from_terminal;    /* set by that handler when the terminal
	                                   sent it (the whole process group got it) */
	unsigned grace_ms;              /* how long the command may take to end */
	bool shutting_down;
	bool killed;             /* we SIGKILLed it (grace period over, or asked) */
	int signal;              /* the interrupting signal */
	struct timespec deadline;
};

/*
 * Forks and runs path with argv as our child: the child takes the default
 * action for SIGPIPE, SIGINT, SIGTERM, SIGHUP and SIGQUIT with no signal
 * blocked, asks to be SIGKILLed when pytrace dies (PR_SET_PDEATHSIG), stops
 * itself; we seize it (opts->ptrace_options | PTRACE_O_EXITKILL) and let it
 * go on to install opts->filter and exec. Returns once it is seized and
 * running (its first stops are the caller's to wait for); a failed exec
 * shows as the child exiting with 126 or 127 (pt_launch_exec_error says
 * why). The caller's interrupt fields start cleared. Errors: -PT_E_PERM
 * (ptrace not allowed here), -PT_E_INTERNAL.
 */
int pt_launch_spawn(const struct pt_launch_opts *opts, const char *path, char *const argv[],
		    struct pt_launch *l, struct pt_error *err);

/* After the child exited before its exec: fills err with why its exec (or
 * its seccomp filter) failed and returns -126 or -127 (ENOENT); 0 if it
 * reported nothing. */
int pt_launch_exec_error(struct pt_launch *l, struct pt_error *err);

/* Closes what pt_launch_spawn opened (not the command). */
void pt_launch_close(struct pt_launch *l);

/* What the traced child stopped for, after pt_launch_wait/resume. */
enum pt_launch_event {
	PT_LAUNCH_EXITED,        /* gone: l->status holds its wait status */
	PT_LAUNCH_EXEC,          /* it replaced its program (PTRACE_O_TRACEEXEC) */
	PT_LAUNCH_TRAP,          /* SIGTRAP: a breakpoint, a finished step, or
	                            someone's SIGTRAP (resume with it then) */
};

/*
 * Waits for the traced child's next stop that the caller handles (above).
 * Signals meant for it are delivered on the way, group stops kept
 * (PTRACE_LISTEN), and the caller's interrupt flag is acted on as in
 * pt_launch_poll (waitpid is interrupted if the handler has no SA_RESTART).
 */
enum pt_launch_event pt_launch_wait(struct pt_launch *l);

/* Resumes the stopped, traced child (PTRACE_CONT, or one PTRACE_SINGLESTEP
 * with step) with signal sig (0: none), then pt_launch_wait. */
enum pt_launch_event pt_launch_resume(struct pt_launch *l, bool step, int sig);

/* Lets the stopped child go untraced (PTRACE_DETACH). It still dies with
 * pytrace (PR_SET_PDEATHSIG). */
void pt_launch_detach(struct pt_launch *l);

/*
 * Starts the end of the command, as strace does: SIGCONT, and sig too
 * when forward is set (not when the terminal sent it to the whole process
 * group already); it then has grace_ms to exit before pt_launch_grace_over
 * says so. Called again, ends the grace period at once.
 */
void pt_launch_shutdown(struct pt_launch *l, int sig, bool forward, unsigned grace_ms);
bool pt_launch_grace_over(const struct pt_launch *l);

/* SIGKILL now (l->killed set). */
void pt_launch_kill(struct pt_launch *l);

/*
 * For a command no longer traced: acts on the caller's interrupt flag
 * (pt_launch_shutdown with l->grace_ms, forwarded unless from the
 * terminal), kills it once the grace period is over, and reaps it if it
 * has exited. Returns true while it runs.
 */
bool pt_launch_poll(struct pt_launch *l);

/* Waits until the untraced command has exited (pt_launch_poll's rules
 * meanwhile); l->status then holds its wait status. */
void pt_launch_wait_exit(struct pt_launch *l);

/*
 * Breakpoints: an int3 over the first byte of an instruction in a stopped
 * thread we trace. One at a time per address; the thread that hits it
 * stops with SIGTRAP one byte past it.
 */
struct pt_breakpoint {
	pid_t tid;
	uint64_t addr;
	uint64_t word;           /* the original 8 bytes at addr */
	bool set;
};

/* Plants bp at addr in tid (stopped): 0 or -errno. */
int pt_breakpoint_insert(struct pt_breakpoint *bp, pid_t tid, uint64_t addr);
/* Puts the original byte back (nothing if not set): 0 or -errno. */
int pt_breakpoint_remove(struct pt_breakpoint *bp);
/* Forgets bp without writing (its program image was replaced by an exec). */
void pt_breakpoint_forget(struct pt_breakpoint *bp);
/* After a PT_LAUNCH_TRAP: whether the thread hit bp. If so its rip is
 * moved back onto the instruction (in regs and in the thread). */
bool pt_breakpoint_hit(struct pt_breakpoint *bp, struct user_regs_struct *regs);
/* The thread sits on bp's instruction (after a hit): runs that instruction
 * with the original byte in place and plants bp again. Returns what the
 * step ended with (PT_LAUNCH_TRAP normally). */
enum pt_launch_event pt_breakpoint_step_over(struct pt_breakpoint *bp, struct pt_launch *l);

#endif
