"""End to end over a real socket: the client's default limiter against the sandbox's default limit.

Both sides use the API's default of 2 calls/s, the sandbox as a strict sliding one-second window.
This is the suite's one real-time test (about 5 s): two bursts run at the same time against two
served sandboxes, one through the client's default limiter (cold connection included) and one with
the limiter off.

What the limiter guarantees is checked where it is decided, on one clock (client and server run in
this process): the moment each request's first bytes leave, when the client tells its limiter (noted
just before and just after it does), and the moment the sandbox's rate limit counts the request. No
three requests may leave within one second plus the limiter's least margin. So the server can
refuse a request only if the requests before it in its window reached it later, relative to their
departure, by more than that margin: delivery delay the client cannot see before it sends. Loopback
adds such delay only on a busy machine (the server thread waits tens of milliseconds for the CPU),
and then the test checks that each refusal is explained by it; otherwise no request may be refused.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import anyio
import attrs
import httpx
import pytest

from smsapi_async import DEFAULT_SAFETY_MARGIN, Balance, RateLimiter
from smsapi_async.sandbox import SandboxConfig
from smsapi_async.testing import SandboxHarness, served_sandbox_client

BURST = 10
UNLIMITED_BURST = 5  # enough to run into the limit; more only waits longer through backoff
CALL_TIMEOUT = 30
WINDOW = 1.0  # the sandbox's strict sliding window


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


class Departures(httpx.AsyncBaseTransport):
    """The client's transport, noting when each request's first bytes leave: the monotonic time
    (the limiter's clock) just before and just after the client tells its limiter so."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.before: list[float] = []
        self.after: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        clients_trace = request.extensions.get("trace")

        async def trace(event: str, info: Mapping[str, Any]) -> None:
            leaving = event.endswith(".send_request_headers.started")
            if leaving:
                self.before.append(time.monotonic())
            if clients_trace is not None:
                await clients_trace(event, info)
            if leaving:
                self.after.append(time.monotonic())

        request.extensions = {**request.extensions, "trace": trace}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@attrs.define
class ServerCount:
    """The sandbox's own rate limit, counting on the limiter's (monotonic) clock and noting when it
    counted each request and whether it accepted it."""

    limiter: Any
    counted: list[tuple[float, bool]] = attrs.field(factory=list)

    def try_acquire(self, account_id: int, now: float) -> bool:
        now = time.monotonic()
        accepted: bool = self.limiter.try_acquire(account_id, now)
        self.counted.append((now, accepted))
        return accepted

    def reset(self) -> None:
        self.limiter.reset()


@attrs.define
class Burst:
    harness: SandboxHarness
    results: list[Balance]
    took: float
    departures: Departures
    counted: list[tuple[float, bool]]

    def count(self, status: int) -> int:
        return sum(1 for entry in self.harness.sandbox.requests if entry["status"] == status)


async def burst(into: dict[str, Burst], name: str, size: int, **client_options: Any) -> None:
    """``size`` concurrent get-balance calls against a fresh served sandbox (default config)."""
    results: list[Balance] = []
    departures = Departures()
    async with served_sandbox_client(transport=departures, **client_options) as harness:
        server = ServerCount(harness.sandbox.limiter)
        harness.sandbox.limiter = server

        async def one() -> None:
            results.append(await harness.client.account.balance())

        started = time.monotonic()
        with anyio.fail_after(CALL_TIMEOUT):
            async with anyio.create_task_group() as tg:
                for _ in range(size):
                    tg.start_soon(one)
        into[name] = Burst(harness, results, time.monotonic() - started, departures, server.counted)


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
    assert [r.balance for r in limited.results] == [1000] * BURST
    left = limited.departures
    assert [e["call"] for e in limited.harness.sandbox.requests] == ["get-balance"] * len(left.before)
    assert limited.count(200) == BURST
    assert limited.took >= (BURST - 1) / 2 - 0.1  # spread over ~4.5 s
    # the client: no three requests left within a second and the least margin, the cold
    # connection's first one included (each left between its `before` and `after`)
    assert len(left.before) == len(left.after) == len(limited.counted)  # every one reached the count
    gaps = [last - first for first, last in zip(left.before, left.after[2:], strict=False)]
    assert min(gaps) >= WINDOW + DEFAULT_SAFETY_MARGIN, gaps
    # the server: a window over the limit only where delivery delay exceeded the margin
    counted = [at for at, _ in limited.counted]
    latest = [at - sent for at, sent in zip(counted, left.before, strict=True)]  # delay at most
    earliest = [at - sent for at, sent in zip(counted, left.after, strict=True)]  # delay at least
    for k, (at, accepted) in enumerate(limited.counted):
        if not accepted:
            held = [i for i, (then, ok) in enumerate(limited.counted[:k]) if ok and then > at - WINDOW]
            assert len(held) == 2  # refused only for a full window
            assert latest[held[0]] - earliest[k] > DEFAULT_SAFETY_MARGIN, (limited.counted, gaps)
    if max(latest) - min(earliest) <= DEFAULT_SAFETY_MARGIN:  # delivered within the margin
        assert limited.count(429) == 0  # never once over the strict window

    unlimited = bursts["unlimited"]
    assert unlimited.harness.client.limiter is None
    assert [r.balance for r in unlimited.results] == [1000] * UNLIMITED_BURST  # every call succeeded
    assert unlimited.count(200) == UNLIMITED_BURST
    refused = [e for e in unlimited.harness.sandbox.requests if e["status"] == 429]
    assert refused, "without a limiter the burst must run into the sandbox's limit"
    assert {e["code"] for e in refused} == {"OVER_LIMIT"}
    assert len(unlimited.harness.sandbox.requests) == UNLIMITED_BURST + len(refused)  # only 429s resent
