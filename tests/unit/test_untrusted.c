/* SPDX-License-Identifier: MIT */
/* Unit tests for reading a target that lies: checked remote structs,
 * chain caps, layout validation (generated tables and _Py_DebugOffsets),
 * strings checked against their NUL, and walks over a memory image. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/arena.h"
#include "mem/mem.h"
#include "mem/rstruct.h"
#include "python/python.h"

#include "check.h"

#define BASE 0x100000ull
#define CODE_TYPE 0x7f0000001000ull
#define STR_TYPE 0x7f0000002000ull
#define BYTES_TYPE 0x7f0000003000ull

static uint8_t image[1 << 16];

static void put64(uint64_t addr, uint64_t v) { memcpy(image + (addr - BASE), &v, 8); }
static void put32(uint64_t addr, uint32_t v) { memcpy(image + (addr - BASE), &v, 4); }

static void test_rstruct(void)
{
	struct pt_mem mem;
	struct pt_rstruct rs;
	uint64_t v;
	uint8_t b;

	memset(image, 0, sizeof(image));
	put64(BASE + 72, 0x1122334455667788ull);
	pt_mem_init_image(&mem, BASE, image, sizeof(image));
	check(pt_field_fits(72, 8, 80) && !pt_field_fits(73, 8, 80) && !pt_field_fits(-1, 1, 80) &&
	      !pt_field_fits(0, 8, 4) && !pt_field_fits(INT64_MAX, 8, 80) && pt_field_fits(79, 1, 80),
	      "pt_field_fits: inside, straddling, negative, wider than the struct, huge");
	check(pt_rstruct_read(&rs, &mem, BASE, 80) == 0 && rs.size == 80, "a struct is copied at its size");
	check(pt_rstruct_u64(&rs, 72, &v) == 0 && v == 0x1122334455667788ull, "a field inside is read");
	check(pt_rstruct_u64(&rs, 76, &v) == -ERANGE && v == 0, "a field straddling the end is refused, zeroed");
	check(pt_rstruct_u8(&rs, 4096, &b) == -ERANGE, "interpreter_frame.owner = 4096 is refused");
	check(pt_rstruct_ptr(&rs, -1, &v) == -ERANGE, "a negative offset is refused");
	check(pt_rstruct_read(&rs, &mem, BASE, PT_RSTRUCT_MAX + 1) == -E2BIG &&
	      pt_rstruct_read(&rs, &mem, BASE, 0) == -E2BIG && pt_rstruct_read(&rs, &mem, BASE, -8) == -E2BIG,
	      "sizes above the cap, zero or negative are refused without a read");
	check(pt_rstruct_read(&rs, &mem, BASE + sizeof(image) - 8, 16) == -EFAULT,
	      "a struct running off the image is -EFAULT");
	check(pt_rfield_u64(&mem, BASE, 80, 72, &v) == 0 && v == 0x1122334455667788ull &&
	      pt_rfield_u64(&mem, BASE, 80, 80, &v) == -ERANGE, "in-place fields are checked the same way");
	uint8_t x = 1;
	check(pt_mem_write(&mem, BASE, &x, 1) == -EROFS, "an image is read-only");
	pt_mem_fini(&mem);
}

static void test_chain(void)
{
	struct pt_chain c;
	int rc = 0;
	size_t steps;

	pt_chain_init(&c, 0x1000, 100);
	check(pt_chain_next(&c, 0x1000) == -ELOOP, "a self loop is caught at once");
	/* 1 -> 2 -> 3 -> 4 -> 5 -> 3 -> ... */
	uint64_t seq[] = { 2, 3, 4, 5 };
	pt_chain_init(&c, 1, 1000);
	for (steps = 0; steps < 100 && rc == 0; steps++)
		rc = pt_chain_next(&c, seq[steps < 4 ? steps : 1 + (steps - 1) % 3]);
	check(rc == -ELOOP && steps <= 12, "a loop behind a tail is caught within twice its length (%zu steps)", steps);
	pt_chain_init(&c, 1, 50);
	rc = 0;
	for (steps = 0; steps < 1000 && rc == 0; steps++)
		rc = pt_chain_next(&c, 2 + steps);
	check(rc == -E2BIG && steps == 50, "an endless chain stops at its cap");
}

