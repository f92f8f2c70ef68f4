/* SPDX-License-Identifier: MIT */
/* Unit tests for the 3.14/3.15 frame rules of the walker, over a memory
 * image: tagged f_executable, entry frames told by owner >= owner_shim
 * (3.14's unused CSTACK 4 too), 3.15's base frame, groups and anchors. */
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
	return n_failed ? 1 : 0;
}
