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

/* Bytes of padding an injection site needs (the stub, see inject.c). */
#define PT_INJECT_SITE_SIZE 112

/*
 * Where injected system calls run: the address of PT_INJECT_SITE_SIZE
 * bytes that no code or data of the process uses, inside an executable
 * mapping: the padding between the end of an executable PT_LOAD segment
 * of a mapped ELF file (libc first) and the end of its last page, found
 * from the ELF headers in the process's own memory. 0 or -ENOENT.
 */
int pt_inject_find_site(const struct pt_maps *maps, struct pt_mem *mem, uint64_t *site);

/*
 * Executes one system call in tid, which must be in a ptrace stop, from
 * the thread that attached; options are the ptrace options the tracer
 * set on it (put back afterwards, PTRACE_O_TRACESYSGOOD added meanwhile:
 * a tracee left in a system-call stop by a dying tracer would otherwise
 * send itself SIGTRAP, see inject.c). Safe by construction: the thread runs a stub
 * written at site ("syscall; restore every register from a frame below
 * the stack's red zone; jump back") entered with PTRACE_SYSCALL, so no
 * trap flag and no breakpoint are ever set. pytrace takes the result at
 * the syscall-exit stop and puts the thread back itself; if pytrace dies
 * at any instant, the kernel detaches and the thread finishes the stub
 * and continues where it was. The site's bytes are restored afterwards.
 *
 * *ret is the kernel's result (-errno on failure). A signal that arrives
 * meanwhile is not delivered: it is returned in *sig (0 if none) for the
 * caller to deliver when it lets the thread go (a later one of the same
 * call is dropped only if two arrive; the kernel merges those anyway).
 * A system call the stop interrupted is restarted as the kernel would
 * have (pt_inject_continue_regs, but ERESTART_RESTARTBLOCK through
 * restart_syscall, whose state these calls never touch).
 * Returns 0, or -errno if the thread could not be run (-ESRCH: it died).
 */
int pt_inject_syscall(pid_t tid, struct pt_mem *mem, uint64_t site, unsigned options, long nr,
		      const uint64_t args[6], int64_t *ret, int *sig);

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
