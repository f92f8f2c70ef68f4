/* SPDX-License-Identifier: MIT */
/* Unit tests for pt_stack_merge: synthetic threads in the shapes each
 * CPython version produces, and every way the pairing can fail. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pytrace/pytrace.h"
#include "stack/merge.h"

#include "check.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Native frames: name, sp, is_eval. */
#define NAT(name, sp_, eval) { .pc = 0x401000, .sp = (sp_), .symbol = (name), .is_eval = (eval) }
#define EVAL(sp_) NAT("_PyEval_EvalFrameDefault", sp_, true)
/* Python frames: a frame inside a group, and the group's last frame. */
#define PY(name) { .function = (name), .file = "t.py", .line = 1 }
#define PYEND(name, anchor_) { .function = (name), .file = "t.py", .line = 1, .group_end = true, .anchor = (anchor_) }

static struct pt_thread make_thread(struct pt_native_frame *native, size_t n_native,
				    struct pt_pyframe *py, size_t n_py)
{
	struct pt_thread t = { .tid = 42, .has_python = n_py > 0 };

	t.native = native;
	t.n_native = n_native;
	t.py = py;
	t.n_py = n_py;
	return t;
}

/* The merged stack as "native py:function native ...", checking on the way
 * that each entry has exactly one side set and points into the thread. */
static void render(const struct pt_thread *t, const struct pt_merged_frame *m,
		   size_t n, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *name;
		const char *prefix = "";

		if (!!m[i].native == !!m[i].py) {
			name = "<both-or-neither>";
		} else if (m[i].native) {
			bool inside = m[i].native >= t->native &&
				      m[i].native < t->native + t->n_native;
			name = !inside ? "<foreign-native>"
			       : m[i].native->symbol ? m[i].native->symbol : m[i].native->module;
		} else {
			bool inside = m[i].py >= t->py && m[i].py < t->py + t->n_py;
			name = inside ? m[i].py->function : "<foreign-py>";
			prefix = "py:";
		}
		used += snprintf(buf + used, used < cap ? cap - used : 0, "%s%s%s",
				 i ? " " : "", prefix, name);
	}
}

/* Expects success and the merged stack `want`. */
static void expect_merge(const char *name, const struct pt_thread *t,
			 const char *want)
{
	struct pt_merged_frame *m = NULL;
	struct pt_error err = { 0 };
	size_t n = 99;
	char got[2048];
	int rc = pt_stack_merge(t, &m, &n, &err);

	if (rc != 0) {
		printf("# %s: failed (%d): %s\n", name, rc, err.msg);
		check(false, "%s", name);
		return;
	}
	render(t, m, n, got, sizeof(got));
	if (strcmp(got, want) != 0 || n != t->n_native + t->n_py) {
		printf("# %s:\n#   got  %s\n#   want %s\n", name, got, want);
		check(false, "%s", name);
	} else {
		check(true, "%s", name);
	}
	free(m);
}

/* Expects -PT_E_INTERNAL, no output, and a message starting with want. */
static void expect_fail(const char *name, const struct pt_thread *t,
			const char *want)
{
	struct pt_merged_frame *m = (void *)1;
	struct pt_error err = { 0 };
	size_t n = 99;
	int rc = pt_stack_merge(t, &m, &n, &err);
	bool ok = rc == -PT_E_INTERNAL && m == NULL && n == 0 &&
		  err.status == PT_E_INTERNAL &&
		  strncmp(err.msg, want, strlen(want)) == 0 &&
		  !strchr(err.msg, '\n');

	if (!ok)
		printf("# %s: rc %d, msg \"%s\", want \"%s...\"\n", name, rc,
		       err.msg, want);
	else
		printf("# %s: %s\n", name, err.msg);
	check(ok, "%s", name);
	if (rc == 0)
		free(m);
}

static void test_trivial(void)
{
	struct pt_native_frame nat[] = {
		NAT("epoll_wait", 0x7ffd0000, false),
		NAT("worker", 0, false),
		NAT("start_thread", 0x7ffd0100, false),
		NAT("clone3", 0, false),
	};
	struct pt_thread t = make_thread(nat, N(nat), NULL, 0);
	expect_merge("native frames only: unchanged", &t,
		     "epoll_wait worker start_thread clone3");

	struct pt_thread empty = make_thread(NULL, 0, NULL, 0);
	expect_merge("empty thread merges to nothing", &empty, "");
}

