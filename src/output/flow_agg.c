/* SPDX-License-Identifier: MIT */
/* flow's aggregations as text (the --count table, --latency histograms),
 * through the formats (--profile), as a Trace Event file, and the status
 * line. */
#include "output/flow_agg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/format.h"
#include "output/output.h"
#include "output/put.h"
#include "stack/aggregate.h"

/* --- the table and the histograms ------------------------------------- */

struct sort_ctx {
	const struct flow_agg *a;
	enum pt_flow_sort by;
};

static uint64_t sort_key(const struct flow_agg_func *f, enum pt_flow_sort by)
{
	switch (by) {
	case PT_FLOW_BY_TOTAL: return f->total_ns;
	case PT_FLOW_BY_CALLS: return f->calls;
	case PT_FLOW_BY_MEAN: return f->calls ? f->sum_ns / f->calls : 0;
	case PT_FLOW_BY_OWN: break;
	}
	return f->own_ns;
}

static int func_cmp(const struct flow_agg_func *x, const struct flow_agg_func *y,
		    enum pt_flow_sort by)
{
	uint64_t kx = sort_key(x, by), ky = sort_key(y, by);
	int c;

	if (kx != ky)
		return kx > ky ? -1 : 1;
	if ((c = strcmp(x->name, y->name)))
		return c;
	if (!x->file || !y->file)
		return !x->file - !y->file;
	if ((c = strcmp(x->file, y->file)))
		return c;
	return (x->firstlineno > y->firstlineno) - (x->firstlineno < y->firstlineno);
}

static enum pt_flow_sort qsort_by;

static int qsort_cmp(const void *a, const void *b)
{
	return func_cmp(*(const struct flow_agg_func *const *)a,
			*(const struct flow_agg_func *const *)b, qsort_by);
}

/* The functions that ran (or, hist_only, have a histogram), sorted; *n
 * of them (malloc'd). */
static const struct flow_agg_func **sorted_funcs(const struct flow_agg *a, enum pt_flow_sort by,
						 bool hist_only, size_t *n)
{
	size_t total = flow_agg_n_funcs(a), k = 0;
	const struct flow_agg_func **v = malloc((total ? total : 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (uint32_t i = 0; i < total; i++) {
		const struct flow_agg_func *f = flow_agg_func(a, i);
		if (hist_only ? f->hist && f->hist->count : f->calls || f->own_ns || f->total_ns)
			v[k++] = f;
	}
	qsort_by = by;
	qsort(v, k, sizeof(*v), qsort_cmp);
	*n = k;
	return v;
}

/* ns as microseconds with three decimals, right-aligned in width. */
static void put_us(FILE *f, uint64_t ns, int width)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
	fprintf(f, "%*s", width, buf);
}

static void put_func(FILE *f, const struct flow_agg_func *fn)
{
	if (fn->file)
		fprintf(f, "%s (%s:%d)", fn->name, fn->file, fn->firstlineno);
	else
		fprintf(f, "%s (C)", fn->name);
}

void pt_out_flow_count(FILE *f, const struct flow_agg *a, enum pt_flow_sort by, size_t top)
{
	size_t n;
	const struct flow_agg_func **v = sorted_funcs(a, by, false, &n);
	uint64_t calls = 0, own = 0;

	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		calls += v[i]->calls;
		own += v[i]->own_ns;
	}
	fprintf(f, "%zu functions, %" PRIu64 " calls, %" PRIu64 ".%06" PRIu64 " s traced", n, calls,
		flow_agg_span_ns(a) / 1000000000u, flow_agg_span_ns(a) / 1000u % 1000000u);
	if (top && top < n)
		fprintf(f, "; the top %zu by %s", top,
			by == PT_FLOW_BY_TOTAL ? "total" : by == PT_FLOW_BY_CALLS ? "calls"
			: by == PT_FLOW_BY_MEAN ? "mean" : "own time");
	fputc('\n', f);
	fprintf(f, "%12s %16s %16s %6s %14s  %s\n", "CALLS", "TOTAL(us)", "OWN(us)", "OWN%",
		"MEAN(us)", "FUNCTION");
	for (size_t i = 0; i < n && (!top || i < top); i++) {
		const struct flow_agg_func *fn = v[i];
		fprintf(f, "%12" PRIu64 " ", fn->calls);
		put_us(f, fn->total_ns, 16);
		fputc(' ', f);
		put_us(f, fn->own_ns, 16);
		/* tenths of a percent, rounded */
		uint64_t permille = own ? (fn->own_ns * 1000 + own / 2) / own : 0;
		fprintf(f, " %4" PRIu64 ".%" PRIu64 " ", permille / 10, permille % 10);
		if (fn->calls)
			put_us(f, fn->sum_ns / fn->calls, 14);
		else
			fprintf(f, "%14s", "-");
		fputs("  ", f);
		put_func(f, fn);
		fputc('\n', f);
	}
	free(v);
}

