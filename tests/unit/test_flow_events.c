/* SPDX-License-Identifier: MIT */
/* Unit tests for `pytrace flow`'s decoder and formatter: synthetic agent
 * records in, exact lines out (depth, filters, marks, C functions, JSON,
 * durations, unmatched returns). */
#include "flow/events.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* A decoder writing into a temporary file, read back by finish(). */
struct run {
	struct flow_options opt;
	struct pt_flow_out *out;
	struct flow_events *ev;
	FILE *f;
	uint64_t ts;
};

static void start(struct run *r, bool json, bool durations)
{
	r->f = tmpfile();
	r->opt.out_fd = fileno(r->f);
	r->opt.json = json;
	r->opt.durations = durations;
	r->opt.timestamps = durations;
	r->out = pt_out_flow_new(r->opt.out_fd, json, durations, durations, false);
	/* 3.11 location tables below */
	struct flow_sink sink = { pt_out_flow_sink, r->out, true };
	r->ev = flow_events_new(&r->opt, PYV_LOCATIONS_311, &sink);
	r->ts = 1000;
}

static char *finish(struct run *r)
{
	static char buf[65536];

	flow_events_free(r->ev);
	pt_out_flow_free(r->out);
	rewind(r->f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, r->f);
	buf[n] = 0;
	fclose(r->f);
	return buf;
}

/* Describes code object addr: name, file, first line; one location-table
 * entry per line from firstlineno, 2 code units each (line i covers bytes
 * [4i, 4i+4)). */
static void describe(struct run *r, uint64_t addr, const char *name, const char *file,
		     int firstlineno, int nlines)
{
	uint8_t payload[1024];
	struct pt_def_code d = { .name_len = (uint32_t)strlen(name),
				 .file_len = (uint32_t)strlen(file),
				 .table_len = 2 * (uint32_t)nlines };
	size_t at = 0;

	memcpy(payload, &d, sizeof(d));
	at = sizeof(d);
	memcpy(payload + at, name, d.name_len);
	at += d.name_len;
	memcpy(payload + at, file, d.file_len);
	at += d.file_len;
	/* per line: code 13 (no columns), 2 code units, svarint line delta
	 * (+1, or 0 for the first) */
	for (int i = 0; i < nlines; i++) {
		payload[at++] = (uint8_t)(0x80 | (13 << 3) | 1);
		payload[at++] = i ? 2 : 0;
	}
	struct pt_ring_record rec = { .object = addr, .aux = at, .tid = firstlineno,
				      .kind_offset = PT_EV_DEF_CODE | (PT_REC_NO_OFFSET << 8) };
	flow_events_def(r->ev, &rec, payload, at);
}

static void name(struct run *r, uint64_t addr, const char *s)
{
	struct pt_ring_record rec = { .object = addr, .aux = strlen(s),
				      .kind_offset = PT_EV_DEF_NAME | (PT_REC_NO_OFFSET << 8) };
	flow_events_def(r->ev, &rec, (const uint8_t *)s, strlen(s));
}

/* An event; offset in bytes, or -1 for none. */
static void ev(struct run *r, int tid, unsigned kind, uint64_t obj, uint64_t aux, int offset)
{
	struct pt_ring_record rec = {
		.object = obj, .aux = aux, .ts = r->ts, .tid = tid,
		.kind_offset = kind | ((offset < 0 ? PT_REC_NO_OFFSET : (uint32_t)offset) << 8),
	};
	r->ts += 1500;
	flow_events_event(r->ev, &rec);
}

enum { MOD = 0x1000, CLONE = 0x2000, HELPER = 0x3000, GEN = 0x4000, LIBCLONE = 0x5000 };

