/* SPDX-License-Identifier: MIT */
/* Reads a target's seccomp filters and evaluates them with a classic-BPF
 * interpreter, so that pytrace never makes a sandboxed process run a
 * system call its own policy forbids. */
#include "error.h"
#include "target/seccomp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000u
#endif
#ifndef SECCOMP_RET_ACTION_FULL
#define SECCOMP_RET_ACTION_FULL 0xffff0000u
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000u
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000u
#endif

#define MAX_FILTERS 64   /* the kernel allows 32 K instructions in all */

int pt_seccomp_run(const struct sock_filter *prog, size_t len, const struct seccomp_data *d,
		   uint32_t *ret)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

	if (len == 0 || len > BPF_MAXINSNS)
		return -EINVAL;
	for (size_t pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &prog[pc];
		uint32_t k = f->k, src = BPF_SRC(f->code) == BPF_X ? x : k;
		size_t to;

		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
		case BPF_LDX: {
			uint32_t v;
			if (f->code == (BPF_LD | BPF_W | BPF_ABS)) {
				if (k >= sizeof(*d) || (k & 3))
					return -EINVAL;
				memcpy(&v, (const char *)d + k, 4);
			} else if (f->code == (BPF_LD | BPF_W | BPF_LEN) ||
				   f->code == (BPF_LDX | BPF_W | BPF_LEN)) {
				v = sizeof(*d);
			} else if (f->code == (BPF_LD | BPF_IMM) || f->code == (BPF_LDX | BPF_IMM)) {
				v = k;
			} else if (f->code == (BPF_LD | BPF_MEM) || f->code == (BPF_LDX | BPF_MEM)) {
				if (k >= BPF_MEMWORDS)
					return -EINVAL;
				v = mem[k];
			} else {
				return -EINVAL;  /* packet loads: not for seccomp */
			}
			if (BPF_CLASS(f->code) == BPF_LD)
				a = v;
			else
				x = v;
			break;
		}
		case BPF_ST:
		case BPF_STX:
			if (f->code != BPF_ST && f->code != BPF_STX)
				return -EINVAL;
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			mem[k] = BPF_CLASS(f->code) == BPF_ST ? a : x;
			break;
		case BPF_ALU:
			switch (BPF_OP(f->code)) {
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			case BPF_MUL: a *= src; break;
			case BPF_DIV:
			case BPF_MOD:
				if (src == 0) {
					*ret = 0;  /* the kernel's conversion: return 0 */
					return 0;
				}
				a = BPF_OP(f->code) == BPF_DIV ? a / src : a % src;
				break;
			case BPF_OR: a |= src; break;
			case BPF_AND: a &= src; break;
			case BPF_XOR: a ^= src; break;
			case BPF_LSH:
			case BPF_RSH:
				if (src >= 32)
					return -EINVAL;
				a = BPF_OP(f->code) == BPF_LSH ? a << src : a >> src;
				break;
			case BPF_NEG: a = -a; break;
			default: return -EINVAL;
			}
			break;
		case BPF_JMP:
			if (BPF_OP(f->code) == BPF_JA) {
				to = pc + 1 + (size_t)k;
			} else {
				bool taken;
				switch (BPF_OP(f->code)) {
				case BPF_JEQ: taken = a == src; break;
				case BPF_JGT: taken = a > src; break;
				case BPF_JGE: taken = a >= src; break;
				case BPF_JSET: taken = (a & src) != 0; break;
				default: return -EINVAL;
				}
				to = pc + 1 + (taken ? f->jt : f->jf);
			}
			if (to >= len || (BPF_OP(f->code) == BPF_JA && k >= len))
				return -EINVAL;
			pc = to - 1;  /* the loop's pc++ lands on it */
			break;
		case BPF_RET:
			if (BPF_RVAL(f->code) == BPF_K)
				*ret = k;
			else if (BPF_RVAL(f->code) == BPF_A)
				*ret = a;
			else
				return -EINVAL;
			return 0;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				x = a;
			else if (BPF_MISCOP(f->code) == BPF_TXA)
				a = x;
			else
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	return -EINVAL;  /* ran off the end: the kernel refuses such programs */
}

/* The kernel's order: lower (as a signed action) wins. */
static int32_t action_rank(uint32_t ret)
{
	return (int32_t)(ret & SECCOMP_RET_ACTION_FULL);
}

