/* SPDX-License-Identifier: MIT */
/* Unit tests for frame interning and the aggregation behind `pytrace
 * stacks --count`: identities, the one merge, counting, ordering, --top,
 * and the text and folded formats (golden files in tests/unit/golden/). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "stack/aggregate.h"
#include "stack/intern.h"

#include "check.h"

static pt_frame_id py(struct pt_intern *in, const char *fn, const char *file, int line)
{
	pt_frame_id id = (pt_frame_id)-1;
	char f[64], p[64];
	/* Copies on the stack: the table must keep its own. */
	snprintf(f, sizeof(f), "%s", fn);
	snprintf(p, sizeof(p), "%s", file);
	pt_intern_frame(in, &(struct pt_frame){ .kind = PT_FRAME_PYTHON, .function = f, .file = p,
						.line = line }, &id);
	memset(f, 'x', sizeof(f) - 1);
	return id;
}

static void test_frames(void)
{
	struct pt_intern *in = pt_intern_new();
	pt_frame_id a = py(in, "f", "a.py", 3), b = py(in, "f", "a.py", 4), a2 = py(in, "f", "a.py", 3);
	pt_frame_id n1, n2, n3;

	check(a == 0 && b == 1 && a2 == a, "frames: equal frames share an id, ids are dense");
	pt_intern_frame(in, &(struct pt_frame){ .kind = PT_FRAME_NATIVE, .module = "libc.so.6",
						.symbol = "write", .offset = 0x14 }, &n1);
	pt_intern_frame(in, &(struct pt_frame){ .kind = PT_FRAME_NATIVE, .module = "libc.so.6",
						.symbol = "write", .offset = 0x18 }, &n2);
	pt_intern_frame(in, &(struct pt_frame){ .kind = PT_FRAME_NATIVE, .module = "libc.so.6",
						.symbol = "write", .offset = 0x14 }, &n3);
	check(n1 != n2 && n1 == n3 && pt_intern_nframes(in) == 4,
	      "frames: native frames keyed by module, symbol, offset");
	const struct pt_frame *fr = pt_intern_frame_get(in, a);
	check(fr && !strcmp(fr->function, "f") && !strcmp(fr->file, "a.py") && fr->line == 3,
	      "frames: strings copied into the table");
	/* Many distinct frames: the table grows and keeps every id. */
	bool ok = true;
	for (int i = 0; i < 5000 && ok; i++)
		ok = py(in, "g", "b.py", i) == (pt_frame_id)(4 + i);
	for (int i = 0; i < 5000 && ok; i++)
		ok = py(in, "g", "b.py", i) == (pt_frame_id)(4 + i);
	check(ok && pt_intern_nframes(in) == 5004, "frames: 5000 more, found again after growth");

	pt_frame_id s1[] = { a, b }, s2[] = { b, a };
	pt_stack_id x, y, z, w;
	pt_intern_stack(in, s1, 2, 0, &x);
	pt_intern_stack(in, s2, 2, 0, &y);
	pt_intern_stack(in, s1, 2, 0, &z);
	pt_intern_stack(in, s1, 2, PT_STACK_MERGED, &w);
	size_t n;
	const pt_frame_id *ids = pt_intern_stack_get(in, x, &n, NULL);
	check(x != y && x == z && w != x && n == 2 && ids[0] == a && ids[1] == b,
	      "stacks: order and flags matter, equal stacks share an id");
	pt_stack_id r, r2;
	pt_frame_id c = py(in, "h", "c.py", 1), s3[] = { c, b, a }, s3r[] = { a, b, c };
	pt_intern_stack_root_first(in, s2, 2, 0, &r);
	pt_intern_stack_root_first(in, s3r, 3, 0, &r2);
	pt_stack_id fwd3;
	pt_intern_stack(in, s3, 3, 0, &fwd3);
	ids = pt_intern_stack_get(in, r2, &n, NULL);
	check(r == x && r2 == fwd3 && n == 3 && ids[0] == c && ids[2] == a,
	      "stacks: root-first ids intern as the reversed vector");
	pt_intern_free(in);
}

/* A thread as pt_thread_stack() gives it. */
static struct pt_pyframe pyf[] = {
	{ .function = "leaf", .file = "w.py", .line = 3 },
	{ .function = "rec", .file = "w.py", .line = 7 },
	{ .function = "rec", .file = "w.py", .line = 7 },
	{ .function = "rec", .file = "w.py", .line = 7 },
	{ .function = "<module>", .file = "w;x.py", .line = 11 },
};

