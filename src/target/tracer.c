/* SPDX-License-Identifier: MIT */
/* The ptrace event backend of `pytrace stacks`: a control block per
 * thread, one wait loop, and the chosen system calls reported as events. */
#include "error.h"
#include "target/tracer.h"

#include <dirent.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target/launch.h"
#include "target/ptrace.h"

/*
 * How a system call is caught
 * ---------------------------
 * Launch mode: the child installs a seccomp filter before it executes the
 * command. The filter answers SECCOMP_RET_TRACE for the chosen numbers and
 * SECCOMP_RET_ALLOW for everything else, so unchosen calls never leave the
 * kernel. A chosen call stops in PTRACE_EVENT_SECCOMP (its entry: the stack
 * is read there); the thread is then resumed with PTRACE_SYSCALL so that its
 * exit stops too, and after the exit with PTRACE_CONT. Two stops per chosen
 * call, none for the others. The filter also traps mmap with PROT_EXEC, so
 * the caller learns when new code is mapped (module lists go stale), as
 * strace -k does.
 *
 * Attach mode: a filter cannot be added to a running process (nor removed
 * from it afterwards), so every thread is stepped with PTRACE_SYSCALL and
 * the number is looked at in each entry stop. Detaching leaves nothing
 * behind.
 *
 * PTRACE_GET_SYSCALL_INFO (Linux 5.3) tells entry, exit and seccomp stops
 * apart and gives the number and arguments in one call.
 *
 * What pytrace's death does
 * -------------------------
 * Attach mode: the kernel detaches every tracee when its tracer dies; they
 * run on unharmed (no filter was added). Launch mode (target/launch.c): the
 * command is pytrace's child and dies with it (PTRACE_O_EXITKILL, as strace
 * does with --seccomp-bpf, and PR_SET_PDEATHSIG): besides, its filter cannot
 * be removed, and with no tracer left every chosen system call would fail
 * with ENOSYS. An orderly end (Ctrl-C, SIGTERM) is not a death: see
 * pt_tracer_shutdown.
 */

enum {
	TCB_BUCKETS = 1024,     /* power of two */
	SECCOMP_DATA_CHOSEN = 1,
	SECCOMP_DATA_EXEC_MAP = 2,
	ATTACH_MAX_ROUNDS = 64,
	DETACH_WAIT_MS = 2000,
};

struct tproc {
	pid_t pid;
	size_t nthreads;
	void *user;
	bool launched;          /* the command we started */
	bool pre_exec;          /* still pytrace's child, before its execve */
	int status;             /* the leader's wait status, once it exited */
	bool quiet;             /* a child not followed (no -f): traced only
	                           because it carries the seccomp filter; its
	                           calls run unreported */
	struct tproc *next;
};

/* The per-thread control block. */
struct tcb {
	pid_t tid;
	struct tproc *proc;
	struct tcb *hnext;
	bool stopped;           /* in a ptrace stop we have not resumed */
	int inject;             /* signal to deliver when resuming */
	bool group_stop;        /* resume with PTRACE_LISTEN */
	bool in_syscall;        /* between an entry (or seccomp) stop and its exit */
	bool reported;          /* the entry was reported: report the exit */
	bool exec_map;          /* an mmap of executable code is in flight */
	bool interrupted;       /* detaching: PTRACE_INTERRUPT sent */
	void *user;
};

struct tev_queue {
	struct pt_tev *v;
	size_t head, n, cap;
	pid_t *hold;            /* parallel: thread to keep stopped, or 0 */
};

struct pt_tracer {
	struct pt_tracer_opts opts;
	bool step;              /* PTRACE_SYSCALL everywhere (attach, or no filter) */
	bool attach_mode;
	struct tcb *buckets[TCB_BUCKETS];
	size_t ntcbs;
	struct tproc *procs;
	struct tcb *held;       /* stopped for the event last returned */
	struct tev_queue q;
	struct pt_tev cur;
	struct pt_launch launch; /* launch mode: the command (pid 0 otherwise) */
	bool interrupt_reported;
	bool killed;            /* launched processes SIGKILLed after the grace */
	bool done;
	unsigned long options;
};

