/* SPDX-License-Identifier: MIT */
/* A flow session: attach to or launch a CPython process, load the agent,
 * install the hook, print the events, detach. */
#include "error.h"
#include "flow/flow.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "elf/elf.h"
#include "flow/events.h"
#include "flow/loader.h"
#include "flow/ring.h"
#include "mem/arena.h"
#include "native/unwind.h"
#include "output/flow.h"
#include "target/inject.h"
#include "target/launch.h"
#include "target/pidns.h"
#include "target/ptrace.h"
#include "target/seccomp.h"

/*
 * Installing the hook
 * -------------------
 * <=3.11: the hook is a profile function (c_profilefunc) per thread
 *   state. With every thread stopped, pytrace writes it into each thread
 *   state itself, exactly as PyEval_SetProfile(agent_profile, NULL) would
 *   (plus use_tracing): no code has to run in the target, so this works
 *   even when every thread is blocked in a system call.
 * 3.12+: the hook is a sys.monitoring tool, which only code holding the
 *   GIL can register. pytrace queues agent_install as a pending call on
 *   the interpreter's own queue (run by whichever thread next checks its
 *   eval breaker, which pytrace sets). If no thread runs bytecode within
 *   a moment, it injects a call into a thread blocked in a system call
 *   whose native stack holds no lock-taking function: the call takes the
 *   GIL (PyGILState_Ensure), installs, releases it, and the thread resumes
 *   its system call.
 * Launch: a breakpoint at the eval loop's entry, hit once the runtime is
 *   initialised; there the thread holds the GIL at a function boundary,
 *   and the same injected call installs the hook before the next frame.
 *
 * Detaching
 * ---------
 * pytrace sets ctx.stop; the next event in any thread (holding the GIL)
 * removes every hook and marks the ring DETACHED. With no event within
 * DETACH_WAIT_MS (all threads idle), pytrace stops the threads, takes the
 * ring away (ctx.ring = 0, munmap in the target) and, on <=3.11, clears
 * the thread states' hooks itself; what needs the GIL (dropping the code
 * object references, the threading hook, the sys.monitoring tool) happens
 * at the target's next event, which finds stop set.
 */

#define DETACH_WAIT_MS 300
#define DETACH_GIVE_UP_MS 5000
#define RING_DATA_OFFSET 4096   /* where the loader put the records */
#define CONSUMER_SLEEP_US 5000
#define PENDING_WAIT_MS 300
#define MAX_THREADS 4096

struct flow_session {
	const struct flow_options *opt;
	volatile int *stop;
	struct flow_stats *stats;
	pid_t pid;
	bool launched;
	bool child_reaped;
	struct pt_launch launch;     /* launched: the program, our child */
	volatile int *interrupted;   /* launched: the caller's signal word */
	volatile int own_stop;       /* launched: what *stop points at */
	struct pt_maps maps;
	struct pt_mem mem;
	struct pt_python py;
	bool have_maps, have_py;
	struct flow_agent agent;
	bool agent_loaded;
	bool monitoring;
	bool other_pidns;            /* a container's: its thread ids are not ours */
	int target_pidfd;
	struct pt_flow_out *out;
	struct flow_events *ev;
	struct flow_ring ring;       /* the consumer's state */
	bool ring_lied;              /* the target broke the ring's rules */
};

static int32_t session_our_tid(void *arg, int32_t tid)
{
	const struct flow_session *s = arg;

	return (int32_t)pt_pidns_our_tid(s->pid, (pid_t)tid);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

#define CTX_FIELD(f) offsetof(struct pt_agent_ctx, f)

/* ------------------------------------------------------------------ */
/* The target                                                          */

static int session_open_python(struct flow_session *s, struct pt_error *err)
{
	int rc;

	if (s->have_py) {
		pt_python_fini(&s->py);
		s->have_py = false;
	}
	if (s->have_maps)
		pt_maps_free(&s->maps);
	s->have_maps = false;
	if ((rc = pt_maps_read(s->pid, &s->maps)) < 0) {
		char task[64];
		struct stat st;
		/* A zombie leader whose threads run on (pthread_exit in main):
		 * /proc/PID/maps is empty, but the process is there. */
		snprintf(task, sizeof(task), "/proc/%d/task", (int)s->pid);
		if (stat(task, &st) == 0 && st.st_nlink > 3)
			return pt_error_set(err, PT_E_EXITED,
					    "process %d: its main thread has exited while other threads run on; "
					    "flow cannot load its agent into such a process (dump and stacks read it)",
					    (int)s->pid);
		return pt_error_set(err, PT_E_EXITED, "cannot read the mappings of process %d",
				    (int)s->pid);
	}
	s->have_maps = true;
	rc = pt_python_detect(s->pid, &s->maps, &s->mem, &s->py, err);
	if (rc < 0)
		return rc;
	s->have_py = true;
	s->monitoring = s->py.off.mon_py_start != PYV_NONE;
	return 0;
}

/* Where the runtime's "initialised" flag lives: _PyRuntime.initialized
 * (3.7+), or the static that Py_IsInitialized() returns (decoded from its
 * "mov flag(%rip),%eax; ret"). 0 if unknown. */
static uint64_t session_initialized_addr(struct flow_session *s)
{
	struct pt_elf *elf;
	uint64_t fn, addr = 0;
	uint8_t code[7];

	if (s->py.runtime && s->py.off.runtime_initialized != PYV_NONE)
		return s->py.runtime + (uint64_t)s->py.off.runtime_initialized;
	if (pt_elf_open_mapped(s->pid, s->py.info.runtime_path, &elf) < 0)
		return 0;
	if (pt_elf_symbol(elf, "Py_IsInitialized", &fn, NULL) &&
	    pt_elf_read_vaddr(elf, fn, code, sizeof(code)) == 0 && code[0] == 0x8b &&
	    code[1] == 0x05 && code[6] == 0xc3) {
		int32_t disp;
		memcpy(&disp, code + 2, 4);
		addr = fn + 6 + (uint64_t)(int64_t)disp + s->py.bias;
	}
	pt_elf_close(elf);
	return addr;
}

static int session_initialized(struct flow_session *s, uint64_t addr)
{
	int32_t v;

	if (!addr)
		return -1;
	return pt_mem_read_i32(&s->mem, addr, &v) < 0 ? -1 : v != 0;
}

/* The launched program is gone: its end is the session's result. */
static void launch_note_exit(struct flow_session *s)
{
	s->child_reaped = true;
	s->stats->target_exited = s->launch.status != -1;
	s->stats->target_status = s->launch.status;
	s->stats->target_killed = s->launch.killed;
}

static bool target_alive(struct flow_session *s)
{
	if (s->launched) {
		if (s->child_reaped)
			return false;
		if (pt_launch_poll(&s->launch))  /* passes signals on, too */
			return true;
		launch_note_exit(s);
		return false;
	}
	if (s->target_pidfd >= 0) {
		struct pollfd p = { .fd = s->target_pidfd, .events = POLLIN };
		if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
			s->stats->target_exited = true;
			return false;
		}
		return true;
	}
	if (kill(s->pid, 0) < 0 && errno == ESRCH) {
		s->stats->target_exited = true;
		return false;
	}
	return true;
}

