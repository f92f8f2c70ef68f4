/* SPDX-License-Identifier: MIT */
/* Power-of-two histograms with log-linear sub-buckets for percentiles. */
#include "stack/histogram.h"

#include <string.h>

void pt_hist_init(struct pt_hist *h)
{
	memset(h, 0, sizeof(*h));
}

unsigned pt_hist_bucket_of(uint64_t v)
{
	return v ? 64u - (unsigned)__builtin_clzll(v) : 0;
}

uint64_t pt_hist_bucket_low(unsigned b)
{
	return b == 0 ? 0 : 1ull << (b - 1);
}

/* Sub-bucket of v inside bucket b: the PT_HIST_SUB-th of the power of two
 * that v lies in (buckets too narrow to split use sub-bucket 0). */
static unsigned hist_sub_of(uint64_t v, unsigned b)
{
	if (b < 4)
		return 0;
	/* The 3 bits after the leading one. */
	return (unsigned)((v >> (b - 4)) & (PT_HIST_SUB - 1));
}

/* The largest value of sub-bucket k of bucket b. */
static uint64_t hist_sub_high(unsigned b, unsigned k)
{
	if (b == 0)
		return 0;
	if (b < 4)
		return (1ull << b) - 1;
	uint64_t low = 1ull << (b - 1), width = 1ull << (b - 4);
	return low + width * (k + 1) - 1;
}

void pt_hist_add(struct pt_hist *h, uint64_t v)
{
	unsigned b = pt_hist_bucket_of(v);

	if (!h->count || v < h->min)
		h->min = v;
	if (!h->count || v > h->max)
		h->max = v;
	h->count++;
	h->sum = h->sum + v < h->sum ? UINT64_MAX : h->sum + v;
	h->bucket[b]++;
	h->sub[b][hist_sub_of(v, b)]++;
}

void pt_hist_merge(struct pt_hist *dst, const struct pt_hist *src)
{
	if (!src->count)
		return;
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (!dst->count || src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum = dst->sum + src->sum < dst->sum ? UINT64_MAX : dst->sum + src->sum;
	for (unsigned b = 0; b < PT_HIST_BUCKETS; b++) {
		dst->bucket[b] += src->bucket[b];
		for (unsigned k = 0; k < PT_HIST_SUB; k++)
			dst->sub[b][k] += src->sub[b][k];
	}
}

uint64_t pt_hist_percentile(const struct pt_hist *h, double p)
{
	if (!h->count)
		return 0;
	if (p >= 1.0)
		return h->max;
	if (p < 0)
		p = 0;
	/* The rank of the value asked for, 1-based. */
	uint64_t rank = (uint64_t)(p * (double)h->count);
	if ((double)rank < p * (double)h->count || rank == 0)
		rank++;
	uint64_t seen = 0;
	for (unsigned b = 0; b < PT_HIST_BUCKETS; b++) {
		if (!h->bucket[b])
			continue;
		for (unsigned k = 0; k < PT_HIST_SUB; k++) {
			seen += h->sub[b][k];
			if (seen >= rank) {
				uint64_t v = hist_sub_high(b, k);
				return v < h->min ? h->min : v > h->max ? h->max : v;
			}
		}
	}
	return h->max;
}