/* --- control blocks -------------------------------------------------- */

static struct tcb **tcb_slot(struct pt_tracer *tr, pid_t tid)
{
	return &tr->buckets[(unsigned)tid & (TCB_BUCKETS - 1)];
}

static struct tcb *tcb_find(struct pt_tracer *tr, pid_t tid)
{
	for (struct tcb *t = *tcb_slot(tr, tid); t; t = t->hnext)
		if (t->tid == tid)
			return t;
	return NULL;
}

static struct tproc *proc_find(struct pt_tracer *tr, pid_t pid)
{
	for (struct tproc *p = tr->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static struct tproc *proc_get(struct pt_tracer *tr, pid_t pid)
{
	struct tproc *p = proc_find(tr, pid);
	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->status = -1;
	p->next = tr->procs;
	tr->procs = p;
	return p;
}

static void proc_unlink(struct pt_tracer *tr, struct tproc *p)
{
	for (struct tproc **pp = &tr->procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

static struct tcb *tcb_add(struct pt_tracer *tr, pid_t tid, struct tproc *proc)
{
	struct tcb *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tid = tid;
	t->proc = proc;
	t->hnext = *tcb_slot(tr, tid);
	*tcb_slot(tr, tid) = t;
	proc->nthreads++;
	tr->ntcbs++;
	return t;
}

static void tcb_unlink(struct pt_tracer *tr, struct tcb *t)
{
	for (struct tcb **pp = tcb_slot(tr, t->tid); *pp; pp = &(*pp)->hnext)
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	tr->ntcbs--;
	if (tr->held == t)
		tr->held = NULL;
}

/* The thread group of a task we have not seen, from /proc. */
static pid_t task_tgid(pid_t tid)
{
	char path[64], line[256];
	pid_t tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (!(f = fopen(path, "re")))
		return tid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid > 0 ? tgid : tid;
}

/* A control block for a task that appeared (auto-attached child or
 * thread), with its process. */
static struct tcb *tcb_new_task(struct pt_tracer *tr, pid_t tid)
{
	struct tproc *p = proc_get(tr, task_tgid(tid));
	if (!p)
		return NULL;
	/* A new process (not a thread of one we know): a child, followed with
	 * -f only. Without, it is traced at all only in launch mode under the
	 * filter it inherited (which fails the chosen calls without a
	 * tracer), and none of its calls is reported. */
	if (p->nthreads == 0)
		p->quiet = !tr->opts.follow_forks;
	return tcb_add(tr, tid, p);
}

/* --- the event queue --------------------------------------------------- */

static struct pt_tev *queue_push(struct pt_tracer *tr, enum pt_tev_kind kind, pid_t pid,
				 pid_t tid, pid_t hold)
{
	struct tev_queue *q = &tr->q;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct pt_tev *v = malloc(cap * sizeof(*v));
		pid_t *h = malloc(cap * sizeof(*h));
		if (!v || !h) {
			free(v);
			free(h);
			return NULL;
		}
		for (size_t i = 0; i < q->n; i++) {
			v[i] = q->v[(q->head + i) % q->cap];
			h[i] = q->hold[(q->head + i) % q->cap];
		}
		free(q->v);
		free(q->hold);
		q->v = v;
		q->hold = h;
		q->head = 0;
		q->cap = cap;
	}
	size_t i = (q->head + q->n++) % q->cap;
	q->v[i] = (struct pt_tev){ .kind = kind, .pid = pid, .tid = tid, .status = -1 };
	q->hold[i] = hold;
	return &q->v[i];
}

/* --- resuming ------------------------------------------------------------ */

static void tcb_resume(struct pt_tracer *tr, struct tcb *t)
{
	int op;

	if (!t->stopped)
		return;
	if (t->group_stop)
		op = PTRACE_LISTEN;
	else if (tr->step || t->in_syscall)
		op = PTRACE_SYSCALL;
	else
		op = PTRACE_CONT;
	/* ESRCH: killed meanwhile (SIGKILL); its exit is reported by wait. */
	ptrace(op, t->tid, NULL, (void *)(long)(op == PTRACE_LISTEN ? 0 : t->inject));
	t->stopped = false;
	t->inject = 0;
	t->group_stop = false;
}

/* --- stops ----------------------------------------------------------------- */

static bool syscall_chosen(struct pt_tracer *tr, long nr)
{
	return pt_syscall_set_has(&tr->opts.select, nr);
}

static bool syscall_maps_code(long nr, const uint64_t *args)
{
	return nr == SYS_mmap && (args[2] & PROT_EXEC);
}

static void on_syscall_entry(struct pt_tracer *tr, struct tcb *t, long nr, const uint64_t *args)
{
	t->in_syscall = true;
	t->reported = false;
	t->exec_map = syscall_maps_code(nr, args);
	if (!syscall_chosen(tr, nr) || t->proc->quiet)
		return;
	/* pytrace's own child before its execve: only the execve is the
	 * user's business. */
	bool launcher = t->proc->pre_exec;
	if (launcher && nr != SYS_execve && nr != SYS_execveat)
		return;
	struct pt_tev *ev = queue_push(tr, PT_TEV_SYSCALL_ENTRY, t->proc->pid, t->tid, t->tid);
	if (!ev)
		return;
	t->reported = true;
	ev->nr = nr;
	memcpy(ev->args, args, sizeof(ev->args));
	ev->launcher = launcher;
	clock_gettime(CLOCK_REALTIME, &ev->when);
}

static void on_syscall_exit(struct pt_tracer *tr, struct tcb *t, int64_t rval)
{
	if (!t->in_syscall)
		return;  /* the exit of a call that was under way when we attached */
	t->in_syscall = false;
	if (t->exec_map && !t->proc->quiet && !(rval < 0 && rval >= -4095)) {
		struct pt_tev *ev = queue_push(tr, PT_TEV_MAPS, t->proc->pid, t->tid, 0);
		if (ev)
			ev->proc_user = &t->proc->user;
	}
	t->exec_map = false;
	if (t->reported) {
		struct pt_tev *ev = queue_push(tr, PT_TEV_SYSCALL_EXIT, t->proc->pid, t->tid, t->tid);
		if (ev) {
			ev->ret = rval;
			clock_gettime(CLOCK_REALTIME, &ev->when);
		}
		t->reported = false;
	}
}

/* A syscall-entry, syscall-exit or seccomp stop. */
static void on_syscall_stop(struct pt_tracer *tr, struct tcb *t)
{
	struct __ptrace_syscall_info info;

	memset(&info, 0, sizeof(info));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(info), &info) < 0)
		return;
	/* A 32-bit process (or int 0x80) numbers its calls differently. */
	if (info.op != PTRACE_SYSCALL_INFO_EXIT && info.arch != AUDIT_ARCH_X86_64)
		return;
	switch (info.op) {
	case PTRACE_SYSCALL_INFO_SECCOMP:
		on_syscall_entry(tr, t, (long)info.seccomp.nr, info.seccomp.args);
		break;
	case PTRACE_SYSCALL_INFO_ENTRY:
		on_syscall_entry(tr, t, (long)info.entry.nr, info.entry.args);
		break;
	case PTRACE_SYSCALL_INFO_EXIT:
		on_syscall_exit(tr, t, info.exit.rval);
		break;
	default:
		break;
	}
}

static void on_exec(struct pt_tracer *tr, struct tcb *t)
{
	unsigned long former = 0;

	/* A thread other than the leader executed: it took the leader's tid,
	 * and the old leader is gone without an exit report. */
	if (ptrace(PTRACE_GETEVENTMSG, t->tid, NULL, &former) == 0 && (pid_t)former != t->tid) {
		struct tcb *execer = tcb_find(tr, (pid_t)former);
		if (execer && execer != t) {
			struct pt_tev *ev = queue_push(tr, PT_TEV_THREAD_EXIT, t->proc->pid, t->tid, 0);
			if (ev) {
				ev->user = t->user;
				ev->in_syscall = t->reported;
			}
			t->user = execer->user;
			t->in_syscall = execer->in_syscall;
			t->reported = execer->reported;
			t->exec_map = false;
			execer->user = NULL;
			tcb_unlink(tr, execer);
			execer->proc->nthreads--;
			free(execer);
		}
	}
	t->proc->pre_exec = false;
	if (t->proc->quiet)
		return;
	struct pt_tev *ev = queue_push(tr, PT_TEV_EXEC, t->proc->pid, t->tid, 0);
	if (ev)
		ev->proc_user = &t->proc->user;
}

static void on_new_task(struct pt_tracer *tr, struct tcb *parent, int event)
{
	unsigned long child = 0;

	if (ptrace(PTRACE_GETEVENTMSG, parent->tid, NULL, &child) < 0 || !child)
		return;
	if (tcb_find(tr, (pid_t)child))
		return;  /* its first stop came before our parent's event */
	struct tproc *p = event == PTRACE_EVENT_CLONE ? proc_get(tr, task_tgid((pid_t)child))
						      : proc_get(tr, (pid_t)child);
	if (!p)
		return;
	if (p->nthreads == 0)
		p->quiet = !tr->opts.follow_forks;
	tcb_add(tr, (pid_t)child, p);
}

static void tcb_gone(struct pt_tracer *tr, struct tcb *t, int status)
{
	struct tproc *p = t->proc;
	struct pt_tev *ev = queue_push(tr, PT_TEV_THREAD_EXIT, p->pid, t->tid, 0);

	if (ev) {
		ev->user = t->user;
		ev->in_syscall = t->reported;
		ev->status = status;
	}
	if (t->tid == p->pid && status != -1) {
		p->status = status;
		if (p->launched)
			tr->launch.status = status;
	}
	tcb_unlink(tr, t);
	free(t);
	if (--p->nthreads > 0)
		return;
	ev = queue_push(tr, PT_TEV_PROCESS_EXIT, p->pid, p->pid, 0);
	if (ev) {
		ev->user = p->user;
		ev->launched = p->launched;
		ev->status = p->status;
	}
	proc_unlink(tr, p);
	free(p);
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* What every wait status needs first: an exit is recorded, and a stop
 * marks its thread (known, or new) stopped. Returns the stopped thread, or
 * NULL when there is nothing more to do. */
static struct tcb *status_stopped_tcb(struct pt_tracer *tr, pid_t tid, int status)
{
	struct tcb *t = tcb_find(tr, tid);

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t)
			tcb_gone(tr, t, status);
		else if (tid == tr->launch.pid)
			tr->launch.status = status;
		return NULL;
	}
	if (!WIFSTOPPED(status))
		return NULL;
	if (!t && !(t = tcb_new_task(tr, tid))) {
		/* Out of memory: let it go rather than leave it stopped. */
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return NULL;
	}
	t->stopped = true;
	return t;
}

