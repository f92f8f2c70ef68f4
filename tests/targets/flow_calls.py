# SPDX-License-Identifier: MIT
"""Target for `pytrace flow` tests: known call sequences, and their ground truth.

usage: flow_calls.py [--truth TRUTH_JSONL] [--wait READY_FD GO_FD]

Runs workload() once in the main thread, which also runs two worker threads.
With --truth, the process profiles itself with sys.setprofile (and
threading.setprofile for the workers) and writes every event as one JSON
object per line to TRUTH_JSONL: that run is the ground truth a separate
`pytrace flow` run of the same program must reproduce.

With --wait, it writes "ready\\n" to READY_FD, then blocks reading one byte
from GO_FD before workload() (so that a tracer can attach to it while it
is blocked in a system call), and reads a second byte before it exits.

Every call sequence is deterministic: nested calls, recursion, exceptions
(raised, caught, propagated through several frames), generators (including
a throw()), a coroutine driven by send(), a C function calling back into
Python (sorted with a key, map), methods, and two threads. The functions
whose calls open a "window" (workload, worker_a, worker_b) are what the
test compares: only events inside those calls, per thread.

Runs unchanged on CPython 2.7 and 3.6+ (version-specific syntax is
compiled from strings).
"""

import json
import math
import sys
import threading

PY3 = sys.version_info[0] >= 3
GEN_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR


def leaf(x):
    return x + 1


def middle(x):
    y = leaf(x)
    return leaf(y) * 2


def recurse(n):
    if n <= 0:
        return 0
    return 1 + recurse(n - 1)


def raising_leaf():
    raise ValueError("boom")


def raising_middle():
    raising_leaf()
    return 1  # never reached


def catcher():
    try:
        raising_middle()
    except ValueError:
        return -1
    return 0


def counter(n):
    i = 0
    while i < n:
        got = yield i
        if got:
            i += got
        i += 1
    return


def drive_generators():
    total = 0
    for v in counter(3):
        total += v
    g = counter(10)
    next(g)
    g.send(2)
    try:
        g.throw(KeyError("stop"))
    except KeyError:
        total += 100
    return total


def key_of(x):
    return -x


def mapper(x):
    return x * 3


def c_callbacks():
    a = sorted([3, 1, 2], key=key_of)
    b = list(map(mapper, [1, 2]))
    a.append(math.floor(2.5))   # a module's function, a method
    return a, b


class Account(object):
    def __init__(self, balance):
        self.balance = balance

    def deposit(self, amount):
        self.balance += amount
        return self.balance

    def withdraw(self, amount):
        if amount > self.balance:
            raise RuntimeError("insufficient")
        self.balance -= amount
        return self.balance


def methods():
    acct = Account(10)
    acct.deposit(5)
    try:
        acct.withdraw(100)
    except RuntimeError:
        pass
    return acct.withdraw(1)


if sys.version_info >= (3, 5):
    exec("""
class Suspend(object):
    def __await__(self):
        value = yield "suspended"
        return value


async def coro_leaf(x):
    return x + 1


async def coro_main():
    a = await coro_leaf(1)
    b = await Suspend()
    return a + b


def drive_coroutine():
    c = coro_main()
    c.send(None)
    try:
        c.send(41)
    except StopIteration as stop:
        return stop.value
""")
else:
    def drive_coroutine():
        return 0


def worker_a():
    return middle(5) + recurse(3)


def worker_b():
    return catcher() + drive_generators()


def workload():
    middle(1)
    recurse(4)
    catcher()
    drive_generators()
    c_callbacks()
    methods()
    drive_coroutine()
    ta = threading.Thread(target=worker_a)
    tb = threading.Thread(target=worker_b)
    ta.start()
    ta.join()
    tb.start()
    tb.join()
    return 0


# --------------------------------------------------------------------------
# Ground truth

_events = []
_frames = []     # keeps every frame alive, so id(frame) is never reused
_lock = threading.Lock()


def _qualname(code):
    return getattr(code, "co_qualname", code.co_name)


def _c_name(arg):
    """A module's function as module.name (time.sleep; a builtin
    unqualified); a method by its name alone, prefixed by "." (the tests
    compare only that part)."""
    name = getattr(arg, "__name__", "?")
    module = getattr(arg, "__module__", None)
    if isinstance(module, str) and module not in ("builtins", "__builtin__"):
        return module + "." + name
    if isinstance(module, str):
        return name
    return "." + name


def _profiler(frame, event, arg):
    code = frame.f_code
    if event in ("call", "return"):
        rec = {
            "event": event,
            "function": _qualname(code),
            "file": code.co_filename,
            "line": code.co_firstlineno if event == "call" else frame.f_lineno,
            "current_line": frame.f_lineno,
            "frame": id(frame),
            "generator": bool(code.co_flags & GEN_FLAGS),
        }
    elif event.startswith("c_"):
        rec = {"event": event, "function": _c_name(arg)}
    else:
        return
    rec["thread"] = threading.current_thread().name
    with _lock:
        _frames.append(frame)
        _events.append(rec)


def _wait_byte(fd):
    import os
    if not os.read(fd, 1):
        sys.exit(1)


def main():
    args = sys.argv[1:]
    truth = None
    wait = None
    while args:
        if args[0] == "--truth":
            truth = args[1]
            args = args[2:]
        elif args[0] == "--wait":
            wait = (int(args[1]), int(args[2]))
            args = args[3:]
        else:
            sys.exit("unknown argument " + args[0])
    if wait:
        import os
        os.write(wait[0], b"ready\n")
        _wait_byte(wait[1])
    if truth:
        threading.setprofile(_profiler)
        sys.setprofile(_profiler)
    workload()
    if wait:
        os.write(wait[0], b"done\n")
        _wait_byte(wait[1])
    if truth:
        sys.setprofile(None)
        threading.setprofile(None)
        with open(truth, "w") as f:
            for rec in _events:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
