"""Discovering the account's real rate (opt-in, ``max_rate=``), through the real client against the
sandbox enforcing a strict sliding window of 2, 5 and 15 calls/s.

The in-process runs are in virtual time (the sandbox reads the client's fake clock), so a minute of
demand takes well under a second: within 60 s the client runs at 90 % or more of the true rate,
429s stay under 5 % of the accepted calls, and it never runs above the true rate afterwards. The
shared limiter is checked in real time against Redis: the rate found is the fleet's, and a process
started later (or after a restart) begins at it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from smsapi_async import AsyncSmsClient, FakeClock, InvalidRequestError, RateLimiter, RedisRateLimiter
from smsapi_async.sandbox import Sandbox, SandboxConfig
from smsapi_async.sandbox._clock import FunctionClock

pytestmark = pytest.mark.anyio
START = 1_700_000_000.0


@asynccontextmanager
async def against(true_rate: int, limiter: RateLimiter, clock: FakeClock) -> AsyncIterator[AsyncSmsClient]:
    sandbox = Sandbox(SandboxConfig(rate_limit=true_rate), clock=FunctionClock(clock.now))
    async with AsyncSmsClient(
        "sandbox-key",
        "sandbox-secret",
        base_url="http://127.0.0.1",
        transport=httpx.ASGITransport(sandbox.app),
        limiter=limiter,
    ) as client:
        client.sandbox = sandbox  # type: ignore[attr-defined]
        yield client


async def demand(client: AsyncSmsClient, clock: FakeClock, seconds: float, callers: int = 40) -> list[float]:
    """``callers`` calling as fast as they are let through for ``seconds`` of virtual time; returns
    when each call was accepted."""
    accepted: list[float] = []

    async def caller() -> None:
        while clock.now() - START < seconds:
            await client.account.balance()
            accepted.append(clock.now() - START)

    async with anyio.create_task_group() as tg:
        for _ in range(callers):
            tg.start_soon(caller)
        await clock.run_until_idle()
    return accepted


@pytest.mark.parametrize("true_rate", [2, 5, 15])
async def test_the_client_finds_the_accounts_rate_within_a_minute(true_rate: int) -> None:
    clock = FakeClock(START)
    limiter = RateLimiter(2, max_rate=15, clock=clock)
    async with against(true_rate, limiter, clock) as client:
        accepted = await demand(client, clock, 90)
        refused = sum(1 for entry in client.sandbox.requests if entry["status"] == 429)  # type: ignore[attr-defined]
    found_by_60 = [t for t in accepted if 50 <= t < 60]
    assert len(found_by_60) / 10 >= 0.9 * true_rate  # within 60 s: 90 % of the true rate or more
    assert refused <= 0.05 * len([t for t in accepted if t < 60])  # 429s: at most 5 % of accepted
    assert limiter.rate <= true_rate  # and never above it afterwards
    for second in range(60, 89):
        assert len([t for t in accepted if second <= t < second + 1]) <= true_rate


async def test_without_max_rate_nothing_is_probed() -> None:
    clock = FakeClock(START)
    limiter = RateLimiter(2, clock=clock)
    async with against(15, limiter, clock) as client:
        accepted = await demand(client, clock, 30)
    assert limiter.rate == 2
    assert max(len([t for t in accepted if s <= t < s + 1]) for s in range(29)) <= 2


async def test_no_step_up_without_demand_at_the_full_rate() -> None:
    """A quiet account learns nothing: probing needs back-to-back grants, so a trickle of calls
    never raises the rate towards a limit it has not tested."""
    clock = FakeClock(START)
    limiter = RateLimiter(2, max_rate=15, clock=clock)
    async with against(15, limiter, clock) as client:
        for _ in range(100):
            await client.account.balance()
            await clock.advance(1.5)
    assert limiter.rate == 2


async def test_a_ceiling_is_forgotten_so_a_raised_account_is_found_again() -> None:
    clock = FakeClock(START)
    limiter = RateLimiter(2, max_rate=15, clock=clock)
    async with against(5, limiter, clock) as client:
        await demand(client, clock, 60)
        assert limiter.rate == 5
        assert limiter.rate_ceiling == 6
        client.sandbox.limiter.rate = 10  # type: ignore[attr-defined]  # the account is raised
        accepted = await demand(client, clock, 60 + 600 + 60)
    assert limiter.rate == 10
    assert len([t for t in accepted if 710 <= t < 720]) >= 9 * 10


@pytest.mark.parametrize("max_rate", [1.5, 1, 16.5, float("inf"), "15", True])
def test_max_rate_must_be_a_whole_rate_at_or_above_the_rate(max_rate: object) -> None:
    with pytest.raises(InvalidRequestError, match="max_rate"):
        RateLimiter(2, max_rate=max_rate)  # type: ignore[arg-type]


async def test_the_fleet_shares_the_rate_it_found_and_a_later_process_starts_there(redis_url: str) -> None:
    key = f"discovery-{time.monotonic_ns()}"
    sandbox = Sandbox(SandboxConfig(rate_limit=5))
    transport = httpx.ASGITransport(sandbox.app)
    limiters = [RedisRateLimiter(redis_url, key=key, rate=2, max_rate=15) for _ in range(2)]
    clients = [
        AsyncSmsClient(
            "sandbox-key", "sandbox-secret", base_url="http://127.0.0.1", transport=transport, limiter=lim
        )
        for lim in limiters
    ]
    accepted: list[float] = []
    started = time.monotonic()

    async def caller(client: AsyncSmsClient) -> None:
        while time.monotonic() - started < 9:
            await client.account.balance()
            accepted.append(time.monotonic() - started)

    try:
        async with anyio.create_task_group() as tg:
            for client in clients:
                for _ in range(10):
                    tg.start_soon(caller, client)
    finally:
        for client in clients:
            await client.aclose()
        for lim in limiters:
            await lim.aclose()
    assert [lim.rate for lim in limiters] == [5, 5]  # one rate for the fleet
    assert len([t for t in accepted if 7 <= t < 9]) >= 0.9 * 5 * 2
    refused = sum(1 for entry in sandbox.requests if entry["status"] == 429)
    assert refused <= 3
    later = RedisRateLimiter(redis_url, key=key, rate=2, max_rate=15)  # a restart, or a new process
    try:
        await later.acquire()
        assert later.rate == 5
    finally:
        await later.aclose()
