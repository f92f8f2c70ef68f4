/* SPDX-License-Identifier: MIT */
/* Finds the CPython runtime in a process: which mapped ELF holds it, its
 * version, its struct layout and the addresses the walker starts from. */
#include "python/python.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf/elf.h"
#include "mem/maps.h"
#include "mem/rstruct.h"
#include "error.h"

#define SUPPORTED_VERSIONS "2.7 and 3.6-3.15"

static const char *path_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* "libpython3.9.so.1.0", "libpython3.6m.so", "python2.7" -> 3, 9. */
static bool detect_version_from_name(const char *name, int *major, int *minor)
{
	for (const char *p = strstr(name, "python"); p; p = strstr(p + 1, "python")) {
		const char *v = p + 6;
		if (isdigit((unsigned char)v[0]) && v[1] == '.' && isdigit((unsigned char)v[2])) {
			*major = v[0] - '0';
			*minor = (int)strtol(v + 2, NULL, 10);
			return true;
		}
	}
	return false;
}

/* 2.7/3.6 keep interp_head static; PyInterpreterState_Head() is exported and
 * compiles to "mov interp_head(%rip),%rax; ret": decode that. */
static bool detect_interp_head_from_code(struct pt_elf *elf, uint64_t *addr)
{
	uint64_t fn;
	uint8_t code[8];

	if (!pt_elf_symbol(elf, "PyInterpreterState_Head", &fn, NULL) ||
	    pt_elf_read_vaddr(elf, fn, code, sizeof(code)) < 0)
		return false;
	if (code[0] != 0x48 || code[1] != 0x8b || code[2] != 0x05 || code[7] != 0xc3)
		return false;
	int32_t disp;
	memcpy(&disp, code + 3, 4);
	*addr = fn + 7 + (int64_t)disp;
	return true;
}

/* The micro version: Py_Version (3.11+), else the buffer Py_GetVersion()
 * filled at start-up (static, .symtab only), else unknown. */
static void detect_micro(struct pt_python *py, struct pt_elf *elf, struct pt_mem *mem)
{
	static const char *const names[] = { "version.0", "version.1", "version" };
	char buf[32];
	uint64_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!pt_elf_symbol(elf, names[i], &v, NULL))
			continue;
		if (pt_mem_read(mem, v + py->bias, buf, sizeof(buf)) < 0)
			continue;
		buf[sizeof(buf) - 1] = 0;
		int ma, mi, mc;
		if (sscanf(buf, "%d.%d.%d", &ma, &mi, &mc) == 3 &&
		    ma == py->info.major && mi == py->info.minor) {
			py->info.micro = mc;
			return;
		}
	}
}

/* The structs a layout describes, for checking each field against the
 * size of the struct it lies in. */
enum layout_struct {
	LS_RUNTIME, LS_INTERP, LS_GIL, LS_TSTATE, LS_CFRAME, LS_FRAME, LS_IFRAME,
	LS_CODE, LS_ASCII, LS_UNICODE, LS_BYTES, LS_STR27, LS_COUNT,
};

static int64_t layout_struct_size(const struct pyv_offsets *o, enum layout_struct s)
{
	switch (s) {
	case LS_RUNTIME: return o->runtime_size;
	case LS_INTERP:  return o->interp_size;
	case LS_TSTATE:  return o->tstate_size;
	case LS_FRAME:   return o->frame_size;
	case LS_IFRAME:  return o->iframe_size;
	case LS_CODE:    return o->code_size;
	case LS_ASCII:   return o->unicode_ascii_size;
	/* PyUnicodeObject: the compact header, then the data pointer. */
	case LS_UNICODE: return o->unicode_compact_size == PYV_NONE ? PYV_NONE : o->unicode_compact_size + 8;
	case LS_BYTES:   return o->string_sval != PYV_NONE ? PYV_NONE : o->bytes_sval;
	case LS_STR27:   return o->string_sval;
	case LS_GIL:
	case LS_CFRAME:  return PYV_UNSIZED_STRUCT;
	case LS_COUNT:   break;
	}
	return PYV_NONE;
}

#define LAYOUT_MEMBER(m) offsetof(struct pyv_offsets, m)
static int32_t layout_get(const struct pyv_offsets *o, size_t member)
{
	int32_t v;
	memcpy(&v, (const char *)o + member, sizeof(v));
	return v;
}

/* Sizes the readers rely on, with sane bounds. Structs copied whole must
 * fit a checked copy (PT_RSTRUCT_MAX). */
static const struct layout_size {
	const char *name;
	size_t member;
	enum layout_struct of;       /* LS_COUNT: not a struct's own size */
	int32_t min, max;
	int32_t align;               /* sizeof of a struct holding pointers */
} layout_sizes[] = {
	{ "runtime_size", LAYOUT_MEMBER(runtime_size), LS_RUNTIME, 16, 1 << 24, 8 },
	{ "interp_size", LAYOUT_MEMBER(interp_size), LS_INTERP, 16, 1 << 24, 8 },
	{ "tstate_size", LAYOUT_MEMBER(tstate_size), LS_TSTATE, 16, 1 << 20, 8 },
	{ "frame_size", LAYOUT_MEMBER(frame_size), LS_FRAME, 16, PT_RSTRUCT_MAX, 8 },
	{ "iframe_size", LAYOUT_MEMBER(iframe_size), LS_IFRAME, 16, PT_RSTRUCT_MAX, 8 },
	{ "code_size", LAYOUT_MEMBER(code_size), LS_CODE, 16, PT_RSTRUCT_MAX, 8 },
	{ "unicode_ascii_size", LAYOUT_MEMBER(unicode_ascii_size), LS_ASCII, 16, 256, 8 },
	{ "unicode_compact_size", LAYOUT_MEMBER(unicode_compact_size), LS_COUNT, 16, 256, 8 },
	/* Where the bytes start: 2.7's follows an int. */
	{ "bytes_sval", LAYOUT_MEMBER(bytes_sval), LS_BYTES, 16, 256, 1 },
	{ "string_sval", LAYOUT_MEMBER(string_sval), LS_STR27, 16, 256, 1 },
};

