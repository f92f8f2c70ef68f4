/* SPDX-License-Identifier: MIT */
/* The CLI's commands: each parses its own options and returns an exit code. */
#ifndef PYTRACE_CMD_CMD_H
#define PYTRACE_CMD_CMD_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

int cmd_dump(int argc, char **argv);
int cmd_stacks(int argc, char **argv);
int cmd_flow(int argc, char **argv);

/* Prints "pytrace: MSG" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The one line for an output that cannot be written (not a closed pipe):
 * "pytrace: cannot write to NAME: STRERROR" (NAME NULL: standard output).
 * The commands then exit with CLI_EXIT_OUTPUT. */
void cli_write_error(const char *name, int error);
enum { CLI_EXIT_OUTPUT = 1 };
/* Parses a PID argument; -1 if it is not one. */
int cli_parse_pid(const char *s);

/* getopt_long with pytrace's rules: shortopts starts with "+:"; a long
 * option must be spelled in full (no prefixes); an unknown option or a
 * missing argument prints one "pytrace: CMD: ..." line and returns
 * CLI_OPT_ERROR (the command exits 2). Otherwise as getopt_long. */
enum { CLI_OPT_ERROR = -2, CLI_EXIT_USAGE = 2 };
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
	       const char *cmd);

/* The processes named by -p (repeatable; "12,34" names two). */
enum { CLI_MAX_PIDS = 64 };
struct cli_pids {
	int pid[CLI_MAX_PIDS];
	size_t n;
};
/* Adds the PIDs of one -p argument: 0, or -1 after a usage error line. */
int cli_add_pids(struct cli_pids *p, const char *arg, const char *cmd);

/* The one -c splitter of stacks and flow: words separated by blanks, '...'
 * and "..." quote, a backslash escapes the next character (not inside
 * '...'); nothing is expanded. An unquoted | & ; < > ( ) $ or ` is refused
 * (those need a shell: -- sh -c '...'). A NULL-terminated malloc'd argv,
 * or NULL with why filled. */
char **cli_split_command(const char *line, char *why, size_t why_cap);
void cli_split_free(char **argv);

/* --depth N: sets the output's frame limit; -1 after a usage error line. */
int cli_parse_depth(const char *arg, const char *cmd);

/* Opens -o FILE for writing (created, truncated): the fd, or -1 after the
 * error line (a usage error: exit 2 in every command). */
int cli_open_output(const char *path);

/* --for / --interval DURATION: a number with s (the default), ms, m or h;
 * 0 with *ms set, or -1 after a usage error line. */
int cli_parse_duration(const char *arg, const char *cmd, const char *opt, uint64_t *ms);
/* --for: SIGTERM to pytrace itself once ms have passed (a timer), which
 * ends the trace as a SIGTERM from elsewhere would (attached: detach;
 * launched: passed on to the program). 0 or -errno. */
int cli_stop_after(uint64_t ms);

#endif
