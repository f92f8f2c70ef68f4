/* SPDX-License-Identifier: MIT */
/* Unit tests for flow's aggregations (flow/aggregate.c) on synthetic
 * events whose answer is known, and the golden layouts of the --count
 * table, the --latency histograms and the folded profile
 * (output/flow_agg.c; tests/unit/golden/flow-*.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "flow/aggregate.h"
#include "flow/events.h"
#include "output/flow_agg.h"

#include "check.h"

static struct pt_flow_fn fn_module = { .name = "<module>", .file = "/app/main.py", .firstlineno = 1 };
static struct pt_flow_fn fn_main = { .name = "main", .file = "/app/main.py", .firstlineno = 10 };
static struct pt_flow_fn fn_work = { .name = "Store.work", .file = "/app/store.py", .firstlineno = 42 };
static struct pt_flow_fn fn_helper = { .name = "helper", .file = "/app/store.py", .firstlineno = 7 };
static struct pt_flow_fn fn_rec = { .name = "rec", .file = "/app/main.py", .firstlineno = 20 };
static struct pt_flow_fn fn_gen = { .name = "gen", .file = "/app/main.py", .firstlineno = 30 };
static struct pt_flow_fn fn_len = { .name = "len", .file = NULL, .firstlineno = 0 };
/* a second code object of Store.work (a reload): the same function */
static struct pt_flow_fn fn_work2 = { .name = "Store.work", .file = "/app/store.py", .firstlineno = 42 };

static struct flow_agg *agg;

static void ev(pid_t tid, enum pt_flow_event_kind kind, struct pt_flow_fn *fn, uint64_t ts)
{
	struct pt_flow_event e = { .kind = kind, .tid = tid, .fn = fn, .line = -1, .ts = ts,
				   .duration = -1 };
	if (flow_agg_event(agg, &e) < 0)
		check(false, "flow_agg_event failed");
}

/* work: 1000 ns, 250 of them in helper */
static uint64_t work(pid_t tid, struct pt_flow_fn *w, uint64_t t)
{
	ev(tid, PT_FLOW_CALL, w, t);
	ev(tid, PT_FLOW_CALL, &fn_helper, t + 500);
	ev(tid, PT_FLOW_RETURN, &fn_helper, t + 750);
	ev(tid, PT_FLOW_RETURN, w, t + 1000);
	return t + 1000;
}

static void scenario(void)
{
	uint64_t t = 0;

	ev(7, PT_FLOW_CALL, &fn_module, t);
	ev(7, PT_FLOW_CALL, &fn_main, t += 100);
	t = work(7, &fn_work, t + 100);
	t = work(7, &fn_work, t + 100);
	t = work(7, &fn_work2, t + 100);
	/* rec(3): 3 nested calls, 2000, 1200, 400 ns */
	ev(7, PT_FLOW_CALL, &fn_rec, t += 100);
	ev(7, PT_FLOW_CALL, &fn_rec, t + 400);
	ev(7, PT_FLOW_CALL, &fn_rec, t + 800);
	ev(7, PT_FLOW_RETURN, &fn_rec, t + 1200);
	ev(7, PT_FLOW_RETURN, &fn_rec, t + 1600);
	ev(7, PT_FLOW_RETURN, &fn_rec, t + 2000);
	t += 2000;
	/* a generator: call, yield, resume, yield, resume, return: 3 x 300 ns */
	for (int i = 0; i < 3; i++) {
		ev(7, i ? PT_FLOW_RESUME : PT_FLOW_CALL, &fn_gen, t += 100);
		ev(7, i < 2 ? PT_FLOW_YIELD : PT_FLOW_RETURN, &fn_gen, t += 300);
	}
	/* a C call that raises */
	ev(7, PT_FLOW_C_CALL, &fn_len, t += 100);
	ev(7, PT_FLOW_C_RAISE, &fn_len, t += 50);
	/* another thread: one slow work, 1 ms */
	ev(8, PT_FLOW_CALL, &fn_work, 1000);
	ev(8, PT_FLOW_CALL, &fn_helper, 2000);
	ev(8, PT_FLOW_RETURN, &fn_helper, 3000);
	ev(8, PT_FLOW_RETURN, &fn_work, 1001000);
	/* an exit whose call was before the trace: ignored */
	ev(9, PT_FLOW_RETURN, &fn_main, 5000);
	ev(7, PT_FLOW_RETURN, &fn_main, t += 100);
	ev(7, PT_FLOW_RETURN, &fn_module, t += 100);
}

static const struct flow_agg_func *find(const char *name)
{
	for (uint32_t i = 0; i < flow_agg_n_funcs(agg); i++)
		if (!strcmp(flow_agg_func(agg, i)->name, name))
			return flow_agg_func(agg, i);
	return NULL;
}

static void golden(const char *path, const char *got, size_t len)
{
	char want[16384];
	FILE *g = fopen(path, "r");
	size_t glen = g ? fread(want, 1, sizeof(want) - 1, g) : 0;

	if (g)
		fclose(g);
	want[glen] = 0;
	bool same = g && glen == len && !memcmp(want, got, len);
	check(same, "matches %s", path);
	if (!same)
		printf("# got:\n%s", got);
}

