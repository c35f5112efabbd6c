"""RedisRateLimiter against a real redis-server: the shared schedule, pauses, late sends, key names,
outages, validation. Several limiter instances stand in for several processes (each has its own
connection and its own local queue); tests/limiter/test_redis_fleet.py runs real OS processes.

Grant times are read on the Redis server's clock (``last_grant_time``), so spacing is checked
exactly, whatever the load on the machine; only waits are checked against generous bounds.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis
import redis.asyncio
from docs_pages import page
from redis_server import RedisServer, free_port, started_server
from sample_usage import shared

from benchmarks.shared_limiter import most_in_one_second
from smsapi_async import (
    AsyncSmsClient,
    FakeClock,
    InvalidRequestError,
    RateLimiter,
    RedisLimiterError,
    RedisRateLimiter,
    account_key,
)
from smsapi_async._limiter import COLD_START_MARGIN, TIMER_SLACK, Reservation
from smsapi_async._redis_limiter import SharedReservation
from smsapi_async._resp import RespConnection, RespProtocolError
from smsapi_async.testing import served_sandbox_client

RATE_LIMITS = page("rate-limits.md")

pytestmark = pytest.mark.anyio


def fresh_key() -> str:
    return "test-" + uuid.uuid4().hex[:12]


@pytest.fixture
def inspect(redis_url: str) -> Iterator[redis.Redis]:
    """A plain synchronous client, to look at what the limiter stored."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = started_server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


async def grant_times(limiters: list[RedisRateLimiter], per_limiter: int) -> dict[int, list[float]]:
    """Each limiter's grants, as Redis server times, with ``per_limiter`` callers each."""
    times: dict[int, list[float]] = {i: [] for i in range(len(limiters))}

    async def one(index: int) -> None:
        limiter = limiters[index]
        await limiter.acquire()
        assert limiter.last_grant_time is not None
        times[index].append(limiter.last_grant_time)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for index in range(len(limiters)):
                for _ in range(per_limiter):
                    tg.start_soon(one, index)
    return times


