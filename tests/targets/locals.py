# SPDX-License-Identifier: MIT
"""Target for `pytrace dump --locals`: frames holding known arguments and
locals of every rendered type, blocked in read(0).

usage: locals.py TRUTH_JSON READY_FD

Writes TRUTH_JSON: for each frame, innermost first, its function, file,
line and, for function frames, {name: [type, value, is_arg]} from
frame.f_locals, each value rendered by the rules pytrace documents
(src/python/values.c); then "ready\\n" to READY_FD. EOF on stdin ends it.
Runs on CPython 2.7 and 3.6+.
"""
import json
import os
import sys

PY2 = sys.version_info[0] == 2
CHARS = 64
try:
    BITS_PER_DIGIT = sys.int_info.bits_per_digit
except AttributeError:
    BITS_PER_DIGIT = sys.long_info.bits_per_digit
INT_BITS_MAX = 40 * BITS_PER_DIGIT
INTS = (int, long) if PY2 else (int,)  # noqa: F821 (long: 2.7)
CO_OPTIMIZED = 1


def _unit(c, as_bytes):
    special = {0x5c: "\\\\", 0x27: "\\'", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t"}
    if c in special:
        return special[c]
    if c < 0x20 or 0x7f <= c <= 0x9f or (as_bytes and c > 0x7e):
        return "\\x%02x" % c
    return unichr(c) if PY2 else chr(c)  # noqa: F821 (unichr: 2.7)


def render_text(s):
    body = "".join(_unit(ord(ch), False) for ch in s[:CHARS])
    return "'" + body + "'" + ("..." if len(s) > CHARS else "")


def render_bytes(b, prefix):
    units = bytearray(b[:CHARS])
    body = "".join(_unit(c, True) for c in units)
    return prefix + "'" + body + "'" + ("..." if len(b) > CHARS else "")


def render_float(v):
    """repr(), which pytrace's rule (the fewest digits that read back the
    same, positional for exponents -4..15) is written to match."""
    return repr(v)


def render(v):
    t = type(v)
    if v is None:
        return "None"
    if v is True or v is False:
        return str(v)
    if t in INTS:
        bits = abs(v).bit_length()
        return "<int of %d bits>" % bits if bits > INT_BITS_MAX else str(v)
    if t is float:
        return render_float(v)
    if PY2 and t is str:
        return render_bytes(v, "")
    if not PY2 and t is str:
        return render_text(v)
    if t is bytes:
        return render_bytes(v, "b")
    if t in (list, tuple, dict, set, frozenset):
        return "len=%d" % len(v)
    return "<%s at 0x%x>" % (t.__name__, id(v))


def frame_truth(f):
    code = f.f_code
    entry = {"function": getattr(code, "co_qualname", code.co_name), "file": code.co_filename,
             "line": f.f_lineno}
    if code.co_flags & CO_OPTIMIZED:
        nargs = code.co_argcount + getattr(code, "co_kwonlyargcount", 0) + \
            bool(code.co_flags & 4) + bool(code.co_flags & 8)
        args = set(code.co_varnames[:nargs])
        entry["locals"] = dict((name, [type(v).__name__, render(v), name in args])
                               for name, v in f.f_locals.items())
    return entry


class Thing(object):
    pass


def report(truth_path, ready_fd):
    frames = []
    f = sys._getframe(1)
    while f is not None:
        frames.append(frame_truth(f))
        f = f.f_back
    frames[0]["line"] += 1  # the os.read line
    with open(truth_path, "w") as out:
        json.dump({"pid": os.getpid(), "frames": frames}, out)
    os.write(ready_fd, b"ready\n")
    os.close(ready_fd)


if PY2:
    exec("""
def leaf(truth_path, ready_fd, num, ratio=2.5, *rest, **options):
    text = 'plain ascii'
    raw = b'\\x00ab\\'\\xff'
    longtext = 'x' * 100
    small, zero, negative = 7, 0, -42
    big = 2 ** 100
    huge = -(3 ** 2000)
    f1, f2, f3, f4, f5, f6, f7 = 0.1, 1e16, 1.5e-7, float('inf'), 100.0, -0.0, 1e15 / 3
    empty, one = [], [1]
    mapping = {'a': 1, 'b': 2}
    members = set([1, 2, 3])
    frozen = frozenset()
    nothing, yes, no = None, True, False
    thing = Thing()
    captured = u'cell'
    def closure():
        return captured
    report(truth_path, ready_fd)
    os.read(0, 1)
    late = 1
""")
else:
    exec("""
def leaf(truth_path, ready_fd, num, ratio=2.5, *rest, only=None, **options):
    text = 'h\\u00e9llo\\n\\t\\x01 \\u20ac\\U0001f600'
    raw = b'\\x00ab\\'\\xff'
    longtext = 'x' * 100
    small, zero, negative = 7, 0, -42
    big = 2 ** 100
    huge = -(3 ** 2000)
    f1, f2, f3, f4, f5, f6, f7 = 0.1, 1e16, 1.5e-7, float('inf'), 100.0, -0.0, 1e15 / 3
    empty, one = [], [1]
    mapping = {'a': 1, 'b': 2}
    members = {1, 2, 3}
    frozen = frozenset()
    nothing, yes, no = None, True, False
    thing = Thing()
    captured = 'cell'
    def closure():
        return captured
    report(truth_path, ready_fd)
    os.read(0, 1)
    late = 1
""")


def middle(truth_path, ready_fd):
    outer_value = 12.25

    def inner():
        # outer_value is a free variable here, a cell in middle
        return leaf(truth_path, ready_fd, 3, 0.5, "extra", key=outer_value)
    return inner()


middle(sys.argv[1], int(sys.argv[2]))
