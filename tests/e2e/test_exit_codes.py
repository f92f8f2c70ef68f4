# SPDX-License-Identifier: MIT
"""Exit statuses that depend on what the target is doing: a kernel thread is
"not a Python process" (5), and a target that exits while pytrace reads it
is "exited" (7), whatever read failed, under every installed CPython.

The exit happens at a chosen point, not by chance: PYTRACE_TEST_KILL_AFTER_MAPS
makes pytrace kill the target after reading its mappings and before reading
its memory (where a 3.13 target that exited got 6, "cannot read
_Py_DebugOffsets"), and wait until it is a zombie.
"""

import os
import re
import select
import subprocess

import pytest

import harness
from conftest import INSTALLED
from harness import EXIT_EXITED, EXIT_NOT_PYTHON, expect_error_line, expect_exit, run_pytrace

LOOP = str(harness.REPO / "tests" / "targets" / "syscall_loop.py")


def kthreadd():
    with open("/proc/2/stat") as f:
        stat = f.read()
    if "(kthreadd)" not in stat:
        pytest.skip("PID 2 is not kthreadd here (a PID namespace?)")
    return 2


@pytest.mark.parametrize("command", [["dump"], ["dump", "--native"], ["flow", "-p"]],
                         ids=["dump", "dump-native", "flow"])
def test_kernel_thread_is_not_python(command):
    result = run_pytrace(command + [kthreadd()])
    expect_exit(result, EXIT_NOT_PYTHON)
    line = expect_error_line(result)
    assert "kernel thread" in line, result.describe()


@pytest.mark.parametrize("command", [["dump"], ["dump", "--native"], ["flow", "-p"]],
                         ids=["dump", "dump-native", "flow"])
def test_target_exits_while_read(python_id, command):
    ready_r, ready_w = os.pipe()
    target = subprocess.Popen([INSTALLED[python_id][0], LOOP, str(ready_w)],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        r, _, _ = select.select([ready_r], [], [], 60)
        assert r and os.read(ready_r, 16) == b"ready\n"
        # flow's lines go to /dev/null: should the hook not work, pytrace
        # traces a busy loop until the timeout
        out = ["-o", os.devnull] if command[0] == "flow" else []
        result = run_pytrace(command[:1] + out + command[1:] + [target.pid], timeout=30,
                             prefix=["env", "PYTRACE_TEST_KILL_AFTER_MAPS=1"])
        expect_exit(result, EXIT_EXITED)
        line = expect_error_line(result)
        if command[0] == "dump":
            assert re.search(r"process %d (has )?exited" % target.pid, line), result.describe()
        assert target.wait(timeout=60) == -9
    finally:
        os.close(ready_r)
        if target.poll() is None:
            target.kill()
        target.wait()
        target.stdin.close()
