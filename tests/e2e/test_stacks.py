# SPDX-License-Identifier: MIT
"""`pytrace stacks` against tests/targets/writer.py under every installed CPython.

The target records, on the very line of each traced call, the stack as
`traceback` sees it; every event must carry exactly that stack (matched by
the unique payload of each write), --count must total the calls made, and
attaching and detaching must leave the target running to completion.
"""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

import harness
from harness import (EXIT_NO_PROCESS, EXIT_OK, EXIT_PERMISSION, EXIT_USAGE, expect_error_line,
                     expect_exit, run_pytrace)

import conftest

WRITER = str(harness.REPO / "tests" / "targets" / "writer.py")
WAIT = 60  # seconds for any one step of a target or of pytrace


@pytest.fixture
def python(python_id):
    return conftest.INSTALLED[python_id][0]


def stacks(*args, **kw):
    """With a command, the trace goes to stderr unless -o says otherwise
    (test_cli.py checks that): these tests read it on stdout, -o /dev/stdout."""
    args = [str(a) for a in args]
    if ("--" in args or "-c" in args) and "-o" not in args:
        args = ["-o", "/dev/stdout"] + args
    return run_pytrace(["stacks"] + args, **kw)


def json_lines(result):
    out = []
    for line in result.stdout.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                pytest.fail("not JSON: %r\n%s" % (line, result.describe(3000)))
    return out


def load_truth(path):
    with open(str(path)) as f:
        return json.load(f)


def want_frames(entry):
    return [(f["function"], f["file"], f["line"]) for f in entry["frames"]]


def got_frames(event):
    """Python frames of a JSON event, in order (merged or not)."""
    frames = event.get("python_frames") if event.get("merged") is False else event["frames"]
    return [(f.get("function"), f.get("file"), f.get("line")) for f in frames
            if f.get("kind") == "python"]


def frame_string(f):
    return "%s (%s:%d)" % f


def check_events_match(events, truth_writes, result, native=False):
    """Every truth write has exactly one event with its payload and stack."""
    by_payload = {}
    for ev in events:
        # A write that outlasted 100 ms shows at its start too ("unfinished"),
        # then whole when it returns ("resumed").
        if ev.get("event") == "unfinished":
            continue
        if ev["syscall"] == "write" and isinstance(ev["args"][1], str):
            by_payload.setdefault(ev["args"][1], []).append(ev)
    problems = []
    for w in truth_writes:
        evs = by_payload.get(w["payload"], [])
        if len(evs) != 1:
            problems.append("payload %s: %d events" % (w["payload"], len(evs)))
            continue
        ev = evs[0]
        if ev["pid"] != w["pid"] or ev["tid"] != w["tid"]:
            problems.append("payload %s: pid/tid %s/%s, expected %s/%s" % (
                w["payload"], ev["pid"], ev["tid"], w["pid"], w["tid"]))
        if ev["return"] != len(w["payload"]) or ev["error"] is not None:
            problems.append("payload %s: returned %r %r" % (w["payload"], ev["return"], ev["error"]))
        if got_frames(ev) != want_frames(w):
            problems.append("payload %s:\n  expected %s\n  got      %s" % (
                w["payload"], want_frames(w), got_frames(ev)))
    if problems:
        pytest.fail("%d of %d writes wrong:\n%s\n\n%s" % (
            len(problems), len(truth_writes), "\n".join(problems[:10]), result.describe(4000)),
            pytrace=False)


