"""The client against hostile HTTP framing, over real sockets: stacked encodings, bytes beyond an answer,
cookies. Each finding of the second audit has a test here that failed on the code before it.

1. A stacked ``Content-Encoding`` (``gzip, gzip``) made the client hold ~190 MB against a 4 MiB
   limit, and three layers ran for 21 s against a 2 s timeout.
2. Bytes a server wrote after one answer were read as the next call's answer: a send returned the
   ``message_id`` written before it was made.
3. Server-set cookies were kept and sent back without bound.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.abc
import httpx
import pytest

from smsapi_async import AsyncSmsClient, OutcomeUnknownError, ResponseParseError, SmsApiError
from smsapi_async._body import MAX_ENCODINGS

pytestmark = pytest.mark.anyio

SUCCESS = b'"error":{"code":"SUCCESS","description":"OK"}'


def sent(message_id: int) -> bytes:
    fields = f'"message_id":{message_id},"send_at":"2030-01-01 00:00:00","recipients":1,"cost":0.07,"sms":1'
    return b"{" + fields.encode() + b"," + SUCCESS + b"}"


def balance(amount: int = 5) -> bytes:
    return b'{"balance":%d,"currency":"AUD",' % amount + SUCCESS + b"}"


def answer(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{header}\r\n" for header in headers)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


class RawServer:
    """A real HTTP/1.1 server on 127.0.0.1 that writes, for the n-th request on any connection, the
    bytes ``script(n)`` gives (n from 1), and records each request's head."""

    def __init__(self, script: Callable[[int], bytes]) -> None:
        self.script = script
        self.heads: list[bytes] = []
        self.connections = 0
        self.port = 0

    async def _serve(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        buffer = b""
        async with stream:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                while True:
                    while b"\r\n\r\n" not in buffer:
                        buffer += await stream.receive(65536)
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length")
                        ),
                        0,
                    )
                    while len(buffer) < length:
                        buffer += await stream.receive(65536)
                    buffer = buffer[length:]
                    self.heads.append(head)
                    await stream.send(self.script(len(self.heads)))

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        task_status.started()
        await listener.serve(self._serve)


@contextlib.asynccontextmanager
async def serving(
    script: Callable[[int], bytes], **options: Any
) -> AsyncIterator[tuple[RawServer, AsyncSmsClient]]:
    server = RawServer(script)
    async with anyio.create_task_group() as tg:
        await tg.start(server.run)
        options.setdefault("rate_limit", None)
        options.setdefault("max_retries", 0)
        async with AsyncSmsClient(
            "test-key-0001", "test-secret-0001", base_url=f"http://127.0.0.1:{server.port}", **options
        ) as client:
            yield server, client
        tg.cancel_scope.cancel()


# --- 1. stacked encodings --------------------------------------------------------------------------------


