# SPDX-License-Identifier: MIT
"""Helpers for the e2e tests: run pytrace, run targets, parse and compare output."""

import json
import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "tests" / "targets" / "stacks.py"
READY_TIMEOUT = 60      # seconds a target may take to park all its threads
PYTRACE_TIMEOUT = 60    # seconds one pytrace run may take
PING_TIMEOUT = 10

# pytrace's documented exit codes
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_NO_PROCESS, EXIT_PERMISSION, \
    EXIT_NOT_PYTHON, EXIT_UNSUPPORTED, EXIT_EXITED = range(8)


def pytrace_path():
    return os.environ.get("PYTRACE") or str(REPO / "build" / "pytrace")


class Result:
    def __init__(self, argv, returncode, stdout, stderr, seconds):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def describe(self, limit=6000):
        out = self.stdout if len(self.stdout) <= limit else (
            self.stdout[:limit] + "\n... (%d more characters)" % (len(self.stdout) - limit))
        return "$ %s\nexit %s after %.2fs\n--- stderr ---\n%s--- stdout ---\n%s" % (
            " ".join(self.argv), self.returncode, self.seconds, self.stderr, out)


def run_pytrace(args, prefix=(), timeout=PYTRACE_TIMEOUT):
    argv = list(prefix) + [pytrace_path()] + [str(a) for a in args]
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail("pytrace hung for %ds: %s\nstderr so far: %r" % (
            timeout, " ".join(argv), e.stderr))
    out = proc.stdout.decode("utf-8", errors="backslashreplace")
    err = proc.stderr.decode("utf-8", errors="backslashreplace")
    return Result(argv, proc.returncode, out, err, time.monotonic() - start)


def expect_exit(result, code):
    assert result.returncode == code, "expected exit %d\n%s" % (code, result.describe())


def expect_error_line(result):
    """Errors print exactly one line on stderr, starting with 'pytrace: '."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pytrace: "), \
        "expected exactly one stderr line starting with 'pytrace: '\n" + result.describe()
    return lines[0]


# ---------------------------------------------------------------------------
# /proc helpers

def task_state(pid, tid=None):
    """State letter of a process or one of its threads, or None if gone."""
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    try:
        with open(path) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat[stat.rindex(")") + 2]


def task_syscall(pid, tid):
    try:
        with open("/proc/%d/task/%d/syscall" % (pid, tid)) as f:
            return f.read().strip()
    except OSError:
        return None


def task_ids(pid):
    try:
        return set(int(t) for t in os.listdir("/proc/%d/task" % pid))
    except FileNotFoundError:
        return set()


def children(pid):
    """The pids of a process's children (of its main thread)."""
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(c) for c in f.read().split()]


def nspid(pid, tid=None):
    """The NSpid ids of a process (or one of its threads): ours first, the
    one its own PID namespace gives it last."""
    path = "/proc/%d/status" % pid if tid is None else "/proc/%d/task/%d/status" % (pid, tid)
    with open(path) as f:
        return [int(x) for l in f if l.startswith("NSpid:") for x in l.split()[1:]]