/* The thread that runs injected system calls: one whose stop carries no
 * signal if there is one (running it discards that stop's signal);
 * otherwise the first, whose signal joins those re-sent on resume. */
static pid_t inject_thread(struct flow_session *s, struct pt_stopset *set)
{
	size_t k = 0;

	for (size_t i = 0; set->sigs && i < set->n; i++) {
		if (!set->sigs[i]) {
			k = i;
			break;
		}
	}
	if (set->sigs && set->sigs[k] && s->agent.n_sigs < sizeof(s->agent.sigs) / sizeof(s->agent.sigs[0])) {
		s->agent.sigs[s->agent.n_sigs++] = set->sigs[k];
		set->sigs[k] = 0;
	}
	return set->tids[k];
}

static void session_resume(struct flow_session *s, struct pt_stopset *set)
{
	pid_t tid = s->agent.tid;

	pt_ptrace_resume_all(set);
	for (size_t i = 0; i < s->agent.n_sigs; i++)
		syscall(SYS_tgkill, s->pid, tid, s->agent.sigs[i]);
	s->agent.n_sigs = 0;
}

/* ------------------------------------------------------------------ */
/* Installing                                                          */

static uint32_t ring_state(struct flow_session *s)
{
	return __atomic_load_n(&s->agent.ring->state, __ATOMIC_ACQUIRE);
}

static int write_width(struct pt_mem *mem, uint64_t addr, int size, uint32_t v)
{
	uint8_t b = (uint8_t)v;

	return size == 1 ? pt_mem_write(mem, addr, &b, 1) : pt_mem_write(mem, addr, &v, 4);
}

/* Sets (func != 0) or clears the profile function of a thread state the
 * way PyEval_SetProfile does, for <=3.11, from outside (thread stopped). */
static int tstate_write_profile(struct flow_session *s, uint64_t ts, uint64_t func)
{
	const struct pyv_offsets *o = &s->py.off;
	uint64_t zero = 0, trace = 0;
	int rc;

	if ((rc = pt_mem_write(&s->mem, ts + (uint64_t)o->tstate_c_profileobj, &zero, 8)) < 0 ||
	    (rc = pt_mem_write(&s->mem, ts + (uint64_t)o->tstate_c_profilefunc, &func, 8)) < 0 ||
	    (rc = pt_mem_read_u64(&s->mem, ts + (uint64_t)o->tstate_c_tracefunc, &trace)) < 0)
		return rc;
	uint32_t on = func || trace ? (uint32_t)o->use_tracing_on : 0;
	if (o->tstate_use_tracing != PYV_NONE)
		return write_width(&s->mem, ts + (uint64_t)o->tstate_use_tracing, o->use_tracing_size, on);
	uint64_t cframe;
	if ((rc = pt_mem_read_u64(&s->mem, ts + (uint64_t)o->tstate_cframe, &cframe)) < 0)
		return rc;
	if (!cframe)
		return 0;
	return write_width(&s->mem, cframe + (uint64_t)o->cframe_use_tracing, o->use_tracing_size, on);
}

static int session_tstates(struct flow_session *s, struct pt_pytstate **out, size_t *n)
{
	struct pt_pytstate *ts = malloc(MAX_THREADS * sizeof(*ts));

	if (!ts)
		return -ENOMEM;
	int rc = pt_python_list_tstates(&s->py, &s->mem, ts, MAX_THREADS, n);
	if (rc < 0) {
		free(ts);
		return rc;
	}
	*out = ts;
	return 0;
}

/* The PEP 523 hook slot of every interpreter that has threads: set to
 * func (checking that none holds another hook first), or, with func 0,
 * cleared where it holds ours. */
static int interps_write_eval(struct flow_session *s, const struct pt_pytstate *ts, size_t n,
			      uint64_t func)
{
	uint64_t off = (uint64_t)s->py.off.interp_eval_frame, cur;
	uint64_t dflt_fn = s->agent.ctx.api._PyEval_EvalFrameDefault;
	/* unhooked: the default function up to 3.10, NULL in 3.11 (which
	 * inlines Python calls only then) */
	uint64_t dflt = s->py.off.frame_frame != PYV_NONE ? 0 : dflt_fn;

	for (int pass = func ? 0 : 1; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			bool seen = false;
			for (size_t k = 0; k < i && !seen; k++)
				seen = ts[k].interp == ts[i].interp;
			if (seen || pt_mem_read_u64(&s->mem, ts[i].interp + off, &cur) < 0)
				continue;
			if (pass == 0 && cur && cur != func && cur != dflt_fn)
				return -EBUSY;
			uint64_t v = func ? func : dflt;
			if (pass == 1 && (func || cur == s->agent.fn_eval) &&
			    pt_mem_write(&s->mem, ts[i].interp + off, &v, 8) < 0)
				return -EFAULT;
		}
	}
	return 0;
}

/* <=3.11, every thread stopped: our hook into every interpreter (PEP 523)
 * or our profile function into every thread state. */
static int install_direct(struct flow_session *s, struct pt_error *err)
{
	const struct pyv_offsets *o = &s->py.off;
	struct pt_pytstate *ts;
	size_t n;
	int rc;

	if (session_tstates(s, &ts, &n) < 0)
		return pt_error_set(err, PT_E_INTERNAL, "cannot read the thread states of process %d",
				    (int)s->pid);
	if (n == 0) {
		free(ts);
		return pt_error_set(err, PT_FLOW_E_NOCODE,
				    "process %d has no Python thread state (not running Python code)",
				    (int)s->pid);
	}
	if (s->agent.ctx.flags & PT_AGENT_F_EVALHOOK) {
		s->agent.ctx.state = PT_AGENT_INSTALLED;
		s->agent.ring->state = PT_AGENT_INSTALLED;
		rc = flow_agent_write_u32(&s->agent, &s->mem, CTX_FIELD(state), PT_AGENT_INSTALLED);
		if (rc == 0)
			rc = interps_write_eval(s, ts, n, s->agent.fn_eval);
		free(ts);
		if (rc == -EBUSY)
			return pt_error_set(err, PT_FLOW_E_BUSY,
					    "process %d already has a frame evaluation hook (PEP 523: a "
					    "debugger or JIT); pytrace flow would replace it", (int)s->pid);
		if (rc < 0)
			return pt_error_set(err, PT_E_INTERNAL, "cannot set the hook in process %d",
					    (int)s->pid);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t f = 0;
		if (pt_mem_read_u64(&s->mem, ts[i].addr + (uint64_t)o->tstate_c_profilefunc, &f) == 0 &&
		    f) {
			free(ts);
			const char *miss = s->py.off.interp_eval_frame != PYV_NONE &&
					   !(s->agent.ctx.flags & PT_AGENT_F_CCALLS) ?
					   flow_evalhook_misses(&s->py) : NULL;
			if (miss)
				return pt_error_set(err, PT_FLOW_E_BUSY,
						    "process %d already has a profile function (sys.setprofile, "
						    "cProfile or another pytrace flow) in a thread; pytrace flow "
						    "would replace it (CPython %s needs it: its frame-evaluation "
						    "hook misses the calls %s makes inline)",
						    (int)s->pid, s->py.info.version, miss);
			return pt_error_set(err, PT_FLOW_E_BUSY,
					    "process %d already has a profile function (sys.setprofile, "
					    "cProfile or another pytrace flow) in a thread; pytrace flow "
					    "would replace it", (int)s->pid);
		}
	}
	s->agent.ctx.state = PT_AGENT_INSTALLED;
	s->agent.ring->state = PT_AGENT_INSTALLED;
	rc = flow_agent_write_u32(&s->agent, &s->mem, CTX_FIELD(state), PT_AGENT_INSTALLED);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = tstate_write_profile(s, ts[i].addr, s->agent.fn_profile);
	free(ts);
	if (rc < 0)
		return pt_error_set(err, PT_E_INTERNAL, "cannot set the profile hook in process %d",
				    (int)s->pid);
	return 0;
}

