/* SPDX-License-Identifier: MIT */
/* flow's aggregations: functions interned by identity, per-thread call
 * stacks of timestamps, and a call tree whose nodes are the profile's
 * distinct stacks. */
#include "flow/aggregate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/events.h"

#define NO_NODE UINT32_MAX

struct agg_frame {
	uint32_t func;
	uint32_t node;               /* profile: the stack this call makes */
	uint64_t start;
	uint64_t child;              /* time in shown callees that returned */
};

struct agg_thread {
	pid_t tid;
	struct agg_frame *stack;
	size_t n, cap;
	uint32_t *active;            /* per function: calls under way here */
	size_t n_active;
	uint32_t root;               /* profile: this thread's root node */
	uint64_t last_ts;            /* profile: time accounted up to here */
};

/* A profile node: one distinct stack (its parent's plus func). */
struct agg_node {
	uint32_t parent, func;
	uint32_t first_child, last_child, next_sibling;
	pid_t tid;                   /* roots: the thread (per_thread) */
	uint64_t own_ns;
	uint64_t calls;              /* entries into this stack */
};

/* Open addressing on two 32-bit keys (or a string hash) -> index + 1. */
struct agg_map {
	struct agg_slot {
		uint64_t key;
		uint32_t v;              /* index + 1; 0: empty */
	} *slot;
	size_t cap, n;
};

struct flow_agg {
	struct flow_agg_config cfg;
	struct pt_intern *in;
	struct flow_agg_func *funcs;
	size_t n_funcs, cap_funcs;
	struct agg_map func_map;     /* identity hash -> func (chained by probing) */
	struct agg_node *nodes;
	size_t n_nodes, cap_nodes;
	struct agg_map node_map;     /* (parent, func) -> node */
	struct agg_map thread_map;   /* tid -> thread */
	struct agg_thread **threads;
	size_t n_threads, cap_threads;
	struct agg_thread *last_thread;
	uint64_t first_ts, last_ts;
	bool have_ts;
};

/* --- maps ----------------------------------------------------------- */

static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/* Calls eq(arg, v - 1) on each candidate with this key; returns v or 0. */
static uint32_t map_find(const struct agg_map *m, uint64_t key,
			 bool (*eq)(const void *arg, uint32_t i), const void *arg)
{
	if (!m->cap)
		return 0;
	for (size_t i = mix(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		const struct agg_slot *s = &m->slot[i];
		if (!s->v)
			return 0;
		if (s->key == key && (!eq || eq(arg, s->v - 1)))
			return s->v;
	}
}

static int map_add(struct agg_map *m, uint64_t key, uint32_t v)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct agg_slot *ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->slot[i].v)
				continue;
			size_t j = mix(m->slot[i].key) & (ncap - 1);
			while (ns[j].v)
				j = (j + 1) & (ncap - 1);
			ns[j] = m->slot[i];
		}
		free(m->slot);
		m->slot = ns;
		m->cap = ncap;
	}
	size_t i = mix(key) & (m->cap - 1);
	while (m->slot[i].v)
		i = (i + 1) & (m->cap - 1);
	m->slot[i] = (struct agg_slot){ key, v };
	m->n++;
	return 0;
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *np = realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* --- setup ------------------------------------------------------------ */

struct flow_agg *flow_agg_new(const struct flow_agg_config *cfg)
{
	struct flow_agg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cfg = *cfg;
	if (!(a->in = pt_intern_new())) {
		free(a);
		return NULL;
	}
	return a;
}

void flow_agg_free(struct flow_agg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_funcs; i++) {
		free(a->funcs[i].name);
		free(a->funcs[i].file);
		free(a->funcs[i].hist);
	}
	for (size_t i = 0; i < a->n_threads; i++) {
		free(a->threads[i]->stack);
		free(a->threads[i]->active);
		free(a->threads[i]);
	}
	free(a->threads);
	free(a->funcs);
	free(a->nodes);
	free(a->func_map.slot);
	free(a->node_map.slot);
	free(a->thread_map.slot);
	pt_intern_free(a->in);
	free(a);
}

/* --- functions ---------------------------------------------------------- */

static uint64_t str_hash(const char *s, uint64_t h)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

struct func_key {
	const struct flow_agg *a;
	const struct pt_flow_fn *fn;
};

