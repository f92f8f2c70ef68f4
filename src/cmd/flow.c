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
#include "flow/aggregate.h"
#include "flow/events.h"
#include "flow/flow.h"
#include "output/flow_agg.h"

static const char flow_usage[] =
	"usage: pytrace flow [--within [FILE_SUBSTR:]FUNCTION] [--file SUBSTR]...\n"
	"                    [--function NAME]... [--flat] [--tid] [--timestamps] [--durations]\n"
	"                    [--c-calls] [--json] [--stats] [-o FILE]\n"
	"                    [--count] [--latency [FUNCTION...]] [--profile] [--per-thread]\n"
	"                    [--folded] [--svg FILE] [--speedscope FILE] [--pprof FILE]\n"
	"                    [--trace-events FILE] [--top N] [--sort KEY]\n"
	"                    [--for DURATION] [--interval DURATION] [-q]\n"
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
	"  --function NAME   only functions named NAME (or Class.NAME; repeatable)\n"	"                    These three are decided in the target, once per function:\n"
	"                    what they leave out is not recorded (3.12+: its events are off)\n"
	"  --flat            no indentation\n"
	"  --tid             the [TID] column on every line\n"
	"  --timestamps      a first column: seconds since the first event\n"
	"  --durations       time spent in the call, on each return line, always in\n"
	"                    microseconds (12.345us)\n"
	"  --c-calls         also calls of builtins and C functions (NAME (C))\n"
	"  --json            one object per event: event, tid, depth, function, file,\n"
	"                    line, ts_ns, duration_ns\n"
	"  --stats           counts on stderr at the end (events, drops, stalls, and\n"
	"                    the events --within/--file/--function kept out of the ring)\n"
	"  -o, --output FILE write the lines to FILE, as they come (tail -f works).\n"
	"                    Default: the standard error with a program (its own output\n"
	"                    stays its own, as with strace), the standard output with -p\n"
	"  --install-timeout SECONDS\n"
	"                    how long to wait for the target to run Python code when\n"
	"                    the hook needs it (3.12+; default 10)\n"
	"  --buffer-size MIB size of the ring shared with the target (default 32)\n"
	"  --for DURATION    stop after DURATION (10, 10s, 500ms, 2m, 1h) of tracing, as a\n"
	"                    SIGTERM would: attached, detach; launched, the program gets it\n"
	"  -q, --quiet       no status line (on a terminal, stderr shows events, rate,\n"
	"                    elapsed time and drops a few times a second while aggregating,\n"
	"                    or while the lines go elsewhere)\n"
	"\n"
	"Aggregations (DTrace's count(), quantize(), @[ustack()]): instead of lines, a\n"
	"summary at the end (exit, Ctrl-C, SIGTERM, --for), to the same place lines go.\n"
	"Exact, not sampled: from every call and return, per thread. The filters apply:\n"
	"a function not shown is not counted, its time is its shown caller's own.\n"
	"  --count           per function (name, file, first line): CALLS (completed;\n"
	"                    a generator's every resume is one), TOTAL (call to return,\n"
	"                    a recursion counted once), OWN (less its shown callees),\n"
	"                    OWN% and MEAN (per call), in microseconds\n"
	"  --latency [FUNCTION...]\n"
	"                    a power-of-two histogram of each function's call durations\n"
	"                    (ns; a generator per resume), as DTrace's quantize, with\n"
	"                    p50/p90/p99 (within 1/8 of a power of two) and max; the names\n"
	"                    (as --function matches them) up to the next option, else\n"
	"                    every function (then give a program after --)\n"
	"  --top N           only the N first functions; --sort KEY: own (default),\n"
	"                    total, calls or mean, largest first\n"
	"  --interval DURATION\n"
	"                    print the aggregations every DURATION and start them afresh\n"
	"  --profile         the time spent in each distinct Python call stack (own time\n"
	"                    of its innermost function, ns), folded (\"a;b;c NS\" lines, for\n"
	"                    flamegraph.pl) unless written only to files:\n"
	"  --folded          the folded lines (the default of --profile)\n"
	"  --svg FILE        an interactive flame graph (a self-contained SVG)\n"
	"  --speedscope FILE speedscope's JSON file, evented: the exact timeline of every\n"
	"                    thread (every call, spooled to temporary files meanwhile)\n"
	"  --pprof FILE      a gzip-compressed profile.proto (go tool pprof, Pyroscope)\n"
	"  --per-thread      profile stacks start with their thread (\"thread TID\")\n"
	"  --trace-events FILE\n"
	"                    Chrome's Trace Event JSON (Perfetto, chrome://tracing): one\n"
	"                    complete slice per call; calls still running at the end are\n"
	"                    ended at the last event\n"
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

