# SPDX-License-Identifier: MIT
"""`pytrace flow --count/--latency/--profile/--trace-events` under every
installed CPython, on a target whose answer is known or measured by itself
(tests/targets/flow_agg.py): exact call counts, a known call tree, sleeper
durations in the right power-of-two buckets (the target times each call with
its own clock), the profile's stacks adding up to main()'s wall time within
1 %, a Trace Event file whose slices nest and match the counts; calls still
running at the end (SIGTERM while blocked) ended in the file; --for on an
attached loop. The text layouts are golden-tested in tests/unit/test_flow_agg.c.
"""

import collections
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import INSTALLED, SYSTEM_ID
from harness import EXIT_OK, REPO, expect_exit, run_pytrace

TARGET = str(REPO / "tests" / "targets" / "flow_agg.py")
LOOP = str(REPO / "tests" / "targets" / "flow_loop.py")

ROW = re.compile(r"^\s*(\d+)\s+(\d+\.\d{3})\s+(\d+\.\d{3})\s+(\d+\.\d)\s+(\d+\.\d{3}|-)\s+(.+?) \((.*)\)$")
HIST_ROW = re.compile(r"^\s*(\d+) \|(@*) *(\d+)$")


def python(python_id):
    return INSTALLED[python_id][0]


def bucket(ns):
    """The quantize row a duration falls in: its value (0, 1, 2, 4, ...)."""
    return 0 if ns <= 0 else 1 << (int(ns).bit_length() - 1)


def buckets_between(lo, hi):
    """The quantize rows of the values from lo to hi."""
    out, b = [], bucket(lo)
    while b <= bucket(hi):
        out.append(b)
        b = b * 2 if b else 1
    return out


def parse_count(text):
    """{function name: (calls, total_us, own_us, mean_us, file)} from the table."""
    rows = {}
    lines = text.splitlines()
    assert re.match(r"^\d+ functions, \d+ calls, \d+\.\d{6} s traced", lines[0]), text
    assert lines[1].split() == ["CALLS", "TOTAL(us)", "OWN(us)", "OWN%", "MEAN(us)", "FUNCTION"], text
    for line in lines[2:]:
        if not line.strip():
            break
        m = ROW.match(line)
        assert m, "not a table row: %r\n%s" % (line, text)
        rows[m.group(6)] = (int(m.group(1)), float(m.group(2)), float(m.group(3)),
                            None if m.group(5) == "-" else float(m.group(5)), m.group(7))
    return rows


