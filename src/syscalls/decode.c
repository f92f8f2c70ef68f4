/* SPDX-License-Identifier: MIT */
/* Argument decoding: one row of argument kinds per common system call, and
 * the readers that turn registers and target memory into struct pt_sysarg
 * values. A pointer that cannot be read is shown as its address. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "syscalls/syscalls.h"
#include "syscalls/xlat.h"

enum arg_kind {
	A_HEX = 0,       /* default: raw value in hex */
	A_INT,           /* int, decimal */
	A_LONG,          /* long, decimal */
	A_ULONG,         /* size_t, decimal */
	A_FD,
	A_DIRFD,         /* AT_FDCWD or an fd */
	A_PATH,          /* NUL-terminated string, read in full */
	A_BUF_IN,        /* buffer whose length is the next argument: preview */
	A_BUF_OUT,       /* buffer filled by the call, length = return value */
	A_CSTR_OUT,      /* string filled by the call (getcwd) */
	A_PTR,           /* NULL or an address */
	A_OPEN_FLAGS,
	A_OPEN_MODE,     /* shown only if the previous argument has O_CREAT/O_TMPFILE */
	A_MODE,          /* octal */
	A_AT_FLAGS,
	A_UNLINKAT_FLAGS,
	A_FACCESSAT_FLAGS,
	A_ACCESS_MODE,
	A_RENAME_FLAGS,
	A_WHENCE,
	A_PROT,
	A_MAP_FLAGS,
	A_CLONE_FLAGS,   /* flags | exit signal in the low byte */
	A_CLONE3,        /* struct clone_args * */
	A_SIGNAL,
	A_AF,
	A_SOCKTYPE,
	A_SOCKFLAGS,     /* accept4 */
	A_SOCKADDR,      /* struct sockaddr *, length is the next argument */
	A_SOCKADDR_OUT,  /* filled by the call; next argument points to the length */
	A_MSG_FLAGS,
	A_WAIT_OPTIONS,
	A_ARGV,
	A_ENVP,
	A_FCNTL_CMD,
	A_SHUT_HOW,
	A_CLOEXEC_FLAGS, /* dup3, pipe2 */
	A_PIPEFDS_OUT,   /* int[2] filled by the call */
	A_CLOCKID,
	A_TIMER_FLAGS,
	A_TIMESPEC,      /* const struct timespec *, read at entry */
};

enum ret_kind { R_DEC = 0, R_HEX, R_NONE };

struct decoder {
	unsigned char arg[6];
	unsigned char ret;
};

/* Rows for the calls strace users read most; every other call prints its
 * arguments in hex (the count comes from the generated table). */
