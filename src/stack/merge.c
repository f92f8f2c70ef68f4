/* SPDX-License-Identifier: MIT */
/* Places each group of Python frames after the native eval-loop frame that
 * ran it, and only where that pairing can be checked. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "pytrace/pytrace.h"

/*
 * The pairing rule. Native frames are walked innermost to outermost; each
 * frame with is_eval takes the next group of Python frames (innermost
 * first). A group is every frame up to and including one with group_end.
 *
 * With anchors (3.11 _PyCFrame, 3.12+ shim frame: a local of the eval
 * invocation that runs the group), the pairing is checked by address: the
 * anchor must lie in [sp of the eval frame, sp of the next outer frame with
 * a known sp), the frame's part of the stack (the stack grows down). Without
 * anchors (up to 3.10, one Python frame per invocation) there is nothing to
 * check but the count: eval frames and groups must be equally many.
 *
 * Tolerance, on purpose: an eval frame whose range does not hold the next
 * group's anchor, while the range of a later (outer) eval frame does, runs
 * no Python code that we can see. This is a real state, not a broken stack:
 * _PyEval_EvalFrameDefault publishes its frames (tstate->cframe in 3.11,
 * the shim's link in 3.12+) only after its prologue and withdraws them
 * before returning, so a thread stopped at either end shows an eval frame
 * with no group; a PEP 523 evaluator that calls back into the default
 * loop for a frame it never pushes does the same. The anchor proves which
 * invocation owns the group, so we keep that eval frame, with no Python
 * frames after it, and pair the group further out. We do not skip on the
 * count rule alone, nor for the opposite case (an anchor below the eval
 * frame's range: a group with no eval frame, e.g. an eval function the
 * symboliser did not recognise), which fails: either guess could put
 * Python frames under the wrong C caller.
 *
 * A group whose anchor is 0 in a stack that has anchors (the walker could
 * not read it) is paired by order, like the groups of 3.10 and earlier.
 *
 * A last group without group_end (a Python stack cut short) counts as a
 * group; if it then has no eval frame the counts differ and we fail.
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

/* Whether addr lies on the stack of an eval frame further out than i. */
static bool on_later_eval_stack(const struct pt_thread *t, size_t i,
				uint64_t addr)
{
	for (size_t k = i + 1; k < t->n_native; k++)
		if (t->native[k].is_eval && on_frame_stack(t, k, addr))
			return true;
	return false;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void fail_count(struct pt_error *err, size_t n_eval, size_t n_empty,
		       size_t n_groups)
{
	if (n_empty)
		merge_fail(err, PT_E_INTERNAL,
			   "%zu eval-loop %s (%zu running no Python code) but %zu Python frame %s",
			   n_eval, plural(n_eval, "frame", "frames"), n_empty,
			   n_groups, plural(n_groups, "group", "groups"));
	else
		merge_fail(err, PT_E_INTERNAL,
			   "%zu eval-loop %s but %zu Python frame %s", n_eval,
			   plural(n_eval, "frame", "frames"), n_groups,
			   plural(n_groups, "group", "groups"));
}

/* Says why group g cannot be paired with eval frame i. */
static void fail_anchor(struct pt_error *err, const struct pt_thread *t,
			size_t i, size_t g, uint64_t anchor)
{
	const struct pt_native_frame *f = &t->native[i];
	size_t j = next_known_sp(t, i);

	if (!f->sp)
		merge_fail(err, PT_E_INTERNAL,
			   "native frame #%zu %s has no known stack pointer to check Python frame group %zu (anchor 0x%" PRIx64 ") against",
			   i, frame_name(f), g, anchor);
	else if (j == t->n_native)
		merge_fail(err, PT_E_INTERNAL,
			   "no frame outside native frame #%zu %s has a known stack pointer to check Python frame group %zu (anchor 0x%" PRIx64 ") against",
			   i, frame_name(f), g, anchor);
	else
		merge_fail(err, PT_E_INTERNAL,
			   "Python frame group %zu (anchor 0x%" PRIx64 ") is not on the stack of native frame #%zu %s [0x%" PRIx64 ", 0x%" PRIx64 ")",
			   g, anchor, i, frame_name(f), f->sp, t->native[j].sp);
}

int pt_stack_merge(const struct pt_thread *thread, struct pt_merged_frame **out,
		   size_t *n_out, struct pt_error *err)
{
	const struct pt_thread *t = thread;
	struct pt_merged_frame *m = NULL;
	size_t n_eval = 0, n_groups = 0, n_empty = 0, n = 0, g = 0, p = 0;
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
	if (!anchored && n_eval != n_groups) {
		fail_count(err, n_eval, 0, n_groups);
		return -PT_E_INTERNAL;
	}

	m = calloc(t->n_native + t->n_py + 1, sizeof(*m));
	if (!m) {
		merge_fail(err, PT_E_INTERNAL, "out of memory merging stacks");
		return -PT_E_INTERNAL;
	}
	for (size_t i = 0; i < t->n_native; i++) {
		size_t end;
		uint64_t anchor;

		m[n++].native = &t->native[i];
		if (!t->native[i].is_eval)
			continue;
		if (g == n_groups) {
			fail_count(err, n_eval, n_empty, n_groups);
			goto fail;
		}
		end = group_end_at(t, p);
		anchor = group_anchor(t, end);
		if (anchor && !on_frame_stack(t, i, anchor)) {
			/* The tolerance described at the top. */
			if (t->native[i].sp && anchor >= t->native[i].sp &&
			    on_later_eval_stack(t, i, anchor)) {
				n_empty++;
				continue;
			}
			fail_anchor(err, t, i, g, anchor);
			goto fail;
		}
		for (; p < end; p++)
			m[n++].py = &t->py[p];
		g++;
	}
	if (g != n_groups) {
		fail_count(err, n_eval, n_empty, n_groups);
		goto fail;
	}
	*out = m;
	*n_out = n;
	return 0;
fail:
	free(m);
	return -PT_E_INTERNAL;
}
