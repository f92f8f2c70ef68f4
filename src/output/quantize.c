/* SPDX-License-Identifier: MIT */
/* A histogram (stack/histogram.h) as DTrace prints quantize(): value, a
 * bar of up to 40 '@', count; then the percentiles. Shared by stacks
 * --latency and flow --latency. */
#include <inttypes.h>

#include "output/output.h"

enum { QUANTIZE_BARS = 40 };

/* DTrace's layout (dt_print_quantize: "%16s %41s %-9s" header, then
 * "%16lld |" bar " %-9lld" rows), without its trailing blanks; rows from
 * one zero row below the smallest bucket used to one above the largest. */
void pt_out_quantize_text(FILE *f, const struct pt_hist *h, const char *unit)
{
	unsigned lo = 0, hi = 0;
	bool any = false;

	for (unsigned b = 0; b < PT_HIST_BUCKETS; b++) {
		if (!h->bucket[b])
			continue;
		if (!any)
			lo = b;
		hi = b;
		any = true;
	}
	if (!any) {
		fputs("  (no values)\n", f);
		return;
	}
	if (lo > 0)
		lo--;
	if (hi + 1 < PT_HIST_BUCKETS)
		hi++;
	fprintf(f, "%16s %41s %s\n", "value", "------------- Distribution -------------", "count");
	for (unsigned b = lo; b <= hi; b++) {
		uint64_t n = h->bucket[b];
		unsigned depth = (unsigned)((double)n * QUANTIZE_BARS / (double)h->count + 0.5);
		fprintf(f, "%16" PRIu64 " |%.*s%*s %" PRIu64 "\n", pt_hist_bucket_low(b), (int)depth,
			"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@", (int)(QUANTIZE_BARS - depth), "", n);
	}
	fprintf(f, "  count %" PRIu64 "  p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  max %" PRIu64
		"  (%s)\n", h->count, pt_hist_percentile(h, 0.50), pt_hist_percentile(h, 0.90),
		pt_hist_percentile(h, 0.99), h->max, unit);
}

/* ,"histogram":{"count":..,"min","max","sum","p50","p90","p99",
 * "buckets":[[low, count], ...]} (used buckets only). */
void pt_out_quantize_json(FILE *f, const struct pt_hist *h)
{
	bool first = true;

	fprintf(f, ",\"histogram\":{\"count\":%" PRIu64 ",\"min\":%" PRIu64 ",\"max\":%" PRIu64
		",\"sum\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
		",\"buckets\":[", h->count, h->min, h->max, h->sum, pt_hist_percentile(h, 0.50),
		pt_hist_percentile(h, 0.90), pt_hist_percentile(h, 0.99));
	for (unsigned b = 0; b < PT_HIST_BUCKETS; b++) {
		if (!h->bucket[b])
			continue;
		fprintf(f, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", pt_hist_bucket_low(b),
			h->bucket[b]);
		first = false;
	}
	fputs("]}", f);
}
