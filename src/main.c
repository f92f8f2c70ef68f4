/* SPDX-License-Identifier: MIT */
/* pytrace's command line: pick a command, hand it the arguments. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

#ifndef PYTRACE_VERSION
#define PYTRACE_VERSION "0.1.0"
#endif

static const char usage[] =
	"usage: pytrace COMMAND [OPTIONS]\n"
	"\n"
	"Observe running CPython programs (2.7, 3.6-3.13) from outside: no restart,\n"
	"no special build, no module imported into the target.\n"
	"\n"
	"Commands:\n"
	"  dump [--native] [--json] [--stats] PID\n"
	"      Print the Python stack of every thread of process PID, innermost\n"
	"      frame first. --native interleaves the native (C) stack, with the\n"
	"      Python frames each interpreter-loop frame was running shown under\n"
	"      it in brackets. --json prints one JSON object per thread.\n"
	"      --stats reports on stderr how long the target was stopped.\n"
	"\n"
	"  stacks -e SYSCALLS [--native] [--count [--top N]] [--folded | --json]\n"
	"         [-o FILE] (-p PID | -c 'COMMAND LINE' | -- PROGRAM ARGS...)\n"
	"      Which Python code makes these system calls: every chosen call (names\n"
	"      or strace classes such as %file) with its arguments, its result and\n"
	"      the Python stack (or, with --native, the merged stack) read while the\n"
	"      thread is stopped at the call. A launched command runs under a seccomp\n"
	"      filter, so other calls run at full speed; its children are followed\n"
	"      and pytrace exits with its status. --count aggregates identical stacks\n"
	"      and prints them at the end (or on Ctrl-C), least frequent first;\n"
	"      --folded prints them for flame graph tools. See pytrace stacks --help.\n"
	"\n"
	"  flow [--within [FILE_SUBSTR:]FUNCTION] [--file SUBSTR]... [--function NAME]...\n"
	"       [--flat] [--timestamps] [--durations] [--c-calls] [--json] [--stats]\n"
	"       [-o FILE] (-p PID | -c 'COMMAND LINE' | -- PROGRAM ARGS...)\n"
	"      Every Python call (->) and return (<-, <-! for an exception) as it\n"
	"      happens, indented by call depth per thread, with the function's first\n"
	"      line on calls and the returning line on returns; generator resumes and\n"
	"      yields are marked. --within prints, per thread, only inside calls of\n"
	"      FUNCTION (in a file containing FILE_SUBSTR); --file and --function keep\n"
	"      matching frames only. --c-calls adds builtins and C functions. Thread\n"
	"      ids are shown once a second thread runs. Works on every supported\n"
	"      CPython without USDT probes: an agent loaded into the target writes\n"
	"      the events into shared memory, and is removed on exit or Ctrl-C. A\n"
	"      launched program is traced from its first Python code; pytrace exits\n"
	"      with its status. See pytrace flow --help.\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help\n"
	"  -V, --version  show the version\n"
	"\n"
	"Exit status:\n"
	"  0  success\n"
	"  1  internal error, or the output cannot be written (disk full, I/O\n"
	"     error: the message names it; a closed pipe is not an error)\n"
	"  2  usage error\n"
	"  3  no such process\n"
	"  4  permission denied (run as the target's user or as root, or grant\n"
	"     CAP_SYS_PTRACE; see the message for the reason)\n"
	"  5  not a Python process\n"
	"  6  unsupported Python version\n"
	"  7  the process exited while being read\n"
	"  8  flow: the hook could not be installed because the process runs no\n"
	"     Python code (every thread blocked outside the interpreter, or Python\n"
	"     not initialised)\n"
	"  9  flow: the process already has a profile hook (sys.setprofile, cProfile)\n"
	"  stacks and flow with a command exit with the command's status instead\n"
	"  (but 1 if the output cannot be written);\n"
	"  126/127: the command cannot be executed / was not found\n";

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pytrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_write_error(const char *name, int error)
{
	if (name)
		cli_error("cannot write to %s: %s", name, strerror(error));
	else
		cli_error("cannot write the output: %s", strerror(error));
}

int cli_parse_pid(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 0x3fffffff)
		return -1;
	return (int)v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_error("no command given (see pytrace --help)");
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("pytrace %s\n", PYTRACE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "stacks"))
		return cmd_stacks(argc - 1, argv + 1);
	if (!strcmp(cmd, "flow"))
		return cmd_flow(argc - 1, argv + 1);
	cli_error("unknown command '%s' (see pytrace --help)", cmd);
	return 2;
}
