/* SPDX-License-Identifier: MIT */
/* What every command parses the same way: long options spelled in full,
 * PIDs, the -c command line, the -o file, one-line usage errors. */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "output/output.h"

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
	       const char *cmd)
{
	int li = -1;

	opterr = 0;
	int c = getopt_long(argc, argv, shortopts, longopts, &li);
	if (c == -1)
		return -1;
	if (c == '?') {
		const char *text = argv[optind - 1];
		if (optopt && optopt != '?')
			cli_error("%s: unknown option '-%c' (see pytrace help %s)", cmd, optopt, cmd);
		else if (text && !strncmp(text, "--", 2))
			cli_error("%s: unknown option '%.*s' (long options are spelled in full; see "
				  "pytrace help %s)", cmd, (int)strcspn(text, "="), text, cmd);
		else
			cli_error("%s: unknown option '%s' (see pytrace help %s)", cmd, text, cmd);
		return CLI_OPT_ERROR;
	}
	if (c == ':') {
		cli_error("%s: option '%s' needs an argument (see pytrace help %s)", cmd,
			  argv[optind - 1], cmd);
		return CLI_OPT_ERROR;
	}
	if (li >= 0) {
		/* getopt_long takes any unambiguous prefix: "--duration 10"
		 * would be --durations, then "10" the program to run. Only
		 * the full name is accepted. */
		const char *text = argv[optind - 1];
		if (optarg && text == optarg && optind >= 2)
			text = argv[optind - 2];
		const char *name = text + 2;
		size_t len = strcspn(name, "=");
		if (strncmp(text, "--", 2) || len != strlen(longopts[li].name) ||
		    strncmp(name, longopts[li].name, len)) {
			cli_error("%s: unknown option '%.*s' (did you mean '--%s'? long options are "
				  "spelled in full)", cmd, (int)(len + 2), text, longopts[li].name);
			return CLI_OPT_ERROR;
		}
	}
	return c;
}

int cli_add_pids(struct cli_pids *p, const char *arg, const char *cmd)
{
	const char *s = arg;

	/* As strace: -p 12,34 and -p "12 34" name two processes. */
	for (;;) {
		size_t len = strcspn(s, ", ");
		char word[32];
		if (len == 0 || len >= sizeof(word)) {
			cli_error("%s: not a PID: '%s'", cmd, arg);
			return -1;
		}
		memcpy(word, s, len);
		word[len] = 0;
		int pid = cli_parse_pid(word);
		if (pid < 0) {
			cli_error("%s: not a PID: '%s'", cmd, word);
			return -1;
		}
		bool dup = false;
		for (size_t i = 0; i < p->n; i++)
			dup |= p->pid[i] == pid;
		if (!dup) {
			if (p->n == CLI_MAX_PIDS) {
				cli_error("%s: at most %d processes (-p)", cmd, CLI_MAX_PIDS);
				return -1;
			}
			p->pid[p->n++] = pid;
		}
		s += len;
		if (!*s)
			return 0;
		s++;
	}
}

/* Characters a shell would give a meaning this splitter does not. */
static bool split_is_shell_char(char c)
{
	return strchr("|&;<>()$`", c) != NULL;
}

char **cli_split_command(const char *line, char *why, size_t why_cap)
{
	size_t cap = 8, n = 0, len = strlen(line);
	char **argv = malloc(cap * sizeof(*argv));
	char *buf = malloc(len + 1);
	const char *p = line;

	if (!argv || !buf) {
		snprintf(why, why_cap, "out of memory");
		goto fail;
	}
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		char *w = buf;
		char quote = 0;
		while (*p && (quote || (*p != ' ' && *p != '\t' && *p != '\n'))) {
			if (quote && *p == quote) {
				quote = 0;
			} else if (!quote && (*p == '\'' || *p == '"')) {
				quote = *p;
			} else if (quote != '\'' && *p == '\\' && p[1]) {
				*w++ = *++p;
			} else if (!quote && split_is_shell_char(*p)) {
				snprintf(why, why_cap,
					 "-c does not interpret '%c' (no pipes, redirections, lists, $VARS "
					 "or `...`): use -- sh -c '%s'", *p, line);
				goto fail;
			} else {
				*w++ = *p;
			}
			p++;
		}
		if (quote) {
			snprintf(why, why_cap, "-c: unterminated %c quote in '%s'", quote, line);
			goto fail;
		}
		*w = 0;
		if (n + 2 > cap) {
			cap *= 2;
			char **na = realloc(argv, cap * sizeof(*argv));
			if (!na) {
				snprintf(why, why_cap, "out of memory");
				goto fail;
			}
			argv = na;
		}
		if (!(argv[n++] = strdup(buf))) {
			snprintf(why, why_cap, "out of memory");
			goto fail;
		}
	}
	argv[n] = NULL;
	free(buf);
	if (n == 0) {
		snprintf(why, why_cap, "-c was given an empty command");
		cli_split_free(argv);
		return NULL;
	}
	return argv;
fail:
	for (size_t i = 0; argv && i < n; i++)
		free(argv[i]);
	free(argv);
	free(buf);
	return NULL;
}

void cli_split_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int cli_open_output(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		cli_error("cannot open %s: %s", path, strerror(errno));
	return fd;
}

int cli_parse_depth(const char *arg, const char *cmd)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v == 0 || v > 100000 || arg[0] == '-') {
		cli_error("%s: --depth wants a positive number of frames, not '%s'", cmd, arg);
		return -1;
	}
	pt_out_style.depth = v;
	return 0;
}

int cli_parse_duration(const char *arg, const char *cmd, const char *opt, uint64_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	double mult = 1000;

	if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "s") || !*end)
		mult = 1000;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		end = NULL;
	if (errno || !end || end == arg || !(v > 0) || v * mult > 1e12 || v * mult < 1) {
		cli_error("%s: %s wants a duration (10, 10s, 500ms, 2m, 1h), not '%s'", cmd, opt, arg);
		return -1;
	}
	*ms = (uint64_t)(v * mult + 0.5);
	return 0;
}

int cli_stop_after(uint64_t ms)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGTERM };
	struct itimerspec its = { .it_value = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 } };
	timer_t t;

	if (timer_create(CLOCK_MONOTONIC, &sev, &t) < 0)
		return -errno;
	if (timer_settime(t, 0, &its, NULL) < 0) {
		int e = errno;
		timer_delete(t);
		return -e;
	}
	return 0;
}
