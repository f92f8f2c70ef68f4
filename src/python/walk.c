/* SPDX-License-Identifier: MIT */
/* Walks the interpreters, thread states and frame chains of a target,
 * asking capability questions instead of comparing versions. */
#include "python/python.h"

#include <errno.h>
#include <string.h>

#define MAX_INTERPRETERS 256
#define MAX_FRAME_BYTES 256

/* The first interpreter: _PyRuntime.interpreters.head (3.7+) or interp_head;
 * failing that (stripped 2.7/3.6), the GIL holder's interpreter. */
static int walk_first_interp(struct pt_python *py, struct pt_mem *mem, uint64_t *interp)
{
	if (py->runtime)
		return pt_mem_read_u64(mem, py->runtime + (uint64_t)py->off.runtime_interpreters_head, interp);
	if (py->interp_head_addr)
		return pt_mem_read_u64(mem, py->interp_head_addr, interp);
	uint64_t ts;
	int rc = pt_mem_read_u64(mem, py->tstate_current_addr, &ts);
	if (rc < 0)
		return rc;
	if (!ts)
		return -ENOENT;
	return pt_mem_read_u64(mem, ts + (uint64_t)py->off.tstate_interp, interp);
}

int pt_python_list_tstates(struct pt_python *py, struct pt_mem *mem,
			   struct pt_pytstate *out, size_t max, size_t *n)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t interp;
	int rc;

	*n = 0;
	if ((rc = walk_first_interp(py, mem, &interp)) < 0)
		return rc;
	for (int ni = 0; interp && ni < MAX_INTERPRETERS; ni++) {
		uint64_t ts;
		if ((rc = pt_mem_read_u64(mem, interp + (uint64_t)o->interp_tstate_head, &ts)) < 0)
			return rc;
		/* Cap the list: a chain changing under us must not loop. */
		for (size_t guard = 0; ts && guard < 100000 && *n < max; guard++) {
			struct pt_pytstate *t = &out[*n];
			memset(t, 0, sizeof(*t));
			t->addr = ts;
			t->interp = interp;
			if ((rc = pt_mem_read_u64(mem, ts + (uint64_t)o->tstate_thread_id, &t->pthread_id)) < 0)
				return rc;
			if (pyv_has_native_thread_id(py)) {
				uint64_t tid;
				if (pt_mem_read_u64(mem, ts + (uint64_t)o->tstate_native_thread_id, &tid) == 0)
					t->native_tid = (pid_t)tid;
			}
			(*n)++;
			if ((rc = pt_mem_read_u64(mem, ts + (uint64_t)o->tstate_next, &ts)) < 0)
				return rc;
		}
		if ((rc = pt_mem_read_u64(mem, interp + (uint64_t)o->interp_next, &interp)) < 0)
			return rc;
	}
	return 0;
}

uint64_t pt_python_gil_holder(struct pt_python *py, struct pt_mem *mem,
			      const struct pt_pytstate *tstates, size_t n)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t holder = 0;

	if (o->interp_ceval_gil != PYV_NONE) {
		/* 3.12+: per-interpreter GIL; last_holder counts only while locked. */
		for (size_t i = 0; i < n; i++) {
			uint64_t gil, h;
			int32_t locked;
			if (i > 0 && tstates[i].interp == tstates[i - 1].interp)
				continue;
			if (pt_mem_read_u64(mem, tstates[i].interp + (uint64_t)o->interp_ceval_gil, &gil) < 0 ||
			    pt_mem_read_i32(mem, gil + (uint64_t)o->gil_locked, &locked) < 0 || locked != 1 ||
			    pt_mem_read_u64(mem, gil + (uint64_t)o->gil_last_holder, &h) < 0)
				continue;
			for (size_t j = 0; j < n; j++)
				if (tstates[j].addr == h && tstates[j].interp == tstates[i].interp)
					return h;
		}
		return 0;
	}
	if (o->runtime_gilstate_tstate_current != PYV_NONE && py->runtime)
		pt_mem_read_u64(mem, py->runtime + (uint64_t)o->runtime_gilstate_tstate_current, &holder);
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
	f->line = pyv_linetable_line(pyv_line_table_kind(py), c->table, c->table_len,
				     c->firstlineno, addrq);
	if (!f->function || !f->file)
		f->unreadable = true;
}

