"""The fresh process of ``benchmarks.bulk.peak_memory``, and the input both share.

Kept apart from ``benchmarks.bulk`` so that the measured process imports only what a user's would:
the client (with anyio and httpx) and this module; not rich, the sandbox or the benchmark runner.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Iterator, Sequence

import anyio
import httpx

from smsapi_async import AsyncSmsClient

__all__ = ["memory"]


def _numbers(n: int, offset: int = 0) -> Iterator[str]:
    for i in range(offset, offset + n):
        yield f"614{i:08d}"


def _rows(n: int, text: str = "Sale: 20% off today") -> Iterator[dict[str, str]]:
    for number in _numbers(n):
        yield {"message": text, "to": number}


async def _naive(client: AsyncSmsClient, numbers: Sequence[str], text: str) -> None:
    """What users write without a bulk API: one send per recipient, all at once."""
    await asyncio.gather(*(client.sms.send(message=text, to=number) for number in numbers))


def _server() -> httpx.MockTransport:
    counter = iter(range(1, 10**9))

    def answer(request: httpx.Request) -> httpx.Response:
        to = httpx.QueryParams(request.content.decode()).get("to", "")
        recipients = to.count(",") + 1
        body = (
            f'{{"message_id": {next(counter)}, "recipients": {recipients}, "error": {{"code": "SUCCESS"}}}}'
        )
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": "application/json"})

    return httpx.MockTransport(answer)


def _peak_rss_mb() -> float:
    """This process's own peak resident set in MB (see the module docstring for why not ru_maxrss)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no /proc: not Linux
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def memory(approach: str, recipients: int) -> None:
    """Runs in a fresh interpreter: stream ``recipients`` through ``approach``; print peak RSS in MB
    after the imports and at the end."""

    async def bulk() -> int:
        async with AsyncSmsClient("k", "s", transport=_server(), rate_limit=None) as client:
            async with client.sms.send_bulk(_rows(recipients)) as run:
                sent = 0
                async for result in run:
                    sent += result.status == "sent"
            return sent

    async def naive() -> int:
        async with AsyncSmsClient("k", "s", transport=_server(), rate_limit=None) as client:
            await _naive(client, list(_numbers(recipients)), "Sale: 20% off today")
            return recipients

    before = _peak_rss_mb()
    started = time.perf_counter()
    sent = anyio.run(bulk if approach == "bulk" else naive)
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    assert sent == recipients, sent
    print(json.dumps({"before": before, "peak": peak, "seconds": seconds}))
