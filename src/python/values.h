/* SPDX-License-Identifier: MIT */
/* A frame's arguments and local variables, and a bounded rendering of their values (dump --locals). */
#ifndef PYTRACE_PYTHON_VALUES_H
#define PYTRACE_PYTHON_VALUES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mem/arena.h"
#include "python/python.h"

/* Addresses of the objects and types rendered by value (0: not found). */
struct pyv_types {
	bool loaded;
	uint64_t none, true_obj, false_obj;
	uint64_t bool_t, int_t, long_t, float_t, str_t, bytes_t, list_t, tuple_t, dict_t, set_t,
		frozenset_t, cell_t;
};

/* From the runtime's ELF symbols (read from the file: the target runs on).
 * 0 or -errno. */
int pyv_types_load(const struct pt_python *py, pid_t pid, struct pyv_types *t);

/* Fills f->locals (in arena) from the frame at f->addr, which must be held
 * still (threads stopped). Nothing runs in the target: names come from the
 * code object, values from the fast-locals array, each rendered by type
 * (see docs: None, bool, int, float, str, bytes, the length of list, tuple,
 * dict, set; any other object as <TYPE at 0xADDR>). Unbound locals are
 * left out, as frame.f_locals leaves them out; a cell is shown by its
 * contents. 0, or a negative errno when the frame's code could not be
 * read (f->locals then empty). */
int pyv_frame_locals(struct pt_python *py, const struct pyv_types *t, struct pt_mem *mem,
		     struct pt_arena *arena, struct pt_pyframe *f);

/* The value rendering itself, pure (unit-tested): an int of n digits of
 * shift bits each, little-endian, as decimal into buf; false when it does
 * not fit cap. */
bool pyv_render_digits(const uint32_t *digits, size_t n, int shift, bool negative, char *buf,
		       size_t cap);
/* A double as Python's repr writes it: the fewest significant digits
 * that read back the same, positional for exponents -4..15 ("100.0"),
 * scientific otherwise ("1e+16", "1.5e-07"). */
void pyv_render_float(double v, char *buf, size_t cap);

#endif
