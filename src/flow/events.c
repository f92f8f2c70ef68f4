/* SPDX-License-Identifier: MIT */
/* From agent records to flow lines: descriptions, depth, filters. */
#include "flow/events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_CACHE 8             /* bytecode offset -> line, per function */

struct flow_code {
	uint64_t key, key2;          /* code object; or PyMethodDef and type */
	struct pt_flow_fn fn;
	uint8_t *table;
	uint32_t table_len;
	int8_t pass;                 /* --file/--function verdict; -1: unknown */
	bool within;                 /* starts a --within window */
	uint32_t lc_off[LINE_CACHE];
	int32_t lc_line[LINE_CACHE];
};

struct flow_frame {
	uint64_t ts;
	bool shown;
};

struct flow_thread {
	int32_t tid;                 /* as the agent records it */
	int32_t shown_tid;           /* as printed */
	struct flow_frame *stack;
	size_t n, cap;
	unsigned shown_depth;
	bool within_active;
	size_t within_base;          /* stack height when the window opened */
};

/* Open addressing, keyed by one or two words; values are pointers. */
struct flow_map {
	struct flow_slot {
		uint64_t k1, k2;
		void *v;
	} *slot;
	size_t cap, n;
};

struct flow_events {
	const struct flow_options *opt;
	enum pyv_linetable_kind table_kind;
	struct flow_sink sink;
	struct flow_map codes;       /* (code, 0) or (PyMethodDef, type) -> flow_code */
	struct flow_map names;       /* PyMethodDef or type -> char * */
	struct flow_map threads;     /* tid -> flow_thread */
	struct flow_thread *last_thread;
	int32_t (*map_tid)(void *arg, int32_t tid);
	void *map_tid_arg;
	struct flow_code *last_code;
	size_t n_threads;
	uint64_t t0;
	bool have_t0;
	uint64_t events, lines;
	int error;
};

/* ------------------------------------------------------------------ */

static inline uint64_t map_hash(uint64_t a, uint64_t b)
{
	uint64_t h = (a ^ (b * 0xff51afd7ed558ccdull)) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static void *map_get(const struct flow_map *m, uint64_t k1, uint64_t k2)
{
	if (!m->cap)
		return NULL;
	for (size_t i = map_hash(k1, k2) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		const struct flow_slot *s = &m->slot[i];
		if (!s->v)
			return NULL;
		if (s->k1 == k1 && s->k2 == k2)
			return s->v;
	}
}

/* Inserts or replaces; returns the value replaced (NULL if none), or v
 * itself when out of memory. */
static void *map_put(struct flow_map *m, uint64_t k1, uint64_t k2, void *v)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 256;
		struct flow_slot *ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return v;
		for (size_t i = 0; i < m->cap; i++) {
			struct flow_slot *s = &m->slot[i];
			if (!s->v)
				continue;
			size_t j = map_hash(s->k1, s->k2) & (ncap - 1);
			while (ns[j].v)
				j = (j + 1) & (ncap - 1);
			ns[j] = *s;
		}
		free(m->slot);
		m->slot = ns;
		m->cap = ncap;
	}
	for (size_t i = map_hash(k1, k2) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct flow_slot *s = &m->slot[i];
		if (!s->v) {
			*s = (struct flow_slot){ k1, k2, v };
			m->n++;
			return NULL;
		}
		if (s->k1 == k1 && s->k2 == k2) {
			void *old = s->v;
			s->v = v;
			return old;
		}
	}
}

/* ------------------------------------------------------------------ */

static void code_free(struct flow_code *c)
{
	if (!c)
		return;
	pt_out_flow_fn_fini(&c->fn);
	free(c->fn.name);
	free(c->fn.file);
	free(c->table);
	free(c);
}

struct flow_events *flow_events_new(const struct flow_options *opt,
				    enum pyv_linetable_kind table_kind, const struct flow_sink *sink)
{
	struct flow_events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return NULL;
	ev->opt = opt;
	ev->table_kind = table_kind;
	ev->sink = *sink;
	return ev;
}

