# SPDX-License-Identifier: MIT
"""Interpreter files that no path names any more: deleted or replaced under a
running target (a package upgrade, a removed virtualenv), or mapped from a
private mount namespace and a chroot so that neither the host nor
/proc/PID/root shows them. dump, dump --native, stacks -p and flow -p must
read them exactly (issue 10, items 3 and 4)."""

import glob
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import time

import pytest

import conftest
import harness
from conftest import FLOW_NOT_YET, INSTALLED, PYTHON_IDS, PYTHONS_CACHE, skip_reason
from harness import EXIT_OK, expect_exit, parse_json_lines

q = shlex.quote

# CI's budget: each case's dumps run under every interpreter (the files
# differ per build); what goes through the same code whatever the version
# (the deleted-only state, stacks -p, flow -p, the hidden case, --native and
# the tracers' text for odd names) under a few interpreters that cover each
# kind of build: static and shared libpython, 2.7, 3.11's and 3.13's frame
# models, a chrooted Debian build, free-threaded.
FEW_IDS = ["2.7", "3.11", "3.13", "sid-3.14", "ft-3.13", conftest.SYSTEM_ID]


def _interpreter(python_id):
    """(chroot root or None, host path of the executable, host paths of its
    libpython if shared, sys.prefix as the target sees it)."""
    if python_id not in INSTALLED:
        pytest.skip(skip_reason(python_id))
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root (map_files, mounts) and unshare (util-linux)")
    python = INSTALLED[python_id][0]
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(python)))
    if python_id in conftest.CHROOTED:
        with open(os.path.join(PYTHONS_CACHE, "inventory.json")) as f:
            e = next(e for e in json.load(f)["interpreters"] if e["id"] == python_id)
        root = e["root"]
        prefix = "/usr"
        exe = os.path.join(root, os.path.realpath(e["host_executable"])[len(root):].lstrip("/"))
        exe = os.path.realpath(exe)
        libs = []
        if e.get("libpython"):
            lib = e["libpython"]
            libs = [lib if lib.startswith(root) else os.path.join(root, lib.lstrip("/"))]
        return root, exe, libs, prefix
    real = os.path.realpath(python)
    ldd = subprocess.run(["ldd", real], capture_output=True, text=True).stdout
    libs = [os.path.realpath(line.split("=>")[1].split()[0]) for line in ldd.splitlines()
            if "libpython" in line and "=>" in line]
    return None, real, libs, prefix


def _run_line(exe_dir, exe, libs, prefix):
    return "LD_LIBRARY_PATH=%s PYTHONHOME=%s exec %s/%s" % (
        q(exe_dir), q(prefix), q(exe_dir), q(os.path.basename(exe)))


def _copy_wrapper(python_id, workdir):
    """A script running a copy of the interpreter (and its libpython) from
    workdir/copy: the copies can then be deleted or replaced under it."""
    root, exe, libs, prefix = _interpreter(python_id)
    d = workdir / "copy"
    d.mkdir()
    copies = []
    for f in [exe] + libs:
        shutil.copy2(f, d / os.path.basename(f))
        copies.append(str(d / os.path.basename(f)))
    script = workdir / "python-copy"
    if root is None:
        script.write_text("#!/bin/sh\n%s \"$@\"\n" % _run_line(str(d), exe, libs, prefix))
        script.chmod(0o755)
    else:   # /tmp (so workdir) is bound into the chroot at the same path
        harness.write_chroot_wrapper(str(script), root, "env LD_LIBRARY_PATH=%s PYTHONHOME=%s %s" % (
            d, prefix, copies[0]))
    return str(script), copies


def _hidden_wrapper(python_id, workdir):
    """A script running the interpreter chrooted in a private mount
    namespace, from a tmpfs mounted there at a path under the new root: the
    kernel names its files by a path (root + directory) that exists neither
    on the host (the mounts are private) nor under /proc/PID/root (the root
    directory is empty inside itself)."""
    root, exe, libs, prefix = _interpreter(python_id)
    hidden = workdir / "hidden"
    hidden.mkdir()
    if root is None:
        root = str(workdir / "root")
        os.mkdir(root)
        mounts = "mount --rbind / %s" % q(root)
    else:
        mounts = " && ".join("mkdir -p %s && mount --bind %s %s" % (q(root + b), q(b), q(root + b))
                             for b in harness.CHROOT_BINDS)
        mounts += " && mount -t proc proc %s" % q(root + "/proc")
    inner = root + str(hidden)
    run = _run_line(str(hidden), exe, libs, prefix)
    body = ("%s && mount -t tmpfs pytrace-hidden %s && cp %s %s/ && "
            "exec chroot %s /bin/sh -c %s \"$PWD\" \"$@\"") % (
                mounts, q(inner), " ".join(q(f) for f in [exe] + libs), q(inner), q(root),
                q('cd "$0" && ' + run + ' "$@"'))
    script = workdir / "python-hidden"
    script.write_text("#!/bin/sh\nexec unshare --mount --propagation private /bin/sh -c %s sh \"$@\"\n"
                      % q(body))
    script.chmod(0o755)
    return str(script), inner


