/* SPDX-License-Identifier: MIT */
/* Frame and stack interning: two open-addressing hash tables over dense
 * arrays (frames with their own string copies; stacks as runs in one
 * array of frame ids), and the one merge of native and Python frames. */
#include "stack/intern.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct istack {
	size_t off, n;       /* ids[off .. off+n) */
	unsigned flags;
	uint64_t hash;
};

struct pt_intern {
	struct pt_frame *frames;
	uint64_t *frame_hash;
	size_t nframes, frames_cap;
	uint32_t *frame_slots;  /* id + 1; 0 empty; power of two, at most half full */
	size_t frame_slots_cap;

	struct istack *stacks;
	size_t nstacks, stacks_cap;
	pt_frame_id *ids;
	size_t nids, ids_cap;
	uint32_t *stack_slots;
	size_t stack_slots_cap;
};

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	if (s)
		h = fnv_bytes(h, s, strlen(s));
	return (h ^ (s ? 0xfe : 0xff)) * 0x100000001b3ull;
}

static uint64_t frame_hash(const struct pt_frame *fr)
{
	uint64_t h = 0xcbf29ce484222325ull;
	int kind = fr->kind;
	h = fnv_bytes(h, &kind, sizeof(kind));
	h = fnv_str(h, fr->function);
	h = fnv_str(h, fr->file);
	h = fnv_bytes(h, &fr->line, sizeof(fr->line));
	h = fnv_str(h, fr->module);
	h = fnv_str(h, fr->symbol);
	h = fnv_bytes(h, &fr->offset, sizeof(fr->offset));
	h = fnv_bytes(h, &fr->pc, sizeof(fr->pc));
	return h;
}

static int str_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

int pt_frame_cmp(const struct pt_frame *a, const struct pt_frame *b)
{
	int c;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((c = str_cmp(a->function, b->function)) || (c = str_cmp(a->file, b->file)))
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if ((c = str_cmp(a->module, b->module)) || (c = str_cmp(a->symbol, b->symbol)))
		return c;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	if (a->pc != b->pc)
		return a->pc < b->pc ? -1 : 1;
	return 0;
}

struct pt_intern *pt_intern_new(void)
{
	return calloc(1, sizeof(struct pt_intern));
}

static void frame_strings_free(struct pt_frame *fr)
{
	free((char *)fr->function);
	free((char *)fr->file);
	free((char *)fr->module);
	free((char *)fr->symbol);
}

void pt_intern_free(struct pt_intern *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->nframes; i++)
		frame_strings_free(&in->frames[i]);
	free(in->frames);
	free(in->frame_hash);
	free(in->frame_slots);
	free(in->stacks);
	free(in->ids);
	free(in->stack_slots);
	free(in);
}

/* Grows *v (elements of size) to hold at least need. */
static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	while (c < need)
		c *= 2;
	void *p = realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

/* Rehashes slots (id + 1 each) at twice the size; the hashes are
 * hashes[i], or stacks[i].hash when hashes is NULL. */
