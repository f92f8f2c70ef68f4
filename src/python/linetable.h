/* SPDX-License-Identifier: MIT */
/* Bytecode offset -> source line, for the three line-table formats. Pure. */
#ifndef PYTRACE_PYTHON_LINETABLE_H
#define PYTRACE_PYTHON_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

enum pyv_linetable_kind {
	PYV_LNOTAB_UNSIGNED,  /* 2.7 co_lnotab: (u8 addr, u8 line) */
	PYV_LNOTAB_SIGNED,    /* 3.6-3.9 co_lnotab: (u8 addr, s8 line) */
	PYV_LINETABLE_310,    /* 3.10 co_linetable (PEP 626) */
	PYV_LOCATIONS_311,    /* 3.11+ location table */
};

/* The line of the instruction at byte offset addrq (-1: not started, gives
 * firstlineno). Returns -1 where the table says "no line". Never reads
 * past table[len]. */
int pyv_linetable_line(enum pyv_linetable_kind kind, const uint8_t *table,
		       size_t len, int firstlineno, int64_t addrq);

#endif
