/* SPDX-License-Identifier: MIT */
/* Bytecode offset -> source line, decoded the way PyCode_Addr2Line does. */
#include "python/linetable.h"

#include <limits.h>
#include <stdbool.h>

/*
 * The tables come from a process that keeps running while we read it, so
 * any byte may be garbage and the length may cut an entry in half. Every
 * loop below consumes at least one byte per turn and checks the index
 * against len before each read, so it ends within len steps. Arithmetic is
 * done in int64_t, which cannot overflow on anything a table of realistic
 * size adds up to; a result outside the range of int, or negative, can only
 * come from garbage and is reported as -1.
 */

static int line_or_none(int64_t line)
{
	if (line < 0 || line > INT_MAX)
		return -1;
	return (int)line;
}

/* Algorithm A (2.7, 3.6-3.9): pairs (addr delta, line delta). An odd
 * trailing byte is ignored, as CPython ignores it (size = len / 2). Past the
 * end the answer is the last line, not -1: that is what CPython returns. */
static int lnotab_line(const uint8_t *table, size_t len, int firstlineno,
		       int64_t addrq, bool signed_deltas)
{
	int64_t line = firstlineno;
	int64_t addr = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += table[i];
		if (addr > addrq)
			break;
		if (signed_deltas)
			line += (int8_t)table[i + 1];
		else
			line += table[i + 1];
	}
	return line_or_none(line);
}

/* Algorithm B (3.10, PEP 626): pairs (u8 byte length, s8 line delta), where
 * -128 means "no line" and leaves the running line alone. Zero-length
 * ranges still move the running line. CPython's iterator skips them while
 * looking for the range that ends after addrq; taking the first range with
 * start <= addrq < end gives the same answer without its backward steps. */
static int linetable310_line(const uint8_t *table, size_t len, int firstlineno,
			     int64_t addrq)
{
	int64_t computed = firstlineno;
	int64_t end = 0;

	if (addrq < 0)
		return firstlineno;
	for (size_t i = 0; i + 1 < len; i += 2) {
		int64_t start = end;
		int8_t ldelta = (int8_t)table[i + 1];
		bool no_line = ldelta == -128;

		end += table[i];
		if (!no_line)
			computed += ldelta;
		if (start <= addrq && addrq < end)
			return no_line ? -1 : line_or_none(computed);
	}
	return -1;
}

/* A varint of the 3.11 location table: 6-bit groups, least significant
 * first, 0x40 = more follows. Returns false if the table ends first or the
 * value would not fit in 32 bits (garbage: CPython's own 32-bit shift would
 * be undefined there). */
static bool read_varint(const uint8_t *table, size_t len, size_t *pos,
			uint32_t *out)
{
	uint32_t val = 0;
	unsigned shift = 0;

	for (;;) {
		if (*pos >= len || shift > 30)
			return false;
		uint8_t b = table[(*pos)++];
		val |= (uint32_t)(b & 63) << shift;
		if (!(b & 64))
			break;
		shift += 6;
	}
	*out = val;
	return true;
}

static bool read_svarint(const uint8_t *table, size_t len, size_t *pos,
			 int64_t *out)
{
	uint32_t u;

	if (!read_varint(table, len, pos, &u))
		return false;
	*out = (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return true;
}

/* Algorithm C (3.11+): variable-length entries, each starting with a byte
 * that has bit 7 set. Like CPython, only the line delta is decoded; the
 * rest of an entry (columns, end line) is skipped by looking for the next
 * byte with bit 7 set, which no varint or column byte has. */
static int locations311_line(const uint8_t *table, size_t len, int firstlineno,
			     int64_t addrq)
{
	int64_t line = firstlineno;
	int64_t addr = 0;
	size_t pos = 0;

	if (addrq < 0)
		return firstlineno;
	while (pos < len) {
		uint8_t b = table[pos];
		int code = (b >> 3) & 15;
		int64_t end = addr + 2 * ((b & 7) + 1);
		int64_t delta = 0;
		size_t after = pos + 1;

		/* Not the start of an entry: we are out of step with the
		 * table (it changed under us), and nothing after this point
		 * can be trusted. */
		if (!(b & 0x80))
			return -1;
		switch (code) {
		case 15:             /* no location */
			break;
		case 14:             /* long form */
		case 13:             /* no columns */
			/* A cut-off delta leaves the line unknown from here
			 * on, including for this entry. */
			if (!read_svarint(table, len, &after, &delta))
				return -1;
			break;
		case 10:             /* one-line forms: delta 0, 1, 2 */
		case 11:
		case 12:
			delta = code - 10;
			break;
		default:             /* short forms: same line */
			break;
		}
		line += delta;
		if (addr <= addrq && addrq < end)
			return code == 15 ? -1 : line_or_none(line);
		addr = end;
		pos++;
		while (pos < len && !(table[pos] & 0x80))
			pos++;
	}
	return -1;
}

int pyv_linetable_line(enum pyv_linetable_kind kind, const uint8_t *table,
		       size_t len, int firstlineno, int64_t addrq)
{
	if (!table)
		len = 0;
	switch (kind) {
	case PYV_LNOTAB_UNSIGNED:
		return lnotab_line(table, len, firstlineno, addrq, false);
	case PYV_LNOTAB_SIGNED:
		return lnotab_line(table, len, firstlineno, addrq, true);
	case PYV_LINETABLE_310:
		return linetable310_line(table, len, firstlineno, addrq);
	case PYV_LOCATIONS_311:
		return locations311_line(table, len, firstlineno, addrq);
	}
	return -1;
}
