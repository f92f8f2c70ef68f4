/* SPDX-License-Identifier: MIT */
/* The CLI's commands: each parses its own options and returns an exit code. */
#ifndef PYTRACE_CMD_CMD_H
#define PYTRACE_CMD_CMD_H

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

#endif
