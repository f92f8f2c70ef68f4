/* SPDX-License-Identifier: MIT */
/* Stopping and resuming every thread of a process with ptrace. */
#ifndef PYTRACE_TARGET_PTRACE_H
#define PYTRACE_TARGET_PTRACE_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>

#include "pytrace/pytrace.h"

struct pt_stopset {
	pid_t pid;
	size_t n;
	pid_t *tids;      /* every thread now in a ptrace stop, in /proc order */
	int *sigs;        /* parallel to tids: signal the thread was about to
	                     receive when it stopped (0: none); re-injected by
	                     pt_ptrace_resume_all so the target loses nothing */
};

/* PTRACE_SEIZE + PTRACE_INTERRUPT on every thread of pid, repeated until no
 * new thread appears, then waits for each stop. Threads that exit meanwhile
 * are dropped. On failure nothing is left stopped or attached.
 * Every call on the set (get_regs, resume_all) must come from the thread
 * that called this: ptrace tracers are threads, not processes.
 * Errors: -PT_E_NOPROC, -PT_E_PERM (message says why: other user, missing
 * CAP_SYS_PTRACE, Yama ptrace_scope, already traced), -PT_E_EXITED,
 * -PT_E_USAGE (pid is our own process), -PT_E_INTERNAL. */
int pt_ptrace_stop_all(pid_t pid, struct pt_stopset *set, struct pt_error *err);

/* Detaches from every thread in the set and frees it; threads run on. */
void pt_ptrace_resume_all(struct pt_stopset *set);

/* Registers of a stopped thread: 0 or -errno. */
int pt_ptrace_get_regs(pid_t tid, struct user_regs_struct *regs);

/* Fills err with the permission message for pid (used by every command). */
void pt_ptrace_explain_eperm(pid_t pid, struct pt_error *err);

#endif
