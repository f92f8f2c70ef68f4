/* SPDX-License-Identifier: MIT */
/* Unit test of the rule deciding whether a symbol names a pc (pt_unwind_symbol_contains). */
#include <stdio.h>

#include "native/unwind.h"

static int failures;

static void check(bool got, bool want, const char *what)
{
	printf("%s - %s\n", got == want ? "ok" : "not ok", what);
	failures += got != want;
}

int main(void)
{
	/* A sized symbol: [0x1000, 0x1040). */
	check(pt_unwind_symbol_contains(0x1000, 0x40, 0x1000), true, "sized: first byte");
	check(pt_unwind_symbol_contains(0x1000, 0x40, 0x103f), true, "sized: last byte");
	check(pt_unwind_symbol_contains(0x1000, 0x40, 0x1040), false, "sized: one past the end");
	check(pt_unwind_symbol_contains(0x1000, 0x40, 0x5000), false,
	      "sized: far beyond (nearest exported symbol on a stripped binary)");
	check(pt_unwind_symbol_contains(0x1000, 0x40, 0x0fff), false, "sized: just below");

	/* A size-0 label (glibc's __restore_rt, hand-written asm). */
	check(pt_unwind_symbol_contains(0x2000, 0, 0x2000), true, "sizeless: its own address");
	check(pt_unwind_symbol_contains(0x2000, 0, 0x2001), false, "sizeless: the byte after");
	check(pt_unwind_symbol_contains(0x2000, 0, 0x1fff), false, "sizeless: the byte before");

	/* Arithmetic at the top of the address space must not wrap. */
	check(pt_unwind_symbol_contains(UINT64_MAX - 0x10, 0x20, UINT64_MAX), true,
	      "sized: range past UINT64_MAX still contains the last address");
	check(pt_unwind_symbol_contains(UINT64_MAX - 0x10, 0x20, 0x5), false,
	      "sized: range past UINT64_MAX does not wrap to low addresses");
	check(pt_unwind_symbol_contains(0x1000, UINT64_MAX, 0x0), false,
	      "sized: huge size does not reach below start");

	return failures != 0;
}
