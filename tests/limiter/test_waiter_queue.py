"""The local waiter queue both limiters share (smsapi_async/_waiters.py), pinned for each of them.

Every test runs against :class:`RateLimiter` and against :class:`RedisRateLimiter` on a real
redis-server (the ``redis_url`` fixture): strict FIFO whoever cancels and whenever, one timer for a
crowd, waiters of a dead event loop never blocking a later run, a second running loop refused at
once. The queue is held still by a pause whose sleep only ends when the test opens the clock, so
the order of events is the test's, not the machine's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from benchmarks._memory import bytes_per_parked_waiter
from smsapi_async import FakeClock, RateLimiter, RedisRateLimiter, SystemClock
from smsapi_async._clock import Clock

pytestmark = pytest.mark.anyio

AnyLimiter = RateLimiter | RedisRateLimiter
MakeLimiter = Callable[..., AnyLimiter]


@pytest.fixture(params=["RateLimiter", "RedisRateLimiter"])
def make_limiter(request: pytest.FixtureRequest) -> MakeLimiter:
    """Builds the limiter under test: ``make_limiter(rate, clock=None)``."""
    if request.param == "RateLimiter":

        def local(rate: float, clock: Clock | None = None) -> AnyLimiter:
            return RateLimiter(rate, clock=clock)

        return local
    url: str = request.getfixturevalue("redis_url")

    def shared(rate: float, clock: Clock | None = None) -> AnyLimiter:
        return RedisRateLimiter(url, key="test-" + uuid.uuid4().hex[:12], rate=rate, clock=clock)

    return shared


class HeldClock(SystemClock):
    """Time stands still and every sleep waits until the test calls :meth:`release`; from then on
    real time runs on from where it stood. However slowly the machine runs the test, no pause ends
    and no grant falls due before the release."""

    def __init__(self) -> None:
        self.held_at = super().now()
        self.released_at: float | None = None
        self.event: anyio.Event | None = None

    def now(self) -> float:
        if self.released_at is None:
            return self.held_at
        return self.held_at + super().now() - self.released_at

    def release(self) -> None:
        self.released_at = super().now()
        if self.event is not None:
            self.event.set()

    async def sleep(self, seconds: float) -> None:
        if self.released_at is None:
            if self.event is None:
                self.event = anyio.Event()
            await self.event.wait()
        await super().sleep(seconds)


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(10):
        while not condition():
            await anyio.lowlevel.checkpoint()


class Crowd:
    """Callers of one limiter, each in its own cancel scope, recording the order they are granted in."""

    def __init__(self, limiter: AnyLimiter, tg: anyio.abc.TaskGroup) -> None:
        self.limiter, self.tg = limiter, tg
        self.order: list[str] = []
        self.scopes: dict[str, anyio.CancelScope] = {}
        self.then: dict[str, Callable[[], None]] = {}  # run right after a caller's grant, same tick

    async def arrive(self, *names: str) -> None:
        """Each caller in turn starts and is queued before the next one starts."""
        for name in names:
            queued = self.limiter.waiting + 1
            self.tg.start_soon(self.one, name)
            await until(lambda queued=queued: self.limiter.waiting == queued)  # type: ignore[misc]

    async def one(self, name: str) -> None:
        with anyio.CancelScope() as scope:
            self.scopes[name] = scope
            await self.limiter.acquire()
            self.order.append(name)
            if name in self.then:
                self.then[name]()


async def test_waiters_are_served_in_arrival_order_whoever_cancels(make_limiter: MakeLimiter) -> None:
    clock = HeldClock()
    limiter = make_limiter(200, clock=clock)
    limiter.pause(0.01)  # the head sleeps on the held clock: nobody is granted until released
    async with anyio.create_task_group() as tg:
        crowd = Crowd(limiter, tg)
        await crowd.arrive(*"0123456789")
        for name in "02379":  # the head, two in a row, one in the middle, the last
            crowd.scopes[name].cancel()
        await until(lambda: limiter.waiting == 5)
        await crowd.arrive("newcomer")  # goes to the back
        clock.release()
    assert crowd.order == [*"14568", "newcomer"]
    assert limiter.waiting == 0


async def test_a_waiter_cancelled_in_the_tick_of_its_promotion_passes_its_place_on(
    make_limiter: MakeLimiter,
) -> None:
    clock = HeldClock()
    limiter = make_limiter(200, clock=clock)
    limiter.pause(0.01)
    async with anyio.create_task_group() as tg:
        crowd = Crowd(limiter, tg)
        crowd.then["A"] = lambda: crowd.scopes["B"].cancel()  # noqa: PLW0108 (no scope "B" yet)
        await crowd.arrive(*"ABC")
        clock.release()
    assert crowd.order == ["A", "C"]  # B was made the head by A's grant, and cancelled before it ran
    assert limiter.waiting == 0


async def test_a_crowd_waits_behind_one_timer_and_leaves_nothing_behind(make_limiter: MakeLimiter) -> None:
    clock = FakeClock()
    limiter = make_limiter(2, clock=clock)
    limiter.pause(3600)
    async with anyio.create_task_group() as tg:
        for _ in range(2_000):
            tg.start_soon(limiter.acquire)
        await until(lambda: limiter.waiting == 2_000)
        await clock.settle()
        assert clock.sleepers == 1  # the head only
        tg.cancel_scope.cancel()
    assert limiter.waiting == 0
    await clock.advance(3600)
    assert clock.sleepers == 0


@pytest.mark.parametrize("later_backend", ["asyncio", "trio"])
def test_waiters_of_a_closed_event_loop_never_block_a_later_run(
    make_limiter: MakeLimiter, later_backend: str
) -> None:
    limiter = make_limiter(20)
    limiter.pause(0.3)
    loop = asyncio.new_event_loop()
    stranded = [loop.create_task(limiter.acquire()) for _ in range(3)]  # kept alive: no GC cleans up
    loop.run_until_complete(asyncio.sleep(0.05))
    loop.close()  # its waiters will never run again
    assert limiter.waiting == 3

    async def later() -> None:
        with anyio.fail_after(10):
            await limiter.acquire()

    anyio.run(later, backend=later_backend)
    assert limiter.waiting == 0
    assert not any(task.done() for task in stranded)
    for task in stranded:  # what garbage collection would do to them, now rather than in a later test
        with contextlib.suppress(RuntimeError):  # a cancel scope cannot exit without its loop
            task.get_coro().close()  # type: ignore[union-attr]
    assert limiter.waiting == 0


def test_a_head_whose_stopped_loop_resumes_after_a_takeover_refuses_to_go_on(
    make_limiter: MakeLimiter,
) -> None:
    limiter = make_limiter(20)
    limiter.pause(0.3)
    loop = asyncio.new_event_loop()
    try:
        head = loop.create_task(limiter.acquire())
        loop.run_until_complete(asyncio.sleep(0.05))  # it waits; then the loop stops (not closed)
        assert limiter.waiting == 1

        async def later() -> None:
            with anyio.fail_after(10):
                await limiter.acquire()

        anyio.run(later, backend="trio")  # takes the limiter over: the other loop is not running
        with pytest.raises(RuntimeError, match="taken over by another event loop"):
            loop.run_until_complete(asyncio.wait_for(head, 10))
        assert limiter.waiting == 0
    finally:
        loop.close()


PAUSE = 2.0
"""The other loop's pause: half of it is a bound on starting an event loop that no busy machine misses."""


