/* SPDX-License-Identifier: MIT */
/* Walks the interpreters, thread states and frame chains of a target,
 * asking capability questions instead of comparing versions. */
#include "python/python.h"

#include <errno.h>
#include <string.h>

#include "mem/rstruct.h"

/* Caps on chains read from the target, which may loop or never end. */
#define MAX_INTERPRETERS 256
#define MAX_TSTATES_PER_INTERP 100000
#define MAX_FRAME_CHAIN 1000000    /* shim and hidden frames included */

/* The first interpreter: _PyRuntime.interpreters.head (3.7+) or interp_head;
 * failing that (stripped 2.7/3.6), the GIL holder's interpreter. */
static int walk_first_interp(struct pt_python *py, struct pt_mem *mem, uint64_t *interp)
{
	const struct pyv_offsets *o = &py->off;

	if (py->runtime)
		return pt_rfield_ptr(mem, py->runtime, o->runtime_size, o->runtime_interpreters_head, interp);
	if (py->interp_head_addr)
		return pt_mem_read_u64(mem, py->interp_head_addr, interp);
	uint64_t ts;
	int rc = pt_mem_read_u64(mem, py->tstate_current_addr, &ts);
	if (rc < 0)
		return rc;
	if (!ts)
		return -ENOENT;
	return pt_rfield_ptr(mem, ts, o->tstate_size, o->tstate_interp, interp);
}

int pt_python_list_tstates(struct pt_python *py, struct pt_mem *mem,
			   struct pt_pytstate *out, size_t max, size_t *n)
{
	const struct pyv_offsets *o = &py->off;
	struct pt_chain interps;
	uint64_t interp;
	int rc;

	int n_interps = 0;

	*n = 0;
	py->tstates_torn = false;
	if ((rc = walk_first_interp(py, mem, &interp)) < 0)
		return rc;
	pt_chain_init(&interps, interp, MAX_INTERPRETERS);
	/* Interpreters are prepended as they are created: the list runs from
	 * the newest to the main one. */
	while (interp) {
		n_interps++;
		struct pt_chain tss;
		uint64_t ts;
		if ((rc = pt_rfield_ptr(mem, interp, o->interp_size, o->interp_tstate_head, &ts)) < 0)
			goto out;
		size_t first = *n;
		/* A chain that loops or changes under us ends the list. */
		pt_chain_init(&tss, ts, MAX_TSTATES_PER_INTERP);
		while (ts && *n < max) {
			struct pt_pytstate *t = &out[*n];
			memset(t, 0, sizeof(*t));
			t->addr = ts;
			t->interp = interp;
			t->interp_no = n_interps - 1;  /* place from the newest, for now */
			if ((rc = pt_rfield_u64(mem, ts, o->tstate_size, o->tstate_thread_id, &t->pthread_id)) < 0)
				goto out;
			if (pyv_has_native_thread_id(py)) {
				uint64_t tid;
				if (pt_rfield_u64(mem, ts, o->tstate_size, o->tstate_native_thread_id, &tid) == 0)
					t->native_tid = (pid_t)tid;
			}
			(*n)++;
			if ((rc = pt_rfield_ptr(mem, ts, o->tstate_size, o->tstate_next, &ts)) < 0)
				goto out;
			if (ts && pt_chain_next(&tss, ts) < 0)
				break;
		}
		/* new_threadstate() (3.11) sets the head to a copy of the
		 * template, then links the old head behind it: caught between,
		 * the list is that one thread state, with no thread id yet. */
		if (*n == first + 1 && !out[first].pthread_id)
			py->tstates_torn = true;
		if ((rc = pt_rfield_ptr(mem, interp, o->interp_size, o->interp_next, &interp)) < 0)
			goto out;
		if (interp && pt_chain_next(&interps, interp) < 0)
			break;
	}
	rc = 0;
out:
	/* Cut short: what was read stays listed, numbered as if the list
	 * ended there. */
	for (size_t i = 0; i < *n; i++)
		out[i].interp_no = n_interps - 1 - out[i].interp_no;
	return rc;
}

/* A _gil_runtime_state (3.12+) spans interval, last_holder, locked,
 * switch_number, then two mutexes and two condition variables: about 210
 * bytes on x86_64 glibc. */
#define GIL_STATE_SPAN 256
/* A sem_t (2.7's interpreter_lock points at one). */
#define SEM_SPAN 32

