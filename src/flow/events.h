/* SPDX-License-Identifier: MIT */
/* Turns the agent's records into flow lines: code descriptions, per-thread
 * call depth, the --within/--file/--function filters, line numbers,
 * durations. Pure: no target access, no I/O except through output/. */
#ifndef PYTRACE_FLOW_EVENTS_H
#define PYTRACE_FLOW_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "flow/flow.h"
#include "flow/event.h"
#include "output/flow.h"
#include "python/linetable.h"

struct flow_events;

/* Where the decoded events go (struct pt_flow_event, src/flow/event.h):
 * the line writer, or an aggregation (src/flow/aggregate.h). event returns
 * 0 or -errno, which ends the decoding of the batch. */
struct flow_sink {
	int (*event)(void *arg, const struct pt_flow_event *e);
	void *arg;
	bool lines;              /* exits need their line (decoded line tables) */
};

/* opt's filter fields are used (and must outlive the decoder); events go
 * to sink (copied). */
struct flow_events *flow_events_new(const struct flow_options *opt,
				    enum pyv_linetable_kind table_kind,
				    const struct flow_sink *sink);
void flow_events_free(struct flow_events *ev);

/* Thread ids in records are the target's own (the innermost PID namespace
 * it lives in); map, if set, turns one into the id shown, once per thread. */
void flow_events_set_tid_map(struct flow_events *ev, int32_t (*map)(void *arg, int32_t tid),
			     void *arg);

/* A description record and its payload bytes (payload_len == rec->aux). */
int flow_events_def(struct flow_events *ev, const struct pt_ring_record *rec,
		    const uint8_t *payload, size_t payload_len);
/* One event record. */
int flow_events_event(struct flow_events *ev, const struct pt_ring_record *rec);

/* The --function rule: NAME matches a function called qualname, or whose
 * last dotted part is NAME ("Repo.clone" is matched by "clone"). */
bool flow_name_matches(const char *qualname, const char *want);

uint64_t flow_events_count(const struct flow_events *ev);
uint64_t flow_events_lines(const struct flow_events *ev);

#endif