def read_line(stream, what, timeout=WAIT):
    """One line from a pipe, without blocking forever."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail("timed out waiting for %s (got %r)" % (what, buf))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                pytest.fail("EOF waiting for %s (got %r)" % (what, buf))
            buf += chunk
    return buf.decode()


def read_until(stream, needle, what, timeout=WAIT):
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        line = read_line(stream, what, max(0.1, deadline - time.monotonic()))
        seen.append(line)
        if needle in line:
            return "".join(seen)


def wait_exit(proc, what, timeout=WAIT):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("%s did not exit within %ds" % (what, timeout))


def tracer_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


def leaf_counts(aggregates, leaves=("leaf",)):
    """Aggregated write stacks whose innermost frame is one of writer.py's
    leaf functions (frames are objects, as in dump --json)."""
    return [a for a in aggregates if a.get("syscall") == "write" and a["frames"] and
            a["frames"][0].get("function") in leaves and a["frames"][0].get("file") == WRITER]


def agg_frame_strings(a):
    return tuple(frame_string((f["function"], f["file"], f["line"])) for f in a["frames"])


def split_summary(objs):
    """--count --json ends with one {"totals", "syscalls"} object."""
    assert objs and "totals" in objs[-1], objs[-3:]
    return objs[:-1], objs[-1]


# ---------------------------------------------------------------------------
# launch mode, every interpreter

def test_writes_show_exact_frames(python, tmp_path):
    """Every write event carries exactly the stack the target recorded."""
    truth_path = tmp_path / "truth.json"
    result = stacks("-e", "write", "--json", "--", python, WRITER, "nested", 40, truth_path)
    expect_exit(result, EXIT_OK)
    truth = load_truth(truth_path)
    mine = [e for e in json_lines(result) if e["args"][0] == truth["fd"] and e["pid"] == truth["pid"]]
    assert len(mine) == 40, "expected 40 write events on fd %d\n%s" % (truth["fd"], result.describe(3000))
    check_events_match(mine, truth["writes"], result)


def test_text_output_strace_line_then_stack(python, tmp_path):
    """The text form: strace's line (time, pid/tid, call = result), then the frames."""
    truth_path = tmp_path / "truth.json"
    result = stacks("-e", "write", "--", python, WRITER, "nested", 2, truth_path)
    expect_exit(result, EXIT_OK)
    truth = load_truth(truth_path)
    lines = result.stdout.splitlines()
    w = truth["writes"][1]
    header = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} %d/%d write\(%d, \"%s\", 7\) = 7$" % (
        truth["pid"], w["tid"], truth["fd"], w["payload"]))
    at = [i for i, line in enumerate(lines) if header.match(line)]
    assert len(at) == 1, "no header line for %s\n%s" % (w["payload"], result.describe(3000))
    frames = lines[at[0] + 1: at[0] + 1 + len(w["frames"])]
    assert frames == ["  " + frame_string(f) for f in want_frames(w)], result.describe(3000)


def test_native_stack_keeps_python_frames(python, tmp_path):
    """--native: the merged stack holds native frames and the same Python frames."""
    truth_path = tmp_path / "truth.json"
    result = stacks("-e", "write", "--native", "--json", "--", python, WRITER, "nested", 6,
                    truth_path)
    expect_exit(result, EXIT_OK)
    truth = load_truth(truth_path)
    mine = [e for e in json_lines(result) if e["args"][0] == truth["fd"]]
    assert len(mine) == 6, result.describe(3000)
    for ev in mine:
        assert ev["native"] and any(f["kind"] == "native" for f in ev["frames"]), result.describe(3000)
    check_events_match(mine, truth["writes"], result, native=True)


def test_count_totals_equal_calls(python, tmp_path):
    """--count: the two call paths, each counted exactly; --folded and --top agree."""
    n = 50
    truth_path = tmp_path / "truth.json"
    result = stacks("-e", "write", "--count", "--json", "--", python, WRITER, "nested", n, truth_path)
    expect_exit(result, EXIT_OK)
    truth = load_truth(truth_path)
    aggregates, summary = split_summary(json_lines(result))
    assert summary["totals"]["events"] == sum(a["count"] for a in aggregates)
    assert summary["totals"]["stacks"] == len(aggregates)
    leaves = leaf_counts(aggregates)
    assert sum(a["count"] for a in leaves) == n, result.describe(3000)
    want = {}
    for w in truth["writes"]:
        key = tuple(frame_string(f) for f in want_frames(w))
        want[key] = want.get(key, 0) + 1
    got = dict((agg_frame_strings(a), a["count"]) for a in leaves)
    assert got == want, "aggregated stacks differ\n%s" % result.describe(3000)
    counts = [a["count"] for a in aggregates]
    assert counts == sorted(counts), "not least frequent first: %s" % counts

    folded = stacks("-e", "write", "--folded", "--", python, WRITER, "nested", n, tmp_path / "t2.json")
    expect_exit(folded, EXIT_OK)
    total = 0
    for line in folded.stdout.splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        assert frames[-1] == "write", line
        if len(frames) > 1 and frames[-2].startswith("leaf (%s:" % WRITER):
            total += int(count)
            assert frames[0].startswith("<module> ("), "folded is root first: %s" % line
    assert total == n, folded.describe(3000)

    top = stacks("-e", "write", "--count", "--top", 1, "--json", "--", python, WRITER, "nested", n,
                 tmp_path / "t3.json")
    expect_exit(top, EXIT_OK)
    agg, _ = split_summary(json_lines(top))
    assert len(agg) == 1 and agg[0]["count"] == n // 2, top.describe(3000)


