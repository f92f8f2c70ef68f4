/* SPDX-License-Identifier: MIT */
/* Places each group of Python frames after the native eval-loop frame that
 * ran it, and only where that pairing can be checked. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "stack/merge.h"

/*
 * Two pairing rules, chosen by whether the Python frames carry anchors.
 *
 * With anchors (3.11+: the _PyCFrame of 3.11, the entry/shim frame of
 * 3.12+, each a local of the eval invocation that runs the group), the
 * pairing is by address alone: a group belongs to the native frame whose
 * part of the stack, [its sp, sp of the next outer frame with a known sp)
 * (the stack grows down), holds the group's anchor. That frame is the eval
 * invocation whatever its symbol says: on Debian's GCC 16 builds the loop
 * is split off _PyEval_EvalFrameDefault into unnamed code, on tail-call
 * builds the handler running is a _TAIL_CALL_* function, and a stripped
 * binary may name it after the nearest export. Groups go innermost first,
 * so each must lie further out than the one before; a group whose anchor
 * lies on no frame's stack (or out of order) fails the merge. Frames whose
 * sp is unknown share the range of the frame inside them: an anchor there
 * goes to the one is_eval frame among them, and fails without exactly one. Eval frames
 * that hold no anchor are ordinary native frames here: an invocation in
 * its prologue or epilogue (it publishes its frames only in between), or a
 * PEP 523 evaluator calling the default loop for a frame it never pushed.
 * A group whose anchor is 0 (the walker could not read it) takes the next
 * is_eval frame, which must come before the next anchored group's frame.
 *
 * Without anchors (up to 3.10, one Python frame per invocation) there is
 * nothing to check but the count: each is_eval frame (found by symbol)
 * takes the next group, and eval frames and groups must be equally many,
 * with one tolerance: one eval frame more than groups, the innermost, is
 * an invocation between frames (entering, before it sets tstate->frame to
 * its frame; leaving, after it set it back to f_back) and stays bare. A
 * thread stopped there is common in recursive code (2-6 % of dumps).
 *
 * A group is every Python frame up to and including one with group_end; a
 * last group without group_end (a Python stack cut short) counts as one.
 */

