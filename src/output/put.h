/* SPDX-License-Identifier: MIT */
/* Small writers into a caller's buffer that the line formatters share. */
#ifndef PYTRACE_OUTPUT_PUT_H
#define PYTRACE_OUTPUT_PUT_H

#include <stdint.h>

/* v in decimal at p (at most 20 bytes); returns the end. */
static inline char *pt_put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

#endif
