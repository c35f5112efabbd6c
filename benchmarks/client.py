"""Client overhead: ``client.call`` against the same POST made with raw httpx, in one run.

Every row times three callers, one call after another (no concurrency), interleaved run by run so
all three meet the same machine load, each against the same server:

* **raw httpx**: ``AsyncClient.post(url, data=form, auth=BasicAuth, headers=...)`` with the same
  two headers the client sets per request (``User-Agent``, ``Accept``), then ``response.json()``;
  no status check, no error-code check, no validation. That is the least anyone would write.
* **client.call**: ``AsyncSmsClient(rate_limit=None).call(name, fields)``: validates and encodes
  the fields, streams the body within the size limit under the whole-exchange deadline, parses
  it, checks the ``error`` block, maps errors, and is ready to retry.
* **client.call + limiter**: the same with ``rate_limit=1_000_000``: a real :class:`RateLimiter`
  that never makes anyone wait, so what it adds is its bookkeeping: a reservation per attempt,
  the send reported from httpcore's trace (over a socket), the answer's latency learned.

Speed is calls per second of CPU time of the benchmark's process (``time.process_time``): on a
shared machine wall time moves by a third from run to run with what other jobs take.

Two servers, both shared by the three callers:

* ``in-process``: one ``httpx.MockTransport`` that answers every request with the same JSON body,
  so nothing but the client libraries runs: the ratio is the pure cost of the client.
* ``loopback``: a minimal HTTP/1.1 keep-alive server on 127.0.0.1, in the same event loop, with
  the same answer; each caller keeps one connection alive through httpx's pool, as users do.

Reproduce with ``python -c "from benchmarks.client import client_overhead as c; print(c())"`` or
``python -m benchmarks`` (every table) / ``nox -s bench`` (repeated, into benchmarks/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import anyio.abc
import httpx

from smsapi_async import AsyncSmsClient

from . import Table

KEY, SECRET = "bench-key-0001", "bench-secret-0001"
BASE_URL = "https://api.transmitsms.com"
BODY = json.dumps(
    {"balance": 73.954, "currency": "AUD", "error": {"code": "SUCCESS", "description": "OK"}}
).encode()
HEADERS = {"User-Agent": "bench", "Accept": "application/json"}  # the client sets these per request too
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
SERVERS = ("in-process", "loopback")

CALLS: dict[str, Mapping[str, Any]] = {
    "get-balance": {},
    "send-sms": {"message": "Hello from the benchmark", "to": "61400000000", "from": "Bench"},
}
"""Call name -> fields: one call without a form body, one with a small form."""


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"Content-Type": "application/json"})


async def _keep_alive(stream: anyio.abc.SocketStream) -> None:
    """Answer every request on one connection with ``RESPONSE``, until the client hangs up."""
    buffer = b""
    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    buffer += await stream.receive()
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += await stream.receive()
                buffer = buffer[length:]
                await stream.send(RESPONSE)


@contextlib.asynccontextmanager
async def _server(kind: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(base URL, HTTP client options) for one of ``SERVERS``, serving while the block runs."""
    if kind == "in-process":
        yield BASE_URL, {"transport": httpx.MockTransport(_answer)}
        return
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, _keep_alive)
        yield f"http://127.0.0.1:{port}", {}
        tg.cancel_scope.cancel()


async def _calls_per_second(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """Calls per second of this process's CPU time (the loopback server's share included, the
    same for every caller): on a shared machine wall time also counts what other jobs took."""
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        await call()
    return calls / (time.process_time() - start)


async def _compare(
    server: str, name: str, fields: Mapping[str, Any], calls: int, repeats: int
) -> tuple[float, float, float]:
    """Best calls/s of raw httpx, ``client.call`` and ``client.call`` with a limiter, interleaved."""
    form = {key: str(value) for key, value in fields.items()}
    auth = httpx.BasicAuth(KEY, SECRET)
    async with _server(server) as (base_url, options):
        url = f"{base_url}/{name}.json"
        async with (
            httpx.AsyncClient(**options) as http,
            AsyncSmsClient(KEY, SECRET, base_url=base_url, rate_limit=None, **options) as client,
            AsyncSmsClient(KEY, SECRET, base_url=base_url, rate_limit=1_000_000, **options) as limited,
        ):

            async def raw() -> object:
                response = await http.post(url, data=form, auth=auth, headers=HEADERS)
                return response.json()

            async def ours() -> object:
                return await client.call(name, fields)

            async def ours_limited() -> object:
                return await limited.call(name, fields)

            sides = (raw, ours, ours_limited)
            for call in sides:  # warm-up: first requests pay for imports, caches and connections
                await _calls_per_second(call, min(calls, 100))
            best = [0.0, 0.0, 0.0]
            for _ in range(repeats):
                for i, call in enumerate(sides):
                    best[i] = max(best[i], await _calls_per_second(call, calls))
    return best[0], best[1], best[2]


def _added_us(ours: float, raw: float) -> str:
    return f"{(1 / ours - 1 / raw) * 1e6:.1f}" if ours and raw else str(math.nan)


def client_overhead(
    calls: int = 2_000,
    repeats: int = 3,
    backends: Sequence[str] = ("asyncio", "trio"),
    servers: Sequence[str] = SERVERS,
) -> Table:
    """calls/s through ``client.call`` (limiter off, and a limiter that never binds) against raw
    httpx with ``response.json()``, on the same server (see the module docstring)."""
    rows = []
    for backend in backends:
        for server in servers:
            for name, fields in CALLS.items():
                raw, ours, limited = anyio.run(
                    _compare, server, name, fields, calls, repeats, backend=backend
                )
                rows.append(
                    (
                        backend,
                        server,
                        name,
                        f"{raw:,.0f}",
                        f"{ours:,.0f}",
                        f"{ours / raw:.2f}",
                        _added_us(ours, raw),
                        f"{limited:,.0f}",
                        f"{limited / raw:.2f}",
                    )
                )
    return Table(
        "Client overhead: client.call vs raw httpx, same server, one call at a time",
        (
            "backend",
            "server",
            "call",
            "raw httpx calls/s",
            "client.call calls/s",
            "ratio",
            "µs added per call",
            "with limiter calls/s",
            "ratio with limiter",
        ),
        rows,
        note=(
            f"best of {repeats} x {calls:,} sequential calls per caller, interleaved, per CPU second; "
            "limiter: RateLimiter(1 000 000/s), never binding; target: every ratio >= 0.80"
        ),
    )