static bool func_eq(const void *arg, uint32_t i)
{
	const struct func_key *k = arg;
	const struct flow_agg_func *f = &k->a->funcs[i];

	return f->firstlineno == k->fn->firstlineno && !strcmp(f->name, k->fn->name) &&
	       (f->file && k->fn->file ? !strcmp(f->file, k->fn->file) : f->file == k->fn->file);
}

static bool wants_hist(const struct flow_agg *a, const char *name)
{
	if (!a->cfg.latency)
		return false;
	if (!a->cfg.n_latency_funcs)
		return true;
	for (size_t i = 0; i < a->cfg.n_latency_funcs; i++)
		if (flow_name_matches(name, a->cfg.latency_funcs[i]))
			return true;
	return false;
}

static int intern_func(struct flow_agg *a, struct flow_agg_func *f)
{
	struct pt_frame fr = { .kind = PT_FRAME_PYTHON, .function = f->name, .file = f->file,
			       .line = f->firstlineno };
	char label[4200];

	if (!f->file) {
		snprintf(label, sizeof(label), "%s (C)", f->name);
		fr = (struct pt_frame){ .kind = PT_FRAME_LABEL, .function = label, .line = -1 };
	}
	return pt_intern_frame(a->in, &fr, &f->frame);
}

/* The function's index (interned by name, file and first line: two code
 * objects of one function, or the same one described twice, are one). */
static int func_id(struct flow_agg *a, struct pt_flow_fn *fn, uint32_t *out)
{
	if (fn->agg_id) {
		*out = fn->agg_id - 1;
		return 0;
	}
	uint64_t key = str_hash(fn->file, str_hash(fn->name, 0xcbf29ce484222325ull) ^
				 (uint64_t)(uint32_t)fn->firstlineno);
	struct func_key k = { a, fn };
	uint32_t v = map_find(&a->func_map, key, func_eq, &k);
	if (!v) {
		if (grow((void **)&a->funcs, &a->cap_funcs, a->n_funcs, sizeof(*a->funcs)) < 0)
			return -ENOMEM;
		struct flow_agg_func *f = &a->funcs[a->n_funcs];
		memset(f, 0, sizeof(*f));
		f->name = strdup(fn->name);
		f->file = fn->file ? strdup(fn->file) : NULL;
		f->firstlineno = fn->firstlineno;
		f->want_hist = wants_hist(a, fn->name);
		if (f->name && (!fn->file || f->file) && intern_func(a, f) < 0) {
			free(f->name);
			f->name = NULL;
		}
		if (!f->name || (fn->file && !f->file)) {
			free(f->name);
			free(f->file);
			return -ENOMEM;
		}
		v = (uint32_t)++a->n_funcs;
		if (map_add(&a->func_map, key, v) < 0) {
			a->n_funcs--;
			free(f->name);
			free(f->file);
			return -ENOMEM;
		}
	}
	fn->agg_id = v;
	*out = v - 1;
	return 0;
}

/* --- threads and stacks --------------------------------------------------- */

static uint32_t node_child(struct flow_agg *a, uint32_t parent, uint32_t func)
{
	uint64_t key = (uint64_t)parent << 32 | func;
	uint32_t v = map_find(&a->node_map, key, NULL, NULL);

	if (v)
		return v - 1;
	if (grow((void **)&a->nodes, &a->cap_nodes, a->n_nodes, sizeof(*a->nodes)) < 0)
		return NO_NODE;
	uint32_t id = (uint32_t)a->n_nodes;
	if (map_add(&a->node_map, key, id + 1) < 0)
		return NO_NODE;
	a->nodes[id] = (struct agg_node){ .parent = parent, .func = func, .first_child = NO_NODE,
					  .last_child = NO_NODE, .next_sibling = NO_NODE };
	a->n_nodes++;
	/* appended: children are listed in the order first seen */
	struct agg_node *p = &a->nodes[parent];
	if (p->first_child == NO_NODE)
		p->first_child = id;
	else
		a->nodes[p->last_child].next_sibling = id;
	p->last_child = id;
	return id;
}

static uint32_t new_root(struct flow_agg *a, pid_t tid)
{
	if (grow((void **)&a->nodes, &a->cap_nodes, a->n_nodes, sizeof(*a->nodes)) < 0)
		return NO_NODE;
	uint32_t id = (uint32_t)a->n_nodes++;
	a->nodes[id] = (struct agg_node){ .parent = NO_NODE, .func = NO_NODE, .first_child = NO_NODE,
					  .last_child = NO_NODE, .next_sibling = NO_NODE, .tid = tid };
	return id;
}