static const struct decoder decoders[] = {
	[SYS_read] = { { A_FD, A_BUF_OUT, A_ULONG } },
	[SYS_write] = { { A_FD, A_BUF_IN, A_ULONG } },
	[SYS_open] = { { A_PATH, A_OPEN_FLAGS, A_OPEN_MODE } },
	[SYS_close] = { { A_FD } },
	[SYS_stat] = { { A_PATH, A_PTR } },
	[SYS_fstat] = { { A_FD, A_PTR } },
	[SYS_lstat] = { { A_PATH, A_PTR } },
	[SYS_lseek] = { { A_FD, A_LONG, A_WHENCE } },
	[SYS_nanosleep] = { { A_TIMESPEC, A_PTR } },
	[SYS_clock_nanosleep] = { { A_CLOCKID, A_TIMER_FLAGS, A_TIMESPEC, A_PTR } },
	[SYS_clock_gettime] = { { A_CLOCKID, A_PTR } },
	[SYS_clock_getres] = { { A_CLOCKID, A_PTR } },
	[SYS_mmap] = { { A_PTR, A_ULONG, A_PROT, A_MAP_FLAGS, A_FD, A_HEX }, R_HEX },
	[SYS_mprotect] = { { A_PTR, A_ULONG, A_PROT } },
	[SYS_munmap] = { { A_PTR, A_ULONG } },
	[SYS_brk] = { { A_PTR }, R_HEX },
	[SYS_pread64] = { { A_FD, A_BUF_OUT, A_ULONG, A_LONG } },
	[SYS_pwrite64] = { { A_FD, A_BUF_IN, A_ULONG, A_LONG } },
	[SYS_readv] = { { A_FD, A_PTR, A_INT } },
	[SYS_writev] = { { A_FD, A_PTR, A_INT } },
	[SYS_access] = { { A_PATH, A_ACCESS_MODE } },
	[SYS_pipe] = { { A_PIPEFDS_OUT } },
	[SYS_mremap] = { { A_PTR, A_ULONG, A_ULONG, A_HEX, A_PTR }, R_HEX },
	[SYS_dup] = { { A_FD } },
	[SYS_dup2] = { { A_FD, A_FD } },
	[SYS_socket] = { { A_AF, A_SOCKTYPE, A_INT } },
	[SYS_connect] = { { A_FD, A_SOCKADDR, A_INT } },
	[SYS_accept] = { { A_FD, A_SOCKADDR_OUT, A_PTR } },
	[SYS_sendto] = { { A_FD, A_BUF_IN, A_ULONG, A_MSG_FLAGS, A_SOCKADDR, A_INT } },
	[SYS_recvfrom] = { { A_FD, A_BUF_OUT, A_ULONG, A_MSG_FLAGS, A_PTR, A_PTR } },
	[SYS_shutdown] = { { A_FD, A_SHUT_HOW } },
	[SYS_bind] = { { A_FD, A_SOCKADDR, A_INT } },
	[SYS_listen] = { { A_FD, A_INT } },
	[SYS_clone] = { { A_CLONE_FLAGS, A_PTR, A_PTR, A_PTR, A_HEX } },
	[SYS_execve] = { { A_PATH, A_ARGV, A_ENVP } },
	[SYS_exit] = { { A_INT }, R_NONE },
	[SYS_wait4] = { { A_INT, A_PTR, A_WAIT_OPTIONS, A_PTR } },
	[SYS_kill] = { { A_INT, A_SIGNAL } },
	[SYS_fcntl] = { { A_FD, A_FCNTL_CMD, A_HEX } },
	[SYS_flock] = { { A_FD, A_INT } },
	[SYS_fsync] = { { A_FD } },
	[SYS_fdatasync] = { { A_FD } },
	[SYS_truncate] = { { A_PATH, A_LONG } },
	[SYS_ftruncate] = { { A_FD, A_LONG } },
	[SYS_getcwd] = { { A_CSTR_OUT, A_ULONG } },
	[SYS_chdir] = { { A_PATH } },
	[SYS_fchdir] = { { A_FD } },
	[SYS_rename] = { { A_PATH, A_PATH } },
	[SYS_mkdir] = { { A_PATH, A_MODE } },
	[SYS_rmdir] = { { A_PATH } },
	[SYS_creat] = { { A_PATH, A_MODE } },
	[SYS_link] = { { A_PATH, A_PATH } },
	[SYS_unlink] = { { A_PATH } },
	[SYS_symlink] = { { A_PATH, A_PATH } },
	[SYS_readlink] = { { A_PATH, A_BUF_OUT, A_ULONG } },
	[SYS_chmod] = { { A_PATH, A_MODE } },
	[SYS_fchmod] = { { A_FD, A_MODE } },
	[SYS_chown] = { { A_PATH, A_INT, A_INT } },
	[SYS_fchown] = { { A_FD, A_INT, A_INT } },
	[SYS_lchown] = { { A_PATH, A_INT, A_INT } },
	[SYS_umask] = { { A_MODE } },
	[SYS_getdents64] = { { A_FD, A_PTR, A_ULONG } },
	[SYS_tkill] = { { A_INT, A_SIGNAL } },
	[SYS_exit_group] = { { A_INT }, R_NONE },
	[SYS_tgkill] = { { A_INT, A_INT, A_SIGNAL } },
	[SYS_openat] = { { A_DIRFD, A_PATH, A_OPEN_FLAGS, A_OPEN_MODE } },
	[SYS_mkdirat] = { { A_DIRFD, A_PATH, A_MODE } },
	[SYS_fchownat] = { { A_DIRFD, A_PATH, A_INT, A_INT, A_AT_FLAGS } },
	[SYS_newfstatat] = { { A_DIRFD, A_PATH, A_PTR, A_AT_FLAGS } },
	[SYS_unlinkat] = { { A_DIRFD, A_PATH, A_UNLINKAT_FLAGS } },
	[SYS_renameat] = { { A_DIRFD, A_PATH, A_DIRFD, A_PATH } },
	[SYS_linkat] = { { A_DIRFD, A_PATH, A_DIRFD, A_PATH, A_AT_FLAGS } },
	[SYS_symlinkat] = { { A_PATH, A_DIRFD, A_PATH } },
	[SYS_readlinkat] = { { A_DIRFD, A_PATH, A_BUF_OUT, A_ULONG } },
	[SYS_fchmodat] = { { A_DIRFD, A_PATH, A_MODE } },
	[SYS_faccessat] = { { A_DIRFD, A_PATH, A_ACCESS_MODE } },
	[SYS_accept4] = { { A_FD, A_SOCKADDR_OUT, A_PTR, A_SOCKFLAGS } },
	[SYS_dup3] = { { A_FD, A_FD, A_CLOEXEC_FLAGS } },
	[SYS_pipe2] = { { A_PIPEFDS_OUT, A_CLOEXEC_FLAGS } },
	[SYS_renameat2] = { { A_DIRFD, A_PATH, A_DIRFD, A_PATH, A_RENAME_FLAGS } },
	[SYS_execveat] = { { A_DIRFD, A_PATH, A_ARGV, A_ENVP, A_AT_FLAGS } },
	[SYS_statx] = { { A_DIRFD, A_PATH, A_AT_FLAGS, A_HEX, A_PTR } },
	[SYS_clone3] = { { A_CLONE3, A_ULONG } },
	[SYS_openat2] = { { A_DIRFD, A_PATH, A_PTR, A_ULONG } },
	[SYS_faccessat2] = { { A_DIRFD, A_PATH, A_ACCESS_MODE, A_FACCESSAT_FLAGS } },
};

