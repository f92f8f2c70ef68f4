# SPDX-License-Identifier: MIT
"""Target for pytrace's end-to-end tests: threads parked in known Python stacks.

usage: stacks.py TRUTH_JSON READY

READY is a file descriptor number (inherited) or the path of a FIFO. Once every
thread below sits in its blocking call, a reporter thread writes TRUTH_JSON
(the stacks as sys._current_frames() sees them), then "ready\\n" to READY,
then exits. On failure it writes "error: MESSAGE\\n" instead.

The echo thread answers pings: each byte read from stdin is written back to
stdout ("!" instead if any parked thread has left its blocking call). EOF on
stdin ends the process, so a dead test runner leaves no target behind.

Runs unchanged on CPython 2.7 and 3.6+: version-specific syntax (async def,
non-ASCII identifiers) is compiled from strings behind version checks.
Linux x86_64 only (gettid and the syscall numbers checked below).
"""

import json
import os
import platform
import sys
import threading
import time
import traceback
import types

try:
    from _thread import get_ident
except ImportError:  # Python 2
    from thread import get_ident

try:
    import ctypes
    _libc = ctypes.CDLL(None, use_errno=True)
except Exception:  # ctypes is optional: thread names and the native thread need it
    ctypes = None
    _libc = None

PY3 = sys.version_info[0] >= 3
X86_64 = platform.machine() == "x86_64"
RECURSION_DEPTH = 1200

# Blocking primitives. Nothing is ever written to _NEVER_W and the locks are
# never released, so the threads parked on them stay put.
_NEVER_R, _NEVER_W = os.pipe()
_LOCK_MAIN = threading.Lock()
_LOCK_MAIN.acquire()
_LOCK_CALLBACK = threading.Lock()
_LOCK_CALLBACK.acquire()

# x86_64 syscall numbers a parked thread may sit in, by kind of block.
# time.sleep is select() up to 3.10 and clock_nanosleep() from 3.11.
_SYSCALLS = {
    "read": (0,),                    # read
    "sleep": (7, 23, 35, 230, 270),  # poll select nanosleep clock_nanosleep pselect6
    "lock": (202,),                  # futex
    "pause": (34,),                  # pause
}

_state_lock = threading.Lock()
_cond = threading.Condition(_state_lock)
_threads = {}   # ident -> dict(role, tid, name, block, code, line/lines, fd)
_broken = []    # roles whose thread left its blocking call


def _gettid():
    get_native_id = getattr(threading, "get_native_id", None)
    if get_native_id is not None:
        return get_native_id()
    if _libc is None or not X86_64:
        raise RuntimeError("cannot find this thread's TID (no ctypes)")
    return _libc.syscall(186)  # SYS_gettid


def _set_thread_name(name):
    """Sets the kernel thread name (comm), as pytrace reports it."""
    if _libc is not None:
        _libc.prctl(15, ctypes.c_char_p(name.encode("ascii")), 0, 0, 0)  # PR_SET_NAME


def _read_comm(tid):
    with open("/proc/self/task/%d/comm" % tid) as f:
        return f.read().rstrip("\n")


def _task_state(tid):
    """Returns (state letter, syscall number or None) of one of our threads."""
    with open("/proc/self/task/%d/stat" % tid) as f:
        stat = f.read()
    state = stat[stat.rindex(")") + 2]
    nr = None
    args = ()
    try:
        with open("/proc/self/task/%d/syscall" % tid) as f:
            words = f.read().split()
        if words and words[0] not in ("running", "-1"):
            nr = int(words[0])
            args = tuple(int(w, 16) for w in words[1:3])
    except (IOError, OSError, ValueError):
        pass
    return state, nr, args


def _syscall_file_works():
    if not X86_64:
        return False
    try:
        with open("/proc/self/task/%d/syscall" % _gettid()) as f:
            return bool(f.read().strip())
    except (IOError, OSError):
        return False


def _register(role):
    info = {"role": role, "tid": _gettid(), "block": None}
    with _cond:
        _threads[get_ident()] = info
    return info


