/* SPDX-License-Identifier: MIT */
/* Formatters: the only code that writes what pytrace shows. Each writes to
 * the FILE* it is given. */
#ifndef PYTRACE_OUTPUT_OUTPUT_H
#define PYTRACE_OUTPUT_OUTPUT_H

#include <errno.h>
#include "output/escape.h"
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "pytrace/pytrace.h"
#include "output/format.h"
#include "stack/aggregate.h"
#include "stack/event.h"

/* Where dump and stacks write: f, a FILE over fd whose first failed write
 * is kept in error (an errno). name: the -o FILE, or NULL for standard
 * output. When *interrupted is set, a write that a signal interrupts gives
 * up (error EINTR) instead of being retried. After a failure nothing more
 * is written. */
struct pt_out_file {
	FILE *f;
	int fd;
	bool own_fd;                 /* closed by pt_out_file_close */
	const char *name;
	int error;
	volatile sig_atomic_t *interrupted;
};
/* 0, or -ENOMEM (fd is closed then if owned). */
int pt_out_file_open(struct pt_out_file *o, int fd, bool own_fd, const char *name,
		     volatile sig_atomic_t *interrupted);
/* Flushes: 0, or -errno of the first failure so far. */
int pt_out_file_flush(struct pt_out_file *o);
/* Flushes and closes (fd too, when owned; close's error counts): 0, or
 * -errno of the first failure. */
int pt_out_file_close(struct pt_out_file *o);

/* How stacks print, set once by the command line: at most depth frames
 * (innermost first; 0: all), and in text identical consecutive frames
 * (recursion) printed once with a count (collapse). */
struct pt_out_stack_style {
	size_t depth;
	bool collapse;
};
extern struct pt_out_stack_style pt_out_style;

/* One frame, as text, without indentation or newline. */
/* A name from the target, escaped (output/escape.h). */
void pt_out_text_name(FILE *f, const char *s);
void pt_out_text_pyframe(FILE *f, const struct pt_pyframe *fr);
void pt_out_text_native_frame(FILE *f, const struct pt_native_frame *fr);
/* What a thread was doing: " [running]", " [idle: read]", " [waiting for
 * the GIL]" (nothing when unknown); its JSON name ("running", "idle",
 * "gil_wait", or NULL). */
void pt_out_text_activity(FILE *f, const struct pt_thread *t);
const char *pt_out_activity_name(enum pt_thread_activity a);
/* A thread's stack: Python frames (indent 2), or with native the merged
 * stack (native indent 2, Python frames in brackets indent 4); when the
 * merge fails, "(not merged: why)" and both stacks. */
void pt_out_text_stack(FILE *f, const struct pt_thread *t, bool native, const char *indent);

/* JSON pieces. Strings are escaped; bytes that are not UTF-8 become
 * \u00XX (as Latin-1). */
void pt_out_json_string(FILE *f, const char *s);
void pt_out_json_frames(FILE *f, const struct pt_thread *t, bool native);

/* pytrace dump. pt_out_dump_index: which dump of a --repeat this is (1..),
 * or 0 for a single dump; JSON objects carry it as "dump". */
extern unsigned long pt_out_dump_index;
void pt_out_dump_text(FILE *f, const struct pt_python_info *py, const struct pt_snapshot *snap,
		      bool native);
void pt_out_dump_json(FILE *f, const struct pt_python_info *py, const struct pt_snapshot *snap,
		      bool native);

/* pytrace dump --tasks: a tree per event loop (each task, its await chain
 * innermost first, the tasks it waits for under it), or one JSON object
 * per task (one {"tasks":0} object when there is none). */
void pt_out_tasks_text(FILE *f, const struct pt_python_info *py, const struct pt_tasks *ts);
void pt_out_tasks_json(FILE *f, const struct pt_python_info *py, const struct pt_tasks *ts);

/* pytrace stacks: one call as strace prints it ("name(args) = ret"), one
 * event (that line after a timestamp and pid/tid, then the stack), one
 * event as a JSON object. */
void pt_out_syscall_text(FILE *f, const struct pt_syscall *sc);
/* The call without its return: "name(args". */
void pt_out_syscall_call_text(FILE *f, const struct pt_syscall *sc);
void pt_out_stacks_event_text(FILE *f, const struct pt_syscall_event *ev);
void pt_out_stacks_event_json(FILE *f, const struct pt_syscall_event *ev);
/* The first line of --count text: how many stacks, in which order. */
void pt_out_stacks_agg_header(FILE *f, size_t shown, size_t distinct, bool most_first);
/* --count's end: a totals line (events, distinct stacks, errors) and the
 * per-system-call table strace -c prints (time is from entry to return as
 * the tracer saw it), as text or as one JSON object. */
void pt_out_stacks_summary_text(FILE *f, const struct pt_out_syscall_row *rows, size_t n,
				uint64_t events, size_t distinct);
/* Aggregated stacks (format modules share these): a stack's frames as
 * text lines indented by two (without the leaf label; recursion
 * collapsed), root-first folded frames (no count), one frame as dump
 * --json's object (labels and notes as strings). */
void pt_out_text_agg_frames(FILE *f, const struct pt_intern *in, pt_stack_id stack);
void pt_out_folded_stack(FILE *f, const struct pt_intern *in, pt_stack_id stack);
void pt_out_json_frame(FILE *f, const struct pt_frame *fr);
/* A histogram as DTrace's quantize (value, '@' bars, count) and a line
 * "count N  p50 ..  p90 ..  p99 ..  max ..  (unit)"; as JSON, a
 * ,"histogram":{...} member. */
void pt_out_quantize_text(FILE *f, const struct pt_hist *h, const char *unit);
void pt_out_quantize_json(FILE *f, const struct pt_hist *h);
void pt_out_stacks_summary_json(FILE *f, const struct pt_out_syscall_row *rows, size_t n,
				uint64_t events, size_t distinct);

#endif