static const struct pyv_offsets *const tables[] = {
	&pyv_offsets_27, &pyv_offsets_36, &pyv_offsets_37, &pyv_offsets_38, &pyv_offsets_39,
	&pyv_offsets_310, &pyv_offsets_311, &pyv_offsets_312,
};

static int load(struct pt_python *py, const struct pyv_offsets *t, struct pt_mem *mem, struct pt_error *err)
{
	memset(py, 0, sizeof(*py));
	memset(err, 0, sizeof(*err));
	py->info.major = t->major;
	py->info.minor = t->minor;
	py->runtime = BASE;
	return pyv_layout_load(py, t, mem, err);
}

/* _Py_DebugOffsets as 3.13.0 declares it: every member after the cookie
 * a uint64_t, in this order. */
static const char *const debug_313[] = {
	"version", "free_threaded",
	"runtime_state.size", "runtime_state.finalizing", "runtime_state.interpreters_head",
	"interpreter_state.size", "interpreter_state.id", "interpreter_state.next",
	"interpreter_state.threads_head", "interpreter_state.gc", "interpreter_state.imports_modules",
	"interpreter_state.sysdict", "interpreter_state.builtins", "interpreter_state.ceval_gil",
	"interpreter_state.gil_runtime_state", "interpreter_state.gil_runtime_state_enabled",
	"interpreter_state.gil_runtime_state_locked", "interpreter_state.gil_runtime_state_holder",
	"thread_state.size", "thread_state.prev", "thread_state.next", "thread_state.interp",
	"thread_state.current_frame", "thread_state.thread_id", "thread_state.native_thread_id",
	"thread_state.datastack_chunk", "thread_state.status",
	"interpreter_frame.size", "interpreter_frame.previous", "interpreter_frame.executable",
	"interpreter_frame.instr_ptr", "interpreter_frame.localsplus", "interpreter_frame.owner",
	"code_object.size", "code_object.filename", "code_object.name", "code_object.qualname",
	"code_object.linetable", "code_object.firstlineno", "code_object.argcount",
	"code_object.localsplusnames", "code_object.localspluskinds", "code_object.co_code_adaptive",
	"pyobject.size", "pyobject.ob_type",
};

static uint64_t debug_addr(const char *name)
{
	for (size_t i = 0; i < sizeof(debug_313) / sizeof(debug_313[0]); i++)
		if (strcmp(debug_313[i], name) == 0)
			return BASE + 8 + 8 * i;
	fprintf(stderr, "no debug field %s\n", name);
	abort();
}

