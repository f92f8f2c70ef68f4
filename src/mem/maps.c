/* SPDX-License-Identifier: MIT */
/* Parses /proc/PID/maps into an array of mappings. */
#include "mem/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char maps_deleted[] = " (deleted)";

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
		uint64_t start, end, off, inode = 0;
		unsigned int major = 0, minor = 0;
		char perms[8];
		int pathpos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &start, &end, perms, &off, &major, &minor, &inode, &pathpos) < 4)
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
		m->dev = makedev(major, minor);
		m->inode = inode;
		m->deleted = false;
		char *p = pathpos ? line + pathpos : NULL;
		if (p) {
			p[strcspn(p, "\n")] = 0;
			/* The kernel appends this to the path of an unlinked file. */
			size_t len = strlen(p), dl = sizeof(maps_deleted) - 1;
			if (p[0] == '/' && len > dl && strcmp(p + len - dl, maps_deleted) == 0) {
				p[len - dl] = 0;
				m->deleted = true;
			}
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

const struct pt_map *pt_maps_find_path(const struct pt_maps *maps, const char *path)
{
	for (size_t i = 0; i < maps->n; i++)
		if (maps->v[i].path && strcmp(maps->v[i].path, path) == 0)
			return &maps->v[i];
	return NULL;
}

/* fd if it is the mapped file (closed and -1 otherwise). */
static int maps_verified(int fd, const struct pt_map *m)
{
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == m->inode &&
	    st.st_dev == m->dev)
		return fd;
	close(fd);
	return -1;
}

static int maps_try(const char *path, const struct pt_map *m, char *name, size_t cap)
{
	int fd = maps_verified(open(path, O_RDONLY | O_CLOEXEC), m);

	if (fd >= 0)
		snprintf(name, cap, "%s", path);
	return fd;
}

int pt_map_open(pid_t pid, const struct pt_map *m, char *name, size_t cap)
{
	char buf[4200];
	int fd;

	if (!m->path || m->path[0] != '/')
		return -ENOENT;
	if (!m->deleted && (fd = maps_try(m->path, m, name, cap)) >= 0)
		return fd;
	if (!m->deleted && snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)pid, m->path) <
			       (int)sizeof(buf) &&
	    (fd = maps_try(buf, m, name, cap)) >= 0)
		return fd;
	snprintf(buf, sizeof(buf), "/proc/%d/exe", (int)pid);
	if ((fd = maps_try(buf, m, name, cap)) >= 0)
		return fd;
	/* Needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE): a root pytrace. */
	snprintf(buf, sizeof(buf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->start,
		 m->end);
	if ((fd = maps_try(buf, m, name, cap)) >= 0)
		return fd;
	if (m->deleted)
		return -ENOENT;
	/* Unverified, as the target names it. */
	snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)pid, m->path);
	if ((fd = open(buf, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(buf, sizeof(buf), "%s", m->path);
		if ((fd = open(buf, O_RDONLY | O_CLOEXEC)) < 0)
			return -errno;
	}
	snprintf(name, cap, "%s", buf);
	return fd;
}