static int slots_grow(uint32_t **slots, size_t *cap, size_t n, const uint64_t *hashes,
		      const struct istack *stacks)
{
	size_t c = *cap ? *cap * 2 : 256;
	uint32_t *s = calloc(c, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint64_t h = hashes ? hashes[i] : stacks[i].hash;
		size_t j = h & (c - 1);
		while (s[j])
			j = (j + 1) & (c - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(*slots);
	*slots = s;
	*cap = c;
	return 0;
}

static char *dup_or_null(const char *s, bool *failed)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

int pt_intern_frame(struct pt_intern *in, const struct pt_frame *fr, pt_frame_id *id)
{
	if ((in->nframes + 1) * 2 > in->frame_slots_cap &&
	    slots_grow(&in->frame_slots, &in->frame_slots_cap, in->nframes, in->frame_hash, NULL) < 0)
		return -ENOMEM;
	uint64_t h = frame_hash(fr);
	size_t mask = in->frame_slots_cap - 1, j = h & mask;
	for (uint32_t s; (s = in->frame_slots[j]); j = (j + 1) & mask) {
		if (in->frame_hash[s - 1] == h && !pt_frame_cmp(&in->frames[s - 1], fr)) {
			*id = s - 1;
			return 0;
		}
	}
	if (in->nframes >= UINT32_MAX - 1)
		return -ENOMEM;
	if (in->nframes == in->frames_cap) {
		/* frames and frame_hash grow together, to the same capacity. */
		size_t cap = in->frames_cap ? in->frames_cap * 2 : 64;
		uint64_t *fh = realloc(in->frame_hash, cap * sizeof(*fh));
		if (!fh)
			return -ENOMEM;
		in->frame_hash = fh;
		struct pt_frame *fv = realloc(in->frames, cap * sizeof(*fv));
		if (!fv)
			return -ENOMEM;
		in->frames = fv;
		in->frames_cap = cap;
	}
	bool failed = false;
	struct pt_frame copy = *fr;
	copy.function = dup_or_null(fr->function, &failed);
	copy.file = dup_or_null(fr->file, &failed);
	copy.module = dup_or_null(fr->module, &failed);
	copy.symbol = dup_or_null(fr->symbol, &failed);
	if (failed) {
		frame_strings_free(&copy);
		return -ENOMEM;
	}
	in->frames[in->nframes] = copy;
	in->frame_hash[in->nframes] = h;
	in->frame_slots[j] = (uint32_t)in->nframes + 1;
	*id = (pt_frame_id)in->nframes++;
	return 0;
}

/* Over the ids innermost first, whichever order they are given in. */
static uint64_t stack_hash(const pt_frame_id *ids, size_t n, unsigned flags, bool root_first)
{
	uint64_t h = 0xcbf29ce484222325ull;
	h = fnv_bytes(h, &flags, sizeof(flags));
	for (size_t i = 0; i < n; i++)
		h = fnv_bytes(h, &ids[root_first ? n - 1 - i : i], sizeof(*ids));
	return h;
}

static bool stack_equal(const pt_frame_id *stored, const pt_frame_id *ids, size_t n,
			bool root_first)
{
	if (!root_first)
		return !memcmp(stored, ids, n * sizeof(*ids));
	for (size_t i = 0; i < n; i++)
		if (stored[i] != ids[n - 1 - i])
			return false;
	return true;
}

static int intern_stack(struct pt_intern *in, const pt_frame_id *ids, size_t n, unsigned flags,
			bool root_first, pt_stack_id *id);

int pt_intern_stack(struct pt_intern *in, const pt_frame_id *ids, size_t n, unsigned flags,
		    pt_stack_id *id)
{
	return intern_stack(in, ids, n, flags, false, id);
}

int pt_intern_stack_root_first(struct pt_intern *in, const pt_frame_id *ids, size_t n,
			       unsigned flags, pt_stack_id *id)
{
	return intern_stack(in, ids, n, flags, true, id);
}

static int intern_stack(struct pt_intern *in, const pt_frame_id *ids, size_t n, unsigned flags,
			bool root_first, pt_stack_id *id)
{
	if ((in->nstacks + 1) * 2 > in->stack_slots_cap &&
	    slots_grow(&in->stack_slots, &in->stack_slots_cap, in->nstacks, NULL, in->stacks) < 0)
		return -ENOMEM;
	uint64_t h = stack_hash(ids, n, flags, root_first);
	size_t mask = in->stack_slots_cap - 1, j = h & mask;
	for (uint32_t s; (s = in->stack_slots[j]); j = (j + 1) & mask) {
		const struct istack *st = &in->stacks[s - 1];
		if (st->hash == h && st->n == n && st->flags == flags &&
		    stack_equal(in->ids + st->off, ids, n, root_first)) {
			*id = s - 1;
			return 0;
		}
	}
	if (in->nstacks >= UINT32_MAX - 1 ||
	    grow((void **)&in->stacks, &in->stacks_cap, in->nstacks + 1, sizeof(*in->stacks)) < 0 ||
	    grow((void **)&in->ids, &in->ids_cap, in->nids + n, sizeof(*in->ids)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		in->ids[in->nids + i] = ids[root_first ? n - 1 - i : i];
	in->stacks[in->nstacks] = (struct istack){ .off = in->nids, .n = n, .flags = flags, .hash = h };
	in->nids += n;
	in->stack_slots[j] = (uint32_t)in->nstacks + 1;
	*id = (pt_stack_id)in->nstacks++;
	return 0;
}

const struct pt_frame *pt_intern_frame_get(const struct pt_intern *in, pt_frame_id id)
{
	return id < in->nframes ? &in->frames[id] : NULL;
}

const pt_frame_id *pt_intern_stack_get(const struct pt_intern *in, pt_stack_id id, size_t *n,
				       unsigned *flags)
{
	if (id >= in->nstacks) {
		*n = 0;
		if (flags)
			*flags = 0;
		return NULL;
	}
	*n = in->stacks[id].n;
	if (flags)
		*flags = in->stacks[id].flags;
	return in->ids + in->stacks[id].off;
}

size_t pt_intern_nframes(const struct pt_intern *in)
{
	return in->nframes;
}

size_t pt_intern_nstacks(const struct pt_intern *in)
{
	return in->nstacks;
}

int pt_intern_stack_cmp(const struct pt_intern *in, pt_stack_id a, pt_stack_id b)
{
	size_t na, nb;
	unsigned fa, fb;
	const pt_frame_id *x = pt_intern_stack_get(in, a, &na, &fa);
	const pt_frame_id *y = pt_intern_stack_get(in, b, &nb, &fb);

	for (size_t i = 0; i < na && i < nb; i++) {
		if (x[i] == y[i])
			continue;
		int c = pt_frame_cmp(&in->frames[x[i]], &in->frames[y[i]]);
		if (c)
			return c;
	}
	if (na != nb)
		return na < nb ? -1 : 1;
	return fa < fb ? -1 : fa > fb;
}

/* --- one thread's stack ----------------------------------------------------- */

/* The ids being built for one stack. */
struct ibuild {
	struct pt_intern *in;
	pt_frame_id *ids;
	size_t n, cap;
	int rc;
};

static void build_push(struct ibuild *b, const struct pt_frame *fr)
{
	pt_frame_id id;
	if (b->rc < 0)
		return;
	if ((b->rc = grow((void **)&b->ids, &b->cap, b->n + 1, sizeof(*b->ids))) < 0)
		return;
	if ((b->rc = pt_intern_frame(b->in, fr, &id)) < 0)
		return;
	b->ids[b->n++] = id;
}

static void build_note(struct ibuild *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void build_note(struct ibuild *b, const char *fmt, ...)
{
	char text[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	build_push(b, &(struct pt_frame){ .kind = PT_FRAME_NOTE, .function = text });
}

static void build_py(struct ibuild *b, const struct pt_pyframe *py)
{
	if (py->unreadable)
		build_push(b, &(struct pt_frame){ .kind = PT_FRAME_UNREADABLE, .pc = py->addr });
	else
		build_push(b, &(struct pt_frame){ .kind = PT_FRAME_PYTHON,
						  .function = py->function ? py->function : "?",
						  .file = py->file ? py->file : "?",
						  .line = py->line < 0 ? -1 : py->line });
}

static void build_native(struct ibuild *b, const struct pt_native_frame *nf)
{
	/* The pc identifies a frame only when nothing names it. */
	build_push(b, &(struct pt_frame){ .kind = PT_FRAME_NATIVE, .module = nf->module,
					  .symbol = nf->module ? nf->symbol : NULL,
					  .offset = nf->module ? nf->offset : 0,
					  .pc = nf->module ? 0 : nf->pc });
}

static size_t shown_of(size_t n, size_t depth)
{
	return depth && n > depth ? depth : n;
}

static void build_more(struct ibuild *b, size_t n, size_t depth)
{
	size_t shown = shown_of(n, depth);
	if (shown < n)
		build_note(b, "... (%zu more frame%s: --depth %zu)", n - shown, n - shown == 1 ? "" : "s",
			   depth);
}

static void build_python_only(struct ibuild *b, const struct pt_thread *t, size_t depth)
{
	size_t shown = shown_of(t->n_py, depth);
	if (!t->n_py)
		build_note(b, "(no Python frames)");
	for (size_t i = 0; i < shown; i++)
		build_py(b, &t->py[i]);
	build_more(b, t->n_py, depth);
	if (t->py_error)
		build_note(b, "(Python stack incomplete: %s)", t->py_error);
}

static void build_native_only(struct ibuild *b, const struct pt_thread *t, size_t depth)
{
	size_t shown = shown_of(t->n_native, depth);
	for (size_t i = 0; i < shown; i++)
		build_native(b, &t->native[i]);
	build_more(b, t->n_native, depth);
	if (t->native_error)
		build_note(b, "(native stack incomplete: %s)", t->native_error);
}

int pt_intern_thread(struct pt_intern *in, const struct pt_thread *t, bool native, size_t depth,
		     const char *leaf, const char *no_stack, pt_stack_id *id)
{
	struct ibuild b = { .in = in };
	unsigned flags = 0;

	if (leaf)
		build_push(&b, &(struct pt_frame){ .kind = PT_FRAME_LABEL, .function = leaf });
	if (!t) {
		build_note(&b, "(no stack: %s)", no_stack ? no_stack : "not read");
	} else if (!native) {
		build_python_only(&b, t, depth);
	} else {
		struct pt_merged_frame *m = NULL;
		size_t n = 0;
		struct pt_error err = { 0 };
		if (pt_stack_merge(t, &m, &n, &err) < 0) {
			build_note(&b, "(not merged: %s)", err.msg);
			if (t->has_python)
				build_python_only(&b, t, depth);
			build_native_only(&b, t, depth);
		} else {
			size_t shown = shown_of(n, depth);
			flags |= PT_STACK_MERGED;
			for (size_t i = 0; i < shown; i++) {
				if (m[i].native)
					build_native(&b, m[i].native);
				else
					build_py(&b, m[i].py);
			}
			build_more(&b, n, depth);
			if (t->native_error)
				build_note(&b, "(native stack incomplete: %s)", t->native_error);
			if (t->py_error)
				build_note(&b, "(Python stack incomplete: %s)", t->py_error);
		}
		free(m);
	}
	int rc = b.rc < 0 ? b.rc : pt_intern_stack(in, b.ids, b.n, flags, id);
	free(b.ids);
	return rc;
}
