/* SPDX-License-Identifier: MIT */
/* The CPython struct layout pytrace reads: one table per minor version,
 * generated from that version's own headers by tools/gen-offsets. */
#ifndef PYTRACE_PYTHON_OFFSETS_H
#define PYTRACE_PYTHON_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

/* Value of a field that does not exist in a version. */
#define PYV_NONE (-1)

/* Every member is a byte offset (or size) for one x86_64 build flavour
 * (version, free-threaded or not, debug or release), or PYV_NONE. Names
 * follow CPython's: struct prefix, then field. */
struct pyv_offsets {
	int major, minor;
	int free_threaded;              /* 1: Py_GIL_DISABLED build (3.13t+) */
	int debug;                      /* 1: Py_DEBUG build (python3.Xd) */

	/* _PyRuntimeState (3.7+); for 2.7/3.6 the roots are static symbols. */
	int32_t runtime_size;
	int32_t runtime_interpreters_head;
	int32_t runtime_gilstate_tstate_current; /* 3.7-3.11: GIL holder */

	/* PyInterpreterState */
	int32_t interp_size;
	int32_t interp_next;
	int32_t interp_tstate_head;     /* tstate_head / threads.head */
	int32_t interp_ceval_gil;       /* 3.12+: struct _gil_runtime_state* */
	int32_t gil_locked;             /* in struct _gil_runtime_state */
	int32_t gil_last_holder;

	/* PyThreadState */
	int32_t tstate_size;
	int32_t tstate_next;
	int32_t tstate_interp;
	int32_t tstate_frame;           /* <=3.10: PyFrameObject* */
	int32_t tstate_cframe;          /* 3.10-3.12: CFrame* / _PyCFrame*
	                                   (3.10's holds use_tracing only) */
	int32_t tstate_root_cframe;     /* 3.11/3.12: embedded _PyCFrame */
	int32_t tstate_current_frame;   /* 3.13+: _PyInterpreterFrame* */
	int32_t tstate_thread_id;       /* pthread_t */
	int32_t tstate_native_thread_id;/* 3.11+: kernel TID */
	int32_t tstate_base_frame;      /* 3.15+: _PyInterpreterFrame* to the
	                                   sentinel at the bottom of the chain */

	/* _PyCFrame (3.11/3.12) */
	int32_t cframe_current_frame;
	int32_t cframe_previous;

	/* PyFrameObject (<=3.10) */
	int32_t frame_size;
	int32_t frame_back;
	int32_t frame_code;
	int32_t frame_lasti;            /* int; bytes <=3.9, code units 3.10 */

	/* _PyInterpreterFrame (3.11+) */
	int32_t iframe_size;
	int32_t iframe_code;            /* f_code / f_executable */
	int32_t iframe_previous;
	int32_t iframe_instr;           /* prev_instr (3.11/3.12) / instr_ptr */
	int32_t iframe_is_entry;        /* 3.11 only (bool) */
	int32_t iframe_owner;           /* char */
	int32_t owner_generator;        /* FRAME_OWNED_BY_GENERATOR value */
	int32_t owner_shim;             /* 3.12+: owner of the frame an eval
	                                   invocation pushes for itself
	                                   (3.12/3.13 FRAME_OWNED_BY_CSTACK,
	                                   3.14+ FRAME_OWNED_BY_INTERPRETER);
	                                   no owner from it up is Python code */
	int32_t stackref_tag_bits;      /* 3.11+: low bits of f_executable to
	                                   mask (3.14+ _PyStackRef Py_TAG_BITS;
	                                   0 before) */

	/* PyCodeObject */
	int32_t code_size;
	int32_t code_filename;
	int32_t code_name;
	int32_t code_qualname;          /* 3.11+ */
	int32_t code_firstlineno;
	int32_t code_lnotab;            /* <=3.9 */
	int32_t lnotab_signed;          /* <=3.9: 1 where co_lnotab's line
	                                   deltas are signed (3.6+), 0 on 2.7 */
	int32_t code_linetable;         /* 3.10+ */
	int32_t code_code_adaptive;     /* 3.11+: inline bytecode */
	int32_t code_firsttraceable;    /* 3.11+: int, code units */

	/* Objects */
	int32_t object_type;            /* ob_type */
	int32_t type_name;              /* tp_name (const char*) */
	int32_t varobject_size;         /* ob_size */

