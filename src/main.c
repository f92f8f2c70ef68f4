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
	"Observe running CPython programs (2.7, 3.6-3.15) from outside: no restart,\n"
	"no special build, no module imported into the target.\n"
	"\n"
	"Commands (pytrace help COMMAND, or COMMAND --help, tells more):\n"
	"  dump [--native] [--json] [--depth N] [--stats] (PID | -p PID)...\n"
	"      Print the Python stack of every thread of process PID, innermost\n"
	"      frame first. --native interleaves the native (C) stack, with the\n"
	"      Python frames each interpreter-loop frame was running shown under\n"
	"      it in brackets. --json prints one JSON object per thread.\n"
	"      --stats reports on stderr how long the target was stopped.\n"
	"\n"
	"  stacks -e SYSCALLS [-T] [-f] [--native] [--depth N] [--count [--top N]]\n"
	"         [--folded | --json] [-o FILE] (-p PID | -c 'COMMAND LINE' | -- PROGRAM ARGS...)\n"
	"      Which Python code makes these system calls: every chosen call (names\n"
	"      or strace classes such as %file) with its arguments, its result and\n"
	"      the Python stack (or, with --native, the merged stack) read while the\n"
	"      thread is stopped at the call. -T adds each call's duration; a call\n"
	"      that blocks shows when it starts. A launched command runs under a\n"
	"      seccomp filter, so other calls run at full speed; an attached process\n"
	"      (-p) stops at every system call (tens of microseconds each). Children\n"
	"      are followed with -f. --count aggregates identical stacks (with a\n"
	"      strace -c table); --folded prints them for flame graph tools.\n"
	"\n"
	"  flow [--within [FILE_SUBSTR:]FUNCTION] [--file SUBSTR]... [--function NAME]...\n"
	"       [--flat] [--tid] [--timestamps] [--durations] [--c-calls] [--json] [--stats]\n"
	"       [-o FILE] (-p PID | -c 'COMMAND LINE' | -- PROGRAM ARGS...)\n"
	"      Every Python call (->) and return (<-, <-! for an exception) as it\n"
	"      happens, indented by call depth per thread, with the function's first\n"
	"      line on calls and the returning line on returns; generator resumes and\n"
	"      yields are marked. --within prints, per thread, only inside calls of\n"
	"      FUNCTION (in a file containing FILE_SUBSTR); --file and --function keep\n"
	"      matching frames only. --c-calls adds builtins and C functions. Works on\n"
	"      every supported CPython without USDT probes: an agent loaded into the\n"
	"      target writes the events into shared memory, and is removed on exit or\n"
	"      Ctrl-C. A launched program is traced from its first Python code.\n"
	"\n"
	"  help COMMAND\n"
	"      that command's options.\n"
	"\n"
	"Conventions shared by the commands: -p PID (or --pid PID) names a running\n"
	"process; -c 'COMMAND LINE' runs a command (split into words at blanks, with\n"
	"'...', \"...\" and \\ quoting, nothing expanded: not strace's -c summary,\n"
	"which is stacks --count here); -- PROGRAM ARGS runs a program. With a\n"
	"command, the trace goes to the standard error (as strace's), so the\n"
	"program's own output stays its own; -o FILE writes it to FILE instead, as\n"
	"it comes. Long options are spelled in full (no abbreviations). A usage\n"
	"error prints one \"pytrace:\" line and exits 2. With -p, pytrace confirms\n"
	"on exit: \"pytrace: detached from PID; target running\".\n"
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
	if (!strcmp(cmd, "help") && argc > 2) {
		/* pytrace help CMD: CMD --help. */
		char *help_argv[] = { argv[2], "--help", NULL };
		if (argc > 3) {
			cli_error("help takes one command name");
			return 2;
		}
		if (!strcmp(argv[2], "dump"))
			return cmd_dump(2, help_argv);
		if (!strcmp(argv[2], "stacks"))
			return cmd_stacks(2, help_argv);
		if (!strcmp(argv[2], "flow"))
			return cmd_flow(2, help_argv);
		cli_error("unknown command '%s' (commands: dump, stacks, flow)", argv[2]);
		return 2;
	}
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
