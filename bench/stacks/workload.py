# SPDX-License-Identifier: MIT
"""pytrace stacks benchmark workload: N small writes, each from a function
three calls deep. Runs on CPython 2.7 and 3.6+.

usage: workload.py N [SINK]    (SINK: a path, /dev/null by default)

With PYTRACE_BENCH_REPORT=FILE in the environment it writes the CPU and
wall time of the write loop alone to FILE ("cpu wall", seconds), so the
steady-state cost of a filter can be told from start-up costs.
"""
import os
import sys
import time


def level3(fd, data):
    os.write(fd, data)


def level2(fd, data):
    level3(fd, data)


def level1(fd, data):
    level2(fd, data)


def cpu_time():
    clock = getattr(time, "process_time", None) or time.clock  # 2.7 has no process_time
    return clock()


def main():
    n = int(sys.argv[1])
    sink = sys.argv[2] if len(sys.argv) > 2 else os.devnull
    fd = os.open(sink, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    data = b"x"
    c0, w0 = cpu_time(), time.time()
    for _ in range(n):
        level1(fd, data)
    c1, w1 = cpu_time(), time.time()
    os.close(fd)
    report = os.environ.get("PYTRACE_BENCH_REPORT")
    if report:
        with open(report, "w") as f:
            f.write("%.6f %.6f\n" % (c1 - c0, w1 - w0))


if __name__ == "__main__":
    main()