/* One wait status. Leaves the thread stopped if an event must see it so. */
static void handle_status(struct pt_tracer *tr, pid_t tid, int status)
{
	struct tcb *t = status_stopped_tcb(tr, tid, status);

	if (!t)
		return;
	int sig = WSTOPSIG(status);
	unsigned event = (unsigned)status >> 16;

	if (sig == (SIGTRAP | 0x80)) {
		on_syscall_stop(tr, t);
	} else if (event) {
		switch (event) {
		case PTRACE_EVENT_SECCOMP:
			on_syscall_stop(tr, t);
			break;
		case PTRACE_EVENT_EXEC:
			on_exec(tr, t);
			break;
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_VFORK:
		case PTRACE_EVENT_CLONE:
			on_new_task(tr, t, (int)event);
			break;
		case PTRACE_EVENT_STOP:
			/* A group stop (the process got SIGSTOP & co) stays one:
			 * PTRACE_LISTEN. Otherwise our interrupt or a new task's
			 * first stop. */
			t->group_stop = is_stop_signal(sig);
			break;
		default:
			break;
		}
	} else {
		/* Signal-delivery stop: the target gets its signal. */
		t->inject = sig;
	}
	/* Held for an event queued just now, else resumed at once. */
	struct tev_queue *q = &tr->q;
	for (size_t i = 0; i < q->n; i++)
		if (q->hold[(q->head + i) % q->cap] == t->tid)
			return;
	tcb_resume(tr, t);
}

