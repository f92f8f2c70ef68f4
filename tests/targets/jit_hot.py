# SPDX-License-Identifier: MIT
"""Target for tests/e2e/test_dump_jit.py: hot loops the JIT compiles
(3.14+ JIT builds, run with PYTHON_JIT=1).

usage: jit_hot.py READY_FD BLOCK_FD

1. hot() calls leaf() in a loop until the loop runs as JIT code
   (sys._jit.is_active() in hot's own frame), then leaf blocks: it writes
   its stack (traceback.extract_stack, innermost first) and whether the JIT
   ran, as one JSON line to READY_FD, and reads one byte from BLOCK_FD.
2. Then spin() runs a loop without calls for ever: nearly all its time is
   in code the JIT wrote. It writes "spinning LO HI" (the loop's lines)
   to READY_FD first.
"""

import json
import os
import sys
import traceback


def leaf(i, block, ready, fd):
    if block:
        stack = [(f.name, f.filename, f.lineno) for f in traceback.extract_stack()][::-1]
        stack[0] = (stack[0][0], stack[0][1], stack[0][2] + 3)   # the read below
        os.write(ready, (json.dumps({"stack": stack}) + "\n").encode())
        os.read(fd, 1)
    return i + 1


def hot(ready, fd):
    t = 0
    ran = False
    for i in range(10 ** 7):
        t += leaf(i, ran, ready, fd)
        if ran:
            return ran
        if i % 100 == 99:
            ran = sys._jit.is_active()
    return ran


def spin(ready):
    lo = spin.__code__.co_firstlineno + 4
    os.write(ready, ("spinning %d %d\n" % (lo, lo + 3)).encode())
    x = 0
    while True:
        x = (x + 3) & 0xFFFF
        if x == 7:
            x = 1


if __name__ == "__main__":
    ready, fd = int(sys.argv[1]), int(sys.argv[2])
    if not hot(ready, fd):
        os.write(ready, b"no JIT\n")
    spin(ready)
