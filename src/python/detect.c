/* SPDX-License-Identifier: MIT */
/* Finds the CPython runtime in a process: which mapped ELF holds it, its
 * version, its struct layout and the addresses the walker starts from. */
#include "python/python.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf/elf.h"
#include "mem/maps.h"

#define SUPPORTED_VERSIONS "2.7 and 3.6-3.13"

static const char *path_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* "libpython3.9.so.1.0", "libpython3.6m.so", "python2.7" -> 3, 9. */
static bool detect_version_from_name(const char *name, int *major, int *minor)
{
	for (const char *p = strstr(name, "python"); p; p = strstr(p + 1, "python")) {
		const char *v = p + 6;
		if (isdigit((unsigned char)v[0]) && v[1] == '.' && isdigit((unsigned char)v[2])) {
			*major = v[0] - '0';
			*minor = (int)strtol(v + 2, NULL, 10);
			return true;
		}
	}
	return false;
}

/* 2.7/3.6 keep interp_head static; PyInterpreterState_Head() is exported and
 * compiles to "mov interp_head(%rip),%rax; ret": decode that. */
static bool detect_interp_head_from_code(struct pt_elf *elf, uint64_t *addr)
{
	uint64_t fn;
	uint8_t code[8];

	if (!pt_elf_symbol(elf, "PyInterpreterState_Head", &fn, NULL) ||
	    pt_elf_read_vaddr(elf, fn, code, sizeof(code)) < 0)
		return false;
	if (code[0] != 0x48 || code[1] != 0x8b || code[2] != 0x05 || code[7] != 0xc3)
		return false;
	int32_t disp;
	memcpy(&disp, code + 3, 4);
	*addr = fn + 7 + (int64_t)disp;
	return true;
}

/* The micro version: Py_Version (3.11+), else the buffer Py_GetVersion()
 * filled at start-up (static, .symtab only), else unknown. */
static void detect_micro(struct pt_python *py, struct pt_elf *elf, struct pt_mem *mem)
{
	static const char *const names[] = { "version.0", "version.1", "version" };
	char buf[32];
	uint64_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!pt_elf_symbol(elf, names[i], &v, NULL))
			continue;
		if (pt_mem_read(mem, v + py->bias, buf, sizeof(buf)) < 0)
			continue;
		buf[sizeof(buf) - 1] = 0;
		int ma, mi, mc;
		if (sscanf(buf, "%d.%d.%d", &ma, &mi, &mc) == 3 &&
		    ma == py->info.major && mi == py->info.minor) {
			py->info.micro = mc;
			return;
		}
	}
}

/* _Py_DebugOffsets (3.13+): validated, then layered over the table. */
struct debug_offsets_313 {
	char cookie[8];
	uint64_t version;
	uint64_t free_threaded;
	struct { uint64_t size, finalizing, interpreters_head; } runtime_state;
	struct { uint64_t size, id, next, threads_head, gc, imports_modules, sysdict,
		builtins, ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
		gil_runtime_state_locked, gil_runtime_state_holder; } interpreter_state;
	struct { uint64_t size, prev, next, interp, current_frame, thread_id,
		native_thread_id, datastack_chunk, status; } thread_state;
	struct { uint64_t size, previous, executable, instr_ptr, localsplus, owner; } interpreter_frame;
	struct { uint64_t size, filename, name, qualname, linetable, firstlineno,
		argcount, localsplusnames, localspluskinds, co_code_adaptive; } code_object;
	struct { uint64_t size, ob_type; } pyobject;
	struct { uint64_t size, tp_name, tp_repr, tp_flags; } type_object;
	struct { uint64_t size, ob_item, ob_size; } tuple_object;
	struct { uint64_t size, ob_item, ob_size; } list_object;
	struct { uint64_t size, ma_keys, ma_values; } dict_object;
	struct { uint64_t size, ob_fval; } float_object;
	struct { uint64_t size, lv_tag, ob_digit; } long_object;
	struct { uint64_t size, ob_size, ob_sval; } bytes_object;
	struct { uint64_t size, state, length, asciiobject_size; } unicode_object;
	struct { uint64_t size, collecting; } gc;
};

static int32_t dbg_off(uint64_t v, bool *ok)
{
	if (v > (1u << 24)) {  /* no struct pytrace reads is 16 MiB */
		*ok = false;
		return PYV_NONE;
	}
	return (int32_t)v;
}

