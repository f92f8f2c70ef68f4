/* SPDX-License-Identifier: MIT */
/* The CPython found in a target: version, layout, addresses, and the few
 * capability questions the walker asks instead of comparing versions. */
#ifndef PYTRACE_PYTHON_PYTHON_H
#define PYTRACE_PYTHON_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mem/arena.h"
#include "mem/maps.h"
#include "mem/mem.h"
#include "python/linetable.h"
#include "python/offsets.h"
#include "pytrace/pytrace.h"

/* Structs whose size no layout gives (_PyCFrame, _gil_runtime_state):
 * their fields are checked against this size. */
#define PYV_UNSIZED_STRUCT 4096

struct pyv_range {
	uint64_t lo, hi;     /* runtime addresses, [lo, hi) */
};

struct pt_python {
	struct pt_python_info info;
	struct pyv_offsets off;      /* generated table, overridden by
	                                _Py_DebugOffsets on 3.13+ */
	uint64_t bias;               /* load bias of the runtime ELF */
	uint64_t runtime;            /* &_PyRuntime (3.7+) */
	uint64_t interp_head_addr;   /* &interp_head (2.7/3.6), 0 if unknown */
	uint64_t tstate_current_addr;/* &_PyThreadState_Current (2.7/3.6) */
	uint64_t code_type;          /* &PyCode_Type */
	uint64_t str_type;           /* &PyUnicode_Type (&PyString_Type on 2.7) */
	uint64_t bytes_type;         /* &PyBytes_Type (&PyString_Type on 2.7) */
	struct pyv_range eval[4];    /* functions that run bytecode */
	size_t n_eval;
	/* Where the GIL's futex words lie, when fixed: 3.6's static
	 * gil_mutex/gil_cond/switch_* (.symtab), 3.7-3.11's _PyRuntime (whose
	 * only inline locks are the GIL's). 3.12+ follow interp->ceval.gil. */
	struct pyv_range gil_words[4];
	size_t n_gil_words;
	uint64_t gil_lock_ptr_addr;  /* 2.7: &interpreter_lock (a sem_t*) */
	/* Set by pt_python_list_tstates when an interpreter's list was one
	 * thread state with no thread id: one caught while being created,
	 * which 3.11 makes the head before linking the others behind it. */
	bool tstates_torn;
	struct pyv_code_cache *codes;
	uint8_t *string_raw;         /* units of the string being read */
	/* Bumped by every consistent read (threads stopped): a code object
	 * validated in the current generation is not read again. */
	uint64_t generation;
};

/* Finds the CPython runtime among the mappings and reads its layout.
 * -PT_E_NOTPYTHON, -PT_E_VERSION (found but unsupported: info filled),
 * or 0. */
int pt_python_detect(pid_t pid, const struct pt_maps *maps, struct pt_mem *mem,
		     struct pt_python *py, struct pt_error *err);
void pt_python_fini(struct pt_python *py);
/* The layout step of pt_python_detect (py->info and py->runtime set):
 * the generated table, then on 3.13+ the target's _Py_DebugOffsets over
 * it, then every field the readers use checked against the size of its
 * struct. -PT_E_VERSION with a message naming the first bad field. */
int pyv_layout_load(struct pt_python *py, const struct pyv_offsets *table, struct pt_mem *mem,
		    struct pt_error *err);

/* Capabilities: answered from which fields the layout has. */
enum pyv_frame_model {
	PYV_FRAMES_OBJECTS,  /* tstate->frame, PyFrameObject.f_back (<=3.10) */
	PYV_FRAMES_CFRAME,   /* tstate->cframe->current_frame (3.11, 3.12) */
	PYV_FRAMES_CURRENT,  /* tstate->current_frame (3.13+) */
};
enum pyv_frame_model pyv_frame_model(const struct pt_python *py);
enum pyv_linetable_kind pyv_line_table_kind(const struct pt_python *py);
/* An owner that marks a frame pushed by an eval invocation for itself
 * (3.12+ shim/entry frames, 3.15's base frame): never printed. */