bool pt_python_futex_is_gil(struct pt_python *py, struct pt_mem *mem,
			    const struct pt_pytstate *tstates, size_t n, uint64_t uaddr)
{
	const struct pyv_offsets *o = &py->off;

	if (!pyv_has_gil(py) || !uaddr)
		return false;
	for (size_t i = 0; i < py->n_gil_words; i++)
		if (uaddr >= py->gil_words[i].lo && uaddr < py->gil_words[i].hi)
			return true;
	if (py->gil_lock_ptr_addr) {
		uint64_t lock;
		if (pt_mem_read_u64(mem, py->gil_lock_ptr_addr, &lock) == 0 && lock &&
		    uaddr >= lock && uaddr - lock < SEM_SPAN)
			return true;
	}
	if (o->interp_ceval_gil == PYV_NONE)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint64_t gil;
		if (i > 0 && tstates[i].interp == tstates[i - 1].interp)
			continue;
		if (pt_rfield_ptr(mem, tstates[i].interp, o->interp_size, o->interp_ceval_gil, &gil) == 0 &&
		    gil && uaddr >= gil && uaddr - gil < GIL_STATE_SPAN)
			return true;
	}
	return false;
}

uint64_t pt_python_gil_holder(struct pt_python *py, struct pt_mem *mem,
			      const struct pt_pytstate *tstates, size_t n)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t holder = 0;

	if (!pyv_has_gil(py))
		return 0;
	if (o->interp_ceval_gil != PYV_NONE) {
		/* 3.12+: per-interpreter GIL; last_holder counts only while locked. */
		for (size_t i = 0; i < n; i++) {
			uint64_t gil, h;
			int32_t locked;
			if (i > 0 && tstates[i].interp == tstates[i - 1].interp)
				continue;
			if (pt_rfield_ptr(mem, tstates[i].interp, o->interp_size, o->interp_ceval_gil, &gil) < 0 ||
			    pt_rfield_i32(mem, gil, PYV_UNSIZED_STRUCT, o->gil_locked, &locked) < 0 || locked != 1 ||
			    pt_rfield_ptr(mem, gil, PYV_UNSIZED_STRUCT, o->gil_last_holder, &h) < 0)
				continue;
			for (size_t j = 0; j < n; j++)
				if (tstates[j].addr == h && tstates[j].interp == tstates[i].interp)
					return h;
		}
		return 0;
	}
	if (o->runtime_gilstate_tstate_current != PYV_NONE && py->runtime)
		pt_rfield_ptr(mem, py->runtime, o->runtime_size, o->runtime_gilstate_tstate_current, &holder);
	else if (py->tstate_current_addr)
		pt_mem_read_u64(mem, py->tstate_current_addr, &holder);
	return holder;
}

/* Fills one frame's printable fields from its code object. */
static void walk_fill_frame(struct pt_python *py, struct pt_arena *arena,
			    struct pt_pyframe *f, const struct pyv_code *c, int64_t addrq)
{
	f->function = pt_arena_strdup(arena, c->name);
	f->file = pt_arena_strdup(arena, c->file);
	f->truncated = c->cut;
	f->line = pyv_linetable_line(pyv_line_table_kind(py), c->table, c->table_len,
				     c->firstlineno, addrq);
	if (!f->function || !f->file)
		f->unreadable = true;
}

static struct pt_pyframe *walk_unreadable(struct pt_pyframe *out, size_t *n, uint64_t f)
{
	struct pt_pyframe *pf = &out[(*n)++];
	memset(pf, 0, sizeof(*pf));
	pf->addr = f;
	pf->unreadable = true;
	pf->line = -1;
	return pf;
}

/* <=3.10: PyFrameObject chain; one frame per eval invocation. */
static int walk_frame_objects(struct pt_python *py, struct pt_mem *mem, uint64_t tstate,
			      struct pt_arena *arena, struct pt_pyframe *out, size_t max, size_t *n,
			      const char **why)
{
	const struct pyv_offsets *o = &py->off;
	struct pt_rstruct frame;
	struct pt_chain chain;
	uint64_t f;
	int rc;

	if ((rc = pt_rfield_ptr(mem, tstate, o->tstate_size, o->tstate_frame, &f)) < 0)
		return rc;
	pt_chain_init(&chain, f, MAX_FRAME_CHAIN);
	while (f && *n < max) {
		uint64_t code, back;
		int32_t lasti;

		if (pt_rstruct_read(&frame, mem, f, o->frame_size) < 0 ||
		    pt_rstruct_ptr(&frame, o->frame_code, &code) < 0 ||
		    pt_rstruct_ptr(&frame, o->frame_back, &back) < 0 ||
		    pt_rstruct_i32(&frame, o->frame_lasti, &lasti) < 0) {
			walk_unreadable(out, n, f)->group_end = true;
			break;
		}
		struct pt_pyframe *pf = &out[(*n)++];
		memset(pf, 0, sizeof(*pf));
		pf->addr = f;
		pf->group_end = true;
		pf->line = -1;
		int64_t addrq = lasti;
		if (lasti >= 0 && pyv_line_table_kind(py) == PYV_LINETABLE_310)
			addrq = 2 * (int64_t)lasti;  /* 3.10 counts code units */
		const struct pyv_code *c;
		if (pyv_code_read(py, mem, code, &c) == 0)
			walk_fill_frame(py, arena, pf, c, addrq);
		else
			pf->unreadable = true;
		if (back && pt_chain_next(&chain, back) < 0) {
			*why = "the frame chain loops; truncated";
			break;
		}
		f = back;
	}
	return 0;
}