static void program(struct run *r)
{
	describe(r, MOD, "<module>", "/app/main.py", 1, 30);
	describe(r, CLONE, "Repo.clone", "/app/main.py", 10, 5);
	describe(r, HELPER, "helper", "/app/main.py", 20, 3);
	describe(r, GEN, "gen", "/app/main.py", 25, 4);
	describe(r, LIBCLONE, "clone", "/lib/other.py", 3, 2);
	ev(r, 7, PT_EV_CALL, MOD, 0, -1);
	ev(r, 7, PT_EV_CALL, HELPER, 0, -1);                /* outside any window */
	ev(r, 7, PT_EV_RETURN, HELPER, 0, 4);               /* line 21 */
	ev(r, 7, PT_EV_CALL, CLONE, 0, -1);
	ev(r, 7, PT_EV_CALL, HELPER, 0, -1);
	ev(r, 7, PT_EV_UNWIND, HELPER, 0, 8);               /* line 22 */
	ev(r, 7, PT_EV_CALL, GEN, 0, -1);
	ev(r, 7, PT_EV_YIELD, GEN, 0, 4);                   /* line 26 */
	ev(r, 7, PT_EV_RESUME, GEN, 0, 4);
	ev(r, 7, PT_EV_RETURN, GEN, 0, 12);                 /* line 28 */
	ev(r, 7, PT_EV_RETURN, CLONE, 0, 16);               /* line 14 */
	ev(r, 7, PT_EV_CALL, LIBCLONE, 0, -1);
	ev(r, 7, PT_EV_RETURN, LIBCLONE, 0, 4);             /* line 4 */
	ev(r, 7, PT_EV_RETURN, MOD, 0, 0);                  /* line 1 */
}

static void test_plain(void)
{
	struct run r = { 0 };
	start(&r, false, false);
	program(&r);
	const char *want =
		"-> <module> (/app/main.py:1)\n"
		"  -> helper (/app/main.py:20)\n"
		"  <- helper (/app/main.py:21)\n"
		"  -> Repo.clone (/app/main.py:10)\n"
		"    -> helper (/app/main.py:20)\n"
		"    <-! helper (/app/main.py:22)\n"
		"    -> gen (/app/main.py:25)\n"
		"    <- gen (/app/main.py:26) [yield]\n"
		"    -> gen (/app/main.py:26) [resume]\n"
		"    <- gen (/app/main.py:28)\n"
		"  <- Repo.clone (/app/main.py:14)\n"
		"  -> clone (/lib/other.py:3)\n"
		"  <- clone (/lib/other.py:4)\n"
		"<- <module> (/app/main.py:1)\n";
	const char *got = finish(&r);
	check(!strcmp(got, want), "plain text: depth, marks, lines%s%s", strcmp(got, want) ? "\n" : "",
	      strcmp(got, want) ? got : "");
}

static void test_within(void)
{
	struct run r = { 0 };
	start(&r, false, false);
	r.opt.within_func = "clone";
	r.opt.within_file = "main.py";
	program(&r);
	const char *want =
		"-> Repo.clone (/app/main.py:10)\n"
		"  -> helper (/app/main.py:20)\n"
		"  <-! helper (/app/main.py:22)\n"
		"  -> gen (/app/main.py:25)\n"
		"  <- gen (/app/main.py:26) [yield]\n"
		"  -> gen (/app/main.py:26) [resume]\n"
		"  <- gen (/app/main.py:28)\n"
		"<- Repo.clone (/app/main.py:14)\n";
	const char *got = finish(&r);
	check(!strcmp(got, want), "--within main.py:clone opens on Repo.clone only%s%s",
	      strcmp(got, want) ? "\n" : "", strcmp(got, want) ? got : "");
}

static void test_file_and_function(void)
{
	struct run r = { 0 };
	const char *files[] = { "other" };
	const char *funcs[] = { "helper" };
	start(&r, false, false);
	r.opt.files = files;
	r.opt.n_files = 1;
	program(&r);
	const char *got = finish(&r);
	check(!strcmp(got, "-> clone (/lib/other.py:3)\n<- clone (/lib/other.py:4)\n"),
	      "--file keeps matching frames, at depth 0");

	memset(&r, 0, sizeof(r));
	start(&r, false, false);
	r.opt.funcs = funcs;
	r.opt.n_funcs = 1;
	program(&r);
	got = finish(&r);
	check(!strcmp(got, "-> helper (/app/main.py:20)\n<- helper (/app/main.py:21)\n"
			   "-> helper (/app/main.py:20)\n<-! helper (/app/main.py:22)\n"),
	      "--function keeps both helper calls");
}

