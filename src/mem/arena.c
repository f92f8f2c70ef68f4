/* SPDX-License-Identifier: MIT */
/* A bump allocator over a list of blocks. */
#include "mem/arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct pt_arena {
	struct arena_block *head;
};

struct pt_arena *pt_arena_new(void)
{
	return calloc(1, sizeof(struct pt_arena));
}

void pt_arena_free(struct pt_arena *arena)
{
	if (!arena)
		return;
	for (struct arena_block *b = arena->head, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(arena);
}

void *pt_arena_alloc(struct pt_arena *arena, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	struct arena_block *b = arena->head;
	if (!b || b->cap - b->used < size) {
		size_t cap = size > 65536 ? size : 65536;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = arena->head;
		arena->head = b;
	}
	void *p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *pt_arena_strndup(struct pt_arena *arena, const char *s, size_t n)
{
	char *p = pt_arena_alloc(arena, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

char *pt_arena_strdup(struct pt_arena *arena, const char *s)
{
	return pt_arena_strndup(arena, s, strlen(s));
}