void flow_events_free(struct flow_events *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->codes.cap; i++)
		code_free(ev->codes.slot[i].v);
	for (size_t i = 0; i < ev->names.cap; i++)
		free(ev->names.slot[i].v);
	for (size_t i = 0; i < ev->threads.cap; i++) {
		struct flow_thread *t = ev->threads.slot[i].v;
		if (t)
			free(t->stack);
		free(t);
	}
	free(ev->codes.slot);
	free(ev->names.slot);
	free(ev->threads.slot);
	free(ev);
}

uint64_t flow_events_count(const struct flow_events *ev)
{
	return ev->events;
}

uint64_t flow_events_lines(const struct flow_events *ev)
{
	return ev->lines;
}

/* --- filters -------------------------------------------------------- */

/* NAME matches a function called qualname or whose last dotted part is
 * NAME ("Repo.clone" is matched by "clone" and by "Repo.clone"). */
bool flow_name_matches(const char *qualname, const char *want)
{
	const char *dot = strrchr(qualname, '.');

	return !strcmp(qualname, want) || (dot && !strcmp(dot + 1, want));
}

static void code_judge(struct flow_events *ev, struct flow_code *c)
{
	const struct flow_options *o = ev->opt;
	bool file_ok = o->n_files == 0 || !c->fn.file, func_ok = o->n_funcs == 0;

	for (size_t i = 0; !file_ok && i < o->n_files; i++)
		file_ok = strstr(c->fn.file, o->files[i]) != NULL;
	for (size_t i = 0; i < o->n_funcs; i++)
		if (flow_name_matches(c->fn.name, o->funcs[i])) {
			func_ok = true;
			if (o->funcs_seen)
				o->funcs_seen[i] = true;
		}
	c->pass = file_ok && func_ok;
	c->within = o->within_func && flow_name_matches(c->fn.name, o->within_func) &&
		    (!o->within_file || (c->fn.file && strstr(c->fn.file, o->within_file)));
	if (c->within && o->within_seen)
		*o->within_seen = true;
}

/* --- descriptions ----------------------------------------------------- */

static char *dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
		/* names never hold NULs; a stray one would cut the line */
		for (size_t i = 0; i < n; i++)
			if (!s[i])
				s[i] = '?';
	}
	return s;
}

static int code_add(struct flow_events *ev, struct flow_code *c)
{
	c->pass = -1;
	for (size_t i = 0; i < LINE_CACHE; i++)
		c->lc_off[i] = UINT32_MAX;
	if (pt_out_flow_fn_init(&c->fn) < 0) {
		code_free(c);
		return -ENOMEM;
	}
	code_judge(ev, c);
	void *old = map_put(&ev->codes, c->key, c->key2, c);
	if (old == c) {
		code_free(c);
		return -ENOMEM;
	}
	if (old == ev->last_code)
		ev->last_code = NULL;
	code_free(old);
	return 0;
}

int flow_events_def(struct flow_events *ev, const struct pt_ring_record *rec,
		    const uint8_t *payload, size_t len)
{
	if (PT_REC_KIND(rec) == PT_EV_DEF_NAME) {
		char *name = dup_bytes(payload, len);
		if (!name)
			return -ENOMEM;
		void *old = map_put(&ev->names, rec->object, 0, name);
		if (old == name) {
			free(name);
			return -ENOMEM;
		}
		free(old);
		return 0;
	}
	struct pt_def_code d;
	if (len < sizeof(d))
		return -EINVAL;
	memcpy(&d, payload, sizeof(d));
	if ((uint64_t)d.name_len + d.file_len + d.table_len > len - sizeof(d))
		return -EINVAL;
	struct flow_code *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	const uint8_t *p = payload + sizeof(d);
	c->key = rec->object;
	c->fn.name = dup_bytes(p, d.name_len);
	c->fn.file = dup_bytes(p + d.name_len, d.file_len);
	c->fn.firstlineno = rec->tid;
	c->table = malloc(d.table_len ? d.table_len : 1);
	c->table_len = d.table_len;
	if (!c->fn.name || !c->fn.file || !c->table) {
		code_free(c);
		return -ENOMEM;
	}
	memcpy(c->table, p + d.name_len + d.file_len, d.table_len);
	return code_add(ev, c);
}

