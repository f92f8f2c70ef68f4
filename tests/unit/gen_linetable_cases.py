# SPDX-License-Identifier: MIT
# Prints line-table test cases with the running CPython's own answers, for
# tests/unit/test_linetable.c. Runs under 2.7 and 3.6+:
#
#   /root/.pyenv/versions/3.11.7/bin/python tests/unit/gen_linetable_cases.py \
#       > tests/unit/linetable-cases/py311.txt
#
# An interpreter in a chroot (tools/install-pythons' Debian root) runs a
# copy inside it: py314.txt and py315.txt came from
#   cp tests/unit/gen_linetable_cases.py ROOT/tmp/
#   chroot ROOT /usr/bin/python3.14 /tmp/gen_linetable_cases.py > ...
#
# Output, one record a line:
#   kind <lnotab_unsigned|lnotab_signed|linetable_310|locations_311>
#   code <co_name> <co_firstlineno> <table as hex, or - if empty>
#   <byte offset> <line, -1 for none>      (repeated, for the code above)
#
# Ground truth is CPython's own: for every offset inside the bytecode, the
# line from co_lines() (3.10+) or dis.findlinestarts() (<= 3.9) must agree
# with PyCode_Addr2Line() called through ctypes, or the script fails. For
# -1 and offsets past the end only PyCode_Addr2Line() answers.
from __future__ import print_function

import bisect
import ctypes
import dis
import os
import sys
import textwrap

V = sys.version_info[:2]


def kind_name():
	if V < (3, 0):
		return "lnotab_unsigned"
	if V < (3, 10):
		return "lnotab_signed"
	if V < (3, 11):
		return "linetable_310"
	return "locations_311"


def table_of(code):
	if V < (3, 10):
		return code.co_lnotab
	return code.co_linetable


def hexlify(data):
	if not data:
		return "-"
	if V < (3, 0):
		return "".join("%02x" % ord(c) for c in data)
	return data.hex()


def tricky_source():
	"""Source that exercises every corner of every table format."""
	def term_sum(n):
		return " + ".join("f(a, %d)" % i for i in range(n))

	parts = [
		"import os\n",
		"def simple(a, b):\n    c = a + b\n    return c\n",
		# Line gaps over 255 and 300 lines, and one over 65535 (a
		# three-group varint in 3.11+, hundreds of pairs before).
		"def gap():\n    x = 1\n" + "\n" * 320 + "    y = 2\n"
		+ "\n" * 70000 + "    return x + y\n",
		# More than 255 bytes of bytecode on one line: (255, 0)
		# continuation pairs, and 3.11 entries of 8 code units in a row.
		"def long_line(f, a):\n    r = " + term_sum(90) + "\n    return r\n",
		"def long_then_gap(f, a):\n    r = " + term_sum(70) + "\n"
		+ "\n" * 400 + "    return r\n",
		# A multi-line call: negative line deltas, over 128 lines back.
		"def multi(f, a):\n    return f(\n        a,\n" + "\n" * 200
		+ "        a + 1,\n        [a\n         for _ in range(3)],\n    )\n",
		"def comps(xs):\n"
		"    a = [x * 2 for x in xs if x]\n"
		"    b = {x: [y for y in range(x)] for x in xs}\n"
		"    c = set(x for x in xs)\n"
		"    d = {x for x in xs}\n"
		"    return a, b, c, d\n",
		"def outer(n):\n"
		"    def middle(m):\n"
		"        def inner(k):\n"
		"            return n + m + k\n"
		"        return inner\n"
		"    return middle(n)(n)\n",
		"def loops(xs):\n"
		"    total = 0\n"
		"    for x in xs:\n"
		"        if x < 0:\n"
		"            continue\n"
		"        if x > 100:\n"
		"            break\n"
		"        total += x\n"
		"    else:\n"
		"        total = -1\n"
		"    while total > 10:\n"
		"        total -= 3\n"
		"    return total\n",
		"def handlers(f):\n"
		"    try:\n"
		"        f()\n"
		"    except (ValueError, TypeError) as e:\n"
		"        return e\n"
		"    except Exception:\n"
		"        raise\n"
		"    else:\n"
		"        pass\n"
		"    finally:\n"
		"        f = None\n"
		"    with open(f) as fh, open(f) as fh2:\n"
		"        return fh.read() + fh2.read()\n",
		"def gen(n):\n"
		"    for i in range(n):\n"
		"        yield i\n"
		"        x = yield\n",
		"class Klass(object):\n"
		"    attr = [i for i in range(3)]\n"
		"    def method(self, x,\n"
		"               y=lambda q: q + 1):\n"
		"        return (self,\n"
		"                x,\n"
		"                y)\n"
		"    @staticmethod\n"
		"    def deco(): return 1\n",
		"lam = lambda a, b=2: (a +\n"
		"                      b)\n",
		"def chained(a):\n"
		"    return (a\n"
		"            .b\n"
		"            .c(1,\n"
		"               2)\n"
		"            .d)\n",
		"def dense(a): x = a; y = x; return y\n",
		"if os.sep:\n    module_level = [simple(i, i) for i in range(2)]\n",
	]
	if V >= (3, 3):
		parts.append("def delegate():\n    yield from range(3)\n")
	if V >= (3, 5):
		parts.append(
			"async def coro(x):\n"
			"    await x\n"
			"    async with x as y:\n"
			"        pass\n"
			"    async for i in x:\n"
			"        pass\n")
	if V >= (3, 6):
		parts.append(
			"def fstr(a):\n    return f\"{a!r:>{10}} and {a + 1}\"\n")
	if V >= (3, 8):
		parts.append(
			"def walrus(xs):\n"
			"    return [y for x in xs if (y := x * 2) > 3]\n")
	if V >= (3, 10):
		parts.append(
			"def matcher(p):\n"
			"    match p:\n"
			"        case (0, y):\n"
			"            return y\n"
			"        case {'k': v, **rest}:\n"
			"            return v\n"
			"        case [1, *others] if others:\n"
			"            return others\n"
			"        case _:\n"
			"            return None\n")
	if V >= (3, 11):
		parts.append(
			"def estar(f):\n"
			"    try:\n"
			"        f()\n"
			"    except* ValueError:\n"
			"        pass\n")
	if V >= (3, 12):
		parts.append(
			"def generic[T](x: T) -> T:\n    return x\n"
			"type Alias = list[int]\n")
	return "".join(parts)


