/* SPDX-License-Identifier: MIT */
/* asyncio tasks read from outside: the registries, each Task's coroutine
 * chain, and the dict, set and attribute reads that reach them. */
#ifndef PYTRACE_PYTHON_ASYNCIO_H
#define PYTRACE_PYTHON_ASYNCIO_H

#include <stddef.h>
#include <stdint.h>

#include "python/python.h"

/* The C _asyncio module's Task and FutureIter, per build flavour, as
 * tools/gen-asyncio-offsets observed them (src/python/offsets/asyncio-tasks.c). */
struct pyv_asyncio_offsets {
	int major, minor, free_threaded, debug;
	int32_t task_size, task_loop, task_coro, task_fut_waiter, task_name, task_state;
	int32_t state_pending, state_cancelled, state_finished;
	int32_t futureiter_size, futureiter_future;
	int32_t task_node;      /* 3.14+: struct llist_node in the Task */
	/* <=3.10: PyDictKeysObject (Objects/dict-common.h): dk_size, a
	 * Py_ssize_t; dk_nentries; the indices (1-8 bytes each by dk_size),
	 * then PyDictKeyEntry {hash, key, value} of dke_size bytes. */
	int32_t dk_size, dk_nentries, dk_indices, dke_size, dke_key, dke_value;
};
extern const struct pyv_asyncio_offsets pyv_asyncio_tables[];
extern const size_t pyv_asyncio_n_tables;

/* The row for the target's build flavour, or NULL. */
const struct pyv_asyncio_offsets *pyv_asyncio_offsets_for(const struct pt_python *py);

/* --- src/python/pydict.c: dicts with str keys, and instance attributes --- */

/* Whether this layout's dicts and instance dicts can be read (3.11+: their
 * private layout is in the installed headers). */
bool pyv_dict_readable(const struct pt_python *py);
/* dict[key] for a str key: 0 and *value, -ENOENT, or a read error. */
int pyv_dict_get(struct pt_python *py, struct pt_mem *mem, uint64_t dict, const char *key,
		 uint64_t *value);
/* obj.name from the instance's own attributes (its __dict__, managed dict
 * or inline values; never the type's): 0, -ENOENT, -ENOTSUP, or a read
 * error. */
int pyv_object_attr(struct pt_python *py, struct pt_mem *mem, uint64_t obj, const char *name,
		    uint64_t *value);
/* The type object and its tp_name (at most cap-1 bytes). */
int pyv_object_type_name(struct pt_python *py, struct pt_mem *mem, uint64_t obj, uint64_t *type,
			 char *name, size_t cap);

/* --- src/python/asyncio.c --- */

/* Every task of the target's main interpreter into a malloc'd array (the
 * strings and frames in arena). 0, or -PT_E_VERSION / a read error with
 * *why set; *why may also be set with 0 (asyncio not imported). */
int pyv_asyncio_tasks(struct pt_python *py, struct pt_mem *mem, struct pt_arena *arena,
		      struct pt_task **out, size_t *n, const char **why);

#endif
