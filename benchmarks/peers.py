"""smsapi_async side by side with what users would otherwise use, in the same run.

* :func:`acquire_cost`, :func:`conformance`, :func:`crowd`, :func:`contention`: the in-process
  limiter against aiolimiter, asyncio-throttle and pyrate-limiter: uncontended acquire, grants in
  any 1-second window and throughput when saturated, FIFO order, what cancelling waiters does,
  memory and CPU per waiter for a crowd of 10 000, and CPU per grant draining 2 000 at 1 000/s and
  5 000/s.
* :func:`jitter`: the whole client against the hand-written alternative (httpx + aiolimiter +
  tenacity retrying 429s), 50 callers each, against the sandbox served in its own process over a
  loopback socket: it refuses with 429 ``OVER_LIMIT`` any call beyond the rate in a sliding second,
  counting each call a random 0-J ms after it arrived (as load balancers and queues do).
* :func:`import_time`: what importing smsapi_async and constructing a client cost, against
  ``import httpx`` (which the client needs anyway) and aiolimiter.

``python -m benchmarks.peers [--quick]`` prints the tables; ``python -m benchmarks.results`` repeats
them into ``RESULTS.md``. asyncio-throttle and pyrate-limiter run on asyncio only, so every
comparison here runs on asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from asyncio_throttle.throttler import Throttler
from pyrate_limiter import Duration, Limiter, Rate
from rich.console import Console
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from smsapi_async import AsyncSmsClient, FakeClock, RateLimiter

from . import Table, free_port, wait_until_listening
from ._memory import PARKED_TASK, PASSES, bytes_per_parked_waiter, parked_task
from .limiter import max_in_window

Acquire = Callable[[], Awaitable[Any]]

OURS = "smsapi_async.RateLimiter"
PEERS = ("aiolimiter.AsyncLimiter", "asyncio_throttle.Throttler", "pyrate_limiter.Limiter")


def _throttled(throttler: Throttler) -> Acquire:
    async def acquire() -> None:
        async with throttler:
            pass

    return acquire


def _pyrate(rate: float, per: Duration = Duration.SECOND) -> Acquire:
    limiter = Limiter(Rate(max(1, int(rate)), per))

    async def acquire() -> None:
        await limiter.try_acquire_async("bench", blocking=True)

    return acquire


def limiters(rate: float, per_seconds: float = 1.0) -> dict[str, Acquire]:
    """An ``acquire`` of each contender allowing ``rate`` calls per ``per_seconds``."""
    per = Duration.SECOND if per_seconds == 1 else Duration.HOUR
    return {
        OURS: RateLimiter(rate / per_seconds).acquire,
        "aiolimiter.AsyncLimiter": AsyncLimiter(rate, per_seconds).acquire,
        "asyncio_throttle.Throttler": _throttled(Throttler(rate_limit=max(1, int(rate)), period=per_seconds)),
        "pyrate_limiter.Limiter": _pyrate(rate, per),
    }


# --- uncontended acquire ---------------------------------------------------------------------------


async def _noop() -> None:
    return None


def acquire_cost(ops: int = 100_000, repeats: int = 3) -> Table:
    """ns per uncontended ``acquire``: best of ``repeats`` interleaved runs of ``ops`` calls."""

    async def measure() -> dict[str, float]:
        contenders = {"await of an empty coroutine": _noop, **limiters(1e9)}
        best = dict.fromkeys(contenders, math.inf)
        for _ in range(repeats):
            for name, acquire in contenders.items():
                gc.collect()
                start = time.perf_counter_ns()
                for _ in range(ops):
                    await acquire()
                best[name] = min(best[name], (time.perf_counter_ns() - start) / ops)
        return best

    best = asyncio.run(measure())
    floor = best["await of an empty coroutine"]
    rows = [(name, f"{ns:.0f}", f"{ns - floor:.0f}") for name, ns in best.items()]
    return Table(
        "Uncontended acquire against the peers (asyncio)",
        ("contender", "ns/op", "ns/op net of await"),
        rows,
        note=f"best of {repeats} x {ops:,} calls, rate far above demand; target: ours <= fastest peer",
    )


# --- saturated: window, throughput, FIFO; then cancellation -----------------------------------------


async def _saturate(acquire: Acquire, seconds: float, workers: int) -> tuple[list[float], int]:
    """Grant times while ``workers`` tasks call ``acquire`` back to back, and how many grants came
    out of arrival order (a caller served before one that was waiting longer)."""
    times: list[float] = []
    tickets = itertools.count()
    served = -1
    inversions = 0

    async def worker() -> None:
        nonlocal served, inversions
        while True:
            ticket = next(tickets)
            await acquire()
            times.append(time.monotonic())
            if ticket < served:
                inversions += 1
            served = max(served, ticket)

    tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return times, inversions


async def _after_cancelling(acquire: Acquire, rate: float, waiters: int = 20) -> float:
    """``waiters`` queue up; every other one is cancelled; seconds for the rest, over the ideal."""
    await acquire()  # the first grant is free for every contender
    tasks = [asyncio.ensure_future(acquire()) for _ in range(waiters)]
    await asyncio.sleep(0.05)
    for task in tasks[::2]:
        task.cancel()
    started = time.monotonic()
    rest = tasks[1::2]
    await asyncio.wait_for(asyncio.gather(*rest), timeout=10 * waiters / rate + 5)
    await asyncio.gather(*tasks, return_exceptions=True)
    return (time.monotonic() - started) / (len(rest) / rate)


def conformance(seconds: float = 5.0, rates: Sequence[float] = (2, 15), workers: int = 10) -> Table:
    """Every contender saturated at once for ``seconds`` at each rate (asyncio, real time)."""
    runs: dict[tuple[float, str], tuple[list[float], int, float]] = {}

    async def run_all() -> None:
        async def one(rate: float, name: str) -> None:
            times, inversions = await _saturate(limiters(rate)[name], seconds, workers)
            try:
                slowdown = await _after_cancelling(limiters(rate)[name], rate)
            except asyncio.TimeoutError:
                slowdown = math.inf
            runs[rate, name] = (times, inversions, slowdown)

        await asyncio.gather(*(one(rate, name) for rate in rates for name in (OURS, *PEERS)))

    asyncio.run(run_all())
    rows = []
    for rate, name in ((rate, name) for rate in rates for name in (OURS, *PEERS)):  # a fixed order
        times, inversions, slowdown = runs[rate, name]
        span = times[-1] - times[0] if len(times) > 1 else math.nan
        rows.append(
            (
                name,
                f"{rate:g}",
                f"{len(times)}",
                f"{max_in_window(times)}",
                f"{100 * (len(times) - 1) / span / rate:.1f}",
                f"{100 * inversions / max(1, len(times)):.1f}",
                "never" if math.isinf(slowdown) else f"{slowdown:.2f}",
            )
        )
    return Table(
        f"Saturated by {workers} callers for {seconds:g} s, then half of 20 waiters cancelled (asyncio)",
        (
            "limiter",
            "rate",
            "grants",
            "most in any 1 s",
            "% of rate",
            "% out of FIFO order",
            "rest after cancel / ideal",
        ),
        rows,
        note="% of rate = (grants - 1) / (last - first) / rate; a window above the rate would be refused "
        "by a strict server; rest after cancel: 1.00 means the cancelled waiters cost nothing",
    )


# --- a crowd of waiters --------------------------------------------------------------------------


def _parked(name: str) -> Acquire:
    """An ``acquire`` of ``name`` that grants one call and nothing more for an hour."""
    if name == OURS:
        return RateLimiter(1 / 3600, clock=FakeClock()).acquire
    return limiters(1, per_seconds=3600)[name]


async def _drain(name: str, waiters: int, rate: float, limit: float) -> tuple[float, float]:
    acquire = limiters(rate)[name]
    wall, cpu = time.perf_counter(), time.process_time()
    tasks = [asyncio.ensure_future(acquire()) for _ in range(waiters)]
    _, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if pending:
        return math.inf, time.process_time() - cpu
    return time.perf_counter() - wall, time.process_time() - cpu


def crowd(waiters: int = 10_000, rate: float = 5_000.0) -> Table:
    """``waiters`` tasks call ``acquire`` at once: memory held while parked; wall and CPU time to
    drain them all at ``rate`` (one contender at a time, asyncio)."""
    ideal = (waiters - 1) / rate
    task = asyncio.run(bytes_per_parked_waiter(parked_task(), waiters))
    rows = []
    for name in (OURS, *PEERS):
        per_waiter = asyncio.run(_bytes_while_parked(name, waiters))
        wall, cpu = asyncio.run(_drain(name, waiters, rate, limit=ideal * 10 + 5))
        rows.append(
            (
                name,
                f"{per_waiter:,.0f}",
                f"{per_waiter - task:,.0f}",
                "gave up" if math.isinf(wall) else f"{wall / ideal:.2f}",
                f"{cpu * 1e6 / waiters:.1f}",
            )
        )
    return Table(
        f"{waiters:,} waiters at once, drained at {rate:,.0f}/s (asyncio)",
        ("limiter", "B/waiter", "B/waiter beyond the task", "wall / ideal", "CPU µs/waiter"),
        rows,
        note=f"ideal = (waiters - 1) / rate = {ideal:.2f} s, below 1 for limiters that let a burst of "
        "`rate` calls through at once; B/waiter: traced heap (tracemalloc) per task "
        "`asyncio.ensure_future(acquire())` parked in the limiter, task included, least of "
        f"{PASSES} passes (benchmarks/_memory.py says exactly what is counted); beyond the task: "
        f"minus {task:,.0f} B, {PARKED_TASK}",
    )


def contention(waiters: int = 2_000, rates: Sequence[float] = (1_000.0, 5_000.0)) -> Table:
    """``waiters`` tasks call ``acquire`` at once; wall and CPU time to drain them at each rate."""
    rows = []
    for rate in rates:
        ideal = (waiters - 1) / rate
        for name in (OURS, *PEERS):
            wall, cpu = asyncio.run(_drain(name, waiters, rate, limit=ideal * 10 + 5))
            shown = "gave up" if math.isinf(wall) else f"{wall / ideal:.2f}"
            rows.append((name, f"{rate:g}", shown, f"{cpu * 1e6 / waiters:.1f}"))
    return Table(
        f"{waiters:,} waiters at once, drained at each rate (asyncio)",
        ("limiter", "rate", "wall / ideal", "CPU µs/grant"),
        rows,
        note="ideal = (waiters - 1) / rate; the peers let a burst of `rate` calls through at once, "
        "so their wall time is about half the ideal (at a rate above the number of waiters, nobody "
        "waits for them at all); ours paces the grants (a server counting a "
        "strict sliding second refuses a burst), in bunches of up to 50 ms at these rates, so its "
        "head wakes at most 20 times a second. CPU per grant includes creating and finishing the "
        "waiting task, the same for every limiter, and every timed wake-up of the idle process (on "
        "a virtual machine, 100-200 µs each)",
    )


async def _bytes_while_parked(name: str, waiters: int) -> float:
    acquire = _parked(name)
    await acquire()  # spend the one free grant
    return await bytes_per_parked_waiter(acquire, waiters)


# --- the whole client against the hand-written alternative, over a socket ----------------------------

KEY, SECRET = "peers-key", "peers-secret"


@contextmanager
def served_sandbox(rate: float, jitter: float) -> Iterator[str]:
    """The sandbox in its own process (its own interpreter lock, like a remote server), enforcing a
    strict sliding-window ``rate`` on calls counted 0-``jitter`` s after they arrive."""
    port = free_port()
    command = [sys.executable, "-m", "smsapi_async.sandbox", "--port", str(port)]
    command += ["--api-key", KEY, "--api-secret", SECRET, "--rate-limit", f"{rate:g}"]
    command += ["--jitter", f"{jitter:g}", "--seed", "7"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, server, "the sandbox")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


class Counting(httpx.AsyncBaseTransport):
    """A transport that counts the answers by status (both clients go through one)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class OverLimit(Exception):
    """A 429 the hand-written client retries."""


