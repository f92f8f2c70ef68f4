/* SPDX-License-Identifier: MIT */
/* Unit tests for the line-table decoders: hand-made tables with known
 * answers, real tables with CPython's own answers, and broken tables. */
#include "python/linetable.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Decodes from a heap copy of exactly len bytes, so that a read past the
 * end shows up under AddressSanitizer (make asan-check). */
static int line_at(enum pyv_linetable_kind kind, const uint8_t *table,
		   size_t len, int firstlineno, int64_t addrq)
{
	uint8_t *copy = malloc(len ? len : 1);
	int line;

	if (!copy) {
		perror("malloc");
		exit(2);
	}
	if (len)
		memcpy(copy, table, len);
	line = pyv_linetable_line(kind, len ? copy : NULL, len, firstlineno,
				  addrq);
	free(copy);
	return line;
}

struct probe {
	int64_t addrq;
	int line;
};

/* One check for a table: every probe must give its line. */
static void check_probes(const char *name, enum pyv_linetable_kind kind,
			 const uint8_t *table, size_t len, int firstlineno,
			 const struct probe *probes, size_t n)
{
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		int got = line_at(kind, table, len, firstlineno,
				  probes[i].addrq);
		if (got != probes[i].line) {
			printf("# %s: offset %lld gave %d, expected %d\n", name,
			       (long long)probes[i].addrq, got, probes[i].line);
			ok = false;
		}
	}
	check(ok, "%s", name);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_lnotab_unsigned(void)
{
	/* firstlineno 10. (255,0) is an address continuation; 200 and 255
	 * are line deltas that must not be read as negative; the (0,x) runs
	 * carry a 500-line jump. */
	static const uint8_t t[] = {
		6, 1,       /* addr 6:   +1   -> 11 */
		255, 0,     /* addr 261: +0 */
		45, 200,    /* addr 306: +200 -> 211 */
		0, 255,     /* addr 306: +255 -> 466 */
		0, 45,      /* addr 306: +45  -> 511 */
	};
	static const struct probe p[] = {
		{ -1, 10 }, { -100, 10 }, { 0, 10 }, { 5, 10 }, { 6, 11 },
		{ 260, 11 }, { 261, 11 }, { 305, 11 }, { 306, 511 },
		{ 307, 511 }, { 100000, 511 }, { INT64_MAX, 511 },
	};
	check_probes("2.7 lnotab: continuation pairs, unsigned deltas > 127",
		     PYV_LNOTAB_UNSIGNED, t, sizeof(t), 10, p, N(p));

	/* Cut inside the (45,200) pair: the best answer is the line
	 * reached so far; the odd trailing byte is ignored, as CPython
	 * ignores it. */
	static const struct probe cut[] = {
		{ 0, 10 }, { 6, 11 }, { 400, 11 },
	};
	check_probes("2.7 lnotab: truncated mid-pair", PYV_LNOTAB_UNSIGNED,
		     t, 5, 10, cut, N(cut));

	static const struct probe empty[] = {
		{ -1, 7 }, { 0, 7 }, { 1000, 7 },
	};
	check_probes("2.7 lnotab: empty table gives firstlineno",
		     PYV_LNOTAB_UNSIGNED, t, 0, 7, empty, N(empty));
}

