# SPDX-License-Identifier: MIT
"""Target for `pytrace flow`: programs no one here wrote, run deterministically.

usage: flow_real.py [--truth TRUTH_JSONL [--only SUBSTR]] stdlib MODULE...
       flow_real.py [--truth TRUTH_JSONL [--only SUBSTR]] hg WORKDIR [FILES COMMITS]

stdlib: runs the standard library's own unittest modules (test.test_heapq,
test.test_bisect, ...) that ship with the interpreter, each with random
seeded to 0 (test.test_json.X is json.tests.X on 2.7; exit status 3 if a
module is missing). The modules are imported before the work. hg: mercurial, in-process (its dispatch()), on a repository
generated in WORKDIR (which must not exist): init, FILES files in COMMITS
commits (fixed user and dates), status, log, clone, log -p of the clone;
the files get time stamps long past and mercurial's check for a file
time in the same second as before always answers no (both would depend
on the clock).
The work runs inside workload(), the window the comparison looks at, with
the cyclic garbage collector off (it would run at other points when a
profiler keeps frames alive). With --truth the process profiles itself
with sys.setprofile and writes every event as JSON lines (flow_calls.py's
format): the ground truth a separate `pytrace flow` run must reproduce; --only
keeps only the events of files whose name contains SUBSTR (and
workload's own), which is what `--within flow_real.py:workload --file
SUBSTR` should print. The
profiler keeps no frame alive, so objects die where they would untraced
(weakref callbacks and __del__ run at the same points); generator resumes
and yields are told by the frame's last instruction.
Run it with PYTHONHASHSEED=0 both times.
"""

import gc
import json
import os
import sys

GEN_FLAGS = 0x20 | 0x80 | 0x200


MISSING = 3   # exit status: the interpreter ships without the modules


def stdlib_names(modules):
    """2.7 has json's tests as json.tests.X, 3.x as test.test_json.X."""
    import importlib
    out = []
    for name in modules:
        for n in (name, name.replace("test.test_json.", "json.tests.")):
            try:
                importlib.import_module(n)
            except ImportError:
                continue
            out.append(n)
            break
        else:
            sys.stdout.write("missing %s\n" % name)
            sys.stdout.flush()
            os._exit(MISSING)
    return out


def run_stdlib(modules):
    import random
    import unittest
    try:
        from StringIO import StringIO   # 2.7: unittest writes str
    except ImportError:
        from io import StringIO
    failures = 0
    for name in modules:
        random.seed(0)
        suite = unittest.defaultTestLoader.loadTestsFromName(name)
        result = unittest.TextTestRunner(stream=StringIO(), verbosity=0).run(suite)
        failures += len(result.failures) + len(result.errors)
    return failures


def hg(*args):
    from mercurial import dispatch
    req = dispatch.request([a.encode() if not isinstance(a, bytes) else a for a in args])
    return dispatch.dispatch(req)


def _never_ambiguous(self, old):
    return False


def run_hg(workdir, nfiles, ncommits):
    # Whether a file's new time stamp is "ambiguous" (the same second as
    # before) depends on the clock, and decides what hg does next: the
    # work must not, so this check always answers no.
    from mercurial import util
    util.filestat.isambig = _never_ambiguous
    repo = os.path.join(workdir, "repo")
    os.mkdir(workdir)
    rc = hg("init", repo)
    for c in range(ncommits):
        for f in range(nfiles):
            path = os.path.join(repo, "f%d.txt" % f)
            with open(path, "a") as out:
                out.write("commit %d file %d\n" % (c, f) * (f + 1))
            # a time stamp long past: never "in the same second as the
            # dirstate", which would make hg compare contents (the clock)
            os.utime(path, (1000000 + c, 1000000 + c))
        rc |= hg("-R", repo, "commit", "-A", "-u", "test <test@example.org>",
                 "-d", "%d 0" % (1000000 + c), "-m", "commit %d" % c) or 0
    rc |= hg("-R", repo, "status") or 0
    # no -q/-v/--debug: dispatch applies them to a set of ui objects,
    # whose order (by address) differs from run to run
    rc |= hg("-R", repo, "log") or 0
    rc |= hg("clone", repo, os.path.join(workdir, "clone")) or 0
    rc |= hg("-R", os.path.join(workdir, "clone"), "log", "-p") or 0
    return rc


