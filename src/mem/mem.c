/* SPDX-License-Identifier: MIT */
/* Remote memory: process_vm_readv, falling back to /proc/PID/mem. */
#include "mem/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define CACHE_PAGES 64
#define PAGE 4096u
#define CACHE_MAX_READ 512    /* larger reads bypass the cache */

struct pt_mem_cache {
	unsigned next;            /* round-robin victim */
	uint64_t page[CACHE_PAGES];  /* page address, 0 = empty */
	uint8_t data[CACHE_PAGES][PAGE];
};

void pt_mem_init(struct pt_mem *mem, pid_t pid)
{
	mem->pid = pid;
	mem->memfd = -1;
	mem->reads = 0;
	mem->cache = NULL;
	/* A test hook: makes the unreadable-memory paths reachable on demand
	 * (tests/e2e set it to the address of a live code object). */
	const char *fault = getenv("PYTRACE_FAULT_ADDR");
	mem->fault_addr = fault ? strtoull(fault, NULL, 0) : 0;
	mem->image = NULL;
	mem->image_base = 0;
	mem->image_len = 0;
}

void pt_mem_init_image(struct pt_mem *mem, uint64_t base, const void *buf, size_t len)
{
	pt_mem_init(mem, 0);
	mem->fault_addr = 0;
	mem->image = buf;
	mem->image_base = base;
	mem->image_len = len;
}

static int mem_read_image(const struct pt_mem *mem, uint64_t addr, void *buf, size_t len)
{
	if (addr < mem->image_base || addr - mem->image_base > mem->image_len ||
	    len > mem->image_len - (addr - mem->image_base))
		return -EFAULT;
	memcpy(buf, mem->image + (addr - mem->image_base), len);
	return 0;
}

void pt_mem_fini(struct pt_mem *mem)
{
	if (mem->memfd >= 0)
		close(mem->memfd);
	mem->memfd = -1;
	free(mem->cache);
	mem->cache = NULL;
}

void pt_mem_cache_begin(struct pt_mem *mem)
{
	/* Without memory for a cache, reads simply stay uncached. */
	mem->cache = calloc(1, sizeof(*mem->cache));
}

void pt_mem_cache_end(struct pt_mem *mem)
{
	free(mem->cache);
	mem->cache = NULL;
}

static int mem_read_raw(struct pt_mem *mem, uint64_t addr, void *buf, size_t len);

/* Serves a read that lies within one page from the page cache. */
static int mem_read_cached(struct pt_mem *mem, uint64_t addr, void *buf, size_t len)
{
	struct pt_mem_cache *c = mem->cache;
	uint64_t page = addr & ~(uint64_t)(PAGE - 1);

	for (unsigned i = 0; i < CACHE_PAGES; i++) {
		if (c->page[i] == page) {
			memcpy(buf, c->data[i] + (addr - page), len);
			return 0;
		}
	}
	unsigned v = c->next++ % CACHE_PAGES;
	if (mem_read_raw(mem, page, c->data[v], PAGE) < 0) {
		c->page[v] = 0;
		return mem_read_raw(mem, addr, buf, len);
	}
	c->page[v] = page;
	memcpy(buf, c->data[v] + (addr - page), len);
	return 0;
}

static int mem_open_procfs(struct pt_mem *mem, int flags)
{
	char path[64];

	if (mem->memfd >= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)mem->pid);
	mem->memfd = open(path, flags | O_CLOEXEC);
	return mem->memfd < 0 ? -errno : 0;
}

static int mem_read_procfs(struct pt_mem *mem, uint64_t addr, void *buf, size_t len)
{
	int rc = mem_open_procfs(mem, O_RDWR);

	if (rc < 0)
		rc = mem_open_procfs(mem, O_RDONLY);
	if (rc < 0)
		return rc;
	ssize_t n = pread(mem->memfd, buf, len, (off_t)addr);
	if (n < 0)
		return errno == EIO ? -EFAULT : -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int pt_mem_read(struct pt_mem *mem, uint64_t addr, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (addr < 4096 || addr + len < addr || addr >= (1ull << 47))
		return -EFAULT;
	if (mem->cache && len <= CACHE_MAX_READ && (addr & (PAGE - 1)) + len <= PAGE)
		return mem_read_cached(mem, addr, buf, len);
	return mem_read_raw(mem, addr, buf, len);
}

static int mem_read_raw(struct pt_mem *mem, uint64_t addr, void *buf, size_t len)
{
	if (mem->fault_addr && mem->fault_addr >= addr && mem->fault_addr - addr < len)
		return -EFAULT;
	mem->reads++;
	if (mem->image)
		return mem_read_image(mem, addr, buf, len);
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n = process_vm_readv(mem->pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		return -EFAULT;  /* crossed into an unmapped page */
	if (errno == ENOSYS || errno == EPERM)
		return mem_read_procfs(mem, addr, buf, len);
	return -errno;
}

int pt_mem_read_u64(struct pt_mem *mem, uint64_t addr, uint64_t *out)
{
	return pt_mem_read(mem, addr, out, sizeof(*out));
}

int pt_mem_read_u32(struct pt_mem *mem, uint64_t addr, uint32_t *out)
{
	return pt_mem_read(mem, addr, out, sizeof(*out));
}

int pt_mem_read_i32(struct pt_mem *mem, uint64_t addr, int32_t *out)
{
	return pt_mem_read(mem, addr, out, sizeof(*out));
}

int pt_mem_read_u8(struct pt_mem *mem, uint64_t addr, uint8_t *out)
{
	return pt_mem_read(mem, addr, out, sizeof(*out));
}

int pt_mem_read_cstr(struct pt_mem *mem, uint64_t addr, char *buf, size_t cap)
{
	size_t got = 0;

	if (cap == 0)
		return -EINVAL;
	/* Read page-bounded chunks so a string near the end of a mapping works. */
	while (got + 1 < cap) {
		uint64_t a = addr + got;
		size_t chunk = 4096 - (a & 4095);
		if (chunk > cap - 1 - got)
			chunk = cap - 1 - got;
		int rc = pt_mem_read(mem, a, buf + got, chunk);
		if (rc < 0)
			return rc;
		char *nul = memchr(buf + got, 0, chunk);
		if (nul)
			return 0;
		got += chunk;
	}
	buf[cap - 1] = 0;
	return 0;
}

int pt_mem_write(struct pt_mem *mem, uint64_t addr, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (addr < 4096 || addr + len < addr)
		return -EFAULT;
	if (mem->image)
		return -EROFS;
	struct iovec local = { .iov_base = (void *)buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n = process_vm_writev(mem->pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		return -EFAULT;
	/* Read-only pages (code) need /proc/PID/mem, which ptrace-attached
	 * tracers may write through. */
	if (errno == EFAULT || errno == EPERM || errno == ENOSYS) {
		int rc = mem_open_procfs(mem, O_RDWR);
		if (rc < 0)
			return rc;
		n = pwrite(mem->memfd, buf, len, (off_t)addr);
		if (n < 0)
			return -errno;
		return (size_t)n == len ? 0 : -EFAULT;
	}
	return -errno;
}
