"""Reading a response body within a size limit, decompressing it ourselves.

httpx decompresses each network chunk in one go, so a small gzip body ("a zip bomb") can grow to
gigabytes before any limit sees it. Here the raw bytes are read and inflated with ``max_length``,
so no more than the limit (plus one chunk of at most 64 KiB) is ever held, compressed or not.
Only the encodings the client asks for (``Accept-Encoding: gzip, deflate``) are accepted.
"""

from __future__ import annotations

import zlib
from typing import Final

import httpx

__all__ = ["ACCEPT_ENCODING", "DEFAULT_MAX_RESPONSE_SIZE", "BodyError", "read_body"]

DEFAULT_MAX_RESPONSE_SIZE: Final = 4 * 1024 * 1024
"""4 MiB: a page of 100 rows of the largest report is well under 1 MiB."""

ACCEPT_ENCODING: Final = "gzip, deflate"

_STEP = 64 * 1024


class BodyError(Exception):
    """The body could not be read: too large, or encoded in a way we did not ask for or cannot undo."""


class _Inflater:
    """One ``Content-Encoding`` layer, undone at most ``_STEP`` bytes at a time."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        # gzip, or zlib-wrapped deflate; raw deflate is tried if the zlib header is missing (as httpx does)
        self._zlib = zlib.decompressobj(
            zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        )
        self._first = encoding == "deflate"

    def feed(self, data: bytes, limit: int) -> list[bytes]:
        out: list[bytes] = []
        produced = 0
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
            produced += len(chunk)
            if produced > limit:
                raise BodyError(f"the body inflates beyond the {limit}-byte limit")
            out.append(chunk)
            data = self._zlib.unconsumed_tail
        return out

    def finish(self) -> None:
        if not self._zlib.eof and self.encoding != "deflate":
            raise BodyError(f"the {self.encoding} body is truncated")


def _inflaters(header: str) -> list[_Inflater]:
    codings = [part.strip().lower() for part in header.split(",") if part.strip()]
    layers = [coding for coding in codings if coding != "identity"]
    for coding in layers:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise BodyError(f"the body is in an encoding the client did not ask for ({coding[:20]!r})")
    return [_Inflater(coding) for coding in reversed(layers)]  # undone last-applied first


async def read_body(response: httpx.Response, limit: int) -> bytes:
    """The decoded body of a streamed ``response``, refused once it passes ``limit`` bytes either
    on the wire or decompressed.

    Raises:
        BodyError: too large, or undecodable.
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
    layers = _inflaters(response.headers.get("Content-Encoding", ""))
    parts: list[bytes] = []
    raw_size = size = 0
    async for raw in response.aiter_raw():
        raw_size += len(raw)
        if raw_size > limit:
            raise BodyError(f"the body is over the {limit}-byte limit")
        chunks = [raw]
        for layer in layers:
            chunks = [out for chunk in chunks for out in layer.feed(chunk, limit - size)]
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise BodyError(f"the body is over the {limit}-byte limit once decompressed")
            parts.append(chunk)
    for layer in layers:
        layer.finish()
    return b"".join(parts)
