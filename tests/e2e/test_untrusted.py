# SPDX-License-Identifier: MIT
"""A target that lies: corrupted layouts and objects never make pytrace crash or print garbage.

The target rewrites its own memory with ctypes: the _Py_DebugOffsets at the
start of _PyRuntime (3.13+), one field at a time, and, on every version, the
code objects, strings, line tables and frame links a dump reads. After each
lie pytrace must refuse with exit 6 and one `pytrace:` line, or print the
stacks with `<unreadable 0x...>` frames: never a sanitizer report, a crash, a
hang, or a name the target does not have. The original value is written back
after each run, and the target must still answer.
"""

import json
import os
import re
import select
import subprocess
import sys

import pytest

import harness
from conftest import INSTALLED, SYSTEM_ID

# The target: blocks in a known stack, answers peek/poke/info on stdin.
TARGET = r'''
import ctypes, json, os, sys, threading

def peek(addr):
    return ctypes.c_uint64.from_address(addr).value

def poke(addr, value):
    ctypes.c_uint64.from_address(addr).value = value & 0xffffffffffffffff

def find_ptr(obj, value):
    """Offset of the aligned word holding value inside obj's own struct."""
    base = id(obj)
    for off in range(0, type(obj).__basicsize__ - 7, 8):
        if peek(base + off) == value:
            return off
    return -1

def reply(obj):
    # The write is the last thing done: a dump that stops the target just
    # after the answer finds it in reply or serve, never in json's code.
    data = (json.dumps(obj) + "\n").encode()
    os.write(1, data)

def runtime():
    if sys.version_info < (3, 13):
        return 0
    return ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))

def serve(frames):
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        cmd = line.split()
        if cmd[0] == "peek":
            reply(peek(int(cmd[1], 0)))
        elif cmd[0] == "poke":
            poke(int(cmd[1], 0), int(cmd[2], 0))
            reply("ok")
        elif cmd[0] == "info":
            code = victim_sprocket.__code__
            name = getattr(code, "co_qualname", code.co_name)
            table = getattr(code, "co_linetable", None)
            if table is None or sys.version_info < (3, 10):
                table = code.co_lnotab
            inner, outer = frames
            reply({
                "runtime": runtime(),
                "code": id(code),
                "name": id(name),
                "name_len": len(name),
                "file_off": find_ptr(code, id(code.co_filename)),
                "not_a_str": id(SOME_INT),
                "table": id(table),
                "table_len": len(table),
                "inner_frame": id(inner),
                "outer_frame": id(outer),
                # 3.11+ computes f_back: only older frames store it.
                "back_off": find_ptr(outer, id(outer.f_back)) if sys.version_info < (3, 11) else -1,
            })

SOME_INT = 1234567

def victim_sprocket(outer):
    x = 1
    for i in range(3):
        x += i
    serve((sys._getframe(), outer))
    return x

def middle_widget(outer):
    return victim_sprocket(outer)

def outer_gizmo():
    return middle_widget(sys._getframe())

lock = threading.Lock()
lock.acquire()

def worker_gadget():
    lock.acquire()

t = threading.Thread(target=worker_gadget)
t.daemon = True
t.start()
os.write(int(sys.argv[1]), b"ready\n")
outer_gizmo()
'''

FUNCS = {"victim_sprocket", "middle_widget", "outer_gizmo", "worker_gadget", "serve"}

SANITIZER = re.compile(r"AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|runtime error:")
NATIVE = re.compile(r"^(\S+`\S+\+0x[0-9a-f]+|\S+\+0x[0-9a-f]+|0x[0-9a-f]+)$")
UNREADABLE = re.compile(r"^(\[ )?<unreadable 0x[0-9a-f]+>( \])?$")
BRACKETED = re.compile(r"^\[ (.*):(\d+|\?) \((.*)\) \]$")
PLAIN = re.compile(r"^(.*) \((.*):(\d+|\?)\)$")
NOTE = re.compile(r"^\((no Python frames|Python stack incomplete: .*|native stack incomplete: .*|"
                  r"not merged: .*)\)$")


