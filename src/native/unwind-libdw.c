/* SPDX-License-Identifier: MIT */
/* The native unwinder on elfutils libdwfl: CFI walk from ptrace registers, symbols from ELF/DWARF. */
#include "error.h"
#include "mem/maps.h"
#include "native/unwind.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * libdwfl does the CFI work; everything it touches in the target comes from
 * us: registers from the caller's PTRACE_GETREGS, memory from pt_mem (never
 * libdwfl's own ptrace, so stopping threads stays in target/ptrace.c).
 *
 * Speed: modules are reported once per open, and libdwfl keeps each
 * module's ELF, CFI and symbol table for the life of the Dwfl, so the
 * second thread costs only its own walk. Stack words are served from a
 * one-page cache (a walk reads neighbouring words, upward). Symbol lookups
 * are cached by address because libdwfl's address-to-symbol search scans
 * the whole symbol table and every thread of a process shares most of its
 * return addresses.
 */

enum { UNWIND_PAGE = 4096 };

/* One symbolised lookup address. */
struct unwind_sym {
	uint64_t addr;          /* pc, or pc - 1 for a return address */
	bool used;
	const char *module;
	const char *symbol;
	uint64_t base;          /* symbol start, module low address, or 0 */
};

struct pt_unwinder {
	Dwfl *dwfl;
	pid_t pid;
	struct pt_mem *mem;
	struct pt_maps maps;    /* to open each module's file (unwind_find_elf) */

	/* The one thread being walked: libdwfl asks for it by tid. */
	pid_t tid;
	const struct user_regs_struct *regs;

	/* Walk output. */
	struct pt_unwound_frame *frames;
	size_t max, n;
	const char *why;
	int mem_error;          /* last failed read, for an error-less stop */

	/* Stack page cache; emptied per walk since the target may have run. */
	uint64_t page_addr;
	bool page_valid;
	unsigned char page[UNWIND_PAGE];

	/* Symbol cache: open addressing, power-of-two size, at most half full. */
	struct unwind_sym *syms;
	size_t sym_cap, sym_n;
};

/* libdwfl wants a writable pointer; NULL means its default search path
 * (the file's directory, .debug/, and /usr/lib/debug by build-id and
 * debuglink). With DEBUGINFOD_URLS set, dwfl_standard_find_debuginfo also
 * downloads; that happens at symbolize time, after the threads resumed,
 * since the walk normally needs only .eh_frame from the main file (the
 * debug file's .debug_frame is a fallback for pcs .eh_frame lacks). */
static char *unwind_debuginfo_path;

/*
 * Module files are named by the paths the target sees. A process in a
 * container, a chroot or its own mount namespace may see other files under
 * those paths than we do, and a file may have been deleted or replaced
 * since it was mapped (a package upgrade), so the file is the one
 * pt_map_open() finds by device and inode (through /proc/PID/root,
 * /proc/PID/exe or /proc/PID/map_files). When that is the plain path,
 * libdwfl opens it itself, which keeps its search for separate debug files
 * next to it and under /usr/lib/debug working as usual. Each module's
 * userdata is its unwinder (set in pt_unwinder_open) for the pid.
 */
static int unwind_find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
			   char **file_name, Elf **elfp)
{
	const struct pt_unwinder *uw = *userdata;
	char path[PATH_MAX + 32], opened[PATH_MAX + 64];
	const struct pt_map *m = NULL;
	size_t len = strlen(name), dl = sizeof(" (deleted)") - 1;

	snprintf(path, sizeof(path), "%s", name);
	if (len > dl && strcmp(name + len - dl, " (deleted)") == 0 && len - dl < sizeof(path))
		path[len - dl] = 0;
	if (uw && path[0] == '/')
		m = pt_maps_find_path(&uw->maps, path);
	if (m) {
		int fd = pt_map_open(uw->pid, m, opened, sizeof(opened));
		if (fd >= 0 && strcmp(opened, path) == 0 && !m->deleted) {
			close(fd);
			return dwfl_linux_proc_find_elf(mod, userdata, path, base, file_name, elfp);
		}
		if (fd >= 0) {
			*elfp = elf_begin(fd, ELF_C_READ_MMAP, NULL);
			if (*elfp && (*file_name = strdup(opened)))
				return fd;
			if (*elfp)
				elf_end(*elfp);
			*elfp = NULL;
			close(fd);
		}
	}
	return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

static int unwind_set_module_userdata(Dwfl_Module *mod, void **userdata, const char *name,
				      Dwarf_Addr start, void *arg)
{
	(void)mod;
	(void)name;
	(void)start;
	*userdata = arg;
	return DWARF_CB_OK;
}

static const Dwfl_Callbacks unwind_dwfl_callbacks = {
	.find_elf = unwind_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &unwind_debuginfo_path,
};

static pid_t unwind_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct pt_unwinder *uw = arg;

	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = uw;
	return uw->tid;
}