enum { N_DECODERS = sizeof(decoders) / sizeof(decoders[0]) };

static const struct decoder *decoder_of(long nr)
{
	static const struct decoder none;
	return nr >= 0 && nr < N_DECODERS ? &decoders[nr] : &none;
}

/* --- storage in the struct's own buffer --------------------------------- */

static char *sc_alloc(struct pt_syscall *sc, size_t n)
{
	if (sc->used + n > sizeof(sc->buf))
		return NULL;
	char *p = sc->buf + sc->used;
	sc->used += n;
	return p;
}

__attribute__((format(printf, 2, 3)))
static const char *sc_printf(struct pt_syscall *sc, const char *fmt, ...)
{
	size_t room = sizeof(sc->buf) - sc->used;
	va_list ap;
	int n;

	if (room == 0)
		return "?";
	va_start(ap, fmt);
	n = vsnprintf(sc->buf + sc->used, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return "?";
	const char *s = sc->buf + sc->used;
	sc->used += (size_t)n < room ? (size_t)n + 1 : room;
	return s;
}

static void arg_num(struct pt_syscall *sc, size_t i, int64_t v)
{
	sc->args[i] = (struct pt_sysarg){ .kind = PT_SYSARG_NUM, .num = v };
}

static void arg_text(struct pt_syscall *sc, size_t i, const char *text)
{
	sc->args[i] = (struct pt_sysarg){ .kind = PT_SYSARG_TEXT, .text = text };
}

static void arg_addr(struct pt_syscall *sc, size_t i, uint64_t v)
{
	arg_text(sc, i, v ? sc_printf(sc, "%#" PRIx64, v) : "NULL");
}

static void arg_hex(struct pt_syscall *sc, size_t i, uint64_t v)
{
	arg_text(sc, i, v ? sc_printf(sc, "%#" PRIx64, v) : "0");
}

static void arg_flags(struct pt_syscall *sc, size_t i, const struct pt_xlat *t, uint64_t v,
		      const char *zero)
{
	char tmp[512];
	pt_xlat_flags(tmp, sizeof(tmp), t, v, zero);
	arg_text(sc, i, sc_printf(sc, "%s", tmp));
}

static void arg_value(struct pt_syscall *sc, size_t i, const struct pt_xlat *t, int64_t v)
{
	const char *name = pt_xlat_name(t, (uint64_t)v);
	if (name)
		arg_text(sc, i, name);
	else
		arg_num(sc, i, v);
}

/* A NUL-terminated string of at most max bytes. */
static void arg_cstr(struct pt_syscall *sc, size_t i, struct pt_mem *mem, uint64_t addr,
		     size_t max)
{
	if (!addr) {
		arg_text(sc, i, "NULL");
		return;
	}
	size_t room = sizeof(sc->buf) - sc->used;
	if (room < 2) {
		arg_addr(sc, i, addr);
		return;
	}
	size_t cap = max + 1 < room ? max + 1 : room;
	char *dst = sc->buf + sc->used;
	if (pt_mem_read_cstr(mem, addr, dst, cap) < 0) {
		arg_addr(sc, i, addr);
		return;
	}
	size_t len = strlen(dst);
	sc->used += len + 1;
	sc->args[i] = (struct pt_sysarg){ .kind = PT_SYSARG_STR, .str = dst, .len = len,
					  .truncated = len == cap - 1 };
}

/* A buffer of len bytes: the first PT_STR_PREVIEW of them. */
static void arg_buf(struct pt_syscall *sc, size_t i, struct pt_mem *mem, uint64_t addr,
		    uint64_t len)
{
	size_t n = len < PT_STR_PREVIEW ? (size_t)len : PT_STR_PREVIEW;
	char *dst = sc_alloc(sc, n ? n : 1);

	if (!dst || (n && pt_mem_read(mem, addr, dst, n) < 0)) {
		arg_addr(sc, i, addr);
		return;
	}
	sc->args[i] = (struct pt_sysarg){ .kind = PT_SYSARG_STR, .str = dst, .len = n,
					  .truncated = len > n };
}

static const char *signal_name(struct pt_syscall *sc, int sig)
{
	if (sig == 0)
		return "0";
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		return sig == SIGRTMIN ? "SIGRTMIN" : sc_printf(sc, "SIGRT_%d", sig - SIGRTMIN);
	const char *abbrev = sigabbrev_np(sig);
	return abbrev ? sc_printf(sc, "SIG%s", abbrev) : sc_printf(sc, "%d", sig);
}

static void arg_clone_flags(struct pt_syscall *sc, size_t i, uint64_t flags, uint64_t sig)
{
	char tmp[512];
	pt_xlat_flags(tmp, sizeof(tmp), pt_xlat_clone_flags, flags, NULL);
	if (sig)
		arg_text(sc, i, sc_printf(sc, "flags=%s%s", flags ? strcat(tmp, "|") : "",
					  signal_name(sc, (int)sig)));
	else
		arg_text(sc, i, sc_printf(sc, "flags=%s", tmp));
}

static void arg_clone3(struct pt_syscall *sc, size_t i, struct pt_mem *mem, uint64_t addr)
{
	struct clone_args ca;
	if (pt_mem_read(mem, addr, &ca, 2 * sizeof(uint64_t)) < 0) {
		arg_addr(sc, i, addr);
		return;
	}
	char tmp[512];
	pt_xlat_flags(tmp, sizeof(tmp), pt_xlat_clone_flags, ca.flags, NULL);
	/* exit_signal is the fifth field; read it with the rest if we can. */
	if (pt_mem_read(mem, addr, &ca, offsetof(struct clone_args, stack)) == 0 && ca.exit_signal)
		arg_text(sc, i, sc_printf(sc, "{flags=%s, exit_signal=%s}", tmp,
					  signal_name(sc, (int)ca.exit_signal)));
	else
		arg_text(sc, i, sc_printf(sc, "{flags=%s}", tmp));
}

static void arg_timespec(struct pt_syscall *sc, size_t i, struct pt_mem *mem, uint64_t addr)
{
	struct { int64_t sec, nsec; } ts;

	if (!addr)
		arg_text(sc, i, "NULL");
	else if (pt_mem_read(mem, addr, &ts, sizeof(ts)) < 0)
		arg_addr(sc, i, addr);
	else
		arg_text(sc, i, sc_printf(sc, "{tv_sec=%" PRId64 ", tv_nsec=%" PRId64 "}", ts.sec,
					  ts.nsec));
}

static void arg_sockaddr(struct pt_syscall *sc, size_t i, struct pt_mem *mem, uint64_t addr,
			 uint64_t len)
{
	struct sockaddr_storage ss;
	char esc[512], ip[INET6_ADDRSTRLEN];

	if (!addr) {
		arg_text(sc, i, "NULL");
		return;
	}
	if (len < sizeof(sa_family_t) || len > sizeof(ss)) {
		arg_addr(sc, i, addr);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	if (pt_mem_read(mem, addr, &ss, (size_t)len) < 0) {
		arg_addr(sc, i, addr);
		return;
	}
	const char *fam = pt_xlat_name(pt_xlat_address_family, ss.ss_family);
	switch (ss.ss_family) {
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)&ss;
		size_t plen = (size_t)len - offsetof(struct sockaddr_un, sun_path);
		if (plen > 0 && un->sun_path[0] == 0) {  /* abstract: "@name" */
			pt_str_escape(esc, sizeof(esc), un->sun_path + 1, plen - 1);
			arg_text(sc, i, sc_printf(sc, "{sa_family=AF_UNIX, sun_path=@\"%s\"}", esc));
		} else {
			pt_str_escape(esc, sizeof(esc), un->sun_path, strnlen(un->sun_path, plen));
			arg_text(sc, i, sc_printf(sc, "{sa_family=AF_UNIX, sun_path=\"%s\"}", esc));
		}
		return;
	}
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		arg_text(sc, i, sc_printf(sc, "{sa_family=AF_INET, sin_port=htons(%u), "
					      "sin_addr=inet_addr(\"%s\")}", ntohs(in->sin_port), ip));
		return;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		arg_text(sc, i, sc_printf(sc, "{sa_family=AF_INET6, sin6_port=htons(%u), "
					      "sin6_addr=inet_pton(\"%s\")}", ntohs(in6->sin6_port), ip));
		return;
	}
	default:
		if (fam)
			arg_text(sc, i, sc_printf(sc, "{sa_family=%s}", fam));
		else
			arg_text(sc, i, sc_printf(sc, "{sa_family=%u}", ss.ss_family));
	}
}

