/* SPDX-License-Identifier: MIT */
/* pytrace dump --tasks: asyncio tasks as a tree of who waits for whom
 * (as python -m asyncio pstree draws it), or one JSON object per task. */
#include <inttypes.h>
#include <stdlib.h>

#include "output/output.h"

/* The task at addr, or -1: tasks come sorted by address. */
static long tasks_index(const struct pt_tasks *ts, uint64_t addr)
{
	size_t lo = 0, hi = ts->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ts->tasks[mid].addr == addr)
			return (long)mid;
		if (ts->tasks[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* A task name in quotes, control characters, quotes and backslashes
 * escaped as strace does, so that one task stays one line. */
static void tasks_text_name(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void tasks_text_one(FILE *f, const struct pt_tasks *ts, size_t i, int depth, bool *shown)
{
	const struct pt_task *t = &ts->tasks[i];
	int pad = 2 + 4 * depth;

	fprintf(f, "%*s", pad, "");
	if (depth)
		fputs("-> ", f);
	fputs("task ", f);
	if (t->name)
		tasks_text_name(f, t->name);
	else
		fprintf(f, "0x%" PRIx64, t->addr);
	fprintf(f, " (%s", t->state);
	if (t->waiter)
		fprintf(f, ", waits for %s", t->waiter);
	if (shown[i]) {
		fputs("; shown above)\n", f);
		return;
	}
	fputs(")\n", f);
	shown[i] = true;
	for (size_t k = 0; k < t->n_frames; k++) {
		fprintf(f, "%*s", pad + (depth ? 7 : 4), "");
		pt_out_text_pyframe(f, &t->frames[k]);
		fputc('\n', f);
	}
	if (t->awaits)
		fprintf(f, "%*sawaiting %s\n", pad + (depth ? 7 : 4), "", t->awaits);
	for (size_t k = 0; k < t->n_waits_for; k++) {
		long j = tasks_index(ts, t->waits_for[k]);
		if (j >= 0)
			tasks_text_one(f, ts, (size_t)j, depth + 1, shown);
	}
}

void pt_out_tasks_text(FILE *f, const struct pt_python_info *py, const struct pt_tasks *ts)
{
	bool *shown = calloc(ts->n ? ts->n : 1, sizeof(*shown));
	bool *awaited = calloc(ts->n ? ts->n : 1, sizeof(*awaited));

	fprintf(f, "Process %d: Python %s, %zu asyncio task%s%s%s\n", (int)ts->pid, py->version, ts->n,
		ts->n == 1 ? "" : "s", ts->note ? ": " : "", ts->note ? ts->note : "");
	if (!shown || !awaited)
		goto out;
	for (size_t i = 0; i < ts->n; i++)
		for (size_t k = 0; k < ts->tasks[i].n_waits_for; k++) {
			long j = tasks_index(ts, ts->tasks[i].waits_for[k]);
			if (j >= 0 && (size_t)j != i)
				awaited[j] = true;
		}
	/* One block per event loop, in the order their first task comes. */
	for (size_t i = 0; i < ts->n; i++) {
		uint64_t loop = ts->tasks[i].loop;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = ts->tasks[k].loop == loop;
		if (seen)
			continue;
		size_t count = 0;
		for (size_t k = 0; k < ts->n; k++)
			count += ts->tasks[k].loop == loop;
		fprintf(f, "\nEvent loop 0x%" PRIx64 ": %zu task%s\n", loop, count, count == 1 ? "" : "s");
		for (size_t k = 0; k < ts->n; k++)
			if (ts->tasks[k].loop == loop && !awaited[k])
				tasks_text_one(f, ts, k, 0, shown);
		/* Tasks only reachable through a cycle of waits. */
		for (size_t k = 0; k < ts->n; k++)
			if (ts->tasks[k].loop == loop && !shown[k])
				tasks_text_one(f, ts, k, 0, shown);
	}
out:
	free(shown);
	free(awaited);
}

void pt_out_tasks_json(FILE *f, const struct pt_python_info *py, const struct pt_tasks *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		const struct pt_task *t = &ts->tasks[i];
		fprintf(f, "{\"pid\":%d,\"python\":", (int)ts->pid);
		pt_out_json_string(f, py->version);
		fprintf(f, ",\"task\":\"0x%" PRIx64 "\",\"loop\":\"0x%" PRIx64 "\",\"name\":", t->addr, t->loop);
		pt_out_json_string(f, t->name);
		fputs(",\"state\":", f);
		pt_out_json_string(f, t->state);
		fputs(",\"waiter\":", f);
		pt_out_json_string(f, t->waiter);
		fputs(",\"waits_for\":[", f);
		for (size_t k = 0; k < t->n_waits_for; k++)
			fprintf(f, "%s\"0x%" PRIx64 "\"", k ? "," : "", t->waits_for[k]);
		fputs("],\"awaits\":", f);
		pt_out_json_string(f, t->awaits);
		fputs(",\"coroutines\":[", f);
		for (size_t k = 0; k < t->n_frames; k++) {
			const struct pt_pyframe *fr = &t->frames[k];
			if (k)
				fputc(',', f);
			if (fr->unreadable) {
				fprintf(f, "{\"unreadable\":true,\"address\":%" PRIu64 "}", fr->addr);
				continue;
			}
			fputs("{\"function\":", f);
			pt_out_json_string(f, fr->function);
			fputs(",\"file\":", f);
			pt_out_json_string(f, fr->file);
			if (fr->line >= 0)
				fprintf(f, ",\"line\":%d}", fr->line);
			else
				fputs(",\"line\":null}", f);
		}
		fputs("]}\n", f);
	}
	if (ts->n == 0) {
		fprintf(f, "{\"pid\":%d,\"python\":", (int)ts->pid);
		pt_out_json_string(f, py->version);
		fputs(",\"tasks\":0,\"note\":", f);
		pt_out_json_string(f, ts->note);
		fputs("}\n", f);
	}
}
