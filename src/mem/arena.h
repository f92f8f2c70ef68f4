/* SPDX-License-Identifier: MIT */
/* A bump allocator: everything a snapshot holds is freed at once. */
#ifndef PYTRACE_MEM_ARENA_H
#define PYTRACE_MEM_ARENA_H

#include <stddef.h>

struct pt_arena;

struct pt_arena *pt_arena_new(void);
void pt_arena_free(struct pt_arena *arena);
/* Zeroed, 16-byte aligned; NULL only when out of memory. */
void *pt_arena_alloc(struct pt_arena *arena, size_t size);
char *pt_arena_strdup(struct pt_arena *arena, const char *s);
char *pt_arena_strndup(struct pt_arena *arena, const char *s, size_t n);

#endif