int pt_seccomp_action(const struct pt_seccomp *sc, const struct seccomp_data *d, uint32_t *action)
{
	uint32_t best = SECCOMP_RET_ALLOW;

	if (sc->mode == 1) {
		/* strict: read, write, exit, rt_sigreturn */
		bool ok = d->nr == 0 || d->nr == 1 || d->nr == 60 || d->nr == 15;
		*action = ok ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_PROCESS;
		return 0;
	}
	for (size_t i = 0; i < sc->n; i++) {
		uint32_t r;
		if (pt_seccomp_run(sc->progs[i], sc->lens[i], d, &r) < 0)
			return -EINVAL;
		if (action_rank(r) < action_rank(best))
			best = r;
	}
	*action = best;
	return 0;
}

int pt_seccomp_allows(uint32_t action)
{
	uint32_t a = action & SECCOMP_RET_ACTION_FULL;

	return a == SECCOMP_RET_ALLOW || a == SECCOMP_RET_LOG;
}

const char *pt_seccomp_action_name(uint32_t action, char *buf, size_t cap)
{
	switch (action & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS: return "kill the process";
	case SECCOMP_RET_KILL_THREAD: return "kill the thread";
	case SECCOMP_RET_TRAP: return "raise SIGSYS";
	case SECCOMP_RET_ERRNO:
		snprintf(buf, cap, "fail with errno %u", action & SECCOMP_RET_DATA);
		return buf;
	case SECCOMP_RET_USER_NOTIF: return "wait for a supervisor";
	case SECCOMP_RET_TRACE: return "stop for a seccomp tracer";
	case SECCOMP_RET_LOG: return "log";
	case SECCOMP_RET_ALLOW: return "allow";
	}
	snprintf(buf, cap, "act 0x%08x", action);
	return buf;
}

int pt_seccomp_thread_state(pid_t pid, pid_t tid, int *mode, int *filters)
{
	char path[64], line[256];
	FILE *f;

	*mode = -1;
	*filters = -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (!(f = fopen(path, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Seccomp:", 8))
			*mode = atoi(line + 8);
		else if (!strncmp(line, "Seccomp_filters:", 16))
			*filters = atoi(line + 16);
	}
	fclose(f);
	if (*mode < 0)
		*mode = 0;  /* a kernel without seccomp */
	return 0;
}

void pt_seccomp_free(struct pt_seccomp *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->progs[i]);
	free(sc->progs);
	free(sc->lens);
	memset(sc, 0, sizeof(*sc));
}

int pt_seccomp_read(pid_t pid, pid_t tid, struct pt_seccomp *sc, struct pt_error *err)
{
	int mode, filters;

	memset(sc, 0, sizeof(*sc));
	if (pt_seccomp_thread_state(pid, tid, &mode, &filters) < 0)
		return pt_error_set(err, PT_E_EXITED, "cannot read the status of thread %d", (int)tid);
	sc->mode = mode;
	if (mode != 2)
		return 0;
	sc->progs = calloc(MAX_FILTERS, sizeof(*sc->progs));
	sc->lens = calloc(MAX_FILTERS, sizeof(*sc->lens));
	if (!sc->progs || !sc->lens) {
		pt_seccomp_free(sc);
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	}
	for (unsigned long i = 0;; i++) {
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, NULL);
		if (n < 0 && errno == ENOENT && i > 0)
			break;
		if (n < 0) {
			int e = errno;
			pt_seccomp_free(sc);
			if (e == EACCES || e == EPERM)
				return pt_error_set(err, PT_E_PERM,
						    "process %d runs under a seccomp filter, which pytrace must "
						    "read to know which system calls it may make there; reading "
						    "it (PTRACE_SECCOMP_GET_FILTER) needs CAP_SYS_ADMIN",
						    (int)pid);
			return pt_error_set(err, PT_E_PERM,
					    "process %d runs under a seccomp filter that pytrace cannot "
					    "read (PTRACE_SECCOMP_GET_FILTER: %s)", (int)pid,
					    e == EMEDIUMTYPE ? "not a classic BPF filter" : strerror(e));
		}
		if (i >= MAX_FILTERS || n <= 0 || n > BPF_MAXINSNS) {
			pt_seccomp_free(sc);
			return pt_error_set(err, PT_E_PERM,
					    "process %d has more seccomp filters than pytrace can check",
					    (int)pid);
		}
		struct sock_filter *prog = calloc((size_t)n, sizeof(*prog));
		if (!prog) {
			pt_seccomp_free(sc);
			return pt_error_set(err, PT_E_INTERNAL, "out of memory");
		}
		long got = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, prog);
		if (got != n) {
			free(prog);
			pt_seccomp_free(sc);
			return pt_error_set(err, PT_E_INTERNAL,
					    "the seccomp filters of process %d changed while read", (int)pid);
		}
		sc->progs[sc->n] = prog;
		sc->lens[sc->n++] = (size_t)n;
	}
	return 0;
}
