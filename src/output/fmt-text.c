/* SPDX-License-Identifier: MIT */
/* The text format: dump's threads, stacks' calls, and aggregations as
 * DTrace prints them (the stack, then its count or its quantize). */
#include <inttypes.h>
#include <string.h>

#include "output/output.h"

static int text_event(struct pt_sink *s, const struct pt_fmt_event *ev)
{
	switch (ev->kind) {
	case PT_FMT_EV_SNAPSHOT:
		pt_out_dump_text(s->f, ev->dump.py, ev->dump.snap, ev->dump.native);
		return 0;
	case PT_FMT_EV_SYSCALL:
		pt_out_stacks_event_text(s->f, ev->syscall);
		return 0;
	default:
		return -ENOTSUP;
	}
}

/* One frame of an aggregated stack as pt_out_text_stack prints it. */
static void text_frame(FILE *f, const struct pt_frame *fr, bool merged)
{
	char name[1024];

	if (fr->kind == PT_FRAME_PYTHON && merged) {
		if (fr->line >= 0)
			fprintf(f, "  [ %s:%d (%s) ]", fr->file, fr->line, fr->function);
		else
			fprintf(f, "  [ %s:? (%s) ]", fr->file, fr->function);
		return;
	}
	if (fr->kind == PT_FRAME_UNREADABLE && merged) {
		fprintf(f, "  [ <unreadable 0x%" PRIx64 "> ]", fr->pc);
		return;
	}
	pt_fmt_frame_name(fr, name, sizeof(name));
	fputs(name, f);
}

/* The stack's frames (the leaf label is the caller's), indented by two,
 * identical consecutive frames (recursion) once with a count. */
void pt_out_text_agg_frames(FILE *f, const struct pt_intern *in, pt_stack_id stack)
{
	size_t n;
	unsigned flags;
	const pt_frame_id *ids = pt_intern_stack_get(in, stack, &n, &flags);
	size_t i = 0;

	if (n && pt_intern_frame_get(in, ids[0])->kind == PT_FRAME_LABEL)
		i = 1;
	while (i < n) {
		const struct pt_frame *fr = pt_intern_frame_get(in, ids[i]);
		size_t same = 1;
		while (pt_out_style.collapse && fr->kind != PT_FRAME_NOTE && i + same < n &&
		       ids[i + same] == ids[i])
			same++;
		fputs("  ", f);
		text_frame(f, fr, flags & PT_STACK_MERGED);
		fputc('\n', f);
		if (same == 2) {
			fputs("  ", f);
			text_frame(f, fr, flags & PT_STACK_MERGED);
			fputc('\n', f);
		} else if (same > 2) {
			fprintf(f, "  [previous frame repeated %zu more times]\n", same - 1);
		}
		i += same;
	}
}

static const char *stack_label(const struct pt_intern *in, pt_stack_id stack)
{
	size_t n;
	const pt_frame_id *ids = pt_intern_stack_get(in, stack, &n, NULL);
	const struct pt_frame *fr = n ? pt_intern_frame_get(in, ids[0]) : NULL;
	return fr && fr->kind == PT_FRAME_LABEL ? fr->function : NULL;
}

static int text_aggregate(struct pt_sink *s, const struct pt_fmt_aggregate *a)
{
	FILE *f = s->f;

	pt_out_stacks_agg_header(f, a->n, a->distinct, a->most_first);
	for (size_t i = 0; i < a->n; i++) {
		const struct pt_agg_entry *e = a->v[i];
		const char *label = stack_label(a->in, e->stack);
		if (label)
			fprintf(f, "%s\n", label);
		pt_out_text_agg_frames(f, a->in, e->stack);
		if (a->latency && e->hist) {
			pt_out_quantize_text(f, e->hist, "ns");
			if (e->count > e->hist->count)
				fprintf(f, "  (%" PRIu64 " more without a duration: not returned)\n",
					e->count - e->hist->count);
			fputc('\n', f);
		} else if (a->has_time) {
			fprintf(f, "  %" PRIu64 "  (%.6f s)\n\n", e->count, (double)e->ns / 1e9);
		} else {
			fprintf(f, "  %" PRIu64 "\n\n", e->count);
		}
	}
	if (a->rows)
		pt_out_stacks_summary_text(f, a->rows, a->nrows, a->events, a->distinct);
	return 0;
}

const struct pt_format pt_format_text = {
	.name = "text",
	.caps = PT_FMT_EVENTS | PT_FMT_AGGREGATE,
	.event = text_event,
	.aggregate = text_aggregate,
};
