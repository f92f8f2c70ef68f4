/* SPDX-License-Identifier: MIT */
/* Checked remote structs: one copy at the true size, every field checked. */
#include "mem/rstruct.h"

#include <errno.h>
#include <string.h>

bool pt_field_fits(int64_t off, size_t width, int64_t size)
{
	return off >= 0 && size >= 0 && width <= (uint64_t)size && (uint64_t)off <= (uint64_t)size - width;
}

int pt_rstruct_read(struct pt_rstruct *rs, struct pt_mem *mem, uint64_t addr, int64_t size)
{
	rs->addr = addr;
	rs->size = 0;
	if (size <= 0 || size > PT_RSTRUCT_MAX)
		return -E2BIG;
	int rc = pt_mem_read(mem, addr, rs->bytes, (size_t)size);
	if (rc == 0)
		rs->size = (size_t)size;
	return rc;
}

static int rstruct_get(const struct pt_rstruct *rs, int64_t off, void *out, size_t width)
{
	if (!pt_field_fits(off, width, (int64_t)rs->size)) {
		memset(out, 0, width);
		return -ERANGE;
	}
	memcpy(out, rs->bytes + off, width);
	return 0;
}

int pt_rstruct_u8(const struct pt_rstruct *rs, int64_t off, uint8_t *out)
{
	return rstruct_get(rs, off, out, sizeof(*out));
}

int pt_rstruct_i8(const struct pt_rstruct *rs, int64_t off, int8_t *out)
{
	return rstruct_get(rs, off, out, sizeof(*out));
}

int pt_rstruct_i32(const struct pt_rstruct *rs, int64_t off, int32_t *out)
{
	return rstruct_get(rs, off, out, sizeof(*out));
}

int pt_rstruct_u32(const struct pt_rstruct *rs, int64_t off, uint32_t *out)
{
	return rstruct_get(rs, off, out, sizeof(*out));
}

int pt_rstruct_i64(const struct pt_rstruct *rs, int64_t off, int64_t *out)
{
	return rstruct_get(rs, off, out, sizeof(*out));
}

int pt_rstruct_u64(const struct pt_rstruct *rs, int64_t off, uint64_t *out)
{
	return rstruct_get(rs, off, out, sizeof(*out));
}

int pt_rstruct_ptr(const struct pt_rstruct *rs, int64_t off, uint64_t *out)
{
	return rstruct_get(rs, off, out, sizeof(*out));
}

static int rfield_read(struct pt_mem *mem, uint64_t base, int64_t size, int64_t off,
		       void *out, size_t width)
{
	memset(out, 0, width);
	if (!pt_field_fits(off, width, size))
		return -ERANGE;
	return pt_mem_read(mem, base + (uint64_t)off, out, width);
}

int pt_rfield_u64(struct pt_mem *mem, uint64_t base, int64_t size, int64_t off, uint64_t *out)
{
	return rfield_read(mem, base, size, off, out, sizeof(*out));
}

int pt_rfield_i32(struct pt_mem *mem, uint64_t base, int64_t size, int64_t off, int32_t *out)
{
	return rfield_read(mem, base, size, off, out, sizeof(*out));
}

void pt_chain_init(struct pt_chain *c, uint64_t first, size_t max)
{
	c->mark = first;
	c->steps = 0;
	c->power = 1;
	c->depth = 0;
	c->max = max;
}

int pt_chain_next(struct pt_chain *c, uint64_t next)
{
	if (next == c->mark)
		return -ELOOP;
	if (++c->depth >= c->max)
		return -E2BIG;
	if (++c->steps == c->power) {
		c->mark = next;
		c->power *= 2;
		c->steps = 0;
	}
	return 0;
}
