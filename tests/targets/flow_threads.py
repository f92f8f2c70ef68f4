# SPDX-License-Identifier: MIT
"""Target for `pytrace flow` with several threads calling at full speed.

usage: flow_threads.py [--truth TRUTH_JSONL] [--threads N] [--rounds R]
                       [--until READY_FD STOP_FD]

N threads (4 by default, at most 4) start together (a barrier) and each runs its own
window function, worker_0 ... worker_3, which makes R rounds of
deterministic calls: nested calls, recursion, a caught exception, a
generator, methods, a builtin calling back into Python. On a free-threaded
build they run at once; each thread's own sequence does not depend on the
others, so it is its ground truth however the threads interleave.

With --truth, every thread profiles itself (threading.setprofile before
the threads start: each thread's own profile function from its first
event) and the events go to TRUTH_JSONL, one JSON object per line, with
the thread's name; a separate `pytrace flow` run must reproduce each
thread's sequence exactly.

With --until, the threads go round until a byte arrives on STOP_FD; once
they all run, "ready\n" is written to READY_FD, and "done\n" once they
are joined.
"""

import json
import sys
import threading


def leaf(x):
    return x + 1


def middle(x):
    return leaf(leaf(x)) * 2


def recurse(n):
    if n <= 0:
        return 0
    return 1 + recurse(n - 1)


def fails(x):
    raise ValueError(x)


def catcher(x):
    try:
        fails(x)
    except ValueError:
        return -1
    return 0


def numbers(n):
    i = 0
    while i < n:
        yield i
        i += 1


class Box(object):
    def __init__(self, v):
        self.v = v

    def add(self, x):
        self.v += x
        return self.v


def key_of(x):
    return -x


def one_round(k, r):
    total = middle(r) + recurse(3 + k) + catcher(r)
    for v in numbers(3):
        total += v
    box = Box(k)
    box.add(r)
    total += sorted([3, 1, 2], key=key_of)[0]
    return total


_stop = []


def _work(k, rounds, barrier):
    barrier.wait()
    total = 0
    if rounds < 0:          # until told to stop
        r = 0
        while not _stop:
            total += one_round(k, r % 100)
            r += 1
        return total
    for r in range(rounds):
        total += one_round(k, r)
    return total


# One window function per thread, so that each thread's events are told
# apart by name in both runs (thread ids differ between them).
def worker_0(rounds, barrier):
    return _work(0, rounds, barrier)


def worker_1(rounds, barrier):
    return _work(1, rounds, barrier)


def worker_2(rounds, barrier):
    return _work(2, rounds, barrier)


def worker_3(rounds, barrier):
    return _work(3, rounds, barrier)


WORKERS = [worker_0, worker_1, worker_2, worker_3]


_events = []
_lock = threading.Lock()
_keep = []


def _profiler(frame, event, arg):
    if event not in ("call", "return"):
        return
    code = frame.f_code
    rec = {"event": event, "function": getattr(code, "co_qualname", code.co_name),
           "file": code.co_filename,
           "line": code.co_firstlineno if event == "call" else frame.f_lineno,
           "frame": id(frame), "generator": bool(code.co_flags & 0x2a0),
           "current_line": frame.f_lineno,
           "thread": threading.current_thread().name}
    with _lock:
        _keep.append(frame)
        _events.append(rec)


def main():
    args = sys.argv[1:]
    truth, nthreads, rounds, until = None, 4, 2000, None
    while args:
        if args[0] == "--truth":
            truth, args = args[1], args[2:]
        elif args[0] == "--threads":
            nthreads, args = int(args[1]), args[2:]
        elif args[0] == "--rounds":
            rounds, args = int(args[1]), args[2:]
        elif args[0] == "--until":
            until, rounds, args = (int(args[1]), int(args[2])), -1, args[3:]
        else:
            sys.exit("unknown argument " + args[0])
    barrier = threading.Barrier(nthreads + (1 if until else 0))
    workers = WORKERS[:nthreads]
    if truth:
        threading.setprofile(_profiler)
    threads = [threading.Thread(target=w, args=(rounds, barrier), name=w.__name__)
               for w in workers]
    for t in threads:
        t.start()
    if until:
        import os
        barrier.wait()
        os.write(until[0], b"ready\n")
        os.read(until[1], 1)
        _stop.append(1)
    for t in threads:
        t.join()
    if until:
        os.write(until[0], b"done\n")
    if truth:
        threading.setprofile(None)
        with open(truth, "w") as f:
            for rec in _events:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