def module_source(mod):
	path = os.path.splitext(mod.__file__)[0] + ".py"
	with open(path) as f:
		return f.read()


def walk(code):
	yield code
	for const in code.co_consts:
		if isinstance(const, type(code)):
			for sub in walk(const):
				yield sub


def api_lines(code):
	"""Line per in-range offset from CPython's Python-level API."""
	n = len(code.co_code)
	lines = {}
	if V >= (3, 10):
		for start, end, line in code.co_lines():
			for off in range(start, end):
				lines[off] = -1 if line is None else line
		return lines
	starts = list(dis.findlinestarts(code))
	addrs = [a for a, _ in starts]
	for off in range(n):
		i = bisect.bisect_right(addrs, off) - 1
		lines[off] = starts[i][1] if i >= 0 else code.co_firstlineno
	return lines


def main():
	addr2line = ctypes.pythonapi.PyCode_Addr2Line
	addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
	addr2line.restype = ctypes.c_int
	step = 1 if V < (3, 0) else 2

	sources = [("<tricky>", tricky_source()),
		   ("textwrap.py", module_source(textwrap))]
	print("# CPython %s" % sys.version.split()[0])
	print("# Generated by tests/unit/gen_linetable_cases.py; do not edit.")
	print("kind %s" % kind_name())
	bad = 0
	for filename, src in sources:
		for code in walk(compile(src, filename, "exec", 0, True)):
			n = len(code.co_code)
			expect = api_lines(code)
			print("code %s %d %s" % (code.co_name.replace(" ", "_"),
						 code.co_firstlineno,
						 hexlify(table_of(code))))
			offsets = [-1] + list(range(0, n, step)) + [n, n + 2, n + 1000]
			for off in offsets:
				line = addr2line(code, off)
				if 0 <= off < n and expect.get(off, -1) != line:
					sys.stderr.write("%s %s offset %d: API %r, "
							 "PyCode_Addr2Line %d\n"
							 % (filename, code.co_name, off,
							    expect.get(off), line))
					bad += 1
				print("%d %d" % (off, line))
	return 1 if bad else 0


if __name__ == "__main__":
	sys.exit(main())
