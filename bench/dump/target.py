# SPDX-License-Identifier: MIT
"""Benchmark target: THREADS threads, each DEPTH Python frames deep, blocked
in time.sleep. Prints "ready" when every thread is in place."""
import sys
import threading
import time

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
DEPTH = int(sys.argv[2]) if len(sys.argv) > 2 else 50
arrived = threading.Semaphore(0)


def descend(n):
    if n > 1:
        return descend(n - 1)
    arrived.release()
    time.sleep(3600)


for i in range(THREADS - 1):
    t = threading.Thread(target=descend, args=(DEPTH - 3,), name="deep-%d" % i)
    t.daemon = True
    t.start()
for i in range(THREADS - 1):
    arrived.acquire()
sys.stdout.write("ready\n")
sys.stdout.flush()
descend(DEPTH - 1)
