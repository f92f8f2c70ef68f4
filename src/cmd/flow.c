/* SPDX-License-Identifier: MIT */
/* pytrace flow: every Python call and return of a process, as it happens. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "agent/agent.h"
#include "flow/flow.h"

static const char flow_usage[] =
	"usage: pytrace flow [--within [FILE_SUBSTR:]FUNCTION] [--file SUBSTR]...\n"
	"                    [--function NAME]... [--flat] [--tid] [--timestamps] [--durations]\n"
	"                    [--c-calls] [--json] [--stats] [-o FILE]\n"
	"                    (-p PID | -c 'COMMAND LINE' | -- PROGRAM ARGS...)\n"
	"\n"
	"Prints every Python call and return of a process as it happens, one line\n"
	"each, indented by call depth per thread:\n"
	"    -> clone (/opt/hg/lib/mercurial/hg.py:65)        a call: the first line\n"
	"    <- clone (/opt/hg/lib/mercurial/hg.py:120)       a return: its line\n"
	"    <-! parse (/opt/hg/lib/mercurial/url.py:88)      left by an exception\n"
	"    -> gen (/tmp/x.py:12) [resume]  /  <- gen (/tmp/x.py:12) [yield]\n"
	"Generator and coroutine resumes are entries, yields returns ([throw]: resumed\n"
	"by gen.throw()). [TID] leads every line when the process had threads when\n"
	"pytrace attached (or with --tid), else from the moment a second thread runs.\n"
	"\n"
	"  -p, --pid PID     attach to a running process (detach with Ctrl-C: \"pytrace:\n"
	"                    detached from PID; target running\"); one process per run\n"
	"  -c, --command 'COMMAND LINE'\n"
	"                    run a program: words split at blanks, '...' and \"...\" quote,\n"
	"                    \\ escapes; nothing is expanded and | & ; < > ( ) $ ` are\n"
	"                    refused (use -- sh -c '...')\n"
	"  -- PROGRAM ARGS   run a program; pytrace exits with its status. Its children\n"
	"                    are not traced (there is no -f: the agent is per process)\n"
	"  --within [FILE_SUBSTR:]FUNCTION\n"
	"                    per thread, print only from a call of FUNCTION (in a file\n"
	"                    whose name contains FILE_SUBSTR) until it returns\n"
	"  --file SUBSTR     only frames whose file contains SUBSTR (repeatable)\n"
	"  --function NAME   only functions named NAME (or Class.NAME; repeatable)\n"
	"  --flat            no indentation\n"
	"  --tid             the [TID] column on every line\n"
	"  --timestamps      a first column: seconds since the first event\n"
	"  --durations       time spent in the call, on each return line, always in\n"
	"                    microseconds (12.345us)\n"
	"  --c-calls         also calls of builtins and C functions (NAME (C))\n"
	"  --json            one object per event: event, tid, depth, function, file,\n"
	"                    line, ts_ns, duration_ns\n"
	"  --stats           counts on stderr at the end (events, drops, stalls)\n"
	"  -o, --output FILE write the lines to FILE, as they come (tail -f works).\n"
	"                    Default: the standard error with a program (its own output\n"
	"                    stays its own, as with strace), the standard output with -p\n"
	"  --install-timeout SECONDS\n"
	"                    how long to wait for the target to run Python code when\n"
	"                    the hook needs it (3.12+; default 10)\n"
	"  --buffer-size MIB size of the ring shared with the target (default 32)\n"
	"\n"
	"When pytrace falls behind, the target waits (a count of such stalls is in\n"
	"--stats); when pytrace cannot write (a pipe nobody reads), it waits at most\n"
	"1 s, then drops events until pytrace reads again: drops are reported. With\n"
	"-p, on exit, Ctrl-C, SIGTERM or SIGHUP (also while the output blocks) the\n"
	"hook is removed from the target, which runs on.\n"
	"\n"
	"A program pytrace starts (-c, --) is its child, as with strace and pytrace\n"
	"stacks: SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to it (unless they\n"
	"came from the terminal, which sent them to it too) and tracing goes on while\n"
	"it ends; what has not exited 2 s later is killed. A closed output kills it at\n"
	"once. It dies with pytrace, even if pytrace is killed with SIGKILL.\n"
	"\n"
	"Exit status: 0, or the launched program's (128+N if signal N ended it, with a\n"
	"\"pytrace:\" line saying so); 1 internal error, or the output cannot be\n"
	"written (not a closed pipe; the message names the error); 2 usage;\n"
	"3 no such process; 4 permission denied; 5 not a Python process; 6 unsupported\n"
	"Python; 7 the process exited while being set up; 8 the hook could not be\n"
	"installed (no Python code ran, or Python is not initialised); 9 the process\n"
	"already has a profile or frame-evaluation hook that pytrace would replace;\n"
	"10 the process's own seccomp filter forbids a system call pytrace would make\n"
	"there (or cannot be read); 126/127 the program cannot be executed / was not found.\n";

/* How long a launched program may take to exit after a signal was passed
 * on to it before it is killed (as stacks). */
