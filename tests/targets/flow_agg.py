# SPDX-License-Identifier: MIT
"""Target for `pytrace flow --count/--latency/--profile/--trace-events`: a
program whose answer is known, measuring what it cannot know in advance.

usage: flow_agg.py TRUTH_JSON [--block READY_FD]

main() calls a() once (7 calls of b(), each 3 of c()), fib(10) (177 calls,
stacks 1 to 10 deep), exhausts gen(5) (one call and 5 resumes: 6 entries)
and calls sleeper(d) for each d in SLEEPS, timing every sleeper call with
the best clock it has (time.perf_counter, time.time on 2.7) around it, and
main() as a whole. Then it writes TRUTH_JSON: the expected calls per
function, the measured sleeper durations and main's, in ns.

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


def sleeper(d):
    time.sleep(d)


def main(measured):
    a()
    fib(10)
    list(gen(5))
    for d in SLEEPS:
        t0 = clock()
        sleeper(d)
        measured.append(int((clock() - t0) * 1e9))


def blocked(fd):
    os.write(fd, b"ready\n")
    while True:
        time.sleep(3600)


def run():
    measured = []
    t0 = clock()
    main(measured)
    main_ns = int((clock() - t0) * 1e9)
    truth = {
        "calls": {"main": 1, "a": 1, "b": 7, "c": 21, "fib": 177, "gen": 6,
                  "sleeper": len(SLEEPS)},
        "sleeper_ns": measured,
        "main_ns": main_ns,
    }
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)
    if "--block" in sys.argv:
        blocked(int(sys.argv[sys.argv.index("--block") + 1]))


run()
