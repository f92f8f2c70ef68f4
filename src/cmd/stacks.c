/* SPDX-License-Identifier: MIT */
/* pytrace stacks: which Python code makes these system calls. Every chosen
 * call of a launched command or running process, with the stack read while
 * its thread is stopped at the call; printed one by one or counted. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/time.h>

#include "cmd/cmd.h"
#include "output/output.h"
#include "pytrace/pytrace.h"
#include "output/format.h"
#include "stack/aggregate.h"
#include "stack/intern.h"
#include "syscalls/syscalls.h"
#include "target/tracer.h"

static const char stacks_usage[] =
	"usage: pytrace stacks -e SYSCALLS [-T] [-f] [--native] [--depth N]\n"
	"                      [--count [--top N]] [--latency] [--folded | --json] [-o FILE]\n"
	"                      [--svg FILE] [--speedscope FILE] [--pprof FILE] [--for DURATION]\n"
	"                      (-p PID | -c 'COMMAND LINE' | -- PROGRAM ARGS...)\n"
	"\n"
	"Which Python code makes these system calls: each chosen call with its\n"
	"arguments and result (as strace prints it), then the Python stack of the\n"
	"thread, read while it is stopped at the call.\n"
	"\n"
	"  -e, --trace SYSCALLS\n"
	"                  x86_64 system calls to catch, comma-separated: names (write,rmdir)\n"
	"                  and strace's classes (%file %desc %network %process %memory\n"
	"                  %signal %ipc %creds %clock %pure %stat %lstat %fstat %%stat ...);\n"
	"                  \"all\"; a leading ! catches every call but these\n"
	"  -T              each call's duration, entry to return: <0.000123>\n"
	"  -f              follow child processes (fork, vfork) too; without it only the\n"
	"                  process itself (all its threads, and what it executes)\n"
	"  --native        the native stack merged with the Python frames (as dump --native)\n"
	"  --depth N       at most N frames per stack, innermost first (DTrace's jstack(N));\n"
	"                  --count then counts stacks cut to N frames\n"
	"  --count         count identical stacks; print them at the end (or on Ctrl-C),\n"
	"                  least frequent first, then a totals line (events, distinct\n"
	"                  stacks, errors) and a table per system call as strace -c\n"
	"                  prints it (calls, errors, total and mean time)\n"
	"  --top N         with --count or --folded: only the N most frequent stacks, most\n"
	"                  frequent first\n"
	"  --folded        aggregated stacks as \"frame;frame;syscall count\" lines for\n"
	"                  flamegraph.pl, inferno, speedscope (implies --count; the totals\n"
	"                  go to stderr)\n"
	"  --latency       DTrace's quantize per stack: a power-of-two histogram of the\n"
	"                  calls' durations in ns (value, @ bars, count), then count, p50,\n"
	"                  p90, p99 (to 1/8 of the value) and max (implies --count; with\n"
	"                  --json a \"histogram\" member)\n"
	"  --svg FILE      write the counted stacks as an interactive flame graph: one\n"
	"                  self-contained SVG (click to zoom, Ctrl-F to search, hover for\n"
	"                  counts and percentages; needs no network)\n"
	"  --speedscope FILE\n"
	"                  write them in speedscope's JSON format (sampled: the counts,\n"
	"                  and with -T or --latency the time as a second profile)\n"
	"  --pprof FILE    write them as a gzip'd pprof profile.proto (go tool pprof,\n"
	"                  Pyroscope, Parca): sample types syscalls/count and, with -T\n"
	"                  or --latency, time/nanoseconds\n"
	"                  (the three imply --count, hold every stack whatever --top\n"
	"                  says, and go with any printed form)\n"
	"  --json          one JSON object per event (\"event\": \"call\"), or per stack with\n"
	"                  --count, then one {\"totals\", \"syscalls\"} object; frames are\n"
	"                  objects as in dump --json\n"
	"  -o, --output FILE\n"
	"                  write there (written as it comes: tail -f works). Default: the\n"
	"                  standard error with a command (its output stays its own, as\n"
	"                  with strace), the standard output with -p\n"
	"  --for DURATION  stop after DURATION (10, 10s, 500ms, 2m, 1h), as a SIGTERM would\n"
	"                  (attached: detach; launched: the command gets it)\n"
	"  -p, --pid PID   trace a running process, all its threads (one process per run)\n"
	"  -c, --command 'COMMAND LINE'\n"
	"                  start a command: words split at blanks, '...' and \"...\" quote,\n"
	"                  \\ escapes; nothing is expanded and | & ; < > ( ) $ ` are refused\n"
	"                  (use -- sh -c '...'). Not strace's -c summary: that is --count\n"
	"  -- PROGRAM ARGS start PROGRAM, found on PATH\n"
	"  --no-seccomp    launch mode: stop at every system call instead of installing a\n"
	"                  seccomp filter (slower; for comparisons)\n"
	"\n"
	"With -T or --json, a call that has not returned 100 ms after it started is\n"
	"shown then, with its stack (\"read(0, ... <unfinished ...>\"), and its return\n"
	"later (\"<... read resumed>) = 5 <2.000131>\"; JSON \"event\": \"unfinished\",\n"
	"then the whole call with \"event\": \"resumed\"): a hang shows while it hangs.\n"
	"\n"
	"What it costs. A launched command runs under a seccomp filter: only the\n"
	"chosen calls stop it, the others run at full speed. A running process (-p)\n"
	"cannot be given a filter, and ptrace has no in-kernel filter: every system\n"
	"call of the target stops it twice, chosen or not, which costs tens of\n"
	"microseconds per call (bench/stacks measures it; pytrace says it when it\n"
	"attaches). A process making many calls runs much slower while traced.\n"
	"\n"
	"A command pytrace starts is its child, as with strace: SIGINT, SIGTERM, SIGHUP\n"
	"and SIGQUIT are passed on to it (unless they came from the terminal, which sent\n"
	"them to it too) and tracing goes on while it ends; what has not exited 2 s later\n"
	"is killed. A closed output kills it at once. It dies with pytrace, even if\n"
	"pytrace is killed with SIGKILL. With -p, Ctrl-C detaches and the process runs\n"
	"on (\"pytrace: detached from PID; target running\").\n"
	"\n"
	"Exit status: with a command, the command's own (128+N if signal N killed it);\n"
	"126/127 if it cannot be executed / is not found; 1 if the output or a --svg,\n"
	"--speedscope or --pprof file cannot be written (a full disk; not a closed\n"
	"pipe), in either mode; 2 usage (one\n"
	"\"pytrace:\" line); otherwise as for every command (see pytrace --help).\n";

/* A call still under way this long is shown as <unfinished ...> (with -T
 * or --json); the timer that looks runs at this period too. */
