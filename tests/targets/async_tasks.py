# SPDX-License-Identifier: MIT
"""An asyncio target for `pytrace dump --tasks`: a tree of 24 tasks in known
states (running, sleeping, awaiting another task, awaiting a future,
waiting on an Event, gathered children, finished, cancelled). Once they are
all parked, the running task writes asyncio.all_tasks() and each task's
await chain (cr_await, computed here) as JSON to argv[1], then blocks the
loop in os.read() on stdin on the same line, so that its own line is true
too. Runs on 3.7+."""
import asyncio
import json
import os
import sys


def type_name(obj):
    return {"module": type(obj).__module__, "name": type(obj).__name__}


def chain(coro):
    out, awaits = [], None
    while coro is not None:
        if not (asyncio.iscoroutine(coro) or hasattr(coro, "gi_frame")):
            awaits = type_name(coro)
            break
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        code = frame.f_code
        out.append({"function": getattr(code, "co_qualname", code.co_name),
                    "file": code.co_filename, "line": frame.f_lineno})
        coro = getattr(coro, "cr_await", None) if hasattr(coro, "cr_await") else coro.gi_yieldfrom
    out.reverse()  # innermost first, as pytrace prints stacks
    return out, awaits


def truth(path, me, done):
    """asyncio.all_tasks() (which leaves out finished tasks), and the done
    tasks this program still holds, which asyncio's registry keeps too."""
    tasks = []
    all_tasks = asyncio.all_tasks() if sys.version_info >= (3, 7) else set()
    for t in list(all_tasks) + [t for t in done if t not in all_tasks]:
        frames, awaits = chain(t.get_coro() if hasattr(t, "get_coro") else t._coro)
        waiter = getattr(t, "_fut_waiter", None)
        if waiter is None:
            waits_for = []
        elif isinstance(waiter, asyncio.Task):
            waits_for = [id(waiter)]
        else:
            waits_for = [id(c) for c in getattr(waiter, "_children", [])
                         if isinstance(c, asyncio.Task)]
        state = ("running" if t is me else "cancelled" if t.cancelled()
                 else "finished" if t.done() else "pending")
        tasks.append({"name": name_of(t), "address": id(t), "state": state,
                      "in_all_tasks": t in all_tasks,
                      "frames": frames, "awaits": awaits, "waits_for": waits_for,
                      "waiter": type_name(waiter) if waiter is not None else None})
    with open(path + ".tmp", "w") as out:
        json.dump({"pid": os.getpid(), "version": list(sys.version_info[:3]), "tasks": tasks}, out)
    os.rename(path + ".tmp", path)


# A name that breaks line-based output unless escaped.
ODD_NAME = 'on-event\t"odd"\nname\\'


def spawn(coro, name):
    loop = asyncio.get_event_loop()
    if sys.version_info >= (3, 8):
        return loop.create_task(coro, name=name)
    return loop.create_task(coro)  # 3.7: tasks have no names


def name_of(task):
    return task.get_name() if hasattr(task, "get_name") else None


async def nap(depth):
    if depth:
        await nap(depth - 1)
    else:
        await asyncio.sleep(3600)


async def sleeper(depth):
    await nap(depth)


async def on_future(fut):
    await fut


async def on_task(task):
    await task


async def on_event(event):
    await event.wait()


async def child(i, fut):
    if i % 2:
        await on_future(fut)
    else:
        await nap(i % 3)


async def parent(futs):
    kids = [spawn(child(i, futs[i]), "child-%d" % i) for i in range(len(futs))]
    await asyncio.gather(*kids)


async def quick():
    return 1


async def main(path):
    loop = asyncio.get_event_loop()
    me = asyncio.current_task()
    futs = [loop.create_future() for _ in range(8)]
    keep = []
    for i in range(4):
        keep.append(spawn(sleeper(i), "sleeper-%d" % i))
    for i in range(3):
        keep.append(spawn(on_future(futs[i]), "on-future-%d" % i))
    targets = [spawn(on_future(futs[3 + i]), "target-%d" % i) for i in range(2)]
    keep += targets
    for i, t in enumerate(targets):
        keep.append(spawn(on_task(t), "on-task-%d" % i))
    keep.append(spawn(on_event(asyncio.Event()), ODD_NAME))
    keep.append(spawn(parent([loop.create_future() for _ in range(6)]), "gather"))
    done = spawn(quick(), "finished")
    cancelled = spawn(sleeper(0), "cancelled")
    keep += [done, cancelled]
    for _ in range(5):
        await asyncio.sleep(0)
    cancelled.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    truth(path, me, [done, cancelled]); os.read(0, 1)  # noqa: E702 (one line: the truth's line)
    for t in keep:
        t.cancel()


asyncio.run(main(sys.argv[1]))
