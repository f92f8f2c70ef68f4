# SPDX-License-Identifier: MIT
"""Kill-anywhere: pytrace SIGKILLed at any instant of its set-up leaves the target running.

One long-running target per interpreter (tests/targets/safety.py: a busy
thread, a thread blocked in read(2), a main thread answering pings). For
each of `flow -p`, `stacks -p` and `dump`, pytrace is started and killed
with SIGKILL after delays spread evenly from 0 to past the command's
measured set-up time (KILLS of them), and after each kill the target must
be alive, untraced (TracerPid 0 in every thread, polled until the kernel
has finished the detach), not stopped, still computing right (a ping
returns the right sum, and the busy thread has moved on), with every hook
it had before (each thread state's profile function, the PEP 523 slot,
the sys.monitoring tools) exactly as it was once the agent has noticed
the death. For flow, a kill after set-up ("tracing process") must also
end with the ring unmapped. At the end the blocked read must still
complete normally.
"""

import json
import os
import re
import resource
import select
import signal
import subprocess
import time

import pytest

import harness
from conftest import INSTALLED
from harness import REPO, poll_until

TARGET = str(REPO / "tests" / "targets" / "safety.py")
OFFSETS = REPO / "src" / "python" / "offsets"
# SIGKILLs per command and interpreter: 50 (the bar); the ASan/UBSan pass
# of make check, which re-runs the same paths for pytrace's own memory
# errors, takes fewer (PYTRACE_TEST_KILLS).
KILLS = max(2, int(os.environ.get("PYTRACE_TEST_KILLS", "50")))
SETTLE = 10          # seconds the kernel / the agent may take to let go
RING = "memfd:pytrace-flow"


def offsets(python_id):
    """The offsets the target reads its own hooks at, from pytrace's tables."""
    major, minor = INSTALLED[python_id][1][:2]
    text = (OFFSETS / ("py%d%d.c" % (major, minor))).read_text()

    def field(name):
        m = re.search(r"\.%s = (-?\w+)," % name, text)
        return -1 if m is None or m.group(1) == "PYV_NONE" else int(m.group(1))
    return field("tstate_c_profilefunc"), field("interp_eval_frame")


class SafetyTarget:
    def __init__(self, python_id, deny=()):
        ready_r, ready_w = os.pipe()
        prof, ev = offsets(python_id)
        extra = [",".join(str(n) for n in deny)] if deny else []
        self.proc = subprocess.Popen([INSTALLED[python_id][0], TARGET, str(ready_w), str(prof),
                                      str(ev)] + extra, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, pass_fds=(ready_w,))
        os.close(ready_w)
        self.pid = self.proc.pid
        self.buf = b""
        r, _, _ = select.select([ready_r], [], [], 60)
        assert r and os.read(ready_r, 16) == b"ready\n", "the safety target did not start"
        os.close(ready_r)
        self.count = 0
        self.baseline = self.ping()[2]

    def line(self, timeout=harness.PING_TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not r:
                pytest.fail("the target did not answer within %ss" % timeout)
            data = os.read(self.proc.stdout.fileno(), 65536)
            assert data, "the target closed its output (exit status %s)" % self.proc.poll()
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def ping(self, n=1000):
        self.proc.stdin.write(b"ping %d\n" % n)
        self.proc.stdin.flush()
        words = self.line().split(" ", 4)
        assert words[0] == "pong", words
        total, count, blocked = int(words[1]), int(words[2]), int(words[3])
        assert total == n * (n + 1) // 2, "the target computes wrong: %d" % total
        return count, blocked, json.loads(words[4])

    def tracers(self):
        """TracerPid of every thread (a thread gone meanwhile is skipped)."""
        out = {}
        for tid in harness.task_ids(self.pid):
            try:
                with open("/proc/%d/task/%d/status" % (self.pid, tid)) as f:
                    out[tid] = int(next(l for l in f if l.startswith("TracerPid:")).split()[1])
            except (OSError, StopIteration):
                pass
        return out

    def rings(self):
        with open("/proc/%d/maps" % self.pid) as f:
            return sum(RING in l for l in f)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def safety_targets(python_id, pytrace):
    live = []
    yield live
    for t in live:
        t.close()


@pytest.fixture
def safety_target(python_id, safety_targets):
    """The interpreter's one target (a fresh one only if a failed test killed it)."""
    if not safety_targets or safety_targets[-1].proc.poll() is not None:
        safety_targets.append(SafetyTarget(python_id))
    return safety_targets[-1]


def command(name, pid):
    if name == "flow":
        return ["flow", "--buffer-size", "1", "-p", str(pid)]
    if name == "stacks":
        return ["stacks", "-e", "read,write", "-p", str(pid)]
    return ["dump", str(pid)]


READY = {"flow": "pytrace: tracing process", "stacks": "pytrace: attached to process"}


def set_up_time(pytrace, name, target, tmp_path):
    """Seconds from start to the end of set-up (dump: to its exit)."""
    err = tmp_path / "setup.err"
    with open(str(err), "wb") as f:
        start = time.monotonic()
        p = subprocess.Popen([pytrace] + command(name, target.pid), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=f)
    try:
        if name == "dump":
            assert p.wait(timeout=60) == 0, err.read_text()
        else:
            poll_until(lambda: READY[name] in err.read_text() or p.poll() is not None, 60,
                       "pytrace %s to set up" % name)
            assert p.poll() is None, err.read_text()
        took = time.monotonic() - start
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=60)
    settle(target, name, set_up_done=True)
    return took


