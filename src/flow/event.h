/* SPDX-License-Identifier: MIT */
/* The neutral flow event: what src/flow/events.c decodes the agent's
 * records into and every consumer (the line writer, the aggregations, the
 * file formats) sees; the agent's wire enum stays in the transport. */
#ifndef PYTRACE_FLOW_EVENT_H
#define PYTRACE_FLOW_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum pt_flow_event_kind {
	PT_FLOW_CALL = 1,        /* a Python function starts */
	PT_FLOW_RETURN,          /* ... returns normally */
	PT_FLOW_UNWIND,          /* ... exits by an exception */
	PT_FLOW_RESUME,          /* a generator/coroutine resumes */
	PT_FLOW_YIELD,           /* ... suspends (yield, await) */
	PT_FLOW_THROW,           /* ... resumes with an exception thrown in */
	PT_FLOW_C_CALL,          /* a builtin / C function is called */
	PT_FLOW_C_RETURN,
	PT_FLOW_C_RAISE,
};

static inline bool pt_flow_is_entry(enum pt_flow_event_kind k)
{
	return k == PT_FLOW_CALL || k == PT_FLOW_RESUME || k == PT_FLOW_THROW || k == PT_FLOW_C_CALL;
}

/* A function as events name it. Its identity is (name, file, firstlineno);
 * the other fields are caches its consumers fill (the line writer's
 * preformatted strings, pt_out_flow_fn_init; an aggregation's id). */
struct pt_flow_fn {
	char *name;              /* UTF-8 (2.7: the bytes of the str) */
	char *file;              /* NULL for builtins / C functions */
	int firstlineno;
	uint32_t agg_id;         /* the aggregation's id + 1; 0: not yet seen
	                            (one aggregation per decoder) */
	char *text_call;         /* "name (file:firstlineno)" / "name (C)" */
	size_t text_call_len;
	char *text_head;         /* "name (file:" */
	size_t text_head_len;
	char *json;              /* "function":"..","file":"..", */
	size_t json_len;
};

struct pt_flow_event {
	enum pt_flow_event_kind kind;
	pid_t tid;
	bool show_tid;           /* the thread column is wanted */
	unsigned depth;          /* call depth among the events shown */
	struct pt_flow_fn *fn;      /* consumers may fill its caches */
	int line;                /* for everything but calls; <0: unknown */
	uint64_t ts;             /* ns since the first event (0 if untimed) */
	int64_t duration;        /* ns since the matching entry, on exits; or -1 */
};

#endif