static void test_lnotab_signed(void)
{
	/* firstlineno 100. A 300-line jump as (8,127)(0,127)(0,46), a
	 * multi-line call going back 200 lines as (6,-128)(0,-72), and an
	 * address continuation (255,0). */
	static const uint8_t t[] = {
		2, 1,        /* addr 2:   -> 101 */
		8, 127,      /* addr 10:  -> 228 */
		0, 127,      /*           -> 355 */
		0, 46,       /*           -> 401 */
		6, 0x80,     /* addr 16:  -128 -> 273 */
		0, 0xb8,     /*           -72  -> 201 */
		4, 3,        /* addr 20:  -> 204 */
		255, 0,      /* addr 275 */
		45, 1,       /* addr 320: -> 205 */
	};
	static const struct probe p[] = {
		{ -1, 100 }, { 0, 100 }, { 1, 100 }, { 2, 101 }, { 9, 101 },
		{ 10, 401 }, { 15, 401 }, { 16, 201 }, { 19, 201 },
		{ 20, 204 }, { 274, 204 }, { 275, 204 }, { 319, 204 },
		{ 320, 205 }, { 99999, 205 },
	};
	check_probes("3.6 lnotab: line jumps > 127, negative deltas, continuation",
		     PYV_LNOTAB_SIGNED, t, sizeof(t), 100, p, N(p));

	/* The same bytes read as 2.7 would read them give other lines:
	 * the kinds really differ. */
	check(line_at(PYV_LNOTAB_UNSIGNED, t, sizeof(t), 100, 16) == 401 + 128 + 184,
	      "3.6 vs 2.7 lnotab: 0x80 and 0xb8 are negative only in 3.6+");

	static const struct probe cut[] = {
		{ 9, 101 }, { 12, 228 }, { 5000, 228 },
	};
	check_probes("3.6 lnotab: truncated after a partial line jump",
		     PYV_LNOTAB_SIGNED, t, 5, 100, cut, N(cut));

	/* Garbage that drives the line below zero is "no line", not a
	 * negative line number. */
	static const uint8_t neg[] = { 0, 0x80, 0, 0x80 };
	check(line_at(PYV_LNOTAB_SIGNED, neg, sizeof(neg), 5, 0) == -1,
	      "3.6 lnotab: garbage giving a negative line gives -1");
}

static void test_linetable_310(void)
{
	/* firstlineno 50. Zero-length ranges carry a 200-line jump and a
	 * no-line marker; -128 ranges have no line and leave the running
	 * line alone. */
	static const uint8_t t[] = {
		6, 1,        /* [0,6)     51 */
		0, 127,      /* [6,6)     (178) */
		0, 73,       /* [6,6)     (251) */
		0, 0x80,     /* [6,6)     no line, zero length */
		4, 2,        /* [6,10)    253 */
		8, 0x80,     /* [10,18)   none; running line stays 253 */
		2, 0xfd,     /* [18,20)   250 */
		254, 0,      /* [20,274)  250 */
		2, 5,        /* [274,276) 255 */
	};
	static const struct probe p[] = {
		{ -1, 50 }, { -5, 50 }, { 0, 51 }, { 5, 51 }, { 6, 253 },
		{ 9, 253 }, { 10, -1 }, { 17, -1 }, { 18, 250 }, { 19, 250 },
		{ 20, 250 }, { 273, 250 }, { 274, 255 }, { 275, 255 },
		{ 276, -1 }, { 1000, -1 }, { (int64_t)1 << 40, -1 },
	};
	check_probes("3.10 linetable: -128 no line, zero-length ranges, past end",
		     PYV_LINETABLE_310, t, sizeof(t), 50, p, N(p));

	static const struct probe cut[] = {
		{ 5, 51 }, { 8, 253 }, { 12, -1 }, { 300, -1 },
	};
	check_probes("3.10 linetable: truncated mid-table and mid-pair",
		     PYV_LINETABLE_310, t, 11, 50, cut, N(cut));

	static const struct probe empty[] = {
		{ -1, 50 }, { 0, -1 },
	};
	check_probes("3.10 linetable: empty table", PYV_LINETABLE_310, t, 0,
		     50, empty, N(empty));
}