static int detect_debug_offsets(struct pt_python *py, struct pt_mem *mem, struct pt_error *err)
{
	struct debug_offsets_313 d;
	bool ok = true;

	if (pt_mem_read(mem, py->runtime, &d, sizeof(d)) < 0) {
		snprintf(err->msg, sizeof(err->msg), "cannot read _Py_DebugOffsets at 0x%llx",
			 (unsigned long long)py->runtime);
		return -PT_E_VERSION;
	}
	if (memcmp(d.cookie, "xdebugpy", 8) != 0) {
		snprintf(err->msg, sizeof(err->msg),
			 "Python %d.%d: _PyRuntime does not start with the _Py_DebugOffsets cookie",
			 py->info.major, py->info.minor);
		return -PT_E_VERSION;
	}
	int ma = (int)((d.version >> 24) & 0xff), mi = (int)((d.version >> 16) & 0xff);
	if (ma != py->info.major || mi != py->info.minor) {
		snprintf(err->msg, sizeof(err->msg),
			 "Python %d.%d: _Py_DebugOffsets says version %d.%d", py->info.major,
			 py->info.minor, ma, mi);
		return -PT_E_VERSION;
	}
	py->info.micro = (int)((d.version >> 8) & 0xff);
	if (d.free_threaded) {
		snprintf(err->msg, sizeof(err->msg),
			 "Python %d.%d is a free-threaded build, which pytrace does not support yet",
			 ma, mi);
		return -PT_E_VERSION;
	}
	struct pyv_offsets *o = &py->off;
	o->runtime_size = dbg_off(d.runtime_state.size, &ok);
	o->runtime_interpreters_head = dbg_off(d.runtime_state.interpreters_head, &ok);
	o->interp_size = dbg_off(d.interpreter_state.size, &ok);
	o->interp_next = dbg_off(d.interpreter_state.next, &ok);
	o->interp_tstate_head = dbg_off(d.interpreter_state.threads_head, &ok);
	o->interp_ceval_gil = dbg_off(d.interpreter_state.ceval_gil, &ok);
	/* These two are given from the interpreter (its embedded _gil); the
	 * walker follows ceval.gil and wants them from the gil struct. */
	o->gil_locked = dbg_off(d.interpreter_state.gil_runtime_state_locked -
				d.interpreter_state.gil_runtime_state, &ok);
	o->gil_last_holder = dbg_off(d.interpreter_state.gil_runtime_state_holder -
				     d.interpreter_state.gil_runtime_state, &ok);
	o->tstate_size = dbg_off(d.thread_state.size, &ok);
	o->tstate_next = dbg_off(d.thread_state.next, &ok);
	o->tstate_interp = dbg_off(d.thread_state.interp, &ok);
	o->tstate_current_frame = dbg_off(d.thread_state.current_frame, &ok);
	o->tstate_thread_id = dbg_off(d.thread_state.thread_id, &ok);
	o->tstate_native_thread_id = dbg_off(d.thread_state.native_thread_id, &ok);
	o->iframe_size = dbg_off(d.interpreter_frame.size, &ok);
	o->iframe_previous = dbg_off(d.interpreter_frame.previous, &ok);
	o->iframe_code = dbg_off(d.interpreter_frame.executable, &ok);
	o->iframe_instr = dbg_off(d.interpreter_frame.instr_ptr, &ok);
	o->iframe_owner = dbg_off(d.interpreter_frame.owner, &ok);
	o->code_size = dbg_off(d.code_object.size, &ok);
	o->code_filename = dbg_off(d.code_object.filename, &ok);
	o->code_name = dbg_off(d.code_object.name, &ok);
	o->code_qualname = dbg_off(d.code_object.qualname, &ok);
	o->code_linetable = dbg_off(d.code_object.linetable, &ok);
	o->code_firstlineno = dbg_off(d.code_object.firstlineno, &ok);
	o->code_code_adaptive = dbg_off(d.code_object.co_code_adaptive, &ok);
	o->object_type = dbg_off(d.pyobject.ob_type, &ok);
	o->type_name = dbg_off(d.type_object.tp_name, &ok);
	o->bytes_sval = dbg_off(d.bytes_object.ob_sval, &ok);
	o->varobject_size = dbg_off(d.bytes_object.ob_size, &ok);
	o->unicode_state = dbg_off(d.unicode_object.state, &ok);
	o->unicode_length = dbg_off(d.unicode_object.length, &ok);
	o->unicode_ascii_size = dbg_off(d.unicode_object.asciiobject_size, &ok);
	/* Checks that hold in every release: fields lie inside their struct. */
	ok = ok && o->tstate_current_frame + 8 <= o->tstate_size &&
	     o->iframe_previous + 8 <= o->iframe_size && o->iframe_instr + 8 <= o->iframe_size &&
	     o->code_linetable + 8 <= o->code_size && o->code_code_adaptive <= o->code_size + 8 &&
	     o->interp_tstate_head + 8 <= o->interp_size &&
	     o->runtime_interpreters_head + 8 <= o->runtime_size;
	if (!ok) {
		snprintf(err->msg, sizeof(err->msg),
			 "Python %d.%d: _Py_DebugOffsets are inconsistent; refusing to read with them",
			 ma, mi);
		return -PT_E_VERSION;
	}
	py->info.from_debug_offsets = true;
	return 0;
}