def _mapped(pid, directory):
    """path -> deleted? of the files the target maps from directory (a path
    that may appear under the chroot's root in the kernel's names)."""
    out = {}
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.rstrip("\n").split(None, 5)
            if len(parts) == 6 and parts[5].rsplit("/", 1)[0].endswith(directory):
                p = parts[5]
                out[p[:-len(" (deleted)")] if p.endswith(" (deleted)") else p] = \
                    p.endswith(" (deleted)")
    return out


BLOCKED = str(harness.REPO / "tests" / "targets" / "blocked.py")
WEIRD_ANSWER = u"answer\t\x02\u0085"   # answer()'s name in blocked.py's weird mode


class Blocked:
    """One run of tests/targets/blocked.py under a wrapper script."""

    def __init__(self, script, workdir, *args):
        workdir.mkdir(parents=True, exist_ok=True)
        self.truth_path = workdir / "truth.json"
        ready_r, ready_w = os.pipe()
        self.proc = subprocess.Popen([script, BLOCKED, str(self.truth_path), str(ready_w)] +
                                     list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, pass_fds=(ready_w,), cwd=str(workdir))
        os.close(ready_w)
        try:
            r, _, _ = select.select([ready_r], [], [], harness.READY_TIMEOUT)
            line = os.read(ready_r, 64) if r else b""
        finally:
            os.close(ready_r)
        if line != b"ready\n":
            self.stop()
            pytest.fail("blocked.py not ready (%r): %s" % (line, self.proc.stderr.read()[-3000:]))
        self.truth = json.loads(self.truth_path.read_text(encoding="utf-8"))
        self.pid = self.truth["pid"]
        assert self.pid == self.proc.pid
        self.frames = [(f["function"], f["file"], f["line"]) for f in self.truth["frames"]]
        self.wait_blocked()

    def ping(self):
        self.proc.stdin.write(b"p")
        self.proc.stdin.flush()
        r, _, _ = select.select([self.proc.stdout], [], [], harness.PING_TIMEOUT)
        assert r and os.read(self.proc.stdout.fileno(), 1) == b"p", "no answer to a ping"
        self.wait_blocked()

    def wait_blocked(self):
        """Until the target is back in read(0, ...) in leaf()."""
        harness.poll_until(lambda: (harness.task_syscall(self.pid, self.pid) or "").startswith(
            "0 0x0 "), 10, "the target to block in read(0) again")

    def dump(self, *options):
        result = harness.run_pytrace(["dump"] + list(options) + [self.pid])
        self.assert_running(result)
        return result

    def assert_running(self, why):
        assert self.proc.poll() is None, "the target died: %s" % why
        self.wait_blocked()
        with open("/proc/%d/status" % self.pid) as f:
            assert "TracerPid:\t0\n" in f.read(), "still traced: %s" % why
        self.ping()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


def _check_dumps(target, modules):
    """dump and dump --native: the frames exact, eval frames named after the
    mapped files and merged."""
    result = target.dump("--json")
    expect_exit(result, EXIT_OK)
    threads = parse_json_lines(result)
    assert len(threads) == 1, result.describe()
    got = [harness.frame_tuple(f) for f in threads[0]["frames"]]
    assert got == target.frames, result.describe()

    result = target.dump("--native", "--json")
    expect_exit(result, EXIT_OK)
    t = parse_json_lines(result)[0]
    evals = [f for f in t["frames"] if f.get("kind") == "native" and f.get("eval")]
    named = [(f.get("module") or "").replace(" (deleted)", "") for f in evals]
    assert evals and all(m in modules for m in named), \
        "eval frames in %s, expected named ones in %s\n%s" % (named, sorted(modules),
                                                              result.describe(3000))
    assert t.get("merged") is True, result.describe(3000)
    got = [harness.frame_tuple(f) for f in t["frames"] if f.get("kind") == "python"]
    assert got == target.frames, result.describe(3000)


