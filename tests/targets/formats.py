# SPDX-License-Identifier: MIT
"""Target for tests/e2e/test_formats.py: system calls from a known call
tree, so that every output format's counts are computable.

usage: formats.py

  path_a -> w_leaf: 3 writes of one byte to /dev/null
  path_b -> path_c -> w_leaf: 5 writes
  nap: 4 sleeps of 2 ms, as select.select([], [], [], 0.002): a relative
       timeout (time.sleep on 3.11+ sleeps to an absolute deadline, which
       can come sooner than 2 ms after the call starts), so no call can
       return in less than 2 ms after it entered the kernel

Each traced call is on the line that records its stack (innermost first,
as traceback sees it, qualified names where the version has them), so
the lines match exactly. At the end the truth is printed as one JSON line
on stdout: {"writes": [{"frames", "count"}], "naps": {...}, "nap_ns"}.
Runs unchanged on CPython 2.7 and 3.6+.
"""

import json
import os
import select
import sys
import traceback

FD = os.open(os.devnull, os.O_WRONLY)
NAP = 0.002
SITES = {}


def frames_from(frame):
    out = []
    if hasattr(traceback, "walk_stack"):
        for f, lineno in traceback.walk_stack(frame):
            code = f.f_code
            out.append({"function": getattr(code, "co_qualname", code.co_name),
                        "file": code.co_filename, "line": lineno})
    else:  # 2.7: extract_stack is outermost first
        for filename, lineno, name, _ in reversed(traceback.extract_stack(frame)):
            out.append({"function": name, "file": filename, "line": lineno})
    return out


def record(kind):
    frames = frames_from(sys._getframe(1))
    key = json.dumps([kind, frames])
    site = SITES.setdefault(key, {"kind": kind, "frames": frames, "count": 0})
    site["count"] += 1


def w_leaf():
    record("write"); os.write(FD, b"x")  # noqa: E702 (truth on the call's line)


def path_a():
    for _ in range(3):
        w_leaf()


def path_c():
    for _ in range(5):
        w_leaf()


def path_b():
    path_c()


def nap():
    for _ in range(4):
        record("nap"); select.select([], [], [], NAP)  # noqa: E702


def main():
    path_a()
    path_b()
    nap()
    sys.stdout.write(json.dumps({"sites": list(SITES.values()), "nap_ns": int(NAP * 1e9)}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
