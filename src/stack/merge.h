/* SPDX-License-Identifier: MIT */
/* Merging native and Python frames: what the library uses beyond the
 * public pt_stack_merge(). */
#ifndef PYTRACE_STACK_MERGE_H
#define PYTRACE_STACK_MERGE_H

#include "pytrace/pytrace.h"

/* Marks as is_eval every native frame whose part of the stack holds a
 * Python frame group's anchor (3.11+): that frame is the eval invocation
 * that runs the group, whether or not its symbol says so. */
void pt_stack_mark_eval(struct pt_thread *t);

#endif