class Liar:
    """The target process, driven over its stdin/stdout."""

    def __init__(self, python, workdir):
        script = workdir / "liar.py"
        script.write_text(TARGET)
        ready_r, ready_w = os.pipe()
        self.proc = subprocess.Popen([python, str(script), str(ready_w)], pass_fds=(ready_w,),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=str(workdir))
        os.close(ready_w)
        ready, _, _ = select.select([ready_r], [], [], harness.READY_TIMEOUT)
        line = os.read(ready_r, 64) if ready else b""
        os.close(ready_r)
        if line != b"ready\n":
            self.stop()
            pytest.fail("target not ready: %r" % line)
        self.pid = self.proc.pid
        self.info = self.ask("info")

    def ask(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], harness.PING_TIMEOUT)
        assert ready, "target did not answer %r" % line
        out = self.proc.stdout.readline()
        assert out, "target died on %r: %s" % (line, self.proc.stderr.read().decode())
        return json.loads(out)

    def peek(self, addr):
        return self.ask("peek %d" % addr)

    def poke(self, addr, value):
        assert self.ask("poke %d %d" % (addr, value & 0xffffffffffffffff)) == "ok"

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def parse_frames(result):
    """(function, file) of every readable Python frame, and the unreadable count."""
    frames, unreadable = [], 0
    for raw in result.stdout.splitlines():
        line = raw.strip()
        if not line or line.startswith("Process ") or line.startswith("Thread ") or NOTE.match(line):
            continue
        if UNREADABLE.match(line):
            unreadable += 1
            continue
        m = BRACKETED.match(line)
        if m:
            frames.append((m.group(3), m.group(1)))
            continue
        if NATIVE.match(line):
            continue
        m = PLAIN.match(line)
        assert m, "unrecognised output line %r\n%s" % (raw, result.describe())
        frames.append((m.group(1), m.group(2)))
    return frames, unreadable


def check_run(liar, options, truth, what):
    """One dump of a lying target: a refusal or true stacks, and a live target."""
    result = harness.run_pytrace(["dump"] + options + [liar.pid], timeout=120)
    assert not SANITIZER.search(result.stderr), "%s: sanitizer report\n%s" % (what, result.describe())
    assert result.returncode in (harness.EXIT_OK, harness.EXIT_UNSUPPORTED), \
        "%s: exit %d\n%s" % (what, result.returncode, result.describe())
    outcome = "refused"
    if result.returncode == harness.EXIT_UNSUPPORTED:
        harness.expect_error_line(result)
        assert result.stdout == "", "%s: output before a refusal\n%s" % (what, result.describe())
    else:
        assert result.stderr == "", "%s: stderr on success\n%s" % (what, result.describe())
        frames, unreadable = parse_frames(result)
        funcs, files = truth
        for func, file in frames:
            assert func in funcs and file in files, \
                "%s: a frame the target does not have: %s (%s)\n%s" % (what, func, file, result.describe())
        outcome = "unreadable" if unreadable else "read"
    assert liar.proc.poll() is None, "%s: the target died" % what
    return outcome, result


def baseline(liar):
    """The names a clean dump prints: the target's real functions and files."""
    result = harness.run_pytrace(["dump", liar.pid])
    harness.expect_exit(result, harness.EXIT_OK)
    frames, unreadable = parse_frames(result)
    assert unreadable == 0, result.describe()
    funcs = {f for f, _ in frames}
    assert {"victim_sprocket", "middle_widget", "outer_gizmo", "worker_gadget", "serve"} <= funcs, \
        result.describe()
    # The target may still be returning from its last answer when a dump
    # stops it: its other functions are its own names too.
    return funcs | set(re.findall(r"^def (\w+)", TARGET, re.M)), {f for _, f in frames}


@pytest.fixture
def liar(python_id, tmp_path):
    t = Liar(INSTALLED[python_id][0], tmp_path)
    yield t
    t.stop()