/* 3.12+: how many interpreters the process runs now, read from outside
 * (capped at 256; 0 if unreadable). sys.monitoring is per interpreter:
 * only the one that ran the install is traced, and pytrace says so. */
static uint32_t count_interpreters(struct flow_session *s)
{
	const struct pyv_offsets *o = &s->py.off;
	uint64_t interp = 0;
	uint32_t n = 0;

	if (!s->py.runtime || o->interp_next == PYV_NONE ||
	    pt_mem_read_u64(&s->mem, s->py.runtime + (uint64_t)o->runtime_interpreters_head, &interp) < 0)
		return 0;
	while (interp && n < 256) {
		n++;
		if (pt_mem_read_u64(&s->mem, interp + (uint64_t)o->interp_next, &interp) < 0)
			break;
	}
	return n;
}

/* 3.12+, every thread stopped: agent_install on the interpreter's own
 * pending-call queue, and the eval breaker set so a thread looks at it.
 * Returns 0, or -EBUSY if the queue is locked or full right now. */
static int queue_pending_call(struct flow_session *s)
{
	const struct pyv_offsets *o = &s->py.off;
	uint64_t interp, q, func = s->agent.fn_install, zero = 0;
	int32_t first, last;

	if (!s->py.runtime ||
	    pt_mem_read_u64(&s->mem, s->py.runtime + (uint64_t)o->runtime_interpreters_head, &interp) < 0 ||
	    !interp)
		return -ENOENT;
	q = interp + (uint64_t)o->interp_ceval_pending;
	if (pt_mem_read_i32(&s->mem, q + (uint64_t)o->pending_first, &first) < 0)
		return -EFAULT;
	if (o->pending_last != PYV_NONE) {
		/* 3.12: ring buffer [first, last) under a PyThread lock (a
		 * semaphore whose count is 1 when free). */
		uint64_t lock;
		uint32_t count = 1;
		if (pt_mem_read_u64(&s->mem, q + (uint64_t)o->pending_lock, &lock) < 0 ||
		    pt_mem_read_i32(&s->mem, q + (uint64_t)o->pending_last, &last) < 0)
			return -EFAULT;
		if (lock && pt_mem_read_u32(&s->mem, lock, &count) == 0 && count == 0)
			return -EBUSY;
		int32_t next = (last + 1) % o->pending_ncalls;
		if (next == first)
			return -EBUSY;
		uint64_t slot = q + (uint64_t)o->pending_calls + (uint64_t)last * (uint64_t)o->pending_call_size;
		int32_t one = 1;
		if (pt_mem_write(&s->mem, slot, &func, 8) < 0 || pt_mem_write(&s->mem, slot + 8, &zero, 8) < 0 ||
		    pt_mem_write(&s->mem, q + (uint64_t)o->pending_last, &next, 4) < 0 ||
		    pt_mem_write(&s->mem, q + (uint64_t)o->pending_calls_to_do, &one, 4) < 0 ||
		    pt_mem_write(&s->mem, interp + (uint64_t)o->interp_eval_breaker, &one, 4) < 0)
			return -EFAULT;
		return 0;
	}
	/* 3.13: [first, next) with a count, under a one-byte PyMutex; the
	 * breaker is per thread: set its bit in every thread state. */
	uint8_t mutex;
	int32_t npending, max;
	if (pt_mem_read_u8(&s->mem, q + (uint64_t)o->pending_mutex, &mutex) < 0 ||
	    pt_mem_read_i32(&s->mem, q + (uint64_t)o->pending_npending, &npending) < 0 ||
	    pt_mem_read_i32(&s->mem, q + (uint64_t)o->pending_max, &max) < 0 ||
	    pt_mem_read_i32(&s->mem, q + (uint64_t)o->pending_next, &last) < 0)
		return -EFAULT;
	if (mutex || npending >= max || npending >= o->pending_ncalls)
		return -EBUSY;
	uint64_t slot = q + (uint64_t)o->pending_calls + (uint64_t)last * (uint64_t)o->pending_call_size;
	int32_t next = (last + 1) % o->pending_ncalls;
	npending++;
	if (pt_mem_write(&s->mem, slot, &func, 8) < 0 || pt_mem_write(&s->mem, slot + 8, &zero, 8) < 0 ||
	    pt_mem_write(&s->mem, slot + 16, &zero, 4) < 0 ||
	    pt_mem_write(&s->mem, q + (uint64_t)o->pending_next, &next, 4) < 0 ||
	    pt_mem_write(&s->mem, q + (uint64_t)o->pending_npending, &npending, 4) < 0)
		return -EFAULT;
	struct pt_pytstate *ts;
	size_t n;
	if (session_tstates(s, &ts, &n) < 0)
		return -EFAULT;
	for (size_t i = 0; i < n; i++) {
		uint64_t b;
		uint64_t at = ts[i].addr + (uint64_t)o->tstate_eval_breaker;
		if (ts[i].interp == interp && pt_mem_read_u64(&s->mem, at, &b) == 0) {
			b |= (uint64_t)o->eval_breaker_calls_bit;
			pt_mem_write(&s->mem, at, &b, 8);
		}
	}
	free(ts);
	return 0;
}

/* Waits until the agent reports installed or failed (or the target is
 * gone): 1 installed, 0 still waiting after timeout_ms, negative on
 * failure with err set. */
