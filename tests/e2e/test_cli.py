# SPDX-License-Identifier: MIT
"""The command line as strace, py-spy and DTrace users expect it (issue 13).

Parsing (no abbreviations, -p everywhere, one -c splitter, one-line usage
errors), where the trace goes (stderr with a command, live -o), less by
default (--depth, collapsed recursion, children only with -f), stacks' time
(-T, <unfinished ...>), --count's order and totals, detach confirmed, flow's
line format, help and packaging. Real binary, real interpreters.
"""

import json
import os
import re
import signal
import subprocess
import sys

import pytest

import conftest
import harness
from harness import EXIT_OK, EXIT_USAGE, expect_error_line, expect_exit, poll_until, run_pytrace

WRITER = str(harness.REPO / "tests" / "targets" / "writer.py")
LOOP = str(harness.REPO / "tests" / "targets" / "flow_loop.py")
WAIT = 60


@pytest.fixture
def python(python_id):
    return conftest.INSTALLED[python_id][0]


def unused_pid():
    pid = 4000000
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


def read_line(stream, what, timeout=WAIT):
    """One line from a pipe, or a failure after timeout (never a hang)."""
    import select
    import time
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream.fileno()], [], [], left)[0]:
            pytest.fail("timed out waiting for %s (got %r)" % (what, buf))
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            break
        buf += chunk
    return buf


def script(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------------------
# 1. Parsing

@pytest.mark.parametrize("args", [
    ["flow", "--duration", "10", "-p", "1"],
    ["flow", "--json", "--func", "work", "-p", "1"],
    ["stacks", "-e", "write", "--cou", "--", "/bin/true"],
    ["stacks", "-e", "write", "--fold", "-p", "1"],
    ["dump", "--nat", "1"],
], ids=["flow-duration", "flow-func", "stacks-cou", "stacks-fold", "dump-nat"])
def test_long_options_are_not_abbreviated(pytrace, args):
    """The py-spy habit `--duration 10` is not read as --durations then
    "10" as the program: one usage line, exit 2, naming the real option."""
    result = run_pytrace(args)
    expect_exit(result, EXIT_USAGE)
    line = expect_error_line(result)
    given = [a for a in args if a.startswith("--") and a != "--json"][0]
    assert "spelled in full" in line and "'%s'" % given in line, line


def test_dump_takes_p_pid_and_several(python_id, target, pytrace, tmp_path):
    """dump PID, dump -p PID, dump --pid PID and -p A,B (two processes)."""
    ready_r, ready_w = os.pipe()
    other = subprocess.Popen([conftest.INSTALLED[python_id][0], "-c",
                              "import os, sys\nos.write(%d, b'r')\nsys.stdin.read()\n" % ready_w],
                             stdin=subprocess.PIPE, pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"r"
        positional = run_pytrace(["dump", target.pid])
        short = run_pytrace(["dump", "-p", target.pid])
        long_ = run_pytrace(["dump", "--pid", target.pid])
        for r in (positional, short, long_):
            expect_exit(r, EXIT_OK)
            assert r.stdout.startswith("Process %d: Python" % target.pid), r.describe()
        both = run_pytrace(["dump", "-p", "%d,%d" % (target.pid, other.pid)])
        expect_exit(both, EXIT_OK)
        heads = re.findall(r"^Process (\d+): Python", both.stdout, re.M)
        assert heads == [str(target.pid), str(other.pid)], both.describe()
    finally:
        os.close(ready_r)
        other.kill()
        other.wait()


@pytest.mark.parametrize("command", [["stacks", "-e", "write"], ["flow"]])
def test_several_pids_refused_clearly(pytrace, command):
    """stacks and flow trace one process: -p A -p B (and -p A,B) is refused,
    not silently narrowed to B."""
    a, b = unused_pid(), unused_pid() - 1
    for pids in (["-p", a, "-p", b], ["-p", "%d,%d" % (a, b)], ["--pid", a, "--pid", b]):
        result = run_pytrace(command + pids)
        expect_exit(result, EXIT_USAGE)
        assert "one process per run" in expect_error_line(result)


@pytest.mark.parametrize("args", [
    ["stacks", "--no-such-option", "-e", "write", "--", "/bin/true"],
    ["stacks", "-e"],
    ["stacks", "-e", "write", "-o", "/nonexistent/x", "--", "/bin/true"],
    ["flow", "-o", "/nonexistent/x", "--", "/bin/true"],
    ["stacks", "-e", "write", "-o", "/nonexistent/x", "-p", "1"],
    ["flow", "-o", "/nonexistent/x", "-p", "1"],
    ["dump", "--no-such-option", "1"],
    ["dump", "-p", "x"],
    ["flow", "-f", "--", "/bin/true"],
    ["help", "nothing"],
], ids=["stacks-unknown", "stacks-missing-arg", "stacks-o", "flow-o", "stacks-o-attach",
        "flow-o-attach", "dump-unknown", "dump-bad-pid", "flow-f", "help-unknown"])
def test_usage_errors_are_one_line_exit_2(pytrace, args):
    result = run_pytrace(args)
    expect_exit(result, EXIT_USAGE)
    expect_error_line(result)
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["stacks", "-e", "write"], ["flow"]])
def test_one_c_splitter(python_id, python, pytrace, command, tmp_path):
    """-c splits the same way in both commands: quotes and backslashes as sh,
    nothing expanded ($HOME is refused, not expanded by one and passed
    literally by the other)."""
    out = tmp_path / "trace"
    ok = run_pytrace(command + ["-o", out, "-c",
                                "%s -c 'import os; os.write(1, b\"a  b\\\\n\")' x\\ y" % python])
    expect_exit(ok, EXIT_OK)
    assert ok.stdout == "a  b\\n", ok.describe()
    for line in ("echo $HOME", "ls | wc", "true; true", "echo `id`"):
        bad = run_pytrace(command + ["-c", line])
        expect_exit(bad, EXIT_USAGE)
        assert "-- sh -c" in expect_error_line(bad)


