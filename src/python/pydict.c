/* SPDX-License-Identifier: MIT */
/* Remote dict lookups with str keys, and instance attributes (__dict__,
 * 3.11+'s managed dicts and inline values): 3.11+ layouts from the headers,
 * 3.7-3.10's from the observed table (src/python/offsets/asyncio-tasks.c). */
#include "python/asyncio.h"

#include <errno.h>
#include <string.h>

#include "mem/rstruct.h"

/* Caps on what a target may claim. */
#define MAX_DICT_ENTRIES (1 << 20)
#define ENTRY_CHUNK 64
#define MAX_KEY 256

/* <=3.10: the keys layout observed on a live dict, or NULL. */
static const struct pyv_asyncio_offsets *dict_old_layout(const struct pt_python *py)
{
	if (py->off.dictkeys_indices != PYV_NONE)
		return NULL;
	const struct pyv_asyncio_offsets *a = pyv_asyncio_offsets_for(py);
	return a && a->dk_indices != PYV_NONE ? a : NULL;
}

bool pyv_dict_readable(const struct pt_python *py)
{
	const struct pyv_offsets *o = &py->off;
	if (o->dict_keys == PYV_NONE)
		return false;
	return (o->dictkeys_indices != PYV_NONE && o->dictuentry_size != PYV_NONE) ||
	       dict_old_layout(py) != NULL;
}

/* <=3.10: dk_size (a power of two), the entry count, where the entries
 * start (after the 1/2/4/8-byte indices), and the entry shape. */
static int dict_keys_old(struct pt_python *py, struct pt_mem *mem, uint64_t keys,
			 const struct pyv_asyncio_offsets *a, int64_t *nentries, uint64_t *entries,
			 int64_t *esize, int64_t *ekey, int64_t *evalue)
{
	int64_t size;
	int rc;

	(void)py;
	if ((rc = pt_rfield_u64(mem, keys, a->dk_indices, a->dk_size, (uint64_t *)&size)) < 0 ||
	    (rc = pt_rfield_u64(mem, keys, a->dk_indices, a->dk_nentries, (uint64_t *)nentries)) < 0)
		return rc;
	if (size < 8 || size > ((int64_t)1 << 30) || (size & (size - 1)) || *nentries < 0 || *nentries > size)
		return -EINVAL;
	int64_t ibytes = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
	*entries = keys + (uint64_t)a->dk_indices + (uint64_t)(size * ibytes);
	*esize = a->dke_size;
	*ekey = a->dke_key;
	*evalue = a->dke_value;
	return 0;
}

int pyv_object_type_name(struct pt_python *py, struct pt_mem *mem, uint64_t obj, uint64_t *type,
			 char *name, size_t cap)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t tp, tpname;
	int rc;

	name[0] = 0;
	if ((rc = pt_mem_read_u64(mem, obj + (uint64_t)o->object_type, &tp)) < 0 ||
	    (rc = pt_rfield_ptr(mem, tp, o->type_size, o->type_name, &tpname)) < 0 ||
	    (rc = pt_mem_read_cstr(mem, tpname, name, cap)) < 0)
		return rc;
	if (type)
		*type = tp;
	return 0;
}

/* The index of key among a keys object's entries, and the value stored in
 * that entry (combined tables; split ones keep it in ma_values). */
