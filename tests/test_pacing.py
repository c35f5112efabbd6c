"""Pacing as the server counts it: the client and the limiter together, on a fake clock.

What the server sees is requests as they *leave* the client, not grants; a 429 is the server asking
every caller of the account to be quiet; limiters are used by callers who give up, by other
threads and by event loops that die.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from conftest import Recorder, success

from smsapi_async import AsyncSmsClient, FakeClock, InvalidRequestError, RateLimiter, RateLimitError

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]

OVER_LIMIT_120 = httpx.Response(
    429, json={"error": {"code": "OVER_LIMIT", "description": "slow down"}}, headers={"Retry-After": "120"}
)


async def drive(clock: FakeClock, coro: Callable[[], Any]) -> Any:
    """Run ``coro`` while jumping the fake clock from wake-up to wake-up; re-raise its error."""
    result: list[Any] = []
    errors: list[BaseException] = []

    async def run() -> None:
        try:
            result.append(await coro())
        except Exception as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await clock.run_until_idle()
    if errors:
        raise errors[0]
    return result[0]


# --- finding 4: every 429 pauses the limiter, and callers who cannot wait fail fast ---------------


@pytest.mark.parametrize("options", [{"max_retries": 0}, {"max_retry_wait": 60}])
async def test_a_429_the_caller_gives_up_on_still_pauses_the_limiter(
    make_client: MakeClient, options: dict[str, Any]
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    handler = Recorder(OVER_LIMIT_120)
    client = make_client(handler, limiter=limiter, **options)
    with pytest.raises(RateLimitError):
        await drive(clock, lambda: client.call("get-balance"))
    assert clock.now() == 0.0  # this caller gave up at once ...
    assert limiter.paused_for() == pytest.approx(120.0)  # ... but the server's request stands


async def test_callers_that_cannot_wait_out_the_pause_fail_fast_and_send_nothing(
    make_client: MakeClient,
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    handler = Recorder(OVER_LIMIT_120, success(ok=1))
    client = make_client(handler, limiter=limiter, max_retries=0)
    with pytest.raises(RateLimitError):
        await drive(clock, lambda: client.call("get-balance"))
    # others of the same account, with the default 60 s budget: nothing is sent, no time passes
    others = client.with_options(max_retries=4, max_retry_wait=60)
    for _ in range(5):
        with pytest.raises(RateLimitError) as info:
            await drive(clock, lambda: others.call("send-sms", message="hi", to="61400000001"))
        assert info.value.code == "OVER_LIMIT"
        assert "paused" in str(info.value)
    assert len(handler.requests) == 1
    assert clock.now() == 0.0
    # a caller who can wait that long waits it out, then sends once
    patient = client.with_options(max_retry_wait=300)
    assert await drive(clock, lambda: patient.call("get-balance")) == {"ok": 1}
    assert clock.now() == pytest.approx(120.0)
    assert len(handler.requests) == 2


# --- finding 6: edges of configuration --------------------------------------------------------------


@pytest.mark.parametrize("rate", [2.5, 1.5, 15.01])
def test_a_fractional_rate_above_one_is_refused(rate: float) -> None:
    # 2.5/s cannot keep "no 1-second window holds more than the rate": some window gets 3
    with pytest.raises(InvalidRequestError, match="whole number"):
        RateLimiter(rate)


@pytest.mark.parametrize("rate", [2.0, 15.0, 0.5, 0.2])
async def test_whole_rates_and_rates_below_one_keep_every_window_within_floor_rate(rate: float) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock)
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        times.append(clock.now())

    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(one)
        await clock.run_until_idle()
    allowed = max(1, math.floor(rate))
    for i in range(len(times) - allowed):
        assert times[i + allowed] - times[i] > 1.0


def test_a_limiter_without_pause_is_refused_at_construction() -> None:
    class AcquireOnly:
        async def acquire(self) -> None:
            return None

    with pytest.raises(InvalidRequestError, match=r"pause\(seconds\)"):
        AsyncSmsClient("k", "s", limiter=AcquireOnly())  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match=r"acquire\(\)"):
        AsyncSmsClient("k", "s", limiter=object())  # type: ignore[arg-type]


def test_aiolimiter_is_refused_with_a_hint() -> None:
    aiolimiter = pytest.importorskip("aiolimiter")
    with pytest.raises(InvalidRequestError, match="RateLimiter"):
        AsyncSmsClient("k", "s", limiter=aiolimiter.AsyncLimiter(2, 1))


@pytest.mark.parametrize("seconds", [None, "5", True, False, math.nan, math.inf, -1, -0.001, [1]])
def test_pause_takes_only_real_finite_non_negative_numbers(seconds: Any) -> None:
    limiter = RateLimiter(2, clock=FakeClock())
    with pytest.raises(InvalidRequestError):
        limiter.pause(seconds)
    assert limiter.paused_for() == 0


def test_pause_accepts_ints_floats_and_zero() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    limiter.pause(0)
    limiter.pause(1.5)
    limiter.pause(1)
    assert limiter.paused_for() == 1.5
