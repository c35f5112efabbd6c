"""Where a receiver remembers which callbacks it has accepted, so repeats are not handed on twice."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol, runtime_checkable

__all__ = ["DedupStore", "MemoryDedupStore"]


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
