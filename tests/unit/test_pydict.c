/* SPDX-License-Identifier: MIT */
/* Unit tests for remote dict and attribute reads (src/python/pydict.c)
 * over a memory image: 3.12's combined, split and managed-dict layouts,
 * 3.10's observed keys layout, and keys objects that lie. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mem/mem.h"
#include "python/asyncio.h"
#include "python/python.h"

#include "check.h"

#define BASE 0x100000ull
#define STR_TYPE 0x7f0000002000ull

static uint8_t image[1 << 16];

static void put64(uint64_t addr, uint64_t v) { memcpy(image + (addr - BASE), &v, 8); }
static void put32(uint64_t addr, uint32_t v) { memcpy(image + (addr - BASE), &v, 4); }
static void put8(uint64_t addr, uint8_t v) { image[addr - BASE] = v; }

/* A compact ASCII str at addr in the layout of table o. */
static uint64_t put_str(const struct pyv_offsets *o, uint64_t addr, const char *s)
{
	size_t n = strlen(s);
	put64(addr + (uint64_t)o->object_type, STR_TYPE);
	put64(addr + (uint64_t)o->unicode_length, n);
	put32(addr + (uint64_t)o->unicode_state,
	      (1u << o->unicode_kind_shift) | o->unicode_compact_bit | o->unicode_ascii_bit);
	memcpy(image + (addr + (uint64_t)o->unicode_ascii_size - BASE), s, n + 1);
	return addr;
}

static void py_init(struct pt_python *py, const struct pyv_offsets *t)
{
	memset(py, 0, sizeof(*py));
	py->off = *t;
	py->info.major = t->major;
	py->info.minor = t->minor;
	py->str_type = STR_TYPE;
}

/* A 3.12 keys object of 8 slots holding keys[i] (0: a deleted entry), in
 * unicode form: 8 one-byte indices, then {key, value} entries. */
static void put_keys_312(uint64_t keys, const uint64_t *k, const uint64_t *v, int n, int64_t nentries)
{
	const struct pyv_offsets *o = &pyv_offsets_312;
	put8(keys + (uint64_t)o->dictkeys_log2_size, 3);
	put8(keys + (uint64_t)o->dictkeys_log2_index_bytes, 3);
	put8(keys + (uint64_t)o->dictkeys_kind, 1);
	put64(keys + (uint64_t)o->dictkeys_nentries, (uint64_t)nentries);
	uint64_t e = keys + (uint64_t)o->dictkeys_indices + 8;
	for (int i = 0; i < n; i++) {
		put64(e + (uint64_t)(i * o->dictuentry_size + o->dictuentry_key), k[i]);
		put64(e + (uint64_t)(i * o->dictuentry_size + o->dictuentry_value), v ? v[i] : 0);
	}
}

