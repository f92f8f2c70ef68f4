/* SPDX-License-Identifier: MIT */
/* Output of `pytrace stacks`: one traced call (strace's line, then the
 * stack), or the aggregated stacks as text, folded lines or JSON. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/output.h"

static void out_escaped(FILE *f, const char *s, size_t len)
{
	char buf[1024];
	size_t done = 0;

	while (done < len) {
		size_t used = pt_str_escape(buf, sizeof(buf), s + done, len - done);
		fputs(buf, f);
		if (used == 0)
			break;
		done += used;
	}
}

static void out_arg_text(FILE *f, const struct pt_sysarg *a)
{
	switch (a->kind) {
	case PT_SYSARG_NUM:
		fprintf(f, "%" PRId64, a->num);
		break;
	case PT_SYSARG_STR:
		fputc('"', f);
		out_escaped(f, a->str, a->len);
		fputs(a->truncated ? "\"..." : "\"", f);
		break;
	case PT_SYSARG_TEXT:
		fputs(a->text ? a->text : "?", f);
		break;
	}
}

static void out_return_text(FILE *f, const struct pt_syscall *sc)
{
	if (!sc->returned) {
		fputs(" = ?", f);
		return;
	}
	if (sc->err) {
		const char *name = pt_errno_name(sc->err);
		/* ERESTART*: the call was interrupted and will be made again. */
		bool internal = sc->err >= PT_ERRNO_INTERNAL_FIRST && sc->err <= PT_ERRNO_INTERNAL_LAST;
		if (name)
			fprintf(f, " = %s %s (%s)", internal ? "?" : "-1", name, pt_errno_message(sc->err));
		else
			fprintf(f, " = -1 errno %d (%s)", sc->err, pt_errno_message(sc->err));
		return;
	}
	if (sc->ret_hex)
		fprintf(f, " = %#" PRIx64, (uint64_t)sc->ret);
	else
		fprintf(f, " = %" PRId64, sc->ret);
}

void pt_out_syscall_call_text(FILE *f, const struct pt_syscall *sc)
{
	fprintf(f, "%s(", sc->name);
	for (size_t i = 0; i < sc->nargs; i++) {
		if (i)
			fputs(", ", f);
		out_arg_text(f, &sc->args[i]);
	}
}

void pt_out_syscall_text(FILE *f, const struct pt_syscall *sc)
{
	pt_out_syscall_call_text(f, sc);
	fputc(')', f);
	out_return_text(f, sc);
}

static void out_duration(FILE *f, const struct pt_syscall_event *ev)
{
	if (ev->show_time && ev->duration_ns >= 0)
		fprintf(f, " <%" PRId64 ".%06" PRId64 ">", ev->duration_ns / 1000000000,
			ev->duration_ns / 1000 % 1000000);
}

static void out_time(FILE *f, const struct timespec *ts)
{
	struct tm tm;
	time_t sec = ts->tv_sec;

	localtime_r(&sec, &tm);
	fprintf(f, "%02d:%02d:%02d.%06ld", tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000);
}

void pt_out_stacks_event_text(FILE *f, const struct pt_syscall_event *ev)
{
	out_time(f, &ev->when);
	fprintf(f, " %d/%d ", (int)ev->pid, (int)ev->tid);
	if (ev->phase == PT_EV_UNFINISHED) {
		pt_out_syscall_call_text(f, ev->sc);
		fputs(" <unfinished ...>\n", f);
	} else if (ev->phase == PT_EV_RESUMED) {
		/* The stack was printed with the start. */
		fprintf(f, "<... %s resumed>)", ev->sc->name);
		out_return_text(f, ev->sc);
		out_duration(f, ev);
		fputc('\n', f);
		return;
	} else {
		pt_out_syscall_text(f, ev->sc);
		out_duration(f, ev);
		fputc('\n', f);
	}
	if (ev->thread)
		pt_out_text_stack(f, ev->thread, ev->native, "  ");
	else
		fprintf(f, "  (no stack: %s)\n", ev->no_stack ? ev->no_stack : "not read");
}

/* Bytes read from the target as a JSON string: NULs and control bytes as
 * \u00XX, bytes that are not UTF-8 as their Latin-1 character (the rule
 * pt_out_json_string follows), so that a buffer survives whole. */
