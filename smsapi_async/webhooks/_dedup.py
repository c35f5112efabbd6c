"""Where a receiver remembers which callbacks it is handling and has handled, so that a repeat is
neither handed on twice nor acknowledged before the first delivery succeeded.

A key goes through three states: absent, ``busy`` (claimed by a handler, for a lease) and ``done``
(handled). A repeat that finds ``busy`` is told to come back later; once the handler fails, its
claim is released and the next repeat is handled; a claim whose holder died (a crashed process)
lapses when its lease runs out.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Final, Literal, Protocol, runtime_checkable

import anyio

from .._exceptions import InvalidRequestError
from .._resp import RespConnection
from .._validate import seconds

__all__ = ["ClaimState", "DedupStore", "MemoryDedupStore", "RedisDedupStore"]

ClaimState = Literal["new", "busy", "done"]
"""What :meth:`DedupStore.claim` found: ``new`` (the caller now holds the key and handles the event),
``busy`` (another handler holds a live claim), ``done`` (the event was handled)."""

_CLAIM_STATES: Final[dict[str, ClaimState]] = {"new": "new", "busy": "busy", "done": "done"}


@runtime_checkable
class DedupStore(Protocol):
    """De-duplication state of a :class:`CallbackReceiver`; implement it over Redis, a database...
    to share it between processes.

    Keys are short hex strings derived from an event's :attr:`~CallbackEvent.dedup_key`. Each
    method must be atomic with respect to the others on the same key.
    """

    async def claim(self, key: str, lease: float) -> ClaimState:
        """Claim ``key`` for ``lease`` seconds if it is absent (or its claim lapsed) and say
        ``"new"``; otherwise say ``"busy"`` (claimed, lease running) or ``"done"``."""
        ...

    async def complete(self, key: str) -> None:
        """Mark ``key`` handled: later claims find ``"done"`` for as long as the store remembers."""
        ...

    async def release(self, key: str) -> None:
        """Drop a claim on ``key`` (its handler failed, so the next repeat is handled). A key
        already ``done`` stays done."""
        ...


class MemoryDedupStore:
    """In-process :class:`DedupStore` remembering the most recent ``max_keys`` keys.

    The platform retries a callback after about 1 min, 5 min, 1 h and 24 h: size the bound so a
    day of callbacks fits (100 000 keys take about 15 MB). A repeat older than the bound is handed
    on again, so keep ``on_event`` idempotent for that case. Thread-safe.

    Args:
        max_keys: how many keys are remembered (the oldest are forgotten first).
        clock: monotonic seconds, for leases (default :func:`time.monotonic`; tests pass their own).
    """

    def __init__(self, max_keys: int = 100_000, *, clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys must be a positive integer, got {max_keys!r}")
        self.max_keys = max_keys
        self._clock = clock
        self._keys: OrderedDict[str, float | None] = OrderedDict()  # key -> lease end, None when done
        self._lock = threading.Lock()

    async def claim(self, key: str, lease: float) -> ClaimState:
        with self._lock:
            now = self._clock()
            if key in self._keys:
                self._keys.move_to_end(key)
                until = self._keys[key]
                if until is None:
                    return "done"
                if until > now:
                    return "busy"
            self._keys[key] = now + lease
            if len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
            return "new"

    async def complete(self, key: str) -> None:
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            if len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)

    async def release(self, key: str) -> None:
        with self._lock:
            if key in self._keys and self._keys[key] is not None:
                del self._keys[key]

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"MemoryDedupStore(max_keys={self.max_keys}, held={len(self._keys)})"


# One round trip each, atomic in Redis. A value other than "busy" (e.g. "1", written by earlier
# versions of this store) is a key already handled.
_CLAIM = """
local state = redis.call('GET', KEYS[1])
if not state then
  redis.call('SET', KEYS[1], 'busy', 'PX', ARGV[1])
  return 'new'
end
if state == 'busy' then return 'busy' end
return 'done'
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == 'busy' then redis.call('DEL', KEYS[1]) end
return 1
"""


class RedisDedupStore:
    """:class:`DedupStore` in Redis, shared by every process and host that uses the same Redis.

    A claim sets ``<prefix><key>`` to ``busy`` with the lease as its expiry, unless the key
    exists; completing sets it to ``done`` for ``ttl`` (default two days: the platform's last
    retry comes about 24 hours after the first attempt); releasing deletes a ``busy`` key. Each is
    one atomic script, so of two receivers getting the same callback at once only one hands it
    on, and a claim held by a process that died lapses with its lease.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) or
            ``unix:///path``; spoken to over anyio sockets, so it works under asyncio and trio.
        ttl: how long a handled callback is remembered, seconds or a ``timedelta``.
        prefix: prepended to every key (use one per application sharing the Redis).
        timeout: seconds each command may take, connecting included; past it the command raises
            ``TimeoutError`` (the receiver answers 503 and the platform retries later).

    An unreachable or silent Redis makes every method raise. Use it from one event loop at a time.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float | timedelta = timedelta(days=2),
        prefix: str = "smsapi-cb:",
        timeout: float = 5.0,
    ) -> None:
        duration = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
        valid = isinstance(duration, (int, float)) and not isinstance(duration, bool)
        if not valid or not 0.001 <= duration < 10**9:
            raise InvalidRequestError(f"ttl must be a positive duration, got {ttl!r}")
        self._timeout = seconds("timeout", timeout)
        try:
            self._connection = RespConnection(url, connect_timeout=self._timeout)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
        self._ttl_ms = int(duration * 1000)
        self.prefix = prefix

    async def _run(self, *args: str | int) -> object:
        with anyio.fail_after(self._timeout):
            return await self._connection.execute(*args)

    async def claim(self, key: str, lease: float) -> ClaimState:
        reply = await self._run("EVAL", _CLAIM, 1, self.prefix + key, max(1, int(lease * 1000)))
        state = _CLAIM_STATES.get(reply.decode("ascii", "replace")) if isinstance(reply, bytes) else None
        if state is None:
            raise ConnectionError(f"unexpected reply from Redis to a claim: {type(reply).__name__}")
        return state

    async def complete(self, key: str) -> None:
        await self._run("SET", self.prefix + key, "done", "PX", self._ttl_ms)

    async def release(self, key: str) -> None:
        await self._run("EVAL", _RELEASE, 1, self.prefix + key)

    async def aclose(self) -> None:
        """Close the connection (a later call reconnects)."""
        await self._connection.aclose()

    def __repr__(self) -> str:
        return f"RedisDedupStore({self._connection!r}, prefix={self.prefix!r}, ttl_ms={self._ttl_ms})"