/* Up to 3.10: every Python frame is its own group and has no anchor; sp
 * is irrelevant. */
static void test_310_style(void)
{
	struct pt_native_frame nat[] = {
		NAT("epoll_wait", 0, false),
		NAT("select_epoll_poll", 0, false),
		NAT("cfunction_vectorcall_FASTCALL_KEYWORDS", 0, false),
		EVAL(0),
		NAT("_PyFunction_Vectorcall", 0, false),
		EVAL(0),
		NAT("_PyEval_EvalCode", 0, false),
		EVAL(0),
		NAT("PyEval_EvalCode", 0, false),
		NAT("main", 0, false),
	};
	struct pt_pyframe py[] = {
		PYEND("poll", 0), PYEND("run", 0), PYEND("<module>", 0),
	};
	struct pt_thread t = make_thread(nat, N(nat), py, N(py));
	expect_merge("3.10 style: one frame per eval frame, paired by order", &t,
		     "epoll_wait select_epoll_poll cfunction_vectorcall_FASTCALL_KEYWORDS "
		     "_PyEval_EvalFrameDefault py:poll _PyFunction_Vectorcall "
		     "_PyEval_EvalFrameDefault py:run _PyEval_EvalCode "
		     "_PyEval_EvalFrameDefault py:<module> PyEval_EvalCode main");

	/* 2.7 names its loop differently; only is_eval counts. */
	struct pt_native_frame nat27[] = {
		NAT("sem_wait", 0, false),
		NAT("PyEval_EvalFrameEx", 0, true),
		NAT("PyEval_EvalCodeEx", 0, false),
		NAT("PyEval_EvalFrameEx", 0, true),
		NAT("main", 0, false),
	};
	struct pt_thread t27 = make_thread(nat27, N(nat27), py, 2);
	expect_merge("2.7 style: PyEval_EvalFrameEx frames", &t27,
		     "sem_wait PyEval_EvalFrameEx py:poll PyEval_EvalCodeEx "
		     "PyEval_EvalFrameEx py:run main");

	/* One eval frame more than groups: the innermost is entering or
	 * leaving, between frames, and stays bare. */
	struct pt_thread more_eval = make_thread(nat, N(nat), py + 1, 2);
	expect_merge("3.10 style: the innermost eval frame of one too many is bare", &more_eval,
		     "epoll_wait select_epoll_poll cfunction_vectorcall_FASTCALL_KEYWORDS "
		     "_PyEval_EvalFrameDefault _PyFunction_Vectorcall "
		     "_PyEval_EvalFrameDefault py:run _PyEval_EvalCode "
		     "_PyEval_EvalFrameDefault py:<module> PyEval_EvalCode main");
	struct pt_thread two_more = make_thread(nat, N(nat), py, 1);
	expect_fail("3.10 style: two eval frames more than groups fails", &two_more,
		    "3 eval-loop frames but 1 Python frame group");

	struct pt_pyframe four[] = {
		PYEND("a", 0), PYEND("b", 0), PYEND("c", 0), PYEND("d", 0),
	};
	struct pt_thread more_py = make_thread(nat, N(nat), four, N(four));
	expect_fail("3.10 style: more groups than eval frames fails", &more_py,
		    "3 eval-loop frames but 4 Python frame groups");

	struct pt_thread no_native = make_thread(NULL, 0, four, 1);
	expect_fail("Python frames without native frames fails", &no_native,
		    "0 eval-loop frames but 1 Python frame group");

	/* A Python stack cut short: its last group has no group_end. */
	struct pt_pyframe cut[] = { PYEND("poll", 0), PY("run"), PY("main") };
	struct pt_native_frame two_eval[] = {
		NAT("poll", 0, false), EVAL(0), EVAL(0), NAT("main", 0, false),
	};
	struct pt_thread t_cut = make_thread(two_eval, N(two_eval), cut, N(cut));
	expect_merge("an unterminated last group still counts as a group", &t_cut,
		     "poll _PyEval_EvalFrameDefault py:poll "
		     "_PyEval_EvalFrameDefault py:run py:main main");
	struct pt_pyframe cut1[] = { PY("run"), PY("main") };
	struct pt_thread t_cut1 = make_thread(nat, N(nat), cut1, N(cut1));
	expect_fail("an unterminated last group does not hide a missing one",
		    &t_cut1, "3 eval-loop frames but 1 Python frame group");

}