static void test_locations_311(void)
{
	/* firstlineno 1000. First byte: 0x80 | code << 3 | (units - 1). */
	static const uint8_t t[] = {
		0xe8, 0x04,             /* 13 no columns, +2:   [0,2)   1002 */
		0x82, 0x05,             /* 0 short form, 3 units: [2,8) 1002 */
		0xd9, 0x04, 0x09,       /* 11 one line +1:      [8,12)  1003 */
		0xf8,                   /* 15 none:             [12,14) -1 */
		/* 14 long form, 8 units, svarint -300 (u = 601: 0x59 0x09),
		 * end line +0, column 100 (2-byte varint), end column 6 */
		0xf7, 0x59, 0x09, 0x00, 0x65, 0x01, 0x07, /* [14,30) 703 */
		0xe0, 0x01, 0x02,       /* 12 one line +2:      [30,32) 705 */
		0xd0, 0x00, 0x03,       /* 10 one line +0:      [32,34) 705 */
		0xc8, 0x11,             /* 9 short form:        [34,36) 705 */
		/* 13, svarint +70000 (u = 140000: three groups) */
		0xe8, 0x60, 0x4b, 0x22, /*                      [36,38) 70705 */
		0xf9,                   /* 15 none, 2 units:    [38,42) -1 */
		0xe8, 0x03,             /* 13, svarint -1:      [42,44) 70704 */
	};
	static const struct probe p[] = {
		{ -1, 1000 }, { -2, 1000 }, { 0, 1002 }, { 1, 1002 },
		{ 2, 1002 }, { 7, 1002 }, { 8, 1003 }, { 11, 1003 },
		{ 12, -1 }, { 13, -1 }, { 14, 703 }, { 29, 703 },
		{ 30, 705 }, { 32, 705 }, { 34, 705 }, { 36, 70705 },
		{ 38, -1 }, { 41, -1 }, { 42, 70704 }, { 43, 70704 },
		{ 44, -1 }, { 100000, -1 }, { INT64_MAX, -1 },
	};
	check_probes("3.11 locations: codes 15/14/13/10-12/0-9, varints",
		     PYV_LOCATIONS_311, t, sizeof(t), 1000, p, N(p));

	/* Cut inside the long form's line delta: that entry's line is
	 * unknown, earlier ones are not. */
	static const struct probe cut_delta[] = {
		{ 9, 1003 }, { 12, -1 }, { 20, -1 }, { 40, -1 },
	};
	check_probes("3.11 locations: truncated inside a svarint",
		     PYV_LOCATIONS_311, t, 10, 1000, cut_delta, N(cut_delta));

	/* Cut after the line delta, inside the columns: the line is known. */
	static const struct probe cut_cols[] = {
		{ 20, 703 }, { 30, -1 },
	};
	check_probes("3.11 locations: truncated inside the columns",
		     PYV_LOCATIONS_311, t, 12, 1000, cut_cols, N(cut_cols));

	/* Out of step: the first byte is not an entry start. */
	static const uint8_t bad_start[] = { 0x05, 0xe8, 0x04 };
	static const struct probe none[] = {
		{ 0, -1 }, { 2, -1 }, { -1, 1000 },
	};
	check_probes("3.11 locations: table not starting with an entry",
		     PYV_LOCATIONS_311, bad_start, sizeof(bad_start), 1000,
		     none, N(none));

	/* A varint that says "more" in every byte overflows 32 bits. */
	uint8_t endless[40];
	endless[0] = 0xe8;
	memset(endless + 1, 0x7f, sizeof(endless) - 1);
	check_probes("3.11 locations: endless varint gives -1",
		     PYV_LOCATIONS_311, endless, sizeof(endless), 1000, none, 2);

	static const struct probe empty[] = {
		{ -1, 1000 }, { 0, -1 },
	};
	check_probes("3.11 locations: empty table", PYV_LOCATIONS_311, t, 0,
		     1000, empty, N(empty));
}

static void test_bad_arguments(void)
{
	check(pyv_linetable_line(PYV_LOCATIONS_311, NULL, 100, 3, 0) == -1 &&
	      pyv_linetable_line(PYV_LNOTAB_SIGNED, NULL, 100, 3, 0) == 3,
	      "a NULL table is read as an empty one");
	check(pyv_linetable_line((enum pyv_linetable_kind)99,
				 (const uint8_t *)"\x80", 1, 3, 0) == -1,
	      "an unknown kind gives -1");
}

/* Random tables must end, stay in bounds (ASan) and give -1 or a line. */
static void test_garbage(void)
{
	static const enum pyv_linetable_kind kinds[] = {
		PYV_LNOTAB_UNSIGNED, PYV_LNOTAB_SIGNED, PYV_LINETABLE_310,
		PYV_LOCATIONS_311,
	};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t buf[96];
	unsigned long queries = 0;
	bool ok = true;

	for (int round = 0; round < 4000; round++) {
		size_t len = round % (sizeof(buf) + 1);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		for (size_t k = 0; k < N(kinds); k++) {
			for (int64_t q = -2; q < 600; q += 7) {
				int line = line_at(kinds[k], buf, len, 1, q);
				ok &= line >= -1;
				queries++;
			}
		}
	}
	check(ok, "garbage tables: %lu queries end in bounds", queries);
}

