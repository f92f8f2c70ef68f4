# SPDX-License-Identifier: MIT
"""Call-heavy workload for the `pytrace flow` benchmark (bench/flow/run).

usage: workload.py [--side] [--threads N] [--pytracer OUT]

run() makes about 3.2 million Python calls: a recursive fib(29) (1.66M
calls) and 1.5M method calls on small objects. It prints "elapsed SECONDS cpu
SECONDS" (the wall and CPU time run() took, nothing else) on stderr, so tracers' start-up costs
are not counted: what is measured is what tracing costs the program.

--pytracer OUT installs a pure-Python sys.setprofile tracer that writes to
OUT the same lines `pytrace flow` prints (indented call/return arrows,
function, file:line), as the thing to beat by a factor of ten.

--side makes 1 % of the calls (31250 of 3.2 million) in a second file,
bench/flow/workload_side.py (bench/flow/predicates: the --file bar).

--threads N runs N threads at once instead (for free-threaded builds:
N producers calling at full speed), each fib(27) and 500000/N method-call
rounds, about the same number of calls in all (3.3 million for N = 4); the
time is from their common start to the last one's end.

Runs unchanged on CPython 2.7 and 3.6+ (--threads: 3.2+).
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


def vectors_side(n):
    """vectors(n), and workload_side.tick() every 16th round: 1 % of run()'s calls."""
    import workload_side
    tick = workload_side.tick
    acc = Vector(0, 0)
    step = Vector(1, 2)
    total = 0
    for i in range(n):
        acc = acc.add(step)
        total += acc.dot(step)
        if not i & 15:
            total += tick(i)
    return total


SIDE = False


def run():
    return fib(29) + (vectors_side if SIDE else vectors)(500000)


def run_threads(n):
    import threading
    barrier = threading.Barrier(n + 1)

    def work():
        barrier.wait()
        fib(27)
        vectors(500000 // n)
    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    return threads


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
    args = sys.argv[1:]
    nthreads = 0
    if args[:1] == ["--side"]:
        global SIDE
        SIDE, args = True, args[1:]
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if args[:1] == ["--threads"]:
        nthreads, args = int(args[1]), args[2:]
    if args[:1] == ["--pytracer"]:
        out = open(args[1], "w", 1 << 20)
        tracer = make_pytracer(out)
        sys.setprofile(tracer)
        if nthreads:
            import threading
            lock = threading.Lock()
            def locked(frame, event, arg, tracer=tracer):
                with lock:   # one output file, one depth: as one program
                    tracer(frame, event, arg)
            sys.setprofile(None)
            threading.setprofile(locked)
    if nthreads:
        threads = run_threads(nthreads)
        cpu0 = os.times()
        start = time.time()
        for t in threads:
            t.join()
    else:
        cpu0 = os.times()
        start = time.time()
        run()
    elapsed = time.time() - start
    cpu1 = os.times()
    if out:
        sys.setprofile(None)
        if nthreads:
            import threading
            threading.setprofile(None)
        out.close()
    sys.stderr.write("elapsed %.6f cpu %.3f\n" % (
        elapsed, cpu1[0] + cpu1[1] - cpu0[0] - cpu0[1]))


if __name__ == "__main__":
    main()
