"""Client overhead: ``client.call`` against the same POST made with raw httpx, on an in-process transport.

Both sides share one ``httpx.MockTransport`` that answers every request with the same JSON body,
so the difference is what ``AsyncSmsClient`` adds: validation, form encoding, the limiter check
(off here), parsing and error mapping.
"""

from __future__ import annotations

import gc
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import httpx

from smsapi_async import AsyncSmsClient

from . import Table

KEY, SECRET = "bench-key-0001", "bench-secret-0001"
BASE_URL = "https://api.transmitsms.com"
BODY = json.dumps(
    {"balance": 73.954, "currency": "AUD", "error": {"code": "SUCCESS", "description": "OK"}}
).encode()
HEADERS = {"User-Agent": "bench", "Accept": "application/json"}  # the client sends two headers too

CALLS: dict[str, Mapping[str, Any]] = {
    "get-balance": {},
    "send-sms": {"message": "Hello from the benchmark", "to": "61400000000", "from": "Bench"},
}
"""Call name -> fields: one call without a form body, one with a small form."""


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"Content-Type": "application/json"})


async def _calls_per_second(call: Callable[[], Awaitable[object]], calls: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return calls / (time.perf_counter() - start)


async def _compare(name: str, fields: Mapping[str, Any], calls: int, repeats: int) -> tuple[float, float]:
    """Best calls/s of raw httpx and of ``client.call``, in interleaved runs."""
    transport = httpx.MockTransport(_answer)
    form = {key: str(value) for key, value in fields.items()}
    url = f"{BASE_URL}/{name}.json"
    auth = httpx.BasicAuth(KEY, SECRET)
    async with (
        httpx.AsyncClient(transport=transport) as http,
        AsyncSmsClient(KEY, SECRET, rate_limit=None, transport=transport) as client,
    ):

        async def raw() -> object:
            response = await http.post(url, data=form, auth=auth, headers=HEADERS)
            return json.loads(response.content)

        async def ours() -> object:
            return await client.call(name, fields)

        for call in (raw, ours):  # warm-up: first requests pay for imports and caches
            await _calls_per_second(call, min(calls, 100))
        best_raw = best_ours = 0.0
        for _ in range(repeats):
            best_raw = max(best_raw, await _calls_per_second(raw, calls))
            best_ours = max(best_ours, await _calls_per_second(ours, calls))
    return best_raw, best_ours


def client_overhead(
    calls: int = 2_000, repeats: int = 3, backends: Sequence[str] = ("asyncio", "trio")
) -> Table:
    """calls/s through ``client.call`` (limiter off) against raw httpx with ``json.loads``."""
    rows = []
    for backend in backends:
        for name, fields in CALLS.items():
            raw, ours = anyio.run(_compare, name, fields, calls, repeats, backend=backend)
            overhead_us = (1 / ours - 1 / raw) * 1e6 if ours and raw else math.nan
            rows.append(
                (backend, name, f"{raw:,.0f}", f"{ours:,.0f}", f"{ours / raw:.2f}", f"{overhead_us:.1f}")
            )
    return Table(
        "Client overhead: client.call vs raw httpx (MockTransport, rate_limit=None)",
        ("backend", "call", "raw httpx calls/s", "client.call calls/s", "ratio", "µs added per call"),
        rows,
        note=f"best of {repeats} x {calls:,} sequential calls; target: ratio >= 0.80",
    )