static bool unwind_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct pt_unwinder *uw = arg;

	(void)dwfl;
	if (tid != uw->tid || !uw->regs)
		return false;
	*thread_argp = uw;
	return true;
}

static bool unwind_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct pt_unwinder *uw = arg;
	uint64_t page = addr & ~(uint64_t)(UNWIND_PAGE - 1);
	int rc;

	(void)dwfl;
	if (addr - page <= UNWIND_PAGE - sizeof(*result)) {
		if (!uw->page_valid || uw->page_addr != page) {
			uw->page_valid = pt_mem_read(uw->mem, page, uw->page, UNWIND_PAGE) == 0;
			uw->page_addr = page;
		}
		if (uw->page_valid) {
			memcpy(result, uw->page + (addr - page), sizeof(*result));
			return true;
		}
	}
	/* A word straddling two pages, or a page we could not read whole. */
	rc = pt_mem_read(uw->mem, addr, result, sizeof(*result));
	if (rc < 0) {
		uw->mem_error = rc;
		return false;
	}
	return true;
}

/* DWARF x86_64 numbering: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp,
 * 7 rsp, 8-15 r8-r15, 16 the return address column, which libdwfl takes as
 * the pc of the initial frame. */
static bool unwind_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct pt_unwinder *uw = arg;
	const struct user_regs_struct *r = uw->regs;
	const Dwarf_Word regs[17] = {
		r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi, r->rbp, r->rsp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
		r->rip,
	};

	return dwfl_thread_state_registers(thread, 0, 17, regs);
}

static const Dwfl_Thread_Callbacks unwind_thread_callbacks = {
	.next_thread = unwind_next_thread,
	.get_thread = unwind_get_thread,
	.memory_read = unwind_memory_read,
	.set_initial_registers = unwind_set_initial_registers,
};

int pt_unwinder_open(pid_t pid, struct pt_mem *mem, struct pt_unwinder **out,
		     struct pt_error *err)
{
	struct pt_unwinder *uw;
	int rc;

	if (!mem || !out || pid <= 0)
		return pt_error_set(err, PT_E_USAGE, "pt_unwinder_open: bad arguments");
	*out = NULL;
	uw = calloc(1, sizeof(*uw));
	if (!uw)
		return pt_error_set(err, PT_E_INTERNAL, "out of memory");
	uw->pid = pid;
	uw->mem = mem;
	/* Failure leaves no maps: files are then opened by their plain paths. */
	pt_maps_read(pid, &uw->maps);
	uw->dwfl = dwfl_begin(&unwind_dwfl_callbacks);
	if (!uw->dwfl) {
		rc = pt_error_set(err, PT_E_INTERNAL, "dwfl_begin: %s", dwfl_errmsg(-1));
		goto fail;
	}
	/* Reads /proc/PID/maps (and auxv for the vDSO). The files themselves
	 * are opened lazily, the first time a walk or lookup needs them. */
	rc = dwfl_linux_proc_report(uw->dwfl, pid);
	if (rc != 0) {
		if (rc == ENOENT || rc == ESRCH)
			rc = pt_error_set(err, PT_E_NOPROC, "no such process: %d", (int)pid);
		else if (rc == EACCES || rc == EPERM)
			rc = pt_error_set(err, PT_E_PERM, "cannot read the mappings of process %d: %s",
					 (int)pid, strerror(rc));
		else if (rc > 0)
			rc = pt_error_set(err, PT_E_INTERNAL, "reading the mappings of process %d: %s",
					 (int)pid, strerror(rc));
		else
			rc = pt_error_set(err, PT_E_INTERNAL, "reading the mappings of process %d: %s",
					 (int)pid, dwfl_errmsg(-1));
		goto fail;
	}
	if (dwfl_report_end(uw->dwfl, NULL, NULL) != 0) {
		rc = pt_error_set(err, PT_E_INTERNAL, "dwfl_report_end: %s", dwfl_errmsg(-1));
		goto fail;
	}
	/* Before anything opens a module file (dwfl_attach_state does). */
	dwfl_getmodules(uw->dwfl, unwind_set_module_userdata, uw, 0);
	/* NULL Elf: libdwfl takes the architecture from the first module. */
	if (!dwfl_attach_state(uw->dwfl, NULL, pid, &unwind_thread_callbacks, uw)) {
		rc = pt_error_set(err, PT_E_INTERNAL, "process %d: %s", (int)pid, dwfl_errmsg(-1));
		goto fail;
	}
	*out = uw;
	return 0;

fail:
	pt_unwinder_close(uw);
	return rc;
}

