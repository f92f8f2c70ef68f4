/* SPDX-License-Identifier: MIT */
/* The table of output formats and the sink that drives one of them. */
#include "output/format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const struct pt_format *const formats[] = {
	&pt_format_text, &pt_format_json, &pt_format_folded,
	&pt_format_svg, &pt_format_speedscope, &pt_format_pprof,
};

const struct pt_format *pt_format_find(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcmp(formats[i]->name, name))
			return formats[i];
	return NULL;
}

bool pt_format_supports(const struct pt_format *fmt, unsigned caps)
{
	return (fmt->caps & caps) == caps;
}

/* The first failure is what close reports. */
static int sink_note(int rc, int *first)
{
	if (rc < 0 && !*first)
		*first = rc;
	return rc;
}

struct pt_sink_impl {
	struct pt_sink s;
	int first_error;
};

int pt_sink_open(struct pt_sink **out, const struct pt_format *fmt, FILE *f,
		 const struct pt_sink_opts *o)
{
	struct pt_sink_impl *si = calloc(1, sizeof(*si));

	*out = NULL;
	if (!si)
		return -ENOMEM;
	si->s.fmt = fmt;
	si->s.f = f;
	if (o)
		si->s.o = *o;
	int rc = fmt->begin ? fmt->begin(&si->s) : 0;
	if (rc < 0) {
		if (fmt->free_priv)
			fmt->free_priv(&si->s);
		free(si);
		return rc;
	}
	*out = &si->s;
	return 0;
}

int pt_sink_event(struct pt_sink *s, const struct pt_fmt_event *ev)
{
	struct pt_sink_impl *si = (struct pt_sink_impl *)s;
	if (!s->fmt->event)
		return -ENOTSUP;
	return sink_note(s->fmt->event(s, ev), &si->first_error);
}

int pt_sink_aggregate(struct pt_sink *s, const struct pt_fmt_aggregate *a)
{
	struct pt_sink_impl *si = (struct pt_sink_impl *)s;
	if (!s->fmt->aggregate)
		return -ENOTSUP;
	return sink_note(s->fmt->aggregate(s, a), &si->first_error);
}

int pt_sink_close(struct pt_sink *s)
{
	struct pt_sink_impl *si = (struct pt_sink_impl *)s;
	if (!s)
		return 0;
	if (s->fmt->end)
		sink_note(s->fmt->end(s), &si->first_error);
	if (s->fmt->free_priv)
		s->fmt->free_priv(s);
	int rc = si->first_error;
	free(si);
	return rc;
}

void pt_fmt_frame_name(const struct pt_frame *fr, char *buf, size_t size)
{
	switch (fr->kind) {
	case PT_FRAME_PYTHON:
		if (fr->line >= 0)
			snprintf(buf, size, "%s (%s:%d)", fr->function, fr->file, fr->line);
		else
			snprintf(buf, size, "%s (%s:?)", fr->function, fr->file);
		break;
	case PT_FRAME_UNREADABLE:
		snprintf(buf, size, "<unreadable 0x%" PRIx64 ">", fr->pc);
		break;
	case PT_FRAME_NATIVE:
		if (fr->module && fr->symbol)
			snprintf(buf, size, "%s`%s+0x%" PRIx64, fr->module, fr->symbol, fr->offset);
		else if (fr->module)
			snprintf(buf, size, "%s+0x%" PRIx64, fr->module, fr->offset);
		else
			snprintf(buf, size, "0x%" PRIx64, fr->pc);
		break;
	case PT_FRAME_LABEL:
	case PT_FRAME_NOTE:
		snprintf(buf, size, "%s", fr->function ? fr->function : "");
		break;
	}
}