def settle(target, name, set_up_done, leaked=0):
    """Checks the target after pytrace died; returns the flow rings left mapped."""
    assert target.proc.poll() is None, "the target died (status %s)" % target.proc.poll()
    poll_until(lambda: not any(target.tracers().values()), SETTLE,
               "every thread of the target to be untraced (TracerPid 0): %s" % target.tracers())
    for tid in harness.task_ids(target.pid):
        st = harness.task_state(target.pid, tid)
        assert st not in ("t", "T"), "thread %d is stopped (%s) after pytrace died" % (tid, st)
    before = target.count
    state = {}

    def restored():
        state["count"], _, state["hooks"] = target.ping()
        return state["hooks"] == target.baseline and state["count"] > before

    try:
        poll_until(restored, SETTLE, "the hooks to be as they were")
    except pytest.fail.Exception:
        if not state:
            raise
        pytest.fail("after pytrace died: busy thread at %s (%s before), hooks %s (%s before)"
                    % (state.get("count"), before, state.get("hooks"), target.baseline))
    target.count = state["count"]
    if name != "flow":
        return leaked
    if set_up_done:
        poll_until(lambda: target.rings() <= leaked, SETTLE,
                   "the agent to unmap its ring after pytrace died")
    return target.rings()


@pytest.mark.parametrize("name", ["flow", "stacks", "dump"])
def test_kill_anywhere(python_id, pytrace, safety_target, name, tmp_path):
    target = safety_target
    leaked = target.rings() if name == "flow" else 0
    took = set_up_time(pytrace, name, target, tmp_path)
    alive = 0
    early = 0
    err = tmp_path / "kill.err"
    for i in range(KILLS):
        delay = took * 1.25 * i / (KILLS - 1)
        with open(str(err), "wb") as f:
            p = subprocess.Popen([pytrace] + command(name, target.pid), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=f)
        time.sleep(delay)
        p.kill()
        p.wait()
        done = name in READY and READY[name] in err.read_text()
        early += not done
        assert target.proc.poll() is None, \
            "the target died (status %s) at kill %d of %d, %.1f ms after pytrace %s started" % (
                target.proc.poll(), i + 1, KILLS, delay * 1000, name)
        leaked = settle(target, name, done, leaked)
        alive += 1
    _, blocked, _ = target.ping()
    target.proc.stdin.write(b"wake\n")
    target.proc.stdin.flush()
    assert target.line() in ("woke %r" % (b"x",), "woke 'x'"), "the blocked read did not complete"
    assert target.ping()[1] == blocked + 1
    print("\n%s %s: set-up %.1f ms, %d kills (%d before set-up ended), target alive after %d, "
          "%d flow rings left mapped by kills during the load" % (
              python_id, name, took * 1000, KILLS, early, alive, leaked))


