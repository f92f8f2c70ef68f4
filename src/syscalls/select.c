/* SPDX-License-Identifier: MIT */
/* Choosing system calls by name and class (strace's -e syntax), and the
 * lookups by number the decoder and output need. */
#include <stdio.h>
#include <string.h>

#include "syscalls/syscalls.h"

const char *pt_syscall_name(long nr)
{
	if (nr < 0 || (unsigned long)nr >= pt_syscallent_n)
		return NULL;
	return pt_syscallent[nr].name;
}

long pt_syscall_lookup(const char *name)
{
	for (unsigned nr = 0; nr < pt_syscallent_n; nr++)
		if (pt_syscallent[nr].name && !strcmp(pt_syscallent[nr].name, name))
			return (long)nr;
	return -1;
}

static const struct {
	const char *name;
	unsigned flag;
} syscall_classes[] = {
	{ "%desc", PT_SC_DESC },
	{ "%file", PT_SC_FILE },
	{ "%ipc", PT_SC_IPC },
	{ "%net", PT_SC_NETWORK },
	{ "%network", PT_SC_NETWORK },
	{ "%process", PT_SC_PROCESS },
	{ "%signal", PT_SC_SIGNAL },
	{ "%memory", PT_SC_MEMORY },
	{ "%creds", PT_SC_CREDS },
	{ "%clock", PT_SC_CLOCK },
	{ "%pure", PT_SC_PURE },
	{ "%stat", PT_SC_STAT },
	{ "%lstat", PT_SC_LSTAT },
	{ "%fstat", PT_SC_FSTAT },
	{ "%%stat", PT_SC_STAT_LIKE },
	{ "%statfs", PT_SC_STATFS },
	{ "%fstatfs", PT_SC_FSTATFS },
	{ "%%statfs", PT_SC_STATFS_LIKE },
};

static int set_add_word(struct pt_syscall_set *set, const char *word, char *why, size_t cap)
{
	if (!strcmp(word, "all")) {
		for (unsigned nr = 0; nr < pt_syscallent_n; nr++)
			if (pt_syscallent[nr].name)
				pt_syscall_set_add(set, nr);
		return 0;
	}
	if (word[0] == '%') {
		for (size_t i = 0; i < sizeof(syscall_classes) / sizeof(syscall_classes[0]); i++) {
			if (strcmp(word, syscall_classes[i].name))
				continue;
			for (unsigned nr = 0; nr < pt_syscallent_n; nr++)
				if (pt_syscallent[nr].flags & syscall_classes[i].flag)
					pt_syscall_set_add(set, nr);
			return 0;
		}
		snprintf(why, cap,
			 "unknown system call class '%s' (known: %%desc %%file %%ipc %%network "
			 "%%process %%signal %%memory %%creds %%clock %%pure %%stat %%lstat "
			 "%%fstat %%%%stat %%statfs %%fstatfs %%%%statfs)", word);
		return -1;
	}
	long nr = pt_syscall_lookup(word);
	if (nr < 0) {
		snprintf(why, cap, "unknown x86_64 system call '%s'", word);
		return -1;
	}
	pt_syscall_set_add(set, nr);
	return 0;
}

int pt_syscall_set_parse(struct pt_syscall_set *set, const char *spec, char *why, size_t cap)
{
	char word[64];
	bool negate = false;

	memset(set, 0, sizeof(*set));
	if (!strncmp(spec, "trace=", 6))
		spec += 6;
	if (spec[0] == '!') {
		negate = true;
		spec++;
	}
	for (const char *p = spec; ; ) {
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(word)) {
			snprintf(why, cap, len ? "system call name too long in '%s'"
					       : "empty system call name in '%s'", spec);
			return -1;
		}
		memcpy(word, p, len);
		word[len] = 0;
		if (set_add_word(set, word, why, cap) < 0)
			return -1;
		p += len;
		if (!*p)
			break;
		p++;
	}
	if (negate) {
		for (unsigned nr = 0; nr < pt_syscallent_n; nr++) {
			if (!pt_syscallent[nr].name)
				continue;
			set->bits[nr / 64] ^= 1ull << (nr % 64);
		}
	}
	for (size_t i = 0; i < PT_SYSCALL_SET_BITS / 64; i++)
		if (set->bits[i])
			return 0;
	snprintf(why, cap, "'%s' selects no system call", spec);
	return -1;
}

const char *pt_errno_name(int err)
{
	if (err <= 0 || (unsigned)err >= pt_errnoent_n)
		return NULL;
	return pt_errnoent[err];
}

const char *pt_errno_message(int err)
{
	if (err >= PT_ERRNO_INTERNAL_FIRST && err <= PT_ERRNO_INTERNAL_LAST)
		return pt_errno_internal_msg[err - PT_ERRNO_INTERNAL_FIRST];
	return strerror(err);
}
