# SPDX-License-Identifier: MIT
"""`pytrace dump` against tests/targets/stacks.py under every installed CPython.

Each target parks its threads in known stacks and writes the ground truth
(sys._current_frames() as the target itself sees it); every test compares
pytrace's output with that truth, then checks the target still runs.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import conftest
import harness
from harness import (EXIT_NO_PROCESS, EXIT_NOT_PYTHON, EXIT_OK, EXIT_PERMISSION, EXIT_USAGE,
                     compare_frames, expect_error_line, expect_exit, frame_tuple,
                     parse_json_lines, parse_text, python_threads, run_pytrace, thread_label)

GIL_ATTEMPTS = 5


def _fail_if(problems, result):
    if problems:
        pytest.fail("\n\n".join(problems) + "\n\n" + result.describe(3000), pytrace=False)


def _check_thread_ids(got, want, result, what):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    assert not missing and not extra, "%s: missing threads %s, unexpected threads %s\n%s" % (
        what, missing, extra, result.describe(3000))


# ---------------------------------------------------------------------------
# default (Python-only) output

def test_dump_json(target):
    """--json: every Python thread, with exactly the frames the target reported."""
    truth = target.truth
    result = target.dump("--json")
    expect_exit(result, EXIT_OK)
    threads = harness.by_tid(parse_json_lines(result), result)
    want = python_threads(truth)
    _check_thread_ids(threads, want, result, "dump --json")
    problems = []
    for tid, entry in sorted(want.items()):
        got = threads[tid]
        label = thread_label(tid, entry)
        if got["pid"] != truth["pid"]:
            problems.append("%s: pid %r" % (label, got["pid"]))
        if got["name"] != entry["name"]:
            problems.append("%s: name %r, expected %r" % (label, got["name"], entry["name"]))
        if got["python"] is not True:
            problems.append("%s: python is %r" % (label, got["python"]))
        if got["holds_gil"] and entry["block"] != "spin":
            problems.append("%s: claims to hold the GIL while blocked in %s" % (
                label, entry["block"]))
        kinds = set(f.get("kind") for f in got["frames"])
        if kinds - {"python"}:
            problems.append("%s: frame kinds %s without --native" % (label, sorted(kinds)))
        diff = compare_frames(entry, [frame_tuple(f) for f in got["frames"]])
        if diff:
            problems.append("%s: %s" % (label, diff))
    _fail_if(problems, result)


def test_dump_text(target):
    """Default text format: header, thread lines and frames."""
    truth = target.truth
    result = target.dump()
    expect_exit(result, EXIT_OK)
    header, threads = parse_text(result)
    pid, major, minor, micro, path = header.groups()
    assert int(pid) == truth["pid"], header.group(0)
    version = truth["version"]
    assert (int(major), int(minor)) == tuple(version[:2]), header.group(0)
    if micro is not None or tuple(version[:2]) >= (3, 11):
        # 3.11+ exports Py_Version, so the patch level is knowable.
        assert micro is not None and int(micro) == version[2], \
            "header %r, target runs %s" % (header.group(0), ".".join(map(str, version)))
    with open("/proc/%d/maps" % truth["pid"]) as f:
        mapped = set(line.split(None, 5)[5].strip() for line in f if len(line.split()) >= 6)
    assert path in mapped, "header names %r, which the target does not map" % path
    assert "python" in os.path.basename(path), header.group(0)

    want = python_threads(truth)
    _check_thread_ids(threads, want, result, "dump")
    problems = []
    for tid, entry in sorted(want.items()):
        got = threads[tid]
        label = thread_label(tid, entry)
        if got["name"] != entry["name"]:
            problems.append("%s: name %r, expected %r" % (label, got["name"], entry["name"]))
        if got["holds_gil"] and entry["block"] != "spin":
            problems.append("%s: marked (holds the GIL) while blocked in %s" % (
                label, entry["block"]))
        if got["native"] or got["merged_python"] or got["no_python_frames"]:
            problems.append("%s: unexpected lines in the text format" % label)
        diff = compare_frames(entry, got["python"])
        if diff:
            problems.append("%s: %s" % (label, diff))
    _fail_if(problems, result)


def test_gil_holder(target):
    """The spinning thread holds the GIL; a thread parked in a syscall never does.

    The spinner can drop the GIL for an instant (switch interval, Python 2's
    check interval), so it must be seen holding it in one of a few dumps.
    """
    truth = target.truth
    spinner = truth["tids"]["spinner"]
    if target.python_id in conftest.FREE_THREADED:
        # No GIL: no thread may be named its holder, spinning or not.
        result = target.dump("--json")
        expect_exit(result, EXIT_OK)
        holders = [t["tid"] for t in parse_json_lines(result) if t.get("holds_gil")]
        assert holders == [], "free-threaded build: threads %s claim the GIL\n%s" % (
            holders, result.describe())
        return
    seen = []
    for _ in range(GIL_ATTEMPTS):
        result = target.dump("--json")
        expect_exit(result, EXIT_OK)
        holders = sorted(t["tid"] for t in parse_json_lines(result) if t.get("holds_gil"))
        assert set(holders) <= {spinner}, \
            "threads %s (spinner is %d) claim the GIL\n%s" % (holders, spinner, result.describe())
        seen.append(holders)
        if holders == [spinner]:
            return
    pytest.fail("the spinning thread %d never held the GIL in %d dumps (holders: %s)\n%s" % (
        spinner, GIL_ATTEMPTS, seen, result.describe(3000)))


# ---------------------------------------------------------------------------
# --native

def _is_libc(module):
    return isinstance(module, str) and module.startswith("libc.so")


def _check_top_native(label, entry, frame, version):
    """A parked thread's innermost frame is the libc function doing the syscall."""
    if frame is None or frame.get("kind", "native") != "native":
        return "%s: innermost frame is not native: %s" % (label, frame)
    if not _is_libc(frame.get("module")):
        return "%s: innermost frame is in %r, expected libc (%s)" % (
            label, frame.get("module"), frame)
    words = harness.top_symbol_words(entry["block"], version)
    symbol = frame.get("symbol")
    if words and symbol is not None and not any(w in symbol for w in words):
        return "%s: innermost symbol %r, expected one containing %s" % (
            label, symbol, " or ".join(repr(w) for w in words))
    return None


