/* SPDX-License-Identifier: MIT */
/* The lines of `pytrace flow`, as text or JSON, through a buffered writer
 * fast enough for millions of lines a second. */
#ifndef PYTRACE_OUTPUT_FLOW_H
#define PYTRACE_OUTPUT_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A function as lines name it; the strings are preformatted once, when
 * pt_out_flow_fn_init sees it first. */
struct pt_flow_fn {
	char *name;              /* UTF-8 (2.7: the bytes of the str) */
	char *file;              /* NULL for builtins / C functions */
	int firstlineno;
	char *text_call;         /* "name (file:firstlineno)" / "name (C)" */
	size_t text_call_len;
	char *text_head;         /* "name (file:" */
	size_t text_head_len;
	char *json;              /* "function":"..","file":"..", */
	size_t json_len;
};

/* PT_EV_* kinds (src/agent/agent.h), as the line's event. */
struct pt_flow_line {
	unsigned kind;
	pid_t tid;
	bool show_tid;
	unsigned depth;          /* indentation level */
	const struct pt_flow_fn *fn;
	int line;                /* for everything but calls; <0: unknown */
	uint64_t ts;             /* ns since the first event (timestamps) */
	int64_t duration;        /* ns on exits (durations), or -1 */
};

struct pt_flow_out;

/* Writes to fd. flat: no indentation. */
struct pt_flow_out *pt_out_flow_new(int fd, bool json, bool timestamps, bool durations, bool flat);
/* Lines written once *stop is set may be dropped: an output that takes
 * nothing for a second from then on is given up (error EINTR), so that a
 * reader that does not read cannot hold pytrace (and the target) forever. */
void pt_out_flow_set_stop(struct pt_flow_out *o, volatile int *stop);
/* Flushes, then frees; returns -errno if any write failed. */
int pt_out_flow_free(struct pt_flow_out *o);
/* Fills the preformatted strings of fn (name/file set): 0 or -ENOMEM. */
int pt_out_flow_fn_init(struct pt_flow_fn *fn);
void pt_out_flow_fn_fini(struct pt_flow_fn *fn);
/* One line; 0, or -errno once the output has failed (EPIPE: the reader
 * went away; EINTR: given up while stopping), after which lines are
 * dropped. */
int pt_out_flow_line(struct pt_flow_out *o, const struct pt_flow_line *l);
int pt_out_flow_flush(struct pt_flow_out *o);
/* The errno of the failure that ended the output, or 0. */
int pt_out_flow_error(const struct pt_flow_out *o);

#endif
