/* SPDX-License-Identifier: MIT */
/* Value-to-name tables for decoded arguments. Values come from the system
 * headers through XLAT(name), so nothing here is a hand-copied number
 * except where glibc hides the kernel's value (commented). */
#include <fcntl.h>
#include <linux/sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "syscalls/xlat.h"

#define XLAT(x) { (uint64_t)(x), #x }
#define XLAT_END { 0, NULL }

const struct pt_xlat pt_xlat_open_access[] = {
	XLAT(O_RDONLY), XLAT(O_WRONLY), XLAT(O_RDWR), XLAT_END,
};

const struct pt_xlat pt_xlat_open_flags[] = {
	XLAT(O_CREAT), XLAT(O_EXCL), XLAT(O_NOCTTY), XLAT(O_TRUNC), XLAT(O_APPEND),
	XLAT(O_NONBLOCK),
	XLAT(O_SYNC),      /* before O_DSYNC, whose bit it includes */
	XLAT(O_DSYNC), XLAT(O_ASYNC), XLAT(O_DIRECT),
	/* glibc defines O_LARGEFILE as 0 on 64-bit; this is the kernel's bit,
	 * which 32-bit programs set. */
	{ 0100000, "O_LARGEFILE" },
	XLAT(O_TMPFILE),   /* before O_DIRECTORY, whose bit it includes */
	XLAT(O_DIRECTORY), XLAT(O_NOFOLLOW), XLAT(O_NOATIME), XLAT(O_CLOEXEC),
	XLAT(O_PATH), XLAT_END,
};

const struct pt_xlat pt_xlat_at_flags[] = {
	XLAT(AT_SYMLINK_NOFOLLOW), XLAT(AT_SYMLINK_FOLLOW), XLAT(AT_NO_AUTOMOUNT),
	XLAT(AT_EMPTY_PATH), XLAT(AT_STATX_FORCE_SYNC), XLAT(AT_STATX_DONT_SYNC),
	XLAT(AT_RECURSIVE), XLAT_END,
};

const struct pt_xlat pt_xlat_unlinkat_flags[] = { XLAT(AT_REMOVEDIR), XLAT_END };

const struct pt_xlat pt_xlat_faccessat_flags[] = {
	XLAT(AT_EACCESS), XLAT(AT_SYMLINK_NOFOLLOW), XLAT(AT_EMPTY_PATH), XLAT_END,
};

const struct pt_xlat pt_xlat_access_mode[] = {
	XLAT(R_OK), XLAT(W_OK), XLAT(X_OK), XLAT_END,
};

const struct pt_xlat pt_xlat_rename_flags[] = {
	XLAT(RENAME_NOREPLACE), XLAT(RENAME_EXCHANGE), XLAT(RENAME_WHITEOUT), XLAT_END,
};

const struct pt_xlat pt_xlat_seek_whence[] = {
	XLAT(SEEK_SET), XLAT(SEEK_CUR), XLAT(SEEK_END), XLAT(SEEK_DATA), XLAT(SEEK_HOLE),
	XLAT_END,
};

const struct pt_xlat pt_xlat_prot[] = {
	XLAT(PROT_READ), XLAT(PROT_WRITE), XLAT(PROT_EXEC), XLAT(PROT_GROWSDOWN),
	XLAT(PROT_GROWSUP), XLAT_END,
};

const struct pt_xlat pt_xlat_map_flags[] = {
	XLAT(MAP_SHARED_VALIDATE),  /* before MAP_SHARED and MAP_PRIVATE */
	XLAT(MAP_SHARED), XLAT(MAP_PRIVATE), XLAT(MAP_FIXED), XLAT(MAP_ANONYMOUS),
	XLAT(MAP_32BIT), XLAT(MAP_GROWSDOWN), XLAT(MAP_DENYWRITE), XLAT(MAP_EXECUTABLE),
	XLAT(MAP_LOCKED), XLAT(MAP_NORESERVE), XLAT(MAP_POPULATE), XLAT(MAP_NONBLOCK),
	XLAT(MAP_STACK), XLAT(MAP_HUGETLB), XLAT(MAP_SYNC), XLAT(MAP_FIXED_NOREPLACE),
	XLAT_END,
};

const struct pt_xlat pt_xlat_clone_flags[] = {
	XLAT(CLONE_VM), XLAT(CLONE_FS), XLAT(CLONE_FILES), XLAT(CLONE_SIGHAND),
	XLAT(CLONE_PIDFD), XLAT(CLONE_PTRACE), XLAT(CLONE_VFORK), XLAT(CLONE_PARENT),
	XLAT(CLONE_THREAD), XLAT(CLONE_NEWNS), XLAT(CLONE_SYSVSEM), XLAT(CLONE_SETTLS),
	XLAT(CLONE_PARENT_SETTID), XLAT(CLONE_CHILD_CLEARTID), XLAT(CLONE_DETACHED),
	XLAT(CLONE_UNTRACED), XLAT(CLONE_CHILD_SETTID), XLAT(CLONE_NEWCGROUP),
	XLAT(CLONE_NEWUTS), XLAT(CLONE_NEWIPC), XLAT(CLONE_NEWUSER), XLAT(CLONE_NEWPID),
	XLAT(CLONE_NEWNET), XLAT(CLONE_IO), XLAT_END,
};

