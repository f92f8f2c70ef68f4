/* SPDX-License-Identifier: MIT */
/* Unit tests for the stack aggregation behind `pytrace stacks --count`:
 * counting, ordering, --top, the folded form, and the line walker. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/aggregate.h"

#include "check.h"

static int add(struct pt_agg *agg, const char *sys, const char *stack, uint64_t n)
{
	return pt_agg_add(agg, sys, stack, strlen(stack), n);
}

#define STACK_A "c (w.py:3)\nb (w.py:7)\na (w.py:11)\n"
#define STACK_B "d (w.py:20)\na (w.py:11)\n"
#define STACK_MERGED "libc.so.6`write+0x14\npython3.11`_PyEval_EvalFrameDefault+0x8f0\n" \
		     "  [ w.py:3 (c) ]\n  [ w.py:7 (b) ]\n"

static void test_counting(void)
{
	struct pt_agg *agg = pt_agg_new();
	bool ok = agg != NULL;

	for (int i = 0; ok && i < 1000; i++)
		ok = add(agg, "write", STACK_A, 1) == 0;
	for (int i = 0; ok && i < 10; i++)
		ok = add(agg, "write", STACK_B, 1) == 0;
	ok = ok && add(agg, "rmdir", STACK_A, 5) == 0;
	check(ok, "counting: adds succeed");
	check(pt_agg_size(agg) == 3, "counting: same stack, other syscall is another entry (%zu entries)",
	      pt_agg_size(agg));
	check(pt_agg_total(agg) == 1015, "counting: total is every event (%llu)",
	      (unsigned long long)pt_agg_total(agg));

	const struct pt_agg_entry **v;
	size_t n;
	check(pt_agg_sorted(agg, 0, &v, &n) == 0 && n == 3, "sorted: all entries");
	check(v[0]->count == 5 && !strcmp(v[0]->syscall, "rmdir"), "sorted: least frequent first");
	check(v[1]->count == 10 && !strcmp(v[1]->stack, STACK_B), "sorted: middle");
	check(v[2]->count == 1000 && !strcmp(v[2]->stack, STACK_A) &&
	      v[2]->stack_len == strlen(STACK_A), "sorted: most frequent last, key kept exactly");
	free(v);

	check(pt_agg_sorted(agg, 2, &v, &n) == 0 && n == 2 && v[0]->count == 10 &&
	      v[1]->count == 1000, "top 2: the two most frequent, least frequent first");
	free(v);
	check(pt_agg_sorted(agg, 10, &v, &n) == 0 && n == 3, "top larger than size: all");
	free(v);
	pt_agg_free(agg);
}

static void test_prefix_keys(void)
{
	/* One stack a prefix of another must not be taken for it. */
	struct pt_agg *agg = pt_agg_new();
	add(agg, "write", "a (x.py:1)\n", 1);
	add(agg, "write", "a (x.py:1)\nb (x.py:2)\n", 1);
	add(agg, "write", "", 1);
	add(agg, "write", "", 1);
	check(pt_agg_size(agg) == 3 && pt_agg_total(agg) == 4, "prefix and empty stacks are distinct keys");
	pt_agg_free(agg);
}

static void test_ties_reproducible(void)
{
	struct pt_agg *agg = pt_agg_new();
	add(agg, "write", "z (x.py:1)\n", 2);
	add(agg, "write", "a (x.py:1)\n", 2);
	add(agg, "close", "m (x.py:1)\n", 2);
	const struct pt_agg_entry **v;
	size_t n;
	pt_agg_sorted(agg, 0, &v, &n);
	check(n == 3 && !strcmp(v[0]->syscall, "close") && !strcmp(v[1]->stack, "a (x.py:1)\n") &&
	      !strcmp(v[2]->stack, "z (x.py:1)\n"), "ties ordered by syscall, then stack text");
	free(v);
	pt_agg_free(agg);
}

static void test_growth(void)
{
	struct pt_agg *agg = pt_agg_new();
	char buf[64];
	bool ok = true;

	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 5000; i++) {
			snprintf(buf, sizeof(buf), "f%d (x.py:%d)\n", i, i);
			ok = ok && add(agg, "write", buf, 1) == 0;
		}
	check(ok && pt_agg_size(agg) == 5000 && pt_agg_total(agg) == 15000,
	      "5000 distinct stacks, each counted 3 times across table growth");
	const struct pt_agg_entry **v;
	size_t n;
	pt_agg_sorted(agg, 0, &v, &n);
	bool all3 = n == 5000;
	for (size_t i = 0; all3 && i < n; i++)
		all3 = v[i]->count == 3;
	check(all3, "every grown entry keeps its count");
	free(v);
	pt_agg_free(agg);
}

static void test_lines(void)
{
	const char *text = "c (w.py:3)\n  [ w.py:7 (b) ]\n\n(Python stack incomplete: x)\n<unreadable 0x10>";
	const char *cur = text, *end = text + strlen(text), *line;
	size_t len;
	bool note;
	char got[5][64];
	bool notes[5];
	int k = 0;

	while (k < 5 && pt_agg_next_line(&cur, end, &line, &len, &note)) {
		snprintf(got[k], sizeof(got[k]), "%.*s", (int)len, line);
		notes[k++] = note;
	}
	check(k == 4, "lines: blank line skipped, last line without newline kept (%d)", k);
	check(!strcmp(got[0], "c (w.py:3)") && !notes[0], "lines: frame");
	check(!strcmp(got[1], "[ w.py:7 (b) ]") && !notes[1], "lines: indentation trimmed");
	check(!strcmp(got[2], "(Python stack incomplete: x)") && notes[2], "lines: note recognised");
	check(!strcmp(got[3], "<unreadable 0x10>") && !notes[3], "lines: unreadable frame is a frame");
}

static void test_folded(void)
{
	struct pt_agg_entry e = { .syscall = "write", .stack = STACK_A, .stack_len = strlen(STACK_A),
				  .count = 7 };
	char *f = pt_agg_folded(&e);
	check(f && !strcmp(f, "a (w.py:11);b (w.py:7);c (w.py:3);write"),
	      "folded: root first, syscall as leaf: %s", f ? f : "(null)");
	free(f);

	e.stack = STACK_MERGED;
	e.stack_len = strlen(STACK_MERGED);
	f = pt_agg_folded(&e);
	check(f && !strcmp(f, "[ w.py:7 (b) ];[ w.py:3 (c) ];python3.11`_PyEval_EvalFrameDefault+0x8f0;"
			      "libc.so.6`write+0x14;write"),
	      "folded: merged stack keeps native and Python frames: %s", f ? f : "(null)");
	free(f);

	const char *odd = "(no Python frames)\nweird;name (x;y.py:1)\n";
	e.stack = odd;
	e.stack_len = strlen(odd);
	f = pt_agg_folded(&e);
	check(f && !strcmp(f, "weird,name (x,y.py:1);write"),
	      "folded: notes dropped, ';' inside a frame replaced: %s", f ? f : "(null)");
	free(f);

	e.stack = "(no Python frames)\n";
	e.stack_len = strlen(e.stack);
	f = pt_agg_folded(&e);
	check(f && !strcmp(f, "write"), "folded: no frames leaves the syscall alone");
	free(f);
}

int main(void)
{
	test_counting();
	test_prefix_keys();
	test_ties_reproducible();
	test_growth();
	test_lines();
	test_folded();
	return n_failed ? 1 : 0;
}
