# SPDX-License-Identifier: MIT
"""Target for `pytrace flow --within/--file/--function`: the right answer is known.

Run as a program. main() calls fw_other() (outside any window), clone() twice,
and flow_within_lib.clone() (a function of the same name in another file).
The expected lines for each filter are in tests/e2e/test_flow.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flow_within_lib  # noqa: E402


def fw_helper():
    return 1


def fw_inner():
    return fw_helper()


def clone():
    fw_inner()
    return fw_helper()


def fw_other():
    return fw_helper()


def main():
    fw_other()
    clone()
    fw_other()
    flow_within_lib.clone()
    clone()


if __name__ == "__main__":
    main()
