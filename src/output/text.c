/* SPDX-License-Identifier: MIT */
/* Text output: Python frames as "func (file:line)", native frames in the
 * DTrace ustack form module`symbol+0xoff, merged as the ustack helper did. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "syscalls/syscalls.h"

/*
 * Names (functions, files, modules, symbols, thread names) are the
 * target's bytes: a newline or a control character in one would break a
 * line-based reader. Text output escapes them as strace does: \n \t \r
 * \v \f, any other byte below 0x20, 0x7f and the C1 controls (UTF-8
 * c2 80-9f) as \xNN, a backslash as \\. JSON keeps the exact string.
 */
size_t pt_out_text_escape(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	char *p = out;

	for (; *u; u++) {
		unsigned c = *u;
		const char *short_form = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" :
					 c == '\v' ? "\\v" : c == '\f' ? "\\f" : c == '\\' ? "\\\\" : NULL;
		bool c1 = c == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f;
		if (short_form) {
			memcpy(p, short_form, 2);
			p += 2;
		} else if (c < 0x20 || c == 0x7f || c1) {
			for (int k = 0; k < (c1 ? 2 : 1); k++) {
				*p++ = '\\';
				*p++ = 'x';
				*p++ = hex[u[k] >> 4];
				*p++ = hex[u[k] & 15];
			}
			u += c1;
		} else {
			*p++ = (char)c;
		}
	}
	*p = 0;
	return (size_t)(p - out);
}

size_t pt_out_text_unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		if (*r != '\\' || !r[1]) {
			*w++ = *r;
			continue;
		}
		const char *fmt = strchr("ntrvf\\", r[1]);
		if (fmt) {
			*w++ = "\n\t\r\v\f\\"[fmt - "ntrvf\\"];
			r++;
		} else if (r[1] == 'x' && r[2] && r[3] && strchr("0123456789abcdef", r[2]) &&
			   strchr("0123456789abcdef", r[3])) {
			char hx[3] = { r[2], r[3], 0 };
			*w++ = (char)strtoul(hx, NULL, 16);
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
	return (size_t)(w - s);
}

void pt_out_text_name(FILE *f, const char *s)
{
	char small[256], *buf = small;
	size_t need = 4 * strlen(s) + 1;

	if (need > sizeof(small) && !(buf = malloc(need))) {
		fputs("?", f);
		return;
	}
	pt_out_text_escape(buf, s);
	fputs(buf, f);
	if (buf != small)
		free(buf);
}

void pt_out_text_pyframe(FILE *f, const struct pt_pyframe *fr)
{
	if (fr->unreadable) {
		fprintf(f, "<unreadable 0x%" PRIx64 ">", fr->addr);
		return;
	}
	pt_out_text_name(f, fr->function);
	fputs(" (", f);
	pt_out_text_name(f, fr->file);
	if (fr->line >= 0)
		fprintf(f, ":%d)", fr->line);
	else
		fputs(":?)", f);
}

static void text_pyframe_bracketed(FILE *f, const struct pt_pyframe *fr)
{
	if (fr->unreadable) {
		fprintf(f, "[ <unreadable 0x%" PRIx64 "> ]", fr->addr);
		return;
	}
	fputs("[ ", f);
	pt_out_text_name(f, fr->file);
	if (fr->line >= 0)
		fprintf(f, ":%d (", fr->line);
	else
		fputs(":? (", f);
	pt_out_text_name(f, fr->function);
	fputs(") ]", f);
}

void pt_out_text_native_frame(FILE *f, const struct pt_native_frame *fr)
{
	if (!fr->module) {
		fprintf(f, "0x%" PRIx64, fr->pc);
		return;
	}
	pt_out_text_name(f, fr->module);
	if (fr->symbol) {
		fputc('`', f);
		pt_out_text_name(f, fr->symbol);
	}
	fprintf(f, "+0x%" PRIx64, fr->offset);
}

const char *pt_out_activity_name(enum pt_thread_activity a)
{
	switch (a) {
	case PT_ACT_RUNNING: return "running";
	case PT_ACT_SYSCALL: return "idle";
	case PT_ACT_GIL_WAIT: return "gil_wait";
	case PT_ACT_UNKNOWN: break;
	}
	return NULL;
}

void pt_out_text_activity(FILE *f, const struct pt_thread *t)
{
	const char *sc = pt_syscall_name(t->syscall);

	switch (t->activity) {
	case PT_ACT_RUNNING:
		fputs(" [running]", f);
		break;
	case PT_ACT_SYSCALL:
		if (sc)
			fprintf(f, " [idle: %s]", sc);
		else
			fprintf(f, " [idle: syscall %ld]", t->syscall);
		break;
	case PT_ACT_GIL_WAIT:
		fputs(" [waiting for the GIL]", f);
		break;
	case PT_ACT_UNKNOWN:
		break;
	}
}

struct pt_out_stack_style pt_out_style = { .depth = 0, .collapse = true };

static bool pyframe_same(const struct pt_pyframe *a, const struct pt_pyframe *b)
{
	if (a->unreadable || b->unreadable)
		return false;
	return a->line == b->line && a->interp == b->interp && !a->n_locals && !b->n_locals &&
	       a->function && b->function && a->file && b->file &&
	       !strcmp(a->function, b->function) && !strcmp(a->file, b->file);
}

/* The frames shown of n: all, or the first pt_out_style.depth. */
static size_t text_shown(size_t n)
{
	return pt_out_style.depth && n > pt_out_style.depth ? pt_out_style.depth : n;
}

static void text_more(FILE *f, const char *indent, size_t n, size_t shown)
{
	if (shown < n)
		fprintf(f, "%s... (%zu more frame%s: --depth %zu)\n", indent, n - shown,
			n - shown == 1 ? "" : "s", pt_out_style.depth);
}