/* Every field the dump path reads: where it lies and how wide it is.
 * A new field (3.14's) is one more row. */
static const struct layout_field {
	const char *name;
	size_t member;
	enum layout_struct in;
	uint8_t width;               /* bytes read; also the alignment */
} layout_fields[] = {
	{ "runtime_interpreters_head", LAYOUT_MEMBER(runtime_interpreters_head), LS_RUNTIME, 8 },
	{ "runtime_gilstate_tstate_current", LAYOUT_MEMBER(runtime_gilstate_tstate_current), LS_RUNTIME, 8 },
	{ "interp_next", LAYOUT_MEMBER(interp_next), LS_INTERP, 8 },
	{ "interp_tstate_head", LAYOUT_MEMBER(interp_tstate_head), LS_INTERP, 8 },
	{ "interp_ceval_gil", LAYOUT_MEMBER(interp_ceval_gil), LS_INTERP, 8 },
	{ "gil_locked", LAYOUT_MEMBER(gil_locked), LS_GIL, 4 },
	{ "gil_last_holder", LAYOUT_MEMBER(gil_last_holder), LS_GIL, 8 },
	{ "tstate_next", LAYOUT_MEMBER(tstate_next), LS_TSTATE, 8 },
	{ "tstate_interp", LAYOUT_MEMBER(tstate_interp), LS_TSTATE, 8 },
	{ "tstate_frame", LAYOUT_MEMBER(tstate_frame), LS_TSTATE, 8 },
	{ "tstate_cframe", LAYOUT_MEMBER(tstate_cframe), LS_TSTATE, 8 },
	{ "tstate_current_frame", LAYOUT_MEMBER(tstate_current_frame), LS_TSTATE, 8 },
	{ "tstate_thread_id", LAYOUT_MEMBER(tstate_thread_id), LS_TSTATE, 8 },
	{ "tstate_native_thread_id", LAYOUT_MEMBER(tstate_native_thread_id), LS_TSTATE, 8 },
	{ "cframe_current_frame", LAYOUT_MEMBER(cframe_current_frame), LS_CFRAME, 8 },
	{ "cframe_previous", LAYOUT_MEMBER(cframe_previous), LS_CFRAME, 8 },
	{ "frame_back", LAYOUT_MEMBER(frame_back), LS_FRAME, 8 },
	{ "frame_code", LAYOUT_MEMBER(frame_code), LS_FRAME, 8 },
	{ "frame_lasti", LAYOUT_MEMBER(frame_lasti), LS_FRAME, 4 },
	{ "iframe_code", LAYOUT_MEMBER(iframe_code), LS_IFRAME, 8 },
	{ "iframe_previous", LAYOUT_MEMBER(iframe_previous), LS_IFRAME, 8 },
	{ "iframe_instr", LAYOUT_MEMBER(iframe_instr), LS_IFRAME, 8 },
	{ "iframe_is_entry", LAYOUT_MEMBER(iframe_is_entry), LS_IFRAME, 1 },
	{ "iframe_owner", LAYOUT_MEMBER(iframe_owner), LS_IFRAME, 1 },
	{ "object_type", LAYOUT_MEMBER(object_type), LS_CODE, 8 },
	{ "code_filename", LAYOUT_MEMBER(code_filename), LS_CODE, 8 },
	{ "code_name", LAYOUT_MEMBER(code_name), LS_CODE, 8 },
	{ "code_qualname", LAYOUT_MEMBER(code_qualname), LS_CODE, 8 },
	{ "code_lnotab", LAYOUT_MEMBER(code_lnotab), LS_CODE, 8 },
	{ "code_linetable", LAYOUT_MEMBER(code_linetable), LS_CODE, 8 },
	{ "code_firstlineno", LAYOUT_MEMBER(code_firstlineno), LS_CODE, 4 },
	{ "code_firsttraceable", LAYOUT_MEMBER(code_firsttraceable), LS_CODE, 4 },
	/* The inline bytecode starts here: a position, one byte wide. */
	{ "code_code_adaptive", LAYOUT_MEMBER(code_code_adaptive), LS_CODE, 1 },
	{ "object_type", LAYOUT_MEMBER(object_type), LS_ASCII, 8 },
	{ "unicode_length", LAYOUT_MEMBER(unicode_length), LS_ASCII, 8 },
	{ "unicode_state", LAYOUT_MEMBER(unicode_state), LS_ASCII, 4 },
	{ "unicode_data", LAYOUT_MEMBER(unicode_data), LS_UNICODE, 8 },
	{ "object_type", LAYOUT_MEMBER(object_type), LS_BYTES, 8 },
	{ "varobject_size", LAYOUT_MEMBER(varobject_size), LS_BYTES, 8 },
	{ "object_type", LAYOUT_MEMBER(object_type), LS_STR27, 8 },
	{ "varobject_size", LAYOUT_MEMBER(varobject_size), LS_STR27, 8 },
};