def poll_until(condition, timeout, what):
    """Polls a condition (no fixed sleeps): returns once it holds, fails after timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


# ---------------------------------------------------------------------------
# Targets

class Target:
    """One run of tests/targets/stacks.py under one interpreter."""

    def __init__(self, python_id, python, workdir, prefix=()):
        """prefix: a command that runs the target as its only child and in a
        PID namespace of its own (unshare --pid --fork --mount-proc): the
        target's ids are then translated to ours."""
        self.python_id = python_id
        self.python = python
        self.prefix = list(prefix)
        self._child_pid = None
        self.workdir = Path(workdir)
        self.proc = None
        self.ready_r = None
        self.truth = None
        self.ready_error = None
        self.dumps = 0
        self.restarts = 0

    # lifecycle
    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.truth_path = self.workdir / "truth.json"
        if self.truth_path.exists():
            self.truth_path.unlink()
        self.stderr_path = self.workdir / "stderr.txt"
        self.ready_r, ready_w = os.pipe()
        with open(self.stderr_path, "wb") as err:
            self._child_pid = None
            self.proc = subprocess.Popen(
                self.prefix + [self.python, str(STACKS), str(self.truth_path), str(ready_w)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                pass_fds=(ready_w,), cwd=str(self.workdir))
        os.close(ready_w)
        self.started = time.monotonic()
        self.truth = None
        self.ready_error = None
        self.dumps = 0

    @property
    def pid(self):
        if not self.prefix:
            return self.proc.pid
        if self._child_pid is None:
            poll_until(lambda: children(self.proc.pid), 10, "%s to start its child" % self.prefix[0])
            kids = children(self.proc.pid)
            assert len(kids) == 1, "%s has children %s" % (self.prefix[0], kids)
            self._child_pid = kids[0]
        return self._child_pid

    def _our_ids(self):
        """The target's own thread ids -> ours (NSpid: ours first, its last)."""
        ids = {}
        for tid in task_ids(self.pid):
            try:
                ns = nspid(self.pid, tid)
            except OSError:
                continue
            if ns:
                ids[ns[-1]] = ns[0]
        return ids

    def _translate(self, truth):
        if not self.prefix:
            return truth
        ids = self._our_ids()
        ours = lambda i: ids.get(int(i), int(i))  # noqa: E731 (gone: left as is)
        truth["pid"] = ours(truth["pid"])
        truth["reporter_tid"] = ours(truth["reporter_tid"])
        truth["tids"] = dict((role, ours(t)) for role, t in truth["tids"].items())
        truth["threads"] = dict((str(ours(t)), v) for t, v in truth["threads"].items())
        return truth

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="backslashreplace")
        except OSError:
            return ""

    def wait_ready(self):
        if self.truth is not None:
            return self.truth
        if self.ready_error is not None:
            pytest.fail(self.ready_error)  # already failed once: do not wait again
        try:
            return self._wait_ready()
        except BaseException as e:
            self.ready_error = "%s (earlier failure: %s)" % (
                self.python_id, str(e).splitlines()[0] if str(e) else type(e).__name__)
            raise

    def _wait_ready(self):
        line = b""
        deadline = self.started + READY_TIMEOUT
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("%s target not ready after %ds\nstderr:\n%s" % (
                    self.python_id, READY_TIMEOUT, self.stderr_text()))
            ready, _, _ = select.select([self.ready_r], [], [], left)
            if ready:
                chunk = os.read(self.ready_r, 4096)
                if not chunk:
                    self.proc.poll()
                    pytest.fail("%s target closed its ready pipe (exit %s)\nstderr:\n%s" % (
                        self.python_id, self.proc.returncode, self.stderr_text()))
                line += chunk
        os.close(self.ready_r)
        self.ready_r = None
        if line != b"ready\n":
            pytest.fail("%s target: %s\nstderr:\n%s" % (
                self.python_id, line.decode(errors="replace").strip(), self.stderr_text()))
        truth = self._translate(json.loads(self.truth_path.read_text(encoding="utf-8")))
        assert truth["pid"] == self.pid
        # The reporter thread exits after writing "ready"; it must not be in the dump.
        reporter = truth["reporter_tid"]
        poll_until(lambda: reporter not in task_ids(self.pid), 10, "the reporter thread to exit")
        self.truth = truth
        self.tids = set(int(t) for t in truth["threads"])
        self.echo_tid = truth["tids"]["echo"]
        return truth

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        if self.ready_r is not None:
            os.close(self.ready_r)
            self.ready_r = None

    # checks after every dump
    def ping(self):
        self.proc.stdin.write(b"p")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], PING_TIMEOUT)
        assert ready, "%s target did not answer a ping within %ds" % (self.python_id, PING_TIMEOUT)
        answer = os.read(self.proc.stdout.fileno(), 1)
        assert answer == b"p", "%s target answered ping with %r (b'!' = a parked thread " \
            "left its blocking call)\nstderr:\n%s" % (self.python_id, answer, self.stderr_text())
        # Before the next dump the echo thread must be back in read(0, ...).
        if self.truth["syscalls_checked"]:
            def parked():
                sc = task_syscall(self.pid, self.echo_tid)
                return sc is not None and sc.startswith("0 0x0 ")
        else:
            def parked():
                return task_state(self.pid, self.echo_tid) == "S"
        poll_until(parked, PING_TIMEOUT, "the echo thread to block in read() again")

    def assert_running(self, after=""):
        """The target still runs, no thread is stopped or gone, and it answers a ping."""
        assert self.proc.poll() is None, "%s target died %s (exit %s)\nstderr:\n%s" % (
            self.python_id, after, self.proc.returncode, self.stderr_text())
        tids = task_ids(self.pid)
        assert tids == self.tids, "%s target's threads changed %s: missing %s, new %s" % (
            self.python_id, after, sorted(self.tids - tids), sorted(tids - self.tids))
        stopped = dict((t, task_state(self.pid, t)) for t in tids)
        stopped = dict((t, s) for t, s in stopped.items() if s in ("t", "T"))
        assert not stopped, "%s target left stopped %s: %s" % (self.python_id, after, stopped)
        self.ping()

    def dump(self, *options):
        self.wait_ready()
        result = run_pytrace(["dump"] + list(options) + [self.pid])
        self.dumps += 1
        self.assert_running("after `pytrace dump %s`:\n%s" % (
            " ".join(options), result.describe(2000)))
        return result


# ---------------------------------------------------------------------------
# Expectations

def python_threads(truth):
    """tid -> truth entry of every thread with a Python thread state."""
    return dict((int(tid), t) for tid, t in truth["threads"].items() if t["python"])