/* 3.11: several Python frames per invocation; the anchor is the
 * invocation's _PyCFrame, a local of _PyEval_EvalFrameDefault. The outer
 * eval frame is in the .cold part of the function. */
static void test_311_style(void)
{
	struct pt_native_frame nat[] = {
		NAT("clock_nanosleep", 0x7ffd1000, false),
		NAT("time_sleep", 0x7ffd1040, false),
		EVAL(0x7ffd1100),                          /* [0x1100, 0x1800) */
		NAT("_PyEval_Vector", 0x7ffd1800, false),
		NAT("map_next", 0x7ffd1900, false),
		NAT("list_extend", 0, false),              /* sp unknown */
		NAT("_PyEval_EvalFrameDefault.cold", 0x7ffd1a00, true), /* [0x1a00, 0x2400) */
		NAT("PyEval_EvalCode", 0x7ffd2400, false),
		NAT("main", 0x7ffd2500, false),
	};
	struct pt_pyframe py[] = {
		PY("leaf"), PYEND("block", 0x7ffd1300),
		PY("helper_through_c"), PY("method"), PYEND("<module>", 0x7ffd1a80),
	};
	struct pt_thread t = make_thread(nat, N(nat), py, N(py));
	const char *want =
		"clock_nanosleep time_sleep _PyEval_EvalFrameDefault py:leaf py:block "
		"_PyEval_Vector map_next list_extend _PyEval_EvalFrameDefault.cold "
		"py:helper_through_c py:method py:<module> PyEval_EvalCode main";
	expect_merge("3.11 style: cframe anchors, .cold eval frame, unknown sp between",
		     &t, want);

	/* The range ends at the next frame with a known sp. */
	py[1].anchor = 0x7ffd17f8;
	expect_merge("3.11 style: anchor at the top of its range", &t, want);
	py[1].anchor = 0x7ffd1100;
	expect_merge("3.11 style: anchor at the eval frame's own sp", &t, want);
	/* The caller's sp is the caller's: half-open ranges. The pairing
	 * is by address, whatever the frame's symbol says. */
	py[1].anchor = 0x7ffd1800;
	expect_merge("3.11 style: anchor at the caller's sp belongs to the caller", &t,
		     "clock_nanosleep time_sleep _PyEval_EvalFrameDefault _PyEval_Vector "
		     "py:leaf py:block map_next list_extend _PyEval_EvalFrameDefault.cold "
		     "py:helper_through_c py:method py:<module> PyEval_EvalCode main");

	/* Group 0 in the outer frame's range: group 1 has nowhere to go. */
	py[1].anchor = 0x7ffd1a40;
	expect_fail("3.11 style: groups out of stack order fail", &t,
		    "Python frame group 1 (anchor 0x7ffd1a80) is on the stack of native frame #6 _PyEval_EvalFrameDefault.cold, not further out than group 0's");
	py[1].anchor = 0x7ffd1300;

	/* The eval frame's own sp is unknown: its range is time_sleep's,
	 * and the one eval frame in it runs the group. */
	nat[2].sp = 0;
	expect_merge("3.11 style: eval frame with unknown sp, alone in a shared range", &t, want);
	nat[2].is_eval = false;
	expect_fail("3.11 style: shared range without an eval frame fails", &t,
		    "Python frame group 0 (anchor 0x7ffd1300) is on the stack of native frames #1-#2, whose stack pointers are not all known");
	nat[2].is_eval = true;
	nat[2].sp = 0x7ffd1100;

	/* No frame outside the eval frame has a known sp. */
	nat[7].sp = 0;
	nat[8].sp = 0;
	expect_fail("3.11 style: no known sp outside the eval frame fails", &t,
		    "Python frame group 1 (anchor 0x7ffd1a80) is on the stack of no native frame (known stack [0x7ffd1000, 0x7ffd1a00))");
	nat[7].sp = 0x7ffd2400;
	nat[8].sp = 0x7ffd2500;

	/* Unwinding stopped early: the outer eval frame is missing. */
	struct pt_thread cut = make_thread(nat, 5, py, N(py));
	expect_fail("3.11 style: group left without an eval frame fails", &cut,
		    "Python frame group 1 (anchor 0x7ffd1a80) is on the stack of no native frame");

	/* The Python stack was cut short: the outer eval frame is bare. */
	struct pt_thread short_py = make_thread(nat, N(nat), py, 2);
	expect_merge("3.11 style: eval frame left without a group is kept bare", &short_py,
		     "clock_nanosleep time_sleep _PyEval_EvalFrameDefault py:leaf py:block "
		     "_PyEval_Vector map_next list_extend _PyEval_EvalFrameDefault.cold "
		     "PyEval_EvalCode main");

	struct pt_native_frame none[] = { NAT("a", 0, false), NAT("b", 0, false) };
	struct pt_thread t_none = make_thread(none, N(none), py, N(py));
	expect_fail("3.11 style: no known sp at all fails", &t_none,
		    "no native frame has a known stack pointer to check Python frame group 0");

	/* An anchor the walker could not read is paired by order. */
	py[4].anchor = 0;
	expect_merge("3.11 style: a group without anchor is paired by order", &t,
		     want);
	py[4].anchor = 0x7ffd1a80;
}

