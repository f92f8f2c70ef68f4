# SPDX-License-Identifier: MIT
"""`pytrace flow` loses no event, whatever pushed the frame.

tests/targets/flow_inline.py runs, 50 times each, every construct with
which CPython pushes a Python frame without a C call (the specialised
CALL_PY_*, BINARY_SUBSCR_GETITEM, FOR_ITER_GEN, SEND_GEN,
LOAD_ATTR_PROPERTY, LOAD_ATTR_GETATTRIBUTE_OVERRIDDEN, ...). Its own
sys.setprofile run (made separately: on 3.11 a profile function in the
same run would turn the specialisation off) is the ground truth that
pytrace's events must equal, case by case, event by event. Debian's
3.11.2 lost 43 of the 50 __getitem__ calls here (its PEP 523 hook misses
BINARY_SUBSCR_GETITEM).
"""

import json
import os
import signal
import subprocess

import pytest

from conftest import FREE_THREADED
from harness import REPO, EXIT_OK, expect_exit, run_pytrace
from test_flow import _wait_stderr_line, comparable, only_target, parse_events, python, truth_events, version, windows

INLINE = str(REPO / "tests" / "targets" / "flow_inline.py")


def _cases(python_id):
    out = subprocess.check_output([python(python_id), INLINE, "--cases"], timeout=60)
    return ["case_" + c for c in out.decode().split()]


def _specialized(python_id):
    out = subprocess.check_output([python(python_id), INLINE, "--specialized"], timeout=60)
    return json.loads(out.decode())


@pytest.mark.parametrize("c_calls", [False, True], ids=["python", "c-calls"])
def test_inline_pushes_match_setprofile(python_id, pytrace, tmp_path_factory, c_calls):
    """With --c-calls, <=3.11 use the profile function on every build."""
    if c_calls and version(python_id) >= (3, 12):
        pytest.skip("3.12+: the same sys.monitoring tool, with C events added")
    cases = _cases(python_id)
    if version(python_id) >= (3, 11) and python_id not in FREE_THREADED:   # 3.13t: no specialising
        # The cases met the instructions they are there for (else the
        # comparison below proves nothing about them).
        met = _specialized(python_id)
        assert "CALL_PY_EXACT_ARGS" in met and ("BINARY_SUBSCR_GETITEM" in met or
                                                 "BINARY_OP_SUBSCR_GETITEM" in met), met
        if version(python_id) >= (3, 12):
            for name in ("FOR_ITER_GEN", "SEND_GEN", "LOAD_ATTR_PROPERTY",
                         "LOAD_ATTR_GETATTRIBUTE_OVERRIDDEN"):
                assert name in met, (name, met)
    truth = truth_events(python_id, tmp_path_factory, script=INLINE)
    result = run_pytrace(["flow", "--json", "-o", "/dev/stdout"] + (["--c-calls"] if c_calls else []) +
                         ["--", python(python_id), INLINE])
    expect_exit(result, EXIT_OK)
    assert "dropped" not in result.stderr, result.describe(500)
    want = windows(only_target(truth, "thread", INLINE), "thread", cases)
    got = [e for e in parse_events(result) if not e["event"].startswith("c_")]
    have = windows(only_target(got, "tid", INLINE), "tid", cases)
    problems = []
    for case in cases:
        a = [comparable(e) for e in want.get(case, [])]
        b = [comparable(e) for e in have.get(case, [])]
        ncalls = sum(1 for e in a if e[0] == "call")
        if ncalls < 50 and case != "case_raw_thread":   # its calls run in raw_thread_worker
            problems.append("%s: the ground truth has %d calls (target broken?)" % (case, ncalls))
        if a != b:
            i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            problems.append("%s: %d events (%d calls) expected, %d (%d calls) got; first "
                            "difference at #%d: expected %s got %s" % (
                                case, len(a), ncalls, len(b),
                                sum(1 for e in b if e[0] == "call"), i, a[i:i + 2], b[i:i + 2]))
    if problems:
        pytest.fail("\n".join(problems) + "\n" + result.describe(800), pytrace=False)


