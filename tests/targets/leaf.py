# SPDX-License-Identifier: MIT
"""A one-thread target for the unreadable-memory test: blocks in leaf(),
having written its own stack and the address of leaf's code object (id()
is the address in CPython) to the file in argv[1]."""
import json
import os
import sys


def frames_now():
    out = []
    f = sys._getframe(1)
    while f is not None:
        code = f.f_code
        out.append({"function": getattr(code, "co_qualname", code.co_name),
                    "file": code.co_filename, "line": f.f_lineno})
        f = f.f_back
    return out


def leaf(path):
    stack = frames_now()
    stack[0]["line"] += 3  # the os.read line below
    with open(path, "w") as out:
        json.dump({"frames": stack, "code": id(leaf.__code__)}, out)
    os.read(0, 1)


def middle(path):
    leaf(path)


middle(sys.argv[1])