/* A plausible 3.13 _Py_DebugOffsets at BASE, from our own table. */
static void put_debug_313(void)
{
	const struct pyv_offsets *o = &pyv_offsets_313;
	memset(image, 0, sizeof(image));
	memcpy(image, "xdebugpy", 8);
	put64(debug_addr("version"), 0x030d00f0);
	put64(debug_addr("runtime_state.size"), (uint64_t)o->runtime_size);
	put64(debug_addr("runtime_state.interpreters_head"), (uint64_t)o->runtime_interpreters_head);
	put64(debug_addr("interpreter_state.size"), (uint64_t)o->interp_size);
	put64(debug_addr("interpreter_state.next"), (uint64_t)o->interp_next);
	put64(debug_addr("interpreter_state.threads_head"), (uint64_t)o->interp_tstate_head);
	put64(debug_addr("interpreter_state.ceval_gil"), (uint64_t)o->interp_ceval_gil);
	put64(debug_addr("interpreter_state.gil_runtime_state"), 1000);
	put64(debug_addr("interpreter_state.gil_runtime_state_locked"), 1000 + (uint64_t)o->gil_locked);
	put64(debug_addr("interpreter_state.gil_runtime_state_holder"), 1000 + (uint64_t)o->gil_last_holder);
	put64(debug_addr("thread_state.size"), (uint64_t)o->tstate_size);
	put64(debug_addr("thread_state.next"), (uint64_t)o->tstate_next);
	put64(debug_addr("thread_state.interp"), (uint64_t)o->tstate_interp);
	put64(debug_addr("thread_state.current_frame"), (uint64_t)o->tstate_current_frame);
	put64(debug_addr("thread_state.thread_id"), (uint64_t)o->tstate_thread_id);
	put64(debug_addr("thread_state.native_thread_id"), (uint64_t)o->tstate_native_thread_id);
	put64(debug_addr("interpreter_frame.size"), (uint64_t)o->iframe_size);
	put64(debug_addr("interpreter_frame.previous"), (uint64_t)o->iframe_previous);
	put64(debug_addr("interpreter_frame.executable"), (uint64_t)o->iframe_code);
	put64(debug_addr("interpreter_frame.instr_ptr"), (uint64_t)o->iframe_instr);
	put64(debug_addr("interpreter_frame.owner"), (uint64_t)o->iframe_owner);
	put64(debug_addr("code_object.size"), (uint64_t)o->code_size);
	put64(debug_addr("code_object.filename"), (uint64_t)o->code_filename);
	put64(debug_addr("code_object.name"), (uint64_t)o->code_name);
	put64(debug_addr("code_object.qualname"), (uint64_t)o->code_qualname);
	put64(debug_addr("code_object.linetable"), (uint64_t)o->code_linetable);
	put64(debug_addr("code_object.firstlineno"), (uint64_t)o->code_firstlineno);
	put64(debug_addr("code_object.co_code_adaptive"), (uint64_t)o->code_code_adaptive);
	put64(debug_addr("pyobject.ob_type"), (uint64_t)o->object_type);
	/* After pyobject: type, tuple, list, dict, float, long (18 words), then
	 * bytes_object and unicode_object. */
	uint64_t bytes = debug_addr("pyobject.ob_type") + 8 + 8 * 18;
	put64(bytes + 8, (uint64_t)o->varobject_size);
	put64(bytes + 16, (uint64_t)o->bytes_sval);
	put64(bytes + 24 + 8, (uint64_t)o->unicode_state);
	put64(bytes + 24 + 16, (uint64_t)o->unicode_length);
	put64(bytes + 24 + 24, (uint64_t)o->unicode_ascii_size);
}

