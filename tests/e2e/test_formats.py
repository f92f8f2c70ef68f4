# SPDX-License-Identifier: MIT
"""The output formats of `pytrace stacks --count` on a target with a known
call tree (tests/targets/formats.py): one run per interpreter writes the
JSON aggregation, --svg, --speedscope and --pprof files with -T --latency,
and every file must hold exactly the counts the target made. Then the real
consumers read them (on two interpreters: they cost seconds, not the
format): go tool pprof -raw/-top, speedscope's JSON schema and speedscope
itself in headless Chromium, and Chromium rendering the SVG."""

import gzip
import json
import os
import re
import subprocess
import xml.dom.minidom

import pytest

import consumers
import conftest
import harness
from harness import EXIT_OK, expect_exit, run_pytrace

TARGET = str(harness.REPO / "tests" / "targets" / "formats.py")
SLEEPS = "write,select,pselect6"
# The consumers are checked on this one only (any would do: they read the
# file, which every interpreter's run above checked for its counts).
CONSUMER_IDS = (conftest.SYSTEM_ID,)
EXIT_OUTPUT = 1  # a file cannot be written (docs/stacks.md)


@pytest.fixture(scope="module")
def python(python_id):
    return conftest.INSTALLED[python_id][0]


class Run(object):
    """One traced run: the aggregation (JSON lines), the target's truth,
    and the three files."""

    def __init__(self, python, workdir):
        self.dir = workdir
        self.svg = os.path.join(workdir, "p.svg")
        self.speedscope = os.path.join(workdir, "p.speedscope.json")
        self.pprof = os.path.join(workdir, "p.pb.gz")
        out = os.path.join(workdir, "agg.json")
        self.result = run_pytrace(["stacks", "-e", SLEEPS, "-T", "--latency", "--json",
                                   "-o", out, "--svg", self.svg, "--speedscope", self.speedscope,
                                   "--pprof", self.pprof, "--", python, TARGET])
        expect_exit(self.result, EXIT_OK)
        self.truth = json.loads(self.result.stdout.strip().splitlines()[-1])
        with open(out) as f:
            objs = [json.loads(l) for l in f if l.strip()]
        self.aggregates = [o for o in objs if "totals" not in o]
        self.summary = [o for o in objs if "totals" in o][0]

    def python_frames(self, agg):
        return [(f["function"], f["file"], f["line"]) for f in agg["frames"]
                if f.get("kind") == "python"]

    def truth_sites(self):
        """{frames tuple: (kind, count)}"""
        return dict((tuple((f["function"], f["file"], f["line"]) for f in s["frames"]),
                     (s["kind"], s["count"])) for s in self.truth["sites"])

    def site_aggregates(self):
        """The aggregates whose stack is one of the target's sites:
        {frames tuple: [aggregate, ...]} (a sleep may be two syscalls)."""
        sites = self.truth_sites()
        out = {}
        for a in self.aggregates:
            fr = tuple(self.python_frames(a))
            if fr in sites:
                out.setdefault(fr, []).append(a)
        return out


@pytest.fixture(scope="module")
def run(python, tmp_path_factory):
    return Run(python, str(tmp_path_factory.mktemp("formats")))


def folded_name(fr):
    return "%s (%s:%d)" % fr


def test_counts_and_latency_exact(run):
    """Every site of the known call tree is one stack with its exact count;
    the sleeps' histogram holds each sleep once, none below its length."""
    sites = run.truth_sites()
    got = run.site_aggregates()
    assert set(got) == set(sites), "stacks differ:\n%s" % run.result.describe(4000)
    for fr, (kind, count) in sites.items():
        aggs = got[fr]
        if kind == "write":
            assert [a["syscall"] for a in aggs] == ["write"] and aggs[0]["count"] == count, aggs
        else:
            # One sleep is one call (select, or pselect6 where the C
            # library makes select() of it); its timeout is relative and
            # starts in the kernel, after pytrace let the call go: no
            # duration can be shorter.
            assert len(aggs) == 1 and aggs[0]["count"] == count, aggs
            h = aggs[0]["histogram"]
            assert h["count"] == count and sum(n for _, n in h["buckets"]) == count, h
            assert h["min"] >= run.truth["nap_ns"], "a %d ns sleep took %d ns" % (
                run.truth["nap_ns"], h["min"])
            # Each value sits in the bucket of its power of two.
            lows = [low for low, _ in h["buckets"]]
            assert all(low & (low - 1) == 0 for low in lows), lows
            assert lows[0] <= h["min"] < 2 * lows[0] and lows[-1] <= h["max"] < 2 * lows[-1], h
            assert h["min"] <= h["p50"] <= h["p90"] <= h["p99"] <= h["max"], h
        for a in aggs:
            assert a["histogram"]["count"] == a["count"]
            assert abs(a["seconds"] * 1e9 - a["histogram"]["sum"]) < 1000, a
    assert run.summary["totals"]["events"] == sum(a["count"] for a in run.aggregates)