def test_rmtree_frame_and_line(python, tmp_path):
    """rmdir through shutil.rmtree: the rmtree frame at the line that calls rmdir."""
    truth_path = tmp_path / "truth.json"
    result = stacks("-e", "rmdir", "--json", "--", python, WRITER, "rmtree", 1, truth_path)
    expect_exit(result, EXIT_OK)
    truth = load_truth(truth_path)
    events = [e for e in json_lines(result) if e["syscall"] == "rmdir"]
    # Inner directories may go through unlinkat(AT_REMOVEDIR) (the fd-based
    # rmtree of 3.x); the top one is always rmdir(), and the last recorded.
    assert 1 <= len(events) <= len(truth["rmdir"]), result.describe(3000)
    top = [e for e in events if e["args"][0] == truth["top"]]
    assert len(top) == 1 and top[0]["return"] == 0, result.describe(3000)
    want = want_frames(truth["rmdir"][-1])
    got = got_frames(top[0])
    assert got == want, "expected %s\ngot %s\n%s" % (want, got, result.describe(3000))
    rmtree = [f for f in got if f[0] == "rmtree"]
    assert rmtree and rmtree[0][1].endswith("shutil.py"), got


def test_threads(python, tmp_path):
    """Three threads writing: every event with its own thread's tid and stack."""
    truth_path = tmp_path / "truth.json"
    result = stacks("-e", "write", "--json", "--", python, WRITER, "threads", 15, truth_path)
    expect_exit(result, EXIT_OK)
    truth = load_truth(truth_path)
    assert len(set(w["tid"] for w in truth["writes"])) == 3
    mine = [e for e in json_lines(result) if e["args"][0] == truth["fd"]]
    assert len(mine) == 45, result.describe(3000)
    check_events_match(mine, truth["writes"], result)


def test_fork_child_followed(python, tmp_path):
    """A forked Python child, with -f: its events carry its pid and its own
    stacks (without -f it is not followed: test_cli.py)."""
    truth_path = tmp_path / "truth.json"
    result = stacks("-f", "-e", "write", "--json", "--", python, WRITER, "fork", 8, truth_path)
    expect_exit(result, EXIT_OK)
    parent = load_truth(truth_path)
    child = load_truth(str(truth_path) + ".child")
    assert parent["child_status"] == 0 and child["pid"] == parent["child_pid"]
    events = [e for e in json_lines(result) if e["args"][0] == parent["fd"]]
    assert len([e for e in events if e["pid"] == child["pid"]]) == 8, result.describe(3000)
    check_events_match(events, parent["writes"] + child["writes"], result)


