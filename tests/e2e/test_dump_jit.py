# SPDX-License-Identifier: MIT
"""`pytrace dump` of a process whose JIT is on (CPython 3.14+ built with
the JIT, run with PYTHON_JIT=1): the Python frames are exact, the output
says what the JIT hides (its code has no symbols or unwind tables), and
--native names the JIT's code "[JIT]" instead of printing a bare address.
Ground truth: the target's own traceback.extract_stack()."""

import json
import os
import select
import subprocess

import pytest

import harness
from conftest import INSTALLED, PYTHON_IDS, skip_reason
from harness import EXIT_OK, expect_exit, run_pytrace

TARGET = str(harness.REPO / "tests" / "targets" / "jit_hot.py")
JIT_LINE = ("JIT enabled: code it compiled has no symbols or unwind tables (--native shows it "
            "as [JIT]+offset; the native frames next to it may be incomplete)")


def has_jit(python):
    probe = subprocess.run([python, "-c", "import sys; j = getattr(sys, '_jit', None); "
                            "print(bool(j and j.is_available()))"],
                           capture_output=True, text=True, timeout=60)
    return probe.stdout.strip() == "True"


def read_line(fd, timeout=60):
    buf = b""
    while not buf.endswith(b"\n"):
        r, _, _ = select.select([fd], [], [], timeout)
        assert r, "the JIT target did not answer within %ss" % timeout
        chunk = os.read(fd, 4096)
        assert chunk, "the JIT target exited"
        buf += chunk
    return buf.decode().strip()


@pytest.mark.parametrize("python_id", PYTHON_IDS)
def test_jit_frames(python_id):
    if python_id not in INSTALLED:
        pytest.skip(skip_reason(python_id))
    python = INSTALLED[python_id][0]
    if INSTALLED[python_id][1][:2] < (3, 14) or not has_jit(python):
        pytest.skip("CPython %s has no JIT (sys._jit.is_available() is false)" % python_id)
    ready_r, ready_w = os.pipe()
    block_r, block_w = os.pipe()
    proc = subprocess.Popen([python, TARGET, str(ready_w), str(block_r)],
                            env=dict(os.environ, PYTHON_JIT="1"), pass_fds=(ready_w, block_r))
    os.close(ready_w)
    os.close(block_r)
    try:
        line = read_line(ready_r)
        assert line != "no JIT", "the JIT never ran the hot loop"
        want = [tuple(f) for f in json.loads(line)["stack"]]
        harness.poll_until(lambda: (harness.task_syscall(proc.pid, proc.pid) or "").split(" ")[0] == "0", 30,
                           "the target to block in read(2)")
        for args in (["dump", "--json"], ["dump", "--json", "--native"]):
            result = run_pytrace(args + [str(proc.pid)])
            expect_exit(result, EXIT_OK)
            threads = [json.loads(l) for l in result.stdout.splitlines()]
            assert len(threads) == 1 and threads[0]["jit"] is True, result.describe()
            frames = threads[0]["frames"]
            py = [(f["function"], f["file"], f["line"]) for f in frames if f["kind"] == "python"]
            assert py == want, (py, want, result.describe())
            if "--native" in args:
                assert not threads[0].get("native_error"), result.describe()
        text = run_pytrace(["dump", "--native", str(proc.pid)])
        expect_exit(text, EXIT_OK)
        assert JIT_LINE in text.stdout.splitlines() and "not merged" not in text.stdout, \
            text.describe()

        os.write(block_w, b"x")
        lo, hi = (int(w) for w in read_line(ready_r).split()[1:])
        result = run_pytrace(["dump", "--json", "--native", "--repeat", "30", str(proc.pid)])
        expect_exit(result, EXIT_OK)
        dumps = [json.loads(l) for l in result.stdout.splitlines()]
        assert len(dumps) == 30, result.describe()
        jit_frames = 0
        for d in dumps:
            py = [(f["function"], f["line"]) for f in d["frames"] if f["kind"] == "python"]
            assert d.get("merged", True), d
            assert [p[0] for p in py] == ["spin", "<module>"] and lo <= py[0][1] <= hi, \
                (py, lo, hi)
            jit_frames += any(f["kind"] == "native" and f.get("module") == "[JIT]"
                              for f in d["frames"])
        # the loop runs in JIT code nearly all the time: a dump that never
        # lands in it means its code is not recognised
        assert jit_frames > 0, "no dump of 30 showed a [JIT] frame:\n%s" % result.describe(2000)
    finally:
        proc.kill()
        proc.wait()
        os.close(ready_r)
        os.close(block_w)
