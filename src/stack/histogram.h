/* SPDX-License-Identifier: MIT */
/* Power-of-two histograms (DTrace's quantize) with percentiles: pure, no
 * allocation, no printing (output/quantize.c prints them).
 *
 * How to use it:
 *   struct pt_hist h;
 *   pt_hist_init(&h);
 *   pt_hist_add(&h, duration_ns);            // any uint64_t value
 *   h.count, h.sum, h.min, h.max             // exact
 *   h.bucket[b] for b in [0, PT_HIST_BUCKETS): bucket 0 holds the value 0,
 *     bucket b >= 1 the values [2^(b-1), 2^b) (pt_hist_bucket_low(b))
 *   pt_hist_percentile(&h, 0.99)             // within 1/PT_HIST_SUB of the truth
 *   pt_hist_merge(&total, &h); pt_hist_init(&h) to reset.
 * DTrace's quantize rows are the buckets: value pt_hist_bucket_low(b),
 * count h.bucket[b]. Each power of two is also split into PT_HIST_SUB
 * equal sub-buckets, so that percentiles are good to 1/PT_HIST_SUB
 * (6.25 %) of the value, clipped to [min, max]. Fixed size: 4.7 KiB. */
#ifndef PYTRACE_STACK_HISTOGRAM_H
#define PYTRACE_STACK_HISTOGRAM_H

#include <stdint.h>

enum { PT_HIST_BUCKETS = 65, PT_HIST_SUB = 8 };

struct pt_hist {
	uint64_t count, sum, min, max;   /* sum saturates at UINT64_MAX */
	uint64_t bucket[PT_HIST_BUCKETS];
	/* sub[b][k]: bucket b split in PT_HIST_SUB equal parts; buckets
	 * below 4 (values 0..7) are too narrow to split and use sub[b][0]. */
	uint64_t sub[PT_HIST_BUCKETS][PT_HIST_SUB];
};

void pt_hist_init(struct pt_hist *h);
void pt_hist_add(struct pt_hist *h, uint64_t v);
/* dst += src. */
void pt_hist_merge(struct pt_hist *dst, const struct pt_hist *src);
/* The bucket of v: 0 for 0, else 1 + floor(log2 v). */
unsigned pt_hist_bucket_of(uint64_t v);
/* The smallest value of bucket b (0, 1, 2, 4, ...). */
uint64_t pt_hist_bucket_low(unsigned b);
/* The value below which a fraction p (0..1) of the values lie: the upper
 * end of the sub-bucket that holds the ceil(p * count)-th smallest value,
 * clipped to [min, max]. 0 when empty. p >= 1 gives max exactly. */
uint64_t pt_hist_percentile(const struct pt_hist *h, double p);

#endif
