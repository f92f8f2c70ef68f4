#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seed inputs for the fuzzers: a well-formed memory image per CPython layout.

Usage: tests/fuzz/gen_seeds.py OUTDIR
Writes OUTDIR/fuzz_decode/* (system calls whose pointers lead to paths,
buffers, sockaddrs, argv and timespecs), OUTDIR/fuzz_walk/* (runtime -> interpreter -> thread state -> frames
-> code object -> strings and line table, as fuzz_walk.c reads them; 3.13's
image starts with its _Py_DebugOffsets) and OUTDIR/fuzz_string/* (str
objects of every kind, and code objects). The layouts come from the
generated tables, src/python/offsets/pyXY.c, in the order fuzz.h lists them.
"""

import os
import re
import struct
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLES = ["27", "36", "37", "38", "39", "310", "311", "312", "313"]
BASE = 0x10000                 # FUZZ_BASE in fuzz.h
CODE_TYPE, STR_TYPE, BYTES_TYPE = 0x7f0000001000, 0x7f0000002000, 0x7f0000003000
NONE = -1

# _Py_DebugOffsets as 3.13.0 declares it (Include/internal/pycore_runtime.h):
# after the cookie, uint64_t members in this order.
DEBUG_313 = (
    ["version", "free_threaded", "runtime_state.size", "runtime_state.finalizing",
     "runtime_state.interpreters_head"]
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
    + ["pyobject.size", "pyobject.ob_type"]
    + ["type_object." + f for f in ("size", "tp_name", "tp_repr", "tp_flags")]
    + [s + "." + f for s in ("tuple_object", "list_object") for f in ("size", "ob_item", "ob_size")]
    + ["dict_object." + f for f in ("size", "ma_keys", "ma_values")]
    + ["float_object.size", "float_object.ob_fval"]
    + ["long_object." + f for f in ("size", "lv_tag", "ob_digit")]
    + ["bytes_object." + f for f in ("size", "ob_size", "ob_sval")]
    + ["unicode_object." + f for f in ("size", "state", "length", "asciiobject_size")]
    + ["gc.size", "gc.collecting"])
# Which table member each debug field carries (the others stay 0).
DEBUG_FROM = {
    "runtime_state.size": "runtime_size", "runtime_state.interpreters_head": "runtime_interpreters_head",
    "interpreter_state.size": "interp_size", "interpreter_state.next": "interp_next",
    "interpreter_state.threads_head": "interp_tstate_head", "interpreter_state.ceval_gil": "interp_ceval_gil",
    "thread_state.size": "tstate_size", "thread_state.next": "tstate_next",
    "thread_state.interp": "tstate_interp", "thread_state.current_frame": "tstate_current_frame",
    "thread_state.thread_id": "tstate_thread_id", "thread_state.native_thread_id": "tstate_native_thread_id",
    "interpreter_frame.size": "iframe_size", "interpreter_frame.previous": "iframe_previous",
    "interpreter_frame.executable": "iframe_code", "interpreter_frame.instr_ptr": "iframe_instr",
    "interpreter_frame.owner": "iframe_owner", "code_object.size": "code_size",
    "code_object.filename": "code_filename", "code_object.name": "code_name",
    "code_object.qualname": "code_qualname", "code_object.linetable": "code_linetable",
    "code_object.firstlineno": "code_firstlineno", "code_object.co_code_adaptive": "code_code_adaptive",
    "pyobject.ob_type": "object_type", "bytes_object.ob_size": "varobject_size",
    "bytes_object.ob_sval": "bytes_sval", "unicode_object.state": "unicode_state",
    "unicode_object.length": "unicode_length", "unicode_object.asciiobject_size": "unicode_ascii_size",
}


def table(name):
    text = open(os.path.join(REPO, "src", "python", "offsets", "py%s.c" % name)).read()
    out = {}
    for key, value in re.findall(r"\.(\w+) = ([^,]+),", text):
        value = value.strip()
        out[key] = NONE if value.endswith("PYV_NONE") else int(value, 0)
    return out


class Image:
    def __init__(self, size):
        self.b = bytearray(size)

    def q(self, addr, v):
        struct.pack_into("<Q", self.b, addr - BASE, v & 0xffffffffffffffff)

    def i(self, addr, v):
        struct.pack_into("<i", self.b, addr - BASE, v)

    def raw(self, addr, data):
        self.b[addr - BASE:addr - BASE + len(data)] = data


def put_str(img, o, addr, text, kind=1):
    """A str object at addr: 2.7 str, else compact (ASCII when kind 0)."""
    data = text.encode("latin-1" if kind <= 1 else "utf-16-le" if kind == 2 else "utf-32-le")
    img.q(addr + o["object_type"], STR_TYPE)
    if o["string_sval"] != NONE:
        img.q(addr + o["varobject_size"], len(text))
        img.raw(addr + o["string_sval"], text.encode() + b"\0")
        return
    ascii_ = kind == 0
    img.q(addr + o["unicode_length"], len(text))
    state = ((kind or 1) << o["unicode_kind_shift"]) | o["unicode_compact_bit"]
    if ascii_:
        state |= o["unicode_ascii_bit"]
    struct.pack_into("<I", img.b, addr + o["unicode_state"] - BASE, state)
    start = o["unicode_ascii_size"] if ascii_ else o["unicode_compact_size"]
    img.raw(addr + start, data + b"\0" * max(kind, 1))


def put_code(img, o, k, name, file, table_addr):
    img.q(k + o["object_type"], CODE_TYPE)
    img.q(k + (o["code_qualname"] if o["code_qualname"] != NONE else o["code_name"]), name)
    if o["code_qualname"] != NONE:
        img.q(k + o["code_name"], name)
    img.q(k + o["code_filename"], file)
    img.q(k + (o["code_lnotab"] if o["code_lnotab"] != NONE else o["code_linetable"]), table_addr)
    img.i(k + o["code_firstlineno"], 7)
    if o["code_firsttraceable"] != NONE:
        img.i(k + o["code_firsttraceable"], 0)


def put_bytes(img, o, b, data):
    img.q(b + o["object_type"], STR_TYPE if o["string_sval"] != NONE else BYTES_TYPE)
    img.q(b + o["varobject_size"], len(data))
    sval = o["string_sval"] if o["string_sval"] != NONE else o["bytes_sval"]
    img.raw(b + sval, data + b"\0")


def walk_seed(o):
    img = Image(0x7000)
    R = BASE
    I = BASE + 0x1000 - o["interp_next"]
    T, C, F1, F2 = BASE + 0x3000, BASE + 0x3800, BASE + 0x4000, BASE + 0x4400
    K, S1, S2, B = BASE + 0x5000, BASE + 0x6000, BASE + 0x6100, BASE + 0x6200
    if o["minor"] >= 13:
        img.raw(R, b"xdebugpy")
        fields = {n: 8 + 8 * i for i, n in enumerate(DEBUG_313)}
        img.q(R + fields["version"], 0x030d00f0)
        for dname, member in DEBUG_FROM.items():
            img.q(R + fields[dname], o[member])
        img.q(R + fields["interpreter_state.gil_runtime_state"], 0x2000)
        img.q(R + fields["interpreter_state.gil_runtime_state_locked"], 0x2000 + o["gil_locked"])
        img.q(R + fields["interpreter_state.gil_runtime_state_holder"], 0x2000 + o["gil_last_holder"])
    if o["runtime_size"] != NONE:
        img.q(R + o["runtime_interpreters_head"], I)
    else:
        img.q(R, I)
    img.q(I + o["interp_tstate_head"], T)
    img.q(T + o["tstate_thread_id"], 0x7f00deadbeef)
    img.q(T + o["tstate_interp"], I)
    if o["tstate_native_thread_id"] != NONE:
        img.q(T + o["tstate_native_thread_id"], 4242)
    if o["tstate_frame"] != NONE:
        img.q(T + o["tstate_frame"], F1)
        for f, back in ((F1, F2), (F2, 0)):
            img.q(f + o["frame_back"], back)
            img.q(f + o["frame_code"], K)
            img.i(f + o["frame_lasti"], 4)
    else:
        if o["tstate_current_frame"] != NONE:
            img.q(T + o["tstate_current_frame"], F1)
        else:
            img.q(T + o["tstate_cframe"], C)
            img.q(C + o["cframe_current_frame"], F1)
        for f, back in ((F1, F2), (F2, 0)):
            img.q(f + o["iframe_previous"], back)
            img.q(f + o["iframe_code"], K)
            img.q(f + o["iframe_instr"], K + o["code_code_adaptive"] + 6)
        if o["iframe_is_entry"] != NONE:
            img.b[F2 + o["iframe_is_entry"] - BASE] = 1
    put_code(img, o, K, S1, S2, B)
    put_str(img, o, S1, "spin", 0)
    put_str(img, o, S2, "/srv/app/loop.py", 0)
    put_bytes(img, o, B, bytes([0x80 | (13 << 3) | 1, 2, 0xd0, 0x02, 0x01]) if o["code_code_adaptive"] != NONE
              else b"\x02\x01\x04\x01\x02\xff")
    return bytes(img.b)


def string_seeds(o):
    out = []
    texts = [("spin", 0), ("caf\xe9", 1), ("\u03b1\u03b2", 2), ("\U0001f600x", 4)]
    for text, kind in texts if o["string_sval"] == NONE else [("spin", 1)]:
        img = Image(0x200)
        put_str(img, o, BASE, text, kind)
        out.append(bytes([0x01, 0x40]) + bytes(img.b))  # flags: stamp str type; cap 65
    img = Image(0x400)
    put_code(img, o, BASE, BASE + 0x200, BASE + 0x280, BASE + 0x300)
    put_str(img, o, BASE + 0x200, "spin", 0 if o["string_sval"] == NONE else 1)
    put_str(img, o, BASE + 0x280, "loop.py", 0 if o["string_sval"] == NONE else 1)
    put_bytes(img, o, BASE + 0x300, b"\x02\x01")
    out.append(bytes([0x03, 0xff]) + bytes(img.b))  # stamp code type; full cap
    return out


def decode_seeds():
    """fuzz_decode inputs: a syscall number, which arguments point into the
    image (bit i: argument i), the arguments, the return value, the image."""
    image = (b"/etc/passwd\0" + b"\0" * 4 + struct.pack("<hH4s8x", 2, 0x5000, bytes([127, 0, 0, 1]))
             + struct.pack("<QQ", 1, 500) + struct.pack("<QQQ", BASE, BASE + 4, 0) + b"hello world\0")
    # (number, mask, args): offsets in the image where an argument points.
    calls = [
        (257, 0b000010, [-100, 0, 0o2, 0o644, 0, 0]),   # openat(AT_FDCWD, path, ...)
        (0, 0b000010, [3, 60, 12, 0, 0, 0]),            # read(3, buf, 12)
        (1, 0b000010, [1, 60, 12, 0, 0, 0]),            # write(1, buf, 12)
        (42, 0b000010, [3, 16, 16, 0, 0, 0]),           # connect(3, sockaddr_in, 16)
        (59, 0b000111, [0, 48, 48, 0, 0, 0]),           # execve(path, argv, envp)
        (56, 0b000000, [0x3d0f00, 0, 0, 0, 0, 0]),      # clone(flags)
        (35, 0b000011, [32, 32, 0, 0, 0, 0]),           # nanosleep(ts, ts)
        (293, 0b000001, [0, 0o2000000, 0, 0, 0, 0]),    # pipe2(fds, O_CLOEXEC)
        (72, 0b000000, [3, 4, 0o4000, 0, 0, 0]),        # fcntl(3, F_SETFL, O_NONBLOCK)
        (230, 0b000100, [1, 1, 32, 0, 0, 0]),           # clock_nanosleep
    ]
    out = []
    for nr, mask, args in calls:
        head = struct.pack("<HB", nr + 8, mask | 0x80) + b"".join(struct.pack("<q", a) for a in args)
        out.append(head + struct.pack("<q", 12) + image)
    return out


def main():
    outdir = sys.argv[1]
    os.makedirs(os.path.join(outdir, "fuzz_decode"), exist_ok=True)
    for i, seed in enumerate(decode_seeds()):
        with open(os.path.join(outdir, "fuzz_decode", "call-%d" % i), "wb") as f:
            f.write(seed)
    for sub in ("fuzz_walk", "fuzz_string"):
        os.makedirs(os.path.join(outdir, sub), exist_ok=True)
    for sel, name in enumerate(TABLES):
        o = table(name)
        with open(os.path.join(outdir, "fuzz_walk", "py%s" % name), "wb") as f:
            f.write(bytes([sel]) + walk_seed(o))
        for i, seed in enumerate(string_seeds(o)):
            with open(os.path.join(outdir, "fuzz_string", "py%s-%d" % (name, i)), "wb") as f:
                f.write(bytes([sel]) + seed)


if __name__ == "__main__":
    main()
