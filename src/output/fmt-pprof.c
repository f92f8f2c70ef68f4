/* SPDX-License-Identifier: MIT */
/* pprof's profile.proto (github.com/google/pprof/proto/profile.proto),
 * gzip-compressed, for go tool pprof, Pyroscope, Parca: an aggregation as
 * samples (values: the count, and with time the nanoseconds), one
 * location per interned frame, one function per (name, file). The protobuf encoding is
 * written here (varints and length-delimited fields, nothing more is
 * needed); zlib compresses. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "output/output.h"

/* A growing byte buffer; failed set once an allocation failed. */
struct pb {
	unsigned char *p;
	size_t n, cap;
	bool failed;
};

static void pb_bytes(struct pb *b, const void *data, size_t len)
{
	if (b->failed)
		return;
	if (b->n + len > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->n + len)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void pb_varint(struct pb *b, uint64_t v)
{
	unsigned char buf[10];
	size_t n = 0;
	do {
		buf[n] = v & 0x7f;
		v >>= 7;
		if (v)
			buf[n] |= 0x80;
		n++;
	} while (v);
	pb_bytes(b, buf, n);
}

/* Wire types: 0 varint, 2 length-delimited. */
static void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
	pb_varint(b, (uint64_t)field << 3 | 0);
	pb_varint(b, v);
}

static void pb_len(struct pb *b, unsigned field, const void *data, size_t len)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, len);
	pb_bytes(b, data, len);
}

static void pb_msg(struct pb *b, unsigned field, struct pb *m)
{
	if (m->failed)
		b->failed = true;
	pb_len(b, field, m->p, m->n);
	m->n = 0;
}

/* The string table: index 0 is "", each string once. */
struct strtab {
	char **s;
	size_t n, cap;
	uint32_t *slots;   /* index + 1 */
	size_t nslots;
	bool failed;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static uint64_t strtab_id(struct strtab *t, const char *s)
{
	if (!s)
		s = "";
	if ((t->n + 1) * 2 > t->nslots) {
		size_t ns = t->nslots ? t->nslots * 2 : 1024;
		uint32_t *sl = calloc(ns, sizeof(*sl));
		if (!sl) {
			t->failed = true;
			return 0;
		}
		for (size_t i = 0; i < t->n; i++) {
			size_t j = str_hash(t->s[i]) & (ns - 1);
			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = (uint32_t)i + 1;
		}
		free(t->slots);
		t->slots = sl;
		t->nslots = ns;
	}
	size_t j = str_hash(s) & (t->nslots - 1);
	for (; t->slots[j]; j = (j + 1) & (t->nslots - 1))
		if (!strcmp(t->s[t->slots[j] - 1], s))
			return t->slots[j] - 1;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		char **v = realloc(t->s, cap * sizeof(*v));
		if (!v) {
			t->failed = true;
			return 0;
		}
		t->s = v;
		t->cap = cap;
	}
	if (!(t->s[t->n] = strdup(s))) {
		t->failed = true;
		return 0;
	}
	t->slots[j] = (uint32_t)t->n + 1;
	return t->n++;
}

static void strtab_free(struct strtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->slots);
}