void pt_unwinder_close(struct pt_unwinder *uw)
{
	if (!uw)
		return;
	if (uw->dwfl)
		dwfl_end(uw->dwfl);
	pt_maps_free(&uw->maps);
	free(uw->syms);
	free(uw);
}

static int unwind_frame_cb(Dwfl_Frame *state, void *arg)
{
	struct pt_unwinder *uw = arg;
	struct pt_unwound_frame *f;
	Dwarf_Addr pc;
	Dwarf_Word sp;
	bool activation;

	/* Checked before dwfl_frame_pc, which would unwind one frame more. */
	if (uw->n == uw->max) {
		uw->why = "frame limit reached";
		return DWARF_CB_ABORT;
	}
	if (!dwfl_frame_pc(state, &pc, &activation)) {
		int e = dwfl_errno();
		uw->why = e ? dwfl_errmsg(e) : "no pc in frame";
		return DWARF_CB_ABORT;
	}
	/* The CFA, which is the caller's rsp at the call. 1: unknown. */
	if (dwfl_frame_reg(state, 7, &sp) != 0)
		sp = 0;
	/* No progress: a bad CFI rule would otherwise repeat the same frame
	 * up to the limit. */
	if (uw->n > 0) {
		const struct pt_unwound_frame *prev = &uw->frames[uw->n - 1];
		if (prev->pc == pc && prev->sp == sp) {
			uw->why = "unwinding looped (same pc and sp twice)";
			return DWARF_CB_ABORT;
		}
	}
	f = &uw->frames[uw->n++];
	f->pc = pc;
	f->sp = sp;
	f->is_activation = activation;
	return DWARF_CB_OK;
}

int pt_unwinder_unwind(struct pt_unwinder *uw, pid_t tid,
		       const struct user_regs_struct *regs,
		       struct pt_unwound_frame *frames, size_t max, size_t *n,
		       const char **why)
{
	int rc;

	if (n)
		*n = 0;
	if (why)
		*why = NULL;
	if (!uw || !regs || !n || (!frames && max))
		return -EINVAL;
	uw->tid = tid;
	uw->regs = regs;
	uw->frames = frames;
	uw->max = max;
	uw->n = 0;
	uw->why = NULL;
	uw->mem_error = 0;
	uw->page_valid = false;

	(void)dwfl_errno();  /* clear a stale error */
	rc = dwfl_getthread_frames(uw->dwfl, tid, unwind_frame_cb, uw);
	if (rc < 0 && !uw->why) {
		/* libdwfl ends a stack either cleanly (the outermost CFI
		 * leaves the return address undefined) or with the reason it
		 * could not go on: no CFI for a pc, unreadable stack, ... */
		int e = dwfl_errno();
		if (e)
			uw->why = dwfl_errmsg(e);
		else if (uw->mem_error)
			uw->why = "cannot read stack memory";
		else
			uw->why = "unwinding failed";
	}
	*n = uw->n;
	if (why)
		*why = uw->why;
	uw->regs = NULL;
	uw->frames = NULL;
	return 0;
}