/* Picks the mapped file that defines PyCode_Type: libpython*.so first, then
 * the executable, then anything else named like python. */
static int detect_runtime_file(pid_t pid, const struct pt_maps *maps,
			       struct pt_elf **elf_out, char *path, size_t cap)
{
	char exe[4096] = "", link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t len = readlink(link, exe, sizeof(exe) - 1);
	if (len > 0)
		exe[len] = 0;

	for (int pass = 0; pass < 3; pass++) {
		const char *last = NULL;
		for (size_t i = 0; i < maps->n; i++) {
			const char *p = maps->v[i].path;
			if (!p || p[0] != '/' || (last && strcmp(last, p) == 0))
				continue;
			last = p;
			const char *b = path_base(p);
			bool want = pass == 0 ? strncmp(b, "libpython", 9) == 0
				  : pass == 1 ? strcmp(p, exe) == 0
				  : strstr(b, "python") != NULL && strncmp(b, "libpython", 9) != 0 && strcmp(p, exe) != 0;
			if (!want)
				continue;
			struct pt_elf *elf;
			uint64_t v;
			if (pt_elf_open_mapped(pid, p, &elf) < 0)
				continue;
			if (pt_elf_symbol(elf, "PyCode_Type", &v, NULL)) {
				*elf_out = elf;
				snprintf(path, cap, "%s", p);
				return 0;
			}
			pt_elf_close(elf);
		}
	}
	return -PT_E_NOTPYTHON;
}

static void detect_eval_range(struct pt_python *py, struct pt_elf *elf, const char *name)
{
	uint64_t v, size;

	if (py->n_eval < sizeof(py->eval) / sizeof(py->eval[0]) &&
	    pt_elf_symbol(elf, name, &v, &size) && size > 0) {
		py->eval[py->n_eval].lo = v + py->bias;
		py->eval[py->n_eval].hi = v + py->bias + size;
		py->n_eval++;
	}
}

int pt_python_detect(pid_t pid, const struct pt_maps *maps, struct pt_mem *mem,
		     struct pt_python *py, struct pt_error *err)
{
	struct pt_elf *elf = NULL;
	uint64_t v;
	int rc;

	memset(py, 0, sizeof(*py));
	rc = detect_runtime_file(pid, maps, &elf, py->info.runtime_path,
				 sizeof(py->info.runtime_path));
	if (rc < 0) {
		err->status = PT_E_NOTPYTHON;
		snprintf(err->msg, sizeof(err->msg),
			 "process %d is not a Python process (no CPython runtime among its mappings)",
			 (int)pid);
		return rc;
	}
	if (!pt_maps_file_bias(maps, py->info.runtime_path, pt_elf_first_load_vaddr(elf), &py->bias)) {
		rc = -PT_E_INTERNAL;
		snprintf(err->msg, sizeof(err->msg), "cannot find the load address of %.300s",
			 py->info.runtime_path);
		goto out;
	}
	if (pt_elf_is_exec(elf))
		py->bias = 0;

	/* Version: Py_Version (3.11+) is exact; else the file name or soname. */
	struct pt_python_info *info = &py->info;
	uint32_t hex;
	if (pt_elf_symbol(elf, "Py_Version", &v, NULL) &&
	    pt_mem_read_u32(mem, v + py->bias, &hex) == 0 && (hex >> 24) == 3) {
		info->major = (int)(hex >> 24);
		info->minor = (int)((hex >> 16) & 0xff);
		info->micro = (int)((hex >> 8) & 0xff);
	} else if (detect_version_from_name(path_base(info->runtime_path), &info->major, &info->minor) ||
		   (pt_elf_soname(elf) &&
		    detect_version_from_name(pt_elf_soname(elf), &info->major, &info->minor))) {
		info->micro = -1;
	} else {
		rc = -PT_E_VERSION;
		snprintf(err->msg, sizeof(err->msg),
			 "found a CPython runtime in %.300s but cannot tell its version",
			 info->runtime_path);
		goto out;
	}

	if (pt_elf_symbol(elf, "_PyRuntime", &v, NULL))
		py->runtime = v + py->bias;
	else if (pt_elf_section(elf, ".PyRuntime", &v, NULL))
		py->runtime = v + py->bias;