bool pyv_frame_is_shim(const struct pt_python *py, int owner);
/* Whether one thread at a time runs Python (not a free-threaded build). */
bool pyv_has_gil(const struct pt_python *py);
/* Whether interpreter interp runs JIT-compiled code (3.14+ JIT builds with
 * PYTHON_JIT=1): its native frames then include code no file maps. */
bool pyv_jit_enabled(const struct pt_python *py, struct pt_mem *mem, uint64_t interp);
/* 3.13+: _PyRuntime starts with _Py_DebugOffsets, read over the table. */
bool pyv_has_debug_offsets(const struct pt_python *py);
/* The code object address in a frame's f_code/f_executable word, its tag
 * bits (3.14+ _PyStackRef) masked. */
uint64_t pyv_frame_code(const struct pt_python *py, uint64_t executable);
bool pyv_has_native_thread_id(const struct pt_python *py);
bool pyv_pc_is_eval(const struct pt_python *py, uint64_t pc);
/* Whether a native symbol names a part of the eval loop that no address
 * range covers (the tail-call interpreter's _TAIL_CALL_* handlers). */
bool pyv_symbol_is_eval(const struct pt_python *py, const char *symbol);

/* One thread state of the target. */
struct pt_pytstate {
	uint64_t addr;
	uint64_t interp;
	uint64_t pthread_id;   /* == the thread's fs_base */
	pid_t native_tid;      /* 0 where the version lacks it */
	int interp_no;         /* the interpreter's number: its place in the
				* list counted from the oldest (the main
				* interpreter is 0, the next one created 1) */
};

/* Every thread state of every interpreter (at most max). On a failed
 * read, a negative status with *n the thread states listed before it. */
int pt_python_list_tstates(struct pt_python *py, struct pt_mem *mem,
			   struct pt_pytstate *out, size_t max, size_t *n);
/* The thread state holding the GIL, or 0. */
uint64_t pt_python_gil_holder(struct pt_python *py, struct pt_mem *mem,
			      const struct pt_pytstate *tstates, size_t n);

/* Whether a futex word at uaddr belongs to the GIL (its mutex, condition
 * variables or, on 2.7, its lock's semaphore): a thread waiting on it waits
 * for the GIL. Never on a free-threaded build. */
bool pt_python_futex_is_gil(struct pt_python *py, struct pt_mem *mem,
			    const struct pt_pytstate *tstates, size_t n, uint64_t uaddr);

/* Walks one thread's frames, innermost first, into out (at most max);
 * strings are copied into arena. A frame that cannot be read is marked
 * unreadable; the walk goes on where it can. Returns 0, or a negative
 * status with *why set when the walk could not start. */
int pt_python_walk(struct pt_python *py, struct pt_mem *mem, uint64_t tstate,
		   struct pt_arena *arena, struct pt_pyframe *out, size_t max,
		   size_t *n, const char **why);

/* Code objects: name, file, first line, line table; cached by address and
 * revalidated on every use. */
struct pyv_code {
	const char *name, *file;     /* owned by the cache */
	bool cut;                    /* either cut at 4096 characters, ending in U+2026 */
	int firstlineno;
	int firsttraceable;          /* 3.11+: code units of prologue, else 0 */
	const uint8_t *table;
	size_t table_len;
};
/* *out stays valid until the next pyv_code_read: copy what you keep. */
int pyv_code_read(struct pt_python *py, struct pt_mem *mem, uint64_t addr,
		  const struct pyv_code **out);
/* A str object as UTF-8 into buf (truncated at cap-1 bytes): 0, or 1 when
 * the string is longer than 4096 characters and only those were read. */
int pyv_string_read(struct pt_python *py, struct pt_mem *mem, uint64_t addr,
		    char *buf, size_t cap);
/* The decoding step of pyv_string_read, pure: nchars units of kind bytes
 * (1: latin-1, 2: UCS-2, 4: UCS-4) as UTF-8 into buf (cap >= 1). */
void pyv_string_decode(const uint8_t *raw, size_t nchars, unsigned kind, char *buf, size_t cap);
/* 2.7 str bytes as UTF-8: valid sequences kept, any other byte U+FFFD. */
void pyv_bytes_decode(const uint8_t *raw, size_t n, char *buf, size_t cap);

#endif
