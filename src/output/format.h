/* SPDX-License-Identifier: MIT */
/* Output formats behind one small interface (begin, event, aggregate,
 * end): one file per format (src/output/fmt-*.c), found by name, used by
 * dump, stacks and flow alike. A new format is one new file and one line
 * in format.c's table.
 *
 * How to use it:
 *   const struct pt_format *fmt = pt_format_find("speedscope");
 *   struct pt_sink *s;
 *   struct pt_sink_opts so = { .in = intern, .title = "pytrace stacks",
 *                              .count_unit = "syscalls" };
 *   if (pt_sink_open(&s, fmt, file, &so) < 0) ...          // calls begin
 *   // streamed records (dump's snapshot, stacks' events, flow's timeline):
 *   pt_sink_event(s, &(struct pt_fmt_event){ .kind = PT_FMT_EV_ENTER,
 *                 .call = { .tid = tid, .ts = ns, .frame = id } });
 *   // or one aggregation, in the order to show:
 *   pt_sink_aggregate(s, &(struct pt_fmt_aggregate){ .in = intern, .v = v, .n = n, ... });
 *   rc = pt_sink_close(s);   // calls end, frees; 0 or -errno
 * A format that has no form for a kind of record returns -ENOTSUP from it
 * (pt_format_supports() asks first). Formats write only to the FILE * they
 * are given; the caller owns it and sees write errors through it. */
#ifndef PYTRACE_OUTPUT_FORMAT_H
#define PYTRACE_OUTPUT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "pytrace/pytrace.h"
#include "stack/aggregate.h"
#include "stack/event.h"
#include "stack/intern.h"

/* A streamed record. */
struct pt_fmt_event {
	enum {
		PT_FMT_EV_SNAPSHOT,  /* dump: every thread of a process */
		PT_FMT_EV_SYSCALL,   /* stacks: one traced call */
		PT_FMT_EV_ENTER,     /* flow timeline: frame entered at ts */
		PT_FMT_EV_EXIT,      /* flow timeline: frame left at ts */
		PT_FMT_EV_THREAD,    /* flow timeline: a thread's name */
	} kind;
	union {
		struct {
			const struct pt_python_info *py;  /* NULL: not Python */
			const struct pt_snapshot *snap;
			bool native;
		} dump;
		const struct pt_syscall_event *syscall;
		struct {
			pid_t tid;
			uint64_t ts;         /* ns from any fixed origin, per thread non-decreasing */
			pt_frame_id frame;   /* in the sink's intern table */
			const char *name;    /* THREAD only */
		} call;
	};
};

/* The strace -c table of `stacks --count` (time is entry to return). */
struct pt_out_syscall_row {
	const char *name;
	uint64_t calls, errors, ns;
};

/* One aggregation, to show in the order given. */
struct pt_fmt_aggregate {
	const struct pt_intern *in;
	const struct pt_agg_entry *const *v;
	size_t n;
	size_t distinct;          /* distinct stacks in all (v may be the top n) */
	bool most_first;          /* the order of v, for the text header */
	bool has_time;            /* entries' ns is a second sample type (-T) */
	bool by_time;             /* ns is the first weight (flow --profile: the
				   * flame graph's widths, pprof's default sample
				   * type, speedscope's first profile); implies
				   * has_time */
	bool latency;             /* entries carry histograms: text shows quantize */
	/* stacks --count's summary, or rows NULL. */
	const struct pt_out_syscall_row *rows;
	size_t nrows;
	uint64_t events;
};

struct pt_sink_opts {
	const struct pt_intern *in;  /* frames of ENTER/EXIT records */
	const char *title;           /* a profile's name (SVG title, speedscope name) */
	const char *count_unit;      /* what a count counts: "syscalls", "calls" */
	const char *time_unit_name;  /* the second sample type's name: "time" */
};

struct pt_sink;

enum {
	PT_FMT_EVENTS = 1u << 0,     /* SNAPSHOT and SYSCALL records */
	PT_FMT_TIMELINE = 1u << 1,   /* ENTER / EXIT / THREAD records */
	PT_FMT_AGGREGATE = 1u << 2,  /* pt_sink_aggregate */
	PT_FMT_BINARY = 1u << 3,     /* writes bytes: wants a file, not a terminal */
};

struct pt_format {
	const char *name;
	unsigned caps;
	int (*begin)(struct pt_sink *s);
	int (*event)(struct pt_sink *s, const struct pt_fmt_event *ev);
	int (*aggregate)(struct pt_sink *s, const struct pt_fmt_aggregate *a);
	int (*end)(struct pt_sink *s);
	void (*free_priv)(struct pt_sink *s);  /* on close, after end (may be NULL) */
};

/* What a format's functions see. */
struct pt_sink {
	const struct pt_format *fmt;
	FILE *f;
	struct pt_sink_opts o;
	void *priv;                  /* the format's own state */
};

/* By name: text, json, folded, svg, speedscope, pprof; or NULL. */
const struct pt_format *pt_format_find(const char *name);
bool pt_format_supports(const struct pt_format *fmt, unsigned caps);

/* 0, or -errno (-ENOMEM) with nothing open. */
int pt_sink_open(struct pt_sink **out, const struct pt_format *fmt, FILE *f,
		 const struct pt_sink_opts *o);
int pt_sink_event(struct pt_sink *s, const struct pt_fmt_event *ev);
int pt_sink_aggregate(struct pt_sink *s, const struct pt_fmt_aggregate *a);
/* Ends the output and frees the sink (NULL: nothing): 0, or the first
 * -errno a call of the format returned. The FILE is not closed. */
int pt_sink_close(struct pt_sink *s);

/* A frame as text ("func (file:line)", "mod`sym+0xoff", the label or
 * note), into buf (always terminated; cut to size). Used by the formats
 * that name frames (folded, svg, speedscope, pprof). */
void pt_fmt_frame_name(const struct pt_frame *fr, char *buf, size_t size);

/* The formats (fmt-*.c). */
extern const struct pt_format pt_format_text, pt_format_json, pt_format_folded,
	pt_format_svg, pt_format_speedscope, pt_format_pprof;

#endif
