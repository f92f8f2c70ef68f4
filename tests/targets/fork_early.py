# SPDX-License-Identifier: MIT
"""Target that forks before the flow agent has seen any event.

usage: fork_early.py READY_FD

Writes "ready\\n" to READY_FD, then blocks reading stdin (so that an agent
loaded meanwhile sees no event). On "f" it calls os.fork() right there, in
the loop (no Python call in between: the agent's first event may come
after the fork): the child calls work() 100000 times and exits 0 if the
count is right; the parent waits for it, calls work() 10 times and
answers "child PID STATUS". EOF on stdin ends it. Runs on 2.7 and 3.6+.
"""

import os
import sys


def work(i):
    return i + 1


def main():
    os.write(int(sys.argv[1]), b"ready\n")
    while True:
        c = os.read(0, 1)
        if not c:
            os._exit(0)
        if c != b"f":
            continue
        pid = os.fork()
        if pid == 0:
            n = 0
            for _ in range(100000):
                n = work(n)
            os._exit(0 if n == 100000 else 1)
        _, status = os.waitpid(pid, 0)
        n = 0
        for _ in range(10):
            n = work(n)
        os.write(1, ("child %d %d\n" % (pid, status)).encode())


if __name__ == "__main__":
    main()
