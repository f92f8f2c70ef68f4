/* SPDX-License-Identifier: MIT */
/* The lines of `pytrace flow`, as text or JSON, through a buffered writer
 * fast enough for millions of lines a second. */
#ifndef PYTRACE_OUTPUT_FLOW_H
#define PYTRACE_OUTPUT_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "flow/event.h"

struct pt_flow_out;

/* Writes to fd. flat: no indentation. */
struct pt_flow_out *pt_out_flow_new(int fd, bool json, bool timestamps, bool durations, bool flat);
/* Lines written once *stop is set may be dropped: an output that takes
 * nothing for a second from then on is given up (error EINTR), so that a
 * reader that does not read cannot hold pytrace (and the target) forever. */
void pt_out_flow_set_stop(struct pt_flow_out *o, volatile int *stop);
/* Flushes, then frees; returns -errno if any write failed. */
int pt_out_flow_free(struct pt_flow_out *o);
/* Fills the preformatted strings of fn (name/file set): 0 or -ENOMEM. */
int pt_out_flow_fn_init(struct pt_flow_fn *fn);
void pt_out_flow_fn_fini(struct pt_flow_fn *fn);
/* One line; 0, or -errno once the output has failed (EPIPE: the reader
 * went away; EINTR: given up while stopping), after which lines are
 * dropped. */
int pt_out_flow_line(struct pt_flow_out *o, const struct pt_flow_event *l);
int pt_out_flow_flush(struct pt_flow_out *o);
/* pt_out_flow_line as a decoder's sink (struct flow_sink.event; arg: the
 * struct pt_flow_out). */
int pt_out_flow_sink(void *arg, const struct pt_flow_event *e);
/* The errno of the failure that ended the output, or 0. */
int pt_out_flow_error(const struct pt_flow_out *o);

#endif
