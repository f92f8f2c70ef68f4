/* SPDX-License-Identifier: MIT */
/* libFuzzer: the interpreter, thread-state and frame walks over a memory
 * image, with the layout validated as pt_python_detect does (3.13: the
 * image starts with the _Py_DebugOffsets the walk then uses). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mem/arena.h"
#include "mem/mem.h"
#include "python/python.h"

#define MAX_TS 16
#define MAX_FRAMES 256

/* Input: table selector, then the image: _PyRuntime (3.7+) or the
 * interp_head variable (2.7/3.6) at its start. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pt_pyframe frames[MAX_FRAMES];
	/* Caches live across inputs (a fresh code cache per input is most of
	 * the run time); generations only grow, so nothing validated for an
	 * earlier input is taken without being read again. */
	static struct pyv_code_cache *codes;
	static uint8_t *string_raw;
	static uint64_t generation;
	struct pt_pytstate ts[MAX_TS];
	struct pt_python py;
	struct pt_mem mem;
	struct pt_error err = { 0 };
	size_t n = 0;

	if (size < 2)
		return 0;
	fuzz_python(&py, data[0]);
	py.codes = codes;
	py.string_raw = string_raw;
	const struct pyv_offsets *table = fuzz_tables[data[0] % FUZZ_N_TABLES];
	pt_mem_init_image(&mem, FUZZ_BASE, data + 1, size - 1);
	if (table->runtime_size != PYV_NONE)
		py.runtime = FUZZ_BASE;
	else
		py.interp_head_addr = FUZZ_BASE;
	/* FUZZ_WALK_PRINT=1 build-fuzz/fuzz_walk FILE shows what one input reads. */
	bool print = getenv("FUZZ_WALK_PRINT") != NULL;
	if (pyv_layout_load(&py, table, &mem, &err) < 0) {
		if (print)
			fprintf(stderr, "layout refused: %s\n", err.msg);
		goto out;
	}
	if (pt_python_list_tstates(&py, &mem, ts, MAX_TS, &n) < 0)
		goto out;
	if (n > MAX_TS)
		abort();
	if (print)
		fprintf(stderr, "%zu thread states\n", n);
	pt_python_gil_holder(&py, &mem, ts, n);
	for (size_t i = 0; i < n; i++) {
		struct pt_arena *arena = pt_arena_new();
		size_t nf = 0;
		const char *why;
		if (!arena)
			break;
		py.generation = ++generation;
		pt_python_walk(&py, &mem, ts[i].addr, arena, frames, MAX_FRAMES, &nf, &why);
		for (size_t k = 0; print && k < nf; k++)
			fprintf(stderr, "tstate %zu frame %zu: %s %s:%d\n", i, k,
				frames[k].unreadable ? "<unreadable>" : frames[k].function,
				frames[k].unreadable ? "" : frames[k].file, frames[k].line);
		if (print && why)
			fprintf(stderr, "tstate %zu: %s\n", i, why);
		if (nf > MAX_FRAMES)
			abort();
		for (size_t k = 0; k < nf; k++)
			if (!frames[k].unreadable && (!frames[k].function || !frames[k].file))
				abort();
		pt_arena_free(arena);
	}
out:
	codes = py.codes;
	string_raw = py.string_raw;
	pt_mem_fini(&mem);
	return 0;
}
