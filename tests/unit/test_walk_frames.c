/* SPDX-License-Identifier: MIT */
/* Unit tests for the 3.13+ layouts over a memory image: the generated
 * _Py_DebugOffsets layout of each flavour, and the 3.14/3.15 frame rules
 * of the walker (tagged f_executable, entry frames told by owner >=
 * owner_shim, 3.14's unused CSTACK 4 too, 3.15's base frame, anchors). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mem/arena.h"
#include "mem/mem.h"
#include "python/python.h"

#include "check.h"

#define BASE 0x100000ull
#define CODE_TYPE 0x7f0000001000ull
#define STR_TYPE 0x7f0000002000ull
#define BYTES_TYPE 0x7f0000003000ull

static uint8_t image[1 << 16];

static void put64(uint64_t addr, uint64_t v) { memcpy(image + (addr - BASE), &v, 8); }
static void put32(uint64_t addr, uint32_t v) { memcpy(image + (addr - BASE), &v, 4); }
static void put8(uint64_t addr, uint8_t v) { image[addr - BASE] = v; }

static void put_ascii(const struct pyv_offsets *o, uint64_t addr, const char *s)
{
	put64(addr + (uint64_t)o->object_type, STR_TYPE);
	put64(addr + (uint64_t)o->unicode_length, strlen(s));
	put32(addr + (uint64_t)o->unicode_state,
	      (1u << o->unicode_kind_shift) | o->unicode_compact_bit | o->unicode_ascii_bit);
	memcpy(image + (addr - BASE) + o->unicode_ascii_size, s, strlen(s) + 1);
}

/* A code object named name at addr, its strings and table after it. */
static void put_code(const struct pyv_offsets *o, uint64_t addr, const char *name)
{
	put64(addr + (uint64_t)o->object_type, CODE_TYPE);
	put64(addr + (uint64_t)o->code_qualname, addr + 0x200);
	put64(addr + (uint64_t)o->code_name, addr + 0x200);
	put64(addr + (uint64_t)o->code_filename, addr + 0x280);
	put64(addr + (uint64_t)o->code_linetable, addr + 0x300);
	put32(addr + (uint64_t)o->code_firstlineno, 7);
	put32(addr + (uint64_t)o->code_firsttraceable, 0);
	put_ascii(o, addr + 0x200, name);
	put_ascii(o, addr + 0x280, "t.py");
	put64(addr + 0x300 + (uint64_t)o->object_type, BYTES_TYPE);
	put64(addr + 0x300 + (uint64_t)o->varobject_size, 0);
}

static void put_frame(const struct pyv_offsets *o, uint64_t f, uint64_t executable, uint64_t previous,
		      uint64_t code, int owner)
{
	put64(f + (uint64_t)o->iframe_code, executable);
	put64(f + (uint64_t)o->iframe_previous, previous);
	put64(f + (uint64_t)o->iframe_instr, code + (uint64_t)o->code_code_adaptive + 2);
	put8(f + (uint64_t)o->iframe_owner, (uint8_t)owner);
}

struct walked {
	size_t n;
	struct pt_pyframe f[8];
};

static void walk(const struct pyv_offsets *o, uint64_t tstate, struct walked *w)
{
	struct pt_python py;
	struct pt_mem mem;
	const char *why = NULL;

	memset(&py, 0, sizeof(py));
	py.info.major = o->major;
	py.info.minor = o->minor;
	py.off = *o;
	py.code_type = CODE_TYPE;
	py.str_type = STR_TYPE;
	py.bytes_type = BYTES_TYPE;
	py.generation = 1;
	pt_mem_init_image(&mem, BASE, image, sizeof(image));
	struct pt_arena *arena = pt_arena_new();
	w->n = 0;
	if (pt_python_walk(&py, &mem, tstate, arena, w->f, 8, &w->n, &why) < 0)
		w->n = (size_t)-1;
	/* Names outlive the arena for the checks: keep only whether they match. */
	for (size_t i = 0; i < w->n && i < 8; i++) {
		static char names[8][16];
		snprintf(names[i], sizeof(names[i]), "%s", w->f[i].function ? w->f[i].function : "?");
		w->f[i].function = names[i];
	}
	pt_arena_free(arena);
	pt_python_fini(&py);
	pt_mem_fini(&mem);
}

#define DBG(o, m) ((uint64_t)(o)->dbg_##m)
/* Members this version's _Py_DebugOffsets lacks (PYV_NONE) are skipped. */
#define PUT_DBG(o, m, v) do { if ((o)->dbg_##m != PYV_NONE) put64(BASE + DBG(o, m), (uint64_t)(v)); } while (0)