# ---------------------------------------------------------------------------
# 2. Output

HELLO = "import os\nos.write(1, b'hello\\n')\ndef f():\n    return 1\nf()\n"


def test_launch_trace_goes_to_stderr(python_id, python, pytrace, tmp_path):
    """With a command, the program's stdout is its own; the trace is on stderr."""
    prog = script(tmp_path, "hello.py", HELLO)
    st = run_pytrace(["stacks", "-e", "write", "--", python, prog])
    expect_exit(st, EXIT_OK)
    assert st.stdout == "hello\n", st.describe()
    assert 'write(1, "hello\\n", 6) = 6' in st.stderr, st.describe()
    fl = run_pytrace(["flow", "--file", "hello.py", "--", python, prog])
    expect_exit(fl, EXIT_OK)
    assert fl.stdout == "hello\n", fl.describe()
    assert re.search(r"^  -> f \(.*hello\.py:3\)$", fl.stderr, re.M), fl.describe()


BLOCK = ("import os, sys\n"
         "def waiting():\n"
         "    os.write(1, b'w\\n')\n"
         "    return os.read(0, 100)\n"
         "waiting()\n")


@pytest.mark.parametrize("command", ["stacks", "flow"])
def test_output_file_is_live(python_id, python, pytrace, tmp_path, command):
    """-o FILE holds each event while the program still runs (tail -f), and
    a SIGKILL of pytrace loses nothing written before."""
    prog = script(tmp_path, "block.py", BLOCK)
    out = tmp_path / "trace"
    args = (["stacks", "-e", "write"] if command == "stacks" else ["flow", "--file", "block.py"])
    tracer = subprocess.Popen([pytrace] + args + ["-o", str(out), "--", python, prog],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert read_line(tracer.stdout, "the program's w line") == b"w\n"
        want = 'write(1, "w\\n", 2) = 2' if command == "stacks" else "-> waiting ("
        poll_until(lambda: want in out.read_text(), 10, "%r in the -o file while running" % want)
        tracer.kill()
        tracer.wait()
        assert want in out.read_text()
    finally:
        if tracer.poll() is None:
            tracer.kill()
        tracer.wait()
        tracer.stdin.close()
        tracer.stdout.close()
        tracer.stderr.close()


def test_depth_limits_stacks(python_id, target, pytrace):
    """--depth N: dump and stacks print the N innermost frames (jstack(N))."""
    full = run_pytrace(["dump", "--json", target.pid])
    cut = run_pytrace(["dump", "--json", "--depth", "2", target.pid])
    expect_exit(full, EXIT_OK)
    expect_exit(cut, EXIT_OK)
    full_threads = {t["tid"]: t for t in map(json.loads, full.stdout.splitlines())}
    for t in map(json.loads, cut.stdout.splitlines()):
        whole = full_threads[t["tid"]]["frames"]
        # (a spinning thread moves between lines from one dump to the next)
        assert [(f["function"], f["file"]) for f in t["frames"]] == \
            [(f["function"], f["file"]) for f in whole[:2]], (t, whole)
        assert t.get("more_frames", 0) == max(len(whole) - 2, 0)
    text = run_pytrace(["dump", "--depth", "1", target.pid])
    expect_exit(text, EXIT_OK)
    for block in text.stdout.split("\n\nThread ")[1:]:
        lines = block.splitlines()[1:]
        assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("  ... (")), block