const struct pt_xlat pt_xlat_address_family[] = {
	XLAT(AF_UNSPEC), XLAT(AF_UNIX), XLAT(AF_INET), XLAT(AF_INET6), XLAT(AF_NETLINK),
	XLAT(AF_PACKET), XLAT(AF_BLUETOOTH), XLAT(AF_ALG), XLAT(AF_VSOCK), XLAT_END,
};

const struct pt_xlat pt_xlat_socket_type[] = {
	XLAT(SOCK_STREAM), XLAT(SOCK_DGRAM), XLAT(SOCK_RAW), XLAT(SOCK_RDM),
	XLAT(SOCK_SEQPACKET), XLAT(SOCK_DCCP), XLAT(SOCK_PACKET), XLAT_END,
};

const struct pt_xlat pt_xlat_socket_type_flags[] = {
	XLAT(SOCK_CLOEXEC), XLAT(SOCK_NONBLOCK), XLAT_END,
};

const struct pt_xlat pt_xlat_msg_flags[] = {
	XLAT(MSG_OOB), XLAT(MSG_PEEK), XLAT(MSG_DONTROUTE), XLAT(MSG_CTRUNC),
	XLAT(MSG_TRUNC), XLAT(MSG_DONTWAIT), XLAT(MSG_EOR), XLAT(MSG_WAITALL),
	XLAT(MSG_CONFIRM), XLAT(MSG_NOSIGNAL), XLAT(MSG_MORE), XLAT(MSG_CMSG_CLOEXEC),
	XLAT_END,
};

const struct pt_xlat pt_xlat_wait_options[] = {
	XLAT(WNOHANG), XLAT(WUNTRACED), XLAT(WCONTINUED), XLAT(__WNOTHREAD), XLAT(__WALL),
	XLAT(__WCLONE), XLAT_END,
};

const struct pt_xlat pt_xlat_fcntl_cmd[] = {
	XLAT(F_DUPFD), XLAT(F_GETFD), XLAT(F_SETFD), XLAT(F_GETFL), XLAT(F_SETFL),
	XLAT(F_GETLK), XLAT(F_SETLK), XLAT(F_SETLKW), XLAT(F_SETOWN), XLAT(F_GETOWN),
	XLAT(F_SETSIG), XLAT(F_GETSIG), XLAT(F_OFD_GETLK), XLAT(F_OFD_SETLK),
	XLAT(F_OFD_SETLKW), XLAT(F_SETLEASE), XLAT(F_GETLEASE), XLAT(F_NOTIFY),
	XLAT(F_DUPFD_CLOEXEC), XLAT(F_SETPIPE_SZ), XLAT(F_GETPIPE_SZ), XLAT(F_ADD_SEALS),
	XLAT(F_GET_SEALS), XLAT_END,
};

const struct pt_xlat pt_xlat_shutdown_how[] = {
	XLAT(SHUT_RD), XLAT(SHUT_WR), XLAT(SHUT_RDWR), XLAT_END,
};

const struct pt_xlat pt_xlat_dup3_flags[] = { XLAT(O_CLOEXEC), XLAT(O_NONBLOCK), XLAT_END };

const char *pt_xlat_name(const struct pt_xlat *table, uint64_t val)
{
	for (; table->name; table++)
		if (table->val == val)
			return table->name;
	return NULL;
}

size_t pt_xlat_flags(char *dst, size_t cap, const struct pt_xlat *table, uint64_t val,
		     const char *zero_name)
{
	size_t len = 0;
	int n;

	if (cap == 0)
		return 0;
	dst[0] = 0;
	if (val == 0)
		return (size_t)snprintf(dst, cap, "%s", zero_name ? zero_name : "0") < cap
			       ? strlen(dst) : cap - 1;
	for (; table->name && val; table++) {
		if (!table->val || (val & table->val) != table->val)
			continue;
		n = snprintf(dst + len, cap - len, "%s%s", len ? "|" : "", table->name);
		if (n < 0 || (size_t)n >= cap - len)
			return strlen(dst);
		len += (size_t)n;
		val &= ~table->val;
	}
	if (val) {
		n = snprintf(dst + len, cap - len, "%s%#llx", len ? "|" : "", (unsigned long long)val);
		if (n < 0 || (size_t)n >= cap - len)
			return strlen(dst);
		len += (size_t)n;
	}
	return len;
}

const struct pt_xlat pt_xlat_clockid[] = {
	XLAT(CLOCK_REALTIME), XLAT(CLOCK_MONOTONIC), XLAT(CLOCK_PROCESS_CPUTIME_ID),
	XLAT(CLOCK_THREAD_CPUTIME_ID), XLAT(CLOCK_MONOTONIC_RAW), XLAT(CLOCK_REALTIME_COARSE),
	XLAT(CLOCK_MONOTONIC_COARSE), XLAT(CLOCK_BOOTTIME), XLAT(CLOCK_REALTIME_ALARM),
	XLAT(CLOCK_BOOTTIME_ALARM), XLAT(CLOCK_TAI), XLAT_END,
};

const struct pt_xlat pt_xlat_timer_flags[] = { XLAT(TIMER_ABSTIME), XLAT_END };
