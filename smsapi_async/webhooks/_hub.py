"""The in-process feed from a :class:`CallbackReceiver` to ``wait_for_delivery`` and ``reply_stream``.

A receiver built with ``client=`` publishes every event it accepts to that client's hub. Waiters
subscribe, take what was published since they last looked, and wait for more. The hub keeps the
last ``history`` events so a waiter that subscribes late still sees recent ones; a waiter that
falls further behind is told (``lost``) and relies on polling, which the tracking code always
keeps as the backstop. Publishing never blocks and works from any thread.
"""

from __future__ import annotations

import threading
from collections import deque

import anyio

from ._events import Event

__all__ = ["CallbackHub", "Subscription"]

#: How long a waiter sleeps at most before looking again, for receivers running in another thread
#: (their wake-up cannot reach an event loop they do not own).
CROSS_THREAD_TICK = 0.2


class Subscription:
    """One waiter's position in a :class:`CallbackHub`."""

    def __init__(self, hub: CallbackHub, position: int) -> None:
        self._hub = hub
        self._position = position
        self._thread = threading.get_ident()
        self._wakeup = anyio.Event()
        self.lost = False

    def take(self) -> list[Event]:
        """The events published since the last call (oldest first)."""
        events, self._position, lost = self._hub._since(self._position)
        self.lost = self.lost or lost
        return events

    async def wait(self, seconds: float) -> None:
        """Return when something is published, or after ``seconds`` (at most a short tick when a
        publisher may be in another thread)."""
        if self._hub._pending(self._position):
            return
        with anyio.move_on_after(max(0.0, min(seconds, CROSS_THREAD_TICK))):
            await self._wakeup.wait()
        self._wakeup = anyio.Event()

    def _notify(self) -> None:
        if threading.get_ident() == self._thread:
            self._wakeup.set()

    def close(self) -> None:
        self._hub._unsubscribe(self)


class CallbackHub:
    """Thread-safe fan-out of accepted callback events to in-process waiters."""

    def __init__(self, history: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._events: deque[tuple[int, Event]] = deque(maxlen=history)
        self._count = 0
        self._subscribers: list[Subscription] = []
        self.receivers = 0

    @property
    def wired(self) -> bool:
        """Whether a receiver publishes here (waiters then poll only as a fallback)."""
        return self.receivers > 0

    def publish(self, event: Event) -> None:
        with self._lock:
            self._count += 1
            self._events.append((self._count, event))
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber._notify()

    def subscribe(self, *, replay: bool = True) -> Subscription:
        """A subscription; with ``replay`` it first sees the events still held."""
        with self._lock:
            start = (self._events[0][0] - 1 if self._events else self._count) if replay else self._count
            subscription = Subscription(self, start)
            self._subscribers.append(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    def _pending(self, position: int) -> bool:
        return self._count > position

    def _since(self, position: int) -> tuple[list[Event], int, bool]:
        with self._lock:
            oldest = self._events[0][0] if self._events else self._count + 1
            lost = oldest > position + 1 and self._count > position
            events = [event for number, event in self._events if number > position]
            return events, self._count, lost

    def __repr__(self) -> str:
        return f"<CallbackHub events={self._count} receivers={self.receivers}>"
