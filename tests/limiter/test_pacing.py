"""Pacing as the server counts it: the client and the limiter together, on a fake clock.

What the server sees is requests as they *leave* the client, not grants; a 429 is the server asking
every caller of the account to be quiet; limiters are used by callers who give up, by other
threads and by event loops that die.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import Recorder, success

from smsapi_async import (
    DEFAULT_SAFETY_MARGIN,
    AsyncSmsClient,
    FakeClock,
    InvalidRequestError,
    RateLimiter,
    RateLimitError,
)

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


# --- finding 1: no window of requests *as they leave* holds more than the rate --------------------


def most_in_a_closed_window(times: list[float], width: float = 1.0) -> int:
    """The most timestamps inside any closed window ``[t, t + width]`` (stricter than any server)."""
    ordered = sorted(times)
    most = first = 0
    for last, t in enumerate(ordered):
        while t - ordered[first] > width:
            first += 1
        most = max(most, last - first + 1)
    return most


class LaggingTransport(httpx.AsyncBaseTransport):
    """The API on a fake clock: each request waits its own lag (a handshake, a pool wait, TLS) before
    its first bytes leave, then is recorded as sent; some lags end in a refused connection."""

    def __init__(self, clock: FakeClock, lags: list[float], refused: frozenset[int] = frozenset()) -> None:
        self.clock = clock
        self.lags = lags
        self.refused = refused
        self.started = 0
        self.sends: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        n = self.started
        self.started += 1
        lag = self.lags[n % len(self.lags)]
        if lag:
            await self.clock.sleep(lag)
        if n in self.refused:
            raise httpx.ConnectError("connection refused")
        trace = request.extensions.get("trace")
        if trace is not None:
            await trace("http11.send_request_headers.started", {})
        self.sends.append(self.clock.now())
        return success()


async def sends_through_the_client(
    limiter: RateLimiter, transport: LaggingTransport, callers: int, calls_each: int
) -> list[float]:
    client = AsyncSmsClient("k", "s", limiter=limiter, transport=transport)

    async def caller() -> None:
        for _ in range(calls_each):
            await client.call("get-balance")

    async def everyone() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(callers):
                tg.start_soon(caller)

    await drive(limiter.clock, everyone)  # type: ignore[arg-type]
    await client.aclose()
    assert len(transport.sends) == callers * calls_each
    return transport.sends


@pytest.mark.parametrize(("rate", "connect"), [(15, 0.12), (2, 0.6), (2, 0.03), (15, 0.5)])
async def test_late_connections_do_not_squeeze_a_window(rate: int, connect: float) -> None:
    # every third request opens a new connection (the server closed a keep-alive one)
    clock = FakeClock()
    transport = LaggingTransport(clock, [connect, 0.0, 0.0])
    sends = await sends_through_the_client(RateLimiter(rate, clock=clock), transport, 50, 3 * rate // 2 + 1)
    assert most_in_a_closed_window(sends) <= rate


@pytest.mark.parametrize("rate", [2, 15])
async def test_late_connections_cost_little_throughput(rate: int) -> None:
    clock = FakeClock()
    transport = LaggingTransport(clock, [0.12, 0.0, 0.0, 0.0])
    sends = await sends_through_the_client(RateLimiter(rate, clock=clock), transport, 20, 10 * rate // 20)
    assert (len(sends) - 1) / (sends[-1] - sends[0]) >= 0.9 * rate


lag_mixes = st.lists(
    st.one_of(st.just(0.0), st.floats(min_value=0, max_value=0.01), st.floats(min_value=0, max_value=1.5)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.sampled_from([1, 2, 3, 15]),
    burst_share=st.floats(min_value=0, max_value=1),
    lags=lag_mixes,
    refused=st.frozensets(st.integers(min_value=0, max_value=30), max_size=4),
    callers=st.integers(min_value=1, max_value=12),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_property_no_window_of_sends_holds_more_than_the_rate(
    rate: int, burst_share: float, lags: list[float], refused: frozenset[int], callers: int, backend: str
) -> None:
    burst = 1 + int(burst_share * (rate - 1))
    clock = FakeClock()
    transport = LaggingTransport(clock, lags, refused)
    limiter = RateLimiter(rate, burst, clock=clock)

    async def main() -> list[float]:
        with anyio.fail_after(20):  # a stranded caller fails the test instead of hanging it
            return await sends_through_the_client(limiter, transport, callers, 3)

    sends = anyio.run(main, backend=backend)
    assert most_in_a_closed_window(sends) <= rate
    assert limiter.pending == 0
    assert limiter.waiting == 0


# --- finding 2: at least 99 % of the rate through the client ---------------------------------------


class LateClock(FakeClock):
    """A fake clock whose sleepers wake ``late`` seconds after their deadline, like epoll's rounding."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds + self.late)