static int wait_installed(struct flow_session *s, unsigned timeout_ms, struct pt_error *err)
{
	uint64_t until = now_ms() + timeout_ms;

	for (;;) {
		uint32_t st = ring_state(s);
		if (st == PT_AGENT_INSTALLED)
			return 1;
		if (st == PT_AGENT_FAILED) {
			uint32_t e = 0, step = 0;
			flow_agent_read_u32(&s->agent, &s->mem, CTX_FIELD(error), &e);
			flow_agent_read_u32(&s->agent, &s->mem, CTX_FIELD(error_step), &step);
			if (e == PT_AGENT_E_PROFILER)
				return pt_error_set(err, PT_FLOW_E_BUSY,
						    "process %d already has a profile function; pytrace flow "
						    "would replace it", (int)s->pid);
			if (e == PT_AGENT_E_NOTOOL)
				return pt_error_set(err, PT_FLOW_E_BUSY,
						    "process %d uses every sys.monitoring tool id", (int)s->pid);
			return pt_error_set(err, PT_E_INTERNAL,
					    "installing the hook in process %d failed (error %u, step %u)",
					    (int)s->pid, e, step);
		}
		if (!target_alive(s))
			return pt_error_set(err, PT_E_EXITED, "process %d exited", (int)s->pid);
		if (*s->stop || now_ms() >= until)
			return 0;
		sleep_us(1000);
	}
}

/* Native functions a thread must not be inside when we make it take the
 * GIL and call into the interpreter: lock holders and waiters of the
 * GIL, the allocator, the dynamic loader, fork. */
static bool symbol_unsafe(const char *sym)
{
	static const char *const prefixes[] = {
		"take_gil", "drop_gil", "PyEval_RestoreThread", "PyEval_AcquireThread",
		"PyEval_AcquireLock", "PyEval_SaveThread", "PyGILState_", "_PyThreadState_Attach",
		"_PyThreadState_Detach", "PyThreadState_Swap", "_PyEval_AcquireLock",
		"_PyEval_ReleaseLock", "make_pending_calls",
		"malloc", "free", "calloc", "realloc", "_int_", "__libc_malloc", "__libc_free",
		"__libc_calloc", "__libc_realloc", "tcache", "arena_", "sysmalloc", "_dl_", "dl_",
		"__libc_dlopen", "dlopen", "dlclose", "dlsym", "fork", "_Fork", "__libc_fork",
		"PyOS_AfterFork", "pthread_mutex_lock", "__pthread_mutex_lock", "__lll_lock",
		"pthread_once", "__pthread_once", "_IO_", "__GI__IO", "PyMem_", "_PyObject_Malloc",
		"_PyObject_Free", "PyObject_Malloc", "PyObject_Free", "gc_collect", "_PyGC",
		"subtype_dealloc", "PyThread_acquire_lock",
	};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(sym, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Blocking system calls a Python thread makes with the GIL released. */
static bool syscall_blocks_outside_python(long nr)
{
	switch (nr) {
	case 0: case 7: case 17: case 19: case 23: case 34: case 35: case 43: case 45: case 47:
	case 61: case 202: case 230: case 232: case 247: case 270: case 271: case 281: case 288:
	case 299:
		return true;
	}
	return false;
}

/*
 * 3.11+: the innermost eval-loop invocation of the thread whose fs_base is
 * fs, by address rather than by symbol (a distro build's loop may have no
 * symbol of its own): the innermost Python frame group ends at an entry
 * marker (3.11's _PyCFrame, 3.12+'s entry/shim frame) that is a local of
 * the invocation running the group, so the native frame whose stack range
 * [sp_k, sp_k+1) holds it is that invocation. Returns k, or -1 when the
 * thread runs no Python code or the proof fails.
 */
static int innermost_eval_by_anchor(struct flow_session *s, uint64_t fs,
				    const struct pt_unwound_frame *frames, size_t n)
{
	struct pt_pytstate *ts;
	size_t nts;
	uint64_t tstate = 0, anchor = 0;
	int at = -1;

	if (pyv_frame_model(&s->py) == PYV_FRAMES_OBJECTS || session_tstates(s, &ts, &nts) < 0)
		return -1;
	for (size_t i = 0; i < nts; i++)
		if (ts[i].pthread_id == fs)
			tstate = ts[i].addr;
	free(ts);
	if (!tstate)
		return -1;
	struct pt_arena *arena = pt_arena_new();
	struct pt_pyframe *py = malloc(256 * sizeof(*py));
	size_t npy = 0;
	const char *why = NULL;
	if (arena && py && pt_python_walk(&s->py, &s->mem, tstate, arena, py, 256, &npy, &why) == 0)
		for (size_t i = 0; i < npy; i++)
			if (py[i].group_end) {
				anchor = py[i].anchor;
				break;
			}
	free(py);
	pt_arena_free(arena);
	if (!anchor)
		return -1;
	for (size_t k = 0; k + 1 < n; k++) {
		if (!frames[k].sp)
			continue;
		size_t j = k + 1;
		while (j < n && !frames[j].sp)
			j++;
		/* Frames with an unknown sp between k and j share the range:
		 * which of them holds the anchor cannot be told. */
		if (j == n || j != k + 1)
			continue;
		if (frames[k].sp <= anchor && anchor < frames[j].sp) {
			at = (int)k;
			break;
		}
	}
	return at;
}

/*
 * Picks a thread for an injected call: stopped in a blocking system call,
 * with a native stack that unwinds to a known Python frame and holds no
 * lock-taking function (whose state the call could disturb). A thread
 * waiting on a futex is accepted only when its stack proves it is a
 * Python-level wait (a Python lock, not the GIL or malloc).
 */
static int choose_call_thread(struct flow_session *s, struct pt_stopset *set,
			      struct pt_unwinder *uw, struct user_regs_struct *regs_out)
{
	struct pt_unwound_frame *frames = malloc(512 * sizeof(*frames));
	int best = -1;

	if (!frames)
		return -1;
	for (size_t i = 0; i < set->n && best < 0; i++) {
		struct user_regs_struct regs;
		if (pt_ptrace_get_regs(set->tids[i], &regs) < 0)
			continue;
		long nr = pt_inject_stopped_syscall(&regs);
		if (nr < 0 || !syscall_blocks_outside_python(nr))
			continue;
		bool safe = true, python = false;
		if (uw) {
			size_t n = 0;
			const char *why = NULL;
			if (pt_unwinder_unwind(uw, set->tids[i], &regs, frames, 512, &n, &why) < 0 || n == 0)
				continue;
			int eval_at = innermost_eval_by_anchor(s, regs.fs_base, frames, n);
			for (size_t k = 0; k < n && safe; k++) {
				struct pt_symbol sym = { 0 };
				uint64_t pc = frames[k].is_activation ? frames[k].pc : frames[k].pc - 1;
				/* Outside the innermost eval loop, the thread is
				 * running Python code as usual. */
				if ((int)k == eval_at || pyv_pc_is_eval(&s->py, pc)) {
					python = true;
					break;
				}
				if (pt_unwinder_symbolize(uw, &frames[k], &sym) == 0 && sym.symbol &&
				    symbol_unsafe(sym.symbol)) {
					/* a Python-level lock wait is fine */
					safe = nr == 202 && !strncmp(sym.symbol, "PyThread_acquire_lock", 21) &&
					       k > 0;
					if (safe)
						break;
				}
			}
			if (!python)
				safe = false;
		} else {
			safe = nr != 202;  /* without unwinding, no futex waits */
		}
		if (safe) {
			best = (int)i;
			*regs_out = regs;
		}
	}
	free(frames);
	return best;
}

/* Sends thread tid (stopped, registers regs) through the agent's
 * injected-call entry; it continues where it was afterwards. */
static int inject_install_call(struct flow_session *s, pid_t tid, const struct user_regs_struct *regs)
{
	struct user_regs_struct cont, r;
	struct pt_agent_call_frame f = { 0 };

	pt_inject_continue_regs(regs, &cont);
	f.r15 = cont.r15, f.r14 = cont.r14, f.r13 = cont.r13, f.r12 = cont.r12;
	f.rbp = cont.rbp, f.rbx = cont.rbx, f.r11 = cont.r11, f.r10 = cont.r10;
	f.r9 = cont.r9, f.r8 = cont.r8, f.rax = cont.rax, f.rcx = cont.rcx;
	f.rdx = cont.rdx, f.rsi = cont.rsi, f.rdi = cont.rdi, f.rip = cont.rip;
	f.rflags = cont.eflags, f.rsp = cont.rsp;
	f.busy = 1;
	if (pt_mem_write(&s->mem, s->agent.call_frame_addr, &f, sizeof(f)) < 0)
		return -EFAULT;
	r = cont;
	r.rip = s->agent.fn_call_entry;
	r.rsp = (cont.rsp - 1024) & ~15ull;   /* well below the red zone */
	r.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r) < 0)
		return -errno;
	return 0;
}