/* --- detaching -------------------------------------------------------------- */

static long ms_since(const struct timespec *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - a->tv_sec) * 1000 + (now.tv_nsec - a->tv_nsec) / 1000000;
}

/* Records a stop seen while detaching: which signal to hand back. */
static void detach_note_stop(struct pt_tracer *tr, pid_t tid, int status)
{
	struct tcb *t = status_stopped_tcb(tr, tid, status);

	if (!t)
		return;
	int sig = WSTOPSIG(status);
	unsigned event = (unsigned)status >> 16;
	/* Only a signal-delivery stop holds a signal the target must get;
	 * a group stop is kept by the kernel across the detach. */
	t->inject = !event && sig != (SIGTRAP | 0x80) ? sig : 0;
	if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE)
		on_new_task(tr, t, (int)event);
}

/* Stops every thread that runs (PTRACE_INTERRUPT), collects the stops,
 * and detaches each with the signal it was about to receive. A thread in
 * a syscall stop goes on with its call; one in a group stop stays stopped. */
static void detach_all(struct pt_tracer *tr)
{
	struct timespec start;
	int status;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Stops already waiting to be collected. */
	while ((pid = waitpid(-1, &status, __WALL | WNOHANG)) > 0)
		detach_note_stop(tr, pid, status);
	for (;;) {
		size_t running = 0;
		for (size_t b = 0; b < TCB_BUCKETS; b++)
			for (struct tcb *t = tr->buckets[b]; t; t = t->hnext)
				if (!t->stopped) {
					running++;
					if (t->interrupted)
						continue;
					t->interrupted = true;
					if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0 && errno == ESRCH)
						t->stopped = true;  /* dying: nothing to detach */
				}
		if (!running || ms_since(&start) > DETACH_WAIT_MS)
			break;
		pid = waitpid(-1, &status, __WALL | WNOHANG);
		if (pid > 0) {
			detach_note_stop(tr, pid, status);
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			break;
		const struct timespec pause = { 0, 200 * 1000 };
		nanosleep(&pause, NULL);
	}
	for (size_t b = 0; b < TCB_BUCKETS; b++) {
		struct tcb *t = tr->buckets[b], *next;
		for (; t; t = next) {
			next = t->hnext;
			if (t->stopped)
				ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(long)t->inject);
			/* Threads that never stopped (a vfork parent waiting
			 * for its child) are released by the kernel when we
			 * exit. */
			t->stopped = false;
			tcb_gone(tr, t, -1);
		}
	}
	tr->held = NULL;
}

