/* SPDX-License-Identifier: MIT */
/* Runs system calls inside a stopped thread of another process through a
 * stub that jumps back by itself, and prepares injected calls. */
#include "target/inject.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

/*
 * Safe by construction
 * --------------------
 * The old way (strace's, gdb's) single-steps a `syscall` instruction
 * found in libc with the thread's registers replaced. Should the tracer
 * die between two of its steps, the kernel detaches (exit_ptrace) but
 * leaves the trap flag set, and the thread runs on from inside libc with
 * foreign registers: it dies of SIGTRAP, or worse. Here the thread only
 * ever leaves a ptrace stop with registers that make it run to a good end
 * by itself:
 *
 *   stub:  syscall
 *          mov 0..112(%rsp) -> r15 r14 r13 r12 rbp rbx r11 r10 r9 r8
 *                              rax rcx rdx rsi rdi
 *          push 128(%rsp); popfq
 *          mov 136(%rsp), %rsp
 *          jmp *slot(%rip)            slot: the address to continue at
 *
 * The frame lies below the thread's red zone, where nothing of the
 * thread's lives. The stub is written into the padding after an
 * executable segment (bytes mapped executable that no code or data
 * uses), entered with PTRACE_SYSCALL: pytrace sees the system call's
 * entry and exit stops, takes the result from rax at the exit stop and
 * puts the registers back itself, then restores the padding. A tracer
 * that dies at any of those instants leaves a thread that either has its
 * own registers, or is on its way through the stub back to them
 * (exit_ptrace clears the syscall-tracing flag; no trap flag is ever set).
 *
 * One kernel detail makes PTRACE_O_TRACESYSGOOD necessary: a tracee whose
 * tracer dies while it sits in a system-call stop resumes with the stop's
 * exit code still in place, and ptrace_report_syscall() sends it that
 * code as a signal: SIGTRAP, which kills a process nobody traces. With
 * TRACESYSGOOD the code is SIGTRAP|0x80, not a valid signal, and nothing
 * is sent (strace relies on the same). Seen here: 1 death in 60 kills of
 * `flow -p` on 3.9 without it, none in thousands with it.
 */

/* Kernel-internal restart codes a stopped system call may show in rax. */
enum {
	KERNEL_ERESTARTSYS = 512,
	KERNEL_ERESTARTNOINTR = 513,
	KERNEL_ERESTARTNOHAND = 514,
	KERNEL_ERESTART_RESTARTBLOCK = 516,
	NR_restart_syscall = 219,
};

#define RED_ZONE 128
#define EFLAGS_TF 0x100ull
#define PAGE 4096ull

/* The stub above, assembled (as(1), then checked with objdump -d). */
static const uint8_t inject_stub[PT_INJECT_SITE_SIZE] = {
	0x0f, 0x05,                                     /* syscall */
	0x4c, 0x8b, 0x3c, 0x24,                         /* mov (%rsp),%r15 */
	0x4c, 0x8b, 0x74, 0x24, 0x08,                   /* mov 0x8(%rsp),%r14 */
	0x4c, 0x8b, 0x6c, 0x24, 0x10,                   /* mov 0x10(%rsp),%r13 */
	0x4c, 0x8b, 0x64, 0x24, 0x18,                   /* mov 0x18(%rsp),%r12 */
	0x48, 0x8b, 0x6c, 0x24, 0x20,                   /* mov 0x20(%rsp),%rbp */
	0x48, 0x8b, 0x5c, 0x24, 0x28,                   /* mov 0x28(%rsp),%rbx */
	0x4c, 0x8b, 0x5c, 0x24, 0x30,                   /* mov 0x30(%rsp),%r11 */
	0x4c, 0x8b, 0x54, 0x24, 0x38,                   /* mov 0x38(%rsp),%r10 */
	0x4c, 0x8b, 0x4c, 0x24, 0x40,                   /* mov 0x40(%rsp),%r9 */
	0x4c, 0x8b, 0x44, 0x24, 0x48,                   /* mov 0x48(%rsp),%r8 */
	0x48, 0x8b, 0x44, 0x24, 0x50,                   /* mov 0x50(%rsp),%rax */
	0x48, 0x8b, 0x4c, 0x24, 0x58,                   /* mov 0x58(%rsp),%rcx */
	0x48, 0x8b, 0x54, 0x24, 0x60,                   /* mov 0x60(%rsp),%rdx */
	0x48, 0x8b, 0x74, 0x24, 0x68,                   /* mov 0x68(%rsp),%rsi */
	0x48, 0x8b, 0x7c, 0x24, 0x70,                   /* mov 0x70(%rsp),%rdi */
	0xff, 0xb4, 0x24, 0x80, 0x00, 0x00, 0x00,       /* push 0x80(%rsp) */
	0x9d,                                           /* popf */
	0x48, 0x8b, 0xa4, 0x24, 0x88, 0x00, 0x00, 0x00, /* mov 0x88(%rsp),%rsp */
	0xff, 0x25, 0x06, 0x00, 0x00, 0x00,             /* jmp *0x6(%rip) */
	0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00,             /* nopw (to align the slot) */
	0, 0, 0, 0, 0, 0, 0, 0,                         /* slot: where to continue */
};
#define STUB_SLOT 0x68