# _Py_DebugOffsets as 3.13.0 declares it (Include/internal/pycore_runtime.h):
# every member after the cookie is a uint64_t, in this order.
DEBUG_OFFSETS_313 = (
    ["version", "free_threaded"]
    + ["runtime_state." + f for f in ("size", "finalizing", "interpreters_head")]
    + ["interpreter_state." + f for f in (
        "size", "id", "next", "threads_head", "gc", "imports_modules", "sysdict", "builtins",
        "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled",
        "gil_runtime_state_locked", "gil_runtime_state_holder")]
    + ["thread_state." + f for f in (
        "size", "prev", "next", "interp", "current_frame", "thread_id", "native_thread_id",
        "datastack_chunk", "status")]
    + ["interpreter_frame." + f for f in (
        "size", "previous", "executable", "instr_ptr", "localsplus", "owner")]
    + ["code_object." + f for f in (
        "size", "filename", "name", "qualname", "linetable", "firstlineno", "argcount",
        "localsplusnames", "localspluskinds", "co_code_adaptive")]
    + ["pyobject." + f for f in ("size", "ob_type")]
    + ["type_object." + f for f in ("size", "tp_name", "tp_repr", "tp_flags")]
    + ["tuple_object." + f for f in ("size", "ob_item", "ob_size")]
    + ["list_object." + f for f in ("size", "ob_item", "ob_size")]
    + ["dict_object." + f for f in ("size", "ma_keys", "ma_values")]
    + ["float_object." + f for f in ("size", "ob_fval")]
    + ["long_object." + f for f in ("size", "lv_tag", "ob_digit")]
    + ["bytes_object." + f for f in ("size", "ob_size", "ob_sval")]
    + ["unicode_object." + f for f in ("size", "state", "length", "asciiobject_size")]
    + ["gc." + f for f in ("size", "collecting")])
DEBUG_OFFSET = {name: 8 + 8 * i for i, name in enumerate(DEBUG_OFFSETS_313)}

# The fields pytrace reads (src/python/detect.c), with the struct each
# offset lies in (None: the field is a size or a flag).
USED = {
    "version": None, "free_threaded": None,
    "runtime_state.size": None, "runtime_state.interpreters_head": "runtime_state",
    "interpreter_state.size": None, "interpreter_state.next": "interpreter_state",
    "interpreter_state.threads_head": "interpreter_state",
    "interpreter_state.ceval_gil": "interpreter_state",
    "interpreter_state.gil_runtime_state": "interpreter_state",
    "interpreter_state.gil_runtime_state_locked": "interpreter_state",
    "interpreter_state.gil_runtime_state_holder": "interpreter_state",
    "thread_state.size": None, "thread_state.next": "thread_state",
    "thread_state.interp": "thread_state", "thread_state.current_frame": "thread_state",
    "thread_state.thread_id": "thread_state", "thread_state.native_thread_id": "thread_state",
    "interpreter_frame.size": None, "interpreter_frame.previous": "interpreter_frame",
    "interpreter_frame.executable": "interpreter_frame",
    "interpreter_frame.instr_ptr": "interpreter_frame", "interpreter_frame.owner": "interpreter_frame",
    "code_object.size": None, "code_object.filename": "code_object", "code_object.name": "code_object",
    "code_object.qualname": "code_object", "code_object.linetable": "code_object",
    "code_object.firstlineno": "code_object", "code_object.co_code_adaptive": "code_object",
    "pyobject.ob_type": "pyobject",
    "bytes_object.ob_size": "bytes_object", "bytes_object.ob_sval": "bytes_object",
    "unicode_object.state": "unicode_object", "unicode_object.length": "unicode_object",
    "unicode_object.asciiobject_size": None,
}


def lies(liar, rt, field):
    """(label, value) pairs for one field: huge, odd, negative, just outside
    its struct, and pointing at another field the reader uses."""
    orig = liar.peek(rt + DEBUG_OFFSET[field])
    struct = USED[field]
    out = [("huge", 1 << 40), ("odd", orig + 1), ("negative", -8)]
    if struct:
        size = liar.peek(rt + DEBUG_OFFSET[struct + ".size"])
        out.append(("outside", size))
        out.append(("straddling", size - 4))
        others = [f for f, s in USED.items() if s == struct and f != field]
        if others:
            out.append(("another field", liar.peek(rt + DEBUG_OFFSET[others[0]])))
    else:
        out.append(("tiny", 8))
        out.append(("zero", 0))
    return orig, out


DEBUG_IDS = ["3.13"] + [SYSTEM_ID] * (SYSTEM_ID in INSTALLED and INSTALLED[SYSTEM_ID][1] >= (3, 13))