	/* str (3.x PyUnicodeObject; 2.7 PyStringObject) and bytes.
	 * On 2.7 the unicode_* members describe the `unicode` type instead
	 * (PyUnicodeObject: length, then a Py_UNICODE* buffer held in
	 * unicode_data, no state word), and `str` is read as a PyVarObject
	 * (varobject_size) with inline bytes at string_sval. The uint32_t
	 * members hold (uint32_t)PYV_NONE where absent. */
	int32_t unicode_length;
	int32_t unicode_state;          /* 32-bit bitfield word */
	int32_t unicode_ascii_size;     /* sizeof(PyASCIIObject) */
	int32_t unicode_compact_size;   /* sizeof(PyCompactUnicodeObject) */
	int32_t unicode_data;           /* PyUnicodeObject.data.any; 2.7: str */
	uint32_t unicode_kind_mask;     /* state bits, found by setting them */
	int32_t unicode_kind_shift;
	uint32_t unicode_compact_bit;
	uint32_t unicode_ascii_bit;
	int32_t unicode_char_size;      /* 2.7: sizeof(Py_UNICODE), 2 or 4 */
	int32_t string_sval;            /* 2.7 PyStringObject.ob_sval */
	int32_t bytes_sval;             /* 3.x PyBytesObject.ob_sval */

	/* pytrace flow: installing and reading profile hooks. */
	int32_t runtime_initialized;    /* 3.7+: int, set by Py_Initialize */
	int32_t interp_eval_frame;      /* 3.6+: PEP 523 _PyFrameEvalFunction */
	int32_t eval_frame_has_tstate;  /* 1 from 3.9: (tstate, frame, throw) */
	int32_t tstate_c_profilefunc;   /* Py_tracefunc */
	int32_t tstate_c_profileobj;
	int32_t tstate_c_tracefunc;
	int32_t tstate_use_tracing;     /* <=3.9: int in the thread state */
	int32_t cframe_use_tracing;     /* 3.10: int, 3.11: uint8_t, in the
	                                   C frame tstate->cframe points at */
	int32_t use_tracing_size;       /* bytes of that use_tracing field */
	int32_t use_tracing_on;         /* value CPython stores there when a
	                                   hook is set (1, or 255 on 3.11) */
	int32_t frame_stacktop;         /* <=3.9 PyFrameObject: non-NULL while
	                                   a generator is suspended */
	int32_t frame_state;            /* 3.10 PyFrameObject.f_state (int8) */
	int32_t frame_state_suspended;  /* 3.10 FRAME_SUSPENDED */
	int32_t frame_frame;            /* 3.11+ PyFrameObject.f_frame */
	int32_t gen_iframe;             /* 3.11+ PyGenObject.gi_iframe */
	int32_t gen_frame_state;        /* 3.11+ PyGenObject.gi_frame_state */
	int32_t gen_state_suspended;    /* 3.11+ FRAME_SUSPENDED */
	int32_t code_flags;             /* PyCodeObject.co_flags (int) */
	int32_t cfunc_ml;               /* PyCFunctionObject.m_ml */
	int32_t cfunc_self;             /* PyCFunctionObject.m_self */
	int32_t descr_type;             /* PyDescrObject.d_type */
	int32_t methoddescr_method;     /* PyMethodDescrObject.d_method */
	int32_t methoddef_name;         /* PyMethodDef.ml_name */
	int32_t tuple_items;            /* PyTupleObject.ob_item */

	/* 3.12+: sys.monitoring event numbers (PY_MONITORING_EVENT_*). */
	int32_t mon_py_start, mon_py_resume, mon_py_return, mon_py_yield;
	int32_t mon_call, mon_py_unwind, mon_py_throw, mon_c_return, mon_c_raise;

	/* 3.12+: the per-interpreter pending-call queue (run by whichever
	 * thread next checks its eval breaker). 3.12 keeps first/last and a
	 * calls_to_do flag under a PyThread lock; 3.13 first/next and a
	 * count under a one-byte PyMutex. */
	int32_t interp_ceval_pending;   /* struct _pending_calls in interp */
	int32_t pending_busy;           /* 3.12: int */
	int32_t pending_handling_thread;/* 3.13: PyThreadState* */
	int32_t pending_lock;           /* 3.12: PyThread_type_lock */
	int32_t pending_mutex;          /* 3.13: PyMutex (uint8) */
	int32_t pending_calls_to_do;    /* 3.12: int */
	int32_t pending_npending;       /* 3.13: int32 */
	int32_t pending_max;            /* 3.13: int32 */
	int32_t pending_calls;          /* struct _pending_call[] */
	int32_t pending_call_size;      /* sizeof(struct _pending_call) */
	int32_t pending_ncalls;         /* array length */
	int32_t pending_first;
	int32_t pending_last;           /* 3.12 */
	int32_t pending_next;           /* 3.13 */
	int32_t interp_eval_breaker;    /* 3.12: int, per interpreter */
	int32_t tstate_eval_breaker;    /* 3.13: uintptr_t, per thread */
	int32_t eval_breaker_calls_bit; /* value or'ed in for pending calls */

