# SPDX-License-Identifier: MIT
"""`pytrace dump --tasks` against tests/targets/async_tasks.py under every
installed CPython.

The target parks 22 tasks in known states (running, sleeping behind nested
coroutines, awaiting another task, a future, an Event, gathered children,
finished, cancelled) and writes asyncio.all_tasks() with each task's await
chain as it sees it (cr_await, frame lines); pytrace's tasks, states,
chains, awaited futures and who-waits-for-whom must equal it (3.7-3.15,
debug and free-threaded builds). 2.7 and 3.6: exit 6 with one line.
"""

import json
import os
import re
import subprocess

import pytest

import harness
from conftest import INSTALLED
from harness import EXIT_OK, expect_error_line, expect_exit, run_pytrace

TARGETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "targets")
EXIT_VERSION = 6
READ = ((3, 7), (3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13), (3, 14), (3, 15))   # the minors --tasks reads


class AsyncTarget:
    """One run of async_tasks.py (or leaf.py where asyncio is too old),
    shared by the tests of a module for one interpreter."""

    def __init__(self, python_id, workdir):
        self.path, self.version = INSTALLED[python_id]
        self.truth_path = os.path.join(str(workdir), "truth.json")
        script = "async_tasks.py" if self.version >= (3, 7) else "leaf.py"
        self.proc = subprocess.Popen([self.path, os.path.join(TARGETS, script), self.truth_path],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        harness.poll_until(lambda: os.path.exists(self.truth_path) and self.blocked(), 60,
                           "%s to park its tasks" % script)
        with open(self.truth_path) as f:
            self.truth = json.load(f)

    def blocked(self):
        if self.proc.poll() is not None:
            pytest.fail("the target exited with %s" % self.proc.returncode)
        return harness.task_state(self.proc.pid) == "S"

    def dump(self, *options):
        result = run_pytrace(["dump"] + list(options) + [str(self.proc.pid)])
        assert self.proc.poll() is None, "target died after the dump\n" + result.describe()
        harness.poll_until(self.blocked, 10, "the target to block in read() again")
        return result

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def atarget(python_id, tmp_path_factory):
    t = AsyncTarget(python_id, tmp_path_factory.mktemp("tasks-" + python_id))
    yield t
    t.stop()


def _readable(t):
    return tuple(t.version[:2]) in READ


def _expected(t):
    """The tasks pytrace must find: asyncio.all_tasks(), and up to 3.13 the
    done tasks the target holds, which stay in asyncio's registries until
    collected (3.14+ unlinks a task from its thread's list when it is done,
    so nothing reachable names it any more)."""
    return dict((w["address"], w) for w in t.truth["tasks"]
                if w["in_all_tasks"] or tuple(t.version[:2]) < (3, 14))


def only(it):
    items = list(it)
    assert len(items) == 1, items
    return items[0]


def _type_matches(got, want):
    """tp_name is "mod.Name" for C types made from a spec and "Name" for
    classes: the target knows only __module__ and __name__."""
    if want is None:
        return got is None
    return got in (want["name"], want["module"] + "." + want["name"])


def test_tasks_json(atarget):
    """Every task (asyncio.all_tasks() and the done ones still held), with
    its name, state, await chain (function, file, line of each suspended
    coroutine, innermost first), what the innermost awaits, and the tasks
    its future is or gathers."""
    if not _readable(atarget):
        pytest.skip("--tasks does not read CPython %d.%d (test_tasks_refused)" % atarget.version[:2])
    result = atarget.dump("--tasks", "--json")
    expect_exit(result, EXIT_OK)
    got = [json.loads(line) for line in result.stdout.splitlines()]
    want = _expected(atarget)
    assert len(want) == (22 if atarget.version < (3, 14) else 20)
    assert sorted(int(g["task"], 16) for g in got) == sorted(want), result.describe()
    problems = []
    for g in got:
        w = want[int(g["task"], 16)]
        if g["name"] != w["name"]:  # None on 3.7: tasks have no names
            problems.append("%s: name %r, expected %r" % (g["task"], g["name"], w["name"]))
        if g["state"] != w["state"]:
            problems.append("%s: state %r, expected %r" % (g["name"], g["state"], w["state"]))
        frames = [(f.get("function"), f.get("file"), f.get("line")) for f in g["coroutines"]]
        wframes = [(f["function"], f["file"], f["line"]) for f in w["frames"]]
        if frames != wframes:
            problems.append("%s: chain %r\n    expected %r" % (g["name"], frames, wframes))
        if not _type_matches(g["awaits"], w["awaits"]):
            problems.append("%s: awaits %r, expected %r" % (g["name"], g["awaits"], w["awaits"]))
        if not _type_matches(g["waiter"], w["waiter"]):
            problems.append("%s: waiter %r, expected %r" % (g["name"], g["waiter"], w["waiter"]))
        waits = [int(a, 16) for a in g["waits_for"]]
        if waits != w["waits_for"]:
            problems.append("%s: waits for %r, expected %r" % (g["name"], waits, w["waits_for"]))
    if problems:
        pytest.fail("\n".join(problems) + "\n\n" + result.describe(3000), pytrace=False)
    # The states the target set up are all there.
    assert set(g["state"] for g in got) == set(w["state"] for w in want.values())
    assert len(got[0]["loop"]) > 2 and len(set(g["loop"] for g in got)) == 1


def test_tasks_text(atarget):
    """Text: a header with the count, one block per loop, every task once
    with its state, gathered and awaited tasks indented under their waiter
    with "->", and each chain frame as `function (file:line)`."""
    if not _readable(atarget):
        pytest.skip("--tasks does not read CPython %d.%d (test_tasks_refused)" % atarget.version[:2])
    result = atarget.dump("--tasks")
    expect_exit(result, EXIT_OK)
    lines = result.stdout.splitlines()
    truth = atarget.truth
    want = _expected(atarget)
    assert re.match(r"Process %d: Python %d\.%d\.%d, %d asyncio tasks$" % (
        (truth["pid"],) + tuple(truth["version"]) + (len(want),)), lines[0]), result.describe()
    assert lines[1] == "" and re.match(r"Event loop 0x[0-9a-f]+: %d tasks$" % len(want), lines[2]), \
        result.describe()
    seen = {}
    current = None
    for line in lines[3:]:
        m = re.match(r'^( *)(-> )?task (0x[0-9a-f]+|"(?:[^"\\\x00-\x1f]|\\.)+") '
                     r'\(([a-z]+)(?:, waits for ([^;)]+))?\)$', line)
        if m and m.group(3).startswith("0x"):  # 3.7: no names
            current = int(m.group(3), 16)
            assert want[current]["name"] is None, line
        elif m:
            # Names are escaped as strace does: \t \n \" \\ (and \xNN).
            current = re.sub(r'\\(x[0-9a-f]{2}|.)', lambda e: {"t": "\t", "n": "\n"}.get(
                e.group(1), chr(int(e.group(1)[1:], 16)) if e.group(1)[0] == "x" and
                len(e.group(1)) == 3 else e.group(1)), m.group(3)[1:-1])
            current = only(a for a, w in want.items() if w["name"] == current)
        if m:
            assert current not in seen, "task %s printed twice\n%s" % (current, result.stdout)
            seen[current] = {"nested": bool(m.group(2)), "state": m.group(4), "frames": []}
            continue
        m = re.match(r"^ +(\S+) \((.*):(\d+)\)$", line)
        if m:
            seen[current]["frames"].append((m.group(1), m.group(2), int(m.group(3))))
            continue
        assert re.match(r"^ +awaiting \S+$", line), "unexpected line %r\n%s" % (line, result.stdout)
    assert sorted(seen) == sorted(want), result.describe()
    awaited = set(a for t in want.values() for a in t["waits_for"])
    for name, s in seen.items():
        w = want[name]
        assert s["state"] == w["state"], (name, s, w)
        assert s["nested"] == (name in awaited), (name, result.stdout)
        assert s["frames"] == [(f["function"], f["file"], f["line"]) for f in w["frames"]], (
            name, s["frames"], w["frames"])


def test_tasks_refused(atarget):
    """Interpreters --tasks does not read: exit 6, one line naming the
    version and why; the target runs on."""
    if _readable(atarget):
        pytest.skip("--tasks reads CPython %d.%d (test_tasks_json)" % atarget.version[:2])
    result = atarget.dump("--tasks")
    expect_exit(result, EXIT_VERSION)
    line = expect_error_line(result)
    assert "--tasks: Python %d.%d." % atarget.version[:2] in line and "not supported" in line, line
