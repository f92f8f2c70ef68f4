# SPDX-License-Identifier: MIT
"""Output that fails or blocks, under every installed CPython.

No silent data loss: in dump, stacks and flow, attached or launching, a
write error other than a closed pipe (ENOSPC from /dev/full, or from a
small tmpfs the test mounts and fills) is one `pytrace:` line naming the
error and exit 1, and an attached target is left running, untraced.

A reader that does not read (a FIFO opened and never read) cannot hold
`flow` or its target: SIGINT, SIGTERM and SIGHUP still end pytrace, which
detaches (the ring is unmapped) and exits 0; and while pytrace cannot
write, the target drops events after a bounded wait instead of stopping,
which pytrace reports (one line with the count, and in --stats).
"""

import errno
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

import harness
from conftest import INSTALLED
from harness import REPO, poll_until

LOOP = str(REPO / "tests" / "targets" / "syscall_loop.py")
EXIT_OUTPUT = 1          # the output cannot be written (docs/stacks.md, docs/flow.md)
ENOSPC = os.strerror(errno.ENOSPC)
WAIT = 60                # seconds any one step may take (a hang guard, not a timing)


def python(python_id):
    return INSTALLED[python_id][0]


class LoopTarget:
    """tests/targets/syscall_loop.py, running until the test ends it."""

    def __init__(self, python_path):
        ready_r, ready_w = os.pipe()
        self.proc = subprocess.Popen([python_path, LOOP, str(ready_w)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, pass_fds=(ready_w,))
        os.close(ready_w)
        try:
            r, _, _ = select.select([ready_r], [], [], WAIT)
            assert r and os.read(ready_r, 16) == b"ready\n", "the target did not start"
        finally:
            os.close(ready_r)
        self.pid = self.proc.pid
        self.buf = b""
        self.last = 0

    def counts(self, timeout):
        """The step counts printed within timeout (at least one, or fail)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            r, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if not r:
                pytest.fail("the target printed no count within %ds (last %d)" % (timeout, self.last))
            chunk = os.read(fd, 65536)
            assert chunk, "the target died (exit %s)" % self.proc.poll()
            self.buf += chunk
            *lines, self.buf = self.buf.split(b"\n")
            if lines:
                self.last = int(lines[-1])
                return [int(l) for l in lines]

    def wait_count(self, at_least, timeout):
        deadline = time.monotonic() + timeout
        while self.last < at_least:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("the target did not reach %d steps within %ds (at %d): is it frozen?"
                            % (at_least, timeout, self.last))
            self.counts(left)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    return None


def maps_mention(pid, what):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return what in f.read()
    except OSError:
        return False


def check_unharmed(target, flow=False):
    """Alive, untraced, not stopped, still stepping (and without pytrace's
    ring, once the agent is gone)."""
    assert target.proc.poll() is None, "the target died"
    assert status_field(target.pid, "TracerPid") == "0", "the target is still traced"
    assert harness.task_state(target.pid) not in ("t", "T"), "the target was left stopped"
    if flow:
        poll_until(lambda: not maps_mention(target.pid, "memfd:pytrace-flow"), WAIT,
                   "the agent to unmap its ring")
    before = target.last
    target.wait_count(before + 20000, WAIT)


def run(argv, stdout=subprocess.DEVNULL, env=None):
    start = time.monotonic()
    p = subprocess.run([harness.pytrace_path()] + [str(a) for a in argv], stdin=subprocess.DEVNULL,
                       stdout=stdout, stderr=subprocess.PIPE, timeout=WAIT, env=env)
    return harness.Result(p.args, p.returncode, "", p.stderr.decode(errors="replace"),
                          time.monotonic() - start)


def expect_write_error(result, name):
    """Exit 1 and exactly one line about the failed write, naming it."""
    want = ("pytrace: cannot write to %s: %s" % (name, ENOSPC) if name
            else "pytrace: cannot write the output: %s" % ENOSPC)
    lines = result.stderr.splitlines()
    about = [l for l in lines if "write" in l or "output" in l or ENOSPC in l]
    assert result.returncode == EXIT_OUTPUT and about == [want], \
        "expected exit %d and the one line %r\n%s" % (EXIT_OUTPUT, want, result.describe())
    assert all(l.startswith("pytrace: ") for l in lines), result.describe()


# ---------------------------------------------------------------------------
# Where the writes fail

@pytest.fixture
def tiny_fs(tmp_path):
    """A 256 KiB tmpfs, filled to the last byte but `free` (set by the test
    with .leave(n)). Needs root (mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=256k", "pytrace-test", str(mnt)])

    class Fs:
        path = mnt

        def leave(self, free):
            filler = mnt / "filler"
            with open(str(filler), "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                size = f.tell()
                f.truncate(max(size - free, 0))
            return str(mnt / "out")
    try:
        yield Fs()
    finally:
        subprocess.call(["umount", "-l", str(mnt)])


@pytest.fixture(params=["dev-full", "tmpfs"])
def full_output(request):
    """full_output(free=16 KiB): a path whose writes fail with ENOSPC:
    /dev/full, or a file on a tmpfs with `free` bytes left (some writes
    succeed, then the disk is full)."""
    if request.param == "dev-full":
        return lambda free=16384: "/dev/full"
    fs = request.getfixturevalue("tiny_fs")
    return lambda free=16384: fs.leave(free)


# ---------------------------------------------------------------------------
# dump

def test_dump_write_error(target, full_output):
    path = full_output(0)   # a dump is a few KiB: leave nothing
    with open(path, "wb") as out:
        result = run(["dump", target.pid], stdout=out)
    expect_write_error(result, None)
    assert target.alive()


# ---------------------------------------------------------------------------
# stacks

def test_stacks_attach_write_error(python_id, full_output):
    path = full_output()
    target = LoopTarget(python(python_id))
    try:
        result = run(["stacks", "-e", "getppid", "-o", path, "-p", target.pid])
        expect_write_error(result, path)
        check_unharmed(target)
    finally:
        target.close()


def test_stacks_launch_write_error(python_id, full_output):
    path = full_output()
    result = run(["stacks", "-e", "getppid", "-o", path, "--", python(python_id), LOOP, "-",
                  "200000"])
    expect_write_error(result, path)
    assert "output was closed" not in result.stderr, result.describe()


# ---------------------------------------------------------------------------
# flow

def test_flow_attach_write_error(python_id, full_output):
    path = full_output()
    target = LoopTarget(python(python_id))
    try:
        result = run(["flow", "-o", path, "-p", target.pid])
        lines = [l for l in result.stderr.splitlines() if not l.startswith("pytrace: tracing")]
        expect_write_error(harness.Result(result.argv, result.returncode, "", "\n".join(lines),
                                          result.seconds), path)
        check_unharmed(target, flow=True)
    finally:
        target.close()


def test_flow_launch_write_error(python_id, full_output):
    path = full_output()
    result = run(["flow", "-o", path, "--", python(python_id), LOOP, "-", "300000"])
    expect_write_error(result, path)


def test_flow_keeps_up_no_drops(python_id, tmp_path):
    """A reader that keeps up: not one event dropped."""
    out = tmp_path / "flow.out"
    result = run(["flow", "--stats", "-o", out, "--", python(python_id), LOOP, "-", "100000"])
    assert result.returncode == 0, result.describe()
    m = re.search(r"^pytrace: (\d+) events, (\d+) lines, (\d+) dropped", result.stderr, re.M)
    assert m and int(m.group(3)) == 0 and int(m.group(1)) >= 200000, result.describe()
    assert "events dropped" not in result.stderr, result.describe()
    steps = sum(1 for l in open(str(out)) if l.lstrip().startswith("-> step ("))
    assert steps == 100000, "%d calls of step() traced\n%s" % (steps, result.describe())


# ---------------------------------------------------------------------------
# flow and a reader that does not read

def _pipe_bytes(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def _read_stderr_line(proc, pattern):
    buf = b""
    deadline = time.monotonic() + WAIT
    while not re.search(pattern.encode(), buf):
        r, _, _ = select.select([proc.stderr], [], [], max(deadline - time.monotonic(), 0))
        if not r:
            pytest.fail("pytrace did not print %r (got %r)" % (pattern, buf))
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            pytest.fail("pytrace exited %s before %r: %r" % (proc.wait(), pattern, buf))
        buf += chunk
    return buf


class StalledReader:
    """A FIFO that is opened for reading and never read: pytrace's writes
    to it block once it is full."""

    def __init__(self, tmp_path):
        self.path = str(tmp_path / "fifo")
        os.mkfifo(self.path)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)

    def wait_full(self):
        size = fcntl.fcntl(self.fd, 1032)  # F_GETPIPE_SZ
        poll_until(lambda: _pipe_bytes(self.fd) >= size // 2, WAIT, "the FIFO to fill up")

    def close(self):
        os.close(self.fd)


def _start_flow(target, reader, options=()):
    tracer = subprocess.Popen([harness.pytrace_path(), "flow"] + list(options) +
                              ["-o", reader.path, "-p", str(target.pid)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    err = _read_stderr_line(tracer, r"pytrace: tracing process %d" % target.pid)
    return tracer, err


def _finish(tracer, err, timeout=20):
    try:
        out, rest = tracer.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        tracer.kill()
        tracer.wait()
        pytest.fail("pytrace ignored the signal while its output was blocked")
    return (err + rest).decode(errors="replace")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_flow_signal_while_output_blocks(python_id, tmp_path, sig):
    target = LoopTarget(python(python_id))
    reader = StalledReader(tmp_path)
    tracer = None
    try:
        tracer, err = _start_flow(target, reader)
        reader.wait_full()
        tracer.send_signal(sig)
        err = _finish(tracer, err)
        assert tracer.returncode == 0, err
        # Usually a write is blocked when the signal comes, and the rest of
        # the trace is given up with a line saying so; if pytrace had just
        # emptied its buffer, it detaches without one. Either way it ended
        # (the old binary hung until SIGKILL) and detached.
        assert ("pytrace: the output blocked when pytrace was asked to stop" in err
                or "pytrace: detached from %d" % target.pid in err), err
        check_unharmed(target, flow=True)
    finally:
        if tracer and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        reader.close()
        target.close()


def test_flow_stalled_reader_drops_not_freezes(python_id, tmp_path):
    """pytrace cannot write: the target waits at most a second for room in
    the ring, then runs on, dropping events; pytrace reports how many."""
    target = LoopTarget(python(python_id))
    reader = StalledReader(tmp_path)
    tracer = None
    try:
        tracer, err = _start_flow(target, reader, ["--stats", "--buffer-size", "1"])
        reader.wait_full()
        at = target.counts(WAIT)[-1]
        # 1,000,000 more calls are 2,000,000 events: far more than the
        # ring (1 MiB), pytrace's buffer and the FIFO hold together, so
        # the target ran on without pytrace.
        target.wait_count(at + 1000000, WAIT)
        tracer.send_signal(signal.SIGINT)
        err = _finish(tracer, err)
        assert tracer.returncode == 0, err
        m = re.search(r"^pytrace: (\d+) events dropped: ", err, re.M)
        s = re.search(r"^pytrace: \d+ events, \d+ lines, (\d+) dropped, ", err, re.M)
        assert m and s and int(m.group(1)) == int(s.group(1)) >= 2000000 - 200000, err
        check_unharmed(target, flow=True)
    finally:
        if tracer and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        reader.close()
        target.close()
