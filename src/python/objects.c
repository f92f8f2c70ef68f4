/* SPDX-License-Identifier: MIT */
/* Reading CPython objects from outside: str, bytes, and code objects
 * (cached by address, revalidated on every use). */
#include "python/python.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem/rstruct.h"

#define MAX_NAME_CHARS 4096          /* a longer name or file is cut here */
#define MAX_STRING_CHARS (1 << 24)   /* a longer string is garbage */
#define MAX_TABLE_BYTES (1u << 20)   /* a line table larger than this is garbage */
#define CODE_CACHE_SLOTS 4096

struct code_slot {
	uint64_t addr;
	uint64_t generation;         /* when it was last validated */
	uint64_t name_ptr, file_ptr, table_ptr;
	int32_t firstlineno;
	char *name, *file;
	uint8_t *table;
	struct pyv_code pub;         /* what callers see; points at the above */
};

struct pyv_code_cache {
	struct code_slot slot[CODE_CACHE_SLOTS];
	uint8_t scratch[MAX_TABLE_BYTES + 1];
};

#define STRING_RAW_BYTES ((MAX_NAME_CHARS + 1) * 4)

static size_t utf8_put(char *out, size_t cap, size_t pos, uint32_t cp)
{
	char tmp[4];
	size_t n;

	if ((cp >= 0xd800 && cp < 0xe000) || cp > 0x10ffff)
		cp = 0xfffd;  /* lone surrogates and garbage cannot be encoded */
	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | (cp >> 6));
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | (cp >> 12));
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | (cp >> 18));
		tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (pos + n >= cap)
		return pos;
	memcpy(out + pos, tmp, n);
	return pos + n;
}

static bool object_has_type(struct pt_python *py, const struct pt_rstruct *obj, uint64_t type)
{
	uint64_t t;
	return type && pt_rstruct_ptr(obj, py->off.object_type, &t) == 0 && t == type;
}

/* The units of a string or bytes object and the NUL after them, which
 * CPython always stores: a length the target lies about is caught here
 * unless the byte after the lie happens to be zero too. */
static int object_read_terminated(struct pt_mem *mem, uint64_t data, uint8_t *buf,
				  size_t units, size_t unit)
{
	int rc = pt_mem_read(mem, data, buf, (units + 1) * unit);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < unit; i++)
		if (buf[units * unit + i])
			return -EINVAL;
	return 0;
}

/* As object_read_terminated, but a string longer than keep units is read
 * up to keep and its terminating NUL checked where it lies: 1 (cut), 0, or
 * a negative errno. */
static int object_read_cut(struct pt_mem *mem, uint64_t data, uint8_t *buf, size_t units,
			   size_t unit, size_t keep)
{
	uint8_t nul[4];
	int rc;

	if (units <= keep)
		return object_read_terminated(mem, data, buf, units, unit);
	if ((rc = pt_mem_read(mem, data, buf, keep * unit)) < 0 ||
	    (rc = pt_mem_read(mem, data + units * unit, nul, unit)) < 0)
		return rc;
	for (size_t i = 0; i < unit; i++)
		if (nul[i])
			return -EINVAL;
	return 1;
}

/* Decodes nchars code units of the given kind (1, 2 or 4 bytes) into UTF-8
 * in buf (truncated at cap-1 bytes, always terminated). Pure. */
void pyv_string_decode(const uint8_t *raw, size_t nchars, unsigned kind, char *buf, size_t cap)
{
	size_t pos = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < nchars; i++) {
		uint32_t cp;
		if (kind == 1) {
			cp = raw[i];
		} else if (kind == 2) {
			uint16_t u;
			memcpy(&u, raw + 2 * i, 2);
			cp = u;
		} else {
			memcpy(&cp, raw + 4 * i, 4);
		}
		size_t next = utf8_put(buf, cap, pos, cp);
		if (next == pos)
			break;  /* full: a prefix, not a string with holes */
		pos = next;
	}
	buf[pos] = 0;
}

/* The length of the valid UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_sequence(const uint8_t *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) { len = 2; cp = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { len = 3; cp = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { len = 4; cp = s[0] & 0x07; }
	else return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
		return 0;
	return len;
}

/* 2.7 str bytes: kept where they are UTF-8 (names, most file names), each
 * other byte shown as U+FFFD, so what we print is always UTF-8. Pure. */