/* The function a C event names: "type.name" for methods, else "name". */
static struct flow_code *c_function(struct flow_events *ev, uint64_t ml, uint64_t type)
{
	struct flow_code *c = map_get(&ev->codes, ml, type | 1);
	if (c)
		return c;
	const char *name = map_get(&ev->names, ml, 0);
	const char *tname = type ? map_get(&ev->names, type, 0) : NULL;
	if (!name)
		name = "?";
	/* A module's function is named by its module (time.sleep), as
	 * Python's own repr and cProfile do, but not a builtin (len, print);
	 * a method by its object's type (list.append). The type "module"
	 * only comes from an agent that did not name the module. */
	if (tname && tname[0] == PT_DEF_NAME_MODULE[0])
		tname = strcmp(tname + 1, "builtins") && strcmp(tname + 1, "__builtin__") && tname[1]
			? tname + 1 : NULL;
	else if (tname && !strcmp(tname, "module"))
		tname = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key = ml;
	c->key2 = type | 1;
	size_t n = strlen(name) + (tname ? strlen(tname) + 1 : 0) + 1;
	c->fn.name = malloc(n);
	if (!c->fn.name) {
		free(c);
		return NULL;
	}
	if (tname)
		snprintf(c->fn.name, n, "%s.%s", tname, name);
	else
		snprintf(c->fn.name, n, "%s", name);
	if (code_add(ev, c) < 0)
		return NULL;
	return c;
}

/* A code object the agent never described (it cannot happen unless a
 * description was lost): shown by address rather than ending the trace. */
static struct flow_code *unknown_code(struct flow_events *ev, uint64_t addr)
{
	struct flow_code *c = calloc(1, sizeof(*c));
	char name[40];

	if (!c)
		return NULL;
	snprintf(name, sizeof(name), "<unknown 0x%llx>", (unsigned long long)addr);
	c->key = addr;
	c->fn.name = strdup(name);
	c->fn.file = strdup("?");
	c->table = malloc(1);
	if (!c->fn.name || !c->fn.file || !c->table) {
		code_free(c);
		return NULL;
	}
	if (code_add(ev, c) < 0)
		return NULL;
	return map_get(&ev->codes, addr, 0);
}

/* --- events ----------------------------------------------------------- */

void flow_events_set_tid_map(struct flow_events *ev, int32_t (*map)(void *arg, int32_t tid),
			     void *arg)
{
	ev->map_tid = map;
	ev->map_tid_arg = arg;
}

static struct flow_thread *thread_get(struct flow_events *ev, int32_t tid)
{
	struct flow_thread *t = ev->last_thread;

	if (t && t->tid == tid)
		return t;
	t = map_get(&ev->threads, (uint64_t)(uint32_t)tid, 0);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		t->tid = tid;
		t->shown_tid = ev->map_tid ? ev->map_tid(ev->map_tid_arg, tid) : tid;
		if (map_put(&ev->threads, (uint64_t)(uint32_t)tid, 0, t) == t) {
			free(t);
			return NULL;
		}
		ev->n_threads++;
	}
	ev->last_thread = t;
	return t;
}

static int line_of(struct flow_events *ev, struct flow_code *c, uint32_t off)
{
	if (off == PT_REC_NO_OFFSET)
		return c->fn.firstlineno;
	size_t k = (off >> 1) % LINE_CACHE;
	if (c->lc_off[k] == off)
		return c->lc_line[k];
	int line = pyv_linetable_line(ev->table_kind, c->table, c->table_len, c->fn.firstlineno,
				      (int64_t)off);
	c->lc_off[k] = off;
	c->lc_line[k] = line;
	return line;
}

static bool kind_is_entry(unsigned k)
{
	return k == PT_EV_CALL || k == PT_EV_RESUME || k == PT_EV_THROW || k == PT_EV_C_CALL;
}

