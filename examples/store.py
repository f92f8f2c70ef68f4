# SPDX-License-Identifier: MIT
"""A small program for `make demo`: a store that saves records from a few
worker threads while the main thread waits for them. It prints "ready"
once every thread is at work, then runs until killed."""
from __future__ import print_function

import os
import sys
import threading
import time


class Store(object):
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def save(self, record):
        data = self.encode(record)
        return self.do_write(data)

    def encode(self, record):
        return (repr(record) + "\n").encode("utf-8")

    def do_write(self, data):
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        time.sleep(3600)  # pretend the disk is very slow


def worker(store, n):
    for i in range(n):
        store.save({"worker": threading.current_thread().name, "i": i})


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def busy():
    while True:
        fib(18)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.devnull
    store = Store(path)
    threads = [threading.Thread(target=worker, args=(store, 3), name="saver-%d" % i)
               for i in range(2)]
    threads.append(threading.Thread(target=busy, name="busy"))
    for t in threads:
        t.daemon = True
        t.start()
    print("ready", os.getpid())
    sys.stdout.flush()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
