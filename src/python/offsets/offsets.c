/* SPDX-License-Identifier: MIT */
/* Picks the generated offsets table (pyXY[t][d].c) for a CPython build
 * flavour: major.minor, free-threaded or not, debug or release. */
#include "python/offsets.h"

#include <stddef.h>

/* Hand-written so that adding a version is a visible one-line change next
 * to its extern in offsets.h; the tables themselves are generated. */
static const struct pyv_offsets *const pyv_tables[] = {
	&pyv_offsets_27,
	&pyv_offsets_36,
	&pyv_offsets_37,
	&pyv_offsets_38,
	&pyv_offsets_39,
	&pyv_offsets_310,
	&pyv_offsets_311,
	&pyv_offsets_312,
	&pyv_offsets_313,
	&pyv_offsets_313d,
	&pyv_offsets_313t,
	&pyv_offsets_314,
	&pyv_offsets_314d,
	&pyv_offsets_315,
	&pyv_offsets_315d,
};

const struct pyv_offsets *pyv_offsets_for(int major, int minor, bool free_threaded, bool debug)
{
	/* Match on the flavour recorded inside each table, so a table listed
	 * under the wrong name cannot be returned for the wrong build. */
	for (size_t i = 0; i < sizeof(pyv_tables) / sizeof(pyv_tables[0]); i++) {
		const struct pyv_offsets *t = pyv_tables[i];
		if (t->major == major && t->minor == minor &&
		    !!t->free_threaded == free_threaded && !!t->debug == debug)
			return t;
	}
	return NULL;
}

void pyv_offsets_newest(int *major, int *minor)
{
	*major = *minor = 0;
	for (size_t i = 0; i < sizeof(pyv_tables) / sizeof(pyv_tables[0]); i++) {
		const struct pyv_offsets *t = pyv_tables[i];
		if (t->major > *major || (t->major == *major && t->minor > *minor)) {
			*major = t->major;
			*minor = t->minor;
		}
	}
}