def test_fork_before_first_event(python_id, pytrace, tmp_path):
    """The target forks before the agent saw any event (≤3.11: the hook is
    written from outside into a process blocked in read(2)): the child
    inherits the hook and the shared ring, but writes nothing into it
    (it used to: its events, then garbage, printed without end), runs its
    Python code to a correct end untraced, and the parent's trace holds
    exactly its own 10 calls."""
    ready_r, ready_w = os.pipe()
    target = subprocess.Popen([INSTALLED[python_id][0], str(REPO / "tests" / "targets" /
                                                          "fork_early.py"), str(ready_w)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(ready_w,))
    os.close(ready_w)
    out, err = tmp_path / "flow.jsonl", tmp_path / "flow.err"
    tracer = None
    try:
        r, _, _ = select.select([ready_r], [], [], 60)
        assert r and os.read(ready_r, 16) == b"ready\n"
        with open(str(err), "wb") as f:
            # A ring the child corrupts used to be printed without end
            # (72 GB in 20 s): the output is capped (SIGXFSZ ends pytrace).
            tracer = subprocess.Popen([pytrace, "flow", "--json", "--function", "work", "-o",
                                       str(out), "-p", str(target.pid)],
                                      stdin=subprocess.DEVNULL, stderr=f,
                                      preexec_fn=lambda: resource.setrlimit(
                                          resource.RLIMIT_FSIZE, (64 << 20, 64 << 20)))
        poll_until(lambda: READY["flow"] in err.read_text() or tracer.poll() is not None, 60,
                   "pytrace flow to attach")
        assert tracer.poll() is None, err.read_text()
        target.stdin.write(b"f")
        target.stdin.flush()
        r, _, _ = select.select([target.stdout], [], [], 60)
        assert r, "the target did not report its child"
        m = re.match(rb"child (\d+) (\d+)\n", target.stdout.readline())
        assert m, "no child report"
        child, status = int(m.group(1)), int(m.group(2))
        assert status == 0, "the forked child failed: wait status %d" % status
        tracer.send_signal(signal.SIGINT)
        assert tracer.wait(timeout=60) == 0, err.read_text()
        events = [json.loads(l) for l in out.read_text().splitlines()]
        assert not [e for e in events if e["tid"] == child], "the child's events are in the trace"
        calls = [e for e in events if e["event"] == "call" and e["function"] == "work"]
        assert len(calls) == 10 and all(e["tid"] == target.pid for e in calls), \
            "expected the parent's 10 calls of work(), got %d events: %s" % (
                len(events), events[:5])
        assert target.poll() is None
    finally:
        os.close(ready_r)
        if tracer and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        target.stdin.close()
        target.wait(timeout=30)


EXIT_SANDBOX = 10
MEMFD_CREATE, PIPE2 = 319, 293


def test_sandboxed_target_refused(python_id, pytrace):
    """A target whose own seccomp filter kills it on pipe2, which flow's
    set-up needs (systemd's SystemCallFilter= does this): pytrace reads the
    filter, evaluates it for every call it would make and refuses with one
    line and exit 10 (it used to make the target die of SIGSYS); the
    target runs on, untraced, unchanged, nothing of pytrace's mapped."""
    target = SafetyTarget(python_id, deny=(PIPE2,))
    try:
        result = harness.run_pytrace(["flow", "-p", target.pid])
        assert target.proc.poll() is None, "the target died (status %s)\n%s" % (
            target.proc.poll(), result.describe())
        harness.expect_exit(result, EXIT_SANDBOX)
        line = harness.expect_error_line(result)
        assert "seccomp" in line and "pipe2" in line and "kill the process" in line, line
        settle(target, "dump", set_up_done=True)
        with open("/proc/%d/maps" % target.pid) as f:
            maps = f.read()
        assert "pytrace-flow" not in maps, "pytrace's agent or ring was mapped anyway"
    finally:
        target.close()


def test_sandboxed_target_without_memfd(python_id, pytrace, tmp_path):
    """A filter that kills on memfd_create: flow needs no memfd, its ring is
    then a shared anonymous mapping (opened through /proc/PID/map_files):
    the target is traced (its busy thread's work() calls), and after
    pytrace detaches it runs on with its hooks as before."""
    target = SafetyTarget(python_id, deny=(MEMFD_CREATE,))
    tracer = None
    try:
        out, err = tmp_path / "flow.out", tmp_path / "flow.err"
        with open(str(err), "wb") as f:
            tracer = subprocess.Popen([pytrace, "flow", "--buffer-size", "1", "--function", "work",
                                       "-o", str(out), "-p", str(target.pid)],
                                      stdin=subprocess.DEVNULL, stderr=f)
        poll_until(lambda: (out.exists() and out.stat().st_size > 10000) or
                   tracer.poll() is not None, 60, "flow output")
        assert target.proc.poll() is None, "the target died (status %s)" % target.proc.poll()
        assert tracer.poll() is None, err.read_text()
        tracer.send_signal(signal.SIGINT)
        assert tracer.wait(timeout=60) == 0, err.read_text()
        lines = out.read_text().splitlines()
        assert lines and all(re.match(r"^(\[\d+\] )? *(->|<-) work \(.*safety\.py:\d+\)$", l)
                             for l in lines[:1000]), lines[:5]
        settle(target, "dump", set_up_done=True)

        def shared_zero():
            with open("/proc/%d/maps" % target.pid) as f:
                return [l for l in f if "/dev/zero (deleted)" in l and l.split()[1] == "rw-s"]
        poll_until(lambda: not shared_zero(), SETTLE, "the ring to be unmapped: %s" % shared_zero())
    finally:
        if tracer and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        target.close()


def test_ring_that_lies(python_id, pytrace, tmp_path):
    """The target sets the ring's head far past what it holds: pytrace
    says so in one line and detaches (exit 1), instead of draining
    garbage without end; the target runs on with its hooks restored and
    the ring unmapped."""
    target = SafetyTarget(python_id)
    tracer = None
    try:
        err = tmp_path / "flow.err"
        with open(str(err), "wb") as f:
            tracer = subprocess.Popen([pytrace, "flow", "--buffer-size", "1", "-p",
                                       str(target.pid)], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=f)
        poll_until(lambda: READY["flow"] in err.read_text() or tracer.poll() is not None, 60,
                   "pytrace flow to attach")
        target.proc.stdin.write(b"lie\n")
        target.proc.stdin.flush()
        assert target.line() == "lied"
        try:
            tracer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("pytrace still running 30 s after the ring lied")
        lines = [l for l in err.read_text().splitlines() if not l.startswith(READY["flow"])]
        assert tracer.returncode == 1 and len(lines) == 1 and re.match(
            r"^pytrace: process %d broke the ring's rules \(.*\): tracing abandoned$" % target.pid,
            lines[0]), (tracer.returncode, err.read_text())
        settle(target, "flow", set_up_done=True)
    finally:
        if tracer and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        target.close()