/* 3.12+ fallback: an injected call in a blocked thread. 1 if one was
 * started, 0 if no thread qualifies, negative on failure. */
static int install_by_call(struct flow_session *s, struct pt_error *err)
{
	struct pt_unwinder *uw = NULL;
	struct pt_error uerr = { 0 };
	struct pt_stopset set;
	struct user_regs_struct regs;
	int rc;

	pt_unwinder_open(s->pid, &s->mem, &uw, &uerr);
	if ((rc = pt_ptrace_stop_all(s->pid, &set, err)) < 0) {
		pt_unwinder_close(uw);
		return rc;
	}
	if (ring_state(s) != PT_AGENT_LOADED) {
		pt_ptrace_resume_all(&set);
		pt_unwinder_close(uw);
		return 1;
	}
	int k = choose_call_thread(s, &set, uw, &regs);
	rc = 0;
	if (k >= 0) {
		rc = inject_install_call(s, set.tids[k], &regs);
		rc = rc < 0 ? pt_error_set(err, PT_E_INTERNAL, "cannot prepare thread %d: %s",
					   (int)set.tids[k], strerror(-rc))
			    : 1;
	}
	pt_ptrace_resume_all(&set);
	pt_unwinder_close(uw);
	return rc;
}

/* Gives up on an agent that never got installed: make sure a late
 * pending or injected call does nothing, and take the ring back. */
static void abandon_agent(struct flow_session *s)
{
	struct pt_stopset set;
	struct pt_error e2 = { 0 };
	int64_t r;

	flow_agent_write_u32(&s->agent, &s->mem, CTX_FIELD(stop), 1);
	if (pt_ptrace_stop_all(s->pid, &set, &e2) < 0)
		return;
	uint64_t zero = 0;
	pt_mem_write(&s->mem, s->agent.ctx_addr + CTX_FIELD(ring), &zero, 8);
	s->agent.tid = inject_thread(s, &set);
	s->agent.ptrace_options = 0;  /* seized afresh */
	flow_agent_syscall(&s->agent, 11 /* munmap */, s->agent.ring_addr, s->agent.ring_size, 0, 0, 0,
			   0, &r);
	s->agent.ring_addr = 0;
	session_resume(s, &set);
}

