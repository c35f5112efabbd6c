"""Clocks: the real one, and a virtual one that tests (or ``POST /_sandbox/advance``) move forward.

The sandbox never sleeps to make time pass: message states are computed from ``clock.now()``, and the
callback worker waits either for a real timeout (``WallClock``) or for ``advance()`` (``VirtualClock``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["FunctionClock", "SandboxClock", "VirtualClock", "WallClock"]


@runtime_checkable
class SandboxClock(Protocol):
    """Where the sandbox reads the time (UTC epoch seconds)."""

    #: True when time only moves through :meth:`VirtualClock.advance`, so waits need no real timeout.
    is_virtual: bool

    def now(self) -> float: ...

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the time jumps (virtual clocks only)."""


class WallClock:
    """Wall-clock time."""

    is_virtual = False

    def now(self) -> float:
        return time.time()

    def on_change(self, listener: Callable[[], None]) -> None:
        pass

    def __repr__(self) -> str:
        return "WallClock()"


class FunctionClock(WallClock):
    """Any ``() -> float`` callable used as a real-time clock."""

    def __init__(self, func: Callable[[], float]) -> None:
        self._func = func

    def now(self) -> float:
        return self._func()

    def __repr__(self) -> str:
        return f"FunctionClock({self._func!r})"


class VirtualClock:
    """Time that stands still until :meth:`advance` is called.

    Starts at ``start`` (default 2024-01-01 00:00:00 UTC) so timestamps in answers look realistic.
    """

    is_virtual = True

    def __init__(self, start: float = 1_704_067_200.0) -> None:
        self._now = start
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0) and wake whoever waits on the clock."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        for listener in list(self._listeners):
            listener()
        return self._now

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"
