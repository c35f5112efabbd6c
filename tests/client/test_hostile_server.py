"""A hostile server: every finding of the failure audit, against every call shape (plain, paginated, send).

Each case answers one of three calls the way a broken or malicious server might, and the client must
answer with a typed error from its own tree, quickly, in bounded memory, without duplicates and without
showing private data. A send (a call that changes state) that goes wrong after the request may have left
is always :class:`OutcomeUnknownError`: the message may have gone out.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import time
import traceback
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import anyio.abc
import attrs
import httpx
import pytest
from support import Recorder, form_of

import smsapi_async
from smsapi_async import (
    AsyncSmsClient,
    FakeClock,
    InvalidRequestError,
    NetworkError,
    OutcomeUnknownError,
    PaginationError,
    RateLimiter,
    RateLimitError,
    RequestTimeoutError,
    ResponseParseError,
    SmsApiError,
)

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]
TEXT = "your one-time code is 834201"
SECRET = "test-secret-0001"
HOLE = '"@@"'
"""Where a template takes the hostile value, as raw JSON text."""

SUCCESS = {"code": "SUCCESS", "description": "OK"}


@attrs.frozen
class Shape:
    """One call shape: the call, how a user makes it, and its normal answer with holes in it."""

    name: str
    call: str
    run: Callable[[AsyncSmsClient], Awaitable[Any]]
    templates: dict[str, dict[str, Any]]
    """Slot (the field a hole sits in) → the answer, with ``"@@"`` where the hostile value goes."""

    @property
    def changes_state(self) -> bool:
        return not self.call.startswith("get-")

    def body(self, slot: str, raw: str) -> bytes:
        """The answer with the hole in ``slot`` replaced by the raw JSON text ``raw``."""
        text = json.dumps({**self.templates[slot], "error": SUCCESS})
        assert text.count(HOLE) == 1
        return text.replace(HOLE, raw).encode()

    def normal(self) -> bytes:
        slot = next(iter(self.templates))
        return self.body(slot, "1")

    def answer(self, slot: str, raw: str, response_format: str) -> httpx.Response:
        """The holed answer as JSON, or as the API's XML (every scalar as text, lists as <item>)."""
        body = self.body(slot, raw)
        if response_format == "xml":
            data = json.loads(body, parse_int=str, parse_float=str, parse_constant=str)
            body = f"<?xml version='1.0'?><response>{as_xml(data)}</response>".encode()
        return httpx.Response(200, content=body)


