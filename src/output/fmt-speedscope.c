/* SPDX-License-Identifier: MIT */
/* The speedscope format (being written: aggregations are refused for now). */
#include "output/output.h"

const struct pt_format pt_format_speedscope = {
	.name = "speedscope",
	.caps = 0,
};
