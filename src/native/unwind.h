/* SPDX-License-Identifier: MIT */
/* The native unwinder seam: walk first (pc, sp), symbolise later.
 * One implementation today (unwind-libdw.c); only it includes libdwfl. */
#ifndef PYTRACE_NATIVE_UNWIND_H
#define PYTRACE_NATIVE_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "mem/mem.h"
#include "pytrace/pytrace.h"

struct pt_unwinder;

/* What the walk records for each frame, innermost first. */
struct pt_unwound_frame {
	uint64_t pc;
	uint64_t sp;           /* 0 when the unwinder cannot tell */
	bool is_activation;    /* pc is exact (innermost or signal frame), not a return address */
};

struct pt_symbol {
	const char *module;    /* base name of the file, or NULL */
	const char *symbol;    /* containing function, or NULL: never the
	                          nearest unrelated symbol */
	uint64_t offset;       /* from symbol start, or from the module base */
};

/* Whether a symbol [start, start+size) names the code at addr. A sized
 * symbol must contain addr. A size-0 symbol (an assembler label such as
 * glibc's __restore_rt) names only its own address: accepting it for the
 * bytes after it is how stripped binaries get the nearest unrelated name.
 * Pure, so every unwinder applies the same rule and it is unit-tested. */
static inline bool pt_unwind_symbol_contains(uint64_t start, uint64_t size,
					     uint64_t addr)
{
	if (addr < start)
		return false;
	return size ? addr - start < size : addr == start;
}

/* Reports the process's modules (from /proc/PID/maps). Memory is read
 * through mem. Call while the threads run; unwind only while stopped. */
int pt_unwinder_open(pid_t pid, struct pt_mem *mem, struct pt_unwinder **out,
		     struct pt_error *err);
void pt_unwinder_close(struct pt_unwinder *uw);

/* Unwinds one ptrace-stopped thread from its registers. Returns 0 with
 * *n frames (at most max); a partial stack still returns 0 and sets
 * *why (static string) to the reason the walk stopped early, else NULL.
 * -EINVAL for bad arguments. */
int pt_unwinder_unwind(struct pt_unwinder *uw, pid_t tid,
		       const struct user_regs_struct *regs,
		       struct pt_unwound_frame *frames, size_t max, size_t *n,
		       const char **why);

/* Symbolises one frame (pc - 1 for non-activation frames is applied here
 * and only here). offset is the frame's own pc minus the symbol start, or,
 * with symbol NULL, minus the module's lowest mapped address (module NULL:
 * the pc itself). Strings live until pt_unwinder_close. 0 or -EINVAL. */
int pt_unwinder_symbolize(struct pt_unwinder *uw, const struct pt_unwound_frame *f,
			  struct pt_symbol *out);

#endif
