/* SPDX-License-Identifier: MIT */
/* asyncio tasks read from outside: asyncio.tasks' registries (found through
 * sys.modules), each C Task's fields, and its coroutine's await chain. */
#include "python/asyncio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/rstruct.h"

/* Caps on what a target may claim. */
#define MAX_TASKS 100000
#define MAX_SET_SLOTS (1 << 22)
#define SET_CHUNK 256
#define MAX_CHAIN 256          /* coroutines awaiting coroutines */
#define MAX_TYPE_DEPTH 32      /* tp_base links */
#define MAX_GATHERED 100000
#define TYPE_NAME 128

struct task_reader {
	struct pt_python *py;
	struct pt_mem *mem;
	struct pt_arena *arena;
	const struct pyv_asyncio_offsets *ao;
	uint64_t *addrs;           /* candidate tasks, deduplicated */
	size_t n_addrs, cap_addrs;
	/* Types already classified (a C Task or not), by address. */
	uint64_t task_types[16], other_types[64];
	size_t n_task_types, n_other_types;
	uint64_t *running;         /* 3.14+: each thread's running task */
	size_t n_running;
};

const struct pyv_asyncio_offsets *pyv_asyncio_offsets_for(const struct pt_python *py)
{
	const struct pyv_offsets *o = &py->off;
	for (size_t i = 0; i < pyv_asyncio_n_tables; i++) {
		const struct pyv_asyncio_offsets *t = &pyv_asyncio_tables[i];
		if (t->major == o->major && t->minor == o->minor && t->free_threaded == o->free_threaded &&
		    t->debug == o->debug)
			return t;
	}
	return NULL;
}

/* Is obj an _asyncio.Task (or a subclass of it)? */
static bool reader_is_task(struct task_reader *r, uint64_t obj)
{
	const struct pyv_offsets *o = &r->py->off;
	uint64_t type, t;
	char name[TYPE_NAME];

	if (pt_mem_read_u64(r->mem, obj + (uint64_t)o->object_type, &type) < 0 || !type)
		return false;
	for (size_t i = 0; i < r->n_task_types; i++)
		if (r->task_types[i] == type)
			return true;
	for (size_t i = 0; i < r->n_other_types; i++)
		if (r->other_types[i] == type)
			return false;
	bool is_task = false;
	t = type;
	for (int depth = 0; t && depth < MAX_TYPE_DEPTH; depth++) {
		uint64_t tpname;
		if (pt_rfield_ptr(r->mem, t, o->type_size, o->type_name, &tpname) < 0 ||
		    pt_mem_read_cstr(r->mem, tpname, name, sizeof(name)) < 0)
			break;
		if (strcmp(name, "_asyncio.Task") == 0) {
			is_task = true;
			break;
		}
		if (pt_rfield_ptr(r->mem, t, o->type_size, o->type_base, &t) < 0)
			break;
	}
	if (is_task && r->n_task_types < sizeof(r->task_types) / sizeof(r->task_types[0]))
		r->task_types[r->n_task_types++] = type;
	else if (!is_task && r->n_other_types < sizeof(r->other_types) / sizeof(r->other_types[0]))
		r->other_types[r->n_other_types++] = type;
	return is_task;
}

