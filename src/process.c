/* SPDX-License-Identifier: MIT */
/* The library's front door: open a target, take a snapshot of its stacks. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "mem/arena.h"
#include "mem/maps.h"
#include "mem/mem.h"
#include "native/unwind.h"
#include "python/asyncio.h"
#include "python/python.h"
#include "python/values.h"
#include "stack/merge.h"
#include "pytrace/pytrace.h"
#include "error.h"
#include "target/pidns.h"
#include "target/ptrace.h"

#define MAX_TSTATES 4096
#define MAX_PY_FRAMES 65536
#define MAX_NATIVE_FRAMES 65536   /* deep recursion: 2+ native frames per Python frame */

struct pt_process {
	pid_t pid;
	pid_t reader;                /* whose /proc maps and memory are read:
					the pid, or a live thread once the main
					thread has exited (a zombie leader has
					neither) */
	bool is_python;
	bool other_pidns;            /* a container's: its thread ids are not ours */
	struct pt_maps maps;
	struct pt_mem mem;
	struct pt_python py;
	struct pyv_types types;      /* for PT_SNAP_LOCALS, loaded on first use */
	struct pt_unwinder *uw;
	struct pt_pyframe *scratch;  /* MAX_PY_FRAMES, for walks */
	struct pt_unwound_frame *native_scratch; /* MAX_NATIVE_FRAMES */
};

/* Does the process exist at all (as opposed to exist but be forbidden)? */
static bool process_exists(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return stat(path, &st) == 0;
}

/* The state letter and flags (PF_*) of /proc/PID/stat (or of its thread
 * tid's, when tid is not pid): 0, or -1 if the process is gone. */
static int process_task_stat(pid_t pid, pid_t tid, char *state, unsigned long *pf)
{
	char path[96], buf[1024];
	FILE *f;
	size_t n;

	if (tid == pid)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (!(f = fopen(path, "re")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* "pid (comm) S ppid pgrp session tty_nr tpgid flags ...": comm
	 * may hold anything, so parse from its last ')'. */
	const char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", state, pf) != 2)
		return -1;
	return 0;
}

static int process_stat(pid_t pid, char *state, unsigned long *pf)
{
	return process_task_stat(pid, pid, state, pf);
}

#define PROCESS_PF_EXITING 0x00000004u
#define PROCESS_PF_KTHREAD 0x00200000u

/* Whether a process that could not be read is on its way out (gone, a
 * zombie, or exiting: its memory may already be gone). Then a failed read
 * means "it exited", whichever read failed. */
static bool process_task_exiting(pid_t pid, pid_t tid)
{
	char state;
	unsigned long pf;

	if (process_task_stat(pid, tid, &state, &pf) < 0)
		return true;
	return state == 'Z' || state == 'X' || (pf & PROCESS_PF_EXITING);
}

static bool process_exiting(pid_t pid)
{
	return process_task_exiting(pid, pid);
}

/* Whose maps and memory to read. A main thread that has exited
 * (pthread_exit) while others run on leaves a zombie leader: its /proc
 * maps, mem and exe are empty, but every live thread shares the address
 * space and shows it. The pid unless its leader is such a zombie. */
static pid_t process_reader(pid_t pid)
{
	char path[64];
	DIR *dir;
	struct dirent *de;
	pid_t reader = pid;

	if (!process_exiting(pid))
		return pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(dir = opendir(path)))
		return pid;
	while ((de = readdir(dir)) && reader == pid) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && !*end && tid != pid &&
		    !process_task_exiting(pid, (pid_t)tid))
			reader = (pid_t)tid;
	}
	closedir(dir);
	return reader;
}

/* Whether the process is on its way out: its leader (or, once the main
 * thread has exited, the thread read through) is gone, a zombie or
 * exiting. */
static bool process_gone(const struct pt_process *p)
{
	return process_task_exiting(p->pid, p->reader);
}