static int dict_keys_find(struct pt_python *py, struct pt_mem *mem, uint64_t keys, const char *key,
			  int64_t *index, uint64_t *entry_value)
{
	const struct pyv_offsets *o = &py->off;
	const struct pyv_asyncio_offsets *old = dict_old_layout(py);
	struct pt_rstruct hdr;
	uint8_t log2_size, log2_index_bytes, kind;
	int64_t nentries, esize, ekey, evalue;
	uint64_t entries;
	int rc;

	if (old) {
		if ((rc = dict_keys_old(py, mem, keys, old, &nentries, &entries, &esize, &ekey, &evalue)) < 0)
			return rc;
		goto scan;
	}
	if ((rc = pt_rstruct_read(&hdr, mem, keys, o->dictkeys_size)) < 0 ||
	    (rc = pt_rstruct_u8(&hdr, o->dictkeys_log2_size, &log2_size)) < 0 ||
	    (rc = pt_rstruct_u8(&hdr, o->dictkeys_log2_index_bytes, &log2_index_bytes)) < 0 ||
	    (rc = pt_rstruct_u8(&hdr, o->dictkeys_kind, &kind)) < 0 ||
	    (rc = pt_rstruct_i64(&hdr, o->dictkeys_nentries, &nentries)) < 0)
		return rc;
	if (log2_size > 30 || log2_index_bytes > 33 || nentries < 0 ||
	    nentries > ((int64_t)1 << log2_size) || nentries > MAX_DICT_ENTRIES)
		return -EINVAL;
	bool general = kind == (uint8_t)o->dictkeys_kind_general;
	esize = general ? o->dictentry_size : o->dictuentry_size;
	ekey = general ? o->dictentry_key : o->dictuentry_key;
	evalue = general ? o->dictentry_value : o->dictuentry_value;
	entries = keys + (uint64_t)o->dictkeys_indices + ((uint64_t)1 << log2_index_bytes);
scan:
	if (esize <= 0 || esize > 64 || !pt_field_fits(ekey, 8, esize) || !pt_field_fits(evalue, 8, esize))
		return -EINVAL;
	size_t klen = strlen(key);
	uint8_t buf[ENTRY_CHUNK * 64];
	char name[MAX_KEY];

	for (int64_t i = 0; i < nentries; i += ENTRY_CHUNK) {
		int64_t n = nentries - i < ENTRY_CHUNK ? nentries - i : ENTRY_CHUNK;
		if ((rc = pt_mem_read(mem, entries + (uint64_t)(i * esize), buf, (size_t)(n * esize))) < 0)
			return rc;
		for (int64_t j = 0; j < n; j++) {
			uint64_t k, v;
			memcpy(&k, buf + j * esize + ekey, 8);
			memcpy(&v, buf + j * esize + evalue, 8);
			if (!k)
				continue;  /* deleted */
			/* Not a str (or unreadable): not the key we look for. */
			if (pyv_string_read(py, mem, k, name, sizeof(name)) < 0)
				continue;
			if (strlen(name) == klen && memcmp(name, key, klen) == 0) {
				*index = i + j;
				*entry_value = v;
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* values[index] of a PyDictValues array. */
static int dict_values_get(struct pt_python *py, struct pt_mem *mem, uint64_t values, int64_t index,
			   uint64_t *value)
{
	if (!values || index < 0 || index > MAX_DICT_ENTRIES)
		return -EINVAL;
	/* <=3.10: ma_values is the PyObject *[] itself. */
	int64_t base = py->off.dictvalues_values == PYV_NONE ? 0 : py->off.dictvalues_values;
	int rc = pt_mem_read_u64(mem, values + (uint64_t)base + 8 * (uint64_t)index, value);
	if (rc == 0 && !*value)
		return -ENOENT;
	return rc;
}

int pyv_dict_get(struct pt_python *py, struct pt_mem *mem, uint64_t dict, const char *key,
		 uint64_t *value)
{
	const struct pyv_offsets *o = &py->off;
	struct pt_rstruct d;
	uint64_t keys, values, v;
	int64_t ix;
	int rc;

	if (!pyv_dict_readable(py))
		return -ENOTSUP;
	if ((rc = pt_rstruct_read(&d, mem, dict, o->dict_size)) < 0 ||
	    (rc = pt_rstruct_ptr(&d, o->dict_keys, &keys)) < 0 ||
	    (rc = pt_rstruct_ptr(&d, o->dict_values, &values)) < 0)
		return rc;
	if ((rc = dict_keys_find(py, mem, keys, key, &ix, &v)) < 0)
		return rc;
	if (values)  /* split table: the values live apart from the keys */
		return dict_values_get(py, mem, values, ix, value);
	if (!v)
		return -ENOENT;
	*value = v;
	return 0;
}

/* An attribute among the values of a managed dict that was never
 * materialised: its keys are the type's shared keys. */
static int attr_from_values(struct pt_python *py, struct pt_mem *mem, uint64_t type, uint64_t values,
			    const char *name, uint64_t *value)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t keys, unused;
	int64_t ix;
	int rc;

	if ((rc = pt_rfield_ptr(mem, type, o->heaptype_size, o->heaptype_cached_keys, &keys)) < 0 ||
	    (rc = dict_keys_find(py, mem, keys, name, &ix, &unused)) < 0)
		return rc;
	return dict_values_get(py, mem, values, ix, value);
}

int pyv_object_attr(struct pt_python *py, struct pt_mem *mem, uint64_t obj, const char *name,
		    uint64_t *value)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t type, flags, p;
	int64_t basicsize, dictoffset;
	int rc;

	if (!pyv_dict_readable(py))
		return -ENOTSUP;
	if ((rc = pt_mem_read_u64(mem, obj + (uint64_t)o->object_type, &type)) < 0 ||
	    (rc = pt_rfield_u64(mem, type, o->type_size, o->type_flags, &flags)) < 0 ||
	    (rc = pt_rfield_u64(mem, type, o->type_size, o->type_basicsize, (uint64_t *)&basicsize)) < 0 ||
	    (rc = pt_rfield_u64(mem, type, o->type_size, o->type_dictoffset, (uint64_t *)&dictoffset)) < 0)
		return rc;
	/* 3.13+: attributes inline after the object while still valid. */
	if (o->tpflags_inline_values != PYV_NONE && (flags & (uint64_t)o->tpflags_inline_values)) {
		uint8_t valid = 0;
		if (basicsize <= 0 || basicsize > 1 << 20)
			return -EINVAL;
		uint64_t values = obj + (uint64_t)basicsize;
		if ((rc = pt_mem_read_u8(mem, values + (uint64_t)o->dictvalues_valid, &valid)) < 0)
			return rc;
		if (valid)
			return attr_from_values(py, mem, type, values, name, value);
	}
	if (o->tpflags_managed_dict != PYV_NONE && (flags & (uint64_t)o->tpflags_managed_dict)) {
		/* 3.11: values pointer first; 3.12: one word, values tagged. */
		if (o->managed_values_offset != PYV_NONE) {
			uint64_t values;
			if ((rc = pt_mem_read_u64(mem, obj + (uint64_t)(int64_t)o->managed_values_offset, &values)) < 0)
				return rc;
			if (values)
				return attr_from_values(py, mem, type, values, name, value);
		}
		if ((rc = pt_mem_read_u64(mem, obj + (uint64_t)(int64_t)o->managed_dict_offset, &p)) < 0)
			return rc;
		if (o->managed_dict_tagged == 1 && (p & 1))
			return attr_from_values(py, mem, type, p + 1, name, value);
		if (!p)
			return -ENOENT;
		return pyv_dict_get(py, mem, p, name, value);
	}
	if (dictoffset > 0 && dictoffset < 1 << 20) {
		if ((rc = pt_mem_read_u64(mem, obj + (uint64_t)dictoffset, &p)) < 0)
			return rc;
		if (!p)
			return -ENOENT;
		return pyv_dict_get(py, mem, p, name, value);
	}
	return -ENOTSUP;
}