static void test_dict_312(void)
{
	const struct pyv_offsets *o = &pyv_offsets_312;
	struct pt_python py;
	struct pt_mem mem;
	uint64_t v = 0;

	memset(image, 0, sizeof(image));
	pt_mem_init_image(&mem, BASE, image, sizeof(image));
	py_init(&py, o);
	uint64_t k[3] = { put_str(o, BASE + 0x1000, "alpha"), 0, put_str(o, BASE + 0x1100, "beta") };
	uint64_t vals[3] = { 0xa1, 0xdead, 0xb2 };
	uint64_t dict = BASE + 0x2000, keys = BASE + 0x3000;
	put64(dict + (uint64_t)o->dict_keys, keys);
	put_keys_312(keys, k, vals, 3, 3);
	check(pyv_dict_readable(&py), "3.12 dicts are readable from the generated table");
	check(pyv_dict_get(&py, &mem, dict, "beta", &v) == 0 && v == 0xb2,
	      "combined table: the value of a str key, past a deleted entry");
	check(pyv_dict_get(&py, &mem, dict, "alph", &v) == -ENOENT &&
	      pyv_dict_get(&py, &mem, dict, "gamma", &v) == -ENOENT, "absent keys (a prefix too) are -ENOENT");
	put_keys_312(keys, k, vals, 3, 9);
	check(pyv_dict_get(&py, &mem, dict, "beta", &v) == -EINVAL,
	      "more entries than the table has slots is refused");
	put_keys_312(keys, k, vals, 3, -1);
	check(pyv_dict_get(&py, &mem, dict, "beta", &v) == -EINVAL, "a negative entry count is refused");
	put_keys_312(keys, k, vals, 3, 3);
	put64(k[2] + (uint64_t)o->object_type, STR_TYPE + 8);
	check(pyv_dict_get(&py, &mem, dict, "beta", &v) == -ENOENT, "a key that is not a str never matches");
	put64(k[2] + (uint64_t)o->object_type, STR_TYPE);

	/* Split table: the values live in ma_values, by entry index. */
	uint64_t values = BASE + 0x4000;
	put_keys_312(keys, k, NULL, 3, 3);
	put64(dict + (uint64_t)o->dict_values, values);
	put64(values + (uint64_t)o->dictvalues_values + 16, 0xc3);
	check(pyv_dict_get(&py, &mem, dict, "beta", &v) == 0 && v == 0xc3, "split table: value from ma_values");
	check(pyv_dict_get(&py, &mem, dict, "alpha", &v) == -ENOENT, "split table: an unset value is -ENOENT");

	/* An instance whose managed dict was never made: 3.12 tags the
	 * values pointer (stored minus one) before the object. */
	uint64_t type = BASE + 0x6000, obj = BASE + 0x8000, vals2 = BASE + 0x9000;
	put64(obj + (uint64_t)o->object_type, type);
	put64(type + (uint64_t)o->type_flags, (uint64_t)o->tpflags_managed_dict);
	put64(type + (uint64_t)o->type_basicsize, 16);
	put64(type + (uint64_t)o->heaptype_cached_keys, keys);
	put64(obj + (uint64_t)(int64_t)o->managed_dict_offset, vals2 - 1);
	put64(vals2 + 0, 0xd0);
	put64(vals2 + 16, 0xd2);
	check(pyv_object_attr(&py, &mem, obj, "beta", &v) == 0 && v == 0xd2,
	      "managed dict never materialised: attribute from the tagged values and the type's keys");
	put64(obj + (uint64_t)(int64_t)o->managed_dict_offset, dict);
	put64(dict + (uint64_t)o->dict_values, 0);
	put_keys_312(keys, k, vals, 3, 3);
	check(pyv_object_attr(&py, &mem, obj, "alpha", &v) == 0 && v == 0xa1,
	      "materialised managed dict: attribute from the dict");
	put64(type + (uint64_t)o->type_flags, 0);
	put64(type + (uint64_t)o->type_dictoffset, 0);
	check(pyv_object_attr(&py, &mem, obj, "alpha", &v) == -ENOTSUP, "no instance dict at all: -ENOTSUP");
	pt_python_fini(&py);
	pt_mem_fini(&mem);
}

static void test_dict_310(void)
{
	const struct pyv_offsets *o = &pyv_offsets_310;
	struct pt_python py;
	struct pt_mem mem;
	uint64_t v = 0;

	memset(image, 0, sizeof(image));
	pt_mem_init_image(&mem, BASE, image, sizeof(image));
	py_init(&py, o);
	const struct pyv_asyncio_offsets *a = pyv_asyncio_offsets_for(&py);
	check(a && a->dk_indices > 0 && pyv_dict_readable(&py),
	      "3.10 dicts are readable from the observed keys layout");
	if (!a)
		return;
	uint64_t dict = BASE + 0x2000, keys = BASE + 0x3000, obj = BASE + 0x5000, type = BASE + 0x6000;
	put64(dict + (uint64_t)o->dict_keys, keys);
	put64(keys + (uint64_t)a->dk_size, 8);
	put64(keys + (uint64_t)a->dk_nentries, 2);
	uint64_t e = keys + (uint64_t)a->dk_indices + 8;
	put64(e + (uint64_t)a->dke_key, put_str(o, BASE + 0x1000, "data"));
	put64(e + (uint64_t)a->dke_value, 0xe0);
	put64(e + (uint64_t)(a->dke_size + a->dke_key), put_str(o, BASE + 0x1100, "_pending"));
	put64(e + (uint64_t)(a->dke_size + a->dke_value), 0xe1);
	check(pyv_dict_get(&py, &mem, dict, "_pending", &v) == 0 && v == 0xe1, "3.10 combined table");
	put64(keys + (uint64_t)a->dk_size, 12);
	check(pyv_dict_get(&py, &mem, dict, "data", &v) == -EINVAL, "a dk_size that is no power of two is refused");
	put64(keys + (uint64_t)a->dk_size, 8);
	/* tp_dictoffset: the instance's __dict__ pointer inside it. */
	put64(obj + (uint64_t)o->object_type, type);
	put64(type + (uint64_t)o->type_dictoffset, 16);
	put64(obj + 16, dict);
	check(pyv_object_attr(&py, &mem, obj, "data", &v) == 0 && v == 0xe0, "3.10 attribute through tp_dictoffset");
	pt_python_fini(&py);
	pt_mem_fini(&mem);
}

int main(void)
{
	test_dict_312();
	test_dict_310();
	return n_failed ? 1 : 0;
}
