"""Pacing measured where it counts: at a strict server, through the real client, against peers.

A loopback HTTP server (127.0.0.1 only) plays the API's rate limit: a strict sliding 1-second window
that answers 429 ``OVER_LIMIT`` (no ``Retry-After``, as the API) to a request that finds ``rate``
accepted in the second before it. It runs in **its own process** (its own interpreter lock, like a
remote server: a server thread inside the client's process would stamp arrivals late whenever the
client holds the lock, jitter no real server adds). A request *arrives* when its request line is
read; it is *counted* ``uniform(0, J)`` seconds later (a load balancer, a queue, varying paths) and
answered then. With ``J = 0`` it is counted at arrival: what is left is the machine's own jitter
(the server process waiting for a CPU), which a client on a loaded host sees too and must absorb.
The same server, with a fixed latency before each answer, is the bulk wall-time benchmark's
(``benchmarks/bulk.py``).

Why a socket and not an ``httpx.MockTransport`` in the client's process: the client tells its
limiter when a request leaves from httpcore's trace of the real connection, and a mock transport
has no connection. Through one, every request counts as leaving when its answer arrives, a whole
latency late, and the limiter's window (no more than ``rate`` sends in ``1 + margin`` seconds) then
allows ``rate`` calls per ``1 + margin + latency`` seconds: a 95 % ceiling at 50 ms, for any caller,
that users on a real connection do not pay.

50 callers loop on ``get-balance`` for the run's duration and are then cancelled; what is reported
is what the server counted in that time. Contenders run one after the other in the same run, each
against a fresh server: ``AsyncSmsClient`` with its default limiter, and the client a user would
write by hand: httpx + ``aiolimiter.AsyncLimiter(rate, 1)`` + tenacity retrying 429s with
exponential backoff and jitter. Each row says the machine's load average when it ran.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socketserver
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from smsapi_async import AsyncSmsClient, RateLimiter, RateLimitError

from . import Table, free_port, wait_until_listening

OK = json.dumps({"balance": 1, "currency": "AUD", "error": {"code": "SUCCESS", "description": "OK"}}).encode()
OVER = json.dumps({"error": {"code": "OVER_LIMIT", "description": "Too many requests"}}).encode()
CALLERS = 50
STATS = b"/stats"


class StrictServer(socketserver.ThreadingTCPServer):
    """A strict sliding-window rate limit with counting jitter, over keep-alive HTTP/1.1.

    Each answer is written no sooner than ``latency`` seconds after its request arrived (spent
    asleep, no CPU). A ``send-sms`` call is answered with a success naming as many recipients as its
    ``to`` field holds; any other call with a balance. ``GET /stats`` answers what was counted so far
    (not rate limited): ``accepted`` (the times each accepted request was counted, on the machine's
    monotonic clock), ``answered`` (when each accepted request's answer was written, in order) and
    ``rejected``.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, rate: int, jitter: float, seed: int, port: int = 0, latency: float = 0.0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.rate = rate
        self.jitter = jitter
        self.latency = latency
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.window: deque[float] = deque()
        self.accepted: list[float] = []
        self.answered: list[float] = []
        self.rejected = 0

    def count(self, arrived: float) -> bool:
        """Count one request that arrived at ``arrived``, after its jitter: ``True`` if accepted."""
        with self.lock:
            delay = self.rng.uniform(0, self.jitter) if self.jitter else 0.0
        if delay:
            time.sleep(max(0.0, arrived + delay - time.monotonic()))
        with self.lock:
            now = time.monotonic() if delay else arrived
            if self.accepted and now < self.accepted[-1]:
                now = self.accepted[-1]  # two threads counting at once: keep the record ascending
            while self.window and now - self.window[0] >= 1.0:
                self.window.popleft()
            if len(self.window) >= self.rate:
                self.rejected += 1
                return False
            self.window.append(now)
            self.accepted.append(now)
            return True

    def answer(self, request_line: bytes, body: bytes, arrived: float, ok: bool) -> bytes:
        """The answer's body, once ``latency`` has passed since ``arrived``."""
        wait = arrived + self.latency - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if not ok:
            return OVER
        with self.lock:
            self.answered.append(time.monotonic())
            message_id = len(self.answered)
        if b"/send-sms" not in request_line:
            return OK
        to = parse_qs(body.decode()).get("to", [""])[0]
        return json.dumps(
            {"message_id": message_id, "recipients": to.count(",") + 1, "error": {"code": "SUCCESS"}}
        ).encode()

    def stats(self) -> bytes:
        with self.lock:
            seen = {"accepted": self.accepted, "answered": self.answered, "rejected": self.rejected}
            return json.dumps(seen).encode()


class _Handler(socketserver.StreamRequestHandler):
    server: StrictServer

    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            arrived = time.monotonic()
            if not line:
                return
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b""):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            form = self.rfile.read(length)
            if line.split(b" ")[1:2] == [STATS]:
                status, body = b"200 OK", self.server.stats()
            else:
                ok = self.server.count(arrived)
                body = self.server.answer(line, form, arrived, ok)
                status = b"200 OK" if ok else b"429 Too Many Requests"
            self.wfile.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            self.wfile.flush()


