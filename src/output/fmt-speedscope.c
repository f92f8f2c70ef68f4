/* SPDX-License-Identifier: MIT */
/* speedscope's JSON file format (https://www.speedscope.app/file-format-
 * schema.json): an aggregation as "sampled" profiles (weights: counts,
 * and with time a second profile in nanoseconds), a timeline (ENTER/EXIT
 * records) as one "evented" profile per thread. Timeline events are
 * spooled per thread to a temporary file, so memory stays bounded by the
 * number of threads and the depth of their stacks, not by events. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"

struct ss_thread {
	pid_t tid;
	char *name;
	FILE *spool;             /* ",{...}" per event */
	uint64_t first, last;
	bool any;
	pt_frame_id *open;       /* frames entered and not left, outermost first */
	size_t depth, cap;
};

struct ss_state {
	struct ss_thread *threads;
	size_t n, cap;
	const struct pt_intern *in;  /* the frames to list */
	bool wrote_profiles;
	bool timeline;
};

static int ss_begin(struct pt_sink *s)
{
	struct ss_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->priv = st;
	st->in = s->o.in;
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"name\":", s->f);
	pt_out_json_string(s->f, s->o.title ? s->o.title : "pytrace");
	fputs(",\"exporter\":\"pytrace " PYTRACE_VERSION "\",\"activeProfileIndex\":0,"
	      "\"profiles\":[", s->f);
	return 0;
}

static struct ss_thread *ss_thread(struct ss_state *st, pid_t tid)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->threads[i].tid == tid)
			return &st->threads[i];
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct ss_thread *v = realloc(st->threads, cap * sizeof(*v));
		if (!v)
			return NULL;
		st->threads = v;
		st->cap = cap;
	}
	struct ss_thread *t = &st->threads[st->n];
	*t = (struct ss_thread){ .tid = tid };
	if (!(t->spool = tmpfile()))
		return NULL;
	st->n++;
	return t;
}

static void ss_spool(struct ss_thread *t, char type, pt_frame_id frame, uint64_t ts)
{
	if (!t->any)
		t->first = ts;
	if (ts < t->last)
		ts = t->last;  /* speedscope wants them in order */
	t->any = true;
	t->last = ts;
	fprintf(t->spool, "%s{\"type\":\"%c\",\"frame\":%" PRIu32 ",\"at\":%" PRIu64 "}",
		ftell(t->spool) ? "," : "", type, frame, ts);
}