enum { STACKS_UNFINISHED_MS = 100 };

/* What one system call of a process under attach-mode tracing costs, as
 * bench/stacks/run --attach-cost measures it (README: per CPython). */
enum { STACKS_ATTACH_COST_US = 50 };

/* How long a launched command may take to exit after Ctrl-C before it is
 * killed (it does not outlive pytrace: target/launch.c). */
enum { STACKS_GRACE_MS = 2000 };

struct stacks_opts {
	struct pt_syscall_set select;
	bool native, count, folded, json, no_seccomp, timing, follow, latency;
	size_t top;
	const char *output;
	/* --svg, --speedscope, --pprof: files written at the end, in the
	 * order of stacks_file_formats. */
	const char *files[3];
	pid_t pid;
	struct cli_pids pids;
	const char *command;
	char **argv;      /* after "--" */
	uint64_t for_ms;  /* --for: stop after this long (0: no limit) */
};

/* What we know of one traced process. */
struct sproc {
	pid_t pid;
	pt_process *proc;        /* opened at its first event */
	struct pt_mem mem;       /* for decoding arguments */
	bool stale;              /* exec'd: refresh before the next read */
	bool maps_stale;         /* new code mapped */
	bool failed;             /* could not be opened: events without stacks */
	bool noted;              /* the "not a Python process" note is out */
	char why[sizeof(((struct pt_error *)0)->msg)];
};

/* One thread: the call under way, with the stack read at its entry. */
struct sthread {
	bool pending;
	bool shown;              /* printed as <unfinished ...> */
	struct timespec started; /* let go into the call, its stack read */
	pid_t pid, tid;
	struct sthread *pnext, **pprev;  /* in stacks_state.pending while pending */
	bool native;
	bool python;
	struct timespec when;
	struct pt_snapshot *snap;
	const char *no_stack;
	char why[sizeof(((struct pt_error *)0)->msg)];
	struct pt_syscall sc;
};

struct stacks_state {
	struct stacks_opts *o;
	struct pt_tracer *tr;
	struct pt_out_file file;  /* where events go; out is file.f */
	FILE *out;
	struct pt_sink *main;     /* text, json or folded, on out */
	struct pt_intern *intern; /* --count: frames and stacks */
	struct pt_agg *agg;
	FILE *files[3];           /* opts.files, opened at the start */
	bool file_failed;         /* one of them could not be written (said) */
	bool launch;
	bool write_failed;
	int output_error;        /* errno of a failed write other than EPIPE, EINTR */
	bool flush_each;         /* flush after every event (terminal, pipe) */
	bool aggregate_failed;
	int interrupted_by;
	unsigned long events;
	struct sthread *pending;  /* calls under way, for <unfinished ...> */
	pid_t launched_pid;       /* the command's process, for the exec note */
	char command_path[4096];
	bool exec_noted;
	struct pt_out_syscall_row rows[PT_SYSCALL_SET_BITS];  /* --count's table */
};

static volatile sig_atomic_t stacks_tick;

static void stacks_on_alarm(int sig)
{
	(void)sig;
	stacks_tick = 1;
}

static volatile sig_atomic_t stacks_signal;
static volatile sig_atomic_t stacks_signal_from_kernel;

