# SPDX-License-Identifier: MIT
"""Call-heavy workload for the `pytrace flow` benchmark (bench/flow/run).

usage: workload.py [--pytracer OUT]

run() makes about 3.2 million Python calls: a recursive fib(29) (1.66M
calls) and 1.5M method calls on small objects. It prints "elapsed SECONDS cpu
SECONDS" (the wall and CPU time run() took, nothing else) on stderr, so tracers' start-up costs
are not counted: what is measured is what tracing costs the program.

--pytracer OUT installs a pure-Python sys.setprofile tracer that writes to
OUT the same lines `pytrace flow` prints (indented call/return arrows,
function, file:line), as the thing to beat by a factor of ten.

Runs unchanged on CPython 2.7 and 3.6+.
"""

import os
import sys
import time


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


class Vector(object):
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def add(self, other):
        return Vector(self.x + other.x, self.y + other.y)

    def dot(self, other):
        return self.x * other.x + self.y * other.y


def vectors(n):
    acc = Vector(0, 0)
    step = Vector(1, 2)
    total = 0
    for _ in range(n):
        acc = acc.add(step)
        total += acc.dot(step)
    return total


def run():
    return fib(29) + vectors(500000)


def make_pytracer(out):
    """sys.setprofile function writing pytrace flow's text lines."""
    write = out.write
    depth = [0]
    indent = ["  " * i for i in range(1000)]

    def tracer(frame, event, arg):
        if event == "call":
            code = frame.f_code
            write("%s-> %s (%s:%d)\n" % (indent[depth[0]], code.co_name, code.co_filename,
                                         code.co_firstlineno))
            depth[0] += 1
        elif event == "return":
            if depth[0] > 0:
                depth[0] -= 1
            code = frame.f_code
            write("%s<- %s (%s:%d)\n" % (indent[depth[0]], code.co_name, code.co_filename,
                                         frame.f_lineno))
    return tracer


def main():
    out = None
    if sys.argv[1:2] == ["--pytracer"]:
        out = open(sys.argv[2], "w", 1 << 20)
        sys.setprofile(make_pytracer(out))
    cpu0 = os.times()
    start = time.time()
    run()
    elapsed = time.time() - start
    cpu1 = os.times()
    if out:
        sys.setprofile(None)
        out.close()
    sys.stderr.write("elapsed %.6f cpu %.3f\n" % (
        elapsed, cpu1[0] + cpu1[1] - cpu0[0] - cpu0[1]))


if __name__ == "__main__":
    main()