	/* dump --locals: a frame's fast locals and the objects rendered. */
	int32_t frame_localsplus;       /* <=3.10 PyFrameObject.f_localsplus */
	int32_t iframe_localsplus;      /* 3.11+ _PyInterpreterFrame.localsplus
	                                   (3.14+ _PyStackRef, tagged) */
	int32_t code_nlocals;           /* <=3.10 int: co_varnames' count */
	int32_t code_varnames;          /* <=3.10 tuple, then cellvars and */
	int32_t code_cellvars;          /*   freevars: f_localsplus in that */
	int32_t code_freevars;          /*   order */
	int32_t code_nlocalsplus;       /* 3.11+ int */
	int32_t code_localsplusnames;   /* 3.11+ tuple */
	int32_t code_localspluskinds;   /* 3.11+ bytes, one CO_FAST_* each */
	int32_t fast_hidden;            /* 3.12+ CO_FAST_HIDDEN (comprehension) */
	int32_t fast_local, fast_cell, fast_free; /* 3.11+ CO_FAST_* */
	int32_t code_argcount;          /* int, positional ones included */
	int32_t code_kwonlyargcount;    /* 3.x int */
	int32_t co_varargs, co_varkeywords; /* co_flags bits: *args, **kw */
	int32_t cell_ref;               /* PyCellObject.ob_ref */
	int32_t long_digits;            /* PyLongObject ob_digit[] */
	int32_t long_tag;               /* 3.12+ lv_tag: digits << non_size_bits
	                                   | sign (0 +, 1 zero, 2 -); before,
	                                   ob_size is the signed digit count */
	int32_t long_non_size_bits;     /* 3.12+ */
	int32_t long_shift;             /* PyLong_SHIFT (bits per digit) */
	int32_t long_digit_size;        /* sizeof(digit) */
	int32_t int_ival;               /* 2.7 PyIntObject.ob_ival (long) */
	int32_t float_fval;             /* PyFloatObject.ob_fval (double) */
	int32_t dict_used;              /* PyDictObject.ma_used */
	int32_t set_used;               /* PySetObject.used */

	/* 3.13+: the layout of _Py_DebugOffsets itself, which grows with each
	 * minor version. dbg_size is its size; each dbg_X is where in it the
	 * value of member X above lies (a uint64_t), or PYV_NONE when this
	 * version's _Py_DebugOffsets does not describe X. At run time those
	 * members are read from the target's _Py_DebugOffsets, validated,
	 * instead of taken from this table. */
	int32_t dbg_size;
	int32_t dbg_free_threaded;
	int32_t dbg_runtime_size, dbg_runtime_interpreters_head;
	int32_t dbg_interp_size, dbg_interp_next, dbg_interp_tstate_head;
	int32_t dbg_interp_ceval_gil;
	int32_t dbg_interp_gil;         /* interpreter_state.gil_runtime_state:
	                                   the embedded _gil, from which ... */
	int32_t dbg_gil_locked, dbg_gil_last_holder; /* ... these two count */
	int32_t dbg_tstate_size, dbg_tstate_next, dbg_tstate_interp;
	int32_t dbg_tstate_current_frame, dbg_tstate_base_frame;
	int32_t dbg_tstate_thread_id, dbg_tstate_native_thread_id;
	int32_t dbg_tstate_eval_breaker;
	int32_t dbg_iframe_size, dbg_iframe_code, dbg_iframe_previous;
	int32_t dbg_iframe_instr, dbg_iframe_owner;
	int32_t dbg_code_size, dbg_code_filename, dbg_code_name, dbg_code_qualname;
	int32_t dbg_code_firstlineno, dbg_code_linetable, dbg_code_code_adaptive;
	int32_t dbg_object_type, dbg_type_name, dbg_varobject_size;
	int32_t dbg_unicode_length, dbg_unicode_state, dbg_unicode_ascii_size;
	int32_t dbg_unicode_compact_size, dbg_bytes_sval, dbg_tuple_items;
	int32_t dbg_gen_iframe, dbg_gen_frame_state;