def test_launched_exit_status_and_files(python, tmp_path):
    """Common file calls decoded as strace prints them; exit status passed through."""
    truth_path = tmp_path / "truth.json"
    result = stacks("-e", "mkdir,openat,write,close,read,newfstatat,rename,unlink,rmdir",
                    "--", python, WRITER, "files", 1, truth_path)
    expect_exit(result, EXIT_OK)
    f = load_truth(truth_path)["files"]
    esc = re.escape
    want = [
        r'mkdir\("%s", 0755\) = 0' % esc(f["dir"]),
        r'openat\(AT_FDCWD, "%s", O_WRONLY\|O_CREAT\|O_TRUNC(\|O_CLOEXEC)?, 0640\) = %d' % (
            esc(f["f"]), f["wfd"]),
        r'write\(%d, "hello\\n", 6\) = 6' % f["wfd"],
        r'close\(%d\) = 0' % f["wfd"],
        r'openat\(AT_FDCWD, "%s", O_RDONLY(\|O_CLOEXEC)?\) = %d' % (esc(f["f"]), f["rfd"]),
        r'read\(%d, "hello\\n", 100\) = 6' % f["rfd"],
        r'newfstatat\(AT_FDCWD, "%s", 0x[0-9a-f]+, 0\) = 0' % esc(f["f"]),
        r'rename\("%s", "%s"\) = 0' % (esc(f["f"]), esc(f["g"])),
        r'unlink\("%s"\) = 0' % esc(f["g"]),
        r'unlink\("%s"\) = -1 ENOENT \(No such file or directory\)' % esc(f["missing"]),
        r'rmdir\("%s"\) = 0' % esc(f["dir"]),
    ]
    lines = result.stdout.splitlines()
    start = 0
    for pattern in want:
        # In this order, each with file_calls() as its innermost frame.
        rx = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} \d+/\d+ " + pattern + "$")
        at = [i for i in range(start, len(lines) - 1) if rx.match(lines[i]) and
              lines[i + 1].startswith("  file_calls (%s:" % WRITER)]
        assert at, "no line matching %s after line %d\n%s" % (pattern, start, result.describe(20000))
        start = at[0] + 1

    status = stacks("-e", "exit_group", "-c", "%s -c 'import sys; sys.exit(7)'" % python)
    assert status.returncode == 7, status.describe()
    assert "exit_group(7) = ?" in status.stdout, status.describe()


# ---------------------------------------------------------------------------
# attach mode, every interpreter

