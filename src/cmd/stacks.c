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
#include <wordexp.h>

#include "cmd/cmd.h"
#include "output/output.h"
#include "pytrace/pytrace.h"
#include "stack/aggregate.h"
#include "syscalls/syscalls.h"
#include "target/tracer.h"

static const char stacks_usage[] =
	"usage: pytrace stacks -e SYSCALLS [--native] [--count [--top N]] [--folded | --json]\n"
	"                      [-o FILE] (-p PID | -c 'COMMAND LINE' | -- PROGRAM ARGS...)\n"
	"\n"
	"  -e SYSCALLS     x86_64 system calls to catch, comma-separated: names (write,rmdir)\n"
	"                  and strace's classes (%file %desc %network %process %memory\n"
	"                  %signal %ipc %creds %clock %pure %stat %lstat %fstat %%stat ...);\n"
	"                  \"all\"; a leading ! catches every call but these\n"
	"  --native        the native stack merged with the Python frames (as dump --native)\n"
	"  --count         count identical stacks; print them at the end, least frequent first\n"
	"  --top N         with --count: only the N most frequent stacks\n"
	"  --folded        aggregated stacks as \"frame;frame;syscall count\" lines for\n"
	"                  flamegraph.pl, inferno, speedscope (implies --count)\n"
	"  --json          one JSON object per event, or per stack with --count\n"
	"  -o FILE         write there instead of standard output\n"
	"  -p PID          trace a running process (all its threads, and children it forks)\n"
	"  -c 'CMD ARGS'   start a command, split like a shell would (quotes, $VARS, globs;\n"
	"                  no pipes or redirections: use -- sh -c '...' for those)\n"
	"  -- PROGRAM ARGS start PROGRAM, found on PATH; its children are followed too\n"
	"  --no-seccomp    launch mode: stop at every system call instead of installing a\n"
	"                  seccomp filter (slower; for comparisons)\n"
	"\n"
	"A command pytrace starts is its child, as with strace: SIGINT, SIGTERM, SIGHUP\n"
	"and SIGQUIT are passed on to it (unless they came from the terminal, which sent\n"
	"them to it too) and tracing goes on while it ends; what has not exited 2 s later\n"
	"is killed. A closed output kills it at once. It dies with pytrace, even if\n"
	"pytrace is killed with SIGKILL.\n"
	"\n"
	"Exit status: with a command, the command's own (128+N if signal N killed it);\n"
	"126/127 if it cannot be executed / is not found; 1 if the output cannot be\n"
	"written (a full disk; not a closed pipe), in either mode; otherwise as for\n"
	"every command (see pytrace --help). pytrace's own failures always print a\n"
	"\"pytrace:\" line.\n";

/* How long a launched command may take to exit after Ctrl-C before it is
 * killed (it does not outlive pytrace: target/launch.c). */
enum { STACKS_GRACE_MS = 2000 };

struct stacks_opts {
	struct pt_syscall_set select;
	bool native, count, folded, json, no_seccomp;
	size_t top;
	const char *output;
	pid_t pid;
	const char *command;
	char **argv;      /* after "--" */
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
	struct pt_agg *agg;
	struct pt_out_buf keybuf;
	bool launch;
	bool write_failed;
	int output_error;        /* errno of a failed write other than EPIPE, EINTR */
	bool flush_each;         /* flush after every event (terminal, pipe) */
	bool aggregate_failed;
	int interrupted_by;
	unsigned long events;
};

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
	th->no_stack = NULL;
}

static void stacks_emit(struct stacks_state *st, struct sthread *th, pid_t pid, pid_t tid)
{
	struct pt_syscall_event ev = {
		.when = th->when,
		.pid = pid,
		.tid = tid,
		.sc = &th->sc,
		.thread = th->snap && th->snap->n_threads ? &th->snap->threads[0] : NULL,
		.no_stack = th->no_stack,
		.native = th->native,
		.python = th->python,
	};

	st->events++;
	if (st->o->count) {
		const char *key;
		size_t len;
		if (pt_out_stack_key(&st->keybuf, &ev, &key, &len) < 0 ||
		    pt_agg_add(st->agg, th->sc.name, key, len, 1) < 0)
			st->aggregate_failed = true;
	} else {
		if (st->o->json)
			pt_out_stacks_event_json(st->out, &ev);
		else
			pt_out_stacks_event_text(st->out, &ev);
		if (st->flush_each)
			fflush(st->out);
	}
	if (st->file.error || ferror(st->out))
		st->write_failed = true;
	sthread_clear(th);
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
	stacks_emit(st, th, ev->pid, ev->tid);
}