/* A _Py_DebugOffsets at BASE laid out as the table says, holding the
 * table's own values (the GIL's relative to an embedded _gil at 1000). */
static void put_debug_offsets(const struct pyv_offsets *o)
{
	memset(image, 0, sizeof(image));
	memcpy(image, "xdebugpy", 8);
	put64(BASE + 8, 0x030000f0ull | (uint64_t)o->minor << 16);
	PUT_DBG(o, free_threaded, o->free_threaded);
	PUT_DBG(o, runtime_size, o->runtime_size);
	PUT_DBG(o, runtime_interpreters_head, o->runtime_interpreters_head);
	PUT_DBG(o, interp_size, o->interp_size);
	PUT_DBG(o, interp_next, o->interp_next);
	PUT_DBG(o, interp_tstate_head, o->interp_tstate_head);
	PUT_DBG(o, interp_ceval_gil, o->interp_ceval_gil);
	PUT_DBG(o, interp_gil, 1000);
	PUT_DBG(o, gil_locked, 1000 + o->gil_locked);
	PUT_DBG(o, gil_last_holder, 1000 + o->gil_last_holder);
	PUT_DBG(o, tstate_size, o->tstate_size);
	PUT_DBG(o, tstate_next, o->tstate_next);
	PUT_DBG(o, tstate_interp, o->tstate_interp);
	PUT_DBG(o, tstate_current_frame, o->tstate_current_frame);
	PUT_DBG(o, tstate_base_frame, o->tstate_base_frame);
	PUT_DBG(o, tstate_thread_id, o->tstate_thread_id);
	PUT_DBG(o, tstate_native_thread_id, o->tstate_native_thread_id);
	PUT_DBG(o, tstate_eval_breaker, o->tstate_eval_breaker);
	PUT_DBG(o, iframe_size, o->iframe_size);
	PUT_DBG(o, iframe_code, o->iframe_code);
	PUT_DBG(o, iframe_previous, o->iframe_previous);
	PUT_DBG(o, iframe_instr, o->iframe_instr);
	PUT_DBG(o, iframe_owner, o->iframe_owner);
	PUT_DBG(o, code_size, o->code_size);
	PUT_DBG(o, code_filename, o->code_filename);
	PUT_DBG(o, code_name, o->code_name);
	PUT_DBG(o, code_qualname, o->code_qualname);
	PUT_DBG(o, code_firstlineno, o->code_firstlineno);
	PUT_DBG(o, code_linetable, o->code_linetable);
	PUT_DBG(o, code_code_adaptive, o->code_code_adaptive);
	PUT_DBG(o, object_type, o->object_type);
	PUT_DBG(o, type_name, o->type_name);
	PUT_DBG(o, varobject_size, o->varobject_size);
	PUT_DBG(o, unicode_length, o->unicode_length);
	PUT_DBG(o, unicode_state, o->unicode_state);
	PUT_DBG(o, unicode_ascii_size, o->unicode_ascii_size);
	PUT_DBG(o, unicode_compact_size, o->unicode_compact_size);
	PUT_DBG(o, bytes_sval, o->bytes_sval);
	PUT_DBG(o, tuple_items, o->tuple_items);
	PUT_DBG(o, gen_iframe, o->gen_iframe);
	PUT_DBG(o, gen_frame_state, o->gen_frame_state);
}

static int load(struct pt_python *py, const struct pyv_offsets *o, struct pt_mem *mem, struct pt_error *err)
{
	memset(py, 0, sizeof(*py));
	memset(err, 0, sizeof(*err));
	py->info.major = o->major;
	py->info.minor = o->minor;
	py->runtime = BASE;
	return pyv_layout_load(py, o, mem, err);
}

/* The generated _Py_DebugOffsets layout read back; a patch release that
 * moves a described field is followed; a header of another flavour is not. */