async def test_grants_of_several_processes_share_one_schedule_and_take_turns(redis_url: str) -> None:
    key = fresh_key()
    rate = 20
    limiters = [RedisRateLimiter(redis_url, key=key, rate=rate) for _ in range(3)]
    times = await grant_times(limiters, per_limiter=12)
    everything = sorted(itertools.chain.from_iterable(times.values()))
    assert len(everything) == 36
    gaps = [b - a for a, b in itertools.pairwise(everything)]
    assert min(gaps) >= limiters[0].interval - TIMER_SLACK - 1e-6
    assert most_in_one_second(everything) <= rate
    # turns: each process's grants are interleaved with the others', none waits for all the rest
    order = sorted((t, i) for i, ts in times.items() for t in ts)
    first_half = {i for _, i in order[: len(order) // 2]}
    assert first_half == {0, 1, 2}
    # about two round trips per grant, however many callers wait (no polling, no herd)
    assert sum(limiter.redis_calls for limiter in limiters) <= 4 * 36


async def test_a_burst_after_a_quiet_spell_never_puts_more_than_the_rate_in_a_second(redis_url: str) -> None:
    # burst=n lets n grants go at once after a quiet spell; the ones after them must still keep every
    # 1-second window within the rate (GCRA alone would let the next go one interval after the burst)
    key = fresh_key()
    rate = 4
    limiters = [RedisRateLimiter(redis_url, key=key, rate=rate, burst=rate) for _ in range(2)]
    await limiters[0].acquire()
    first = limiters[0].last_grant_time
    assert first is not None
    await anyio.sleep(rate * limiters[0].interval + 0.1)  # the burst refills
    times = await grant_times(limiters, per_limiter=rate)
    stamps = sorted([first, *itertools.chain.from_iterable(times.values())])
    assert len(stamps) == 2 * rate + 1
    assert most_in_one_second(stamps) <= rate
    assert stamps[rate] - stamps[1] < limiters[0].interval  # the burst itself was allowed


async def test_a_limiter_keeps_its_local_waiters_first_come_first_served(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, key=fresh_key(), rate=50)
    order: list[int] = []

    async def one(n: int) -> None:
        await limiter.acquire()
        order.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(10):
            tg.start_soon(one, n)
            await anyio.sleep(0.001)  # arrive in this order
    assert order == list(range(10))
    assert limiter.waiting == 0


async def test_a_cancelled_waiter_passes_its_place_on(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, key=fresh_key(), rate=20)
    done: list[int] = []

    async def one(n: int) -> None:
        await limiter.acquire()
        done.append(n)

    async with anyio.create_task_group() as tg:
        scopes = []
        for n in range(6):
            scope = anyio.CancelScope()
            scopes.append(scope)

            async def run(n: int = n, scope: anyio.CancelScope = scope) -> None:
                with scope:
                    await one(n)

            tg.start_soon(run)
            await anyio.sleep(0.001)
        scopes[0].cancel()  # the head, mid-wait
        scopes[3].cancel()  # one queued behind it
    assert done == [1, 2, 4, 5]
    assert limiter.waiting == 0


async def test_pause_in_one_process_holds_every_process(redis_url: str) -> None:
    key = fresh_key()
    one, other = (RedisRateLimiter(redis_url, key=key, rate=10) for _ in range(2))
    await one.acquire()
    assert one.last_grant_time is not None
    paused_at = one.last_grant_time
    one.pause(0.6)
    await one.flush()
    await other.acquire()
    assert other.last_grant_time is not None
    assert other.last_grant_time >= paused_at + 0.6 - 0.005
    with pytest.raises(InvalidRequestError):
        one.pause(-1)


async def test_a_429_seen_by_one_client_pauses_the_other_processes_clients(redis_url: str) -> None:
    key = fresh_key()
    seen: list[tuple[str, float]] = []

    def answer(name: str, first: httpx.Response) -> httpx.MockTransport:
        answers = [first]

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append((name, time.monotonic()))
            if answers:
                return answers.pop()
            return httpx.Response(200, json={"balance": 1, "error": {"code": "SUCCESS"}})

        return httpx.MockTransport(handler)

    over = httpx.Response(
        429, headers={"Retry-After": "1"}, json={"error": {"code": "OVER_LIMIT", "description": "x"}}
    )
    ok = httpx.Response(200, json={"balance": 1, "error": {"code": "SUCCESS"}})
    client_a = AsyncSmsClient(
        "key-a-123456",
        "s",
        limiter=RedisRateLimiter(redis_url, key=key, rate=10),
        transport=answer("a", over),
    )
    client_b = AsyncSmsClient(
        "key-a-123456", "s", limiter=RedisRateLimiter(redis_url, key=key, rate=10), transport=answer("b", ok)
    )
    limiter_a = client_a.limiter
    assert isinstance(limiter_a, RedisRateLimiter)

    async def b_after_a_was_refused() -> None:
        while not (limiter_a.paused_for() > 0 and limiter_a._pending_pause is None):  # noqa: ASYNC110
            await anyio.sleep(0.005)  # until a's pause is in Redis (no event to wait on)
        await client_b.call("get-balance")

    async with client_a, client_b, anyio.create_task_group() as tg:
        tg.start_soon(client_a.call, "get-balance")  # 429, pauses, retries after 1 s
        tg.start_soon(b_after_a_was_refused)
    [(_, refused_at), (_, retried_at)] = [entry for entry in seen if entry[0] == "a"]
    [(_, b_at)] = [entry for entry in seen if entry[0] == "b"]
    assert b_at - refused_at >= 0.9
    assert retried_at - refused_at >= 0.9


async def test_a_late_send_pushes_the_schedule_of_every_process(redis_url: str) -> None:
    key = fresh_key()
    one, other = (RedisRateLimiter(redis_url, key=key, rate=10) for _ in range(2))
    await one.acquire()
    assert one.last_grant_time is not None
    granted = one.last_grant_time
    one.request_sent(at=one.clock.now() + 0.4)  # the request waited 0.4 s for a connection
    await one.flush()
    await other.acquire()
    assert other.last_grant_time is not None
    assert other.last_grant_time >= granted + 0.4 + one.interval - TIMER_SLACK


async def test_key_names_hold_no_credential_and_follow_the_documented_format(
    redis_url: str, inspect: redis.Redis
) -> None:
    api_key = "SECRET-API-KEY-" + uuid.uuid4().hex
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json={"balance": 1, "error": {"code": "SUCCESS"}})
    )
    shared = RedisRateLimiter(redis_url, rate=5)
    assert shared.key is None
    async with AsyncSmsClient(api_key, "secret", limiter=shared, transport=transport) as client:
        limiter = client.limiter
        assert isinstance(limiter, RedisRateLimiter)
        assert limiter.key == account_key(api_key)
        assert limiter.redis_key == f"smsapi:{{{account_key(api_key)}}}:rate"
        await client.call("get-balance")
    stored = inspect.hgetall(limiter.redis_key)
    lanes = {f"{field}{lane}" for field in ("seq", "served", "act", "run") for lane in (1, 2, 3)}
    discovery = {"rate", "ceil", "changed", "ceiled", "clean"}
    assert set(stored) == {"ctat", "pause", "learned", "relaxed", *lanes, *discovery}
    assert 0 < inspect.ttl(limiter.redis_key) <= 86_400 + 5
    for name in inspect.scan_iter("smsapi:*"):
        assert api_key not in name
        assert "SECRET" not in name
    assert api_key not in repr(limiter)
    assert api_key not in repr(stored)
    assert account_key(api_key) == account_key(api_key) != account_key(api_key + "x")


