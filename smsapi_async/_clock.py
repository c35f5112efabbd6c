"""Clocks: the real monotonic one, and a virtual one for tests that must not sleep.

A clock is read with ``now()`` and waited on with ``await sleep(seconds)``. State kept by the
limiter uses ``time.monotonic()`` rather than the event loop's clock, so one limiter keeps its
schedule across consecutive ``anyio.run()`` calls (trio's loop clock starts at a random offset).
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Protocol, runtime_checkable

import anyio
import anyio.lowlevel
import sniffio

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What the limiter needs from time.

    A clock may also offer ``note_activity()``: :class:`~smsapi_async.RateLimiter` calls it each
    time it grants a queued caller (:class:`FakeClock` counts it as activity while it settles).
    """

    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock (returns at once for ``seconds <= 0``)."""
        ...


class SystemClock:
    """Real time: ``time.monotonic()`` and ``anyio.sleep``."""

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """Virtual time for tests: nothing really sleeps.

    ``await clock.sleep(s)`` parks the task until virtual time reaches ``now() + s``. Time moves
    only when the test says so, with ``await clock.advance(seconds)`` or ``await
    clock.run_until_idle()``. Works the same under asyncio and trio.

    Example::

        clock = FakeClock()
        limiter = RateLimiter(2, clock=clock)
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(limiter.acquire)
            await clock.run_until_idle()   # jumps from wake-up to wake-up until all are done
        assert clock.now() == pytest.approx(4 * limiter.interval)
    """

    __slots__ = ("_activity", "_now", "_seq", "_sleepers")

    QUIET_ROUNDS = 10
    """Scheduler rounds without clock activity after which asyncio tasks are taken as settled."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._activity = 0

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), event))
        self._activity += 1
        try:
            await event.wait()
        finally:
            self._activity += 1

    async def settle(self) -> None:
        """Let every task that can run do so, until all wait (on this clock or anything else).

        Under trio this is exact (``wait_all_tasks_blocked``). asyncio offers no cheap exact test
        (anyio's polls with 0.1 s real sleeps), so there it yields to the scheduler until
        :attr:`QUIET_ROUNDS` rounds pass in which no task started or finished sleeping on this
        clock and no limiter granted a queued caller (:meth:`note_activity`): enough for any chain
        of wake-ups that ends by sleeping on the clock or on an event.
        """
        if sniffio.current_async_library() == "trio":
            await anyio.wait_all_tasks_blocked()
            return
        quiet = 0  # (a limiter handing grants down its queue, one pass each, counts as activity)
        while quiet < self.QUIET_ROUNDS:
            before = self._activity
            await anyio.lowlevel.checkpoint()
            quiet = quiet + 1 if self._activity == before else 0

    def note_activity(self) -> None:
        """Count as activity on this clock: :meth:`settle` goes on while it happens. A limiter
        calls it as it grants a queued caller, since a chain of grants handed down a queue takes
        one pass of the scheduler each and may end in a new sleep."""
        self._activity += 1

    @property
    def sleepers(self) -> int:
        """How many tasks are parked in ``sleep`` (cancelled ones drop out on the next wake)."""
        return sum(1 for _, _, event in self._sleepers if not event.is_set())

    def next_deadline(self) -> float | None:
        """The earliest pending wake-up time, if any."""
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking every sleeper that falls due, in order."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, event = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            event.set()
            await self.settle()
        self._now = target
        await self.settle()

    async def run_until_idle(self, *, max_jumps: int = 1_000_000) -> None:
        """Jump to each next wake-up until no task is sleeping on this clock.

        Returns once everything that waits on this clock is done (tasks blocked on anything else,
        such as network I/O, are not waited for).
        """
        await self.settle()
        for _ in range(max_jumps):
            deadline = self.next_deadline()
            if deadline is None:
                return
            await self.advance(max(0.0, deadline - self._now))
        raise RuntimeError("FakeClock.run_until_idle: too many wake-ups; is something looping?")

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now:.6f}, sleepers={self.sleepers})"
