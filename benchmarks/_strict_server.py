"""A strict stand-in for the API, served in its own process on a loopback socket (``benchmarks.bulk``).

``python -m benchmarks._strict_server --port P --rate R --latency S``: every POST is answered after
``S`` seconds spent asleep (no CPU), as a ``send-sms`` success naming as many recipients as its
``to`` field holds; like the real API, a call arriving when ``R`` calls already arrived within the
last second is refused with 429 ``OVER_LIMIT``. ``GET /arrivals`` answers ``{"accepted": [...],
"answered": [...], "refused": n}``: the arrival times (``time.monotonic()``, shared by the processes
of one machine) of the calls accepted so far, and when their answers were written.

Why a socket and not an ``httpx.MockTransport`` in the client's process: the client tells its
limiter when a request leaves from httpcore's trace of the real connection, and a mock transport
has no connection. Through one, every request counts as leaving when its answer arrives, a whole
latency late, and the limiter's window (no more than ``rate`` sends in ``1 + margin`` seconds) then
allows ``rate`` calls per ``1 + margin + latency`` seconds: a 94.8 % ceiling at 50 ms, for any
caller, that users on a real connection do not pay. Its own process also keeps its CPU (parsing
500 numbers a call) off the client's event loop, as a remote server's is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

__all__ = ["StrictApi", "main"]


class StrictApi:
    """The ASGI application: a strict sliding 1-second window at ``rate``, answers after ``latency``."""

    def __init__(self, rate: int, latency: float) -> None:
        self.rate = rate
        self.latency = latency
        self.accepted: list[float] = []
        self.answered: list[float] = []  # when each accepted call's answer was written, in order
        self.refused = 0
        self._recent: deque[float] = deque()

    def admit(self, now: float) -> bool:
        """Whether a call arriving at ``now`` is within the rate (and count it if so)."""
        recent = self._recent
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= self.rate:
            self.refused += 1
            return False
        recent.append(now)
        self.accepted.append(now)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrived = time.monotonic()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET" and scope["path"] == "/arrivals":
            seen = {"accepted": self.accepted, "answered": self.answered, "refused": self.refused}
            await _answer(send, 200, seen)
            return
        admitted = self.admit(arrived)
        message_id = len(self.accepted)
        await asyncio.sleep(self.latency)
        if not admitted:
            await _answer(send, 429, {"error": {"code": "OVER_LIMIT", "description": "Too many requests"}})
            return
        to = parse_qs(body.decode()).get("to", [""])[0]
        recipients = to.count(",") + 1
        self.answered.append(time.monotonic())
        await _answer(
            send,
            200,
            {"message_id": message_id, "recipients": recipients, "error": {"code": "SUCCESS"}},
        )


async def _answer(send: Send, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._strict_server", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True, help="calls per sliding second")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before each answer")
    args = parser.parse_args(argv)
    app = StrictApi(args.rate, args.latency)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="asyncio",
        http="h11",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
