"""End to end over real sockets: late connections do not squeeze a server window.

A loopback server records when each request arrives and closes every few connections, as a server
ending keep-alive connections does; the client's network backend makes every new connection wait
600 ms, like a far-away API's TCP and TLS handshakes. Requests that wait for a new connection leave
late while others go out on warm ones: the server must still never see more than the rate in any
second. About 5 s of real time, one backend (the logic is covered on both by tests/limiter/test_pacing.py).
"""

from __future__ import annotations

import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpcore
import httpx
import pytest

from smsapi_async import AsyncSmsClient, RateLimiter

RATE = 2
CALLS = 9
CONNECT_DELAY = 0.6
JITTER_ALLOWANCE = 0.05
CLOSE_EVERY = 2
BODY = b'{"balance": 1, "currency": "AUD", "error": {"code": "SUCCESS", "description": "OK"}}'


class ArrivalServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ArrivalHandler)
        self.arrivals: list[float] = []
        self.connections = 0
        self.lock = threading.Lock()


class ArrivalHandler(socketserver.StreamRequestHandler):
    server: ArrivalServer

    def handle(self) -> None:
        with self.server.lock:
            self.server.connections += 1
        while True:
            line = self.rfile.readline()
            if not line:
                return
            arrived = time.monotonic()
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b""):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            self.rfile.read(length)
            with self.server.lock:
                self.server.arrivals.append(arrived)
                close = len(self.server.arrivals) % CLOSE_EVERY == 0
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(BODY)}\r\n".encode()
                + (b"Connection: close\r\n" if close else b"")
                + b"\r\n"
                + BODY
            )
            self.wfile.flush()
            if close:
                return


class SlowConnects(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, but every new TCP connection takes ``delay`` seconds first."""

    def __init__(self, delay: float) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.delay = delay
        self.connects = 0

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connects += 1
        await anyio.sleep(self.delay)
        return await self.inner.connect_tcp(*args, **kwargs)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_unix_socket(*args, **kwargs)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@pytest.fixture
def server() -> Iterator[ArrivalServer]:
    srv = ArrivalServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def short_gil_switch_interval() -> Iterator[None]:
    """The server thread and the client share the GIL: switch often, so arrivals are timed closely."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(previous)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def most_in_a_closed_window(times: list[float], width: float = 1.0) -> int:
    ordered = sorted(times)
    most = first = 0
    for last, t in enumerate(ordered):
        while t - ordered[first] > width:
            first += 1
        most = max(most, last - first + 1)
    return most


@pytest.mark.anyio
async def test_late_connections_never_put_more_than_the_rate_in_a_server_second(
    server: ArrivalServer,
) -> None:
    backend = SlowConnects(CONNECT_DELAY)
    transport = httpx.AsyncHTTPTransport()
    transport._pool._network_backend = backend  # the one knob httpx does not expose
    limiter = RateLimiter(RATE)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    remaining = list(range(CALLS))
    async with AsyncSmsClient("k", "s", base_url=base_url, limiter=limiter, transport=transport) as client:

        async def caller() -> None:
            while remaining:
                remaining.pop()
                await client.call("get-balance")

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(caller)
    assert len(server.arrivals) == CALLS
    assert backend.connects >= CALLS // CLOSE_EVERY  # the server really made the client reconnect
    # Loopback arrivals carry scheduling jitter on a busy test machine, so windows are checked
    # JITTER_ALLOWANCE narrower than a second; a late connection squeezing the window would put
    # rate + 1 arrivals within about 0.6 s.
    assert most_in_a_closed_window(server.arrivals, 1.0 - JITTER_ALLOWANCE) <= RATE
    assert limiter.pending == 0
