/* SPDX-License-Identifier: MIT */
/* The pytrace library: read the Python and native stacks of a live process.
 * It never prints and never exits; every call returns 0 or a negative
 * pt_status and fills a struct pt_error with a one-line message. */
#ifndef PYTRACE_PYTRACE_H
#define PYTRACE_PYTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Failure kinds, returned negated. The CLI maps each to an exit code. */
enum pt_status {
	PT_OK = 0,
	PT_E_INTERNAL = 1,    /* anything else: out of memory, bad ELF, ... */
	PT_E_USAGE = 2,       /* bad arguments to a library call */
	PT_E_NOPROC = 3,      /* no such process */
	PT_E_PERM = 4,        /* not allowed to read or trace the process */
	PT_E_NOTPYTHON = 5,   /* no CPython runtime found in the process */
	PT_E_VERSION = 6,     /* CPython found, but its version is unsupported */
	PT_E_EXITED = 7,      /* the process exited while being read */
};

struct pt_error {
	int status;           /* enum pt_status, positive */
	char msg[512];        /* one line, no trailing newline */
};

/* A target process: its mappings, and the CPython found in it (if any). */
typedef struct pt_process pt_process;

enum {
	PT_OPEN_ALLOW_NON_PYTHON = 1u << 0, /* succeed without a CPython runtime */
};

int pt_process_open(pid_t pid, unsigned flags, pt_process **out,
		    struct pt_error *err);
void pt_process_close(pt_process *proc);
pid_t pt_process_pid(const pt_process *proc);

/* What was found: "3.11.2" etc. (empty if not a Python process), the ELF
 * file that holds the runtime, and whether it is a supported version. */
struct pt_python_info {
	int major, minor, micro;
	char version[32];
	char runtime_path[4096];
	bool supported;
	bool from_debug_offsets; /* 3.13+: layout read from _Py_DebugOffsets */
};
const struct pt_python_info *pt_process_python(const pt_process *proc);

/* One argument or local variable of a frame (PT_SNAP_LOCALS). */
struct pt_local {
	const char *name;
	const char *type;      /* its type's tp_name, or NULL if unreadable */
	const char *value;     /* a bounded repr-like rendering, or NULL if
	                          unreadable (docs/dump.md, "--locals") */
	uint64_t addr;         /* the object */
	bool is_arg;           /* an argument (positional, keyword, *, **) */
};

/* One Python frame, innermost first. Strings are UTF-8 and owned by the
 * snapshot that holds the frame. */
struct pt_pyframe {
	const char *function;  /* qualified name where the version has one */
	const char *file;
	int line;              /* -1 if the line table gives none */
	uint64_t addr;         /* the frame struct in the target */
	bool unreadable;       /* print as <unreadable 0x{addr}> */
	bool truncated;        /* function or file longer than 4096 characters:
	                          cut there, ending in U+2026 */
	/* Grouping for the native merge: every frame up to and including one
	 * with group_end set ran in one native eval-loop invocation. anchor,
	 * on the group_end frame, is an address on that invocation's C stack
	 * (3.11 _PyCFrame, 3.12+ shim frame), or 0 where the version has none
	 * (one frame per invocation up to 3.10). */
	bool group_end;
	uint64_t anchor;
	/* The interpreter whose thread state holds the frame, numbered by
	 * creation order among those alive: 0 is the main interpreter. */
	int interp;
	/* PT_SNAP_LOCALS: the frame's bound fast locals, in the code
	 * object's order (arguments first); locals stays NULL when they
	 * could not be read. */
	size_t n_locals;
	struct pt_local *locals;
};

/* One native frame, innermost first. */
struct pt_native_frame {
	uint64_t pc;           /* as unwound: return address for callers */
	uint64_t sp;           /* stack pointer while in this frame (0: unknown) */
	const char *module;    /* file base name, or NULL */
	const char *symbol;    /* real name of the containing function, or NULL */
	uint64_t offset;       /* from the symbol, or from the module base */
	bool is_eval;          /* a function that runs bytecode */
};

/* What a thread was doing when it was stopped (py-spy's --idle). */
enum pt_thread_activity {
	PT_ACT_UNKNOWN = 0,    /* registers unreadable */
	PT_ACT_RUNNING,        /* running code, not in a system call */
	PT_ACT_SYSCALL,        /* blocked in (or making) system call `syscall` */
	PT_ACT_GIL_WAIT,       /* in a futex wait on the GIL's lock or condition */
};