/* Whether frame i of t starts the frames of another interpreter than the
 * one before it, in a thread that runs more than the main interpreter: as
 * pystack, "In interpreter N:" then goes before it. */
static bool text_interp_starts(const struct pt_thread *t, size_t i)
{
	if (t->n_interps < 2 && !(t->n_py && t->py[0].interp != 0))
		return false;
	return i == 0 || t->py[i].interp != t->py[i - 1].interp;
}

/* dump --locals: under the frame, arguments then locals, one a line:
 * "name: type = value" (names and types escaped like other names; values
 * are rendered escaped already). */
static void text_locals(FILE *f, const struct pt_pyframe *fr, const char *indent)
{
	for (int pass = 0; pass < 2; pass++) {
		bool header = false;
		for (size_t i = 0; i < fr->n_locals; i++) {
			const struct pt_local *l = &fr->locals[i];
			if (l->is_arg != (pass == 0))
				continue;
			if (!header)
				fprintf(f, "%s    %s:\n", indent, pass == 0 ? "Arguments" : "Locals");
			header = true;
			fprintf(f, "%s      ", indent);
			pt_out_text_name(f, l->name);
			if (l->type && l->value) {
				fputs(": ", f);
				pt_out_text_name(f, l->type);
				fprintf(f, " = %s\n", l->value);
			} else {
				fprintf(f, " = <unreadable 0x%" PRIx64 ">\n", l->addr);
			}
		}
	}
}

static void text_python_only(FILE *f, const struct pt_thread *t, const char *indent)
{
	size_t shown = text_shown(t->n_py);

	if (!t->n_py)
		fprintf(f, "%s(no Python frames)\n", indent);
	for (size_t i = 0; i < shown; i++) {
		size_t same = 1;
		if (text_interp_starts(t, i))
			fprintf(f, "%sIn interpreter %d:\n", indent, t->py[i].interp);
		/* Recursion: as Python's "[Previous line repeated N more times]". */
		while (pt_out_style.collapse && i + same < shown &&
		       pyframe_same(&t->py[i], &t->py[i + same]))
			same++;
		fputs(indent, f);
		pt_out_text_pyframe(f, &t->py[i]);
		fputc('\n', f);
		text_locals(f, &t->py[i], indent);
		if (same > 2) {
			fprintf(f, "%s[previous frame repeated %zu more times]\n", indent, same - 1);
			i += same - 1;
		}
	}
	text_more(f, indent, t->n_py, shown);
	if (t->py_error)
		fprintf(f, "%s(Python stack incomplete: %s)\n", indent, t->py_error);
}

static void text_native_only(FILE *f, const struct pt_thread *t, const char *indent)
{
	size_t shown = text_shown(t->n_native);

	for (size_t i = 0; i < shown; i++) {
		fputs(indent, f);
		pt_out_text_native_frame(f, &t->native[i]);
		fputc('\n', f);
	}
	text_more(f, indent, t->n_native, shown);
	if (t->native_error)
		fprintf(f, "%s(native stack incomplete: %s)\n", indent, t->native_error);
}

void pt_out_text_stack(FILE *f, const struct pt_thread *t, bool native, const char *indent)
{
	if (!native) {
		text_python_only(f, t, indent);
		return;
	}
	struct pt_merged_frame *m = NULL;
	size_t n = 0;
	struct pt_error err = { 0 };
	if (pt_stack_merge(t, &m, &n, &err) < 0) {
		fprintf(f, "%s(not merged: %s)\n", indent, err.msg);
		if (t->has_python)
			text_python_only(f, t, indent);
		text_native_only(f, t, indent);
		return;
	}
	size_t shown = text_shown(n);
	for (size_t i = 0; i < shown; i++) {
		if (m[i].py && text_interp_starts(t, (size_t)(m[i].py - t->py)))
			fprintf(f, "%s  In interpreter %d:\n", indent, m[i].py->interp);
		fputs(indent, f);
		if (m[i].native) {
			pt_out_text_native_frame(f, m[i].native);
		} else {
			fputs("  ", f);
			text_pyframe_bracketed(f, m[i].py);
		}
		fputc('\n', f);
		if (!m[i].native)
			text_locals(f, m[i].py, indent);
	}
	text_more(f, indent, n, shown);
	if (t->native_error)
		fprintf(f, "%s(native stack incomplete: %s)\n", indent, t->native_error);
	if (t->py_error)
		fprintf(f, "%s(Python stack incomplete: %s)\n", indent, t->py_error);
	free(m);
}

void pt_out_dump_text(FILE *f, const struct pt_python_info *py, const struct pt_snapshot *snap,
		      bool native)
{
	if (py)
		fprintf(f, "Process %d: Python %s (%s)\n", (int)snap->pid, py->version, py->runtime_path);
	else
		fprintf(f, "Process %d: not a Python process (native stacks only)\n", (int)snap->pid);
	if (py && snap->no_gil)
		fputs("Free-threaded build: no GIL, so no thread holds or waits for it\n", f);
	if (py && snap->jit)
		fputs("JIT enabled: code it compiled has no symbols or unwind tables (--native shows "
		      "it as [JIT]+offset; the native frames next to it may be incomplete)\n", f);
	for (size_t k = 0; k < snap->n_threads; k++) {
		const struct pt_thread *t = &snap->threads[k];
		if (!native && !t->has_python)
			continue;
		fprintf(f, "\nThread %d \"", (int)t->tid);
		pt_out_text_name(f, t->name);
		fprintf(f, "\"%s",
			t->holds_gil ? " (holds the GIL)" : "");
		pt_out_text_activity(f, t);
		fputc('\n', f);
		pt_out_text_stack(f, t, native, "  ");
	}
}
