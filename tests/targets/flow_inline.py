# SPDX-License-Identifier: MIT
"""Target for `pytrace flow`: every way CPython pushes a Python frame without a C call.

usage: flow_inline.py [--truth TRUTH_JSONL] [--rounds N] [--cases]

Each case function (case_NAME) runs one construct N times (50 by
default), enough for the specialising interpreter (3.11+) to replace the
generic instruction by the one that pushes the callee's frame inline:

    getitem        BINARY_SUBSCR_GETITEM (3.11-3.13), BINARY_OP_SUBSCR_GETITEM (3.14+)
    call_exact     CALL_PY_EXACT_ARGS
    call_defaults  CALL_PY_WITH_DEFAULTS (3.11-3.12), CALL_PY_GENERAL (3.13+)
    call_varargs   CALL_PY_GENERAL (3.13+): a *args callee
    bound_method   CALL_BOUND_METHOD_EXACT_ARGS (3.12+)
    call_kw        CALL_KW (3.13), CALL_KW_PY (3.14+)
    call_ex        CALL_FUNCTION_EX (inlined from 3.13)
    alloc_init     CALL_ALLOC_AND_ENTER_INIT (3.13+)
    for_iter_gen   FOR_ITER_GEN (3.12+)
    send_gen       SEND_GEN (3.12+): yield from
    await_coro     SEND_GEN on a coroutine (await)
    prop           LOAD_ATTR_PROPERTY (3.12+)
    getattribute   LOAD_ATTR_GETATTRIBUTE_OVERRIDDEN (3.12+)
    super_method   LOAD_SUPER_ATTR_METHOD + CALL (3.12+)
    dunder_add     BINARY_OP on a Python __add__ (through a C slot)
    genexpr        a generator expression consumed by sum() (C iteration)
    raw_thread     a thread made by _thread.start_new_thread, after the
                   install: its window is raw_thread_worker, in that thread

With --truth the process profiles itself with sys.setprofile and writes
every event as JSON lines (the format of flow_calls.py): the ground truth
a separate `pytrace flow` run must reproduce event by event. --cases
prints the case names; --specialized runs the cases and prints, per case,
the specialised instructions dis then shows in it (3.11+). Runs on CPython 2.7 and 3.6+ (newer syntax is
compiled from strings).
"""

import json
import sys

GEN_FLAGS = 0x20 | 0x80 | 0x200


class Box(object):
    def __init__(self, v):
        self.v = v

    def __getitem__(self, i):
        return self.v + i

    def get(self, i):
        return self.v - i

    @property
    def doubled(self):
        return self.v * 2

    def __add__(self, other):
        return self.v + other


class Watched(object):
    def __init__(self):
        self.x = 1

    def __getattribute__(self, name):
        return 7


class Base(object):
    def hello(self, x):
        return x + 1


class Derived(Base):
    def hello(self, x):
        return super(Derived, self).hello(x) * 2


def exact(a):
    return a + 1


def with_defaults(a, b=2):
    return a + b


def varargs(*a):
    return len(a)


def keywords(a, b=0):
    return a - b


def gen(n):
    i = 0
    while i < n:
        yield i
        i += 1


ROUNDS = 50


def case_getitem():
    b = Box(3)
    t = 0
    for i in range(ROUNDS):
        t += b[i]
    return t


def case_call_exact():
    t = 0
    for i in range(ROUNDS):
        t += exact(i)
    return t


def case_call_defaults():
    t = 0
    for i in range(ROUNDS):
        t += with_defaults(i)
    return t


def case_call_varargs():
    t = 0
    for i in range(ROUNDS):
        t += varargs(i, i)
    return t


def case_bound_method():
    b = Box(9)
    t = 0
    for i in range(ROUNDS):
        t += b.get(i)
    return t


def case_call_kw():
    t = 0
    for i in range(ROUNDS):
        t += keywords(i, b=1)
    return t


def case_call_ex():
    args = (4,)
    kw = {"b": 1}
    t = 0
    for i in range(ROUNDS):
        t += keywords(*args, **kw)
    return t


def case_alloc_init():
    t = 0
    for i in range(ROUNDS):
        t += Box(i).v
    return t


def case_for_iter_gen():
    t = 0
    for i in range(ROUNDS):
        for v in gen(2):
            t += v
    return t


def case_prop():
    b = Box(5)
    t = 0
    for i in range(ROUNDS):
        t += b.doubled
    return t


def case_getattribute():
    w = Watched()
    t = 0
    for i in range(ROUNDS):
        t += w.x
    return t


def case_super_method():
    d = Derived()
    t = 0
    for i in range(ROUNDS):
        t += d.hello(i)
    return t


def case_dunder_add():
    b = Box(2)
    t = 0
    for i in range(ROUNDS):
        t += b + i
    return t


