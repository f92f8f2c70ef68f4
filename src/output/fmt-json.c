/* SPDX-License-Identifier: MIT */
/* The JSON format: one object per line (dump's threads, stacks' calls, an
 * aggregated stack), for other tools and the tests. */
#include <inttypes.h>

#include "output/output.h"

static int json_event(struct pt_sink *s, const struct pt_fmt_event *ev)
{
	switch (ev->kind) {
	case PT_FMT_EV_SNAPSHOT:
		pt_out_dump_json(s->f, ev->dump.py, ev->dump.snap, ev->dump.native);
		return 0;
	case PT_FMT_EV_SYSCALL:
		pt_out_stacks_event_json(s->f, ev->syscall);
		return 0;
	default:
		return -ENOTSUP;
	}
}

/* A frame as dump --json prints it (a native frame's address is known
 * only when nothing names it: named frames are interned by module+offset). */
void pt_out_json_frame(FILE *f, const struct pt_frame *fr)
{
	switch (fr->kind) {
	case PT_FRAME_PYTHON:
		fputs("{\"kind\":\"python\",\"function\":", f);
		pt_out_json_string(f, fr->function);
		fputs(",\"file\":", f);
		pt_out_json_string(f, fr->file);
		fprintf(f, ",\"line\":%d}", fr->line);
		break;
	case PT_FRAME_UNREADABLE:
		fprintf(f, "{\"kind\":\"python\",\"unreadable\":true,\"address\":%" PRIu64 "}", fr->pc);
		break;
	case PT_FRAME_NATIVE:
		fputs("{\"kind\":\"native\",\"module\":", f);
		pt_out_json_string(f, fr->module);
		fputs(",\"symbol\":", f);
		pt_out_json_string(f, fr->symbol);
		fprintf(f, ",\"offset\":%" PRIu64 ",\"address\":%" PRIu64 "}", fr->offset, fr->pc);
		break;
	case PT_FRAME_LABEL:
	case PT_FRAME_NOTE:
		pt_out_json_string(f, fr->function);
		break;
	}
}

static int json_aggregate(struct pt_sink *s, const struct pt_fmt_aggregate *a)
{
	FILE *f = s->f;

	for (size_t i = 0; i < a->n; i++) {
		const struct pt_agg_entry *e = a->v[i];
		size_t n;
		const pt_frame_id *ids = pt_intern_stack_get(a->in, e->stack, &n, NULL);
		size_t first = 0;

		fputc('{', f);
		if (n && pt_intern_frame_get(a->in, ids[0])->kind == PT_FRAME_LABEL) {
			fputs("\"syscall\":", f);
			pt_out_json_string(f, pt_intern_frame_get(a->in, ids[0])->function);
			fputc(',', f);
			first = 1;
		}
		fprintf(f, "\"count\":%" PRIu64, e->count);
		if (a->has_time || a->latency)
			fprintf(f, ",\"seconds\":%.9f", (double)e->ns / 1e9);
		if (a->latency && e->hist)
			pt_out_quantize_json(f, e->hist);
		for (int pass = 0; pass < 2; pass++) {
			bool sep = false;
			fputs(pass ? "],\"notes\":[" : ",\"frames\":[", f);
			for (size_t k = first; k < n; k++) {
				const struct pt_frame *fr = pt_intern_frame_get(a->in, ids[k]);
				if ((fr->kind == PT_FRAME_NOTE) != (pass == 1))
					continue;
				if (sep)
					fputc(',', f);
				sep = true;
				pt_out_json_frame(f, fr);
			}
		}
		fputs("]}\n", f);
	}
	if (a->rows)
		pt_out_stacks_summary_json(f, a->rows, a->nrows, a->events, a->distinct);
	return 0;
}

const struct pt_format pt_format_json = {
	.name = "json",
	.caps = PT_FMT_EVENTS | PT_FMT_AGGREGATE,
	.event = json_event,
	.aggregate = json_aggregate,
};
