/* SPDX-License-Identifier: MIT */
/* Benchmark helper: N one-byte writes to /dev/null from C, timed inside the
 * loop. Run bare, under an allow-everything seccomp filter (allow-all) and
 * under pytrace stacks -e rmdir, it gives the per-system-call cost of a
 * filter that never fires, in nanoseconds, free of Python's own noise.
 * usage: syscall-loop N    prints "NS_PER_CALL" */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec a, b;
	long n;
	int fd;

	if (argc != 2 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: syscall-loop N\n");
		return 2;
	}
	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		perror("syscall-loop: /dev/null");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		if (write(fd, "x", 1) != 1)
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.2f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n);
	return 0;
}
