/* SPDX-License-Identifier: MIT */
/* Unit tests for the ring consumer (src/flow/ring.c): records in order,
 * descriptions reassembled across the wrap, and every lie a target can
 * tell refused without reading outside the ring. */
#include "flow/ring.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define CAP 16u

struct seen {
	int events, defs;
	uint64_t last_object;
	size_t last_len;
	uint8_t payload[CAP * sizeof(struct pt_ring_record)];
	int fail_after;
	uint64_t progress;
};

static int on_event(void *arg, const struct pt_ring_record *r)
{
	struct seen *s = arg;

	s->events++;
	s->last_object = r->object;
	return s->fail_after && s->events + s->defs >= s->fail_after ? -EPIPE : 0;
}

static int on_def(void *arg, const struct pt_ring_record *r, const uint8_t *p, size_t len)
{
	struct seen *s = arg;

	s->defs++;
	s->last_object = r->object;
	s->last_len = len;
	memcpy(s->payload, p, len < sizeof(s->payload) ? len : sizeof(s->payload));
	return 0;
}

static void on_progress(void *arg, uint64_t tail)
{
	((struct seen *)arg)->progress = tail;
}

static struct pt_ring_record data[CAP];

static void put_event(uint64_t at, uint64_t object, unsigned kind)
{
	struct pt_ring_record *r = &data[at % CAP];

	memset(r, 0, sizeof(*r));
	r->object = object;
	r->kind_offset = kind | (PT_REC_NO_OFFSET << 8);
}

/* A description at `at` with len payload bytes 0, 1, 2, ...: records used. */
static uint64_t put_def(uint64_t at, uint64_t object, uint64_t len)
{
	const size_t rs = sizeof(struct pt_ring_record);

	put_event(at, object, PT_EV_DEF_NAME);
	data[at % CAP].aux = len;
	for (uint64_t i = 0; i < len; i++)
		((uint8_t *)&data[(at + 1 + i / rs) % CAP])[i % rs] = (uint8_t)i;
	return 1 + (len + rs - 1) / rs;
}

static void test_events_and_wrap(void)
{
	struct flow_ring ring;
	struct seen s = { 0 };
	struct flow_ring_sink sink = { on_event, on_def, on_progress, &s, &s };
	int cb = 0;

	flow_ring_init(&ring, data, CAP);
	for (uint64_t i = 0; i < 10; i++)
		put_event(i, 100 + i, PT_EV_CALL);
	check(flow_ring_consume(&ring, 10, &sink, &cb) == FLOW_RING_OK && s.events == 10 &&
	      ring.tail == 10 && s.last_object == 109, "ten events consumed in order");
	for (uint64_t i = 10; i < 14; i++)
		put_event(i, 100 + i, PT_EV_RETURN);
	/* a description of 70 bytes (3 payload records) across the wrap at 16 */
	uint64_t n = put_def(14, 7, 70);
	put_event(14 + n, 200, PT_EV_RETURN);
	check(flow_ring_consume(&ring, 14, &sink, &cb) == FLOW_RING_OK, "more events");
	check(flow_ring_consume(&ring, 14 + n + 1, &sink, &cb) == FLOW_RING_OK && s.defs == 1 &&
	      s.last_len == 70 && s.payload[0] == 0 && s.payload[69] == 69 && s.last_object == 200 &&
	      ring.tail == 14 + n + 1, "a description reassembled across the wrap");
	check(s.progress == 0, "no early publish below %u records", FLOW_RING_PUBLISH_EVERY);
	flow_ring_fini(&ring);
}

static void test_lies(void)
{
	struct flow_ring ring;
	struct seen s = { 0 };
	struct flow_ring_sink sink = { on_event, on_def, NULL, &s, NULL };
	int cb = 0;

	flow_ring_init(&ring, data, CAP);
	check(flow_ring_consume(&ring, CAP + 1, &sink, &cb) == FLOW_RING_LIED && ring.tail == 0 &&
	      s.events == 0, "a head more than the capacity ahead: refused, nothing read (%s)",
	      ring.why);
	check(flow_ring_consume(&ring, UINT64_MAX, &sink, &cb) == FLOW_RING_LIED,
	      "a head of 2^64-1: refused");

	flow_ring_init(&ring, data, CAP);
	for (uint64_t i = 0; i < 4; i++)
		put_event(i, i, PT_EV_CALL);
	check(flow_ring_consume(&ring, 4, &sink, &cb) == FLOW_RING_OK, "four events");
	check(flow_ring_consume(&ring, 3, &sink, &cb) == FLOW_RING_LIED,
	      "a head that went backwards: refused (%s)", ring.why);

	flow_ring_init(&ring, data, CAP);
	memset(data, 0, sizeof(data));   /* kind 0: what a zeroed ring holds */
	s.events = 0;
	check(flow_ring_consume(&ring, 5, &sink, &cb) == FLOW_RING_LIED && s.events == 0,
	      "zeroed records (kind 0) refused, none decoded: %s", ring.why);

	flow_ring_init(&ring, data, CAP);
	put_event(0, 1, 0xee);
	check(flow_ring_consume(&ring, 1, &sink, &cb) == FLOW_RING_LIED, "an unknown kind refused");

	flow_ring_init(&ring, data, CAP);
	put_def(0, 1, 40);
	data[0].aux = (uint64_t)1 << 40;
	check(flow_ring_consume(&ring, CAP, &sink, &cb) == FLOW_RING_LIED,
	      "a 1 TiB payload refused (%s)", ring.why);
	data[0].aux = FLOW_RING_MAX_PAYLOAD + 1;
	flow_ring_init(&ring, data, CAP);
	check(flow_ring_consume(&ring, CAP, &sink, &cb) == FLOW_RING_LIED,
	      "a payload above the agent's maximum refused");
	flow_ring_init(&ring, data, CAP);
	put_def(0, 1, 100);   /* 1 + 4 records */
	check(flow_ring_consume(&ring, 3, &sink, &cb) == FLOW_RING_LIED,
	      "a description whose payload is beyond the head refused (%s)", ring.why);
	flow_ring_init(&ring, data, CAP);
	put_def(0, 1, CAP * sizeof(struct pt_ring_record));
	check(flow_ring_consume(&ring, CAP, &sink, &cb) == FLOW_RING_LIED,
	      "a payload as large as the whole ring refused");
	flow_ring_fini(&ring);
}

static void test_sink_fails(void)
{
	struct flow_ring ring;
	struct seen s = { .fail_after = 2 };
	struct flow_ring_sink sink = { on_event, on_def, NULL, &s, NULL };
	int cb = 0;

	flow_ring_init(&ring, data, CAP);
	for (uint64_t i = 0; i < 8; i++)
		put_event(i, i, PT_EV_CALL);
	check(flow_ring_consume(&ring, 8, &sink, &cb) == FLOW_RING_OK && cb == -EPIPE &&
	      s.events == 2 && ring.tail == 8, "a failing sink: the rest taken off unread");
	cb = 0;
	check(flow_ring_consume(&ring, 12, NULL, &cb) == FLOW_RING_OK && ring.tail == 12,
	      "no sink: records taken off unread");
	flow_ring_fini(&ring);
}

int main(void)
{
	test_events_and_wrap();
	test_lies();
	test_sink_fails();
	return n_failed != 0;
}