/* The members _Py_DebugOffsets can describe, by their name there. Where
 * each one lies inside _Py_DebugOffsets is the generated table's dbg_X
 * (PYV_NONE: this version's struct lacks it, the table's value stays). */
static const struct debug_field {
	const char *name;
	size_t debug;                /* int32_t dbg_X in struct pyv_offsets */
	size_t member;               /* int32_t X in struct pyv_offsets */
} debug_fields[] = {
	{ "runtime_state.size", LAYOUT_MEMBER(dbg_runtime_size), LAYOUT_MEMBER(runtime_size) },
	{ "runtime_state.interpreters_head", LAYOUT_MEMBER(dbg_runtime_interpreters_head), LAYOUT_MEMBER(runtime_interpreters_head) },
	{ "interpreter_state.size", LAYOUT_MEMBER(dbg_interp_size), LAYOUT_MEMBER(interp_size) },
	{ "interpreter_state.next", LAYOUT_MEMBER(dbg_interp_next), LAYOUT_MEMBER(interp_next) },
	{ "interpreter_state.threads_head", LAYOUT_MEMBER(dbg_interp_tstate_head), LAYOUT_MEMBER(interp_tstate_head) },
	{ "interpreter_state.ceval_gil", LAYOUT_MEMBER(dbg_interp_ceval_gil), LAYOUT_MEMBER(interp_ceval_gil) },
	{ "thread_state.size", LAYOUT_MEMBER(dbg_tstate_size), LAYOUT_MEMBER(tstate_size) },
	{ "thread_state.next", LAYOUT_MEMBER(dbg_tstate_next), LAYOUT_MEMBER(tstate_next) },
	{ "thread_state.interp", LAYOUT_MEMBER(dbg_tstate_interp), LAYOUT_MEMBER(tstate_interp) },
	{ "thread_state.current_frame", LAYOUT_MEMBER(dbg_tstate_current_frame), LAYOUT_MEMBER(tstate_current_frame) },
	{ "thread_state.base_frame", LAYOUT_MEMBER(dbg_tstate_base_frame), LAYOUT_MEMBER(tstate_base_frame) },
	{ "thread_state.thread_id", LAYOUT_MEMBER(dbg_tstate_thread_id), LAYOUT_MEMBER(tstate_thread_id) },
	{ "thread_state.native_thread_id", LAYOUT_MEMBER(dbg_tstate_native_thread_id), LAYOUT_MEMBER(tstate_native_thread_id) },
	{ "debugger_support.eval_breaker", LAYOUT_MEMBER(dbg_tstate_eval_breaker), LAYOUT_MEMBER(tstate_eval_breaker) },
	{ "interpreter_frame.size", LAYOUT_MEMBER(dbg_iframe_size), LAYOUT_MEMBER(iframe_size) },
	{ "interpreter_frame.previous", LAYOUT_MEMBER(dbg_iframe_previous), LAYOUT_MEMBER(iframe_previous) },
	{ "interpreter_frame.executable", LAYOUT_MEMBER(dbg_iframe_code), LAYOUT_MEMBER(iframe_code) },
	{ "interpreter_frame.instr_ptr", LAYOUT_MEMBER(dbg_iframe_instr), LAYOUT_MEMBER(iframe_instr) },
	{ "interpreter_frame.owner", LAYOUT_MEMBER(dbg_iframe_owner), LAYOUT_MEMBER(iframe_owner) },
	{ "code_object.size", LAYOUT_MEMBER(dbg_code_size), LAYOUT_MEMBER(code_size) },
	{ "code_object.filename", LAYOUT_MEMBER(dbg_code_filename), LAYOUT_MEMBER(code_filename) },
	{ "code_object.name", LAYOUT_MEMBER(dbg_code_name), LAYOUT_MEMBER(code_name) },
	{ "code_object.qualname", LAYOUT_MEMBER(dbg_code_qualname), LAYOUT_MEMBER(code_qualname) },
	{ "code_object.linetable", LAYOUT_MEMBER(dbg_code_linetable), LAYOUT_MEMBER(code_linetable) },
	{ "code_object.firstlineno", LAYOUT_MEMBER(dbg_code_firstlineno), LAYOUT_MEMBER(code_firstlineno) },
	{ "code_object.co_code_adaptive", LAYOUT_MEMBER(dbg_code_code_adaptive), LAYOUT_MEMBER(code_code_adaptive) },
	{ "pyobject.ob_type", LAYOUT_MEMBER(dbg_object_type), LAYOUT_MEMBER(object_type) },
	{ "type_object.tp_name", LAYOUT_MEMBER(dbg_type_name), LAYOUT_MEMBER(type_name) },
	{ "tuple_object.ob_item", LAYOUT_MEMBER(dbg_tuple_items), LAYOUT_MEMBER(tuple_items) },
	{ "bytes_object.ob_sval", LAYOUT_MEMBER(dbg_bytes_sval), LAYOUT_MEMBER(bytes_sval) },
	{ "bytes_object.ob_size", LAYOUT_MEMBER(dbg_varobject_size), LAYOUT_MEMBER(varobject_size) },
	{ "unicode_object.state", LAYOUT_MEMBER(dbg_unicode_state), LAYOUT_MEMBER(unicode_state) },
	{ "unicode_object.length", LAYOUT_MEMBER(dbg_unicode_length), LAYOUT_MEMBER(unicode_length) },
	{ "unicode_object.asciiobject_size", LAYOUT_MEMBER(dbg_unicode_ascii_size), LAYOUT_MEMBER(unicode_ascii_size) },
	{ "unicode_object.compactunicodeobject_size", LAYOUT_MEMBER(dbg_unicode_compact_size), LAYOUT_MEMBER(unicode_compact_size) },
	{ "gen_object.gi_iframe", LAYOUT_MEMBER(dbg_gen_iframe), LAYOUT_MEMBER(gen_iframe) },
	{ "gen_object.gi_frame_state", LAYOUT_MEMBER(dbg_gen_frame_state), LAYOUT_MEMBER(gen_frame_state) },
};