static void test_layouts(void)
{
	struct pt_python py;
	struct pt_error err;
	struct pt_mem mem;
	struct pyv_offsets t;

	pt_mem_init_image(&mem, BASE, image, sizeof(image));
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		check(load(&py, tables[i], &mem, &err) == 0, "the generated %d.%d table passes the layout checks: %s",
		      tables[i]->major, tables[i]->minor, err.msg);

	t = pyv_offsets_312;
	t.iframe_owner = 4096;
	check(load(&py, &t, &mem, &err) == -PT_E_VERSION && strstr(err.msg, "iframe_owner"),
	      "a frame owner outside the frame is refused, named: %s", err.msg);
	t = pyv_offsets_39;
	t.frame_lasti = t.frame_size - 2;
	check(load(&py, &t, &mem, &err) == -PT_E_VERSION && strstr(err.msg, "frame_lasti"),
	      "f_lasti straddling the end of the frame is refused: %s", err.msg);
	t = pyv_offsets_39;
	t.frame_back += 1;
	check(load(&py, &t, &mem, &err) == -PT_E_VERSION && strstr(err.msg, "aligned"),
	      "a misaligned pointer field is refused: %s", err.msg);
	t = pyv_offsets_311;
	t.code_qualname = t.code_filename;
	check(load(&py, &t, &mem, &err) == -PT_E_VERSION && strstr(err.msg, "overlaps"),
	      "a field pointing at another field is refused: %s", err.msg);
	t = pyv_offsets_311;
	t.code_size = 4096;
	check(load(&py, &t, &mem, &err) == -PT_E_VERSION && strstr(err.msg, "code_size"),
	      "a code object larger than a checked copy is refused: %s", err.msg);
	t = pyv_offsets_310;
	t.unicode_ascii_size = 41;
	check(load(&py, &t, &mem, &err) == -PT_E_VERSION && strstr(err.msg, "unicode_ascii_size"),
	      "an odd header size is refused: %s", err.msg);

	put_debug_313();
	check(load(&py, &pyv_offsets_313, &mem, &err) == 0 && py.info.from_debug_offsets,
	      "plausible _Py_DebugOffsets are taken: %s", err.msg);
	check(py.off.gil_locked == pyv_offsets_313.gil_locked &&
	      py.off.gil_last_holder == pyv_offsets_313.gil_last_holder,
	      "the GIL's fields are taken relative to its struct");
	static const struct { const char *field; uint64_t value; const char *why; } lies[] = {
		{ "interpreter_frame.owner", 4096, "outside its struct" },
		{ "interpreter_frame.owner", (uint64_t)-8, "not a plausible" },
		{ "interpreter_frame.previous", 9, "aligned" },
		{ "interpreter_frame.previous", 80, "outside its struct" },
		{ "interpreter_frame.instr_ptr", 0, "overlaps" },
		{ "interpreter_frame.size", 8, "interpreter_frame.size" },
		{ "interpreter_frame.size", 1 << 20, "interpreter_frame.size" },
		{ "code_object.qualname", 112, "overlaps" },
		{ "code_object.size", 100, "code_object" },
		{ "thread_state.current_frame", 1ull << 40, "not a plausible" },
		{ "runtime_state.interpreters_head", 283320, "outside its struct" },
		{ "interpreter_state.gil_runtime_state_locked", 999, "gil_runtime_state_locked" },
		{ "interpreter_state.gil_runtime_state_holder", 1000 + 8192, "gil_runtime_state_holder" },
		{ "pyobject.ob_type", 16, "overlaps" },
		{ "free_threaded", 1, "free-threaded" },
		{ "version", 0x030e00f0, "says version" },
	};
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		put_debug_313();
		put64(debug_addr(lies[i].field), lies[i].value);
		int rc = load(&py, &pyv_offsets_313, &mem, &err);
		check(rc == -PT_E_VERSION && err.status == PT_E_VERSION && strstr(err.msg, lies[i].why) &&
		      (strstr(err.msg, lies[i].field) || strncmp(lies[i].field, "code_object", 11) == 0 ||
		       strcmp(lies[i].field, "version") == 0 || strcmp(lies[i].field, "free_threaded") == 0),
		      "_Py_DebugOffsets %s = %#llx is refused: %s", lies[i].field,
		      (unsigned long long)lies[i].value, err.msg);
	}
	pt_mem_fini(&mem);
}

/* A compact str at addr (3.12 layout): ascii or of the given kind. */
static uint64_t put_str(uint64_t addr, const void *units, size_t n, unsigned kind, bool ascii, size_t lie)
{
	const struct pyv_offsets *o = &pyv_offsets_312;
	put64(addr + (uint64_t)o->object_type, STR_TYPE);
	put64(addr + (uint64_t)o->unicode_length, n + lie);
	put32(addr + (uint64_t)o->unicode_state,
	      (kind << o->unicode_kind_shift) | o->unicode_compact_bit | (ascii ? o->unicode_ascii_bit : 0));
	uint64_t data = addr + (uint64_t)(ascii ? o->unicode_ascii_size : o->unicode_compact_size);
	memcpy(image + (data - BASE), units, n * kind);
	memset(image + (data - BASE) + n * kind, 0, kind);
	return addr;
}

