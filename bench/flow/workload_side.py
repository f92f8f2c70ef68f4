# SPDX-License-Identifier: MIT
"""The second file of bench/flow/workload.py --side: 1 % of its calls are
here, for the `--file workload_side` bar of bench/flow/predicates."""


def tick(i):
    return i & 1