/* What the stub restores, at its rsp. */
struct inject_frame {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi, unused, rflags, rsp;
};
_Static_assert(offsetof(struct inject_frame, rflags) == 128, "stub frame layout");
_Static_assert(offsetof(struct inject_frame, rsp) == 136, "stub frame layout");

static bool inject_is_libc(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;

	b = b ? b + 1 : path;
	return b && (!strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5) ||
		     !strncmp(b, "ld-musl", 7));
}

/* The padding after an executable segment of the ELF file mapped at m
 * (its offset-0 mapping), found from the headers in memory. */
static int inject_site_in(const struct pt_maps *maps, const struct pt_map *m,
			  struct pt_mem *mem, uint64_t *site)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	uint64_t bias = 0;
	bool have_bias = false;

	if (pt_mem_read(mem, m->start, &eh, sizeof(eh)) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64 ||
	    eh.e_phoff > m->end - m->start ||
	    eh.e_phnum * sizeof(Elf64_Phdr) > m->end - m->start - eh.e_phoff)
		return -ENOENT;
	if (pt_mem_read(mem, m->start + eh.e_phoff, ph, eh.e_phnum * sizeof(Elf64_Phdr)) < 0)
		return -ENOENT;
	for (size_t i = 0; i < eh.e_phnum && !have_bias; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
			bias = m->start - (ph[i].p_vaddr & ~(PAGE - 1));
			have_bias = true;
		}
	}
	if (!have_bias)
		return -ENOENT;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X) ||
		    ph[i].p_memsz > (1ull << 40) || ph[i].p_vaddr > (1ull << 47))
			continue;
		uint64_t end = bias + ph[i].p_vaddr + ph[i].p_memsz;
		end = (end + 15) & ~15ull;
		uint64_t page_end = (end + PAGE - 1) & ~(PAGE - 1);
		if (end < bias || page_end - end < PT_INJECT_SITE_SIZE)
			continue;
		/* Both ends in one executable mapping of this very file. */
		const struct pt_map *a = pt_maps_find(maps, end);
		const struct pt_map *b = pt_maps_find(maps, page_end - 1);
		if (!a || a != b || !a->x || !a->path || strcmp(a->path, m->path))
			continue;
		*site = end;
		return 0;
	}
	return -ENOENT;
}

int pt_inject_find_site(const struct pt_maps *maps, struct pt_mem *mem, uint64_t *site)
{
	/* libc first: it is never unloaded, so a stub left there by a dead
	 * pytrace stays valid for a thread still on its way through it. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < maps->n; i++) {
			const struct pt_map *m = &maps->v[i];
			if (m->offset != 0 || !m->path || m->path[0] != '/')
				continue;
			if ((pass == 0) != inject_is_libc(m->path))
				continue;
			if (inject_site_in(maps, m, mem, site) == 0)
				return 0;
		}
	}
	return -ENOENT;
}

long pt_inject_stopped_syscall(const struct user_regs_struct *regs)
{
	return (long)regs->orig_rax;
}

static void inject_cont_regs(const struct user_regs_struct *stopped,
			     struct user_regs_struct *cont, bool restart_block)
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
			if (restart_block) {
				cont->rax = NR_restart_syscall;
				cont->rip = stopped->rip - 2;
			} else {
				cont->rax = (uint64_t)-EINTR;
			}
			break;
		default:
			break;
		}
	}
	cont->orig_rax = (uint64_t)-1;
}

void pt_inject_continue_regs(const struct user_regs_struct *stopped,
			     struct user_regs_struct *cont)
{
	inject_cont_regs(stopped, cont, false);
}

/* Whether a stop is a system-call stop: SIGTRAP|0x80 with
 * PTRACE_O_TRACESYSGOOD, else a SIGTRAP whose siginfo the kernel's
 * ptrace_notify() made (si_code SIGTRAP, which kill(2) cannot send). */
static bool inject_is_syscall_stop(pid_t tid, int status)
{
	siginfo_t si;

	if ((status >> 16) != 0)
		return false;
	if (WSTOPSIG(status) == (SIGTRAP | 0x80))
		return true;
	if (WSTOPSIG(status) != SIGTRAP || ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) < 0)
		return false;
	return si.si_code == SIGTRAP;
}