def workload(argv):
    if argv[0] == "stdlib":
        return run_stdlib(_modules)
    if argv[0] == "hg":
        n = int(argv[2]) if len(argv) > 2 else 3
        c = int(argv[3]) if len(argv) > 3 else 3
        return run_hg(argv[1], n, c)
    raise SystemExit("unknown work " + argv[0])


_events = []
_YIELDS = None
_first = {}       # code -> offset a fresh frame's first event is at


def _yielded(frame):
    """Did this generator frame leave by a yield (not a return or an
    exception)? Its last instruction says so (a close() at a yield looks
    the same: the comparison takes a yield as a return)."""
    code = frame.f_code.co_code
    op = code[frame.f_lasti] if frame.f_lasti >= 0 else -1
    return (ord(op) if isinstance(op, str) else op) in _YIELDS


def _resumed(frame):
    """Is this generator frame's call event a resume? A fresh frame stands
    before its first instruction (<=3.10: f_lasti -1) or at its first
    RESUME (3.11+); no frame is kept alive to compare identities."""
    code = frame.f_code
    first = _first.get(code)
    if first is None:
        import dis
        first = next((i.offset for i in dis.get_instructions(code) if i.opname == "RESUME"), -1) \
            if "RESUME" in dis.opmap else -1
        _first[code] = first
    return frame.f_lasti > first


def _qualname(code):
    return getattr(code, "co_qualname", code.co_name)


_only = None
_modules = None


def _profiler(frame, event, arg):
    if event not in ("call", "return"):
        return
    code = frame.f_code
    if _only is not None and _only not in code.co_filename and code.co_name != "workload":
        return
    line = code.co_firstlineno if event == "call" else frame.f_lineno
    if code.co_flags & GEN_FLAGS:
        if event == "call" and _resumed(frame):
            event, line = "resume", frame.f_lineno
        elif event == "return" and _yielded(frame):
            event = "yield"
    _events.append({"event": event, "function": _qualname(code), "file": code.co_filename,
                    "line": line, "thread": "MainThread"})


def main():
    args = sys.argv[1:]
    truth = None
    if args[:1] == ["--truth"]:
        truth, args = args[1], args[2:]
    if args[:1] == ["--only"]:
        global _only
        _only, args = args[1], args[2:]
    sys.argv[1:] = args   # both runs: the work sees the same sys.argv
    # pytrace starts its program with default signal dispositions; a
    # plain run inherits its parent's (nohup ignores SIGHUP), and hg looks.
    import signal
    for name in ("SIGHUP", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    if args[:1] == ["hg"]:
        os.environ["HGPLAIN"] = "1"
        os.environ["HGRCPATH"] = ""
        os.environ["HGENCODING"] = "utf-8"
    if args[:1] == ["stdlib"]:   # imported before the work, in both runs
        global _modules
        _modules = stdlib_names(args[1:])
    gc.collect()
    gc.disable()
    # Both runs import what the profiler needs before the work starts.
    import dis
    global _YIELDS
    _YIELDS = set(dis.opmap[n] for n in ("YIELD_VALUE", "YIELD_FROM") if n in dis.opmap)
    if truth:
        sys.setprofile(_profiler)
    rc = workload(args)
    if truth:
        sys.setprofile(None)
        with open(truth, "w") as f:
            for rec in _events:
                f.write(json.dumps(rec) + "\n")
    # The outcome of the work (test failures, hg's status) is the same in
    # both runs; it is printed, not the exit status.
    sys.stdout.write("work status %r\n" % (rc,))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