static void stacks_on_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	stacks_signal = sig;
	/* From the terminal (SI_KERNEL): the whole foreground process group,
	 * the launched command included, got it too. */
	stacks_signal_from_kernel = si && si->si_code == SI_KERNEL;
}

static void stacks_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = stacks_on_signal;
	sa.sa_flags = SA_SIGINFO;   /* no SA_RESTART: waitpid must return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void read_comm(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	FILE *f;

	snprintf(buf, cap, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (!(f = fopen(path, "re")))
		return;
	if (fgets(buf, (int)cap, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* --- per-process preparation ---------------------------------------------- */

static struct sproc *sproc_get(void **slot, pid_t pid)
{
	struct sproc *sp = *slot;
	if (sp)
		return sp;
	if (!(sp = calloc(1, sizeof(*sp))))
		return NULL;
	sp->pid = pid;
	pt_mem_init(&sp->mem, pid);
	*slot = sp;
	return sp;
}

static void sproc_free(struct sproc *sp)
{
	if (!sp)
		return;
	pt_process_close(sp->proc);
	pt_mem_fini(&sp->mem);
	free(sp);
}

static bool sproc_is_python(const struct sproc *sp)
{
	return sp->proc && pt_process_python(sp->proc);
}

/* Opens or refreshes the process's view before its stack is read. The
 * mappings are read here and only here: at the first event, after an
 * exec, and after new code was mapped when it matters (native stacks, or
 * a process not yet known to run Python: libpython may just have come). */
static void sproc_prepare(struct stacks_state *st, struct sproc *sp)
{
	struct pt_error err = { 0 };

	if (sp->stale && sp->failed) {
		sp->failed = false;
		sp->stale = false;
	}
	if (sp->failed)
		return;
	if (!sp->proc) {
		if (pt_process_open(sp->pid, PT_OPEN_ALLOW_NON_PYTHON, &sp->proc, &err) < 0) {
			sp->proc = NULL;
			sp->failed = true;
			snprintf(sp->why, sizeof(sp->why), "%s", err.msg);
			cli_error("process %d: %s; its events are shown without stacks", (int)sp->pid,
				  err.msg);
			return;
		}
		sp->stale = sp->maps_stale = false;
	} else if (sp->stale || (sp->maps_stale && (st->o->native || !sproc_is_python(sp)))) {
		bool was_python = sproc_is_python(sp);
		if (pt_process_refresh(sp->proc, &err) < 0) {
			pt_process_close(sp->proc);
			sp->proc = NULL;
			sp->failed = true;
			snprintf(sp->why, sizeof(sp->why), "%s", err.msg);
			cli_error("process %d: %s; its events are shown without stacks", (int)sp->pid,
				  err.msg);
			return;
		}
		sp->stale = sp->maps_stale = false;
		if (!was_python && sproc_is_python(sp) && sp->noted) {
			/* A shared libpython mapped after the first event,
			 * or an exec into Python. */
			char comm[32];
			read_comm(sp->pid, comm, sizeof(comm));
			cli_error("process %d (%s) now runs Python %s: Python stacks from here on",
				  (int)sp->pid, comm, pt_process_python(sp->proc)->version);
		}
		if (was_python != sproc_is_python(sp))
			sp->noted = false;
	}
	if (!sproc_is_python(sp) && !sp->noted) {
		char comm[32];
		read_comm(sp->pid, comm, sizeof(comm));
		cli_error("process %d (%s) is not a Python process: native stacks only",
			  (int)sp->pid, comm);
		sp->noted = true;
	}
	if (sproc_is_python(sp))
		sp->noted = true;
}

/* --- events ------------------------------------------------------------------ */

static void sthread_clear(struct sthread *th)
{
	pt_snapshot_free(th->snap);
	th->snap = NULL;
	th->pending = false;
	th->shown = false;
	th->no_stack = NULL;
	if (th->pprev) {
		*th->pprev = th->pnext;
		if (th->pnext)
			th->pnext->pprev = th->pprev;
		th->pnext = NULL;
		th->pprev = NULL;
	}
}

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

static void stacks_print(struct stacks_state *st, const struct pt_syscall_event *ev)
{
	pt_sink_event(st->main, &(struct pt_fmt_event){ .kind = PT_FMT_EV_SYSCALL, .syscall = ev });
	if (st->flush_each)
		fflush(st->out);
	if (st->file.error || ferror(st->out))
		st->write_failed = true;
}