/* ------------------------------------------------------------------ */
/* Real tables: fixtures written by gen_linetable_cases.py. */

struct fixture_code {
	char name[128];
	int firstlineno;
	uint8_t *table;
	size_t len;
	size_t n_cases, cap_cases;
	struct probe *cases;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool parse_hex(const char *hex, uint8_t **out, size_t *len)
{
	size_t n = strlen(hex);

	*out = NULL;
	*len = 0;
	if (strcmp(hex, "-") == 0)
		return true;
	if (n % 2)
		return false;
	*out = malloc(n / 2 ? n / 2 : 1);
	if (!*out)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		(*out)[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return true;
}

/* A prefix of a real table must give the full table's answer or, where
 * the prefix cannot know, -1 (3.10+) or the lnotab line reached so far
 * (which must be the full answer once the prefix passes addrq). */
static bool check_prefixes(enum pyv_linetable_kind kind,
			   const struct fixture_code *c, unsigned long *n)
{
	size_t stride = c->len / 48 + 1;
	size_t qstride = c->n_cases / 48 + 1;
	bool ok = true;

	for (size_t plen = 0; plen < c->len; plen += stride) {
		int64_t covered = 0;
		for (size_t i = 0; i + 1 < plen; i += 2)
			covered += c->table[i];
		for (size_t i = 0; i < c->n_cases; i += qstride) {
			const struct probe *pr = &c->cases[i];
			int got = line_at(kind, c->table, plen, c->firstlineno,
					  pr->addrq);
			bool good;
			(*n)++;
			if (kind == PYV_LNOTAB_UNSIGNED || kind == PYV_LNOTAB_SIGNED)
				good = covered <= pr->addrq || got == pr->line;
			else
				good = got == pr->line || got == -1;
			if (!good) {
				printf("# prefix %zu of %s: offset %lld gave %d, full %d\n",
				       plen, c->name, (long long)pr->addrq, got,
				       pr->line);
				ok = false;
			}
		}
	}
	return ok;
}

static const char *kind_names[] = {
	[PYV_LNOTAB_UNSIGNED] = "lnotab_unsigned",
	[PYV_LNOTAB_SIGNED] = "lnotab_signed",
	[PYV_LINETABLE_310] = "linetable_310",
	[PYV_LOCATIONS_311] = "locations_311",
};

/* Checks one code object's cases; returns the number of mismatches. */
static unsigned long run_code(const char *fixture, enum pyv_linetable_kind kind,
			      const struct fixture_code *c, unsigned long *n_cases,
			      unsigned long *shown)
{
	unsigned long bad = 0;

	for (size_t i = 0; i < c->n_cases; i++) {
		const struct probe *pr = &c->cases[i];
		int got = line_at(kind, c->table, c->len, c->firstlineno,
				  pr->addrq);
		(*n_cases)++;
		if (got == pr->line)
			continue;
		bad++;
		if ((*shown)++ < 10)
			printf("# %s %s (first line %d): offset %lld gave %d, CPython %d\n",
			       fixture, c->name, c->firstlineno,
			       (long long)pr->addrq, got, pr->line);
	}
	return bad;
}

static void test_fixture(const char *dir, const char *base,
			 enum pyv_linetable_kind want_kind)
{
	char path[4096], *line = NULL, version[64] = "?";
	size_t cap = 0;
	FILE *f;
	int kind = -1;
	bool parse_ok = true, prefix_ok = true, have_code = false;
	unsigned long n_codes = 0, n_cases = 0, n_none = 0, bad = 0, shown = 0;
	unsigned long n_prefix = 0;
	struct fixture_code c = { 0 };

