/* SPDX-License-Identifier: MIT */
/* Unit tests for the format interface (output/format.h): the table, the
 * capabilities, and speedscope's evented form of a timeline (what flow
 * hands it), including exits with no entry and frames left open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "stack/intern.h"

#include "check.h"

static char *run_timeline(struct pt_intern *in, pt_frame_id f, pt_frame_id g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct pt_sink *s;
	struct pt_sink_opts so = { .in = in, .title = "t" };
	const struct pt_fmt_event evs[] = {
		{ .kind = PT_FMT_EV_THREAD, .call = { .tid = 7, .name = "main" } },
		{ .kind = PT_FMT_EV_EXIT, .call = { .tid = 7, .ts = 5, .frame = g } },   /* no entry: dropped */
		{ .kind = PT_FMT_EV_ENTER, .call = { .tid = 7, .ts = 10, .frame = f } },
		{ .kind = PT_FMT_EV_ENTER, .call = { .tid = 8, .ts = 11, .frame = g } },
		{ .kind = PT_FMT_EV_ENTER, .call = { .tid = 7, .ts = 12, .frame = g } },
		{ .kind = PT_FMT_EV_EXIT, .call = { .tid = 7, .ts = 20, .frame = f } },  /* closes g too */
		{ .kind = PT_FMT_EV_ENTER, .call = { .tid = 7, .ts = 30, .frame = f } }, /* left open */
		{ .kind = PT_FMT_EV_EXIT, .call = { .tid = 8, .ts = 40, .frame = g } },
	};
	pt_sink_open(&s, pt_format_find("speedscope"), m, &so);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		pt_sink_event(s, &evs[i]);
	int rc = pt_sink_close(s);
	fclose(m);
	check(rc == 0, "speedscope timeline: closed without error");
	return buf;
}

/* With a path: the timeline's file is written there too (test_formats.py
 * validates it against speedscope's schema). */
int main(int argc, char **argv)
{
	check(pt_format_find("text") && pt_format_find("json") && pt_format_find("folded") &&
	      pt_format_find("svg") && pt_format_find("speedscope") && pt_format_find("pprof") &&
	      !pt_format_find("nope"), "every format found by name, no other");
	check(pt_format_supports(pt_format_find("speedscope"), PT_FMT_TIMELINE | PT_FMT_AGGREGATE) &&
	      !pt_format_supports(pt_format_find("pprof"), PT_FMT_TIMELINE) &&
	      pt_format_supports(pt_format_find("text"), PT_FMT_EVENTS),
	      "capabilities: speedscope timelines, pprof none, text events");

	struct pt_intern *in = pt_intern_new();
	pt_frame_id f, g;
	pt_intern_frame(in, &(struct pt_frame){ .kind = PT_FRAME_PYTHON, .function = "f", .file = "a.py",
						.line = 1 }, &f);
	pt_intern_frame(in, &(struct pt_frame){ .kind = PT_FRAME_PYTHON, .function = "g", .file = "a.py",
						.line = 5 }, &g);
	char *out = run_timeline(in, f, g);
	const char *want7 =
		"{\"type\":\"evented\",\"name\":\"main (thread 7)\",\"unit\":\"nanoseconds\","
		"\"startValue\":10,\"endValue\":30,\"events\":["
		"{\"type\":\"O\",\"frame\":0,\"at\":10},{\"type\":\"O\",\"frame\":1,\"at\":12},"
		"{\"type\":\"C\",\"frame\":1,\"at\":20},{\"type\":\"C\",\"frame\":0,\"at\":20},"
		"{\"type\":\"O\",\"frame\":0,\"at\":30},{\"type\":\"C\",\"frame\":0,\"at\":30}]}";
	const char *want8 =
		"{\"type\":\"evented\",\"name\":\"thread 8\",\"unit\":\"nanoseconds\",\"startValue\":11,"
		"\"endValue\":40,\"events\":[{\"type\":\"O\",\"frame\":1,\"at\":11},"
		"{\"type\":\"C\",\"frame\":1,\"at\":40}]}";
	check(out && strstr(out, want7), "thread 7: orphan exit dropped, skipped frame closed, open frame closed at the end");
	check(out && strstr(out, want8), "thread 8: its own profile");
	check(out && strstr(out, "\"shared\":{\"frames\":[{\"name\":\"f (a.py:1)\",\"file\":\"a.py\",\"line\":1},"
			       "{\"name\":\"g (a.py:5)\",\"file\":\"a.py\",\"line\":5}]}"),
	      "shared frames: every interned frame, by id");
	if (n_failed)
		printf("# got: %s\n", out);
	if (argc > 1 && out) {
		FILE *w = fopen(argv[1], "w");
		check(w && fputs(out, w) >= 0 && fclose(w) == 0, "written to %s", argv[1]);
	}
	free(out);
	pt_intern_free(in);
	return n_failed != 0;
}