static struct agg_thread *thread_get(struct flow_agg *a, pid_t tid)
{
	struct agg_thread *t = a->last_thread;

	if (t && t->tid == tid)
		return t;
	uint32_t v = map_find(&a->thread_map, (uint64_t)(uint32_t)tid, NULL, NULL);
	if (v) {
		t = a->threads[v - 1];
	} else {
		if (grow((void **)&a->threads, &a->cap_threads, a->n_threads, sizeof(*a->threads)) < 0 ||
		    !(t = calloc(1, sizeof(*t))))
			return NULL;
		t->tid = tid;
		t->root = NO_NODE;
		if (a->cfg.profile) {
			/* merged: every thread shares the first root */
			if (a->cfg.per_thread || a->n_nodes == 0)
				t->root = new_root(a, a->cfg.per_thread ? tid : 0);
			else
				t->root = 0;
			if (t->root == NO_NODE) {
				free(t);
				return NULL;
			}
		}
		if (map_add(&a->thread_map, (uint64_t)(uint32_t)tid, (uint32_t)a->n_threads + 1) < 0) {
			free(t);
			return NULL;
		}
		a->threads[a->n_threads++] = t;
	}
	a->last_thread = t;
	return t;
}

static int active_inc(struct agg_thread *t, uint32_t func)
{
	if (func >= t->n_active) {
		size_t n = t->n_active ? t->n_active : 64;
		while (n <= func)
			n *= 2;
		uint32_t *na = realloc(t->active, n * sizeof(*na));
		if (!na)
			return -ENOMEM;
		memset(na + t->n_active, 0, (n - t->n_active) * sizeof(*na));
		t->active = na;
		t->n_active = n;
	}
	t->active[func]++;
	return 0;
}

/* Profile: the time since the thread's last event is its current stack's. */
static void profile_account(struct flow_agg *a, struct agg_thread *t, uint64_t ts)
{
	if (ts <= t->last_ts)
		return;
	if (t->n)
		a->nodes[t->stack[t->n - 1].node].own_ns += ts - t->last_ts;
	t->last_ts = ts;
}

static int call_end(struct flow_agg *a, struct agg_thread *t, uint64_t ts, bool open)
{
	struct agg_frame f = t->stack[--t->n];
	uint64_t d = ts > f.start ? ts - f.start : 0;
	int rc = 0;

	if (a->cfg.on_slice) {
		struct flow_agg_slice s = { t->tid, f.func, (unsigned)t->n, f.start,
					    f.start + d, open };
		rc = a->cfg.on_slice(a->cfg.slice_arg, &s);
	}
	if (a->cfg.on_frame && rc == 0)
		rc = a->cfg.on_frame(a->cfg.frame_arg, t->tid, f.func, false, f.start + d);
	if (t->n)
		t->stack[t->n - 1].child += d;
	if (f.func < t->n_active && t->active[f.func])
		t->active[f.func]--;
	/* A call still running at the end adds its time so far (so that the
	 * time columns cover the whole trace, as the profile does), but it is
	 * no completed call: not in calls, mean or histogram. */
	struct flow_agg_func *fn = &a->funcs[f.func];
	fn->own_ns += d > f.child ? d - f.child : 0;
	if (f.func < t->n_active && !t->active[f.func])
		fn->total_ns += d;
	if (open)
		return rc;
	fn->calls++;
	fn->sum_ns += d;
	if (fn->want_hist) {
		if (!fn->hist && (fn->hist = malloc(sizeof(*fn->hist))))
			pt_hist_init(fn->hist);
		if (fn->hist)
			pt_hist_add(fn->hist, d);
		else if (rc == 0)
			rc = -ENOMEM;
	}
	return rc;
}