	snprintf(path, sizeof(path), "%s/%s.txt", dir, base);
	f = fopen(path, "r");
	if (!f) {
		check(false, "%s: cannot open %s: %s", base, path, strerror(errno));
		return;
	}
	for (;;) {
		ssize_t got = getline(&line, &cap, f);
		bool eof = got < 0;
		long long off;
		int l, pos = -1;

		if (!eof && line[got - 1] == '\n')
			line[--got] = '\0';
		/* A code record ends at the next one or at the end of file. */
		if (have_code && (eof || strncmp(line, "code ", 5) == 0)) {
			bad += run_code(base, want_kind, &c, &n_cases, &shown);
			prefix_ok &= check_prefixes(want_kind, &c, &n_prefix);
			free(c.table);
			free(c.cases);
			memset(&c, 0, sizeof(c));
			have_code = false;
		}
		if (eof)
			break;
		if (line[0] == '#') {
			sscanf(line, "# CPython %63s", version);
			continue;
		}
		if (strncmp(line, "kind ", 5) == 0) {
			for (size_t k = 0; k < N(kind_names); k++)
				if (strcmp(line + 5, kind_names[k]) == 0)
					kind = (int)k;
			continue;
		}
		if (strncmp(line, "code ", 5) == 0) {
			if (sscanf(line, "code %127s %d %n", c.name,
				   &c.firstlineno, &pos) != 2 || pos < 0 ||
			    !parse_hex(line + pos, &c.table, &c.len)) {
				printf("# %s: bad line: %.60s\n", base, line);
				parse_ok = false;
				break;
			}
			have_code = true;
			n_codes++;
			continue;
		}
		if (have_code && sscanf(line, "%lld %d", &off, &l) == 2) {
			if (c.n_cases == c.cap_cases) {
				size_t ncap = c.cap_cases ? 2 * c.cap_cases : 256;
				struct probe *p = realloc(c.cases, ncap * sizeof(*p));
				if (!p) {
					perror("realloc");
					exit(2);
				}
				c.cases = p;
				c.cap_cases = ncap;
			}
			c.cases[c.n_cases++] = (struct probe){ off, l };
			n_none += l == -1;
			continue;
		}
		printf("# %s: bad line: %.60s\n", base, line);
		parse_ok = false;
		break;
	}
	free(c.table);
	free(c.cases);
	free(line);
	fclose(f);

	check(parse_ok && kind == (int)want_kind && n_cases > 1000,
	      "%s: fixture parses, kind %s, %lu code objects", base,
	      kind >= 0 ? kind_names[kind] : "missing", n_codes);
	check(parse_ok && bad == 0,
	      "%s: %lu of %lu offsets (%lu without a line) match CPython %s's PyCode_Addr2Line",
	      base, n_cases - bad, n_cases, n_none, version);
	check(parse_ok && prefix_ok,
	      "%s: %lu lookups in truncated real tables stay consistent", base,
	      n_prefix);
}

static void test_fixtures(void)
{
	static const struct {
		const char *base;
		enum pyv_linetable_kind kind;
	} fixtures[] = {
		{ "py27", PYV_LNOTAB_UNSIGNED },
		{ "py36", PYV_LNOTAB_SIGNED },
		{ "py38", PYV_LNOTAB_SIGNED },
		{ "py310", PYV_LINETABLE_310 },
		{ "py311", PYV_LOCATIONS_311 },
		{ "py312", PYV_LOCATIONS_311 },
		{ "py313", PYV_LOCATIONS_311 },
		{ "py314", PYV_LOCATIONS_311 },
		{ "py315", PYV_LOCATIONS_311 },
	};
	const char *dir = getenv("PT_LINETABLE_CASES");

	/* The Makefile runs tests from the top of the tree. */
	if (!dir)
		dir = "tests/unit/linetable-cases";
	for (size_t i = 0; i < N(fixtures); i++)
		test_fixture(dir, fixtures[i].base, fixtures[i].kind);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_lnotab_unsigned();
	test_lnotab_signed();
	test_linetable_310();
	test_locations_311();
	test_bad_arguments();
	test_garbage();
	test_fixtures();
	return n_failed ? 1 : 0;
}
