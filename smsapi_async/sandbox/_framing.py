"""HTTP/1.1 framing as tolerant as the real API's front end, whichever parser uvicorn uses.

Some clients recorded against the live API send slightly bent requests that its front end (nginx)
serves. The Ruby client builds ``Authorization: Basic …`` with Ruby's ``Base64.encode64``, which ends
the value with a newline, so the header line ends ``…=\\n\\r\\n``. That is a bare-LF line ending, the blank
line after it ends the headers early, and the real blank line (``\\r\\n``) is left over in front of the
next request on the connection. RFC 9112 section 2.2 asks a server to accept a bare LF as a line ending
and to ignore empty lines received before a request line; nginx does both. uvicorn's two parsers do not:
h11 refuses the empty line ("no request line received": every second call on a kept-alive connection
failed with a plain-text 400), httptools (llhttp) refuses the bare LF (every call failed).

:func:`tolerant_http_protocol` gives uvicorn's protocol of the parser it would pick (httptools when
installed, else h11), bent the same way nginx is: llhttp with its "optional CR before LF" leniency,
and h11 with empty lines before a request line skipped. Nothing else is relaxed.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["tolerant_http_protocol"]

_EMPTY_LINE_BYTES = frozenset(b"\r\n")


class _SkippingEmptyLines(h11.Connection):
    """h11's server connection that drops CR and LF bytes in front of a request line."""

    def next_event(self) -> Any:
        if self.their_state is h11.IDLE:
            data = self._receive_buffer._data  # h11 keeps what it has not parsed yet here
            skip = 0
            while skip < len(data) and data[skip] in _EMPTY_LINE_BYTES:
                skip += 1
            if skip:
                self._receive_buffer._extract(skip)
        return super().next_event()


class TolerantH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, ignoring empty lines before a request line (RFC 9112 section 2.2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _SkippingEmptyLines(h11.SERVER, self.conn._max_incomplete_event_size)


def tolerant_http_protocol(parser: Literal["auto", "h11", "httptools"] = "auto") -> type[asyncio.Protocol]:
    """The HTTP protocol class to give uvicorn (``uvicorn.Config(http=...)``) for the sandbox:
    ``parser="auto"`` picks as uvicorn does (httptools when installed, else h11)."""
    if parser == "h11":
        return TolerantH11Protocol
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415
    except ImportError:  # httptools not installed: uvicorn would use h11
        if parser == "httptools":
            raise
        return TolerantH11Protocol

    class TolerantHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, accepting a bare LF as a line ending (RFC 9112 section 2.2)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)

    return TolerantHttpToolsProtocol