def serve(rate: int, jitter: float, seed: int, port: int, latency: float = 0.0) -> None:
    """Serve until killed (the server process's entry point)."""
    sys.setswitchinterval(0.0005)  # handler threads take turns often
    StrictServer(rate, jitter, seed, port, latency).serve_forever(poll_interval=0.05)


@contextmanager
def serving(rate: int, jitter: float, seed: int, latency: float = 0.0) -> Iterator[str]:
    """A strict server in its own process; yields its base URL."""
    port = free_port()
    code = f"from benchmarks.pacing import serve; serve({rate}, {jitter!r}, {seed}, {port}, {latency!r})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        wait_until_listening(port, process, "the strict server")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_stats(url: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(url + STATS.decode()).json()
    return stats


Caller = Callable[[], Awaitable[object]]


async def _loop_callers(call: Caller, seconds: float) -> None:
    async def caller() -> None:
        while True:
            with contextlib.suppress(RateLimitError):  # gave up: counted at the server anyway
                await call()

    with anyio.move_on_after(seconds):  # then every caller is cancelled, in flight or queued
        async with anyio.create_task_group() as tg:
            for _ in range(CALLERS):
                tg.start_soon(caller)


async def run_ours(url: str, rate: int, seconds: float) -> str:
    limiter = RateLimiter(rate)
    async with AsyncSmsClient("bench", "bench", base_url=url, limiter=limiter, max_retries=8) as client:
        await _loop_callers(lambda: client.call("get-balance"), seconds)
    return f"{limiter.margin * 1000:.1f}"


class TooMany(Exception):
    """The hand-written client's signal to tenacity: HTTP 429."""


async def run_hand_written(url: str, rate: int, seconds: float) -> str:
    limiter = AsyncLimiter(rate, 1)
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
                        response = await http.post(url + "/get-balance.json", data={})
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


CONTENDERS: dict[str, Callable[[str, int, float], Awaitable[str]]] = {
    "AsyncSmsClient": run_ours,
    "httpx + aiolimiter + tenacity": run_hand_written,
}


def _one_case(rate: int, jitter: float, seconds: float, seed: int) -> list[tuple[str, ...]]:
    rows = []
    for name, contender in CONTENDERS.items():  # one after the other: each has the machine to itself
        with serving(rate, jitter, seed) as url:
            margin = anyio.run(contender, url, rate, seconds, backend="asyncio")
            stats = server_stats(url)
        load = os.getloadavg()[0]
        accepted, rejected = stats["accepted"], stats["rejected"]
        counted = [t for t in accepted if t - accepted[0] <= seconds] if accepted else []
        span = counted[-1] - counted[0] if len(counted) > 1 else float("nan")
        per_second = (len(counted) - 1) / span if len(counted) > 1 else 0.0
        requests = len(accepted) + rejected
        optimum = rate / (1 + jitter)
        rows.append(
            (
                f"{rate}/s, J={jitter * 1000:g} ms",
                name,
                f"{requests}",
                f"{rejected}",
                f"{rejected / requests:.1%}" if requests else "-",
                f"{per_second / rate:.1%}",
                f"{per_second / optimum:.1%}",
                margin,
                f"{load:.1f}",
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
    """Each client against its own strict server with counting jitter J, one after the other."""
    rows = [row for rate, jitter in cases for row in _one_case(rate, jitter, seconds, seed)]
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
            "load avg",
        ),
        rows,
        note=(
            "accepted/s = (accepted - 1) / (last - first accepted) over the run, at the server (its own "
            "process); learned margin: at the end of the run; load avg: the machine's 1-minute load "
            f"({os.cpu_count()} CPUs); targets: J <= 5 ms: 0 429s, >= 99 % of rate; J = 20, 50 ms: "
            "<= 2 % 429s, >= 92 % of optimum"
        ),
    )