def test_speedscope_counts(run):
    """The speedscope file: a sampled profile of counts and one of
    nanoseconds, each sample's frames (root first) the stack's."""
    with open(run.speedscope) as f:
        doc = json.load(f)
    frames = doc["shared"]["frames"]
    counts, times = doc["profiles"]
    assert counts["type"] == "sampled" and counts["unit"] == "none"
    assert times["unit"] == "nanoseconds"
    assert sum(counts["weights"]) == run.summary["totals"]["events"] == counts["endValue"]
    assert abs(sum(times["weights"]) / 1e9 - sum(a["seconds"] for a in run.aggregates)) < 1e-6
    got = {}
    for sample, weight in zip(counts["samples"], counts["weights"]):
        names = [frames[i]["name"] for i in sample]
        got[tuple(names)] = got.get(tuple(names), 0) + weight
    for fr, (kind, count) in run.truth_sites().items():
        names = tuple(folded_name(f) for f in reversed(fr))
        hits = [(k, v) for k, v in got.items() if k[:-1] == names]
        assert sum(v for _, v in hits) == count, (names, hits)


def test_svg_counts(run):
    """The SVG parses as XML; its root says the total, and each site's
    innermost frame is drawn with its count."""
    doc = xml.dom.minidom.parse(run.svg)
    groups = [g for g in doc.getElementsByTagName("g") if g.getAttribute("class") == "f"]
    root = [g for g in groups if g.getAttribute("data-d") == "0"]
    assert len(root) == 1 and int(root[0].getAttribute("data-w")) == run.summary["totals"]["events"]
    widths = {}
    for g in groups:
        widths.setdefault(g.getAttribute("data-n"), []).append(int(g.getAttribute("data-w")))
    # path_c's frames run only in one place: their width is the count.
    c = [fr for fr, (kind, _) in run.truth_sites().items() if fr[1][0] == "path_c"][0]
    assert widths[folded_name(c[1])] == [5], widths.get(folded_name(c[1]))
    for fr, (kind, count) in run.truth_sites().items():
        assert folded_name(fr[0]) in widths, fr


def pprof_decode(path):
    """Our own reading of the gzip'd profile.proto (field numbers of
    profile.proto), to check the encoding before a consumer does."""
    data = gzip.open(path).read()

    def varint(b, i):
        v = s = 0
        while True:
            c = b[i]
            i += 1
            v |= (c & 0x7f) << s
            s += 7
            if not c & 0x80:
                return v, i

    def fields(b):
        i, out = 0, []
        while i < len(b):
            key, i = varint(b, i)
            if key & 7 == 0:
                v, i = varint(b, i)
            elif key & 7 == 2:
                n, i = varint(b, i)
                v, i = b[i:i + n], i + n
            else:
                raise AssertionError("wire type %d" % (key & 7))
            out.append((key >> 3, v))
        return out

    def packed(b):
        i, out = 0, []
        while i < len(b):
            v, i = varint(b, i)
            out.append(v)
        return out

    top = fields(data)
    strings = [v.decode() for k, v in top if k == 6]
    samples = []
    for k, v in top:
        if k == 2:
            s = dict(fields(v)) if False else fields(v)
            locs = [packed(x) for kk, x in s if kk == 1][0]
            vals = [packed(x) for kk, x in s if kk == 2][0]
            samples.append((locs, vals))
    types = [strings[dict(fields(v))[1]] for k, v in top if k == 1]
    return strings, types, samples


def test_pprof_own_decoding(run):
    strings, types, samples = pprof_decode(run.pprof)
    assert strings[0] == "" and types == ["syscalls", "time"]
    assert sum(v[0] for _, v in samples) == run.summary["totals"]["events"]
    assert all(len(v) == 2 and all(l > 0 for l in locs) for locs, v in samples)


def consumers_only(python_id):
    if python_id not in CONSUMER_IDS:
        pytest.skip("the consumers are checked on %s only (cost: seconds)" % ", ".join(CONSUMER_IDS))


def test_pprof_go_tool(run, python_id):
    """go tool pprof -raw reads every sample with the same values, -top the
    same totals."""
    consumers_only(python_id)
    types, samples, names = consumers.pprof_raw(run.pprof)
    assert types == ["syscalls", "time"], types
    assert sum(v[0] for v, _ in samples) == run.summary["totals"]["events"]
    ns = sum(v[1] for v, _ in samples)
    assert abs(ns / 1e9 - sum(a["seconds"] for a in run.aggregates)) < 1e-6
    # The sites' leaves are functions pprof names.
    assert "w_leaf" in " ".join(names.values()) and "nap" in " ".join(names.values()), names
    total, unit, text = consumers.pprof_top_total(run.pprof)
    assert int(total) == run.summary["totals"]["events"] and unit == "", text
    total, unit, text = consumers.pprof_top_total(run.pprof, "time")
    scale = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1}[unit]
    assert abs(float(total) * scale - ns) <= max(0.01 * ns, 1e4), text


