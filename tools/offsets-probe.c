/* SPDX-License-Identifier: MIT */
/* Prints the struct pyv_offsets values of the CPython whose headers it is
 * compiled against, one "field value" line each, for tools/gen-offsets. */

/*
 * This file is built once per CPython installation, against that version's
 * own headers, so that no offset is ever copied by hand: the compiler that
 * lays out CPython's structs computes them. Version conditionals are fine
 * here (and only here): they pick which headers and fields exist.
 *
 * gen-offsets passes -I<include/pythonX.Y> and, if present, -I<.../internal>.
 * Everything else (Py_BUILD_CORE, which internal headers) is decided below
 * from patchlevel.h, so the script stays version-agnostic.
 */

#include <patchlevel.h>

#if PY_VERSION_HEX >= 0x03100000
/* gen-offsets looks for this marker and skips the installation. */
#error "pytrace-unsupported-version: teach tools/offsets-probe.c this version first"
#endif
#if PY_VERSION_HEX < 0x02070000 || (PY_VERSION_HEX >= 0x03000000 && PY_VERSION_HEX < 0x03060000)
#error "pytrace-unsupported-version: pytrace supports 2.7 and 3.6+"
#endif

/* The interpreter and runtime structs are private from 3.7 on; their
 * headers refuse to compile without Py_BUILD_CORE. */
#if PY_VERSION_HEX >= 0x03070000
#define Py_BUILD_CORE 1
#endif

/* Checked before the rest of the headers, whose own errors would bury it. */
#include <pyconfig.h>
#if defined(Py_TRACE_REFS)
/* It changes the object header. gen-offsets looks for this marker and
 * skips the installation. */
#error "pytrace-unsupported-build: Py_TRACE_REFS build"
#endif
#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030E0000
/* 3.14t runs per-thread bytecode (co_tlbc[tlbc_index]), which the walker
 * does not read yet: no table, so the build is refused by name. */
#error "pytrace-unsupported-build: free-threaded 3.14+ (per-thread bytecode)"
#endif
#if defined(Py_DEBUG) && PY_VERSION_HEX < 0x030D0000
/* Debug builds are read from 3.13 on (their _Py_DebugOffsets is checked
 * against a table generated from the debug headers). */
#error "pytrace-unsupported-build: debug build before 3.13"
#endif

#include <Python.h>
#include <frameobject.h>

#if PY_VERSION_HEX >= 0x03090000
#include <pycore_runtime.h>   /* _PyRuntimeState */
#include <pycore_interp.h>    /* PyInterpreterState, struct _gil_runtime_state */
#elif PY_VERSION_HEX >= 0x03080000
#include <pycore_pystate.h>   /* _PyRuntimeState, PyInterpreterState */
#elif PY_VERSION_HEX >= 0x03070000
#include <internal/pystate.h> /* _PyRuntimeState */
#endif
#if PY_VERSION_HEX >= 0x030E0000
#include <pycore_frame.h>     /* PyFrameObject, FRAME_SUSPENDED */
#include <pycore_interpframe.h> /* _PyInterpreterFrame, enum _frameowner */
#include <pycore_stackref.h>  /* Py_TAG_BITS */
#include <pycore_debug_offsets.h> /* _Py_DebugOffsets */
#include <pycore_tstate.h>    /* _PyThreadStateImpl */
#elif PY_VERSION_HEX >= 0x030B0000
#include <pycore_frame.h>     /* _PyInterpreterFrame, enum _frameowner */
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x030B0000
#include <opcode.h>           /* YIELD_FROM */
#endif
#if PY_VERSION_HEX >= 0x030B0000
#include <pycore_dict.h>      /* PyDictKeysObject, PyDictValues */
#include <pycore_object.h>    /* MANAGED_DICT_OFFSET */
#include <opcode.h>           /* RESUME */
#endif
#if PY_VERSION_HEX >= 0x030D0000
#include <pycore_ceval.h>     /* _PY_CALLS_TO_DO_BIT */
#elif PY_VERSION_HEX >= 0x030C0000
#include <pycore_instruments.h> /* PY_MONITORING_EVENT_* (3.13: public) */
#endif

#if PY_VERSION_HEX < 0x030B0000
#include <longintrepr.h>      /* PyLongObject, digit (3.11+: via Python.h) */
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* gen-offsets matches these names against struct pyv_offsets. */
#define OFF(field, type, member) printf("%s %ld\n", #field, (long)offsetof(type, member))
#define SIZE(field, type)        printf("%s %ld\n", #field, (long)sizeof(type))
#define VAL(field, v)            printf("%s %ld\n", #field, (long)(v))
#define HEX(field, v)            printf("%s 0x%lx\n", #field, (unsigned long)(v))
#define NONE(field)              printf("%s PYV_NONE\n", #field)

#if PY_MAJOR_VERSION >= 3
/* The unicode state word as the compiler laid it out, so bit positions are
 * observed rather than assumed from the declaration order. */
