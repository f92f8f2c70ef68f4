/* SPDX-License-Identifier: MIT */
/* Counting identical stacks: an open-addressing hash table of entries,
 * each owning a copy of its key. */
#include "stack/aggregate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pt_agg {
	struct pt_agg_entry **slots;  /* power of two, at most half full */
	size_t cap, n;
	uint64_t total;
};

/* FNV-1a over the syscall name, a separator, and the stack. */
static uint64_t agg_hash(const char *syscall, const char *stack, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)syscall; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)stack[i]) * 0x100000001b3ull;
	return h;
}

struct pt_agg *pt_agg_new(void)
{
	return calloc(1, sizeof(struct pt_agg));
}

void pt_agg_free(struct pt_agg *agg)
{
	if (!agg)
		return;
	for (size_t i = 0; i < agg->cap; i++)
		free(agg->slots[i]);
	free(agg->slots);
	free(agg);
}

static int agg_grow(struct pt_agg *agg)
{
	size_t cap = agg->cap ? agg->cap * 2 : 256;
	struct pt_agg_entry **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < agg->cap; i++) {
		struct pt_agg_entry *e = agg->slots[i];
		if (!e)
			continue;
		size_t j = e->hash & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = e;
	}
	free(agg->slots);
	agg->slots = slots;
	agg->cap = cap;
	return 0;
}

int pt_agg_add(struct pt_agg *agg, const char *syscall, const char *stack, size_t len,
	       uint64_t n)
{
	if ((agg->n + 1) * 2 > agg->cap && agg_grow(agg) < 0)
		return -ENOMEM;
	uint64_t h = agg_hash(syscall, stack, len);
	size_t j = h & (agg->cap - 1);
	for (struct pt_agg_entry *e; (e = agg->slots[j]); j = (j + 1) & (agg->cap - 1)) {
		if (e->hash == h && e->stack_len == len && !strcmp(e->syscall, syscall) &&
		    !memcmp(e->stack, stack, len)) {
			e->count += n;
			agg->total += n;
			return 0;
		}
	}
	size_t slen = strlen(syscall);
	struct pt_agg_entry *e = malloc(sizeof(*e) + slen + 1 + len + 1);
	if (!e)
		return -ENOMEM;
	char *s = (char *)(e + 1);
	memcpy(s, syscall, slen + 1);
	memcpy(s + slen + 1, stack, len);
	s[slen + 1 + len] = 0;
	*e = (struct pt_agg_entry){ .syscall = s, .stack = s + slen + 1, .stack_len = len,
				    .count = n, .hash = h };
	agg->slots[j] = e;
	agg->n++;
	agg->total += n;
	return 0;
}

size_t pt_agg_size(const struct pt_agg *agg)
{
	return agg->n;
}

uint64_t pt_agg_total(const struct pt_agg *agg)
{
	return agg->total;
}

static int agg_cmp(const void *a, const void *b)
{
	const struct pt_agg_entry *x = *(const struct pt_agg_entry *const *)a;
	const struct pt_agg_entry *y = *(const struct pt_agg_entry *const *)b;
	int c;

	if (x->count != y->count)
		return x->count < y->count ? -1 : 1;
	if ((c = strcmp(x->syscall, y->syscall)))
		return c;
	size_t n = x->stack_len < y->stack_len ? x->stack_len : y->stack_len;
	if ((c = memcmp(x->stack, y->stack, n)))
		return c;
	return x->stack_len < y->stack_len ? -1 : x->stack_len > y->stack_len;
}

int pt_agg_sorted(const struct pt_agg *agg, size_t top, const struct pt_agg_entry ***out,
		  size_t *n)
{
	const struct pt_agg_entry **v = malloc((agg->n ? agg->n : 1) * sizeof(*v));
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < agg->cap; i++)
		if (agg->slots[i])
			v[k++] = agg->slots[i];
	qsort(v, k, sizeof(*v), agg_cmp);
	if (top && top < k) {
		memmove(v, v + (k - top), top * sizeof(*v));
		k = top;
	}
	*out = v;
	*n = k;
	return 0;
}

int pt_agg_sorted_most_first(const struct pt_agg *agg, size_t top,
			     const struct pt_agg_entry ***out, size_t *n)
{
	int rc = pt_agg_sorted(agg, top, out, n);

	for (size_t i = 0; rc == 0 && i < *n / 2; i++) {
		const struct pt_agg_entry *e = (*out)[i];
		(*out)[i] = (*out)[*n - 1 - i];
		(*out)[*n - 1 - i] = e;
	}
	return rc;
}

bool pt_agg_next_line(const char **cursor, const char *end, const char **line, size_t *len,
		      bool *is_note)
{
	const char *p = *cursor;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		const char *s = p;
		while (s < stop && *s == ' ')
			s++;
		p = nl ? nl + 1 : end;
		if (s == stop)
			continue;  /* blank */
		*cursor = p;
		*line = s;
		*len = (size_t)(stop - s);
		*is_note = *s == '(';
		return true;
	}
	*cursor = end;
	return false;
}

char *pt_agg_folded(const struct pt_agg_entry *e)
{
	const char *end = e->stack + e->stack_len, *cur = e->stack, *line;
	size_t len, nlines = 0, total = strlen(e->syscall) + 1;
	bool note;

	while (pt_agg_next_line(&cur, end, &line, &len, &note))
		if (!note) {
			nlines++;
			total += len + 1;
		}
	const char **lines = malloc((nlines ? nlines : 1) * sizeof(*lines));
	size_t *lens = malloc((nlines ? nlines : 1) * sizeof(*lens));
	char *out = malloc(total);
	if (!lines || !lens || !out) {
		free(lines);
		free(lens);
		free(out);
		return NULL;
	}
	size_t k = 0, o = 0;
	cur = e->stack;
	while (pt_agg_next_line(&cur, end, &line, &len, &note))
		if (!note) {
			lines[k] = line;
			lens[k++] = len;
		}
	/* Root first: the text is innermost first. */
	while (k-- > 0) {
		for (size_t i = 0; i < lens[k]; i++)
			out[o++] = lines[k][i] == ';' ? ',' : lines[k][i];
		out[o++] = ';';
	}
	strcpy(out + o, e->syscall);
	free(lines);
	free(lens);
	return out;
}
