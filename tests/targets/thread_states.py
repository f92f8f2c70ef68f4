# SPDX-License-Identifier: MIT
"""Targets for tests/e2e/test_dump_threads.py: threads whose thread states
are not one per thread.

usage: thread_states.py MODE TRUTH_JSON READY_FD

MODE:
  churn    the main thread starts and joins threads without end; the truth
           holds the outer frames of its stack (which never change)
  recurse  the main thread calls a recursive function without end (eval
           invocations entering and leaving all the time); the truth holds
           the outer frames of its stack
  idle     a thread blocked in read(), two threads spinning (one of them is
           always waiting for the GIL on a GIL build), and the main thread,
           which owns a second, frameless thread state made with
           ctypes.pythonapi.PyThreadState_New, blocked in read(); truth:
           the main thread's frames (sys._current_frames())
  mainexit the main thread ends (pthread_exit) while a worker thread
           blocks in read(); truth: the worker's frames
  subinterp  the main thread runs code in a subinterpreter that blocks in
           read(); truth: the subinterpreter's and the main interpreter's
           frames, innermost first, and the subinterpreter's id

Ground truth comes from the target itself (sys._current_frames(), frames it
walks itself); "ready\\n" goes to READY_FD once every thread is in place.
EOF on stdin ends the process. Runs on CPython 2.7 and 3.6+.
"""

import json
import os
import sys
import threading

try:
    import ctypes
except ImportError:
    ctypes = None

MODE, TRUTH, READY = sys.argv[1], sys.argv[2], int(sys.argv[3])


def gettid():
    get_native_id = getattr(threading, "get_native_id", None)
    if get_native_id is not None:
        return get_native_id()
    return ctypes.CDLL(None).syscall(186)  # SYS_gettid on x86_64


def frames_of(f):
    out = []
    while f is not None:
        code = f.f_code
        out.append({"function": getattr(code, "co_qualname", code.co_name),
                    "file": code.co_filename, "line": f.f_lineno})
        f = f.f_back
    return out


def in_syscall(tid, numbers):
    try:
        with open("/proc/self/task/%d/syscall" % tid) as f:
            return f.read().split()[0] in numbers
    except (OSError, IndexError):
        return False


def report(truth):
    with open(TRUTH, "w") as f:
        json.dump(truth, f)
    os.write(READY, b"ready\n")
    os.close(READY)


def exit_on_eof():
    """Ends the process when the test closes our stdin."""
    def run():
        while os.read(0, 1):
            pass
        os._exit(0)
    t = threading.Thread(target=run, name="eof-watch")
    t.daemon = True
    t.start()


def wait_blocked(tid, numbers):
    while not in_syscall(tid, numbers):
        pass


# --- churn -----------------------------------------------------------------

def noop():
    pass


def report_after_first_round(truth):
    """Reports from another thread once the main thread has left report's
    code and gone once round its loop: returns the list to append to."""
    rounds = []

    def run():
        while not rounds:
            pass
        report(truth)
    threading.Thread(target=run).start()
    return rounds


def churn():
    rounds = report_after_first_round({
        "pid": os.getpid(), "main_tid": gettid(), "outer": frames_of(sys._getframe(1))})
    while True:
        t = threading.Thread(target=noop)
        t.start()
        t.join()
        if not rounds:
            rounds.append(1)


def run_churn():
    churn()


# --- recurse ---------------------------------------------------------------

def rec(n):
    if n:
        return rec(n - 1) + 1
    return 0


def recurse_loop():
    rounds = report_after_first_round({
        "pid": os.getpid(), "main_tid": gettid(), "outer": frames_of(sys._getframe(1))})
    while True:
        rec(40)
        if not rounds:
            rounds.append(1)


def run_recurse():
    recurse_loop()


# --- extra -----------------------------------------------------------------

def blocked_in_read(fd):
    os.read(fd, 1)


def with_extra_tstate(fd):
    api = ctypes.pythonapi
    api.PyThreadState_Get.restype = ctypes.c_void_p
    api.PyInterpreterState_Head.restype = ctypes.c_void_p
    api.PyThreadState_New.restype = ctypes.c_void_p
    api.PyThreadState_New.argtypes = [ctypes.c_void_p]
    extra = api.PyThreadState_New(api.PyInterpreterState_Head())
    if not extra:
        raise RuntimeError("PyThreadState_New failed")
    blocked_in_read(fd)


# --- idle ------------------------------------------------------------------

def spin():
    n = 0
    while True:
        n += 1