def as_xml(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<{key}>{as_xml(item)}</{key}>" for key, item in value.items())
    if isinstance(value, list):
        return "".join(f"<item>{as_xml(item)}</item>" for item in value)
    return "" if value is None else str(value)


def _message(**hole: Any) -> dict[str, Any]:
    fields = {"message_id": 1, "send_at": "2030-01-01 00:00:00", "recipients": 1, "cost": 0.07, "sms": 1}
    return {**fields, "message": TEXT, **hole}


async def _walk(client: AsyncSmsClient) -> list[Any]:
    return await client.sms.responses(message_id=1).to_list()


SHAPES = [
    Shape(
        "plain",
        "get-sms",
        lambda client: client.sms.get(1),
        {"message_id": _message(message_id="@@"), "cost": _message(cost="@@")},
    ),
    Shape(
        "paginated",
        "get-sms-responses",
        _walk,
        {
            "page.count": {
                "page": {"count": "@@", "number": 1},
                "total": 1,
                "responses": [{"id": 1, "message_id": 1, "response": TEXT}],
            },
            "id": {
                "page": {"count": 1, "number": 1},
                "total": 1,
                "responses": [{"id": "@@", "message_id": 1, "response": TEXT}],
            },
        },
    ),
    Shape(
        "send",
        "send-sms",
        lambda client: client.sms.send(message=TEXT, to="61400000001"),
        {"message_id": _message(message_id="@@"), "cost": _message(cost="@@")},
    ),
]
SHAPE_IDS = [shape.name for shape in SHAPES]
SLOTS = [(shape, slot) for shape in SHAPES for slot in shape.templates]
SLOT_IDS = [f"{shape.name}-{slot}" for shape, slot in SLOTS]


async def expect_typed_failure(shape: Shape, client: AsyncSmsClient) -> SmsApiError:
    """Run the shape's call; it must fail with the right type of the client's tree, naming the call."""
    with pytest.raises(SmsApiError) as info:
        await shape.run(client)
    error = info.value
    if shape.changes_state:
        assert isinstance(error, OutcomeUnknownError), repr(error)
    assert getattr(error, "call", None) == shape.call
    return error


def assert_private(error: BaseException) -> None:
    """Nothing the error shows, its chain included, holds the message text or the secret."""
    shown = "".join(traceback.format_exception(error))
    for leak in (TEXT, SECRET):
        assert leak not in shown


# --- 1. numbers that would take the CPU hostage --------------------------------------------------

HUGE_EXPONENTS = ['"1e1000000"', '"-1e1000000"', "1e1000000", '"1E+999999999"', '"1e-1000000"']


@pytest.mark.parametrize("response_format", ["json", "xml"])
@pytest.mark.parametrize("raw", HUGE_EXPONENTS)
@pytest.mark.parametrize(("shape", "slot"), SLOTS, ids=SLOT_IDS)
async def test_1_a_huge_exponent_is_refused_at_once(
    make_client: MakeClient, shape: Shape, slot: str, raw: str, response_format: str
) -> None:
    answer = shape.answer(slot, raw, response_format)
    client = make_client(Recorder(answer), response_format=response_format)
    started = time.thread_time()  # CPU time: a busy machine's waits for a core do not count
    error = await expect_typed_failure(shape, client)
    assert time.thread_time() - started < 2.0  # milliseconds in fact; minutes before the fix
    assert slot.rsplit(".", maxsplit=1)[-1] in str(error)
    assert_private(error)


# --- 2. numbers that are not numbers, or do not fit ----------------------------------------------

NOT_NUMBERS = {
    "5000 digits": "1" * 5000,
    "5000 digit text": '"' + "9" * 5000 + '"',
    "2**64": str(2**64),
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "nan text": '"nan"',
    "abc": '"abc"',
    "list": "[1, 2]",
    "object": '{"a": 1}',
    "1e30": "1e30",
}


@pytest.mark.parametrize("response_format", ["json", "xml"])
@pytest.mark.parametrize("raw", list(NOT_NUMBERS.values()), ids=list(NOT_NUMBERS))
@pytest.mark.parametrize(("shape", "slot"), SLOTS, ids=SLOT_IDS)
async def test_2_a_number_that_is_not_one_is_a_typed_error_naming_call_and_field(
    make_client: MakeClient, shape: Shape, slot: str, raw: str, response_format: str
) -> None:
    answer = shape.answer(slot, raw, response_format)
    client = make_client(Recorder(answer), response_format=response_format)
    error = await expect_typed_failure(shape, client)
    assert slot.rsplit(".", maxsplit=1)[-1] in str(error)
    assert_private(error)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_2_a_list_where_an_object_belongs_is_a_typed_error(
    make_client: MakeClient, shape: Shape
) -> None:
    if shape.name == "paginated":
        body = {"page": {"count": 1, "number": 1}, "total": 1, "responses": [[1, 2]], "error": SUCCESS}
    else:
        body = {**_message(), "delivery_stats": [TEXT], "error": SUCCESS}
    client = make_client(Recorder(httpx.Response(200, json=body)))
    error = await expect_typed_failure(shape, client)
    assert_private(error)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_normal_answers_still_work(make_client: MakeClient, shape: Shape) -> None:
    client = make_client(Recorder(httpx.Response(200, content=shape.normal())))
    assert await shape.run(client)


# --- 5. everything that leaves the client is in its tree; a send that may have gone out is unknown ---


class ExplodingTransport(httpx.AsyncBaseTransport):
    """A transport with a bug: it raises something httpx never would."""

    def __init__(self) -> None:
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        raise RuntimeError("transport bug")


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_5_a_retry_after_that_overflows_does_not_break_a_success(
    make_client: MakeClient, shape: Shape
) -> None:
    header = {"Retry-After": "Mon, 01 Jan 0001 00:00:00 +99999999999999999999"}
    client = make_client(Recorder(httpx.Response(200, content=shape.normal(), headers=header)))
    assert await shape.run(client)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_5_a_retry_after_that_overflows_on_a_429_falls_back_to_backoff(
    make_client: MakeClient, shape: Shape
) -> None:
    header = {"Retry-After": "Mon, 01 Jan 0001 00:00:00 +99999999999999999999"}
    over = httpx.Response(429, json={"error": {"code": "OVER_LIMIT"}}, headers=header)
    handler = Recorder(over)
    with pytest.raises(SmsApiError) as info:
        await shape.run(make_client(handler, max_retries=0))
    assert type(info.value).__name__ == "RateLimitError"


def streamed(status: int, body: bytes, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    """A handler answering with ``body`` as it comes off the wire: not yet read, nor decoded."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    return answer


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, gzip"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_5_a_corrupt_content_encoding_is_typed(
    make_client: MakeClient, shape: Shape, encoding: str
) -> None:
    handler = Recorder(streamed(200, b"not compressed at all", **{"Content-Encoding": encoding}))
    error = await expect_typed_failure(shape, make_client(handler))
    assert len(handler.requests) == 1
    if not shape.changes_state:
        assert isinstance(error, ResponseParseError)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_5_a_transport_bug_is_typed_and_a_send_is_not_resent(shape: Shape) -> None:
    transport = ExplodingTransport()
    async with AsyncSmsClient("test-key-0001", SECRET, transport=transport, rate_limit=None) as client:
        error = await expect_typed_failure(shape, client.with_options(max_retries=0))
    assert isinstance(error, (NetworkError, OutcomeUnknownError))
    assert transport.requests == 1
    assert_private(error)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_5_a_truncated_body_is_unknown_for_a_send_and_a_parse_error_for_a_read(
    make_client: MakeClient, shape: Shape
) -> None:
    body = shape.normal()
    handler = Recorder(httpx.Response(200, content=body[: len(body) // 2]))
    error = await expect_typed_failure(shape, make_client(handler, max_retries=3))
    assert len(handler.requests) == 1
    if not shape.changes_state:
        assert isinstance(error, ResponseParseError)
    assert_private(error)


@pytest.mark.parametrize("status", [429, 503, 500, 302, 418])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_5_a_success_body_under_an_error_status_is_not_a_success(
    make_client: MakeClient, shape: Shape, status: int
) -> None:
    handler = Recorder(httpx.Response(status, content=shape.normal()))
    error = await expect_typed_failure(shape, make_client(handler, max_retries=0))
    assert len(handler.requests) == 1
    if status == 429 and not shape.changes_state:
        assert isinstance(error, RateLimitError)  # a read is safe to resend once the limit allows


@pytest.mark.parametrize("status", [429, 503])
async def test_5_a_send_answered_success_under_an_error_status_is_never_resent(
    make_client: MakeClient, status: int
) -> None:
    handler = Recorder(httpx.Response(status, content=SHAPES[2].normal()), httpx.Response(200, content=b"{}"))
    clock = FakeClock()
    client = make_client(handler, limiter=RateLimiter(2, clock=clock), max_retries=5)

    async def send() -> None:
        with pytest.raises(OutcomeUnknownError):
            await SHAPES[2].run(client)

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        await clock.run_until_idle()
    assert len(handler.requests) == 1


# --- 3. bounded memory: a size limit on the wire and after decompression -------------------------


@functools.cache
def gzip_bomb(inflated: int = 64 * 1024 * 1024) -> bytes:
    """A valid JSON success answer padded with ``inflated`` bytes of spaces, gzipped (~64 KiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    body = SHAPES[0].normal()
    parts = [packer.compress(body[:-1])]
    block = b" " * (1024 * 1024)
    parts += [packer.compress(block) for _ in range(inflated // len(block))]
    parts += [packer.compress(body[-1:]), packer.flush()]
    return b"".join(parts)


def padded(shape: Shape, size: int) -> bytes:
    body = shape.normal()
    return body[:-1] + b" " * size + body[-1:]


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_3_a_gzip_bomb_is_refused_while_it_inflates(make_client: MakeClient, shape: Shape) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 200_000
    handler = Recorder(streamed(200, bomb, **{"Content-Encoding": "gzip"}))
    client = make_client(handler, max_retries=0)
    tracemalloc.start()
    try:
        error = await expect_typed_failure(shape, client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024  # the limit (4 MiB) plus a chunk, not 64 MiB
    assert "limit" in str(error) or "limit" in str(error.__cause__)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_3_a_body_over_the_limit_is_refused_plain_or_declared(
    make_client: MakeClient, shape: Shape
) -> None:
    big = padded(shape, 5 * 1024 * 1024)
    for answer in (streamed(200, big), streamed(200, big, **{"Content-Length": str(len(big))})):
        await expect_typed_failure(shape, make_client(Recorder(answer), max_retries=0))


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_3_the_limit_is_configurable_on_the_client(make_client: MakeClient, shape: Shape) -> None:
    body = padded(shape, 20_000)
    small = make_client(Recorder(streamed(200, body)), max_response_size=10_000, max_retries=0)
    await expect_typed_failure(shape, small)
    roomy = make_client(Recorder(streamed(200, body)), max_response_size=30_000)
    assert await shape.run(roomy)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_3_gzip_and_deflate_answers_within_the_limit_are_read(
    make_client: MakeClient, shape: Shape
) -> None:
    body = shape.normal()
    for encoding, packed in (
        ("gzip", gzip.compress(body)),
        ("deflate", zlib.compress(body)),
        ("deflate", zlib.compress(body)[2:-4]),  # raw deflate, as some servers send it
        ("identity", body),
    ):
        client = make_client(Recorder(streamed(200, packed, **{"Content-Encoding": encoding})))
        assert await shape.run(client)


@pytest.mark.parametrize("size", [0, 1023, 2**41, True, 1.5])
def test_3_a_nonsensical_limit_is_refused(size: Any) -> None:
    with pytest.raises(InvalidRequestError, match="max_response_size"):
        AsyncSmsClient("k", "s", max_response_size=size)


# --- 4. timeout= bounds the whole exchange, whatever the server drips ------------------------------


class Drip(httpx.AsyncByteStream):
    """A body that arrives one byte every ``interval`` seconds."""

    def __init__(self, body: bytes, interval: float) -> None:
        self.body = body
        self.interval = interval

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index in range(len(self.body)):
            await anyio.sleep(self.interval)
            yield self.body[index : index + 1]


def dripping(body: bytes, interval: float = 0.1) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Drip(body, interval))

    return answer


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_4_a_dripping_answer_ends_at_the_timeout(make_client: MakeClient, shape: Shape) -> None:
    body = shape.normal()  # a few hundred bytes: tens of seconds at one byte per 0.1 s
    client = make_client(Recorder(dripping(body)), timeout=0.5, max_retries=0)
    started = time.monotonic()
    error = await expect_typed_failure(shape, client)
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5, elapsed
    if not shape.changes_state:
        assert isinstance(error, RequestTimeoutError)


async def test_4_with_options_timeout_bounds_the_whole_exchange_too(make_client: MakeClient) -> None:
    client = make_client(Recorder(dripping(SHAPES[0].normal())), max_retries=0)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        await SHAPES[0].run(client.with_options(timeout=httpx.Timeout(0.3, read=0.5)))
    assert time.monotonic() - started < 5


async def serve_dripping(body: bytes, interval: float, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    """A real HTTP server on 127.0.0.1 that answers every request with ``body``, a byte at a time."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                await stream.receive(65536)
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n"
                await stream.send(head.encode())
                for index in range(len(body)):
                    await anyio.sleep(interval)
                    await stream.send(body[index : index + 1])

    task_status.started(port)
    await listener.serve(handle)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_4_a_real_server_dripping_over_a_socket_is_cut_at_the_timeout(shape: Shape) -> None:
    async with anyio.create_task_group() as tg:
        port = await tg.start(serve_dripping, shape.normal(), 0.1)
        async with AsyncSmsClient(
            "test-key-0001",
            SECRET,
            base_url=f"http://127.0.0.1:{port}",
            timeout=0.6,
            max_retries=0,
            rate_limit=None,
        ) as client:
            started = time.monotonic()
            await expect_typed_failure(shape, client)
            assert time.monotonic() - started < 5
        tg.cancel_scope.cancel()


# --- 6. a walk never yields an item twice and always ends -----------------------------------------

WALKS: dict[str, tuple[Callable[[AsyncSmsClient], Any], str]] = {
    "responses": (lambda client: client.sms.responses(message_id=1, page_size=2), "responses"),
    "lists": (lambda client: client.lists.list(page_size=2), "lists"),
    "members": (lambda client: client.lists.members(5, page_size=2), "members"),
}


def page_answer(key: str, ids: list[int], number: int, count: int) -> httpx.Response:
    rows = [{"id": i, "msisdn": 61400000000 + i, "response": TEXT, "name": f"row {i}"} for i in ids]
    return httpx.Response(
        200, json={"page": {"number": number, "count": count}, "total": 99, key: rows, "error": SUCCESS}
    )


async def collect(walk: Any, into: list[Any]) -> None:
    async for item in walk:
        into.append(item)


def requested_page(request: httpx.Request) -> int:
    return int(form_of(request)["page"])


@pytest.mark.parametrize("walk", list(WALKS))
async def test_6_a_server_ignoring_page_gives_each_item_once_then_a_typed_error(
    make_client: MakeClient, walk: str
) -> None:
    paginate, key = WALKS[walk]
    handler = Recorder(lambda request: page_answer(key, [1, 2], 1, 5))
    items: list[Any] = []
    with pytest.raises(PaginationError, match="ignoring the page") as info:
        await collect(paginate(make_client(handler)), items)
    assert len(items) == 2
    assert len(handler.requests) == 2
    assert info.value.call in ("get-sms-responses", "get-lists", "get-list")


@pytest.mark.parametrize("walk", list(WALKS))
async def test_6_a_page_count_growing_with_every_page_ends(make_client: MakeClient, walk: str) -> None:
    paginate, key = WALKS[walk]

    def answer(request: httpx.Request) -> httpx.Response:
        number = requested_page(request)
        return page_answer(key, [2 * number, 2 * number + 1], number, number + 1)

    handler = Recorder(answer)
    items: list[Any] = []
    with pytest.raises(PaginationError, match="keeps growing"):
        await collect(paginate(make_client(handler)), items)
    assert len(handler.requests) == 6  # twice the first count (2) plus two
    assert len(items) == 12


@pytest.mark.parametrize("walk", list(WALKS))
async def test_6_pages_appearing_during_a_walk_are_followed_and_shifted_rows_not_repeated(
    make_client: MakeClient, walk: str
) -> None:
    paginate, key = WALKS[walk]
    # two rows arrive after page 1 was read: rows 2-3 shift to page 2, and a third page appears
    answers = {1: ([1, 2], 2), 2: ([2, 3], 3), 3: ([4, 5], 3)}

    def answer(request: httpx.Request) -> httpx.Response:
        number = requested_page(request)
        ids, count = answers[number]
        return page_answer(key, ids, number, count)

    items = await paginate(make_client(Recorder(answer))).to_list()
    assert len(items) == 5


async def test_6_a_walk_with_a_huge_first_count_still_ends(make_client: MakeClient) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        number = requested_page(request)
        return page_answer("responses", [number], number, 10**18)

    handler = Recorder(answer)
    walk = make_client(handler).sms.responses(message_id=1, limit=5)
    assert len(await walk.to_list()) == 5
    assert len(handler.requests) == 5


# --- 8. privacy: what reprs, errors, excerpts and chained causes show -----------------------------

PASSWORD = "hunter2-pass-0001"


def chain(error: BaseException) -> list[BaseException]:
    """The error and everything chained to it, as cause or context."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def assert_nothing_private_in_chain(error: BaseException) -> None:
    assert_private(error)
    for link in chain(error):
        assert not isinstance(link, httpx.HTTPError), f"an httpx error is chained: {link!r}"
        for value in vars(link).values():
            assert not isinstance(value, (httpx.Request, httpx.Response)), repr(link)


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("gone"),
        httpx.ConnectError("refused"),
        RuntimeError("bug"),
    ],
    ids=lambda fault: type(fault).__name__,
)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_8_no_chained_cause_carries_the_request(
    make_client: MakeClient, shape: Shape, fault: Exception
) -> None:
    with pytest.raises(SmsApiError) as info:
        await shape.run(make_client(Recorder(fault), max_retries=0))
    assert_nothing_private_in_chain(info.value)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_8_an_excerpt_of_a_truncated_answer_blanks_every_string_value(
    make_client: MakeClient, shape: Shape
) -> None:
    body = shape.normal()
    cut = body[: body.index(TEXT.encode()) + 10]  # cut inside the text itself
    error = await expect_typed_failure(shape, make_client(Recorder(httpx.Response(200, content=cut))))
    parse_error = error if isinstance(error, ResponseParseError) else error.__cause__
    assert isinstance(parse_error, ResponseParseError)
    assert TEXT[:10] not in parse_error.excerpt
    assert (
        '"message' in parse_error.excerpt or '"responses' in parse_error.excerpt
    )  # keys stay, for diagnosis


async def test_8_a_truncated_get_client_keeps_the_sub_accounts_secret_out_of_the_excerpt(
    make_client: MakeClient,
) -> None:
    body = json.dumps({"id": 7, "name": "Shop", "apikey": "sub-key-123456", "apisecret": "sub-secret-abcdef"})
    truncated = body[: body.index("sub-secret") + 12].encode()
    for response_format, content in (
        ("json", truncated),
        ("xml", b"<response><id>7</id><apikey>sub-key-123456</apikey><apisecret>sub-secret-abc"),
    ):
        client = make_client(Recorder(httpx.Response(200, content=content)), response_format=response_format)
        with pytest.raises(ResponseParseError) as info:
            await client.resellers.get_client(7)
        shown = "".join(traceback.format_exception(info.value))
        assert "sub-secret" not in shown
        assert "sub-key-123456" not in shown


@pytest.mark.parametrize(
    "model",
    ["MessageInfo", "Reply", "DeliveryStatus", "UserSentMessage", "MessageLogEntry", "ReportedMessage"],
)
def test_8_model_reprs_show_message_text_as_its_length(model: str) -> None:
    cls = getattr(smsapi_async, model)
    data = {"message": TEXT, "response": TEXT, "original_message": TEXT, "id": 1, "message_id": 1}
    shown = repr(cls.from_api(data))
    assert TEXT not in shown
    assert f"<{len(TEXT)} characters>" in shown


@pytest.mark.parametrize(
    "base_url",
    [
        "https://user:pw-0001@api.transmitsms.com",
        "https://:pw-0001@api.transmitsms.com",
        "http://u:pw-0001@127.0.0.1:1",
    ],
)
def test_8_a_base_url_with_credentials_is_refused_without_showing_them(base_url: str) -> None:
    with pytest.raises(InvalidRequestError, match="credentials") as info:
        AsyncSmsClient("k", "s", base_url=base_url)
    assert "pw-0001" not in str(info.value)


@pytest.mark.parametrize(
    "target", ["https://elsewhere.example/send-sms.json", "http://api.transmitsms.com/send-sms.json"]
)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_8_redirects_are_never_followed_whatever_the_http_client_says(
    shape: Shape, target: str
) -> None:
    handler = Recorder(
        httpx.Response(307, headers={"Location": target}), httpx.Response(200, content=shape.normal())
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True)
    async with (
        http,
        AsyncSmsClient("test-key-0001", SECRET, http_client=http, rate_limit=None, max_retries=0) as client,
    ):
        with pytest.raises(SmsApiError):  # the redirect is refused, not followed
            await shape.run(client)
    assert [str(request.url.host) for request in handler.requests] == ["api.transmitsms.com"]


async def test_8_bytes_for_text_are_refused_without_showing_them(make_client: MakeClient) -> None:
    handler = Recorder(httpx.Response(200, content=SHAPES[2].normal()))
    client = make_client(handler)
    secret_text = TEXT.encode()
    attempts = [
        lambda: client.sms.send(message=secret_text, to="61400000001"),  # type: ignore[arg-type]
        lambda: client.sms.reply(to="61400000001", message=secret_text, from_="Shop"),  # type: ignore[arg-type]
        lambda: client.resellers.add_client("Shop", "a@b.co", PASSWORD.encode(), "61400000001"),  # type: ignore[arg-type]
        lambda: client.resellers.edit_client(7, password=PASSWORD.encode()),  # type: ignore[arg-type]
        lambda: client.resellers.add_client(
            "Shop", "a@b.co", PASSWORD, "61400000001", api_secret=PASSWORD.encode()
        ),  # type: ignore[arg-type]
        lambda: client.resellers.edit_client(7, password=" "),
        lambda: client.sms.send(message=TEXT * 30, to="61400000001"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidRequestError) as info:
            await attempt()
        shown = "".join(traceback.format_exception(info.value))
        assert PASSWORD not in shown
        assert TEXT not in shown
        assert repr(secret_text)[:20] not in shown
    assert handler.requests == []
