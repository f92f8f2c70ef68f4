/* SPDX-License-Identifier: MIT */
/* A target's own seccomp filters: read them, and tell what they would do
 * with a system call pytrace is about to make it run. */
#ifndef PYTRACE_TARGET_SECCOMP_H
#define PYTRACE_TARGET_SECCOMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "pytrace/pytrace.h"

/*
 * Runs one classic-BPF seccomp program over d as the kernel would (the
 * instructions seccomp accepts; division by zero returns 0, as the
 * kernel's conversion does). 0 with *ret set, or -EINVAL for a program
 * the kernel would not have accepted (bad load offset, jump out of the
 * program, unknown instruction, no return). Pure.
 */
int pt_seccomp_run(const struct sock_filter *prog, size_t len, const struct seccomp_data *d,
		   uint32_t *ret);

/* Every filter of one thread, newest first. */
struct pt_seccomp {
	int mode;                     /* 0 none, 1 strict, 2 filter */
	size_t n;
	struct sock_filter **progs;
	size_t *lens;
};

/*
 * The seccomp state of thread tid of pid, which must be in a ptrace stop
 * of the calling thread: the mode from /proc, the filters through
 * PTRACE_SECCOMP_GET_FILTER (needs CAP_SYS_ADMIN). Errors (err set):
 * -PT_E_PERM when the filters cannot be read, -PT_E_INTERNAL.
 */
int pt_seccomp_read(pid_t pid, pid_t tid, struct pt_seccomp *sc, struct pt_error *err);
void pt_seccomp_free(struct pt_seccomp *sc);

/* What the kernel would do: the action of highest precedence over every
 * filter (SECCOMP_RET_ALLOW without filters; SECCOMP_RET_KILL_PROCESS in
 * strict mode for anything but read, write, exit, sigreturn). -EINVAL if
 * a filter cannot be evaluated. Pure. */
int pt_seccomp_action(const struct pt_seccomp *sc, const struct seccomp_data *d, uint32_t *action);

/* Whether an action lets the call run as if there were no filter. */
int pt_seccomp_allows(uint32_t action);

/* "kill the process", "fail with errno 1", ...: for messages. */
const char *pt_seccomp_action_name(uint32_t action, char *buf, size_t cap);

/* The "Seccomp:" mode and "Seccomp_filters:" count of one thread, from
 * /proc (filters -1 if the kernel does not say): 0 or -errno. */
int pt_seccomp_thread_state(pid_t pid, pid_t tid, int *mode, int *filters);

#endif
