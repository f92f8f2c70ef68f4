/* SPDX-License-Identifier: MIT */
/* libFuzzer: str objects of every kind (latin-1, UCS-2, UCS-4, compact,
 * ASCII, legacy; 2.7 str), bytes and code objects, read from an image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mem/mem.h"
#include "python/python.h"

/* Input: table selector, flags, output cap, then the image (the object
 * at its start). Flag bit 0 stamps the right type into the header, so the
 * fuzzer need not find it for every input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_python py;
	struct pt_mem mem;
	char out[16385];

	if (size < 3)
		return 0;
	fuzz_python(&py, data[0]);
	size_t len = size - 3;
	uint8_t *image = malloc(len ? len : 1);
	if (!image)
		return 0;
	memcpy(image, data + 3, len);
	size_t cap = data[2] == 0xff ? sizeof(out) : (size_t)data[2] + 1;
	pt_mem_init_image(&mem, FUZZ_BASE, image, len);
	uint64_t type = data[1] & 2 ? FUZZ_CODE_TYPE : FUZZ_STR_TYPE;
	if ((data[1] & 1) && py.off.object_type >= 0 && (size_t)py.off.object_type + 8 <= len)
		memcpy(image + py.off.object_type, &type, 8);

	if (pyv_string_read(&py, &mem, FUZZ_BASE, out, cap) == 0 && strlen(out) >= cap)
		abort();  /* the contract: truncated at cap - 1 bytes */
	const struct pyv_code *c;
	if (pyv_code_read(&py, &mem, FUZZ_BASE, &c) == 0) {
		if (!c->name || !c->file || (c->table_len && !c->table))
			abort();
		pyv_linetable_line(pyv_line_table_kind(&py), c->table, c->table_len, c->firstlineno, 0);
	}
	pt_python_fini(&py);
	pt_mem_fini(&mem);
	free(image);
	return 0;
}
