/* SPDX-License-Identifier: MIT */
/* Thread ids across PID namespaces: a target in a container knows its
 * threads by ids of its own namespace; pytrace prints ours. */
#ifndef PYTRACE_TARGET_PIDNS_H
#define PYTRACE_TARGET_PIDNS_H

#include <stdbool.h>
#include <sys/types.h>

/* Whether process pid lives in another PID namespace than we do. */
bool pt_pidns_differs(pid_t pid);

/* Our id of the thread of process pid that its own namespace calls
 * ns_tid, from the NSpid line of each /proc/PID/task/TID/status; ns_tid
 * itself if no thread matches (it exited). */
pid_t pt_pidns_our_tid(pid_t pid, pid_t ns_tid);

/* The reverse: the id the thread's own namespace gives our thread
 * our_tid of process pid; our_tid itself if it cannot be read. */
pid_t pt_pidns_own_tid(pid_t pid, pid_t our_tid);

#endif