static uint32_t unicode_state_word(const PyASCIIObject *o)
{
	uint32_t w;

	memcpy(&w, (const char *)o + offsetof(PyASCIIObject, state), sizeof(w));
	return w;
}

static int lowest_bit(uint32_t mask)
{
	int shift = 0;

	while (mask && !(mask & 1)) {
		mask >>= 1;
		shift++;
	}
	return shift;
}

static void print_unicode_bits(void)
{
	PyASCIIObject o;
	uint32_t kind, compact, ascii;

	/* Every bit of the 3-bit kind field set, then each flag alone. */
	memset(&o, 0, sizeof(o));
	o.state.kind = 7;
	kind = unicode_state_word(&o);
	memset(&o, 0, sizeof(o));
	o.state.compact = 1;
	compact = unicode_state_word(&o);
	memset(&o, 0, sizeof(o));
	o.state.ascii = 1;
	ascii = unicode_state_word(&o);

	HEX(unicode_kind_mask, kind);
	VAL(unicode_kind_shift, lowest_bit(kind));
	HEX(unicode_compact_bit, compact);
	HEX(unicode_ascii_bit, ascii);
}
#endif

/* dump --locals: where a frame keeps its fast locals, how the code object
 * names them, and the objects whose values are rendered. */
static void print_locals_offsets(void)
{
#if PY_VERSION_HEX < 0x030B0000
	OFF(frame_localsplus, PyFrameObject, f_localsplus);
	NONE(iframe_localsplus);
	OFF(code_nlocals, PyCodeObject, co_nlocals);
	OFF(code_varnames, PyCodeObject, co_varnames);
	OFF(code_cellvars, PyCodeObject, co_cellvars);
	OFF(code_freevars, PyCodeObject, co_freevars);
	NONE(code_nlocalsplus);
	NONE(code_localsplusnames);
	NONE(code_localspluskinds);
	NONE(fast_hidden);
	NONE(fast_local);
	NONE(fast_cell);
	NONE(fast_free);
#else
	NONE(frame_localsplus);
	OFF(iframe_localsplus, _PyInterpreterFrame, localsplus);
	NONE(code_nlocals);
	NONE(code_varnames);
	NONE(code_cellvars);
	NONE(code_freevars);
	OFF(code_nlocalsplus, PyCodeObject, co_nlocalsplus);
	OFF(code_localsplusnames, PyCodeObject, co_localsplusnames);
	OFF(code_localspluskinds, PyCodeObject, co_localspluskinds);
#ifdef CO_FAST_HIDDEN
	VAL(fast_hidden, CO_FAST_HIDDEN);
#else
	NONE(fast_hidden);
#endif
	VAL(fast_local, CO_FAST_LOCAL);
	VAL(fast_cell, CO_FAST_CELL);
	VAL(fast_free, CO_FAST_FREE);
#endif
	OFF(code_argcount, PyCodeObject, co_argcount);
#if PY_MAJOR_VERSION >= 3
	OFF(code_kwonlyargcount, PyCodeObject, co_kwonlyargcount);
#else
	NONE(code_kwonlyargcount);
#endif
	VAL(co_varargs, CO_VARARGS);
	VAL(co_varkeywords, CO_VARKEYWORDS);
	OFF(cell_ref, PyCellObject, ob_ref);
#if PY_VERSION_HEX >= 0x030C0000
	OFF(long_digits, PyLongObject, long_value.ob_digit);
	OFF(long_tag, PyLongObject, long_value.lv_tag);
	VAL(long_non_size_bits, _PyLong_NON_SIZE_BITS);
#else
	OFF(long_digits, PyLongObject, ob_digit);
	NONE(long_tag);
	NONE(long_non_size_bits);
#endif
	VAL(long_shift, PyLong_SHIFT);
	VAL(long_digit_size, sizeof(digit));
#if PY_MAJOR_VERSION < 3
	OFF(int_ival, PyIntObject, ob_ival);
#else
	NONE(int_ival);
#endif
	OFF(float_fval, PyFloatObject, ob_fval);
	OFF(dict_used, PyDictObject, ma_used);
	OFF(set_used, PySetObject, used);
}

/* pytrace flow: where profile hooks live, how a suspended generator is
 * recognised, and (3.12+) the monitoring events and pending-call queue. */