static int install_monitoring(struct flow_session *s, struct pt_error *err)
{
	int rc = wait_installed(s, PENDING_WAIT_MS, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = install_by_call(s, err);
	if (rc < 0)
		return rc;
	rc = wait_installed(s, s->opt->install_timeout_ms, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (*s->stop)
		return pt_error_set(err, PT_FLOW_E_NOCODE, "interrupted before the hook was installed");
	return pt_error_set(err, PT_FLOW_E_NOCODE,
			    "process %d ran no Python code within %.1fs, so the hook could not be "
			    "installed (every thread is blocked outside the interpreter)",
			    (int)s->pid, s->opt->install_timeout_ms / 1000.0);
}

/* Every thread stopped: registers, the tid offset, the agent. */
static int load_agent(struct flow_session *s, struct pt_stopset *set, struct pt_error *err)
{
	uint64_t *fs = calloc(set->n, sizeof(*fs));
	pid_t *own = calloc(set->n, sizeof(*own));
	int rc;

	s->other_pidns = pt_pidns_differs(s->pid);
	if (!fs || !own) {
		free(fs);
		free(own);
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < set->n; i++) {
		struct user_regs_struct regs;
		if (pt_ptrace_get_regs(set->tids[i], &regs) == 0)
			fs[i] = regs.fs_base;
		/* The thread control block holds the id the thread's own PID
		 * namespace gives it (a container's), which the agent reads. */
		own[i] = s->other_pidns ? pt_pidns_own_tid(s->pid, set->tids[i]) : set->tids[i];
	}
	s->agent.ctx.tid_offset = flow_find_tid_offset(&s->mem, own, fs, set->n);
	free(fs);
	free(own);
	/* The loader checks the injecting thread's seccomp filters; any thread
	 * may run the agent, so all must have the same. */
	pid_t via = inject_thread(s, set);
	int mode0, nf0;
	if (pt_seccomp_thread_state(s->pid, via, &mode0, &nf0) == 0) {
		for (size_t i = 0; i < set->n; i++) {
			int mode, nf;
			if (pt_seccomp_thread_state(s->pid, set->tids[i], &mode, &nf) == 0 &&
			    (mode != mode0 || nf != nf0))
				return pt_error_set(err, PT_FLOW_E_SANDBOX,
						    "the threads of process %d have different seccomp "
						    "filters (thread %d: mode %d, %d filters; thread %d: "
						    "mode %d, %d): pytrace flow cannot check them all",
						    (int)s->pid, (int)via, mode0, nf0, (int)set->tids[i],
						    mode, nf);
		}
	}
	/* launched: traced since exec with exec events; attached: seized bare */
	s->agent.ptrace_options = s->launched ? PTRACE_O_TRACEEXEC : 0;
	rc = flow_agent_load(&s->agent, via, &s->maps, &s->mem, s->opt->ring_bytes,
			     err);
	if (rc == 0)
		s->agent_loaded = true;
	return rc;
}

static unsigned agent_flags(const struct flow_options *opt)
{
	return (opt->timestamps || opt->durations || opt->sink ? PT_AGENT_F_TIMESTAMPS : 0) |
	       (opt->c_calls ? PT_AGENT_F_CCALLS : 0);
}

static int session_attach(struct flow_session *s, struct pt_error *err)
{
	pt_process *proc = NULL;
	struct pt_stopset set;
	int rc;

	/* The library's checks give the documented messages (permission,
	 * not Python, version). */
	if ((rc = pt_process_open(s->pid, 0, &proc, err)) < 0)
		return rc;
	pt_process_close(proc);
	if ((rc = session_open_python(s, err)) < 0)
		return rc;
	uint64_t init_addr = session_initialized_addr(s);
	if (session_initialized(s, init_addr) == 0)
		return pt_error_set(err, PT_FLOW_E_NOCODE,
				    "Python in process %d is not initialised (starting up or shut down)",
				    (int)s->pid);
	if ((rc = flow_agent_prepare(&s->agent, s->pid, &s->maps, &s->py, agent_flags(s->opt), err)) < 0)
		return rc;
	s->stats->filtered_in_target = flow_agent_set_filter(&s->agent, s->opt);
	s->target_pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);

	if ((rc = pt_ptrace_stop_all(s->pid, &set, err)) < 0)
		return rc;
	rc = load_agent(s, &set, err);
	if (rc == 0 && !s->monitoring) {
		rc = install_direct(s, err);
		if (rc < 0)
			flow_agent_write_u32(&s->agent, &s->mem, CTX_FIELD(stop), 1);
	} else if (rc == 0) {
		queue_pending_call(s);  /* if busy, the injected call is next */
	}
	session_resume(s, &set);
	if (rc < 0) {
		if (s->agent_loaded)
			abandon_agent(s);
		return rc;
	}
	if (s->monitoring && (rc = install_monitoring(s, err)) < 0) {
		abandon_agent(s);
		return rc;
	}
	if (s->monitoring)
		s->stats->interpreters = count_interpreters(s);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Launching (target/launch.c starts the program and holds the
 * breakpoints; this is only where they go)                            */

static uint64_t auxv_entry(pid_t pid)
{
	char path[64];
	uint64_t kv[2], entry = 0;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (read(fd, kv, sizeof(kv)) == (ssize_t)sizeof(kv) && kv[0]) {
		if (kv[0] == 9 /* AT_ENTRY */)
			entry = kv[1];
	}
	close(fd);
	return entry;
}

/* pytrace failed to set up the program it started: do not leave it
 * running half-set-up behind the user's back. */
static int launch_abort(struct flow_session *s, int rc)
{
	if (!s->child_reaped) {
		pt_launch_kill(&s->launch);
		pt_launch_wait_exit(&s->launch);
		s->child_reaped = true;
	}
	return rc;
}

/*
 * Starts the program under ptrace and stops it where the hook can go in:
 * per exec (a wrapper may exec Python; pyenv's shims do, twice), a
 * breakpoint at the program's entry, where the dynamic loader has mapped
 * libpython; then one at the eval loop's entry, stepped over until the
 * runtime says it is initialised. There the thread holds the GIL at a
 * function boundary: the agent is loaded and the thread sent through
 * agent_install on its way in, and the program is let go (untraced: it
 * still dies with pytrace, target/launch.c). Returns 0 once installed, 1
 * if the program ended before any Python code ran (its status stands).
 */
static int session_launch(struct flow_session *s, struct pt_error *err)
{
	const char *prog = s->opt->argv[0];
	struct pt_launch_opts lo = { .ptrace_options = PTRACE_O_TRACEEXEC, .search_path = true };
	struct pt_breakpoint bp = { 0 };
	struct user_regs_struct regs;
	enum pt_launch_event ev;
	uint64_t init_addr = 0;
	bool have_python = false;
	int rc;

	if ((rc = pt_launch_spawn(&lo, prog, s->opt->argv, &s->launch, err)) < 0)
		return rc;
	s->launch.interrupted = s->interrupted;
	s->launch.from_terminal = s->opt->from_terminal;
	s->launch.grace_ms = s->opt->grace_ms;
	s->pid = s->launch.pid;
	s->launched = true;
	pt_mem_fini(&s->mem);
	pt_mem_init(&s->mem, s->pid);

	for (ev = pt_launch_wait(&s->launch);;) {
		if (ev == PT_LAUNCH_EXITED) {
			launch_note_exit(s);
			if (s->launch.execed)
				return 1;
			rc = pt_launch_exec_error(&s->launch, err);
			return rc < 0 ? rc : pt_error_set(err, 127, "%s exited before it started", prog);
		}
		if (ev == PT_LAUNCH_EXEC) {
			pt_breakpoint_forget(&bp);   /* gone with the old program */
			have_python = false;
			uint64_t entry = auxv_entry(s->pid);
			if (!entry || pt_breakpoint_insert(&bp, s->pid, entry) < 0)
				return launch_abort(s, pt_error_set(err, PT_E_INTERNAL,
								    "cannot stop %s at its entry point", prog));
			ev = pt_launch_resume(&s->launch, false, 0);
			continue;
		}
		if (pt_ptrace_get_regs(s->pid, &regs) < 0 || !pt_breakpoint_hit(&bp, &regs)) {
			ev = pt_launch_resume(&s->launch, false, SIGTRAP);  /* not ours */
			continue;
		}
		if (!have_python) {
			struct pt_error e2 = { 0 };
			pt_breakpoint_remove(&bp);
			rc = session_open_python(s, &e2);
			if (rc < 0 && e2.status == PT_E_VERSION) {
				/* a CPython flow cannot trace exactly: say so,
				 * rather than let it run untraced */
				*err = e2;
				return launch_abort(s, -e2.status);
			}
			if (rc < 0 || s->py.n_eval == 0) {
				/* not (yet) Python: maybe a wrapper that execs it */
				ev = pt_launch_resume(&s->launch, false, 0);
				continue;
			}
			have_python = true;
			init_addr = session_initialized_addr(s);
			if (pt_breakpoint_insert(&bp, s->pid, s->py.eval[0].lo) < 0)
				return launch_abort(s, pt_error_set(err, PT_E_INTERNAL,
								    "cannot set a breakpoint in %s", prog));
			ev = pt_launch_resume(&s->launch, false, 0);
			continue;
		}
		if (session_initialized(s, init_addr) != 0)
			break;
		ev = pt_breakpoint_step_over(&bp, &s->launch);
		if (ev == PT_LAUNCH_TRAP)
			ev = pt_launch_resume(&s->launch, false, 0);
	}

	/* At the eval loop's entry, GIL held. */
	pt_breakpoint_remove(&bp);
	pid_t tids[1] = { s->pid };
	struct pt_stopset set = { .pid = s->pid, .n = 1, .tids = tids };
	if ((rc = flow_agent_prepare(&s->agent, s->pid, &s->maps, &s->py, agent_flags(s->opt), err)) < 0)
		return launch_abort(s, rc);
	s->stats->filtered_in_target = flow_agent_set_filter(&s->agent, s->opt);
	if ((rc = load_agent(s, &set, err)) < 0)
		return launch_abort(s, rc);
	if (pt_ptrace_get_regs(s->pid, &regs) < 0 || inject_install_call(s, s->pid, &regs) < 0)
		return launch_abort(s, pt_error_set(err, PT_E_INTERNAL,
						    "cannot prepare the install call in %s", prog));
	pt_launch_detach(&s->launch);
	for (size_t i = 0; i < s->agent.n_sigs; i++)
		kill(s->pid, s->agent.sigs[i]);
	rc = wait_installed(s, s->opt->install_timeout_ms, err);
	if (rc == 0)
		rc = pt_error_set(err, PT_FLOW_E_NOCODE, "%s did not install the hook", prog);
	return rc < 0 ? launch_abort(s, rc) : 0;
}

/* ------------------------------------------------------------------ */
/* Consuming                                                           */

static void ring_publish(struct pt_ring_header *h, uint64_t tail)
{
	__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->producer_waiting, __ATOMIC_ACQUIRE)) {
		h->producer_waiting = 0;
		__atomic_add_fetch(&h->wake, 1, __ATOMIC_SEQ_CST);
		/* every producer: free-threaded, several may wait */
		syscall(SYS_futex, &h->wake, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
	}
}

static int sink_event(void *arg, const struct pt_ring_record *r)
{
	return flow_events_event(arg, r);
}

static int sink_def(void *arg, const struct pt_ring_record *r, const uint8_t *payload, size_t len)
{
	return flow_events_def(arg, r, payload, len);
}

static void sink_progress(void *arg, uint64_t tail)
{
	ring_publish(arg, tail);
}

/* Processes every record up to head and hands the room back. A ring that
 * lies (flow_ring_consume) is not read again: *rc = -EPROTO. */
static void consume(struct flow_session *s, uint64_t head, int *rc)
{
	struct flow_ring_sink sink = { sink_event, sink_def, sink_progress, s->ev, s->agent.ring };
	int r;

	if (s->ring_lied)
		return;
	r = flow_ring_consume(&s->ring, head, s->ev ? &sink : NULL, rc);
	if (r == FLOW_RING_LIED) {
		s->ring_lied = true;
		if (*rc == 0)
			*rc = -EPROTO;
	} else if (r < 0 && *rc == 0) {
		*rc = r;
	}
	ring_publish(s->agent.ring, s->ring.tail);
}

/* Detaching with no event to carry the request (every thread idle): take
 * the ring away and, on <=3.11, clear the hooks ourselves. Returns 1 when
 * done, 0 to retry a little later. */
static int detach_idle(struct flow_session *s)
{
	struct pt_stopset set;
	struct pt_error e2 = { 0 };
	uint32_t busy = 0;
	int64_t r;

	if (pt_ptrace_stop_all(s->pid, &set, &e2) < 0)
		return 1;  /* gone */
	/* The agent's own state, not the ring's mirror of it: a thread that
	 * has begun to uninstall (DRAINING, which the ring does not show)
	 * still uses the ring, and writes DETACHED into it at the end. */
	uint32_t st = 0;
	if (ring_state(s) != PT_AGENT_INSTALLED ||
	    flow_agent_read_u32(&s->agent, &s->mem, CTX_FIELD(state), &st) < 0 ||
	    st != PT_AGENT_INSTALLED) {
		pt_ptrace_resume_all(&set);
		return 1;
	}
	if (flow_agent_read_u32(&s->agent, &s->mem, CTX_FIELD(busy), &busy) < 0 || busy) {
		pt_ptrace_resume_all(&set);
		return 0;
	}
	if (!s->monitoring) {
		struct pt_pytstate *ts;
		size_t n;
		if (session_tstates(s, &ts, &n) == 0) {
			if (s->agent.ctx.flags & PT_AGENT_F_EVALHOOK)
				interps_write_eval(s, ts, n, 0);
			for (size_t i = 0; i < n; i++) {
				uint64_t f = 0;
				if (pt_mem_read_u64(&s->mem, ts[i].addr + (uint64_t)s->py.off.tstate_c_profilefunc,
						    &f) == 0 && f == s->agent.fn_profile)
					tstate_write_profile(s, ts[i].addr, 0);
			}
			free(ts);
		}
	}
	uint64_t zero = 0;
	pt_mem_write(&s->mem, s->agent.ctx_addr + CTX_FIELD(ring), &zero, 8);
	s->agent.tid = inject_thread(s, &set);
	s->agent.ptrace_options = 0;  /* seized afresh */
	flow_agent_syscall(&s->agent, 11 /* munmap */, s->agent.ring_addr, s->agent.ring_size, 0, 0,
			   0, 0, &r);
	s->agent.ring_addr = 0;
	session_resume(s, &set);
	return 1;
}

/* Whether the target still maps our ring (it does not after an exec).
 * An empty map is a process exiting: between exit_mm() and the exit
 * notification that makes its pidfd readable, /proc/PID/maps reads
 * empty. That is no exec (target_alive() will say it exited): taking it
 * for one printed "replaced its program" after traces that were whole. */
static bool ring_still_mapped(struct flow_session *s)
{
	char path[64], line[512];
	bool found = false, any = false;
	FILE *f;

	if (!s->agent.ring_addr)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)s->pid);
	if (!(f = fopen(path, "re")))
		return true;  /* gone: target_alive will say so */
	while (!found && fgets(line, sizeof(line), f)) {
		any = true;
		found = strtoull(line, NULL, 16) == s->agent.ring_addr;
	}
	fclose(f);
	return found || !any;
}

