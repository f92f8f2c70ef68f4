/* SPDX-License-Identifier: MIT */
/* Unit tests for the power-of-two histogram (stack/histogram.c) and its
 * DTrace quantize layout (output/quantize.c, golden file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "stack/histogram.h"

#include "check.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_buckets(void)
{
	check(pt_hist_bucket_of(0) == 0 && pt_hist_bucket_of(1) == 1 && pt_hist_bucket_of(2) == 2 &&
	      pt_hist_bucket_of(3) == 2 && pt_hist_bucket_of(4) == 3 && pt_hist_bucket_of(1023) == 10 &&
	      pt_hist_bucket_of(1024) == 11 && pt_hist_bucket_of(UINT64_MAX) == 64,
	      "bucket of: 0 | 1 | 2-3 | 4-7 ... | 2^63..");
	check(pt_hist_bucket_low(0) == 0 && pt_hist_bucket_low(1) == 1 && pt_hist_bucket_low(11) == 1024 &&
	      pt_hist_bucket_low(64) == 1ull << 63, "bucket low: 0, 1, 1024, 2^63");
	struct pt_hist h;
	pt_hist_init(&h);
	check(pt_hist_percentile(&h, 0.5) == 0 && h.count == 0, "empty: percentile 0");
	uint64_t vals[] = { 0, 1, 5, 1000, 1023, 1024, 1 << 20, UINT64_MAX };
	for (size_t i = 0; i < 8; i++)
		pt_hist_add(&h, vals[i]);
	check(h.count == 8 && h.min == 0 && h.max == UINT64_MAX && h.sum == UINT64_MAX &&
	      h.bucket[0] == 1 && h.bucket[1] == 1 && h.bucket[3] == 1 && h.bucket[10] == 2 &&
	      h.bucket[11] == 1 && h.bucket[21] == 1 && h.bucket[64] == 1,
	      "add: each value in its bucket, min/max exact, sum saturates");
}

/* Percentiles against the exact sorted values: within 1/PT_HIST_SUB. */
static void test_percentiles(void)
{
	enum { N = 20000 };
	static uint64_t v[N];
	struct pt_hist h, a, b;
	uint64_t seed = 88172645463325252ull;

	pt_hist_init(&h);
	pt_hist_init(&a);
	pt_hist_init(&b);
	for (int i = 0; i < N; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		v[i] = (seed % 5000000) + (i % 3 ? 0 : seed % 900);  /* spread over octaves */
		pt_hist_add(&h, v[i]);
		pt_hist_add(i % 2 ? &a : &b, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp_u64);
	const double ps[] = { 0.0, 0.5, 0.9, 0.99, 0.999 };
	bool ok = true;
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		size_t rank = (size_t)(ps[k] * N + 0.999999);
		uint64_t exact = v[rank ? rank - 1 : 0], got = pt_hist_percentile(&h, ps[k]);
		if (got < exact || (double)got > (double)exact * (1.0 + 1.0 / PT_HIST_SUB) + 8) {
			ok = false;
			printf("# p%g: exact %llu got %llu\n", ps[k] * 100, (unsigned long long)exact,
			       (unsigned long long)got);
		}
	}
	check(ok, "percentiles within 1/%d above the exact value", PT_HIST_SUB);
	check(pt_hist_percentile(&h, 1.0) == v[N - 1], "p100 is the max");
	pt_hist_merge(&a, &b);
	check(!memcmp(&a, &h, sizeof(h)), "merge of two halves equals the whole");
	/* Small values are exact. */
	struct pt_hist s;
	pt_hist_init(&s);
	for (int i = 0; i < 10; i++)
		pt_hist_add(&s, 3);
	check(pt_hist_percentile(&s, 0.5) == 3 && pt_hist_percentile(&s, 0.99) == 3,
	      "a single value: every percentile is it");
}

static void test_quantize_golden(void)
{
	struct pt_hist h;
	char *buf = NULL, want[4096];
	size_t len = 0;

	pt_hist_init(&h);
	/* 1 ms sleeps and a few fast calls, as fsync/nanosleep would show. */
	for (int i = 0; i < 30; i++)
		pt_hist_add(&h, 1000000 + (uint64_t)i * 3000);
	for (int i = 0; i < 8; i++)
		pt_hist_add(&h, 2000 + (uint64_t)i * 100);
	pt_hist_add(&h, 40000000);
	FILE *m = open_memstream(&buf, &len);
	pt_out_quantize_text(m, &h, "ns");
	fclose(m);
	FILE *g = fopen("tests/unit/golden/quantize.txt", "r");
	size_t glen = g ? fread(want, 1, sizeof(want) - 1, g) : 0;
	if (g)
		fclose(g);
	want[glen] = 0;
	check(g && glen == len && !memcmp(want, buf, len), "quantize text matches tests/unit/golden/quantize.txt");
	if (!g || glen != len || memcmp(want, buf, len))
		printf("# got:\n%s", buf);
	free(buf);
}

int main(void)
{
	test_buckets();
	test_percentiles();
	test_quantize_golden();
	return n_failed != 0;
}