static void print_flow_offsets(void)
{
#if PY_VERSION_HEX >= 0x03070000
	OFF(runtime_initialized, _PyRuntimeState, initialized);
#else
	NONE(runtime_initialized);
#endif
#if PY_VERSION_HEX >= 0x030E0000
	OFF(interp_jit, PyInterpreterState, jit);
#else
	NONE(interp_jit);
#endif
#if PY_VERSION_HEX >= 0x03060000
	OFF(interp_eval_frame, PyInterpreterState, eval_frame);
	VAL(eval_frame_has_tstate, PY_VERSION_HEX >= 0x03090000);
#else
	NONE(interp_eval_frame);
	NONE(eval_frame_has_tstate);
#endif
	OFF(tstate_c_profilefunc, PyThreadState, c_profilefunc);
	OFF(tstate_c_profileobj, PyThreadState, c_profileobj);
	OFF(tstate_c_tracefunc, PyThreadState, c_tracefunc);
#if PY_VERSION_HEX < 0x030A0000
	OFF(tstate_use_tracing, PyThreadState, use_tracing);
	NONE(cframe_use_tracing);
	VAL(use_tracing_size, sizeof(((PyThreadState *)0)->use_tracing));
	VAL(use_tracing_on, 1);
#elif PY_VERSION_HEX < 0x030B0000
	NONE(tstate_use_tracing);
	OFF(cframe_use_tracing, CFrame, use_tracing);
	VAL(use_tracing_size, sizeof(((CFrame *)0)->use_tracing));
	VAL(use_tracing_on, 1);
#elif PY_VERSION_HEX < 0x030C0000
	NONE(tstate_use_tracing);
	OFF(cframe_use_tracing, _PyCFrame, use_tracing);
	VAL(use_tracing_size, sizeof(((_PyCFrame *)0)->use_tracing));
	/* or'ed into the opcode by DISPATCH(): must be all ones */
	VAL(use_tracing_on, (uint8_t)~0);
#else
	/* 3.12+: profile hooks are sys.monitoring tools */
	NONE(tstate_use_tracing);
	NONE(cframe_use_tracing);
	NONE(use_tracing_size);
	NONE(use_tracing_on);
#endif

#if PY_VERSION_HEX < 0x030A0000
	OFF(frame_stacktop, PyFrameObject, f_stacktop);
	NONE(frame_state);
	NONE(frame_state_suspended);
#elif PY_VERSION_HEX < 0x030B0000
	NONE(frame_stacktop);
	OFF(frame_state, PyFrameObject, f_state);
	VAL(frame_state_suspended, FRAME_SUSPENDED);
#else
	NONE(frame_stacktop);
	NONE(frame_state);
	NONE(frame_state_suspended);
#endif
#if PY_VERSION_HEX >= 0x030B0000
	OFF(frame_frame, PyFrameObject, f_frame);
	OFF(gen_iframe, PyGenObject, gi_iframe);
	OFF(gen_frame_state, PyGenObject, gi_frame_state);
	VAL(gen_state_suspended, FRAME_SUSPENDED);
#else
	NONE(frame_frame);
	NONE(gen_iframe);
	NONE(gen_frame_state);
	NONE(gen_state_suspended);
#endif
	OFF(code_flags, PyCodeObject, co_flags);
	OFF(cfunc_ml, PyCFunctionObject, m_ml);
	OFF(cfunc_self, PyCFunctionObject, m_self);
	OFF(cfunc_module, PyCFunctionObject, m_module);
	OFF(descr_type, PyDescrObject, d_type);
	OFF(methoddescr_method, PyMethodDescrObject, d_method);
	OFF(methoddef_name, PyMethodDef, ml_name);
	OFF(tuple_items, PyTupleObject, ob_item);

#if PY_VERSION_HEX >= 0x030C0000
	VAL(mon_py_start, PY_MONITORING_EVENT_PY_START);
	VAL(mon_py_resume, PY_MONITORING_EVENT_PY_RESUME);
	VAL(mon_py_return, PY_MONITORING_EVENT_PY_RETURN);
	VAL(mon_py_yield, PY_MONITORING_EVENT_PY_YIELD);
	VAL(mon_call, PY_MONITORING_EVENT_CALL);
	VAL(mon_py_unwind, PY_MONITORING_EVENT_PY_UNWIND);
	VAL(mon_py_throw, PY_MONITORING_EVENT_PY_THROW);
	VAL(mon_c_return, PY_MONITORING_EVENT_C_RETURN);
	VAL(mon_c_raise, PY_MONITORING_EVENT_C_RAISE);

	OFF(interp_ceval_pending, PyInterpreterState, ceval.pending);
	OFF(pending_calls, struct _pending_calls, calls);
	SIZE(pending_call_size, struct _pending_call);
	VAL(pending_ncalls, sizeof(((struct _pending_calls *)0)->calls) /
			    sizeof(struct _pending_call));
	OFF(pending_first, struct _pending_calls, first);
#else
	NONE(mon_py_start);
	NONE(mon_py_resume);
	NONE(mon_py_return);
	NONE(mon_py_yield);
	NONE(mon_call);
	NONE(mon_py_unwind);
	NONE(mon_py_throw);
	NONE(mon_c_return);
	NONE(mon_c_raise);
	NONE(interp_ceval_pending);
	NONE(pending_calls);
	NONE(pending_call_size);
	NONE(pending_ncalls);
	NONE(pending_first);
#endif
#if PY_VERSION_HEX >= 0x030D0000
	NONE(pending_busy);
	OFF(pending_handling_thread, struct _pending_calls, handling_thread);
	NONE(pending_lock);
	OFF(pending_mutex, struct _pending_calls, mutex);
	NONE(pending_calls_to_do);
	OFF(pending_npending, struct _pending_calls, npending);
	OFF(pending_max, struct _pending_calls, max);
	NONE(pending_last);
	OFF(pending_next, struct _pending_calls, next);
	NONE(interp_eval_breaker);
	OFF(tstate_eval_breaker, PyThreadState, eval_breaker);
	VAL(eval_breaker_calls_bit, _PY_CALLS_TO_DO_BIT);
#elif PY_VERSION_HEX >= 0x030C0000
	OFF(pending_busy, struct _pending_calls, busy);
	NONE(pending_handling_thread);
	OFF(pending_lock, struct _pending_calls, lock);
	NONE(pending_mutex);
	OFF(pending_calls_to_do, struct _pending_calls, calls_to_do);
	NONE(pending_npending);
	NONE(pending_max);
	OFF(pending_last, struct _pending_calls, last);
	NONE(pending_next);
	OFF(interp_eval_breaker, PyInterpreterState, ceval.eval_breaker);
	NONE(tstate_eval_breaker);
	VAL(eval_breaker_calls_bit, 1);
#else
	NONE(pending_busy);
	NONE(pending_handling_thread);
	NONE(pending_lock);
	NONE(pending_mutex);
	NONE(pending_calls_to_do);
	NONE(pending_npending);
	NONE(pending_max);
	NONE(pending_last);
	NONE(pending_next);
	NONE(interp_eval_breaker);
	NONE(tstate_eval_breaker);
	NONE(eval_breaker_calls_bit);
#endif
}

