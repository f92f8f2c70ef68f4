/* SPDX-License-Identifier: MIT */
/* Loading the flow agent into a stopped target: its memory, its context
 * (CPython addresses and offsets) and the shared ring. */
#ifndef PYTRACE_FLOW_LOADER_H
#define PYTRACE_FLOW_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/agent.h"
#include "flow/flow.h"
#include "mem/maps.h"
#include "mem/mem.h"
#include "python/python.h"
#include "target/seccomp.h"
#include "pytrace/pytrace.h"

struct flow_agent {
	pid_t pid;
	pid_t tid;                    /* the stopped thread used for syscalls */
	struct pt_mem *mem;           /* the target's memory (set by the load) */
	uint64_t inject_site;         /* where injected system calls run */
	unsigned ptrace_options;      /* what the tracer set on tid */
	bool ring_anon;               /* ring in a shared anonymous mapping
	                                 (memfd_create forbidden), not a memfd */
	struct pt_seccomp seccomp;    /* tid's own filters, checked before
	                                 every injected system call */
	uint64_t base;                /* the agent's mapping in the target */
	uint64_t mem_size, text_size;
	uint64_t ctx_addr;            /* struct pt_agent_ctx in the target */
	uint64_t fn_install, fn_profile, fn_call_entry, call_frame_addr;
	uint64_t fn_eval;             /* the PEP 523 hook for this version */
	struct pt_agent_ctx ctx;      /* what pytrace wrote there */
	uint64_t ring_addr;           /* the ring in the target, 0 once unmapped */
	struct pt_ring_header *ring;  /* pytrace's own mapping of it */
	size_t ring_size;
	uint64_t ring_cap;            /* records, as pytrace made it (never
	                                 the header's, which the target can write) */
	int lifeline_fd;              /* write end of the agent's lifeline, or -1 */
	int sigs[8];                  /* signals caught while injecting */
	size_t n_sigs;
};

/* Resolves what the agent calls in the target and copies the offsets it
 * needs: fills a->ctx except the ring and pid fields. Call before any
 * thread is stopped (reads ELF files). */
/* The instruction whose inline frame pushes this build's PEP 523 hook
 * misses (so it gets the profile function), or NULL. */
const char *flow_evalhook_misses(const struct pt_python *py);

int flow_agent_prepare(struct flow_agent *a, pid_t pid, const struct pt_maps *maps,
		       struct pt_python *py, unsigned flags, struct pt_error *err);

/* Hands --within/--file/--function (opt) to the agent, which then
 * leaves out the events no line can show (struct pt_agent_filter).
 * Returns false, setting nothing (pytrace alone filters), when there are
 * none, when they do not fit, or when the agent cannot decide them
 * exactly (--within with --c-calls: a C function may open the extent). */
bool flow_agent_set_filter(struct flow_agent *a, const struct flow_options *opt);

/* With every thread of the target stopped (tid one of them): maps the
 * agent and the ring into the target and writes the context. Undoes what
 * it did on failure. */
int flow_agent_load(struct flow_agent *a, pid_t tid, const struct pt_maps *maps,
		    struct pt_mem *mem, size_t ring_bytes, struct pt_error *err);

/* Writes a->ctx to the target (all threads stopped). */
int flow_agent_write_ctx(struct flow_agent *a, struct pt_mem *mem);

/* One system call in the stopped thread a->tid; -EACCES (nothing run)
 * if the target's seccomp filter would not let it run. */
int flow_agent_syscall(struct flow_agent *a, long nr, uint64_t a0, uint64_t a1,
		       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, int64_t *ret);

/* Unmaps pytrace's side of the ring. */
void flow_agent_close(struct flow_agent *a);

/* The glibc/musl offset of the kernel thread id inside the thread control
 * block, found by looking for each stopped thread's id near its fs base;
 * -1 if not found consistently. */
int flow_find_tid_offset(struct pt_mem *mem, const pid_t *tids, const uint64_t *fs_bases,
			 size_t n);

/* Reads a 32-bit word of the agent's context in the target. */
int flow_agent_read_u32(struct flow_agent *a, struct pt_mem *mem, size_t field_offset,
			uint32_t *out);
int flow_agent_write_u32(struct flow_agent *a, struct pt_mem *mem, size_t field_offset,
			 uint32_t v);

#endif
