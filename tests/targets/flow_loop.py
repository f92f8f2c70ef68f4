# SPDX-License-Identifier: MIT
"""Target for `pytrace flow` attach tests: a loop of Python calls that reports its speed.

usage: flow_loop.py READY_FD [--fork]

Writes "ready\\n" to READY_FD, then calls work() in a loop forever and
every 50 ms prints "COUNT TIME CPU" (calls so far, time.time(), and the
process's user+system CPU seconds) on stdout, so that a test can measure
the loop's speed before, during and after tracing, per CPU second (which
other processes on a busy machine do not disturb).
EOF on stdin ends it (a dead test runner leaves nothing behind).

With --fork, it first forks a child that runs Python code (calls work()
100000 times) and exits 0, and waits for it: the child must be
unaffected by whatever traces the parent. Reading "f" on stdin does the
same later (to fork while traced); reading "e" makes it exec a Python that
prints "execed" and waits for EOF on stdin.

Runs unchanged on CPython 2.7 and 3.6+.
"""

import os
import sys
import threading
import time


def work(i):
    return i + 1


_requests = []


def watch_stdin():
    while True:
        c = os.read(0, 1)
        if not c:
            os._exit(0)
        if c in (b"f", b"e"):
            _requests.append(c)


def fork_child():
    pid = os.fork()
    if pid == 0:
        child()
    _, status = os.waitpid(pid, 0)
    sys.stdout.write("child %d %d\n" % (pid, status))
    sys.stdout.flush()


def do_exec():
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-c",
                              "import sys; print('execed'); sys.stdout.flush(); sys.stdin.read()"])


def child():
    n = 0
    for _ in range(100000):
        n = work(n)
    os._exit(0 if n == 100000 else 1)


def main():
    fd = int(sys.argv[1])
    if "--fork" in sys.argv[2:]:
        fork_child()
    t = threading.Thread(target=watch_stdin)
    t.daemon = True
    t.start()
    os.write(fd, b"ready\n")
    n = 0
    next_report = time.time() + 0.05
    while True:
        for _ in range(200):
            n = work(n)
        now = time.time()
        while _requests:
            if _requests.pop(0) == b"f":
                fork_child()
            else:
                do_exec()
        if now >= next_report:
            cpu = os.times()
            sys.stdout.write("%d %.6f %.3f\n" % (n, now, cpu[0] + cpu[1]))
            sys.stdout.flush()
            next_report = now + 0.05


if __name__ == "__main__":
    main()