@pytest.mark.parametrize(
    ("theirs", "ours"), [("asyncio", "asyncio"), ("trio", "asyncio"), ("asyncio", "trio")]
)
def test_a_second_running_loop_in_another_thread_is_refused_at_once(
    make_limiter: MakeLimiter, theirs: str, ours: str
) -> None:
    limiter = make_limiter(20)
    queued = threading.Event()
    done: list[str] = []

    def other_thread() -> None:
        async def main() -> None:
            limiter.pause(PAUSE)
            async with anyio.create_task_group() as tg:
                tg.start_soon(limiter.acquire)  # the head: sleeps through the pause in this loop
                await until(lambda: limiter.waiting == 1)
                queued.set()
            done.append("granted")

        anyio.run(main, backend=theirs)

    thread = threading.Thread(target=other_thread)
    thread.start()
    assert queued.wait(10)

    async def ours_too() -> None:
        with anyio.fail_after(5):
            await limiter.acquire()

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="another running event loop"):
        anyio.run(ours_too, backend=ours)
    assert time.monotonic() - started < PAUSE / 2  # at once (milliseconds), not after the pause
    thread.join(10)
    assert done == ["granted"]  # the other loop's caller was not stranded either
    assert limiter.waiting == 0


def test_a_trio_guest_run_on_the_asyncio_loop_is_refused_not_mistaken_for_it(
    make_limiter: MakeLimiter,
) -> None:
    """Trio in guest mode runs its tasks inside the asyncio loop's thread and callbacks, where
    asyncio's own "running loop" is the host's: the queue must still see a trio caller (the
    library sniffio reads in its task differs) and refuse it, not queue it among asyncio tasks."""
    trio = pytest.importorskip("trio")
    limiter = make_limiter(20)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        limiter.pause(PAUSE)
        head = asyncio.ensure_future(limiter.acquire())  # an asyncio caller queued first
        await until(lambda: limiter.waiting == 1)
        finished: asyncio.Future[object] = loop.create_future()

        async def guest() -> None:
            with trio.fail_after(5):
                await limiter.acquire()

        trio.lowlevel.start_guest_run(
            guest,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=finished.set_result,
        )
        started = time.monotonic()
        outcome = await asyncio.wait_for(finished, 10)
        with pytest.raises(RuntimeError, match="another running event loop"):
            outcome.unwrap()  # type: ignore[attr-defined]
        assert time.monotonic() - started < PAUSE / 2  # at once, not after the pause
        assert limiter.waiting == 1  # the asyncio caller still holds its place
        assert not head.done()
        head.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await head

    asyncio.run(main())
    assert limiter.waiting == 0


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # where aiolimiter runs
async def test_a_parked_waiter_holds_no_more_memory_than_with_aiolimiter(make_limiter: MakeLimiter) -> None:
    # the same quantity as benchmarks.peers.crowd: traced bytes per asyncio task parked in acquire
    aiolimiter = pytest.importorskip("aiolimiter")
    ours = make_limiter(2, clock=FakeClock())  # virtual time: nothing is granted while we look
    ours.pause(3600)
    theirs = aiolimiter.AsyncLimiter(1, 3600)
    await theirs.acquire()
    assert await bytes_per_parked_waiter(ours.acquire, 5_000) <= await bytes_per_parked_waiter(
        theirs.acquire, 5_000
    )
