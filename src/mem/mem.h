/* SPDX-License-Identifier: MIT */
/* Every read of another process's memory goes through here. */
#ifndef PYTRACE_MEM_MEM_H
#define PYTRACE_MEM_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pt_mem_cache;

struct pt_mem {
	pid_t pid;
	int memfd;            /* /proc/PID/mem, opened on first fallback */
	unsigned long reads;  /* system calls made, for benchmarks */
	struct pt_mem_cache *cache; /* non-NULL only while the target is stopped */
	uint64_t fault_addr;  /* tests: reads covering it fail (PYTRACE_FAULT_ADDR) */
	/* A memory image instead of a process (fuzzing, unit tests): reads
	 * inside [image_base, image_base + image_len) come from image, all
	 * others fail with -EFAULT. NULL for a real process. */
	const uint8_t *image;
	uint64_t image_base;
	size_t image_len;
};

void pt_mem_init(struct pt_mem *mem, pid_t pid);
void pt_mem_fini(struct pt_mem *mem);
/* A memory source backed by len bytes at buf, seen at address base. */
void pt_mem_init_image(struct pt_mem *mem, uint64_t base, const void *buf, size_t len);

/* While the target's threads are stopped its memory holds still, so small
 * reads may be served from whole pages read once. Call begin after
 * stopping and end before resuming; without them every read is fresh. */
void pt_mem_cache_begin(struct pt_mem *mem);
void pt_mem_cache_end(struct pt_mem *mem);

/* Reads exactly len bytes at addr: 0, or -EFAULT (unmapped, partial),
 * -ESRCH (process gone), -EPERM/-EACCES. A NULL or wrapping range is
 * -EFAULT without a system call. */
int pt_mem_read(struct pt_mem *mem, uint64_t addr, void *buf, size_t len);
int pt_mem_read_u64(struct pt_mem *mem, uint64_t addr, uint64_t *out);
int pt_mem_read_u32(struct pt_mem *mem, uint64_t addr, uint32_t *out);
int pt_mem_read_i32(struct pt_mem *mem, uint64_t addr, int32_t *out);
int pt_mem_read_u8(struct pt_mem *mem, uint64_t addr, uint8_t *out);
/* Reads a NUL-terminated string of at most cap-1 bytes into buf. */
int pt_mem_read_cstr(struct pt_mem *mem, uint64_t addr, char *buf, size_t cap);
/* Writes len bytes (for later commands); same return values. */
int pt_mem_write(struct pt_mem *mem, uint64_t addr, const void *buf, size_t len);

#endif
