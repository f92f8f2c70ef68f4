/* SPDX-License-Identifier: MIT */
/* ELF access through libelf: symbol by name, section, file-backed bytes. */
#include "elf/elf.h"
#include "mem/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pt_elf {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	uint64_t first_load_vaddr;
	Elf_Scn *symtab, *dynsym, *dynamic;
	size_t shstrndx;
};

static int elf_open_fd(int fd, struct pt_elf **out);

int pt_elf_open_mapped(pid_t pid, const char *path, struct pt_elf **out)
{
	struct pt_maps maps;
	const struct pt_map *m;
	char name[4200];
	int fd, rc;

	if ((rc = pt_maps_read(pid, &maps)) < 0)
		return rc;
	m = pt_maps_find_path(&maps, path);
	fd = m ? pt_map_open(pid, m, name, sizeof(name)) : -ENOENT;
	pt_maps_free(&maps);
	return fd < 0 ? fd : elf_open_fd(fd, out);
}

int pt_elf_open(const char *path, struct pt_elf **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : elf_open_fd(fd, out);
}

/* Takes fd over, closing it on failure. */
static int elf_open_fd(int fd, struct pt_elf **out)
{
	struct pt_elf *e;
	int rc = -ENOEXEC;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		close(fd);
		return -ENOEXEC;
	}
	if (!(e = calloc(1, sizeof(*e)))) {
		close(fd);
		return -ENOMEM;
	}
	e->fd = fd;
	e->elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF || !gelf_getehdr(e->elf, &e->ehdr) ||
	    e->ehdr.e_ident[EI_CLASS] != ELFCLASS64 || elf_getshdrstrndx(e->elf, &e->shstrndx))
		goto fail;

	size_t nph = 0;
	bool have_load = false;
	if (elf_getphdrnum(e->elf, &nph))
		goto fail;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e->elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
			e->first_load_vaddr = ph.p_vaddr - ph.p_offset;
			have_load = true;
			break;
		}
	}
	if (!have_load)
		goto fail;

	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e->elf, scn));) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			e->symtab = scn;
		else if (sh.sh_type == SHT_DYNSYM)
			e->dynsym = scn;
		else if (sh.sh_type == SHT_DYNAMIC)
			e->dynamic = scn;
	}
	*out = e;
	return 0;
fail:
	pt_elf_close(e);
	return rc;
}

void pt_elf_close(struct pt_elf *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

bool pt_elf_is_exec(const struct pt_elf *e)
{
	return e->ehdr.e_type == ET_EXEC;
}

uint64_t pt_elf_first_load_vaddr(const struct pt_elf *e)
{
	return e->first_load_vaddr;
}

bool pt_elf_has_symtab(const struct pt_elf *e)
{
	return e->symtab != NULL;
}

static bool elf_table_lookup(struct pt_elf *e, Elf_Scn *scn, const char *name,
			     uint64_t *value, uint64_t *size)
{
	GElf_Shdr sh;
	Elf_Data *data;

	if (!scn || !gelf_getshdr(scn, &sh) || !(data = elf_getdata(scn, NULL)) || !sh.sh_entsize)
		return false;
	size_t n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		const char *s = elf_strptr(e->elf, sh.sh_link, sym.st_name);
		if (s && strcmp(s, name) == 0) {
			*value = sym.st_value;
			if (size)
				*size = sym.st_size;
			return true;
		}
	}
	return false;
}

bool pt_elf_symbol(struct pt_elf *e, const char *name, uint64_t *value, uint64_t *size)
{
	return elf_table_lookup(e, e->symtab, name, value, size) ||
	       elf_table_lookup(e, e->dynsym, name, value, size);
}

bool pt_elf_section(struct pt_elf *e, const char *name, uint64_t *addr, uint64_t *size)
{
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e->elf, scn));) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *s = elf_strptr(e->elf, e->shstrndx, sh.sh_name);
		if (s && strcmp(s, name) == 0) {
			*addr = sh.sh_addr;
			if (size)
				*size = sh.sh_size;
			return true;
		}
	}
	return false;
}

int pt_elf_read_vaddr(struct pt_elf *e, uint64_t vaddr, void *buf, size_t len)
{
	size_t nph = 0;

	if (elf_getphdrnum(e->elf, &nph))
		return -EFAULT;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr < ph.p_vaddr || vaddr + len > ph.p_vaddr + ph.p_filesz || vaddr + len < vaddr)
			continue;
		size_t fsize = 0;
		char *raw = elf_rawfile(e->elf, &fsize);
		uint64_t off = ph.p_offset + (vaddr - ph.p_vaddr);
		if (!raw || off + len > fsize)
			return -EFAULT;
		memcpy(buf, raw + off, len);
		return 0;
	}
	return -EFAULT;
}

const char *pt_elf_soname(struct pt_elf *e)
{
	GElf_Shdr sh;
	Elf_Data *data;

	if (!e->dynamic || !gelf_getshdr(e->dynamic, &sh) || !(data = elf_getdata(e->dynamic, NULL)) || !sh.sh_entsize)
		return NULL;
	for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
		GElf_Dyn dyn;
		if (gelf_getdyn(data, (int)i, &dyn) && dyn.d_tag == DT_SONAME)
			return elf_strptr(e->elf, sh.sh_link, dyn.d_un.d_val);
	}
	return NULL;
}