/* The aggregations of this run (NULL: lines). */
struct flow_cli_agg {
	struct flow_agg *agg;
	bool count, latency, folded;
	enum pt_flow_sort sort;
	size_t top;
	FILE *text;                  /* where the summaries go */
	FILE *files[3];              /* --svg, --speedscope, --pprof */
	const char *file_names[3];
	FILE *trace_file;            /* --trace-events */
	const char *trace_name;
	struct pt_trace_out *trace;
	struct pt_flow_timeline *timeline;  /* speedscope's evented form, if it has one */
	uint64_t interval_ms, for_ms, next_interval_ms;
	unsigned intervals;
	bool status;                 /* the live line on stderr */
	bool status_shown;
	uint64_t last_events, last_ms;
	double rate;
	int error;                   /* the first -errno of the outputs */
	bool file_failed;            /* a file could not be written */
};

static struct flow_cli_agg flow_agg_cli;
static const char *const flow_file_formats[3] = { "svg", "speedscope", "pprof" };

static int flow_on_slice(void *arg, const struct flow_agg_slice *sl)
{
	struct flow_cli_agg *c = arg;

	return c->trace ? pt_out_trace_slice(c->trace, sl) : 0;
}

static int flow_on_frame(void *arg, pid_t tid, uint32_t func, bool open, uint64_t ts)
{
	struct flow_cli_agg *c = arg;

	return c->timeline ? pt_out_flow_timeline_frame(c->timeline, tid, func, open, ts) : 0;
}

/* The summaries, to the text output. */
static void flow_print_summaries(struct flow_cli_agg *c)
{
	bool first = true;

	if (c->status_shown) {
		pt_out_flow_status(stderr, 0, 0, 0, 0, true);
		c->status_shown = false;
	}
	if (c->count) {
		pt_out_flow_count(c->text, c->agg, c->sort, c->top);
		first = false;
	}
	if (c->latency) {
		if (!first)
			fputc('\n', c->text);
		pt_out_flow_latency(c->text, c->agg, c->sort, c->top);
		first = false;
	}
	if (c->folded) {
		int rc = pt_out_flow_profile(c->text, "folded", c->agg, "pytrace flow");
		if (rc < 0 && !c->error)
			c->error = rc;
	}
	fflush(c->text);
}

