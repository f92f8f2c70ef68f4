/* SPDX-License-Identifier: MIT */
/* Checked access to another process's structs: a struct is copied once at
 * its true size and every field read is refused when it does not fit. */
#ifndef PYTRACE_MEM_RSTRUCT_H
#define PYTRACE_MEM_RSTRUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/mem.h"

/* The largest struct copied whole (frames, code objects, string headers).
 * Layouts declaring a larger one are refused when they are read. */
#define PT_RSTRUCT_MAX 1024

/* A remote struct copied at its declared size. Offsets and sizes are
 * int64_t so that any value a layout holds (PYV_NONE = -1 included) is
 * checked rather than converted. */
struct pt_rstruct {
	uint64_t addr;                 /* where it was read from */
	size_t size;                   /* bytes copied: the struct's size */
	uint8_t bytes[PT_RSTRUCT_MAX];
};

/* Copies size bytes at addr: 0, -E2BIG (size <= 0 or above
 * PT_RSTRUCT_MAX), or pt_mem_read's errors. */
int pt_rstruct_read(struct pt_rstruct *rs, struct pt_mem *mem, uint64_t addr, int64_t size);
/* Does [off, off + width) lie inside a struct of size bytes? */
bool pt_field_fits(int64_t off, size_t width, int64_t size);

/* Typed fields of a copied struct: 0, or -ERANGE when the field does not
 * lie inside the copy (out is then left zero). */
int pt_rstruct_u8(const struct pt_rstruct *rs, int64_t off, uint8_t *out);
int pt_rstruct_i8(const struct pt_rstruct *rs, int64_t off, int8_t *out);
int pt_rstruct_i32(const struct pt_rstruct *rs, int64_t off, int32_t *out);
int pt_rstruct_u32(const struct pt_rstruct *rs, int64_t off, uint32_t *out);
int pt_rstruct_i64(const struct pt_rstruct *rs, int64_t off, int64_t *out);
int pt_rstruct_u64(const struct pt_rstruct *rs, int64_t off, uint64_t *out);
int pt_rstruct_ptr(const struct pt_rstruct *rs, int64_t off, uint64_t *out);

/* One field of a struct too large to copy (the runtime, an interpreter, a
 * thread state), read in place at base + off after the same check against
 * the struct's size: 0, -ERANGE, or pt_mem_read's errors. */
int pt_rfield_u64(struct pt_mem *mem, uint64_t base, int64_t size, int64_t off, uint64_t *out);
int pt_rfield_i32(struct pt_mem *mem, uint64_t base, int64_t size, int64_t off, int32_t *out);
static inline int pt_rfield_ptr(struct pt_mem *mem, uint64_t base, int64_t size, int64_t off, uint64_t *out)
{
	return pt_rfield_u64(mem, base, size, off, out);
}

/* A chain of remote pointers (frames, thread states, interpreters) may
 * loop or run on forever in a target that lies or changes under us: each
 * step is counted against a cap, and a loop of any length is caught within
 * twice its length (Brent's method: compare with a mark moved at powers of
 * two). */
struct pt_chain {
	uint64_t mark;
	size_t steps, power, depth, max;
};
void pt_chain_init(struct pt_chain *c, uint64_t first, size_t max);
/* 0 to go on to next, -ELOOP if next was already visited, -E2BIG past
 * max steps. */
int pt_chain_next(struct pt_chain *c, uint64_t next);

#endif