def _read_stderr_line(proc, pattern, timeout=30):
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n") or pattern.encode() not in line:
        if line.endswith(b"\n"):
            line = b""
        r, _, _ = select.select([proc.stderr], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(proc.stderr.fileno(), 1) if r else b""
        if not chunk:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail("pytrace did not print %r (exit %s): %r %r" % (
                pattern, proc.returncode, line + err, out[-2000:]))
        line += chunk
    return line.decode(errors="replace")


def _traced(target, args, ready, pings=1, json_lines=True):
    """Runs pytrace ARGS -p PID until it says ready, pings, interrupts it:
    its JSON lines (or its text lines) and its output."""
    tracer = subprocess.Popen([harness.pytrace_path()] + args + ["-p", str(target.pid)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _read_stderr_line(tracer, ready % target.pid)
        for _ in range(pings):
            target.ping()
        tracer.send_signal(signal.SIGINT)
        out, err = tracer.communicate(timeout=60)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    assert tracer.returncode == EXIT_OK, err.decode(errors="replace")
    target.assert_running(" ".join(args))
    lines = out.decode().splitlines()
    return [json.loads(l) for l in lines if l.strip()] if json_lines else lines, out.decode()


def _check_stacks_and_flow(python_id, target, flow=True):
    """stacks -p: the answer's write(1) carries the exact Python stack;
    flow -p: the call of answer() is seen."""
    events, out = _traced(target, ["stacks", "--json", "-e", "write"], "attached to process %d")
    # One write: a "call" line, or "unfinished" then "resumed" when another
    # line came between its entry and exit (the stack is on the first).
    writes = [e for e in events if e["syscall"] == "write" and e["args"][0] == 1 and
              e.get("event") != "resumed"]
    assert len(writes) == 1, out[-3000:]
    got = [(f.get("function"), f.get("file")) for f in writes[0]["frames"] if f["kind"] == "python"]
    want = [("answer", BLOCKED)] + [(f, p) for f, p, _ in target.frames]
    assert got == want, "stacks -p: %s, expected %s" % (got, want)
    if python_id in FLOW_NOT_YET or not flow:
        return
    events, out = _traced(target, ["flow", "--json"], "tracing process %d")
    calls = [e for e in events if e.get("function") == "answer" and e.get("event") == "call"]
    assert len(calls) == 1 and calls[0]["file"] == BLOCKED, out[-3000:]


def _replacement(exclude):
    """A different ELF file for each of exclude's names: another
    interpreter's executable and libpython, so that reading the path instead
    of the mapped file would find a runtime, at other addresses."""
    pool = sorted(set(os.path.realpath(p) for p, _ in INSTALLED.values()
                      if os.path.isfile(os.path.realpath(p)) and not p.endswith(".sh")))
    pool = [p for p in pool if open(p, "rb").read(4) == b"\x7fELF"] + ["/bin/sh"]
    libs = sorted(set(os.path.realpath(l) for p in pool for l in glob.glob(
        os.path.join(os.path.dirname(os.path.dirname(p)), "lib", "libpython*.so*"))))
    out = {}
    for name in exclude:
        cands = libs if "libpython" in os.path.basename(name) else pool
        size = os.path.getsize(name)
        out[name] = next(c for c in cands + ["/bin/sh"] if os.path.getsize(c) != size)
    return out


@pytest.mark.parametrize("python_id", PYTHON_IDS)
def test_interpreter_deleted_then_replaced(python_id, tmp_path):
    """The target's executable and libpython are deleted under it, then other
    files (another interpreter's) put at their paths, as an upgrade does:
    every command reads the mapped files exactly."""
    script, copies = _copy_wrapper(python_id, tmp_path)
    others = _replacement(copies)
    target = Blocked(script, tmp_path / "run")
    try:
        d = os.path.dirname(copies[0])
        for f in copies:
            os.unlink(f)
        mapped = _mapped(target.pid, d)
        assert sorted(os.path.basename(m) for m in mapped) == \
            sorted(os.path.basename(c) for c in copies) and all(mapped.values()), mapped
        modules = set(os.path.basename(m) for m in mapped)
        if python_id in FEW_IDS:
            _check_dumps(target, modules)
        for f in copies:
            shutil.copy2(others[f], f)
        _check_dumps(target, modules)
        if python_id in FEW_IDS:
            _check_stacks_and_flow(python_id, target)
    finally:
        target.stop()


@pytest.mark.parametrize("python_id", FEW_IDS)
def test_hidden_by_chroot_and_mount_namespace(python_id, tmp_path):
    """A chrooted target in a private mount namespace whose interpreter files
    exist neither on the host nor under /proc/PID/root: every command reads
    them (through /proc/PID/map_files)."""
    script, inner = _hidden_wrapper(python_id, tmp_path)
    target = Blocked(script, tmp_path / "run")
    try:
        mapped = _mapped(target.pid, inner)
        assert mapped, "the target maps nothing from %s" % inner
        for m in mapped:
            assert not os.path.exists(m), "%s is visible on the host" % m
            assert not os.path.exists("/proc/%d/root%s" % (target.pid, m)), \
                "%s is visible under /proc/PID/root" % m
        modules = set(os.path.basename(m) for m in mapped)
        _check_dumps(target, modules)
        _check_stacks_and_flow(python_id, target)
    finally:
        target.stop()


def _escaped(s):
    """s as text output prints a name: strace's escapes (\\n \\t \\r \\v \\f,
    \\xNN for other control bytes, 0x7f and C1 controls, \\\\)."""
    short = {0x0a: "\\n", 0x09: "\\t", 0x0d: "\\r", 0x0b: "\\v", 0x0c: "\\f", 0x5c: "\\\\"}
    b = s.encode("utf-8")
    out, i = [], 0
    while i < len(b):
        c = b[i]
        if c in short:
            out.append(short[c])
        elif c < 0x20 or c == 0x7f:
            out.append("\\x%02x" % c)
        elif c == 0xc2 and i + 1 < len(b) and 0x80 <= b[i + 1] <= 0x9f:
            out.append("\\xc2\\x%02x" % b[i + 1])
            i += 1
        else:
            j = i + 1
            while j < len(b) and 0x80 <= b[j] < 0xc0:
                j += 1
            out.append(b[i:j].decode("utf-8"))
            i = j - 1
        i += 1
    return "".join(out)


@pytest.mark.parametrize("python_id", PYTHON_IDS)
def test_control_characters_in_names(python_id, tmp_path):
    """A function and a file whose names hold a newline, a tab, control
    characters, a backslash and a non-ASCII letter: text output escapes them
    (one line per frame, as strace would), JSON keeps them exact; in dump,
    dump --native, and (on a few interpreters) stacks -p and flow -p."""
    if python_id not in INSTALLED:
        pytest.skip(skip_reason(python_id))
    target = Blocked(INSTALLED[python_id][0], tmp_path / "run", "weird")
    try:
        func, file, line = target.frames[0]
        assert "\n" in func and "\n" in file, target.frames
        # A name longer than 4096 characters is cut there, marked with U+2026
        # and "truncated": true.
        cut = [(f[:4096] + u"\u2026" if len(f) > 4096 else f, p, l) for f, p, l in target.frames]
        assert [f for f, _, _ in cut] != [f for f, _, _ in target.frames], "no long name"
        result = target.dump("--json")
        expect_exit(result, EXIT_OK)
        frames = parse_json_lines(result)[0]["frames"]
        got = [harness.frame_tuple(f) for f in frames]
        assert got == cut, result.describe()
        assert [bool(f.get("truncated")) for f in frames] == \
            [len(f) > 4096 for f, _, _ in target.frames], result.describe()
        want = "  %s (%s:%d)" % (_escaped(func), _escaped(file), line)
        for options in ([], ["--native"]) if python_id in FEW_IDS else ([],):
            text = target.dump(*options)
            expect_exit(text, EXIT_OK)
            lines = text.stdout.splitlines()
            if options:
                want = "    [ %s:%d (%s) ]" % (_escaped(file), line, _escaped(func))
            assert want in lines, "%r not among the lines\n%s" % (want, text.describe())
            # Every frame on one line: nothing the target named split one.
            for f, p, l in cut[1:]:
                frame = ("  %s (%s:%d)" if not options else "    [ %s:%d (%s) ]") % (
                    (f, p, l) if not options else (p, l, f))
                assert frame in lines, "%r not among the lines\n%s" % (frame, text.describe())
        if python_id not in FEW_IDS:
            return
        tracer = subprocess.Popen([harness.pytrace_path(), "stacks", "-e", "write", "-p",
                                   str(target.pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _read_stderr_line(tracer, "attached to process %d" % target.pid)
            target.ping()
            tracer.send_signal(signal.SIGINT)
            out, err = tracer.communicate(timeout=60)
        finally:
            if tracer.poll() is None:
                tracer.kill()
                tracer.wait()
        assert tracer.returncode == EXIT_OK, err
        assert "  %s (%s:%d)" % (_escaped(func), _escaped(file), line + 3) in \
            out.decode().splitlines(), out.decode()
        target.assert_running("stacks -p")
        if python_id in FLOW_NOT_YET:
            return
        lines, out = _traced(target, ["flow"], "tracing process %d", json_lines=False)
        want = "-> %s (%s:" % (_escaped(WEIRD_ANSWER), BLOCKED)
        assert any(l.lstrip().startswith(want) for l in lines), "%r not in\n%s" % (want, out)
    finally:
        target.stop()