static void json_bytes(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	fputc('"', f);
	while (i < len) {
		unsigned char c = s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3
			 : (c & 0xf8) == 0xf0 ? 4 : 0;
		for (size_t k = 1; n > 1 && k < n; k++)
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				n = 0;
		if (n > 1) {
			fwrite(s + i, 1, n, f);
			i += n;
			continue;
		}
		if (n == 1 && (c == '"' || c == '\\'))
			fprintf(f, "\\%c", c);
		else if (n == 1 && c >= 0x20 && c != 0x7f)
			fputc(c, f);
		else
			fprintf(f, "\\u%04x", c);
		i++;
	}
	fputc('"', f);
}

static void json_arg(FILE *f, const struct pt_sysarg *a)
{
	switch (a->kind) {
	case PT_SYSARG_NUM:
		fprintf(f, "%" PRId64, a->num);
		break;
	case PT_SYSARG_STR:
		json_bytes(f, a->str, a->len);
		break;
	case PT_SYSARG_TEXT:
		pt_out_json_string(f, a->text);
		break;
	}
}

void pt_out_stacks_event_json(FILE *f, const struct pt_syscall_event *ev)
{
	const struct pt_syscall *sc = ev->sc;
	char *call = NULL;
	size_t call_len = 0;
	FILE *m;

	fprintf(f, "{\"event\":\"%s\",\"time\":\"",
		ev->phase == PT_EV_UNFINISHED ? "unfinished" : ev->phase == PT_EV_RESUMED ? "resumed"
		: "call");
	out_time(f, &ev->when);
	fprintf(f, "\",\"timestamp\":%lld.%06ld,\"pid\":%d,\"tid\":%d,\"syscall\":",
		(long long)ev->when.tv_sec, ev->when.tv_nsec / 1000, (int)ev->pid, (int)ev->tid);
	pt_out_json_string(f, sc->name);
	fputs(",\"args\":[", f);
	for (size_t i = 0; i < sc->nargs; i++) {
		if (i)
			fputc(',', f);
		json_arg(f, &sc->args[i]);
	}
	fputs("],\"call\":", f);
	if ((m = open_memstream(&call, &call_len))) {
		pt_out_syscall_text(m, sc);
		fclose(m);
	}
	pt_out_json_string(f, call);
	free(call);
	if (!sc->returned)
		fputs(",\"return\":null,\"error\":null", f);
	else if (sc->err) {
		fprintf(f, ",\"return\":%" PRId64 ",\"error\":", sc->ret);
		pt_out_json_string(f, pt_errno_name(sc->err));
	} else {
		fprintf(f, ",\"return\":%" PRId64 ",\"error\":null", sc->ret);
	}
	if (ev->duration_ns >= 0)
		fprintf(f, ",\"duration\":%" PRId64 ".%09" PRId64, ev->duration_ns / 1000000000,
			ev->duration_ns % 1000000000);
	else
		fputs(",\"duration\":null", f);
	fprintf(f, ",\"python\":%s,\"native\":%s,", ev->python ? "true" : "false",
		ev->native ? "true" : "false");
	if (ev->thread) {
		pt_out_json_frames(f, ev->thread, ev->native);
		if (ev->thread->py_error) {
			fputs(",\"python_error\":", f);
			pt_out_json_string(f, ev->thread->py_error);
		}
		if (ev->native && ev->thread->native_error) {
			fputs(",\"native_error\":", f);
			pt_out_json_string(f, ev->thread->native_error);
		}
	} else {
		fputs("\"frames\":[],\"no_stack\":", f);
		pt_out_json_string(f, ev->no_stack ? ev->no_stack : "not read");
	}
	fputs("}\n", f);
}

int pt_out_stack_key(struct pt_out_buf *b, const struct pt_syscall_event *ev, const char **key,
		     size_t *len)
{
	if (!b->f && !(b->f = open_memstream(&b->data, &b->size)))
		return -1;
	if (fseeko(b->f, 0, SEEK_SET) != 0)
		return -1;
	if (ev->thread)
		pt_out_text_stack(b->f, ev->thread, ev->native, "");
	else
		fprintf(b->f, "(no stack: %s)\n", ev->no_stack ? ev->no_stack : "not read");
	if (fflush(b->f) != 0)
		return -1;
	off_t pos = ftello(b->f);
	if (pos < 0)
		return -1;
	*key = b->data;
	*len = (size_t)pos;
	return 0;
}

void pt_out_buf_free(struct pt_out_buf *b)
{
	if (b->f)
		fclose(b->f);
	free(b->data);
	*b = (struct pt_out_buf){ 0 };
}

