/* SPDX-License-Identifier: MIT */
/* The memory mappings of a process, from /proc/PID/maps. */
#ifndef PYTRACE_MEM_MAPS_H
#define PYTRACE_MEM_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pt_map {
	uint64_t start, end, offset;
	bool r, w, x;
	char *path;          /* NULL for anonymous mappings */
};

struct pt_maps {
	size_t n;
	struct pt_map *v;
};

/* 0, or -ENOENT (no such process), -EACCES, -ENOMEM. */
int pt_maps_read(pid_t pid, struct pt_maps *maps);
void pt_maps_free(struct pt_maps *maps);
/* The mapping containing addr, or NULL. */
const struct pt_map *pt_maps_find(const struct pt_maps *maps, uint64_t addr);
/* Load bias of a mapped file: start of its first mapping minus that
 * mapping's file offset minus first_load_vaddr (page-aligned). */
bool pt_maps_file_bias(const struct pt_maps *maps, const char *path,
		       uint64_t first_load_vaddr, uint64_t *bias);

#endif