static void test_numbers(void)
{
	const struct flow_agg_func *w = find("Store.work"), *r = find("rec"), *g = find("gen"),
				   *m = find("main"), *h = find("helper"), *l = find("len");

	check(flow_agg_n_funcs(agg) == 7, "7 functions (two code objects of Store.work are one): %zu",
	      flow_agg_n_funcs(agg));
	check(w && w->calls == 4 && w->sum_ns == 3000 + 1000000 && w->total_ns == 1003000 &&
	      w->own_ns == 3 * 750 + 999000, "Store.work: 4 calls, own excludes helper");
	check(h && h->calls == 4 && h->own_ns == 3 * 250 + 1000, "helper: 4 calls");
	check(r && r->calls == 3 && r->total_ns == 2000 && r->sum_ns == 3600 && r->own_ns == 2000,
	      "rec: a recursion's TOTAL is its outermost call, own adds up to it");
	check(g && g->calls == 3 && g->sum_ns == 900, "gen: one call and two resumes, each timed");
	check(l && l->calls == 1 && l->sum_ns == 50 && !l->file, "len: a C call ended by a raise");
	check(m && m->calls == 1, "main: the orphan exit of thread 9 is not counted");
	check(w && w->hist && w->hist->count == 4 && w->hist->max == 1000000 &&
	      w->hist->bucket[10] == 3 && w->hist->bucket[20] == 1,
	      "Store.work histogram: 3 in [512, 1024), 1 in [524288, 1048576)");
	check(flow_agg_profile_total(agg) == find("<module>")->sum_ns + 1000000,
	      "the profile's stacks add up to the traced time of every thread: %llu",
	      (unsigned long long)flow_agg_profile_total(agg));
}

static void test_layouts(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	pt_out_flow_count(f, agg, PT_FLOW_BY_OWN, 0);
	fputs("--- --top 2 --sort calls\n", f);
	pt_out_flow_count(f, agg, PT_FLOW_BY_CALLS, 2);
	fclose(f);
	golden("tests/unit/golden/flow-count.txt", buf, len);
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	pt_out_flow_latency(f, agg, PT_FLOW_BY_OWN, 3);
	fclose(f);
	golden("tests/unit/golden/flow-latency.txt", buf, len);
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	check(pt_out_flow_profile(f, "folded", agg, "t") == 0, "folded profile written");
	fclose(f);
	golden("tests/unit/golden/flow-folded.txt", buf, len);
	free(buf);
}

static int slices_seen, slices_open;

static int on_slice(void *arg, const struct flow_agg_slice *s)
{
	(void)arg;
	slices_seen++;
	slices_open += s->open;
	return 0;
}

static void test_finish_and_reset(void)
{
	struct flow_agg_config cfg = { .count = true, .profile = true, .on_slice = on_slice };
	struct pt_flow_fn a = { .name = "a", .file = "/x.py", .firstlineno = 1 };

	agg = flow_agg_new(&cfg);
	ev(1, PT_FLOW_CALL, &a, 0);
	ev(1, PT_FLOW_CALL, &a, 10);
	ev(1, PT_FLOW_RETURN, &a, 20);
	ev(2, PT_FLOW_CALL, &a, 30);  /* another thread: last event at 30 */
	check(flow_agg_finish(agg) == 0 && slices_seen == 3 && slices_open == 2,
	      "finish ends the calls under way as open slices");
	check(find("a")->calls == 1 && find("a")->sum_ns == 10 && flow_agg_profile_total(agg) == 30,
	      "running calls are not counted, their time is profiled up to the last event");
	check(find("a")->own_ns == 30 && find("a")->total_ns == 30,
	      "a running call's time so far is in own and total (the table covers the trace)");
	flow_agg_reset(agg);
	check(find("a")->calls == 0 && flow_agg_profile_total(agg) == 0 && flow_agg_span_ns(agg) == 0,
	      "reset forgets counts and times");
	flow_agg_free(agg);
}

static int stacks_by_tid[10];

static int count_stack(void *arg, pid_t tid, const uint32_t *funcs, size_t depth, uint64_t own,
		       uint64_t calls)
{
	(void)calls;
	(void)arg;
	(void)funcs;
	(void)depth;
	(void)own;
	if (tid >= 0 && tid < 10)
		stacks_by_tid[tid]++;
	return 0;
}