/* end: when the call returned, or NULL (it never did). */
static void stacks_emit(struct stacks_state *st, struct sthread *th, pid_t pid, pid_t tid,
			const struct timespec *end)
{
	struct pt_syscall_event ev = {
		/* A return shown apart from its start is dated by the return. */
		.when = th->shown && end ? *end : th->when,
		.pid = pid,
		.tid = tid,
		.sc = &th->sc,
		.thread = th->snap && th->snap->n_threads ? &th->snap->threads[0] : NULL,
		.no_stack = th->no_stack,
		.native = th->native,
		.python = th->python,
		.phase = th->shown ? PT_EV_RESUMED : PT_EV_CALL,
		.show_time = st->o->timing,
		.duration_ns = end ? ns_between(&th->started, end) : -1,
	};

	st->events++;
	if (st->o->count) {
		/* The one place a stack becomes an identity: merged, cut to
		 * --depth, the call's name as its leaf. */
		pt_stack_id sid;
		if (pt_intern_thread(st->intern, ev.thread, ev.native, pt_out_style.depth, th->sc.name,
				     ev.no_stack, &sid) < 0 ||
		    pt_agg_add(st->agg, sid, 1, ev.duration_ns) < 0)
			st->aggregate_failed = true;
		long nr = th->sc.nr;
		if (nr >= 0 && nr < PT_SYSCALL_SET_BITS) {
			struct pt_out_syscall_row *r = &st->rows[nr];
			if (!r->name)
				r->name = pt_syscall_name(nr);
			r->calls++;
			r->errors += th->sc.returned && th->sc.err > 0;
			if (ev.duration_ns > 0)
				r->ns += (uint64_t)ev.duration_ns;
		}
	} else {
		/* JSON repeats the whole call (with its stack) when it returns;
		 * text prints only the return (strace's "<... resumed>"). */
		stacks_print(st, &ev);
	}
	sthread_clear(th);
}

/* The timer: calls under way for STACKS_UNFINISHED_MS are shown now. */
static void stacks_on_tick(struct stacks_state *st)
{
	struct timespec now;

	if (st->flush_each)
		fflush(st->out);
	if (st->o->count || !(st->o->timing || st->o->json))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	for (struct sthread *th = st->pending; th; th = th->pnext) {
		if (th->shown || ns_between(&th->when, &now) < STACKS_UNFINISHED_MS * 1000000LL)
			continue;
		struct pt_syscall_event ev = {
			.when = th->when,
			.pid = th->pid,
			.tid = th->tid,
			.sc = &th->sc,
			.thread = th->snap && th->snap->n_threads ? &th->snap->threads[0] : NULL,
			.no_stack = th->no_stack,
			.native = th->native,
			.python = th->python,
			.phase = PT_EV_UNFINISHED,
			.show_time = st->o->timing,
			.duration_ns = -1,
		};
		stacks_print(st, &ev);
		th->shown = true;
	}
}

static void on_entry(struct stacks_state *st, const struct pt_tev *ev)
{
	struct sproc *sp = sproc_get(ev->proc_user, ev->pid);
	struct sthread *th = *ev->thread_user;

	if (!th && !(th = *ev->thread_user = calloc(1, sizeof(*th))))
		return;
	if (!sp)
		return;
	sthread_clear(th);
	th->pending = true;
	th->when = ev->when;
	th->started = ev->when;
	th->pid = ev->pid;
	th->tid = ev->tid;
	th->pnext = st->pending;
	th->pprev = &st->pending;
	if (st->pending)
		st->pending->pprev = &th->pnext;
	st->pending = th;
	pt_syscall_decode_entry(&th->sc, ev->nr, ev->args, &sp->mem);
	if (ev->launcher) {
		th->native = st->o->native;
		th->python = false;
		th->no_stack = "pytrace's launcher, before the command started";
		return;
	}
	sproc_prepare(st, sp);
	if (!sp->proc) {
		th->no_stack = sp->why;
		return;
	}
	th->python = sproc_is_python(sp);
	th->native = st->o->native || !th->python;
	struct pt_error err = { 0 };
	if (pt_thread_stack(sp->proc, ev->tid, PT_SNAP_NO_NAME | (th->native ? PT_SNAP_NATIVE : 0),
			    &th->snap, &err) < 0) {
		th->snap = NULL;
		snprintf(th->why, sizeof(th->why), "%s", err.msg[0] ? err.msg : pt_status_name(err.status));
		th->no_stack = th->why;
	}
	/* -T measures the call, not the stack read that held it. */
	clock_gettime(CLOCK_REALTIME, &th->started);
}

static void on_exit_stop(struct stacks_state *st, const struct pt_tev *ev)
{
	struct sproc *sp = *ev->proc_user;
	struct sthread *th = *ev->thread_user;

	if (!th || !th->pending)
		return;
	if (sp)
		pt_syscall_decode_exit(&th->sc, ev->ret, &sp->mem);
	else
		th->sc.returned = true, th->sc.ret = ev->ret;
	stacks_emit(st, th, ev->pid, ev->tid, &ev->when);
}

static void on_thread_exit(struct stacks_state *st, const struct pt_tev *ev)
{
	struct sthread *th = ev->user;

	if (!th)
		return;
	/* A call that never returned: exit_group, or the thread was killed
	 * (or detached) inside it. Shown with "= ?". */
	if (th->pending)
		stacks_emit(st, th, ev->pid, ev->tid, NULL);
	sthread_clear(th);
	free(th);
}