	/* pytrace dump --tasks (src/python/asyncio.c, src/python/pydict.c):
	 * sys.modules, dicts (3.11+: their private layout), instance dicts,
	 * sets, weak references, lists, and a suspended frame's stack top. */
	int32_t interp_modules;         /* sys.modules (3.12+ imports.modules) */
	int32_t type_size, type_flags, type_basicsize, type_dictoffset, type_base;
	int32_t heaptype_size;
	int32_t heaptype_cached_keys;   /* 3.11+: shared keys of instances */
	int32_t list_size, list_items;
	int32_t set_size, set_mask, set_table, setentry_size, setentry_key;
	int32_t weakref_size, weakref_object;
	int32_t dict_size, dict_keys, dict_values;
	int32_t dictkeys_size, dictkeys_log2_size, dictkeys_log2_index_bytes;
	int32_t dictkeys_kind, dictkeys_nentries, dictkeys_indices;
	int32_t dictkeys_kind_general;  /* DICT_KEYS_GENERAL */
	int32_t dictentry_size, dictentry_key, dictentry_value;
	int32_t dictuentry_size, dictuentry_key, dictuentry_value;
	int32_t dictvalues_values;      /* PyDictValues.values[] */
	int32_t dictvalues_valid;       /* 3.13+: uint8, inline values valid */
	int32_t tpflags_managed_dict;   /* 3.11+ Py_TPFLAGS_MANAGED_DICT */
	int32_t tpflags_inline_values;  /* 3.13+ Py_TPFLAGS_INLINE_VALUES */
	int32_t managed_dict_offset;    /* 3.11+: dict pointer before obj (<0) */
	int32_t managed_values_offset;  /* 3.11: values pointer before obj */
	int32_t managed_dict_tagged;    /* 3.12: low bit set: values - 1 */
	int32_t tstate_impl_size;       /* 3.14+: sizeof(_PyThreadStateImpl) */
	int32_t tstate_asyncio_tasks_head; /* 3.14+: _PyThreadStateImpl llist */
	int32_t tstate_asyncio_running_task; /* 3.14+: PyObject* */
	int32_t interp_asyncio_tasks_head; /* 3.14+: tasks of exited threads */
	int32_t llist_next;             /* 3.14+: struct llist_node.next */
	int32_t gen_frame;              /* <=3.10: PyGenObject.gi_frame */
	int32_t code_code;              /* <=3.10: co_code (bytes) */
	int32_t opcode_yield_from;      /* <=3.10: YIELD_FROM */
	int32_t frame_executing;        /* 3.7-3.9: char f_executing */
	int32_t frame_state_executing;  /* 3.10: FRAME_EXECUTING */
	int32_t frame_valuestack;       /* 3.10: PyObject **f_valuestack */
	int32_t frame_stackdepth;       /* 3.10: int f_stackdepth */
	int32_t long_lv_tag;            /* 3.12+: digit count << 3 | sign */
	int32_t iframe_stacktop;        /* 3.11-3.13: int, index in localsplus */
	int32_t iframe_stackpointer;    /* 3.14+: _PyStackRef* */
	int32_t yield_from_depth;       /* 3.11+: slots from the stack top down
	                                   to a suspended await's receiver */
	int32_t opcode_resume;          /* 3.11/3.12: RESUME */
	int32_t opcode_resume_quick;    /* 3.11: RESUME_QUICK */
	int32_t opcode_resume_instrumented; /* 3.12: INSTRUMENTED_RESUME */
	int32_t gen_state_created;      /* 3.11+: FRAME_CREATED */
	int32_t gen_state_executing;    /* 3.11+: FRAME_EXECUTING */
	int32_t gen_state_suspended_yield_from; /* 3.13+ */
	int32_t cfunc_module;           /* PyCFunctionObject.m_module: its __module__ */
	int32_t interp_jit;             /* 3.14+: bool, the JIT compiles hot code
	                                   (a JIT build run with PYTHON_JIT=1) */
};

extern const struct pyv_offsets pyv_offsets_27, pyv_offsets_36,
	pyv_offsets_37, pyv_offsets_38, pyv_offsets_39, pyv_offsets_310,
	pyv_offsets_311, pyv_offsets_312, pyv_offsets_313, pyv_offsets_313d, pyv_offsets_313t,
	pyv_offsets_314, pyv_offsets_314d, pyv_offsets_315, pyv_offsets_315d;

/* The generated table for a build flavour, or NULL if none. */
const struct pyv_offsets *pyv_offsets_for(int major, int minor, bool free_threaded, bool debug);
/* The newest major.minor any table describes. */
void pyv_offsets_newest(int *major, int *minor);

#endif
