/* SPDX-License-Identifier: MIT */
/* Formats `pytrace flow` lines: no printf per line, strings preformatted
 * per function, one big buffer written with write(2). */
#include "output/escape.h"
#include "output/flow.h"
#include "output/put.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUT_BUF (1u << 20)
#define OUT_MAX_LINE 16384       /* a line never needs more (names are capped) */
#define INDENT_MAX 512           /* deeper calls are drawn at this depth */
#define SLACK 16                 /* spare bytes after every string put_fast copies */

/* Once pytrace is asked to stop, an output that takes nothing for this
 * long is given up (the rest of the lines are dropped). */
#define OUT_STOP_GRACE_MS 1000
/* How long a blocked write sleeps before it looks at the stop flag again
 * (a signal usually wakes it sooner). */
#define OUT_POLL_MS 100
/* Lines wait in the buffer at most about this long. */
#define OUT_LIVE_MS 100

struct pt_flow_out {
	int fd;                  /* what the lines are written to */
	int nb_fd;               /* fd reopened non-blocking, or -1 */
	bool sock;               /* a socket: send(MSG_DONTWAIT) */
	volatile int *stop;
	uint64_t stalled_since;  /* ms, while stopping and the output blocks */
	bool json, timestamps, durations, flat;
	int error;
	size_t len;
	unsigned since_check;    /* lines since the clock was looked at */
	uint64_t flushed_at;     /* ms */
	char spaces[2 * INDENT_MAX + SLACK];
	char buf[OUT_BUF];
};

struct pt_flow_out *pt_out_flow_new(int fd, bool json, bool timestamps, bool durations, bool flat)
{
	struct pt_flow_out *o = malloc(sizeof(*o));

	if (!o)
		return NULL;
	o->fd = fd;
	o->nb_fd = -1;
	o->sock = false;
	o->stop = NULL;
	o->stalled_since = 0;
	/* A pipe, FIFO or terminal can block pytrace (a reader that does not
	 * read, a terminal stopped with Ctrl-S), and a write blocked in the
	 * kernel cannot be made to see a stop request reliably. So write
	 * them without blocking, through a new open file description (the
	 * original's flags are shared with other processes), and wait in
	 * poll(), which looks at the stop flag every OUT_POLL_MS. Files
	 * never block. */
	struct stat st;
	if (fstat(fd, &st) == 0) {
		if (S_ISSOCK(st.st_mode)) {
			o->sock = true;
		} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
			char path[64];
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			o->nb_fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		}
	}
	o->json = json;
	o->timestamps = timestamps;
	o->durations = durations;
	o->flat = flat;
	o->error = 0;
	o->len = 0;
	o->since_check = 0;
	o->flushed_at = 0;
	memset(o->spaces, ' ', sizeof(o->spaces));
	return o;
}

void pt_out_flow_set_stop(struct pt_flow_out *o, volatile int *stop)
{
	o->stop = stop;
}

static uint64_t out_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static ssize_t out_write(struct pt_flow_out *o, const char *p, size_t n)
{
	if (o->sock)
		return send(o->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	return write(o->nb_fd >= 0 ? o->nb_fd : o->fd, p, n);
}

/* The output would block: waits for room, unless pytrace is stopping and
 * the output took nothing for OUT_STOP_GRACE_MS. 0 to write again, or
 * -EINTR to give up. */
static int out_wait(struct pt_flow_out *o)
{
	if (o->stop && *o->stop) {
		uint64_t now = out_now_ms();
		if (!o->stalled_since)
			o->stalled_since = now;
		if (now - o->stalled_since >= OUT_STOP_GRACE_MS)
			return -EINTR;
	}
	struct pollfd pfd = { .fd = o->nb_fd >= 0 ? o->nb_fd : o->fd, .events = POLLOUT };
	if (poll(&pfd, 1, OUT_POLL_MS) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int pt_out_flow_error(const struct pt_flow_out *o)
{
	return o->error;
}

int pt_out_flow_flush(struct pt_flow_out *o)
{
	size_t done = 0;

	while (done < o->len && !o->error) {
		ssize_t n = out_write(o, o->buf + done, o->len - done);
		if (n > 0) {
			done += (size_t)n;
			o->stalled_since = 0;
			continue;
		}
		int e = n < 0 ? errno : EIO;
		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == EWOULDBLOCK) {
			int rc = out_wait(o);
			if (rc < 0)
				o->error = -rc;
			continue;
		}
		o->error = e;
	}
	o->len = 0;
	return o->error ? -o->error : 0;
}

int pt_out_flow_free(struct pt_flow_out *o)
{
	int rc;

	if (!o)
		return 0;
	rc = pt_out_flow_flush(o);
	if (o->nb_fd >= 0)
		close(o->nb_fd);
	free(o);
	return rc;
}

/* --- building blocks ------------------------------------------------ */

static inline char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* Copies n bytes in 16-byte chunks, possibly reading and writing up to
 * 15 bytes past the end: every source given to it is allocated with
 * SLACK spare bytes, and every line leaves room in the buffer. Short
 * copies of varying length are most of the work, and `rep movs` (what a
 * plain memcpy of unknown length compiles to here) is slow to start. */

static inline char *put_fast(char *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		uint64_t a, b;
		memcpy(&a, s + i, 8);
		memcpy(&b, s + i + 8, 8);
		memcpy(p + i, &a, 8);
		memcpy(p + i + 8, &b, 8);
	}
	return p + n;
}

#define PUTS(p, lit) put((p), (lit), sizeof(lit) - 1)

static inline char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return pt_put_u64(p, (uint64_t)-(v + 1) + 1);
	}
	return pt_put_u64(p, (uint64_t)v);
}