static void test_per_thread(void)
{
	struct flow_agg_config cfg = { .profile = true, .per_thread = true };
	struct pt_flow_fn a = { .name = "a", .file = "/x.py", .firstlineno = 1 };

	agg = flow_agg_new(&cfg);
	for (pid_t tid = 1; tid <= 2; tid++) {
		ev(tid, PT_FLOW_CALL, &a, 100 * (uint64_t)tid);
		ev(tid, PT_FLOW_RETURN, &a, 100 * (uint64_t)tid + 10);
	}
	flow_agg_stacks(agg, count_stack, NULL);
	check(stacks_by_tid[1] == 1 && stacks_by_tid[2] == 1 && stacks_by_tid[0] == 0,
	      "--per-thread: one stack per thread, each under its thread");
	flow_agg_free(agg);
	cfg.per_thread = false;
	memset(stacks_by_tid, 0, sizeof(stacks_by_tid));
	a.agg_id = 0;  /* the cache belongs to one aggregation */
	agg = flow_agg_new(&cfg);
	for (pid_t tid = 1; tid <= 2; tid++) {
		ev(tid, PT_FLOW_CALL, &a, 100 * (uint64_t)tid);
		ev(tid, PT_FLOW_RETURN, &a, 100 * (uint64_t)tid + 10);
	}
	flow_agg_stacks(agg, count_stack, NULL);
	check(stacks_by_tid[0] == 1 && flow_agg_profile_total(agg) == 20,
	      "merged: the threads' identical stacks are one, their times summed");
	flow_agg_free(agg);
}

/* Through the decoder with its filters: records in, aggregation out. */
static struct flow_events *dec;

static void describe(uint64_t addr, const char *fname, const char *file, int firstlineno)
{
	uint8_t payload[512];
	struct pt_def_code d = { .name_len = (uint32_t)strlen(fname),
				 .file_len = (uint32_t)strlen(file), .table_len = 0 };
	size_t at = sizeof(d);

	memcpy(payload, &d, sizeof(d));
	memcpy(payload + at, fname, d.name_len);
	at += d.name_len;
	memcpy(payload + at, file, d.file_len);
	at += d.file_len;
	struct pt_ring_record rec = { .object = addr, .aux = at, .tid = firstlineno,
				      .kind_offset = PT_EV_DEF_CODE | (PT_REC_NO_OFFSET << 8) };
	flow_events_def(dec, &rec, payload, at);
}

static void rec(unsigned kind, uint64_t obj, uint64_t ts)
{
	struct pt_ring_record r = { .object = obj, .ts = 1000 + ts, .tid = 5,
				    .kind_offset = kind | (PT_REC_NO_OFFSET << 8) };
	flow_events_event(dec, &r);
}

/* main (0..1000) calls lib.work twice (100..400, 500..900), which calls
 * helper (150..250, 550..650) */
static const struct flow_agg_func *filtered(struct flow_options *o, const char *want)
{
	struct flow_agg_config cfg = { .count = true, .profile = true };
	enum { MAIN = 0x100, WORK = 0x200, HELPER = 0x300 };

	agg = flow_agg_new(&cfg);
	struct flow_sink sink = { flow_agg_event, agg, false };
	dec = flow_events_new(o, PYV_LOCATIONS_311, &sink);
	describe(MAIN, "main", "/app/main.py", 1);
	describe(WORK, "work", "/app/lib.py", 10);
	describe(HELPER, "helper", "/app/main.py", 20);
	rec(PT_EV_CALL, MAIN, 0);
	for (uint64_t t = 100; t <= 500; t += 400) {
		rec(PT_EV_CALL, WORK, t);
		rec(PT_EV_CALL, HELPER, t + 50);
		rec(PT_EV_RETURN, HELPER, t + 150);
		rec(PT_EV_RETURN, WORK, t + 300 + (t == 500) * 100);
	}
	rec(PT_EV_RETURN, MAIN, 1000);
	flow_events_free(dec);
	return find(want);
}

static void test_filters(void)
{
	struct flow_options o = { 0 };
	const char *files[] = { "main.py" }, *funcs[] = { "work" };
	const struct flow_agg_func *f;

	f = filtered(&o, "main");
	check(f && f->calls == 1 && f->own_ns == 300 && f->total_ns == 1000,
	      "unfiltered: main's own time is less work's 700");
	flow_agg_free(agg);

	o.files = files;
	o.n_files = 1;
	f = filtered(&o, "main");
	check(f && f->own_ns == 800 && !find("work") && find("helper")->calls == 2,
	      "--file main.py: lib.work is not counted, its own time is main's");
	flow_agg_free(agg);

	o.n_files = 0;
	o.funcs = funcs;
	o.n_funcs = 1;
	f = filtered(&o, "work");
	check(f && f->calls == 2 && f->own_ns == 700 && !find("main") && !find("helper") &&
	      flow_agg_profile_total(agg) == 700,
	      "--function work: only work, its callees' time its own");
	flow_agg_free(agg);

	o.n_funcs = 0;
	o.within_func = "work";
	f = filtered(&o, "helper");
	check(f && f->calls == 2 && !find("main") && find("work")->own_ns == 500,
	      "--within work: work and helper, not main");
	flow_agg_free(agg);
}

int main(void)
{
	struct flow_agg_config cfg = { .count = true, .latency = true, .profile = true };

	agg = flow_agg_new(&cfg);
	scenario();
	flow_agg_finish(agg);
	test_numbers();
	test_layouts();
	flow_agg_free(agg);
	test_finish_and_reset();
	test_per_thread();
	test_filters();
	return n_failed != 0;
}
