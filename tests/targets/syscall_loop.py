# SPDX-License-Identifier: MIT
"""Target for the output-error tests: many Python calls, each making one system call.

usage: syscall_loop.py READY_FD|- [COUNT]

Writes "ready\\n" to READY_FD (unless "-"), then calls step() (which calls os.getppid(),
one getppid(2) each) in a loop: COUNT times, then exits 0, or without
COUNT until EOF on stdin (a dead test runner leaves nothing behind). Every
10000 steps it prints the count on stdout, so that a test sees it run.

Runs unchanged on CPython 2.7 and 3.6+.
"""

import os
import sys
import threading


def step():
    return os.getppid()


def watch_stdin():
    while os.read(0, 1):
        pass
    os._exit(0)


def main():
    fd = None if sys.argv[1] == "-" else int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else None
    if count is None:
        t = threading.Thread(target=watch_stdin)
        t.daemon = True
        t.start()
    if fd is not None:
        os.write(fd, b"ready\n")
        os.close(fd)
    n = 0
    while count is None or n < count:
        step()
        n += 1
        if n % 10000 == 0:
            sys.stdout.write("%d\n" % n)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