/* "libc.so.6" from "/usr/lib/x86_64-linux-gnu/libc.so.6"; the vDSO's
 * "[vdso: PID]" reads better as "[vdso]". */
static const char *unwind_module_name(const char *name)
{
	const char *slash;

	if (!name)
		return NULL;
	if (!strncmp(name, "[vdso", 5))
		return "[vdso]";
	slash = strrchr(name, '/');
	return slash ? slash + 1 : name;
}

static void unwind_lookup(struct pt_unwinder *uw, uint64_t addr, struct unwind_sym *s)
{
	Dwfl_Module *mod = dwfl_addrmodule(uw->dwfl, addr);
	Dwarf_Addr low = 0;
	GElf_Off off = 0;
	GElf_Sym sym;
	const char *name;

	s->addr = addr;
	s->used = true;
	s->module = NULL;
	s->symbol = NULL;
	s->base = 0;
	if (!mod)
		return;
	s->module = unwind_module_name(dwfl_module_info(mod, NULL, &low, NULL, NULL,
							NULL, NULL, NULL));
	s->base = low;
	/* The symbol table of the separate debug file when there is one
	 * (build-id or debuglink under /usr/lib/debug), else .symtab, else
	 * .dynsym. libdwfl may still offer a sizeless label below addr, or
	 * the nearest symbol on a stripped binary: the containment rule
	 * decides. *off is addr minus the symbol's start. */
	name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	if (name && name[0] && off <= addr &&
	    pt_unwind_symbol_contains(addr - off, sym.st_size, addr)) {
		s->symbol = name;
		s->base = addr - off;
	}
}

static uint64_t unwind_hash(uint64_t addr)
{
	return (addr * 0x9e3779b97f4a7c15ull) >> 17;
}

static int unwind_sym_grow(struct pt_unwinder *uw)
{
	size_t cap = uw->sym_cap ? uw->sym_cap * 2 : 256;
	struct unwind_sym *syms = calloc(cap, sizeof(*syms));

	if (!syms)
		return -ENOMEM;
	for (size_t i = 0; i < uw->sym_cap; i++) {
		if (!uw->syms[i].used)
			continue;
		size_t j = unwind_hash(uw->syms[i].addr) & (cap - 1);
		while (syms[j].used)
			j = (j + 1) & (cap - 1);
		syms[j] = uw->syms[i];
	}
	free(uw->syms);
	uw->syms = syms;
	uw->sym_cap = cap;
	return 0;
}

int pt_unwinder_symbolize(struct pt_unwinder *uw, const struct pt_unwound_frame *f,
			  struct pt_symbol *out)
{
	struct unwind_sym local = { 0 }, *s = &local;
	uint64_t addr;

	if (!uw || !f || !out)
		return -EINVAL;
	/* The one place pc - 1 is applied: a return address is the
	 * instruction after the call, which may already belong to the next
	 * function (a call to a noreturn function ends its caller). An
	 * activation pc (innermost frame, interrupted by a signal) is exact. */
	addr = f->is_activation || f->pc == 0 ? f->pc : f->pc - 1;

	if (uw->sym_n * 2 >= uw->sym_cap)
		unwind_sym_grow(uw);  /* on failure: look up uncached */
	if (uw->sym_cap) {
		size_t j = unwind_hash(addr) & (uw->sym_cap - 1);
		while (uw->syms[j].used && uw->syms[j].addr != addr)
			j = (j + 1) & (uw->sym_cap - 1);
		s = &uw->syms[j];
		if (!s->used && uw->sym_n * 2 >= uw->sym_cap)
			s = &local;   /* full after a failed grow */
	}
	if (!s->used || s->addr != addr) {
		unwind_lookup(uw, addr, s);
		if (s != &local)
			uw->sym_n++;
	}
	out->module = s->module;
	out->symbol = s->symbol;
	/* From the frame's own pc, as eu-stack and gdb print it. */
	out->offset = f->pc - s->base;
	return 0;
}
