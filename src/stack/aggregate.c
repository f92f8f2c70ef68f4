/* SPDX-License-Identifier: MIT */
/* Aggregating on interned stacks: stack ids are dense, so an entry is
 * found by indexing an array with the id; entries live in a second array
 * in the order they were first seen. */
#include "stack/aggregate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pt_agg {
	const struct pt_intern *in;
	unsigned flags;
	uint32_t *index;              /* stack id -> entry + 1 (0: none) */
	size_t index_cap;
	struct pt_agg_entry **entries;
	size_t n, cap;
	uint64_t total, total_ns;
};

struct pt_agg *pt_agg_new(const struct pt_intern *in, unsigned flags)
{
	struct pt_agg *agg = calloc(1, sizeof(*agg));
	if (agg) {
		agg->in = in;
		agg->flags = flags;
	}
	return agg;
}

void pt_agg_reset(struct pt_agg *agg)
{
	for (size_t i = 0; i < agg->n; i++) {
		agg->index[agg->entries[i]->stack] = 0;
		free(agg->entries[i]->hist);
		free(agg->entries[i]);
	}
	agg->n = 0;
	agg->total = agg->total_ns = 0;
}

void pt_agg_free(struct pt_agg *agg)
{
	if (!agg)
		return;
	pt_agg_reset(agg);
	free(agg->index);
	free(agg->entries);
	free(agg);
}

const struct pt_intern *pt_agg_intern(const struct pt_agg *agg)
{
	return agg->in;
}

static struct pt_agg_entry *agg_entry(struct pt_agg *agg, pt_stack_id stack)
{
	if (stack >= agg->index_cap) {
		size_t cap = agg->index_cap ? agg->index_cap : 256;
		while (cap <= stack)
			cap *= 2;
		uint32_t *ix = realloc(agg->index, cap * sizeof(*ix));
		if (!ix)
			return NULL;
		memset(ix + agg->index_cap, 0, (cap - agg->index_cap) * sizeof(*ix));
		agg->index = ix;
		agg->index_cap = cap;
	}
	if (agg->index[stack])
		return agg->entries[agg->index[stack] - 1];
	if (agg->n == agg->cap) {
		size_t cap = agg->cap ? agg->cap * 2 : 64;
		struct pt_agg_entry **v = realloc(agg->entries, cap * sizeof(*v));
		if (!v)
			return NULL;
		agg->entries = v;
		agg->cap = cap;
	}
	struct pt_agg_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->stack = stack;
	if (agg->flags & PT_AGG_HIST) {
		if (!(e->hist = malloc(sizeof(*e->hist)))) {
			free(e);
			return NULL;
		}
		pt_hist_init(e->hist);
	}
	agg->entries[agg->n++] = e;
	agg->index[stack] = (uint32_t)agg->n;
	return e;
}

int pt_agg_add(struct pt_agg *agg, pt_stack_id stack, uint64_t n, int64_t ns)
{
	struct pt_agg_entry *e = agg_entry(agg, stack);
	if (!e)
		return -ENOMEM;
	e->count += n;
	agg->total += n;
	if (ns >= 0) {
		e->ns += (uint64_t)ns;
		e->timed += n;
		agg->total_ns += (uint64_t)ns;
		if (e->hist && n == 1)
			pt_hist_add(e->hist, (uint64_t)ns);
	}
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

uint64_t pt_agg_total_ns(const struct pt_agg *agg)
{
	return agg->total_ns;
}

/* qsort has no context argument: the sort runs on pairs. */
struct agg_sortable {
	const struct pt_agg_entry *e;
	const struct pt_intern *in;
	enum pt_agg_order by;
};

static int agg_cmp(const void *a, const void *b)
{
	const struct agg_sortable *x = a, *y = b;
	uint64_t kx = x->by == PT_AGG_BY_TIME ? x->e->ns : x->e->count;
	uint64_t ky = y->by == PT_AGG_BY_TIME ? y->e->ns : y->e->count;

	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (x->e->count != y->e->count)
		return x->e->count < y->e->count ? -1 : 1;
	return pt_intern_stack_cmp(x->in, x->e->stack, y->e->stack);
}

int pt_agg_sorted(const struct pt_agg *agg, enum pt_agg_order by, size_t top, bool most_first,
		  const struct pt_agg_entry ***out, size_t *n)
{
	size_t k = agg->n;
	struct agg_sortable *s = malloc((k ? k : 1) * sizeof(*s));
	const struct pt_agg_entry **v = malloc((k ? k : 1) * sizeof(*v));

	*out = NULL;
	*n = 0;
	if (!s || !v) {
		free(s);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < k; i++)
		s[i] = (struct agg_sortable){ agg->entries[i], agg->in, by };
	qsort(s, k, sizeof(*s), agg_cmp);
	size_t first = top && top < k ? k - top : 0;
	for (size_t i = first; i < k; i++)
		v[i - first] = s[i].e;
	k -= first;
	free(s);
	for (size_t i = 0; most_first && i < k / 2; i++) {
		const struct pt_agg_entry *e = v[i];
		v[i] = v[k - 1 - i];
		v[k - 1 - i] = e;
	}
	*out = v;
	*n = k;
	return 0;
}