@asynccontextmanager
async def hand_written(
    url: str, rate: float, transport: Counting
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """What a user writes without this library: httpx, aiolimiter at the account's rate, and tenacity
    retrying 429s with jittered exponential back-off."""
    limiter = AsyncLimiter(rate, 1)
    async with httpx.AsyncClient(base_url=url, auth=(KEY, SECRET), transport=transport) as http:

        async def balance() -> None:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(lambda e: isinstance(e, OverLimit)),
                wait=wait_random_exponential(multiplier=0.5, max=5),
                stop=stop_after_attempt(6),
                reraise=True,
            ):
                with attempt:
                    async with limiter:
                        response = await http.post("/get-balance.json")
                    if response.status_code == 429:
                        raise OverLimit
                    response.raise_for_status()

        yield balance


@asynccontextmanager
async def ours(url: str, rate: float, transport: Counting) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    async with AsyncSmsClient(KEY, SECRET, base_url=url, rate_limit=rate, transport=transport) as client:

        async def balance() -> None:
            await client.account.balance()

        yield balance


CLIENTS = {"AsyncSmsClient": ours, "httpx + aiolimiter + tenacity": hand_written}


async def _drive(
    make: Callable[..., Any], url: str, rate: float, seconds: float, callers: int
) -> tuple[int, int, int]:
    """``callers`` tasks call get-balance back to back for ``seconds``: (successes, 429s, failures)."""
    transport = Counting()
    ok = failed = 0
    async with make(url, rate, transport) as call:
        await call()  # connect and warm up, then let the server's window empty
        await asyncio.sleep(1.1)
        transport.statuses.clear()
        deadline = time.monotonic() + seconds

        async def caller() -> None:
            nonlocal ok, failed
            while time.monotonic() < deadline:
                try:
                    await call()
                except Exception:  # a call given up on is counted, not fatal
                    failed += 1
                else:
                    ok += 1 if time.monotonic() <= deadline else 0

        await asyncio.gather(*(caller() for _ in range(callers)))
    return ok, transport.statuses.count(429), failed


