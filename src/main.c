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
	"Options:\n"
	"  -h, --help     show this help\n"
	"  -V, --version  show the version\n"
	"\n"
	"Exit status:\n"
	"  0  success\n"
	"  1  internal error\n"
	"  2  usage error\n"
	"  3  no such process\n"
	"  4  permission denied (run as the target's user or as root, or grant\n"
	"     CAP_SYS_PTRACE; see the message for the reason)\n"
	"  5  not a Python process\n"
	"  6  unsupported Python version\n"
	"  7  the process exited while being read\n";

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pytrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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
	cli_error("unknown command '%s' (see pytrace --help)", cmd);
	return 2;
}
