/* SPDX-License-Identifier: MIT */
/* Drains the agent's ring with every index and length the target wrote
 * checked before use. */
#include "flow/ring.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void flow_ring_init(struct flow_ring *ring, const struct pt_ring_record *data, uint64_t capacity)
{
	memset(ring, 0, sizeof(*ring));
	ring->data = data;
	ring->capacity = capacity;
}

void flow_ring_fini(struct flow_ring *ring)
{
	free(ring->payload);
	ring->payload = NULL;
	ring->payload_cap = 0;
}

static int ring_lied(struct flow_ring *ring, const char *what, uint64_t v)
{
	snprintf(ring->why, sizeof(ring->why), "%s (%llu)", what, (unsigned long long)v);
	return FLOW_RING_LIED;
}

static bool ring_kind_known(unsigned kind)
{
	return (kind >= PT_EV_CALL && kind <= PT_EV_C_RAISE) || kind == PT_EV_DEF_CODE ||
	       kind == PT_EV_DEF_NAME;
}

int flow_ring_consume(struct flow_ring *ring, uint64_t head, const struct flow_ring_sink *sink,
		      int *cb_rc)
{
	const size_t rs = sizeof(struct pt_ring_record);
	const uint64_t mask = ring->capacity - 1;
	uint64_t tail = ring->tail, batch = 0;

	/* Unsigned: a head behind the tail is a huge distance too. */
	if (head < ring->head_seen)
		return ring_lied(ring, "the ring's head went backwards", ring->head_seen - head);
	if (head - tail > ring->capacity)
		return ring_lied(ring, "the ring's head is more records ahead than it holds",
				 head - tail);
	ring->head_seen = head;
	while (tail != head) {
		/* Copied once: the target may change it under us. */
		struct pt_ring_record r = ring->data[tail & mask];
		unsigned kind = PT_REC_KIND(&r);
		if (*cb_rc != 0 || !sink) {
			/* The output failed (its reader went away) or there is
			 * no decoder: what is left cannot be printed, but must
			 * still be taken off the ring so that the producer never
			 * waits and the drain ends. */
			tail = head;
			break;
		}
		if (!ring_kind_known(kind)) {
			ring->tail = tail;
			return ring_lied(ring, "a record of unknown kind", kind);
		}
		if (sink->progress && ++batch % FLOW_RING_PUBLISH_EVERY == 0)
			sink->progress(sink->progress_arg, tail);
		if (kind < PT_EV_DEF_CODE) {
			*cb_rc = sink->event(sink->arg, &r);
			tail++;
			continue;
		}
		uint64_t len = r.aux, nrec = 1 + (len + rs - 1) / rs;
		if (len > FLOW_RING_MAX_PAYLOAD || len > ring->capacity * rs) {
			ring->tail = tail;
			return ring_lied(ring, "a description longer than the agent writes", len);
		}
		if (nrec > head - tail) {
			/* The agent publishes a description and its payload at
			 * once: a head inside one is a lie. */
			ring->tail = tail;
			return ring_lied(ring, "a description beyond the ring's head", nrec);
		}
		if (len > ring->payload_cap) {
			uint8_t *p = realloc(ring->payload, len);
			if (!p) {
				ring->tail = tail;
				return -ENOMEM;
			}
			ring->payload = p;
			ring->payload_cap = len;
		}
		for (uint64_t k = 0; k * rs < len; k++) {
			size_t n = len - k * rs < rs ? (size_t)(len - k * rs) : rs;
			memcpy(ring->payload + k * rs, &ring->data[(tail + 1 + k) & mask], n);
		}
		*cb_rc = sink->def(sink->arg, &r, ring->payload, (size_t)len);
		tail += nrec;
	}
	ring->tail = tail;
	return FLOW_RING_OK;
}