void pyv_bytes_decode(const uint8_t *raw, size_t n, char *buf, size_t cap)
{
	size_t pos = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_sequence(raw + i, n - i);
		if (len == 0) {
			size_t next = utf8_put(buf, cap, pos, 0xfffd);
			if (next == pos)
				break;
			pos = next;
			i++;
			continue;
		}
		if (pos + len >= cap)
			break;
		memcpy(buf + pos, raw + i, len);
		pos += len;
		i += len;
	}
	buf[pos] = 0;
}

static uint8_t *string_scratch(struct pt_python *py)
{
	if (!py->string_raw)
		py->string_raw = malloc(STRING_RAW_BYTES);
	return py->string_raw;
}

int pyv_string_read(struct pt_python *py, struct pt_mem *mem, uint64_t addr, char *buf, size_t cap)
{
	const struct pyv_offsets *o = &py->off;
	struct pt_rstruct hdr;
	uint8_t *raw = string_scratch(py);
	int rc;

	if (cap == 0)
		return -EINVAL;
	buf[0] = 0;
	if (!raw)
		return -ENOMEM;
	if (o->string_sval != PYV_NONE) {
		/* 2.7 str: a PyVarObject header, then bytes. */
		int64_t size;
		if ((rc = pt_rstruct_read(&hdr, mem, addr, o->string_sval)) < 0)
			return rc;
		if (!object_has_type(py, &hdr, py->str_type))
			return -EINVAL;
		if ((rc = pt_rstruct_i64(&hdr, o->varobject_size, &size)) < 0)
			return rc;
		if (size < 0 || size > MAX_STRING_CHARS)
			return -EINVAL;
		int cut = object_read_cut(mem, addr + (uint64_t)o->string_sval, raw, (size_t)size, 1,
					  MAX_NAME_CHARS);
		if (cut < 0)
			return cut;
		pyv_bytes_decode(raw, cut ? MAX_NAME_CHARS : (size_t)size, buf, cap);
		return cut;
	}

	/* 3.x str: the PyASCIIObject header holds the length and the state. */
	int64_t length;
	uint32_t state;
	if ((rc = pt_rstruct_read(&hdr, mem, addr, o->unicode_ascii_size)) < 0)
		return rc;
	if (!object_has_type(py, &hdr, py->str_type))
		return -EINVAL;
	if ((rc = pt_rstruct_i64(&hdr, o->unicode_length, &length)) < 0 ||
	    (rc = pt_rstruct_u32(&hdr, o->unicode_state, &state)) < 0)
		return rc;
	if (length < 0 || length > MAX_STRING_CHARS)
		return -EINVAL;
	unsigned kind = (state & o->unicode_kind_mask) >> (o->unicode_kind_shift & 31);
	if (kind != 1 && kind != 2 && kind != 4)
		return -EINVAL;
	uint64_t data;
	if ((state & o->unicode_compact_bit) && (state & o->unicode_ascii_bit))
		data = addr + (uint64_t)o->unicode_ascii_size;
	else if (state & o->unicode_compact_bit)
		data = addr + (uint64_t)o->unicode_compact_size;
	/* PyUnicodeObject: the compact header, then the data pointer. */
	else if ((rc = pt_rfield_ptr(mem, addr, (int64_t)o->unicode_compact_size + 8, o->unicode_data, &data)) < 0)
		return rc;
	int cut = object_read_cut(mem, data, raw, (size_t)length, kind, MAX_NAME_CHARS);
	if (cut < 0)
		return cut;
	size_t units = cut ? MAX_NAME_CHARS : (size_t)length;
	/* An ASCII string holds nothing else: a header that lies about where
	 * its data starts shows here. */
	bool ascii = (state & o->unicode_compact_bit) && (state & o->unicode_ascii_bit);
	for (size_t i = 0; ascii && i < units; i++)
		if (raw[i] == 0 || raw[i] >= 0x80)
			return -EINVAL;
	pyv_string_decode(raw, units, kind, buf, cap);
	return cut;
}

/* The bytes of a bytes object (str on 2.7), at most cap, plus their NUL
 * (so buf holds cap + 1). */
static int bytes_read(struct pt_python *py, struct pt_mem *mem, uint64_t addr,
		      uint8_t *buf, size_t cap, size_t *len)
{
	const struct pyv_offsets *o = &py->off;
	int32_t sval = o->string_sval != PYV_NONE ? o->string_sval : o->bytes_sval;
	struct pt_rstruct hdr;
	int64_t size;
	int rc;

	if ((rc = pt_rstruct_read(&hdr, mem, addr, sval)) < 0)
		return rc;
	if (!object_has_type(py, &hdr, py->bytes_type))
		return -EINVAL;
	if ((rc = pt_rstruct_i64(&hdr, o->varobject_size, &size)) < 0)
		return rc;
	if (size < 0 || (uint64_t)size > cap)
		return -EINVAL;
	if ((rc = object_read_terminated(mem, addr + (uint64_t)sval, buf, (size_t)size, 1)) < 0)
		return rc;
	*len = (size_t)size;
	return 0;
}

