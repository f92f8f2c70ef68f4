# SPDX-License-Identifier: MIT
"""pytrace dump --locals: every frame's arguments and locals, their types and
values, read from outside, against frame.f_locals rendered by the target
itself by the same rules (tests/targets/locals.py), under every CPython."""

import json
import os
import select
import subprocess

import pytest

import harness
from conftest import INSTALLED, PYTHON_IDS, SYSTEM_ID, skip_reason
from harness import EXIT_OK, expect_exit, parse_json_lines

LOCALS = str(harness.REPO / "tests" / "targets" / "locals.py")
# CI's budget: the values are read under every interpreter (--json); the
# text layout and --native, the same code whatever the version, under a few.
FEW_IDS = ["2.7", "3.11", "3.13", "sid-3.14", "ft-3.13", SYSTEM_ID]


def _start(python, workdir):
    workdir.mkdir(parents=True, exist_ok=True)
    truth_path = workdir / "truth.json"
    ready_r, ready_w = os.pipe()
    proc = subprocess.Popen([python, LOCALS, str(truth_path), str(ready_w)], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, pass_fds=(ready_w,), cwd=str(workdir))
    os.close(ready_w)
    try:
        r, _, _ = select.select([ready_r], [], [], harness.READY_TIMEOUT)
        line = os.read(ready_r, 64) if r else b""
    finally:
        os.close(ready_r)
    if line != b"ready\n":
        proc.kill()
        proc.wait()
        pytest.fail("locals.py not ready (%r): %s" % (line, proc.stderr.read()[-3000:]))
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    harness.poll_until(lambda: (harness.task_syscall(proc.pid, proc.pid) or "").startswith("0 0x0 "),
                       10, "locals.py to block in read(0)")
    return proc, truth


def _got_locals(frame):
    return dict((l["name"], [l["type"], l["value"], l["arg"]]) for l in frame.get("locals", []))


def _compare(truth, frames, result):
    """Per frame: the same function, file, line; for function frames the
    same locals (type, value, argument or not); none for module frames."""
    assert len(frames) == len(truth["frames"]), result.describe(4000)
    problems = []
    for want, got in zip(truth["frames"], frames):
        where = "%s (%s:%s)" % (want["function"], want["file"], want["line"])
        if (got.get("function"), got.get("file"), got.get("line")) != \
                (want["function"], want["file"], want["line"]):
            problems.append("%s: frame is %s" % (where, harness.frame_tuple(got)))
            continue
        have = _got_locals(got)
        expect = want.get("locals", {})
        for name in sorted(set(have) | set(expect)):
            if have.get(name) != expect.get(name):
                problems.append("%s: %s is %s, expected %s" % (where, name, have.get(name),
                                                              expect.get(name)))
    assert not problems, "\n".join(problems) + "\n" + result.describe(6000)


@pytest.mark.parametrize("python_id", PYTHON_IDS)
def test_locals_match_the_target(python_id, tmp_path):
    """Arguments (positional, default, *args, keyword-only, **kw), locals of
    every rendered type (small, zero, negative, 100-bit and 3170-bit ints,
    floats, str with escapes and non-ASCII, a 100-character str cut, bytes,
    containers, None, bools, an object), a cell and a free variable, and an
    unbound local left out: --json and the text agree with the target's own
    f_locals; --native carries the same locals on merged frames."""
    if python_id not in INSTALLED:
        pytest.skip(skip_reason(python_id))
    proc, truth = _start(INSTALLED[python_id][0], tmp_path)
    try:
        result = harness.run_pytrace(["dump", "--locals", "--json", proc.pid])
        expect_exit(result, EXIT_OK)
        threads = parse_json_lines(result)
        assert len(threads) == 1, result.describe()
        _compare(truth, threads[0]["frames"], result)
        leaf = truth["frames"][0]["locals"]
        assert {"num", "ratio", "rest", "options", "text", "big", "huge", "captured",
                "thing"} <= set(leaf) and "late" not in leaf, leaf
        assert "outer_value" in truth["frames"][1]["locals"], truth["frames"][1]

        if python_id not in FEW_IDS:
            return
        text = harness.run_pytrace(["dump", "--locals", proc.pid])
        expect_exit(text, EXIT_OK)
        lines = text.stdout.splitlines()
        for want in truth["frames"]:
            head = "  %s (%s:%d)" % (want["function"], want["file"], want["line"])
            assert head in lines, text.describe(6000)
            at = lines.index(head) + 1
            block = []
            while at < len(lines) and lines[at].startswith("      "):
                block.append(lines[at])
                at += 1
            args = [n for n, v in want.get("locals", {}).items() if v[2]]
            expect = set("        %s: %s = %s" % (n, v[0], v[1])
                         for n, v in want.get("locals", {}).items())
            expect |= set(["      Arguments:"] if args else []) | set(
                ["      Locals:"] if len(args) < len(want.get("locals", {})) else [])
            assert set(block) == expect, "%s\n%s" % (sorted(set(block) ^ expect),
                                                    text.describe(6000))

        native = harness.run_pytrace(["dump", "--locals", "--native", "--json", proc.pid])
        expect_exit(native, EXIT_OK)
        t = parse_json_lines(native)[0]
        if t.get("merged") is True:
            _compare(truth, [f for f in t["frames"] if f.get("kind") == "python"], native)
        harness.poll_until(lambda: (harness.task_syscall(proc.pid, proc.pid) or "").startswith(
            "0 0x0 "), 10, "locals.py to block in read(0) again")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stderr.close()