/* execve's argv: ["a", "b"], each string previewed, at most 32 of them. */
static void arg_argv(struct pt_syscall *sc, size_t i, struct pt_mem *mem, uint64_t addr)
{
	enum { MAX_ARGS = 32 };
	char out[4096], str[PT_STR_PREVIEW + 1], esc[4 * PT_STR_PREVIEW + 1];
	size_t len = 0;

	if (!addr) {
		arg_text(sc, i, "NULL");
		return;
	}
	out[len++] = '[';
	for (size_t k = 0;; k++) {
		uint64_t p;
		if (pt_mem_read_u64(mem, addr + 8 * k, &p) < 0) {
			if (k == 0) {
				arg_addr(sc, i, addr);
				return;
			}
			break;
		}
		if (!p)
			break;
		if (k == MAX_ARGS) {
			len += (size_t)snprintf(out + len, sizeof(out) - len, ", ...");
			break;
		}
		const char *sep = k ? ", " : "";
		if (pt_mem_read_cstr(mem, p, str, sizeof(str)) < 0) {
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%#" PRIx64, sep, p);
		} else {
			size_t sl = strlen(str);
			pt_str_escape(esc, sizeof(esc), str, sl);
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s\"%s\"%s", sep, esc,
						sl == PT_STR_PREVIEW ? "..." : "");
		}
		if (len >= sizeof(out) - 1)
			break;
	}
	if (len < sizeof(out) - 1)
		out[len++] = ']';
	out[len < sizeof(out) ? len : sizeof(out) - 1] = 0;
	arg_text(sc, i, sc_printf(sc, "%s", out));
}