def _check_native_frame_shape(label, i, f):
    problems = []
    for key, types in (("module", (str, type(None))), ("symbol", (str, type(None))),
                       ("offset", (int,)), ("address", (int,)), ("eval", (bool,))):
        if key not in f or not isinstance(f[key], types):
            problems.append("%s: native frame #%d: bad %r in %s" % (label, i, key, f))
    return problems


def _check_merged(label, entry, frames, version):
    """Python frames appear only right after their eval-loop frame, in order."""
    problems = []
    runs = []          # number of Python frames after each eval frame
    prev = None
    for i, f in enumerate(frames):
        kind = f.get("kind")
        if kind == "python":
            if prev is None or not (prev.get("kind") == "python" or prev.get("eval")):
                problems.append("%s: Python frame #%d %s does not follow an eval frame "
                                "(previous: %s)" % (label, i, frame_tuple(f), prev))
            elif runs:
                runs[-1] += 1
        elif kind == "native":
            problems += _check_native_frame_shape(label, i, f)
            if prev is not None and prev.get("eval") and (not runs or runs[-1] == 0):
                problems.append("%s: eval frame #%d (%s) has no Python frame after it" % (
                    label, i - 1, prev.get("symbol")))
            if f.get("eval"):
                runs.append(0)
        else:
            problems.append("%s: frame #%d has kind %r" % (label, i, kind))
        prev = f
    if prev is not None and prev.get("eval") and runs and runs[-1] == 0:
        problems.append("%s: the last eval frame has no Python frame after it" % label)
    if tuple(version[:2]) <= (3, 10) and any(n != 1 for n in runs):
        problems.append("%s: before 3.11 each eval frame runs exactly one Python frame; "
                        "got runs of %s" % (label, sorted(set(runs))))
    diff = compare_frames(entry, [frame_tuple(f) for f in frames if f.get("kind") == "python"])
    if diff:
        problems.append("%s: merged Python frames: %s" % (label, diff))
    return problems