@pytest.mark.parametrize("late", [0.0, 0.001])
@pytest.mark.parametrize("lag", [0.0, 0.0015, 0.003])
@pytest.mark.parametrize("rate", [2, 15])
async def test_send_lag_and_late_timers_cost_under_one_percent(rate: int, lag: float, late: float) -> None:
    # each request leaves `lag` after its grant (httpx's own send path, a busy loop), and the
    # event loop wakes sleepers `late`: neither may push the schedule once per request
    clock = LateClock(late)
    transport = LaggingTransport(clock, [lag])
    limiter = RateLimiter(rate, clock=clock)
    sends = await sends_through_the_client(limiter, transport, 50, 20 * rate // 50 + 1)
    assert (len(sends) - 1) / (sends[-1] - sends[0]) >= 0.99 * rate
    assert most_in_a_closed_window(sends, 1 + DEFAULT_SAFETY_MARGIN - 1e-9) <= rate


@pytest.mark.parametrize("late", [0.005, 0.012])
@pytest.mark.parametrize("rate", [2, 15])
async def test_a_busy_loop_waking_the_head_late_costs_once_per_window_not_per_grant(
    rate: int, late: float
) -> None:
    # a loaded machine wakes sleepers several ms late: the schedule keeps that time (a window of
    # real sends still spans 1 + margin, so the lateness is lost once per `rate` sends at most)
    clock = LateClock(late)
    transport = LaggingTransport(clock, [0.0])
    sends = await sends_through_the_client(RateLimiter(rate, clock=clock), transport, 50, 20 * rate // 50 + 1)
    assert (len(sends) - 1) / (sends[-1] - sends[0]) >= 0.999 * rate / (1 + DEFAULT_SAFETY_MARGIN + late)
    assert most_in_a_closed_window(sends, 1 + DEFAULT_SAFETY_MARGIN - 1e-9) <= rate


# --- finding 3: jitter is learned, not paid for in 429s -------------------------------------------


class JitteryStrictServer(httpx.AsyncBaseTransport):
    """The API as a strict sliding 1-second window, on a fake clock: each request is counted
    ``uniform(0, jitter)`` after it arrives (a load balancer, a queue) and answered then, with 429
    ``OVER_LIMIT`` (and no ``Retry-After``, as the API) if ``rate`` were accepted in the second
    before."""

    def __init__(
        self,
        clock: FakeClock,
        rate: int,
        jitter: float,
        seed: int = 7,
        delay: Callable[[random.Random], float] | None = None,
    ) -> None:
        self.clock = clock
        self.rate = rate
        self.jitter = jitter
        self.rng = random.Random(seed)
        self.delay = delay if delay is not None else lambda rng: rng.uniform(0, jitter)
        self.accepted: deque[float] = deque()
        self.ok: list[float] = []  # when each accepted request was counted
        self.rejected = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace = request.extensions.get("trace")
        if trace is not None:
            await trace("http11.send_request_headers.started", {})
        delay = self.delay(self.rng)
        if delay:
            await self.clock.sleep(delay)
        now = self.clock.now()
        while self.accepted and now - self.accepted[0] >= 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= self.rate:
            self.rejected += 1
            return httpx.Response(429, json={"error": {"code": "OVER_LIMIT", "description": "slow down"}})
        self.accepted.append(now)
        self.ok.append(now)
        return success()


async def run_against_a_jittery_server(
    limiter: RateLimiter, server: JitteryStrictServer, seconds: float, callers: int = 50
) -> None:
    client = AsyncSmsClient("k", "s", limiter=limiter, transport=server, max_retries=20)
    client._rng = random.Random(3)  # the backoff's jitter, for a repeatable test
    clock = server.clock

    async def caller() -> None:
        while clock.now() < seconds:
            await client.call("get-balance")

    async def everyone() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(callers):
                tg.start_soon(caller)

    await drive(clock, everyone)
    await client.aclose()


@pytest.mark.parametrize(("rate", "jitter"), [(15, 0.05), (15, 0.02), (2, 0.02), (2, 0.05)])
async def test_jitter_is_learned_instead_of_paid_for_in_429s(rate: int, jitter: float) -> None:
    clock = FakeClock()
    server = JitteryStrictServer(clock, rate, jitter)
    limiter = RateLimiter(rate, clock=clock)
    seconds = 20.0
    await run_against_a_jittery_server(limiter, server, seconds)
    requests = len(server.ok) + server.rejected
    optimum = rate / (1 + jitter) * seconds  # no pacing avoids 429s with less spacing
    assert server.rejected <= 0.02 * requests
    assert sum(1 for t in server.ok if t <= seconds) >= 0.92 * optimum
    assert limiter.margin >= jitter * 0.8  # learned, and visible


@pytest.mark.parametrize("rate", [2, 15])
async def test_without_jitter_nothing_is_learned_and_nothing_is_lost(rate: int) -> None:
    clock = FakeClock()
    server = JitteryStrictServer(clock, rate, 0.0)
    limiter = RateLimiter(rate, clock=clock)
    await run_against_a_jittery_server(limiter, server, 20.0)
    assert server.rejected == 0
    assert sum(1 for t in server.ok if t <= 20.0) >= 0.99 * rate * 20
    assert limiter.margin == DEFAULT_SAFETY_MARGIN


def loaded_machine(rng: random.Random) -> float:
    """How a busy machine (or a busy server) counts requests: mostly at once, but one in 30 waits
    8 ms for a CPU. The spread of most latencies shows nothing; the rare late one is a 429 unless
    the request ``rate`` places after it leaves that much later."""
    return 0.008 if rng.random() < 1 / 30 else rng.uniform(0, 0.0003)


@pytest.mark.parametrize("rate", [2, 15])
async def test_a_rare_late_count_is_absorbed_without_429s_or_lasting_cost(rate: int) -> None:
    clock = FakeClock()
    server = JitteryStrictServer(clock, rate, 0.0, seed=11, delay=loaded_machine)
    limiter = RateLimiter(rate, clock=clock)
    seconds = 60.0
    await run_against_a_jittery_server(limiter, server, seconds)
    assert server.rejected == 0
    assert sum(1 for t in server.ok if t <= seconds) >= 0.99 * rate * seconds
    assert limiter.margin <= 0.009  # never more than the late count needed


async def rejected_once(limiter: RateLimiter) -> None:
    await limiter.clock.sleep(0) if limiter.has_capacity() else await advance(limiter, 1.0)
    reservation = await limiter.reserve()
    reservation.sent()
    reservation.answered(rejected=True)


async def advance(limiter: RateLimiter, seconds: float) -> None:
    clock = limiter.clock
    assert isinstance(clock, FakeClock)
    await clock.advance(seconds)


async def warmed_up(limiter: RateLimiter) -> RateLimiter:
    """``limiter`` after two answers timed at the same latency: no spread, cold start over."""
    for _ in range(2):
        await advance(limiter, 1.0)
        reservation = await limiter.reserve()
        reservation.sent()
        reservation.answered()
    assert limiter.margin == limiter.safety_margin
    return limiter


async def test_the_margin_is_wide_from_the_first_timed_send_until_two_answers_are_timed() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    reservation = await limiter.reserve()
    assert limiter.margin == DEFAULT_SAFETY_MARGIN  # not timed yet: plain acquire() users never are
    reservation.sent()
    assert limiter.margin == 0.05
    reservation.answered()
    await warmed_up(limiter)


async def test_429s_widen_the_margin_up_to_its_bound_and_clean_spells_narrow_it() -> None:
    # a server that counts late but answers at once: latencies show nothing, 429s teach
    clock = FakeClock()
    limiter = await warmed_up(RateLimiter(2, clock=clock, max_safety_margin=0.05))
    margins = []
    for _ in range(5):
        await rejected_once(limiter)
        margins.append(limiter.margin)
    assert margins == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])
    assert limiter.interval == pytest.approx(1.05 / 2)
    await clock.advance(31)  # nothing waits: reserve() below is granted at once
    reservation = await limiter.reserve()
    reservation.sent()
    reservation.answered()
    assert limiter.margin == pytest.approx(0.025)  # halved after 30 s without a 429
    await clock.advance(31)  # nothing waits: reserve() below is granted at once
    reservation = await limiter.reserve()
    reservation.answered()
    assert limiter.margin == pytest.approx(0.0125)
    await clock.advance(31)  # nothing waits: reserve() below is granted at once
    reservation = await limiter.reserve()
    reservation.answered()
    assert limiter.margin == pytest.approx(0.00625)
    await clock.advance(31)
    reservation = await limiter.reserve()
    reservation.answered()
    assert limiter.margin == DEFAULT_SAFETY_MARGIN  # back at the floor