int pt_inject_syscall(pid_t tid, struct pt_mem *mem, uint64_t site, unsigned options, long nr,
		      const uint64_t args[6], int64_t *ret, int *sig)
{
	struct user_regs_struct stopped, cont, r;
	struct inject_frame f;
	uint8_t orig[PT_INJECT_SITE_SIZE], stub[PT_INJECT_SITE_SIZE];
	int rc = 0, stops = 0;

	*sig = 0;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &stopped) < 0)
		return -errno;
	inject_cont_regs(&stopped, &cont, true);
	cont.eflags &= ~EFLAGS_TF;

	/* Frame and stub first: until the registers change below, a tracer
	 * that dies leaves the thread exactly as it was (these bytes are
	 * below its red zone and in unused padding). */
	uint64_t frame = (cont.rsp - RED_ZONE - sizeof(f) - 64) & ~15ull;
	f = (struct inject_frame){
		.r15 = cont.r15, .r14 = cont.r14, .r13 = cont.r13, .r12 = cont.r12,
		.rbp = cont.rbp, .rbx = cont.rbx, .r11 = cont.r11, .r10 = cont.r10,
		.r9 = cont.r9, .r8 = cont.r8, .rax = cont.rax, .rcx = cont.rcx,
		.rdx = cont.rdx, .rsi = cont.rsi, .rdi = cont.rdi, .rflags = cont.eflags,
		.rsp = cont.rsp,
	};
	memcpy(stub, inject_stub, sizeof(stub));
	memcpy(stub + STUB_SLOT, &cont.rip, 8);
	if (ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)(long)(options | PTRACE_O_TRACESYSGOOD)) < 0)
		return -errno;
	if ((rc = pt_mem_write(mem, frame, &f, sizeof(f))) < 0 ||
	    (rc = pt_mem_read(mem, site, orig, sizeof(orig))) < 0 ||
	    (rc = pt_mem_write(mem, site, stub, sizeof(stub))) < 0)
		goto restore_options;

	r = cont;
	r.rip = site;
	r.rsp = frame;
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
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r) < 0) {
		rc = -errno;
		goto restore_site;
	}

	for (;;) {
		int status;

		if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) < 0) {
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
		if (inject_is_syscall_stop(tid, status)) {
			if (ptrace(PTRACE_GETREGS, tid, NULL, &r) < 0) {
				rc = -errno;
				break;
			}
			if (r.rip != site + 2) {
				rc = -EIO;  /* went somewhere unexpected */
				break;
			}
			if (++stops == 2) {
				*ret = (int64_t)r.rax;
				break;
			}
			continue;
		}
		/* A signal arrived before the instruction ran: keep it for
		 * later, go on. A group-stop or interrupt stop: go on. */
		if ((status >> 16) == 0 && !*sig)
			*sig = WSTOPSIG(status);
	}
	/* Back where it was, by our hand rather than the stub's. */
	if (ptrace(PTRACE_SETREGS, tid, NULL, &cont) < 0 && rc == 0)
		rc = -errno;
restore_site:
	if (pt_mem_write(mem, site, orig, sizeof(orig)) < 0 && rc == 0)
		rc = -EFAULT;
restore_options:
	/* The stop we leave it in keeps SIGTRAP|0x80 as its code. */
	ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)(long)options);
	return rc;
}