/* Writes b gzip-compressed. 0, or -EIO / -ENOMEM. */
static int pprof_write_gzip(FILE *f, const struct pb *b)
{
	z_stream z = { 0 };
	unsigned char out[1 << 16];
	int zrc;

	/* 15 + 16: a gzip header and trailer around the deflate stream. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = b->p;
	z.avail_in = (uInt)b->n;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		zrc = deflate(&z, Z_FINISH);
		size_t have = sizeof(out) - z.avail_out;
		if (have && fwrite(out, 1, have, f) != have) {
			deflateEnd(&z);
			return -EIO;
		}
	} while (zrc == Z_OK || zrc == Z_BUF_ERROR);
	deflateEnd(&z);
	return zrc == Z_STREAM_END ? 0 : -EIO;
}

static int pprof_aggregate(struct pt_sink *s, const struct pt_fmt_aggregate *a)
{
	struct pb prof = { 0 }, m = { 0 }, sub = { 0 };
	struct strtab st = { 0 }, fns = { 0 };  /* strings; functions by "name\1file" */
	size_t nf = pt_intern_nframes(a->in);
	int rc = 0;

	strtab_id(&st, "");
	/* sample_type (1): count, then time. */
	uint64_t count_type = strtab_id(&st, s->o.count_unit ? s->o.count_unit : "samples");
	pb_uint(&m, 1, count_type);
	pb_uint(&m, 2, strtab_id(&st, "count"));
	pb_msg(&prof, 1, &m);
	uint64_t time_type = 0;
	if (a->has_time || a->by_time) {
		time_type = strtab_id(&st, s->o.time_unit_name ? s->o.time_unit_name : "time");
		pb_uint(&m, 1, time_type);
		pb_uint(&m, 2, strtab_id(&st, "nanoseconds"));
		pb_msg(&prof, 1, &m);
	}
	/* sample (2): location ids leaf first (stacks are innermost first),
	 * packed; values packed. Location id = frame id + 1 (0 is invalid). */
	for (size_t i = 0; i < a->n; i++) {
		size_t n;
		const pt_frame_id *ids = pt_intern_stack_get(a->in, a->v[i]->stack, &n, NULL);
		for (size_t k = 0; k < n; k++)
			if (pt_intern_frame_get(a->in, ids[k])->kind != PT_FRAME_NOTE)
				pb_varint(&sub, (uint64_t)ids[k] + 1);
		pb_msg(&m, 1, &sub);
		pb_varint(&sub, a->v[i]->count);
		if (a->has_time || a->by_time)
			pb_varint(&sub, a->v[i]->ns);
		pb_msg(&m, 2, &sub);
		pb_msg(&prof, 2, &m);
	}
	/* location (4) and function (5): one each per frame. */
	for (size_t i = 0; i < nf; i++) {
		const struct pt_frame *fr = pt_intern_frame_get(a->in, (pt_frame_id)i);
		char name[1024];
		const char *file = NULL;
		int64_t line = 0;
		if (fr->kind == PT_FRAME_NOTE)
			continue;
		if (fr->kind == PT_FRAME_PYTHON) {
			snprintf(name, sizeof(name), "%s", fr->function);
			file = fr->file;
			line = fr->line > 0 ? fr->line : 0;
		} else if (fr->kind == PT_FRAME_NATIVE && fr->symbol) {
			snprintf(name, sizeof(name), "%s", fr->symbol);
			file = fr->module;
		} else {
			pt_fmt_frame_name(fr, name, sizeof(name));
			file = fr->kind == PT_FRAME_NATIVE ? fr->module : NULL;
		}
		/* One function per (name, file): the frames of its lines share
		 * it, as pprof's -list and -lines expect. */
		char key[2100];
		snprintf(key, sizeof(key), "%s\x01%s", name, file ? file : "");
		size_t before = fns.n;
		uint64_t fn = strtab_id(&fns, key) + 1;
		if (fns.n != before) {
			pb_uint(&m, 1, fn);                    /* Function.id */
			pb_uint(&m, 2, strtab_id(&st, name));  /* name */
			pb_uint(&m, 3, strtab_id(&st, name));  /* system_name */
			if (file)
				pb_uint(&m, 4, strtab_id(&st, file));  /* filename */
			pb_msg(&prof, 5, &m);
		}
		pb_uint(&m, 1, i + 1);                 /* Location.id */
		if (fr->kind == PT_FRAME_NATIVE)
			pb_uint(&m, 3, fr->module ? fr->offset : fr->pc);  /* address */
		pb_uint(&sub, 1, fn);                  /* Line.function_id */
		if (line)
			pb_uint(&sub, 2, (uint64_t)line);  /* Line.line */
		pb_msg(&m, 4, &sub);
		pb_msg(&prof, 4, &m);
	}
	/* string_table (6), time_nanos (9). */
	for (size_t i = 0; i < st.n; i++)
		pb_len(&prof, 6, st.s[i], strlen(st.s[i]));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	pb_uint(&prof, 9, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
	/* default_sample_type (14): the count. */
	pb_uint(&prof, 14, a->by_time ? time_type : count_type);
	if (prof.failed || m.failed || sub.failed || st.failed || fns.failed)
		rc = -ENOMEM;
	else
		rc = pprof_write_gzip(s->f, &prof);
	free(prof.p);
	free(m.p);
	free(sub.p);
	strtab_free(&st);
	strtab_free(&fns);
	return rc;
}

const struct pt_format pt_format_pprof = {
	.name = "pprof",
	.caps = PT_FMT_AGGREGATE | PT_FMT_BINARY,
	.aggregate = pprof_aggregate,
};