/* The name a layout member is known by in messages: its _Py_DebugOffsets
 * name when the target supplied it, else the table's. */
static const char *layout_name(const struct pt_python *py, size_t member, const char *table_name,
			       char *buf, size_t cap)
{
	for (size_t i = 0; py->info.from_debug_offsets &&
	     i < sizeof(debug_fields) / sizeof(debug_fields[0]); i++)
		if (debug_fields[i].member == member && layout_get(&py->off, debug_fields[i].debug) != PYV_NONE) {
			snprintf(buf, cap, "_Py_DebugOffsets %s", debug_fields[i].name);
			return buf;
		}
	snprintf(buf, cap, "%s", table_name);
	return buf;
}

static const char *layout_size_name(const struct pt_python *py, enum layout_struct s, char *buf, size_t cap)
{
	for (size_t i = 0; i < sizeof(layout_sizes) / sizeof(layout_sizes[0]); i++)
		if (layout_sizes[i].of == s)
			return layout_name(py, layout_sizes[i].member, layout_sizes[i].name, buf, cap);
	snprintf(buf, cap, "%s", s == LS_UNICODE ? "unicode_compact_size + 8" : "an unsized struct");
	return buf;
}

/* Checks the layout the readers will use: sizes within bounds, every field
 * inside its struct, aligned to its width, and not overlapping another
 * field of the same struct. One message names the first bad field. */
static int detect_check_layout(struct pt_python *py, struct pt_error *err)
{
	const struct pyv_offsets *o = &py->off;
	char a[96], b[96];

	for (size_t i = 0; i < sizeof(layout_sizes) / sizeof(layout_sizes[0]); i++) {
		const struct layout_size *ls = &layout_sizes[i];
		int32_t v = layout_get(o, ls->member);
		if (v != PYV_NONE && (v < ls->min || v > ls->max || v % ls->align))
			return pt_error_set(err, PT_E_VERSION,
					    "Python %d.%d: layout size %s is %d, not a multiple of %d in [%d, %d]; refusing to read with this layout",
					    o->major, o->minor, layout_name(py, ls->member, ls->name, a, sizeof(a)),
					    (int)v, (int)ls->align, (int)ls->min, (int)ls->max);
	}
	if (o->unicode_compact_size != PYV_NONE && o->unicode_ascii_size != PYV_NONE &&
	    o->unicode_compact_size < o->unicode_ascii_size)
		return pt_error_set(err, PT_E_VERSION,
				    "Python %d.%d: layout size unicode_compact_size is smaller than %s; refusing to read with this layout",
				    o->major, o->minor,
				    layout_name(py, LAYOUT_MEMBER(unicode_ascii_size), "unicode_ascii_size", a, sizeof(a)));
	size_t nf = sizeof(layout_fields) / sizeof(layout_fields[0]);
	for (size_t i = 0; i < nf; i++) {
		const struct layout_field *f = &layout_fields[i];
		int32_t off = layout_get(o, f->member);
		int64_t size = layout_struct_size(o, f->in);
		if (off == PYV_NONE || size == PYV_NONE)
			continue;
		if (!pt_field_fits(off, f->width, size))
			return pt_error_set(err, PT_E_VERSION,
					    "Python %d.%d: layout field %s (%d, %u bytes) lies outside its struct (%s: %lld); refusing to read with this layout",
					    o->major, o->minor, layout_name(py, f->member, f->name, a, sizeof(a)),
					    (int)off, f->width, layout_size_name(py, f->in, b, sizeof(b)), (long long)size);
		if (off % f->width)
			return pt_error_set(err, PT_E_VERSION,
					    "Python %d.%d: layout field %s (%d) is not aligned to %u bytes; refusing to read with this layout",
					    o->major, o->minor, layout_name(py, f->member, f->name, a, sizeof(a)),
					    (int)off, f->width);
		for (size_t j = 0; j < i; j++) {
			const struct layout_field *g = &layout_fields[j];
			int32_t goff = layout_get(o, g->member);
			if (g->in != f->in || goff == PYV_NONE || g->member == f->member)
				continue;
			if (off < goff + g->width && goff < off + f->width)
				return pt_error_set(err, PT_E_VERSION,
						    "Python %d.%d: layout field %s (%d) overlaps %s (%d); refusing to read with this layout",
						    o->major, o->minor, layout_name(py, f->member, f->name, a, sizeof(a)),
						    (int)off, layout_name(py, g->member, g->name, b, sizeof(b)), (int)goff);
		}
	}
	if (o->unicode_kind_shift != PYV_NONE && (o->unicode_kind_shift < 0 || o->unicode_kind_shift > 31))
		return pt_error_set(err, PT_E_VERSION, "Python %d.%d: layout unicode_kind_shift is %d",
				    o->major, o->minor, (int)o->unicode_kind_shift);
	return 0;
}

