/* SPDX-License-Identifier: MIT */
/* Reads a frame's fast locals from outside and renders common values (dump --locals). */
#include "python/values.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf/elf.h"
#include "mem/rstruct.h"

#define MAX_LOCALS 4096         /* more names than that: a lying code object */
#define VALUE_CHARS 64          /* str/bytes shown up to this many units, then "..." */
#define MAX_INT_DIGITS 40       /* 1200 bits; a bigger int shows its bit count */
#define TYPE_NAME_MAX 96

/*
 * The rendering rules (mirrored by tests/targets/locals.py, which renders
 * frame.f_locals by them):
 *   None, True, False;
 *   int: decimal, exact up to 1200 bits, else "<int of N bits>";
 *   float: as Python's repr: the fewest digits that read back the same,
 *     positional for exponents -4 to 15 (".0" added), else scientific;
 *   str: quoted with '...', \\ \' \n \r \t escaped, other code points below
 *     0x20 and 0x7f-0x9f as \xNN; the first 64 characters, "..." after the
 *     quote when longer;
 *   bytes: b'...', the same with every byte outside 0x20-0x7e as \xNN
 *     (2.7 str, which is bytes: the same without the b);
 *   list, tuple, dict, set, frozenset: "len=N";
 *   anything else: "<TYPE at 0xADDR>".
 */

static uint64_t types_sym(struct pt_elf *elf, const struct pt_python *py, const char *name)
{
	uint64_t v;

	return pt_elf_symbol(elf, name, &v, NULL) ? v + py->bias : 0;
}

int pyv_types_load(const struct pt_python *py, pid_t pid, struct pyv_types *t)
{
	struct pt_elf *elf;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = pt_elf_open_mapped(pid, py->info.runtime_path, &elf)) < 0)
		return rc;
	t->none = types_sym(elf, py, "_Py_NoneStruct");
	t->true_obj = types_sym(elf, py, "_Py_TrueStruct");
	t->false_obj = types_sym(elf, py, "_Py_ZeroStruct");   /* 2.7 */
	if (!t->false_obj)
		t->false_obj = types_sym(elf, py, "_Py_FalseStruct");
	t->bool_t = types_sym(elf, py, "PyBool_Type");
	t->int_t = types_sym(elf, py, "PyInt_Type");            /* 2.7 */
	t->long_t = types_sym(elf, py, "PyLong_Type");
	t->float_t = types_sym(elf, py, "PyFloat_Type");
	t->str_t = py->str_type;
	t->bytes_t = py->bytes_type;
	t->list_t = types_sym(elf, py, "PyList_Type");
	t->tuple_t = types_sym(elf, py, "PyTuple_Type");
	t->dict_t = types_sym(elf, py, "PyDict_Type");
	t->set_t = types_sym(elf, py, "PySet_Type");
	t->frozenset_t = types_sym(elf, py, "PyFrozenSet_Type");
	t->cell_t = types_sym(elf, py, "PyCell_Type");
	pt_elf_close(elf);
	t->loaded = true;
	return 0;
}