/* envp is long and rarely interesting: its address and how many entries. */
static void arg_envp(struct pt_syscall *sc, size_t i, struct pt_mem *mem, uint64_t addr)
{
	uint64_t chunk[64];
	size_t n = 0;

	if (!addr) {
		arg_text(sc, i, "NULL");
		return;
	}
	for (;;) {
		if (pt_mem_read(mem, addr + 8 * n, chunk, sizeof(chunk)) < 0) {
			/* Near the end of a mapping: one word at a time. */
			uint64_t w;
			if (pt_mem_read_u64(mem, addr + 8 * n, &w) < 0) {
				arg_addr(sc, i, addr);
				return;
			}
			if (!w)
				break;
			n++;
			continue;
		}
		size_t k = 0;
		while (k < 64 && chunk[k])
			k++;
		n += k;
		if (k < 64 || n >= 65536)
			break;
	}
	arg_text(sc, i, sc_printf(sc, "%#" PRIx64 " /* %zu var%s */", addr, n, n == 1 ? "" : "s"));
}

static void arg_pipefds(struct pt_syscall *sc, size_t i, struct pt_mem *mem, uint64_t addr)
{
	int32_t fds[2];
	if (pt_mem_read(mem, addr, fds, sizeof(fds)) < 0)
		arg_addr(sc, i, addr);
	else
		arg_text(sc, i, sc_printf(sc, "[%d, %d]", fds[0], fds[1]));
}