def padded_gzip(inflated: int) -> bytes:
    """A valid balance answer padded with ``inflated`` spaces, gzipped once."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    body = balance()
    parts = [packer.compress(body[:-1])]
    block = b" " * (1024 * 1024)
    parts += [packer.compress(block) for _ in range(inflated // len(block))]
    parts += [packer.compress(body[-1:]), packer.flush()]
    return b"".join(parts)


def gzip_of_many_megabytes(compressed: int = 3_500_000) -> bytes:
    """A gzip stream of about ``compressed`` bytes in which every 64 KiB inflates to just under
    4 MiB (3.75): the same flushed block of 900 spaces (15 bytes), repeated (a full flush makes each
    block stand on its own). Each piece alone stays under a 4 MiB limit; all of them are 210 MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    head = packer.compress(balance()[:-1]) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(b" " * 900) + packer.flush(zlib.Z_FULL_FLUSH)
    return head + block * (compressed // len(block))


@pytest.mark.parametrize("call", ["read", "send"])
async def test_1_a_double_gzip_bomb_is_refused_within_the_size_limit(call: str) -> None:
    bomb = gzip.compress(gzip_of_many_megabytes(), 9)  # 3.5 MB inside, ~210 MB inflated
    assert len(bomb) < 30_000  # 23 KB in the audit
    body = answer(bomb, "Content-Encoding: gzip, gzip")
    async with serving(lambda n: body) as (_, client):
        tracemalloc.start()
        try:
            run = (
                client.account.balance
                if call == "read"
                else lambda: client.sms.send(message="hi", to="61400000001")
            )
            with pytest.raises(SmsApiError) as caught:
                await run()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak  # the 4 MiB limit and a few pieces, not ~190 MB
    assert isinstance(caught.value, OutcomeUnknownError if call == "send" else ResponseParseError)


async def test_1_more_encodings_than_allowed_are_refused_at_once_within_the_timeout() -> None:
    layers = gzip.compress(gzip.compress(padded_gzip(16 * 1024 * 1024), 9), 9)
    body = answer(layers, "Content-Encoding: " + ", ".join(["gzip"] * (MAX_ENCODINGS + 1)))
    async with serving(lambda n: body, timeout=2) as (_, client):
        started = time.monotonic()
        with pytest.raises(ResponseParseError, match="encodings"):
            await client.account.balance()
    assert time.monotonic() - started < 2


async def test_1_a_small_answer_in_two_layers_is_read() -> None:
    body = answer(gzip.compress(zlib.compress(balance(7))), "Content-Encoding: deflate, gzip")
    async with serving(lambda n: body) as (_, client):
        assert (await client.account.balance()).balance == 7


async def test_1_inflating_stops_at_the_deadline_even_without_a_network_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # each inflated piece checks the exchange's deadline: a clock that jumps past it mid-body stops it
    from smsapi_async import _body  # noqa: PLC0415

    body = answer(padded_gzip(3 * 1024 * 1024), "Content-Encoding: gzip")
    async with serving(lambda n: body, timeout=30) as (_, client):
        real = anyio.current_time
        pieces = [0]

        def jumping() -> float:
            pieces[0] += 1
            return real() + (3600 if pieces[0] > 3 else 0)

        monkeypatch.setattr(_body.anyio, "current_time", jumping)
        with pytest.raises(ResponseParseError, match="timeout"):
            await client.account.balance()


# --- 2. bytes beyond an answer ---------------------------------------------------------------------------


async def test_2_bytes_written_after_an_answer_are_never_taken_as_the_next_answer() -> None:
    def script(n: int) -> bytes:
        if n == 1:  # the answer, then a forged answer to a call not yet made
            return answer(balance(5)) + answer(sent(999999))
        return answer(sent(123))

    async with serving(script) as (server, client):
        assert (await client.account.balance()).balance == 5
        result = await client.sms.send(message="hi", to="61400000001")
        assert result.message_id == 123  # not 999999
        assert (await client.sms.send(message="hi", to="61400000001")).message_id == 123
    assert server.connections == 2  # the spoiled connection was closed, the next one kept


async def test_2_a_clean_connection_is_still_kept_alive() -> None:
    async with serving(lambda n: answer(balance(n))) as (server, client):
        for n in range(1, 6):
            assert (await client.account.balance()).balance == n
    assert server.connections == 1


# --- 3. cookies ------------------------------------------------------------------------------------------


def cookie_storm(n: int) -> bytes:
    return answer(balance(), *(f"Set-Cookie: c{n}x{i}=v; Path=/" for i in range(2000)))


async def test_3_server_set_cookies_are_neither_kept_nor_sent() -> None:
    async with serving(cookie_storm) as (server, client):
        for _ in range(30):
            await client.account.balance()
        assert len(client._http.cookies.jar) == 0
    assert not any(b"\r\ncookie:" in head.lower() for head in server.heads)


async def test_3_with_your_http_client_the_apis_cookies_are_dropped_and_yours_kept() -> None:
    server = RawServer(cookie_storm)
    async with anyio.create_task_group() as tg:
        await tg.start(server.run)
        async with httpx.AsyncClient() as http:
            http.cookies.set("session", "yours", domain="example.com")
            http.cookies.set("sneaky", "sent?", domain="127.0.0.1")
            client = AsyncSmsClient(
                "k", "s", base_url=f"http://127.0.0.1:{server.port}", http_client=http, rate_limit=None
            )
            for _ in range(5):
                await client.account.balance()
            assert [cookie.name for cookie in http.cookies.jar] == ["session"]
        tg.cancel_scope.cancel()
    assert not any(b"\r\ncookie:" in head.lower() for head in server.heads)


# --- 5. memory: parsing a body, and what a walk keeps ------------------------------------------------------


@pytest.mark.parametrize("response_format", ["json", "xml"])
async def test_5_a_body_of_tiny_values_is_refused_before_it_costs_25_times_its_size(
    make_client: Any, response_format: str
) -> None:
    # 4 MiB of empty objects or elements: 78-110 MB to parse before
    if response_format == "json":
        body = b'{"error":{"code":"SUCCESS"},"responses":[' + b",".join([b"{}"] * 1_300_000) + b"]}"
    else:
        body = b"<response><responses>" + b"<item/>" * 580_000 + b"</responses></response>"
    assert 3_500_000 < len(body) < 4 * 1024 * 1024
    client = make_client(lambda request: httpx.Response(200, content=body), response_format=response_format)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseParseError, match="values"):
            await client.sms.responses(message_id=1).first_page()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(body), peak