def jitter(
    seconds: float = 10.0,
    rates: Sequence[float] = (2, 15),
    jitters: Sequence[float] = (0.0, 0.005, 0.02, 0.05),
    callers: int = 50,
) -> Table:
    """Successful calls per second and 429s, ours against the hand-written client, at each rate and
    arrival jitter, against the sandbox served in its own process."""
    rows = []
    for rate in rates:
        for j in jitters:
            optimum = rate / (1 + j)
            for name, make in CLIENTS.items():
                with served_sandbox(rate, j) as url:
                    ok, rejected, failed = asyncio.run(_drive(make, url, rate, seconds, callers))
                requests = ok + rejected + failed
                rows.append(
                    (
                        name,
                        f"{rate:g}",
                        f"{j * 1000:g}",
                        f"{ok / seconds:.2f}",
                        f"{100 * ok / seconds / optimum:.1f}",
                        f"{rejected}",
                        f"{100 * rejected / max(1, requests):.1f}",
                        f"{failed}",
                    )
                )
    return Table(
        f"Through the client: {callers} callers for {seconds:g} s against a strict server over a socket",
        ("client", "rate", "jitter ms", "ok/s", "% of optimum", "429s", "429 %", "given up"),
        rows,
        note="optimum = rate / (1 + J): no pacing avoids 429s with less spacing; the server counts each "
        "call U(0, J) after it arrives",
    )


