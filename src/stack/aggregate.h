/* SPDX-License-Identifier: MIT */
/* Aggregating on interned stacks (DTrace's @[ustack()] = count(), sum(),
 * quantize()): pure, keyed by pt_stack_id, never by text.
 *
 * How to use it:
 *   struct pt_intern *in = pt_intern_new();
 *   struct pt_agg *agg = pt_agg_new(in, PT_AGG_HIST);   // or 0: no histograms
 *   pt_intern_thread(in, thread, native, depth, "write", NULL, &s);
 *   pt_agg_add(agg, s, 1, duration_ns);                 // -1: no duration
 *   const struct pt_agg_entry **v; size_t n;
 *   pt_agg_sorted(agg, PT_AGG_BY_COUNT, 0, false, &v, &n);  // least first
 *   ... hand v to a format (output/format.h) with the intern table ...
 *   free(v); pt_agg_reset(agg) (--interval) or pt_agg_free(agg);
 * Memory: one entry per distinct stack (plus a histogram each with
 * PT_AGG_HIST), whatever the number of events. */
#ifndef PYTRACE_STACK_AGGREGATE_H
#define PYTRACE_STACK_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stack/histogram.h"
#include "stack/intern.h"

struct pt_agg_entry {
	pt_stack_id stack;
	uint64_t count;          /* events (weights) added */
	uint64_t ns;             /* their durations summed (known ones only) */
	uint64_t timed;          /* how many had a duration */
	struct pt_hist *hist;    /* with PT_AGG_HIST: the durations; else NULL */
};

enum { PT_AGG_HIST = 1u << 0 };

struct pt_agg;

/* in: the table the stack ids come from (not owned). */
struct pt_agg *pt_agg_new(const struct pt_intern *in, unsigned flags);
void pt_agg_free(struct pt_agg *agg);
/* Forgets every entry (the intern table stays). */
void pt_agg_reset(struct pt_agg *agg);
const struct pt_intern *pt_agg_intern(const struct pt_agg *agg);

/* Counts n events of stack, with ns their total duration (-1: unknown;
 * with PT_AGG_HIST and n == 1 it also goes into the stack's histogram).
 * 0, or -ENOMEM (nothing counted). */
int pt_agg_add(struct pt_agg *agg, pt_stack_id stack, uint64_t n, int64_t ns);

/* Distinct stacks, events counted, and their summed durations. */
size_t pt_agg_size(const struct pt_agg *agg);
uint64_t pt_agg_total(const struct pt_agg *agg);
uint64_t pt_agg_total_ns(const struct pt_agg *agg);

enum pt_agg_order { PT_AGG_BY_COUNT, PT_AGG_BY_TIME };
/* The entries smallest first (ties by stack content, so the order is
 * reproducible); with top > 0 only the top largest; most_first reverses.
 * *out is malloc'd and points into agg: valid until the next pt_agg_add,
 * reset or free. 0 or -ENOMEM. */
int pt_agg_sorted(const struct pt_agg *agg, enum pt_agg_order by, size_t top, bool most_first,
		  const struct pt_agg_entry ***out, size_t *n);

#endif