static void test_strings(void)
{
	struct pt_python py;
	struct pt_error err;
	struct pt_mem mem;
	char out[64];

	memset(image, 0xaa, sizeof(image));
	pt_mem_init_image(&mem, BASE, image, sizeof(image));
	load(&py, &pyv_offsets_312, &mem, &err);
	py.str_type = STR_TYPE;
	put_str(BASE + 0x100, "hello", 5, 1, true, 0);
	check(pyv_string_read(&py, &mem, BASE + 0x100, out, sizeof(out)) == 0 && strcmp(out, "hello") == 0,
	      "compact ASCII");
	put_str(BASE + 0x200, "hello", 5, 1, true, 2);
	check(pyv_string_read(&py, &mem, BASE + 0x200, out, sizeof(out)) == -EINVAL,
	      "a length past the string's NUL is refused");
	put_str(BASE + 0x300, "hello", 5, 1, true, 1ull << 40);
	check(pyv_string_read(&py, &mem, BASE + 0x300, out, sizeof(out)) == -EINVAL,
	      "a huge length is refused, not truncated");
	put_str(BASE + 0x400, "caf\xe9", 4, 1, false, 0);
	check(pyv_string_read(&py, &mem, BASE + 0x400, out, sizeof(out)) == 0 && strcmp(out, "caf\xc3\xa9") == 0,
	      "latin-1 as UTF-8");
	uint16_t ucs2[] = { 0x3b1, 0x3b2 };
	put_str(BASE + 0x500, ucs2, 2, 2, false, 0);
	check(pyv_string_read(&py, &mem, BASE + 0x500, out, sizeof(out)) == 0 &&
	      strcmp(out, "\xce\xb1\xce\xb2") == 0, "UCS-2 as UTF-8");
	uint32_t ucs4[] = { 0x1f600, 0xd800, 0x110000 };
	put_str(BASE + 0x600, ucs4, 3, 4, false, 0);
	check(pyv_string_read(&py, &mem, BASE + 0x600, out, sizeof(out)) == 0 &&
	      strcmp(out, "\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd") == 0,
	      "UCS-4 as UTF-8; surrogates and values past U+10FFFF as U+FFFD");
	put_str(BASE + 0x700, "a\x80", 2, 1, true, 0);
	check(pyv_string_read(&py, &mem, BASE + 0x700, out, sizeof(out)) == -EINVAL,
	      "an ASCII string holding a byte >= 0x80 is refused");
	put_str(BASE + 0x800, "hello", 5, 1, true, 0);
	check(pyv_string_read(&py, &mem, BASE + 0x800, out, 3) == 0 && strcmp(out, "he") == 0,
	      "output truncated at cap - 1 bytes");
	uint16_t wide[] = { 'a', 0x3b1, 'b' };
	put_str(BASE + 0xa00, wide, 3, 2, false, 0);
	check(pyv_string_read(&py, &mem, BASE + 0xa00, out, 3) == 0 && strcmp(out, "a") == 0,
	      "truncation gives a prefix: no character after one that did not fit");
	put64(BASE + 0x800 + 8, STR_TYPE + 1);
	check(pyv_string_read(&py, &mem, BASE + 0x800, out, sizeof(out)) == -EINVAL, "not a str: refused");
	pt_python_fini(&py);

	/* 2.7 str: ob_size, then the bytes and their NUL. */
	const struct pyv_offsets *o = &pyv_offsets_27;
	load(&py, o, &mem, &err);
	py.str_type = STR_TYPE;
	put64(BASE + 0x900 + (uint64_t)o->object_type, STR_TYPE);
	put64(BASE + 0x900 + (uint64_t)o->varobject_size, 3);
	memcpy(image + 0x900 + o->string_sval, "abc", 4);
	check(pyv_string_read(&py, &mem, BASE + 0x900, out, sizeof(out)) == 0 && strcmp(out, "abc") == 0,
	      "2.7 str");
	/* Found by fuzz_string: 2.7 bytes that are not UTF-8 were printed
	 * raw (invalid UTF-8 in text and JSON output). */
	put64(BASE + 0x900 + (uint64_t)o->varobject_size, 7);
	memcpy(image + 0x900 + o->string_sval, "\xff\x80" "caf\xc3\xa9", 8);
	check(pyv_string_read(&py, &mem, BASE + 0x900, out, sizeof(out)) == 0 &&
	      strcmp(out, "\xef\xbf\xbd\xef\xbf\xbd" "caf\xc3\xa9") == 0,
	      "2.7 str: UTF-8 kept, other bytes as U+FFFD");
	put64(BASE + 0x900 + (uint64_t)o->varobject_size, 3);
	memcpy(image + 0x900 + o->string_sval, "\xed\xa0\x80", 4);
	check(pyv_string_read(&py, &mem, BASE + 0x900, out, sizeof(out)) == 0 &&
	      strcmp(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") == 0,
	      "2.7 str: an encoded surrogate is not UTF-8");
	put64(BASE + 0x900 + (uint64_t)o->varobject_size, (uint64_t)-1);
	check(pyv_string_read(&py, &mem, BASE + 0x900, out, sizeof(out)) == -EINVAL, "2.7 str, negative size");
	pt_python_fini(&py);
	pt_mem_fini(&mem);
}

/* A 3.9 process in an image: runtime -> interp -> tstate -> two frames
 * whose f_back point at each other. */
static void test_frame_loop(void)
{
	const struct pyv_offsets *o = &pyv_offsets_39;
	struct pt_pyframe frames[64];
	struct pt_pytstate ts[4];
	struct pt_python py;
	struct pt_error err;
	struct pt_mem mem;
	size_t n = 0;
	const char *why = NULL;

	memset(image, 0, sizeof(image));
	uint64_t interp = BASE + 0x1000, tstate = BASE + 0x2000, f1 = BASE + 0x3000, f2 = BASE + 0x3400;
	uint64_t code = BASE + 0x4000, name = BASE + 0x4400, file = BASE + 0x4500, table = BASE + 0x4600;
	put64(BASE + (uint64_t)o->runtime_interpreters_head, interp);
	put64(interp + (uint64_t)o->interp_tstate_head, tstate);
	put64(tstate + (uint64_t)o->tstate_frame, f1);
	put64(tstate + (uint64_t)o->tstate_thread_id, 77);
	put64(f1 + (uint64_t)o->frame_back, f2);
	put64(f2 + (uint64_t)o->frame_back, f1);
	put64(f1 + (uint64_t)o->frame_code, code);
	put64(f2 + (uint64_t)o->frame_code, code + 8);  /* not a code object */
	put64(code + (uint64_t)o->object_type, CODE_TYPE);
	put64(code + (uint64_t)o->code_name, name);
	put64(code + (uint64_t)o->code_filename, file);
	put64(code + (uint64_t)o->code_lnotab, table);
	put32(code + (uint64_t)o->code_firstlineno, 10);
	uint64_t strs[] = { name, file };
	const char *text[] = { "spin", "loop.py" };
	for (int i = 0; i < 2; i++) {
		put64(strs[i] + (uint64_t)o->object_type, STR_TYPE);
		put64(strs[i] + (uint64_t)o->unicode_length, strlen(text[i]));
		put32(strs[i] + (uint64_t)o->unicode_state,
		      (1u << o->unicode_kind_shift) | o->unicode_compact_bit | o->unicode_ascii_bit);
		memcpy(image + (strs[i] - BASE) + o->unicode_ascii_size, text[i], strlen(text[i]) + 1);
	}
	put64(table + (uint64_t)o->object_type, BYTES_TYPE);
	put64(table + (uint64_t)o->varobject_size, 0);

	pt_mem_init_image(&mem, BASE, image, sizeof(image));
	check(load(&py, o, &mem, &err) == 0, "3.9 layout");
	py.code_type = CODE_TYPE;
	py.str_type = STR_TYPE;
	py.bytes_type = BYTES_TYPE;
	check(pt_python_list_tstates(&py, &mem, ts, 4, &n) == 0 && n == 1 && ts[0].pthread_id == 77,
	      "one thread state found in the image");
	/* The thread state's next points at itself: still one. */
	put64(tstate + (uint64_t)o->tstate_next, tstate);
	check(pt_python_list_tstates(&py, &mem, ts, 4, &n) == 0 && n == 1,
	      "a thread-state list that loops is cut (%zu)", n);
	struct pt_arena *arena = pt_arena_new();
	int rc = pt_python_walk(&py, &mem, tstate, arena, frames, 64, &n, &why);
	check(rc == 0 && n >= 2 && n < 8 && why && strstr(why, "loops"),
	      "a frame chain that loops ends, and says so (%zu frames: %s)", n, why ? why : "");
	check(n >= 2 && !frames[0].unreadable && strcmp(frames[0].function, "spin") == 0 &&
	      strcmp(frames[0].file, "loop.py") == 0 && frames[1].unreadable,
	      "the readable frame is read, the other is unreadable");
	pt_arena_free(arena);
	pt_python_fini(&py);
	pt_mem_fini(&mem);
}

int main(void)
{
	test_rstruct();
	test_chain();
	test_layouts();
	test_strings();
	test_frame_loop();
	return n_failed ? 1 : 0;
}
