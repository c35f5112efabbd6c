"""Bytes per parked waiter: one measurement for every limiter, used by the benchmarks and the tests.

What is counted, the same way for each contender (asyncio, where all the peers run):

* ``waiters`` tasks are made with ``asyncio.ensure_future(park())``: the cheapest task there is,
  wrapping the limiter's own ``acquire()`` coroutine directly (no task group, whose per-task
  bookkeeping, about 2.7 KB under anyio, would be the same for every contender and only blur the
  comparison);
* the event loop runs 10 rounds, so that every task has reached the point where it waits (its
  first step) and the loop has cleaned up what that left behind (cancelled timer handles);
* the figure is the growth of the traced heap (``tracemalloc``: every Python allocation, whatever
  its size) from before the tasks were made to then, divided by ``waiters``: the task, its
  coroutines and frames, and whatever the limiter keeps per waiter;
* it is measured three times and the least is reported: the first passes pay for what a process
  does once or now and then (lazy imports; growing, or rehashing after the last crowd died,
  asyncio's weak set of tasks), which would otherwise be charged to whichever contender happens
  to be measured first.

``PARKED_TASK`` parks on one shared future: what any waiting task costs, limiter or not. A
contender's own share is its figure minus that one.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["PARKED_TASK", "PASSES", "SETTLE_ROUNDS", "bytes_per_parked_waiter", "parked_task"]

PASSES = 3
"""Measurements made; the least is reported."""

SETTLE_ROUNDS = 10
"""Event loop rounds run before the heap is read."""

PARKED_TASK = "a task parked on a bare future"


def parked_task() -> Callable[[], Awaitable[Any]]:
    """A ``park`` that waits on one shared future and nothing else (the baseline)."""
    holder: list[asyncio.Future[None]] = []

    async def park() -> None:
        if not holder:
            holder.append(asyncio.get_running_loop().create_future())
        await holder[0]

    return park


async def bytes_per_parked_waiter(park: Callable[[], Awaitable[Any]], waiters: int) -> float:
    """Traced bytes per task parked in ``park()`` (see the module docstring); ``park`` must wait."""
    least = float("inf")
    for _ in range(PASSES):  # the first passes pay for one-off costs: the least is the figure
        gc.collect()
        tracemalloc.start()
        tasks: list[asyncio.Future[Any]] = []
        try:
            before = tracemalloc.get_traced_memory()[0]
            tasks = [asyncio.ensure_future(park()) for _ in range(waiters)]
            for _ in range(SETTLE_ROUNDS):
                await asyncio.sleep(0)
            least = min(least, tracemalloc.get_traced_memory()[0] - before)
        finally:
            tracemalloc.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return least / waiters
