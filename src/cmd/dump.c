/* SPDX-License-Identifier: MIT */
/* pytrace dump: the Python (and native) stacks of every thread, once. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "output/output.h"
#include "pytrace/pytrace.h"

static const char dump_usage[] =
	"usage: pytrace dump [--native] [--locals] [--json] [--depth N] [--repeat N] [--stats] (PID | -p PID)...\n"
	"       pytrace dump --tasks [--json] (PID | -p PID)...\n"
	"\n"
	"Prints the Python stack of every thread of each process, innermost frame\n"
	"first, then lets it run on (it is stopped while its threads are read).\n"
	"\n"
	"  PID, -p PID, --pid PID\n"
	"                  the process (a thread id stands for its process); several\n"
	"                  PIDs (repeated, or -p 12,34) are dumped one after the other\n"
	"  --native        the native (C) stack too, with the Python frames each\n"
	"                  interpreter-loop frame was running in brackets under it\n"
	"  --locals        each frame's arguments and local variables: type and a\n"
	"                  short rendering of None, bool, int, float, str, bytes, the\n"
	"                  length of list, tuple, dict, set (read from outside: no\n"
	"                  code runs in the target)\n"
	"  --locals        each frame's arguments and local variables: type and a\n"
	"                  short rendering of None, bool, int, float, str, bytes, the\n"
	"                  length of list, tuple, dict, set (read from outside: no\n"
	"                  code runs in the target)\n"
	"  --json          one JSON object per thread; frames are objects\n"
	"                  {\"kind\",\"function\",\"file\",\"line\"} (native: module, symbol...)\n"
	"  --depth N       at most N frames per stack, innermost first (DTrace's\n"
	"                  jstack(N)); the rest is counted on a last line\n"
	"  --repeat N      dump each process N times in a row (a sampler's view; the\n"
	"                  process is opened once); JSON objects then carry \"dump\": i\n"
	"  --stats         on stderr: how long the target was stopped\n"
	"  --tasks         the asyncio tasks instead of the thread stacks: per event\n"
	"                  loop, each task (name, state, the future it waits for)\n"
	"                  with its await chain innermost first, and the tasks it\n"
	"                  waits for under it; suspended tasks included. CPython\n"
	"                  3.7+ (2.7 and 3.6 exit 6, saying why)\n"
	"\n"
	"Each thread line says what the thread was doing when stopped: [running],\n"
	"[idle: SYSCALL] (blocked in that system call), or [waiting for the GIL];\n"
	"frames a subinterpreter runs follow \"In interpreter N:\" (the main one is 0).\n"
	"Recursion is collapsed in text: N identical consecutive frames print once,\n"
	"followed by \"[previous frame repeated N-1 more times]\".\n"
	"Exit status: 0; 2 usage; 3 no such process; 4 permission denied; 5 not a\n"
	"Python process (without --native); 6 unsupported Python; 7 the process\n"
	"exited while being read; 1 the output cannot be written. With several\n"
	"PIDs, the first failure's status.\n";

static int dump_one(int pid, unsigned snap_flags, bool json, bool stats, unsigned long repeat);
static int dump_tasks_one(int pid, bool json, bool stats);

int cmd_dump(int argc, char **argv)
{
	enum { OPT_DEPTH = 256, OPT_TASKS, OPT_REPEAT, OPT_LOCALS };
	static const struct option opts[] = {
		{ "native", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "stats", no_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "tasks", no_argument, NULL, OPT_TASKS },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "locals", no_argument, NULL, OPT_LOCALS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool native = false, json = false, stats = false, tasks = false, locals = false;
	unsigned long repeat = 1;
	struct cli_pids pids = { 0 };
	int c;

	optind = 1;
	while ((c = cli_getopt(argc, argv, "+:njhp:f", opts, "dump")) != -1) {
		switch (c) {
		case 'n': native = true; break;
		case 'j': json = true; break;
		case 's': stats = true; break;
		case 'p':
			if (cli_add_pids(&pids, optarg, "dump") < 0)
				return 2;
			break;
		case OPT_TASKS: tasks = true; break;
		case OPT_LOCALS: locals = true; break;
		case OPT_DEPTH:
			if (cli_parse_depth(optarg, "dump") < 0)
				return 2;
			break;
		case OPT_REPEAT: {
			char *end;
			errno = 0;
			repeat = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || repeat < 1 || repeat > 1000000 ||
			    optarg[0] == '-') {
				cli_error("dump: --repeat needs a count from 1 to 1000000, not '%s'", optarg);
				return 2;
			}
			break;
		}
		case 'f':
			cli_error("dump: -f does not apply: dump reads the processes named, not their "
				  "children");
			return 2;
		case 'h': fputs(dump_usage, stdout); return 0;
		default:
			return 2;
		}
	}
	for (; optind < argc; optind++)
		if (cli_add_pids(&pids, argv[optind], "dump") < 0)
			return 2;
	if (pids.n == 0) {
		cli_error("dump needs a PID (see pytrace help dump)");
		return 2;
	}
	if (tasks && (native || locals || repeat > 1)) {
		cli_error("dump: --tasks does not combine with %s",
			  native ? "--native" : locals ? "--locals" : "--repeat");
		return 2;
	}
	int status = 0;
	for (size_t i = 0; i < pids.n; i++) {
		int rc = tasks ? dump_tasks_one(pids.pid[i], json, stats)
			       : dump_one(pids.pid[i],
					  (native ? PT_SNAP_NATIVE : 0) | (locals ? PT_SNAP_LOCALS : 0),
					  json, stats, repeat);
		if (rc && !status)
			status = rc;
		if (rc == CLI_EXIT_OUTPUT)
			break;
	}
	return status;
}

/* A signal while the target is stopped waits until it runs again: blocks
 * the ones that end pytrace; *old is the mask to restore. */