def case_genexpr():
    t = 0
    for i in range(ROUNDS):
        t += sum(x for x in (i, 1))
    return t


def case_raw_thread():
    """A thread made with _thread.start_new_thread (no threading): its
    thread state is new since the install."""
    try:
        import _thread as thread
    except ImportError:
        import thread
    done = thread.allocate_lock()
    done.acquire()
    thread.start_new_thread(_thread_main, (case_raw_thread_worker, done))
    done.acquire()
    return 0


def _thread_main(fn, done):
    if TRUTH:
        sys.setprofile(_profiler)
    try:
        fn()
    finally:
        sys.setprofile(None)
        done.release()


def case_raw_thread_worker():
    t = 0
    for i in range(ROUNDS):
        t += exact(i)
    return t


TRUTH = False
THREAD_CASES = ["raw_thread_worker"]   # windows that run in another thread
CASES = ["getitem", "call_exact", "call_defaults", "call_varargs", "bound_method",
         "call_kw", "call_ex", "alloc_init", "for_iter_gen", "prop", "getattribute",
         "super_method", "dunder_add", "genexpr", "raw_thread"]

if sys.version_info >= (3, 5):
    exec(compile("""
def sub_gen(n):
    yield n
    yield n + 1
    return n


def outer_gen(n):
    r = yield from sub_gen(n)
    return r


def case_send_gen():
    t = 0
    for i in range(ROUNDS):
        for v in outer_gen(i):
            t += v
    return t


class Later(object):
    def __await__(self):
        v = yield 1
        return v


async def coro_leaf(x):
    return x + 1


async def coro_main(x):
    a = await coro_leaf(x)
    b = await Later()
    return a + b


def case_await_coro():
    t = 0
    for i in range(ROUNDS):
        c = coro_main(i)
        c.send(None)
        try:
            c.send(1)
        except StopIteration as stop:
            t += stop.value
    return t
""", __file__, "exec"))
    CASES += ["send_gen", "await_coro"]


def workload():
    g = globals()
    for name in CASES:
        g["case_" + name]()


PUSHERS = ("CALL_PY_", "CALL_BOUND_METHOD_", "CALL_ALLOC_AND_ENTER_INIT", "CALL_KW_PY",
           "CALL_KW_BOUND_METHOD", "SUBSCR_GETITEM", "FOR_ITER_GEN", "SEND_GEN",
           "LOAD_ATTR_PROPERTY", "LOAD_ATTR_GETATTRIBUTE_OVERRIDDEN")


def specialized():
    """Specialised instruction that pushes a Python frame inline -> the
    functions whose code runs it after the workload, as dis shows them
    (3.11+; empty before): which instructions the cases really met."""
    import dis
    out = {}
    codes = []
    for v in list(globals().values()):
        for f in [v] + list(getattr(v, "__dict__", {}).values()):
            f = getattr(f, "fget", f)
            code = getattr(f, "__code__", None)
            if code is not None and code.co_filename == __file__:
                codes.append(code)
    for code in codes:
        try:
            ins = list(dis.get_instructions(code, adaptive=True))
        except TypeError:   # no specialising interpreter
            return {}
        for i in ins:
            if any(p in i.opname for p in PUSHERS):
                out.setdefault(i.opname, set()).add(_qualname(code))
    return dict((k, sorted(v)) for k, v in out.items())


_events = []
_frames = []


def _qualname(code):
    return getattr(code, "co_qualname", code.co_name)


def _profiler(frame, event, arg):
    if event not in ("call", "return"):
        return
    code = frame.f_code
    _frames.append(frame)
    _events.append({
        "event": event,
        "function": _qualname(code),
        "file": code.co_filename,
        "line": code.co_firstlineno if event == "call" else frame.f_lineno,
        "current_line": frame.f_lineno,
        "frame": id(frame),
        "generator": bool(code.co_flags & GEN_FLAGS),
        "thread": _thread_id(),
    })


def _thread_id():
    try:
        import _thread as thread
    except ImportError:
        import thread
    return thread.get_ident()


def main():
    global ROUNDS, TRUTH
    args = sys.argv[1:]
    truth = None
    while args:
        if args[0] == "--truth":
            truth = args[1]
            args = args[2:]
        elif args[0] == "--rounds":
            ROUNDS = int(args[1])
            args = args[2:]
        elif args[0] == "--cases":
            print(" ".join(CASES + THREAD_CASES))
            return
        elif args[0] == "--specialized":
            workload()
            print(json.dumps(specialized()))
            return
        else:
            sys.exit("unknown argument " + args[0])
    if truth:
        TRUTH = True
        sys.setprofile(_profiler)
    workload()
    if truth:
        sys.setprofile(None)
        with open(truth, "w") as f:
            for rec in _events:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