/* <=3.10: PyFrameObject chain; one frame per eval invocation. */
static int walk_frame_objects(struct pt_python *py, struct pt_mem *mem, uint64_t tstate,
			      struct pt_arena *arena, struct pt_pyframe *out, size_t max, size_t *n)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t f;
	int rc;

	if ((rc = pt_mem_read_u64(mem, tstate + (uint64_t)o->tstate_frame, &f)) < 0)
		return rc;
	while (f && *n < max) {
		struct pt_pyframe *pf = &out[(*n)++];
		uint8_t buf[MAX_FRAME_BYTES];
		uint64_t code, back;
		int32_t lasti;

		memset(pf, 0, sizeof(*pf));
		pf->addr = f;
		pf->group_end = true;
		pf->line = -1;
		size_t need = (size_t)o->frame_lasti + 4;
		if (pt_mem_read(mem, f, buf, need) < 0) {
			pf->unreadable = true;
			break;
		}
		memcpy(&code, buf + o->frame_code, 8);
		memcpy(&back, buf + o->frame_back, 8);
		memcpy(&lasti, buf + o->frame_lasti, 4);
		int64_t addrq = lasti;
		if (lasti >= 0 && pyv_line_table_kind(py) == PYV_LINETABLE_310)
			addrq = 2 * (int64_t)lasti;  /* 3.10 counts code units */
		const struct pyv_code *c;
		if (pyv_code_read(py, mem, code, &c) == 0)
			walk_fill_frame(py, arena, pf, c, addrq);
		else
			pf->unreadable = true;
		if (back == f)
			break;
		f = back;
	}
	return 0;
}

/* 3.11+: _PyInterpreterFrame chain. Groups end at 3.11's is_entry frames,
 * or just before 3.12+'s shim frames; the anchor is the _PyCFrame (3.11) or
 * the shim (3.12+), both locals of the eval invocation. */
static int walk_interpreter_frames(struct pt_python *py, struct pt_mem *mem, uint64_t tstate,
				   struct pt_arena *arena, struct pt_pyframe *out, size_t max,
				   size_t *n)
{
	const struct pyv_offsets *o = &py->off;
	uint64_t f, cframe = 0;
	int rc;

	if (pyv_frame_model(py) == PYV_FRAMES_CURRENT) {
		if ((rc = pt_mem_read_u64(mem, tstate + (uint64_t)o->tstate_current_frame, &f)) < 0)
			return rc;
	} else {
		if ((rc = pt_mem_read_u64(mem, tstate + (uint64_t)o->tstate_cframe, &cframe)) < 0 ||
		    (rc = pt_mem_read_u64(mem, cframe + (uint64_t)o->cframe_current_frame, &f)) < 0)
			return rc;
	}
	bool use_is_entry = o->iframe_is_entry != PYV_NONE;
	size_t group_start = *n;
	for (size_t guard = 0; f && *n < max && guard < 1000000; guard++) {
		uint8_t buf[MAX_FRAME_BYTES];
		uint64_t code, prev, instr;
		int8_t owner;

		if ((size_t)o->iframe_size > sizeof(buf) || pt_mem_read(mem, f, buf, (size_t)o->iframe_size) < 0) {
			struct pt_pyframe *pf = &out[(*n)++];
			memset(pf, 0, sizeof(*pf));
			pf->addr = f;
			pf->unreadable = true;
			pf->line = -1;
			break;
		}
		memcpy(&code, buf + o->iframe_code, 8);
		memcpy(&prev, buf + o->iframe_previous, 8);
		memcpy(&instr, buf + o->iframe_instr, 8);
		memcpy(&owner, buf + o->iframe_owner, 1);

		if (pyv_frame_is_shim(py, owner)) {
			/* Ends the group of the newer frames; never printed. */
			if (*n > group_start) {
				out[*n - 1].group_end = true;
				out[*n - 1].anchor = f;
			}
			group_start = *n;
			f = prev;
			continue;
		}
		bool is_entry = use_is_entry && buf[o->iframe_is_entry];
		const struct pyv_code *c = NULL;
		bool readable = pyv_code_read(py, mem, code, &c) == 0;
		uint64_t code_start = code + (uint64_t)o->code_code_adaptive;
		/* Incomplete frames (prologue not run yet) are hidden, as CPython
		 * hides them from tracebacks and sys._current_frames(). */
		bool incomplete = readable && owner != o->owner_generator &&
				  instr < code_start + 2 * (uint64_t)c->firsttraceable;
		if (!incomplete) {
			struct pt_pyframe *pf = &out[(*n)++];
			memset(pf, 0, sizeof(*pf));
			pf->addr = f;
			pf->line = -1;
			if (readable)
				walk_fill_frame(py, arena, pf, c, (int64_t)(instr - code_start));
			else
				pf->unreadable = true;
		}
		if (is_entry) {
			if (*n > group_start) {
				out[*n - 1].group_end = true;
				out[*n - 1].anchor = cframe;
			}
			group_start = *n;
			if (cframe && pt_mem_read_u64(mem, cframe + (uint64_t)o->cframe_previous, &cframe) < 0)
				cframe = 0;
		}
		if (prev == f)
			break;
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
		rc = walk_frame_objects(py, mem, tstate, arena, out, max, n);
	else
		rc = walk_interpreter_frames(py, mem, tstate, arena, out, max, n);
	if (rc < 0)
		*why = "cannot read the thread state";
	else if (*n == max)
		*why = "stack deeper than the frame limit; truncated";
	return rc;
}
