/* SPDX-License-Identifier: MIT */
/* JSON output: one object per line, for other tools and the tests. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "syscalls/syscalls.h"

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t json_utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 0 || (n == 2 && s[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void pt_out_json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*s) {
		size_t n = json_utf8_len(s);
		if (n == 0) {
			fprintf(f, "\\u%04x", *s);  /* not UTF-8: read as Latin-1 */
			s++;
		} else if (n > 1) {
			fwrite(s, 1, n, f);
			s += n;
		} else {
			if (*s == '"' || *s == '\\')
				fprintf(f, "\\%c", *s);
			else if (*s < 0x20 || *s == 0x7f)
				fprintf(f, "\\u%04x", *s);
			else
				fputc(*s, f);
			s++;
		}
	}
	fputc('"', f);
}

unsigned long pt_out_dump_index;

/* Frames name their interpreter in a thread that runs more than the main
 * one (a subinterpreter). */
static bool json_interp_shown;

static void json_pyframe(FILE *f, const struct pt_pyframe *fr)
{
	if (json_interp_shown) {
		fputs("{\"interpreter\":", f);
		fprintf(f, "%d,", fr->interp);
	} else {
		fputc('{', f);
	}
	if (fr->unreadable) {
		fprintf(f, "\"kind\":\"python\",\"unreadable\":true,\"address\":%" PRIu64 "}", fr->addr);
		return;
	}
	fputs("\"kind\":\"python\",\"function\":", f);
	pt_out_json_string(f, fr->function);
	fputs(",\"file\":", f);
	pt_out_json_string(f, fr->file);
	if (fr->line >= 0)
		fprintf(f, ",\"line\":%d", fr->line);
	else
		fputs(",\"line\":null", f);   /* an instruction without a line */
	if (fr->truncated)
		fputs(",\"truncated\":true", f);
	if (fr->locals) {
		/* dump --locals: the exact strings; null where unreadable. */
		fputs(",\"locals\":[", f);
		for (size_t i = 0; i < fr->n_locals; i++) {
			const struct pt_local *l = &fr->locals[i];
			fputs(i ? ",{\"name\":" : "{\"name\":", f);
			pt_out_json_string(f, l->name);
			fputs(",\"type\":", f);
			pt_out_json_string(f, l->type);
			fputs(",\"value\":", f);
			pt_out_json_string(f, l->value);
			fprintf(f, ",\"address\":%" PRIu64 ",\"arg\":%s}", l->addr,
				l->is_arg ? "true" : "false");
		}
		fputc(']', f);
	}
	fputc('}', f);
}

static void json_native_frame(FILE *f, const struct pt_native_frame *fr)
{
	fputs("{\"kind\":\"native\",\"module\":", f);
	pt_out_json_string(f, fr->module);
	fputs(",\"symbol\":", f);
	pt_out_json_string(f, fr->symbol);
	fprintf(f, ",\"offset\":%" PRIu64 ",\"address\":%" PRIu64 ",\"eval\":%s}",
		fr->module ? fr->offset : 0, fr->pc, fr->is_eval ? "true" : "false");
}

static size_t json_shown(size_t n)
{
	return pt_out_style.depth && n > pt_out_style.depth ? pt_out_style.depth : n;
}

static void json_py_list(FILE *f, const struct pt_thread *t)
{
	fputc('[', f);
	for (size_t i = 0; i < json_shown(t->n_py); i++) {
		if (i)
			fputc(',', f);
		json_pyframe(f, &t->py[i]);
	}
	fputc(']', f);
}

static void json_native_list(FILE *f, const struct pt_thread *t)
{
	fputc('[', f);
	for (size_t i = 0; i < json_shown(t->n_native); i++) {
		if (i)
			fputc(',', f);
		json_native_frame(f, &t->native[i]);
	}
	fputc(']', f);
}

void pt_out_json_frames(FILE *f, const struct pt_thread *t, bool native)
{
	json_interp_shown = t->n_interps > 1 || (t->n_py && t->py[0].interp != 0);
	if (!native) {
		fputs("\"frames\":", f);
		json_py_list(f, t);
		if (json_shown(t->n_py) < t->n_py)
			fprintf(f, ",\"more_frames\":%zu", t->n_py - json_shown(t->n_py));
		return;
	}
	struct pt_merged_frame *m = NULL;
	size_t n = 0;
	struct pt_error err = { 0 };
	if (pt_stack_merge(t, &m, &n, &err) < 0) {
		fputs("\"merged\":false,\"merge_error\":", f);
		pt_out_json_string(f, err.msg);
		fputs(",\"frames\":", f);
		json_native_list(f, t);
		fputs(",\"python_frames\":", f);
		json_py_list(f, t);
		return;
	}
	fputs("\"merged\":true,\"frames\":[", f);
	for (size_t i = 0; i < json_shown(n); i++) {
		if (i)
			fputc(',', f);
		if (m[i].native)
			json_native_frame(f, m[i].native);
		else
			json_pyframe(f, m[i].py);
	}
	fputc(']', f);
	if (json_shown(n) < n)
		fprintf(f, ",\"more_frames\":%zu", n - json_shown(n));
	free(m);
}

void pt_out_dump_json(FILE *f, const struct pt_python_info *py, const struct pt_snapshot *snap,
		      bool native)
{
	for (size_t k = 0; k < snap->n_threads; k++) {
		const struct pt_thread *t = &snap->threads[k];
		if (!native && !t->has_python)
			continue;
		fputc('{', f);
		if (pt_out_dump_index)
			fprintf(f, "\"dump\":%lu,", pt_out_dump_index);
		fprintf(f, "\"pid\":%d,\"tid\":%d,\"name\":", (int)snap->pid, (int)t->tid);
		pt_out_json_string(f, t->name);
		fprintf(f, ",\"python_version\":");
		pt_out_json_string(f, py ? py->version : NULL);
		fprintf(f, ",\"holds_gil\":%s,\"python\":%s,", t->holds_gil ? "true" : "false",
			t->has_python ? "true" : "false");
		/* py-spy's --idle: running, idle in a system call, or waiting
		 * for the GIL (never on a free-threaded build: "gil":false). */
		fputs("\"activity\":", f);
		pt_out_json_string(f, pt_out_activity_name(t->activity));
		if (t->activity == PT_ACT_SYSCALL || t->activity == PT_ACT_GIL_WAIT) {
			fputs(",\"syscall\":", f);
			pt_out_json_string(f, pt_syscall_name(t->syscall));
		}
		if (py)
			fprintf(f, ",\"gil\":%s", snap->no_gil ? "false" : "true");
		if (snap->jit)
			fputs(",\"jit\":true", f);
		if (t->has_python)
			fprintf(f, ",\"thread_states\":%zu,\"interpreter\":%d,", t->n_tstates,
				t->n_py ? t->py[0].interp : 0);
		else
			fputc(',', f);
		pt_out_json_frames(f, t, native);
		if (t->py_error) {
			fputs(",\"python_error\":", f);
			pt_out_json_string(f, t->py_error);
		}
		if (native && t->native_error) {
			fputs(",\"native_error\":", f);
			pt_out_json_string(f, t->native_error);
		}
		fputs("}\n", f);
	}
}