# ---------------------------------------------------------------------------
# Programs no one here wrote: the standard library's own tests. The whole
# comparison (unfiltered, several modules, mercurial) is tools/flow-groundtruth;
# here json's test_separators and test_indent, through --within and --file:
# a few thousand events.

REAL = str(REPO / "tests" / "targets" / "flow_real.py")


def _real_events(path):
    out = {}
    for line in open(path):
        e = json.loads(line)
        out.setdefault(e.get("tid", e.get("thread")), []).append(e)
    return list(out.values())


def _real_comparable(e):
    # A yield as a return: the profile function cannot tell a generator
    # closed at a yield from one yielding None.
    ev = {"exception": "return", "yield": "return", "throw": "resume"}.get(e["event"], e["event"])
    return (ev, e["function"], e["file"], e["line"])


def test_stdlib_tests_match_setprofile(python_id, pytrace, tmp_path):
    work = ["stdlib", "test.test_json.test_separators", "test.test_json.test_indent"]
    env = dict(os.environ, PYTHONHASHSEED="0")
    truth = tmp_path / "truth.jsonl"
    rc = subprocess.call([python(python_id), REAL, "--truth", str(truth), "--only", "json"] + work,
                         env=env, stdout=subprocess.DEVNULL, timeout=120)
    if rc == 3:
        pytest.skip("%s ships without json's tests" % python_id)
    assert rc == 0
    want = []
    for thread in _real_events(truth):
        depth, inside = 0, []
        for e in thread:
            if not depth and not (e["event"] == "call" and e["function"] == "workload"):
                continue
            depth += 1 if e["event"] in ("call", "resume") else -1
            if "json" in e["file"]:
                inside.append(_real_comparable(e))
        want.append(inside)
    out = tmp_path / "flow.jsonl"
    result = run_pytrace(["flow", "--json", "-o", out, "--within", "flow_real.py:workload",
                          "--file", "json", "--", python(python_id), REAL] + work,
                         prefix=["env", "PYTHONHASHSEED=0"])
    expect_exit(result, EXIT_OK)
    have = [[_real_comparable(e) for e in t] for t in _real_events(out)]
    assert sum(len(w) for w in want) > 1000, "the truth has %d events" % sum(map(len, want))
    if want != have:
        a, b = want[0], have[0] if have else []
        i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        pytest.fail("%d events expected, %d got; first difference at #%d: expected %s got %s\n%s" % (
            len(a), len(b), i, a[i:i + 2], b[i:i + 2], result.describe(800)), pytrace=False)


# ---------------------------------------------------------------------------
# Subinterpreters (3.12+): sys.monitoring is per interpreter and only the
# one that ran the install is traced; pytrace says so rather than lose the
# others' events quietly.

SUBINTERP = r"""
import os, sys
try:
    import _interpreters as si
except ImportError:
    import _xxsubinterpreters as si
i = si.create()
code = "def sub_work():\n    return 1\nsub_work()\n"
(getattr(si, "exec", None) or si.run_string)(i, code)
os.write(1, b"ready\n")
sys.stdin.read()
"""


def test_subinterpreters_reported(python_id, pytrace):
    if version(python_id) < (3, 12):
        pytest.skip("<=3.11: every interpreter's hook is set")
    proc = subprocess.Popen([python(python_id), "-c", SUBINTERP], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tracer = None
    try:
        line = proc.stdout.readline()
        if line != b"ready\n":
            pytest.skip("no subinterpreters module: %r" % proc.stderr.read()[-300:])
        tracer = subprocess.Popen([pytrace, "flow", "-p", str(proc.pid)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        _wait_stderr_line(tracer, r"^pytrace: tracing process")
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == EXIT_OK, err
        assert b"pytrace: the process ran 2 interpreters: flow traced only the one" in err, err
    finally:
        for p in (tracer, proc):
            if p and p.poll() is None:
                p.kill()
                p.wait()