static void code_slot_clear(struct code_slot *s)
{
	free(s->name);
	free(s->file);
	free(s->table);
	memset(s, 0, sizeof(*s));
}

int pyv_code_read(struct pt_python *py, struct pt_mem *mem, uint64_t addr,
		  const struct pyv_code **out)
{
	const struct pyv_offsets *o = &py->off;
	struct pt_rstruct hdr;
	int rc;

	if (!py->codes && !(py->codes = calloc(1, sizeof(*py->codes))))
		return -ENOMEM;
	struct code_slot *s = &py->codes->slot[(addr >> 4) % CODE_CACHE_SLOTS];
	if (s->addr == addr && s->generation == py->generation && py->generation) {
		*out = &s->pub;
		return 0;
	}
	if ((rc = pt_rstruct_read(&hdr, mem, addr, o->code_size)) < 0)
		return rc;

	uint64_t type, name_ptr, file_ptr, table_ptr;
	int32_t firstlineno, firsttraceable = 0;
	if ((rc = pt_rstruct_ptr(&hdr, o->object_type, &type)) < 0)
		return rc;
	if (!py->code_type || type != py->code_type)
		return -EINVAL;
	if ((rc = pt_rstruct_ptr(&hdr, o->code_qualname != PYV_NONE ? o->code_qualname : o->code_name,
				 &name_ptr)) < 0 ||
	    (rc = pt_rstruct_ptr(&hdr, o->code_filename, &file_ptr)) < 0 ||
	    (rc = pt_rstruct_ptr(&hdr, o->code_lnotab != PYV_NONE ? o->code_lnotab : o->code_linetable,
				 &table_ptr)) < 0 ||
	    (rc = pt_rstruct_i32(&hdr, o->code_firstlineno, &firstlineno)) < 0 ||
	    (o->code_firsttraceable != PYV_NONE &&
	     (rc = pt_rstruct_i32(&hdr, o->code_firsttraceable, &firsttraceable)) < 0))
		return rc;
	if (firsttraceable < 0 || firsttraceable > (1 << 24))
		return -EINVAL;

	if (s->addr == addr && s->name_ptr == name_ptr && s->file_ptr == file_ptr &&
	    s->table_ptr == table_ptr && s->firstlineno == firstlineno &&
	    s->pub.firsttraceable == firsttraceable)
		goto hit;

	code_slot_clear(s);
	char name[MAX_NAME_CHARS * 4 + 1], file[MAX_NAME_CHARS * 4 + 1];
	size_t table_len = 0;
	int name_cut, file_cut;
	if ((rc = name_cut = pyv_string_read(py, mem, name_ptr, name, sizeof(name) - 4)) < 0 ||
	    (rc = file_cut = pyv_string_read(py, mem, file_ptr, file, sizeof(file) - 4)) < 0 ||
	    (rc = bytes_read(py, mem, table_ptr, py->codes->scratch, MAX_TABLE_BYTES, &table_len)) < 0)
		return rc;
	/* A name cut at MAX_NAME_CHARS ends in U+2026 (the frame says so too). */
	if (name_cut)
		strcat(name, "\xe2\x80\xa6");
	if (file_cut)
		strcat(file, "\xe2\x80\xa6");
	s->name = strdup(name);
	s->file = strdup(file);
	s->table = malloc(table_len ? table_len : 1);
	if (!s->name || !s->file || !s->table) {
		code_slot_clear(s);
		return -ENOMEM;
	}
	memcpy(s->table, py->codes->scratch, table_len);
	s->pub = (struct pyv_code){ .name = s->name, .file = s->file, .cut = name_cut || file_cut,
		.firstlineno = firstlineno, .firsttraceable = firsttraceable, .table = s->table, .table_len = table_len };
	s->addr = addr;
	s->name_ptr = name_ptr;
	s->file_ptr = file_ptr;
	s->table_ptr = table_ptr;
	s->firstlineno = firstlineno;
hit:
	s->generation = py->generation;
	*out = &s->pub;
	return 0;
}

void pt_python_fini(struct pt_python *py)
{
	free(py->string_raw);
	py->string_raw = NULL;
	if (py->codes) {
		for (size_t i = 0; i < CODE_CACHE_SLOTS; i++)
			code_slot_clear(&py->codes->slot[i]);
		free(py->codes);
		py->codes = NULL;
	}
}