def frame_tuple(f):
    if f.get("unreadable"):
        return ("<unreadable 0x%x>" % f.get("address", 0), "", "")
    return (f.get("function"), f.get("file"), f.get("line"))


def compare_frames(entry, got):
    """Differences between the truth's frames and (function, file, line) tuples."""
    want = [frame_tuple(f) for f in entry["frames"]]
    got = list(got)
    spin = entry["block"] == "spin"
    problems = []
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w is not None and g is not None and spin and i == 0 and w[2] == "spinning":
            lo, hi = entry["spin_lines"]
            if g[:2] == w[:2] and isinstance(g[2], int) and lo <= g[2] <= hi:
                continue
            w = (w[0], w[1], "%d..%d" % (lo, hi))
        if w != g:
            problems.append(i)
    if not problems:
        return None
    first = problems[0]
    lo, hi = max(0, first - 2), min(max(len(want), len(got)), first + 4)
    lines = ["%d frames expected, %d reported; %d differ, first at #%d:" % (
        len(want), len(got), len(problems), first)]
    for i in range(lo, hi):
        w = want[i] if i < len(want) else "-"
        g = got[i] if i < len(got) else "-"
        lines.append("  #%d %s expected %s\n  #%d %s got      %s" % (
            i, "!" if i in problems else " ", w, i, " ", g))
    return "\n".join(lines)


def thread_label(tid, entry):
    return "thread %d (%s, %s)" % (tid, entry["role"], entry["name"])


# ---------------------------------------------------------------------------
# Output parsers