def test_native_json(target):
    """--native --json: merged stacks, libc at the top, every thread listed."""
    truth = target.truth
    version = truth["version"]
    result = target.dump("--native", "--json")
    expect_exit(result, EXIT_OK)
    threads = harness.by_tid(parse_json_lines(result), result)
    want = dict((int(tid), t) for tid, t in truth["threads"].items())
    _check_thread_ids(threads, want, result, "dump --native --json")
    problems = []
    for tid, entry in sorted(want.items()):
        got = threads[tid]
        label = thread_label(tid, entry)
        if got["name"] != entry["name"]:
            problems.append("%s: name %r, expected %r" % (label, got["name"], entry["name"]))
        if got["python"] is not entry["python"]:
            problems.append("%s: python is %r" % (label, got["python"]))
        if got["holds_gil"] and entry["block"] != "spin":
            problems.append("%s: claims to hold the GIL while blocked in %s" % (
                label, entry["block"]))
        frames = got["frames"]
        if not entry["python"]:
            if any(f.get("kind") != "native" for f in frames):
                problems.append("%s: has non-native frames" % label)
            for i, f in enumerate(frames):
                problems += _check_native_frame_shape(label, i, f)
            why = _check_top_native(label, entry, frames[0] if frames else None, version)
            if why:
                problems.append(why)
            continue
        if got.get("merged") is True:
            problems += _check_merged(label, entry, frames, version)
        elif entry["block"] == "spin" and got.get("merged") is False:
            # A running thread may legitimately fail the merge invariant.
            if not isinstance(got.get("merge_error"), str):
                problems.append("%s: merged false without merge_error" % label)
            diff = compare_frames(entry, [frame_tuple(f) for f in got.get("python_frames", [])])
            if diff:
                problems.append("%s: python_frames: %s" % (label, diff))
        else:
            problems.append("%s: merged is %r (merge_error %r, native_error %r, %d frames)" % (
                label, got.get("merged"), got.get("merge_error"), got.get("native_error"),
                len(frames)))
            diff = compare_frames(entry, [frame_tuple(f) for f in got.get("python_frames", [])])
            if diff:
                problems.append("%s: python_frames: %s" % (label, diff))
        if entry["block"] != "spin":
            why = _check_top_native(label, entry, frames[0] if frames else None, version)
            if why:
                problems.append(why)
    _fail_if(problems, result)


def _is_eval_loop_name(frame):
    """An eval-loop frame as text shows it: _PyEval_EvalFrameDefault (or
    2.7's PyEval_EvalFrameEx, or .cold), a tail-call interpreter's
    _TAIL_CALL_* handler, or unnamed code of the interpreter itself (GCC 16
    splits sid's loop out of the exported wrapper; pytrace then pairs by
    the entry frame's address, see test_native_json's eval flags)."""
    symbol = frame.get("symbol") or ""
    if "EvalFrame" in symbol or symbol.startswith("_TAIL_CALL_"):
        return True
    module = frame.get("module") or ""
    return not symbol and "python" in module


def test_native_text(target):
    """--native text: native lines, bracketed Python frames after eval frames."""
    truth = target.truth
    result = target.dump("--native")
    expect_exit(result, EXIT_OK)
    header, threads = parse_text(result, native=True)
    assert int(header.group(1)) == truth["pid"]
    want = dict((int(tid), t) for tid, t in truth["threads"].items())
    _check_thread_ids(threads, want, result, "dump --native")
    problems = []
    for tid, entry in sorted(want.items()):
        got = threads[tid]
        label = thread_label(tid, entry)
        if got["name"] != entry["name"]:
            problems.append("%s: name %r, expected %r" % (label, got["name"], entry["name"]))
        if not got["native"]:
            problems.append("%s: no native frames" % label)
        if not entry["python"]:
            if got["python"] or got["merged_python"]:
                problems.append("%s: Python frames in a thread without a thread state" % label)
            continue
        if got["not_merged"] is not None:
            if entry["block"] != "spin":
                problems.append("%s: (not merged: %s) %s" % (
                    label, got["not_merged"], " ".join(got["notes"])))
            diff = compare_frames(entry, got["python"])
        else:
            if got["python"]:
                problems.append("%s: unbracketed Python frames in a merged stack" % label)
            diff = compare_frames(entry, got["merged_python"])
            prev = None
            for kind, f in got["items"]:
                if kind == "python" and prev is not None and prev[0] == "native":
                    if not _is_eval_loop_name(prev[1]):
                        problems.append("%s: Python frame %s follows %s, not an eval frame" % (
                            label, f, prev[1]))
                        break
                prev = (kind, f)
            if got["items"] and got["items"][0][0] != "native":
                problems.append("%s: first line is a Python frame" % label)
        if diff:
            problems.append("%s: %s" % (label, diff))
    _fail_if(problems, result)


