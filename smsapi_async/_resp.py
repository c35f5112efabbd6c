"""A minimal Redis connection on anyio sockets, for the shared limiter under trio.

``redis.asyncio`` runs only on asyncio. The shared limiter needs four commands (``AUTH``,
``SELECT``, ``EVALSHA``, ``EVAL``), so under trio (or whenever it is given a URL and no client)
it speaks RESP2 itself over one anyio connection: requests are serialised by a lock, replies are
parsed strictly and bounded in size, and any I/O or protocol error closes the connection so the
next call reconnects. URLs: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS
and ``unix:///path/to/socket[?db=N]``.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["RespConnection", "RespError", "RespProtocolError", "parse_redis_url"]

MAX_LINE = 64 * 1024
MAX_BULK = 1024 * 1024
MAX_ITEMS = 1024
MAX_DEPTH = 8


_STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
)


class RespError(Exception):
    """An error reply from the server (``-ERR ...``, ``-NOSCRIPT ...``, ``-LOADING ...``)."""


class RespProtocolError(OSError):
    """The server's bytes are not a RESP reply we accept; the connection is dropped."""


def parse_redis_url(url: str) -> dict[str, Any]:
    """The connection settings in a Redis URL (never echoes the password in errors)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"a Redis URL starts with redis://, rediss:// or unix://, got {scheme or 'none'}://")
    query = parse_qs(parts.query)
    db_text = (query.get("db") or [""])[0]
    if scheme != "unix" and parts.path.strip("/"):
        db_text = parts.path.strip("/")
    try:
        db = int(db_text) if db_text else 0
    except ValueError:
        raise ValueError("the Redis database in the URL must be a number") from None
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError("the Redis port in the URL must be a number") from None
    return {
        "tls": scheme == "rediss",
        "unix_path": unquote(parts.path) if scheme == "unix" else None,
        "host": parts.hostname or "localhost",
        "port": port,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password is not None else None,
        "db": db,
    }


def _encode(args: tuple[str | bytes | int | float, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RespConnection:
    """One connection to one Redis server; reconnects lazily after any failure."""

    def __init__(self, url: str, *, connect_timeout: float = 2.0) -> None:
        self._settings = parse_redis_url(url)
        self._connect_timeout = connect_timeout
        self._stream: anyio.abc.ByteStream | None = None
        self._reader: BufferedByteReceiveStream | None = None
        self._lock: anyio.Lock | None = None
        self._token: object = None

    async def execute(self, *args: str | bytes | int | float) -> Any:
        """Send one command and return its reply (``RespError`` for an error reply)."""
        # the loop's own token: anyio's current_token() wraps it in a new object on every call
        token = anyio.lowlevel.current_token().native_token
        if self._token is not token:  # a new event loop: the old connection belongs to the old one
            self._stream = self._reader = None
            self._lock = anyio.Lock()
            self._token = token
        assert self._lock is not None
        async with self._lock:
            try:
                if self._stream is None:
                    await self._connect()
                return await self._roundtrip(args)
            except RespError:
                raise
            except _STREAM_ERRORS as exc:  # the server went away mid-exchange (restart, network)
                await self._drop()
                raise ConnectionError(f"Redis connection lost ({type(exc).__name__})") from exc
            except BaseException:
                await self._drop()
                raise

    async def _connect(self) -> None:
        s = self._settings
        with anyio.fail_after(self._connect_timeout):
            stream: anyio.abc.ByteStream
            if s["unix_path"] is not None:
                stream = await anyio.connect_unix(s["unix_path"])
            elif s["tls"]:
                stream = await anyio.connect_tcp(
                    s["host"], s["port"], tls=True, ssl_context=ssl.create_default_context()
                )
            else:
                stream = await anyio.connect_tcp(s["host"], s["port"])
            self._stream = stream
            self._reader = BufferedByteReceiveStream(stream)
            try:
                if s["password"] is not None:
                    auth = (s["username"], s["password"]) if s["username"] else (s["password"],)
                    await self._roundtrip(("AUTH", *auth))
                if s["db"]:
                    await self._roundtrip(("SELECT", s["db"]))
            except RespError:  # refused (wrong password, no such database): not a usable connection
                await self._drop()
                raise

    async def _roundtrip(self, args: tuple[str | bytes | int | float, ...]) -> Any:
        assert self._stream is not None
        await self._stream.send(_encode(args))
        return await self._read(0)

    async def _read(self, depth: int) -> Any:
        assert self._reader is not None
        try:
            line = await self._reader.receive_until(b"\r\n", MAX_LINE)
        except anyio.DelimiterNotFound:
            raise RespProtocolError("Redis reply line too long") from None
        if not line:
            raise RespProtocolError("empty Redis reply line")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        if kind == b"-":
            raise RespError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return self._int(rest)
        if kind == b"$":
            size = self._int(rest)
            if size < 0:
                return None
            if size > MAX_BULK:
                raise RespProtocolError("Redis bulk reply too large")
            data = await self._reader.receive_exactly(size + 2)
            return data[:-2]
        if kind == b"*":
            count = self._int(rest)
            if count < 0:
                return None
            if count > MAX_ITEMS or depth >= MAX_DEPTH:
                raise RespProtocolError("Redis array reply too large or too deep")
            return [await self._read(depth + 1) for _ in range(count)]
        raise RespProtocolError(f"unexpected Redis reply type {kind!r}")

    @staticmethod
    def _int(text: bytes) -> int:
        try:
            return int(text)
        except ValueError:
            raise RespProtocolError("Redis reply: not an integer") from None

    async def _drop(self) -> None:
        stream, self._stream, self._reader = self._stream, None, None
        if stream is not None:
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def aclose(self) -> None:
        """Close the connection (a later call reconnects)."""
        if self._token is anyio.lowlevel.current_token().native_token:
            await self._drop()
        else:
            self._stream = self._reader = None

    def __repr__(self) -> str:
        s = self._settings
        where = s["unix_path"] or f"{s['host']}:{s['port']}"
        return f"RespConnection({'rediss' if s['tls'] else 'redis'}://{where}/{s['db']})"