/* "S.uuuuuu" (seconds and microseconds), right-aligned in width. */
static char *put_seconds(char *p, uint64_t ns, int width)
{
	char tmp[32], *t = tmp;
	uint64_t us = ns / 1000;

	t = pt_put_u64(t, us / 1000000);
	*t++ = '.';
	uint64_t frac = us % 1000000;
	for (uint64_t d = 100000; d; d /= 10)
		*t++ = (char)('0' + frac / d % 10);
	int n = (int)(t - tmp);
	for (int i = n; i < width; i++)
		*p++ = ' ';
	return put(p, tmp, (size_t)n);
}

/* A duration, always in microseconds so that a run's column reads in one
 * unit: "0.812us", "12.345us", "1500000.000us". */
static char *put_duration(char *p, uint64_t ns)
{
	p = pt_put_u64(p, ns / 1000);
	*p++ = '.';
	uint64_t frac = ns % 1000;
	*p++ = (char)('0' + frac / 100);
	*p++ = (char)('0' + frac / 10 % 10);
	*p++ = (char)('0' + frac % 10);
	return PUTS(p, "us");
}

/* JSON string contents: escapes quotes, backslashes and control bytes;
 * bytes that are not UTF-8 become \u00XX (as Latin-1). */
static size_t json_escape(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	char *p = out;

	while (*u) {
		unsigned c = *u;
		size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		bool valid = n > 0;
		for (size_t k = 1; valid && k < n; k++)
			valid = (u[k] & 0xc0) == 0x80;
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20 || (!valid && c >= 0x80)) {
			p = PUTS(p, "\\u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
			n = 1;
		} else if (n > 1) {
			p = put(p, (const char *)u, n);
			u += n;
			continue;
		} else {
			*p++ = (char)c;
		}
		u += valid ? n : 1;
	}
	return (size_t)(p - out);
}

int pt_out_flow_fn_init(struct pt_flow_fn *fn)
{
	size_t nl = strlen(fn->name), fl = fn->file ? strlen(fn->file) : 0;
	char *p;

	/* Text escapes each byte into at most 4 (pt_out_text_escape). */
	fn->text_call = malloc(4 * (nl + fl) + 32 + SLACK);
	fn->text_head = malloc(4 * (nl + fl) + 8 + SLACK);
	fn->json = malloc(6 * (nl + fl) + 64 + SLACK);
	if (!fn->text_call || !fn->text_head || !fn->json) {
		pt_out_flow_fn_fini(fn);
		return -ENOMEM;
	}
	p = fn->text_head + pt_out_text_escape(fn->text_head, fn->name);
	if (fn->file) {
		p = PUTS(p, " (");
		p += pt_out_text_escape(p, fn->file);
		*p++ = ':';
	}
	fn->text_head_len = (size_t)(p - fn->text_head);

	p = put(fn->text_call, fn->text_head, fn->text_head_len);
	if (fn->file) {
		p = put_i64(p, fn->firstlineno);
		*p++ = ')';
	} else {
		p = PUTS(p, " (C)");
	}
	fn->text_call_len = (size_t)(p - fn->text_call);

	p = PUTS(fn->json, "\"function\":\"");
	p += json_escape(p, fn->name);
	if (fn->file) {
		p = PUTS(p, "\",\"file\":\"");
		p += json_escape(p, fn->file);
		p = PUTS(p, "\",");
	} else {
		p = PUTS(p, "\",\"c\":true,");
	}
	fn->json_len = (size_t)(p - fn->json);
	return 0;
}

void pt_out_flow_fn_fini(struct pt_flow_fn *fn)
{
	free(fn->text_call);
	free(fn->text_head);
	free(fn->json);
	fn->text_call = fn->text_head = fn->json = NULL;
}