def test_native_symbols_system_python(system_target):
    """Stripped, non-PIE /usr/bin/python3.11: no frame claims a symbol that does not contain it.

    Only .dynsym survives stripping, so most functions have no symbol; pytrace
    must print module+0xoff for them rather than the nearest exported name.
    """
    truth = system_target.truth
    exe = os.path.realpath(truth["executable"])
    module = os.path.basename(exe)
    ranges = harness.load_dynsym_ranges(exe)
    result = system_target.dump("--native", "--json")
    expect_exit(result, EXIT_OK)
    problems = []
    seen = 0
    named = 0
    for t in parse_json_lines(result):
        for i, f in enumerate(t["frames"]):
            if f.get("kind") != "native" or f.get("module") != module:
                continue
            seen += 1
            symbol, address, offset = f.get("symbol"), f.get("address"), f.get("offset")
            where = "thread %s frame #%d %s" % (t["tid"], i, json.dumps(f))
            if f.get("eval") and symbol not in (None, "_PyEval_EvalFrameDefault"):
                problems.append("%s: eval frame named %r" % (where, symbol))
            if symbol is None:
                continue
            named += 1
            spans = ranges.get(symbol)
            if spans is None:
                problems.append("%s: %r is not a defined .dynsym symbol of %s" % (
                    where, symbol, exe))
                continue
            if not any(s <= a < e for s, e in spans for a in (address, address - 1)):
                problems.append("%s: address 0x%x is outside %s %s" % (
                    where, address, symbol, ["0x%x-0x%x" % r for r in spans]))
            elif not any(s + offset in (address, address - 1) for s, e in spans):
                problems.append("%s: offset 0x%x does not match %s at %s" % (
                    where, offset, symbol, ["0x%x" % s for s, e in spans]))
    assert seen, "no native frame in module %r\n%s" % (module, result.describe(3000))
    assert named, "no frame in %r has a symbol (not even _PyEval_EvalFrameDefault)\n%s" % (
        module, result.describe(3000))
    _fail_if(problems, result)


# ---------------------------------------------------------------------------
# errors

def _unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


@pytest.mark.parametrize("options", [[], ["--json"], ["--native"]], ids=["text", "json", "native"])
def test_no_such_process(pytrace, options):
    result = run_pytrace(["dump"] + options + [_unused_pid()])
    expect_exit(result, EXIT_NO_PROCESS)
    expect_error_line(result)
    assert result.stdout == "", result.describe()


@pytest.mark.parametrize("options", [[], ["--json"], ["--native"]], ids=["text", "json", "native"])
def test_not_python(pytrace, options):
    proc = subprocess.Popen(["sleep", "1000"])  # returns after exec succeeded
    try:
        result = run_pytrace(["dump"] + options + [proc.pid])
        if options == ["--native"] and result.returncode == EXIT_OK:
            # pytrace chooses to show native stacks of a non-Python process.
            header = result.stdout.splitlines()[0] if result.stdout else ""
            assert header.startswith("Process %d: not a Python process" % proc.pid), \
                result.describe()
            assert 'Thread %d "sleep"' % proc.pid in result.stdout, result.describe()
        else:
            expect_exit(result, EXIT_NOT_PYTHON)
            expect_error_line(result)
        assert proc.poll() is None, "pytrace killed the process it looked at"
        assert harness.task_state(proc.pid) not in ("t", "T"), "pytrace left sleep stopped"
    finally:
        proc.kill()
        proc.wait()


def test_permission_denied(pytrace):
    """As user nobody, pytrace cannot read a root-owned Python: exit 4 and a hint."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv not installed (util-linux)")
    if os.geteuid() != 0:
        pytest.skip("needs root to run pytrace as user nobody against a root-owned target")
    script = "import os, sys; os.write(1, b'ready\\n'); sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        result = run_pytrace(["dump", proc.pid], prefix=prefix)
        if result.returncode in (126, 127) and "setpriv" in result.stderr:
            pytest.skip("user nobody cannot execute %s: %s" % (pytrace, result.stderr.strip()))
        expect_exit(result, EXIT_PERMISSION)
        line = expect_error_line(result)
        assert re.search(r"root|sudo|CAP_SYS_PTRACE|ptrace_scope|same user", line, re.I), \
            "the message does not say how to fix it: %r" % line
        assert proc.poll() is None
        assert harness.task_state(proc.pid) not in ("t", "T")
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


@pytest.mark.parametrize("args", [
    [],
    ["dump"],
    ["dump", "not-a-pid"],
    ["dump", "--no-such-option", str(os.getpid())],
    ["no-such-command", str(os.getpid())],
    ["dump", "-p"],  # (several PIDs are dumped in turn: test_cli.py)
], ids=["no-args", "no-pid", "bad-pid", "bad-option", "bad-command", "p-without-pid"])
def test_usage(pytrace, args):
    result = run_pytrace(args)
    expect_exit(result, EXIT_USAGE)
    expect_error_line(result)
