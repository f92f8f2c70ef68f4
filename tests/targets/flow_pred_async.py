# SPDX-License-Identifier: MIT
"""tests/targets/flow_pred.py's coroutine (3.5+ syntax, imported only there)."""

import flow_pred_lib


class Step(object):
    """An awaitable that suspends its coroutine once."""

    def __await__(self):
        yield "step"
        return flow_pred_lib.lib_leaf(1)


async def coro(n):
    total = 0
    for _ in range(n):
        total += await Step()
    return total
