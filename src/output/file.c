/* SPDX-License-Identifier: MIT */
/* The output stream of dump and stacks: a FILE over a descriptor that
 * keeps the errno of the first failed write, so that a full disk or an I/O
 * error is told apart from a closed pipe and never passes in silence. */
#include "output/output.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static ssize_t file_write(void *cookie, const char *buf, size_t len)
{
	struct pt_out_file *o = cookie;
	size_t done = 0;

	/* After the first failure nothing more is written: the output would
	 * have a hole in it. */
	if (o->error)
		return -1;
	while (done < len) {
		ssize_t n = write(o->fd, buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		/* A signal that asks pytrace to stop ends a blocked write (a
		 * reader that does not read); any other is retried. */
		if (n < 0 && errno == EINTR && !(o->interrupted && *o->interrupted))
			continue;
		o->error = n < 0 ? errno : EIO;
		return done ? (ssize_t)done : -1;
	}
	return (ssize_t)done;
}

static int file_close(void *cookie)
{
	struct pt_out_file *o = cookie;

	/* close() can report what a write did not (NFS, quotas). */
	if (o->own_fd && close(o->fd) < 0 && !o->error)
		o->error = errno;
	return o->error ? -1 : 0;
}

int pt_out_file_open(struct pt_out_file *o, int fd, bool own_fd, const char *name,
		     volatile sig_atomic_t *interrupted)
{
	static const cookie_io_functions_t io = { .write = file_write, .close = file_close };

	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->own_fd = own_fd;
	o->name = name;
	o->interrupted = interrupted;
	o->f = fopencookie(o, "w", io);
	if (!o->f) {
		if (own_fd)
			close(fd);
		return -ENOMEM;
	}
	return 0;
}

int pt_out_file_flush(struct pt_out_file *o)
{
	fflush(o->f);
	if (!o->error && ferror(o->f))
		o->error = EIO;
	return o->error ? -o->error : 0;
}

int pt_out_file_close(struct pt_out_file *o)
{
	if (!o->f)
		return o->error ? -o->error : 0;
	if (fclose(o->f) != 0 && !o->error)
		o->error = EIO;
	o->f = NULL;
	return o->error ? -o->error : 0;
}
