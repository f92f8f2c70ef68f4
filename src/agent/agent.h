/* SPDX-License-Identifier: MIT */
/* The contract between pytrace and the agent it loads into a target: the
 * blob header, the context pytrace fills in, and the shared event ring. */
#ifndef PYTRACE_AGENT_AGENT_H
#define PYTRACE_AGENT_AGENT_H

/*
 * This header is compiled twice: into pytrace (hosted C17) and into the
 * agent (freestanding, no libc). It may use only <stdint.h> and must not
 * depend on either side's other headers. Every struct here is shared
 * memory between two builds of two programs, so fields have fixed widths
 * and explicit padding, and PT_AGENT_ABI changes whenever a layout does.
 */

#include <stdint.h>

#define PT_AGENT_MAGIC 0x746e656761747970ull   /* "pytagent" */
#define PT_RING_MAGIC 0x676e697274797470ull    /* "ptyrting" */
#define PT_FORK_GUARD_MAGIC 0x64726175676b726full /* "orkguard" */
#define PT_AGENT_ABI 5

/* At offset 0 of the blob. Every "off" is a byte offset from the blob's
 * load address. [0, text_size) is mapped read+execute, the rest
 * read+write; pytrace maps mem_size bytes (data + bss), zeroed. */
struct pt_agent_header {
	uint64_t magic;
	uint32_t abi;
	uint32_t header_size;
	uint64_t image_size;        /* bytes of the blob to copy */
	uint64_t text_size;         /* page aligned */
	uint64_t mem_size;          /* page aligned, >= image_size */
	uint64_t off_ctx;           /* struct pt_agent_ctx */
	uint64_t off_install;       /* int agent_install(void *): pending call */
	uint64_t off_profile;       /* Py_tracefunc, for installs from outside */
	uint64_t off_call_entry;    /* entry of an injected call */
	uint64_t off_call_frame;    /* struct pt_agent_call_frame */
	uint64_t off_unused;        /* 0 (was a "syscall; int3" trap: nothing
	                               in the agent may need a live tracer) */
	uint64_t off_eval3;         /* PEP 523 hook, (tstate, frame, throw): 3.9+ */
	uint64_t off_eval2;         /* PEP 523 hook, (frame, throw): 3.6-3.8 */
};

/* Event kinds in a record. */
enum pt_flow_kind {
	PT_EV_CALL = 1,          /* a Python function starts */
	PT_EV_RETURN = 2,        /* ... returns normally */
	PT_EV_UNWIND = 3,        /* ... exits by an exception */
	PT_EV_RESUME = 4,        /* a generator/coroutine resumes */
	PT_EV_YIELD = 5,         /* ... suspends (yield, await) */
	PT_EV_THROW = 6,         /* ... resumes with an exception thrown in */
	PT_EV_C_CALL = 7,        /* a builtin / C function is called */
	PT_EV_C_RETURN = 8,
	PT_EV_C_RAISE = 9,
	/* Descriptions, written before the first event that needs them and
	 * followed by ceil(aux / sizeof(record)) records of payload bytes. */
	PT_EV_DEF_CODE = 16,     /* object: code object; tid: co_firstlineno;
	                            payload: struct pt_def_code + name + file
	                            + line table */
	PT_EV_DEF_NAME = 17,     /* object: PyMethodDef, type or module name
	                            (a str); payload: its name (ml_name,
	                            tp_name; a module's name after the byte
	                            PT_DEF_NAME_MODULE) */
};

/* The first byte of a module's PT_EV_DEF_NAME payload: no type or
 * function name starts with it. */
#define PT_DEF_NAME_MODULE "\x01"


struct pt_def_code {
	uint32_t name_len;       /* qualified name where the version has one */
	uint32_t file_len;
	uint32_t table_len;      /* co_lnotab / co_linetable bytes */
	uint32_t flags;          /* co_flags */
};

/* One event. object is the code object (kept alive by the agent until
 * it detaches, so its address is not reused meanwhile) or, for C events,
 * the PyMethodDef of the called function; aux is then the type of its
 * self argument (0 if none). offset is the bytecode offset in bytes
 * (PT_REC_NO_OFFSET when there is none). */