static void decode_one(struct pt_syscall *sc, size_t i, unsigned kind, struct pt_mem *mem)
{
	uint64_t v = sc->raw[i];
	uint64_t next = i + 1 < 6 ? sc->raw[i + 1] : 0;

	switch (kind) {
	case A_INT:
	case A_FD:
		arg_num(sc, i, (int32_t)v);
		break;
	case A_LONG:
		arg_num(sc, i, (int64_t)v);
		break;
	case A_ULONG:
		if (v > INT64_MAX)
			arg_hex(sc, i, v);
		else
			arg_num(sc, i, (int64_t)v);
		break;
	case A_DIRFD:
		if ((int32_t)v == AT_FDCWD)
			arg_text(sc, i, "AT_FDCWD");
		else
			arg_num(sc, i, (int32_t)v);
		break;
	case A_PATH:
		arg_cstr(sc, i, mem, v, 4095);
		break;
	case A_BUF_IN:
		arg_buf(sc, i, mem, v, next);
		break;
	case A_BUF_OUT:
	case A_CSTR_OUT:
	case A_SOCKADDR_OUT:
	case A_PIPEFDS_OUT:
	case A_PTR:
		arg_addr(sc, i, v);   /* output arguments are filled in at exit */
		break;
	case A_OPEN_FLAGS: {
		char acc[32], rest[512];
		const char *a = pt_xlat_name(pt_xlat_open_access, v & O_ACCMODE);
		snprintf(acc, sizeof(acc), "%s", a ? a : "O_ACCMODE");
		if (v & ~(uint64_t)O_ACCMODE) {
			pt_xlat_flags(rest, sizeof(rest), pt_xlat_open_flags, v & ~(uint64_t)O_ACCMODE, NULL);
			arg_text(sc, i, sc_printf(sc, "%s|%s", acc, rest));
		} else {
			arg_text(sc, i, sc_printf(sc, "%s", acc));
		}
		break;
	}
	case A_OPEN_MODE:
		/* The mode means something only when a file may be created. */
		if (i > 0 && ((sc->raw[i - 1] & O_CREAT) || (sc->raw[i - 1] & O_TMPFILE) == O_TMPFILE))
			arg_text(sc, i, sc_printf(sc, "%#04" PRIo64, v & 07777));
		else if (sc->nargs > i)
			sc->nargs = i;
		break;
	case A_MODE:
		arg_text(sc, i, sc_printf(sc, "%#04" PRIo64, v & 07777));
		break;
	case A_AT_FLAGS:
		arg_flags(sc, i, pt_xlat_at_flags, v & 0xffffffff, NULL);
		break;
	case A_UNLINKAT_FLAGS:
		arg_flags(sc, i, pt_xlat_unlinkat_flags, v & 0xffffffff, NULL);
		break;
	case A_FACCESSAT_FLAGS:
		arg_flags(sc, i, pt_xlat_faccessat_flags, v & 0xffffffff, NULL);
		break;
	case A_ACCESS_MODE:
		arg_flags(sc, i, pt_xlat_access_mode, v & 0xffffffff, "F_OK");
		break;
	case A_RENAME_FLAGS:
		arg_flags(sc, i, pt_xlat_rename_flags, v & 0xffffffff, NULL);
		break;
	case A_WHENCE:
		arg_value(sc, i, pt_xlat_seek_whence, (int32_t)v);
		break;
	case A_PROT:
		arg_flags(sc, i, pt_xlat_prot, v & 0xffffffff, "PROT_NONE");
		break;
	case A_MAP_FLAGS:
		arg_flags(sc, i, pt_xlat_map_flags, v & 0xffffffff, NULL);
		break;
	case A_CLONE_FLAGS:
		arg_clone_flags(sc, i, v & ~(uint64_t)0xff, v & 0xff);
		break;
	case A_CLONE3:
		arg_clone3(sc, i, mem, v);
		break;
	case A_SIGNAL:
		arg_text(sc, i, signal_name(sc, (int)(int32_t)v));
		break;
	case A_AF:
		arg_value(sc, i, pt_xlat_address_family, (int32_t)v);
		break;
	case A_SOCKTYPE: {
		char fl[128];
		const char *t = pt_xlat_name(pt_xlat_socket_type, v & 0xf);
		uint64_t rest = v & 0xffffffff & ~(uint64_t)0xf;
		pt_xlat_flags(fl, sizeof(fl), pt_xlat_socket_type_flags, rest, NULL);
		if (t)
			arg_text(sc, i, rest ? sc_printf(sc, "%s|%s", t, fl) : t);
		else
			arg_hex(sc, i, v);
		break;
	}
	case A_SOCKFLAGS:
		arg_flags(sc, i, pt_xlat_socket_type_flags, v & 0xffffffff, NULL);
		break;
	case A_SOCKADDR:
		arg_sockaddr(sc, i, mem, v, next);
		break;
	case A_CLOCKID:
		arg_value(sc, i, pt_xlat_clockid, (int32_t)v);
		break;
	case A_TIMER_FLAGS:
		arg_flags(sc, i, pt_xlat_timer_flags, v & 0xffffffff, NULL);
		break;
	case A_TIMESPEC:
		arg_timespec(sc, i, mem, v);
		break;
	case A_MSG_FLAGS:
		arg_flags(sc, i, pt_xlat_msg_flags, v & 0xffffffff, NULL);
		break;
	case A_WAIT_OPTIONS:
		arg_flags(sc, i, pt_xlat_wait_options, v & 0xffffffff, NULL);
		break;
	case A_ARGV:
		arg_argv(sc, i, mem, v);
		break;
	case A_ENVP:
		arg_envp(sc, i, mem, v);
		break;
	case A_FCNTL_CMD:
		arg_value(sc, i, pt_xlat_fcntl_cmd, (int32_t)v);
		break;
	case A_SHUT_HOW:
		arg_value(sc, i, pt_xlat_shutdown_how, (int32_t)v);
		break;
	case A_CLOEXEC_FLAGS:
		arg_flags(sc, i, pt_xlat_dup3_flags, v & 0xffffffff, NULL);
		break;
	case A_HEX:
	default:
		arg_hex(sc, i, v);
		break;
	}
}

