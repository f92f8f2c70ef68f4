/* SPDX-License-Identifier: MIT */
/* Symbols, sections and bytes of an ELF file on disk (libelf). */
#ifndef PYTRACE_ELF_ELF_H
#define PYTRACE_ELF_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pt_elf;

/* 0 or -errno / -ENOEXEC for a file that is not a usable ELF. */
int pt_elf_open(const char *path, struct pt_elf **out);
/* The file process pid maps under path, the very one it maps (see
 * pt_map_open: also deleted, replaced, or only in the target's own mount
 * namespace). -ENOENT when path is not mapped or nothing names that file. */
int pt_elf_open_mapped(pid_t pid, const char *path, struct pt_elf **out);
void pt_elf_close(struct pt_elf *elf);

bool pt_elf_is_exec(const struct pt_elf *elf);           /* ET_EXEC (non-PIE) */
uint64_t pt_elf_first_load_vaddr(const struct pt_elf *elf);
bool pt_elf_has_symtab(const struct pt_elf *elf);        /* not stripped */

/* Looks name up in .symtab, then .dynsym. value is the link-time address. */
bool pt_elf_symbol(struct pt_elf *elf, const char *name, uint64_t *value,
		   uint64_t *size);
bool pt_elf_section(struct pt_elf *elf, const char *name, uint64_t *addr,
		    uint64_t *size);
/* Copies len bytes at link-time address vaddr from the file's PT_LOAD
 * segments (initialised data only). 0 or -EFAULT. */
int pt_elf_read_vaddr(struct pt_elf *elf, uint64_t vaddr, void *buf, size_t len);
/* The DT_SONAME, or NULL. */
const char *pt_elf_soname(struct pt_elf *elf);

#endif