struct pt_ring_record {
	uint64_t object;
	uint64_t aux;
	uint64_t ts;             /* CLOCK_MONOTONIC ns; 0 without timestamps */
	int32_t tid;             /* kernel thread id */
	uint32_t kind_offset;    /* kind in the low 8 bits, offset above */
};
#define PT_REC_NO_OFFSET 0xffffffu
#define PT_REC_KIND(r) ((r)->kind_offset & 0xffu)
#define PT_REC_OFFSET(r) ((r)->kind_offset >> 8)

/* Agent states, in ctx->state and mirrored in the ring header. */
enum pt_agent_state {
	PT_AGENT_LOADED = 0,     /* not installed yet */
	PT_AGENT_INSTALLED = 1,  /* hooks set, events flowing */
	PT_AGENT_DRAINING = 2,   /* uninstalling: waits for the ring to empty */
	PT_AGENT_DETACHED = 3,   /* hooks removed; the ring is not touched */
	PT_AGENT_FAILED = 4,     /* install failed: see error/error_step */
};

/* Why an install failed (ctx->error). */
enum pt_agent_error {
	PT_AGENT_OK = 0,
	PT_AGENT_E_PROFILER = 1, /* another profile function is installed */
	PT_AGENT_E_NOTOOL = 2,   /* no free sys.monitoring tool id */
	PT_AGENT_E_PYTHON = 3,   /* a Python API call failed (error_step) */
	PT_AGENT_E_NOMEM = 4,
};

/* How long the agent waits for room in a full ring before it drops events
 * (a consumer that stalls must not freeze the target). */
#define PT_FLOW_RING_WAIT_MS 1000

/* The shared ring: a memfd mapped by pytrace and the target, one consumer
 * (pytrace). With a GIL, one producer at a time (the agent, under the GIL).
 * Free-threaded, many: each reserves its records with a compare-and-swap
 * on ctx.head (only once there is room, so nothing reserved is ever
 * dropped), writes them, marks them written; whichever thread finds the
 * group at head marked moves head past it (and on), so head always means
 * "every record below is written" for the consumer, no thread waits for
 * another, and each thread's records stay in its own order. */
struct pt_ring_header {
	uint64_t magic;
	uint32_t abi;
	uint32_t record_size;
	uint64_t capacity;       /* records, a power of two */
	uint64_t data_offset;    /* from the start of this header */
	uint8_t pad0[32];
	/* written by the producer */
	volatile uint64_t head;  /* records written so far */
	volatile uint32_t producer_waiting;
	volatile uint32_t state; /* enum pt_agent_state */
	volatile uint64_t dropped;
	volatile uint64_t stalls;  /* times the producer slept on a full ring */
	volatile uint64_t skipped; /* events the predicates (struct
	                              pt_agent_filter) kept out of the ring */
	volatile uint32_t untraced_children; /* fork children that ran Python
	                                        and removed their hooks */
	uint8_t pad1[20];
	/* written by the consumer */
	volatile uint64_t tail;  /* records consumed so far */
	volatile uint32_t wake;  /* futex word the producer sleeps on */
	uint8_t pad2[52];
};

/* Offsets the agent needs, copied from pytrace's generated tables
 * (-1 where a version lacks the field). */