static void on_thread_exit(struct stacks_state *st, const struct pt_tev *ev)
{
	struct sthread *th = ev->user;

	if (!th)
		return;
	/* A call that never returned: exit_group, or the thread was killed
	 * (or detached) inside it. Shown with "= ?". */
	if (th->pending)
		stacks_emit(st, th, ev->pid, ev->tid);
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
		break;
	}
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
	enum { OPT_NATIVE = 256, OPT_COUNT, OPT_TOP, OPT_FOLDED, OPT_JSON, OPT_NO_SECCOMP };
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 'e' },
		{ "native", no_argument, NULL, OPT_NATIVE },
		{ "count", no_argument, NULL, OPT_COUNT },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "folded", no_argument, NULL, OPT_FOLDED },
		{ "json", no_argument, NULL, OPT_JSON },
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
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+e:o:p:c:h", opts, NULL)) != -1) {
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
		case OPT_FOLDED: o->folded = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_NO_SECCOMP: o->no_seccomp = true; break;
		case 'o': o->output = optarg; break;
		case 'p':
			if ((o->pid = cli_parse_pid(optarg)) < 0) {
				cli_error("not a PID: '%s'", optarg);
				return 2;
			}
			break;
		case 'c': o->command = optarg; break;
		case 'h': fputs(stacks_usage, stdout); return 0;
		default: fputs(stacks_usage, stderr); return 2;
		}
	}
	if (optind < argc)
		o->argv = argv + optind;
	if (!have_e) {
		cli_error("stacks needs -e SYSCALLS (see pytrace stacks --help)");
		return 2;
	}
	if ((o->pid > 0) + (o->command != NULL) + (o->argv != NULL) != 1) {
		cli_error("stacks needs exactly one target: -p PID, -c 'COMMAND', or -- PROGRAM ARGS");
		return 2;
	}
	if (o->folded && o->json) {
		cli_error("--folded and --json exclude each other");
		return 2;
	}
	if (o->folded)
		o->count = true;
	if (have_top && !o->count) {
		cli_error("--top needs --count");
		return 2;
	}
	return -1;
}

static void print_aggregate(struct stacks_state *st)
{
	const struct pt_agg_entry **v;
	size_t n;

	if (pt_agg_sorted(st->agg, st->o->top, &v, &n) < 0) {
		cli_error("out of memory");
		return;
	}
	if (st->o->folded)
		pt_out_stacks_agg_folded(st->out, v, n);
	else if (st->o->json)
		pt_out_stacks_agg_json(st->out, v, n);
	else
		pt_out_stacks_agg_text(st->out, v, n);
	free(v);
}

static int stacks_start(struct stacks_state *st, struct pt_tracer_opts *topts, wordexp_t *we,
			bool *we_used)
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
		return -1;
	}
	if (o->command) {
		rc = wordexp(o->command, we, WRDE_NOCMD);
		if (rc != 0) {
			cli_error(rc == WRDE_BADCHAR
				  ? "-c cannot run pipes, redirections or ';' lists: use -- sh -c '%s'"
				  : rc == WRDE_CMDSUB ? "-c does not run $(...) or `...`: use -- sh -c '%s'"
				  : "cannot split the command line '%s'", o->command);
			return 2;
		}
		*we_used = true;
		if (we->we_wordc == 0) {
			cli_error("-c was given an empty command");
			return 2;
		}
		argv = we->we_wordv;
	}
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
	return -1;
}

int cmd_stacks(int argc, char **argv)
{
	struct stacks_opts o = { 0 };
	struct stacks_state st = { .o = &o };
	struct pt_tracer_opts topts = { 0 };
	wordexp_t we;
	bool we_used = false;
	int rc = parse_opts(argc, argv, &o);

	if (rc >= 0)
		return rc;
	int out_fd = STDOUT_FILENO;
	if (o.output && (out_fd = open(o.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
		cli_error("cannot open %s: %s", o.output, strerror(errno));
		return 2;
	}
	if (pt_out_file_open(&st.file, out_fd, o.output != NULL, o.output, &stacks_signal) < 0) {
		cli_error("out of memory");
		return 1;
	}
	st.out = st.file.f;
	/* A file (or /dev/null) gets large writes; a terminal or a pipe sees
	 * each event as soon as it is complete. */
	struct stat sb;
	if (fstat(out_fd, &sb) == 0 && !isatty(out_fd) &&
	    (S_ISREG(sb.st_mode) || S_ISCHR(sb.st_mode)))
		setvbuf(st.out, NULL, _IOFBF, 1 << 16);
	else
		st.flush_each = true;
	if (o.count && !(st.agg = pt_agg_new())) {
		cli_error("out of memory");
		rc = 1;
		goto out;
	}
	stacks_install_signals();
	topts.select = o.select;
	topts.no_seccomp = o.no_seccomp;
	topts.interrupted = &stacks_signal;
	rc = stacks_start(&st, &topts, &we, &we_used);
	if (rc >= 0)
		goto out;

	while (dispatch_event(&st, pt_tracer_next_event(st.tr)))
		;

	if (st.agg)
		print_aggregate(&st);
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
	}
	if (st.output_error) {
		/* Events were lost: whatever the command did, say so, and
		 * exit as every command does for this. */
		cli_write_error(o.output, st.output_error);
		rc = CLI_EXIT_OUTPUT;
	} else if (st.write_failed && st.file.error == EINTR) {
		cli_error("interrupted while the output was blocked: the last events were not written");
	}
out:
	pt_tracer_free(st.tr);
	pt_agg_free(st.agg);
	pt_out_buf_free(&st.keybuf);
	if (we_used)
		wordfree(&we);
	pt_out_file_close(&st.file);
	return rc;
}