/* --- the loop -------------------------------------------------------------- */

const struct pt_tev *pt_tracer_next_event(struct pt_tracer *tr)
{
	int status;

	if (tr->held) {
		tcb_resume(tr, tr->held);
		tr->held = NULL;
	}
	for (;;) {
		struct tev_queue *q = &tr->q;
		if (q->n) {
			size_t i = q->head;
			tr->cur = q->v[i];
			pid_t hold = q->hold[i];
			q->head = (q->head + 1) % q->cap;
			q->n--;
			if (hold) {
				struct tcb *t = tcb_find(tr, hold);
				if (t) {
					tr->held = t;
					tr->cur.thread_user = &t->user;
					tr->cur.proc_user = &t->proc->user;
				}
			}
			return &tr->cur;
		}
		if (tr->done || (tr->ntcbs == 0 && !tr->procs)) {
			tr->done = true;
			tr->cur = (struct pt_tev){ .kind = PT_TEV_END };
			return &tr->cur;
		}
		if (tr->opts.interrupted && *tr->opts.interrupted && !tr->interrupt_reported) {
			tr->interrupt_reported = true;
			tr->cur = (struct pt_tev){ .kind = PT_TEV_INTERRUPTED,
						   .signal = (int)*tr->opts.interrupted };
			return &tr->cur;
		}
		if (tr->opts.tick && *tr->opts.tick) {
			/* Stops that already happened come first: a call that
			 * has returned is not "unfinished". */
			pid_t ready = waitpid(-1, &status, __WALL | WNOHANG);
			if (ready > 0) {
				handle_status(tr, ready, status);
				continue;
			}
			*tr->opts.tick = 0;
			tr->cur = (struct pt_tev){ .kind = PT_TEV_TICK };
			return &tr->cur;
		}
		bool grace = tr->launch.shutting_down && !tr->killed;
		if (grace && pt_launch_grace_over(&tr->launch)) {
			/* They end with us (target/launch.c), and their filter
			 * would fail the chosen calls with ENOSYS once we are
			 * gone. Their exits are collected below. */
			for (struct tproc *p = tr->procs; p; p = p->next)
				kill(p->pid, SIGKILL);
			tr->killed = true;
			continue;
		}
		pid_t pid = waitpid(-1, &status, __WALL | (grace ? WNOHANG : 0));
		if (pid > 0) {
			handle_status(tr, pid, status);
			continue;
		}
		if (pid == 0) {
			const struct timespec pause = { 0, 1000 * 1000 };
			nanosleep(&pause, NULL);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECHILD) {
			/* Nothing left to wait for: tasks we still list died
			 * unreported (threads reaped by an exec). */
			for (size_t b = 0; b < TCB_BUCKETS; b++)
				while (tr->buckets[b])
					tcb_gone(tr, tr->buckets[b], -1);
			tr->done = true;
			continue;
		}
		tr->cur = (struct pt_tev){ .kind = PT_TEV_ERROR };
		pt_error_set(&tr->cur.err, PT_E_INTERNAL, "waitpid: %s", strerror(errno));
		return &tr->cur;
	}
}

