# SPDX-License-Identifier: MIT
"""Launch mode (`flow -- PROG`, `stacks -- PROG`): the program is pytrace's child.

One behaviour for both commands (docs/flow.md, docs/stacks.md): signals
pytrace gets are passed on to the program, which has a grace period to end;
pytrace exits with its status; a closed output kills it with a line saying
so; and pytrace's own death (SIGKILL, at any instant of start-up or later)
kills it with SIGKILL: never SIGTRAP or SIGSEGV from a breakpoint or an
injected call left behind, never an orphan running on.

The SIGKILL test runs in a helper process (this file, run as a script) that
is a child subreaper (PR_SET_CHILD_SUBREAPER): the program, orphaned when
pytrace dies, is reparented to it, so its wait status is seen exactly.
The program reports its own state over a pipe ("main PID" once its main
module runs, i.e. past flow's install). The kills come at delays spread
evenly from 0 to SPREAD times the slowest of three runs to "main" (the
helper's sleeps only place them; no sleep synchronises anything), and the
last AFTER_MAIN as soon as the program reports "main".
"""

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time

# The program every test launches. Runs unchanged on CPython 2.7 and 3.6+.
#   PROG REPORT_FD kill      "main PID", then calls work() (and os.write with
#                            stacks) forever
#   PROG REPORT_FD signals   1000 calls, "ready PID", calls work() (and loops
#                            without calls) until a SIGINT/SIGTERM handler sets
#                            a flag, then final(n), "done N", exit 3 (SIGTERM)
#                            or 4 (SIGINT)
#   PROG REPORT_FD ignore    as signals, but SIGINT/SIGTERM are ignored
PROG = r'''
import os, signal, sys

def work(i):
    return i + 1

def final(n):
    return n

def main():
    fd, mode = int(sys.argv[1]), sys.argv[2]
    n = 0
    if mode == "kill":
        os.write(fd, ("main %d\n" % os.getpid()).encode())
        null = os.open(os.devnull, os.O_WRONLY)
        while True:
            n = work(n)
            if n % 64 == 0:
                os.write(null, b"x")
    got = []
    def on_signal(sig, frame):
        got.append(sig)
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN if mode == "ignore" else on_signal)
    for _ in range(1000):
        n = work(n)
    os.write(fd, ("ready %d\n" % os.getpid()).encode())
    while not got:
        n = work(n)
        for _ in range(100):  # Python code, but no calls: fewer lines to write
            pass
    final(n)
    os.write(fd, ("done %d\n" % n).encode())
    sys.exit(3 if got[0] == signal.SIGTERM else 4)

main()
'''

AFTER_MAIN = 4      # of which the last ones come once the program reports main
# SIGKILLs of pytrace per command and interpreter: 50 (the bar); the
# ASan/UBSan pass of make check, which re-runs the same paths for
# pytrace's own memory errors, takes fewer (PYTRACE_TEST_KILLS).
KILLS = max(AFTER_MAIN + 2, int(os.environ.get("PYTRACE_TEST_KILLS", "50")))
SPREAD = 1.6        # kills spread from 0 to SPREAD x the time to "main"
ORPHAN_WAIT = 5     # seconds a killed pytrace's program may take to be gone
WAIT = 30


# ---------------------------------------------------------------------------
# The kill driver (run as a script: a subreaper)

def _status_text(status):
    if os.WIFSIGNALED(status):
        return "signal %d" % os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return "exit %d" % os.WEXITSTATUS(status)
    return "status %#x" % status


def _children():
    kids = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/children" % tid) as f:
                kids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return kids


