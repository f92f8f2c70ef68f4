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

Reading "h" makes it print "hooks JSON": the hooks a tracer can leave in it,
read by the process itself with ctypes and sys.monitoring: per thread
state its C profile function (0 when none), per interpreter whether the
PEP 523 frame-evaluation function is CPython's default (3.6+), the
sys.monitoring tools in use with their events (3.12+), and whether the
loop's arithmetic is still right. (The first "h" must come before any
tracer: it finds the offsets by setting and clearing a profile function.)

Runs unchanged on CPython 2.7 and 3.6+.
"""

import ctypes
import json
import os
import sys
import threading
import time


def work(i):
    return i + 1


_requests = []
_hooks = None
_steps = [0, 0]   # loop iterations, n


class Hooks:
    """Reads this process's tracing hooks. The offset of the C profile
    function in a thread state is found by setting a known one
    (PyEval_SetProfile) and looking for it; before 3.9 that of the
    frame-evaluation function by looking for _PyEval_EvalFrameDefault."""

    def __init__(self):
        vp = ctypes.c_void_p
        self.api = api = ctypes.pythonapi
        for name, args in [("PyThreadState_Get", []), ("PyInterpreterState_Head", []),
                           ("PyInterpreterState_Next", [vp]),
                           ("PyInterpreterState_ThreadHead", [vp]),
                           ("PyThreadState_Next", [vp])]:
            f = getattr(api, name)
            f.restype = vp
            f.argtypes = args
        api.PyEval_SetProfile.argtypes = [vp, vp]
        api.PyEval_SetProfile.restype = None
        cb = ctypes.CFUNCTYPE(ctypes.c_int, vp, vp, ctypes.c_int, vp)(lambda *a: 0)
        addr = ctypes.cast(cb, vp).value
        ts = api.PyThreadState_Get()
        api.PyEval_SetProfile(addr, None)
        hits = [o for o in range(0, 512, 8) if vp.from_address(ts + o).value == addr]
        api.PyEval_SetProfile(None, None)
        assert len(hits) == 1, "c_profilefunc not found: %s" % hits
        self.profile_off = hits[0]
        self.eval_default = self.eval_get = self.eval_off = None
        if sys.version_info >= (3, 6):
            self.eval_default = ctypes.cast(api._PyEval_EvalFrameDefault, vp).value
            if sys.version_info >= (3, 9):
                self.eval_get = api._PyInterpreterState_GetEvalFrameFunc
                self.eval_get.restype = vp
                self.eval_get.argtypes = [vp]
            else:
                interp = api.PyInterpreterState_Head()
                hits = [o for o in range(0, 4096, 8)
                        if vp.from_address(interp + o).value == self.eval_default]
                assert len(hits) == 1, "eval_frame not found: %s" % hits
                self.eval_off = hits[0]

    def read(self):
        vp = ctypes.c_void_p
        api = self.api
        profile, eval_default = [], []
        interp = api.PyInterpreterState_Head()
        while interp:
            ts = api.PyInterpreterState_ThreadHead(interp)
            while ts:
                profile.append(vp.from_address(ts + self.profile_off).value or 0)
                ts = api.PyThreadState_Next(ts)
            if self.eval_get:
                eval_default.append(self.eval_get(interp) == self.eval_default)
            elif self.eval_off is not None:
                eval_default.append(vp.from_address(interp + self.eval_off).value ==
                                    self.eval_default)
            interp = api.PyInterpreterState_Next(interp)
        tools = []
        if sys.version_info >= (3, 12):
            tools = [[i, sys.monitoring.get_tool(i), sys.monitoring.get_events(i)]
                     for i in range(6) if sys.monitoring.get_tool(i) is not None]
        return {"profile": profile, "eval_default": eval_default, "tools": tools,
                "correct": _steps[1] == 200 * _steps[0]}


def watch_stdin():
    while True:
        c = os.read(0, 1)
        if not c:
            os._exit(0)
        if c in (b"f", b"e", b"h"):
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
    global _hooks
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
        _steps[0] += 1
        _steps[1] = n
        now = time.time()
        while _requests:
            c = _requests.pop(0)
            if c == b"f":
                fork_child()
            elif c == b"h":
                if _hooks is None:
                    # at the first request, before any tracer (it sets and
                    # clears a profile function of its own)
                    _hooks = Hooks()
                sys.stdout.write("hooks %s\n" % json.dumps(_hooks.read()))
                sys.stdout.flush()
            else:
                do_exec()
        if now >= next_report:
            cpu = os.times()
            sys.stdout.write("%d %.6f %.3f\n" % (n, now, cpu[0] + cpu[1]))
            sys.stdout.flush()
            next_report = now + 0.05


if __name__ == "__main__":
    main()