static void on_process_exit(struct stacks_state *st, const struct pt_tev *ev)
{
	sproc_free(ev->user);
	if (st->launch || ev->status == -1)
		return;
	/* Attach mode: say how the traced process ended. */
	if (ev->status == -1)
		return;
	if (WIFEXITED(ev->status))
		cli_error("process %d exited with status %d", (int)ev->pid, WEXITSTATUS(ev->status));
	else
		cli_error("process %d was killed by SIG%s", (int)ev->pid,
			  sigabbrev_np(WTERMSIG(ev->status)) ? sigabbrev_np(WTERMSIG(ev->status)) : "?");
}

/* The command pytrace started executed a program. When it was a launcher
 * (pyenv's bash "python3" shim, a wrapper script) that ends by executing
 * a Python interpreter, say so once: tracing follows the exec, but not
 * the helpers the launcher forked unless -f was given. */
static void note_launched_exec(struct stacks_state *st, pid_t pid)
{
	char path[64], exe[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (st->exec_noted || (n = readlink(path, exe, sizeof(exe) - 1)) < 0)
		return;
	exe[n] = 0;
	const char *base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	if (strncmp(base, "python", 6) || !strcmp(exe, st->command_path))
		return;
	char real[4096];
	if (realpath(st->command_path, real) && !strcmp(real, exe))
		return;
	st->exec_noted = true;
	cli_error("%s is a launcher: it executed %s, which is traced%s", st->command_path, exe,
		  st->o->follow ? "" : " (the processes it forked before were not: -f follows them)");
}

/* The event loop's body: false once tracing is over. */
static bool dispatch_event(struct stacks_state *st, const struct pt_tev *ev)
{
	switch (ev->kind) {
	case PT_TEV_SYSCALL_ENTRY:
		on_entry(st, ev);
		break;
	case PT_TEV_SYSCALL_EXIT:
		on_exit_stop(st, ev);
		break;
	case PT_TEV_EXEC: {
		struct sproc *sp = *ev->proc_user;
		if (sp)
			sp->stale = true;
		if (ev->pid == st->launched_pid)
			note_launched_exec(st, ev->pid);
		break;
	}
	case PT_TEV_TICK:
		stacks_on_tick(st);
		break;
	case PT_TEV_MAPS: {
		struct sproc *sp = ev->proc_user ? *ev->proc_user : NULL;
		if (sp)
			sp->maps_stale = true;
		break;
	}
	case PT_TEV_THREAD_EXIT:
		on_thread_exit(st, ev);
		break;
	case PT_TEV_PROCESS_EXIT:
		on_process_exit(st, ev);
		break;
	case PT_TEV_INTERRUPTED:
		st->interrupted_by = ev->signal;
		pt_tracer_shutdown(st->tr, ev->signal, !stacks_signal_from_kernel, STACKS_GRACE_MS);
		break;
	case PT_TEV_END:
		return false;
	case PT_TEV_ERROR:
		cli_error("%s", ev->err.msg);
		return false;
	}
	if (st->write_failed && !st->interrupted_by && st->file.error != EINTR) {
		/* Nobody reads us any more (a closed pipe), or the output
		 * cannot take more (a full disk): stop as on Ctrl-C. (EINTR:
		 * a signal ended a blocked write; its event comes next.) */
		if (st->file.error != EPIPE)
			st->output_error = st->file.error ? st->file.error : EIO;
		st->interrupted_by = SIGPIPE;
		pt_tracer_shutdown(st->tr, SIGPIPE, false, 0);
	}
	return true;
}

/* --- command line ------------------------------------------------------------- */

/* execvp's search, done here so that "not found" is our error and not an
 * event in the trace. 0, -ENOENT or -EACCES. */
static int resolve_command(const char *name, char *out, size_t cap)
{
	struct stat sb;

	if (strchr(name, '/')) {
		if (stat(name, &sb) < 0)
			return -errno;
		if (!S_ISREG(sb.st_mode) || access(name, X_OK) < 0)
			return -EACCES;
		snprintf(out, cap, "%s", name);
		return 0;
	}
	const char *path = getenv("PATH");
	int rc = -ENOENT;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;; ) {
		size_t len = strcspn(p, ":");
		snprintf(out, cap, "%.*s%s%s", (int)len, len ? p : ".", "/", name);
		if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			rc = -EACCES;
		}
		p += len;
		if (!*p)
			break;
		p++;
	}
	return rc;
}