async def test_a_pinned_margin_does_not_move_until_released() -> None:
    clock = FakeClock()
    limiter = await warmed_up(RateLimiter(2, clock=clock))
    limiter.pin_margin(DEFAULT_SAFETY_MARGIN)
    await rejected_once(limiter)
    assert limiter.margin == DEFAULT_SAFETY_MARGIN
    limiter.pin_margin(0.03)
    assert (limiter.margin, limiter.adaptive) == (0.03, False)
    assert "margin=0.03 pinned" in repr(limiter)
    await rejected_once(limiter)
    assert limiter.margin == 0.03
    limiter.pin_margin(None)
    await rejected_once(limiter)
    assert limiter.adaptive
    assert limiter.margin == pytest.approx(0.06)
    with pytest.raises(InvalidRequestError):
        limiter.pin_margin(math.nan)


async def test_the_spread_of_latencies_sets_the_margin() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock)

    async def answered_after(latency: float) -> None:
        await clock.advance(2.0)  # nobody waits for a grant; earlier sends are out of the window's reach
        reservation = await limiter.reserve()
        reservation.sent()
        await clock.advance(latency)
        reservation.answered()

    # twenty latencies from 10 to 30 ms, one hiccup (200 ms) and one very fast answer among them
    latencies = [0.001, 0.2] + [0.010 + 0.020 * i / 17 for i in range(18)]
    random.Random(1).shuffle(latencies)
    for latency in latencies:
        await answered_after(latency)
    # a slow answer is a request counted late: the one a window after it must leave that much later,
    # so the margin covers it (above the fastest answer) while it is within the window's reach ...
    await answered_after(0.045)
    assert limiter.margin == pytest.approx(0.045 - 0.001)
    # ... and then only 1.25 x (p90 - p10) of the last 32 (22 here) counts: the outliers are ignored
    await answered_after(0.012)
    assert limiter.margin == pytest.approx(1.25 * (0.030 - (0.010 + 0.020 / 17)))


