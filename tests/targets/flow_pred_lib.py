# SPDX-License-Identifier: MIT
"""The second file of tests/targets/flow_pred.py: what --file picks out."""


def helper(n):
    return len([lib_leaf(i) for i in range(n)])


def lib_leaf(i):
    return i * 2