/* A test hook (tests/e2e/test_exit_codes.py): makes the target exit
 * between reading its mappings and reading its memory, the window in
 * which a process that exits on its own is misread. */
static void process_test_exit_window(pid_t pid)
{
	if (!getenv("PYTRACE_TEST_KILL_AFTER_MAPS"))
		return;
	kill(pid, SIGKILL);
	for (int i = 0; i < 10000 && !process_exiting(pid); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
}

int pt_process_open(pid_t pid, unsigned flags, pt_process **out, struct pt_error *err)
{
	struct pt_process *p;
	int rc;

	*out = NULL;
	err->status = 0;
	err->msg[0] = 0;
	if (pid <= 0)
		return pt_error_set(err, PT_E_USAGE, "invalid PID %d", (int)pid);
	if (!process_exists(pid))
		return pt_error_set(err, PT_E_NOPROC, "no such process: %d", (int)pid);
	p = calloc(1, sizeof(*p));
	if (!p)
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	p->pid = pid;
	p->reader = process_reader(pid);
	p->other_pidns = pt_pidns_differs(pid);
	pt_mem_init(&p->mem, p->reader);
	rc = pt_maps_read(p->reader, &p->maps);
	if (rc == -EACCES || rc == -EPERM) {
		pt_ptrace_explain_eperm(pid, err);
		rc = -PT_E_PERM;
		goto fail;
	} else if (rc < 0) {
		char state;
		unsigned long pf;
		if (process_stat(pid, &state, &pf) < 0)
			rc = pt_error_set(err, PT_E_NOPROC, "no such process: %d", (int)pid);
		else if (pf & PROCESS_PF_KTHREAD)
			rc = pt_error_set(err, PT_E_NOTPYTHON,
					  "process %d is a kernel thread: not a Python process", (int)pid);
		else
			rc = pt_error_set(err, PT_E_EXITED, "process %d has no mappings (exiting or a zombie)",
					  (int)pid);
		goto fail;
	}
	process_test_exit_window(pid);
	rc = pt_python_detect(p->reader, &p->maps, &p->mem, &p->py, err);
	if (rc == 0) {
		p->is_python = true;
		/* Reading memory needs the same permission as ptrace. */
		uint8_t probe;
		uint64_t at = p->py.runtime ? p->py.runtime : p->py.code_type;
		int mrc = pt_mem_read_u8(&p->mem, at, &probe);
		if (mrc == -EPERM || mrc == -EACCES) {
			pt_ptrace_explain_eperm(pid, err);
			rc = -PT_E_PERM;
			goto fail;
		}
	} else if (rc == -PT_E_NOTPYTHON && (flags & PT_OPEN_ALLOW_NON_PYTHON)) {
		err->status = 0;
		err->msg[0] = 0;
	} else {
		goto fail;
	}
	*out = p;
	return 0;
fail:
	/* A read failed because the process went away (not because its
	 * Python is unsupported or unreadable): it existed when we began. */
	if (rc != -PT_E_PERM && rc != -PT_E_NOPROC && rc != -PT_E_EXITED && process_gone(p))
		rc = pt_error_set(err, PT_E_EXITED, "process %d exited while being read", (int)pid);
	pt_process_close(p);
	return rc;
}

int pt_process_refresh(pt_process *p, struct pt_error *err)
{
	struct pt_maps maps;
	int rc;

	err->status = 0;
	err->msg[0] = 0;
	if (p->reader != p->pid && process_gone(p)) {
		/* The thread read through has exited: another may still run. */
		p->reader = process_reader(p->pid);
		p->mem.pid = p->reader;
	}
	if ((rc = pt_maps_read(p->reader, &maps)) < 0)
		return pt_error_set(err, process_exists(p->pid) ? PT_E_EXITED : PT_E_NOPROC,
					 "cannot read the mappings of process %d", (int)p->pid);
	pt_maps_free(&p->maps);
	p->maps = maps;
	if (p->uw) {
		pt_unwinder_close(p->uw);
		p->uw = NULL;
	}
	pt_python_fini(&p->py);
	p->is_python = false;
	rc = pt_python_detect(p->reader, &p->maps, &p->mem, &p->py, err);
	if (rc == 0)
		p->is_python = true;
	if (rc == -PT_E_NOTPYTHON) {
		/* Not (or no longer) Python: native stacks still work. */
		err->status = 0;
		err->msg[0] = 0;
		rc = 0;
	}
	return rc;
}

void pt_process_close(pt_process *p)
{
	if (!p)
		return;
	if (p->uw)
		pt_unwinder_close(p->uw);
	pt_python_fini(&p->py);
	free(p->scratch);
	free(p->native_scratch);
	pt_maps_free(&p->maps);
	pt_mem_fini(&p->mem);
	free(p);
}

pid_t pt_process_pid(const pt_process *p)
{
	return p->pid;
}

const struct pt_python_info *pt_process_python(const pt_process *p)
{
	return p->is_python ? &p->py.info : NULL;
}

static void thread_read_name(pid_t pid, pid_t tid, char *name, size_t cap)
{
	char path[96];
	FILE *f;

	name[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(name, (int)cap, f))
		name[strcspn(name, "\n")] = 0;
	fclose(f);
}

/* What is read while the threads are stopped, per thread. */
struct snap_work {
	struct user_regs_struct regs;
	bool have_regs;
	struct pt_unwound_frame *raw;
	size_t n_raw;
	const char *native_why;
};

static int process_scratch(struct pt_process *p)
{
	if (!p->scratch)
		p->scratch = malloc(MAX_PY_FRAMES * sizeof(*p->scratch));
	return p->scratch ? 0 : -ENOMEM;
}

/* Walks thread state ts[i] into the scratch at *total; true if it has
 * frames. A frameless walk leaves *total as it was. */
static bool snapshot_walk_tstate(struct pt_process *p, struct pt_arena *arena, const struct pt_pytstate *ts,
				 size_t *total, const char **why)
{
	size_t n = 0;
	const char *wwhy = NULL;

	pt_python_walk(&p->py, &p->mem, ts->addr, arena, p->scratch + *total, MAX_PY_FRAMES - *total, &n, &wwhy);
	if (!n)
		return false;
	for (size_t j = 0; j < n; j++)
		p->scratch[*total + j].interp = ts->interp_no;
	*total += n;
	if (wwhy && !*why)
		*why = wwhy;
	return true;
}

/* The Python stack of thread k from every thread state mapping to it
 * (owner[i] == k). Several can: a frameless one made by PyThreadState_New
 * for a thread that has one already, a child's during Thread.start() that
 * still carries its parent's pthread id (3.6-3.11), one per interpreter the
 * thread entered. In each interpreter (newest first: a subinterpreter runs
 * inside a call of the one that created it) the thread state with frames
 * wins, the GIL holder first; the frames of every interpreter are joined,
 * innermost first. */
static void snapshot_thread_python(struct pt_process *p, struct pt_snapshot *snap, struct pt_thread *t,
				   const struct pt_pytstate *ts, const size_t *owner, size_t nts, size_t k,
				   uint64_t holder, bool locals)
{
	size_t total = 0;
	const char *why = NULL;

	for (size_t i = 0; i < nts; i++) {
		if (owner[i] != k)
			continue;
		t->has_python = true;
		t->n_tstates++;
		t->holds_gil |= holder && holder == ts[i].addr;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = owner[j] == k && ts[j].interp == ts[i].interp;
		if (seen || total >= MAX_PY_FRAMES)
			continue;
		/* The first of this interpreter: pick its thread state. */
		bool found = false;
		for (size_t j = i; j < nts && !found; j++)
			if (owner[j] == k && ts[j].interp == ts[i].interp && holder && ts[j].addr == holder)
				found = snapshot_walk_tstate(p, snap->arena, &ts[j], &total, &why);
		for (size_t j = i; j < nts && !found; j++)
			if (owner[j] == k && ts[j].interp == ts[i].interp && !(holder && ts[j].addr == holder))
				found = snapshot_walk_tstate(p, snap->arena, &ts[j], &total, &why);
		t->n_interps += found;
	}
	if (!t->has_python)
		return;
	t->py_error = why;
	t->py = pt_arena_alloc(snap->arena, (total ? total : 1) * sizeof(*t->py));
	if (!t->py) {
		t->py_error = "out of memory";
		return;
	}
	memcpy(t->py, p->scratch, total * sizeof(*t->py));
	t->n_py = total;
	/* A frame whose locals cannot be read shows none. */
	for (size_t j = 0; locals && p->types.loaded && j < total; j++)
		pyv_frame_locals(&p->py, &p->types, &p->mem, snap->arena, &t->py[j]);
}

/* What each thread was doing when stopped: in a system call (orig_rax is
 * its number), and if that is a futex wait on the GIL, waiting for it. */
static void snapshot_activity(struct pt_process *p, struct pt_snapshot *snap, struct snap_work *work,
			      const struct pt_pytstate *ts, size_t nts)
{
	for (size_t k = 0; k < snap->n_threads; k++) {
		struct pt_thread *t = &snap->threads[k];
		if (!work[k].have_regs)
			continue;
		long nr = (long)work[k].regs.orig_rax;
		t->activity = nr < 0 ? PT_ACT_RUNNING : PT_ACT_SYSCALL;
		t->syscall = nr;
		if (nr == SYS_futex && p->is_python && t->has_python && !t->holds_gil &&
		    pt_python_futex_is_gil(&p->py, &p->mem, ts, nts, work[k].regs.rdi))
			t->activity = PT_ACT_GIL_WAIT;
	}
}

/* Reads the Python stacks of the snapshot's threads (all stopped). */
static void snapshot_python(struct pt_process *p, struct pt_snapshot *snap, struct snap_work *work,
			    bool locals)
{
	struct pt_pytstate ts_small[64], *ts = ts_small;
	size_t nts = 0, cap = 64;
	const char *why = NULL, *cut = NULL;

	/* Most processes have few threads: try the stack array first. */
	for (;;) {
		if (pt_python_list_tstates(&p->py, &p->mem, ts, cap, &nts) < 0) {
			/* What was listed before the failed read is still good. */
			if (nts)
				cut = "the interpreter's thread list could not be read to its end";
			else
				why = "cannot read the interpreter's thread list";
			break;
		}
		if (nts < cap || cap >= MAX_TSTATES)
			break;
		if (ts != ts_small)
			free(ts);
		cap = MAX_TSTATES;
		if (!(ts = malloc(cap * sizeof(*ts)))) {
			ts = ts_small;
			nts = 0;
			why = "out of memory";
			break;
		}
	}
	uint64_t holder = pt_python_gil_holder(&p->py, &p->mem, ts, nts);
	snap->no_gil = !pyv_has_gil(&p->py);
	for (size_t i = 0; i < nts && !snap->jit; i++)
		snap->jit = ts[i].interp_no == 0 && pyv_jit_enabled(&p->py, &p->mem, ts[i].interp);

	/* Which kernel thread runs each thread state? By its kernel id where
	 * CPython records one, unless the target lives in another PID
	 * namespace (a container: the id is its own, not ours); else by
	 * pthread_self(), which is the thread's fs base. */
	size_t *owner = calloc(nts ? nts : 1, sizeof(*owner));
	if (!owner) {
		why = "out of memory";
		nts = 0;
	}
	for (size_t i = 0; i < nts; i++) {
		bool by_tid = ts[i].native_tid && !p->other_pidns;
		owner[i] = snap->n_threads;
		for (size_t k = 0; k < snap->n_threads && owner[i] == snap->n_threads; k++)
			if (by_tid ? ts[i].native_tid == snap->threads[k].tid
				   : work[k].have_regs && work[k].regs.fs_base == ts[i].pthread_id)
				owner[i] = k;
	}
	for (size_t k = 0; k < snap->n_threads; k++)
		snapshot_thread_python(p, snap, &snap->threads[k], ts, owner, nts, k, holder, locals);
	free(owner);
	if (why)
		for (size_t k = 0; k < snap->n_threads; k++)
			snap->threads[k].py_error = why;
	for (size_t k = 0; cut && k < snap->n_threads; k++)
		if (!snap->threads[k].has_python)
			snap->threads[k].py_error = cut;
	snapshot_activity(p, snap, work, ts, nts);
	if (ts != ts_small)
		free(ts);
}

/* A JIT build (3.14+, PYTHON_JIT=1) runs machine code it wrote into
 * anonymous executable memory, which nothing names: such a frame is shown
 * as "[JIT]+offset" from the start of its mapping. The maps are read again
 * (the JIT maps code as it goes). */
static void snapshot_name_jit(struct pt_process *p, struct pt_snapshot *snap, struct pt_maps *now,
			      bool *have, struct pt_native_frame *nf)
{
	if (!snap->jit || nf->module)
		return;
	if (!*have)
		*have = pt_maps_read(p->reader, now) == 0;
	const struct pt_map *m = *have ? pt_maps_find(now, nf->pc) : NULL;
	if (m && !m->path && m->x) {
		nf->module = "[JIT]";
		nf->offset = nf->pc - m->start;
	}
}

static void snapshot_symbolize(struct pt_process *p, struct pt_snapshot *snap, struct snap_work *work)
{
	struct pt_maps now = { 0 };
	bool have_now = false;

	for (size_t k = 0; k < snap->n_threads; k++) {
		struct pt_thread *t = &snap->threads[k];
		t->native_error = work[k].native_why;
		if (!work[k].n_raw)
			continue;
		t->native = pt_arena_alloc(snap->arena, work[k].n_raw * sizeof(*t->native));
		if (!t->native)
			continue;
		for (size_t i = 0; i < work[k].n_raw; i++) {
			const struct pt_unwound_frame *r = &work[k].raw[i];
			struct pt_native_frame *nf = &t->native[i];
			struct pt_symbol sym = { 0 };
			nf->pc = r->pc;
			nf->sp = r->sp;
			if (pt_unwinder_symbolize(p->uw, r, &sym) == 0) {
				nf->module = sym.module ? pt_arena_strdup(snap->arena, sym.module) : NULL;
				/* clock_nanosleep@GLIBC_2.2.5 -> clock_nanosleep: the
				 * symbol version says nothing about the code. */
				nf->symbol = sym.symbol ? pt_arena_strndup(snap->arena, sym.symbol,
									   strcspn(sym.symbol, "@"))
							: NULL;
				nf->offset = sym.offset;
			}
			snapshot_name_jit(p, snap, &now, &have_now, nf);
			/* A return address may sit just past the function's end. */
			uint64_t lookup = r->is_activation ? r->pc : r->pc - 1;
			nf->is_eval = p->is_python && (pyv_pc_is_eval(&p->py, lookup) ||
							pyv_symbol_is_eval(&p->py, nf->symbol));
		}
		t->n_native = work[k].n_raw;
		/* 3.11+: the frame holding a group's entry frame runs it, named
		 * or not (GCC 16 splits the loop into unnamed code). */
		if (p->is_python)
			pt_stack_mark_eval(t);
	}
	if (have_now)
		pt_maps_free(&now);
}

/* Reads the stacks of tids, which the caller holds stopped; resume, when
 * given, is called as soon as the target's memory is no longer needed. */
static int snapshot_read(struct pt_process *p, const pid_t *tids, size_t n, unsigned flags,
			 struct pt_snapshot **out, void (*resume)(void *), void *resume_arg,
			 struct pt_error *err)
{
	bool native = flags & PT_SNAP_NATIVE;
	struct pt_snapshot *snap = calloc(1, sizeof(*snap));
	struct snap_work *work = calloc(n ? n : 1, sizeof(*work));
	int rc = 0;

	if (!snap || !work || !(snap->arena = pt_arena_new()) ||
	    !(snap->threads = pt_arena_alloc(snap->arena, (n ? n : 1) * sizeof(*snap->threads))) ||
	    (p->is_python && process_scratch(p) < 0)) {
		if (resume)
			resume(resume_arg);
		rc = pt_error_set(err, PT_E_INTERNAL, "out of memory");
		goto out;
	}
	snap->pid = p->pid;
	snap->n_threads = n;
	/* The threads read are stopped: their frames and code objects hold
	 * still, so pages may be cached and code objects validated once. */
	p->py.generation++;
	pt_mem_cache_begin(&p->mem);
	for (size_t k = 0; k < n; k++) {
		snap->threads[k].tid = tids[k];
		work[k].have_regs = pt_ptrace_get_regs(tids[k], &work[k].regs) == 0;
	}
	if (p->is_python)
		snapshot_python(p, snap, work, flags & PT_SNAP_LOCALS);
	else
		snapshot_activity(p, snap, work, NULL, 0);
	if (native && !p->native_scratch)
		p->native_scratch = malloc(MAX_NATIVE_FRAMES * sizeof(*p->native_scratch));
	for (size_t k = 0; native && k < n; k++) {
		size_t got = 0;
		if (!work[k].have_regs || !p->native_scratch) {
			work[k].native_why = "cannot read the thread's registers";
			continue;
		}
		pt_unwinder_unwind(p->uw, tids[k], &work[k].regs, p->native_scratch,
				   MAX_NATIVE_FRAMES, &got, &work[k].native_why);
		work[k].raw = malloc((got ? got : 1) * sizeof(*work[k].raw));
		if (!work[k].raw) {
			work[k].native_why = "out of memory";
			continue;
		}
		memcpy(work[k].raw, p->native_scratch, got * sizeof(*work[k].raw));
		work[k].n_raw = got;
	}
	pt_mem_cache_end(&p->mem);
	if (resume)
		resume(resume_arg);
	/* --- the target may run again (and tids may be freed): what follows
	 * reads only files --- */
	for (size_t k = 0; !(flags & PT_SNAP_NO_NAME) && k < n; k++)
		thread_read_name(p->pid, snap->threads[k].tid, snap->threads[k].name, sizeof(snap->threads[k].name));
	if (native)
		snapshot_symbolize(p, snap, work);
	*out = snap;
	snap = NULL;
out:
	for (size_t k = 0; work && k < n; k++)
		free(work[k].raw);
	free(work);
	pt_snapshot_free(snap);
	return rc;
}

static int process_prepare_native(struct pt_process *p, bool native, struct pt_error *err)
{
	/* Slow set-up (reading ELF files) happens before any thread stops. */
	if (native && !p->uw)
		return pt_unwinder_open(p->reader, &p->mem, &p->uw, err);
	return 0;
}

/* The types --locals renders, from the runtime's file (before any stop).
 * Without them frames show no locals. */
static void process_prepare_locals(struct pt_process *p, unsigned flags)
{
	if ((flags & PT_SNAP_LOCALS) && p->is_python && !p->types.loaded)
		pyv_types_load(&p->py, p->pid, &p->types);
}

static uint64_t process_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define SNAPSHOT_TORN_RETRIES 4

struct resume_ctx {
	struct pt_stopset *set;
	uint64_t resumed_ns;
};

static void snapshot_resume_set(void *arg)
{
	struct resume_ctx *ctx = arg;
	pt_ptrace_resume_all(ctx->set);
	ctx->resumed_ns = process_now_ns();
}

int pt_snapshot_take(pt_process *p, unsigned flags, struct pt_snapshot **out, struct pt_error *err)
{
	struct pt_stopset set = { 0 };
	bool native = flags & PT_SNAP_NATIVE;
	int rc;

	*out = NULL;
	err->status = 0;
	err->msg[0] = 0;
	struct resume_ctx ctx = { .set = &set };
	uint64_t start = 0;
	process_prepare_locals(p, flags);
	/* A thread list caught while a thread state is being linked in is
	 * read again after letting the target run (microseconds suffice). */
	for (int attempt = 0; attempt < SNAPSHOT_TORN_RETRIES; attempt++) {
		if ((rc = process_prepare_native(p, native, err)) == 0 && (start = process_now_ns()) &&
		    (rc = pt_ptrace_stop_all(p->pid, &set, err)) == 0) {
			rc = snapshot_read(p, set.tids, set.n, flags, out, snapshot_resume_set, &ctx, err);
			if (rc == 0)
				(*out)->pause_ns = ctx.resumed_ns - start;
		}
		if (rc < 0 || !p->is_python || !p->py.tstates_torn || attempt + 1 == SNAPSHOT_TORN_RETRIES)
			break;
		pt_snapshot_free(*out);
		*out = NULL;
	}
	/* Failed, or read, as the process went away: it exited. */
	if (rc != -PT_E_PERM && rc != -PT_E_EXITED && process_gone(p)) {
		pt_snapshot_free(*out);
		*out = NULL;
		rc = pt_error_set(err, PT_E_EXITED, "process %d exited during the dump", (int)p->pid);
	}
	return rc;
}

int pt_thread_stack(pt_process *p, pid_t tid, unsigned flags, struct pt_snapshot **out,
		    struct pt_error *err)
{
	bool native = flags & PT_SNAP_NATIVE;
	int rc;

	*out = NULL;
	err->status = 0;
	err->msg[0] = 0;
	process_prepare_locals(p, flags);
	if ((rc = process_prepare_native(p, native, err)) < 0)
		return rc;
	return snapshot_read(p, &tid, 1, flags, out, NULL, NULL, err);
}

void pt_snapshot_free(struct pt_snapshot *snap)
{
	if (!snap)
		return;
	pt_arena_free(snap->arena);
	free(snap);
}

/* pytrace dump --tasks: the asyncio tasks, read while every thread holds
 * still (src/python/asyncio.c). */
int pt_tasks_take(pt_process *p, struct pt_tasks **out, struct pt_error *err)
{
	struct pt_stopset set = { 0 };
	const char *why = NULL;
	int rc;

	*out = NULL;
	err->status = 0;
	err->msg[0] = 0;
	if (!p->is_python)
		return pt_error_set(err, PT_E_NOTPYTHON, "process %d is not a Python process", (int)p->pid);
	struct pt_tasks *t = calloc(1, sizeof(*t));
	if (!t || !(t->arena = pt_arena_new())) {
		free(t);
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	}
	t->pid = p->pid;
	uint64_t start = process_now_ns();
	if ((rc = pt_ptrace_stop_all(p->pid, &set, err)) < 0) {
		pt_tasks_free(t);
		return rc;
	}
	p->py.generation++;
	pt_mem_cache_begin(&p->mem);
	rc = pyv_asyncio_tasks(&p->py, &p->mem, t->arena, &t->tasks, &t->n, &why);
	pt_mem_cache_end(&p->mem);
	pt_ptrace_resume_all(&set);
	t->pause_ns = process_now_ns() - start;
	if (rc == -PT_E_VERSION) {
		pt_tasks_free(t);
		return pt_error_set(err, PT_E_VERSION, "--tasks: Python %s is not supported: %s",
				    p->py.info.version, why);
	}
	if (rc < 0) {
		pt_tasks_free(t);
		if (process_exiting(p->pid))
			return pt_error_set(err, PT_E_EXITED, "process %d exited during the dump", (int)p->pid);
		return pt_error_set(err, PT_E_INTERNAL, "--tasks: %s", why ? why : "cannot read the tasks");
	}
	t->note = why;
	*out = t;
	return 0;
}

void pt_tasks_free(struct pt_tasks *t)
{
	if (!t)
		return;
	pt_arena_free(t->arena);
	free(t);
}