void pt_tracer_shutdown(struct pt_tracer *tr, int sig, bool forward, unsigned grace_ms)
{
	if (tr->done)
		return;
	if (tr->held) {
		tcb_resume(tr, tr->held);
		tr->held = NULL;
	}
	if (tr->attach_mode || !tr->launch.pid) {
		detach_all(tr);
		tr->done = true;
		return;
	}
	if (tr->killed)
		return;
	/* As strace: the command we started is told to go, and its filter is
	 * served while it (and any children) wind down. A second interrupt
	 * ends the grace period. The command itself may be gone already
	 * (its children are waited for all the same). */
	pt_launch_shutdown(&tr->launch, sig, forward, grace_ms);
	/* A second interrupt ends the grace period. */
	tr->interrupt_reported = false;
	if (tr->opts.interrupted)
		*tr->opts.interrupted = 0;
}

/* --- starting -------------------------------------------------------------- */

static struct pt_tracer *tracer_new(const struct pt_tracer_opts *opts)
{
	struct pt_tracer *tr = calloc(1, sizeof(*tr));
	if (!tr)
		return NULL;
	tr->opts = *opts;
	tr->launch.status = -1;
	tr->launch.exec_fd = -1;
	return tr;
}

static const unsigned long TRACE_OPTIONS =
	PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK |
	PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;

