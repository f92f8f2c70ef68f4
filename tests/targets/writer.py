# SPDX-License-Identifier: MIT
"""Target for `pytrace stacks` tests: system calls from known Python stacks.

usage: writer.py MODE N TRUTH_JSON

Every traced call is made on the same line as the statement that records
its ground truth (the stack as `traceback` sees it, innermost first, with
qualified names where the version has them), so the line numbers match
exactly. The writes go to a descriptor of /dev/null that the truth names,
each with a unique payload ("w000042"), so a test can pair every event
with its truth. The truth is written at the end (to TRUTH_JSON, and
TRUTH_JSON.child for a forked child), after the traced calls.

Modes:
  nested N    N writes from functions three calls deep, alternating two
              call paths (so --count sees two stacks)
  threads N   three threads, N writes each, each thread its own functions
  fork N      N writes in the parent, then a forked child makes N writes
              from its own functions and exits; the parent waits for it
  rmtree 1    builds a small tree and removes it with shutil.rmtree; the
              stack at the call of rmdir (seen with sys.setprofile) is the
              truth
  files 1     the common file system calls once each (for argument
              decoding); the truth holds the paths and descriptors
  attach N    starts a thread that waits, prints "ready PID", waits for a
              line on stdin; then that thread makes N writes (t_mid_a), a
              thread started now makes N (t_mid_b) and the main thread N
              (nested); prints "phase1", waits for another line, makes N
              more writes from the main thread, prints "done" and exits 0

Runs unchanged on CPython 2.7 and 3.6+.
"""

import json
import os
import shutil
import sys
import threading
import traceback

try:
    import ctypes
    _libc = ctypes.CDLL(None, use_errno=True)
except Exception:  # only needed for thread ids before 3.8
    _libc = None

TRUTH = {"pid": os.getpid(), "writes": [], "rmdir": [], "files": {}}
_LOCK = threading.Lock()
FD = os.open(os.devnull, os.O_WRONLY)
TRUTH["fd"] = FD


def gettid():
    get_native_id = getattr(threading, "get_native_id", None)
    if get_native_id is not None:
        return get_native_id()
    return _libc.syscall(186)  # SYS_gettid, x86_64


def frames_from(frame):
    """The stack from frame outwards, innermost first, as traceback sees it."""
    out = []
    if hasattr(traceback, "walk_stack"):
        for f, lineno in traceback.walk_stack(frame):
            code = f.f_code
            out.append({"function": getattr(code, "co_qualname", code.co_name),
                        "file": code.co_filename, "line": lineno})
    else:  # 2.7: extract_stack is outermost first
        for filename, lineno, name, _ in reversed(traceback.extract_stack(frame)):
            out.append({"function": name, "file": filename, "line": lineno})
    return out


def record(payload):
    """Ground truth for the write on the caller's line."""
    entry = {"payload": payload.decode("ascii"), "tid": gettid(), "pid": os.getpid(),
             "frames": frames_from(sys._getframe(1))}
    with _LOCK:
        TRUTH["writes"].append(entry)


def payload_of(i, tag="w"):
    return ("%s%06d" % (tag, i)).encode("ascii")


# --- nested: two call paths, three deep ------------------------------------

def leaf(i):
    p = payload_of(i); record(p); os.write(FD, p)  # noqa: E702 (truth on the call's line)


def middle_even(i):
    leaf(i)


def middle_odd(i):
    leaf(i)


def outer(n, start=0):
    for i in range(start, start + n):
        if i % 2:
            middle_odd(i)
        else:
            middle_even(i)


# --- threads: each thread its own chain -------------------------------------

def t_leaf(i, tag):
    p = payload_of(i, tag); record(p); os.write(FD, p)  # noqa: E702


def t_mid_a(i):
    t_leaf(i, "a")


def t_mid_b(i):
    t_leaf(i, "b")


def t_mid_c(i):
    t_leaf(i, "c")


def thread_body(mid, n):
    for i in range(n):
        mid(i)


# --- fork: the child's own functions ------------------------------------------

def child_leaf(i):
    p = payload_of(i, "k"); record(p); os.write(FD, p)  # noqa: E702


def child_main(n):
    for i in range(n):
        child_leaf(i)


# --- rmtree -----------------------------------------------------------------------

def _profile_rmdir(frame, event, arg):
    if event == "c_call" and getattr(arg, "__name__", "") == "rmdir":
        TRUTH["rmdir"].append({"frames": frames_from(frame)})


def remove_tree(top):
    sys.setprofile(_profile_rmdir)
    try:
        shutil.rmtree(top)
    finally:
        sys.setprofile(None)


def build_tree(top):
    os.makedirs(os.path.join(top, "publisher", "sub"))
    with open(os.path.join(top, "publisher", "sub", "f.txt"), "w") as f:
        f.write("x")


# --- files -------------------------------------------------------------------------

def file_calls(top):
    files = TRUTH["files"]
    d = os.path.join(top, "dir")
    f = os.path.join(d, "f.txt")
    g = os.path.join(d, "g.txt")
    missing = os.path.join(d, "missing")
    files.update(dir=d, f=f, g=g, missing=missing)
    os.mkdir(d, 0o755)
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    files["wfd"] = fd
    os.write(fd, b"hello\n")
    os.close(fd)
    fd = os.open(f, os.O_RDONLY)
    files["rfd"] = fd
    os.read(fd, 100)
    os.close(fd)
    os.stat(f)
    os.rename(f, g)
    os.unlink(g)
    try:
        os.unlink(missing)
    except OSError:
        pass
    os.rmdir(d)


# --- attach ------------------------------------------------------------------------

def say(word):
    sys.stdout.write(word + "\n")
    sys.stdout.flush()


def wait_line():
    line = sys.stdin.readline()
    if not line:  # the test runner went away
        os._exit(1)


def save(path):
    data = json.dumps(TRUTH)
    with open(path, "w") as f:
        f.write(data)


def main():
    mode, n, truth_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    top = truth_path + ".tree"
    if mode == "nested":
        outer(n)
    elif mode == "threads":
        threads = [threading.Thread(target=thread_body, args=(mid, n), name="writer-" + mid.__name__)
                   for mid in (t_mid_a, t_mid_b, t_mid_c)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elif mode == "fork":
        outer(n)
        pid = os.fork()
        if pid == 0:
            TRUTH["writes"] = []
            TRUTH["pid"] = os.getpid()
            child_main(n)
            save(truth_path + ".child")
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        TRUTH["child_status"] = status
        TRUTH["child_pid"] = pid
    elif mode == "rmtree":
        build_tree(top)
        TRUTH["top"] = top
        remove_tree(top)
    elif mode == "files":
        os.mkdir(top)
        file_calls(top)
        os.rmdir(top)
    elif mode == "attach":
        go = threading.Event()

        def early():
            go.wait()
            thread_body(t_mid_a, n)
        before = threading.Thread(target=early, name="writer-early")
        before.start()
        say("ready %d" % os.getpid())
        wait_line()
        go.set()
        after = threading.Thread(target=thread_body, args=(t_mid_b, n), name="writer-late")
        after.start()
        outer(n)
        before.join()
        after.join()
        say("phase1")
        wait_line()
        outer(n, start=n)
        save(truth_path)
        say("done")
        return 0
    else:
        sys.stderr.write("unknown mode %s\n" % mode)
        return 2
    save(truth_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