def test_speedscope_schema_and_app(run, python_id):
    consumers_only(python_id)
    errors = consumers.speedscope_validate(run.speedscope)
    assert errors is None, errors
    ok, said = consumers.speedscope_load(run.speedscope)
    assert ok, said


def test_svg_renders_frames(run, python_id, tmp_path):
    """Chromium runs the SVG's script (it writes the labels) and the
    screenshot shows the frames: rows of the frame colours where the
    frames are, and the leaf function's label."""
    consumers_only(python_id)
    png = str(tmp_path / "svg.png")
    dom = consumers.svg_render(run.svg, png, 1200, 300, scale=0.5)
    labels = re.findall(r"<text x=\"[0-9.]+\" y=\"\d+\">([^<]+)</text>", dom)
    assert any(l.startswith("main (") for l in labels), dom[:3000]
    width, height, rows = consumers.png_pixels(png)
    # The warm colours of Python frames (red > 190, blue < 80).
    # At scale 0.5 a frame is 8 pixels high: the deepest site (5 Python
    # frames) gives at least 4 * 7 such rows.
    warm_rows = [y for y, row in enumerate(rows) if sum(1 for r, g, b in row if r > 190 and b < 80) > 25]
    assert len(warm_rows) >= 4 * 7, "only %d rows show Python frames" % len(warm_rows)


def test_speedscope_evented_schema(tmp_path):
    """The evented form (flow's timeline, written by the unit test's
    synthetic events) validates against speedscope's schema too."""
    # Beside the pytrace under test (build/ or build-asan/).
    binary = os.path.join(os.path.dirname(os.path.abspath(harness.pytrace_path())), "tests",
                          "test_formats")
    if not os.path.exists(binary):
        pytest.skip("%s not built (make unit builds it)" % binary)
    path = str(tmp_path / "evented.json")
    out = subprocess.run([binary, path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout
    errors = consumers.speedscope_validate(path)
    assert errors is None, errors


def test_svg_zoom_and_search(run, python_id, tmp_path):
    """The script's zoom and search, driven by the link (#zoom=path_b&
    search=^w_leaf) in headless Chromium: path_b fills the width, path_a
    (beside it) is hidden, and the search covers exactly the 8 writes."""
    consumers_only(python_id)
    png = str(tmp_path / "zoom.png")
    dom = consumers.svg_render(run.svg, png, 1200, 300, scale=0.5,
                               fragment="#zoom=path_b&search=%5Ew_leaf")
    groups = re.findall(r'<g class="f"[^>]* data-n="([^"]*)"[^>]*?(?: style="([^"]*)")?>'
                        r'<title>[^<]*</title><rect x="([0-9.]+)" y="\d+" width="([0-9.]+)"'
                        r'[^>]* fill="([^"]*)"', dom)
    assert groups, dom[:3000]
    state = dict((n.split(" (")[0], (style, float(x), float(w), fill)) for n, style, x, w, fill in groups)
    style, x, w, _ = state["path_b"]
    assert "none" not in style and abs(x - 10) < 0.01 and abs(w - 1179.5) < 0.01, state["path_b"]
    assert "display: none" in state["path_a"][0], state["path_a"]
    assert state["w_leaf"][3] == "rgb(230,0,230)", state["w_leaf"]
    total = run.summary["totals"]["events"]
    assert "Matched: %.2f%%" % (100.0 * 8 / total) in dom, re.findall(r"Matched[^<]*", dom)


@pytest.mark.parametrize("fmt", ["svg", "speedscope", "pprof"])
def test_file_that_cannot_be_written(fmt):
    """A full disk for --svg/--speedscope/--pprof: one line naming the file
    and ENOSPC, exit 1 (as for -o), the command run to its end."""
    if conftest.SYSTEM_ID not in conftest.INSTALLED:
        pytest.skip(conftest.skip_reason(conftest.SYSTEM_ID))
    python = conftest.INSTALLED[conftest.SYSTEM_ID][0]
    result = run_pytrace(["stacks", "-e", "write", "--" + fmt, "/dev/full", "-o", "/dev/null",
                          "--", python, "-c", "print('done')"])
    expect_exit(result, EXIT_OUTPUT)
    assert result.stdout == "done\n", result.describe()
    lines = [l for l in result.stderr.splitlines() if l.startswith("pytrace:")]
    assert lines == ["pytrace: cannot write /dev/full: No space left on device"], result.describe()