int flow_agg_event(void *arg, const struct pt_flow_event *e)
{
	struct flow_agg *a = arg;
	struct agg_thread *t = thread_get(a, e->tid);
	uint64_t ts = e->ts;

	if (!t)
		return -ENOMEM;
	if (!a->have_ts) {
		a->first_ts = ts;
		a->have_ts = true;
	}
	if (ts > a->last_ts)
		a->last_ts = ts;
	if (a->cfg.profile)
		profile_account(a, t, ts);
	if (pt_flow_is_entry(e->kind)) {
		uint32_t func;
		if (func_id(a, e->fn, &func) < 0 ||
		    grow((void **)&t->stack, &t->cap, t->n, sizeof(*t->stack)) < 0 ||
		    active_inc(t, func) < 0)
			return -ENOMEM;
		uint32_t node = NO_NODE;
		if (a->cfg.profile) {
			node = node_child(a, t->n ? t->stack[t->n - 1].node : t->root, func);
			if (node == NO_NODE)
				return -ENOMEM;
			a->nodes[node].calls++;
		}
		t->stack[t->n++] = (struct agg_frame){ func, node, ts, 0 };
		if (a->cfg.on_frame)
			return a->cfg.on_frame(a->cfg.frame_arg, t->tid, func, true, ts);
		return 0;
	}
	/* an exit with nothing under way: its call was before the trace */
	if (!t->n)
		return 0;
	return call_end(a, t, ts, false);
}

int flow_agg_finish(struct flow_agg *a)
{
	int rc = 0;

	for (size_t i = 0; i < a->n_threads; i++) {
		struct agg_thread *t = a->threads[i];
		if (a->cfg.profile)
			profile_account(a, t, a->last_ts);
		while (t->n) {
			int r = call_end(a, t, a->last_ts, true);
			if (r < 0 && rc == 0)
				rc = r;
		}
	}
	return rc;
}

void flow_agg_reset(struct flow_agg *a)
{
	for (size_t i = 0; i < a->n_funcs; i++) {
		struct flow_agg_func *f = &a->funcs[i];
		f->calls = f->total_ns = f->own_ns = f->sum_ns = 0;
		if (f->hist)
			pt_hist_init(f->hist);
	}
	for (size_t i = 0; i < a->n_nodes; i++)
		a->nodes[i].own_ns = a->nodes[i].calls = 0;
	a->first_ts = a->last_ts;
}

struct pt_intern *flow_agg_intern(const struct flow_agg *a)
{
	return a->in;
}

size_t flow_agg_n_funcs(const struct flow_agg *a)
{
	return a->n_funcs;
}

const struct flow_agg_func *flow_agg_func(const struct flow_agg *a, uint32_t i)
{
	return i < a->n_funcs ? &a->funcs[i] : NULL;
}

uint64_t flow_agg_span_ns(const struct flow_agg *a)
{
	return a->last_ts - a->first_ts;
}

uint64_t flow_agg_profile_total(const struct flow_agg *a)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < a->n_nodes; i++)
		sum += a->nodes[i].own_ns;
	return sum;
}

int flow_agg_stacks(const struct flow_agg *a,
		    int (*cb)(void *arg, pid_t tid, const uint32_t *funcs, size_t depth,
			      uint64_t own_ns, uint64_t calls),
		    void *arg)
{
	uint32_t *path = NULL;
	size_t cap = 0;
	int rc = 0;

	/* Depth first without recursion: a stack can be very deep. */
	for (size_t r = 0; r < a->n_nodes && rc == 0; r++) {
		if (a->nodes[r].parent != NO_NODE)
			continue;
		size_t depth = 0;
		uint32_t n = a->nodes[r].first_child;
		while (n != NO_NODE && rc == 0) {
			if (depth == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				uint32_t *np = realloc(path, ncap * sizeof(*np));
				if (!np) {
					rc = -ENOMEM;
					break;
				}
				path = np;
				cap = ncap;
			}
			path[depth++] = a->nodes[n].func;
			if (a->nodes[n].own_ns || a->nodes[n].calls)
				rc = cb(arg, a->nodes[r].tid, path, depth, a->nodes[n].own_ns,
					a->nodes[n].calls);
			if (a->nodes[n].first_child != NO_NODE) {
				n = a->nodes[n].first_child;
				continue;
			}
			/* up until a sibling */
			while (n != NO_NODE && a->nodes[n].next_sibling == NO_NODE) {
				n = a->nodes[n].parent;
				depth--;
				if (n == (uint32_t)r)
					n = NO_NODE;
			}
			if (n != NO_NODE) {
				n = a->nodes[n].next_sibling;
				depth--;
			}
		}
	}
	free(path);
	return rc;
}