/* Where in _Py_DebugOffsets (3.13+) the value of each table member lies:
 * dbg_X for member X, PYV_NONE where this version's struct lacks it. */
#if PY_VERSION_HEX >= 0x030D0000
#define DBG(member, path)	OFF(dbg_##member, _Py_DebugOffsets, path)
#else
#define DBG(member, path)	NONE(dbg_##member)
#endif
#if PY_VERSION_HEX >= 0x030E0000
#define DBG314(member, path)	DBG(member, path)
#else
#define DBG314(member, path)	NONE(dbg_##member)
#endif
#if PY_VERSION_HEX >= 0x030F0000
#define DBG315(member, path)	DBG(member, path)
#else
#define DBG315(member, path)	NONE(dbg_##member)
#endif

static void print_debug_offsets_layout(void)
{
#if PY_VERSION_HEX >= 0x030D0000
	SIZE(dbg_size, _Py_DebugOffsets);
#else
	NONE(dbg_size);
#endif
	DBG(free_threaded, free_threaded);
	DBG(runtime_size, runtime_state.size);
	DBG(runtime_interpreters_head, runtime_state.interpreters_head);
	DBG(interp_size, interpreter_state.size);
	DBG(interp_next, interpreter_state.next);
	DBG(interp_tstate_head, interpreter_state.threads_head);
	DBG(interp_ceval_gil, interpreter_state.ceval_gil);
	DBG(interp_gil, interpreter_state.gil_runtime_state);
	DBG(gil_locked, interpreter_state.gil_runtime_state_locked);
	DBG(gil_last_holder, interpreter_state.gil_runtime_state_holder);
	DBG(tstate_size, thread_state.size);
	DBG(tstate_next, thread_state.next);
	DBG(tstate_interp, thread_state.interp);
	DBG(tstate_current_frame, thread_state.current_frame);
	DBG315(tstate_base_frame, thread_state.base_frame);
	DBG(tstate_thread_id, thread_state.thread_id);
	DBG(tstate_native_thread_id, thread_state.native_thread_id);
	DBG314(tstate_eval_breaker, debugger_support.eval_breaker);
	DBG(iframe_size, interpreter_frame.size);
	DBG(iframe_code, interpreter_frame.executable);
	DBG(iframe_previous, interpreter_frame.previous);
	DBG(iframe_instr, interpreter_frame.instr_ptr);
	DBG(iframe_owner, interpreter_frame.owner);
	DBG(code_size, code_object.size);
	DBG(code_filename, code_object.filename);
	DBG(code_name, code_object.name);
	DBG(code_qualname, code_object.qualname);
	DBG(code_firstlineno, code_object.firstlineno);
	DBG(code_linetable, code_object.linetable);
	DBG(code_code_adaptive, code_object.co_code_adaptive);
	DBG(object_type, pyobject.ob_type);
	DBG(type_name, type_object.tp_name);
	DBG(varobject_size, bytes_object.ob_size);
	DBG(unicode_length, unicode_object.length);
	DBG(unicode_state, unicode_object.state);
	DBG(unicode_ascii_size, unicode_object.asciiobject_size);
	DBG315(unicode_compact_size, unicode_object.compactunicodeobject_size);
	DBG(bytes_sval, bytes_object.ob_sval);
	DBG(tuple_items, tuple_object.ob_item);
	DBG314(gen_iframe, gen_object.gi_iframe);
	DBG314(gen_frame_state, gen_object.gi_frame_state);
}