static int ss_event(struct pt_sink *s, const struct pt_fmt_event *ev)
{
	struct ss_state *st = s->priv;
	struct ss_thread *t;

	if (ev->kind != PT_FMT_EV_ENTER && ev->kind != PT_FMT_EV_EXIT && ev->kind != PT_FMT_EV_THREAD)
		return -ENOTSUP;
	st->timeline = true;
	if (!(t = ss_thread(st, ev->call.tid)))
		return -ENOMEM;
	if (ev->kind == PT_FMT_EV_THREAD) {
		free(t->name);
		t->name = ev->call.name ? strdup(ev->call.name) : NULL;
		return 0;
	}
	if (ev->kind == PT_FMT_EV_ENTER) {
		if (t->depth == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			pt_frame_id *v = realloc(t->open, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			t->open = v;
			t->cap = cap;
		}
		t->open[t->depth++] = ev->call.frame;
		ss_spool(t, 'O', ev->call.frame, ev->call.ts);
		return 0;
	}
	/* An exit of a frame entered before tracing began has no open: left
	 * out. One that skips frames (an exception unwinding several) closes
	 * them too, innermost first, as speedscope needs. */
	size_t k = t->depth;
	while (k > 0 && t->open[k - 1] != ev->call.frame)
		k--;
	if (k == 0)
		return 0;
	while (t->depth >= k) {
		ss_spool(t, 'C', t->open[t->depth - 1], ev->call.ts);
		t->depth--;
		if (t->depth == 0)
			break;
	}
	return 0;
}

static void ss_profile_head(struct pt_sink *s, struct ss_state *st, const char *type,
			    const char *name, const char *unit, uint64_t start, uint64_t end)
{
	fprintf(s->f, "%s{\"type\":\"%s\",\"name\":", st->wrote_profiles ? "," : "", type);
	pt_out_json_string(s->f, name);
	fprintf(s->f, ",\"unit\":\"%s\",\"startValue\":%" PRIu64 ",\"endValue\":%" PRIu64, unit, start,
		end);
	st->wrote_profiles = true;
}

static void ss_sampled(struct pt_sink *s, struct ss_state *st, const struct pt_fmt_aggregate *a,
		       bool time)
{
	uint64_t total = 0;
	char name[128];

	for (size_t i = 0; i < a->n; i++)
		total += time ? a->v[i]->ns : a->v[i]->count;
	snprintf(name, sizeof(name), "%s (%s)", s->o.title ? s->o.title : "pytrace",
		 time ? (s->o.time_unit_name ? s->o.time_unit_name : "time")
		      : (s->o.count_unit ? s->o.count_unit : "count"));
	ss_profile_head(s, st, "sampled", name, time ? "nanoseconds" : "none", 0, total);
	fputs(",\"samples\":[", s->f);
	for (size_t i = 0; i < a->n; i++) {
		size_t n;
		const pt_frame_id *ids = pt_intern_stack_get(a->in, a->v[i]->stack, &n, NULL);
		bool first = true;
		fputs(i ? ",[" : "[", s->f);
		/* Root first. */
		for (size_t k = n; k-- > 0;) {
			if (pt_intern_frame_get(a->in, ids[k])->kind == PT_FRAME_NOTE)
				continue;
			fprintf(s->f, "%s%" PRIu32, first ? "" : ",", ids[k]);
			first = false;
		}
		fputc(']', s->f);
	}
	fputs("],\"weights\":[", s->f);
	for (size_t i = 0; i < a->n; i++)
		fprintf(s->f, "%s%" PRIu64, i ? "," : "", time ? a->v[i]->ns : a->v[i]->count);
	fputs("]}", s->f);
}

static int ss_aggregate(struct pt_sink *s, const struct pt_fmt_aggregate *a)
{
	struct ss_state *st = s->priv;

	st->in = a->in;
	/* The first profile is the one speedscope opens. */
	if (a->by_time)
		ss_sampled(s, st, a, true);
	ss_sampled(s, st, a, false);
	if (a->has_time && !a->by_time)
		ss_sampled(s, st, a, true);
	return 0;
}

static int ss_end(struct pt_sink *s)
{
	struct ss_state *st = s->priv;
	FILE *f = s->f;
	int rc = 0;

	for (size_t i = 0; i < st->n; i++) {
		struct ss_thread *t = &st->threads[i];
		char name[64];
		if (!t->any)
			continue;
		/* Frames still open at the end close there. */
		while (t->depth > 0) {
			ss_spool(t, 'C', t->open[t->depth - 1], t->last);
			t->depth--;
		}
		if (t->name)
			snprintf(name, sizeof(name), "%s (thread %d)", t->name, (int)t->tid);
		else
			snprintf(name, sizeof(name), "thread %d", (int)t->tid);
		ss_profile_head(s, st, "evented", name, "nanoseconds", t->first, t->last);
		fputs(",\"events\":[", f);
		rewind(t->spool);
		char buf[1 << 16];
		size_t got;
		while ((got = fread(buf, 1, sizeof(buf), t->spool)) > 0)
			fwrite(buf, 1, got, f);
		if (ferror(t->spool))
			rc = -EIO;
		fputs("]}", f);
	}
	fputs("],\"shared\":{\"frames\":[", f);
	size_t nf = st->in ? pt_intern_nframes(st->in) : 0;
	for (size_t i = 0; i < nf; i++) {
		const struct pt_frame *fr = pt_intern_frame_get(st->in, (pt_frame_id)i);
		char name[1024];
		pt_fmt_frame_name(fr, name, sizeof(name));
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		pt_out_json_string(f, name);
		if (fr->kind == PT_FRAME_PYTHON) {
			fputs(",\"file\":", f);
			pt_out_json_string(f, fr->file);
			if (fr->line >= 0)
				fprintf(f, ",\"line\":%d", fr->line);
		} else if (fr->kind == PT_FRAME_NATIVE && fr->module) {
			fputs(",\"file\":", f);
			pt_out_json_string(f, fr->module);
		}
		fputc('}', f);
	}
	fputs("]}}\n", f);
	return rc;
}

static void ss_free(struct pt_sink *s)
{
	struct ss_state *st = s->priv;
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		if (st->threads[i].spool)
			fclose(st->threads[i].spool);
		free(st->threads[i].name);
		free(st->threads[i].open);
	}
	free(st->threads);
	free(st);
	s->priv = NULL;
}

const struct pt_format pt_format_speedscope = {
	.name = "speedscope",
	.caps = PT_FMT_AGGREGATE | PT_FMT_TIMELINE,
	.begin = ss_begin,
	.event = ss_event,
	.aggregate = ss_aggregate,
	.end = ss_end,
	.free_priv = ss_free,
};