def _arm(block, fd=None):
    """Declares that the caller's next line is its blocking call."""
    caller = sys._getframe(1)
    with _cond:
        info = _threads[get_ident()]
        info.update(block=block, code=caller.f_code, line=caller.f_lineno + 1, fd=fd)
        _cond.notify_all()


def _arm_spin():
    """Declares that the caller spins on its next two lines."""
    caller = sys._getframe(1)
    with _cond:
        info = _threads[get_ident()]
        info.update(block="spin", code=caller.f_code,
                    lines=(caller.f_lineno + 1, caller.f_lineno + 2))
        _cond.notify_all()


# ---------------------------------------------------------------------------
# Thread bodies. Each ends in a C call made directly from its leaf function.

# main thread: plain nested calls (and a list comprehension frame on <= 3.11)
def main_leaf():
    _arm("lock")
    _LOCK_MAIN.acquire()


def level_two():
    return [main_leaf() for _ in (1,)]


def level_one():
    return level_two()


def park_main():
    return level_one()


# a method chain: qualnames Parker.step etc. on 3.11+
class Parker(object):
    def run_chain(self):
        return self.step()

    def step(self):
        return self.block()

    def block(self):
        _arm("sleep")
        time.sleep(3600)


def method_body():
    Parker().run_chain()


# a generator being run, driven by a for loop
def gen_body(fd):
    yield 1
    _arm("read", fd)
    yield os.read(fd, 1)


def generator_body():
    for _ in gen_body(_NEVER_R):
        pass


# C callbacks re-entering Python: map() calls mapped(), sorted() calls the key
def key_leaf(x):
    _arm("lock")
    _LOCK_CALLBACK.acquire()


def callbacks_body():
    def mapped(x):
        return sorted([2, 1], key=lambda y: key_leaf(y))
    return list(map(mapped, [1]))


# deep recursion
def recurse_leaf(fd):
    _arm("read", fd)
    os.read(fd, 1)


def recurse(n, fd):
    if n <= 1:
        return recurse_leaf(fd)
    return recurse(n - 1, fd)


def recursion_body():
    recurse(RECURSION_DEPTH, _NEVER_R)


# a coroutine driven by send(None), blocked inside an awaited coroutine
_CORO_SRC = '''
async def coro_inner():
    _arm("sleep")
    time.sleep(3600)


async def coro_outer():
    await coro_inner()


def drive_coro():
    coro_outer().send(None)
'''


def coroutine_body():
    ns = {"_arm": _arm, "time": time}
    exec(compile(_CORO_SRC, "<coroutines>", "exec"), ns)
    ns["drive_coro"]()


# non-ASCII function names: Latin-1, UCS-2 and UCS-4 (PEP 393 kinds 1, 2, 4)
_UNICODE_NAMES_SRC = (
    u"def \u00f1and\u00fa():\n"
    u"    return \u95a2\u6570()\n"
    u"\n"
    u"def \u95a2\u6570():\n"
    u"    return \U00020000()\n"
    u"\n"
    u"def \U00020000():\n"
    u"    _arm('sleep')\n"
    u"    time.sleep(3600)\n"
)


def unicode_names_body():
    ns = {"_arm": _arm, "time": time}
    exec(compile(_UNICODE_NAMES_SRC, "<unicode-names>", "exec"), ns)
    ns[u"\u00f1and\u00fa"]()


# a module whose file name is non-ASCII (UCS-2: katakana "fairu.py")
_UNICODE_FILE_NAME = u"\u30d5\u30a1\u30a4\u30eb.py"
_UNICODE_FILE_SRC = (
    "import os\n"
    "\n"
    "\n"
    "def in_unicode_file(arm, fd):\n"
    "    arm('read', fd)\n"
    "    os.read(fd, 1)\n"
)


