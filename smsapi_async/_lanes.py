"""Priority lanes over the limiter's waiting callers: interactive work goes ahead of ordinary work,
and ordinary work ahead of bulk, without starving anyone.

One account's rate serves every kind of work: a one-time code a user is waiting for, ordinary
sends, and bulk runs. In strict arrival order an OTP queued behind 40 ordinary sends waited 21 s at
2 calls/s. So callers queue in one of three lanes (:data:`PRIORITIES`), each a FIFO
:class:`~smsapi_async._waiters.WaiterQueue`, and the next grant goes to the head of the highest lane
with a caller waiting.

**Starvation guard.** A lane that takes ``LANE_SHARE - 1`` grants in a row while a lower lane waits
gives the next grant to the highest lower lane that waits: a lower lane gets at least one grant in
``LANE_SHARE`` (10) from the lane directly above it. The guard counts each lane's own run, so a
single interactive call never waits for a bulk lane's guaranteed grant (only a *flood* of
interactive calls yields), and under a flood of both interactive and ordinary calls bulk still gets
one grant in ``LANE_SHARE ** 2``.

**The head.** Only the head of the chosen lane waits for the grant time, as with one queue. When
the choice changes (a caller arrives in a higher lane, or a lane's guard comes due), ``on_change``
is called so the limiter can wake its sleeping head, which then finds it is no longer chosen and
parks on its lane's turn event until the lane is chosen again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import anyio
import anyio.abc
import anyio.lowlevel
import sniffio

from ._clock import Clock
from ._exceptions import InvalidRequestError, QueueTimeoutError
from ._waiters import WaiterQueue

__all__ = ["LANE_SHARE", "PRIORITIES", "Lanes", "Priority", "lane_of", "past_deadline", "wait_for"]

Priority = Literal["interactive", "default", "bulk"]
PRIORITIES: tuple[Priority, ...] = ("interactive", "default", "bulk")
"""The lanes, highest first."""

LANE_SHARE = 10
"""A lane with callers waiting gets at least one grant in this many from the lane directly above."""


def lane_of(priority: object) -> int:
    """The lane number of ``priority`` (0 is the highest), or :class:`InvalidRequestError`."""
    if priority == "interactive":
        return 0
    if priority == "default":
        return 1
    if priority == "bulk":
        return 2
    raise InvalidRequestError(f"priority must be one of {', '.join(map(repr, PRIORITIES))}; got {priority!r}")


class Lanes:
    """Three FIFO queues of waiting callers and the rule for whose turn it is (module docstring)."""

    __slots__ = ("_chosen", "_library", "_on_change", "_run", "_turn", "backend", "queued", "queues")

    def __init__(self, owner: str, advice: str, on_reset: Callable[[], None] | None = None) -> None:
        def reset() -> None:  # a lane's waiters were dropped with their event loop
            self._recount()
            if on_reset is not None:
                on_reset()

        self.queues = tuple(WaiterQueue(owner, advice, reset) for _ in PRIORITIES)
        self.queued = 0  # callers waiting in any lane
        self._run = [0] * len(PRIORITIES)  # grants in a row to each lane while a lower one waited
        self._chosen: int | None = None  # what chosen() returns: recomputed as the lanes change
        self._turn: list[anyio.Event | None] = [None] * len(PRIORITIES)
        self._on_change: Callable[[], None] = _nothing
        # the anyio backend of the last caller let in (so of every queued caller), and what sniffio
        # sees in a task of it: see _token()
        self.backend: type[anyio.abc.AsyncBackend] | None = None
        self._library: tuple[str | None, str | None] = (None, None)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the lane whose head should take the next grant changes."""
        self._on_change = callback

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.queues)

    def waiting(self, lane: int) -> int:
        """How many callers wait in ``lane``."""
        return len(self.queues[lane])

    def ahead_of(self, lane: int) -> int:
        """How many callers would be granted before a newcomer to ``lane`` (its lane and the ones
        above, assuming none of them gives up)."""
        return sum(len(self.queues[i]) for i in range(lane + 1))

    def chosen(self) -> int | None:
        """The lane whose head takes the next grant, or ``None`` when nobody waits."""
        return self._chosen

    def _recount(self) -> None:
        self.queued = sum(map(len, self.queues))
        self._chosen = self._choose()

    def _choose(self) -> int | None:
        queues = self.queues
        for high in range(len(queues)):
            if queues[high]:
                if self._run[high] >= LANE_SHARE - 1:
                    for low in range(high + 1, len(queues)):
                        if queues[low]:
                            return low
                return high
        return None

    def enter(self, lane: int) -> int:
        """Queue the calling task in ``lane``; returns its ticket there.

        Raises:
            RuntimeError: tasks of another event loop, still running in another thread, are queued
                (in any lane).
        """
        token, backend, library = self._token()
        if self.queued:
            for other in self.queues:
                if other:
                    other.claim(token)  # one event loop at a time, across the lanes too
        self.backend, self._library = backend, library  # let in: every queued caller runs on it
        queue = self.queues[lane]
        if queue:  # its lane had callers already: whose turn it is cannot change
            ticket = queue.enter(token)
            self.queued += 1
            return ticket
        before = self._chosen
        ticket = queue.enter(token)
        self.queued += 1
        self._changed(before)
        return ticket

    def _token(self) -> tuple[Any, type[anyio.abc.AsyncBackend] | None, tuple[str | None, str | None]]:
        """The calling task's event loop (as anyio names it), its backend, and what sniffio reads.

        ``anyio.lowlevel.current_token()`` asks sniffio which library runs the task, then anyio
        which backend serves it: a few microseconds, once per queued caller of a crowd. When the
        two places sniffio looks first (the thread's library, set by trio, and the context's, set
        by bridges such as trio-asyncio) read as they did for the last caller let in, the task runs
        under the same backend, whose own ``current_token()`` then names its loop exactly (if
        it cannot, the slow way decides).
        """
        library = (sniffio.thread_local.name, sniffio.current_async_library_cvar.get())
        backend = self.backend
        if backend is not None and library == self._library:
            try:
                return backend.current_token(), backend, library
            except Exception:  # not running under that backend after all
                pass
        try:
            token = anyio.lowlevel.current_token()
        except Exception:  # not in an event loop anyio knows: nothing to compare with
            return None, None, library
        return token.native_token, token.backend_class, library

    async def checkpoint_if_cancelled(self) -> None:
        """``anyio.lowlevel.checkpoint_if_cancelled()`` for a queued caller, without asking
        sniffio again which backend it runs under."""
        backend = self.backend
        if backend is None:
            await anyio.lowlevel.checkpoint_if_cancelled()
        else:
            await backend.checkpoint_if_cancelled()

    def gate(self, lane: int, ticket: int) -> anyio.Event | None:
        """``None`` if ``ticket`` heads its lane and its lane is chosen; else what to wait on."""
        event = self.queues[lane].gate(ticket)
        if event is not None:
            return event
        if self._chosen == lane:
            return None
        turn = self._turn[lane]
        if turn is None:
            turn = self._turn[lane] = anyio.Event()
        return turn

    def leave(self, lane: int, ticket: int, *, granted: bool, due: int = 0) -> None:
        """``ticket`` is done waiting (``granted``, cancelled or failed): call it exactly once.

        ``due``: how many more callers the limiter could grant at once now; that many behind the
        next head are woken with it (:meth:`WaiterQueue.wake_ahead`).
        """
        before = self._chosen
        if self.queues[lane].leave(ticket):  # (else it was dropped with its event loop: not counted)
            self.queued -= 1
        if granted:
            self.granted(lane)
        self._changed(before)
        chosen = self._chosen
        if due > 1 and chosen is not None:
            self.queues[chosen].wake_ahead(due - 1)

    def granted(self, lane: int) -> None:
        """Count a grant to ``lane`` (also called for grants made without queueing)."""
        run = self._run
        for higher in range(lane):
            run[higher] = 0  # a lower lane was served: the lanes above start a new run
        queues = self.queues
        run[lane] = run[lane] + 1 if any(queues[low] for low in range(lane + 1, len(queues))) else 0

    def check(self, lane: int, ticket: int) -> None:
        self.queues[lane].check(ticket)

    def _changed(self, before: int | None) -> None:
        after = self._chosen = self._choose()
        if after == before:
            return
        if after is not None:
            turn = self._turn[after]
            if turn is not None:
                self._turn[after] = None
                turn.set()
        self._on_change()


def past_deadline() -> QueueTimeoutError:
    """What a caller gets when its ``max_wait`` runs out before a grant: nothing was sent."""
    return QueueTimeoutError(
        "not sent: no place in the account's rate before its deadline (the next grant it could "
        "have comes after it)"
    )


async def wait_for(event: anyio.Event, deadline: float, clock: Clock) -> None:
    """``event.wait()``, or :func:`past_deadline` once ``clock`` reaches ``deadline``."""
    left = deadline - clock.now()
    expired = left <= 0
    if not expired:
        async with anyio.create_task_group() as alarm:

            async def ring() -> None:
                nonlocal expired
                await clock.sleep(left)
                expired = True
                alarm.cancel_scope.cancel()

            alarm.start_soon(ring)
            await event.wait()
            alarm.cancel_scope.cancel()
    if expired and not event.is_set():
        raise past_deadline()


def _nothing() -> None:
    return None