async def test_reseller_sub_accounts_get_their_own_key_automatically(
    redis_url: str, inspect: redis.Redis
) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json={"balance": 1, "error": {"code": "SUCCESS"}})
    )
    async with AsyncSmsClient(
        "reseller-key-1", "s", limiter=RedisRateLimiter(redis_url, rate=2), transport=transport
    ) as reseller:
        sub = reseller.resellers.for_client(("client-key-1", "client-secret"))
        again = reseller.resellers.for_client(("client-key-1", "client-secret"))
        parent_limiter, sub_limiter = reseller.limiter, sub.limiter
        assert isinstance(parent_limiter, RedisRateLimiter)
        assert isinstance(sub_limiter, RedisRateLimiter)
        assert sub_limiter.key == account_key("client-key-1") != parent_limiter.key
        assert again.limiter is sub_limiter  # one local queue per account
        assert sub_limiter.rate == parent_limiter.rate
        await reseller.call("get-balance")
        await sub.call("get-balance")
    assert inspect.exists(parent_limiter.redis_key)
    assert inspect.exists(sub_limiter.redis_key)


async def test_a_redis_restart_loses_the_schedule_and_the_next_grant_waits_one_interval(
    own_redis: RedisServer,
) -> None:
    limiter = RedisRateLimiter(own_redis.url, key=fresh_key(), rate=4)
    await limiter.acquire()
    assert limiter.last_grant_time is not None
    await anyio.to_thread.run_sync(own_redis.stop)
    stopped = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, own_redis.restart, 0.3)
        with anyio.fail_after(30):
            await limiter.acquire()  # fail closed: waits through the outage
    assert time.monotonic() - stopped >= 0.3
    assert not limiter.outage
    second = limiter.last_grant_time
    assert second is not None
    # the state was lost with the restart: the first grant after it waited an interval
    started = redis.Redis.from_url(own_redis.url)
    try:
        assert started.pttl(limiter.redis_key) > 0
    finally:
        started.close()


async def test_fail_closed_waits_while_redis_is_down(anyio_backend: str) -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", key=fresh_key(), rate=10)
    with anyio.move_on_after(0.5) as scope:
        await limiter.acquire()
    assert scope.cancelled_caught  # nothing was granted without Redis
    assert limiter.outage
    assert limiter.grants == 0
    assert limiter.waiting == 0