/* A value from _Py_DebugOffsets as a layout int: anything above 16 MiB
 * (no struct pytrace reads is that large, and every negative int64 is)
 * is refused, naming the field. */
static int debug_take(struct pt_python *py, const char *name, uint64_t v, int32_t *out, struct pt_error *err)
{
	if (v > (1u << 24))
		return pt_error_set(err, PT_E_VERSION,
				    "Python %d.%d: _Py_DebugOffsets %s is %#llx, not a plausible offset or size; refusing to read with this layout",
				    py->info.major, py->info.minor, name, (unsigned long long)v);
	*out = (int32_t)v;
	return 0;
}

/* Every _Py_DebugOffsets starts with the same three fields, whatever the
 * version: the cookie, PY_VERSION_HEX and the free-threaded flag. They
 * pick the table; the table then gives the layout of the rest. */
#define DEBUG_COOKIE "xdebugpy"
#define DEBUG_VERSION_AT 8
#define DEBUG_FREE_THREADED_AT 16

struct debug_head {
	bool present;                /* _PyRuntime starts with the cookie */
	uint64_t version;
	uint64_t free_threaded;
};

static void detect_debug_head(struct pt_python *py, struct pt_mem *mem, struct debug_head *h)
{
	uint8_t b[24];

	memset(h, 0, sizeof(*h));
	if (!py->runtime || pt_mem_read(mem, py->runtime, b, sizeof(b)) < 0 ||
	    memcmp(b, DEBUG_COOKIE, 8) != 0)
		return;
	h->present = true;
	memcpy(&h->version, b + DEBUG_VERSION_AT, 8);
	memcpy(&h->free_threaded, b + DEBUG_FREE_THREADED_AT, 8);
}

/* Reads the target's _Py_DebugOffsets with the layout the table gives
 * (dbg_size, dbg_X) and takes every member it describes over the table. */
static int detect_debug_offsets(struct pt_python *py, struct pt_mem *mem, struct pt_error *err)
{
	struct pyv_offsets *o = &py->off;
	struct pt_rstruct d;
	int ma = py->info.major, mi = py->info.minor, rc;
	uint64_t v, ft;

	if ((rc = pt_rstruct_read(&d, mem, py->runtime, o->dbg_size)) == -ESRCH)
		return pt_error_set(err, PT_E_EXITED, "process %d exited while being read", (int)mem->pid);
	if (rc < 0)
		return pt_error_set(err, PT_E_VERSION, "Python %d.%d: cannot read _Py_DebugOffsets (%d bytes) at 0x%llx",
				    ma, mi, (int)o->dbg_size, (unsigned long long)py->runtime);
	if (memcmp(d.bytes, DEBUG_COOKIE, 8) != 0)
		return pt_error_set(err, PT_E_VERSION,
				    "Python %d.%d: _PyRuntime does not start with the _Py_DebugOffsets cookie", ma, mi);
	if (pt_rstruct_u64(&d, DEBUG_VERSION_AT, &v) < 0 ||
	    (int)((v >> 24) & 0xff) != ma || (int)((v >> 16) & 0xff) != mi)
		return pt_error_set(err, PT_E_VERSION, "Python %d.%d: _Py_DebugOffsets says version %d.%d",
				    ma, mi, (int)((v >> 24) & 0xff), (int)((v >> 16) & 0xff));
	py->info.micro = (int)((v >> 8) & 0xff);
	if (pt_rstruct_u64(&d, o->dbg_free_threaded, &ft) < 0 || !!ft != !!o->free_threaded)
		return pt_error_set(err, PT_E_VERSION,
				    "Python %d.%d: _Py_DebugOffsets free_threaded says a %s build, but the table is for a %s build",
				    ma, mi, ft ? "free-threaded" : "GIL", o->free_threaded ? "free-threaded" : "GIL");
	for (size_t i = 0; i < sizeof(debug_fields) / sizeof(debug_fields[0]); i++) {
		const struct debug_field *f = &debug_fields[i];
		int32_t at = layout_get(o, f->debug), taken = 0;
		if (at == PYV_NONE)
			continue;
		if (pt_rstruct_u64(&d, at, &v) < 0)
			return pt_error_set(err, PT_E_INTERNAL, "Python %d.%d: table places _Py_DebugOffsets %s outside its %d bytes",
					    ma, mi, f->name, (int)o->dbg_size);
		if ((rc = debug_take(py, f->name, v, &taken, err)) < 0)
			return rc;
		memcpy((char *)o + f->member, &taken, sizeof(taken));
	}
	/* The GIL's fields are given from the interpreter (its embedded
	 * _gil); the walker follows ceval.gil and wants them from the gil
	 * struct. Each must lie inside the interpreter, after _gil. */
	uint64_t g = 0, l = 0, h = 0;
	int32_t gil = 0, locked = 0, holder = 0;
	if (pt_rstruct_u64(&d, o->dbg_interp_gil, &g) < 0 || pt_rstruct_u64(&d, o->dbg_gil_locked, &l) < 0 ||
	    pt_rstruct_u64(&d, o->dbg_gil_last_holder, &h) < 0)
		return pt_error_set(err, PT_E_INTERNAL, "Python %d.%d: table places the GIL fields outside _Py_DebugOffsets",
				    ma, mi);
	if ((rc = debug_take(py, "interpreter_state.gil_runtime_state", g, &gil, err)) < 0 ||
	    (rc = debug_take(py, "interpreter_state.gil_runtime_state_locked", l, &locked, err)) < 0 ||
	    (rc = debug_take(py, "interpreter_state.gil_runtime_state_holder", h, &holder, err)) < 0)
		return rc;
	const char *bad = !pt_field_fits(gil, 1, o->interp_size) ? "interpreter_state.gil_runtime_state"
			: locked < gil || !pt_field_fits(locked, 4, o->interp_size) ||
			  !pt_field_fits(locked - gil, 4, PYV_UNSIZED_STRUCT)
				? "interpreter_state.gil_runtime_state_locked"
			: holder < gil || !pt_field_fits(holder, 8, o->interp_size) ||
			  !pt_field_fits(holder - gil, 8, PYV_UNSIZED_STRUCT)
				? "interpreter_state.gil_runtime_state_holder" : NULL;
	if (bad)
		return pt_error_set(err, PT_E_VERSION,
				    "Python %d.%d: _Py_DebugOffsets %s lies outside the interpreter's _gil; refusing to read with this layout",
				    ma, mi, bad);
	o->gil_locked = locked - gil;
	o->gil_last_holder = holder - gil;
	py->info.from_debug_offsets = true;
	return 0;
}