void pt_out_flow_latency(FILE *f, const struct flow_agg *a, enum pt_flow_sort by, size_t top)
{
	size_t n;
	const struct flow_agg_func **v = sorted_funcs(a, by, true, &n);

	if (!v)
		return;
	if (!n)
		fputs("no call of a --latency function completed\n", f);
	for (size_t i = 0; i < n && (!top || i < top); i++) {
		fputs(i ? "\n  " : "  ", f);
		put_func(f, v[i]);
		fputc('\n', f);
		pt_out_quantize_text(f, v[i]->hist, "ns");
	}
	free(v);
}

/* --- the profile ------------------------------------------------------- */

struct profile_ctx {
	const struct flow_agg *a;
	struct pt_intern *in;
	struct pt_agg *agg;
	pt_frame_id *ids;
	size_t cap;
	bool by_time;                /* count: calls, ns: own time; else count: ns */
};

static int profile_stack(void *arg, pid_t tid, const uint32_t *funcs, size_t depth,
			 uint64_t own_ns, uint64_t calls)
{
	struct profile_ctx *c = arg;
	size_t n = depth + (tid != 0);
	pt_stack_id sid;

	if (n > c->cap) {
		size_t ncap = n * 2;
		pt_frame_id *ni = realloc(c->ids, ncap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		c->ids = ni;
		c->cap = ncap;
	}
	/* innermost first */
	for (size_t i = 0; i < depth; i++)
		c->ids[i] = flow_agg_func(c->a, funcs[depth - 1 - i])->frame;
	if (tid) {
		char label[32];
		snprintf(label, sizeof(label), "thread %d", (int)tid);
		struct pt_frame fr = { .kind = PT_FRAME_LABEL, .function = label, .line = -1 };
		if (pt_intern_frame(c->in, &fr, &c->ids[depth]) < 0)
			return -ENOMEM;
	}
	if (pt_intern_stack(c->in, c->ids, n, 0, &sid) < 0)
		return -ENOMEM;
	if (c->by_time)
		return pt_agg_add(c->agg, sid, calls, own_ns > INT64_MAX ? INT64_MAX : (int64_t)own_ns);
	return own_ns ? pt_agg_add(c->agg, sid, own_ns, -1) : 0;
}

int pt_out_flow_profile(FILE *f, const char *format, const struct flow_agg *a,
			const char *title)
{
	const struct pt_format *fmt = pt_format_find(format);
	struct profile_ctx c = { .a = a, .in = flow_agg_intern(a) };
	const struct pt_agg_entry **v = NULL;
	struct pt_sink *s = NULL;
	size_t n;
	int rc;

	if (!fmt || !pt_format_supports(fmt, PT_FMT_AGGREGATE))
		return -ENOTSUP;
	if (!(c.agg = pt_agg_new(c.in, 0)))
		return -ENOMEM;
	/* The folded lines carry one number: the time. The other formats
	 * weigh by time and also show the calls (pprof's second sample type). */
	c.by_time = strcmp(fmt->name, "folded") != 0;
	if ((rc = flow_agg_stacks(a, profile_stack, &c)) < 0 ||
	    (rc = pt_agg_sorted(c.agg, c.by_time ? PT_AGG_BY_TIME : PT_AGG_BY_COUNT, 0, false, &v,
				&n)) < 0)
		goto out;
	struct pt_sink_opts so = { .in = c.in, .title = title,
				   .count_unit = c.by_time ? "calls" : "nanoseconds",
				   .time_unit_name = "time" };
	if ((rc = pt_sink_open(&s, fmt, f, &so)) < 0)
		goto out;
	struct pt_fmt_aggregate agg = { .in = c.in, .v = v, .n = n, .distinct = n,
					.by_time = c.by_time, .has_time = c.by_time };
	rc = pt_sink_aggregate(s, &agg);
	int crc = pt_sink_close(s);
	if (rc == 0)
		rc = crc;
out:
	free(v);
	free(c.ids);
	pt_agg_free(c.agg);
	return rc;
}

struct pt_flow_timeline {
	struct pt_sink *s;
	const struct flow_agg *a;
};

struct pt_flow_timeline *pt_out_flow_timeline_new(FILE *f, const char *format,
						  const struct flow_agg *a, const char *title)
{
	const struct pt_format *fmt = pt_format_find(format);
	struct pt_sink_opts so = { .in = flow_agg_intern(a), .title = title,
				   .count_unit = "nanoseconds" };
	struct pt_flow_timeline *t;

	if (!fmt || !pt_format_supports(fmt, PT_FMT_TIMELINE) || !(t = calloc(1, sizeof(*t))))
		return NULL;
	t->a = a;
	if (pt_sink_open(&t->s, fmt, f, &so) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

int pt_out_flow_timeline_frame(void *arg, pid_t tid, uint32_t func, bool open, uint64_t ts)
{
	struct pt_flow_timeline *t = arg;
	const struct flow_agg_func *fn = flow_agg_func(t->a, func);
	struct pt_fmt_event e = { .kind = open ? PT_FMT_EV_ENTER : PT_FMT_EV_EXIT,
				  .call = { .tid = tid, .ts = ts, .frame = fn->frame } };

	return pt_sink_event(t->s, &e);
}

int pt_out_flow_timeline_end(struct pt_flow_timeline *t)
{
	int rc;

	if (!t)
		return 0;
	rc = pt_sink_close(t->s);
	free(t);
	return rc;
}

/* --- the Trace Event file ------------------------------------------------ */

struct pt_trace_out {
	FILE *f;
	const struct flow_agg *a;
	pid_t pid;
	char **frag;                 /* per function: "name":"..",...,"args":{..}} */
	size_t n_frag;
	int error;                   /* the first failed write: nothing more written */
	pid_t last_tid;              /* threads named so far: the last (cheap check) */
	pid_t *named;
	size_t n_named, cap_named;
};

/* A JSON string's contents into a malloc'd buffer (escaped as
 * pt_out_json_string does). */
static char *json_escaped(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return NULL;
	pt_out_json_string(m, s);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;  /* with its quotes */
}

static const char *trace_frag(struct pt_trace_out *o, uint32_t func)
{
	if (func >= o->n_frag) {
		size_t n = o->n_frag ? o->n_frag : 256;
		while (n <= func)
			n *= 2;
		char **nf = realloc(o->frag, n * sizeof(*nf));
		if (!nf)
			return NULL;
		memset(nf + o->n_frag, 0, (n - o->n_frag) * sizeof(*nf));
		o->frag = nf;
		o->n_frag = n;
	}
	if (o->frag[func])
		return o->frag[func];
	const struct flow_agg_func *fn = flow_agg_func(o->a, func);
	char *name = json_escaped(fn->name), *file = fn->file ? json_escaped(fn->file) : NULL;
	char *frag = NULL;
	size_t len = 0;
	FILE *m = name && (file || !fn->file) ? open_memstream(&frag, &len) : NULL;
	if (m) {
		if (fn->file)
			fprintf(m, "\"name\":%s,\"cat\":\"python\",\"args\":{\"file\":%s,\"line\":%d}}",
				name, file, fn->firstlineno);
		else
			fprintf(m, "\"name\":%s,\"cat\":\"c\",\"args\":{}}", name);
		if (fclose(m) != 0) {
			free(frag);
			frag = NULL;
		}
	}
	free(name);
	free(file);
	return o->frag[func] = frag;
}

struct pt_trace_out *pt_out_trace_new(FILE *f, const struct flow_agg *a, pid_t pid,
				      const char *process_name)
{
	struct pt_trace_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->f = f;
	o->a = a;
	o->pid = pid;
	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
	fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
		(int)pid, (int)pid);
	pt_out_json_string(f, process_name ? process_name : "python");
	fputs("}}", f);
	return o;
}

static char *put_lit(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* ns as microseconds with three decimals: "12.345" */
static char *put_us3(char *p, uint64_t ns)
{
	p = pt_put_u64(p, ns / 1000);
	*p++ = '.';
	*p++ = (char)('0' + ns % 1000 / 100);
	*p++ = (char)('0' + ns % 100 / 10);
	*p++ = (char)('0' + ns % 10);
	return p;
}

int pt_out_trace_slice(void *arg, const struct flow_agg_slice *s)
{
	struct pt_trace_out *o = arg;
	const char *frag;

	/* A file that cannot be written (a full disk) is reported at the end;
	 * the trace and the other outputs go on. */
	if (o->error)
		return 0;
	if (!(frag = trace_frag(o, s->func)))
		return -ENOMEM;
	if (s->tid != o->last_tid) {
		bool seen = false;
		for (size_t i = 0; i < o->n_named && !seen; i++)
			seen = o->named[i] == s->tid;
		if (!seen) {
			if (o->n_named == o->cap_named) {
				size_t ncap = o->cap_named ? o->cap_named * 2 : 16;
				pid_t *nn = realloc(o->named, ncap * sizeof(*nn));
				if (!nn)
					return -ENOMEM;
				o->named = nn;
				o->cap_named = ncap;
			}
			o->named[o->n_named++] = s->tid;
			fprintf(o->f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,"
				"\"args\":{\"name\":\"thread %d\"}}", (int)o->pid, (int)s->tid, (int)s->tid);
		}
		o->last_tid = s->tid;
	}
	/* One buffer and one write per slice: millions of them. */
	char buf[160], *p = buf;
	p = put_lit(p, ",\n{\"ph\":\"X\",\"pid\":");
	p = pt_put_u64(p, (uint64_t)o->pid);
	p = put_lit(p, ",\"tid\":");
	p = pt_put_u64(p, (uint64_t)s->tid);
	p = put_lit(p, ",\"ts\":");
	p = put_us3(p, s->start_ns);
	p = put_lit(p, ",\"dur\":");
	p = put_us3(p, s->end_ns - s->start_ns);
	*p++ = ',';
	fwrite(buf, 1, (size_t)(p - buf), o->f);
	fputs(frag, o->f);
	if (ferror(o->f))
		o->error = errno ? errno : EIO;
	return 0;
}

int pt_out_trace_end(struct pt_trace_out *o)
{
	int rc;

	if (!o)
		return 0;
	fputs("\n]}\n", o->f);
	rc = fflush(o->f) != 0 || ferror(o->f) ? -(errno ? errno : EIO) : 0;
	if (o->error)
		rc = -o->error;
	for (size_t i = 0; i < o->n_frag; i++)
		free(o->frag[i]);
	free(o->frag);
	free(o->named);
	free(o);
	return rc;
}

/* --- status ---------------------------------------------------------------- */

static void put_count(char *buf, size_t size, double v)
{
	if (v >= 1e9)
		snprintf(buf, size, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, size, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, size, "%.1fk", v / 1e3);
	else
		snprintf(buf, size, "%.0f", v);
}

void pt_out_flow_status(FILE *f, uint64_t events, double rate, double elapsed, uint64_t dropped,
			bool done)
{
	char ev[32], r[32];

	if (done) {
		fputs("\r\033[K", f);
		fflush(f);
		return;
	}
	put_count(ev, sizeof(ev), (double)events);
	put_count(r, sizeof(r), rate);
	fprintf(f, "\r\033[Kpytrace: %s events, %s/s, %.1fs, %" PRIu64 " dropped", ev, r, elapsed,
		dropped);
	fflush(f);
}