struct pt_thread {
	pid_t tid;
	char name[16];         /* /proc comm */
	bool has_python;       /* has a Python thread state */
	bool holds_gil;
	enum pt_thread_activity activity;
	long syscall;          /* PT_ACT_SYSCALL, PT_ACT_GIL_WAIT: its number */
	/* Thread states that map to this thread (a frameless one made by
	 * PyThreadState_New, a child's during Thread.start() carrying this
	 * thread's id, one per interpreter it entered); frames come from the
	 * one with frames in each interpreter, innermost interpreter first. */
	size_t n_tstates;
	int n_interps;         /* interpreters whose frames py holds (0 or 1
				* unless it runs a subinterpreter) */
	size_t n_py;
	struct pt_pyframe *py;
	size_t n_native;       /* only with PT_SNAP_NATIVE */
	struct pt_native_frame *native;
	const char *native_error; /* why the native stack is missing/partial */
	const char *py_error;  /* why the Python stack is missing/partial */
};

struct pt_snapshot {
	pid_t pid;
	bool no_gil;           /* a free-threaded build: no thread holds a GIL */
	bool jit;              /* the main interpreter runs JIT-compiled code */
	size_t n_threads;
	struct pt_thread *threads;
	uint64_t pause_ns;     /* how long the target's threads were stopped */
	void *arena;           /* owns every string and array above */
};

enum {
	PT_SNAP_NATIVE = 1u << 0, /* unwind native stacks too */
	PT_SNAP_NO_NAME = 1u << 1, /* leave pt_thread.name empty (saves reading
				    * /proc/PID/task/TID/comm per thread) */
	PT_SNAP_LOCALS = 1u << 2, /* each Python frame's arguments and locals */
};

/* Stops every thread of the process (ptrace), reads the stacks, resumes
 * them. Threads are never left stopped, even on failure. */
int pt_snapshot_take(pt_process *proc, unsigned flags, struct pt_snapshot **out,
		     struct pt_error *err);
void pt_snapshot_free(struct pt_snapshot *snap);

/* For commands that stop threads themselves (stacks, flow): reads the
 * stack of one thread the caller already holds in a ptrace stop, into a
 * snapshot of one thread. Nothing is stopped or resumed here. */
int pt_thread_stack(pt_process *proc, pid_t tid, unsigned flags,
		    struct pt_snapshot **out, struct pt_error *err);

/* After an exec, or when new libraries were mapped: reread the mappings,
 * find the runtime again, and forget cached modules. */
int pt_process_refresh(pt_process *proc, struct pt_error *err);

/* The merged stack of one thread: native frames with the Python frames
 * each eval-loop frame was running placed right after it. */
struct pt_merged_frame {
	const struct pt_native_frame *native; /* exactly one of the two is set */
	const struct pt_pyframe *py;
};

/* Returns 0 and a malloc'd array, or -PT_E_INTERNAL with a reason in err
 * when the pairing invariant fails (the caller then prints both stacks). */
int pt_stack_merge(const struct pt_thread *thread, struct pt_merged_frame **out,
		   size_t *n_out, struct pt_error *err);

/* asyncio (pytrace dump --tasks): every task of the main interpreter. */
struct pt_task {
	uint64_t addr;          /* the Task object */
	uint64_t loop;          /* its event loop */
	const char *name;       /* Task.get_name() (3.8+), or NULL */
	const char *state;      /* "running", "pending", "cancelled", "finished" */
	size_t n_frames;        /* the await chain, innermost first: the task's */
	struct pt_pyframe *frames; /* coroutine is last, what it awaits before it */
	const char *awaits;     /* type of the innermost awaited object that is
	                           not a coroutine (a Future's iterator), or NULL */
	const char *waiter;     /* type of the future the task waits on, or NULL */
	size_t n_waits_for;     /* tasks that future is or gathers */
	uint64_t *waits_for;
};

struct pt_tasks {
	pid_t pid;
	size_t n;
	struct pt_task *tasks;  /* sorted by address */
	const char *note;       /* "asyncio is not imported", or NULL */
	uint64_t pause_ns;
	void *arena;            /* owns everything above */
};

/* Stops the process, reads every asyncio task, resumes it. -PT_E_VERSION
 * (with a message naming the version) where tasks cannot be read. */
int pt_tasks_take(pt_process *proc, struct pt_tasks **out, struct pt_error *err);
void pt_tasks_free(struct pt_tasks *tasks);

/* The exit code the CLI documents for a status. */
int pt_status_exit_code(int status);
const char *pt_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif
