/* SPDX-License-Identifier: MIT */
/* libFuzzer: syscall argument decoding (src/syscalls/decode.c), with the
 * pointed-to memory (paths, buffers, sockaddrs, argv) from an image. */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "mem/mem.h"
#include "syscalls/syscalls.h"

/* Input: number (2 bytes), a pointer mask, six arguments, the return
 * value, then the image. An argument whose mask bit is set points into the
 * image (its value modulo the image size). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pt_syscall sc;
	struct pt_mem mem;
	uint64_t args[6];
	int64_t ret;
	uint16_t nr;

	if (size < 2 + 1 + 48 + 8)
		return 0;
	memcpy(&nr, data, 2);
	uint8_t mask = data[2];
	memcpy(args, data + 3, sizeof(args));
	memcpy(&ret, data + 51, 8);
	const uint8_t *image = data + 59;
	size_t len = size - 59;
	for (int i = 0; i < 6; i++)
		if ((mask >> i) & 1)
			args[i] = FUZZ_BASE + (len ? args[i] % len : 0);
	if (mask & 0x80)
		ret = (int64_t)(len ? (uint64_t)ret % (len + 1) : 0);
	pt_mem_init_image(&mem, FUZZ_BASE, image, len);
	pt_syscall_decode_entry(&sc, (long)(nr % 1024) - 8, args, &mem);
	pt_syscall_decode_exit(&sc, ret, &mem);
	pt_mem_fini(&mem);
	return 0;
}
