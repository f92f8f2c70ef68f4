# SPDX-License-Identifier: MIT
"""`pytrace dump` beyond the plain interpreter: programs that embed
libpython, CPython versions pytrace must refuse, and memory that cannot be
read in the middle of a walk."""

import json
import os
import shlex
import shutil
import struct
import subprocess
import tempfile

import pytest

import harness
from conftest import INSTALLED, PYTHON_IDS, skip_reason
from harness import (EXIT_OK, EXIT_UNSUPPORTED, compare_frames, expect_error_line, expect_exit,
                     parse_json_lines, python_threads, run_pytrace, thread_label)
from test_dump import _check_merged

TARGETS = harness.REPO / "tests" / "targets"


def _python(python_id):
    if python_id not in INSTALLED:
        pytest.skip(skip_reason(python_id))
    return INSTALLED[python_id]


def _config_for(python):
    """The pythonX.Y-config next to an interpreter (resolving symlinks)."""
    real = os.path.realpath(python)
    base = os.path.basename(real)
    for name in (base + "-config", base.rstrip("m") + "-config", "python3-config", "python2-config"):
        cand = os.path.join(os.path.dirname(real), name)
        if os.path.exists(cand):
            return cand
    return None


def _build_embed(python, version, workdir):
    config = _config_for(python)
    if not config or not shutil.which("gcc"):
        pytest.skip("no %s-config or gcc to build an embedding program" % python)
    def ask(*args):
        return subprocess.run([config] + list(args), capture_output=True, text=True).stdout.split()
    cflags = ask("--includes")
    ldflags = ask("--ldflags", "--embed") if version >= (3, 8) else ask("--ldflags")
    if version < (3, 8) or not ldflags:
        ldflags = ask("--ldflags")
    prefix = ask("--prefix")[0]
    exe = os.path.join(str(workdir), "embed")
    cmd = ["gcc", "-g", "-O1", "-o", exe, str(TARGETS / "embed.c")] + cflags + ldflags + [
        "-Wl,-rpath," + os.path.join(prefix, "lib")]
    if version[0] == 2:
        cmd += ["-lpython%d.%d" % version[:2]]
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, "building the embedding program failed:\n%s\n%s" % (
        " ".join(cmd), built.stderr)
    return exe


def test_debuglink_names_stripped_functions(tmp_path):
    """A stripped executable whose symbols live in a separate debug file
    (.gnu_debuglink): --native names its static function from that file, and
    without the file prints module+0xoffset, never a wrong name."""
    python_id = next((p for p in reversed(PYTHON_IDS) if p in INSTALLED), None)
    if python_id is None:
        pytest.skip("no CPython installed")
    python, version = INSTALLED[python_id]
    if not shutil.which("objcopy"):
        pytest.skip("objcopy (binutils) not installed")
    exe = _build_embed(python, version, tmp_path)
    debug = exe + ".debug"
    for cmd in (["objcopy", "--only-keep-debug", exe, debug],
                ["objcopy", "--strip-all", "--add-gnu-debuglink=" + debug, exe]):
        subprocess.run(cmd, check=True)
    nm = subprocess.run(["nm", exe], capture_output=True, text=True)
    assert "embed_run_script" not in nm.stdout, "the executable was not stripped"
    for with_debug in (True, False):
        if not with_debug:
            os.unlink(debug)
        target = harness.Target(python_id, exe, tmp_path / ("run-%d" % with_debug))
        target.start()
        try:
            target.wait_ready()
            result = target.dump("--native", "--json")
            expect_exit(result, EXIT_OK)
            main = [t for t in parse_json_lines(result) if t["tid"] == target.pid][0]
            mine = [f for f in main["frames"] if f["kind"] == "native" and f["module"] == "embed"]
            assert mine, result.describe(3000)
            names = [f["symbol"] for f in mine]
            if with_debug:
                assert "embed_run_script" in names and "main" in names, names
            else:
                assert all(n in (None, "_start") for n in names), names
        finally:
            target.stop()