def run_idle():
    r, _w = os.pipe()
    tids = {}
    ready = threading.Event()

    def reader():
        tids["reader"] = gettid()
        ready.set()
        os.read(r, 1)

    def spinner(name):
        tids[name] = gettid()
        spin()
    t = threading.Thread(target=reader)
    t.daemon = True
    t.start()
    ready.wait()
    for name in ("spin1", "spin2"):
        t = threading.Thread(target=spinner, args=(name,))
        t.daemon = True
        t.start()
    while len(tids) < 3:
        pass
    main_tid = gettid()
    main_ident = threading.current_thread().ident
    r_main, _w_main = os.pipe()

    def reporter():
        wait_blocked(tids["reader"], ("0",))
        wait_blocked(main_tid, ("0",))
        report({"pid": os.getpid(), "main_tid": main_tid, "tids": tids,
                "frames": frames_of(sys._current_frames()[main_ident])})
    threading.Thread(target=reporter).start()
    with_extra_tstate(r_main)


# --- mainexit --------------------------------------------------------------

def worker_leaf(fd, out):
    out.extend(frames_of(sys._getframe()))
    out[0]["line"] += 2  # the os.read line below
    os.read(fd, 1)


def worker(fd, out):
    worker_leaf(fd, out)


def run_mainexit():
    """The main thread ends with pthread_exit (ctypes releases the GIL
    around the call) while a worker blocks in read()."""
    r, _w = os.pipe()
    frames, tids = [], {}

    def start():
        tids["worker"] = gettid()
        worker(r, frames)
    t = threading.Thread(target=start)
    t.start()
    main_tid = gettid()

    def reporter():
        while "worker" not in tids:
            pass
        wait_blocked(tids["worker"], ("0",))
        while os.path.exists("/proc/self/task/%d" % main_tid) and \
                open("/proc/self/task/%d/stat" % main_tid).read().rsplit(")", 1)[1].split()[0] != "Z":
            pass
        report({"pid": os.getpid(), "main_tid": main_tid, "worker_tid": tids["worker"],
                "frames": frames})
    threading.Thread(target=reporter).start()
    ctypes.CDLL(None).pthread_exit(None)


# --- subinterp -------------------------------------------------------------

SUB_CODE = """
import os, sys, json
def sub_leaf():
    f = sys._getframe()
    out = []
    while f is not None:
        out.append({"function": getattr(f.f_code, "co_qualname", f.f_code.co_name),
                    "file": f.f_code.co_filename, "line": f.f_lineno})
        f = f.f_back
    out[0]["line"] = %(line)d
    os.write(%(w)d, (json.dumps(out) + "\\n").encode())
    os.read(%(r)d, 1)
def sub_middle():
    sub_leaf()
sub_middle()
"""


def sub_module():
    """_interpreters (3.13+) or _xxsubinterpreters (3.8+); None before."""
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            return __import__(name)
        except ImportError:
            pass
    return None


def enter_sub(mod, interp, code, where):
    run = getattr(mod, "run_string", None) or getattr(mod, "exec")
    where.extend(frames_of(sys._getframe()))
    where[0]["line"] += 2  # the run() line below
    run(interp, code)


def enter_sub_ctypes(code, where):
    """Py_NewInterpreter() makes the new interpreter's thread state current;
    PyRun_SimpleString runs the code there (and never returns)."""
    api = ctypes.pythonapi
    api.Py_NewInterpreter.restype = ctypes.c_void_p
    api.PyRun_SimpleString.argtypes = [ctypes.c_char_p]
    where.extend(frames_of(sys._getframe()))
    where[0]["line"] += 4  # the PyRun_SimpleString line below
    if not api.Py_NewInterpreter():
        raise RuntimeError("Py_NewInterpreter failed")
    api.PyRun_SimpleString(code.encode())


def run_subinterp():
    mod = sub_module()
    interp = mod.create() if mod else None
    interp_id = int(interp) if mod else 1
    r, _w = os.pipe()
    tr, tw = os.pipe()
    main_tid = gettid()

    def reporter():
        sub = json.loads(os.read(tr, 1 << 20).decode())
        wait_blocked(main_tid, ("0",))
        report({"pid": os.getpid(), "main_tid": main_tid, "interp_id": interp_id,
                "sub_frames": sub, "main_frames": main_frames})
    main_frames = []
    threading.Thread(target=reporter).start()
    lines = SUB_CODE.split("\n")
    read_line = [i for i, l in enumerate(lines) if "os.read(" in l][0] + 1
    code = SUB_CODE % {"w": tw, "r": r, "line": read_line}
    if mod:
        enter_sub(mod, interp, code, main_frames)
    else:
        enter_sub_ctypes(code, main_frames)


exit_on_eof()
{"churn": run_churn, "recurse": run_recurse, "mainexit": run_mainexit, "idle": run_idle,
 "subinterp": run_subinterp}[MODE]()