RECURSE = ("import os\n"
           "def rec(n):\n"
           "    if n == 0:\n"
           "        return os.write(1, b'x')\n"
           "    return rec(n - 1)\n"
           "rec(29)\n")


def test_recursion_collapsed(python_id, python, pytrace, tmp_path):
    """29 identical frames print once and a count, as Python's traceback
    says "[Previous line repeated N more times]" (golden)."""
    prog = script(tmp_path, "recurse.py", RECURSE)
    out = tmp_path / "trace"
    result = run_pytrace(["stacks", "-e", "write", "-o", out, "--", python, prog])
    expect_exit(result, EXIT_OK)
    text = out.read_text()
    stack = text[text.index('write(1, "x", 1) = 1\n') + len('write(1, "x", 1) = 1\n'):]
    assert stack == ("  rec (%s:4)\n"
                     "  rec (%s:5)\n"
                     "  [previous frame repeated 28 more times]\n"
                     "  <module> (%s:6)\n") % (prog, prog, prog), text
    counted = run_pytrace(["stacks", "-e", "write", "--count", "-o", out, "--", python, prog])
    expect_exit(counted, EXIT_OK)
    assert "  rec (%s:5)\n  [previous frame repeated 28 more times]\n" % prog in out.read_text()


def test_children_followed_only_with_f(python_id, python, pytrace, tmp_path):
    """Without -f only the process itself (strace, py-spy); its forked child
    runs untouched (its writes succeed: it writes its truth). With -f both."""
    truth = tmp_path / "t.json"
    out = tmp_path / "trace"
    alone = run_pytrace(["stacks", "-e", "write", "--json", "-o", out, "--", python, WRITER,
                         "fork", 4, truth])
    expect_exit(alone, EXIT_OK)
    parent = json.loads(truth.read_text())["pid"]
    child = json.loads((tmp_path / "t.json.child").read_text())["pid"]
    events = [json.loads(l) for l in out.read_text().splitlines()]
    assert {e["pid"] for e in events} == {parent}, alone.describe()
    followed = run_pytrace(["stacks", "-f", "-e", "write", "--json", "-o", out, "--", python,
                            WRITER, "fork", 4, truth])
    expect_exit(followed, EXIT_OK)
    parent = json.loads(truth.read_text())["pid"]
    child = json.loads((tmp_path / "t.json.child").read_text())["pid"]
    pids = {json.loads(l)["pid"] for l in out.read_text().splitlines()}
    assert child in pids and parent in pids, followed.describe()


def test_shim_exec_noted(pytrace, tmp_path):
    """pyenv's python3 is a bash script that execs the real interpreter:
    pytrace follows the exec and says so."""
    shim = os.path.join(conftest._pyenv_root() or "/root/.pyenv", "shims", "python3")
    if not os.path.exists(shim):
        pytest.skip("no pyenv shim at %s" % shim)
    prog = script(tmp_path, "hello.py", HELLO)
    result = run_pytrace(["stacks", "-e", "write", "-o", tmp_path / "trace", "--", shim, prog])
    expect_exit(result, EXIT_OK)
    assert re.search(r"^pytrace: %s is a launcher: it executed \S*python\S*, which is traced"
                     % re.escape(shim), result.stderr, re.M), result.describe()
    assert 'write(1, "hello\\n", 6) = 6' in (tmp_path / "trace").read_text()


