"""Limiter benchmarks: acquire cost, a crowd of waiters, window safety, throughput, a strict server.

A "window" is half-open, ``[t, t + 1 s)``, as a server counts it when it rejects a request that
finds ``rate`` others accepted in the second before it.
"""

from __future__ import annotations

import gc
import math
import random
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import anyio
from aiolimiter import AsyncLimiter
from asyncio_throttle import Throttler
from pyrate_limiter import Duration, Limiter, Rate

from smsapi_async import DEFAULT_SAFETY_MARGIN, FakeClock, RateLimiter, RedisRateLimiter

from . import Table
from ._memory import PARKED_TASK, PASSES, bytes_per_parked_waiter, parked_task

Acquire = Callable[[], Coroutine[Any, Any, None]]

PEER = "aiolimiter.AsyncLimiter"

UNLIMITED = 1e9
"""A rate no loop can reach: every acquire takes the uncontended path."""

VIRTUAL_BACKEND = "trio"
"""FakeClock runs use trio, where ``FakeClock.settle`` is exact rather than a count of quiet rounds."""


def max_in_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most timestamps found in any half-open window ``[t, t + width)``."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= width:
            first += 1
        most = max(most, last - first + 1)
    return most


# --- uncontended acquire ------------------------------------------------------------------------


async def _noop() -> None:
    return None