/* A Py_DEBUG build: Py_REF_DEBUG (which Py_DEBUG implies) exports the
 * negative-refcount reporter; release builds have no such function. */
static bool detect_is_debug_build(struct pt_elf *elf)
{
	uint64_t v;

	return pt_elf_symbol(elf, "_Py_NegativeRefcount", &v, NULL);
}

static void detect_flavour_name(int major, int minor, bool free_threaded, bool debug, char *buf, size_t cap)
{
	snprintf(buf, cap, "Python %d.%d%s%s (%s%s build)", major, minor, free_threaded ? "t" : "",
		 debug ? "d" : "", debug ? "debug, " : "", free_threaded ? "free-threaded" : "GIL");
}

/* Why there is no table for this build, in one line. */
static int detect_refuse_build(struct pt_python *py, struct pt_elf *elf, bool free_threaded, bool debug,
			       struct pt_error *err)
{
	int ma = py->info.major, mi = py->info.minor, nma, nmi;
	char name[96];
	uint64_t v;

	pyv_offsets_newest(&nma, &nmi);
	detect_flavour_name(ma, mi, free_threaded, debug, name, sizeof(name));
	if (ma > nma || (ma == nma && mi > nmi))
		/* A newer minor: its _Py_DebugOffsets has a layout of its own,
		 * and frame ownership or pointer tagging may have changed in
		 * ways offsets do not show. Refuse rather than print garbage. */
		return pt_error_set(err, PT_E_VERSION,
				    "Python %d.%d is newer than this pytrace, which reads CPython " SUPPORTED_VERSIONS
				    " (no layout for %d.%d; refusing to guess it)", ma, mi, ma, mi);
	if (pt_elf_symbol(elf, "_Py_PrintReferences", &v, NULL))
		return pt_error_set(err, PT_E_VERSION, "%s built with Py_TRACE_REFS is not supported", name);
	if (free_threaded || debug)
		return pt_error_set(err, PT_E_VERSION,
				    "%s is not supported (pytrace reads CPython " SUPPORTED_VERSIONS
				    " release builds, and 3.13+ debug builds)", name);
	return pt_error_set(err, PT_E_VERSION,
			    "Python %d.%d is not supported (pytrace reads CPython " SUPPORTED_VERSIONS ")", ma, mi);
}

int pyv_layout_load(struct pt_python *py, const struct pyv_offsets *table, struct pt_mem *mem,
		    struct pt_error *err)
{
	int rc;

	py->off = *table;
	/* 3.13+ describe themselves at the start of _PyRuntime. */
	if (pyv_has_debug_offsets(py)) {
		if (!py->runtime)
			return pt_error_set(err, PT_E_VERSION,
					    "Python %d.%d: neither _PyRuntime nor a .PyRuntime section found",
					    py->info.major, py->info.minor);
		if ((rc = detect_debug_offsets(py, mem, err)) < 0) {
			err->status = -rc;
			return rc;
		}
	}
	/* Whatever the source (our table, the target's debug offsets), no
	 * field is read outside its struct. */
	if ((rc = detect_check_layout(py, err)) < 0)
		return rc;
	/* The object header is fixed by the build flavour, never by a patch
	 * release: a target whose debug offsets place ob_type elsewhere is
	 * another flavour (a free-threaded build claiming a GIL, say), and the
	 * table's other members would be wrong for it. */
	if (py->off.object_type != table->object_type)
		return pt_error_set(err, PT_E_VERSION,
				    "Python %d.%d: _Py_DebugOffsets pyobject.ob_type is %d, not %d as in every %s build; refusing to read with this layout",
				    py->info.major, py->info.minor, (int)py->off.object_type, (int)table->object_type,
				    table->free_threaded ? "free-threaded" : table->debug ? "debug" : "release GIL");
	return 0;
}

/* Picks the mapped file that defines PyCode_Type: libpython*.so first, then
 * the executable, then anything else named like python. */
static int detect_runtime_file(pid_t pid, const struct pt_maps *maps,
			       struct pt_elf **elf_out, char *path, size_t cap)
{
	char exe[4096] = "", link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t len = readlink(link, exe, sizeof(exe) - 1);
	if (len > 0)
		exe[len] = 0;
	/* As the maps path: without the suffix of a deleted file. */
	if (len > 10 && strcmp(exe + len - 10, " (deleted)") == 0)
		exe[len - 10] = 0;