bool pyv_render_digits(const uint32_t *digits, size_t n, int shift, bool negative, char *buf,
		       size_t cap)
{
	uint32_t work[MAX_INT_DIGITS];
	char rev[MAX_INT_DIGITS * 10 + 2];
	size_t len = 0;

	if (n > MAX_INT_DIGITS || shift <= 0 || shift > 30 || cap < 2)
		return false;
	while (n && digits[n - 1] == 0)
		n--;
	memcpy(work, digits, n * sizeof(*work));
	/* Repeated division by 10^9, most significant digit first. */
	while (n) {
		uint64_t rem = 0;
		for (size_t i = n; i-- > 0;) {
			uint64_t cur = (rem << shift) | work[i];
			work[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		while (n && work[n - 1] == 0)
			n--;
		for (int k = 0; k < 9 && (n || rem); k++) {
			rev[len++] = (char)('0' + rem % 10);
			rem /= 10;
		}
	}
	if (!len)
		rev[len++] = '0';
	if (negative && !(len == 1 && rev[0] == '0'))
		rev[len++] = '-';
	if (len + 1 > cap)
		return false;
	for (size_t i = 0; i < len; i++)
		buf[i] = rev[len - 1 - i];
	buf[len] = 0;
	return true;
}

void pyv_render_float(double v, char *buf, size_t cap)
{
	if (isnan(v)) {
		snprintf(buf, cap, "nan");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, cap, v < 0 ? "-inf" : "inf");
		return;
	}
	/* The fewest significant digits that read back the same, then laid
	 * out as Python's repr: positional for exponents -4..15, else
	 * scientific. */
	int p, exp = 0;
	for (p = 1; p < 17; p++) {
		snprintf(buf, cap, "%.*e", p - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	snprintf(buf, cap, "%.*e", p - 1, v);
	const char *e = strchr(buf, 'e');
	if (e)
		exp = atoi(e + 1);
	if (exp >= -4 && exp < 16) {
		snprintf(buf, cap, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
		if (!strchr(buf, '.'))
			strncat(buf, ".0", cap - strlen(buf) - 1);
	}
}

/* One code point (or byte) into out, escaped as the rules say. */
static size_t render_unit(char *out, uint32_t c, bool bytes)
{
	switch (c) {
	case '\\': return (size_t)sprintf(out, "\\\\");
	case '\'': return (size_t)sprintf(out, "\\'");
	case '\n': return (size_t)sprintf(out, "\\n");
	case '\r': return (size_t)sprintf(out, "\\r");
	case '\t': return (size_t)sprintf(out, "\\t");
	}
	if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (bytes && c > 0x7e))
		return (size_t)sprintf(out, "\\x%02x", c);
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	/* Re-encode as UTF-8. */
	if (c < 0x800)
		return (size_t)sprintf(out, "%c%c", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
	if (c < 0x10000)
		return (size_t)sprintf(out, "%c%c%c", 0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f),
				       0x80 | (c & 0x3f));
	return (size_t)sprintf(out, "%c%c%c%c", 0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f),
			       0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
}

/* UTF-8 text (as pyv_string_read gives it) quoted and cut. */
static void render_text(const char *s, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	char *p = out;
	size_t chars = 0;

	*p++ = '\'';
	while (*u && chars < VALUE_CHARS) {
		uint32_t c = *u;
		size_t n = 1;
		if (c >= 0xf0 && u[1] && u[2] && u[3]) {
			c = ((c & 7u) << 18) | ((u[1] & 0x3fu) << 12) | ((u[2] & 0x3fu) << 6) | (u[3] & 0x3fu);
			n = 4;
		} else if (c >= 0xe0 && u[1] && u[2]) {
			c = ((c & 15u) << 12) | ((u[1] & 0x3fu) << 6) | (u[2] & 0x3fu);
			n = 3;
		} else if (c >= 0xc0 && u[1]) {
			c = ((c & 31u) << 6) | (u[1] & 0x3fu);
			n = 2;
		}
		p += render_unit(p, c, false);
		u += n;
		chars++;
	}
	*p++ = '\'';
	if (*u)
		p += sprintf(p, "...");
	*p = 0;
}

static int value_type(struct pt_python *py, struct pt_mem *mem, uint64_t obj, uint64_t *type)
{
	return pt_rfield_ptr(mem, obj, PYV_UNSIZED_STRUCT, py->off.object_type, type);
}

/* tp_name, printable ASCII only. */
static const char *value_type_name(struct pt_python *py, struct pt_mem *mem, struct pt_arena *arena,
				   uint64_t type)
{
	char name[TYPE_NAME_MAX + 1];
	uint64_t p;

	if (pt_rfield_ptr(mem, type, PYV_UNSIZED_STRUCT, py->off.type_name, &p) < 0 || !p)
		return NULL;
	size_t len = 0;
	while (len < TYPE_NAME_MAX) {
		uint8_t chunk[8];
		if (pt_mem_read(mem, p + len, chunk, 1) < 0)
			return NULL;
		if (!chunk[0])
			break;
		if (chunk[0] < 0x20 || chunk[0] > 0x7e)
			return NULL;
		name[len++] = (char)chunk[0];
	}
	name[len] = 0;
	return len && len < TYPE_NAME_MAX ? pt_arena_strdup(arena, name) : NULL;
}

static int value_i64(struct pt_mem *mem, uint64_t obj, int32_t off, int64_t *out)
{
	uint64_t v;
	int rc = pt_rfield_u64(mem, obj, PYV_UNSIZED_STRUCT, off, &v);

	*out = (int64_t)v;
	return rc;
}

static int render_int(struct pt_python *py, struct pt_mem *mem, uint64_t obj, char *out, size_t cap)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t ndigits;
	bool negative;
	int rc;

	if (o->long_tag != PYV_NONE) {
		uint64_t tag;
		if ((rc = pt_rfield_u64(mem, obj, PYV_UNSIZED_STRUCT, o->long_tag, &tag)) < 0)
			return rc;
		ndigits = tag >> (o->long_non_size_bits & 63);
		negative = (tag & 3) == 2;
		if ((tag & 3) == 1)
			ndigits = 0;
	} else {
		int64_t size;
		if ((rc = value_i64(mem, obj, o->varobject_size, &size)) < 0)
			return rc;
		negative = size < 0;
		ndigits = size < 0 ? (uint64_t)-size : (uint64_t)size;
	}
	if (o->long_digit_size != 2 && o->long_digit_size != 4)
		return -EINVAL;
	if (ndigits > MAX_INT_DIGITS) {
		uint32_t top = 0;
		uint8_t raw[4] = { 0 };
		if (ndigits > (1u << 28))
			return -EINVAL;
		if ((rc = pt_mem_read(mem, obj + (uint64_t)o->long_digits +
					       (ndigits - 1) * (uint64_t)o->long_digit_size,
				      raw, (size_t)o->long_digit_size)) < 0)
			return rc;
		memcpy(&top, raw, 4);
		if (o->long_digit_size == 2)
			top &= 0xffff;
		int bits = 0;
		while (top >> bits)
			bits++;
		snprintf(out, cap, "<int of %" PRIu64 " bits>", (ndigits - 1) * (uint64_t)o->long_shift + (uint64_t)bits);
		return 0;
	}
	uint8_t raw[MAX_INT_DIGITS * 4];
	uint32_t digits[MAX_INT_DIGITS];
	if (ndigits && (rc = pt_mem_read(mem, obj + (uint64_t)o->long_digits, raw,
					 (size_t)ndigits * (size_t)o->long_digit_size)) < 0)
		return rc;
	for (size_t i = 0; i < ndigits; i++) {
		if (o->long_digit_size == 4) {
			memcpy(&digits[i], raw + 4 * i, 4);
		} else {
			uint16_t d;
			memcpy(&d, raw + 2 * i, 2);
			digits[i] = d;
		}
		if (digits[i] >> o->long_shift)
			return -EINVAL;    /* not a digit */
	}
	return pyv_render_digits(digits, (size_t)ndigits, o->long_shift, negative, out, cap) ? 0 : -EINVAL;
}

static int render_bytes(struct pt_python *py, struct pt_mem *mem, uint64_t obj, bool prefix,
			char *out)
{
	const struct pyv_offsets *o = &py->off;
	int32_t sval = o->string_sval != PYV_NONE ? o->string_sval : o->bytes_sval;
	uint8_t raw[VALUE_CHARS];
	int64_t size;
	int rc;

	if ((rc = value_i64(mem, obj, o->varobject_size, &size)) < 0)
		return rc;
	if (size < 0 || size > (1ll << 40))
		return -EINVAL;
	size_t n = size > VALUE_CHARS ? VALUE_CHARS : (size_t)size;
	if (n && (rc = pt_mem_read(mem, obj + (uint64_t)sval, raw, n)) < 0)
		return rc;
	char *p = out;
	if (prefix)
		*p++ = 'b';
	*p++ = '\'';
	for (size_t i = 0; i < n; i++)
		p += render_unit(p, raw[i], true);
	*p++ = '\'';
	if ((size_t)size > n)
		p += sprintf(p, "...");
	*p = 0;
	return 0;
}

/* The value of obj as the rules say, into out (at least 512 bytes). */
static int render_value(struct pt_python *py, const struct pyv_types *t, struct pt_mem *mem,
			uint64_t obj, uint64_t type, const char *type_name, char *out, size_t cap)
{
	const struct pyv_offsets *o = &py->off;
	int64_t n;
	int rc;

	if (!type)
		return -EINVAL;
	if (obj == t->none) {
		snprintf(out, cap, "None");
	} else if (t->true_obj && obj == t->true_obj) {
		snprintf(out, cap, "True");
	} else if (t->false_obj && obj == t->false_obj) {
		snprintf(out, cap, "False");
	} else if (type == t->long_t && t->long_t) {
		return render_int(py, mem, obj, out, cap);
	} else if (type == t->int_t && t->int_t && o->int_ival != PYV_NONE) {
		if ((rc = value_i64(mem, obj, o->int_ival, &n)) < 0)
			return rc;
		snprintf(out, cap, "%" PRId64, n);
	} else if (type == t->float_t && t->float_t) {
		uint64_t bits;
		double d;
		if ((rc = pt_rfield_u64(mem, obj, PYV_UNSIZED_STRUCT, o->float_fval, &bits)) < 0)
			return rc;
		memcpy(&d, &bits, sizeof(d));
		pyv_render_float(d, out, cap);
	} else if (type == t->str_t && o->string_sval == PYV_NONE) {
		char *s = malloc(4096 * 4 + 1);
		if (!s)
			return -ENOMEM;
		rc = pyv_string_read(py, mem, obj, s, 4096 * 4 + 1);
		if (rc >= 0)
			render_text(s, out);   /* a cut one is longer than shown anyway */
		free(s);
		return rc < 0 ? rc : 0;
	} else if (type == t->bytes_t) {
		/* 2.7 str is bytes: shown quoted, without the b. */
		return render_bytes(py, mem, obj, o->string_sval == PYV_NONE, out);
	} else if ((type == t->list_t || type == t->tuple_t) && t->list_t) {
		if ((rc = value_i64(mem, obj, o->varobject_size, &n)) < 0)
			return rc;
		snprintf(out, cap, "len=%" PRId64, n);
	} else if (type == t->dict_t && t->dict_t) {
		if ((rc = value_i64(mem, obj, o->dict_used, &n)) < 0)
			return rc;
		snprintf(out, cap, "len=%" PRId64, n);
	} else if ((type == t->set_t || type == t->frozenset_t) && t->set_t) {
		if ((rc = value_i64(mem, obj, o->set_used, &n)) < 0)
			return rc;
		snprintf(out, cap, "len=%" PRId64, n);
	} else {
		snprintf(out, cap, "<%s at 0x%" PRIx64 ">", type_name ? type_name : "?", obj);
	}
	return 0;
}

/* Items of a tuple object (names): count and the address of item 0. */
static int tuple_items(struct pt_python *py, struct pt_mem *mem, uint64_t tuple, int64_t *n,
		       uint64_t *items)
{
	int rc = value_i64(mem, tuple, py->off.varobject_size, n);

	if (rc < 0)
		return rc;
	if (*n < 0 || *n > MAX_LOCALS)
		return -EINVAL;
	*items = tuple + (uint64_t)py->off.tuple_items;
	return 0;
}

struct frame_layout {
	uint64_t code, slots;     /* the code object; slot 0 of the fast locals */
	int64_t n;                /* slots */
	uint64_t names[3];        /* <=3.10 varnames, cellvars, freevars; 3.11+ [0] */
	int64_t counts[3];
	uint64_t kinds;           /* 3.11+ the kinds' bytes, else 0 */
	int64_t nargs;
};

static int frame_layout_read(struct pt_python *py, struct pt_mem *mem, uint64_t frame,
			     struct frame_layout *L)
{
	const struct pyv_offsets *o = &py->off;
	int32_t argc, kwonly = 0, flags;
	int rc;

	memset(L, 0, sizeof(*L));
	if (o->iframe_localsplus != PYV_NONE) {
		uint64_t raw;
		int32_t nplus;
		if ((rc = pt_rfield_ptr(mem, frame, o->iframe_size, o->iframe_code, &raw)) < 0)
			return rc;
		L->code = pyv_frame_code(py, raw);
		if ((rc = pt_rfield_i32(mem, L->code, o->code_size, o->code_nlocalsplus, &nplus)) < 0 ||
		    (rc = pt_rfield_ptr(mem, L->code, o->code_size, o->code_localsplusnames, &L->names[0])) < 0 ||
		    (rc = pt_rfield_ptr(mem, L->code, o->code_size, o->code_localspluskinds, &L->kinds)) < 0 ||
		    (rc = tuple_items(py, mem, L->names[0], &L->counts[0], &L->names[0])) < 0)
			return rc;
		if (nplus < 0 || nplus != L->counts[0])
			return -EINVAL;
		int64_t nkinds;
		if ((rc = value_i64(mem, L->kinds, o->varobject_size, &nkinds)) < 0)
			return rc;
		if (nkinds != nplus)
			return -EINVAL;
		L->kinds += (uint64_t)o->bytes_sval;
		L->n = nplus;
		L->slots = frame + (uint64_t)o->iframe_localsplus;
	} else if (o->frame_localsplus != PYV_NONE) {
		int32_t nlocals;
		uint64_t t;
		if ((rc = pt_rfield_ptr(mem, frame, o->frame_size, o->frame_code, &L->code)) < 0 ||
		    (rc = pt_rfield_i32(mem, L->code, o->code_size, o->code_nlocals, &nlocals)) < 0)
			return rc;
		const int32_t offs[3] = { o->code_varnames, o->code_cellvars, o->code_freevars };
		for (int k = 0; k < 3; k++) {
			if ((rc = pt_rfield_ptr(mem, L->code, o->code_size, offs[k], &t)) < 0 ||
			    (rc = tuple_items(py, mem, t, &L->counts[k], &L->names[k])) < 0)
				return rc;
		}
		if (nlocals != L->counts[0])
			return -EINVAL;
		L->n = L->counts[0] + L->counts[1] + L->counts[2];
		L->slots = frame + (uint64_t)o->frame_localsplus;
	} else {
		return -ENOTSUP;
	}
	if (py->code_type) {
		uint64_t type;
		if ((rc = value_type(py, mem, L->code, &type)) < 0)
			return rc;
		if (type != py->code_type)
			return -EINVAL;
	}
	if ((rc = pt_rfield_i32(mem, L->code, o->code_size, o->code_argcount, &argc)) < 0 ||
	    (o->code_kwonlyargcount != PYV_NONE &&
	     (rc = pt_rfield_i32(mem, L->code, o->code_size, o->code_kwonlyargcount, &kwonly)) < 0) ||
	    (rc = pt_rfield_i32(mem, L->code, o->code_size, o->code_flags, &flags)) < 0)
		return rc;
	L->nargs = (int64_t)argc + kwonly + !!(flags & o->co_varargs) + !!(flags & o->co_varkeywords);
	if (L->n > MAX_LOCALS || argc < 0 || kwonly < 0 || L->nargs > L->n)
		return -EINVAL;
	return 0;
}

/* <=3.10: whether name is one of the code object's arguments. */
static bool frame_arg_named(struct pt_python *py, struct pt_mem *mem, const struct frame_layout *L,
			    const char *name)
{
	char other[1024];

	for (int64_t i = 0; i < L->nargs && i < L->counts[0]; i++) {
		uint64_t obj;
		if (pt_mem_read_u64(mem, L->names[0] + 8 * (uint64_t)i, &obj) == 0 &&
		    pyv_string_read(py, mem, obj, other, sizeof(other)) >= 0 && strcmp(other, name) == 0)
			return true;
	}
	return false;
}

int pyv_frame_locals(struct pt_python *py, const struct pyv_types *t, struct pt_mem *mem,
		     struct pt_arena *arena, struct pt_pyframe *f)
{
	const struct pyv_offsets *o = &py->off;
	struct frame_layout L;
	char name[1024], value[600];
	int rc;

	f->locals = NULL;
	f->n_locals = 0;
	if (f->unreadable || !f->addr)
		return -EINVAL;
	if ((rc = frame_layout_read(py, mem, f->addr, &L)) < 0)
		return rc;
	/* Non-NULL even when empty: the frame's locals were read (JSON []). */
	struct pt_local *out = pt_arena_alloc(arena, (size_t)(L.n ? L.n : 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (int64_t i = 0; i < L.n; i++) {
		uint64_t name_obj, slot;
		uint8_t kind = 0;
		int k = 0;
		int64_t j = i;
		if (!L.kinds)
			while (k < 2 && j >= L.counts[k])
				j -= L.counts[k++];
		if (pt_mem_read_u64(mem, L.names[k] + 8 * (uint64_t)j, &name_obj) < 0 ||
		    pt_mem_read_u64(mem, L.slots + 8 * (uint64_t)i, &slot) < 0 ||
		    (L.kinds && pt_mem_read(mem, L.kinds + (uint64_t)i, &kind, 1) < 0))
			continue;
		if (L.kinds && o->fast_hidden != PYV_NONE && (kind & o->fast_hidden))
			continue;   /* an inlined comprehension's, not the function's */
		bool is_cell = L.kinds ? (kind & (o->fast_cell | o->fast_free)) != 0 : k > 0;
		uint64_t obj = L.kinds ? pyv_frame_code(py, slot) : slot;
		if (!obj || pyv_string_read(py, mem, name_obj, name, sizeof(name)) < 0)
			continue;   /* unbound, as f_locals leaves it out */
		uint64_t type = 0;
		if (is_cell && t->cell_t && value_type(py, mem, obj, &type) == 0 && type == t->cell_t) {
			if (pt_rfield_ptr(mem, obj, PYV_UNSIZED_STRUCT, o->cell_ref, &obj) < 0)
				continue;
			if (!obj)
				continue;   /* an empty cell */
		}
		/* <=3.10: an argument that is also a cell has a slot of each
		 * kind (2.7 keeps both filled); the cell wins, as in f_locals. */
		struct pt_local *l = NULL;
		for (size_t m = 0; !L.kinds && k > 0 && m < f->n_locals && !l; m++)
			if (out[m].is_arg && strcmp(out[m].name, name) == 0)
				l = &out[m];
		if (l) {
			l->addr = obj;
			l->type = l->value = NULL;
		} else if (!L.kinds && k > 0 && frame_arg_named(py, mem, &L, name)) {
			/* 3.6-3.10 empty the argument's own slot. */
			l = &out[f->n_locals++];
			memset(l, 0, sizeof(*l));
			if (!(l->name = pt_arena_strdup(arena, name))) {
				f->n_locals--;
				continue;
			}
			l->addr = obj;
			l->is_arg = true;
		} else {
			l = &out[f->n_locals];
			memset(l, 0, sizeof(*l));
			l->name = pt_arena_strdup(arena, name);
			l->addr = obj;
			l->is_arg = i < L.nargs;
			if (!l->name)
				continue;
			f->n_locals++;
		}
		if (value_type(py, mem, obj, &type) == 0 && (l->type = value_type_name(py, mem, arena, type)) &&
		    render_value(py, t, mem, obj, type, l->type, value, sizeof(value)) == 0)
			l->value = pt_arena_strdup(arena, value);
	}
	f->locals = out;
	return 0;
}
