# SPDX-License-Identifier: MIT
"""`pytrace flow --within/--file/--function`, evaluated in the target's agent.

The answer for each rule is the unfiltered trace (with --c-calls) of the
same deterministic program (tests/targets/flow_pred.py, three threads and the main thread
doing the same work), filtered here by the rules docs/flow.md states:
pytrace's filtered output must be exactly that, thread by thread (function,
file, line, event and depth), under every CPython. Then a structural check
that the agent left the other events out: `--stats` reports how many events
pytrace read from the ring and how many the agent did not record
("filtered in the target"); without the agent's predicates every event is
recorded and pytrace drops them itself.
"""

import collections
import concurrent.futures
import json
import re

import pytest

from conftest import FLOW_NOT_YET, FLOW_NOT_YET_MINORS, INSTALLED
from harness import EXIT_OK, REPO, expect_exit, run_pytrace

PRED = str(REPO / "tests" / "targets" / "flow_pred.py")
ENTRY = ("call", "resume", "throw", "c_call")
STATS_RE = re.compile(r"^pytrace: (\d+) events, (\d+) lines, (\d+) dropped, (\d+) stalls"
                      r"(?:, (\d+) filtered in the target)?, ", re.M)

# (options, every record the agent writes is shown).
# region() is called with generators and a coroutine started outside it,
# nested in itself, in four threads; wgen() is a generator.
RULES = [
    (["--within", "region"], True),
    (["--within", "flow_pred.py:region", "--file", "pred_lib"], False),
    (["--function", "leaf", "--function", "Box.get", "--function", "helper",
      "--file", "flow_pred."], True),
    (["--within", "wgen"], True),
    (["--file", "pred_lib", "--c-calls"], True),
    (["--within", "never_called", "--file", "no-such-file"], True),
]
IDS = ["within", "within-and-file", "functions-and-file", "within-generator", "file-c-calls",
       "nothing"]
UNFILTERED = ["--c-calls"]


@pytest.fixture(scope="module")
def traces():
    """python_id -> {options: (result, events, stats match)}: the unfiltered
    runs and every rule's, made at once (they are independent: a loaded
    machine then waits for them once)."""
    return {}


def flow_ok(python_id):
    if python_id in FLOW_NOT_YET and "%d.%d" % tuple(INSTALLED[python_id][1][:2]) in \
            FLOW_NOT_YET_MINORS:
        pytest.skip("flow does not run on CPython %s yet (issue 9)" % FLOW_NOT_YET[python_id])


def run_flow(python_id, options):
    result = run_pytrace(["flow", "--json", "--stats", "-o", "/dev/stdout"] + options +
                         ["--", INSTALLED[python_id][0], PRED])
    expect_exit(result, EXIT_OK)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    m = STATS_RE.search(result.stderr)
    assert m, result.describe(2000)
    return result, events, m


def traces_of(traces, python_id):
    if python_id not in traces:
        todo = [UNFILTERED] + [options for options, _ in RULES]
        with concurrent.futures.ThreadPoolExecutor(len(todo)) as pool:
            done = list(pool.map(lambda o: run_flow(python_id, o), todo))
        traces[python_id] = dict(zip((tuple(o) for o in todo), done))
    return traces[python_id]


def name_matches(name, want):
    """The qualified name, or its last dotted part."""
    return name == want or ("." in name and name.rsplit(".", 1)[1] == want)


def expected(events, within=None, files=(), funcs=()):
    """The documented rules, per thread: --within from a call of the function
    until it returns; --file frames whose file contains a substring (a C call
    when its caller is shown); --function by name or last dotted part;
    indentation counts shown frames."""
    wfile, wfunc = None, None
    if within:
        wfile, _, wfunc = within.rpartition(":")
        wfile = wfile or None
    out = collections.OrderedDict()
    state = {}
    for e in events:
        tid = e["tid"]
        st = state.setdefault(tid, {"stack": [], "active": False, "base": 0, "depth": 0})
        lines = out.setdefault(tid, [])
        name, file = e["function"], e.get("file")
        ok = ((not files or file is None or any(s in file for s in files)) and
              (not funcs or any(name_matches(name, f) for f in funcs)))
        stack = st["stack"]
        if e["event"] in ENTRY:
            if wfunc and not st["active"] and name_matches(name, wfunc) and \
                    (not wfile or (file is not None and wfile in file)):
                st["active"], st["base"] = True, len(stack)
            parent = stack[-1] if stack else not files
            shown = (not wfunc or st["active"]) and ok and (file is not None or not files or parent)
            stack.append(shown)
            if shown:
                lines.append(line(e, st["depth"]))
                st["depth"] += 1
            continue
        if not stack:   # entered before the hook was in
            if not wfunc and ok and (file is not None or not files):
                lines.append(line(e, 0))
            continue
        if stack.pop():
            st["depth"] -= 1
            lines.append(line(e, st["depth"]))
        if st["active"] and len(stack) == st["base"]:
            st["active"] = False
    return out


def line(e, depth):
    return (e["event"], e["function"], e.get("file"), e.get("line"), depth)


def per_thread(events):
    """Each thread's lines (their own depths); threads doing the same work
    are told apart by nothing, so the sequences are compared sorted."""
    out = collections.OrderedDict()
    for e in events:
        out.setdefault(e["tid"], []).append(line(e, e["depth"]))
    return out


def threads_sorted(by_tid):
    return sorted(tuple(v) for v in by_tid.values() if v)


def rule_of(options):
    within, files, funcs = None, [], []
    for opt, arg in zip(options, options[1:] + [None]):
        if opt == "--within":
            within = arg
        elif opt == "--file":
            files.append(arg)
        elif opt == "--function":
            funcs.append(arg)
    return within, files, funcs


@pytest.mark.parametrize("options,exact", RULES, ids=IDS)
def test_filtered_equals_unfiltered_filtered(python_id, pytrace, traces, options, exact):
    flow_ok(python_id)
    runs = traces_of(traces, python_id)
    _, full, m = runs[tuple(UNFILTERED)]
    assert m.group(5) is None, "no predicate, yet the agent filtered: " + m.group(0)
    assert len(per_thread(full)) >= 4, "the four threads were not all traced"
    if "--c-calls" not in options:
        # the same program's Python events (the tests of test_flow.py show
        # the hooks with and without --c-calls make the same ones)
        full = [e for e in full if not e.get("c")]

    result, events, m = runs[tuple(options)]
    want = expected(full, *rule_of(options))
    got = per_thread(events)
    assert threads_sorted(got) == threads_sorted(want), result.describe(3000)
    if "never_called" not in options:
        assert events, "the rule printed nothing: the test proves nothing"

    # Structure: what the agent recorded (pytrace's "events": records read
    # from the ring) against what it left out.
    recorded, lines, dropped = int(m.group(1)), int(m.group(2)), int(m.group(3))
    assert dropped == 0 and lines == len(events), m.group(0)
    assert m.group(5) is not None, "the agent had no predicates: " + m.group(0)
    skipped = int(m.group(5))
    assert skipped > 0, m.group(0)
    if exact:
        assert recorded == lines, "the agent recorded events no line shows: " + m.group(0)
    else:
        # the --within function's own frames are recorded (they open the
        # extent) even where --file hides them
        assert lines <= recorded < len(full), m.group(0)
    # (how many events reach the agent at all is not fixed: the threads'
    # start-up in `threading` depends on timing, and from 3.12 on the
    # agent turns off the locations that cannot match)
