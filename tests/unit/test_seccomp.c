/* SPDX-License-Identifier: MIT */
/* Unit tests for the seccomp filter evaluator (src/target/seccomp.c):
 * programs as libseccomp and systemd write them, the kernel's action
 * precedence, and programs the kernel would refuse. */
#include "target/seccomp.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/audit.h>

#include "check.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NR offsetof(struct seccomp_data, nr)
#define ARCH offsetof(struct seccomp_data, arch)
#define ARG(i) (offsetof(struct seccomp_data, args) + 8 * (i))

static struct seccomp_data call(int nr, uint64_t a0, uint64_t a2)
{
	struct seccomp_data d = { .nr = nr, .arch = AUDIT_ARCH_X86_64, .instruction_pointer = 0x1000 };

	d.args[0] = a0;
	d.args[2] = a2;
	return d;
}

static uint32_t run(const struct sock_filter *p, size_t n, struct seccomp_data d, int *rc)
{
	uint32_t r = 0xdeadbeef;

	*rc = pt_seccomp_run(p, n, &d, &r);
	return r;
}

/* systemd SystemCallFilter=~memfd_create pipe2 style: arch check, then a
 * deny list that kills the process. */
static const struct sock_filter denylist[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 319, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 293, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* MemoryDenyWriteExecute=: mprotect/mmap with PROT_EXEC fail (JSET on an
 * argument's low word). */
static const struct sock_filter wx[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 10, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG(2)),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 4 /* PROT_EXEC */, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void test_programs(void)
{
	int rc;

	check(run(denylist, N(denylist), call(9, 0, 0), &rc) == SECCOMP_RET_ALLOW && rc == 0,
	      "deny list: mmap allowed");
	check(run(denylist, N(denylist), call(319, 0, 0), &rc) == SECCOMP_RET_KILL_PROCESS,
	      "deny list: memfd_create kills");
	check(run(denylist, N(denylist), call(293, 0, 0), &rc) == (SECCOMP_RET_ERRNO | EPERM),
	      "deny list: pipe2 fails with EPERM");
	struct seccomp_data i386 = call(9, 0, 0);
	i386.arch = AUDIT_ARCH_I386;
	check(run(denylist, N(denylist), i386, &rc) == SECCOMP_RET_KILL_PROCESS,
	      "deny list: another architecture kills");
	check(run(wx, N(wx), call(10, 0, 1 | 4), &rc) == (SECCOMP_RET_ERRNO | EPERM),
	      "W^X: mprotect(PROT_READ|PROT_EXEC) fails");
	check(run(wx, N(wx), call(10, 0, 1 | 2), &rc) == SECCOMP_RET_ALLOW,
	      "W^X: mprotect(PROT_READ|PROT_WRITE) allowed");

	/* arithmetic, scratch memory, X register, RET A */
	const struct sock_filter alu[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),          /* A = nr (5) */
		BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 3),          /* 15 */
		BPF_STMT(BPF_ST, 2),                             /* M[2] = 15 */
		BPF_STMT(BPF_LDX | BPF_IMM, 4),                  /* X = 4 */
		BPF_STMT(BPF_ALU | BPF_LSH | BPF_X, 0),          /* A = 240 */
		BPF_STMT(BPF_ALU | BPF_SUB | BPF_K, 40),         /* 200 */
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 8),          /* 25 */
		BPF_STMT(BPF_MISC | BPF_TAX, 0),                 /* X = 25 */
		BPF_STMT(BPF_LD | BPF_MEM, 2),                   /* A = 15 */
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),          /* 40 */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 40, 0, 1),
		BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	check(run(alu, N(alu), call(5, 0, 0), &rc) == (SECCOMP_RET_ERRNO | 40) && rc == 0,
	      "ALU, scratch memory, TAX, JGE, RET A: errno 40");
	const struct sock_filter div0[] = {
		BPF_STMT(BPF_LDX | BPF_IMM, 0),
		BPF_STMT(BPF_LD | BPF_IMM, 7),
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	check(run(div0, N(div0), call(0, 0, 0), &rc) == 0 && rc == 0,
	      "division by zero returns 0 (kill), as the kernel's conversion does");
	const struct sock_filter ja[] = {
		BPF_STMT(BPF_JMP | BPF_JA, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	check(run(ja, N(ja), call(0, 0, 0), &rc) == SECCOMP_RET_ALLOW, "JA skips");
	/* the high word of a 64-bit argument */
	const struct sock_filter hi[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG(0) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x7f00, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	check(run(hi, N(hi), call(0, 0x7f0000001000ull, 0), &rc) == SECCOMP_RET_TRAP,
	      "argument high word read at offset +4");
}

static void test_refused(void)
{
	int rc;
	const struct sock_filter past_end[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64),
						BPF_STMT(BPF_RET | BPF_K, 0) };
	run(past_end, N(past_end), call(0, 0, 0), &rc);
	check(rc == -EINVAL, "a load past struct seccomp_data refused");
	const struct sock_filter odd[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
					   BPF_STMT(BPF_RET | BPF_K, 0) };
	run(odd, N(odd), call(0, 0, 0), &rc);
	check(rc == -EINVAL, "an unaligned load refused");
	const struct sock_filter jump_out[] = { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 5),
						BPF_STMT(BPF_RET | BPF_K, 0) };
	run(jump_out, N(jump_out), call(0, 0, 0), &rc);
	check(rc == -EINVAL, "a jump out of the program refused");
	const struct sock_filter ja_out[] = { BPF_STMT(BPF_JMP | BPF_JA, 0xffffffffu),
					      BPF_STMT(BPF_RET | BPF_K, 0) };
	run(ja_out, N(ja_out), call(0, 0, 0), &rc);
	check(rc == -EINVAL, "JA of 2^32-1 refused");
	const struct sock_filter no_ret[] = { BPF_STMT(BPF_LD | BPF_IMM, 1) };
	run(no_ret, N(no_ret), call(0, 0, 0), &rc);
	check(rc == -EINVAL, "a program without a return refused");
	const struct sock_filter pkt[] = { BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
					   BPF_STMT(BPF_RET | BPF_K, 0) };
	run(pkt, N(pkt), call(0, 0, 0), &rc);
	check(rc == -EINVAL, "a byte (packet) load refused");
	const struct sock_filter mem[] = { BPF_STMT(BPF_LD | BPF_MEM, 16),
					   BPF_STMT(BPF_RET | BPF_K, 0) };
	run(mem, N(mem), call(0, 0, 0), &rc);
	check(rc == -EINVAL, "scratch memory index 16 refused");
	run(denylist, 0, call(0, 0, 0), &rc);
	check(rc == -EINVAL, "an empty program refused");
}

static void test_precedence(void)
{
	const struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	const struct sock_filter log[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG) };
	const struct sock_filter eperm[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1) };
	const struct sock_filter trace[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE) };
	const struct sock_filter killp[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS) };
	struct sock_filter *progs[4];
	size_t lens[4] = { 1, 1, 1, 1 };
	struct pt_seccomp sc = { .mode = 2, .progs = progs, .lens = lens };
	struct seccomp_data d = call(9, 0, 0);
	uint32_t act;

	progs[0] = (void *)allow, progs[1] = (void *)log;
	sc.n = 2;
	check(pt_seccomp_action(&sc, &d, &act) == 0 && act == SECCOMP_RET_LOG && pt_seccomp_allows(act),
	      "allow + log: log, which lets the call run");
	progs[2] = (void *)trace, progs[3] = (void *)eperm;
	sc.n = 4;
	check(pt_seccomp_action(&sc, &d, &act) == 0 && act == (SECCOMP_RET_ERRNO | 1) &&
	      !pt_seccomp_allows(act), "errno wins over trace, log, allow");
	progs[1] = (void *)killp;
	check(pt_seccomp_action(&sc, &d, &act) == 0 && act == SECCOMP_RET_KILL_PROCESS,
	      "kill-process wins over everything");
	sc.n = 0;
	check(pt_seccomp_action(&sc, &d, &act) == 0 && act == SECCOMP_RET_ALLOW, "no filter: allow");
	struct pt_seccomp strict = { .mode = 1 };
	check(pt_seccomp_action(&strict, &d, &act) == 0 && act == SECCOMP_RET_KILL_PROCESS,
	      "strict mode: mmap kills");
	d.nr = 1;
	check(pt_seccomp_action(&strict, &d, &act) == 0 && act == SECCOMP_RET_ALLOW,
	      "strict mode: write allowed");
	char buf[48];
	check(!strcmp(pt_seccomp_action_name(SECCOMP_RET_ERRNO | 13, buf, sizeof(buf)),
		      "fail with errno 13"), "action names");
}

int main(void)
{
	test_programs();
	test_refused();
	test_precedence();
	return n_failed != 0;
}
