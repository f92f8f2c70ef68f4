/* SPDX-License-Identifier: MIT */
/* The svg format (being written: aggregations are refused for now). */
#include "output/output.h"

const struct pt_format pt_format_svg = {
	.name = "svg",
	.caps = 0,
};
