/* SPDX-License-Identifier: MIT */
/* Counting identical stacks (DTrace's @[ustack()] = count()): pure, keyed
 * by the system call name and the stack as its frame lines. */
#ifndef PYTRACE_STACK_AGGREGATE_H
#define PYTRACE_STACK_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pt_agg_entry {
	const char *syscall;
	const char *stack;     /* frame lines, innermost first, '\n'-terminated */
	size_t stack_len;
	uint64_t count;
	uint64_t hash;
};

struct pt_agg;

struct pt_agg *pt_agg_new(void);
void pt_agg_free(struct pt_agg *agg);

/* Counts one occurrence (n of them) of (syscall, stack). The strings are
 * copied. 0, or -ENOMEM (nothing counted). */
int pt_agg_add(struct pt_agg *agg, const char *syscall, const char *stack, size_t len,
	       uint64_t n);

/* Distinct stacks, and events counted. */
size_t pt_agg_size(const struct pt_agg *agg);
uint64_t pt_agg_total(const struct pt_agg *agg);

/* The entries least frequent first (ties: by syscall name, then stack
 * text, so the order is reproducible); with top > 0 only the top most
 * frequent. *out is malloc'd and points into agg: valid until the next
 * pt_agg_add or pt_agg_free. 0 or -ENOMEM. */
int pt_agg_sorted(const struct pt_agg *agg, size_t top, const struct pt_agg_entry ***out,
		  size_t *n);

/* The same entries in the opposite order: most frequent first (ties in
 * reverse name order). */
int pt_agg_sorted_most_first(const struct pt_agg *agg, size_t top,
			     const struct pt_agg_entry ***out, size_t *n);

/* Walks the lines of a stack text. Each call yields one line without its
 * indentation or newline; *is_note says it is a remark such as "(no
 * Python frames)" rather than a frame. Returns false at the end. */
bool pt_agg_next_line(const char **cursor, const char *end, const char **line, size_t *len,
		      bool *is_note);

/* The folded form flame graph tools read, without the count: frames root
 * first joined by ';' (a ';' inside a frame becomes ','), notes left out,
 * and the system call name as the leaf. malloc'd, or NULL. */
char *pt_agg_folded(const struct pt_agg_entry *e);

#endif
