/* SPDX-License-Identifier: MIT */
/* Names from the target escaped for text output as strace does (src/output/text.c). */
#ifndef PYTRACE_OUTPUT_ESCAPE_H
#define PYTRACE_OUTPUT_ESCAPE_H

#include <stddef.h>

/* \n \t \r \v \f, other control bytes (and C1 controls) as \xNN, a
 * backslash as \\: out needs 4 * strlen(s) + 1 bytes; returns the length
 * written. unescape undoes it in place and returns the new length. */
size_t pt_out_text_escape(char *out, const char *s);
size_t pt_out_text_unescape(char *s);

#endif