	const struct pyv_offsets *table = pyv_offsets_for(info->major, info->minor);
	if (!table && info->major == 3 && info->minor > 13) {
		/* A newer minor: its _Py_DebugOffsets would describe most of the
		 * layout, but not frame ownership or pointer tagging, which
		 * changed in 3.14. Refuse rather than print garbage. */
		rc = -PT_E_VERSION;
	} else if (!table) {
		rc = -PT_E_VERSION;
	}
	if (rc < 0) {
		snprintf(err->msg, sizeof(err->msg),
			 "Python %d.%d is not supported (pytrace reads CPython " SUPPORTED_VERSIONS ")",
			 info->major, info->minor);
		goto out_version;
	}
	py->off = *table;
	if (info->micro < 0)
		detect_micro(py, elf, mem);
	if (info->major == 3 && info->minor >= 13) {
		if (!py->runtime) {
			rc = -PT_E_VERSION;
			snprintf(err->msg, sizeof(err->msg), "Python %d.%d: _PyRuntime not found",
				 info->major, info->minor);
			goto out_version;
		}
		rc = detect_debug_offsets(py, mem, err);
		if (rc < 0)
			goto out_version;
	}
	if (info->micro >= 0)
		snprintf(info->version, sizeof(info->version), "%d.%d.%d", info->major, info->minor, info->micro);
	else
		snprintf(info->version, sizeof(info->version), "%d.%d", info->major, info->minor);

	/* Roots of the thread list. */
	if (!py->runtime) {
		if (pt_elf_symbol(elf, "interp_head", &v, NULL) || detect_interp_head_from_code(elf, &v))
			py->interp_head_addr = v + py->bias;
		if (pt_elf_symbol(elf, "_PyThreadState_Current", &v, NULL))
			py->tstate_current_addr = v + py->bias;
		if (!py->interp_head_addr && !py->tstate_current_addr) {
			rc = -PT_E_VERSION;
			snprintf(err->msg, sizeof(err->msg),
				 "Python %s in %.300s: neither interp_head nor _PyThreadState_Current found",
				 info->version, info->runtime_path);
			goto out_version;
		}
	}

	/* Types used to validate what the walker reads. */
	if (pt_elf_symbol(elf, "PyCode_Type", &v, NULL))
		py->code_type = v + py->bias;
	if (py->off.string_sval != PYV_NONE && pt_elf_symbol(elf, "PyString_Type", &v, NULL)) {
		py->str_type = v + py->bias;
		py->bytes_type = py->str_type;
	} else {
		if (pt_elf_symbol(elf, "PyUnicode_Type", &v, NULL))
			py->str_type = v + py->bias;
		if (pt_elf_symbol(elf, "PyBytes_Type", &v, NULL))
			py->bytes_type = v + py->bias;
	}

	detect_eval_range(py, elf, "_PyEval_EvalFrameDefault");
	detect_eval_range(py, elf, "_PyEval_EvalFrameDefault.cold");
	if (py->n_eval == 0)
		detect_eval_range(py, elf, "PyEval_EvalFrameEx");
	info->supported = true;
	rc = 0;
	goto out;

out_version:
	if (!info->version[0])
		snprintf(info->version, sizeof(info->version), "%d.%d", info->major, info->minor);
out:
	if (rc < 0)
		err->status = -rc;
	pt_elf_close(elf);
	return rc;
}

void pt_python_fini(struct pt_python *py);

enum pyv_frame_model pyv_frame_model(const struct pt_python *py)
{
	if (py->off.tstate_frame != PYV_NONE)
		return PYV_FRAMES_OBJECTS;
	if (py->off.tstate_current_frame != PYV_NONE)
		return PYV_FRAMES_CURRENT;
	return PYV_FRAMES_CFRAME;
}

enum pyv_linetable_kind pyv_line_table_kind(const struct pt_python *py)
{
	if (py->off.code_lnotab != PYV_NONE)
		return py->info.major == 2 ? PYV_LNOTAB_UNSIGNED : PYV_LNOTAB_SIGNED;
	if (py->off.code_code_adaptive != PYV_NONE)
		return PYV_LOCATIONS_311;
	return PYV_LINETABLE_310;
}

bool pyv_frame_is_shim(const struct pt_python *py, int owner)
{
	return py->off.owner_cstack != PYV_NONE && owner == py->off.owner_cstack;
}

bool pyv_has_native_thread_id(const struct pt_python *py)
{
	return py->off.tstate_native_thread_id != PYV_NONE;
}

bool pyv_pc_is_eval(const struct pt_python *py, uint64_t pc)
{
	for (size_t i = 0; i < py->n_eval; i++)
		if (pc >= py->eval[i].lo && pc < py->eval[i].hi)
			return true;
	return false;
}
