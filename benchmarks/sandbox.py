"""The sandbox's reporting calls: what a page costs as the state grows.

Run with ``python -m benchmarks.sandbox`` (``--quick`` for a smoke run). Two tables:

* **report walk**: ``client.sms.user_sent(...)`` (``get-user-sms-sent``) walked page by page (100 a
  page) over N recipients of earlier sends, through the real client and the in-process sandbox;
  the time per page should not grow with N (a page costs O(page + log n));
* **reconciliation**: ``send_bulk(..., reconcile=True)`` to N recipients where every ``send-sms``
  answer is lost after the sandbox acted on it (a read timeout), so every call's outcome is unknown
  and reconciliation walks the account's sent report to settle them, as it would against the API.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import anyio
import httpx
from rich.console import Console

from smsapi_async import AsyncSmsClient
from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, VirtualClock

from . import Table
from .__main__ import render

__all__ = ["main", "reconciliation", "report_walk"]

KEY, SECRET = "bench-key", "bench-secret"


def _config() -> SandboxConfig:
    account = AccountConfig(api_key=KEY, api_secret=SECRET, balance=1e12)
    return SandboxConfig(accounts=(account,), rate_limit=0, delivery_delay=0)


def _numbers(n: int) -> list[str]:
    return [f"614{i:08d}" for i in range(n)]


class _LosingAnswers(httpx.AsyncBaseTransport):
    """Passes every request to the sandbox, but loses the answer to each ``send-sms``: the call
    happened, the client cannot know."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.reads = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "send-sms" in request.url.path:
            await response.aread()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        self.reads += 1
        return response


async def _walk(recipients: int) -> tuple[int, float]:
    sandbox = Sandbox(_config(), clock=VirtualClock(time.time()))
    transport = httpx.ASGITransport(app=sandbox.app)
    async with AsyncSmsClient(
        KEY, SECRET, base_url="http://127.0.0.1", rate_limit=None, transport=transport
    ) as c:
        async with c.sms.send_bulk(
            {"to": n, "message": "Sale: 20% off"} for n in _numbers(recipients)
        ) as run:
            progress = await run.wait()
        assert progress.sent == recipients, progress
        now = datetime.now(timezone.utc)
        window = c.sms.user_sent(start=now - timedelta(hours=1), end=now + timedelta(hours=1), page_size=100)
        started = time.perf_counter()
        pages = 0
        seen = 0
        async for page in window.pages():
            pages += 1
            seen += len(page.items)
        seconds = time.perf_counter() - started
    assert seen == recipients, seen
    return pages, seconds


def report_walk(sizes: Sequence[int] = (1_000, 10_000)) -> Table:
    """``get-user-sms-sent`` walked page by page over N recipients: time per page."""
    rows = []
    for recipients in sizes:
        pages, seconds = anyio.run(_walk, recipients)
        rows.append((f"{recipients:,}", f"{pages:,}", f"{seconds:.2f}", f"{seconds / pages * 1000:.2f}"))
    return Table(
        title="get-user-sms-sent walked page by page (100 a page), in-process sandbox",
        columns=("recipients", "pages", "seconds", "ms/page"),
        rows=rows,
        note="through the real client and httpx.ASGITransport; the first page builds the report index",
    )


async def _reconcile(recipients: int) -> tuple[float, int, int]:
    sandbox = Sandbox(_config(), clock=VirtualClock(time.time()))
    transport = _LosingAnswers(httpx.ASGITransport(app=sandbox.app))
    async with AsyncSmsClient(
        KEY, SECRET, base_url="http://127.0.0.1", rate_limit=None, transport=transport, max_retries=0
    ) as c:
        rows = ({"to": n, "message": "Sale: 20% off"} for n in _numbers(recipients))
        started = time.perf_counter()
        async with c.sms.send_bulk(rows, reconcile=True, reconcile_delay=0) as run:
            progress = await run.wait()
        seconds = time.perf_counter() - started
    assert progress.sent == recipients, progress
    return seconds, len(sandbox.state.messages), transport.reads


def reconciliation(recipients: int = 10_000) -> Table:
    """A bulk send whose every answer was lost, settled by reconciliation against the sandbox."""
    seconds, calls, reads = anyio.run(_reconcile, recipients)
    return Table(
        title="send_bulk(reconcile=True) with every send-sms answer lost, in-process sandbox",
        columns=("recipients", "send-sms calls", "report pages read", "seconds"),
        rows=[(f"{recipients:,}", f"{calls:,}", f"{reads:,}", f"{seconds:.2f}")],
        note=(
            "every recipient settled as sent from get-user-sms-sent (each call looked up by its own "
            "recipients, or the window walked when that costs fewer reads); nothing sent twice"
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sandbox", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (a few seconds)")
    quick = parser.parse_args(argv).quick
    walk = functools.partial(report_walk, sizes=(200, 1_000)) if quick else report_walk
    settle = functools.partial(reconciliation, recipients=1_000) if quick else reconciliation
    console = Console(width=150)
    for bench in (walk, settle):
        started = time.perf_counter()
        render(bench(), console, time.perf_counter() - started)  # the table is made first
    return 0


if __name__ == "__main__":
    sys.exit(main())
