# SPDX-License-Identifier: MIT
"""Finds every CPython on the machine and runs one stacks.py target per interpreter."""

import atexit
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

SUPPORTED = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
SYSTEM_PYTHON = "/usr/bin/python3"

_PROBE = ("import platform, sys; "
          "print(platform.python_implementation()); "
          "print('%d.%d.%d' % tuple(sys.version_info[:3]))")


def _pyenv_root():
    exe = shutil.which("pyenv")
    if exe:
        try:
            root = subprocess.run([exe, "root"], capture_output=True, text=True,
                                  timeout=20).stdout.strip()
            if root:
                return root
        except (OSError, subprocess.SubprocessError):
            pass
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def _probe_all(paths):
    """path -> (major, minor, micro) for every path that is a working CPython."""
    procs = {}
    for path in paths:
        try:
            procs[path] = subprocess.Popen([path, "-c", _PROBE], stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        except OSError:
            pass
    found = {}
    for path, proc in procs.items():
        try:
            out = proc.communicate(timeout=30)[0].decode().split()
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            continue
        if proc.returncode == 0 and len(out) == 2 and out[0] == "CPython":
            found[path] = tuple(int(x) for x in out[1].split("."))
    return found


def discover():
    """id -> (python path, version tuple). Ids: 'X.Y' for pyenv, 'system-X.Y'."""
    pyenv = sorted(glob.glob(os.path.join(_pyenv_root(), "versions", "*", "bin", "python")))
    probed = _probe_all(pyenv + ([SYSTEM_PYTHON] if os.path.exists(SYSTEM_PYTHON) else []))
    found = {}
    for path in pyenv:
        if path not in probed:
            continue
        version = probed[path]
        key = "%d.%d" % version[:2]
        if key not in found or found[key][1] < version:
            found[key] = (path, version)
    if SYSTEM_PYTHON in probed:
        version = probed[SYSTEM_PYTHON]
        found["system-%d.%d" % version[:2]] = (SYSTEM_PYTHON, version)
    return found


# Interpreters tools/install-pythons puts in a cache outside the clone (Debian
# sid's in a chroot, self-built free-threaded/GIL/tail-call ones): ids as
# `tools/install-pythons --list` prints them, entries from its inventory.json.
PYTHONS_CACHE = os.environ.get("PYTRACE_PYTHONS", "/var/cache/pytrace/pythons")
INSTALL_PYTHONS = "tools/install-pythons"


def _inventory_ids():
    try:
        out = subprocess.run(["bash", str(harness.REPO / INSTALL_PYTHONS), "--list"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return out.split()


def flavour_name(entry):
    """'3.14t', '3.13d', '3.14 tail-call': the build as the skip reason names it."""
    name = ".".join(entry["version"].split(".")[:2]) + entry["abiflags"]
    return name + (" tail-call" if entry["tail_call"] else "")


FREE_THREADED = set()   # ids of free-threaded builds
SUPPORTED_FREE_THREADED = ["3.13"]   # 3.14t+: no build of them here (issue 9)
# Builds that dump and stacks read but flow does not (id -> build name;
# test_flow.py skips them, saying so): none today. A minor listed here puts
# its inventory builds in it.
FLOW_NOT_YET_MINORS = []
FLOW_NOT_YET = {}


def discover_inventory():
    """(id -> (path, version) of the supported interpreters that run,
    id -> skip reason of the ones pytrace does not read yet). A chrooted
    interpreter's path is a wrapper script (harness.write_chroot_wrapper)."""
    try:
        with open(os.path.join(PYTHONS_CACHE, "inventory.json")) as f:
            entries = json.load(f)["interpreters"]
    except (OSError, ValueError, KeyError):
        return {}, {}
    unsupported, paths, wrappers = {}, {}, None
    for e in entries:
        minor = ".".join(e["version"].split(".")[:2])
        # A debug build of a supported minor has a table of its own (3.13d+,
        # generated from its own headers) beside its _Py_DebugOffsets.
        if e["free_threaded"]:
            FREE_THREADED.add(e["id"])
        if minor in FLOW_NOT_YET_MINORS:
            FLOW_NOT_YET[e["id"]] = flavour_name(e)
        if minor not in SUPPORTED or (e["free_threaded"] and minor not in SUPPORTED_FREE_THREADED):
            unsupported[e["id"]] = "pytrace does not read CPython %s yet (issue 9)" % (
                flavour_name(e))
            continue
        if not os.path.exists(e["host_executable"]):
            continue
        if e["root"] == "/":
            paths[e["id"]] = e["executable"]
            continue
        if wrappers is None:
            wrappers = tempfile.mkdtemp(prefix="pytrace-chroot-")
            atexit.register(shutil.rmtree, wrappers, True)
        paths[e["id"]] = harness.write_chroot_wrapper(
            os.path.join(wrappers, e["id"]), e["root"], e["executable"])
    probed = _probe_all(list(paths.values()))
    found = dict((i, (p, probed[p])) for i, p in paths.items() if p in probed)
    CHROOTED.update(e["id"] for e in entries if e["root"] != "/" and e["id"] in found)
    return found, unsupported


# Ids whose path is a chroot wrapper, and the tests that need the interpreter
# itself on the host (they copy or rebuild it), with why they skip those ids.
CHROOTED = set()
HOST_ONLY_TESTS = {
    "test_private_mount_namespace": "copies the interpreter's files into a namespace of its own; "
                                    "a chrooted interpreter already runs in one",
    "test_embedded_libpython": "builds a program against the interpreter's libpython with the "
                               "host's compiler",
}


INSTALLED = discover()
SYSTEM_ID = next((k for k in INSTALLED if k.startswith("system-")), "system")
INVENTORY_IDS = _inventory_ids()
_found, UNSUPPORTED = discover_inventory()
INSTALLED.update(_found)
PYTHON_IDS = SUPPORTED + INVENTORY_IDS + [SYSTEM_ID]

# PYTRACE_TEST_PYTHONS=ID,ID...: this pass runs on those interpreters only,
# and reports the others as skipped, saying so (make asan-check: the
# sanitizer pass looks for pytrace's own memory errors, and a set of
# interpreters that takes every reader path finds them as well as all do).
ONLY = [i for i in os.environ.get("PYTRACE_TEST_PYTHONS", "").split(",") if i]
if ONLY:
    for _id in list(INSTALLED):
        if _id not in ONLY and not (_id == SYSTEM_ID and "system" in ONLY):
            del INSTALLED[_id]
            UNSUPPORTED[_id] = "CPython %s is not in this pass's interpreters " \
                               "(PYTRACE_TEST_PYTHONS=%s)" % (_id, ",".join(ONLY))


def skip_reason(python_id):
    if python_id in UNSUPPORTED:
        return UNSUPPORTED[python_id]
    if python_id in INVENTORY_IDS:
        return "CPython %s not installed (run %s as root)" % (python_id, INSTALL_PYTHONS)
    if python_id.startswith("system"):
        return "system CPython %s not installed" % SYSTEM_PYTHON
    return "CPython %s not installed" % python_id


class TargetPool:
    """One stacks.py target per interpreter, at most one running at a time.

    Every target has a thread spinning with the GIL; keeping one alive at a
    time leaves the CPU to pytrace (a target starts in a fraction of a second,
    so running them side by side saves little and makes them fight over two
    cores). Tests are grouped by interpreter (module-scoped python_id), so
    each target normally starts once.
    """

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.targets = {}
        self.live = None

    def get(self, python_id):
        if self.live is not None and self.live != python_id:
            self.targets[self.live].stop()
            self.live = None
        target = self.targets.get(python_id)
        if target is None:
            path, _ = INSTALLED[python_id]
            workdir = self.tmp_path_factory.mktemp("target-" + python_id)
            target = self.targets[python_id] = harness.Target(python_id, path, workdir)
        if not target.alive():
            if target.proc is not None:
                # Stopped for another interpreter, or killed by an earlier
                # test (which failed for it): start a fresh one.
                target.stop()
                target.restarts += 1
            target.start()
        self.live = python_id
        target.wait_ready()
        return target

    def close(self):
        for target in self.targets.values():
            target.stop()


@pytest.fixture(scope="session")
def pytrace():
    path = harness.pytrace_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("pytrace binary not found at %s (build it with `make`, or set PYTRACE)"
                    % path, pytrace=False)
    return path


@pytest.fixture(scope="session")
def target_pool(tmp_path_factory, pytrace):
    pool = TargetPool(tmp_path_factory)
    yield pool
    pool.close()


@pytest.fixture(scope="module", params=PYTHON_IDS)
def python_id(request):
    if request.param not in INSTALLED:
        pytest.skip(skip_reason(request.param))
    return request.param


@pytest.fixture
def target(python_id, target_pool):
    return target_pool.get(python_id)


@pytest.fixture
def system_target(target_pool):
    if SYSTEM_ID not in INSTALLED:
        pytest.skip(skip_reason(SYSTEM_ID))
    return target_pool.get(SYSTEM_ID)


def pytest_runtest_setup(item):
    callspec = getattr(item, "callspec", None)
    python_id = callspec.params.get("python_id") if callspec else None
    why = HOST_ONLY_TESTS.get(item.originalname)
    if python_id in CHROOTED and why:
        pytest.skip("%s runs in a chroot: the test %s" % (python_id, why))
    if python_id in FLOW_NOT_YET and item.module.__name__ == "test_flow":
        pytest.skip("flow does not run on CPython %s yet (issue 9: dump and stacks do)" %
                    FLOW_NOT_YET[python_id])
