/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the ring consumer: arbitrary bytes as the data
 * area of a 64-record ring and a sequence of heads; no read may leave
 * the ring, and a refused ring is never read again. */
#include "flow/ring.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAP 64u

static int on_event(void *arg, const struct pt_ring_record *r)
{
	(void)arg;
	return r->object == 0xdead ? -1 : 0;
}

static int on_def(void *arg, const struct pt_ring_record *r, const uint8_t *p, size_t len)
{
	volatile uint8_t sum = 0;

	(void)arg;
	(void)r;
	for (size_t i = 0; i < len; i++)
		sum ^= p[i];   /* touches every payload byte: ASan checks them */
	return 0;
}

static void on_progress(void *arg, uint64_t tail)
{
	(void)arg;
	(void)tail;
}

/* Input: one byte k (heads to offer, up to 16), k signed 16-bit head
 * steps (backwards and past the capacity included), then the data area. */
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	/* exactly CAP records on the heap, so ASan sees any read past them */
	struct pt_ring_record *data = malloc(CAP * sizeof(*data));
	size_t n = CAP * sizeof(*data), k, used;
	struct flow_ring ring;
	struct flow_ring_sink sink = { on_event, on_def, on_progress, NULL, NULL };
	uint64_t head = 0;

	if (!data || size < 1) {
		free(data);
		return 0;
	}
	k = in[0] % 17;
	used = 1 + 2 * k;
	if (size < used) {
		free(data);
		return 0;
	}
	memset(data, 0, n);
	memcpy(data, in + used, size - used < n ? size - used : n);
	flow_ring_init(&ring, data, CAP);
	for (size_t i = 0; i < k; i++) {
		int16_t step;
		int cb = 0;
		memcpy(&step, in + 1 + 2 * i, 2);
		head += (uint64_t)(int64_t)step;
		int rc = flow_ring_consume(&ring, head, &sink, &cb);
		if (rc != FLOW_RING_OK)
			break;
		if (ring.tail != head)
			abort();   /* an accepted ring is drained exactly to its head */
	}
	flow_ring_fini(&ring);
	free(data);
	return 0;
}