def replies_page(ids: range, number: int, count: int) -> httpx.Response:
    rows = [{"id": i, "message_id": 1, "msisdn": 61400000000 + i % 1000, "response": "ok"} for i in ids]
    page = {"page": {"number": number, "count": count}, "total": count * 100, "responses": rows}
    return httpx.Response(200, json={**page, "error": {"code": "SUCCESS", "description": "OK"}})


async def test_5_a_long_walk_keeps_the_keys_of_its_last_pages_only(make_client: Any) -> None:
    pages = 400

    def answer(request: httpx.Request) -> httpx.Response:
        number = int(httpx.QueryParams(request.content.decode())["page"])
        return replies_page(range((number - 1) * 100, number * 100), number, pages)

    client = make_client(answer)
    walk = client.sms.responses(message_id=1).pages()
    held: list[int] = []
    tracemalloc.start()
    try:
        async for page in walk:
            if page.number in (20, pages):
                gc.collect()  # what is held, not what awaits collection
                held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert len(held) == 2
    # 38 000 more rows walked: ~2.8 MB of de-duplication state before, a few KB now
    assert held[1] - held[0] < 500_000, held


# --- 6. a row that moved is known by its key, not by its every field ---------------------------------------

VARIANTS = {
    "an unmodelled field changed": ({"id": 7, "x": 1}, {"id": 7, "x": 2}),
    "a number spelled as text": ({"id": 7}, {"id": "7"}),
    "another timestamp spelling": (
        {"id": 7, "received_at": "2024-01-01 00:00:00"},
        {"id": 7, "received_at": "2024-01-01T00:00:00Z"},
    ),
    "an empty list for an empty object": ({"id": 7, "fields": []}, {"id": 7, "fields": {}}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_6_a_row_that_moved_to_the_next_page_is_yielded_once(make_client: Any, variant: str) -> None:
    before, after = VARIANTS[variant]
    base = {"message_id": 1, "msisdn": 61400000001, "response": "ok"}

    def answer(request: httpx.Request) -> httpx.Response:
        number = int(httpx.QueryParams(request.content.decode())["page"])
        # page 2 is read after a new reply arrived: the last row of page 1 is now the first of page 2
        rows = (
            [{**base, "id": 5}, {**base, **before}] if number == 1 else [{**base, **after}, {**base, "id": 9}]
        )
        body = {"page": {"number": number, "count": 2}, "total": 4, "responses": rows}
        return httpx.Response(200, json={**body, "error": {"code": "SUCCESS", "description": "OK"}})

    client = make_client(answer)
    assert [reply.id for reply in await client.sms.responses(message_id=1, page_size=2).to_list()] == [
        5,
        7,
        9,
    ]