static void block_stop_signals(sigset_t *old)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, old);
}

/* One snapshot of an open process, printed. 0, a pt_status (negative), or
 * CLI_EXIT_OUTPUT. */
static int dump_snapshot(pt_process *proc, unsigned snap_flags, bool json, bool stats,
			 unsigned long index, struct pt_error *err)
{
	bool native = snap_flags & PT_SNAP_NATIVE;
	struct pt_snapshot *snap = NULL;
	sigset_t old;
	block_stop_signals(&old);
	int rc = pt_snapshot_take(proc, snap_flags, &snap, err);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		return rc;
	const struct pt_python_info *py = pt_process_python(proc);
	/* A closed pipe ends pytrace by SIGPIPE, as it ends cat; any other
	 * write failure is named and exits CLI_EXIT_OUTPUT. */
	struct pt_out_file out;
	int orc = pt_out_file_open(&out, STDOUT_FILENO, false, NULL, NULL);
	if (orc == 0) {
		pt_out_dump_index = index;
		struct pt_sink *sink;
		if (pt_sink_open(&sink, pt_format_find(json ? "json" : "text"), out.f, NULL) == 0) {
			pt_sink_event(sink, &(struct pt_fmt_event){
				.kind = PT_FMT_EV_SNAPSHOT,
				.dump = { .py = py, .snap = snap, .native = native } });
			pt_sink_close(sink);
		}
		orc = pt_out_file_close(&out);
	}
	if (stats)
		fprintf(stderr, "pytrace: target stopped for %.3f ms (%zu threads)\n",
			(double)snap->pause_ns / 1e6, snap->n_threads);
	pt_snapshot_free(snap);
	if (orc < 0) {
		cli_write_error(NULL, -orc);
		return CLI_EXIT_OUTPUT;
	}
	return 0;
}

static int dump_tasks_one(int pid, bool json, bool stats)
{
	struct pt_error err = { 0 };
	pt_process *proc = NULL;
	struct pt_tasks *tasks = NULL;
	int rc = pt_process_open(pid, 0, &proc, &err);
	if (rc == 0) {
		sigset_t old;
		block_stop_signals(&old);
		rc = pt_tasks_take(proc, &tasks, &err);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (rc < 0) {
		cli_error("%s", err.msg[0] ? err.msg : pt_status_name(rc));
		pt_process_close(proc);
		return pt_status_exit_code(rc);
	}
	struct pt_out_file out;
	int orc = pt_out_file_open(&out, STDOUT_FILENO, false, NULL, NULL);
	if (orc == 0) {
		if (json)
			pt_out_tasks_json(out.f, pt_process_python(proc), tasks);
		else
			pt_out_tasks_text(out.f, pt_process_python(proc), tasks);
		orc = pt_out_file_close(&out);
	}
	if (stats)
		fprintf(stderr, "pytrace: target stopped for %.3f ms (%zu tasks)\n",
			(double)tasks->pause_ns / 1e6, tasks->n);
	pt_tasks_free(tasks);
	pt_process_close(proc);
	if (orc < 0) {
		cli_write_error(NULL, -orc);
		return CLI_EXIT_OUTPUT;
	}
	return 0;
}

static int dump_one(int pid, unsigned snap_flags, bool json, bool stats, unsigned long repeat)
{
	bool native = snap_flags & PT_SNAP_NATIVE;
	struct pt_error err = { 0 };
	pt_process *proc = NULL;
	unsigned oflags = native ? PT_OPEN_ALLOW_NON_PYTHON : 0;
	int rc = pt_process_open(pid, oflags, &proc, &err);
	for (unsigned long i = 0; rc == 0 && i < repeat; i++)
		rc = dump_snapshot(proc, snap_flags, json, stats, repeat > 1 ? i + 1 : 0, &err);
	pt_process_close(proc);
	if (rc == CLI_EXIT_OUTPUT)
		return rc;
	if (rc < 0) {
		cli_error("%s", err.msg[0] ? err.msg : pt_status_name(rc));
		return pt_status_exit_code(rc);
	}
	return 0;
}