/* Whether this kernel can trap system calls to a tracer by seccomp. */
static bool seccomp_available(void)
{
	unsigned action = SECCOMP_RET_TRACE;

	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		return false;
	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

/* The filter: trace the chosen x86_64 numbers and executable mmaps,
 * allow the rest (other ABIs included: they are not traced). */
static struct sock_filter *seccomp_build(const struct pt_syscall_set *set, size_t *n)
{
	size_t cap = 16 + 2 * PT_SYSCALL_SET_BITS, k = 0;
	struct sock_filter *f = calloc(cap, sizeof(*f));

	if (!f)
		return NULL;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	/* x32 calls carry bit 30. */
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 0, 1);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	for (long nr = 0; nr < PT_SYSCALL_SET_BITS; nr++) {
		if (!pt_syscall_set_has(set, nr))
			continue;
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_TRACE | SECCOMP_DATA_CHOSEN);
	}
	if (!pt_syscall_set_has(set, SYS_mmap)) {
		/* mmap(..., prot, ...) with PROT_EXEC: the low word of args[2]. */
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 0, 3);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      offsetof(struct seccomp_data, args[2]));
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_TRACE | SECCOMP_DATA_EXEC_MAP);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	*n = k;
	return f;
}

int pt_tracer_launch(const struct pt_tracer_opts *opts, const char *path, char *const argv[],
		     struct pt_tracer **out, struct pt_error *err)
{
	struct pt_tracer *tr = tracer_new(opts);
	struct sock_filter *filter = NULL;
	struct sock_fprog prog = { 0 };
	int rc;

	*out = NULL;
	if (!tr)
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	tr->step = opts->no_seccomp || !seccomp_available();
	if (!tr->step) {
		size_t n;
		if (!(filter = seccomp_build(&opts->select, &n))) {
			free(tr);
			return pt_error_set(err, PT_E_INTERNAL, "out of memory");
		}
		prog.len = (unsigned short)n;
		prog.filter = filter;
	}
	tr->options = TRACE_OPTIONS | (tr->step ? 0 : PTRACE_O_TRACESECCOMP) | PTRACE_O_EXITKILL;
	/* Without -f, children are left alone, unless they carry the filter. */
	if (tr->step && !opts->follow_forks)
		tr->options &= ~(unsigned long)(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK);
	struct pt_launch_opts lo = { .ptrace_options = tr->options, .filter = tr->step ? NULL : &prog };
	rc = pt_launch_spawn(&lo, path, argv, &tr->launch, err);
	free(filter);
	if (rc < 0) {
		free(tr);
		return rc;
	}
	pid_t pid = tr->launch.pid;
	struct tproc *p = proc_get(tr, pid);
	if (!p || !tcb_add(tr, pid, p)) {
		pt_launch_kill(&tr->launch);
		pt_launch_wait_exit(&tr->launch);
		pt_tracer_free(tr);
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	}
	p->launched = true;
	p->pre_exec = true;
	*out = tr;
	return 0;
}

/* Seizes one listed thread. 1: ours now; 0: gone or already ours;
 * negative: error. */
static int attach_one(struct pt_tracer *tr, struct tproc *p, pid_t tid, struct pt_error *err)
{
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)tr->options) == 0) {
		struct tcb *t = tcb_add(tr, tid, p);
		if (!t) {
			ptrace(PTRACE_DETACH, tid, NULL, NULL);
			return pt_error_set(err, PT_E_INTERNAL, "out of memory");
		}
		/* Stop it once so it can be switched to syscall stepping. */
		ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
		return 1;
	}
	int e = errno;
	if (e == ESRCH)
		return 0;
	if (e == EPERM) {
		/* A thread born from one we seized is ours already; a zombie
		 * cannot be seized and has nothing to trace. */
		char path[64], line[256];
		long tracer = -1;
		char state = 0;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)p->pid, (int)tid);
		FILE *f = fopen(path, "re");
		if (!f)
			return 0;
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "TracerPid: %ld", &tracer);
			sscanf(line, "State: %c", &state);
		}
		fclose(f);
		if (tracer == (long)getpid()) {
			if (!tcb_find(tr, tid) && !tcb_add(tr, tid, p))
				return pt_error_set(err, PT_E_INTERNAL, "out of memory");
			return 0;
		}
		if (state == 'Z' || state == 'X')
			return 0;
		pt_ptrace_explain_eperm(p->pid, err);
		return -(err->status ? err->status : PT_E_PERM);
	}
	return pt_error_set(err, PT_E_INTERNAL, "PTRACE_SEIZE thread %d: %s", (int)tid, strerror(e));
}