async def test_a_few_latencies_are_stretched_to_the_spread_they_likely_miss() -> None:
    # two samples of a server's jitter span a third of it on average: right after the cold start
    # the margin must not drop to what two close latencies happen to show
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    margins = []
    for latency in (0.010, 0.030, 0.020, 0.025, 0.015):
        await clock.advance(2.0)  # earlier answers out of the window's reach
        reservation = await limiter.reserve()
        reservation.sent()
        await clock.advance(latency)
        reservation.answered()
        margins.append(limiter.margin)
    # (n + 1) / (n - 1) x the range of n samples: 3 x, 2 x, 5/3 x, 3/2 x 20 ms
    assert margins == pytest.approx([0.05, 0.06, 0.04, 0.02 * 5 / 3, 0.03])


def test_bad_margin_settings_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="max_safety_margin"):
        RateLimiter(2, safety_margin=0.05, max_safety_margin=0.01)
    with pytest.raises(InvalidRequestError, match="max_safety_margin"):
        RateLimiter(2, max_safety_margin=1.0)


# --- finding 5: dead event loops and other threads strand no one -----------------------------------
# tests/limiter/test_waiter_queue.py, for this limiter and the Redis one: waiters of a closed event loop never
# block a later run; a second running loop in another thread is refused at once.


# --- finding 7: what a waiter costs ------------------------------------------------------------------
# tests/limiter/test_waiter_queue.py::test_a_parked_waiter_holds_no_more_memory_than_with_aiolimiter, for this
# limiter and the Redis one, measured as benchmarks.peers.crowd measures it (benchmarks/_memory.py).