def load_unicode_file_module(directory):
    path = os.path.join(directory, _UNICODE_FILE_NAME)
    if not PY3:
        path = path.encode("utf-8")
    with open(path, "w") as f:
        f.write(_UNICODE_FILE_SRC)
    module = types.ModuleType("unicode_file")
    module.__file__ = path
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), module.__dict__)
    return module


def unicode_file_body(module):
    module.in_unicode_file(_arm, _NEVER_R)


# the thread that answers pings from the test
def echo_body():
    while True:
        _arm("read", 0)
        byte = os.read(0, 1)
        if not byte:
            os._exit(0)
        os.write(1, b"!" if _broken else byte)


# a thread spinning in pure Python, holding the GIL
def spin():
    n = 0
    _arm_spin()
    while True:
        n += 1


def spinner_body():
    spin()


# ---------------------------------------------------------------------------

def _thread_main(role, body, args):
    try:
        _set_thread_name(role)
        _register(role)
        body(*args)
        raise RuntimeError("returned from its blocking call")
    except BaseException:
        with _cond:
            _broken.append(role)
            _cond.notify_all()
        sys.stderr.write("stacks.py: thread %s failed:\n%s" % (role, traceback.format_exc()))


def _start(role, body, args=(), stack_size=None):
    if stack_size:
        threading.stack_size(stack_size)
    t = threading.Thread(target=_thread_main, name=role, args=(role, body, args))
    t.daemon = True
    t.start()
    if stack_size:
        threading.stack_size(0)
    return t


def _start_native_thread():
    """A thread with no Python thread state: pthread_create(pause)."""
    if _libc is None:
        return False
    try:
        thread = ctypes.c_ulong()
        create = _libc.pthread_create
        create.argtypes = [ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p,
                           ctypes.c_void_p, ctypes.c_void_p]
        start = ctypes.cast(_libc.pause, ctypes.c_void_p)
        if create(ctypes.byref(thread), None, start, None) != 0:
            return False
        setname = _libc.pthread_setname_np
        setname.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
        setname(thread, b"native-pause")
        return True
    except Exception:
        return False


def _frames_of(frame):
    out = []
    while frame is not None:
        code = frame.f_code
        out.append({"function": getattr(code, "co_qualname", code.co_name),
                    "file": code.co_filename,
                    "line": frame.f_lineno})
        frame = frame.f_back
    return out


def _problem(info, frame, state, check_syscall):
    """Why this thread is not (yet) in its expected state, or None."""
    if info.get("block") is None:
        return "not armed"
    if frame is None:
        return "no frame"
    if frame.f_code is not info["code"]:
        return "top frame is %s" % frame.f_code.co_name
    if info["block"] == "spin":
        lo, hi = info["lines"]
        return None if lo <= frame.f_lineno <= hi else "line %d" % frame.f_lineno
    if frame.f_lineno != info["line"]:
        return "line %d, expected %d" % (frame.f_lineno, info["line"])
    letter, nr, args = state
    if letter != "S":
        return "state %s" % letter
    if check_syscall:
        if nr not in _SYSCALLS[info["block"]]:
            return "in syscall %r" % (nr,)
        if info["block"] == "read" and args[:1] != (info["fd"],):
            return "read from fd %r" % (args[:1],)
    return None


