"""Reading a response body within a size limit and a deadline, decompressing it ourselves.

httpx decompresses each network chunk in one go, so a small gzip body ("a zip bomb") can grow to
gigabytes before any limit sees it. Here the raw bytes are read and inflated here, a bounded step
at a time:

* at most :data:`MAX_ENCODINGS` ``Content-Encoding`` layers, each ``gzip`` or ``deflate`` (what the
  client asks for with ``Accept-Encoding``); anything else is refused before a byte is inflated;
* every layer's *total* output is held to the limit, and each piece a layer hands the next is at
  most 64 KiB, so no more than the limit plus a few pieces is ever held, however the layers nest
  (a ``gzip, gzip`` answer of 23 KB used to hold ~190 MB against a 4 MiB limit);
* the deadline of the whole exchange is checked between pieces, so CPU-bound inflation of a
  hostile answer cannot outlast the call's timeout.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Final

import anyio
import httpx

__all__ = ["ACCEPT_ENCODING", "DEFAULT_MAX_RESPONSE_SIZE", "MAX_ENCODINGS", "BodyError", "read_body"]

DEFAULT_MAX_RESPONSE_SIZE: Final = 4 * 1024 * 1024
"""4 MiB: a page of 100 rows of the largest report is well under 1 MiB."""

ACCEPT_ENCODING: Final = "gzip, deflate"

MAX_ENCODINGS: Final = 2
"""Most ``Content-Encoding`` layers an answer may stack (servers apply one; a proxy may add one)."""

_STEP = 64 * 1024


class BodyError(Exception):
    """The body could not be read: too large, too slow to inflate, or encoded in a way we did not
    ask for or cannot undo."""


class _Inflater:
    """One ``Content-Encoding`` layer, undone at most ``_STEP`` bytes at a time, ``limit`` in all."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self._limit = limit
        self._produced = 0
        # gzip, or zlib-wrapped deflate; raw deflate is tried if the zlib header is missing (as httpx does)
        self._zlib = zlib.decompressobj(
            zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        )
        self._first = encoding == "deflate"

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                chunk = self._zlib.decompress(data, _STEP)
            except zlib.error:
                if not self._first:
                    raise BodyError(f"the body is not valid {self.encoding}") from None
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._first = False
                continue
            self._first = False
            self._produced += len(chunk)
            if self._produced > self._limit:
                raise BodyError(f"the body inflates beyond the {self._limit}-byte limit")
            data = self._zlib.unconsumed_tail
            if not chunk:
                if data:  # no output, yet input left: zlib made no progress
                    raise BodyError(f"the body is not valid {self.encoding}")
                break
            yield chunk

    def finish(self) -> None:
        if not self._zlib.eof and self.encoding != "deflate":
            raise BodyError(f"the {self.encoding} body is truncated")


def _inflaters(header: str, limit: int) -> list[_Inflater]:
    codings = [part.strip().lower() for part in header.split(",") if part.strip()]
    layers = [coding for coding in codings if coding != "identity"]
    if len(layers) > MAX_ENCODINGS:
        raise BodyError(f"the body stacks {len(layers)} encodings; at most {MAX_ENCODINGS} are undone")
    for coding in layers:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise BodyError(f"the body is in an encoding the client did not ask for ({coding[:20]!r})")
    return [_Inflater(coding, limit) for coding in reversed(layers)]  # undone last-applied first


def _through(chunk: bytes, layers: list[_Inflater]) -> Iterator[bytes]:
    """``chunk`` undone through every layer, one bounded piece at a time (never a layer's whole output)."""
    if not layers:
        yield chunk
        return
    for piece in layers[0].feed(chunk):
        yield from _through(piece, layers[1:])


async def read_body(response: httpx.Response, limit: int, deadline: float | None = None) -> bytes:
    """The decoded body of a streamed ``response``, refused once it passes ``limit`` bytes either
    on the wire or decompressed, or once ``deadline`` (``anyio.current_time()``) passes.

    Raises:
        BodyError: too large, too slow, or undecodable.
    """
    if response.is_stream_consumed:  # already read (an event hook, or a test's ready-made response)
        try:
            body = response.content
        except httpx.ResponseNotRead:
            raise BodyError("the body was consumed before the client could read it") from None
        if len(body) > limit:
            raise BodyError(f"the body is over the {limit}-byte limit")
        return body
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise BodyError(f"the body is {int(declared)} bytes, over the {limit}-byte limit")
    layers = _inflaters(response.headers.get("Content-Encoding", ""), limit)
    parts: list[bytes] = []
    raw_size = size = 0
    async for raw in response.aiter_raw():
        raw_size += len(raw)
        if raw_size > limit:
            raise BodyError(f"the body is over the {limit}-byte limit")
        for piece in _through(raw, layers):
            size += len(piece)
            if size > limit:
                raise BodyError(f"the body is over the {limit}-byte limit once decompressed")
            parts.append(piece)
            if layers and deadline is not None and anyio.current_time() > deadline:
                raise BodyError("the body took longer than the call's timeout to decompress")
    for layer in layers:
        layer.finish()
    return b"".join(parts)