def parse_json_lines(result):
    threads = []
    for n, line in enumerate(result.stdout.splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            pytest.fail("line %d of --json output is not JSON (%s): %r\n%s" % (
                n + 1, e, line[:300], result.describe(2000)))
        assert isinstance(obj, dict), "line %d is not an object" % (n + 1)
        threads.append(obj)
    return threads


def by_tid(threads, result):
    out = {}
    for t in threads:
        for key in ("pid", "tid", "name", "holds_gil", "python", "frames"):
            assert key in t, "thread object lacks %r: %s" % (key, json.dumps(t)[:500])
        assert t["tid"] not in out, "thread %d listed twice\n%s" % (t["tid"], result.describe(2000))
        out[t["tid"]] = t
    return out


HEADER_RE = re.compile(r"^Process (\d+): Python (\d+)\.(\d+)(?:\.(\d+))? \((.+)\)$")
THREAD_RE = re.compile(r'^Thread (\d+) "(.*)"( \(holds the GIL\))?(?: \[([^\]]*)\])?$')
INTERP_RE = re.compile(r"^  (  )?In interpreter (\d+):$")
NO_GIL_LINE = "Free-threaded build: no GIL, so no thread holds or waits for it"
PY_PLAIN_RE = re.compile(r"^  (?P<func>\S.*?) \((?P<file>.*):(?P<line>\d+)\)$")
PY_MERGED_RE = re.compile(r"^    \[ (?P<file>.*):(?P<line>\d+) \((?P<func>.*)\) \]$")
UNREADABLE_RE = re.compile(r"^(  |    \[ )<unreadable (0x[0-9a-f]+)>( \])?$")
NATIVE_ADDR_RE = re.compile(r"^0x[0-9a-f]+$")
NOTE_RE = re.compile(r"^  \([^()]*\)$")


def parse_native_text(text):
    """'module`symbol+0xoff' | 'module+0xoff' | '0xADDR' -> dict, or None."""
    if NATIVE_ADDR_RE.match(text):
        return {"module": None, "symbol": None, "address": int(text, 16)}
    if "`" in text:
        module, rest = text.split("`", 1)
        if "+0x" not in rest:
            return None
        symbol, off = rest.rsplit("+0x", 1)
    elif "+0x" in text:
        module, off = text.rsplit("+0x", 1)
        symbol = None
    else:
        return None
    if not module or " " in module or not re.match(r"^[0-9a-f]+$", off):
        return None
    return {"module": module, "symbol": symbol, "offset": int(off, 16)}


def parse_text(result, native=False):
    """Parses the text format into (header match, {tid: thread dict})."""
    lines = result.stdout.splitlines()
    assert lines, "no output\n" + result.describe()
    header = HEADER_RE.match(lines[0])
    assert header, "bad header line %r\n%s" % (lines[0], result.describe(2000))
    threads = {}
    cur = None
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            cur = None
            continue
        if n == 2 and line == NO_GIL_LINE:
            continue
        m = THREAD_RE.match(line)
        if m:
            cur = {"tid": int(m.group(1)), "name": m.group(2), "holds_gil": bool(m.group(3)),
                   "activity": m.group(4), "interps": [],
                   "python": [], "merged_python": [], "native": [], "items": [],
                   "not_merged": None, "no_python_frames": False, "notes": []}
            assert cur["tid"] not in threads, "thread %d printed twice" % cur["tid"]
            threads[cur["tid"]] = cur
            continue
        m = INTERP_RE.match(line) if cur is not None else None
        if m:
            # "In interpreter N:" before the frames of each interpreter
            # (at the index of its first Python frame)
            at = len(cur["merged_python"] if m.group(1) else cur["python"])
            cur["interps"].append((int(m.group(2)), at))
            continue
        assert cur is not None, "line %d outside a thread block: %r\n%s" % (
            n, line, result.describe(2000))
        if line == "  (no Python frames)":
            cur["no_python_frames"] = True
            continue
        if native and line.startswith("  (not merged: ") and line.endswith(")"):
            cur["not_merged"] = line[len("  (not merged: "):-1]
            continue
        if native and NOTE_RE.match(line):
            # e.g. "(native stack incomplete: frame limit reached)"
            cur["notes"].append(line.strip())
            continue
        m = UNREADABLE_RE.match(line)
        if m:
            f = ("<unreadable %s>" % m.group(2), "", "")
            (cur["merged_python"] if m.group(1) != "  " else cur["python"]).append(f)
            cur["items"].append(("python", f))
            continue
        m = PY_MERGED_RE.match(line) if native else None
        if m:
            f = (m.group("func"), m.group("file"), int(m.group("line")))
            cur["merged_python"].append(f)
            cur["items"].append(("python", f))
            continue
        m = PY_PLAIN_RE.match(line)
        if m:
            cur["python"].append((m.group("func"), m.group("file"), int(m.group("line"))))
            continue
        # Recursion is collapsed in text: the previous frame N more times.
        m = re.match(r"^  \[previous frame repeated (\d+) more times\]$", line)
        if m and cur["python"] and not native:
            cur["python"].extend([cur["python"][-1]] * int(m.group(1)))
            continue
        if native and line.startswith("  ") and not line.startswith("   "):
            f = parse_native_text(line[2:])
            if f is not None:
                cur["native"].append(f)
                cur["items"].append(("native", f))
                continue
        pytest.fail("line %d not understood: %r\n%s" % (n, line, result.describe(3000)))
    return header, threads


# ---------------------------------------------------------------------------
# Native-frame expectations

def top_symbol_words(block, version):
    """Words one of which the innermost libc symbol must contain (if it has one)."""
    if block == "read":
        return ("read",)
    if block == "pause":
        return ("pause",)
    if block == "sleep":
        # time.sleep() is select() up to 3.10 and clock_nanosleep() from 3.11.
        return ("sleep",) if tuple(version[:2]) >= (3, 11) else ("select",)
    return None


def load_dynsym_ranges(path):
    """name -> [(start, end)] of defined .dynsym symbols with a size (nm -D -S)."""
    out = subprocess.run(["nm", "-D", "-S", "--defined-only", path],
                         capture_output=True, text=True, check=True).stdout
    ranges = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            value, size, _type, name = parts
            start = int(value, 16)
            ranges.setdefault(name.split("@")[0], []).append((start, start + int(size, 16)))
        elif len(parts) == 3:
            ranges.setdefault(parts[2].split("@")[0], [])
    return ranges


# ---------------------------------------------------------------------------
# Interpreters in a chroot (tools/install-pythons' Debian sid root)

CHROOT_BINDS = ("/tmp", str(REPO))   # host directories seen at the same path inside


def write_chroot_wrapper(path, root, executable, binds=CHROOT_BINDS):
    """Writes an executable script that runs `executable` in `root` the way a
    container does: its own mount namespace (unshare --mount, so nothing
    outlives the target), /proc mounted, chroot, and the working directory
    kept. The binds make the test's files (targets, truth files under /tmp)
    exist inside at the paths the host uses; the interpreter and its stdlib
    are only inside, so pytrace must reach them through /proc/PID/root. Every
    step execs, so the PID the caller gets is the interpreter's."""
    mounts = " && ".join('mkdir -p "$r%s" && mount --bind %s "$r%s"' % (d, d, d) for d in binds)
    script = (
        "#!/bin/sh\n"
        "# Runs %(exe)s inside %(root)s (written by tests/e2e/harness.py).\n"
        "exec unshare --mount --propagation private /bin/sh -c '\n"
        '  r=$1; shift\n'
        '  %(mounts)s && mount -t proc proc "$r/proc" || exit 126\n'
        '  exec chroot "$r" /bin/sh -c '
        '"cd \\"\\$0\\" 2>/dev/null || cd /; exec %(exe)s \\"\\$@\\"" "$PWD" "$@"\n'
        "' sh %(root)s \"$@\"\n") % {"exe": executable, "root": root, "mounts": mounts}
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, 0o755)
    return path