async def test_fallback_grants_locally_at_its_own_rate_then_returns_to_redis_after_a_quiet_second(
    own_redis: RedisServer,
) -> None:
    limiter = RedisRateLimiter(own_redis.url, key=fresh_key(), rate=10, fallback_rate=4)
    await limiter.acquire()
    await anyio.to_thread.run_sync(own_redis.stop)
    local: list[float] = []
    with anyio.fail_after(30):
        for _ in range(4):
            await limiter.acquire()
            local.append(time.monotonic())
            assert limiter.last_grant_time is None  # a local grant
    assert limiter.outage
    assert min(b - a for a, b in itertools.pairwise(local)) >= 1 / 4 - 0.01
    await anyio.to_thread.run_sync(own_redis.start)
    with anyio.fail_after(30):
        while limiter.last_grant_time is None:  # local grants until a probe finds Redis
            await limiter.acquire()
            local.append(time.monotonic())
    assert not limiter.outage
    assert local[-1] - local[-2] >= 1.0 - 0.01  # the first shared grant waited a quiet second


async def test_a_misconfigured_key_raises_instead_of_waiting_forever(
    redis_url: str, inspect: redis.Redis
) -> None:
    limiter = RedisRateLimiter(redis_url, key=fresh_key())
    inspect.set(limiter.redis_key, "not a hash")
    with pytest.raises(RedisLimiterError, match="WRONGTYPE"):
        await limiter.acquire()
    inspect.delete(limiter.redis_key)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"key": "has space"}, "key must be"),
        ({"key": "{tag}"}, "key must be"),
        ({"key": ""}, "key must be"),
        ({"key": "k", "prefix": "a b"}, "prefix must be"),
        ({"key": "k", "rate": 0}, "rate"),
        ({"key": "k", "rate": math.nan}, "rate"),
        ({"key": "k", "burst": 0}, "burst"),
        ({"key": "k", "fallback_rate": 5, "rate": 2}, "fallback_rate"),
        ({"key": "k", "idle_ttl": 0}, "idle_ttl"),
        ({"key": "k", "call_timeout": math.inf}, "call_timeout"),
    ],
)
async def test_bad_settings_are_refused_at_construction(options: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        RedisRateLimiter("redis://127.0.0.1:6379/0", **options)  # type: ignore[arg-type]


async def test_bad_redis_arguments_and_pauses_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match=r"redis\.asyncio client or a redis:// URL"):
        RedisRateLimiter(object(), key="k")
    with pytest.raises(InvalidRequestError, match="redis://"):
        RedisRateLimiter("http://127.0.0.1:6379", key="k")
    with pytest.raises(InvalidRequestError, match="no key"):
        await RedisRateLimiter("redis://127.0.0.1:1/0").acquire()
    limiter = RedisRateLimiter("redis://:hunter2@127.0.0.1:1/0", key="k")
    assert "hunter2" not in repr(limiter)
    for bad in (True, math.nan, math.inf, -0.5, "5", None):
        with pytest.raises(InvalidRequestError):
            limiter.pause(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # redis.asyncio runs on asyncio only (trio: a URL)
async def test_a_redis_asyncio_client_can_be_passed_in(redis_url: str, anyio_backend: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        limiter = RedisRateLimiter(client, key=fresh_key(), rate=20)
        for _ in range(3):
            await limiter.acquire()
        assert limiter.grants == 3
    finally:
        await client.aclose()


def test_one_limiter_serves_consecutive_event_loops_of_either_backend(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, key=fresh_key(), rate=20)

    async def once() -> None:
        await limiter.acquire()
        await limiter.aclose()  # each loop's connection closed with it: no socket left behind
        await limiter.aclose()  # twice is harmless

    for backend in ("asyncio", "trio", "asyncio"):
        anyio.run(once, backend=backend)
    assert limiter.grants == 3


def test_importing_the_package_loads_neither_the_shared_limiter_nor_redis() -> None:
    code = (
        "import sys, smsapi_async\n"
        "assert 'smsapi_async._redis_limiter' not in sys.modules\n"
        "assert 'redis' not in sys.modules\n"
        "smsapi_async.RedisRateLimiter('redis://127.0.0.1:1/0', key='k')\n"
        "assert 'redis' not in sys.modules\n"
        "from smsapi_async import RedisRateLimiter, account_key\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_the_built_in_connection_refuses_hostile_replies() -> None:
    replies = [b"$99999999999\r\n", b"*9999999\r\n", b"?what\r\n", b":notanumber\r\n", b"+" + b"x" * 70_000]

    async def serve(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.receive()
            await stream.send(replies.pop(0))
            await anyio.sleep(1)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        connection = RespConnection(f"redis://127.0.0.1:{port}/0")
        for _ in range(5):
            with anyio.fail_after(5), pytest.raises(RespProtocolError):
                await connection.execute("PING")
        tg.cancel_scope.cancel()


async def test_a_fake_clock_only_times_local_waits(redis_url: str) -> None:
    # decisions are taken on the Redis clock: a limiter whose own clock stands still still grants
    limiter = RedisRateLimiter(redis_url, key=fresh_key(), rate=50, clock=FakeClock(start=1e9))
    for _ in range(3):
        with anyio.fail_after(10):
            await _acquire_driving(limiter)
    assert limiter.grants == 3


async def _acquire_driving(limiter: RedisRateLimiter) -> None:
    """Acquire while moving the limiter's fake clock in step with real time."""
    await _reserve_driving(limiter)


async def _reserve_driving(limiter: RedisRateLimiter) -> SharedReservation:
    """Reserve while moving the limiter's fake clock in step with real time."""
    clock = limiter.clock
    assert isinstance(clock, FakeClock)
    async with anyio.create_task_group() as tg:

        async def drive() -> None:
            while True:
                await anyio.sleep(0.005)
                await clock.advance(0.005)

        tg.start_soon(drive)
        reservation = await limiter.reserve()
        tg.cancel_scope.cancel()
    return reservation


async def _answered_after(
    latency: float, shared: RedisRateLimiter, local: RateLimiter | None = None, *, rejected: bool = False
) -> None:
    """One request through each limiter, sent at the same moment and answered ``latency`` later."""
    clock = shared.clock
    assert isinstance(clock, FakeClock)
    reservations: list[SharedReservation | Reservation] = [await _reserve_driving(shared)]
    if local is not None:
        reservations.append(await local.reserve())
    for reservation in reservations:
        reservation.sent()
    await clock.advance(latency)
    for reservation in reservations:
        reservation.answered(rejected=rejected)


def test_settings_are_checked_as_the_in_process_limiter_checks_them() -> None:
    shared = RedisRateLimiter("redis://127.0.0.1:1/0", key="k", rate=15, burst=3, safety_margin=0.01)
    assert (shared.rate, shared.burst, shared.safety_margin, shared.margin) == (15, 3, 0.01, 0.01)
    # grants are claimed on the Redis clock, late by the claimer's timer: the slack is paid per window
    assert shared.interval == pytest.approx((1 + 0.01 + TIMER_SLACK) / 15)
    for options in ({"rate": 2.5}, {"rate": 2, "burst": 3}, {"safety_margin": 0.2, "max_safety_margin": 0.1}):
        with pytest.raises(InvalidRequestError):
            RateLimiter(**options)  # type: ignore[arg-type]
        with pytest.raises(InvalidRequestError):
            RedisRateLimiter("redis://127.0.0.1:1/0", key="k", **options)  # type: ignore[arg-type]


async def test_a_429_widens_the_margin_of_every_process_and_a_pinned_margin_stays(redis_url: str) -> None:
    key = fresh_key()
    one, other = (RedisRateLimiter(redis_url, key=key, rate=10, max_safety_margin=0.3) for _ in range(2))
    local = RateLimiter(10, max_safety_margin=0.3)
    for limiter in (one, local):
        reservation = await limiter.reserve()
        reservation.sent()
        reservation.answered(rejected=True)  # what the client reports for a 429
    await one.flush()
    # the first answer, a 429, doubles the margin in force then: the cold start's, in both limiters
    assert one.margin == pytest.approx(local.margin) == pytest.approx(2 * COLD_START_MARGIN)
    await other.acquire()
    assert other.margin == pytest.approx(2 * COLD_START_MARGIN)  # learned by the whole account
    assert other.interval > (1 + 2 * COLD_START_MARGIN) / other.rate
    pinned = RedisRateLimiter(redis_url, key=key, rate=10)
    pinned.pin_margin(0.002)
    await pinned.acquire()
    assert pinned.margin == 0.002
    assert not pinned.adaptive


async def test_two_answers_of_10_and_30_ms_widen_the_shared_margin_as_the_in_process_one(
    redis_url: str,
) -> None:
    # two samples of a jitter span a third of it on average: the fleet stretches them as one process
    # does, (n + 1) / (n - 1) x 20 ms = 60 ms (its old copy of the estimate gave 1.25 x 20 = 25 ms)
    clock = FakeClock()
    limiter = RedisRateLimiter(redis_url, key=fresh_key(), rate=100, clock=clock)
    with anyio.fail_after(20):
        for latency in (0.010, 0.030):
            await clock.advance(2.0)
            await _answered_after(latency, limiter)
        await _acquire_driving(limiter)  # the next round trip brings this process's spread to Redis
    assert limiter.margin == pytest.approx(0.060, abs=2e-6)


async def test_a_shared_and_an_in_process_limiter_fed_the_same_latencies_learn_the_same_margin(
    redis_url: str,
) -> None:
    # the whole policy (the few stretched, the slowest recent answer while within the window's reach,
    # then 1.25 x (p90 - p10) of the last 32, the ceiling), through both limiters' public reporting
    clock = FakeClock()
    shared = RedisRateLimiter(redis_url, key=fresh_key(), rate=100, clock=clock)
    local = RateLimiter(100, clock=clock)
    latencies = [0.001, 0.2] + [0.010 + 0.020 * i / 17 for i in range(18)] + [0.045, 0.012] * 3
    random.Random(7).shuffle(latencies)
    gaps = itertools.cycle((2.0, 0.3, 0.05))  # some answers out of the window's reach, some not
    margins: list[tuple[float, float]] = []
    with anyio.fail_after(60):
        for latency in latencies:
            await clock.advance(next(gaps))
            await _answered_after(latency, shared, local)
            await _acquire_driving(shared)  # the next round trip brings this process's spread to Redis
            margins.append((shared.margin, local.margin))
    assert len({round(local_margin, 4) for _, local_margin in margins}) > 5  # the margin did move
    assert max(local_margin for _, local_margin in margins) == local.max_safety_margin  # capped
    for shared_margin, local_margin in margins:
        assert shared_margin == pytest.approx(local_margin, abs=2e-6)


async def test_the_shared_margin_starts_cold_as_the_in_process_one(redis_url: str) -> None:
    # from the first timed send until two answers are timed the margin is 50 ms (a new connection's
    # first request is often counted later than the warm ones after it), in every process as in one
    clock = FakeClock()
    shared = RedisRateLimiter(redis_url, key=fresh_key(), rate=100, clock=clock)
    local = RateLimiter(100, clock=clock)
    margins: list[tuple[float, float]] = []
    with anyio.fail_after(20):
        await _acquire_driving(shared)
        await local.acquire()
        margins.append((shared.margin, local.margin))  # nothing timed yet: the floor
        for latency in (0.010, 0.011):
            await clock.advance(2.0)
            await _answered_after(latency, shared, local)
            await _acquire_driving(shared)  # the next round trip brings this process's margin to Redis
            margins.append((shared.margin, local.margin))
    floor = shared.safety_margin
    assert margins == [(floor, floor), (COLD_START_MARGIN, COLD_START_MARGIN), (floor, floor)]


async def test_a_429s_latency_counts_in_the_shared_margin(redis_url: str) -> None:
    # as in RateLimiter, a 429's answer is one more latency sample: after 10 ms and a 429 answered in
    # 30 ms the flush doubles the 60 ms those two give (leaving the 429 out, it doubled the 5 ms floor)
    clock = FakeClock()
    limiter = RedisRateLimiter(redis_url, key=fresh_key(), rate=100, max_safety_margin=0.2, clock=clock)
    with anyio.fail_after(20):
        for latency, rejected in ((0.010, False), (0.030, True)):
            await clock.advance(2.0)
            await _answered_after(latency, limiter, rejected=rejected)
        await limiter.flush()  # what the client does after a 429
    assert limiter.margin == pytest.approx(0.120, abs=2e-6)


async def test_a_pinned_margin_holds_in_both_limiters_whatever_the_latencies(redis_url: str) -> None:
    clock = FakeClock()
    shared = RedisRateLimiter(redis_url, key=fresh_key(), rate=100, clock=clock)
    local = RateLimiter(100, clock=clock)
    shared.pin_margin(0.02)
    local.pin_margin(0.02)
    with anyio.fail_after(30):
        for latency in (0.010, 0.090, 0.030):
            await clock.advance(2.0)
            await _answered_after(latency, shared, local)
            await _acquire_driving(shared)
            assert (shared.margin, local.margin) == (0.02, 0.02)


async def test_the_documented_worker_shares_a_limit_against_the_served_sandbox(redis_url: str) -> None:
    section = RATE_LIMITS.split("## Sharing a limit across workers", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    namespace: dict[str, Any] = {}
    exec(compile(block, "docs/rate-limits.md", "exec"), namespace)
    async with served_sandbox_client(rate_limit=None) as sms:
        account = sms.sandbox.config.accounts[0]
        balances = []
        async with anyio.create_task_group() as tg:  # two "workers" of one account

            async def one() -> None:
                balances.append(
                    await namespace["worker"](account.api_key, account.api_secret, redis_url, sms.base_url)
                )

            tg.start_soon(one)
            tg.start_soon(one)
        assert balances == [account.balance, account.balance]
        assert [entry["status"] for entry in sms.sandbox.requests] == [200, 200]


async def test_the_typed_sample_worker_client_is_keyed_by_its_account(redis_url: str) -> None:
    async with shared(redis_url, "sample-key-0001", "sample-secret") as client:
        assert isinstance(client.limiter, RedisRateLimiter)
        assert client.limiter.key == account_key("sample-key-0001")


async def test_a_password_and_a_database_in_the_url_work_and_a_wrong_password_raises(tmp_path: Path) -> None:
    server = started_server(tmp_path, extra_args=("--requirepass", "s3cret-pass"))
    try:
        good = RedisRateLimiter(f"redis://:s3cret-pass@127.0.0.1:{server.port}/3", key=fresh_key(), rate=20)
        with anyio.fail_after(10):
            await good.acquire()
            await good.acquire()
        await good.aclose()
        bad = RedisRateLimiter(f"redis://:wrong@127.0.0.1:{server.port}/0", key=fresh_key(), rate=20)
        with anyio.fail_after(10), pytest.raises(RedisLimiterError) as raised:
            await bad.acquire()  # a misconfiguration: raised, not waited out as an outage
        assert "wrong" not in str(raised.value)
        assert "s3cret" not in repr(good)
    finally:
        server.stop()


async def test_a_lost_schedule_starts_with_an_interval_of_quiet(redis_url: str, inspect: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_url, key=fresh_key(), rate=4)
    await limiter.acquire()
    await anyio.sleep(limiter.interval + 0.05)  # the schedule alone would grant at once now
    inspect.delete(limiter.redis_key)  # as a restart without persistence, a flush or an eviction would
    seconds, micros = inspect.time()
    lost_at = seconds + micros / 1_000_000
    await limiter.acquire()
    assert limiter.last_grant_time is not None
    # whoever granted last before the loss may have done so a moment before: wait one interval
    assert limiter.last_grant_time - lost_at >= limiter.interval - 0.002
