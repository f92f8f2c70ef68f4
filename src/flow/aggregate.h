/* SPDX-License-Identifier: MIT */
/* flow's aggregations, from the neutral events (src/flow/event.h): per
 * function calls, total, own and mean time and duration histograms
 * (--count, --latency), the exact per-stack profile (--profile), and the
 * slices of the Trace Event file. Memory grows with distinct functions,
 * stacks and threads, never with events. Pure: no I/O. */
#ifndef PYTRACE_FLOW_AGGREGATE_H
#define PYTRACE_FLOW_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "flow/event.h"
#include "stack/histogram.h"
#include "stack/intern.h"

/* One function: its identity and what was measured since the start (or
 * the last flow_agg_reset). Times in ns. */
struct flow_agg_func {
	char *name;
	char *file;                  /* NULL: a builtin / C function */
	int firstlineno;
	uint64_t calls;              /* completed calls (every resume of a
	                                generator is one) */
	uint64_t total_ns;           /* call to return, outermost calls only
	                                (a recursion is counted once); calls
	                                running at the end up to the end */
	uint64_t own_ns;             /* less the time in shown callees */
	uint64_t sum_ns;             /* call to return, every call (mean) */
	struct pt_hist *hist;        /* --latency: its durations, or NULL */
	bool want_hist;
	pt_frame_id frame;           /* in flow_agg_intern() */
};

/* A call, once it has ended (or been closed at the end of the trace):
 * what the Trace Event file and the evented timelines need. */
struct flow_agg_slice {
	pid_t tid;
	uint32_t func;               /* index of struct flow_agg_func */
	unsigned depth;
	uint64_t start_ns, end_ns;   /* since the first event */
	bool open;                   /* still running at the end */
};

struct flow_agg_config {
	bool count;                  /* per function calls and times */
	bool latency;                /* per function histograms of the */
	const char *const *latency_funcs;  /* functions named so (as --function */
	size_t n_latency_funcs;      /* matches), or every function if none */
	bool profile;                /* own time per distinct stack */
	bool per_thread;             /* profile stacks start with their thread */
	/* Called for every call that ends (innermost first at the end). */
	int (*on_slice)(void *arg, const struct flow_agg_slice *s);
	void *slice_arg;
	/* Called at every entry and exit (the evented timelines): open is
	 * true at an entry; ts in ns since the first event. */
	int (*on_frame)(void *arg, pid_t tid, uint32_t func, bool open, uint64_t ts);
	void *frame_arg;
};

struct flow_agg;

struct flow_agg *flow_agg_new(const struct flow_agg_config *cfg);
void flow_agg_free(struct flow_agg *a);

/* A decoder's sink (struct flow_sink.event; arg: the struct flow_agg). */
int flow_agg_event(void *arg, const struct pt_flow_event *e);

/* The trace is over: calls still running end at the last event seen
 * (their time counts up to it in total, own and the profile, slices are
 * made for them; they are no completed calls: not in calls, mean or the
 * histograms). */
int flow_agg_finish(struct flow_agg *a);

/* --interval: forgets the counts, times and histograms, keeping the
 * functions, the stacks and the calls under way. */
void flow_agg_reset(struct flow_agg *a);

size_t flow_agg_n_funcs(const struct flow_agg *a);
const struct flow_agg_func *flow_agg_func(const struct flow_agg *a, uint32_t i);
/* ns from the first event to the last. */
uint64_t flow_agg_span_ns(const struct flow_agg *a);

/* The profile: cb for every distinct stack with time of its own or
 * entries (calls of its innermost function from there), in a stable order
 * (depth first, children in the order first seen). funcs lists it
 * outermost first; tid is the stack's thread with per_thread, else 0.
 * Returns the first nonzero cb result, or 0. */
int flow_agg_stacks(const struct flow_agg *a,
		    int (*cb)(void *arg, pid_t tid, const uint32_t *funcs, size_t depth,
			      uint64_t own_ns, uint64_t calls),
		    void *arg);
/* Sum of every stack's own time. */
uint64_t flow_agg_profile_total(const struct flow_agg *a);

/* The frames of the functions (Python: name, file, first line; C
 * functions: a label "name (C)"), and the thread labels of per_thread
 * stacks: what the formats name frames from. */
struct pt_intern *flow_agg_intern(const struct flow_agg *a);

#endif