void pt_out_stacks_agg_text(FILE *f, const struct pt_agg_entry *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct pt_agg_entry *e = v[i];
		const char *cur = e->stack, *end = e->stack + e->stack_len;

		fprintf(f, "%s\n", e->syscall);
		/* The key is pt_out_text_stack's text: indent each line by two;
		 * identical consecutive lines (recursion) print once. */
		while (cur < end) {
			const char *nl = memchr(cur, '\n', (size_t)(end - cur));
			size_t len = nl ? (size_t)(nl - cur) : (size_t)(end - cur);
			const char *next = cur + len + (nl ? 1 : 0);
			size_t same = 1;
			while (pt_out_style.collapse && next < end) {
				const char *nl2 = memchr(next, '\n', (size_t)(end - next));
				size_t len2 = nl2 ? (size_t)(nl2 - next) : (size_t)(end - next);
				if (len2 != len || memcmp(next, cur, len) || cur[0] == '(')
					break;
				same++;
				next += len2 + (nl2 ? 1 : 0);
			}
			fprintf(f, "  %.*s\n", (int)len, cur);
			if (same == 2)
				fprintf(f, "  %.*s\n", (int)len, cur);
			else if (same > 2)
				fprintf(f, "  [previous frame repeated %zu more times]\n", same - 1);
			cur = next;
		}
		fprintf(f, "  %" PRIu64 "\n\n", e->count);
	}
}

void pt_out_stacks_agg_folded(FILE *f, const struct pt_agg_entry *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *line = pt_agg_folded(v[i]);
		if (line)
			fprintf(f, "%s %" PRIu64 "\n", line, v[i]->count);
		free(line);
	}
}

/* One Python frame object; line is the text after the colon ("?": none).
 * func and file are as the text escaped them (modified in place). */
static void json_python_frame(FILE *f, char *func, char *file, const char *line)
{
	pt_out_text_unescape(func);
	pt_out_text_unescape(file);
	fputs("{\"kind\":\"python\",\"function\":", f);
	pt_out_json_string(f, func);
	fputs(",\"file\":", f);
	pt_out_json_string(f, file);
	if (line[0] == '?')
		fputs(",\"line\":null}", f);
	else
		fprintf(f, ",\"line\":%d}", atoi(line));
}

/* A frame line of an aggregation key back as the object dump --json
 * prints: "func (file:line)" is a Python frame, "[ file:line (func) ]" a
 * Python frame under a native one, "mod`sym+0xoff" / "mod+0xoff" / "0xpc"
 * a native frame. */
static void json_frame_of_line(FILE *f, const char *s)
{
	size_t len = strlen(s);
	const char *open, *colon;

	if (len > 4 && s[0] == '[' && s[len - 1] == ']') {
		/* [ file:line (func) ] */
		const char *p = s + 2, *par = strrchr(s, '(');
		if (par && par > p && (colon = memrchr(p, ':', (size_t)(par - p)))) {
			char *func = strndup(par + 1, (size_t)(s + len - 3 - par - 1 + 1));
			char *file = strndup(p, (size_t)(colon - p));
			if (func && file) {
				char *cl = strrchr(func, ')');
				if (cl)
					*cl = 0;
				json_python_frame(f, func, file, colon + 1);
			}
			free(func);
			free(file);
			if (func && file)
				return;
		}
	}
	if (!strncmp(s, "<unreadable ", 12)) {
		fprintf(f, "{\"kind\":\"python\",\"unreadable\":true,\"address\":%llu}",
			strtoull(s + 12, NULL, 16));
		return;
	}
	if (len > 3 && s[len - 1] == ')' && (open = strrchr(s, '(')) && open > s && open[-1] == ' ' &&
	    (colon = strrchr(open, ':'))) {
		char *func = strndup(s, (size_t)(open - 1 - s));
		char *file = strndup(open + 1, (size_t)(colon - open - 1));
		if (func && file) {
			json_python_frame(f, func, file, colon + 1);
		}
		free(func);
		free(file);
		if (func && file)
			return;
	}
	/* Native: module`symbol+0xoff, module+0xoff or 0xpc. */
	const char *tick = strchr(s, '`'), *plus = strrchr(s, '+');
	fputs("{\"kind\":\"native\",\"module\":", f);
	if (tick || plus) {
		char *mod = strndup(s, (size_t)((tick ? tick : plus) - s));
		if (mod)
			pt_out_text_unescape(mod);
		pt_out_json_string(f, mod);
		free(mod);
	} else {
		fputs("null", f);
	}
	fputs(",\"symbol\":", f);
	if (tick) {
		char *sym = strndup(tick + 1, (size_t)((plus && plus > tick ? plus : s + len) - tick - 1));
		if (sym)
			pt_out_text_unescape(sym);
		pt_out_json_string(f, sym);
		free(sym);
	} else {
		fputs("null", f);
	}
	fprintf(f, ",\"offset\":%llu,\"address\":%llu}",
		plus ? strtoull(plus + 1, NULL, 16) : 0ull,
		!tick && !plus ? strtoull(s, NULL, 16) : 0ull);
}