/* 3.12+: the anchor is the shim frame (entry_frame) of each invocation;
 * a generator resumed by the caller runs inside the caller's invocation,
 * so its frame is in the caller's group. The example is the 3.12 main
 * thread of cpython-internals.md section 7. */
static void test_312_style(void)
{
	struct pt_native_frame nat[] = {
		NAT("__futex_abstimed_wait_common", 0x7ffc8000, false),
		NAT("PyThread_acquire_lock_timed", 0x7ffc8080, false),
		NAT("lock_PyThread_acquire_lock", 0x7ffc8100, false),
		EVAL(0x7ffc8200),                          /* [0x8200, 0x8900) */
		NAT("_PyFunction_Vectorcall", 0x7ffc8900, false),
		NAT("map_next", 0x7ffc8980, false),
		NAT("list_extend", 0x7ffc8a00, false),
		NAT("_PyEval_EvalFrameDefault.cold", 0x7ffc8b00, true), /* [0x8b00, 0x9200) */
		EVAL(0x7ffc9200),                          /* [0x9200, 0x9900) */
		NAT("PyEval_EvalCode", 0x7ffc9900, false),
		NAT("pymain_run_python", 0x7ffc9a00, false),
		NAT("main", 0x7ffc9b00, false),
	};
	struct pt_pyframe py[] = {
		PY("block"), PY("leaf"), PYEND("<lambda>", 0x7ffc8850),
		PY("helper_through_c"), PY("gen"), PY("method"), PYEND("<lambda>", 0x7ffc8c10),
		PYEND("<module>", 0x7ffc9400),
	};
	struct pt_thread t = make_thread(nat, N(nat), py, N(py));
	expect_merge("3.12 style: shim anchors, generator in its caller's group", &t,
		     "__futex_abstimed_wait_common PyThread_acquire_lock_timed "
		     "lock_PyThread_acquire_lock _PyEval_EvalFrameDefault "
		     "py:block py:leaf py:<lambda> _PyFunction_Vectorcall map_next "
		     "list_extend _PyEval_EvalFrameDefault.cold py:helper_through_c "
		     "py:gen py:method py:<lambda> _PyEval_EvalFrameDefault "
		     "py:<module> PyEval_EvalCode pymain_run_python main");
}

/* Unwinding that stopped early (JIT-compiled code has no unwind tables):
 * the groups whose anchors lie past the last frame reached follow it. */
