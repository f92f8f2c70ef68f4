/* SPDX-License-Identifier: MIT */
/* x86_64 system calls: the generated tables (numbers, names, classes,
 * errno names), selection by name and class, and argument decoding into
 * values the output layer prints. Nothing here prints. */
#ifndef PYTRACE_SYSCALLS_SYSCALLS_H
#define PYTRACE_SYSCALLS_SYSCALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/mem.h"

/* strace's trace classes (-e %file etc.). */
enum {
	PT_SC_DESC = 1u << 0,
	PT_SC_FILE = 1u << 1,
	PT_SC_IPC = 1u << 2,
	PT_SC_NETWORK = 1u << 3,
	PT_SC_PROCESS = 1u << 4,
	PT_SC_SIGNAL = 1u << 5,
	PT_SC_MEMORY = 1u << 6,
	PT_SC_CREDS = 1u << 7,
	PT_SC_CLOCK = 1u << 8,
	PT_SC_PURE = 1u << 9,
	PT_SC_STAT = 1u << 10,
	PT_SC_LSTAT = 1u << 11,
	PT_SC_FSTAT = 1u << 12,
	PT_SC_STAT_LIKE = 1u << 13,
	PT_SC_STATFS = 1u << 14,
	PT_SC_FSTATFS = 1u << 15,
	PT_SC_STATFS_LIKE = 1u << 16,
};

struct pt_syscall_ent {
	const char *name;      /* NULL: no system call has this number */
	unsigned char nargs;
	unsigned flags;        /* PT_SC_* */
};

/* Generated (tools/gen-syscalls): syscallent.c and errnoent.c. */
extern const struct pt_syscall_ent pt_syscallent[];
extern const unsigned pt_syscallent_n;
extern const char *const pt_errnoent[];
extern const unsigned pt_errnoent_n;
enum { PT_ERRNO_INTERNAL_FIRST = 512, PT_ERRNO_INTERNAL_LAST = 516 };
extern const char *const pt_errno_internal_msg[];

/* The set of system calls to trace: one bit per number. */
enum { PT_SYSCALL_SET_BITS = 1024 };
struct pt_syscall_set {
	uint64_t bits[PT_SYSCALL_SET_BITS / 64];
};

static inline bool pt_syscall_set_has(const struct pt_syscall_set *s, long nr)
{
	return nr >= 0 && nr < PT_SYSCALL_SET_BITS && (s->bits[nr / 64] >> (nr % 64)) & 1;
}

static inline void pt_syscall_set_add(struct pt_syscall_set *s, long nr)
{
	if (nr >= 0 && nr < PT_SYSCALL_SET_BITS)
		s->bits[nr / 64] |= 1ull << (nr % 64);
}

/* Name of a number, or NULL. */
const char *pt_syscall_name(long nr);
/* Number of a name, or -1. */
long pt_syscall_lookup(const char *name);
/* Parses strace's -e syntax: "write,rmdir,%file", with an optional
 * "trace=" prefix, "all", "%class" (%desc %file %ipc %net %network %process
 * %signal %memory %creds %clock %pure %stat %lstat %fstat %%stat %statfs
 * %fstatfs %%statfs) and a leading "!" negating the whole set.
 * Returns 0, or -1 with a one-line reason in why. An empty result is an
 * error. */
int pt_syscall_set_parse(struct pt_syscall_set *set, const char *spec, char *why, size_t cap);

/* errno name ("ENOENT") or NULL; message (strerror, or the text strace
 * prints for the kernel-internal ERESTART* codes). */
const char *pt_errno_name(int err);
const char *pt_errno_message(int err);

/* --- decoding --------------------------------------------------------- */

enum pt_sysarg_kind {
	PT_SYSARG_NUM,   /* a number, printed in decimal (fds, sizes, counts) */
	PT_SYSARG_STR,   /* bytes read from the target: paths, buffers */
	PT_SYSARG_TEXT,  /* a rendering: flags by name, 0644, AT_FDCWD, NULL,
	                    an address, {sockaddr}, [argv] */
};

struct pt_sysarg {
	enum pt_sysarg_kind kind;
	int64_t num;           /* NUM */
	const char *text;      /* TEXT (NUL-terminated) */
	const char *str;       /* STR: the bytes, not NUL-terminated */
	size_t len;            /* STR */
	bool truncated;        /* STR: more bytes followed, shown as "..." */
};

enum { PT_SYSCALL_BUF = 12288, PT_STR_PREVIEW = 32 };

/* One system call as decoded: entry arguments, then the return value. */
struct pt_syscall {
	long nr;
	const char *name;      /* the table's, or "syscall_NNN" */
	uint64_t raw[6];       /* the argument registers */
	size_t nargs;
	struct pt_sysarg args[6];
	bool returned;         /* the exit was seen (else printed "= ?") */
	int64_t ret;           /* rax at exit */
	int err;               /* > 0: ret was -err, an error */
	bool ret_hex;          /* an address (mmap, brk, ...) */
	/* storage for name, text and str above */
	size_t used;
	char buf[PT_SYSCALL_BUF];
};

/* At the syscall-entry (or seccomp) stop: reads paths and input buffers
 * through mem. A pointer that cannot be read becomes its address. */
void pt_syscall_decode_entry(struct pt_syscall *sc, long nr, const uint64_t args[6],
			     struct pt_mem *mem);
/* At the exit stop: the return value, and output buffers (read, recv...). */
void pt_syscall_decode_exit(struct pt_syscall *sc, int64_t ret, struct pt_mem *mem);

/* C-style escaping as strace prints strings: \n \t \" \\ and octal for
 * other non-printable bytes. Writes at most cap-1 bytes plus NUL, never a
 * partial escape; returns how many input bytes were consumed. */
size_t pt_str_escape(char *dst, size_t cap, const char *src, size_t len);

#endif