void pt_out_stacks_agg_json(FILE *f, const struct pt_agg_entry *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct pt_agg_entry *e = v[i];
		const char *end = e->stack + e->stack_len, *cur, *line;
		size_t len;
		bool note, first = true;
		char *s;

		fputs("{\"syscall\":", f);
		pt_out_json_string(f, e->syscall);
		fprintf(f, ",\"count\":%" PRIu64 ",\"frames\":[", e->count);
		for (int pass = 0; pass < 2; pass++) {
			if (pass == 1)
				fputs("],\"notes\":[", f);
			first = true;
			cur = e->stack;
			while (pt_agg_next_line(&cur, end, &line, &len, &note)) {
				if (note != (pass == 1))
					continue;
				if (!(s = strndup(line, len)))
					continue;
				if (!first)
					fputc(',', f);
				first = false;
				if (pass == 0)
					json_frame_of_line(f, s);
				else
					pt_out_json_string(f, s);
				free(s);
			}
		}
		fputs("]}\n", f);
	}
}

void pt_out_stacks_agg_header(FILE *f, size_t shown, size_t distinct, bool most_first)
{
	if (shown < distinct)
		fprintf(f, "# the %zu most frequent of %zu distinct stacks, %s first\n\n", shown,
			distinct, most_first ? "most" : "least");
	else
		fprintf(f, "# %zu distinct stack%s, %s frequent first\n\n", distinct,
			distinct == 1 ? "" : "s", most_first ? "most" : "least");
}

static uint64_t summary_errors(const struct pt_out_syscall_row *rows, size_t n, uint64_t *ns,
			       uint64_t *calls)
{
	uint64_t errors = 0;

	*ns = *calls = 0;
	for (size_t i = 0; i < n; i++) {
		errors += rows[i].errors;
		*ns += rows[i].ns;
		*calls += rows[i].calls;
	}
	return errors;
}

void pt_out_stacks_summary_text(FILE *f, const struct pt_out_syscall_row *rows, size_t n,
				uint64_t events, size_t distinct)
{
	uint64_t ns, calls, errors = summary_errors(rows, n, &ns, &calls);
	static const char rule[] =
		"------ ----------- ----------- --------- --------- ----------------\n";

	fprintf(f, "# %" PRIu64 " event%s, %zu distinct stack%s, %" PRIu64 " error%s\n\n", events,
		events == 1 ? "" : "s", distinct, distinct == 1 ? "" : "s", errors,
		errors == 1 ? "" : "s");
	fprintf(f, "%% time     seconds  usecs/call     calls    errors syscall\n%s", rule);
	for (size_t i = 0; i < n; i++) {
		const struct pt_out_syscall_row *r = &rows[i];
		fprintf(f, "%6.2f %11.6f %11" PRIu64 " %9" PRIu64 " ", ns ? 100.0 * (double)r->ns / (double)ns
			: 0.0, (double)r->ns / 1e9, r->calls ? r->ns / 1000 / r->calls : 0, r->calls);
		if (r->errors)
			fprintf(f, "%9" PRIu64, r->errors);
		else
			fputs("         ", f);
		fprintf(f, " %s\n", r->name);
	}
	fputs(rule, f);
	fprintf(f, "100.00 %11.6f %11" PRIu64 " %9" PRIu64 " %9" PRIu64 " total\n", (double)ns / 1e9,
		calls ? ns / 1000 / calls : 0, calls, errors);
}

void pt_out_stacks_summary_json(FILE *f, const struct pt_out_syscall_row *rows, size_t n,
				uint64_t events, size_t distinct)
{
	uint64_t ns, calls, errors = summary_errors(rows, n, &ns, &calls);

	fprintf(f, "{\"totals\":{\"events\":%" PRIu64 ",\"stacks\":%zu,\"errors\":%" PRIu64
		",\"seconds\":%.9f},\"syscalls\":[", events, distinct, errors, (double)ns / 1e9);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"syscall\":" : "{\"syscall\":", f);
		pt_out_json_string(f, rows[i].name);
		fprintf(f, ",\"calls\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"seconds\":%.9f,"
			"\"usecs_per_call\":%.3f}", rows[i].calls, rows[i].errors, (double)rows[i].ns / 1e9,
			rows[i].calls ? (double)rows[i].ns / 1e3 / (double)rows[i].calls : 0.0);
	}
	fputs("]}\n", f);
}