	for (int pass = 0; pass < 3; pass++) {
		const char *last = NULL;
		for (size_t i = 0; i < maps->n; i++) {
			const char *p = maps->v[i].path;
			if (!p || p[0] != '/' || (last && strcmp(last, p) == 0))
				continue;
			last = p;
			const char *b = path_base(p);
			bool want = pass == 0 ? strncmp(b, "libpython", 9) == 0
				  : pass == 1 ? strcmp(p, exe) == 0
				  : strstr(b, "python") != NULL && strncmp(b, "libpython", 9) != 0 && strcmp(p, exe) != 0;
			if (!want)
				continue;
			struct pt_elf *elf;
			uint64_t v;
			if (pt_elf_open_mapped(pid, p, &elf) < 0)
				continue;
			if (pt_elf_symbol(elf, "PyCode_Type", &v, NULL)) {
				*elf_out = elf;
				snprintf(path, cap, "%s", p);
				return 0;
			}
			pt_elf_close(elf);
		}
	}
	return -PT_E_NOTPYTHON;
}

static void detect_eval_range(struct pt_python *py, struct pt_elf *elf, const char *name)
{
	uint64_t v, size;

	if (py->n_eval < sizeof(py->eval) / sizeof(py->eval[0]) &&
	    pt_elf_symbol(elf, name, &v, &size) && size > 0) {
		py->eval[py->n_eval].lo = v + py->bias;
		py->eval[py->n_eval].hi = v + py->bias + size;
		py->n_eval++;
	}
}

/* Where a thread waiting for the GIL waits (pt_python_futex_is_gil):
 * fixed addresses up to 3.11; 3.12+ follow each interpreter's ceval.gil. */
static void detect_gil_words(struct pt_python *py, struct pt_elf *elf)
{
	static const char *const statics[] = { "gil_mutex", "gil_cond", "switch_mutex", "switch_cond" };
	uint64_t v, size;

	if (!pyv_has_gil(py) || py->off.interp_ceval_gil != PYV_NONE)
		return;
	if (py->runtime && py->off.runtime_size > 0) {
		py->gil_words[py->n_gil_words].lo = py->runtime;
		py->gil_words[py->n_gil_words++].hi = py->runtime + (uint64_t)py->off.runtime_size;
		return;
	}
	for (size_t i = 0; i < sizeof(statics) / sizeof(statics[0]); i++)
		if (pt_elf_symbol(elf, statics[i], &v, &size) && size > 0 && size < 4096) {
			py->gil_words[py->n_gil_words].lo = v + py->bias;
			py->gil_words[py->n_gil_words++].hi = v + py->bias + size;
		}
	if (pt_elf_symbol(elf, "interpreter_lock", &v, NULL))
		py->gil_lock_ptr_addr = v + py->bias;
}

int pt_python_detect(pid_t pid, const struct pt_maps *maps, struct pt_mem *mem,
		     struct pt_python *py, struct pt_error *err)
{
	struct pt_elf *elf = NULL;
	uint64_t v;
	int rc;

	memset(py, 0, sizeof(*py));
	rc = detect_runtime_file(pid, maps, &elf, py->info.runtime_path,
				 sizeof(py->info.runtime_path));
	if (rc < 0) {
		err->status = PT_E_NOTPYTHON;
		snprintf(err->msg, sizeof(err->msg),
			 "process %d is not a Python process (no CPython runtime among its mappings)",
			 (int)pid);
		return rc;
	}
	if (!pt_maps_file_bias(maps, py->info.runtime_path, pt_elf_first_load_vaddr(elf), &py->bias)) {
		rc = -PT_E_INTERNAL;
		snprintf(err->msg, sizeof(err->msg), "cannot find the load address of %.300s",
			 py->info.runtime_path);
		goto out;
	}
	if (pt_elf_is_exec(elf))
		py->bias = 0;

	/* Version: Py_Version (3.11+) is exact; else the file name or soname. */
	struct pt_python_info *info = &py->info;
	uint32_t hex;
	if (pt_elf_symbol(elf, "Py_Version", &v, NULL) &&
	    pt_mem_read_u32(mem, v + py->bias, &hex) == 0 && (hex >> 24) == 3) {
		info->major = (int)(hex >> 24);
		info->minor = (int)((hex >> 16) & 0xff);
		info->micro = (int)((hex >> 8) & 0xff);
	} else if (detect_version_from_name(path_base(info->runtime_path), &info->major, &info->minor) ||
		   (pt_elf_soname(elf) &&
		    detect_version_from_name(pt_elf_soname(elf), &info->major, &info->minor))) {
		info->micro = -1;
	} else {
		rc = -PT_E_VERSION;
		snprintf(err->msg, sizeof(err->msg),
			 "found a CPython runtime in %.300s but cannot tell its version",
			 info->runtime_path);
		goto out;
	}

	if (pt_elf_symbol(elf, "_PyRuntime", &v, NULL))
		py->runtime = v + py->bias;
	else if (pt_elf_section(elf, ".PyRuntime", &v, NULL))
		py->runtime = v + py->bias;