static void merge_fail(struct pt_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void merge_fail(struct pt_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* The end (exclusive) of the group that starts at py[first]. */
static size_t group_end_at(const struct pt_thread *t, size_t first)
{
	size_t k = first;

	while (k < t->n_py && !t->py[k].group_end)
		k++;
	return k < t->n_py ? k + 1 : t->n_py;
}

/* The anchor of the group [first, end): on its group_end frame only. */
static uint64_t group_anchor(const struct pt_thread *t, size_t end)
{
	const struct pt_pyframe *last = &t->py[end - 1];

	return last->group_end ? last->anchor : 0;
}

static const char *frame_name(const struct pt_native_frame *f)
{
	if (f->symbol)
		return f->symbol;
	if (f->module)
		return f->module;
	return "??";
}

/* The next frame after i (outwards) whose sp is known, or n_native. */
static size_t next_known_sp(const struct pt_thread *t, size_t i)
{
	size_t j = i + 1;

	while (j < t->n_native && !t->native[j].sp)
		j++;
	return j;
}

/* Whether addr lies on the stack of native frame i: [sp_i, sp_j). False
 * when either bound is unknown. */
static bool on_frame_stack(const struct pt_thread *t, size_t i, uint64_t addr)
{
	size_t j;

	if (!t->native[i].sp)
		return false;
	j = next_known_sp(t, i);
	if (j == t->n_native)
		return false;
	return t->native[i].sp <= addr && addr < t->native[j].sp;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void fail_count(struct pt_error *err, size_t n_eval, size_t n_groups)
{
	merge_fail(err, PT_E_INTERNAL, "%zu eval-loop %s but %zu Python frame %s", n_eval,
		   plural(n_eval, "frame", "frames"), n_groups, plural(n_groups, "group", "groups"));
}

/* The frame at or after from whose stack holds addr, or n_native. */
static size_t frame_holding(const struct pt_thread *t, size_t from, uint64_t addr)
{
	for (size_t i = from; i < t->n_native; i++)
		if (on_frame_stack(t, i, addr))
			return i;
	return t->n_native;
}

/* The frame that runs a group whose anchor lies on frame i's stack. The
 * range of i reaches the next frame with a known sp: frames between with
 * an unknown sp share it, and then only a single eval frame among them
 * tells which one holds the anchor. n_native when none can be told. */
static size_t frame_running(const struct pt_thread *t, size_t i)
{
	size_t j = next_known_sp(t, i), at = t->n_native, evals = 0;

	if (j == i + 1)
		return i;
	for (size_t k = i; k < j; k++)
		if (t->native[k].is_eval) {
			at = k;
			evals++;
		}
	return evals == 1 ? at : t->n_native;
}

/* Says why group g (anchor) has no frame at or after from. */
static void fail_anchor(struct pt_error *err, const struct pt_thread *t, size_t from,
			size_t g, uint64_t anchor)
{
	size_t at = frame_holding(t, 0, anchor);
	uint64_t lo = 0, hi = 0;

	for (size_t i = 0; i < t->n_native; i++) {
		if (!t->native[i].sp)
			continue;
		if (!lo)
			lo = t->native[i].sp;
		hi = t->native[i].sp;
	}
	if (at < from)
		merge_fail(err, PT_E_INTERNAL,
			   "Python frame group %zu (anchor 0x%" PRIx64 ") is on the stack of native frame #%zu %s, not further out than group %zu's",
			   g, anchor, at, frame_name(&t->native[at]), g - 1);
	else if (at < t->n_native)
		merge_fail(err, PT_E_INTERNAL,
			   "Python frame group %zu (anchor 0x%" PRIx64 ") is on the stack of native frames #%zu-#%zu, whose stack pointers are not all known",
			   g, anchor, at, next_known_sp(t, at) - 1);
	else if (!lo)
		merge_fail(err, PT_E_INTERNAL,
			   "no native frame has a known stack pointer to check Python frame group %zu (anchor 0x%" PRIx64 ") against",
			   g, anchor);
	else
		merge_fail(err, PT_E_INTERNAL,
			   "Python frame group %zu (anchor 0x%" PRIx64 ") is on the stack of no native frame (known stack [0x%" PRIx64 ", 0x%" PRIx64 "))",
			   g, anchor, lo, hi);
}

/* Whether addr lies further out than every frame the unwinder reached,
 * when it stopped early (native_error: code without unwind information,
 * such as what a JIT wrote): the groups from there run in frames it never
 * saw. */
static bool beyond_unwound(const struct pt_thread *t, uint64_t addr)
{
	uint64_t hi = 0;

	if (!t->native_error)
		return false;
	for (size_t i = 0; i < t->n_native; i++)
		if (t->native[i].sp > hi)
			hi = t->native[i].sp;
	return hi && addr >= hi;
}

/* By address: see the top. Fills m and *n_out; 0, or -1 with err set. */
static int merge_anchored(const struct pt_thread *t, struct pt_merged_frame *m, size_t *n_out,
			  size_t n_eval, size_t n_groups, struct pt_error *err)
{
	size_t n = 0, i = 0, g = 0;

	for (size_t p = 0; p < t->n_py; g++) {
		size_t end = group_end_at(t, p);
		uint64_t anchor = group_anchor(t, end);
		size_t at;

		if (anchor) {
			at = frame_holding(t, i, anchor);
			if (at < t->n_native)
				at = frame_running(t, at);
			if (at == t->n_native && beyond_unwound(t, anchor)) {
				/* the rest follows the last frame unwound, which
				 * the output marks incomplete */
				for (; i < t->n_native; i++)
					m[n++].native = &t->native[i];
				for (; p < t->n_py; p++)
					m[n++].py = &t->py[p];
				break;
			}
			if (at == t->n_native) {
				fail_anchor(err, t, i, g, anchor);
				return -1;
			}
		} else {
			/* The next eval frame before the next anchored group's. */
			size_t limit = t->n_native;
			for (size_t q = end; q < t->n_py; q = group_end_at(t, q)) {
				uint64_t a = group_anchor(t, group_end_at(t, q));
				if (a) {
					limit = frame_holding(t, i, a);
					break;
				}
			}
			for (at = i; at < limit && !t->native[at].is_eval; at++)
				;
			if (at >= limit) {
				fail_count(err, n_eval, n_groups);
				return -1;
			}
		}
		for (; i <= at; i++)
			m[n++].native = &t->native[i];
		for (; p < end; p++)
			m[n++].py = &t->py[p];
	}
	for (; i < t->n_native; i++)
		m[n++].native = &t->native[i];
	*n_out = n;
	return 0;
}

/* By order: each eval frame takes the next group. */
static int merge_by_order(const struct pt_thread *t, struct pt_merged_frame *m, size_t *n_out,
			  size_t n_eval, size_t n_groups, struct pt_error *err)
{
	size_t n = 0, p = 0;
	bool between = n_eval == n_groups + 1;   /* see the top */

	if (n_eval != n_groups && !between) {
		fail_count(err, n_eval, n_groups);
		return -1;
	}
	for (size_t i = 0; i < t->n_native; i++) {
		m[n++].native = &t->native[i];
		if (!t->native[i].is_eval)
			continue;
		if (between) {
			between = false;   /* the innermost eval frame: bare */
			continue;
		}
		for (size_t end = group_end_at(t, p); p < end; p++)
			m[n++].py = &t->py[p];
	}
	*n_out = n;
	return 0;
}

int pt_stack_merge(const struct pt_thread *thread, struct pt_merged_frame **out,
		   size_t *n_out, struct pt_error *err)
{
	const struct pt_thread *t = thread;
	struct pt_merged_frame *m = NULL;
	size_t n_eval = 0, n_groups = 0, n = 0;
	bool anchored = false;

	if (out)
		*out = NULL;
	if (n_out)
		*n_out = 0;
	if (!t || !out || !n_out || (t->n_py && !t->py) ||
	    (t->n_native && !t->native)) {
		merge_fail(err, PT_E_USAGE, "pt_stack_merge: bad arguments");
		return -PT_E_USAGE;
	}

	for (size_t i = 0; i < t->n_native; i++)
		n_eval += t->native[i].is_eval;
	for (size_t k = 0; k < t->n_py; k = group_end_at(t, k)) {
		n_groups++;
		anchored |= group_anchor(t, group_end_at(t, k)) != 0;
	}
	if (!anchored && n_eval != n_groups && n_eval != n_groups + 1) {
		fail_count(err, n_eval, n_groups);
		return -PT_E_INTERNAL;
	}
	m = calloc(t->n_native + t->n_py + 1, sizeof(*m));
	if (!m) {
		merge_fail(err, PT_E_INTERNAL, "out of memory merging stacks");
		return -PT_E_INTERNAL;
	}
	if ((anchored ? merge_anchored : merge_by_order)(t, m, &n, n_eval, n_groups, err) < 0) {
		free(m);
		return -PT_E_INTERNAL;
	}
	*out = m;
	*n_out = n;
	return 0;
}

void pt_stack_mark_eval(struct pt_thread *t)
{
	for (size_t k = 0; k < t->n_py; k = group_end_at(t, k)) {
		uint64_t anchor = group_anchor(t, group_end_at(t, k));
		size_t at = anchor ? frame_holding(t, 0, anchor) : t->n_native;
		if (at < t->n_native)
			at = frame_running(t, at);
		if (at < t->n_native)
			t->native[at].is_eval = true;
	}
}
