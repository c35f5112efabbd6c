"""Where a receiver remembers which callbacks it has accepted, so repeats are not handed on twice."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import timedelta
from typing import Protocol, runtime_checkable

from .._exceptions import InvalidRequestError
from .._resp import RespConnection

__all__ = ["DedupStore", "MemoryDedupStore", "RedisDedupStore"]


@runtime_checkable
class DedupStore(Protocol):
    """De-duplication state of a :class:`CallbackReceiver`; implement it over Redis, a database...
    to share it between processes.

    Keys are short hex strings derived from an event's :attr:`~CallbackEvent.dedup_key`.
    """

    async def claim(self, key: str) -> bool:
        """Record ``key``; ``True`` if it was new (the caller now handles the event), ``False`` if
        it was already there. Must be atomic: of two concurrent claims of one key, one wins."""
        ...

    async def release(self, key: str) -> None:
        """Forget ``key`` (its handler failed, so a retry of the event must be handled again)."""
        ...


class MemoryDedupStore:
    """In-process :class:`DedupStore` remembering the most recent ``max_keys`` keys.

    The platform retries a callback after about 1 min, 5 min, 1 h and 24 h: size the bound so a
    day of callbacks fits (100 000 keys take about 15 MB). A repeat older than the bound is handed
    on again, so keep ``on_event`` idempotent for that case. Thread-safe.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys must be a positive integer, got {max_keys!r}")
        self.max_keys = max_keys
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    async def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            if len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
            return True

    async def release(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"MemoryDedupStore(max_keys={self.max_keys}, held={len(self._keys)})"


class RedisDedupStore:
    """:class:`DedupStore` in Redis, shared by every process and host that uses the same Redis.

    A claim is ``SET <prefix><key> 1 NX PX <ttl>``, a release ``DEL``: atomic in Redis, so of two
    receivers getting the same callback at once only one hands it on. Keys expire after ``ttl``
    (default two days: the platform's last retry comes about 24 hours after the first attempt).

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) or
            ``unix:///path``; spoken to over anyio sockets, so it works under asyncio and trio.
        ttl: how long an accepted callback is remembered, seconds or a ``timedelta``.
        prefix: prepended to every key (use one per application sharing the Redis).

    An unreachable Redis makes :meth:`claim` raise, which the receiver answers 503 so the platform
    retries later. Use it from one event loop at a time.
    """

    def __init__(
        self, url: str, *, ttl: float | timedelta = timedelta(days=2), prefix: str = "smsapi-cb:"
    ) -> None:
        seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
        valid = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
        if not valid or not 0.001 <= seconds < 10**9:
            raise InvalidRequestError(f"ttl must be a positive duration, got {ttl!r}")
        try:
            self._connection = RespConnection(url)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
        self._ttl_ms = int(seconds * 1000)
        self.prefix = prefix

    async def claim(self, key: str) -> bool:
        reply = await self._connection.execute("SET", self.prefix + key, "1", "NX", "PX", self._ttl_ms)
        return reply is not None

    async def release(self, key: str) -> None:
        await self._connection.execute("DEL", self.prefix + key)

    async def aclose(self) -> None:
        """Close the connection (a later call reconnects)."""
        await self._connection.aclose()

    def __repr__(self) -> str:
        return f"RedisDedupStore({self._connection!r}, prefix={self.prefix!r}, ttl_ms={self._ttl_ms})"
