/* SPDX-License-Identifier: MIT */
/* The consumer side of the agent's ring, as pure logic over a header
 * snapshot and the data area: nothing the target wrote is trusted. */
#ifndef PYTRACE_FLOW_RING_H
#define PYTRACE_FLOW_RING_H

#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"

/* The largest description payload the agent writes (agent.c MAX_PAYLOAD). */
#define FLOW_RING_MAX_PAYLOAD (256u * 1024u)
#define FLOW_RING_PUBLISH_EVERY 4096u

/* What the consumer knows for itself (it made the ring), and its place. */
struct flow_ring {
	const struct pt_ring_record *data;  /* capacity records */
	uint64_t capacity;                  /* a power of two: pytrace's value,
	                                       never the header's */
	uint64_t tail;                      /* records consumed */
	uint64_t head_seen;                 /* the last head accepted */
	uint8_t *payload;                   /* reassembly buffer (owned) */
	size_t payload_cap;
	char why[120];                      /* set when the ring lied */
};

/* Where the records go; a nonzero return stops the drain (it is returned
 * in *cb_rc and the rest is skipped). */
struct flow_ring_sink {
	int (*event)(void *arg, const struct pt_ring_record *rec);
	int (*def)(void *arg, const struct pt_ring_record *rec, const uint8_t *payload, size_t len);
	/* every FLOW_RING_PUBLISH_EVERY records: hand room back early */
	void (*progress)(void *progress_arg, uint64_t tail);
	void *arg, *progress_arg;
};

enum {
	FLOW_RING_OK = 0,
	FLOW_RING_LIED = 1,   /* ring->why says how; consume nothing more */
};

void flow_ring_init(struct flow_ring *ring, const struct pt_ring_record *data, uint64_t capacity);
void flow_ring_fini(struct flow_ring *ring);

/*
 * Processes every record in [ring->tail, head), head being a snapshot of
 * the producer's counter. Refuses (FLOW_RING_LIED, nothing consumed from
 * the bad record on) a head that went backwards or runs more than the
 * capacity ahead of the tail, an unknown record kind, a description whose
 * payload is longer than the agent ever writes or not yet all published.
 * A sink that fails (or sink NULL) makes the rest be taken off unread so
 * that the producer never waits. *cb_rc: the sink's first failure, or 0.
 * Returns FLOW_RING_OK, FLOW_RING_LIED or -ENOMEM.
 */
int flow_ring_consume(struct flow_ring *ring, uint64_t head, const struct flow_ring_sink *sink,
		      int *cb_rc);

#endif