/* 3.12+: the most interpreters seen at once, for the report. */
static void session_note_interpreters(struct flow_session *s)
{
	uint32_t n = count_interpreters(s);

	if (n > s->stats->interpreters)
		s->stats->interpreters = n;
}

static int session_consume(struct flow_session *s)
{
	struct pt_ring_header *h = s->agent.ring;
	uint64_t detach_at = 0, detach_started = 0, last_check = 0;
	bool detaching = false, gone = false;
	unsigned idle = 0, maps_check = 0, interp_check = 0;
	int rc = 0;

	uint64_t started = now_ms(), ticked = started;

	flow_ring_init(&s->ring, (const void *)((const char *)h + RING_DATA_OFFSET),
		       s->agent.ring_cap);
	for (;;) {
		if (s->opt->on_tick) {
			uint64_t t = now_ms();
			if (t - ticked >= s->opt->tick_ms) {
				ticked = t;
				struct flow_progress p = {
					.events = s->ev ? flow_events_count(s->ev) : 0,
					.dropped = __atomic_load_n(&h->dropped, __ATOMIC_RELAXED),
					.elapsed_ms = t - started,
				};
				s->opt->on_tick(s->opt->tick_arg, &p);
			}
		}
		uint64_t head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
		if (s->monitoring && !gone && ++interp_check % 25 == 0)
			session_note_interpreters(s);
		if (head != s->ring.tail && !s->ring_lied) {
			consume(s, head, &rc);
			idle = 0;
			if (rc == 0 && !detaching && !*s->stop) {
				/* A launched program's signals are passed on (and
				 * its exit noticed) while pytrace is busy too, not
				 * only once the ring is drained. */
				uint64_t t = now_ms();
				if (s->launched && t - last_check >= 20) {
					last_check = t;
					if (!target_alive(s))
						gone = true;
				}
				continue;
			}
		}
		if (rc < 0 && !detaching) {
			/* output failed (reader gone) or the ring lied: stop */
			*s->stop = 1;
		}
		if (gone)
			break;  /* drained after the target exited */
		uint32_t st = ring_state(s);
		if (st == PT_AGENT_DETACHED) {
			/* the agent removed itself (our request, or it thought
			 * we were gone): take what is left */
			head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
			if (head == s->ring.tail || s->ring_lied)
				break;
			continue;
		}
		if (*s->stop && !detaching) {
			detaching = true;
			detach_at = detach_started = now_ms();
			flow_agent_write_u32(&s->agent, &s->mem, CTX_FIELD(stop), 1);
		}
		uint64_t t = now_ms();
		if (detaching && t - detach_started >= DETACH_GIVE_UP_MS) {
			/* An agent that neither detaches nor lets us take the
			 * ring (a target that lies about busy): stop reading. */
			break;
		}
		if (detaching && t - detach_at >= DETACH_WAIT_MS) {
			if (detach_idle(s))
				break;
			detach_at = t - DETACH_WAIT_MS / 2;
		}
		if (t - last_check >= 20) {
			last_check = t;
			if (!target_alive(s)) {
				gone = true;  /* one more pass to drain */
				continue;
			}
			if (++maps_check % 25 == 0 && !ring_still_mapped(s)) {
				/* exec replaced the program, agent and all */
				s->stats->target_execed = true;
				gone = true;
				continue;
			}
		}
		/* Nothing to read: sleep, then drain everything at once. A
		 * wake-up costs the target (it may share the CPU), the ring
		 * holds far more than a sleep's worth of events, and should it
		 * fill up the agent waits for us (back-pressure): so sleep
		 * long enough that wake-ups are rare, short enough that lines
		 * appear without visible delay. */
		/* Caught up: what is read is written now (tail -f on -o). */
		if (idle++ == 0 && s->out)
			pt_out_flow_flush(s->out);
		sleep_us(CONSUMER_SLEEP_US);
	}
	s->stats->dropped = h->dropped;
	s->stats->stalls = h->stalls;
	s->stats->skipped = h->skipped;
	s->stats->untraced_children = h->untraced_children;
	if (s->monitoring)
		session_note_interpreters(s);
	flow_ring_fini(&s->ring);
	return rc;
}

