"""The limiter's per-call shortcuts: an uncontended ``reserve()`` and an answer that teaches
nothing cost a few Python calls, and decide every grant exactly as the long way round does."""

from __future__ import annotations

import random
import sys
from collections import Counter
from types import FrameType
from typing import Any

import pytest

import smsapi_async._limiter as limiter_module
from smsapi_async import FakeClock, RateLimiter
from smsapi_async._limiter import Reservation

pytestmark = pytest.mark.anyio


class LongWay(RateLimiter):
    """``reserve()`` as ``acquire()`` followed by turning its recorded send into a pending one."""

    async def reserve(self) -> Reservation:
        await self._acquire()
        self._sends.pop()
        self._unsent += 1
        self._update()
        return Reservation(self)


def limiter_calls(into: Counter[str]) -> Any:
    """A profile function counting the Python functions of the limiter module that run."""

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_filename == limiter_module.__file__:
            into[frame.f_code.co_name] += 1

    return profile


async def test_an_uncontended_grant_and_its_answer_take_few_limiter_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1_000_000, clock=clock)
    for _ in range(3):  # past the first grant
        reservation = await limiter.reserve()
        reservation.answered()
        reservation.close()
        await clock.advance(1.0)
    del reservation
    assert limiter.has_capacity()
    calls: Counter[str] = Counter()
    sys.setprofile(limiter_calls(calls))
    try:
        limiter.paused_for()
        reservation = await limiter.reserve()
        reservation.answered()
        reservation.close()
        del reservation
    finally:
        sys.setprofile(None)
    assert limiter.pending == 0
    assert calls["acquire"] == 0  # the grant is made in reserve() itself
    assert calls["_target_margin"] == calls["_set_margin"] == 0  # an answer without timing or 429
    # reserve, _update, Reservation.__init__, answered, _finalize, _update, _learn, close,
    # __del__, paused_for (and the now() of a fake clock, twice)
    assert sum(calls.values()) <= 12, calls


def state(limiter: RateLimiter) -> tuple[float, ...]:
    """What decides the next grants: when the next may go (from now), the pending count, the
    margin and the interval."""
    now = limiter.clock.now()
    return (max(limiter._ready, now), limiter.pending, limiter.margin, limiter.interval)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("burst", [1, 2, 3])
async def test_the_short_way_grants_exactly_as_the_long_way(seed: int, burst: int) -> None:
    rng = random.Random(seed * 10 + burst)
    short = RateLimiter(3, burst, clock=FakeClock(), max_safety_margin=0.2)
    long = LongWay(3, burst, clock=FakeClock(), max_safety_margin=0.2)
    held: list[tuple[Reservation, Reservation]] = []
    grants = 0
    for _ in range(400):
        assert short.has_capacity() == long.has_capacity()
        op = rng.choice(["reserve", "reserve", "acquire", "report", "report", "advance", "pause"])
        if op in ("reserve", "acquire") and short.has_capacity():
            grants += 1
            if op == "acquire":
                await short.acquire()
                await long.acquire()
            else:
                held.append((await short.reserve(), await long.reserve()))
        elif op == "report" and held:
            pair = held.pop(rng.randrange(len(held)))
            how = rng.choice(["sent", "answered", "rejected", "not_sent", "close", "sent_answered"])
            for reservation in pair:
                if how == "sent_answered":
                    reservation.sent()
                    reservation.answered()
                elif how == "rejected":
                    reservation.answered(rejected=True)
                else:
                    getattr(reservation, how)()
            if how == "sent":
                held.append(pair)  # sent, still to be answered
        elif op == "pause" and rng.random() < 0.1:
            short.pause(0.5)
            long.pause(0.5)
        else:
            step = rng.choice([0.0, 0.01, 0.05, 0.2, 0.4, 1.1, 31.0])
            for limiter in (short, long):
                clock = limiter.clock
                assert isinstance(clock, FakeClock)
                await clock.advance(step)
        assert state(short) == state(long)
    assert grants > 40  # the walk made grants, not only waits