/* fcntl's third argument depends on the command. */
static void decode_fcntl_arg(struct pt_syscall *sc)
{
	int cmd = (int)(int32_t)sc->raw[1];

	switch (cmd) {
	case F_GETFD: case F_GETFL: case F_GETOWN: case F_GETSIG: case F_GETLEASE:
	case F_GETPIPE_SZ: case F_GET_SEALS:
		sc->nargs = 2;
		break;
	case F_SETFL: {
		char tmp[512];
		uint64_t v = sc->raw[2] & 0xffffffff;
		const char *a = pt_xlat_name(pt_xlat_open_access, v & O_ACCMODE);
		if (v & ~(uint64_t)O_ACCMODE) {
			pt_xlat_flags(tmp, sizeof(tmp), pt_xlat_open_flags, v & ~(uint64_t)O_ACCMODE, NULL);
			arg_text(sc, 2, (v & O_ACCMODE) ? sc_printf(sc, "%s|%s", a ? a : "?", tmp)
							: sc_printf(sc, "%s", tmp));
		} else {
			arg_text(sc, 2, a ? a : "0");
		}
		break;
	}
	case F_SETFD:
		arg_text(sc, 2, sc->raw[2] & FD_CLOEXEC ? "FD_CLOEXEC" : "0");
		break;
	case F_DUPFD: case F_DUPFD_CLOEXEC: case F_SETOWN: case F_SETSIG: case F_SETPIPE_SZ:
		arg_num(sc, 2, (int32_t)sc->raw[2]);
		break;
	default:
		break;
	}
}

