/* SPDX-License-Identifier: MIT */
/* The pprof format (being written: aggregations are refused for now). */
#include "output/output.h"

const struct pt_format pt_format_pprof = {
	.name = "pprof",
	.caps = 0,
};
