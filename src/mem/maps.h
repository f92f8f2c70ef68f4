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
	char *path;          /* NULL for anonymous mappings; never " (deleted)" */
	uint64_t dev, inode; /* of the mapped file, as the kernel names it */
	bool deleted;        /* the path no longer names the mapped file */
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

/* The first mapping of the file mapped under path, or NULL. */
const struct pt_map *pt_maps_find_path(const struct pt_maps *maps, const char *path);
/*
 * Opens the file behind mapping m, the very one the target maps (same
 * device and inode): by its plain path, through /proc/PID/root, as
 * /proc/PID/exe, or through /proc/PID/map_files/START-END, whichever names
 * it first. A file deleted or replaced under a running process, or one
 * that only the target's own mount namespace shows, is found that way.
 * When none is verified (a file system whose stat disagrees with the maps
 * line, and no privilege for map_files) a path that was not deleted is
 * opened as the target names it, through /proc/PID/root then plainly.
 * name receives the path opened. A descriptor, or -errno.
 */
int pt_map_open(pid_t pid, const struct pt_map *m, char *name, size_t cap);

#endif