/* The wire's kinds (agent.h) as the neutral event's. */
static const enum pt_flow_event_kind neutral_kind[] = {
	[PT_EV_CALL] = PT_FLOW_CALL, [PT_EV_RETURN] = PT_FLOW_RETURN,
	[PT_EV_UNWIND] = PT_FLOW_UNWIND, [PT_EV_RESUME] = PT_FLOW_RESUME,
	[PT_EV_YIELD] = PT_FLOW_YIELD, [PT_EV_THROW] = PT_FLOW_THROW,
	[PT_EV_C_CALL] = PT_FLOW_C_CALL, [PT_EV_C_RETURN] = PT_FLOW_C_RETURN,
	[PT_EV_C_RAISE] = PT_FLOW_C_RAISE,
};

static int emit(struct flow_events *ev, struct flow_thread *t, struct flow_code *c, unsigned kind,
		const struct pt_ring_record *rec, unsigned depth, int64_t duration)
{
	struct pt_flow_event l = {
		.kind = neutral_kind[kind],
		.tid = t->shown_tid,
		.show_tid = ev->opt->show_tid || ev->n_threads > 1,
		.depth = depth,
		.fn = &c->fn,
		.line = kind == PT_EV_CALL || !c->fn.file ? c->fn.firstlineno
			: ev->sink.lines ? line_of(ev, c, PT_REC_OFFSET(rec)) : -1,
		.ts = rec->ts >= ev->t0 ? rec->ts - ev->t0 : 0,
		.duration = duration,
	};
	ev->lines++;
	return ev->sink.event(ev->sink.arg, &l);
}

int flow_events_event(struct flow_events *ev, const struct pt_ring_record *rec)
{
	unsigned kind = PT_REC_KIND(rec);
	struct flow_code *c;
	struct flow_thread *t;

	ev->events++;
	if (kind >= PT_EV_C_CALL && kind <= PT_EV_C_RAISE) {
		c = c_function(ev, rec->object, rec->aux);
	} else {
		c = ev->last_code;
		if (!c || c->key != rec->object || c->key2) {
			c = map_get(&ev->codes, rec->object, 0);
			if (!c && !(c = unknown_code(ev, rec->object)))
				return -ENOMEM;
			ev->last_code = c;
		}
	}
	if (!c || !(t = thread_get(ev, rec->tid)))
		return -ENOMEM;
	if (!ev->have_t0 && rec->ts) {
		ev->t0 = rec->ts;
		ev->have_t0 = true;
	}
	const struct flow_options *o = ev->opt;

	if (kind_is_entry(kind)) {
		if (t->n == t->cap) {
			size_t ncap = t->cap ? t->cap * 2 : 64;
			struct flow_frame *ns = realloc(t->stack, ncap * sizeof(*ns));
			if (!ns)
				return -ENOMEM;
			t->stack = ns;
			t->cap = ncap;
		}
		if (o->within_func && !t->within_active && c->within) {
			t->within_active = true;
			t->within_base = t->n;
		}
		bool parent_shown = t->n ? t->stack[t->n - 1].shown : o->n_files == 0;
		bool shown = (!o->within_func || t->within_active) && c->pass &&
			     (c->fn.file || o->n_files == 0 || parent_shown);
		t->stack[t->n++] = (struct flow_frame){ .ts = rec->ts, .shown = shown };
		if (shown) {
			int rc = emit(ev, t, c, kind, rec, t->shown_depth, -1);
			t->shown_depth++;
			return rc;
		}
		return 0;
	}

	/* an exit */
	if (t->n == 0) {
		/* a frame entered before the hook was installed */
		bool shown = !o->within_func && c->pass && (c->fn.file || o->n_files == 0);
		return shown ? emit(ev, t, c, kind, rec, 0, -1) : 0;
	}
	struct flow_frame f = t->stack[--t->n];
	int rc = 0;
	if (f.shown) {
		if (t->shown_depth)
			t->shown_depth--;
		int64_t d = f.ts && rec->ts >= f.ts ? (int64_t)(rec->ts - f.ts) : -1;
		rc = emit(ev, t, c, kind, rec, t->shown_depth, d);
	}
	if (t->within_active && t->n == t->within_base)
		t->within_active = false;
	return rc;
}