/* ------------------------------------------------------------------ */

int pt_flow_run(const struct flow_options *opt, volatile int *stop, struct flow_stats *stats,
		struct pt_error *err)
{
	struct flow_session s = { .opt = opt, .stop = stop, .stats = stats, .pid = opt->pid,
				  .target_pidfd = -1 };
	int rc;

	memset(stats, 0, sizeof(*stats));
	err->status = 0;
	err->msg[0] = 0;
	pt_mem_init(&s.mem, opt->pid);
	if (opt->argv) {
		/* The program we start is our child, as strace's: a signal is
		 * passed on to it and it is waited for (target/launch.c), not
		 * detached from. The session's own stop word is set only when
		 * the output fails. */
		s.interrupted = stop;
		s.stop = &s.own_stop;
		rc = session_launch(&s, err);
	} else {
		rc = session_attach(&s, err);
	}
	if (rc == 1) {
		/* the program ended before running Python code (a syntax
		 * error, --version): nothing to trace, its status stands */
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (opt->on_installed)
		opt->on_installed(s.pid, &s.py.info);

	if (opt->sink) {
		s.ev = flow_events_new(opt, pyv_line_table_kind(&s.py), opt->sink);
	} else {
		s.out = pt_out_flow_new(opt->out_fd, opt->json, opt->timestamps, opt->durations,
					opt->flat);
		if (s.out)
			pt_out_flow_set_stop(s.out, stop);
		struct flow_sink sink = { pt_out_flow_sink, s.out, true };
		s.ev = s.out ? flow_events_new(opt, pyv_line_table_kind(&s.py), &sink) : NULL;
	}
	if (!s.ev) {
		rc = pt_error_set(err, PT_E_INTERNAL, "out of memory");
		*s.stop = 1;
	} else if (s.other_pidns) {
		/* A container's process: print thread ids as dump and stacks do. */
		flow_events_set_tid_map(s.ev, session_our_tid, &s);
	}
	/* Runs even without a decoder: it is also what detaches. */
	int crc = session_consume(&s);
	stats->events = s.ev ? flow_events_count(s.ev) : 0;
	stats->lines = s.ev ? flow_events_lines(s.ev) : 0;
	if (s.out) {
		int oerr = pt_out_flow_error(s.out);
		int frc = pt_out_flow_free(s.out);
		if (!oerr && frc < 0)
			oerr = -frc;
		/* A failed output is the caller's to report (EPIPE: the reader
		 * went away; EINTR: given up while stopping; else a write
		 * error, ENOSPC, EIO, ...). */
		if (oerr) {
			stats->output_failed = true;
			stats->output_error = oerr;
			if (crc == -oerr)
				crc = 0;
		}
	}
	s.out = NULL;
	if (crc == -EPROTO && rc == 0)
		rc = pt_error_set(err, PT_E_INTERNAL,
				  "process %d broke the ring's rules (%s): tracing abandoned",
				  (int)s.pid, s.ring.why);
	else if (crc < 0 && rc == 0)
		rc = pt_error_set(err, PT_E_INTERNAL, crc == -ENOMEM ? "out of memory"
				  : "cannot decode the events: %s", strerror(-crc));
	if (s.launched && !s.child_reaped) {
		/* It does not outlive us. With nobody to read what it does (the
		 * output failed, not merely given up on an interrupt) or nothing
		 * to print it with, it is killed, as stacks does; else (an exec
		 * ended tracing, or it exits) it is waited for, signals passed
		 * on meanwhile. */
		if (crc < 0 || rc < 0 || (stats->output_failed && stats->output_error != EINTR))
			pt_launch_kill(&s.launch);
		pt_launch_wait_exit(&s.launch);
		launch_note_exit(&s);
	}
out:
	if (s.launched)
		pt_launch_close(&s.launch);
	flow_events_free(s.ev);
	if (s.out)
		pt_out_flow_free(s.out);
	if (s.agent_loaded)
		flow_agent_close(&s.agent);
	if (s.target_pidfd >= 0)
		close(s.target_pidfd);
	if (s.have_py)
		pt_python_fini(&s.py);
	if (s.have_maps)
		pt_maps_free(&s.maps);
	pt_mem_fini(&s.mem);
	return rc;
}
