/* SPDX-License-Identifier: MIT */
/* pytrace dump: the Python (and native) stacks of every thread, once. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "output/output.h"
#include "pytrace/pytrace.h"

static const char dump_usage[] =
	"usage: pytrace dump [--native] [--json] [--stats] PID\n";

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "native", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool native = false, json = false, stats = false;
	int c;

	optind = 1;
	opterr = 0;  /* one "pytrace: " line of our own instead */
	while ((c = getopt_long(argc, argv, "+njh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': native = true; break;
		case 'j': json = true; break;
		case 's': stats = true; break;
		case 'h': fputs(dump_usage, stdout); return 0;
		default:
			cli_error("dump: unknown option '%s' (see pytrace dump --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		cli_error("dump takes exactly one PID (see pytrace dump --help)");
		return 2;
	}
	int pid = cli_parse_pid(argv[optind]);
	if (pid < 0) {
		cli_error("not a PID: '%s'", argv[optind]);
		return 2;
	}

	struct pt_error err = { 0 };
	pt_process *proc = NULL;
	struct pt_snapshot *snap = NULL;
	unsigned oflags = native ? PT_OPEN_ALLOW_NON_PYTHON : 0;
	int rc = pt_process_open(pid, oflags, &proc, &err);
	if (rc == 0) {
		/* A signal while the target is stopped waits until it runs again. */
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGHUP);
		sigaddset(&block, SIGQUIT);
		sigprocmask(SIG_BLOCK, &block, &old);
		rc = pt_snapshot_take(proc, native ? PT_SNAP_NATIVE : 0, &snap, &err);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (rc < 0) {
		cli_error("%s", err.msg[0] ? err.msg : pt_status_name(rc));
		pt_process_close(proc);
		return pt_status_exit_code(rc);
	}
	const struct pt_python_info *py = pt_process_python(proc);
	/* A closed pipe ends pytrace by SIGPIPE, as it ends cat; any other
	 * write failure is named and exits CLI_EXIT_OUTPUT. */
	struct pt_out_file out;
	int orc = pt_out_file_open(&out, STDOUT_FILENO, false, NULL, NULL);
	if (orc == 0) {
		if (json)
			pt_out_dump_json(out.f, py, snap, native);
		else
			pt_out_dump_text(out.f, py, snap, native);
		orc = pt_out_file_close(&out);
	}
	if (stats)
		fprintf(stderr, "pytrace: target stopped for %.3f ms (%zu threads)\n",
			(double)snap->pause_ns / 1e6, snap->n_threads);
	pt_snapshot_free(snap);
	pt_process_close(proc);
	if (orc < 0) {
		cli_write_error(NULL, -orc);
		return CLI_EXIT_OUTPUT;
	}
	return 0;
}