async def _ns_per_op(acquire: Acquire, ops: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(ops):
        await acquire()
    return (time.perf_counter_ns() - start) / ops


def _peers_acquire() -> dict[str, Acquire]:
    """Each peer's uncontended acquire, at a rate no loop reaches."""

    pyrate = Limiter(Rate(10**9, Duration.SECOND))

    async def pyrate_acquire() -> None:
        await pyrate.try_acquire_async("bench")

    return {
        "aiolimiter.AsyncLimiter": AsyncLimiter(UNLIMITED, 1).acquire,
        "asyncio_throttle.Throttler": Throttler(10**9).acquire,
        "pyrate_limiter.Limiter": pyrate_acquire,
    }


def acquire_cost(ops: int = 200_000, repeats: int = 5) -> Table:
    """ns per uncontended ``acquire``, ours against every peer, best of ``repeats`` interleaved runs."""

    async def measure() -> dict[str, float]:
        contenders: dict[str, Acquire] = {
            "await of an empty coroutine": _noop,
            "RateLimiter": RateLimiter(1_000_000_000).acquire,
            **_peers_acquire(),
        }
        best = dict.fromkeys(contenders, math.inf)
        for _ in range(repeats):
            for name, acquire in contenders.items():  # interleaved, so drift hits all alike
                gc.collect()
                n = ops if "pyrate" not in name else max(1, ops // 10)  # pyrate is ~20x slower
                best[name] = min(best[name], await _ns_per_op(acquire, n))
        return best

    best = anyio.run(measure, backend="asyncio")
    floor = best["await of an empty coroutine"]
    fastest_peer = min(ns for name, ns in best.items() if "." in name)
    rows = [
        (name, f"{ns:.0f}", f"{ns - floor:.0f}", f"{ns / fastest_peer:.2f}", f"{ns / best[PEER]:.2f}")
        for name, ns in best.items()
    ]
    return Table(
        "Uncontended acquire (asyncio)",
        ("contender", "ns/op", "ns/op net of await", "ratio to fastest peer", "ratio to aiolimiter"),
        rows,
        note=f"best of {repeats} x {ops:,} calls; target: RateLimiter ratio to fastest peer <= 1.00",
    )


# --- a crowd of waiters -------------------------------------------------------------------------


async def _drain(limiter: RateLimiter, waiters: int) -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(waiters):
            tg.start_soon(limiter.acquire)


async def _bytes_held(waiters: int, park: Acquire) -> int:
    """Traced bytes held while ``waiters`` tasks are parked in ``park``."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        async with anyio.create_task_group() as tg:
            for _ in range(waiters):
                tg.start_soon(park)
            await anyio.wait_all_tasks_blocked()
            held = tracemalloc.get_traced_memory()[0] - before
            tg.cancel_scope.cancel()
    finally:
        tracemalloc.stop()
    return held


async def _memory_per_waiter(waiters: int, rate: float) -> tuple[float, float]:
    """Bytes per waiter in all, and the limiter's share (beyond a task parked on a bare Event)."""
    held: dict[str, int] = {}
    for crowd in (min(waiters, 100), waiters):  # a small first pass pays for one-off allocations
        limiter = RateLimiter(rate, clock=FakeClock())  # nothing is granted while we look
        held = {
            "limiter": await _bytes_held(crowd, limiter.acquire),
            "event": await _bytes_held(crowd, anyio.Event().wait),
        }
    return held["limiter"] / waiters, (held["limiter"] - held["event"]) / waiters


async def _exhausted_parks() -> dict[str, Acquire]:
    """Acquires that will wait: each limiter at 1 call/s with its one call already taken."""

    ours = RateLimiter(1, clock=FakeClock())  # virtual time: nothing is granted while we look
    aio = AsyncLimiter(1, 1)
    throttle = Throttler(1, 1.0)
    pyrate = Limiter(Rate(1, Duration.SECOND))

    async def pyrate_acquire() -> None:
        await pyrate.try_acquire_async("bench")

    for acquire in (ours.acquire, aio.acquire, throttle.acquire, pyrate_acquire):
        await acquire()
    # the shared limiter's local queue: its head sleeps out a pause before it would ask Redis
    shared = RedisRateLimiter("redis://127.0.0.1:1", key="memory", clock=FakeClock())
    shared.pause(3600)
    return {
        "RateLimiter": ours.acquire,
        PEER: aio.acquire,
        "asyncio_throttle.Throttler": throttle.acquire,
        "pyrate_limiter.Limiter": pyrate_acquire,
        "RedisRateLimiter (its local queue)": shared.acquire,
        PARKED_TASK: parked_task(),
    }


def waiter_memory(waiters: int = 10_000) -> Table:
    """Bytes held per parked waiter (task included), ours against every peer (asyncio)."""

    async def measure() -> dict[str, float]:
        parks = await _exhausted_parks()
        return {name: await bytes_per_parked_waiter(park, waiters) for name, park in parks.items()}

    held = anyio.run(measure, backend="asyncio")
    rows = [
        (name, f"{b:.0f}", f"{b * 10_000 / 2**20:.1f}", f"{b / held[PEER]:.2f}") for name, b in held.items()
    ]
    return Table(
        f"Memory per waiter, {waiters:,} parked (asyncio, tracemalloc)",
        ("contender", "B/waiter", "MiB per 10,000", "ratio to aiolimiter"),
        rows,
        note="each task is `asyncio.ensure_future(acquire())`, task included, least of "
        f"{PASSES} passes: benchmarks/_memory.py says exactly what is counted (the same figure as "
        "benchmarks.peers.crowd); target: RateLimiter ratio to aiolimiter <= 1.00",
    )


def many_waiters(
    waiters: int = 10_000, rate: float = 5_000.0, backends: Sequence[str] = ("asyncio", "trio")
) -> Table:
    """``waiters`` tasks call ``acquire`` at once: wall time against the schedule, CPU, memory."""
    rows = []
    for backend in backends:
        limiter = RateLimiter(rate)
        ideal = (waiters - 1) * limiter.interval  # the first is granted at once
        wall, cpu = time.perf_counter(), time.process_time()
        anyio.run(_drain, limiter, waiters, backend=backend)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        total, share = anyio.run(_memory_per_waiter, waiters, rate, backend=backend)
        rows.append(
            (
                backend,
                f"{waiters:,}",
                f"{ideal:.3f}",
                f"{wall:.3f}",
                f"{wall / ideal:.3f}",
                f"{cpu:.3f}",
                f"{cpu / waiters * 1e6:.1f}",
                f"{total:.0f}",
                f"{share:.0f}",
            )
        )
    return Table(
        f"{waiters:,} waiters at {rate:,.0f}/s (real time)",
        (
            "backend",
            "waiters",
            "ideal s",
            "wall s",
            "wall/ideal",
            "CPU s",
            "CPU µs/waiter",
            "B/waiter",
            "limiter B/waiter",
        ),
        rows,
        note="ideal = (waiters - 1) x interval; limiter B = bytes beyond a task parked on a bare Event",
    )


# --- saturated runs: window safety and throughput -----------------------------------------------


async def _saturate(acquire: Acquire, seconds: float, workers: int = 3) -> list[float]:
    """Grant times (monotonic) while ``workers`` tasks call ``acquire`` back to back."""
    times: list[float] = []

    async def worker() -> None:
        while True:
            await acquire()
            times.append(time.monotonic())

    with anyio.move_on_after(seconds):
        async with anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(worker)
    return times


def _limiters() -> dict[str, tuple[float, float, Acquire]]:
    """Label -> (rate, ideal share of rate, acquire)."""
    contenders: dict[str, tuple[float, float, Acquire]] = {}
    for rate in (2, 15):
        for margin in (None, 0.0):
            ours = RateLimiter(rate) if margin is None else RateLimiter(rate, safety_margin=margin)
            label = f"RateLimiter({rate})" if margin is None else f"RateLimiter({rate}, safety_margin=0)"
            contenders[label] = (rate, 1 / (ours.interval * rate), ours.acquire)
        contenders[f"AsyncLimiter({rate}, 1)"] = (rate, 1.0, AsyncLimiter(rate, 1).acquire)
    return contenders


def saturated(seconds: float = 5.0) -> Table:
    """All contenders saturated side by side for ``seconds`` of real time (asyncio)."""
    contenders = _limiters()
    grants: dict[str, list[float]] = {}

    async def run_all() -> None:
        async def run(label: str, acquire: Acquire) -> None:
            grants[label] = await _saturate(acquire, seconds)

        async with anyio.create_task_group() as tg:
            for label, (_, _, acquire) in contenders.items():
                tg.start_soon(run, label, acquire)

    anyio.run(run_all, backend="asyncio")
    rows = []
    for label, (rate, ideal, _) in contenders.items():
        times = grants[label]
        achieved = (len(times) - 1) / (times[-1] - times[0]) / rate if len(times) > 1 else math.nan
        rows.append(
            (
                label,
                f"{len(times)}",
                f"{max_in_window(times)}",
                f"{rate:g}",
                f"{achieved:.2%}",
                f"{ideal:.2%}",
            )
        )
    return Table(
        f"Saturated for {seconds:g} s (real time, asyncio)",
        ("limiter", "grants", "max in any 1 s", "limit", "throughput % of rate", "ideal"),
        rows,
        note="throughput = (grants - 1) / (last - first grant); aiolimiter's opening burst inflates it",
    )


async def _virtual_grants(
    limiter: RateLimiter, clock: FakeClock, grants: int, workers: int = 3
) -> list[float]:
    """Virtual grant times of ``grants`` saturated acquires."""
    times: list[float] = []

    async def worker() -> None:
        while len(times) < grants:
            await limiter.acquire()
            times.append(clock.now())

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)
        await clock.run_until_idle()
    return times[:grants]


def virtual_grant_times(rate: float, safety_margin: float | None, grants: int) -> list[float]:
    """Grant times of a saturated ``RateLimiter`` on a FakeClock (``None``: default margin)."""
    clock = FakeClock()
    if safety_margin is None:
        limiter = RateLimiter(rate, clock=clock)
    else:
        limiter = RateLimiter(rate, safety_margin=safety_margin, clock=clock)
    return anyio.run(_virtual_grants, limiter, clock, grants, backend=VIRTUAL_BACKEND)


def virtual_windows(grants: int = 10_000) -> Table:
    """Max grants in any 1 s window over a long saturated run in virtual time."""
    rows = []
    for rate in (2, 15):
        for margin in (None, 0.0):
            times = virtual_grant_times(rate, margin, grants)
            span = times[-1] - times[0]
            rows.append(
                (
                    f"RateLimiter({rate}" + (")" if margin is None else ", safety_margin=0)"),
                    f"{len(times):,}",
                    f"{span:,.0f}",
                    f"{max_in_window(times)}",
                    f"{rate:g}",
                    f"{(len(times) - 1) / span / rate:.2%}",
                )
            )
    return Table(
        f"Saturated for {grants:,} grants (virtual time, FakeClock)",
        ("limiter", "grants", "virtual s", "max in any 1 s", "limit", "throughput % of rate"),
        rows,
        note="safety_margin=0 at 15/s catches 16 only through float rounding: 15 x (1/15) < 1.0",
    )


# --- a strict sliding-window server -------------------------------------------------------------


def count_429s(arrivals: Sequence[float], rate: int, window: float = 1.0) -> int:
    """Rejections by a server that refuses a request finding ``rate`` accepted in the last ``window``."""
    accepted: deque[float] = deque()
    rejected = 0
    for t in sorted(arrivals):
        while accepted and t - accepted[0] >= window:
            accepted.popleft()
        if len(accepted) >= rate:
            rejected += 1
        else:
            accepted.append(t)
    return rejected


def strict_server(requests: int = 2_000, max_delay: float = 0.004, seed: int = 2024) -> Table:
    """Grants at 2/s reach a strict server after a random 0..``max_delay`` s delay: how many 429s?"""
    rows = []
    for margin in (0.0, None):
        rng = random.Random(seed)
        granted = virtual_grant_times(2, margin, requests)
        arrivals = [t + rng.uniform(0, max_delay) for t in granted]
        rejected = count_429s(arrivals, rate=2)
        label = f"{margin:g}" if margin is not None else f"default ({DEFAULT_SAFETY_MARGIN:g})"
        rows.append(
            (
                label,
                f"{requests:,}",
                f"{max_in_window(arrivals)}",
                f"{rejected}",
                f"{rejected / requests:.1%}",
            )
        )
    return Table(
        f"Strict 1 s sliding-window server at 2/s, arrival delay 0-{max_delay * 1000:g} ms",
        ("safety_margin", "requests", "max arrivals in any 1 s", "429s", "rejected"),
        rows,
        note="target: 0 429s with the default margin",
    )