int pt_tracer_attach(const struct pt_tracer_opts *opts, pid_t pid, struct pt_tracer **out,
		     struct pt_error *err)
{
	struct pt_tracer *tr;
	char path[64];
	int rc = 0;

	*out = NULL;
	if (pid <= 0)
		return pt_error_set(err, PT_E_NOPROC, "no such process: %d", (int)pid);
	pid = task_tgid(pid);  /* a thread id stands for its process */
	if (pid == getpid())
		return pt_error_set(err, PT_E_USAGE, "cannot trace pytrace itself");
	if (!(tr = tracer_new(opts)))
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	tr->step = true;
	tr->attach_mode = true;
	tr->options = TRACE_OPTIONS;
	if (!opts->follow_forks)
		tr->options &= ~(unsigned long)(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK);
	struct tproc *p = proc_get(tr, pid);
	if (!p) {
		free(tr);
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	/* Threads born meanwhile from a seized thread are seized by the
	 * kernel (TRACECLONE); the others show up in the next listing. */
	for (int round = 0;; round++) {
		size_t fresh = 0;
		DIR *dir = opendir(path);
		struct dirent *de;

		if (round == ATTACH_MAX_ROUNDS) {
			rc = pt_error_set(err, PT_E_INTERNAL,
					 "process %d keeps creating threads faster than they can be seized",
					 (int)pid);
			break;
		}
		if (!dir) {
			int e = errno;
			if (e == ENOENT || e == ESRCH)
				rc = round == 0 ? pt_error_set(err, PT_E_NOPROC, "no such process: %d", (int)pid)
						: pt_error_set(err, PT_E_EXITED, "process %d exited while being attached",
							      (int)pid);
			else if (e == EACCES || e == EPERM)
				pt_ptrace_explain_eperm(pid, err), rc = -(err->status ? err->status : PT_E_PERM);
			else
				rc = pt_error_set(err, PT_E_INTERNAL, "%s: %s", path, strerror(e));
			break;
		}
		while ((de = readdir(dir))) {
			char *end;
			long tid = strtol(de->d_name, &end, 10);
			if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end)
				continue;
			if (tcb_find(tr, (pid_t)tid))
				continue;
			rc = attach_one(tr, p, (pid_t)tid, err);
			if (rc < 0)
				break;
			fresh += (size_t)rc;
			rc = 0;
		}
		closedir(dir);
		if (rc < 0 || fresh == 0)
			break;
	}
	if (rc == 0 && tr->ntcbs == 0)
		rc = pt_error_set(err, PT_E_EXITED, "process %d has exited (a zombie)", (int)pid);
	if (rc < 0) {
		detach_all(tr);
		tr->done = true;
		pt_tracer_free(tr);
		return rc;
	}
	*out = tr;
	return 0;
}

int pt_tracer_launched_status(const struct pt_tracer *tr)
{
	return tr->launch.status;
}

int pt_tracer_exec_error(struct pt_tracer *tr, struct pt_error *err)
{
	return tr->launch.pid ? pt_launch_exec_error(&tr->launch, err) : 0;
}

pid_t pt_tracer_launched_pid(const struct pt_tracer *tr)
{
	return tr->launch.pid;
}

bool pt_tracer_uses_seccomp(const struct pt_tracer *tr)
{
	return !tr->step;
}

bool pt_tracer_killed_launched(const struct pt_tracer *tr)
{
	return tr->killed;
}

size_t pt_tracer_nthreads(const struct pt_tracer *tr)
{
	return tr->ntcbs;
}

void pt_tracer_free(struct pt_tracer *tr)
{
	if (!tr)
		return;
	if (tr->ntcbs)
		detach_all(tr);
	pt_launch_close(&tr->launch);
	while (tr->procs) {
		struct tproc *p = tr->procs;
		tr->procs = p->next;
		free(p);
	}
	free(tr->q.v);
	free(tr->q.hold);
	free(tr);
}
