# SPDX-License-Identifier: MIT
# Prints where the C _asyncio module's Task and FutureIter keep their fields,
# one "field value" line each, for tools/gen-asyncio-offsets.
#
# _asyncio's structs live in Modules/_asynciomodule.c, which no installation
# ships, so the layout is observed on live objects of the interpreter that
# runs this: each field is the one word of the object that holds a value
# this script planted (the loop, the coroutine, the name, the awaited
# future); the state is the one int that differs as a task goes pending,
# cancelled, finished. Anything found zero or twice is an error: a table is
# written only from an unambiguous observation. Runs on 3.7+.
import asyncio
import ctypes
import sys
import sysconfig

WORD = ctypes.sizeof(ctypes.c_void_p)


def words(obj, size):
    raw = ctypes.string_at(id(obj), size)
    return [int.from_bytes(raw[i:i + WORD], "little") for i in range(0, size - WORD + 1, WORD)]


def ints(obj, size):
    raw = ctypes.string_at(id(obj), size)
    return [int.from_bytes(raw[i:i + 4], "little", signed=True) for i in range(0, size - 3, 4)]


def only(name, hits):
    if len(hits) != 1:
        sys.exit("asyncio-probe: %s found at %r, need exactly one offset" % (name, hits))
    return hits[0]


def mapped(addr, size):
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= addr and addr + size <= hi and line.split()[1].startswith("r"):
                return True
    return False


def old_dict_layout():
    keys = ["probe-key-%d" % i for i in range(5)]
    vals = [object() for _ in keys]
    d = dict(zip(keys, vals))
    cands = []
    for p in words(d, type(d).__basicsize__):
        if p % 8 == 0 and p > 65536 and mapped(p, 512):
            w = words_at(p, 512)
            if id(keys[0]) in w and id(vals[0]) in w:
                cands.append(w)
    w = only("dict keys object", cands) if len(cands) != 1 else cands[0]
    out = {}
    out["dk_size"] = only("dk_size", [i * WORD for i, v in enumerate(w[:8]) if v == 8])
    out["dk_nentries"] = only("dk_nentries", [i * WORD for i, v in enumerate(w[:8]) if v == 5])
    pos = lambda x: only("dict entry word", [i * WORD for i, v in enumerate(w) if v == x])
    h0, k0, v0, k1 = pos(hash(keys[0]) & (2 ** 64 - 1)), pos(id(keys[0])), pos(id(vals[0])), pos(id(keys[1]))
    start = min(h0, k0, v0)
    out["dk_indices"] = start - 8   # 8 one-byte indices for dk_size 8
    out["dke_size"], out["dke_key"], out["dke_value"] = k1 - k0, k0 - start, v0 - start
    return out


def words_at(addr, size):
    raw = ctypes.string_at(addr, size)
    return [int.from_bytes(raw[i:i + WORD], "little") for i in range(0, size - WORD + 1, WORD)]


def main():
    import _asyncio
    task_type = _asyncio.Task
    if asyncio.Task is not task_type:
        sys.exit("asyncio-probe: asyncio.Task is not the C _asyncio.Task")
    size = task_type.__basicsize__
    loop = asyncio.new_event_loop()
    fut = loop.create_future()

    async def waits(f):
        await f

    async def idle():
        pass

    coro = waits(fut)
    name = "probe-task-name-%d" % id(loop)
    if sys.version_info >= (3, 8):
        task = loop.create_task(coro, name=name)
    else:
        task = loop.create_task(coro)
    loop.run_until_complete(asyncio.sleep(0))   # task runs up to await fut
    w = words(task, size)
    off = {}
    off["task_size"] = size
    off["task_loop"] = only("task loop", [i * WORD for i, v in enumerate(w) if v == id(loop)])
    off["task_coro"] = only("task coro", [i * WORD for i, v in enumerate(w) if v == id(coro)])
    off["task_fut_waiter"] = only("task fut_waiter", [i * WORD for i, v in enumerate(w) if v == id(fut)])
    if sys.version_info >= (3, 8):
        off["task_name"] = only("task name", [i * WORD for i, v in enumerate(w) if v == id(task.get_name())])
    else:
        off["task_name"] = None

    # States: pending, cancelled, finished; two tasks each.
    def settle(kind):
        t = loop.create_task(waits(loop.create_future()) if kind == "pending" else idle())
        if kind == "cancelled":
            t.cancel()
        if kind != "pending":
            try:
                loop.run_until_complete(t)
            except asyncio.CancelledError:
                pass
        return t

    samples = {k: [settle(k), settle(k)] for k in ("pending", "cancelled", "finished")}
    for kind, ts in samples.items():
        for t in ts:
            if t.done() != (kind != "pending") or t.cancelled() != (kind == "cancelled"):
                sys.exit("asyncio-probe: a %s task is not %s" % (kind, kind))
    views = {k: [ints(t, size) for t in ts] for k, ts in samples.items()}
    cand = []
    for i in range(size // 4):
        vals = {k: {v[i] for v in vs} for k, vs in views.items()}
        if all(len(s) == 1 for s in vals.values()):
            p, c, f = (next(iter(vals[k])) for k in ("pending", "cancelled", "finished"))
            if len({p, c, f}) == 3 and all(0 <= x < 8 for x in (p, c, f)):
                cand.append((i * 4, p, c, f))
    st = only("task state", cand)
    off["task_state"], off["state_pending"], off["state_cancelled"], off["state_finished"] = st

    # 3.14+: tasks are linked into their thread's list by task_node (an
    # llist_node {next, prev}): the second of two new tasks points back at
    # the first's node, which points on at the second's.
    if sys.version_info >= (3, 14):
        a, b = loop.create_task(idle()), loop.create_task(idle())
        wa, wb = words(a, size), words(b, size)
        off["task_node"] = only("task node", [
            i * WORD for i in range(len(wb) - 1)
            if wb[i + 1] == id(a) + i * WORD and wa[i] == id(b) + i * WORD])
        loop.run_until_complete(asyncio.gather(a, b))
    else:
        off["task_node"] = None

    # <=3.10: the dict keys layout (Objects/dict-common.h, not installed):
    # a fresh 5-key dict has dk_size 8 and dk_nentries 5, and its entries
    # hold each key's hash, key and value.
    if sys.version_info < (3, 11):
        off.update(old_dict_layout())
    else:
        for k in ("dk_size", "dk_nentries", "dk_indices", "dke_size", "dke_key", "dke_value"):
            off[k] = None

    it = fut.__await__()
    isize = type(it).__basicsize__
    off["futureiter_size"] = isize
    off["futureiter_future"] = only("FutureIter future",
                                    [i * WORD for i, v in enumerate(words(it, isize)) if v == id(fut)])
    fut.set_result(None)
    loop.run_until_complete(task)
    for ts in samples["pending"]:
        ts.cancel()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()

    ft = 1 if sysconfig.get_config_var("Py_GIL_DISABLED") else 0
    dbg = 1 if hasattr(sys, "gettotalrefcount") else 0
    print("flavour %d %d %d %d" % (sys.version_info[0], sys.version_info[1], ft, dbg))
    print("version %d.%d.%d" % sys.version_info[:3])
    for k, v in off.items():
        print("%s %s" % (k, "PYV_NONE" if v is None else v))


main()
