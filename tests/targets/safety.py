# SPDX-License-Identifier: MIT
"""Target for the kill-anywhere tests: keeps computing while pytrace is killed at it.

usage: safety.py READY_FD PROFILEFUNC_OFFSET EVAL_FRAME_OFFSET [DENY]

DENY: system call numbers, comma-separated, that a seccomp filter the
target installs first (as systemd's SystemCallFilter= does) answers by
killing the process (SECCOMP_RET_KILL_PROCESS).

Runs a busy thread (calls work() forever, counting), a thread blocked in
read(2) on a pipe nobody writes to, and a main thread that answers
commands on stdin (one per line) on stdout:

  ping N    -> "pong SUM COUNT BLOCKED HOOKS": SUM = work() summed over
               range(N) (N*(N+1)/2 if the interpreter computes right), COUNT
               the busy thread's calls so far, BLOCKED how many reads the
               blocked thread completed, HOOKS what pytrace must leave as
               it found: every thread state's c_profilefunc (at
               PROFILEFUNC_OFFSET, from pytrace's offset tables), the
               interpreter's PEP 523 eval-frame slot (EVAL_FRAME_OFFSET, -1:
               none) and the sys.monitoring tools in use (3.12+), as JSON.
  wake      -> writes one byte to the blocked thread's pipe; its read
               completes, it answers "woke BYTE" and blocks again.
  lie       -> as a hostile target would: sets the head of pytrace's ring
               (mapped as memfd:pytrace-flow) far past its tail and keeps
               it there for half a second (the busy thread parked);
               answers "lied".

Writes "ready\\n" to READY_FD once the threads run. EOF on stdin ends it.
Runs unchanged on CPython 2.7 and 3.6+.
"""

import ctypes
import json
import os
import sys
import threading
import time

count = [0]
blocked_reads = [0]


def work(i):
    return i + 1


hold = [False]     # lie(): the busy thread parks, recording no event
parked = [False]


def busy():
    n = 0
    while True:
        if hold[0]:
            parked[0] = True
            while hold[0]:
                time.sleep(0.001)   # no Python call: no event
            parked[0] = False
        n = work(n)
        count[0] = n


def blocked(fd):
    while True:
        b = os.read(fd, 1)   # blocks: nobody writes unless asked ("wake")
        blocked_reads[0] += 1
        say("woke %r" % (b,))


def say(line):
    os.write(1, (line + "\n").encode())


def hooks(profile_off, eval_off):
    api = ctypes.pythonapi
    api.PyInterpreterState_Head.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
    api.PyThreadState_Next.restype = ctypes.c_void_p
    api.PyThreadState_Next.argtypes = [ctypes.c_void_p]
    interp = api.PyInterpreterState_Head()
    profile = []
    ts = api.PyInterpreterState_ThreadHead(interp)
    while ts:
        profile.append(ctypes.c_void_p.from_address(ts + profile_off).value or 0)
        ts = api.PyThreadState_Next(ts)
    ev = (ctypes.c_void_p.from_address(interp + eval_off).value or 0) if eval_off >= 0 else 0
    tools = []
    mon = getattr(sys, "monitoring", None)
    if mon is not None:
        tools = [mon.get_tool(i) for i in range(6)]
    return {"profile": sorted(profile), "eval_frame": ev, "tools": tools}


def deny(numbers):
    """A seccomp filter: kill the process on any of these x86_64 calls."""
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    insns = [(0x20, 0, 0, 0)]                     # ld [0] (nr)
    for i, nr in enumerate(numbers):
        insns.append((0x15, 0, 1, nr))            # jeq nr ? next : skip one
        insns.append((0x06, 0, 0, 0x80000000))    # ret KILL_PROCESS
    insns.append((0x06, 0, 0, 0x7fff0000))        # ret ALLOW
    raw = b"".join(struct.pack("HBBI", *i) for i in insns)
    buf = ctypes.create_string_buffer(raw, len(raw))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    prog = Prog(len(insns), ctypes.addressof(buf))
    if libc.prctl(38, 1, 0, 0, 0) != 0:              # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def lie():
    with open("/proc/self/maps") as f:
        start = [int(l.split("-")[0], 16) for l in f if "memfd:pytrace-flow" in l][0]
    head = ctypes.c_uint64.from_address(start + 64)   # struct pt_ring_header.head
    usleep = ctypes.PyDLL(None).usleep
    # Only this thread may record events meanwhile (an event's commit
    # would put head right again): the busy thread parks, the blocked one
    # is in read(2), and from the write to the end of the sleep this thread
    # makes no Python call. (Holding the GIL instead, with a huge switch
    # interval, could starve this thread behind the busy one for good.)
    hold[0] = True
    while not parked[0]:
        time.sleep(0.001)
    head.value = 1 << 62
    usleep(500000)                # pytrace sees it meanwhile
    hold[0] = False


def main():
    ready = int(sys.argv[1])

    profile_off, eval_off = int(sys.argv[2]), int(sys.argv[3])
    r, w = os.pipe()
    if len(sys.argv) > 4:   # after the pipe, before the threads (they inherit it)
        deny([int(n) for n in sys.argv[4].split(",")])
    for target, args in ((busy, ()), (blocked, (r,))):
        t = threading.Thread(target=target, args=args)
        t.daemon = True
        t.start()
    while count[0] == 0:
        pass
    os.write(ready, b"ready\n")
    buf = b""
    while True:
        data = os.read(0, 4096)
        if not data:
            os._exit(0)
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            words = line.decode().split()
            if words[0] == "ping":
                n = int(words[1])
                total = 0
                for i in range(n):
                    total += work(i)
                say("pong %d %d %d %s" % (total, count[0], blocked_reads[0],
                                          json.dumps(hooks(profile_off, eval_off),
                                                     sort_keys=True)))
            elif words[0] == "wake":
                os.write(w, b"x")
            elif words[0] == "lie":
                lie()
                say("lied")


if __name__ == "__main__":
    main()