def _write_ready(ready, text):
    data = text.encode("utf-8")
    if ready.isdigit():
        fd = int(ready)
    else:
        fd = os.open(ready, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _report(truth_path, ready, roles, native_expected):
    try:
        truth = _wait_and_describe(roles, native_expected)
        tmp = truth_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(truth, f, indent=1, sort_keys=True)
        os.rename(tmp, truth_path)
        _write_ready(ready, "ready\n")
    except BaseException:
        sys.stderr.write("stacks.py: reporter failed:\n%s" % traceback.format_exc())
        message = str(sys.exc_info()[1]).replace("\n", "; ")
        _write_ready(ready, "error: %s\n" % message)


def _wait_and_describe(roles, native_expected):
    check_syscall = _syscall_file_works()
    me = _gettid()
    deadline = time.time() + 50
    while True:
        with _cond:
            if _broken:
                raise RuntimeError("thread(s) %s failed, see stderr" % ", ".join(_broken))
            threads = dict(_threads)
        problems = {}
        armed = set(info["role"] for info in threads.values())
        for role in roles:
            if role not in armed:
                problems[role] = "not started"
        # Read /proc (releasing the GIL) before the snapshot, so that a thread
        # seen in its syscall is known to be parked when the snapshot is taken.
        states = dict((ident, _task_state(info["tid"])) for ident, info in threads.items())
        frames = sys._current_frames()
        for ident, info in threads.items():
            why = _problem(info, frames.get(ident), states[ident], check_syscall)
            if why:
                problems[info["role"]] = why
        native_tid = None
        if native_expected and not problems:
            known = set(info["tid"] for info in threads.values()) | set([me])
            others = [int(t) for t in os.listdir("/proc/self/task") if int(t) not in known]
            natives = [t for t in others if _read_comm(t) == "native-pause"]
            if len(natives) != 1:
                problems["native"] = "native threads %r among %r" % (natives, others)
            else:
                native_tid = natives[0]
                state = _task_state(native_tid)
                if state[0] != "S" or (check_syscall and state[1] not in _SYSCALLS["pause"]):
                    problems["native"] = "state %r" % (state,)
        if not problems:
            break
        if time.time() > deadline:
            raise RuntimeError("threads not parked: %s" % ", ".join(
                "%s: %s" % kv for kv in sorted(problems.items())))
        with _cond:
            _cond.wait(0.01)

    out = {}
    for ident, info in threads.items():
        frames_list = _frames_of(frames[ident])
        entry = {"name": _read_comm(info["tid"]), "role": info["role"], "python": True,
                 "block": info["block"], "holds_gil": info["block"] == "spin",
                 "frames": frames_list}
        if info["block"] == "spin":
            frames_list[0]["line"] = "spinning"
            entry["spin_lines"] = list(info["lines"])
        if info["block"] == "read":
            entry["fd"] = info["fd"]
        out[str(info["tid"])] = entry
    if native_tid is not None:
        out[str(native_tid)] = {"name": "native-pause", "role": "native", "python": False,
                                "block": "pause", "holds_gil": False, "frames": []}
    by_role = dict((v["role"], int(k)) for k, v in out.items())
    return {"pid": os.getpid(),
            "version": list(sys.version_info[:3]),
            "executable": sys.executable,
            "reporter_tid": me,
            "syscalls_checked": check_syscall,
            "tids": by_role,
            "threads": out}


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: stacks.py TRUTH_JSON READY\n")
        return 2
    truth_path, ready = argv[1], argv[2]
    sys.setrecursionlimit(RECURSION_DEPTH + 1000)
    if not PY3:
        # Python 2 drops and retakes the GIL every check interval; keep the
        # spinner's window without the GIL rare.
        sys.setcheckinterval(1000)
    # The reporter must see the main thread too.
    with _cond:
        _threads[get_ident()] = {"role": "main", "tid": _gettid(), "block": None}
    roles = ["main", "method", "generator", "callbacks", "recursion", "unicode-file",
             "echo", "spinner"]
    module = load_unicode_file_module(os.path.dirname(os.path.abspath(truth_path)))
    _start("method", method_body)
    _start("generator", generator_body)
    _start("callbacks", callbacks_body)
    _start("recursion", recursion_body, stack_size=64 * 1024 * 1024)
    _start("unicode-file", unicode_file_body, (module,))
    if sys.version_info >= (3, 5):
        roles.append("coroutine")
        _start("coroutine", coroutine_body)
    if PY3:
        roles.append("unicode-names")
        _start("unicode-names", unicode_names_body)
    _start("echo", echo_body)
    _start("spinner", spinner_body)
    native = _start_native_thread()
    reporter = threading.Thread(target=_report, name="reporter",
                                args=(truth_path, ready, roles, native))
    reporter.daemon = True
    reporter.start()
    park_main()
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