# --- import time -----------------------------------------------------------------------------------


CONSTRUCT = "from smsapi_async import AsyncSmsClient; client = AsyncSmsClient(api_key='k', api_secret='s')"
"""What a user pays before the first call: the import and a constructed client (its httpx client,
limiter and clock), in a fresh interpreter."""

IMPORTS: tuple[tuple[str, str], ...] = (
    ("import httpx", "import httpx"),
    ("import httpx; httpx.AsyncClient()", "import httpx; httpx.AsyncClient()"),
    ("import smsapi_async", "import smsapi_async"),
    ("AsyncSmsClient(...) constructed", CONSTRUCT),
    ("... and client.sms used", f"{CONSTRUCT}; client.sms"),
    ("import aiolimiter", "import aiolimiter"),
)
"""(row, code) measured by :func:`import_time`; the target is on the constructed client."""


def import_time(
    repeats: int = 15, rows: Sequence[str] = tuple(dict(IMPORTS)), python: str = sys.executable
) -> Table:
    """Seconds for a fresh interpreter to run each of :data:`IMPORTS` (those named in ``rows``,
    and ``import httpx``), net of an empty interpreter: the median of ``repeats`` interleaved runs.

    ``python`` may be another environment's interpreter, for example one with only the package's
    own dependencies: with the test and bench extras installed, ``import httpx`` also loads click,
    rich and pygments (for its command line), and constructing an ``httpx.AsyncClient`` loads trio.

    Every module runs from its bytecode cache, as after ``pip install`` (which compiles the
    installed packages): a first, unmeasured round writes the caches, even where
    ``PYTHONDONTWRITEBYTECODE`` is set (else a source checkout would be compiled on every run,
    against httpx's installed bytecode)."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}

    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, env=env)
        return time.perf_counter() - started

    chosen = [(row, code) for row, code in IMPORTS if row in rows or row == "import httpx"]
    for _, code in chosen:
        once(code)
    samples: dict[str, list[float]] = {row: [] for row, _ in (("", "pass"), *chosen)}
    for _ in range(repeats):
        for row, code in (("", "pass"), *chosen):
            samples[row].append(once(code))
    floor = statistics.median(samples[""])
    net = {row: statistics.median(samples[row]) - floor for row, _ in chosen}
    httpx_alone = net["import httpx"]
    return Table(
        "Import time in a fresh interpreter",
        ("import", "ms net of the interpreter", "÷ import httpx"),
        [(row, f"{net[row] * 1000:.0f}", f"{net[row] / httpx_alone:.2f}") for row, _ in chosen],
        note=f"median of {repeats} interleaved runs; the interpreter alone took {floor * 1000:.0f} ms; "
        "constructed = from smsapi_async import AsyncSmsClient; AsyncSmsClient(api_key=..., "
        "api_secret=...); "
        "target: constructed <= 1.3 x import httpx",
    )


def benchmarks(quick: bool) -> list[Callable[[], Table]]:
    if quick:
        return [
            lambda: acquire_cost(ops=2_000, repeats=1),
            lambda: conformance(seconds=1.1),
            lambda: crowd(waiters=300),
            lambda: contention(waiters=300),
            lambda: jitter(seconds=1.0, rates=(15,), jitters=(0.02,)),
            lambda: import_time(repeats=2),
        ]
    return [acquire_cost, conformance, crowd, contention, jitter, import_time]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (several seconds)")
    from .__main__ import render  # noqa: PLC0415 -- rich tables only when printing

    console = Console(width=160)
    for bench in benchmarks(parser.parse_args(argv).quick):
        started = time.perf_counter()
        render(bench(), console, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
