/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the seccomp filter evaluator: arbitrary programs
 * over arbitrary seccomp_data; it must end (classic BPF only jumps
 * forward), never read outside the program or the data, and either
 * refuse the program or return. */
#include "target/seccomp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Input: a struct seccomp_data (64 bytes), then the program (8 bytes per
 * instruction), copied to a buffer of exactly its size. */
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct seccomp_data d;
	uint32_t ret;

	if (size < sizeof(d))
		return 0;
	memcpy(&d, in, sizeof(d));
	size_t n = (size - sizeof(d)) / sizeof(struct sock_filter);
	struct sock_filter *prog = malloc(n ? n * sizeof(*prog) : 1);
	if (!prog)
		return 0;
	memcpy(prog, in + sizeof(d), n * sizeof(*prog));
	int rc = pt_seccomp_run(prog, n, &d, &ret);
	if (rc != 0 && rc != -22 /* EINVAL */)
		abort();
	struct sock_filter *progs[2] = { prog, prog };
	size_t lens[2] = { n, n };
	struct pt_seccomp sc = { .mode = 2, .n = 2, .progs = progs, .lens = lens };
	uint32_t act;
	if (pt_seccomp_action(&sc, &d, &act) == 0 && rc == 0 && act != ret &&
	    (int32_t)(ret & 0xffff0000u) < (int32_t)SECCOMP_RET_ALLOW)
		abort();   /* the same filter twice: its own answer */
	free(prog);
	return 0;
}
