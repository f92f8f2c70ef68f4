/* SPDX-License-Identifier: MIT */
/* Parses /proc/PID/maps into an array of mappings. */
#include "mem/maps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pt_maps_read(pid_t pid, struct pt_maps *maps)
{
	char path[64], *line = NULL;
	size_t cap = 0, alloc = 0;
	FILE *f;

	maps->n = 0;
	maps->v = NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		uint64_t start, end, off;
		char perms[8];
		int pathpos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n",
			   &start, &end, perms, &off, &pathpos) < 4)
			continue;
		if (maps->n == alloc) {
			size_t nalloc = alloc ? alloc * 2 : 64;
			struct pt_map *v = realloc(maps->v, nalloc * sizeof(*v));
			if (!v)
				goto nomem;
			maps->v = v;
			alloc = nalloc;
		}
		struct pt_map *m = &maps->v[maps->n];
		m->start = start;
		m->end = end;
		m->offset = off;
		m->r = perms[0] == 'r';
		m->w = perms[1] == 'w';
		m->x = perms[2] == 'x';
		m->path = NULL;
		char *p = pathpos ? line + pathpos : NULL;
		if (p) {
			p[strcspn(p, "\n")] = 0;
			if (*p) {
				m->path = strdup(p);
				if (!m->path)
					goto nomem;
			}
		}
		maps->n++;
	}
	free(line);
	fclose(f);
	return maps->n ? 0 : -ENOENT;  /* a zombie has no mappings */
nomem:
	free(line);
	fclose(f);
	pt_maps_free(maps);
	return -ENOMEM;
}

void pt_maps_free(struct pt_maps *maps)
{
	for (size_t i = 0; i < maps->n; i++)
		free(maps->v[i].path);
	free(maps->v);
	maps->v = NULL;
	maps->n = 0;
}

const struct pt_map *pt_maps_find(const struct pt_maps *maps, uint64_t addr)
{
	size_t lo = 0, hi = maps->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr < maps->v[mid].start)
			hi = mid;
		else if (addr >= maps->v[mid].end)
			lo = mid + 1;
		else
			return &maps->v[mid];
	}
	return NULL;
}

bool pt_maps_file_bias(const struct pt_maps *maps, const char *path,
		       uint64_t first_load_vaddr, uint64_t *bias)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct pt_map *m = &maps->v[i];
		if (m->path && strcmp(m->path, path) == 0) {
			*bias = m->start - m->offset - (first_load_vaddr & ~(uint64_t)4095);
			return true;
		}
	}
	return false;
}