@pytest.mark.parametrize("python_id", PYTHON_IDS)
def test_embedded_libpython(python_id, tmp_path):
    """An executable that is not python but links libpython: found through the
    mappings, every frame exact."""
    python, version = _python(python_id)
    exe = _build_embed(python, version, tmp_path)
    # Target runs [interpreter, stacks.py, ...]: the embedding program instead.
    target = harness.Target(python_id, exe, tmp_path / "run")
    target.start()
    try:
        truth = target.wait_ready()
        result = target.dump("--json")
        expect_exit(result, EXIT_OK)
        threads = harness.by_tid(parse_json_lines(result), result)
        want = python_threads(truth)
        problems = []
        for tid, entry in sorted(want.items()):
            if tid not in threads:
                problems.append("%s: missing" % thread_label(tid, entry))
                continue
            diff = compare_frames(entry, [harness.frame_tuple(f) for f in threads[tid]["frames"]])
            if diff:
                problems.append("%s: %s" % (thread_label(tid, entry), diff))
        assert not problems, "\n".join(problems) + "\n" + result.describe(3000)
        assert os.path.basename(os.readlink("/proc/%d/exe" % target.pid)) == "embed"
    finally:
        target.stop()


def _patched_libpython(tmp_path, patch):
    """A copy of pyenv's libpython3.13 with patch(bytes, elf) applied, run by
    python3.13 through LD_LIBRARY_PATH (its RUNPATH yields to it)."""
    python, version = _python("3.13")
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(python))), "lib",
                       "libpython3.13.so.1.0")
    if not os.path.exists(lib):
        pytest.skip("libpython3.13.so.1.0 not found next to %s" % python)
    data = bytearray(open(lib, "rb").read())
    patch(data, lib)
    libdir = tmp_path / "lib"
    libdir.mkdir()
    (libdir / "libpython3.13.so.1.0").write_bytes(bytes(data))
    env = dict(os.environ, LD_LIBRARY_PATH=str(libdir))
    proc = subprocess.Popen([python, "-c", "import sys; sys.stdout.write('ready\\n'); "
                             "sys.stdout.flush(); sys.stdin.read()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline() == b"ready\n"
    maps = open("/proc/%d/maps" % proc.pid).read()
    assert str(libdir) in maps, "the patched libpython was not loaded"
    return proc


def _symbol_file_offset(lib, name):
    """File offset of a defined dynamic symbol (value -> PT_LOAD -> offset)."""
    out = subprocess.run(["readelf", "-W", "--dyn-syms", "-l", lib], capture_output=True,
                         text=True).stdout
    value = None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[-1] == name and parts[6] != "UND":
            value = int(parts[1], 16)
    assert value is not None, "%s not in %s" % (name, lib)
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD":
            off, vaddr, filesz = int(parts[1], 16), int(parts[2], 16), int(parts[4], 16)
            if vaddr <= value < vaddr + filesz:
                return off + value - vaddr
    raise AssertionError("no PT_LOAD holds %s" % name)


def test_newer_python_refused(tmp_path):
    """A CPython minor newer than every table (here 3.13 relabelled 3.16 via
    Py_Version) is refused with exit 6 and one line naming its version."""
    def patch(data, lib):
        off = _symbol_file_offset(lib, "Py_Version")
        assert struct.unpack_from("<I", data, off)[0] >> 16 == 0x030d
        struct.pack_into("<I", data, off, 0x031000f0)
    proc = _patched_libpython(tmp_path, patch)
    try:
        result = run_pytrace(["dump", str(proc.pid)])
        expect_exit(result, EXIT_UNSUPPORTED)
        expect_error_line(result)
        assert "Python 3.16 is newer" in result.stderr, result.describe()
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_version_disagreeing_with_debug_offsets_refused(tmp_path):
    """3.13 relabelled 3.14 via Py_Version: a 3.14 table exists, but the
    target's own _Py_DebugOffsets says 3.13, so nothing is read."""
    def patch(data, lib):
        off = _symbol_file_offset(lib, "Py_Version")
        struct.pack_into("<I", data, off, 0x030e00f0)
    proc = _patched_libpython(tmp_path, patch)
    try:
        result = run_pytrace(["dump", str(proc.pid)])
        expect_exit(result, EXIT_UNSUPPORTED)
        expect_error_line(result)
        assert "_Py_DebugOffsets says version 3.13" in result.stderr, result.describe()
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


INVENTORY = os.path.join(os.environ.get("PYTRACE_PYTHONS", "/var/cache/pytrace/pythons"),
                         "inventory.json")


def _newest_chroot_release():
    """The newest release GIL interpreter tools/install-pythons put in a
    chroot with its runtime in the executable (Debian's): its inventory entry."""
    try:
        with open(INVENTORY) as f:
            found = [i for i in json.load(f)["interpreters"]
                     if not i["debug"] and not i["free_threaded"] and not i["tail_call"] and
                     i["root"] != "/" and not i.get("libpython") and
                     os.path.exists(i["host_executable"])]
    except (OSError, ValueError, KeyError):
        found = []
    if not found:
        pytest.skip("no chroot interpreter installed (tools/install-pythons installs them)")
    return max(found, key=lambda i: i["hexversion"])


# Blocks in leaf() after writing its own stack, outermost first.
_BLOCKED = ("import json, sys, traceback\n"
            "def leaf():\n"
            "    sys.stdout.write(json.dumps([(f.name, f.lineno) for f in traceback.extract_stack()]) + '\\n'); sys.stdout.flush(); sys.stdin.read()\n"
            "def middle():\n"
            "    leaf()\n"
            "middle()\n")


def _patched_in_root(interp, patch):
    """A copy of a chroot interpreter's executable, patched, started in its
    root: (process, its stack as traceback saw it, cleanup)."""
    root, exe = interp["root"], interp["executable"]
    if interp.get("libpython"):
        pytest.skip("%s keeps its runtime in a shared libpython" % interp["id"])
    work = tempfile.mkdtemp(prefix="pytrace-test-", dir=os.path.join(root, "tmp"))
    try:
        data = bytearray(open(interp["host_executable"], "rb").read())
        patch(data, interp["host_executable"])
        copy = os.path.join(work, os.path.basename(exe))
        with open(copy, "wb") as f:
            f.write(bytes(data))
        os.chmod(copy, 0o755)
        with open(os.path.join(work, "blocked.py"), "w") as f:
            f.write(_BLOCKED)
        inner = "/" + os.path.relpath(work, root)
        proc = subprocess.Popen(["chroot", root, inner + "/" + os.path.basename(exe),
                                 inner + "/blocked.py"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    line = proc.stdout.readline()
    def cleanup():
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    if not line:
        cleanup()
        pytest.fail("the patched %s did not start" % interp["id"])
    return proc, json.loads(line), inner + "/blocked.py", cleanup


def _set_version(data, exe, hexversion, expect_minor):
    """Py_Version and _Py_DebugOffsets.version (at _PyRuntime + 8) both."""
    off = _symbol_file_offset(exe, "Py_Version")
    assert struct.unpack_from("<I", data, off)[0] >> 16 == 0x0300 | expect_minor
    struct.pack_into("<I", data, off, hexversion)
    off = _symbol_file_offset(exe, "_PyRuntime")
    assert bytes(data[off:off + 8]) == b"xdebugpy"
    assert struct.unpack_from("<Q", data, off + 8)[0] >> 16 == 0x0300 | expect_minor
    struct.pack_into("<Q", data, off + 8, hexversion)


def test_next_minor_refused():
    """The newest installed minor (Debian's 3.15) relabelled as the next one
    in Py_Version and its _Py_DebugOffsets: no table knows that layout, so
    one line names the version, exit 6, for plain, --native and --json."""
    interp = _newest_chroot_release()
    minor = interp["hexversion"] >> 16 & 0xff
    proc, _, _, cleanup = _patched_in_root(
        interp, lambda data, exe: _set_version(data, exe, 0x030000f0 | (minor + 1) << 16, minor))
    try:
        for options in ([], ["--native"], ["--json"]):
            result = run_pytrace(["dump"] + options + [str(proc.pid)])
            expect_exit(result, EXIT_UNSUPPORTED)
            expect_error_line(result)
            assert "Python 3.%d is newer" % (minor + 1) in result.stderr, result.describe()
            assert result.stdout == "", result.describe()
        assert proc.poll() is None
    finally:
        cleanup()


def test_next_patch_release_read_exactly():
    """The newest installed minor relabelled X.Y.99: the same minor's table
    and the target's _Py_DebugOffsets read it, frames exact (plain and
    --native), version from the target."""
    interp = _newest_chroot_release()
    minor = interp["hexversion"] >> 16 & 0xff
    proc, stack, script, cleanup = _patched_in_root(
        interp, lambda data, exe: _set_version(data, exe, 0x030063f0 | minor << 16, minor))
    try:
        want = [(name, script, line) for name, line in reversed(stack)]
        result = run_pytrace(["dump", "--json", str(proc.pid)])
        expect_exit(result, EXIT_OK)
        threads = parse_json_lines(result)
        assert len(threads) == 1, result.describe()
        got = [(f["function"], f["file"], f["line"]) for f in threads[0]["frames"]]
        assert got == want, result.describe()
        result = run_pytrace(["dump", "--native", "--json", str(proc.pid)])
        expect_exit(result, EXIT_OK)
        thread = parse_json_lines(result)[0]
        assert thread["merged"] is True, result.describe()
        got = [(f["function"], f["file"], f["line"]) for f in thread["frames"]
               if f["kind"] == "python"]
        assert got == want, result.describe()
        text = run_pytrace(["dump", str(proc.pid)])
        expect_exit(text, EXIT_OK)
        assert "Python 3.%d.99 " % minor in text.stdout.splitlines()[0], text.describe()
        assert proc.poll() is None
    finally:
        cleanup()


def test_runtime_found_by_its_section():
    """With _PyRuntime's name gone from the dynamic symbols (a build that
    hides it), the runtime is found by its .PyRuntime section: the newest
    chroot interpreter still reads exactly."""
    interp = _newest_chroot_release()

    def patch(data, exe):
        at = data.find(b"\0_PyRuntime\0")
        assert at > 0 and data.find(b"\0_PyRuntime\0", at + 1) < 0
        data[at + 1:at + 11] = b"_PyRuntimX"
    proc, stack, script, cleanup = _patched_in_root(interp, patch)
    try:
        copy = os.path.join(interp["root"], os.path.dirname(script).lstrip("/"),
                            os.path.basename(interp["executable"]))
        nm = subprocess.run(["nm", "-D", "--defined-only", copy], capture_output=True,
                            text=True).stdout.split()
        assert "_PyRuntime" not in nm and "_PyRuntimX" in nm
        result = run_pytrace(["dump", "--json", str(proc.pid)])
        expect_exit(result, EXIT_OK)
        got = [(f["function"], f["file"], f["line"]) for f in parse_json_lines(result)[0]["frames"]]
        assert got == [(name, script, line) for name, line in reversed(stack)], result.describe()
    finally:
        cleanup()


@pytest.mark.parametrize("python_id", PYTHON_IDS)
def test_unreadable_code_object(python_id, tmp_path):
    """Memory that cannot be read mid-walk (forced with PYTRACE_FAULT_ADDR at
    leaf()'s code object): that frame prints as <unreadable 0x...>, the walk
    goes on, and every other frame is exact."""
    python, version = _python(python_id)
    truth_path = tmp_path / "truth.json"
    proc = subprocess.Popen([python, str(TARGETS / "leaf.py"), str(truth_path)],
                            stdin=subprocess.PIPE)
    try:
        harness.poll_until(lambda: truth_path.exists() and truth_path.stat().st_size > 0 and
                           harness.task_state(proc.pid) == "S", 30, "leaf.py to block")
        truth = json.loads(truth_path.read_text())
        result = run_pytrace(["dump", "--json", str(proc.pid)], prefix=["env",
                             "PYTRACE_FAULT_ADDR=%s" % hex(truth["code"])])
        expect_exit(result, EXIT_OK)
        threads = parse_json_lines(result)
        assert len(threads) == 1, result.describe()
        frames = threads[0]["frames"]
        assert frames[0].get("unreadable") is True and frames[0]["address"] > 0, result.describe()
        want = truth["frames"][1:]
        got = [(f.get("function"), f.get("file"), f.get("line")) for f in frames[1:]]
        assert got == [(f["function"], f["file"], f["line"]) for f in want], result.describe()
        text = run_pytrace(["dump", str(proc.pid)], prefix=["env",
                           "PYTRACE_FAULT_ADDR=%s" % hex(truth["code"])])
        assert "  <unreadable 0x%x>" % frames[0]["address"] in text.stdout, text.describe()
        # Resumed, it goes back to sleep in read(): never left stopped.
        harness.poll_until(lambda: harness.task_state(proc.pid) == "S", 10,
                           "the target to block in read() again")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_zombie_is_an_exited_process(tmp_path):
    """A process that has exited but is not yet reaped: exit 7, one line."""
    python = next((INSTALLED[p][0] for p in PYTHON_IDS if p in INSTALLED), None)
    if python is None:
        pytest.skip("no CPython installed")
    proc = subprocess.Popen([python, "-c", "pass"])
    try:
        harness.poll_until(lambda: harness.task_state(proc.pid) == "Z", 30,
                           "the child to become a zombie")
        result = run_pytrace(["dump", str(proc.pid)])
        expect_exit(result, harness.EXIT_EXITED)
        expect_error_line(result)
    finally:
        proc.wait()


def test_already_traced_process(tmp_path):
    """A target already under another tracer (strace): exit 4, and the line
    names the tracer; the target is left as it was."""
    if not shutil.which("strace"):
        pytest.skip("strace not installed")
    python = next((INSTALLED[p][0] for p in PYTHON_IDS if p in INSTALLED), None)
    if python is None:
        pytest.skip("no CPython installed")
    proc = subprocess.Popen(["strace", "-qq", "-o", "/dev/null", python, "-c",
                             "import sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); "
                             "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        child = harness.children(proc.pid)[0]
        result = run_pytrace(["dump", str(child)])
        expect_exit(result, harness.EXIT_PERMISSION)
        line = expect_error_line(result)
        assert "strace" in line and str(proc.pid) in line, result.describe()
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _namespace_wrapper(python, workdir):
    """A script that runs `python` from a tmpfs mounted in a private mount
    namespace, with its libpython (if shared) copied there too: the target
    maps its code by paths under which the rest of the system sees an empty
    directory, as with a container's files. Returns (script, that directory)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a private mount namespace needs root and unshare (util-linux)")
    real = os.path.realpath(python)
    prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True,
                            text=True, check=True).stdout.strip()
    ldd = subprocess.run(["ldd", real], capture_output=True, text=True).stdout
    libs = [line.split("=>")[1].split()[0] for line in ldd.splitlines()
            if "libpython" in line and "=>" in line]
    inner = workdir / "namespace-only"
    inner.mkdir()
    q = shlex.quote
    inner_cmd = ("mount -t tmpfs pytrace-test {d} && cp {files} {d}/ && "
                 "LD_LIBRARY_PATH={d} PYTHONHOME={home} exec {d}/{exe} \"$@\"").format(
                     d=q(str(inner)), files=" ".join(q(f) for f in [real] + libs),
                     home=q(prefix), exe=q(os.path.basename(real)))
    script = workdir / "python-in-namespace"
    script.write_text("#!/bin/sh\nexec unshare --mount --propagation private /bin/sh -c %s sh \"$@\"\n"
                      % q(inner_cmd))
    script.chmod(0o755)
    return str(script), str(inner)


@pytest.mark.parametrize("python_id", PYTHON_IDS)
def test_private_mount_namespace(python_id, tmp_path):
    """A target whose executable and libpython exist only in its own mount
    namespace (a container's situation): the Python stacks are exact, and
    --native opens the files through /proc/PID/root, so its eval frames are
    named and merged."""
    python, version = _python(python_id)
    script, inner = _namespace_wrapper(python, tmp_path)
    target = harness.Target(python_id, script, tmp_path / "run")
    target.start()
    try:
        truth = target.wait_ready()
        with open("/proc/%d/maps" % target.pid) as f:
            mapped = sorted(set(line.split()[-1] for line in f
                                if line.split()[-1].startswith(inner + "/")))
        assert mapped, "the target maps nothing from %s" % inner
        assert not any(os.path.exists(m) for m in mapped), \
            "the namespace's files are visible outside it: the test would prove nothing"
        modules = set(os.path.basename(m) for m in mapped)
        want = python_threads(truth)
        for native in (False, True):
            result = target.dump(*(["--native", "--json"] if native else ["--json"]))
            expect_exit(result, EXIT_OK)
            threads = harness.by_tid(parse_json_lines(result), result)
            problems = []
            for tid, entry in sorted(want.items()):
                label = thread_label(tid, entry)
                got = threads.get(tid)
                if got is None:
                    problems.append("%s: missing" % label)
                    continue
                if not native:
                    diff = compare_frames(entry, [harness.frame_tuple(f) for f in got["frames"]])
                    if diff:
                        problems.append("%s: %s" % (label, diff))
                    continue
                evals = [f for f in got["frames"] if f.get("kind") == "native" and f.get("eval")]
                if not evals or any(f.get("module") not in modules for f in evals):
                    problems.append("%s: eval frames %s, expected named ones in %s" % (
                        label, [(f.get("module"), f.get("symbol")) for f in evals], sorted(modules)))
                if got.get("merged") is True:
                    problems += _check_merged(label, entry, got["frames"], version)
                elif entry["block"] != "spin":
                    problems.append("%s: not merged (%s; native: %s)" % (
                        label, got.get("merge_error"), got.get("native_error")))
            assert not problems, "\n".join(problems) + "\n" + result.describe(3000)
    finally:
        target.stop()


@pytest.mark.parametrize("python_id", PYTHON_IDS)
def test_pid_namespace(python_id, tmp_path):
    """A target in a PID namespace of its own (a container's): CPython
    records the namespace's thread ids, not ours, yet every thread's stack
    is found and exact, with and without --native."""
    python, version = _python(python_id)
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a PID namespace needs root and unshare (util-linux)")
    target = harness.Target(python_id, python, tmp_path / "run",
                            prefix=["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"])
    target.start()
    try:
        truth = target.wait_ready()
        ns = harness.nspid(target.pid)
        assert len(ns) > 1 and ns[-1] == 1, "not PID 1 of a new namespace: %s" % ns
        want = python_threads(truth)
        for options in (["--json"], ["--native", "--json"]):
            result = target.dump(*options)
            expect_exit(result, EXIT_OK)
            threads = harness.by_tid(parse_json_lines(result), result)
            problems = []
            for tid, entry in sorted(want.items()):
                label = thread_label(tid, entry)
                got = threads.get(tid)
                if got is None or not got["python"]:
                    problems.append("%s: %s" % (label, "missing" if got is None
                                                else "no Python thread state found"))
                    continue
                if "--native" not in options:
                    frames = got["frames"]
                elif got.get("merged") is True:
                    frames = [f for f in got["frames"] if f.get("kind") == "python"]
                else:
                    frames = got.get("python_frames", [])
                    if entry["block"] != "spin":
                        problems.append("%s: not merged (%s)" % (label, got.get("merge_error")))
                diff = compare_frames(entry, [harness.frame_tuple(f) for f in frames])
                if diff:
                    problems.append("%s %s: %s" % (label, " ".join(options), diff))
            assert not problems, "\n".join(problems) + "\n" + result.describe(3000)
    finally:
        target.stop()