static int parse_opts(int argc, char **argv, struct stacks_opts *o)
{
	enum { OPT_NATIVE = 256, OPT_COUNT, OPT_TOP, OPT_FOLDED, OPT_JSON, OPT_NO_SECCOMP, OPT_DEPTH,
	       OPT_LATENCY, OPT_SVG, OPT_SPEEDSCOPE, OPT_PPROF, OPT_FOR };
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 'e' },
		{ "native", no_argument, NULL, OPT_NATIVE },
		{ "count", no_argument, NULL, OPT_COUNT },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "folded", no_argument, NULL, OPT_FOLDED },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "latency", no_argument, NULL, OPT_LATENCY },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ "speedscope", required_argument, NULL, OPT_SPEEDSCOPE },
		{ "pprof", required_argument, NULL, OPT_PPROF },
		{ "for", required_argument, NULL, OPT_FOR },
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, 'p' },
		{ "command", required_argument, NULL, 'c' },
		{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char why[512];
	bool have_e = false, have_top = false;
	int c;

	optind = 1;
	while ((c = cli_getopt(argc, argv, "+:e:o:p:c:hTf", opts, "stacks")) != -1) {
		switch (c) {
		case 'e': {
			/* Several -e options add up, as in strace. */
			struct pt_syscall_set one;
			if (pt_syscall_set_parse(&one, optarg, why, sizeof(why)) < 0) {
				cli_error("%s", why);
				return 2;
			}
			for (size_t i = 0; i < PT_SYSCALL_SET_BITS / 64; i++)
				o->select.bits[i] |= one.bits[i];
			have_e = true;
			break;
		}
		case OPT_NATIVE: o->native = true; break;
		case OPT_COUNT: o->count = true; break;
		case OPT_TOP: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v == 0 || optarg[0] == '-') {
				cli_error("--top wants a positive number, not '%s'", optarg);
				return 2;
			}
			o->top = v;
			have_top = true;
			break;
		}
		case OPT_DEPTH:
			if (cli_parse_depth(optarg, "stacks") < 0)
				return 2;
			break;
		case OPT_FOLDED: o->folded = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_LATENCY: o->latency = true; break;
		case OPT_SVG: o->files[0] = optarg; break;
		case OPT_SPEEDSCOPE: o->files[1] = optarg; break;
		case OPT_PPROF: o->files[2] = optarg; break;
		case OPT_FOR:
			if (cli_parse_duration(optarg, "stacks", "--for", &o->for_ms) < 0)
				return 2;
			break;
		case OPT_NO_SECCOMP: o->no_seccomp = true; break;
		case 'T': o->timing = true; break;
		case 'f': o->follow = true; break;
		case 'o': o->output = optarg; break;
		case 'p':
			if (cli_add_pids(&o->pids, optarg, "stacks") < 0)
				return 2;
			break;
		case 'c': o->command = optarg; break;
		case 'h': fputs(stacks_usage, stdout); return 0;
		default: return 2;
		}
	}
	if (optind < argc)
		o->argv = argv + optind;
	if (!have_e) {
		cli_error("stacks needs -e SYSCALLS (see pytrace help stacks)");
		return 2;
	}
	if (o->pids.n > 1) {
		cli_error("stacks traces one process per run (-p was given %zu): run one pytrace per "
			  "process, or -f to follow a process's children", o->pids.n);
		return 2;
	}
	if (o->pids.n)
		o->pid = o->pids.pid[0];
	if ((o->pid > 0) + (o->command != NULL) + (o->argv != NULL) != 1) {
		cli_error("stacks needs exactly one target: -p PID, -c 'COMMAND', or -- PROGRAM ARGS");
		return 2;
	}
	if (o->folded && o->json) {
		cli_error("--folded and --json exclude each other");
		return 2;
	}
	/* Every aggregated output counts. */
	if (o->folded || o->latency || o->files[0] || o->files[1] || o->files[2])
		o->count = true;
	if (have_top && !o->count) {
		cli_error("--top needs --count or --folded");
		return 2;
	}
	return -1;
}

static int row_cmp(const void *a, const void *b)
{
	const struct pt_out_syscall_row *x = a, *y = b;
	if (x->ns != y->ns)
		return x->ns > y->ns ? -1 : 1;
	if (x->calls != y->calls)
		return x->calls > y->calls ? -1 : 1;
	return strcmp(x->name, y->name);
}

static const char *const stacks_file_formats[3] = { "svg", "speedscope", "pprof" };

