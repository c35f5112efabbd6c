"""Shared (Redis-backed) limiters side by side, on one redis-server started for the run.

``python -m benchmarks.shared_limiter [--quick] [--redis-url URL]``

1. **Grant cost**: a rate far above demand, so nothing waits and each grant costs only its trip
   through the limiter: microseconds per grant one after another, and grants per second with 50
   concurrent callers.
2. **Conformance**: 4 OS processes share one account at 10 calls/s, each with 20 callers asking
   as fast as it lets them; every grant is stamped (wall clock, one host) and the run reports the
   rate reached and the most grants in any 1-second window ``(t - 1, t]``, which a server
   counting a strict sliding window would refuse above 10.

Rows: smsapi_async's in-process :class:`RateLimiter` (one per process: the problem),
:class:`RedisRateLimiter` through ``redis.asyncio`` and through its built-in connection under
trio, pyrate-limiter's ``RedisBucket`` (blocking ``try_acquire_async``) and ``limits``' Redis
moving window (``hit``, then sleep until the window's reset, as its documentation suggests).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import redis.asyncio
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from pyrate_limiter import Duration, Limiter, Rate, RedisBucket
from rich.console import Console

from smsapi_async import RateLimiter, RedisRateLimiter

from . import Table
from .__main__ import render
from ._redis import started_server

KINDS = (
    "RateLimiter, one per process",
    "RedisRateLimiter (redis.asyncio)",
    "RedisRateLimiter (built-in, trio)",
    "pyrate-limiter RedisBucket",
    "limits Redis moving window",
)

Acquire = Callable[[], Awaitable[Any]]


def backend_of(kind: str) -> str:
    return "trio" if "trio" in kind else "asyncio"


async def open_limiter(kind: str, url: str, key: str, rate: int) -> tuple[Acquire, Callable[[], Any]]:
    """``kind``'s acquire function for account ``key`` at ``rate``/s, and a counter of Redis calls."""
    if kind.startswith("RateLimiter"):
        local = RateLimiter(rate)
        return local.acquire, lambda: None
    if kind.startswith("RedisRateLimiter"):
        shared = RedisRateLimiter(url, key=key, rate=rate)
        return shared.acquire, lambda: shared.redis_calls / max(1, shared.grants)
    if kind.startswith("pyrate"):
        bucket = await RedisBucket.init([Rate(rate, Duration.SECOND)], redis.asyncio.Redis.from_url(url), key)
        limiter = Limiter(bucket)
        return (lambda: limiter.try_acquire_async(key, blocking=True)), lambda: None
    window = MovingWindowRateLimiter(RedisStorage("async+" + url, implementation="redispy"))
    item = RateLimitItemPerSecond(rate)

    async def hit() -> None:
        while not await window.hit(item, key):
            stats = await window.get_window_stats(item, key)
            await anyio.sleep(max(0.001, stats.reset_time - time.time()))

    return hit, lambda: None


async def _cost(kind: str, url: str, grants: int) -> tuple[float, float]:
    acquire, _ = await open_limiter(kind, url, "bench-" + uuid.uuid4().hex[:8], 1_000_000)
    for _ in range(10):  # connect, load scripts
        await acquire()
    started = time.perf_counter()
    for _ in range(grants):
        await acquire()
    sequential = (time.perf_counter() - started) / grants * 1e6
    left = grants

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await acquire()

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(caller)
    return sequential, grants / (time.perf_counter() - started)


def grant_cost(url: str, grants: int = 2_000) -> Table:
    rows = []
    for kind in KINDS:
        micros, per_second = anyio.run(_cost, kind, url, grants, backend=backend_of(kind))
        rows.append((kind, f"{micros:,.0f}", f"{per_second:,.0f}"))
    return Table(
        "Grant cost on one Redis (rate far above demand: nothing waits)",
        ("limiter", "µs per grant, one caller", "grants/s, 50 callers"),
        rows,
        f"{grants} grants each; loopback redis-server, same run",
    )


async def _member(
    kind: str, url: str, key: str, rate: int, start_at: float, seconds: float
) -> dict[str, Any]:
    acquire, calls_per_grant = await open_limiter(kind, url, key, rate)
    await anyio.sleep(max(0.0, start_at - time.time()))
    stamps: list[float] = []
    deadline = start_at + seconds

    async def caller() -> None:
        while True:
            await acquire()
            now = time.time()
            if now >= deadline:
                return
            stamps.append(now)

    with anyio.move_on_after(seconds + 5):
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(caller)
    return {"stamps": stamps, "calls_per_grant": calls_per_grant()}


def fleet_member(kind: str, url: str, key: str, rate: int, start_at: float, seconds: float) -> dict[str, Any]:
    """One process of the fleet (run in a fresh interpreter)."""
    result: dict[str, Any] = anyio.run(
        _member, kind, url, key, rate, start_at, seconds, backend=backend_of(kind)
    )
    return result


def most_in_one_second(stamps: Sequence[float]) -> int:
    ordered = sorted(stamps)
    best = start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def conformance(
    url: str, seconds: float = 10.0, processes: int = 4, rate: int = 10, lead: float = 1.0
) -> Table:
    rows = []
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        list(pool.map(time.sleep, [0.0] * processes))  # start the interpreters before timing anything
        for kind in KINDS:
            key = "fleet-" + uuid.uuid4().hex[:8]
            start_at = time.time() + lead  # every process starts at once
            futures = [
                pool.submit(fleet_member, kind, url, key, rate, start_at, seconds) for _ in range(processes)
            ]
            results = [future.result() for future in futures]
            stamps = [t for result in results for t in result["stamps"]]
            per_grant = [r["calls_per_grant"] for r in results if r["calls_per_grant"] is not None]
            shares = sorted(len(result["stamps"]) for result in results)
            rows.append(
                (
                    kind,
                    f"{len(stamps) / seconds:.2f}",
                    str(most_in_one_second(stamps)),
                    "/".join(str(n) for n in shares),
                    f"{statistics.mean(per_grant):.1f}" if per_grant else "-",
                )
            )
    return Table(
        f"{processes} processes x 20 callers sharing one account at {rate}/s for {seconds:g} s",
        ("limiter", "grants/s", f"most in any 1 s (limit {rate})", "grants per process", "Redis calls/grant"),
        rows,
        "grants stamped with the wall clock of one host; a strict server refuses what is above the limit",
    )


def run(quick: bool = False, redis_url: str | None = None, console: Console | None = None) -> list[Table]:
    """Run both benchmarks (a redis-server of their own unless ``redis_url``), print and return them."""
    console = console or Console(width=150)
    with tempfile.TemporaryDirectory() as directory:
        server = None if redis_url else started_server(Path(directory))
        url = redis_url or (server.url if server else "")
        try:
            tables = []
            benches: list[Callable[[], Table]] = [
                lambda: grant_cost(url, grants=100 if quick else 2_000),
                lambda: conformance(url, seconds=1.0, processes=2, lead=0.5) if quick else conformance(url),
            ]
            for bench in benches:
                started = time.perf_counter()
                table = bench()
                render(table, console, time.perf_counter() - started)
                tables.append(table)
            return tables
        finally:
            if server is not None:
                server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shared_limiter", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (a few seconds)")
    parser.add_argument("--redis-url", help="use this Redis instead of starting a redis-server")
    args = parser.parse_args(argv)
    run(quick=args.quick, redis_url=args.redis_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