# ---------------------------------------------------------------------------
# 3. stacks: time, --count

def test_T_durations(python_id, python, pytrace, tmp_path):
    prog = script(tmp_path, "hello.py", HELLO)
    result = run_pytrace(["stacks", "-T", "-e", "write", "--", python, prog])
    expect_exit(result, EXIT_OK)
    # (on a loaded machine the write may outlast 100 ms: then it shows as
    # <unfinished ...> and its return apart, timed likewise)
    assert re.search(r' write\(1, "hello\\n", 6\) = 6 <\d+\.\d{6}>$', result.stderr, re.M) or (
        re.search(r' write\(1, "hello\\n", 6 <unfinished \.\.\.>$', result.stderr, re.M) and
        re.search(r' <\.\.\. write resumed>\) = 6 <\d+\.\d{6}>$', result.stderr, re.M)), \
        result.describe()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_blocked_call_shown_while_it_blocks(python_id, python, pytrace, tmp_path, fmt):
    """A read that blocks is printed (with its stack) while it blocks, and
    its return later: strace's <unfinished ...> / <... read resumed>."""
    prog = script(tmp_path, "block.py", BLOCK)
    out = tmp_path / "trace"
    opt = ["-T"] if fmt == "text" else ["--json"]
    tracer = subprocess.Popen([pytrace, "stacks", "-e", "read"] + opt +
                              ["-o", str(out), "--", python, prog],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert read_line(tracer.stdout, "the program's w line") == b"w\n"

        def unfinished():
            text = out.read_text()
            if fmt == "text":
                return re.search(r" read\(0, .* <unfinished \.\.\.>\n  waiting \(.*block\.py:4\)\n",
                                 text)
            for line in text.splitlines():
                e = json.loads(line)
                if e["event"] == "unfinished" and e["args"][0] == 0:
                    return e["return"] is None and e["frames"][0]["function"] == "waiting"
        poll_until(unfinished, 20, "the blocked read shown as unfinished")
        tracer.stdin.write(b"line\n")
        tracer.stdin.close()
        assert tracer.wait(WAIT) == 0
        text = out.read_text()
        if fmt == "text":
            assert re.search(r" <\.\.\. read resumed>\) = 5 <\d+\.\d{6}>$", text, re.M), text
        else:
            resumed = [json.loads(l) for l in text.splitlines()
                       if json.loads(l)["event"] == "resumed"]
            assert [e["return"] for e in resumed if e["args"][0] == 0] == [5], text
    finally:
        if tracer.poll() is None:
            tracer.kill()
        tracer.wait()
        tracer.stdout.close()
        tracer.stderr.close()


COUNTS = ("import os\n"
          "fd = os.open(os.devnull, os.O_WRONLY)\n"
          "def often():\n"
          "    os.write(fd, b'o')\n"
          "def seldom():\n"
          "    os.write(fd, b's')\n"
          "def bad():\n"
          "    try:\n"
          "        os.write(999, b'b')\n"
          "    except OSError:\n"
          "        pass\n"
          "for i in range(3):\n"
          "    often()\n"
          "seldom()\n"
          "bad()\n"
          "bad()\n")


def test_count_top_order_totals_and_table(python_id, python, pytrace, tmp_path):
    """--top N lists the most frequent first and says so; a totals line and
    strace -c's table follow (golden where the numbers are ours)."""
    prog = script(tmp_path, "counts.py", COUNTS)
    out = tmp_path / "trace"
    result = run_pytrace(["stacks", "-e", "write", "--count", "--top", "2", "-o", out, "--",
                          python, prog])
    expect_exit(result, EXIT_OK)
    text = out.read_text()
    head, table = text.split("% time", 1)
    assert head == ("# the 2 most frequent of 4 distinct stacks, most first\n\n"
                    "write\n  often (%s:4)\n  <module> (%s:13)\n  3\n\n"
                    "write\n  seldom (%s:6)\n  <module> (%s:14)\n  1\n\n"
                    "# 6 events, 4 distinct stacks, 2 errors\n\n" % ((prog,) * 4)), text
    assert head.endswith("# 6 events, 4 distinct stacks, 2 errors\n\n"), text
    rows = table.splitlines()
    assert rows[0] == "     seconds  usecs/call     calls    errors syscall", text
    assert re.match(r"^100\.00 +\d+\.\d{6} +\d+ +6 +2 write$", rows[2]), text
    assert re.match(r"^100\.00 +\d+\.\d{6} +\d+ +6 +2 total$", rows[4]), text
    folded = run_pytrace(["stacks", "-e", "write", "--folded", "--top", "2", "-o", out, "--",
                          python, prog])
    expect_exit(folded, EXIT_OK)
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and lines[0] == "<module> (%s:13);often (%s:4);write 3" % (prog, prog), \
        lines
    assert lines[1] == "<module> (%s:14);seldom (%s:6);write 1" % (prog, prog), lines
    assert "pytrace: 6 events, 4 distinct stacks, 2 errors; most frequent first" in folded.stderr


def test_count_json_frames_are_objects(python_id, python, pytrace, tmp_path):
    prog = script(tmp_path, "counts.py", COUNTS)
    out = tmp_path / "trace"
    result = run_pytrace(["stacks", "-e", "write", "--count", "--json", "-o", out, "--",
                          python, prog])
    expect_exit(result, EXIT_OK)
    objs = [json.loads(l) for l in out.read_text().splitlines()]
    stacks, summary = objs[:-1], objs[-1]
    often = [s for s in stacks if s["count"] == 3]
    assert len(often) == 1 and often[0]["frames"] == [
        {"kind": "python", "function": "often", "file": prog, "line": 4},
        {"kind": "python", "function": "<module>", "file": prog, "line": 13}], often
    assert summary["totals"]["events"] == 6 and summary["totals"]["stacks"] == 4
    assert summary["totals"]["errors"] == 2
    assert [(s["syscall"], s["calls"], s["errors"]) for s in summary["syscalls"]] == \
        [("write", 6, 2)]


# ---------------------------------------------------------------------------
# 4 and 6. Attaching: what it costs, detaching confirmed

def test_attach_cost_said_and_detach_confirmed(python_id, target, pytrace):
    tracer = subprocess.Popen([pytrace, "stacks", "-e", "rmdir", "-p", str(target.pid)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = read_line(tracer.stderr, "the attached line").decode()
        assert first.startswith("pytrace: attached to process %d" % target.pid), first
        cost = read_line(tracer.stderr, "the cost line", 10).decode()
        assert re.match(r"^pytrace: without a seccomp filter .* every system call of process %d "
                        r"now stops it: each costs about \d+ us more$" % target.pid, cost), cost
        tracer.send_signal(signal.SIGINT)
        out, err = tracer.communicate(timeout=WAIT)
        assert tracer.returncode == 0
        assert err.decode() == "pytrace: detached from %d; target running\n" % target.pid
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    target.assert_running("after stacks -p")


def test_flow_detach_confirmed(python_id, python, pytrace):
    ready_r, ready_w = os.pipe()
    loop = subprocess.Popen([python, LOOP, str(ready_w)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        assert os.read(ready_r, 6) == b"ready\n"
        tracer = subprocess.Popen([pytrace, "flow", "-o", os.devnull, "-p", str(loop.pid)],
                                  stderr=subprocess.PIPE)
        line = read_line(tracer.stderr, "the tracing line").decode()
        assert line.startswith("pytrace: tracing process %d" % loop.pid), line
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=WAIT)
        assert tracer.returncode == 0
        assert err.decode() == "pytrace: detached from %d; target running\n" % loop.pid
        assert loop.poll() is None
    finally:
        os.close(ready_r)
        loop.kill()
        loop.wait()


# ---------------------------------------------------------------------------
# 5. flow's lines

FLOW = ("import time\n"
        "def quick():\n"
        "    return 1\n"
        "def slow():\n"
        "    time.sleep(0.002)\n"
        "quick()\n"
        "slow()\n")


def test_flow_tid_and_duration_unit(python_id, python, pytrace, tmp_path):
    """--tid: the thread column on every line; --durations: one unit."""
    prog = script(tmp_path, "flowprog.py", FLOW)
    out = tmp_path / "trace"
    result = run_pytrace(["flow", "--tid", "--durations", "--file", "flowprog.py", "-o", out,
                          "--", python, prog])
    expect_exit(result, EXIT_OK)
    lines = out.read_text().splitlines()
    assert len(lines) >= 6, lines
    for line in lines:
        assert re.match(r"^\[\d+\] ", line), line
        if "<-" in line:
            assert re.search(r" \d+\.\d{3}us$", line), line


def test_flow_threaded_process_has_tid_from_first_line(python_id, python, pytrace):
    """A process with threads when pytrace attaches: [TID] on every line."""
    ready_r, ready_w = os.pipe()
    loop = subprocess.Popen([python, LOOP, str(ready_w)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        assert os.read(ready_r, 6) == b"ready\n"
        threads = len(os.listdir("/proc/%d/task" % loop.pid))
        tracer = subprocess.Popen([pytrace, "flow", "--function", "work", "-p", str(loop.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        read_line(tracer.stderr, "the tracing line")
        first = read_line(tracer.stdout, "the first line").decode()
        tracer.send_signal(signal.SIGINT)
        tracer.communicate(timeout=WAIT)
        if threads > 1:
            assert re.match(r"^\[\d+\] ", first), first
        else:
            assert first.startswith("-> work") or first.startswith("<- work"), first
    finally:
        os.close(ready_r)
        loop.kill()
        loop.wait()


# ---------------------------------------------------------------------------
# 7. help and packaging

@pytest.mark.parametrize("command", ["dump", "stacks", "flow"])
def test_help_command(pytrace, command):
    via_help = run_pytrace(["help", command])
    via_option = run_pytrace([command, "--help"])
    expect_exit(via_help, EXIT_OK)
    assert via_help.stdout == via_option.stdout
    assert via_help.stdout.startswith("usage: pytrace %s" % command)
    assert "-p PID" in via_help.stdout or "--pid PID" in via_help.stdout
    if command == "dump":
        for opt in ("--native", "--json", "--depth N", "--stats"):
            assert opt in via_help.stdout


def test_make_install_and_uninstall(tmp_path):
    dest = tmp_path / "root"
    env = dict(os.environ, MAKEFLAGS="")
    inst = subprocess.run(["make", "-s", "-C", str(harness.REPO), "install", "DESTDIR=%s" % dest,
                           "PREFIX=/opt/pt"], capture_output=True, env=env)
    assert inst.returncode == 0, inst.stderr
    binary = dest / "opt/pt/bin/pytrace"
    man = dest / "opt/pt/share/man/man1/pytrace.1"
    assert binary.is_file() and os.access(str(binary), os.X_OK)
    page = man.read_text()
    assert "EXAMPLES" in page and "rmdir,unlinkat" in page, page[:2000]
    for section in ("COMMAND: DUMP", "COMMAND: STACKS", "COMMAND: FLOW"):
        assert section in page
    assert re.search(r"(\\-|-){2}count", page) and re.search(r"(\\-|-){2}within", page)
    assert subprocess.run([str(binary), "--version"], capture_output=True).returncode == 0
    un = subprocess.run(["make", "-s", "-C", str(harness.REPO), "uninstall", "DESTDIR=%s" % dest,
                         "PREFIX=/opt/pt"], capture_output=True, env=env)
    assert un.returncode == 0, un.stderr
    assert not binary.exists() and not man.exists()


def test_flow_warns_of_names_that_never_ran(python_id, python, pytrace, tmp_path):
    """A misspelt --function or --within prints nothing at all: a warning
    at the end says so; a name that ran gets none."""
    prog = script(tmp_path, "flowprog.py", FLOW)
    out = tmp_path / "trace"
    result = run_pytrace(["flow", "--function", "quick", "--function", "quik", "--within",
                          "flowprog.py:slo", "-o", out, "--", python, prog])
    expect_exit(result, EXIT_OK)
    assert result.stderr.splitlines() == [
        "pytrace: warning: no function named 'quik' ran (--function matches the name, or "
        "Class.name, in full)",
        "pytrace: warning: no function named 'slo' in a file containing flowprog.py ran: "
        "--within printed nothing"], result.describe()
    fine = run_pytrace(["flow", "--function", "quick", "--within", "slow", "-o", out, "--",
                        python, prog])
    expect_exit(fine, EXIT_OK)
    assert fine.stderr == "", fine.describe()
