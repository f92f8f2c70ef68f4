/* SPDX-License-Identifier: MIT */
/* Shared by the libFuzzer harnesses: a CPython layout picked by one input
 * byte, over a memory image the fuzzer writes. */
#ifndef PYTRACE_TESTS_FUZZ_H
#define PYTRACE_TESTS_FUZZ_H

#include <stdint.h>
#include <string.h>

#include "python/python.h"

/* Where the image is seen, and the type objects' addresses (outside it:
 * the fuzzer learns them from the comparisons). */
#define FUZZ_BASE 0x10000ull
#define FUZZ_CODE_TYPE 0x7f0000001000ull
#define FUZZ_STR_TYPE 0x7f0000002000ull
#define FUZZ_BYTES_TYPE 0x7f0000003000ull

static const struct pyv_offsets *const fuzz_tables[] = {
	&pyv_offsets_27, &pyv_offsets_36, &pyv_offsets_37, &pyv_offsets_38, &pyv_offsets_39,
	&pyv_offsets_310, &pyv_offsets_311, &pyv_offsets_312, &pyv_offsets_313,
};
#define FUZZ_N_TABLES (sizeof(fuzz_tables) / sizeof(fuzz_tables[0]))

/* A pt_python for the table chosen by sel, without debug offsets. */
static inline void fuzz_python(struct pt_python *py, unsigned sel)
{
	const struct pyv_offsets *t = fuzz_tables[sel % FUZZ_N_TABLES];
	memset(py, 0, sizeof(*py));
	py->off = *t;
	py->info.major = t->major;
	py->info.minor = t->minor;
	py->code_type = FUZZ_CODE_TYPE;
	py->str_type = FUZZ_STR_TYPE;
	py->bytes_type = t->string_sval != PYV_NONE ? FUZZ_STR_TYPE : FUZZ_BYTES_TYPE;
}

#endif
