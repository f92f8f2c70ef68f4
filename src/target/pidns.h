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

#endif