def parse_latency(text, function):
    """{row value: count}, count, p50, max of the function's histogram."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if re.match(r"^  %s \(" % function, l))
    assert lines[start + 1].split() == ["value", "-------------", "Distribution",
                                        "-------------", "count"], text
    rows = collections.OrderedDict()
    i = start + 2
    while HIST_ROW.match(lines[i]):
        m = HIST_ROW.match(lines[i])
        rows[int(m.group(1))] = int(m.group(3))
        i += 1
    m = re.match(r"^  count (\d+)  p50 (\d+)  p90 (\d+)  p99 (\d+)  max (\d+)  \(ns\)$", lines[i])
    assert m, "no percentile line: %r\n%s" % (lines[i], text)
    return rows, [int(x) for x in m.groups()]


def parse_folded(text):
    stacks = {}
    for line in text.splitlines():
        m = re.match(r"^(.*) (\d+)$", line)
        if not m or "(" not in line:
            continue
        names = tuple(re.sub(r" \(.*\)$", "", f) for f in m.group(1).split(";"))
        stacks[names] = stacks.get(names, 0) + int(m.group(2))
    return stacks


def check_slices_nest(events, result):
    """Per thread, complete slices nest (none overlaps another partly)."""
    by_tid = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X":
            assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float)) and \
                e["dur"] >= 0, e
            by_tid[e["tid"]].append((e["ts"], -e["dur"], e))
    for tid, v in by_tid.items():
        v.sort(key=lambda x: (x[0], x[1]))
        open_ends = []
        for ts, negdur, e in v:
            end = ts - negdur
            while open_ends and open_ends[-1] <= ts + 1e-9:
                open_ends.pop()
            # 1 ns slack: the microsecond values carry 3 decimals
            assert not open_ends or end <= open_ends[-1] + 0.0011, \
                "slice %s overlaps its parent (ends %s)\n%s" % (e, open_ends[-1], result.describe(500))
            open_ends.append(end)


@pytest.fixture(scope="module")
def agg_run(python_id, pytrace, tmp_path_factory):
    """One traced run answering every question of the module."""
    tmp = tmp_path_factory.mktemp("flowagg-" + python_id)
    truth_path, out, trace = tmp / "truth.json", tmp / "out.txt", tmp / "trace.json"
    result = run_pytrace(["flow", "--within", "flow_agg.py:main", "--count", "--latency", "sleeper",
                          "--profile", "--folded", "--trace-events", trace,
                          "--speedscope", tmp / "p.speedscope.json", "--pprof", tmp / "p.pb.gz",
                          "--svg", tmp / "p.svg", "-o", out, "--",
                          python(python_id), TARGET, truth_path])
    expect_exit(result, EXIT_OK)
    text = out.read_text()
    truth = json.loads(truth_path.read_text())
    return result, text, truth, json.loads(trace.read_text()), tmp


def test_counts_exact(agg_run):
    result, text, truth, _, _ = agg_run
    rows = parse_count(text)
    got = {name: rows[name][0] for name in rows}
    assert got == truth["calls"], "calls per function\n%s\n%s" % (text, result.describe(300))
    for name, (calls, total, own, mean, path) in rows.items():
        assert path.endswith("flow_agg.py:%d" % path_line(path)), path
        assert own <= total + 0.001 and mean * calls <= total * calls + 0.001, (name, rows[name])
    # every own time is main's total, less nothing: the filters show only main's tree
    main_total = rows["main"][1]
    own_sum = sum(r[2] for r in rows.values())
    assert abs(own_sum - main_total) <= 0.001 * len(rows), (own_sum, main_total, text)
    # a recursion is counted once in TOTAL: fib's total is the one outermost call's
    assert rows["fib"][1] <= main_total


def path_line(path):
    return int(path.rsplit(":", 1)[1])


def test_latency_buckets(agg_run):
    result, text, truth, _, _ = agg_run
    rows, (count, p50, p90, p99, mx) = parse_latency(text, "sleeper")
    measured = truth["sleeper_ns"]
    assert count == len(measured) and sum(rows.values()) == count, text
    # Each call lies between its inside and around measurements (1 us and
    # 0.1 % slack: two clocks): the histogram must be one the calls can
    # make, each in a bucket its interval reaches.
    choices = [buckets_between(lo * 0.999 - 1000, hi * 1.001 + 1000) for lo, hi in measured]
    got = {v: n for v, n in rows.items() if n}
    assert any(collections.Counter(pick) == got for pick in itertools.product(*choices)), \
        "buckets %s, the calls measured (inside, around) %s\n%s" % (got, measured, text)
    # the layout: one empty row either side of the used ones, no gaps
    values = list(rows)
    assert rows[values[0]] == 0 and rows[values[-1]] == 0, text
    assert all(values[i + 1] == 2 * values[i] for i in range(1, len(values) - 1)), text
    assert max(lo for lo, _ in measured) * 0.999 - 1000 <= mx <= \
        max(hi for _, hi in measured) * 1.001 + 1000, (mx, measured)
    assert p50 <= p90 <= p99 <= mx


def within(value, bounds):
    """value lies between the inside and around measurements, within 1 %."""
    lo, hi = bounds
    return lo * 0.99 <= value <= hi * 1.01


def test_profile_call_tree_and_wall_time(agg_run):
    result, text, truth, _, _ = agg_run
    stacks = parse_folded(text)
    want = {("main",), ("main", "a"), ("main", "a", "b"), ("main", "a", "b", "c"),
            ("main", "gen"), ("main", "sleeper")}
    want |= {("main",) + ("fib",) * k for k in range(1, 11)}
    assert set(stacks) == want, "stacks %s\n%s" % (sorted(stacks), text)
    total = sum(stacks.values())
    assert within(total, truth["main_ns"]), \
        "profile sums to %d ns, main() measured itself at %s ns (inside, around)" % (
            total, truth["main_ns"])


def test_trace_events(agg_run):
    result, text, truth, trace, _ = agg_run
    events = trace["traceEvents"]
    slices = [e for e in events if e.get("ph") == "X"]
    counts = collections.Counter(e["name"] for e in slices)
    assert counts == truth["calls"], counts
    check_slices_nest(events, result)
    main = [e for e in slices if e["name"] == "main"][0]
    assert within(main["dur"] * 1000, truth["main_ns"]), (main, truth["main_ns"])
    assert all(e["args"]["file"].endswith("flow_agg.py") for e in slices)


def test_running_calls_end_in_the_files(python_id, pytrace, tmp_path):
    """SIGTERM while the program blocks in blocked(): pytrace passes it on,
    and the calls under way (<module>, run, blocked) end in the Trace Event
    file at the last event; the count table is printed."""
    trace, out = tmp_path / "trace.json", tmp_path / "out.txt"
    ready_r, ready_w = os.pipe()
    proc = subprocess.Popen([pytrace, "flow", "--file", "flow_agg.py", "--count", "-q",
                             "--trace-events", str(trace), "-o", str(out), "--",
                             python(python_id), TARGET, str(tmp_path / "truth.json"),
                             "--block", str(ready_w)],
                            pass_fds=(ready_w,), stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    os.close(ready_w)
    try:
        got = os.read(ready_r, 6)
        assert got == b"ready\n", got
    finally:
        os.close(ready_r)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    events = json.loads(trace.read_text())["traceEvents"]
    names = collections.Counter(e["name"] for e in events if e.get("ph") == "X")
    for running in ("<module>", "run", "blocked"):
        assert names[running] == 1, (running, names)
    assert names["c"] == 21 and names["fib"] == 177
    # ended at the last event: the blocked call ends where everything does
    ends = [e["ts"] + e["dur"] for e in events if e.get("ph") == "X"]
    blocked = [e for e in events if e.get("name") == "blocked"][0]
    assert blocked["ts"] + blocked["dur"] == pytest.approx(max(ends), abs=0.002)
    rows = parse_count(out.read_text())
    # still running: no completed call, but their time so far (blocked's
    # is nothing: its own entry is the last event)
    assert rows["c"][0] == 21 and rows["run"][0] == 0 and rows["run"][3] is None
    assert rows["<module>"][1] >= rows["run"][1] >= rows["main"][1] > 0


# One interpreter per way the hook goes in and out (2.7's profile function,
# 3.6-3.11's PEP 523 hook, 3.12's and 3.13's pending-call queues, 3.14's,
# free-threaded): the timer and the tables are pytrace's own, and
# test_flow.py detaches from every interpreter.
FOR_IDS = {"2.7", "3.11", SYSTEM_ID, "3.12", "3.13", "sid-3.14", "ft-3.13"}


def test_for_detaches_by_itself(python_id, pytrace):
    """--for on an attached loop: pytrace stops by itself, detaches, prints
    the tables (--interval) with the loop's function, and the loop runs on."""
    if python_id not in FOR_IDS:
        pytest.skip("attach-and-stop checked on %s" % ", ".join(sorted(FOR_IDS)))
    ready_r, ready_w = os.pipe()
    loop = subprocess.Popen([python(python_id), LOOP, str(ready_w)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        assert os.read(ready_r, 6) == b"ready\n"
        os.close(ready_r)
        result = run_pytrace(["flow", "-p", loop.pid, "--count", "--top", "3", "--for", "0.3s",
                              "--interval", "0.1s"])
        expect_exit(result, EXIT_OK)
        assert "detached from %d; target running" % loop.pid in result.stderr, result.describe()
        # --interval: a table every 0.1 s, then the last one's rest
        tables = re.split(r"\n\n(?=\d+ functions)", result.stdout.strip("\n"))
        assert len(tables) >= 2, result.describe()
        rows = [parse_count(t) for t in tables]
        assert all(len(r) <= 3 for r in rows), result.describe()
        assert sum(r["work"][0] for r in rows if "work" in r) > 0, result.describe()
        assert loop.poll() is None
    finally:
        loop.stdin.close()
        loop.wait(timeout=30)


def test_profile_files(agg_run, python_id):
    """The same profile in the files: speedscope's evented timeline opens
    and closes every call (as many as counted), the SVG names the frames,
    and go tool pprof (when installed; once) reads the folded total."""
    result, text, truth, _, tmp = agg_run
    ss = json.loads((tmp / "p.speedscope.json").read_text())
    frames = [f["name"] for f in ss["shared"]["frames"]]
    opened = collections.Counter()
    for prof in ss["profiles"]:
        assert prof["type"] == "evented", prof["type"]
        depth = 0
        for e in prof["events"]:
            depth += 1 if e["type"] == "O" else -1
            assert depth >= 0, "a close without its open in %s" % prof["name"]
            if e["type"] == "O":
                opened[re.sub(r" \(.*\)$", "", frames[e["frame"]])] += 1
        assert depth == 0, "%d frames left open in %s" % (depth, prof["name"])
    assert opened == truth["calls"], opened
    svg = (tmp / "p.svg").read_text()
    assert svg.startswith("<?xml") or svg.startswith("<svg"), svg[:100]
    assert "sleeper" in svg and "fib" in svg
    total = sum(parse_folded(text).values())
    go = shutil.which("go")
    if go and python_id == SYSTEM_ID:
        raw = subprocess.run([go, "tool", "pprof", "-raw", str(tmp / "p.pb.gz")],
                             capture_output=True, text=True, timeout=120)
        assert raw.returncode == 0, raw.stderr
        samples = raw.stdout.split("Samples:", 1)[1].split("Locations", 1)[0]
        # two sample types: the calls into each stack, its own time (the default)
        assert re.search(r"calls/count\s+time/nanoseconds\[dflt\]", samples), raw.stdout
        rows = [(int(m.group(1)), int(m.group(2)))
                for m in re.finditer(r"^\s*(\d+)\s+(\d+): [\d ]+$", samples, re.M)]
        assert sum(t for _, t in rows) == total, \
            "pprof says %d ns, the folded profile %d\n%s" % (sum(t for _, t in rows), total, raw.stdout)
        assert sum(c for c, _ in rows) == sum(truth["calls"].values()), raw.stdout


def test_stacks_for(python_id, pytrace):
    """stacks --for: the same timer ends a launched command as a SIGTERM
    would (the command gets it); once, the mechanism is pytrace's."""
    if python_id != SYSTEM_ID:
        pytest.skip("checked once, with %s" % SYSTEM_ID)
    result = run_pytrace(["stacks", "-e", "clock_nanosleep,nanosleep", "--count", "--for", "0.3s",
                          "--", python(python_id), "-c",
                          "import time\nwhile True: time.sleep(0.01)"])
    assert result.returncode == 128 + signal.SIGTERM, result.describe()
    assert "the command was killed by SIGTERM" in result.stderr, result.describe()
    assert re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+[1-9]\d*\s+\d*\s*(clock_)?nanosleep$",
                     result.stderr + result.stdout, re.M), result.describe()


@pytest.mark.parametrize("args,says", [
    (["--count", "--json"], "shape lines"),
    (["--profile", "--svg", "x.svg", "--interval", "1s"], "hold the whole run"),
    (["--count", "--for", "abc"], "--for wants a duration"),
    (["--count", "--for", "0"], "--for wants a duration"),
    (["--count", "--top", "0"], "--top wants a positive number"),
    (["--count", "--sort", "name"], "--sort wants own, total, calls or mean"),
    (["--per-thread", "--count"], "--per-thread needs --profile"),
    (["--top", "3"], "need --count, --latency or --profile"),
], ids=["json", "interval-files", "for-abc", "for-0", "top-0", "sort", "per-thread", "top-alone"])
def test_usage_errors(pytrace, args, says):
    """Aggregation options that make no sense: one line saying why, exit 2,
    nothing run."""
    result = run_pytrace(["flow"] + args + ["-p", "1"])
    assert result.returncode == 2, result.describe()
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pytrace: flow: ") and says in lines[0], \
        result.describe()


def _run_on_pty(argv):
    """argv with stderr on a terminal (stdout a pipe): what stderr showed."""
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:   # EIO: the other end closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out.decode(), shown.decode(errors="replace")


def test_status_line(python_id, pytrace, tmp_path):
    """On a terminal, a status line (events, rate, elapsed, drops) rewritten
    in place while aggregating and erased before the summary; none with -q.
    Once: the line is pytrace's, whatever the interpreter."""
    if python_id != SYSTEM_ID:
        pytest.skip("checked once, with %s" % SYSTEM_ID)
    prog = "import time\nt = time.time()\nwhile time.time() - t < 0.8: pass"
    base = [pytrace, "flow", "--count", "-o", str(tmp_path / "t.txt")]
    rc, _, shown = _run_on_pty(base + ["--", python(python_id), "-c", prog])
    assert rc == 0, shown
    lines = re.findall(r"\r\x1b\[Kpytrace: ([\d.]+[kMG]?) events, ([\d.]+[kMG]?)/s, ([\d.]+)s, "
                       r"(\d+) dropped", shown)
    assert len(lines) >= 2, repr(shown)
    assert shown.endswith("\r\x1b[K") or "\r\x1b[K" in shown.rsplit("dropped", 1)[1], repr(shown)
    rc, _, shown = _run_on_pty(base + ["-q", "--", python(python_id), "-c", prog])
    assert rc == 0 and "events," not in shown, repr(shown)


def test_files_in_their_consumers(agg_run, python_id, tmp_path):
    """The real readers of flow's files (once: the files do not depend on
    the interpreter): the evented speedscope file validates against
    speedscope's schema (test_formats.py loads the format in the app);
    Chromium draws the SVG's frames."""
    if python_id != SYSTEM_ID:
        pytest.skip("checked once, with %s" % SYSTEM_ID)
    import consumers
    _, _, _, _, tmp = agg_run
    errors = consumers.speedscope_validate(str(tmp / "p.speedscope.json"))
    assert errors is None, errors
    png = str(tmp_path / "svg.png")
    dom = consumers.svg_render(str(tmp / "p.svg"), png, 1200, 300, scale=0.5)
    labels = re.findall(r"<text x=\"[0-9.]+\" y=\"\d+\">([^<]+)</text>", dom)
    assert any(l.startswith("sleeper") for l in labels), dom[:3000]
    width, height, rows = consumers.png_pixels(png)
    warm_rows = [y for y, row in enumerate(rows) if sum(1 for r, g, b in row if r > 190 and b < 80) > 5]
    assert len(warm_rows) >= 8, "only %d rows show Python frames" % len(warm_rows)
