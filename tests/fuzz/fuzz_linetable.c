/* SPDX-License-Identifier: MIT */
/* libFuzzer: the three line-table formats (src/python/linetable.c). */
#include <stdint.h>
#include <string.h>

#include "python/linetable.h"

/* Input: kind, firstlineno (4 bytes), addrq (8 bytes), then the table. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 13)
		return 0;
	enum pyv_linetable_kind kind = (enum pyv_linetable_kind)(data[0] % 4);
	int32_t first;
	int64_t addrq;
	memcpy(&first, data + 1, 4);
	memcpy(&addrq, data + 5, 8);
	const uint8_t *table = data + 13;
	size_t len = size - 13;
	pyv_linetable_line(kind, table, len, first, addrq);
	/* Every instruction of a small code object, as a walk would ask. */
	for (int64_t a = -2; a < 96; a += 2)
		pyv_linetable_line(kind, table, len, first, a);
	pyv_linetable_line(kind, NULL, len, first, addrq);
	return 0;
}