/* Duplicates (a task in two registries) are removed once all are in. */
static int reader_add(struct task_reader *r, uint64_t obj)
{
	if (r->n_addrs >= MAX_TASKS)
		return -E2BIG;
	if (r->n_addrs == r->cap_addrs) {
		size_t cap = r->cap_addrs ? 2 * r->cap_addrs : 64;
		uint64_t *a = realloc(r->addrs, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		r->addrs = a;
		r->cap_addrs = cap;
	}
	r->addrs[r->n_addrs++] = obj;
	return 0;
}

/* Every key of a set; weak says they are weak references to follow. */
static int reader_add_set(struct task_reader *r, uint64_t set, bool weak)
{
	const struct pyv_offsets *o = &r->py->off;
	struct pt_rstruct s;
	uint64_t table;
	int64_t mask;
	int rc;

	if ((rc = pt_rstruct_read(&s, r->mem, set, o->set_size)) < 0 ||
	    (rc = pt_rstruct_i64(&s, o->set_mask, &mask)) < 0 ||
	    (rc = pt_rstruct_ptr(&s, o->set_table, &table)) < 0)
		return rc;
	if (mask < 0 || mask >= MAX_SET_SLOTS || o->setentry_size != 16 || !pt_field_fits(o->setentry_key, 8, 16))
		return -EINVAL;
	uint8_t buf[SET_CHUNK * 16];
	for (int64_t i = 0; i <= mask; i += SET_CHUNK) {
		int64_t n = mask + 1 - i < SET_CHUNK ? mask + 1 - i : SET_CHUNK;
		if ((rc = pt_mem_read(r->mem, table + (uint64_t)i * 16, buf, (size_t)n * 16)) < 0)
			return rc;
		for (int64_t j = 0; j < n; j++) {
			uint64_t key, obj;
			memcpy(&key, buf + j * 16 + o->setentry_key, 8);
			if (!key)
				continue;
			obj = key;
			/* A dead weak reference points at None: not a task. */
			if (weak && pt_rfield_ptr(r->mem, key, o->weakref_size, o->weakref_object, &obj) < 0)
				continue;
			if (obj && reader_is_task(r, obj) && (rc = reader_add(r, obj)) < 0)
				return rc;
		}
	}
	return 0;
}

/* One circular list of tasks linked by their task_node. */
static int reader_add_list(struct task_reader *r, uint64_t head)
{
	const struct pyv_offsets *o = &r->py->off;
	struct pt_chain chain;
	uint64_t node;
	int rc;

	if ((rc = pt_mem_read_u64(r->mem, head + (uint64_t)o->llist_next, &node)) < 0)
		return rc;
	pt_chain_init(&chain, node, MAX_TASKS);
	while (node && node != head) {
		uint64_t task = node - (uint64_t)r->ao->task_node;
		if (reader_is_task(r, task) && (rc = reader_add(r, task)) < 0)
			return rc;
		if ((rc = pt_mem_read_u64(r->mem, node + (uint64_t)o->llist_next, &node)) < 0)
			return rc;
		if (pt_chain_next(&chain, node) < 0)
			return -ELOOP;
	}
	return 0;
}

static int reader_add_lists(struct task_reader *r, uint64_t interp)
{
	const struct pyv_offsets *o = &r->py->off;
	size_t n = 0, cap = 4096;
	int rc;

	struct pt_pytstate *ts = malloc(cap * sizeof(*ts));
	if (!ts || !(r->running = calloc(cap, sizeof(*r->running)))) {
		free(ts);
		return -ENOMEM;
	}
	if ((rc = pt_python_list_tstates(r->py, r->mem, ts, cap, &n)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint64_t running = 0;
		if (ts[i].interp != interp ||
		    !pt_field_fits(o->tstate_asyncio_tasks_head, 16, o->tstate_impl_size))
			continue;
		if (pt_rfield_ptr(r->mem, ts[i].addr, o->tstate_impl_size, o->tstate_asyncio_running_task,
				  &running) == 0 && running)
			r->running[r->n_running++] = running;
		if ((rc = reader_add_list(r, ts[i].addr + (uint64_t)o->tstate_asyncio_tasks_head)) < 0)
			goto out;
	}
	if (pt_field_fits(o->interp_asyncio_tasks_head, 16, o->interp_size))
		rc = reader_add_list(r, interp + (uint64_t)o->interp_asyncio_tasks_head);
out:
	free(ts);
	return rc;
}

/* A str, or (3.12+, the lazy default name) a small int n as "Task-n". */
static const char *reader_name(struct task_reader *r, uint64_t obj)
{
	const struct pyv_offsets *o = &r->py->off;
	char buf[512], tname[TYPE_NAME];

	if (!obj)
		return NULL;
	if (pyv_string_read(r->py, r->mem, obj, buf, sizeof(buf)) == 0)
		return pt_arena_strdup(r->arena, buf);
	if (pyv_object_type_name(r->py, r->mem, obj, NULL, tname, sizeof(tname)) < 0 ||
	    strcmp(tname, "int") != 0)
		return NULL;
	uint64_t ndigits;
	if (o->long_lv_tag != PYV_NONE) {
		uint64_t tag;
		if (pt_mem_read_u64(r->mem, obj + (uint64_t)o->long_lv_tag, &tag) < 0 || (tag & 3) == 2)
			return NULL;  /* negative */
		ndigits = tag >> 3;
	} else {
		if (pt_mem_read_u64(r->mem, obj + (uint64_t)o->varobject_size, &ndigits) < 0)
			return NULL;
	}
	if (ndigits > 2)
		return NULL;
	uint32_t d[2] = { 0, 0 };
	if (ndigits && pt_mem_read(r->mem, obj + (uint64_t)o->long_digits, d, 4 * ndigits) < 0)
		return NULL;
	unsigned long long v = (unsigned long long)(d[0] & 0x3fffffff) |
			       ((unsigned long long)(d[1] & 0x3fffffff) << 30);
	snprintf(buf, sizeof(buf), "Task-%llu", v);
	return pt_arena_strdup(r->arena, buf);
}

/* <=3.10: the coroutine's PyFrameObject (gi_frame, NULL once finished);
 * it awaits its stack top when the next instruction is YIELD_FROM. */
static int reader_gen_object_frame(struct task_reader *r, uint64_t gen, struct pt_pyframe *pf,
				   bool *executing, uint64_t *awaited)
{
	const struct pyv_offsets *o = &r->py->off;
	struct pt_rstruct frame;
	uint64_t f, code, co_code;
	int32_t lasti;
	const struct pyv_code *c;
	int rc;

	*awaited = 0;
	*executing = false;
	memset(pf, 0, sizeof(*pf));
	pf->line = -1;
	pf->unreadable = true;
	if ((rc = pt_mem_read_u64(r->mem, gen + (uint64_t)o->gen_frame, &f)) < 0)
		return rc;
	if (!f)
		return -ENOENT;
	pf->addr = f;
	if ((rc = pt_rstruct_read(&frame, r->mem, f, o->frame_size)) < 0 ||
	    (rc = pt_rstruct_ptr(&frame, o->frame_code, &code)) < 0 ||
	    (rc = pt_rstruct_i32(&frame, o->frame_lasti, &lasti)) < 0)
		return rc;
	bool units = o->frame_state_executing != PYV_NONE;  /* 3.10 counts code units */
	int64_t offset = lasti < 0 ? -1 : units ? 2 * (int64_t)lasti : lasti;
	if (pyv_code_read(r->py, r->mem, code, &c) == 0) {
		pf->function = pt_arena_strdup(r->arena, c->name);
		pf->file = pt_arena_strdup(r->arena, c->file);
		pf->line = pyv_linetable_line(pyv_line_table_kind(r->py), c->table, c->table_len,
					      c->firstlineno, offset);
		pf->unreadable = !pf->function || !pf->file;
	}
	if (o->frame_state_executing != PYV_NONE) {
		int8_t st;
		if (pt_rstruct_i8(&frame, o->frame_state, &st) == 0)
			*executing = st == o->frame_state_executing;
	} else {
		uint8_t ex;
		if (pt_rstruct_u8(&frame, o->frame_executing, &ex) == 0)
			*executing = ex != 0;
	}
	uint8_t op;
	if (*executing || offset < 0 || pt_rfield_ptr(r->mem, code, o->code_size, o->code_code, &co_code) < 0 ||
	    pt_mem_read_u8(r->mem, co_code + (uint64_t)o->bytes_sval + (uint64_t)offset + 2, &op) < 0 ||
	    op != (uint8_t)o->opcode_yield_from)
		return 0;
	uint64_t top = 0;
	if (o->frame_stackdepth != PYV_NONE) {
		uint64_t vs;
		int32_t depth;
		if (pt_rstruct_ptr(&frame, o->frame_valuestack, &vs) < 0 ||
		    pt_rstruct_i32(&frame, o->frame_stackdepth, &depth) < 0 || depth < 1 || depth > 1 << 20)
			return 0;
		top = vs + 8 * (uint64_t)(depth - 1);
	} else {
		uint64_t st;
		if (pt_rstruct_ptr(&frame, o->frame_stacktop, &st) < 0 || st < 8)
			return 0;  /* NULL while running */
		top = st - 8;
	}
	if (pt_mem_read_u64(r->mem, top, awaited) < 0)
		*awaited = 0;
	return 0;
}

/* One generator or coroutine: its frame's place, its state, and (when
 * suspended in await / yield from) what it awaits (_PyGen_yf). */
static int reader_gen(struct task_reader *r, uint64_t gen, struct pt_pyframe *pf, int8_t *state,
		      uint64_t *awaited)
{
	const struct pyv_offsets *o = &r->py->off;
	struct pt_rstruct frame;
	uint64_t iframe = gen + (uint64_t)o->gen_iframe, code, instr;
	const struct pyv_code *c;
	int rc;

	*awaited = 0;
	memset(pf, 0, sizeof(*pf));
	pf->addr = iframe;
	pf->line = -1;
	pf->unreadable = true;
	if ((rc = pt_mem_read(r->mem, gen + (uint64_t)o->gen_frame_state, state, 1)) < 0)
		return rc;
	if (*state > o->gen_state_executing)
		return -ENOENT;  /* finished: no frame */
	if ((rc = pt_rstruct_read(&frame, r->mem, iframe, o->iframe_size)) < 0 ||
	    (rc = pt_rstruct_ptr(&frame, o->iframe_code, &code)) < 0 ||
	    (rc = pt_rstruct_ptr(&frame, o->iframe_instr, &instr)) < 0)
		return rc;
	code = pyv_frame_code(r->py, code);
	if (pyv_code_read(r->py, r->mem, code, &c) == 0) {
		uint64_t start = code + (uint64_t)o->code_code_adaptive;
		pf->function = pt_arena_strdup(r->arena, c->name);
		pf->file = pt_arena_strdup(r->arena, c->file);
		pf->line = pyv_linetable_line(pyv_line_table_kind(r->py), c->table, c->table_len,
					      c->firstlineno, (int64_t)(instr - start));
		pf->unreadable = !pf->function || !pf->file;
	}
	if (*state == o->gen_state_executing || *state == o->gen_state_created)
		return 0;
	if (o->opcode_resume != PYV_NONE) {
		/* 3.11/3.12: the instruction after the yield is RESUME (or its
		 * quickened or instrumented form) with oparg >= 2 when the
		 * yield was an await / yield from. */
		uint8_t next[2];
		if (pt_mem_read(r->mem, instr + 2, next, 2) < 0 || next[1] < 2 ||
		    (next[0] != o->opcode_resume && next[0] != o->opcode_resume_quick &&
		     next[0] != o->opcode_resume_instrumented))
			return 0;
	} else if (*state != o->gen_state_suspended_yield_from) {
		return 0;  /* 3.13+: the frame state says it (-1: not PYV_NONE) */
	}
	uint64_t top;  /* the address of the stack's top slot */
	if (o->iframe_stackpointer != PYV_NONE) {
		/* 3.14+: a _PyStackRef* one past the top, tagged refs. */
		uint64_t sp, base = iframe + (uint64_t)o->iframe_localsplus;
		uint64_t depth = 8 * (uint64_t)o->yield_from_depth;
		if (o->yield_from_depth < 1 || pt_rstruct_ptr(&frame, o->iframe_stackpointer, &sp) < 0 ||
		    sp < base + depth || sp - base > (1u << 20))
			return 0;
		top = sp - depth;
	} else {
		int32_t stacktop;
		if (o->yield_from_depth < 1 || pt_rstruct_i32(&frame, o->iframe_stacktop, &stacktop) < 0 ||
		    stacktop < o->yield_from_depth || stacktop > 1 << 20)
			return 0;
		top = iframe + (uint64_t)o->iframe_localsplus +
		      8 * (uint64_t)(stacktop - o->yield_from_depth);
	}
	if (pt_mem_read_u64(r->mem, top, awaited) < 0)
		*awaited = 0;
	*awaited = pyv_frame_code(r->py, *awaited);  /* masks 3.14+'s tag bits */
	return 0;
}

static bool is_generator_type(const char *name)
{
	return strcmp(name, "coroutine") == 0 || strcmp(name, "generator") == 0;
}

/* The task's coroutine and what each awaits, into t (innermost first). */
static void reader_chain(struct task_reader *r, uint64_t coro, struct pt_task *t, bool *running)
{
	struct pt_pyframe chain[MAX_CHAIN];
	size_t n = 0;
	uint64_t obj = coro;
	char tname[TYPE_NAME];

	*running = false;
	while (obj && n < MAX_CHAIN) {
		int dr = pyv_object_type_name(r->py, r->mem, obj, NULL, tname, sizeof(tname));
			if (dr < 0)
			break;
		if (!is_generator_type(tname)) {
			t->awaits = pt_arena_strdup(r->arena, tname);
			break;
		}
		uint64_t awaited;
		bool executing;
		if (r->py->off.gen_frame != PYV_NONE) {
			if (reader_gen_object_frame(r, obj, &chain[n], &executing, &awaited) < 0)
				break;
		} else {
			int8_t state;
			if (reader_gen(r, obj, &chain[n], &state, &awaited) < 0)
				break;
			executing = state == r->py->off.gen_state_executing;
		}
		if (n == 0 && executing)
			*running = true;
		n++;
		obj = awaited;
	}
	t->frames = pt_arena_alloc(r->arena, (n ? n : 1) * sizeof(*t->frames));
	if (!t->frames)
		return;
	for (size_t i = 0; i < n; i++)
		t->frames[i] = chain[n - 1 - i];
	t->n_frames = n;
}

/* The tasks a task's awaited future is (a Task) or gathers (_children). */
static void reader_waits_for(struct task_reader *r, uint64_t waiter, struct pt_task *t)
{
	const struct pyv_offsets *o = &r->py->off;
	char tname[TYPE_NAME];
	uint64_t list, items, n;

	if (!waiter || pyv_object_type_name(r->py, r->mem, waiter, NULL, tname, sizeof(tname)) < 0)
		return;
	t->waiter = pt_arena_strdup(r->arena, tname);
	if (reader_is_task(r, waiter)) {
		if ((t->waits_for = pt_arena_alloc(r->arena, sizeof(*t->waits_for)))) {
			t->waits_for[0] = waiter;
			t->n_waits_for = 1;
		}
		return;
	}
	if (pyv_object_attr(r->py, r->mem, waiter, "_children", &list) < 0 ||
	    pyv_object_type_name(r->py, r->mem, list, NULL, tname, sizeof(tname)) < 0 ||
	    strcmp(tname, "list") != 0 ||
	    pt_rfield_u64(r->mem, list, o->list_size, o->varobject_size, &n) < 0 || n > MAX_GATHERED ||
	    pt_rfield_ptr(r->mem, list, o->list_size, o->list_items, &items) < 0 || !n)
		return;
	uint64_t *kids = malloc(n * sizeof(*kids));
	if (!kids)
		return;
	if (pt_mem_read(r->mem, items, kids, n * sizeof(*kids)) == 0 &&
	    (t->waits_for = pt_arena_alloc(r->arena, n * sizeof(*t->waits_for)))) {
		for (uint64_t i = 0; i < n; i++)
			if (kids[i] && reader_is_task(r, kids[i]))
				t->waits_for[t->n_waits_for++] = kids[i];
	}
	free(kids);
}

static int reader_task(struct task_reader *r, uint64_t addr, struct pt_task *t)
{
	const struct pyv_asyncio_offsets *ao = r->ao;
	struct pt_rstruct task;
	uint64_t coro, waiter, name = 0;
	int32_t state;
	int rc;

	memset(t, 0, sizeof(*t));
	t->addr = addr;
	if ((rc = pt_rstruct_read(&task, r->mem, addr, ao->task_size)) < 0 ||
	    (rc = pt_rstruct_ptr(&task, ao->task_loop, &t->loop)) < 0 ||
	    (rc = pt_rstruct_ptr(&task, ao->task_coro, &coro)) < 0 ||
	    (rc = pt_rstruct_ptr(&task, ao->task_fut_waiter, &waiter)) < 0 ||
	    (rc = pt_rstruct_i32(&task, ao->task_state, &state)) < 0 ||
	    (ao->task_name != PYV_NONE && (rc = pt_rstruct_ptr(&task, ao->task_name, &name)) < 0))
		return rc;
	t->name = reader_name(r, name);
	bool running = false;
	if (coro)
		reader_chain(r, coro, t, &running);
	for (size_t i = 0; i < r->n_running; i++)
		running = running || r->running[i] == addr;
	t->state = state == ao->state_cancelled ? "cancelled"
		 : state == ao->state_finished ? "finished"
		 : state != ao->state_pending ? "unknown"
		 : running ? "running" : "pending";
	reader_waits_for(r, waiter, t);
	return 0;
}

static int addr_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int pyv_asyncio_tasks(struct pt_python *py, struct pt_mem *mem, struct pt_arena *arena,
		      struct pt_task **out, size_t *n, const char **why)
{
	const struct pyv_offsets *o = &py->off;
	struct task_reader r = { .py = py, .mem = mem, .arena = arena };
	uint64_t interp, modules, mod, reg, data;
	int rc;

	*out = NULL;
	*n = 0;
	*why = NULL;
	r.ao = pyv_asyncio_offsets_for(py);
	if (!r.ao || !pyv_dict_readable(py) || o->interp_modules == PYV_NONE || !py->runtime) {
		*why = "tasks are read from 3.7 on (the C _asyncio module and _PyRuntime)";
		return -PT_E_VERSION;
	}
	if ((rc = pt_rfield_ptr(mem, py->runtime, o->runtime_size, o->runtime_interpreters_head, &interp)) < 0 ||
	    (rc = pt_rfield_ptr(mem, interp, o->interp_size, o->interp_modules, &modules)) < 0) {
		*why = "cannot read sys.modules";
		return rc;
	}
	rc = pyv_dict_get(py, mem, modules, "asyncio.tasks", &mod);
	if (rc == -ENOENT) {
		*why = "asyncio is not imported";
		return 0;
	}
	if (rc < 0) {
		*why = "cannot read sys.modules";
		return rc;
	}
	/* _all_tasks (<=3.11) and _scheduled_tasks (3.12+) are WeakSets;
	 * _eager_tasks (3.12+) a set. */
	static const struct { const char *name; bool weak; } regs[] = {
		{ "_all_tasks", true }, { "_scheduled_tasks", true }, { "_eager_tasks", false },
	};
	bool found = false;
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		if (pyv_object_attr(py, mem, mod, regs[i].name, &reg) < 0)
			continue;
		if (regs[i].weak && pyv_object_attr(py, mem, reg, "data", &data) < 0)
			continue;
		found = true;
		if ((rc = reader_add_set(&r, regs[i].weak ? data : reg, regs[i].weak)) < 0) {
			*why = "cannot read asyncio's task registry";
			free(r.addrs);
			free(r.running);
			return rc;
		}
	}
	/* 3.14+: C tasks are linked into per-thread lists, those of exited
	 * threads into the interpreter's (what asyncio pstree reads). */
	if (o->tstate_asyncio_tasks_head != PYV_NONE && r.ao->task_node != PYV_NONE) {
		found = true;
		if ((rc = reader_add_lists(&r, interp)) < 0) {
			*why = "cannot read the interpreter's task lists";
			free(r.addrs);
			free(r.running);
			return rc;
		}
	}
	if (!found) {
		*why = "asyncio.tasks has no task registry pytrace knows";
		return -PT_E_VERSION;
	}
	qsort(r.addrs, r.n_addrs, sizeof(*r.addrs), addr_cmp);
	size_t u = 0;
	for (size_t i = 0; i < r.n_addrs; i++)
		if (u == 0 || r.addrs[i] != r.addrs[u - 1])
			r.addrs[u++] = r.addrs[i];
	r.n_addrs = u;
	struct pt_task *tasks = pt_arena_alloc(arena, (r.n_addrs ? r.n_addrs : 1) * sizeof(*tasks));
	if (!tasks) {
		free(r.addrs);
		free(r.running);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < r.n_addrs; i++)
		if (reader_task(&r, r.addrs[i], &tasks[k]) == 0)
			k++;
	free(r.addrs);
	free(r.running);
	*out = tasks;
	*n = k;
	return 0;
}
