"""RedisRateLimiter against a server that answers the script with garbage: never a hot loop, never a
permanent stall, a typed error after a few tries.

The audit found some garbage replies made the head of the queue call Redis 3 500-41 000 times in
5 s without a grant, and one reply naming a huge wait stopped grants for good, even once the server
answered sanely again. A fake server speaking RESP on a real socket plays the part.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.abc
import pytest

from smsapi_async import RedisLimiterError, RedisRateLimiter, _redis_limiter

pytestmark = pytest.mark.anyio


def array(*values: Any) -> bytes:
    """A RESP array of integers (``int``) and bulk strings (``str``)."""
    out = [b"*%d\r\n" % len(values)]
    for value in values:
        if isinstance(value, int):
            out.append(b":%d\r\n" % value)
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(value), value.encode()))
    return b"".join(out)


def now_us() -> int:
    return int(time.time() * 1_000_000)


def granted() -> bytes:
    return array(1, now_us(), 0, 0, 1, 5000, 2000)


class FakeRedis:
    """Answers every script call (EVALSHA, EVAL) with ``script(n)`` (n from 1) and counts them;
    answers the connection's set-up commands as Redis 2 would (no HELLO), ``+OK`` to the rest."""

    def __init__(self, script: Callable[[int], bytes]) -> None:
        self.script = script
        self.commands = 0

    def _answer(self, name: bytes) -> bytes:
        if name in (b"EVALSHA", b"EVAL"):
            self.commands += 1
            return self.script(self.commands)
        if name == b"HELLO":
            return b"-ERR unknown command 'HELLO'\r\n"
        return b"+OK\r\n"

    async def _serve(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                buffer = b""
                while True:
                    buffer += await stream.receive(65536)
                    while (parsed := _command(buffer)) is not None:
                        name, end = parsed
                        buffer = buffer[end:]
                        await stream.send(self._answer(name))


def _command(buffer: bytes) -> tuple[bytes, int] | None:
    """The name of the first complete RESP command in ``buffer`` and where it ends, if complete."""
    if not buffer.startswith(b"*") or b"\r\n" not in buffer:
        return None
    head = buffer.partition(b"\r\n")[0]
    at = len(head) + 2
    parts: list[bytes] = []
    for _ in range(int(head[1:])):
        line_end = buffer.find(b"\r\n", at)
        if line_end == -1:
            return None
        size = int(buffer[at + 1 : line_end])
        parts.append(buffer[line_end + 2 : line_end + 2 + size])
        at = line_end + 2 + size + 2
        if at > len(buffer):
            return None
    return parts[0].upper(), at


@contextlib.asynccontextmanager
async def fake_redis(script: Callable[[int], bytes]) -> AsyncIterator[tuple[FakeRedis, str]]:
    server = FakeRedis(script)
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(listener.serve, server._serve)
        yield server, f"redis://127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}/0"
        tg.cancel_scope.cancel()


GARBAGE = {
    "refused without a wait": lambda: array(0, now_us(), 0, 0, 1, 5000, 2000),
    "five values": lambda: array(1, now_us(), 0, 0, 1),
    "text for a number": lambda: array(1, "soon", 0, 0, 1, 5000, 2000),
    "a negative wait": lambda: array(0, now_us(), -5, 0, 1, 5000, 2000),
    "granted twice over": lambda: array(2, now_us(), 0, 0, 1, 5000, 2000),
    "a margin of an hour": lambda: array(1, now_us(), 0, 0, 1, 3_600_000_000, 2000),
    "six values (an older script)": lambda: array(1, now_us(), 0, 0, 1, 5000),
    "a rate of zero": lambda: array(1, now_us(), 0, 0, 1, 5000, 0),
    "a plain integer": lambda: b":1\r\n",
    "a nested array": lambda: b"*1\r\n" + array(1, 2),
}


@pytest.mark.parametrize("kind", list(GARBAGE))
async def test_garbage_replies_end_in_a_typed_error_after_a_few_calls_not_a_hot_loop(kind: str) -> None:
    async with fake_redis(lambda n: GARBAGE[kind]()) as (server, url):
        limiter = RedisRateLimiter(url, key="acct", rate=2)
        started = time.monotonic()
        with anyio.fail_after(20), pytest.raises(RedisLimiterError, match="malformed"):
            await limiter.acquire()
        elapsed = time.monotonic() - started
        await limiter.aclose()
    assert server.commands <= 2 * _redis_limiter.MAX_BAD_REPLIES, server.commands  # not thousands
    assert elapsed < 10


async def test_after_a_garbage_reply_a_sane_one_grants() -> None:
    script = lambda n: GARBAGE["refused without a wait"]() if n <= 2 else granted()  # noqa: E731
    async with fake_redis(script) as (server, url):
        limiter = RedisRateLimiter(url, key="acct", rate=2)
        with anyio.fail_after(10):
            await limiter.acquire()
        await limiter.aclose()
    assert limiter.grants == 1
    assert server.commands == 3


@pytest.mark.parametrize("field", ["wait", "pause"])
async def test_a_huge_wait_or_pause_never_stops_grants_for_good(field: str) -> None:
    huge = 10**15  # 31 years

    def script(n: int) -> bytes:
        if n == 1:
            return (
                array(0, now_us(), huge, 0, 1, 5000, 2000)
                if field == "wait"
                else array(0, now_us(), 1000, huge, 1, 5000, 2000)
            )
        return granted()

    async with fake_redis(script) as (_, url):
        limiter = RedisRateLimiter(url, key="acct", rate=2)
        with anyio.fail_after(10):
            await limiter.acquire()
        await limiter.aclose()


async def test_a_long_but_plausible_wait_is_asked_again_so_a_corrected_schedule_grants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 50 minutes is a schedule Redis could give (a long fleet-wide queue); if it was wrong, the next
    # answer corrects it: the head asks again every RECHECK seconds (shortened here)
    monkeypatch.setattr(_redis_limiter, "RECHECK", 0.2)
    script = lambda n: array(0, now_us(), 3_000_000_000, 0, 1, 5000, 2000) if n == 1 else granted()  # noqa: E731
    async with fake_redis(script) as (server, url):
        limiter = RedisRateLimiter(url, key="acct", rate=2)
        with anyio.fail_after(10):
            await limiter.acquire()
        await limiter.aclose()
    assert server.commands == 2


async def test_a_long_pause_reported_by_redis_is_still_told_to_callers_in_full() -> None:
    # waiting it out in steps must not hide its length from the client's max_retry_wait check
    script = lambda n: array(0, now_us(), 120_000_000, 120_000_000, 1, 5000, 2000)  # noqa: E731
    async with fake_redis(script) as (_, url):
        limiter = RedisRateLimiter(url, key="acct", rate=2)
        with anyio.move_on_after(0.5):
            await limiter.acquire()
        assert limiter.paused_for() > 100
        await limiter.aclose()