enum { FLOW_GRACE_MS = 2000 };

static volatile int flow_stop;
static volatile int flow_stop_from_terminal;

static void flow_on_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	/* From the terminal (SI_KERNEL): the whole foreground process group,
	 * a launched program included, got it too. */
	flow_stop_from_terminal = si && si->si_code == SI_KERNEL;
	flow_stop = sig;
}

static int flow_thread_count(pid_t pid)
{
	char path[64];
	int n = 0;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
	closedir(d);
	return n;
}

/* Attached: say so (tests wait for this line; a launched program owns
 * the terminal, so nothing is said then). */
static void flow_announce(pid_t pid, const struct pt_python_info *py)
{
	fprintf(stderr, "pytrace: tracing process %d (Python %s); Ctrl-C to stop\n", (int)pid,
		py->version);
	fflush(stderr);
}

int cmd_flow(int argc, char **argv)
{
	enum { O_WITHIN = 256, O_FILE, O_FUNCTION, O_FLAT, O_TS, O_DUR, O_CCALLS, O_JSON, O_STATS,
	       O_TIMEOUT, O_BUFFER, O_TID };
	static const struct option opts[] = {
		{ "within", required_argument, NULL, O_WITHIN },
		{ "file", required_argument, NULL, O_FILE },
		{ "function", required_argument, NULL, O_FUNCTION },
		{ "flat", no_argument, NULL, O_FLAT },
		{ "tid", no_argument, NULL, O_TID },
		{ "timestamps", no_argument, NULL, O_TS },
		{ "durations", no_argument, NULL, O_DUR },
		{ "c-calls", no_argument, NULL, O_CCALLS },
		{ "json", no_argument, NULL, O_JSON },
		{ "stats", no_argument, NULL, O_STATS },
		{ "install-timeout", required_argument, NULL, O_TIMEOUT },
		{ "buffer-size", required_argument, NULL, O_BUFFER },
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, 'p' },
		{ "command", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct flow_options opt = {
		.out_fd = STDOUT_FILENO,
		.install_timeout_ms = 10000,
		.ring_bytes = 32u << 20,
	};
	const char **files = calloc((size_t)argc, sizeof(*files));
	const char **funcs = calloc((size_t)argc, sizeof(*funcs));
	bool *funcs_seen = calloc((size_t)argc, sizeof(*funcs_seen)), within_seen = false;
	const char *output = NULL, *command = NULL;
	char *within = NULL, **split = NULL;
	bool show_stats = false;
	int c, rc = 2;

	if (!files || !funcs || !funcs_seen) {
		cli_error("out of memory");
		return 1;
	}
	opt.files = files;
	opt.funcs = funcs;
	opt.funcs_seen = funcs_seen;
	opt.within_seen = &within_seen;
	optind = 1;
	opterr = 0;   /* one line per error, ours */
	struct cli_pids pids = { 0 };
	char why[512];
	while ((c = cli_getopt(argc, argv, "+:p:c:o:hf", opts, "flow")) != -1) {
		switch (c) {
		case O_WITHIN:
			free(within);
			within = strdup(optarg);
			break;
		case O_FILE: files[opt.n_files++] = optarg; break;
		case O_FUNCTION: funcs[opt.n_funcs++] = optarg; break;
		case O_FLAT: opt.flat = true; break;
		case O_TID: opt.show_tid = true; break;
		case O_TS: opt.timestamps = true; break;
		case O_DUR: opt.durations = true; break;
		case O_CCALLS: opt.c_calls = true; break;
		case O_JSON: opt.json = true; break;
		case O_STATS: show_stats = true; break;
		case O_TIMEOUT: {
			char *end;
			double v = strtod(optarg, &end);
			if (*end || v <= 0 || v > 3600) {
				cli_error("bad --install-timeout '%s' (seconds)", optarg);
				goto out;
			}
			opt.install_timeout_ms = (unsigned)(v * 1000);
			break;
		}
		case O_BUFFER: {
			char *end;
			unsigned long mb = strtoul(optarg, &end, 10);
			if (*end || mb < 1 || mb > 4096) {
				cli_error("bad --buffer-size '%s' (MiB, 1-4096)", optarg);
				goto out;
			}
			opt.ring_bytes = (size_t)mb << 20;
			break;
		}
		case 'o': output = optarg; break;
		case 'p':
			if (cli_add_pids(&pids, optarg, "flow") < 0)
				goto out;
			break;
		case 'f':
			cli_error("flow: -f is not supported: flow traces one process (its agent is "
				  "not inherited by children); run one pytrace flow -p per child");
			goto out;
		case 'c': command = optarg; break;
		case 'h':
			fputs(flow_usage, stdout);
			rc = 0;
			goto out;
		default:
			goto out;
		}
	}
	if (pids.n > 1) {
		cli_error("flow traces one process per run (-p was given %zu)", pids.n);
		goto out;
	}
	if (pids.n)
		opt.pid = pids.pid[0];
	int targets = (opt.pid > 0) + (command != NULL) + (optind < argc);
	if (targets != 1) {
		cli_error(targets ? "give only one of -p PID, -c 'COMMAND' and -- PROGRAM"
				  : "flow needs -p PID, -c 'COMMAND' or -- PROGRAM (see pytrace help flow)");
		goto out;
	}
	if (within) {
		char *colon = strrchr(within, ':');
		opt.within_func = colon ? colon + 1 : within;
		if (colon) {
			*colon = 0;
			opt.within_file = within[0] ? within : NULL;
		}
		if (!opt.within_func[0]) {
			cli_error("--within needs a function name");
			goto out;
		}
	}
	if (command) {
		if (!(split = cli_split_command(command, why, sizeof(why)))) {
			cli_error("%s", why);
			goto out;
		}
		opt.argv = split;
	} else if (optind < argc) {
		opt.argv = argv + optind;
	}
	if (!opt.argv)
		opt.on_installed = flow_announce;
	/* A process that has threads already gets the thread column from its
	 * first line, so that every line has the same shape. */
	if (!opt.argv && flow_thread_count(opt.pid) > 1)
		opt.show_tid = true;
	/* As strace: a launched program's output stays its own; the trace goes
	 * to the standard error unless -o says where. */
	if (opt.argv)
		opt.out_fd = STDERR_FILENO;
	if (output && (opt.out_fd = cli_open_output(output)) < 0)
		goto out;

	/* No SA_RESTART: a wait for a launched program must return. */
	struct sigaction sa = { .sa_sigaction = flow_on_signal, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	opt.from_terminal = &flow_stop_from_terminal;
	opt.grace_ms = FLOW_GRACE_MS;
	struct flow_stats st;
	struct pt_error err = { 0 };
	int frc = pt_flow_run(&opt, &flow_stop, &st, &err);
	if (frc < 0) {
		cli_error("%s", err.msg[0] ? err.msg : pt_status_name(frc));
		rc = err.status > 0 ? err.status : 1;
		goto out;
	}
	if (st.dropped)
		cli_error("%llu events dropped: the target waited %d ms for pytrace's output, then went "
			  "on without them", (unsigned long long)st.dropped, PT_FLOW_RING_WAIT_MS);
	if (st.interpreters > 1)
		cli_error("the process ran %u interpreters: flow traced only the one that installed its "
			  "sys.monitoring tool (subinterpreters are not followed yet)", st.interpreters);
	if (st.untraced_children)
		cli_error("%u forked child process%s ran Python untraced (flow does not follow "
			  "children yet)", st.untraced_children, st.untraced_children == 1 ? "" : "es");
	if (st.target_execed)
		cli_error("the traced process replaced its program (exec): tracing ended");
	/* A misspelt name prints nothing at all: say so (not when the trace
	 * was cut short: a closed output, a program killed after the grace). */
	bool complete = !st.output_failed && !st.target_killed;
	for (size_t i = 0; complete && i < opt.n_funcs; i++)
		if (!funcs_seen[i])
			cli_error("warning: no function named '%s' ran (--function matches the name, or "
				  "Class.name, in full)", funcs[i]);
	if (complete && opt.within_func && !within_seen)
		cli_error("warning: no function named '%s'%s%s ran: --within printed nothing",
			  opt.within_func, opt.within_file ? " in a file containing " : "",
			  opt.within_file ? opt.within_file : "");
	if (!opt.argv && !st.target_exited && !st.target_execed && kill(opt.pid, 0) == 0)
		cli_error("detached from %d; target running", (int)opt.pid);
	if (show_stats) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "pytrace: %llu events, %llu lines, %llu dropped, %llu stalls, "
			"%.3fs CPU in pytrace\n",
			(unsigned long long)st.events, (unsigned long long)st.lines,
			(unsigned long long)st.dropped, (unsigned long long)st.stalls,
			ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
				(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	/* A closed output (EPIPE, | head) is no error; one given up while
	 * stopping lost the end of the trace; any other failure lost events. */
	int oerr = st.output_error;
	if (output && opt.out_fd >= 0) {
		if (close(opt.out_fd) < 0 && !oerr)
			oerr = errno;
		opt.out_fd = -1;
	}
	if (oerr == EINTR)
		cli_error("the output blocked when pytrace was asked to stop: the rest of the trace was "
			  "not written");
	else if (oerr && oerr != EPIPE) {
		cli_write_error(output, oerr);
		rc = CLI_EXIT_OUTPUT;
		goto out;
	}
	rc = 0;
	if (opt.argv) {
		/* The program's status, as stacks gives it. */
		if (st.target_exited && WIFEXITED(st.target_status)) {
			rc = WEXITSTATUS(st.target_status);
		} else if (st.target_exited && WIFSIGNALED(st.target_status)) {
			const char *name = sigabbrev_np(WTERMSIG(st.target_status));
			if (st.target_killed && st.output_failed)
				cli_error("the output was closed: killed the program");
			else if (st.target_killed)
				cli_error("the program did not exit within %d ms of the interrupt: killed it",
					  FLOW_GRACE_MS);
			else
				cli_error("the program was killed by SIG%s", name ? name : "?");
			rc = 128 + WTERMSIG(st.target_status);
		} else {
			rc = 1;
		}
	}
out:
	if (output && opt.out_fd >= 0 && opt.out_fd != STDOUT_FILENO)
		close(opt.out_fd);
	cli_split_free(split);
	free(within);
	free(files);
	free(funcs);
	free(funcs_seen);
	return rc;
}