static void print_aggregate(struct stacks_state *st)
{
	const struct pt_agg_entry **v = NULL, **all = NULL;
	size_t n, nall, distinct = pt_agg_size(st->agg);
	/* DTrace prints aggregations least frequent first (the largest ends
	 * near the prompt); asked for the top N, the first is the largest. */
	bool most_first = st->o->top > 0;

	if (pt_agg_sorted(st->agg, PT_AGG_BY_COUNT, st->o->top, most_first, &v, &n) < 0 ||
	    pt_agg_sorted(st->agg, PT_AGG_BY_COUNT, 0, false, &all, &nall) < 0) {
		free(v);
		cli_error("out of memory");
		return;
	}
	/* strace -c's table: by time spent, then calls. */
	static struct pt_out_syscall_row rows[PT_SYSCALL_SET_BITS];
	size_t nrows = 0;
	for (long nr = 0; nr < PT_SYSCALL_SET_BITS; nr++)
		if (st->rows[nr].calls)
			rows[nrows++] = st->rows[nr];
	qsort(rows, nrows, sizeof(rows[0]), row_cmp);
	struct pt_fmt_aggregate a = {
		.in = st->intern, .v = v, .n = n, .distinct = distinct, .most_first = most_first,
		.has_time = st->o->timing || st->o->latency, .latency = st->o->latency,
		.rows = st->o->folded ? NULL : rows, .nrows = nrows, .events = st->events,
	};
	pt_sink_aggregate(st->main, &a);
	if (st->o->folded) {
		uint64_t errors = 0;
		for (size_t i = 0; i < nrows; i++)
			errors += rows[i].errors;
		cli_error("%llu events, %zu distinct stacks, %llu errors%s", (unsigned long long)st->events,
			  distinct, (unsigned long long)errors,
			  most_first ? "; most frequent first" : "");
	}
	/* The files hold every stack (--top cuts only what is printed). */
	a.v = all;
	a.n = nall;
	a.rows = NULL;
	a.most_first = false;
	for (size_t i = 0; i < 3; i++) {
		if (!st->files[i])
			continue;
		struct pt_sink *fs;
		struct pt_sink_opts so = { .title = "pytrace stacks", .count_unit = "syscalls",
					   .time_unit_name = "time" };
		int rc = pt_sink_open(&fs, pt_format_find(stacks_file_formats[i]), st->files[i], &so);
		if (rc == 0) {
			pt_sink_aggregate(fs, &a);
			rc = pt_sink_close(fs);
		}
		errno = 0;
		if (rc == 0 && (fflush(st->files[i]) != 0 || ferror(st->files[i])))
			rc = -(errno ? errno : EIO);
		if (rc < 0) {
			cli_error("cannot write %s: %s", st->o->files[i], strerror(-rc));
			st->file_failed = true;
		}
	}
	free(v);
	free(all);
}

static int stacks_start(struct stacks_state *st, struct pt_tracer_opts *topts, char ***split)
{
	struct stacks_opts *o = st->o;
	struct pt_error err = { 0 };
	char path[4096];
	char **argv = o->argv;
	int rc;

	if (o->pid > 0) {
		/* Look first, so that a missing process or a permission
		 * problem is reported before anything is stopped. */
		pt_process *proc = NULL;
		if ((rc = pt_process_open(o->pid, PT_OPEN_ALLOW_NON_PYTHON, &proc, &err)) < 0) {
			cli_error("%s", err.msg[0] ? err.msg : pt_status_name(rc));
			return pt_status_exit_code(rc);
		}
		pt_process_close(proc);
		if ((rc = pt_tracer_attach(topts, o->pid, &st->tr, &err)) < 0) {
			cli_error("%s", err.msg[0] ? err.msg : pt_status_name(rc));
			return pt_status_exit_code(rc);
		}
		/* As strace says it: tests and users can wait for this line. */
		size_t n = pt_tracer_nthreads(st->tr);
		cli_error("attached to process %d (%zu thread%s)", (int)o->pid, n, n == 1 ? "" : "s");
		cli_error("without a seccomp filter (none can be added to a running process), every "
			  "system call of process %d now stops it: each costs about %d us more",
			  (int)o->pid, STACKS_ATTACH_COST_US);
		return -1;
	}
	if (o->command)
		argv = *split;
	rc = resolve_command(argv[0], path, sizeof(path));
	if (rc == -ENOENT) {
		cli_error("command not found: %s", argv[0]);
		return 127;
	}
	if (rc < 0) {
		cli_error("cannot execute %s: %s", argv[0], strerror(-rc));
		return 126;
	}
	st->launch = true;
	if ((rc = pt_tracer_launch(topts, path, argv, &st->tr, &err)) < 0) {
		cli_error("%s", err.msg);
		return pt_status_exit_code(rc);
	}
	st->launched_pid = pt_tracer_launched_pid(st->tr);
	snprintf(st->command_path, sizeof(st->command_path), "%s", path);
	return -1;
}