static void test_debug_offsets(const struct pyv_offsets *o, const char *v)
{
	struct pt_python py;
	struct pt_error err;
	struct pt_mem mem;

	put_debug_offsets(o);
	pt_mem_init_image(&mem, BASE, image, sizeof(image));
	int rc = load(&py, o, &mem, &err);
	check(rc == 0 && py.info.from_debug_offsets && memcmp(&py.off, o, sizeof(*o)) == 0,
	      "%s: a _Py_DebugOffsets laid out by the generated dbg_* members reads back as the table (%s)",
	      v, err.msg);
	/* A patch release moved current_frame and grew the thread state. */
	PUT_DBG(o, tstate_size, o->tstate_size + 16);
	PUT_DBG(o, tstate_current_frame, o->tstate_size + 8);
	rc = load(&py, o, &mem, &err);
	check(rc == 0 && py.off.tstate_current_frame == o->tstate_size + 8 &&
	      py.off.tstate_size == o->tstate_size + 16,
	      "%s: a moved thread_state.current_frame is taken from the target (%s)", v, err.msg);
	put_debug_offsets(o);
	PUT_DBG(o, object_type, o->object_type + 16);
	PUT_DBG(o, type_name, o->type_name + 16);
	rc = load(&py, o, &mem, &err);
	check(rc == -PT_E_VERSION && strstr(err.msg, "pyobject.ob_type"),
	      "%s: another flavour's object header is refused: %s", v, err.msg);
	put_debug_offsets(o);
	put64(BASE + 8, 0x030000f0ull | (uint64_t)(o->minor + 1) << 16);
	rc = load(&py, o, &mem, &err);
	check(rc == -PT_E_VERSION && strstr(err.msg, "says version"),
	      "%s: another minor's debug offsets are refused: %s", v, err.msg);
	pt_mem_fini(&mem);
}

/* newest -> (tagged) a -> entry -> b -> [3.15 base frame] */
static void test_chain(const struct pyv_offsets *o, const char *v)
{
	uint64_t tstate = BASE + 0x1000, fa = BASE + 0x3000, fe = BASE + 0x3100, fb = BASE + 0x3200;
	uint64_t base = BASE + 0x3300, ca = BASE + 0x4000, cb = BASE + 0x5000;
	bool has_base = o->tstate_base_frame != PYV_NONE;
	struct walked w;

	memset(image, 0, sizeof(image));
	put_code(o, ca, "a");
	put_code(o, cb, "b");
	put64(tstate + (uint64_t)o->tstate_current_frame, fa);
	if (has_base)
		put64(tstate + (uint64_t)o->tstate_base_frame, base);
	put_frame(o, fa, ca | (uint64_t)o->stackref_tag_bits, fe, ca, 0);
	put_frame(o, fe, 0x7f0000009000ull, fb, ca, o->owner_shim);
	put_frame(o, fb, cb, has_base ? base : 0, cb, 0);
	if (has_base)
		put_frame(o, base, 0, 0, cb, o->owner_shim);

	walk(o, tstate, &w);
	check(o->stackref_tag_bits == 3, "%s: f_executable's tag bits are Py_TAG_BITS (3)", v);
	check(w.n == 2 && strcmp(w.f[0].function, "a") == 0 && !w.f[0].unreadable &&
	      strcmp(w.f[1].function, "b") == 0 && !w.f[1].unreadable,
	      "%s: a tagged f_executable is read through its mask; entry%s frames not printed (%zu frames)",
	      v, has_base ? " and base" : "", w.n);
	check(w.n == 2 && w.f[0].group_end && w.f[0].anchor == fe && w.f[1].group_end,
	      "%s: the entry frame ends the newer group and is its anchor", v);

	/* Without the mask the tagged pointer is no code object. */
	struct pyv_offsets untagged = *o;
	untagged.stackref_tag_bits = 0;
	walk(&untagged, tstate, &w);
	check(w.n >= 1 && w.f[0].unreadable, "%s: unmasked, the tagged frame is unreadable", v);

	/* 3.14 keeps FRAME_OWNED_BY_CSTACK = 4 above INTERPRETER: not Python. */
	put8(fe + (uint64_t)o->iframe_owner, (uint8_t)(o->owner_shim + 1));
	walk(o, tstate, &w);
	check(w.n == 2 && w.f[0].anchor == fe, "%s: an owner above owner_shim is a shim too", v);
	put8(fe + (uint64_t)o->iframe_owner, (uint8_t)o->owner_shim);

	if (has_base) {
		/* The base frame is recognised by its address, whatever its owner. */
		put8(base + (uint64_t)o->iframe_owner, 0);
		walk(o, tstate, &w);
		check(w.n == 2, "%s: the thread state's base frame is never printed (%zu frames)", v, w.n);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_chain(&pyv_offsets_314, "3.14");
	test_chain(&pyv_offsets_315, "3.15");
	test_chain(&pyv_offsets_314d, "3.14d");
	test_debug_offsets(&pyv_offsets_313, "3.13");
	test_debug_offsets(&pyv_offsets_313t, "3.13t");
	test_debug_offsets(&pyv_offsets_314, "3.14");
	test_debug_offsets(&pyv_offsets_315, "3.15");
	test_debug_offsets(&pyv_offsets_315d, "3.15d");
	return n_failed ? 1 : 0;
}