static void test_truncated(void)
{
	struct pt_native_frame nat[] = {
		NAT("_Py_Dealloc", 0x7ffc8000, false),
		NAT("[JIT]", 0x7ffc8080, false),
	};
	struct pt_pyframe py[] = { PY("spin"), PYEND("<module>", 0x7ffc8400) };
	struct pt_thread t = make_thread(nat, N(nat), py, N(py));

	expect_fail("a stack that ends short of the group, unwinding complete, is not merged", &t,
		    "Python frame group 0 (anchor 0x7ffc8400) is on the stack of no native frame");
	t.native_error = "No DWARF information found";
	expect_merge("a stack the unwinder stopped short of: the groups follow its last frame", &t,
		     "_Py_Dealloc [JIT] py:spin py:<module>");
	py[1].anchor = 0x7ffc7000;   /* inside the frames reached: a real mismatch */
	expect_fail("an anchor among the frames reached still fails", &t,
		    "Python frame group 0 (anchor 0x7ffc7000)");
}

/* Debian sid's 3.13-3.15 (GCC 16): the exported _PyEval_EvalFrameDefault
 * is a small wrapper and the loop is split into code without a symbol; a
 * shim anchor still says which frame runs the group. */
static void test_unnamed_loop(void)
{
	struct pt_native_frame nat[] = {
		NAT("clock_nanosleep", 0x7ffc1000, false),
		{ .pc = 0x6c2e3a, .sp = 0x7ffc1040, .module = "python3.13" },
		{ .pc = 0x4459d4, .sp = 0x7ffc1100, .module = "python3.13" }, /* the loop */
		NAT("PyEval_EvalCode", 0x7ffc1400, false),
		NAT("main", 0x7ffc1500, false),
	};
	struct pt_pyframe py[] = { PY("inner"), PY("outer"), PYEND("<module>", 0x7ffc1220) };
	struct pt_thread t = make_thread(nat, N(nat), py, N(py));
	expect_merge("unnamed loop code holding the shim runs the group", &t,
		     "clock_nanosleep python3.13 python3.13 py:inner py:outer py:<module> PyEval_EvalCode main");

	pt_stack_mark_eval(&t);
	check(!nat[0].is_eval && !nat[1].is_eval && nat[2].is_eval && !nat[3].is_eval,
	      "pt_stack_mark_eval marks the frame holding the anchor, only it");

	/* The tail-call interpreter: the handler running sits inside the
	 * _PyEval_EvalFrameDefault that holds the entry frame. */
	struct pt_native_frame tc[] = {
		NAT("clock_nanosleep", 0x7ffc1000, false),
		NAT("time_sleep", 0x7ffc1040, false),
		NAT("_TAIL_CALL_CALL_BUILTIN_O.llvm.123", 0x7ffc1080, true),
		NAT("_PyEval_EvalFrameDefault", 0x7ffc10c0, true),
		NAT("PyEval_EvalCode", 0x7ffc1400, false),
	};
	struct pt_pyframe py2[] = { PYEND("f", 0x7ffc1200) };
	struct pt_thread t2 = make_thread(tc, N(tc), py2, N(py2));
	expect_merge("tail-call handler frame: the group follows the loop that holds the entry frame", &t2,
		     "clock_nanosleep time_sleep _TAIL_CALL_CALL_BUILTIN_O.llvm.123 "
		     "_PyEval_EvalFrameDefault py:f PyEval_EvalCode");
}

/* An eval frame whose range holds no group's anchor runs no Python code
 * (its prologue or epilogue, or a PEP 523 evaluator): kept, with no Python
 * frames after it. */
