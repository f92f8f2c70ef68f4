/* SPDX-License-Identifier: MIT */
/* Runs system calls inside a stopped thread of another process
 * (the strace/gdb "inject" technique) and prepares injected calls. */
#include "target/inject.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

/* Kernel-internal restart codes a stopped system call may show in rax. */
enum {
	KERNEL_ERESTARTSYS = 512,
	KERNEL_ERESTARTNOINTR = 513,
	KERNEL_ERESTARTNOHAND = 514,
	KERNEL_ERESTART_RESTARTBLOCK = 516,
};

static bool inject_is_libc(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;

	b = b ? b + 1 : path;
	return b && (!strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5) ||
		     !strncmp(b, "ld-musl", 7));
}

static int inject_scan(const struct pt_map *m, struct pt_mem *mem, uint64_t *addr)
{
	uint8_t buf[4096];
	uint64_t end = m->end - m->start > (1u << 22) ? m->start + (1u << 22) : m->end;

	for (uint64_t at = m->start; at < end; at += sizeof(buf) - 1) {
		size_t n = end - at < sizeof(buf) ? (size_t)(end - at) : sizeof(buf);
		if (pt_mem_read(mem, at, buf, n) < 0)
			return -ENOENT;
		for (size_t i = 0; i + 1 < n; i++) {
			if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
				*addr = at + i;
				return 0;
			}
		}
	}
	return -ENOENT;
}

int pt_inject_find_syscall(const struct pt_maps *maps, struct pt_mem *mem, uint64_t *addr)
{
	/* libc's text certainly holds one; any executable file mapping will
	 * do otherwise (the bytes need not start an instruction there: the
	 * thread jumps straight to them). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < maps->n; i++) {
			const struct pt_map *m = &maps->v[i];
			if (!m->x || !m->path || m->path[0] != '/')
				continue;
			if ((pass == 0) != inject_is_libc(m->path))
				continue;
			if (inject_scan(m, mem, addr) == 0)
				return 0;
		}
	}
	return -ENOENT;
}

long pt_inject_stopped_syscall(const struct user_regs_struct *regs)
{
	return (long)regs->orig_rax;
}

int pt_inject_syscall(pid_t tid, uint64_t insn, long nr, const uint64_t args[6],
		      int64_t *ret, int *sig)
{
	struct user_regs_struct saved, r;
	int rc = 0;

	*sig = 0;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &saved) < 0)
		return -errno;
	r = saved;
	r.rip = insn;
	r.rax = (uint64_t)nr;
	r.rdi = args[0];
	r.rsi = args[1];
	r.rdx = args[2];
	r.r10 = args[3];
	r.r8 = args[4];
	r.r9 = args[5];
	/* Not in a system call any more: the kernel must not restart the
	 * interrupted one on our way out of the stop. */
	r.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r) < 0)
		return -errno;

	for (;;) {
		int status;

		if (ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL) < 0) {
			rc = -errno;
			break;
		}
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (!WIFSTOPPED(status))
			continue;
		if (ptrace(PTRACE_GETREGS, tid, NULL, &r) < 0) {
			rc = -errno;
			break;
		}
		/* Done once the instruction has executed. */
		if (r.rip == insn + 2 && WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) {
			*ret = (int64_t)r.rax;
			break;
		}
		/* A signal arrived before the instruction ran: keep it for
		 * later, step again. A group-stop or interrupt stop: step. */
		if ((status >> 16) == 0 && WSTOPSIG(status) != SIGTRAP && !*sig)
			*sig = WSTOPSIG(status);
		if (r.rip != insn) {
			rc = -EIO;  /* went somewhere unexpected */
			break;
		}
	}
	if (ptrace(PTRACE_SETREGS, tid, NULL, &saved) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

void pt_inject_continue_regs(const struct user_regs_struct *stopped,
			     struct user_regs_struct *cont)
{
	*cont = *stopped;
	if ((long)stopped->orig_rax >= 0) {
		switch (-(long)stopped->rax) {
		case KERNEL_ERESTARTSYS:
		case KERNEL_ERESTARTNOINTR:
		case KERNEL_ERESTARTNOHAND:
			/* What the kernel does when no handler runs: back up
			 * to the `syscall` instruction and issue it again. */
			cont->rax = stopped->orig_rax;
			cont->rip = stopped->rip - 2;
			break;
		case KERNEL_ERESTART_RESTARTBLOCK:
			cont->rax = (uint64_t)-EINTR;
			break;
		default:
			break;
		}
	}
	cont->orig_rax = (uint64_t)-1;
}
