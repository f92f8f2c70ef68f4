/* SPDX-License-Identifier: MIT */
/* Picks the generated offsets table (pyXY.c) for a CPython major.minor. */
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
};

const struct pyv_offsets *pyv_offsets_for(int major, int minor)
{
	/* Match on the version recorded inside each table, so a table listed
	 * under the wrong name cannot be returned for the wrong version. */
	for (size_t i = 0; i < sizeof(pyv_tables) / sizeof(pyv_tables[0]); i++) {
		if (pyv_tables[i]->major == major && pyv_tables[i]->minor == minor)
			return pyv_tables[i];
	}
	return NULL;
}
