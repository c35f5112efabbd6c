"""Priority lanes and queue deadlines of the limiters, on a fake clock.

Measured on the previous limiter at 2 calls/s: an OTP sent while 40 ordinary sends were queued
waited 21 s (strict arrival order). Here: the window is never exceeded whatever the lanes; a higher
lane's caller never waits behind a lower one except for the starvation guard's one grant in
``LANE_SHARE``; arrival order holds within a lane; a caller with ``max_wait`` is granted in time or
refused, never late; an interactive caller goes within one interval whatever is queued.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsapi_async import LANE_SHARE, FakeClock, InvalidRequestError, QueueTimeoutError, RateLimiter
from smsapi_async._lanes import PRIORITIES
from smsapi_async._limiter import GRANT_BUNCH

pytestmark = pytest.mark.anyio

Arrival = tuple[float, str, float | None, float | None]  # at, priority, max_wait, cancel after


class Run:
    """Callers arriving on a fake clock; what each got, and when."""

    def __init__(self, limiter: RateLimiter, clock: FakeClock) -> None:
        self.limiter, self.clock = limiter, clock
        self.grants: list[tuple[float, int, str]] = []  # time, caller, lane
        self.refused: list[tuple[float, int]] = []
        self.waiting: dict[int, tuple[str, float]] = {}  # caller -> lane, since
        self.order: list[int] = []  # callers in the order they queued
        self.served: list[tuple[int, dict[int, tuple[str, float]]]] = []  # lane granted, who waited

    async def caller(self, index: int, arrival: Arrival) -> None:
        at, priority, max_wait, _ = arrival
        await self.clock.sleep(at)
        self.waiting[index] = (priority, self.clock.now())
        self.order.append(index)
        try:
            await self.limiter.acquire(priority, max_wait=max_wait)  # type: ignore[arg-type]
            # nothing else ran since the grant: these were waiting when it was made
            others = {i: v for i, v in self.waiting.items() if i != index}
            self.served.append((PRIORITIES.index(priority), others))  # type: ignore[arg-type]
            self.grants.append((self.clock.now(), index, priority))
        except QueueTimeoutError:
            self.refused.append((self.clock.now(), index))
        finally:
            self.waiting.pop(index, None)


async def run_arrivals(arrivals: list[Arrival], rate: int = 2) -> tuple[Run, list[Arrival]]:
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock)
    run = Run(limiter, clock)

    async def cancel_later(scope: anyio.CancelScope, after: float) -> None:
        await clock.sleep(after)
        scope.cancel()

    async def one(index: int, arrival: Arrival) -> None:
        with anyio.CancelScope() as scope:
            if arrival[3] is not None:
                async with anyio.create_task_group() as inner:
                    inner.start_soon(cancel_later, scope, arrival[0] + arrival[3])
                    await run.caller(index, arrival)
                    inner.cancel_scope.cancel()
            else:
                await run.caller(index, arrival)

    async with anyio.create_task_group() as tg:
        for index, arrival in enumerate(arrivals):
            tg.start_soon(one, index, arrival)
        await clock.run_until_idle()
    return run, arrivals


arrival = st.tuples(
    st.floats(0, 20, allow_nan=False).map(lambda x: round(x, 3)),
    st.sampled_from(PRIORITIES),
    st.one_of(st.none(), st.floats(0, 10, allow_nan=False)),
    st.one_of(st.none(), st.floats(0.01, 10, allow_nan=False)),
)


def assert_every_rule(run: Run, arrivals: list[Arrival], rate: int) -> None:
    """What any mix of lanes, deadlines and cancellations must keep."""
    limiter = run.limiter
    times = sorted(at for at, _, _ in run.grants)
    # the window: no 1 + margin seconds hold more than the rate
    for i in range(len(times) - rate):
        assert times[i + rate] - times[i] >= 1.0 + limiter.safety_margin - 1e-9
    # no faster than the schedule, less the most a caller may go early (a bunch)
    for n, at in enumerate(times):
        assert at >= n * limiter.interval - GRANT_BUNCH - 1e-9
    # a deadline is met or refused, never overrun
    for at, index, _ in run.grants:
        max_wait = arrivals[index][2]
        if max_wait is not None:
            assert at <= arrivals[index][0] + max_wait + 1e-9
    for at, index in run.refused:
        assert arrivals[index][2] is not None
        assert at <= arrivals[index][0] + arrivals[index][2] + 1e-9
    # within a lane, arrival order (among callers that did not leave), in the order granted
    granted_order = [index for _, index, _ in run.grants]
    for lane in PRIORITIES:
        in_lane = [i for i in granted_order if arrivals[i][1] == lane]
        queued = [i for i in run.order if i in set(in_lane)]
        assert in_lane == queued
    # a lower lane is served while a higher one waits only as the starvation guard allows: after
    # LANE_SHARE - 1 grants in a row to the lanes above it
    served = run.served
    for k, (lane, waiting) in enumerate(served):
        if any(PRIORITIES.index(p) < lane for p, _ in waiting.values()):
            before = [g for g, _ in served[max(0, k - LANE_SHARE + 1) : k]]
            assert len(before) == LANE_SHARE - 1, (k, lane)
            assert all(g < lane for g in before), (k, lane, before)
    assert limiter.waiting == 0


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(arrival, min_size=1, max_size=60))
async def test_lanes_and_deadlines_keep_every_rule(arrivals: list[Arrival]) -> None:
    run, arrivals = await run_arrivals(arrivals)
    assert_every_rule(run, arrivals, rate=2)


fast_arrival = st.tuples(
    st.floats(0, 0.4, allow_nan=False).map(lambda x: round(x, 4)),
    st.sampled_from(PRIORITIES),
    st.one_of(st.none(), st.floats(0, 0.2, allow_nan=False)),
    st.one_of(st.none(), st.floats(0.0005, 0.2, allow_nan=False)),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(fast_arrival, min_size=1, max_size=150))
async def test_at_a_rate_that_bunches_grants_lanes_and_deadlines_keep_every_rule(
    arrivals: list[Arrival],
) -> None:
    """Above 200 calls/s grants go in bunches and a due bunch is woken together: callers that
    arrive, give up and are cancelled in the middle of it change none of the rules."""
    run, arrivals = await run_arrivals(arrivals, rate=300)
    assert_every_rule(run, arrivals, rate=300)


async def test_an_interactive_call_goes_within_one_interval_whatever_is_queued() -> None:
    arrivals: list[Arrival] = [(0.0, "default", None, None)] * 1000
    arrivals += [(0.0, "bulk", None, None)] * 200
    otp_times = [3.1, 7.45, 12.9, 20.2, 33.3, 41.05]
    arrivals += [(t, "interactive", None, None) for t in otp_times]
    run, _ = await run_arrivals(arrivals)
    interval = run.limiter.interval
    waited = {index: at - arrivals[index][0] for at, index, lane in run.grants if lane == "interactive"}
    assert len(waited) == len(otp_times)
    assert max(waited.values()) <= interval + 1e-9  # p100, not only p99


async def test_the_guard_gives_a_lower_lane_one_grant_in_lane_share() -> None:
    # bulk arrives a moment after the flood: tasks started together run in any order (trio shuffles
    # them on purpose), and a bulk caller arriving first would take the free grant at once
    arrivals: list[Arrival] = [(0.0, "interactive", None, None)] * 100 + [(0.001, "bulk", None, None)] * 30
    run, _ = await run_arrivals(arrivals)
    lanes = [lane for _, _, lane in sorted(run.grants)][:100]
    bulk_positions = [i for i, lane in enumerate(lanes) if lane == "bulk"]
    assert bulk_positions[:2] == [LANE_SHARE, 2 * LANE_SHARE]  # one in LANE_SHARE while interactive floods
    assert all(b - a == LANE_SHARE for a, b in itertools.pairwise(bulk_positions))


async def test_a_deadline_that_the_queue_makes_certain_fails_at_once_and_nothing_is_granted() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    async with anyio.create_task_group() as tg:
        for _ in range(40):
            tg.start_soon(limiter.acquire)
        await clock.settle()
        with pytest.raises(QueueTimeoutError, match=r"39 call\(s\) are queued ahead of it at 2/s"):
            await limiter.acquire("default", max_wait=5.0)
        assert clock.now() == 0  # at once
        # an interactive call with the same budget jumps the queue and is granted in time
        with anyio.fail_after(1):
            task_done = anyio.Event()

            async def otp() -> None:
                await limiter.acquire("interactive", max_wait=5.0)
                task_done.set()

            tg.start_soon(otp)
            await clock.settle()  # it queued (ahead of the 39)
            await clock.advance(limiter.interval)
            await task_done.wait()
        tg.cancel_scope.cancel()


async def test_a_pause_longer_than_the_deadline_fails_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    await limiter.acquire()
    limiter.pause(30)
    with pytest.raises(QueueTimeoutError, match="paused"):
        await limiter.acquire("interactive", max_wait=10)


@pytest.mark.parametrize(
    "call",
    [
        lambda limiter: limiter.acquire("urgent"),
        lambda limiter: limiter.acquire("default", max_wait=-1),
        lambda limiter: limiter.acquire("default", max_wait=float("nan")),
        lambda limiter: limiter.acquire("default", max_wait="5"),
    ],
)
async def test_bad_lane_arguments_are_refused(call: Callable[[RateLimiter], Any]) -> None:
    limiter = RateLimiter(2, clock=FakeClock())
    limiter.pause(1)  # so the call queues
    with pytest.raises(InvalidRequestError):
        await call(limiter)


async def test_waiting_in_counts_each_lane_and_refuses_an_unknown_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    await limiter.acquire()  # the free grant: everyone after it queues
    async with anyio.create_task_group() as tg:
        for priority, count in (("interactive", 1), ("default", 2), ("bulk", 3)):
            for _ in range(count):
                tg.start_soon(limiter.acquire, priority)
        await clock.settle()
        assert [limiter.waiting_in(p) for p in PRIORITIES] == [1, 2, 3]
        assert limiter.waiting == 6
        with pytest.raises(InvalidRequestError, match="priority"):
            limiter.waiting_in("urgent")  # type: ignore[arg-type]
        tg.cancel_scope.cancel()
    assert limiter.waiting == 0