@pytest.mark.parametrize("python_id", DEBUG_IDS, indirect=True)
def test_lying_debug_offsets(liar):
    """Each _Py_DebugOffsets field the reader uses, corrupted five ways."""
    rt = liar.info["runtime"]
    if not rt or liar.peek(rt) != int.from_bytes(b"xdebugpy", "little"):
        pytest.skip("no _Py_DebugOffsets in this target")
    truth = baseline(liar)
    outcomes = {}
    # The cookie too: anything but "xdebugpy" is refused.
    liar.poke(rt, int.from_bytes(b"xdebugpz", "little"))
    try:
        outcome, _ = check_run(liar, [], truth, "cookie")
        assert outcome == "refused"
    finally:
        liar.poke(rt, int.from_bytes(b"xdebugpy", "little"))
    for field in USED:
        orig, values = lies(liar, rt, field)
        for label, value in values:
            if value & 0xffffffffffffffff == orig:
                continue
            liar.poke(rt + DEBUG_OFFSET[field], value)
            try:
                for options in ([], ["--native"]):
                    what = "%s = %#x (%s) %s" % (field, value & 0xffffffffffffffff, label, " ".join(options))
                    outcome, result = check_run(liar, options, truth, what)
                    outcomes[what] = outcome
                    if label in ("huge", "negative") or (field == "free_threaded" and value):
                        assert outcome == "refused", "%s: not refused\n%s" % (what, result.describe())
                    if outcome == "refused" and label in ("huge", "negative", "outside", "straddling"):
                        line = result.stderr.strip()
                        assert field in line or field.split(".")[0] in line or \
                            field in ("version", "free_threaded"), \
                            "%s: the refusal does not name the field: %s" % (what, line)
            finally:
                liar.poke(rt + DEBUG_OFFSET[field], orig)
        assert liar.peek(rt + DEBUG_OFFSET[field]) == orig
    # Restored: the same target reads cleanly again.
    assert baseline(liar) == truth
    refused = sum(1 for o in outcomes.values() if o == "refused")
    print("%d runs: %d refused, %d with unreadable frames, %d read" % (
        len(outcomes), refused, sum(1 for o in outcomes.values() if o == "unreadable"),
        sum(1 for o in outcomes.values() if o == "read")))
    assert refused >= len(USED) * 2, outcomes


# Objects every version reads: (what, address key, offset, values).
def object_lies(info, python_id):
    name_len, table_len = info["name_len"], info["table_len"]
    out = [
        ("name length huge", info["name"] + 16, [1 << 40, 1 << 62]),
        ("name length negative", info["name"] + 16, [-1]),
        ("name length a little long", info["name"] + 16, [name_len + 3, name_len + 64]),
        ("line table length huge", info["table"] + 16, [1 << 40]),
        ("line table length negative", info["table"] + 16, [-5]),
        ("line table length a little long", info["table"] + 16, [table_len + 5]),
    ]
    if info["file_off"] >= 0:
        out.append(("co_filename not a str", info["code"] + info["file_off"],
                    [info["not_a_str"], 0, 8, 1 << 46]))
    if info["back_off"] >= 0:
        # The outer frame's f_back leads back to the innermost frame: a loop.
        out.append(("frame chain loops", info["outer_frame"] + info["back_off"],
                    [info["inner_frame"], info["outer_frame"]]))
    return out


@pytest.mark.parametrize("python_id", ["2.7", "3.9", "3.10", "3.12", "3.13"], indirect=True)
def test_lying_objects(liar, python_id):
    """Code object fields, string and line-table lengths, frame loops."""
    truth = baseline(liar)
    tried = 0
    for what, addr, values in object_lies(liar.info, python_id):
        orig = liar.peek(addr)
        for value in values:
            liar.poke(addr, value)
            try:
                for options in ([], ["--native"]):
                    label = "%s: %#x %s" % (what, value & 0xffffffffffffffff, " ".join(options))
                    outcome, result = check_run(liar, options, truth, label)
                    tried += 1
                    assert outcome != "refused", "%s: a bad object refused the whole dump\n%s" % (
                        label, result.describe())
                    frames, _ = parse_frames(result)
                    if what.startswith("frame chain"):
                        # Finite, and the loop is said.
                        assert len(frames) < 64, result.describe()
                        assert "frame chain loops" in result.stdout, result.describe()
                    elif "length" in what and "name" in what:
                        # The victim's name is never printed with a wrong length.
                        assert not any(f.startswith("victim_sprocket") and f != "victim_sprocket"
                                       for f, _ in frames), result.describe()
            finally:
                liar.poke(addr, orig)
    assert baseline(liar) == truth
    print("%s: %d runs" % (python_id, tried))
    assert tried >= 20