void pt_syscall_decode_entry(struct pt_syscall *sc, long nr, const uint64_t args[6],
			     struct pt_mem *mem)
{
	const struct decoder *d = decoder_of(nr);

	sc->nr = nr;
	sc->used = 0;
	sc->returned = false;
	sc->ret = 0;
	sc->err = 0;
	sc->ret_hex = d->ret == R_HEX;
	memcpy(sc->raw, args, sizeof(sc->raw));
	sc->name = pt_syscall_name(nr);
	if (!sc->name)
		sc->name = sc_printf(sc, "syscall_%ld", nr);
	sc->nargs = sc->name && pt_syscall_name(nr) ? pt_syscallent[nr].nargs : 6;
	for (size_t i = 0; i < sc->nargs; i++)
		decode_one(sc, i, d->arg[i], mem);
	if (nr == SYS_fcntl)
		decode_fcntl_arg(sc);
}

void pt_syscall_decode_exit(struct pt_syscall *sc, int64_t ret, struct pt_mem *mem)
{
	const struct decoder *d = decoder_of(sc->nr);

	sc->returned = d->ret != R_NONE;
	sc->ret = ret;
	/* The kernel returns -4095..-1 for errors (and the kernel-internal
	 * ERESTART* codes, which a tracer sees). */
	sc->err = ret < 0 && ret >= -4095 ? (int)-ret : 0;
	if (sc->err)
		return;
	for (size_t i = 0; i < sc->nargs; i++) {
		uint64_t v = sc->raw[i];
		switch (d->arg[i]) {
		case A_BUF_OUT:
			if (v)
				arg_buf(sc, i, mem, v, (uint64_t)ret);
			break;
		case A_CSTR_OUT:
			if (v)
				arg_cstr(sc, i, mem, v, 4095);
			break;
		case A_SOCKADDR_OUT: {
			uint32_t len;
			if (v && i + 1 < 6 && sc->raw[i + 1] &&
			    pt_mem_read_u32(mem, sc->raw[i + 1], &len) == 0)
				arg_sockaddr(sc, i, mem, v, len);
			break;
		}
		case A_PIPEFDS_OUT:
			arg_pipefds(sc, i, mem, v);
			break;
		default:
			break;
		}
	}
}

size_t pt_str_escape(char *dst, size_t cap, const char *src, size_t len)
{
	size_t out = 0, i;

	if (cap == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char tmp[5];
		size_t n;
		switch (c) {
		case '\n': memcpy(tmp, "\\n", 3); break;
		case '\t': memcpy(tmp, "\\t", 3); break;
		case '\r': memcpy(tmp, "\\r", 3); break;
		case '\v': memcpy(tmp, "\\v", 3); break;
		case '\f': memcpy(tmp, "\\f", 3); break;
		case '"': memcpy(tmp, "\\\"", 3); break;
		case '\\': memcpy(tmp, "\\\\", 3); break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				tmp[0] = (char)c;
				tmp[1] = 0;
			} else {
				/* Octal as strace prints it: short unless a digit follows. */
				bool digit_next = i + 1 < len && src[i + 1] >= '0' && src[i + 1] <= '7';
				snprintf(tmp, sizeof(tmp), digit_next ? "\\%03o" : "\\%o", c);
			}
		}
		n = strlen(tmp);
		if (out + n + 1 > cap)
			break;
		memcpy(dst + out, tmp, n);
		out += n;
	}
	dst[out] = 0;
	return i;
}
