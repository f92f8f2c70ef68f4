# SPDX-License-Identifier: MIT
"""A deterministic program for the --within/--file/--function tests
(tests/e2e/test_flow_predicates.py): region() is the --within function,
recursive (extents nested in extents), called from several threads at once;
a generator and a coroutine created and started outside it are resumed
inside; Box.get is a method; wgen() is a generator used as the --within function itself;
flow_pred_lib.py is the second file. Runs on 2.7 and 3.6+.

usage: flow_pred.py [THREADS]
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flow_pred_lib  # noqa: E402

if sys.version_info >= (3, 5):
    import flow_pred_async
else:
    flow_pred_async = None


def leaf(x):
    return x + 1


def rec(n):
    if n == 0:
        return leaf(0)
    return rec(n - 1) + leaf(n)


def gen(n):
    for i in range(n):
        yield leaf(i)


def wgen(n):
    for i in range(n):
        yield flow_pred_lib.lib_leaf(i) + leaf(i)


def drive(it):
    total = 0
    for v in it:
        total += v
    return total


class Box(object):
    def __init__(self, v):
        self.v = v

    def get(self):
        return leaf(self.v)


def fails():
    raise ValueError("x")


def region(depth, g, c):
    total = rec(2) + flow_pred_lib.helper(2) + Box(1).get()
    total += sorted([3, 1, 2], key=leaf)[0]
    if g is not None:
        total += drive(g)          # started outside, resumed here
    if c is not None:
        try:
            c.send(None)           # a coroutine started outside
        except StopIteration as e:
            total += e.value or 0
    try:
        fails()
    except ValueError:
        total += 1
    if depth:
        total += region(depth - 1, None, None)   # an extent inside an extent
    return total


def work():
    total = leaf(1) + rec(1) + flow_pred_lib.helper(1)
    g = gen(3)
    total += next(g)               # outside region
    c = None
    if flow_pred_async is not None:
        c = flow_pred_async.coro(2)
        c.send(None)
    total += region(2, g, c)
    total += drive(wgen(3))
    w = wgen(2)
    total += next(w)
    total += region(0, w, None)    # wgen resumed inside region
    total += flow_pred_lib.helper(2) + leaf(2)
    return total


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = []
    # all at once (free-threaded: truly); 2.7 has no Barrier, and its
    # threads take turns anyway
    barrier = threading.Barrier(n) if hasattr(threading, "Barrier") else None

    def thread_main():
        if barrier:
            barrier.wait()
        results.append(work())

    threads = [threading.Thread(target=thread_main) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    main_result = work()
    assert results == [main_result] * n, (results, main_result)


if __name__ == "__main__":
    main()
