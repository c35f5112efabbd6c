"""Pacing measured where it counts: at a strict server, through the real client, against peers.

A loopback HTTP server (threads, 127.0.0.1 only) plays the API's rate limit: a strict sliding
1-second window that answers 429 ``OVER_LIMIT`` (no ``Retry-After``, as the API) to a request that
finds ``rate`` accepted in the second before it. Each request is counted ``uniform(0, J)`` seconds
after it arrives (a load balancer, a queue, varying paths) and answered then. 50 callers loop on
``get-balance`` for the run's duration; what is reported is what the server counted.

Side by side in the same run, each against its own server: ``AsyncSmsClient`` with its default
limiter, and the client a user would write by hand: httpx + ``aiolimiter.AsyncLimiter(rate, 1)``
+ tenacity retrying 429s with exponential backoff and jitter.
"""

from __future__ import annotations

import contextlib
import json
import random
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager

import anyio
import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from smsapi_async import AsyncSmsClient, RateLimiter, RateLimitError

from . import Table

OK = json.dumps({"balance": 1, "currency": "AUD", "error": {"code": "SUCCESS", "description": "OK"}})
OVER = json.dumps({"error": {"code": "OVER_LIMIT", "description": "Too many requests"}})
CALLERS = 50


class StrictServer(socketserver.ThreadingTCPServer):
    """A strict sliding-window rate limit with counting jitter, over keep-alive HTTP/1.1."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, rate: int, jitter: float, seed: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.rate = rate
        self.jitter = jitter
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.window: deque[float] = deque()
        self.accepted: list[float] = []
        self.rejected = 0

    def count(self) -> bool:
        """Count one request now: ``True`` if accepted."""
        with self.lock:
            now = time.monotonic()
            while self.window and now - self.window[0] >= 1.0:
                self.window.popleft()
            if len(self.window) >= self.rate:
                self.rejected += 1
                return False
            self.window.append(now)
            self.accepted.append(now)
            return True

    def delay(self) -> float:
        with self.lock:
            return self.rng.uniform(0, self.jitter)


class _Handler(socketserver.StreamRequestHandler):
    server: StrictServer

    def handle(self) -> None:
        while True:
            if not self.rfile.readline():
                return
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b""):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            self.rfile.read(length)
            delay = self.server.delay()
            if delay:
                time.sleep(delay)
            ok = self.server.count()
            body = (OK if ok else OVER).encode()
            status = b"200 OK" if ok else b"429 Too Many Requests"
            self.wfile.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            self.wfile.flush()


@contextmanager
def serving(rate: int, jitter: float, seed: int) -> Iterator[StrictServer]:
    server = StrictServer(rate, jitter, seed)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


Caller = Callable[[], Awaitable[object]]


async def _loop_callers(call: Caller, seconds: float) -> None:
    deadline = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(RateLimitError):  # gave up: counted at the server anyway
                await call()

    with anyio.move_on_after(seconds + 10):  # callers queued at the deadline finish their call
        async with anyio.create_task_group() as tg:
            for _ in range(CALLERS):
                tg.start_soon(caller)


async def run_ours(server: StrictServer, seconds: float) -> str:
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    limiter = RateLimiter(server.rate)
    async with AsyncSmsClient("bench", "bench", base_url=base_url, limiter=limiter, max_retries=8) as client:
        await _loop_callers(lambda: client.call("get-balance"), seconds)
    return f"{limiter.margin * 1000:.1f}"


class TooMany(Exception):
    """The hand-written client's signal to tenacity: HTTP 429."""


async def run_hand_written(server: StrictServer, seconds: float) -> str:
    limiter = AsyncLimiter(server.rate, 1)
    url = f"http://127.0.0.1:{server.server_address[1]}/get-balance.json"
    async with httpx.AsyncClient(auth=("bench", "bench")) as http:

        async def call() -> object:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TooMany),
                wait=wait_random_exponential(multiplier=0.5, max=8),
                stop=stop_after_attempt(9),
                reraise=True,
            ):
                with attempt:
                    async with limiter:
                        response = await http.post(url, data={})
                    if response.status_code == 429:
                        raise TooMany
                    return response.json()
            return None

        async def call_quietly() -> object:
            try:
                return await call()
            except TooMany:
                return None

        await _loop_callers(call_quietly, seconds)
    return "-"


CONTENDERS: dict[str, Callable[[StrictServer, float], Awaitable[str]]] = {
    "AsyncSmsClient": run_ours,
    "httpx + aiolimiter + tenacity": run_hand_written,
}


def _one_case(rate: int, jitter: float, seconds: float, seed: int) -> list[tuple[str, ...]]:
    results: dict[str, tuple[StrictServer, str]] = {}

    async def both() -> None:
        async def run(name: str, contender: Callable[[StrictServer, float], Awaitable[str]]) -> None:
            with serving(rate, jitter, seed) as server:
                margin = await contender(server, seconds)
                results[name] = (server, margin)

        async with anyio.create_task_group() as tg:
            for name, contender in CONTENDERS.items():
                tg.start_soon(run, name, contender)

    anyio.run(both, backend="asyncio")
    rows = []
    for name in CONTENDERS:
        server, margin = results[name]
        counted = [t for t in server.accepted if t - server.accepted[0] <= seconds] if server.accepted else []
        span = counted[-1] - counted[0] if len(counted) > 1 else float("nan")
        per_second = (len(counted) - 1) / span if len(counted) > 1 else 0.0
        requests = len(server.accepted) + server.rejected
        optimum = rate / (1 + jitter)
        rows.append(
            (
                f"{rate}/s, J={jitter * 1000:g} ms",
                name,
                f"{requests}",
                f"{server.rejected}",
                f"{server.rejected / requests:.1%}" if requests else "-",
                f"{per_second / rate:.1%}",
                f"{per_second / optimum:.1%}",
                margin,
            )
        )
    return rows


def jittery_server(
    seconds: float = 20.0,
    cases: Sequence[tuple[int, float]] = (
        (2, 0.0),
        (15, 0.0),
        (2, 0.005),
        (15, 0.005),
        (2, 0.02),
        (15, 0.02),
        (2, 0.05),
        (15, 0.05),
    ),
    seed: int = 2024,
) -> Table:
    """Both clients against a strict server with counting jitter J, side by side, per case."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # server threads and the client share the GIL: switch often
    try:
        rows = [row for rate, jitter in cases for row in _one_case(rate, jitter, seconds, seed)]
    finally:
        sys.setswitchinterval(previous)
    return Table(
        f"Through the client, at a strict server: {CALLERS} callers, {seconds:g} s per case (real time)",
        (
            "case",
            "client",
            "requests",
            "429s",
            "429 share",
            "accepted/s % of rate",
            "% of optimum rate/(1+J)",
            "learned margin ms",
        ),
        rows,
        note=(
            "accepted/s = (accepted - 1) / (last - first accepted) over the run, at the server; "
            "targets: J <= 5 ms: 0 429s, >= 99 % of rate; J = 20, 50 ms: <= 2 % 429s, >= 92 % of optimum"
        ),
    )