struct pt_agent_offsets {
	int32_t object_type;
	int32_t frame_code;          /* <=3.10 PyFrameObject.f_code */
	int32_t frame_lasti;         /* <=3.10, int */
	int32_t frame_stacktop;      /* <=3.9 */
	int32_t frame_state;         /* 3.10 */
	int32_t frame_state_suspended;
	int32_t frame_frame;         /* 3.11: PyFrameObject.f_frame */
	int32_t iframe_code;         /* 3.11 */
	int32_t iframe_instr;        /* 3.11 prev_instr */
	int32_t iframe_owner;
	int32_t owner_generator;
	int32_t gen_iframe;
	int32_t gen_frame_state;
	int32_t gen_state_suspended;
	int32_t code_flags;
	int32_t code_code_adaptive;
	int32_t code_firsttraceable;
	int32_t lasti_scale;         /* f_lasti units to bytes: 1, or 2 (3.10) */
	int32_t tstate_c_profilefunc;
	int32_t tstate_c_profileobj;
	int32_t tstate_c_tracefunc;
	int32_t tstate_use_tracing;  /* <=3.9 */
	int32_t tstate_cframe;       /* 3.10/3.11 */
	int32_t cframe_use_tracing;
	int32_t use_tracing_on;
	int32_t cfunc_ml;
	int32_t cfunc_self;
	int32_t descr_type;
	int32_t methoddescr_method;
	int32_t mon_py_start, mon_py_resume, mon_py_return, mon_py_yield;
	int32_t mon_call, mon_py_unwind, mon_py_throw, mon_c_return, mon_c_raise;
	int32_t str_data;            /* ASCII str data: 2.7 ob_sval, 3.x
	                                sizeof(PyASCIIObject) */
	int32_t tuple_items;         /* PyTupleObject.ob_item */
	int32_t code_name;           /* co_qualname (3.11+) or co_name */
	int32_t code_filename;
	int32_t code_table;          /* co_lnotab or co_linetable */
	int32_t code_firstlineno;
	int32_t varobject_size;
	int32_t bytes_sval;          /* bytes data (2.7: str) */
	int32_t str_is_bytes;        /* 2.7: names are str (bytes) */
	int32_t unicode_length;
	int32_t unicode_state;
	uint32_t unicode_compact_bit;
	uint32_t unicode_ascii_bit;
	int32_t type_name;           /* tp_name */
	int32_t cframe_current_frame;  /* 3.12: tstate->cframe->current_frame */
	int32_t tstate_current_frame;  /* 3.13 */
	int32_t interp_eval_frame;     /* PEP 523 hook slot (3.6+) */
	int32_t eval_frame_has_tstate; /* 3.9+: the hook gets the tstate first */
	int32_t stackref_tag_bits;     /* 3.14+: tag bits of f_executable, else 0 */
	int32_t cfunc_module;          /* PyCFunctionObject.m_module */
	int32_t type_flags;            /* tp_flags */
};

/* CPython functions and objects, as addresses in the target (0: absent). */
struct pt_agent_api {
	uint64_t Py_IncRef, Py_DecRef;
	uint64_t PyEval_SetProfile;
	uint64_t _PyEval_SetProfile;          /* 3.9+ */
	uint64_t PyThreadState_Get;
	uint64_t PyInterpreterState_Head, PyInterpreterState_Next;
	uint64_t PyInterpreterState_ThreadHead, PyThreadState_Next;
	uint64_t PyGILState_Ensure, PyGILState_Release;
	uint64_t PyErr_Fetch, PyErr_Restore, PyErr_Clear;
	uint64_t PyImport_GetModuleDict, PyDict_GetItemString;
	uint64_t PyObject_GetAttrString, PyObject_SetAttrString;
	uint64_t PyObject_CallObject;
	uint64_t PyTuple_New, PyTuple_SetItem;
	uint64_t PyLong_FromLong, PyLong_AsLong;
	uint64_t PyUnicode_FromString;        /* 3.x */
	uint64_t PyUnicode_AsUTF8AndSize;     /* 3.x */
	uint64_t PyCFunction_NewEx;
	uint64_t PySys_GetObject;
	uint64_t Py_None;                     /* &_Py_NoneStruct */
	uint64_t PyCFunction_Type, PyCMethod_Type, PyMethodDescr_Type, PyModule_Type;
	uint64_t missing;                     /* 3.12+ _PyInstrumentation_MISSING */
	uint64_t _PyEval_EvalFrameDefault;    /* what the eval hook calls */
	uint64_t register_atfork;             /* libc __register_atfork */
	uint64_t clock_gettime;               /* libc */
};

enum {
	PT_AGENT_F_TIMESTAMPS = 1u << 0,
	PT_AGENT_F_CCALLS = 1u << 1,
	PT_AGENT_F_MONITORING = 1u << 2,      /* 3.12+: sys.monitoring */
	PT_AGENT_F_XSAVE = 1u << 3,           /* injected calls: xsave, else fxsave */
	PT_AGENT_F_EVALHOOK = 1u << 4,        /* 3.6-3.11: PEP 523 hook, not the
	                                         profile function */
	PT_AGENT_F_FREETHREADED = 1u << 5,    /* no GIL: events run in several
	                                         threads at once */
	PT_AGENT_F_FILTER = 1u << 6,          /* ctx.filter holds predicates */
};

/*
 * --within, --file and --function, evaluated by the agent (once per code
 * object) so that events no line could show are never recorded. pytrace
 * still applies the same rules to what it reads: the agent only leaves
 * out events whose absence cannot change a line. strings holds, each
 * NUL-terminated: the n_files --file substrings, the n_funcs --function
 * names, then (with PT_FILTER_WITHIN) the --within function and (with
 * PT_FILTER_WITHIN_FILE) its file substring.
 */
