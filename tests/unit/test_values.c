/* SPDX-License-Identifier: MIT */
/* Pure parts of dump --locals and of text output: int and float rendering, name escaping. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "output/escape.h"
#include "python/values.h"

static void check_digits(const uint32_t *d, size_t n, int shift, bool neg, const char *want)
{
	char buf[512];
	bool ok = pyv_render_digits(d, n, shift, neg, buf, sizeof(buf));

	check(ok && strcmp(buf, want) == 0, "digits -> %s (got %s)", want, ok ? buf : "failure");
}

static void check_float(double v, const char *want)
{
	char buf[64];

	pyv_render_float(v, buf, sizeof(buf));
	check(strcmp(buf, want) == 0, "float -> %s (got %s)", want, buf);
}

static void check_escape(const char *in, const char *want)
{
	char out[256], back[256];

	pt_out_text_escape(out, in);
	strcpy(back, out);
	pt_out_text_unescape(back);
	check(strcmp(out, want) == 0 && strcmp(back, in) == 0, "escape %s (got %s, back %s)", want,
	      out, strcmp(back, in) ? "differs" : "same");
}

int main(void)
{
	/* 2**100 in 30-bit digits: 2**100 = 2**(30*3) * 2**10. */
	const uint32_t p100[] = { 0, 0, 0, 1u << 10 };
	check_digits(p100, 4, 30, false, "1267650600228229401496703205376");
	check_digits(p100, 4, 30, true, "-1267650600228229401496703205376");
	const uint32_t zero[] = { 0 };
	check_digits(zero, 0, 30, false, "0");
	check_digits(zero, 1, 30, true, "0");
	const uint32_t small[] = { 42 };
	check_digits(small, 1, 30, true, "-42");
	/* 15-bit digits: 2**30 - 1 = 32767 + 32767 * 2**15. */
	const uint32_t d15[] = { 32767, 32767 };
	check_digits(d15, 2, 15, false, "1073741823");
	/* 10**9 exactly, across the base-10**9 step: 1000000000 = 0x3B9ACA00. */
	const uint32_t giga[] = { 0x3B9ACA00u & ((1u << 30) - 1), 0x3B9ACA00u >> 30 };
	check_digits(giga, 2, 30, false, "1000000000");
	uint32_t many[41] = { 1 };
	char buf[16];
	check(!pyv_render_digits(many, 41, 30, false, buf, sizeof(buf)), "more than 40 digits refused");
	check(!pyv_render_digits(p100, 4, 30, false, buf, 8), "too small a buffer refused");

	check_float(0.1, "0.1");
	check_float(1e16, "1e+16");
	check_float(-0.0, "-0.0");
	check_float(1.5e-7, "1.5e-07");
	check_float(123456789.125, "123456789.125");
	check_float(100.0, "100.0");
	check_float(1.0 / 3, "0.3333333333333333");
	check_float(INFINITY, "inf");
	check_float(-INFINITY, "-inf");
	check_float(NAN, "nan");
	check_float(1e-4, "0.0001");
	check_float(1e-5, "1e-05");
	check_float(1e15, "1000000000000000.0");
	check_float(123456789012345680.0, "1.2345678901234568e+17");
	check_float(5e-324, "5e-324");

	check_escape("plain (x.py:1)", "plain (x.py:1)");
	check_escape("a\nb\tc\rd\ve\ff", "a\\nb\\tc\\rd\\ve\\ff");
	check_escape("back\\slash", "back\\\\slash");
	check_escape("ctl\x01\x1b\x7f", "ctl\\x01\\x1b\\x7f");
	check_escape("c1 \xc2\x85 \xc3\xa9", "c1 \\xc2\\x85 \xc3\xa9");
	return n_failed != 0;
}