static void test_threads_unmatched_and_c(void)
{
	struct run r = { 0 };
	start(&r, false, false);
	describe(&r, HELPER, "helper", "/app/main.py", 20, 3);
	name(&r, 0x9000, "append");
	name(&r, 0x9100, "list");
	name(&r, 0x9200, "len");
	name(&r, 0x9300, "module");
	ev(&r, 7, PT_EV_RETURN, HELPER, 0, 4);             /* entered before attach */
	ev(&r, 7, PT_EV_C_CALL, 0x9000, 0x9100, -1);
	ev(&r, 8, PT_EV_CALL, HELPER, 0, -1);               /* a second thread */
	ev(&r, 7, PT_EV_C_RETURN, 0x9000, 0x9100, -1);
	ev(&r, 8, PT_EV_C_CALL, 0x9200, 0x9300, -1);
	ev(&r, 8, PT_EV_C_RAISE, 0x9200, 0x9300, -1);
	ev(&r, 8, PT_EV_RETURN, HELPER, 0, 8);
	const char *want =
		"<- helper (/app/main.py:21)\n"
		"-> list.append (C)\n"
		"[8] -> helper (/app/main.py:20)\n"
		"[7] <- list.append (C)\n"
		"[8]   -> len (C)\n"
		"[8]   <-! len (C)\n"
		"[8] <- helper (/app/main.py:22)\n";
	const char *got = finish(&r);
	check(!strcmp(got, want), "unmatched return, C functions, thread ids from the 2nd thread%s%s",
	      strcmp(got, want) ? "\n" : "", strcmp(got, want) ? got : "");
}

static void test_json_and_durations(void)
{
	struct run r = { 0 };
	start(&r, true, true);
	describe(&r, HELPER, "he\"lp\\er", "/a p/\x01\xff.py", 20, 3);
	ev(&r, 7, PT_EV_CALL, HELPER, 0, -1);
	ev(&r, 7, PT_EV_RETURN, HELPER, 0, 4);
	const char *want =
		"{\"event\":\"call\",\"tid\":7,\"depth\":0,\"function\":\"he\\\"lp\\\\er\","
		"\"file\":\"/a p/\\u0001\\u00ff.py\",\"line\":20,\"ts_ns\":0}\n"
		"{\"event\":\"return\",\"tid\":7,\"depth\":0,\"function\":\"he\\\"lp\\\\er\","
		"\"file\":\"/a p/\\u0001\\u00ff.py\",\"line\":21,\"ts_ns\":1500,\"duration_ns\":1500}\n";
	const char *got = finish(&r);
	check(!strcmp(got, want), "JSON escaping, timestamps, durations%s%s",
	      strcmp(got, want) ? "\n" : "", strcmp(got, want) ? got : "");

	memset(&r, 0, sizeof(r));
	start(&r, false, true);
	describe(&r, HELPER, "f", "/x.py", 1, 2);
	ev(&r, 7, PT_EV_CALL, HELPER, 0, -1);
	r.ts += 2500000 - 1500;   /* 2.5 ms later */
	ev(&r, 7, PT_EV_RETURN, HELPER, 0, 0);
	got = finish(&r);
	want = "    0.000000 -> f (/x.py:1)\n    0.002500 <- f (/x.py:1) 2500.000us\n";  /* one unit per run */
	check(!strcmp(got, want), "text timestamps and durations%s%s", strcmp(got, want) ? "\n" : "",
	      strcmp(got, want) ? got : "");
}

int main(void)
{
	test_plain();
	test_within();
	test_file_and_function();
	test_threads_unmatched_and_c();
	test_json_and_durations();
	return n_failed ? 1 : 0;
}