def start_attach_target(python, truth_path, n):
    proc = subprocess.Popen([python, WRITER, "attach", str(n), str(truth_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = read_line(proc.stdout, "the target's ready line")
    assert line.startswith("ready "), line
    return proc


def start_pytrace(args, **kw):
    return subprocess.Popen([harness.pytrace_path(), "stacks"] + [str(a) for a in args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def attach(python, target_pid, *args):
    tracer = start_pytrace(["-e", "write"] + list(args) + ["-p", target_pid])
    line = read_line(tracer.stderr, "pytrace's attached line")
    assert "attached to process %d (2 threads)" % target_pid in line, line
    return tracer


def send(proc, line):
    proc.stdin.write(line.encode() + b"\n")
    proc.stdin.flush()


def test_attach_running_target(python, tmp_path):
    """-p on a running target: a thread running before the attach, one born
    after it and the main thread; every write with its exact stack, until
    the target exits on its own."""
    n = 15
    target = start_attach_target(python, tmp_path / "truth.json", n)
    try:
        tracer = attach(python, target.pid, "--json")
        send(target, "go")
        read_line(target.stdout, "phase1")
        send(target, "go")
        read_line(target.stdout, "done")
        assert wait_exit(target, "the target") == 0
        rc = wait_exit(tracer, "pytrace")
        out = tracer.stdout.read().decode()
        err = tracer.stderr.read().decode()
        assert rc == EXIT_OK, err
        assert "process %d exited with status 0" % target.pid in err, err
        result = harness.Result(tracer.args, rc, out, err, 0)
        truth = load_truth(tmp_path / "truth.json")
        assert len(truth["writes"]) == 4 * n and len(set(w["tid"] for w in truth["writes"])) == 3
        mine = [e for e in json_lines(result) if e["syscall"] == "write" and e["args"][0] == truth["fd"]]
        assert len(mine) == 4 * n, result.describe(3000)
        check_events_match(mine, truth["writes"], result)
    finally:
        target.kill()
        target.wait()


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_detach_leaves_target_running(python, tmp_path, how):
    """Ctrl-C (or SIGKILL) on pytrace -p: the target is untraced and finishes its work."""
    n = 10
    target = start_attach_target(python, tmp_path / "truth.json", n)
    try:
        tracer = attach(python, target.pid, "--count", "--json")
        send(target, "go")
        read_line(target.stdout, "phase1")
        tracer.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
        rc = wait_exit(tracer, "pytrace")
        out = tracer.stdout.read().decode()
        if how == "sigint":
            assert rc == EXIT_OK, tracer.stderr.read().decode()
            aggregates = [json.loads(l) for l in out.splitlines() if l.strip()]
            counted = sum(a["count"] for a in leaf_counts(aggregates, ("leaf", "t_leaf")))
            assert counted == 3 * n, out
        assert tracer_of(target.pid) == 0, "still traced after pytrace ended"
        assert harness.task_state(target.pid) not in ("t", "T"), "target left stopped"
        send(target, "go")
        read_line(target.stdout, "done")
        assert wait_exit(target, "the target") == 0
        truth = load_truth(tmp_path / "truth.json")
        assert len(truth["writes"]) == 4 * n
    finally:
        target.kill()
        target.wait()


def test_closed_output_detaches(python, tmp_path):
    """`pytrace stacks -p PID | head`: when the reader closes the pipe,
    pytrace detaches at once and exits 0; the target, untraced and not
    stopped, finishes its work."""
    n = 10
    target = start_attach_target(python, tmp_path / "truth.json", n)
    try:
        tracer = attach(python, target.pid)
        send(target, "go")
        read_line(target.stdout, "phase1")
        read_until(tracer.stdout, "write(", "the first event")
        tracer.stdout.close()  # as head(1) does
        send(target, "go")  # more writes: pytrace's next output fails
        rc = wait_exit(tracer, "pytrace")
        err = tracer.stderr.read().decode()
        assert rc == EXIT_OK, err
        assert "cannot write" not in err, err
        read_line(target.stdout, "done")
        assert wait_exit(target, "the target") == 0
    finally:
        target.kill()
        target.wait()


# ---------------------------------------------------------------------------
# launch mode: signals, other processes, errors (system python suffices)

def system_python():
    if conftest.SYSTEM_ID not in conftest.INSTALLED:
        pytest.skip(conftest.skip_reason(conftest.SYSTEM_ID))
    return conftest.INSTALLED[conftest.SYSTEM_ID][0]


def test_closed_output_on_launched_command(tmp_path):
    """`pytrace stacks -- CMD | head`: the closed pipe ends tracing at once;
    the command, whose filter cannot run without pytrace, is killed, and
    pytrace says so in one line."""
    python = system_python()
    tracer = subprocess.Popen([harness.pytrace_path(), "stacks", "-e", "write", "-o", "/dev/stdout",
                               "--", python, "-c",
                               "import os\nwhile True: os.write(2, b'')"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        read_until(tracer.stdout, "write(2", "the first event")
        tracer.stdout.close()
        rc = wait_exit(tracer, "pytrace")
        err = tracer.stderr.read().decode()
        assert rc == 128 + signal.SIGKILL, err
        assert err.strip().splitlines()[-1] == (
            "pytrace: the output was closed: killed the command (its seccomp filter cannot run "
            "without pytrace)"), err
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()


def test_ctrl_c_on_launched_command(tmp_path):
    """SIGINT to pytrace: the command gets it too, the counts so far are printed,
    pytrace exits with the command's status and nothing is left behind."""
    python = system_python()
    n = 10
    tracer = subprocess.Popen([harness.pytrace_path(), "stacks", "-e", "write", "--count", "--json",
                               "-o", "/dev/stdout", "--", python, WRITER, "attach", str(n),
                               str(tmp_path / "truth.json")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              # A suite started in the background (CI) inherits SIGINT
                              # ignored, and so would the command: give it the default.
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # The command shares pytrace's stdout: the aggregation comes after.
        ready = read_line(tracer.stdout, "ready")
        target_pid = int(ready.split()[1])
        send(tracer, "go")
        read_line(tracer.stdout, "phase1")
        tracer.send_signal(signal.SIGINT)
        rc = wait_exit(tracer, "pytrace")
        out = tracer.stdout.read().decode()
        err = tracer.stderr.read().decode()
        aggregates = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        counted = sum(a["count"] for a in leaf_counts(aggregates, ("leaf", "t_leaf")))
        assert counted == 3 * n, out + err
        # Python dies of SIGINT (3.8+: 130) after KeyboardInterrupt.
        assert rc in (130, 1), "exit %d\n%s" % (rc, err)
        harness.poll_until(lambda: harness.task_state(target_pid) in (None, "Z"), 10,
                           "the command to be gone")
    finally:
        tracer.kill()
        tracer.wait()


def test_sigkill_of_pytrace_kills_launched_command(tmp_path):
    """Documented: a launched command dies with pytrace (its seccomp filter would
    otherwise fail the chosen calls with ENOSYS)."""
    python = system_python()
    tracer = subprocess.Popen([harness.pytrace_path(), "stacks", "-e", "write", "--count",
                               "--", python, WRITER, "attach", "1", str(tmp_path / "truth.json")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        target_pid = int(read_line(tracer.stdout, "ready").split()[1])
        tracer.kill()
        tracer.wait()
        harness.poll_until(lambda: harness.task_state(target_pid) in (None, "Z"), 10,
                           "the command to be killed")
    finally:
        tracer.kill()
        tracer.wait()


def test_non_python_process_native_stacks(tmp_path):
    """A non-Python command: native stacks, and a note saying why."""
    out = tmp_path / "out.json"
    result = stacks("-e", "write", "--json", "-o", out, "--", "/bin/echo", "hello")
    result.stdout = out.read_text()
    expect_exit(result, EXIT_OK)
    assert "not a Python process" in result.stderr, result.describe()
    events = [e for e in json_lines(result) if e["syscall"] == "write"]
    assert len(events) == 1 and events[0]["args"][1] == "hello\n", result.describe()
    ev = events[0]
    assert ev["python"] is False and ev["native"] is True
    assert any(f["kind"] == "native" and (f.get("module") or "").startswith("libc")
               for f in ev["frames"]), result.describe()


def test_no_seccomp_gives_same_events(tmp_path):
    """--no-seccomp (syscall stepping) reports the same writes with the same stacks."""
    python = system_python()
    truth_path = tmp_path / "truth.json"
    result = stacks("-e", "write", "--json", "--no-seccomp", "--", python, WRITER, "nested", 10,
                    truth_path)
    expect_exit(result, EXIT_OK)
    truth = load_truth(truth_path)
    mine = [e for e in json_lines(result) if e["args"][0] == truth["fd"]]
    check_events_match(mine, truth["writes"], result)


def test_classes_select_syscalls(tmp_path):
    """%file catches path calls (not write); %desc catches write."""
    python = system_python()
    result = stacks("-e", "%file", "--json", "--", python, WRITER, "files", 1, tmp_path / "t.json")
    expect_exit(result, EXIT_OK)
    names = set(e["syscall"] for e in json_lines(result))
    assert {"openat", "mkdir", "rmdir", "unlink", "rename"} <= names and "write" not in names, names
    result = stacks("-e", "%desc", "--count", "--json", "--", python, WRITER, "files", 1,
                    tmp_path / "t2.json")
    expect_exit(result, EXIT_OK)
    aggregates, summary = split_summary(json_lines(result))
    names = set(a["syscall"] for a in aggregates)
    assert {"write", "read", "close", "openat"} <= names, names
    assert set(r["syscall"] for r in summary["syscalls"]) == names


def test_errors_one_line_and_exit_code(tmp_path):
    bad = stacks("-e", "wrte", "--", "/bin/true")
    expect_exit(bad, EXIT_USAGE)
    assert "wrte" in expect_error_line(bad)

    usage = stacks("-e", "write")
    expect_exit(usage, EXIT_USAGE)
    expect_error_line(usage)

    missing = stacks("-e", "write", "--", "no-such-command-pytrace")
    expect_exit(missing, 127)
    assert "not found" in expect_error_line(missing)

    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    noexec = stacks("-e", "write", "--", str(plain))
    expect_exit(noexec, 126)
    expect_error_line(noexec)

    dead = subprocess.Popen(["/bin/true"])
    dead.wait()
    gone = stacks("-e", "write", "-p", dead.pid)
    expect_exit(gone, EXIT_NO_PROCESS)
    expect_error_line(gone)

    killed = stacks("-e", "write", "--", "/bin/sh", "-c", "kill -SEGV $$")
    assert killed.returncode == 128 + signal.SIGSEGV, killed.describe()
    assert "killed by SIGSEGV" in expect_error_line(killed)


def test_permission_error(tmp_path):
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        pytest.skip("needs root and setpriv to run pytrace as another user")
    target = subprocess.Popen(["/bin/sleep", "30"])
    try:
        result = run_pytrace(["stacks", "-e", "write", "-p", target.pid],
                             prefix=[setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                     "--inh-caps=-all", "--bounding-set=-all"])
        expect_exit(result, EXIT_PERMISSION)
        expect_error_line(result)
    finally:
        target.kill()
        target.wait()
