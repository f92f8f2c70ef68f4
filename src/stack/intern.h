/* SPDX-License-Identifier: MIT */
/* Frame and stack interning: the one place that turns frames into small
 * integer identities, so that aggregations key on frame-id vectors and
 * formatters symbolise only when they print.
 *
 * How to use it:
 *   struct pt_intern *in = pt_intern_new();
 *   pt_stack_id s;
 *   // a stack read by pt_thread_stack(): merged with native frames (or
 *   // both stacks and a note when the merge fails), cut to depth, with a
 *   // leaf label (the syscall name) innermost:
 *   pt_intern_thread(in, thread, native, depth, "write", NULL, &s);
 *   // or frame by frame (flow: Python functions by first line):
 *   struct pt_frame fr = { .kind = PT_FRAME_PYTHON, .function = "f",
 *                          .file = "a.py", .line = 3 };
 *   pt_frame_id ids[2];
 *   pt_intern_frame(in, &fr, &ids[0]);  ...
 *   pt_intern_stack(in, ids, 2, 0, &s);    // ids innermost first
 *   // later, to print: pt_intern_stack_get(in, s, &n) and
 *   // pt_intern_frame_get(in, id) give the frames back.
 *   pt_intern_free(in);
 * Strings are copied into the table; ids are dense (0, 1, 2, ...) and stay
 * valid until pt_intern_free. Memory grows with distinct frames and
 * distinct stacks only. */
#ifndef PYTRACE_STACK_INTERN_H
#define PYTRACE_STACK_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pytrace/pytrace.h"

typedef uint32_t pt_frame_id;
typedef uint32_t pt_stack_id;

enum pt_frame_kind {
	PT_FRAME_PYTHON,      /* function, file, line (-1: unknown) */
	PT_FRAME_UNREADABLE,  /* a Python frame that could not be read: addr */
	PT_FRAME_NATIVE,      /* module, symbol (either may be NULL), offset, pc */
	PT_FRAME_LABEL,       /* a leaf that is no code: a syscall name (function) */
	PT_FRAME_NOTE,        /* a remark, "(no Python frames)" (function holds
			       * the text with its parentheses); formats that
			       * draw frames leave notes out */
};

struct pt_frame {
	enum pt_frame_kind kind;
	const char *function; /* PYTHON: qualified name; LABEL, NOTE: the text */
	const char *file;     /* PYTHON */
	int line;             /* PYTHON: line, or first line for flow; -1 none */
	const char *module;   /* NATIVE: file base name, or NULL */
	const char *symbol;   /* NATIVE: symbol, or NULL */
	uint64_t offset;      /* NATIVE: from the symbol, or the module base */
	uint64_t pc;          /* NATIVE without module: the address; UNREADABLE: addr */
};

/* Stack flags. MERGED: Python frames sit among native ones (text shows
 * them bracketed, as dump --native). */
enum { PT_STACK_MERGED = 1u << 0 };

struct pt_intern;

struct pt_intern *pt_intern_new(void);
void pt_intern_free(struct pt_intern *in);

/* The id of fr, added when new (its strings copied). 0 or -ENOMEM. */
int pt_intern_frame(struct pt_intern *in, const struct pt_frame *fr, pt_frame_id *id);
/* The id of the stack ids[0..n) (innermost first) with flags. 0 or -ENOMEM. */
int pt_intern_stack(struct pt_intern *in, const pt_frame_id *ids, size_t n, unsigned flags,
		    pt_stack_id *id);

/* One thread's stack as every formatter shows it, merged once here:
 * with native, the merged stack (pt_stack_merge), or when the merge fails
 * a note "(not merged: why)", the Python frames, then the native ones;
 * without, the Python frames or "(no Python frames)". At most depth frames
 * (0: all) with a note "... (N more frames: --depth D)"; notes for
 * incomplete stacks. leaf (or NULL): a LABEL frame put innermost, before
 * everything (the syscall name). thread NULL: no_stack says why, as a
 * note "(no stack: why)". 0 or -ENOMEM. */
int pt_intern_thread(struct pt_intern *in, const struct pt_thread *thread, bool native,
		     size_t depth, const char *leaf, const char *no_stack, pt_stack_id *id);

/* The same for ids given root first (outermost first), as a call stack
 * that grows at its end holds them: the same id as pt_intern_stack of the
 * reversed vector, without making one. 0 or -ENOMEM. */
int pt_intern_stack_root_first(struct pt_intern *in, const pt_frame_id *ids, size_t n,
			       unsigned flags, pt_stack_id *id);

const struct pt_frame *pt_intern_frame_get(const struct pt_intern *in, pt_frame_id id);
/* The frame ids of a stack, innermost first; *flags (or NULL) its flags. */
const pt_frame_id *pt_intern_stack_get(const struct pt_intern *in, pt_stack_id id, size_t *n,
				       unsigned *flags);
size_t pt_intern_nframes(const struct pt_intern *in);
size_t pt_intern_nstacks(const struct pt_intern *in);

/* Orders frames by content (kind, then strings and numbers): the ties of
 * an aggregation's sort, so that output order never depends on ids. */
int pt_frame_cmp(const struct pt_frame *a, const struct pt_frame *b);
/* Stacks by content, frame by frame, innermost first. */
int pt_intern_stack_cmp(const struct pt_intern *in, pt_stack_id a, pt_stack_id b);

#endif
