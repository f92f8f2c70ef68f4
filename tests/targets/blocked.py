# SPDX-License-Identifier: MIT
"""A light one-thread target: blocks in read(0) three calls deep.

usage: blocked.py TRUTH_JSON READY_FD [weird]

Writes its own stack to TRUTH_JSON (function, file, line of each frame,
innermost first), then "ready\\n" to the inherited descriptor READY_FD. Each
byte read from stdin is answered through answer(), which writes it back to
stdout (a Python call and a write(1) per ping); EOF ends the process.
With "weird", the innermost function's name and file hold a newline, a tab,
control characters, a backslash and a non-ASCII character, as generated code
can, answer() is renamed likewise, and middle() gets a 5000-character name. Runs on CPython 2.7 and 3.6+.
"""
import json
import os
import sys
import types

WEIRD_NAME = u"leaf\n\x01\x7f\\\u00e9"
WEIRD_FILE = "dir/we\tird\nfile\x1b\\.py"
WEIRD_ANSWER = u"answer\t\x02\u0085"
LONG_NAME = u"m" * 5000   # longer than pytrace reads (4096 characters)

LEAF_SOURCE = """
def leaf(report):
    report(sys._getframe())
    while True:
        byte = os.read(0, 1)
        if not byte:
            os._exit(0)
        answer(byte)
"""


def answer(byte):
    os.write(1, byte)


def renamed(code, name):
    """code with co_name (and co_qualname) set to name."""
    if hasattr(code, "replace"):
        if hasattr(code, "co_qualname"):
            return code.replace(co_name=name, co_qualname=name)
        return code.replace(co_name=name)
    if sys.version_info[0] == 2:
        name = name.encode("utf-8")
        return types.CodeType(code.co_argcount, code.co_nlocals, code.co_stacksize, code.co_flags,
                              code.co_code, code.co_consts, code.co_names, code.co_varnames,
                              code.co_filename, name, code.co_firstlineno, code.co_lnotab,
                              code.co_freevars, code.co_cellvars)
    return types.CodeType(code.co_argcount, code.co_kwonlyargcount, code.co_nlocals,
                          code.co_stacksize, code.co_flags, code.co_code, code.co_consts,
                          code.co_names, code.co_varnames, code.co_filename, name,
                          code.co_firstlineno, code.co_lnotab, code.co_freevars, code.co_cellvars)


def text(s):
    return s.decode("utf-8") if isinstance(s, bytes) else s


def main():
    truth_path, ready_fd = sys.argv[1], int(sys.argv[2])
    weird = sys.argv[3:] == ["weird"]
    ns = {"os": os, "sys": sys, "answer": answer}
    exec(compile(LEAF_SOURCE, WEIRD_FILE if weird else __file__ + "/leaf", "exec"), ns)
    leaf = ns["leaf"]
    if weird:
        leaf.__code__ = renamed(leaf.__code__, WEIRD_NAME)
        answer.__code__ = renamed(answer.__code__, WEIRD_ANSWER)
        middle.__code__ = renamed(middle.__code__, LONG_NAME)

    def report(frame):
        frames = []
        f = frame
        while f is not None:
            code = f.f_code
            frames.append({"function": text(getattr(code, "co_qualname", code.co_name)),
                           "file": text(code.co_filename), "line": f.f_lineno})
            f = f.f_back
        frames[0]["line"] += 2  # the os.read line
        with open(truth_path, "w") as out:
            json.dump({"pid": os.getpid(), "frames": frames}, out)
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)

    middle(leaf, report)


def middle(leaf, report):
    leaf(report)


main()