static void test_thread(void)
{
	struct pt_intern *in = pt_intern_new();
	struct pt_thread t = { .tid = 1, .has_python = true, .n_py = 5, .py = pyf };
	pt_stack_id s, s2, cut, none, empty;

	pt_intern_thread(in, &t, false, 0, "write", NULL, &s);
	pt_intern_thread(in, &t, false, 0, "write", NULL, &s2);
	pt_intern_thread(in, &t, false, 2, "write", NULL, &cut);
	pt_intern_thread(in, NULL, false, 0, "write", "exited", &none);
	struct pt_thread e = { .tid = 2 };
	pt_intern_thread(in, &e, false, 0, "read", NULL, &empty);
	size_t n;
	const pt_frame_id *ids = pt_intern_stack_get(in, s, &n, NULL);
	check(s == s2 && n == 6 && pt_intern_frame_get(in, ids[0])->kind == PT_FRAME_LABEL &&
	      !strcmp(pt_intern_frame_get(in, ids[5])->function, "<module>") && ids[2] == ids[3],
	      "thread: leaf label, then frames innermost first, recursion shares ids");
	ids = pt_intern_stack_get(in, cut, &n, NULL);
	check(n == 4 && !strcmp(pt_intern_frame_get(in, ids[3])->function,
				"... (3 more frames: --depth 2)"), "thread: --depth cut with a note");
	ids = pt_intern_stack_get(in, none, &n, NULL);
	check(n == 2 && !strcmp(pt_intern_frame_get(in, ids[1])->function, "(no stack: exited)"),
	      "thread: no stack is a note");

	struct pt_agg *agg = pt_agg_new(in, 0);
	for (int i = 0; i < 1000; i++)
		pt_agg_add(agg, s, 1, 1000);
	pt_agg_add(agg, none, 2, -1);
	pt_agg_add(agg, empty, 2, 5);
	pt_agg_add(agg, cut, 7, -1);
	check(pt_agg_size(agg) == 4 && pt_agg_total(agg) == 1011 && pt_agg_total_ns(agg) == 1000005,
	      "aggregate: counts and durations add up");
	const struct pt_agg_entry **v;
	pt_agg_sorted(agg, PT_AGG_BY_COUNT, 0, false, &v, &n);
	check(n == 4 && v[0]->stack == empty && v[1]->stack == none && v[2]->stack == cut &&
	      v[3]->stack == s, "aggregate: least first, ties by content (read < write)");
	free(v);
	pt_agg_sorted(agg, PT_AGG_BY_COUNT, 2, true, &v, &n);
	check(n == 2 && v[0]->stack == s && v[1]->stack == cut, "aggregate: --top 2, most first");
	free(v);

	/* Text and folded against golden files. */
	pt_agg_sorted(agg, PT_AGG_BY_COUNT, 0, false, &v, &n);
	/* The strace -c table as stacks hands it over (sorted by time). */
	static const struct pt_out_syscall_row rows[] = {
		{ "write", 1009, 2, 1000000 }, { "read", 2, 0, 5 },
	};
	struct pt_fmt_aggregate a = { .in = in, .v = v, .n = n, .distinct = n, .rows = rows,
				      .nrows = 2, .events = 1011 };
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "folded" : "text";
		char *buf = NULL, path[128], want[8192];
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		struct pt_sink *sink;
		pt_sink_open(&sink, pt_format_find(name), m, NULL);
		pt_sink_aggregate(sink, &a);
		pt_sink_close(sink);
		fclose(m);
		snprintf(path, sizeof(path), "tests/unit/golden/agg-%s.txt", name);
		FILE *g = fopen(path, "r");
		size_t glen = g ? fread(want, 1, sizeof(want) - 1, g) : 0;
		want[glen] = 0;
		if (g)
			fclose(g);
		check(g && len == glen && !memcmp(buf, want, len), "%s format matches %s", name, path);
		if (!g || len != glen || memcmp(buf, want, len))
			printf("# got:\n%s", buf);
		free(buf);
	}
	free(v);
	/* --latency: the same stacks with histograms, text layout. */
	struct pt_agg *lat = pt_agg_new(in, PT_AGG_HIST);
	for (int i = 0; i < 20; i++)
		pt_agg_add(lat, s, 1, 1500 + i * 100);
	pt_agg_add(lat, s, 1, 900000);
	pt_agg_add(lat, none, 1, -1);
	pt_agg_add(lat, none, 1, 3);
	pt_agg_sorted(lat, PT_AGG_BY_COUNT, 0, false, &v, &n);
	{
		struct pt_fmt_aggregate la = { .in = in, .v = v, .n = n, .distinct = n, .latency = true,
					       .has_time = true };
		char *buf = NULL, want[8192];
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		struct pt_sink *sink;
		pt_sink_open(&sink, pt_format_find("text"), m, NULL);
		pt_sink_aggregate(sink, &la);
		pt_sink_close(sink);
		fclose(m);
		FILE *g = fopen("tests/unit/golden/agg-latency.txt", "r");
		size_t glen = g ? fread(want, 1, sizeof(want) - 1, g) : 0;
		if (g)
			fclose(g);
		check(g && len == glen && !memcmp(buf, want, len),
		      "--latency text matches tests/unit/golden/agg-latency.txt");
		if (!g || len != glen || memcmp(buf, want, len))
			printf("# got:\n%s", buf);
		free(buf);
	}
	free(v);
	pt_agg_free(lat);
	pt_agg_reset(agg);
	check(pt_agg_size(agg) == 0 && pt_agg_total(agg) == 0 && pt_agg_add(agg, s, 1, -1) == 0 &&
	      pt_agg_size(agg) == 1, "aggregate: reset forgets, counts again");
	pt_agg_free(agg);
	pt_intern_free(in);
}

int main(void)
{
	test_frames();
	test_thread();
	return n_failed != 0;
}