static void test_tolerance(void)
{
	struct pt_native_frame nat[] = {
		EVAL(0x7ffe0000),                          /* just entered */
		NAT("_PyEval_Vector", 0x7ffe0400, false),
		NAT("slot_tp_call", 0x7ffe0480, false),
		EVAL(0x7ffe0500),                          /* [0x0500, 0x0c00) */
		NAT("_PyObject_Call", 0x7ffe0c00, false),
		EVAL(0x7ffe0d00),                          /* [0x0d00, 0x1400) */
		NAT("main", 0x7ffe1400, false),
	};
	struct pt_pyframe py[] = {
		PY("__call__"), PYEND("caller", 0x7ffe0600),
		PYEND("<module>", 0x7ffe0e00),
	};
	struct pt_thread t = make_thread(nat, N(nat), py, N(py));
	expect_merge("tolerance: innermost eval frame with no group is kept bare", &t,
		     "_PyEval_EvalFrameDefault _PyEval_Vector slot_tp_call "
		     "_PyEval_EvalFrameDefault py:__call__ py:caller _PyObject_Call "
		     "_PyEval_EvalFrameDefault py:<module> main");

	/* In the middle: a PEP 523 evaluator ran the default loop for a
	 * frame it never pushed. */
	struct pt_pyframe mid[] = {
		PYEND("inner", 0x7ffe0100), PYEND("<module>", 0x7ffe0e00),
	};
	struct pt_thread tm = make_thread(nat, N(nat), mid, N(mid));
	expect_merge("tolerance: middle eval frame with no group is kept bare", &tm,
		     "_PyEval_EvalFrameDefault py:inner _PyEval_Vector slot_tp_call "
		     "_PyEval_EvalFrameDefault _PyObject_Call "
		     "_PyEval_EvalFrameDefault py:<module> main");

	/* Unwinding stopped before the frame that holds the anchor. */
	struct pt_pyframe one[] = { PYEND("<module>", 0x7ffe0e00) };
	struct pt_thread t_extra = make_thread(nat, 5, one, N(one));
	expect_fail("tolerance: an anchor beyond the unwound stack fails",
		    &t_extra, "Python frame group 0 (anchor 0x7ffe0e00) is on the stack of no native frame");

	/* Skipping does not invent room for a group: counts still hold. */
	struct pt_pyframe extra[] = {
		PYEND("caller", 0x7ffe0600), PYEND("<module>", 0x7ffe0e00),
		PYEND("ghost", 0x7ffe1300),
	};
	struct pt_thread t_more = make_thread(nat, N(nat), extra, N(extra));
	expect_fail("tolerance: groups left over after a bare eval frame fail",
		    &t_more, "Python frame group 2 (anchor 0x7ffe1300) is on the stack of native frame #5 _PyEval_EvalFrameDefault, not further out than group 1's");

	/* Without anchors only the innermost eval frame may stay bare. */
	struct pt_pyframe bare[] = { PYEND("caller", 0) };
	struct pt_thread t_bare = make_thread(nat, N(nat), bare, N(bare));
	expect_fail("tolerance: without anchors, one bare eval frame at most", &t_bare,
		    "3 eval-loop frames but 1 Python frame group");

	/* An eval frame with unknown sp holds no anchor: it stays bare. */
	nat[0].sp = 0;
	struct pt_thread t_nosp = make_thread(nat, N(nat), py, N(py));
	expect_merge("tolerance: an eval frame with unknown sp is kept bare",
		     &t_nosp, "_PyEval_EvalFrameDefault _PyEval_Vector slot_tp_call "
		     "_PyEval_EvalFrameDefault py:__call__ py:caller _PyObject_Call "
		     "_PyEval_EvalFrameDefault py:<module> main");
}

static void test_arguments(void)
{
	struct pt_merged_frame *m = NULL;
	struct pt_error err = { 0 };
	size_t n = 0;
	struct pt_thread bad = make_thread(NULL, 3, NULL, 0);
	struct pt_native_frame nat[] = { EVAL(0x1000), NAT("main", 0x2000, false) };
	struct pt_pyframe py[] = { PYEND("f", 0x1800), PYEND("g", 0x1900) };
	struct pt_thread mismatch = make_thread(nat, N(nat), py, N(py));

	check(pt_stack_merge(NULL, &m, &n, &err) == -PT_E_USAGE &&
	      err.status == PT_E_USAGE && m == NULL,
	      "a NULL thread is a usage error");
	check(pt_stack_merge(&bad, &m, &n, &err) == -PT_E_USAGE,
	      "frame counts without frames are a usage error");
	check(pt_stack_merge(&mismatch, &m, &n, NULL) == -PT_E_INTERNAL && m == NULL,
	      "a NULL error struct is allowed");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_trivial();
	test_310_style();
	test_311_style();
	test_312_style();
	test_unnamed_loop();
	test_truncated();
	test_tolerance();
	test_arguments();
	return n_failed ? 1 : 0;
}
