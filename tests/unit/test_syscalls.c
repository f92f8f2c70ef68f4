/* SPDX-License-Identifier: MIT */
/* Unit tests for the system call tables, -e parsing, errno names and
 * argument decoding (against this process's own memory). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "syscalls/syscalls.h"
#include "syscalls/xlat.h"

#include "check.h"

static size_t set_count(const struct pt_syscall_set *s)
{
	size_t n = 0;
	for (long nr = 0; nr < PT_SYSCALL_SET_BITS; nr++)
		n += pt_syscall_set_has(s, nr);
	return n;
}

static void test_tables(void)
{
	check(pt_syscall_lookup("write") == SYS_write && pt_syscall_lookup("rmdir") == SYS_rmdir &&
	      pt_syscall_lookup("openat") == SYS_openat, "names map to the kernel's numbers");
	check(!strcmp(pt_syscall_name(SYS_newfstatat), "newfstatat") &&
	      !strcmp(pt_syscall_name(SYS_clone3), "clone3"), "numbers map to names");
	check(pt_syscall_name(-1) == NULL && pt_syscall_name(100000) == NULL &&
	      pt_syscall_lookup("wrte") == -1, "unknown numbers and names");
	check(pt_syscallent[SYS_write].nargs == 3 && pt_syscallent[SYS_openat].nargs == 4 &&
	      pt_syscallent[SYS_mmap].nargs == 6, "argument counts");
	check(!strcmp(pt_errno_name(2), "ENOENT") && !strcmp(pt_errno_name(11), "EAGAIN") &&
	      !strcmp(pt_errno_name(512), "ERESTARTSYS") && pt_errno_name(0) == NULL,
	      "errno names, aliases resolved to the first, kernel-internal codes");
	check(!strcmp(pt_errno_message(512), "To be restarted if SA_RESTART is set"),
	      "kernel-internal message");
}

static void test_parse(void)
{
	struct pt_syscall_set s;
	char why[256];

	check(pt_syscall_set_parse(&s, "write,rmdir,unlink", why, sizeof(why)) == 0 &&
	      set_count(&s) == 3 && pt_syscall_set_has(&s, SYS_write) &&
	      pt_syscall_set_has(&s, SYS_unlink), "names");
	check(pt_syscall_set_parse(&s, "trace=write", why, sizeof(why)) == 0 && set_count(&s) == 1,
	      "strace's trace= prefix");
	check(pt_syscall_set_parse(&s, "%file", why, sizeof(why)) == 0 &&
	      pt_syscall_set_has(&s, SYS_openat) && pt_syscall_set_has(&s, SYS_rmdir) &&
	      pt_syscall_set_has(&s, SYS_execve) && !pt_syscall_set_has(&s, SYS_write) &&
	      !pt_syscall_set_has(&s, SYS_close), "%%file: paths, not descriptors");
	check(pt_syscall_set_parse(&s, "%desc", why, sizeof(why)) == 0 &&
	      pt_syscall_set_has(&s, SYS_write) && pt_syscall_set_has(&s, SYS_close) &&
	      pt_syscall_set_has(&s, SYS_openat) && !pt_syscall_set_has(&s, SYS_rmdir), "%%desc");
	check(pt_syscall_set_parse(&s, "%process", why, sizeof(why)) == 0 &&
	      pt_syscall_set_has(&s, SYS_clone) && pt_syscall_set_has(&s, SYS_execve) &&
	      pt_syscall_set_has(&s, SYS_exit_group) && pt_syscall_set_has(&s, SYS_wait4) &&
	      !pt_syscall_set_has(&s, SYS_write), "%%process");
	check(pt_syscall_set_parse(&s, "%network", why, sizeof(why)) == 0 &&
	      pt_syscall_set_has(&s, SYS_connect) && pt_syscall_set_has(&s, SYS_socket) &&
	      !pt_syscall_set_has(&s, SYS_write), "%%network");
	struct pt_syscall_set net;
	check(pt_syscall_set_parse(&net, "%net", why, sizeof(why)) == 0 && !memcmp(&s, &net, sizeof(s)),
	      "%%net is %%network");
	check(pt_syscall_set_parse(&s, "%memory", why, sizeof(why)) == 0 &&
	      pt_syscall_set_has(&s, SYS_mmap) && pt_syscall_set_has(&s, SYS_brk) &&
	      pt_syscall_set_has(&s, SYS_munmap), "%%memory");
	check(pt_syscall_set_parse(&s, "%%stat", why, sizeof(why)) == 0 &&
	      pt_syscall_set_has(&s, SYS_newfstatat) && pt_syscall_set_has(&s, SYS_statx) &&
	      pt_syscall_set_has(&s, SYS_fstat), "%%%%stat");
	check(pt_syscall_set_parse(&s, "!write", why, sizeof(why)) == 0 &&
	      !pt_syscall_set_has(&s, SYS_write) && pt_syscall_set_has(&s, SYS_read), "negation");
	check(pt_syscall_set_parse(&s, "all", why, sizeof(why)) == 0 && set_count(&s) > 300, "all");
	check(pt_syscall_set_parse(&s, "write,wrte", why, sizeof(why)) < 0 && strstr(why, "'wrte'"),
	      "unknown name is an error naming it: %s", why);
	check(pt_syscall_set_parse(&s, "%files", why, sizeof(why)) < 0 && strstr(why, "%files"),
	      "unknown class: %s", why);
	check(pt_syscall_set_parse(&s, "write,,read", why, sizeof(why)) < 0, "empty name");
	check(pt_syscall_set_parse(&s, "!all", why, sizeof(why)) < 0, "empty set");
}

static void test_xlat(void)
{
	char buf[256];

	pt_xlat_flags(buf, sizeof(buf), pt_xlat_open_flags, O_CREAT | O_TRUNC | O_CLOEXEC, NULL);
	check(!strcmp(buf, "O_CREAT|O_TRUNC|O_CLOEXEC"), "flags: %s", buf);
	pt_xlat_flags(buf, sizeof(buf), pt_xlat_open_flags, O_SYNC, NULL);
	check(!strcmp(buf, "O_SYNC"), "multi-bit flag listed first wins: %s", buf);
	pt_xlat_flags(buf, sizeof(buf), pt_xlat_prot, PROT_READ | 0x100000, NULL);
	check(!strcmp(buf, "PROT_READ|0x100000"), "unknown bits in hex: %s", buf);
	pt_xlat_flags(buf, sizeof(buf), pt_xlat_prot, 0, "PROT_NONE");
	check(!strcmp(buf, "PROT_NONE"), "zero name: %s", buf);
	pt_xlat_flags(buf, 8, pt_xlat_open_flags, O_CREAT | O_TRUNC, NULL);
	check(strlen(buf) < 8, "truncation stays inside the buffer: %s", buf);
}

static void test_escape(void)
{
	char buf[64];
	size_t used = pt_str_escape(buf, sizeof(buf), "a\n\"\\\0b\377", 7);
	check(used == 7 && !strcmp(buf, "a\\n\\\"\\\\\\0b\\377"), "escapes: %s", buf);
	used = pt_str_escape(buf, sizeof(buf), "\0" "1", 2);
	check(!strcmp(buf, "\\0001"), "octal padded before a digit: %s", buf);
	used = pt_str_escape(buf, 4, "\n\n\n", 3);
	check(used == 1 && !strcmp(buf, "\\n"), "never a partial escape: %s (%zu)", buf, used);
}

static struct pt_syscall sc;

static const char *arg_text(const struct pt_sysarg *a, char *buf, size_t cap)
{
	switch (a->kind) {
	case PT_SYSARG_NUM: snprintf(buf, cap, "%lld", (long long)a->num); break;
	case PT_SYSARG_STR: snprintf(buf, cap, "\"%.*s\"%s", (int)a->len, a->str, a->truncated ? "..." : ""); break;
	case PT_SYSARG_TEXT: snprintf(buf, cap, "%s", a->text); break;
	}
	return buf;
}

static const char *render(void)
{
	static char out[2048];
	char one[512];
	size_t len = (size_t)snprintf(out, sizeof(out), "%s(", sc.name);
	for (size_t i = 0; i < sc.nargs; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? ", " : "",
					arg_text(&sc.args[i], one, sizeof(one)));
	snprintf(out + len, sizeof(out) - len, ")");
	return out;
}

static void test_decode(void)
{
	struct pt_mem mem;
	pt_mem_init(&mem, getpid());
	static char path[] = "/tmp/x";
	static char data[] = "0123456789012345678901234567890123456789";
	uint64_t a[6] = { 0 };

	a[0] = (uint64_t)-100; a[1] = (uintptr_t)path; a[2] = O_WRONLY | O_CREAT | O_TRUNC; a[3] = 0640;
	pt_syscall_decode_entry(&sc, SYS_openat, a, &mem);
	check(!strcmp(render(), "openat(AT_FDCWD, \"/tmp/x\", O_WRONLY|O_CREAT|O_TRUNC, 0640)"),
	      "openat with O_CREAT shows the mode: %s", render());
	a[2] = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	pt_syscall_decode_entry(&sc, SYS_openat, a, &mem);
	check(!strcmp(render(), "openat(AT_FDCWD, \"/tmp/x\", O_RDONLY|O_DIRECTORY|O_CLOEXEC)"),
	      "openat without O_CREAT has no mode: %s", render());

	a[0] = 1; a[1] = (uintptr_t)data; a[2] = 40;
	pt_syscall_decode_entry(&sc, SYS_write, a, &mem);
	check(!strcmp(render(), "write(1, \"01234567890123456789012345678901\"..., 40)"),
	      "write previews 32 bytes: %s", render());
	check(sc.args[1].truncated && sc.args[1].len == 32, "truncation flagged");

	a[0] = (uintptr_t)path;
	pt_syscall_decode_entry(&sc, SYS_rmdir, a, &mem);
	pt_syscall_decode_exit(&sc, -39, &mem);
	check(!strcmp(render(), "rmdir(\"/tmp/x\")") && sc.returned && sc.err == 39,
	      "rmdir and its error: %s err %d", render(), sc.err);

	a[0] = 3; a[1] = (uintptr_t)data; a[2] = 100;
	pt_syscall_decode_entry(&sc, SYS_read, a, &mem);
	pt_syscall_decode_exit(&sc, 5, &mem);
	check(!strcmp(render(), "read(3, \"01234\", 100)"), "read shows what was read, at exit: %s",
	      render());

	a[0] = 4096; a[1] = 0x1000; a[2] = 0;
	pt_syscall_decode_entry(&sc, SYS_read, a, &mem);
	check(!strcmp(render(), "read(4096, 0x1000, 0)"), "an unread buffer is its address: %s", render());
	a[0] = (uintptr_t)0x10; /* unmapped */
	pt_syscall_decode_entry(&sc, SYS_unlink, a, &mem);
	check(!strcmp(render(), "unlink(0x10)"), "unreadable path printed as its address: %s", render());

	a[0] = (uint64_t)-100; a[1] = (uintptr_t)path; a[2] = 0x200;
	pt_syscall_decode_entry(&sc, SYS_unlinkat, a, &mem);
	check(!strcmp(render(), "unlinkat(AT_FDCWD, \"/tmp/x\", AT_REMOVEDIR)"), "unlinkat: %s", render());

	a[0] = (uintptr_t)path; a[1] = 0755;
	pt_syscall_decode_entry(&sc, SYS_mkdir, a, &mem);
	check(!strcmp(render(), "mkdir(\"/tmp/x\", 0755)"), "mkdir: %s", render());

	a[0] = 0; a[1] = 4096; a[2] = PROT_READ | PROT_EXEC; a[3] = MAP_PRIVATE | MAP_ANONYMOUS;
	a[4] = (uint64_t)-1; a[5] = 0;
	pt_syscall_decode_entry(&sc, SYS_mmap, a, &mem);
	pt_syscall_decode_exit(&sc, 0x7f0000001000, &mem);
	check(!strcmp(render(), "mmap(NULL, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)") &&
	      sc.ret_hex, "mmap: %s", render());

	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	a[0] = 5; a[1] = (uintptr_t)&sin; a[2] = sizeof(sin);
	pt_syscall_decode_entry(&sc, SYS_connect, a, &mem);
	check(!strcmp(render(), "connect(5, {sa_family=AF_INET, sin_port=htons(80), "
				"sin_addr=inet_addr(\"127.0.0.1\")}, 16)"), "connect AF_INET: %s", render());
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/run/s" };
	a[1] = (uintptr_t)&sun; a[2] = sizeof(sun);
	pt_syscall_decode_entry(&sc, SYS_connect, a, &mem);
	check(!strcmp(render(), "connect(5, {sa_family=AF_UNIX, sun_path=\"/run/s\"}, 110)"),
	      "connect AF_UNIX: %s", render());
	a[0] = AF_INET6; a[1] = SOCK_STREAM | SOCK_CLOEXEC; a[2] = 0;
	pt_syscall_decode_entry(&sc, SYS_socket, a, &mem);
	check(!strcmp(render(), "socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, 0)"), "socket: %s", render());

	static char *argv[] = { "python3", "-c", "pass", NULL };
	static char *envp[] = { "A=1", "B=2", NULL };
	a[0] = (uintptr_t)path; a[1] = (uintptr_t)argv; a[2] = (uintptr_t)envp;
	pt_syscall_decode_entry(&sc, SYS_execve, a, &mem);
	char want[128];
	snprintf(want, sizeof(want), "execve(\"/tmp/x\", [\"python3\", \"-c\", \"pass\"], %p /* 2 vars */)",
		 (void *)envp);
	check(!strcmp(render(), want), "execve: %s", render());

	a[0] = 0x01200000 | 17; /* CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD */
	a[1] = a[2] = a[3] = a[4] = 0;
	pt_syscall_decode_entry(&sc, SYS_clone, a, &mem);
	check(!strncmp(render(), "clone(flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, NULL", 64),
	      "clone flags: %s", render());

	struct timespec ts = { .tv_sec = 2, .tv_nsec = 500000000 };
	a[0] = CLOCK_MONOTONIC; a[1] = TIMER_ABSTIME; a[2] = (uintptr_t)&ts; a[3] = 0;
	pt_syscall_decode_entry(&sc, SYS_clock_nanosleep, a, &mem);
	check(!strcmp(render(), "clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, "
				"{tv_sec=2, tv_nsec=500000000}, NULL)"), "clock_nanosleep: %s", render());
	a[0] = (uint64_t)-6; a[1] = 0;  /* a dynamic clock (fd 0): no name */
	pt_syscall_decode_entry(&sc, SYS_clock_gettime, a, &mem);
	check(!strcmp(render(), "clock_gettime(-6, NULL)"), "clock_gettime: %s", render());
	a[0] = (uintptr_t)&ts; a[1] = 0;
	pt_syscall_decode_entry(&sc, SYS_nanosleep, a, &mem);
	check(!strcmp(render(), "nanosleep({tv_sec=2, tv_nsec=500000000}, NULL)"), "nanosleep: %s",
	      render());

	pt_syscall_decode_entry(&sc, 9999, a, &mem);
	check(!strcmp(sc.name, "syscall_9999") && sc.nargs == 6, "unknown number: %s", render());
	pt_syscall_decode_entry(&sc, SYS_exit_group, a, &mem);
	pt_syscall_decode_exit(&sc, 0, &mem);
	check(!sc.returned, "exit_group never returns");
	pt_mem_fini(&mem);
}

int main(void)
{
	test_tables();
	test_parse();
	test_xlat();
	test_escape();
	test_decode();
	return n_failed ? 1 : 0;
}