/* 3.11+: _PyInterpreterFrame chain. Groups end at 3.11's is_entry frames,
 * or just before 3.12+'s shim frames; the anchor is the _PyCFrame (3.11) or
 * the shim (3.12+), both locals of the eval invocation. */
static int walk_interpreter_frames(struct pt_python *py, struct pt_mem *mem, uint64_t tstate,
				   struct pt_arena *arena, struct pt_pyframe *out, size_t max,
				   size_t *n, const char **why)
{
	const struct pyv_offsets *o = &py->off;
	struct pt_rstruct frame;
	struct pt_chain chain;
	uint64_t f, cframe = 0;
	int rc;

	if (pyv_frame_model(py) == PYV_FRAMES_CURRENT) {
		if ((rc = pt_rfield_ptr(mem, tstate, o->tstate_size, o->tstate_current_frame, &f)) < 0)
			return rc;
	} else {
		if ((rc = pt_rfield_ptr(mem, tstate, o->tstate_size, o->tstate_cframe, &cframe)) < 0 ||
		    (rc = pt_rfield_ptr(mem, cframe, PYV_UNSIZED_STRUCT, o->cframe_current_frame, &f)) < 0)
			return rc;
	}
	/* 3.15+: the chain ends at a sentinel frame inside the thread state. */
	uint64_t base = 0;
	if (o->tstate_base_frame != PYV_NONE &&
	    pt_rfield_ptr(mem, tstate, o->tstate_size, o->tstate_base_frame, &base) < 0)
		base = 0;
	bool use_is_entry = o->iframe_is_entry != PYV_NONE;
	size_t group_start = *n;
	pt_chain_init(&chain, f, MAX_FRAME_CHAIN);
	while (f && *n < max) {
		uint64_t code, prev, instr;
		int8_t owner;
		uint8_t entry = 0;

		if (pt_rstruct_read(&frame, mem, f, o->iframe_size) < 0 ||
		    pt_rstruct_ptr(&frame, o->iframe_code, &code) < 0 ||
		    pt_rstruct_ptr(&frame, o->iframe_previous, &prev) < 0 ||
		    pt_rstruct_ptr(&frame, o->iframe_instr, &instr) < 0 ||
		    pt_rstruct_i8(&frame, o->iframe_owner, &owner) < 0 ||
		    (use_is_entry && pt_rstruct_u8(&frame, o->iframe_is_entry, &entry) < 0)) {
			walk_unreadable(out, n, f);
			break;
		}
		code = pyv_frame_code(py, code);
		if (pyv_frame_is_shim(py, owner) || (base && f == base)) {
			/* Ends the group of the newer frames; never printed. */
			if (*n > group_start) {
				out[*n - 1].group_end = true;
				out[*n - 1].anchor = f;
			}
			group_start = *n;
		} else {
			const struct pyv_code *c = NULL;
			bool readable = pyv_code_read(py, mem, code, &c) == 0;
			uint64_t code_start = code + (uint64_t)o->code_code_adaptive;
			/* Incomplete frames (prologue not run yet) are hidden, as
			 * CPython hides them from tracebacks and
			 * sys._current_frames(). */
			bool incomplete = readable && owner != o->owner_generator &&
					  instr < code_start + 2 * (uint64_t)c->firsttraceable;
			if (!incomplete) {
				struct pt_pyframe *pf = walk_unreadable(out, n, f);
				if (readable) {
					pf->unreadable = false;
					walk_fill_frame(py, arena, pf, c, (int64_t)(instr - code_start));
				}
			}
			if (entry) {
				if (*n > group_start) {
					out[*n - 1].group_end = true;
					out[*n - 1].anchor = cframe;
				}
				group_start = *n;
				if (cframe && pt_rfield_ptr(mem, cframe, PYV_UNSIZED_STRUCT,
							    o->cframe_previous, &cframe) < 0)
					cframe = 0;
			}
		}
		if (prev && pt_chain_next(&chain, prev) < 0) {
			*why = "the frame chain loops; truncated";
			break;
		}
		f = prev;
	}
	if (*n > group_start)
		out[*n - 1].group_end = true;  /* oldest group: no entry marker seen */
	return 0;
}

int pt_python_walk(struct pt_python *py, struct pt_mem *mem, uint64_t tstate,
		   struct pt_arena *arena, struct pt_pyframe *out, size_t max,
		   size_t *n, const char **why)
{
	int rc;

	*n = 0;
	*why = NULL;
	if (pyv_frame_model(py) == PYV_FRAMES_OBJECTS)
		rc = walk_frame_objects(py, mem, tstate, arena, out, max, n, why);
	else
		rc = walk_interpreter_frames(py, mem, tstate, arena, out, max, n, why);
	if (rc < 0)
		*why = "cannot read the thread state";
	else if (*n == max && !*why)
		*why = "stack deeper than the frame limit; truncated";
	return rc;
}