int cmd_stacks(int argc, char **argv)
{
	struct stacks_opts o = { 0 };
	struct stacks_state st = { .o = &o };
	struct pt_tracer_opts topts = { 0 };
	char **split = NULL;
	char why[512];
	int rc = parse_opts(argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (o.command && !(split = cli_split_command(o.command, why, sizeof(why)))) {
		cli_error("%s", why);
		return 2;
	}
	/* As strace: a command's own output stays its own; the trace goes to
	 * the standard error unless -o says where. */
	int out_fd = o.pid > 0 ? STDOUT_FILENO : STDERR_FILENO;
	if (o.output && (out_fd = cli_open_output(o.output)) < 0) {
		cli_split_free(split);
		return 2;
	}
	if (pt_out_file_open(&st.file, out_fd, o.output != NULL, o.output, &stacks_signal) < 0) {
		cli_error("out of memory");
		return 1;
	}
	st.out = st.file.f;
	/* Each event is written as soon as it is complete, to a file too (tail
	 * -f; a SIGKILL loses nothing written). /dev/null needs no care. */
	struct stat sb;
	if (fstat(out_fd, &sb) == 0 && S_ISCHR(sb.st_mode) && !isatty(out_fd))
		setvbuf(st.out, NULL, _IOFBF, 1 << 16);
	else
		st.flush_each = true;
	struct pt_sink_opts mso = { .title = "pytrace stacks", .count_unit = "syscalls" };
	if (pt_sink_open(&st.main, pt_format_find(o.folded ? "folded" : o.json ? "json" : "text"),
			 st.out, &mso) < 0 ||
	    (o.count && (!(st.intern = pt_intern_new()) ||
			 !(st.agg = pt_agg_new(st.intern, o.latency ? PT_AGG_HIST : 0))))) {
		cli_error("out of memory");
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!o.files[i])
			continue;
		int fd = cli_open_output(o.files[i]);
		if (fd < 0 || !(st.files[i] = fdopen(fd, "w"))) {
			if (fd >= 0)
				close(fd);
			rc = 2;
			goto out;
		}
	}
	stacks_install_signals();
	topts.select = o.select;
	topts.no_seccomp = o.no_seccomp;
	topts.interrupted = &stacks_signal;
	topts.follow_forks = o.follow;
	if ((o.timing || o.json) && !o.count) {
		/* The clock that shows calls still under way (no SA_RESTART:
		 * the tracer's wait returns). */
		struct sigaction sa = { .sa_handler = stacks_on_alarm };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		topts.tick = &stacks_tick;
	}
	rc = stacks_start(&st, &topts, &split);
	if (rc >= 0)
		goto out;
	/* --for: a SIGTERM to ourselves, which ends the trace as any would */
	if (o.for_ms && cli_stop_after(o.for_ms) < 0)
		cli_error("warning: cannot set the --for timer: %s", strerror(errno));
	if (topts.tick) {
		struct itimerval it = { { 0, STACKS_UNFINISHED_MS * 1000 }, { 0, STACKS_UNFINISHED_MS * 1000 } };
		setitimer(ITIMER_REAL, &it, NULL);
	}

	while (dispatch_event(&st, pt_tracer_next_event(st.tr)))
		;
	if (topts.tick) {
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_REAL, &off, NULL);
	}

	if (st.agg)
		print_aggregate(&st);
	pt_sink_close(st.main);
	st.main = NULL;
	for (size_t i = 0; i < 3; i++) {
		if (st.files[i] && fclose(st.files[i]) != 0 && !st.file_failed) {
			cli_error("cannot write %s: %s", o.files[i], strerror(errno));
			st.file_failed = true;
		}
		st.files[i] = NULL;
	}
	if (st.aggregate_failed)
		cli_error("out of memory: some events were not counted");
	if (pt_out_file_close(&st.file) < 0) {
		st.write_failed = true;
		if (st.file.error != EPIPE && st.file.error != EINTR)
			st.output_error = st.file.error;
	}
	st.out = NULL;

	if (st.launch) {
		int status = pt_tracer_launched_status(st.tr);
		struct pt_error xerr = { 0 };
		if (status == -1)
			rc = 128 + (st.interrupted_by ? st.interrupted_by : SIGTERM);
		else if (WIFEXITED(status)) {
			rc = WEXITSTATUS(status);
			if ((rc == 126 || rc == 127) && pt_tracer_exec_error(st.tr, &xerr) < 0)
				cli_error("%s", xerr.msg);
		} else if (WIFSIGNALED(status)) {
			const char *name = sigabbrev_np(WTERMSIG(status));
			if (st.output_error)
				;  /* said below */
			else if (pt_tracer_killed_launched(st.tr) && st.interrupted_by == SIGPIPE)
				cli_error(pt_tracer_uses_seccomp(st.tr)
					  ? "the output was closed: killed the command (its seccomp "
					    "filter cannot run without pytrace)"
					  : "the output was closed: killed the command");
			else if (pt_tracer_killed_launched(st.tr))
				cli_error("the command did not exit within %d ms of the interrupt: killed it",
					  STACKS_GRACE_MS);
			else
				cli_error("the command was killed by SIG%s", name ? name : "?");
			rc = 128 + WTERMSIG(status);
		} else
			rc = 1;
	} else {
		rc = 0;
		/* Attach mode ended by us (Ctrl-C, a closed output), not by the
		 * process's exit: confirm it runs on. */
		if (st.interrupted_by && kill(o.pid, 0) == 0)
			cli_error("detached from %d; target running", (int)o.pid);
	}
	if (st.output_error) {
		/* Events were lost: whatever the command did, say so, and
		 * exit as every command does for this. */
		cli_write_error(o.output, st.output_error);
		rc = CLI_EXIT_OUTPUT;
	} else if (st.file_failed) {
		rc = CLI_EXIT_OUTPUT;  /* said when it failed */
	} else if (st.write_failed && st.file.error == EINTR) {
		cli_error("interrupted while the output was blocked: the last events were not written");
	}
out:
	pt_tracer_free(st.tr);
	pt_sink_close(st.main);
	for (size_t i = 0; i < 3; i++)
		if (st.files[i])
			fclose(st.files[i]);
	pt_agg_free(st.agg);
	pt_intern_free(st.intern);
	cli_split_free(split);
	pt_out_file_close(&st.file);
	return rc;
}
