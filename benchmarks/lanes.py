"""One account, many kinds of work: what an OTP waits, and how fast the account's real rate is found.

* :func:`otp_latency`: a one-time code sent while the account is busy (``queued`` ordinary sends
  waiting, or a bulk run going), through the whole client against the sandbox served in its own
  process. Contenders: the client with the OTP in the ``"interactive"`` lane; the same client with
  every call in one lane (strict arrival order, as before lanes: the bulk run too); and the
  hand-written alternative (httpx with aiolimiter at one call per interval, retrying 429s), where
  the OTP queues like any call.
* :func:`discovery`: a client started at 2 calls/s with ``RateLimiter(2, max_rate=...)`` against a
  sandbox enforcing the true rate, saturated by 20 callers: how long until it gets 90 % of the true
  rate, and how many 429s (each a request the API dropped and the client resent) that cost.

``python -m benchmarks.lanes [--quick]`` prints the tables; ``python -m benchmarks.results`` repeats
them into ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from rich.console import Console

from smsapi_async import AsyncSmsClient, Priority, RateLimiter

from . import Table
from .peers import KEY, SECRET, Counting, served_sandbox

Send = Callable[[str, str], Awaitable[None]]
Busy = Callable[[], bool]

LANES = "AsyncSmsClient, OTP in the interactive lane"
FIFO = "AsyncSmsClient, one lane (arrival order)"
HAND = "httpx + aiolimiter"


@asynccontextmanager
async def _ours(url: str, rate: float, lanes: bool) -> AsyncIterator[tuple[Send, Send, Busy, AsyncSmsClient]]:
    limiter = RateLimiter(rate)
    async with AsyncSmsClient(KEY, SECRET, base_url=url, limiter=limiter) as client:
        otp_client = client.with_options(priority="interactive") if lanes else client

        async def ordinary(message: str, to: str) -> None:
            await client.sms.send(message=message, to=to)

        async def otp(message: str, to: str) -> None:
            await otp_client.sms.send(message=message, to=to)

        yield ordinary, otp, lambda: limiter.waiting > 0, client


@asynccontextmanager
async def _hand_written(url: str, rate: float) -> AsyncIterator[tuple[Send, Send, Busy, None]]:
    limiter = AsyncLimiter(1, 1 / rate)  # one call per interval: no burst for the server to refuse
    transport = Counting()
    async with httpx.AsyncClient(base_url=url, auth=(KEY, SECRET), transport=transport) as http:

        async def send(message: str, to: str) -> None:
            for _ in range(6):  # a 429 was dropped by the API: safe to send again
                async with limiter:
                    response = await http.post("/send-sms.json", data={"message": message, "to": to})
                if response.status_code != 429:
                    break
            response.raise_for_status()

        yield send, send, lambda: not limiter.has_capacity(), None


def _contender(
    name: str, url: str, rate: float
) -> AbstractAsyncContextManager[tuple[Send, Send, Busy, object]]:
    if name == HAND:
        return _hand_written(url, rate)
    return _ours(url, rate, lanes=name == LANES)


async def _otp_waits(
    name: str, url: str, rate: float, scenario: str, queued: int, otps: int, settle: float
) -> list[float]:
    waits = []
    async with _contender(name, url, rate) as (ordinary, otp, busy, client):
        await ordinary("warm-up", "61491570150")
        await asyncio.sleep(settle)  # let the server's window empty
        for i in range(otps):
            background: asyncio.Future[Any]
            if scenario == "bulk":
                lane: Priority = "bulk" if name == LANES else "default"  # one lane: as before lanes
                background = asyncio.ensure_future(_bulk(ordinary, client, queued, lane))
            else:
                background = asyncio.gather(
                    *(ordinary("Your order shipped", f"614{n:08d}") for n in range(queued))
                )
            await asyncio.sleep(0.3)  # the queue fills, or the bulk run gets going
            assert busy(), "the account is not busy: nothing to measure"
            started = time.perf_counter()
            await otp(f"Your code is {1000 + i}", "61491570151")
            waits.append(time.perf_counter() - started)
            background.cancel()
            await asyncio.gather(background, return_exceptions=True)
            await asyncio.sleep(settle)
    return waits


async def _bulk(send: Send, client: object, recipients: int, lane: Priority) -> None:
    """A bulk run: ``send_bulk`` for the client, else two workers sending back to back (what the
    bulk engine keeps in flight)."""
    if isinstance(client, AsyncSmsClient):
        rows = [{"message": "Your parcel is on its way", "to": f"614{n:08d}"} for n in range(recipients)]
        async with client.sms.send_bulk(rows, batch_size=1, priority=lane) as results:
            async for _ in results:
                pass
        return
    numbers = iter(range(recipients))

    async def worker() -> None:
        for n in numbers:
            await send("Your parcel is on its way", f"614{n:08d}")

    await asyncio.gather(worker(), worker())


def otp_latency(rate: float = 15.0, queued: int = 40, otps: int = 5, settle: float = 1.1) -> Table:
    """How long an OTP call takes while ``queued`` ordinary sends wait, or while a bulk run goes
    (``settle``: seconds of quiet before each, so the server's window is empty)."""
    rows = []
    with served_sandbox(rate, jitter=0.0) as url:
        for scenario, label in (("queued", f"{queued} ordinary sends queued"), ("bulk", "a bulk run going")):
            for name in (LANES, FIFO, HAND):
                waits = asyncio.run(_otp_waits(name, url, rate, scenario, queued, otps, settle))
                rows.append(
                    (label, name, f"{statistics.median(waits) * 1000:.0f}", f"{max(waits) * 1000:.0f}")
                )
    return Table(
        f"An OTP sent while the account is busy, at {rate:g} calls/s through the client",
        ("while", "client", "OTP call ms (median)", "OTP call ms (max)"),
        rows,
        note=f"{otps} OTPs per row, each from the call to its answer (queueing, then the request), "
        "against the sandbox served in its own process over a loopback socket; the bulk run is "
        "`send_bulk` for the client (in the bulk lane with lanes, else in the default lane) and two "
        "workers sending back to back for httpx + aiolimiter; "
        f"one interval at this rate is {1000 / rate:.0f} ms",
    )


async def _discover(
    url: str, start: float, max_rate: float, true_rate: float, seconds: float
) -> tuple[float, int, float]:
    transport = Counting()
    limiter = RateLimiter(start, max_rate=max_rate)
    grants: list[float] = []
    async with AsyncSmsClient(KEY, SECRET, base_url=url, limiter=limiter, transport=transport) as client:
        await client.account.balance()
        await asyncio.sleep(1.1)
        transport.statuses.clear()
        started = time.perf_counter()
        deadline = started + seconds

        async def caller() -> None:
            while time.perf_counter() < deadline:
                await client.account.balance()
                grants.append(time.perf_counter() - started)

        await asyncio.gather(*(caller() for _ in range(20)))
    # the first second-long span in which the client got 90 % of the true rate
    reached = float("nan")
    for i, at in enumerate(grants):
        j = i
        while j < len(grants) and grants[j] < at + 1.0:
            j += 1
        if j - i >= 0.9 * true_rate:
            reached = at
            break
    last = [at for at in grants if seconds - 5 <= at < seconds]
    return reached, transport.statuses.count(429), len(last) / 5 / true_rate * 100


def discovery(
    true_rates: Sequence[float] = (2, 5, 15), max_rate: float = 30.0, seconds: float = 40.0
) -> Table:
    """A client starting at 2 calls/s finds the account's true rate: time to 90 % of it, 429s."""
    rows = []
    for true_rate in true_rates:
        with served_sandbox(true_rate, jitter=0.0) as url:
            reached, rejected, share = asyncio.run(_discover(url, 2.0, max_rate, true_rate, seconds))
        rows.append(
            (
                f"{true_rate:g}",
                "not reached" if reached != reached else f"{reached:.1f}",
                str(rejected),
                f"{share:.1f}",
            )
        )
    return Table(
        f"Rate discovery: RateLimiter(2, max_rate={max_rate:g}), 20 callers for {seconds:g} s",
        ("true rate", "s to 90 % of it", "429s", "% of true rate, last 5 s"),
        rows,
        note="against the sandbox served in its own process, enforcing the true rate in a strict "
        "sliding second; each 429 is a request the API dropped and the client resent (never a "
        "duplicate send); the rate steps up by 1/s after each clean window of full demand, halves "
        "on a 429 right after a step, and stays below the rate that drew it for 10 minutes",
    )


def benchmarks(quick: bool) -> list[Callable[[], Table]]:
    if quick:
        return [
            lambda: otp_latency(queued=10, otps=1),
            lambda: discovery(true_rates=(5,), seconds=8.0),
        ]
    return [otp_latency, discovery]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lanes", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (the smoke test's)")
    from .__main__ import render  # noqa: PLC0415 -- rich tables only when printing

    console = Console(width=160)
    for bench in benchmarks(parser.parse_args(argv).quick):
        started = time.perf_counter()
        render(bench(), console, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
