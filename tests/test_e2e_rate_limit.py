"""End to end over a real socket: the client's default limiter against the sandbox's default limit.

Both sides use the API's default of 2 calls/s, the sandbox as a strict sliding one-second window.
This is the suite's one real-time test (about 5 s): two bursts run at the same time against two
served sandboxes, one through the client's default limiter (cold connection included) and one with
the limiter off.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator
from typing import Any

import anyio
import attrs
import pytest

from smsapi_async import Balance, RateLimiter
from smsapi_async.sandbox import SandboxConfig
from smsapi_async.testing import SandboxHarness, served_sandbox_client

BURST = 10
UNLIMITED_BURST = 5  # enough to run into the limit; more only waits longer through backoff
CALL_TIMEOUT = 30


@pytest.fixture(autouse=True)
def short_gil_switch_interval() -> Iterator[None]:
    """Two uvicorn threads and the client share the GIL: with the default 5 ms switch interval a
    request can reach its server late by as much as the limiter's 5 ms safety margin. A shorter
    interval keeps loopback arrival jitter well under it, as on a real, idle host."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(previous)


@pytest.fixture
def anyio_backend() -> str:
    """Real time is expensive here: one backend (the limiter's backends are covered elsewhere)."""
    return "asyncio"


@attrs.define
class Burst:
    harness: SandboxHarness
    results: list[Balance]
    took: float

    def count(self, status: int) -> int:
        return sum(1 for entry in self.harness.sandbox.requests if entry["status"] == status)


async def burst(into: dict[str, Burst], name: str, size: int, **client_options: Any) -> None:
    """``size`` concurrent get-balance calls against a fresh served sandbox (default config)."""
    results: list[Balance] = []
    async with served_sandbox_client(**client_options) as harness:

        async def one() -> None:
            results.append(await harness.client.account.balance())

        started = time.monotonic()
        with anyio.fail_after(CALL_TIMEOUT):
            async with anyio.create_task_group() as tg:
                for _ in range(size):
                    tg.start_soon(one)
        into[name] = Burst(harness, results, time.monotonic() - started)


@pytest.mark.anyio
async def test_default_limiter_paces_a_burst_under_the_sandbox_limit_and_429s_are_retried_without_it() -> (
    None
):
    assert SandboxConfig().rate_limit == 2  # the sandbox's default is the API's default
    bursts: dict[str, Burst] = {}
    async with anyio.create_task_group() as tg:
        # the client's defaults: 2 calls/s, burst 1; the first call also opens the connection,
        # which the limiter must account for (the server counts arrivals, not grants)
        tg.start_soon(burst, bursts, "limited", BURST)
        # no client-side limiter: the sandbox answers 429 OVER_LIMIT and the client resends;
        # it runs alongside, against its own sandbox, to save real time
        tg.start_soon(
            functools.partial(burst, bursts, "unlimited", UNLIMITED_BURST, rate_limit=None, max_retries=12)
        )

    limited = bursts["limited"]
    assert isinstance(limited.harness.client.limiter, RateLimiter)
    assert limited.harness.client.limiter.rate == 2
    assert [r.balance for r in limited.results] == [100] * BURST
    assert [e["call"] for e in limited.harness.sandbox.requests] == ["get-balance"] * BURST
    assert limited.count(429) == 0  # never once over the strict window
    assert limited.count(200) == BURST
    assert limited.took >= (BURST - 1) / 2 - 0.1  # spread over ~4.5 s

    unlimited = bursts["unlimited"]
    assert unlimited.harness.client.limiter is None
    assert [r.balance for r in unlimited.results] == [100] * UNLIMITED_BURST  # every call succeeded
    assert unlimited.count(200) == UNLIMITED_BURST
    refused = [e for e in unlimited.harness.sandbox.requests if e["status"] == 429]
    assert refused, "without a limiter the burst must run into the sandbox's limit"
    assert {e["code"] for e in refused} == {"OVER_LIMIT"}
    assert len(unlimited.harness.sandbox.requests) == UNLIMITED_BURST + len(refused)  # only 429s resent
