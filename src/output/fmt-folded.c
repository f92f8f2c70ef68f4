/* SPDX-License-Identifier: MIT */
/* The folded format flame graph tools read (flamegraph.pl, inferno,
 * speedscope): "root;...;leaf count" per aggregated stack. */
#include <inttypes.h>

#include "output/output.h"

/* A frame's name with ';' (the separator) as ','. */
static void folded_frame(FILE *f, const struct pt_frame *fr)
{
	char name[1024];

	pt_fmt_frame_name(fr, name, sizeof(name));
	for (char *p = name; *p; p++)
		fputc(*p == ';' ? ',' : *p, f);
}

void pt_out_folded_stack(FILE *f, const struct pt_intern *in, pt_stack_id stack)
{
	size_t n;
	const pt_frame_id *ids = pt_intern_stack_get(in, stack, &n, NULL);
	bool first = true;

	/* Root first: stacks are innermost first. Notes are no frames. */
	for (size_t i = n; i-- > 0;) {
		const struct pt_frame *fr = pt_intern_frame_get(in, ids[i]);
		if (fr->kind == PT_FRAME_NOTE)
			continue;
		if (!first)
			fputc(';', f);
		first = false;
		folded_frame(f, fr);
	}
}

static int folded_aggregate(struct pt_sink *s, const struct pt_fmt_aggregate *a)
{
	for (size_t i = 0; i < a->n; i++) {
		pt_out_folded_stack(s->f, a->in, a->v[i]->stack);
		fprintf(s->f, " %" PRIu64 "\n", a->v[i]->count);
	}
	return 0;
}

const struct pt_format pt_format_folded = {
	.name = "folded",
	.caps = PT_FMT_AGGREGATE,
	.aggregate = folded_aggregate,
};
