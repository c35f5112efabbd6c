"""Bulk sends: ``client.sms.send_bulk`` against the naive ``asyncio.gather`` of one ``send`` per recipient.

Run with ``python -m benchmarks.bulk`` (``--quick`` for a few-second smoke run). Three tables:

* **calls**: ``send-sms`` calls for N recipients of one text, counted by the in-process sandbox
  (target ``ceil(N / 500)``);
* **wall time**: from entering the send to its last result, each approach's wall time against the
  ideal ``calls / rate`` (target >= 95 %) at a raised limit (15 calls/s), the client pacing itself
  to it. The servers run in their own process on a loopback socket, as a remote API does: a strict
  one that refuses any call beyond the rate in a sliding second and answers after 50 ms asleep
  (``benchmarks/pacing.py``'s, which also says why not an in-process mock transport), and the
  sandbox, which spends CPU on each call. ``calls / rate`` is a little stricter than what the
  limiter allows itself: the first call at once, each next one ``(1 + 5 ms) / rate`` later (its
  least margin), the last one answered after the latency: 10.03 s for 150 calls, not 10.00 s;
* **resume**: what a rerun costs after a run was killed with calls in flight (their intents
  journaled, their requests carried out by the sandbox, their answers never read), against a clean
  run of the same input: the calls it makes, of which look-ups to settle the calls in flight
  (target: at most 10 at 100 000 recipients), in the in-process sandbox;
* **memory**: what a user's process pays to stream 1 000 000 recipients from a generator through
  ``send_bulk`` (target <= 150 MB). Measured in a fresh interpreter per approach (nothing imported or
  run before but the client and this module), as that process's own peak resident set: ``VmHWM``
  from ``/proc/self/status``, which starts afresh at ``exec``. Not ``ru_maxrss``: on Linux it keeps
  the high-water mark of the process that forked the child, so a child started from a runner that
  already holds 170 MB "peaks" at 170 MB whatever it does. The server is an ``httpx.MockTransport``
  in the same process that answers at once and keeps nothing (a counter), so the figure is the
  client's: its imports, the 2 MB filter in front of the journal, SQLite's page cache for the
  journal (a temporary file on disk, as without ``journal=``), at most ``max_pending`` recipients
  waiting for their call, and the results in flight to the consumer, which counts and drops them.
  ``after imports`` is the same figure taken before the send starts; ``grown`` the difference.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from smsapi_async import DEFAULT_SAFETY_MARGIN, AsyncSmsClient, SQLiteJournal
from smsapi_async.sandbox import AccountConfig, SandboxConfig
from smsapi_async.testing import sandbox_client

from . import Table, free_port, wait_until_listening
from .__main__ import render
from ._bulk_child import _naive, _numbers, _rows
from .pacing import server_stats, serving

__all__ = ["calls_for_one_text", "main", "peak_memory", "resume_cost", "wall_time"]


def calls_for_one_text(recipients: int = 100_000, naive_recipients: int = 2_000) -> Table:
    """``send-sms`` calls the in-process sandbox received for one text to N recipients."""
    config = SandboxConfig(accounts=(AccountConfig(balance=1e12),), rate_limit=0, delivery_delay=0)

    async def bulk() -> int:
        async with sandbox_client(config) as h:
            async with h.client.sms.send_bulk(_rows(recipients)) as results:
                progress = await results.wait()
            assert progress.sent == recipients, progress
            return len(h.sandbox.state.messages)

    async def naive() -> int:
        async with sandbox_client(config) as h:
            await _naive(h.client, list(_numbers(naive_recipients)), "Sale: 20% off today")
            return len(h.sandbox.state.messages)

    bulk_calls = anyio.run(bulk)
    naive_calls = anyio.run(naive)
    per = 100_000
    rows = [
        (
            "send_bulk",
            f"{recipients:,}",
            f"{bulk_calls:,}",
            f"{math.ceil(recipients / 500):,}",
            f"{bulk_calls * per / recipients:,.0f}",
        ),
        (
            "asyncio.gather of send()",
            f"{naive_recipients:,}",
            f"{naive_calls:,}",
            f"{math.ceil(naive_recipients / 500):,}",
            f"{naive_calls * per / naive_recipients:,.0f}",
        ),
    ]
    return Table(
        title="send-sms calls for one text to N recipients",
        columns=("approach", "recipients", "calls", "minimum", "calls per 100 000"),
        rows=rows,
        note="counted by the in-process sandbox",
    )


class _Killed(Exception):
    """Stands for the process dying while calls are in flight."""


class _DyingJournal(SQLiteJournal):
    """A journal whose process dies when the ``at``-th call's outcome is about to be written: that
    call and those in flight beside it stay as intents, their messages sent."""

    def __init__(self, path: Path, at: int) -> None:
        super().__init__(path)
        self.at = at
        self.finished = 0

    def finish(self, batch_id: int, state: str, message_id: int | None, reason: str) -> None:
        self.finished += 1
        if self.finished >= self.at:
            raise _Killed
        super().finish(batch_id, state, message_id, reason)


def resume_cost(recipients: int = 100_000, killed_at: int = 100) -> Table:
    """Calls of a clean run against those of a rerun after a run died with calls in flight."""
    config = SandboxConfig(accounts=(AccountConfig(balance=1e12),), rate_limit=0, delivery_delay=0)

    async def clean() -> tuple[int, int, float]:
        async with sandbox_client(config) as h:
            started = time.perf_counter()
            async with h.client.sms.send_bulk(_rows(recipients), reconcile=True) as results:
                progress = await results.wait()
            assert progress.sent == recipients, progress
            return progress.calls, 0, time.perf_counter() - started

    async def resumed() -> tuple[int, int, float]:
        async with sandbox_client(config) as h:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "run.db"
                journal = _DyingJournal(path, killed_at)
                try:
                    async with h.client.sms.send_bulk(_rows(recipients), journal=journal) as results:
                        await results.wait()
                except _Killed:
                    pass
                in_flight = len(journal.unknown())  # intents without an outcome
                journal.close()
                started = time.perf_counter()
                async with h.client.sms.send_bulk(
                    _rows(recipients), journal=path, reconcile=True, reconcile_delay=0
                ) as results:
                    progress = await results.wait()
                elapsed = time.perf_counter() - started
            delivered = [r.msisdn for m in h.sandbox.state.messages.values() for r in m.recipients]
            assert len(delivered) == len(set(delivered)) == recipients, "a recipient twice, or missed"
            sends = math.ceil((recipients - progress.resumed) / 500) - in_flight
            return progress.calls, progress.calls - sends, elapsed

    clean_calls, _, clean_s = anyio.run(clean)
    resume_calls, lookups, resume_s = anyio.run(resumed)
    rows = [
        ("clean run", f"{recipients:,}", f"{clean_calls:,}", "0", f"{clean_s:.1f}"),
        (
            f"rerun after a kill at call {killed_at}, calls in flight",
            f"{recipients:,}",
            f"{resume_calls:,}",
            f"{lookups:,}",
            f"{resume_s:.1f}",
        ),
    ]
    return Table(
        title="Resuming a bulk send killed with calls in flight (in-process sandbox)",
        columns=("run", "recipients", "calls", "look-ups", "seconds"),
        rows=rows,
        note=(
            "the rerun sends only what was never sent and settles the calls in flight by looking up "
            "their own recipients (reconcile=True); target: at most 10 look-ups at 100 000 recipients "
            "(the engine before read the whole sent report: 500-985 pages)"
        ),
    )


@contextmanager
def _served_sandbox(rate: float) -> Iterator[str]:
    """``python -m smsapi_async.sandbox`` in its own process (its own interpreter lock, like a remote
    server), enforcing ``rate`` calls per second; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "smsapi_async.sandbox", "--port", str(port), "--api-key", "k"]
    command += [
        "--api-secret",
        "s",
        "--balance",
        "1000000000",
        "--rate-limit",
        str(rate),
        "--delivery-delay",
        "0",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(port, server, "the sandbox")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def _served_strict(rate: float, latency: float) -> Iterator[tuple[str, Callable[[], dict[str, Any]]]]:
    """The pacing benchmark's strict server (``benchmarks/pacing.py``) in its own process on a
    loopback socket, answering after ``latency``: yields its base URL and a function reading what it
    saw (``accepted`` arrival times, ``answered`` times, ``rejected`` count)."""
    with serving(int(rate), jitter=0.0, seed=0, latency=latency) as url:
        yield url, lambda: server_stats(url)


async def _timed_bulk(client: AsyncSmsClient, recipients: int) -> tuple[int, float]:
    started = time.perf_counter()
    async with client.sms.send_bulk(_rows(recipients)) as run:
        progress = await run.wait()
    assert progress.sent == recipients, progress
    return progress.calls, time.perf_counter() - started


async def _timed_naive(client: AsyncSmsClient, recipients: int) -> tuple[int, float]:
    started = time.perf_counter()
    await _naive(client, list(_numbers(recipients, 10**7)), "Hello")
    return recipients, time.perf_counter() - started


def wall_time(
    rate: float = 15.0, calls: int = 150, naive_recipients: int = 150, latency: float = 0.05
) -> Table:
    """Wall time of the same number of calls through each approach, at a raised ``rate``, from
    entering the send to its last result: against a strict server with ``latency`` in its own
    process on a loopback socket (the client's whole path, no server CPU in the way), and against
    the sandbox the same way (which does spend CPU on each call)."""
    recipients = calls * 500
    results: list[tuple[str, str, int, int, float]] = []
    for name, work, n in (
        ("send_bulk", _timed_bulk, recipients),
        ("asyncio.gather of send()", _timed_naive, naive_recipients),
    ):
        with _served_strict(rate, latency) as (url, seen):

            async def strict(work: Any = work, n: int = n, url: str = url) -> tuple[int, float]:
                async with AsyncSmsClient("k", "s", base_url=url, rate_limit=rate) as client:
                    return await work(client, n)  # type: ignore[no-any-return]

            made, seconds = anyio.run(strict)
            figures = seen()
        assert len(figures["accepted"]) == made, figures
        where = f"strict server, {latency * 1000:g} ms latency, {figures['rejected']} x 429"
        results.append((name, where, n, made, seconds))
    with _served_sandbox(rate) as url:

        async def served() -> tuple[int, float]:
            async with AsyncSmsClient("k", "s", base_url=url, rate_limit=rate) as client:
                await client.account.balance()  # warm the connection, as a long-lived client is
                return await _timed_bulk(client, recipients)

        made, seconds = anyio.run(served)
        results.append(("send_bulk", "sandbox process, loopback socket", recipients, made, seconds))
    best = (calls - 1) * (1 + DEFAULT_SAFETY_MARGIN) / rate + latency
    rows = [
        (
            name,
            where,
            f"{n:,}",
            f"{made:,}",
            f"{seconds:.2f}",
            f"{made / rate:.2f}",
            f"{100 * (made / rate) / seconds:.1f} %",
            f"{n / seconds:,.0f}",
        )
        for name, where, n, made, seconds in results
    ]
    return Table(
        title=f"Wall time against the ideal calls / rate at {rate:g} calls/s",
        columns=(
            "approach",
            "server",
            "recipients",
            "calls",
            "seconds",
            "ideal s",
            "of ideal",
            "recipients/s",
        ),
        rows=rows,
        note="ideal = calls / rate; the limiter's own best, (calls - 1) x (1 + "
        f"{DEFAULT_SAFETY_MARGIN:g} s) / rate + latency, is {best:.2f} s against the strict server. "
        "Both servers run in their own process on a loopback socket. The sandbox spends ~60 ms of CPU "
        "on a 500-recipient send, so at 15/s it is busy on one core and can lag",
    )


def peak_memory(recipients: int = 1_000_000, naive_recipients: int = 100_000) -> Table:
    """Peak resident memory of a fresh process streaming recipients through each approach to an
    in-process server that answers at once and keeps nothing (so only the client side is measured)."""
    rows = []
    for name, approach, n in (
        ("send_bulk", "bulk", recipients),
        ("asyncio.gather of send()", "naive", naive_recipients),
    ):
        code = f"from benchmarks._bulk_child import memory; memory({approach!r}, {n})"
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        grown = figures["peak"] - figures["before"]
        rows.append(
            (
                name,
                f"{n:,}",
                f"{figures['peak']:.0f}",
                f"{figures['before']:.0f}",
                f"{grown:.0f}",
                f"{grown * 1e6 / n:,.0f}",
                f"{figures['seconds']:.1f}",
            )
        )
    return Table(
        title="Peak memory streaming recipients from a generator",
        columns=(
            "approach",
            "recipients",
            "peak RSS MB",
            "after imports MB",
            "grown MB",
            "bytes per recipient",
            "seconds",
        ),
        rows=rows,
        note="a fresh process each, its own peak RSS (VmHWM); grown = peak minus the peak after the imports",
    )


def benchmarks(quick: bool) -> list[tuple[str, Callable[[], Table]]]:
    if quick:
        return [
            ("calls", lambda: calls_for_one_text(recipients=1_200, naive_recipients=50)),
            ("wall", lambda: wall_time(rate=15.0, calls=8, naive_recipients=8)),
            ("memory", lambda: peak_memory(recipients=2_000, naive_recipients=200)),
            ("resume", lambda: resume_cost(recipients=5_000, killed_at=5)),
        ]
    return [
        ("calls", calls_for_one_text),
        ("wall", wall_time),
        ("memory", peak_memory),
        ("resume", resume_cost),
    ]


def run(quick: bool = False, console: Console | None = None) -> list[Table]:
    """Run the bulk benchmarks, print each table, return them."""
    console = console or Console(width=150)
    tables = []
    for _, bench in benchmarks(quick):
        started = time.perf_counter()
        table = bench()
        render(table, console, time.perf_counter() - started)
        tables.append(table)
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (a few seconds)")
    run(quick=parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
