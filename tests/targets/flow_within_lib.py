# SPDX-License-Identifier: MIT
"""Second file for tests/targets/flow_within.py: another clone() and its helpers."""


def lib_helper():
    return 2


def clone():
    return lib_helper() + lib_helper()