/* pytrace dump --tasks: what it takes to find asyncio's task registries
 * (sys.modules, module and instance dicts, sets, weak references) and to
 * follow a suspended coroutine to what it awaits (the frame's stack top). */
static void print_asyncio_offsets(void)
{
#if PY_VERSION_HEX >= 0x030C0000
	OFF(interp_modules, PyInterpreterState, imports.modules);
#elif PY_VERSION_HEX >= 0x03070000
	OFF(interp_modules, PyInterpreterState, modules);
#else
	NONE(interp_modules);
#endif
	SIZE(type_size, PyTypeObject);
	OFF(type_flags, PyTypeObject, tp_flags);
	OFF(type_basicsize, PyTypeObject, tp_basicsize);
	OFF(type_dictoffset, PyTypeObject, tp_dictoffset);
	OFF(type_base, PyTypeObject, tp_base);
	SIZE(heaptype_size, PyHeapTypeObject);
	SIZE(list_size, PyListObject);
	OFF(list_items, PyListObject, ob_item);
	SIZE(set_size, PySetObject);
	OFF(set_mask, PySetObject, mask);
	OFF(set_table, PySetObject, table);
	SIZE(setentry_size, setentry);
	OFF(setentry_key, setentry, key);
	SIZE(weakref_size, PyWeakReference);
	OFF(weakref_object, PyWeakReference, wr_object);
#if PY_MAJOR_VERSION >= 3
	SIZE(dict_size, PyDictObject);
	OFF(dict_keys, PyDictObject, ma_keys);
	OFF(dict_values, PyDictObject, ma_values);
#else
	NONE(dict_size);
	NONE(dict_keys);
	NONE(dict_values);
#endif
#if PY_VERSION_HEX >= 0x030B0000
	/* The dict internals are private headers from 3.11 on; 3.7-3.10 keep
	 * them in Objects/dict-common.h, which no installation ships. */
	OFF(heaptype_cached_keys, PyHeapTypeObject, ht_cached_keys);
	SIZE(dictkeys_size, PyDictKeysObject);
	OFF(dictkeys_log2_size, PyDictKeysObject, dk_log2_size);
	OFF(dictkeys_log2_index_bytes, PyDictKeysObject, dk_log2_index_bytes);
	OFF(dictkeys_kind, PyDictKeysObject, dk_kind);
	OFF(dictkeys_nentries, PyDictKeysObject, dk_nentries);
	OFF(dictkeys_indices, PyDictKeysObject, dk_indices);
	VAL(dictkeys_kind_general, DICT_KEYS_GENERAL);
	SIZE(dictentry_size, PyDictKeyEntry);
	OFF(dictentry_key, PyDictKeyEntry, me_key);
	OFF(dictentry_value, PyDictKeyEntry, me_value);
	SIZE(dictuentry_size, PyDictUnicodeEntry);
	OFF(dictuentry_key, PyDictUnicodeEntry, me_key);
	OFF(dictuentry_value, PyDictUnicodeEntry, me_value);
	OFF(dictvalues_values, PyDictValues, values);
	HEX(tpflags_managed_dict, Py_TPFLAGS_MANAGED_DICT);
#else
	NONE(heaptype_cached_keys);
	NONE(dictkeys_size);
	NONE(dictkeys_log2_size);
	NONE(dictkeys_log2_index_bytes);
	NONE(dictkeys_kind);
	NONE(dictkeys_nentries);
	NONE(dictkeys_indices);
	NONE(dictkeys_kind_general);
	NONE(dictentry_size);
	NONE(dictentry_key);
	NONE(dictentry_value);
	NONE(dictuentry_size);
	NONE(dictuentry_key);
	NONE(dictuentry_value);
	NONE(dictvalues_values);
	NONE(tpflags_managed_dict);
#endif
	/* Where a managed dict (or its values) lies before the object. */
#if PY_VERSION_HEX >= 0x030D0000
	VAL(managed_dict_offset, MANAGED_DICT_OFFSET);
	NONE(managed_values_offset);
	VAL(managed_dict_tagged, 0);
	HEX(tpflags_inline_values, Py_TPFLAGS_INLINE_VALUES);
	OFF(dictvalues_valid, PyDictValues, valid);
#elif PY_VERSION_HEX >= 0x030C0000
	/* _PyObject_DictOrValuesPointer(): ((PyDictOrValues *)obj)-3, values
	 * tagged by the low bit (_PyDictOrValues_GetValues: values + 1). */
	VAL(managed_dict_offset, -3 * (long)sizeof(PyDictOrValues));
	NONE(managed_values_offset);
	VAL(managed_dict_tagged, 1);
	NONE(tpflags_inline_values);
	NONE(dictvalues_valid);
#elif PY_VERSION_HEX >= 0x030B0000
	VAL(managed_dict_offset, MANAGED_DICT_OFFSET);
	/* _PyObject_ValuesPointer(): ((PyDictValues **)obj)-4 */
	VAL(managed_values_offset, -4 * (long)sizeof(PyDictValues *));
	VAL(managed_dict_tagged, 0);
	NONE(tpflags_inline_values);
	NONE(dictvalues_valid);
#else
	NONE(managed_dict_offset);
	NONE(managed_values_offset);
	NONE(managed_dict_tagged);
	NONE(tpflags_inline_values);
	NONE(dictvalues_valid);
#endif
	/* 3.14+: the C _asyncio module links its tasks into per-thread lists
	 * (what python -m asyncio pstree reads), not into _scheduled_tasks. */
#if PY_VERSION_HEX >= 0x030E0000
	SIZE(tstate_impl_size, _PyThreadStateImpl);
	OFF(tstate_asyncio_tasks_head, _PyThreadStateImpl, asyncio_tasks_head);
	OFF(tstate_asyncio_running_task, _PyThreadStateImpl, asyncio_running_task);
	OFF(interp_asyncio_tasks_head, PyInterpreterState, asyncio_tasks_head);
	OFF(llist_next, struct llist_node, next);
#else
	NONE(llist_next);
	NONE(tstate_impl_size);
	NONE(tstate_asyncio_tasks_head);
	NONE(tstate_asyncio_running_task);
	NONE(interp_asyncio_tasks_head);
#endif
	/* <=3.10: a coroutine's frame is a PyFrameObject (gi_frame), running
	 * while f_executing (3.10: f_state == FRAME_EXECUTING), and awaits its
	 * stack top when the next instruction in co_code is YIELD_FROM. */
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x030B0000
	OFF(gen_frame, PyGenObject, gi_frame);
	OFF(code_code, PyCodeObject, co_code);
	VAL(opcode_yield_from, YIELD_FROM);
#if PY_VERSION_HEX >= 0x030A0000
	NONE(frame_executing);
	VAL(frame_state_executing, FRAME_EXECUTING);
	OFF(frame_valuestack, PyFrameObject, f_valuestack);
	OFF(frame_stackdepth, PyFrameObject, f_stackdepth);
#else
	OFF(frame_executing, PyFrameObject, f_executing);
	NONE(frame_state_executing);
	NONE(frame_valuestack);
	NONE(frame_stackdepth);
#endif
#else
	NONE(gen_frame);
	NONE(code_code);
	NONE(opcode_yield_from);
	NONE(frame_executing);
	NONE(frame_state_executing);
	NONE(frame_valuestack);
	NONE(frame_stackdepth);
#endif
	/* int (a 3.12+ task's lazy name, Task-N): 30-bit digits; the digit
	 * count in ob_size (<=3.11) or lv_tag >> 3 (3.12+), sign apart. */
#if PY_VERSION_HEX >= 0x030C0000
	OFF(long_lv_tag, PyLongObject, long_value.lv_tag);
#elif PY_MAJOR_VERSION >= 3
	NONE(long_lv_tag);
#else
	NONE(long_lv_tag);
#endif
	/* A suspended generator's yield-from target is its frame's stack top
	 * (_PyGen_yf); 3.11/3.12 tell it by the RESUME after the yield, 3.13+
	 * by the frame state. */
#if PY_VERSION_HEX >= 0x030E0000
	NONE(iframe_stacktop);
	OFF(iframe_stackpointer, _PyInterpreterFrame, stackpointer);
	/* Slots below the stack pointer to the awaited object: 3.15 suspends
	 * a SEND with a NULL slot above the receiver (_PyGen_yf peeks at
	 * stackpointer[-2]); observed by tests/e2e/test_dump_tasks.py. */
	VAL(yield_from_depth, PY_VERSION_HEX >= 0x030F0000 ? 2 : 1);
#elif PY_VERSION_HEX >= 0x030B0000
	OFF(iframe_stacktop, _PyInterpreterFrame, stacktop);
	NONE(iframe_stackpointer);
	VAL(yield_from_depth, 1);
#else
	NONE(iframe_stacktop);
	NONE(iframe_stackpointer);
	NONE(yield_from_depth);
#endif
#if PY_VERSION_HEX >= 0x030D0000
	NONE(opcode_resume);
	NONE(opcode_resume_quick);
	NONE(opcode_resume_instrumented);
	VAL(gen_state_created, FRAME_CREATED);
	VAL(gen_state_executing, FRAME_EXECUTING);
	VAL(gen_state_suspended_yield_from, FRAME_SUSPENDED_YIELD_FROM);
#elif PY_VERSION_HEX >= 0x030B0000
	VAL(opcode_resume, RESUME);
#if PY_VERSION_HEX >= 0x030C0000
	NONE(opcode_resume_quick);
	VAL(opcode_resume_instrumented, INSTRUMENTED_RESUME);
#else
	VAL(opcode_resume_quick, RESUME_QUICK);
	NONE(opcode_resume_instrumented);
#endif
	VAL(gen_state_created, FRAME_CREATED);
	VAL(gen_state_executing, FRAME_EXECUTING);
	NONE(gen_state_suspended_yield_from);
#else
	NONE(opcode_resume);
	NONE(opcode_resume_quick);
	NONE(opcode_resume_instrumented);
	NONE(gen_state_created);
	NONE(gen_state_executing);
	NONE(gen_state_suspended_yield_from);
#endif
}

