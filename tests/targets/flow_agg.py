# SPDX-License-Identifier: MIT
"""Target for `pytrace flow --count/--latency/--profile/--trace-events`: a
program whose answer is known, measuring what it cannot know in advance.

usage: flow_agg.py TRUTH_JSON [--block READY_FD]

main() calls a() once (7 calls of b(), each 3 of c()), fib(10) (177 calls,
stacks 1 to 10 deep), exhausts gen(5) (one call and 5 resumes: 6 entries)
and calls sleeper(d) for each d in SLEEPS, timing every sleeper call with
the best clock it has (time.perf_counter, time.time on 2.7) inside it and
around it, and main() the same way. Then it writes TRUTH_JSON: the expected
calls per function, and for sleeper's calls and main's, in ns, the pair
(inside, around) between which the call's true duration lies (a loaded
machine can preempt the target between the clock and the call).

With --block, after that it calls blocked(), which writes "ready\\n" to
READY_FD and sleeps for good (the test ends it): calls still running when
tracing ends.

Runs unchanged on CPython 2.7 and 3.6+.
"""
from __future__ import print_function

import json
import os
import sys
import time

clock = getattr(time, "perf_counter", time.time)

# 1.5 times a power of two of nanoseconds (1.57 ms, 3.15 ms, 6.29 ms): far
# from the histogram's bucket edges; the test checks each measured one.
SLEEPS = [0.0015729, 0.0031457, 0.0031457, 0.0062915, 0.0015729]


def c():
    return 1


def b():
    for _ in range(3):
        c()


def a():
    for _ in range(7):
        b()


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen(n):
    for i in range(n):
        yield i


def sleeper(d, inner):
    t0 = clock()
    time.sleep(d)
    inner.append(int((clock() - t0) * 1e9))


def main(outer, inner, main_inner):
    t_main = clock()
    a()
    fib(10)
    list(gen(5))
    for d in SLEEPS:
        t0 = clock()
        sleeper(d, inner)
        outer.append(int((clock() - t0) * 1e9))
    main_inner.append(int((clock() - t_main) * 1e9))


def blocked(fd):
    os.write(fd, b"ready\n")
    while True:
        time.sleep(3600)


def run():
    outer, inner, main_inner = [], [], []
    t0 = clock()
    main(outer, inner, main_inner)
    main_ns = int((clock() - t0) * 1e9)
    truth = {
        "calls": {"main": 1, "a": 1, "b": 7, "c": 21, "fib": 177, "gen": 6,
                  "sleeper": len(SLEEPS)},
        # each call's duration lies between the time measured inside it
        # and the time measured around it
        "sleeper_ns": list(zip(inner, outer)),
        "main_ns": [main_inner[0], main_ns],
    }
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)
    if "--block" in sys.argv:
        blocked(int(sys.argv[sys.argv.index("--block") + 1]))


run()