def _read_report(fd):
    data = b""
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _launch(argv, prog):
    r, w = os.pipe()
    start = time.monotonic()
    proc = subprocess.Popen(argv + [prog, str(w), "kill"], pass_fds=(w,),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(w)
    return proc, r, start


def _time_to_main(argv, prog):
    """Seconds from starting pytrace to the program's "main" line."""
    proc, r, start = _launch(argv, prog)
    try:
        if not select.select([r], [], [], WAIT)[0]:
            raise SystemExit("the program never reported main: %s" % argv)
        took = time.monotonic() - start
        os.read(r, 4096)
    finally:
        proc.kill()
        proc.wait()
        os.close(r)
        _reap_all(ORPHAN_WAIT)
    return took


def _reap_all(timeout):
    """Waits for every child (orphans reparented to us): [(pid, status text)],
    and the pids still running after timeout (then killed)."""
    reaped, alive = [], []
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            reaped.append((pid, _status_text(status)))
            continue
        if time.monotonic() > deadline:
            alive = _children()
            for pid in alive:
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
            continue
        time.sleep(0.001)
    return reaped, alive


def _failed(run, relaxed):
    """relaxed: processes the program forked itself (a pyenv shim's subshells)
    are neither pytrace's nor killed with it: they may exit, or die of SIGPIPE
    once the program that read their output was killed, but not be left
    running nor die of anything else (SIGTRAP, SIGSEGV...)."""
    if run["alive"]:
        return True
    other_ok = ("signal 9", "signal %d" % signal.SIGPIPE)
    if any(s != "signal 9" and (not relaxed or (s.startswith("signal") and s not in other_ok))
           for _, s in run["reaped"]):
        return True
    return run["main"] is not None and (run["main"], "signal 9") not in [tuple(r) for r in
                                                                        run["reaped"]]


def kill_driver(argv, prog, kills, relaxed=False):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise SystemExit("PR_SET_CHILD_SUBREAPER: errno %d" % ctypes.get_errno())
    t_main = max(_time_to_main(argv, prog) for _ in range(3))
    runs = []
    timed = kills - AFTER_MAIN
    for i in range(kills):
        delay = SPREAD * t_main * i / (timed - 1)
        proc, r, start = _launch(argv, prog)
        if i < timed:
            left = start + delay - time.monotonic()
            if left > 0:
                time.sleep(left)
        else:
            # The last few once the program says it runs its main module
            # (past the install), however slow the machine is today.
            select.select([r], [], [], WAIT)
            delay = time.monotonic() - start
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reaped, alive = _reap_all(ORPHAN_WAIT)
        report = _read_report(r)
        os.close(r)
        main = [int(l.split()[1]) for l in report.splitlines() if l.startswith("main ")]
        runs.append({"delay": delay, "main": main[0] if main else None,
                     "reaped": reaped, "alive": alive})
        if _failed(runs[-1], relaxed):
            break  # one failure is enough: do not wait out every other orphan
    return {"t_main": t_main, "runs": runs}


if __name__ == "__main__" and sys.argv[1:2] == ["--kill-driver"]:
    spec = json.loads(sys.argv[2])
    sys.stdout.write(json.dumps(kill_driver(spec["argv"], spec["prog"], spec["kills"],
                                            spec.get("relaxed", False))) + "\n")
    sys.exit(0)


# ---------------------------------------------------------------------------
# The tests

import pytest  # noqa: E402

import harness  # noqa: E402

import conftest  # noqa: E402


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    path = tmp_path_factory.mktemp("launch") / "prog.py"
    path.write_text(PROG)
    return str(path)


def python(python_id):
    return conftest.INSTALLED[python_id][0]


COMMANDS = {
    "flow": ["flow", "--function", "work", "-o", os.devnull, "--"],
    "stacks": ["stacks", "-e", "write", "--count", "-o", os.devnull, "--"],
    "stacks-no-seccomp": ["stacks", "-e", "write", "--count", "--no-seccomp", "-o", os.devnull,
                          "--"],
}


def _kill_many(argv, prog, kills, what, relaxed=False, env=None):
    spec = json.dumps({"argv": argv, "prog": prog, "kills": kills, "relaxed": relaxed})
    driver = subprocess.run([sys.executable, os.path.abspath(__file__), "--kill-driver", spec],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=600, env=env)
    assert driver.returncode == 0, driver.stderr.decode(errors="replace")
    result = json.loads(driver.stdout.decode())
    runs = result["runs"]
    bad = [r for r in runs if _failed(r, relaxed)]
    started = [r for r in runs if r["reaped"]]
    past_main = [r for r in runs if r["main"] is not None]
    summary = "%s: %d kills over %.0f ms (program started in %d, past main in %d)" % (
        what, len(runs), SPREAD * result["t_main"] * 1000, len(started), len(past_main))
    print(summary)
    assert not bad, "%s\nfirst failure: %s" % (summary, json.dumps(bad[0]))
    assert len(runs) == kills
    # The kills covered the window: some before the program ran, some past main.
    assert past_main and len(past_main) < len(runs), summary


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_sigkill_during_startup_kills_program(python_id, pytrace, prog, command):
    """SIGKILL pytrace at KILLS points from 0 to past the install: every time the
    program (if it was started) ends by SIGKILL, and nothing is left running."""
    argv = [pytrace] + COMMANDS[command] + [python(python_id)]
    # A chrooted interpreter starts through a wrapper whose mkdir and mount
    # helpers exit by themselves: as a shim's subshells, they may exit.
    _kill_many(argv, prog, KILLS, "%s %s" % (command, python_id),
               relaxed=python_id in conftest.CHROOTED)


SHIM_KILLS = 16


def test_sigkill_through_pyenv_shim(python_id, pytrace, prog):
    """`flow -- ~/.pyenv/shims/pythonX.Y PROG`: bash, then pyenv, exec the real
    interpreter (followed through each exec). SIGKILL at SHIM_KILLS points:
    the program ends by SIGKILL, no process by another signal, none runs on."""
    path = python(python_id)
    version_dir = os.path.dirname(os.path.dirname(path))
    shim = os.path.join(os.path.dirname(os.path.dirname(version_dir)), "shims",
                        "python%s" % python_id)
    if python_id.startswith("system") or not os.access(shim, os.X_OK):
        pytest.skip("no pyenv shim for %s" % python_id)
    env = dict(os.environ, PYENV_VERSION=os.path.basename(version_dir))
    argv = [pytrace] + COMMANDS["flow"] + [shim]
    _kill_many(argv, prog, SHIM_KILLS, "flow through %s" % shim, relaxed=True, env=env)


def _start_flow(pytrace, python_id, prog, mode, out, stdout=subprocess.DEVNULL):
    r, w = os.pipe()
    argv = [pytrace, "flow", "--function", "work", "--function", "final"]
    if out:
        argv += ["-o", str(out)]
    tracer = subprocess.Popen(argv + ["--", python(python_id), prog, str(w), mode],
                              pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=stdout,
                              stderr=subprocess.PIPE)
    os.close(w)
    return tracer, r


def _read_line(fd, prefix):
    data = b""
    deadline = time.monotonic() + WAIT
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            pytest.fail("no %r line from the program within %ds (got %r)" % (prefix, WAIT, data))
        chunk = os.read(fd, 1)
        if not chunk:
            pytest.fail("the program closed its report pipe before %r (got %r)" % (prefix, data))
        data += chunk
    line = data.decode()
    assert line.startswith(prefix + " "), line
    return int(line.split()[1])


def _gone(pid):
    return harness.task_state(pid) is None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_passed_to_program(python_id, pytrace, prog, tmp_path, sig):
    """SIGINT/SIGTERM to `pytrace flow -- PROG`: the program gets the signal, ends
    on its own (its handler), every call up to its last is in the output, and
    pytrace exits with the program's status, leaving nothing behind."""
    out = tmp_path / "flow.txt"
    tracer, report = _start_flow(pytrace, python_id, prog, "signals", out)
    pid = None
    try:
        pid = _read_line(report, "ready")
        tracer.send_signal(sig)
        n = _read_line(report, "done")
        _, err = tracer.communicate(timeout=WAIT)
        err = err.decode(errors="replace")
        assert tracer.returncode == (3 if sig == signal.SIGTERM else 4), \
            "exit %d\n%s" % (tracer.returncode, err)
        assert _gone(pid), "the program is still there: %s" % harness.task_state(pid)
        assert err == "", err
        lines = out.read_text().splitlines()
        calls = sum(1 for l in lines if l.startswith("-> work "))
        returns = sum(1 for l in lines if l.startswith("<- work "))
        assert calls == returns == n, "%d calls, %d returns, the program made %d" % (
            calls, returns, n)
        assert lines[-2:] == ["-> final (%s:7)" % prog, "<- final (%s:8)" % prog], lines[-3:]
    finally:
        os.close(report)
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        if pid and not _gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_program_ignoring_signal_killed_after_grace(python_id, pytrace, prog):
    """A program that ignores the signal pytrace passes on is killed once the
    grace period (2 s) is over: exit 137 and a line saying why."""
    tracer, report = _start_flow(pytrace, python_id, prog, "ignore", os.devnull)
    pid = None
    try:
        pid = _read_line(report, "ready")
        tracer.send_signal(signal.SIGTERM)
        _, err = tracer.communicate(timeout=WAIT)
        err = err.decode(errors="replace")
        assert tracer.returncode == 128 + signal.SIGKILL, "exit %d\n%s" % (tracer.returncode, err)
        assert err.splitlines() == [
            "pytrace: the program did not exit within 2000 ms of the interrupt: killed it"], err
        assert _gone(pid)
    finally:
        os.close(report)
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        if pid and not _gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_closed_output_kills_program(python_id, pytrace, prog):
    """`pytrace flow -- PROG | head -1`: once the reader is gone the program is
    killed, as stacks does, with one line saying so; nothing is left behind."""
    # (a launched program's trace goes to stderr unless -o says otherwise)
    tracer, report = _start_flow(pytrace, python_id, prog, "signals", "/dev/stdout",
                                 stdout=subprocess.PIPE)
    pid = None
    try:
        pid = _read_line(report, "ready")
        first = tracer.stdout.readline()
        assert first.startswith(b"-> work "), first
        tracer.stdout.close()   # as head -1 does
        _, err = tracer.communicate(timeout=WAIT)
        err = err.decode(errors="replace")
        assert tracer.returncode == 128 + signal.SIGKILL, "exit %d\n%s" % (tracer.returncode, err)
        assert err.splitlines() == ["pytrace: the output was closed: killed the program"], err
        assert _gone(pid), "the program is still there: %s" % harness.task_state(pid)
    finally:
        os.close(report)
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        if pid and not _gone(pid):
            os.kill(pid, signal.SIGKILL)