static const char *const json_names[] = {
	[PT_FLOW_CALL] = "call", [PT_FLOW_RETURN] = "return", [PT_FLOW_UNWIND] = "exception",
	[PT_FLOW_RESUME] = "resume", [PT_FLOW_YIELD] = "yield", [PT_FLOW_THROW] = "throw",
	[PT_FLOW_C_CALL] = "c_call", [PT_FLOW_C_RETURN] = "c_return", [PT_FLOW_C_RAISE] = "c_exception",
};

static char *line_json(struct pt_flow_out *o, char *p, const struct pt_flow_event *l)
{
	const char *ev = l->kind < sizeof(json_names) / sizeof(json_names[0]) && json_names[l->kind]
		? json_names[l->kind] : "?";

	p = PUTS(p, "{\"event\":\"");
	p = put(p, ev, strlen(ev));
	p = PUTS(p, "\",\"tid\":");
	p = pt_put_u64(p, (uint64_t)l->tid);
	p = PUTS(p, ",\"depth\":");
	p = pt_put_u64(p, l->depth);
	*p++ = ',';
	p = put_fast(p, l->fn->json, l->fn->json_len);
	if (l->fn->file) {
		p = PUTS(p, "\"line\":");
		p = put_i64(p, l->kind == PT_FLOW_CALL ? l->fn->firstlineno : l->line);
		*p++ = ',';
	}
	if (o->timestamps) {
		p = PUTS(p, "\"ts_ns\":");
		p = pt_put_u64(p, l->ts);
		*p++ = ',';
	}
	if (o->durations && l->duration >= 0) {
		p = PUTS(p, "\"duration_ns\":");
		p = pt_put_u64(p, (uint64_t)l->duration);
		*p++ = ',';
	}
	p[-1] = '}';
	*p++ = '\n';
	return p;
}

static char *line_text(struct pt_flow_out *o, char *p, const struct pt_flow_event *l)
{
	if (o->timestamps) {
		p = put_seconds(p, l->ts, 12);
		*p++ = ' ';
	}
	if (l->show_tid) {
		*p++ = '[';
		p = pt_put_u64(p, (uint64_t)l->tid);
		p = PUTS(p, "] ");
	}
	if (!o->flat) {
		unsigned d = l->depth < INDENT_MAX ? l->depth : INDENT_MAX;
		p = put_fast(p, o->spaces, 2 * (size_t)d);
	}
	if (pt_flow_is_entry(l->kind))
		p = PUTS(p, "-> ");
	else if (l->kind == PT_FLOW_UNWIND || l->kind == PT_FLOW_C_RAISE)
		p = PUTS(p, "<-! ");
	else
		p = PUTS(p, "<- ");
	if (l->kind == PT_FLOW_CALL || !l->fn->file) {
		p = put_fast(p, l->fn->text_call, l->fn->text_call_len);
	} else {
		p = put_fast(p, l->fn->text_head, l->fn->text_head_len);
		if (l->line >= 0)
			p = pt_put_u64(p, (uint64_t)l->line);
		else
			*p++ = '?';
		*p++ = ')';
	}
	if (l->kind == PT_FLOW_RESUME)
		p = PUTS(p, " [resume]");
	else if (l->kind == PT_FLOW_YIELD)
		p = PUTS(p, " [yield]");
	else if (l->kind == PT_FLOW_THROW)
		p = PUTS(p, " [throw]");
	if (o->durations && l->duration >= 0) {
		*p++ = ' ';
		p = put_duration(p, (uint64_t)l->duration);
	}
	*p++ = '\n';
	return p;
}

int pt_out_flow_line(struct pt_flow_out *o, const struct pt_flow_event *l)
{
	size_t need = l->fn->text_call_len + l->fn->json_len + 2 * INDENT_MAX + 256 + SLACK;

	if (o->error)
		return -o->error;
	if (need > OUT_MAX_LINE * 8)
		return 0;
	if (o->len + need > sizeof(o->buf) && pt_out_flow_flush(o) < 0)
		return -o->error;
	char *start = o->buf + o->len;
	char *end = o->json ? line_json(o, start, l) : line_text(o, start, l);
	o->len += (size_t)(end - start);
	/* A steady stream is written at least every OUT_LIVE_MS (the consumer
	 * flushes too whenever it has caught up). */
	if (++o->since_check >= 1024) {
		o->since_check = 0;
		uint64_t now = out_now_ms();
		if (now - o->flushed_at >= OUT_LIVE_MS) {
			o->flushed_at = now;
			if (pt_out_flow_flush(o) < 0)
				return -o->error;
		}
	}
	return 0;
}

int pt_out_flow_sink(void *arg, const struct pt_flow_event *e)
{
	return pt_out_flow_line(arg, e);
}
