/* SPDX-License-Identifier: MIT */
/* What flow's aggregations (src/flow/aggregate.h) look like: the --count
 * table, the --latency histograms, the --profile through the output
 * formats, the Trace Event file (--trace-events) and the live status line. */
#ifndef PYTRACE_OUTPUT_FLOW_AGG_H
#define PYTRACE_OUTPUT_FLOW_AGG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "flow/aggregate.h"

enum pt_flow_sort { PT_FLOW_BY_OWN, PT_FLOW_BY_TOTAL, PT_FLOW_BY_CALLS, PT_FLOW_BY_MEAN };

/* The --count table: one row per function that ran (MEAN "-" for one whose
 * calls were all still running at the end), by key
 * (largest first; ties by name, file, line), at most top rows (0: all). */
void pt_out_flow_count(FILE *f, const struct flow_agg *a, enum pt_flow_sort by, size_t top);
/* The --latency histograms, one per function that has one, in the same
 * order. */
void pt_out_flow_latency(FILE *f, const struct flow_agg *a, enum pt_flow_sort by, size_t top);

/* The profile (own ns per distinct stack) through a format that takes
 * aggregates (output/format.h: folded, svg, speedscope, pprof), by name:
 * 0 or -errno. */
int pt_out_flow_profile(FILE *f, const char *format, const struct flow_agg *a,
			const char *title);

/* The evented timeline (every entry and exit per thread) in a format that
 * has one (speedscope's evented profiles): NULL if it has none (or out of
 * memory). */
struct pt_flow_timeline;
struct pt_flow_timeline *pt_out_flow_timeline_new(FILE *f, const char *format,
						  const struct flow_agg *a, const char *title);
/* A flow_agg_config.on_frame (arg: the struct pt_flow_timeline). */
int pt_out_flow_timeline_frame(void *arg, pid_t tid, uint32_t func, bool open, uint64_t ts);
/* Ends the file and frees t: 0 or -errno. */
int pt_out_flow_timeline_end(struct pt_flow_timeline *t);

/* The Trace Event file (Chrome's JSON, which Perfetto and chrome://tracing
 * open): one complete ("X") slice per call. */
struct pt_trace_out;
struct pt_trace_out *pt_out_trace_new(FILE *f, const struct flow_agg *a, pid_t pid,
				      const char *process_name);
/* A flow_agg_config.on_slice (arg: the struct pt_trace_out). */
int pt_out_trace_slice(void *arg, const struct flow_agg_slice *s);
/* Ends the file and frees o: 0, or -errno of the first failed write. */
int pt_out_trace_end(struct pt_trace_out *o);

/* The live status line on f (a terminal): events, rate, elapsed, drops;
 * rewritten in place. done: erase it. */
void pt_out_flow_status(FILE *f, uint64_t events, double rate, double elapsed, uint64_t dropped,
			bool done);

#endif