int main(void)
{
	/* Must fit the 32-bit word pytrace reads; a wider state would need a
	 * change to struct pyv_offsets, so fail loudly instead. */
#if PY_MAJOR_VERSION >= 3
	if (sizeof(((PyASCIIObject *)0)->state) != sizeof(uint32_t)) {
		fprintf(stderr, "offsets-probe: unicode state is not 32 bits\n");
		return 1;
	}
#endif
	printf("version %s\n", PY_VERSION);
	VAL(major, PY_MAJOR_VERSION);
	VAL(minor, PY_MINOR_VERSION);
#ifdef Py_GIL_DISABLED
	VAL(free_threaded, 1);
#else
	VAL(free_threaded, 0);
#endif
#ifdef Py_DEBUG
	VAL(debug, 1);
#else
	VAL(debug, 0);
#endif

	/* _PyRuntimeState */
#if PY_VERSION_HEX >= 0x03070000
	SIZE(runtime_size, _PyRuntimeState);
	OFF(runtime_interpreters_head, _PyRuntimeState, interpreters.head);
#else
	NONE(runtime_size);
	NONE(runtime_interpreters_head);
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x030C0000
	OFF(runtime_gilstate_tstate_current, _PyRuntimeState, gilstate.tstate_current);
#else
	NONE(runtime_gilstate_tstate_current);
#endif

	/* PyInterpreterState */
	SIZE(interp_size, PyInterpreterState);
	OFF(interp_next, PyInterpreterState, next);
#if PY_VERSION_HEX >= 0x030B0000
	OFF(interp_tstate_head, PyInterpreterState, threads.head);
#else
	OFF(interp_tstate_head, PyInterpreterState, tstate_head);
#endif
	/* 3.12 moved the GIL from the runtime into each interpreter. */
#if PY_VERSION_HEX >= 0x030C0000
	OFF(interp_ceval_gil, PyInterpreterState, ceval.gil);
	OFF(gil_locked, struct _gil_runtime_state, locked);
	OFF(gil_last_holder, struct _gil_runtime_state, last_holder);
#else
	NONE(interp_ceval_gil);
	NONE(gil_locked);
	NONE(gil_last_holder);
#endif

	/* PyThreadState */
	SIZE(tstate_size, PyThreadState);
	OFF(tstate_next, PyThreadState, next);
	OFF(tstate_interp, PyThreadState, interp);
	OFF(tstate_thread_id, PyThreadState, thread_id);
#if PY_VERSION_HEX < 0x030B0000
	OFF(tstate_frame, PyThreadState, frame);
#if PY_VERSION_HEX >= 0x030A0000
	OFF(tstate_cframe, PyThreadState, cframe);   /* 3.10: only use_tracing */
#else
	NONE(tstate_cframe);
#endif
	NONE(tstate_root_cframe);
	NONE(tstate_current_frame);
	NONE(tstate_native_thread_id);
	NONE(cframe_current_frame);
	NONE(cframe_previous);
#elif PY_VERSION_HEX < 0x030D0000
	NONE(tstate_frame);
	OFF(tstate_cframe, PyThreadState, cframe);
	OFF(tstate_root_cframe, PyThreadState, root_cframe);
	NONE(tstate_current_frame);
	OFF(tstate_native_thread_id, PyThreadState, native_thread_id);
	OFF(cframe_current_frame, _PyCFrame, current_frame);
	OFF(cframe_previous, _PyCFrame, previous);
#else
	NONE(tstate_frame);
	NONE(tstate_cframe);
	NONE(tstate_root_cframe);
	OFF(tstate_current_frame, PyThreadState, current_frame);
	OFF(tstate_native_thread_id, PyThreadState, native_thread_id);
	NONE(cframe_current_frame);
	NONE(cframe_previous);
#endif
#if PY_VERSION_HEX >= 0x030F0000
	OFF(tstate_base_frame, PyThreadState, base_frame);
#else
	NONE(tstate_base_frame);
#endif

	/* PyFrameObject is the frame chain only up to 3.10. */
#if PY_VERSION_HEX < 0x030B0000
	SIZE(frame_size, PyFrameObject);
	OFF(frame_back, PyFrameObject, f_back);
	OFF(frame_code, PyFrameObject, f_code);
	OFF(frame_lasti, PyFrameObject, f_lasti);
#else
	NONE(frame_size);
	NONE(frame_back);
	NONE(frame_code);
	NONE(frame_lasti);
#endif

	/* _PyInterpreterFrame; the owner values are enum constants, so the
	 * compiler reads them from pycore_frame.h. */
#if PY_VERSION_HEX >= 0x030B0000
	SIZE(iframe_size, _PyInterpreterFrame);
	OFF(iframe_previous, _PyInterpreterFrame, previous);
	OFF(iframe_owner, _PyInterpreterFrame, owner);
	VAL(owner_generator, FRAME_OWNED_BY_GENERATOR);
#if PY_VERSION_HEX >= 0x030D0000
	OFF(iframe_code, _PyInterpreterFrame, f_executable);
	OFF(iframe_instr, _PyInterpreterFrame, instr_ptr);
#else
	OFF(iframe_code, _PyInterpreterFrame, f_code);
	OFF(iframe_instr, _PyInterpreterFrame, prev_instr);
#endif
#if PY_VERSION_HEX >= 0x030E0000
	/* 3.14 renumbers the owners and moves the entry frame to
	 * FRAME_OWNED_BY_INTERPRETER (3.14 keeps an unused CSTACK = 4 above
	 * it, 3.15 drops it); CPython's own test is owner >= INTERPRETER. */
	NONE(iframe_is_entry);
	VAL(owner_shim, FRAME_OWNED_BY_INTERPRETER);
	VAL(stackref_tag_bits, Py_TAG_BITS);
#elif PY_VERSION_HEX >= 0x030C0000
	NONE(iframe_is_entry);
	VAL(owner_shim, FRAME_OWNED_BY_CSTACK);
	VAL(stackref_tag_bits, 0);
#else
	OFF(iframe_is_entry, _PyInterpreterFrame, is_entry);
	NONE(owner_shim);
	VAL(stackref_tag_bits, 0);
#endif
#else
	NONE(iframe_size);
	NONE(iframe_code);
	NONE(iframe_previous);
	NONE(iframe_instr);
	NONE(iframe_is_entry);
	NONE(iframe_owner);
	NONE(owner_generator);
	NONE(owner_shim);
	NONE(stackref_tag_bits);
#endif

	/* PyCodeObject */
	SIZE(code_size, PyCodeObject);
	OFF(code_filename, PyCodeObject, co_filename);
	OFF(code_name, PyCodeObject, co_name);
	OFF(code_firstlineno, PyCodeObject, co_firstlineno);
#if PY_VERSION_HEX >= 0x030A0000
	NONE(code_lnotab);
	NONE(lnotab_signed);
	OFF(code_linetable, PyCodeObject, co_linetable);
#else
	OFF(code_lnotab, PyCodeObject, co_lnotab);
	VAL(lnotab_signed, PY_VERSION_HEX >= 0x03060000);  /* bpo-26107 */
	NONE(code_linetable);
#endif
#if PY_VERSION_HEX >= 0x030B0000
	OFF(code_qualname, PyCodeObject, co_qualname);
	OFF(code_code_adaptive, PyCodeObject, co_code_adaptive);
	OFF(code_firsttraceable, PyCodeObject, _co_firsttraceable);
#else
	NONE(code_qualname);
	NONE(code_code_adaptive);
	NONE(code_firsttraceable);
#endif

	/* Object headers */
	OFF(object_type, PyObject, ob_type);
	OFF(type_name, PyTypeObject, tp_name);
	OFF(varobject_size, PyVarObject, ob_size);

	/* Strings. 2.7: unicode_* describe the `unicode` type (a buffer
	 * pointer, no state word); `str` is PyStringObject. */
#if PY_MAJOR_VERSION >= 3
	OFF(unicode_length, PyASCIIObject, length);
	OFF(unicode_state, PyASCIIObject, state);
	SIZE(unicode_ascii_size, PyASCIIObject);
	SIZE(unicode_compact_size, PyCompactUnicodeObject);
	OFF(unicode_data, PyUnicodeObject, data);
	print_unicode_bits();
	NONE(unicode_char_size);
	NONE(string_sval);
	OFF(bytes_sval, PyBytesObject, ob_sval);
#else
	OFF(unicode_length, PyUnicodeObject, length);
	NONE(unicode_state);
	NONE(unicode_ascii_size);
	NONE(unicode_compact_size);
	OFF(unicode_data, PyUnicodeObject, str);
	NONE(unicode_kind_mask);
	NONE(unicode_kind_shift);
	NONE(unicode_compact_bit);
	NONE(unicode_ascii_bit);
	VAL(unicode_char_size, sizeof(Py_UNICODE));
	OFF(string_sval, PyStringObject, ob_sval);
	NONE(bytes_sval);
#endif
	print_flow_offsets();
	print_locals_offsets();
	print_debug_offsets_layout();
	print_asyncio_offsets();
	return 0;
}
