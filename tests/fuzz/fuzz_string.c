/* SPDX-License-Identifier: MIT */
/* libFuzzer: str objects of every kind (latin-1, UCS-2, UCS-4, compact,
 * ASCII, legacy; 2.7 str), bytes and code objects, read from an image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mem/mem.h"
#include "python/python.h"

/* Is s valid UTF-8 with no overlong forms or surrogates? */
static int utf8_valid(const unsigned char *s)
{
	while (*s) {
		uint32_t cp;
		int n;
		if (s[0] < 0x80) { s++; continue; }
		else if ((s[0] & 0xe0) == 0xc0) { n = 1; cp = s[0] & 0x1f; }
		else if ((s[0] & 0xf0) == 0xe0) { n = 2; cp = s[0] & 0x0f; }
		else if ((s[0] & 0xf8) == 0xf0) { n = 3; cp = s[0] & 0x07; }
		else return 0;
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
			return 0;
		s += n + 1;
	}
	return 1;
}

/* Input: table selector, flags, output cap, then the image (the object
 * at its start). Flag bit 0 stamps the right type into the header, so the
 * fuzzer need not find it for every input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The code cache lives across inputs (a fresh one per input is most
	 * of the run time): a slot is revalidated against every pointer it
	 * was read from, so a stale one can only serve identical pointers. */
	static struct pyv_code_cache *codes;
	static uint8_t *string_raw;
	struct pt_python py;
	struct pt_mem mem;
	static char out[16385];

	if (size < 3)
		return 0;
	fuzz_python(&py, data[0]);
	py.codes = codes;
	py.string_raw = string_raw;
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

	if (pyv_string_read(&py, &mem, FUZZ_BASE, out, cap) == 0 &&
	    (strlen(out) >= cap || !utf8_valid((const unsigned char *)out)))
		abort();  /* the contract: valid UTF-8, truncated at cap - 1 bytes */
	const struct pyv_code *c;
	if (pyv_code_read(&py, &mem, FUZZ_BASE, &c) == 0) {
		if (!c->name || !c->file || (c->table_len && !c->table))
			abort();
		pyv_linetable_line(pyv_line_table_kind(&py), c->table, c->table_len, c->firstlineno, 0);
	}
	codes = py.codes;
	string_raw = py.string_raw;
	pt_mem_fini(&mem);
	free(image);
	return 0;
}
