/* SPDX-License-Identifier: MIT */
/* Running code in a thread of another process that is held in a ptrace
 * stop: single system calls, and the registers for injected calls. */
#ifndef PYTRACE_TARGET_INJECT_H
#define PYTRACE_TARGET_INJECT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "mem/maps.h"
#include "mem/mem.h"

/* The address of the two bytes of a `syscall` instruction in an
 * executable mapping of the process (libc first): 0 or -ENOENT. */
int pt_inject_find_syscall(const struct pt_maps *maps, struct pt_mem *mem, uint64_t *addr);

/*
 * Executes one system call in tid, which must be in a ptrace stop, by
 * single-stepping the `syscall` instruction at insn with the arguments in
 * place, then puts every register back. The caller must be the thread
 * that attached. *ret is the kernel's result (-errno on failure). A signal
 * that arrives meanwhile is not delivered: it is returned in *sig (0 if
 * none) for the caller to deliver when it lets the thread go.
 * Returns 0, or -errno if the thread could not be run (-ESRCH: it died).
 */
int pt_inject_syscall(pid_t tid, uint64_t insn, long nr, const uint64_t args[6],
		      int64_t *ret, int *sig);

/*
 * The registers a stopped thread must resume with when it is first sent
 * through other code (an injected call) that ends by jumping back: a
 * system call the stop interrupted is restarted the way the kernel would
 * have restarted it (or, for ERESTART_RESTARTBLOCK, which depends on
 * kernel state an injected call may change, fails with EINTR, which
 * callers retry), and orig_rax is -1 so that the kernel restarts nothing
 * itself when the thread leaves the stop with changed registers.
 */
void pt_inject_continue_regs(const struct user_regs_struct *stopped,
			     struct user_regs_struct *cont);

/* Whether a stopped thread sits in a system call (blocking, most likely),
 * and which one: its number, or -1. */
long pt_inject_stopped_syscall(const struct user_regs_struct *regs);

#endif