static void flow_on_tick(void *arg, const struct flow_progress *p)
{
	struct flow_cli_agg *c = arg;

	if (c->interval_ms && p->elapsed_ms >= c->next_interval_ms) {
		c->next_interval_ms += c->interval_ms;
		if (c->intervals++)
			fputc('\n', c->text);
		flow_print_summaries(c);
		flow_agg_reset(c->agg);
	}
	if (c->status) {
		uint64_t dt = p->elapsed_ms - c->last_ms;
		if (dt >= 200) {
			c->rate = (double)(p->events - c->last_events) * 1000.0 / (double)dt;
			c->last_events = p->events;
			c->last_ms = p->elapsed_ms;
		}
		pt_out_flow_status(stderr, p->events, c->rate, (double)p->elapsed_ms / 1000.0,
				   p->dropped, false);
		c->status_shown = true;
	}
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
static bool flow_launched;

static void flow_announce(pid_t pid, const struct pt_python_info *py)
{
	struct flow_cli_agg *c = &flow_agg_cli;

	if (!flow_launched) {
		fprintf(stderr, "pytrace: tracing process %d (Python %s); Ctrl-C to stop\n", (int)pid,
			py->version);
		fflush(stderr);
	}
	/* The files that stream start now that the process is known. */
	if (c->trace_file) {
		char name[64];
		snprintf(name, sizeof(name), "python %s (%d)", py->version, (int)pid);
		if (!(c->trace = pt_out_trace_new(c->trace_file, c->agg, pid, name)))
			c->error = -ENOMEM;
	}
	if (c->files[1])
		c->timeline = pt_out_flow_timeline_new(c->files[1], "speedscope", c->agg, "pytrace flow");
	if (c->for_ms && cli_stop_after(c->for_ms) < 0)
		cli_error("warning: cannot set the --for timer: %s", strerror(errno));
}

int cmd_flow(int argc, char **argv)
{
	enum { O_WITHIN = 256, O_FILE, O_FUNCTION, O_FLAT, O_TS, O_DUR, O_CCALLS, O_JSON, O_STATS,
	       O_TIMEOUT, O_BUFFER, O_TID, O_COUNT, O_LATENCY, O_PROFILE, O_PER_THREAD, O_FOLDED,
	       O_SVG, O_SPEEDSCOPE, O_PPROF, O_TRACE, O_TOP, O_SORT, O_FOR, O_INTERVAL };
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
		{ "count", no_argument, NULL, O_COUNT },
		{ "latency", optional_argument, NULL, O_LATENCY },
		{ "profile", no_argument, NULL, O_PROFILE },
		{ "per-thread", no_argument, NULL, O_PER_THREAD },
		{ "folded", no_argument, NULL, O_FOLDED },
		{ "svg", required_argument, NULL, O_SVG },
		{ "speedscope", required_argument, NULL, O_SPEEDSCOPE },
		{ "pprof", required_argument, NULL, O_PPROF },
		{ "trace-events", required_argument, NULL, O_TRACE },
		{ "top", required_argument, NULL, O_TOP },
		{ "sort", required_argument, NULL, O_SORT },
		{ "for", required_argument, NULL, O_FOR },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "quiet", no_argument, NULL, 'q' },
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
	/* PYTRACE_FLOW_FILTER=pytrace: the filters in pytrace only, every
	 * event recorded (what it costs without them, for bench/flow) */
	const char *where = getenv("PYTRACE_FLOW_FILTER");
	opt.filter_in_target = !where || strcmp(where, "pytrace") != 0;
	const char **files = calloc((size_t)argc, sizeof(*files));
	const char **funcs = calloc((size_t)argc, sizeof(*funcs));
	const char **lat_funcs = calloc((size_t)argc + 1, sizeof(*lat_funcs));
	struct flow_cli_agg *ca = &flow_agg_cli;
	struct flow_agg_config acfg = { 0 };
	struct flow_sink asink = { 0 };
	char *lat_split = NULL;
	bool quiet = false, per_thread = false;
	bool *funcs_seen = calloc((size_t)argc, sizeof(*funcs_seen)), within_seen = false;
	const char *output = NULL, *command = NULL;
	char *within = NULL, **split = NULL;
	bool show_stats = false;
	int c, rc = 2;

	if (!files || !funcs || !funcs_seen || !lat_funcs) {
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
	while ((c = cli_getopt(argc, argv, "+:p:c:o:hfq", opts, "flow")) != -1) {
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
		case O_COUNT: ca->count = true; break;
		case O_LATENCY:
			ca->latency = true;
			if (optarg) {
				/* --latency=a,b */
				free(lat_split);
				if (!(lat_split = strdup(optarg)))
					goto out;
				for (char *save, *w = strtok_r(lat_split, ",", &save); w;
				     w = strtok_r(NULL, ",", &save))
					lat_funcs[acfg.n_latency_funcs++] = w;
			}
			/* the names that follow, up to the next option */
			while (optind < argc && argv[optind][0] && argv[optind][0] != '-')
				lat_funcs[acfg.n_latency_funcs++] = argv[optind++];
			break;
		case O_PROFILE: acfg.profile = true; break;
		case O_PER_THREAD: per_thread = true; break;
		case O_FOLDED: ca->folded = acfg.profile = true; break;
		case O_SVG: ca->file_names[0] = optarg; acfg.profile = true; break;
		case O_SPEEDSCOPE: ca->file_names[1] = optarg; acfg.profile = true; break;
		case O_PPROF: ca->file_names[2] = optarg; acfg.profile = true; break;
		case O_TRACE: ca->trace_name = optarg; break;
		case O_TOP: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || !optarg[0] || optarg[0] == '-' || v == 0 || v > 1000000000) {
				cli_error("flow: --top wants a positive number, not '%s'", optarg);
				goto out;
			}
			ca->top = v;
			break;
		}
		case O_SORT:
			if (!strcmp(optarg, "own"))
				ca->sort = PT_FLOW_BY_OWN;
			else if (!strcmp(optarg, "total"))
				ca->sort = PT_FLOW_BY_TOTAL;
			else if (!strcmp(optarg, "calls"))
				ca->sort = PT_FLOW_BY_CALLS;
			else if (!strcmp(optarg, "mean"))
				ca->sort = PT_FLOW_BY_MEAN;
			else {
				cli_error("flow: --sort wants own, total, calls or mean, not '%s'", optarg);
				goto out;
			}
			break;
		case O_FOR:
			if (cli_parse_duration(optarg, "flow", "--for", &ca->for_ms) < 0)
				goto out;
			break;
		case O_INTERVAL:
			if (cli_parse_duration(optarg, "flow", "--interval", &ca->interval_ms) < 0)
				goto out;
			break;
		case 'q': quiet = true; break;
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
	bool aggregating = ca->count || ca->latency || acfg.profile || ca->trace_name;
	bool files_given = ca->file_names[0] || ca->file_names[1] || ca->file_names[2];
	if (aggregating && (opt.json || opt.flat || opt.timestamps || opt.durations)) {
		cli_error("flow: --json, --flat, --timestamps and --durations shape lines; --count, "
			  "--latency, --profile and --trace-events print none");
		goto out;
	}
	if (!aggregating && (ca->top || ca->sort || ca->interval_ms || per_thread)) {
		cli_error("flow: --top, --sort, --interval and --per-thread need --count, --latency "
			  "or --profile");
		goto out;
	}
	if (per_thread && !acfg.profile) {
		cli_error("flow: --per-thread needs --profile");
		goto out;
	}
	if (ca->interval_ms && (files_given || ca->trace_name)) {
		cli_error("flow: --interval prints and starts afresh; the files (--svg, --speedscope, "
			  "--pprof, --trace-events) hold the whole run: not both");
		goto out;
	}
	if (acfg.profile && !files_given)
		ca->folded = true;
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
	flow_launched = opt.argv != NULL;
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
	if (aggregating) {
		for (int i = 0; i < 3; i++) {
			int fd;
			if (!ca->file_names[i])
				continue;
			if ((fd = cli_open_output(ca->file_names[i])) < 0)
				goto out;
			if (!(ca->files[i] = fdopen(fd, "w"))) {
				close(fd);
				cli_error("out of memory");
				goto out;
			}
		}
		if (ca->trace_name) {
			int fd = cli_open_output(ca->trace_name);
			if (fd < 0)
				goto out;
			if (!(ca->trace_file = fdopen(fd, "w"))) {
				close(fd);
				cli_error("out of memory");
				goto out;
			}
			setvbuf(ca->trace_file, NULL, _IOFBF, 1 << 20);
		}
		ca->text = opt.out_fd == STDOUT_FILENO ? stdout : opt.out_fd == STDERR_FILENO ? stderr
			: fdopen(dup(opt.out_fd), "w");
		if (!ca->text) {
			cli_error("out of memory");
			goto out;
		}
		acfg.count = ca->count;
		acfg.latency = ca->latency;
		acfg.latency_funcs = lat_funcs;
		acfg.per_thread = per_thread;
		acfg.on_slice = ca->trace_name ? flow_on_slice : NULL;
		acfg.slice_arg = ca;
		acfg.on_frame = ca->file_names[1] ? flow_on_frame : NULL;
		acfg.frame_arg = ca;
		if (!(ca->agg = flow_agg_new(&acfg))) {
			cli_error("out of memory");
			goto out;
		}
		asink = (struct flow_sink){ flow_agg_event, ca->agg, false };
		opt.sink = &asink;
		ca->next_interval_ms = ca->interval_ms;
	}
	/* The live status: on a terminal, not where lines are printed. */
	ca->status = !quiet && isatty(STDERR_FILENO) &&
		     (aggregating || (!isatty(opt.out_fd) && opt.out_fd != STDERR_FILENO));
	if (ca->status || ca->interval_ms) {
		opt.on_tick = flow_on_tick;
		opt.tick_arg = ca;
		opt.tick_ms = ca->interval_ms && ca->interval_ms < 250 ? (unsigned)ca->interval_ms : 250;
	}

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
	if (ca->status_shown) {
		pt_out_flow_status(stderr, 0, 0, 0, 0, true);
		ca->status_shown = false;
	}
	if (ca->agg && frc >= 0) {
		int r = flow_agg_finish(ca->agg);
		if (r < 0 && !ca->error)
			ca->error = r;
		if (ca->count || ca->latency || ca->folded) {
			if (ca->intervals)
				fputc('\n', ca->text);
			flow_print_summaries(ca);
		}
		bool evented = ca->timeline != NULL;
		if (ca->timeline) {
			r = pt_out_flow_timeline_end(ca->timeline);
			ca->timeline = NULL;
			if (fflush(ca->files[1]) != 0 && r == 0)
				r = -errno;
			if (r < 0) {
				cli_error("cannot write %s: %s", ca->file_names[1], strerror(-r));
				ca->file_failed = true;
			}
		}
		for (int i = 0; i < 3; i++) {
			if (!ca->files[i] || (i == 1 && evented))
				continue;
			r = pt_out_flow_profile(ca->files[i], flow_file_formats[i], ca->agg, "pytrace flow");
			if (fflush(ca->files[i]) != 0 && r == 0)
				r = -errno;
			if (r < 0) {
				cli_error("cannot write %s: %s", ca->file_names[i], strerror(-r));
				ca->file_failed = true;
			}
		}
		if (ca->trace) {
			r = pt_out_trace_end(ca->trace);
			ca->trace = NULL;
			if (r < 0) {
				cli_error("cannot write %s: %s", ca->trace_name, strerror(-r));
				ca->file_failed = true;
			}
		}
		if (ca->error) {
			cli_error("cannot write the aggregations: %s", strerror(-ca->error));
			ca->file_failed = true;
		}
		if (fflush(ca->text) != 0 && !st.output_error && errno != EPIPE)
			st.output_error = errno;
	}
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
		char skipped[64] = "";
		if (st.filtered_in_target)
			snprintf(skipped, sizeof(skipped), ", %llu filtered in the target",
				 (unsigned long long)st.skipped);
		fprintf(stderr, "pytrace: %llu events, %llu lines, %llu dropped, %llu stalls%s, "
			"%.3fs CPU in pytrace\n",
			(unsigned long long)st.events, (unsigned long long)st.lines,
			(unsigned long long)st.dropped, (unsigned long long)st.stalls, skipped,
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
	rc = ca->file_failed ? CLI_EXIT_OUTPUT : 0;
	if (opt.argv && !ca->file_failed) {
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
	if (ca->timeline)
		pt_out_flow_timeline_end(ca->timeline);
	if (ca->trace)
		pt_out_trace_end(ca->trace);
	for (int i = 0; i < 3; i++)
		if (ca->files[i])
			fclose(ca->files[i]);
	if (ca->trace_file)
		fclose(ca->trace_file);
	if (ca->text && ca->text != stdout && ca->text != stderr)
		fclose(ca->text);
	flow_agg_free(ca->agg);
	free(lat_funcs);
	free(lat_split);
	if (output && opt.out_fd >= 0 && opt.out_fd != STDOUT_FILENO)
		close(opt.out_fd);
	cli_split_free(split);
	free(within);
	free(files);
	free(funcs);
	free(funcs_seen);
	return rc;
}