#define PT_AGENT_FILTER_BYTES 4000
enum {
	PT_FILTER_WITHIN = 1u << 0,
	PT_FILTER_WITHIN_FILE = 1u << 1,
};
struct pt_agent_filter {
	uint32_t n_files;
	uint32_t n_funcs;
	uint32_t flags;               /* PT_FILTER_* */
	uint32_t len;                 /* bytes used in strings */
	char strings[PT_AGENT_FILTER_BYTES];
};

/* An injected call: pytrace stops a thread, stores here the registers
 * the thread must continue with, points it at off_call_entry (with a
 * 16-byte aligned stack) and lets it go. The entry saves the vector state,
 * takes the GIL, runs the install, releases the GIL, restores everything
 * from here and jumps back, whether or not pytrace is still there. The
 * entry's assembly knows this layout: change both together. */
struct pt_agent_call_frame {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;   /* 0..72 */
	uint64_t rax, rcx, rdx, rsi, rdi, rip, rflags, rsp;        /* 80..136 */
	volatile uint32_t busy;  /* 144: set by pytrace, cleared last */
	volatile uint32_t done;  /* 148: set once the install ran */
};
#define PT_AGENT_XSAVE_SIZE 16384

struct pt_agent_ctx {
	/* filled in by pytrace before anything runs */
	uint32_t abi;
	uint32_t flags;
	int32_t pytrace_pid;
	int32_t lifeline;             /* read end of a pipe whose only write end
				       * pytrace holds: it hangs up when pytrace
				       * is gone, whatever PID namespace the
				       * target is in; -1 before the load */
	int32_t tid_offset;           /* kernel tid at %fs:tid_offset, or -1 */
	int32_t py_major, py_minor;
	int32_t pad0;
	uint64_t ring;                /* struct pt_ring_header in the target */
	uint64_t ring_size;
	uint64_t fork_guard;          /* a word in a MADV_WIPEONFORK page that
				       * holds PT_FORK_GUARD_MAGIC: it reads 0
				       * in a fork child from its first
				       * instruction on (0: no guard page) */
	uint64_t xsave_mask;
	struct pt_agent_offsets off;
	struct pt_agent_api api;

	/* written by pytrace later (process_vm_writev) */
	volatile uint32_t stop;       /* please uninstall at the next event */
	uint32_t pad1;

	/* agent state */
	volatile uint32_t state;      /* enum pt_agent_state */
	volatile int32_t error;       /* enum pt_agent_error */
	volatile int32_t error_step;
	volatile uint32_t forked;     /* set in a fork child */
	volatile uint32_t busy;       /* a thread is inside the agent (free-
				       * threaded: how many are) */
	int32_t tool_id;              /* sys.monitoring tool, or -1 */
	uint64_t head;                /* records reserved (with a GIL: written)
				       * so far; ring->head follows it */
	uint64_t tail_seen;           /* last ring->tail read */
	uint64_t events;
	uint64_t pinned;              /* code objects kept alive */
	uint64_t set_addr, set_cap;   /* open-addressing set of those: a table
				       * {cap, older table, keys[cap]} */
	uint64_t last_code;
	uint64_t thread_hook;         /* the hook object set in threading */
	uint64_t callbacks[10];       /* monitoring callback objects */
	uint32_t lazy_done;
	uint32_t threading_done;
	volatile uint32_t set_lock;   /* free-threaded: inserting into the set */
	volatile uint32_t install_claimed; /* the first install call runs it */
	uint32_t pad2;
	uint64_t done_size;           /* bytes mapped at done_addr */
	uint64_t done_addr;           /* free-threaded: per ring slot, the length
				       * of the group written there and not yet
				       * published (uint32_t[capacity]) */

	/* predicates (PT_AGENT_F_FILTER), filled in by pytrace */
	struct pt_agent_filter filter;
	/* their state in the agent */
	uint64_t mon_disable;         /* 3.12+: sys.monitoring.DISABLE */
	volatile uint32_t within_open; /* threads inside a --within extent */
	uint32_t within_disabled;     /* 3.12+: events turned off outside every
				       * extent; restart them at the next one */
	uint32_t within_restarts;     /* sys.monitoring.restart_events() calls */
	uint32_t pad3;
};

#endif