	/* The build flavour picks the table: free-threaded from the debug
	 * offsets' head (3.13+), debug from the binary itself. */
	struct debug_head head;
	detect_debug_head(py, mem, &head);
	bool free_threaded = head.present && head.free_threaded;
	bool debug = detect_is_debug_build(elf);
	const struct pyv_offsets *table = pyv_offsets_for(info->major, info->minor, free_threaded, debug);
	if (!table) {
		rc = detect_refuse_build(py, elf, free_threaded, debug, err);
		goto out_version;
	}
	if (info->micro < 0)
		detect_micro(py, elf, mem);
	if ((rc = pyv_layout_load(py, table, mem, err)) < 0)
		goto out_version;
	if (info->micro >= 0)
		snprintf(info->version, sizeof(info->version), "%d.%d.%d", info->major, info->minor, info->micro);
	else
		snprintf(info->version, sizeof(info->version), "%d.%d", info->major, info->minor);

	/* Roots of the thread list. */
	if (!py->runtime) {
		if (pt_elf_symbol(elf, "interp_head", &v, NULL) || detect_interp_head_from_code(elf, &v))
			py->interp_head_addr = v + py->bias;
		if (pt_elf_symbol(elf, "_PyThreadState_Current", &v, NULL))
			py->tstate_current_addr = v + py->bias;
		if (!py->interp_head_addr && !py->tstate_current_addr) {
			rc = -PT_E_VERSION;
			snprintf(err->msg, sizeof(err->msg),
				 "Python %s in %.300s: neither interp_head nor _PyThreadState_Current found",
				 info->version, info->runtime_path);
			goto out_version;
		}
	}

	detect_gil_words(py, elf);

	/* Types used to validate what the walker reads. */
	if (pt_elf_symbol(elf, "PyCode_Type", &v, NULL))
		py->code_type = v + py->bias;
	if (py->off.string_sval != PYV_NONE && pt_elf_symbol(elf, "PyString_Type", &v, NULL)) {
		py->str_type = v + py->bias;
		py->bytes_type = py->str_type;
	} else {
		if (pt_elf_symbol(elf, "PyUnicode_Type", &v, NULL))
			py->str_type = v + py->bias;
		if (pt_elf_symbol(elf, "PyBytes_Type", &v, NULL))
			py->bytes_type = v + py->bias;
	}

	detect_eval_range(py, elf, "_PyEval_EvalFrameDefault");
	detect_eval_range(py, elf, "_PyEval_EvalFrameDefault.cold");
	if (py->n_eval == 0)
		detect_eval_range(py, elf, "PyEval_EvalFrameEx");
	info->supported = true;
	rc = 0;
	goto out;

out_version:
	if (!info->version[0])
		snprintf(info->version, sizeof(info->version), "%d.%d", info->major, info->minor);
out:
	if (rc < 0)
		err->status = -rc;
	pt_elf_close(elf);
	return rc;
}

void pt_python_fini(struct pt_python *py);

enum pyv_frame_model pyv_frame_model(const struct pt_python *py)
{
	if (py->off.tstate_frame != PYV_NONE)
		return PYV_FRAMES_OBJECTS;
	if (py->off.tstate_current_frame != PYV_NONE)
		return PYV_FRAMES_CURRENT;
	return PYV_FRAMES_CFRAME;
}

enum pyv_linetable_kind pyv_line_table_kind(const struct pt_python *py)
{
	if (py->off.code_lnotab != PYV_NONE)
		return py->off.lnotab_signed == 1 ? PYV_LNOTAB_SIGNED : PYV_LNOTAB_UNSIGNED;
	if (py->off.code_code_adaptive != PYV_NONE)
		return PYV_LOCATIONS_311;
	return PYV_LINETABLE_310;
}

bool pyv_frame_is_shim(const struct pt_python *py, int owner)
{
	/* CPython's own test (_PyFrame_IsIncomplete): every owner from the
	 * entry frame's up is not Python code (3.14's unused CSTACK too). */
	return py->off.owner_shim != PYV_NONE && owner >= py->off.owner_shim;
}

bool pyv_has_gil(const struct pt_python *py)
{
	/* A free-threaded build may enable a GIL at run time (PYTHON_GIL=1),
	 * but its holder is no longer the one thread running Python: no
	 * holder is claimed. */
	return !py->off.free_threaded;
}

bool pyv_jit_enabled(const struct pt_python *py, struct pt_mem *mem, uint64_t interp)
{
	uint8_t on = 0;

	if (!interp || py->off.interp_jit == PYV_NONE)
		return false;
	return pt_mem_read(mem, interp + (uint64_t)py->off.interp_jit, &on, 1) == 0 && on == 1;
}

bool pyv_has_debug_offsets(const struct pt_python *py)
{
	return py->off.dbg_size != PYV_NONE;
}

uint64_t pyv_frame_code(const struct pt_python *py, uint64_t executable)
{
	/* 3.14+: f_executable is a _PyStackRef whose low bits are tags. */
	return py->off.stackref_tag_bits > 0 ? executable & ~(uint64_t)py->off.stackref_tag_bits : executable;
}

bool pyv_has_native_thread_id(const struct pt_python *py)
{
	return py->off.tstate_native_thread_id != PYV_NONE;
}

bool pyv_pc_is_eval(const struct pt_python *py, uint64_t pc)
{
	for (size_t i = 0; i < py->n_eval; i++)
		if (pc >= py->eval[i].lo && pc < py->eval[i].hi)
			return true;
	return false;
}

bool pyv_symbol_is_eval(const struct pt_python *py, const char *symbol)
{
	/* The tail-call interpreter (3.14+, clang 19+) runs each instruction
	 * in its own function, _TAIL_CALL_<op> (with an .llvm.N suffix when
	 * LTO made it local): all of them are the eval loop. */
	return symbol && strncmp(symbol, "_TAIL_CALL_", 11) == 0;
}
