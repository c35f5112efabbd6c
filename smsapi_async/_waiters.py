"""The local queue of callers waiting at a limiter: strict FIFO, one head, cheap per waiter.

Both :class:`~smsapi_async.RateLimiter` and :class:`~smsapi_async.RedisRateLimiter` queue the
callers that cannot be granted at once here. Only the head of the queue does the limiter's work
(sleeps until its grant time, or asks Redis); everyone behind it is parked until the head leaves.

* **Strict FIFO.** Callers are numbered in arrival order (their *ticket*); the head is the lowest
  ticket still queued. A newcomer never barges past the queue, and a woken waiter never loses
  its place.
* **Cancellation-safe.** A waiter that leaves at any moment (cancelled while parked, or in the
  same tick as its promotion, or while it is the head) calls :meth:`WaiterQueue.leave` from a
  ``finally``: a head hands its role to the next live waiter, anyone else is skipped when the
  head reaches it. Nothing else is needed, under asyncio or trio.
* **Cheap per waiter.** A waiter is nothing but its ticket (an ``int`` in its own frame): no
  object per waiter, no event per waiter far from the head. Waiters within ``GATE`` of the head
  park on an event of their own, set when they become the head; those further back share one
  event per ``GATE`` of them, opened when the head reaches their group, so 10 000 waiters hold about
  10 000 / ``GATE`` events and a promotion wakes one waiter, not the crowd.
* **One event loop at a time.** The queue remembers the event loop its waiters belong to. A
  newcomer from another loop finds either that loop gone (closed, or no longer running: its
  waiters are dropped, since they may never run again; they are never woken, and a head among
  them that runs again raises ``RuntimeError`` instead of taking a grant) or still running in
  another thread: then it is refused at once with ``RuntimeError`` instead of queueing behind
  tasks it can never be woken by.

The limiter's loop, for a caller that must queue::

    ticket = queue.enter()
    try:
        while (event := queue.gate(ticket)) is not None:
            await event.wait()
        ...  # the head: wait for the grant (queue.check(ticket) after each sleep)
    finally:
        queue.leave(ticket)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

__all__ = ["GATE", "WaiterQueue", "loop_token"]

GATE = 64
"""Waiters further than this from the head share one event per ``GATE`` of them."""


_UNCLAIMED: Any = object()  # no token looked up yet


class WaiterQueue:
    """A FIFO queue of tickets with one head (see the module docstring).

    Args:
        owner: how error messages name the limiter (``"RateLimiter"``).
        advice: what a caller refused for using a second running event loop should do.
        on_reset: called when the waiters of a dead event loop are dropped (the limiter forgets
            whatever its head was doing).
    """

    __slots__ = (
        "_advice",
        "_base",
        "_cancelled",
        "_events",
        "_gates",
        "_head",
        "_new_event",
        "_next",
        "_on_reset",
        "_opened",
        "_owner",
        "_owner_name",
        "_woken",
    )

    def __init__(self, owner: str, advice: str, on_reset: Callable[[], None] | None = None) -> None:
        self._owner_name = owner
        self._advice = advice
        self._on_reset = on_reset
        self._next = 0  # the next ticket handed out
        self._head = 0  # the head's ticket; == _next when nobody is queued
        self._base = 0  # tickets below this belong to a dropped event loop
        self._cancelled: set[int] = set()  # tickets behind the head that left
        self._events: dict[int, anyio.Event] = {}  # ticket -> its own event (near the head only)
        self._gates: dict[int, anyio.Event] = {}  # ticket // GATE -> the event far waiters share
        self._opened = 0  # gates below this generation have been opened
        self._woken = 0  # wake_ahead() went up to (not including) this ticket
        self._owner: Any = None  # the event loop whose tasks are queued
        # the owner's backend's event class: anyio.Event() looks the backend up each time (sniffio,
        # a few µs), twice per waiter of a crowd; found again after the queue was empty
        self._new_event: Callable[[], anyio.Event] | None = None

    def __len__(self) -> int:
        """How many callers are queued (the head included)."""
        return self._next - self._head - len(self._cancelled)

    def __bool__(self) -> bool:
        return self._next != self._head

    def enter(self, token: Any = _UNCLAIMED) -> int:
        """Queue the calling task; returns its ticket (the head's if nobody else is queued).

        ``token`` is what :meth:`claim` returned for this task, if the caller claimed already.

        Raises:
            RuntimeError: tasks of another event loop, still running in another thread, are queued.
        """
        self._owner = self.claim() if token is _UNCLAIMED else token
        if self._next == self._head:  # the first waiter (perhaps of another event loop than before)
            self._new_event = None
        ticket = self._next
        self._next = ticket + 1
        return ticket

    def claim(self, token: Any = _UNCLAIMED) -> Any:
        """Check that the calling task's event loop may use this queue; returns that loop's token
        (``token``, if the caller looked it up with :func:`loop_token` already).

        Raises:
            RuntimeError: tasks of another event loop, still running in another thread, are queued.
        """
        if token is _UNCLAIMED:
            token = loop_token()
        if self._next != self._head and self._owner is not token:
            if _still_running(self._owner):
                raise RuntimeError(
                    f"this {self._owner_name} has callers waiting in another running event loop "
                    f"(another thread?); a {self._owner_name} serves one event loop at a time: "
                    f"{self._advice}"
                )
            self._drop_all()
        return token

    def _drop_all(self) -> None:
        """The queued waiters' event loop is gone: they will never run again."""
        self._base = self._head = self._next
        self._cancelled.clear()
        self._events.clear()
        self._gates.clear()
        self._opened = self._next // GATE
        if self._on_reset is not None:
            self._on_reset()

    def check(self, ticket: int) -> None:
        """Raise if ``ticket`` belongs to an event loop whose waiters were dropped."""
        if ticket < self._base:
            raise RuntimeError(
                f"this {self._owner_name} was taken over by another event loop while this task "
                "waited in it (its own loop had stopped running)"
            )

    def gate(self, ticket: int) -> anyio.Event | None:
        """``None`` if ``ticket`` is the head; else the event to wait on before asking again."""
        if ticket < self._base:
            self.check(ticket)
        head = self._head
        if ticket == head:
            return None
        if ticket - head < GATE:
            event = self._events.get(ticket)
            if event is None:
                event = self._events[ticket] = self._event()
            return event
        generation = ticket // GATE
        gate = self._gates.get(generation)
        if gate is None:
            gate = self._gates[generation] = self._event()
        return gate

    def _event(self) -> anyio.Event:
        """A new event of the queued callers' backend."""
        new = self._new_event
        if new is None:
            event = anyio.Event()
            self._new_event = type(event)
            return event
        return new()

    def wake_ahead(self, count: int) -> None:
        """Wake the ``count`` waiters after the head now, those parked on events of their own: the
        limiter expects to grant them in the same tick as the head, one after the other, instead
        of one tick (one pass of the event loop) each. Only a hint: a woken waiter that is not
        the head yet when it runs parks again, and promotion still wakes every new head."""
        head = self._head
        start = max(head + 1, self._woken)
        stop = min(head + 1 + count, self._next, head + GATE)
        if start >= stop:
            return
        events = self._events
        for ticket in range(start, stop):
            event = events.pop(ticket, None)
            if event is not None:
                event.set()
            elif ticket not in self._cancelled:  # not parked on an event of its own (yet)
                stop = ticket
                break
        self._woken = stop

    def leave(self, ticket: int) -> bool:
        """``ticket`` is done waiting (granted, cancelled or failed): call it exactly once.

        Returns ``False`` if it was no longer counted (dropped with its event loop).
        """
        if ticket < self._base:
            return False  # dropped with its event loop
        events = self._events
        if ticket != self._head:
            events.pop(ticket, None)
            self._cancelled.add(ticket)  # skipped when the head reaches it
            return True
        head = ticket + 1
        cancelled = self._cancelled
        if cancelled:
            while head in cancelled:
                cancelled.discard(head)
                head += 1
        self._head = head
        if head == self._next:
            self._owner = None
            return True
        event = events.pop(head, None)
        if event is not None:
            event.set()
        # open the gates up to the head's generation: whoever waits on them is now within GATE of
        # the head (and takes an event of its own), the head included if it waited on one
        last = head // GATE
        gates = self._gates
        for generation in range(self._opened, last + 1):
            gate = gates.pop(generation, None)
            if gate is not None:
                gate.set()
        self._opened = last
        return True


def loop_token() -> Any:
    """The calling task's event loop, as anyio names it (``None`` outside one anyio knows)."""
    try:
        return anyio.lowlevel.current_token().native_token
    except Exception:  # not in an event loop anyio knows: nothing to compare with
        return None


def _still_running(loop: Any) -> bool:
    """Whether the event loop behind an anyio token is still running (in any thread)."""
    if loop is None:
        return False
    is_closed = getattr(loop, "is_closed", None)
    if callable(is_closed):  # an asyncio event loop
        return not is_closed() and bool(loop.is_running())
    try:  # a trio token: refuses new callbacks once its run is over
        loop.run_sync_soon(_nothing)
    except Exception:
        return False
    return True


def _nothing() -> None:
    return None
