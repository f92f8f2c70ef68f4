/* SPDX-License-Identifier: MIT */
/* Benchmark helper: runs a command under a seccomp filter that allows every
 * system call, no tracer. What it costs is the floor for any seccomp-based
 * tracer (pytrace stacks, strace --seccomp-bpf) on this machine.
 * usage: allow-all PROGRAM ARGS... */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { .len = 1, .filter = allow };

	if (argc < 2) {
		fprintf(stderr, "usage: allow-all PROGRAM ARGS...\n");
		return 2;
	}
	/* The same flags pytrace uses. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) < 0 &&
	    (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	     syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) < 0)) {
		perror("allow-all: seccomp");
		return 126;
	}
	execvp(argv[1], argv + 1);
	perror("allow-all: exec");
	return 127;
}
