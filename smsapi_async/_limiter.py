"""The client-side rate limiter: a GCRA token bucket with a strict FIFO queue and one timer.

Why GCRA (virtual scheduling) rather than a leaky bucket that refills continuously: with
``burst=1`` it spaces grants by a fixed interval, so **no 1-second window ever holds more than
``rate`` grants**, which is exactly what the API counts. A bucket whose capacity equals its rate
(the classic design) lets ``rate + 1`` calls through in some windows and earns a 429.

Why a safety margin: the server counts arrivals, not grants. Requests spaced exactly ``1/rate``
apart arrive with a few milliseconds of scheduling and network jitter, and about half of the
windows then hold one request too many. Each interval is therefore stretched so that any
``rate`` consecutive grants span ``1 + safety_margin`` seconds; jitter smaller than the margin
can no longer squeeze them into one server window. The default (5 ms per second) costs 0.5 % of
throughput.

Why a timer slack: event loops wake a sleeper late (epoll rounds timeouts up to whole
milliseconds), and a schedule that restarts from each late wake-up loses that lateness on every
grant: about 1 % of throughput at 15/s, and six times the ideal time at 5 000/s. The sleeping head
may therefore keep up to ``TIMER_SLACK`` of its schedule, and each interval is stretched by
``TIMER_SLACK / rate`` to pay for it once per window: any ``rate + 1`` grants still span at least
``1 + safety_margin`` seconds.

Why the client reports when a request really left: the server counts arrivals. A request that
first waits for a TCP/TLS handshake leaves tens of milliseconds after its grant, and the next ones,
on the warm connection, would catch up with it inside one server window. ``request_sent()``
restarts the schedule from a send that came more than ``SEND_LAG_TOLERANCE`` after its grant.

Why only the head of the queue sleeps: 10 000 waiters must not mean 10 000 timers. Waiters park
on an event in arrival order; the head sleeps until its grant time, takes it, then hands the head
role to the next live waiter. Newcomers never barge past a queue, a woken waiter never loses its
place, and a waiter cancelled at any moment (even in the same tick as its promotion) hands its
place on, so no capacity leaks and no one is stranded.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from types import TracebackType
from typing import Protocol, runtime_checkable

import anyio

from ._clock import Clock, SystemClock
from ._exceptions import InvalidRequestError

__all__ = ["DEFAULT_SAFETY_MARGIN", "SEND_LAG_TOLERANCE", "TIMER_SLACK", "Limiter", "RateLimiter"]

DEFAULT_SAFETY_MARGIN = 0.005
"""Seconds added to every 1-second window of grants (see :class:`RateLimiter`)."""

TIMER_SLACK = 0.002
"""How late a sleeping waiter may wake without the schedule losing the time (see module docstring)."""

SEND_LAG_TOLERANCE = 0.001
"""A request leaving later than this after its grant pushes the schedule (see ``request_sent``)."""


@runtime_checkable
class Limiter(Protocol):
    """What :class:`~smsapi_async.AsyncSmsClient` needs from a limiter.

    ``acquire`` waits for permission to make one call; ``pause`` holds every caller of this
    limiter for a while (the client calls it when the server answers 429). A limiter may also
    offer ``request_sent()``, which the client calls when a request's first bytes go out (see
    :meth:`RateLimiter.request_sent`).
    """

    async def acquire(self) -> None: ...

    def pause(self, seconds: float) -> None: ...


class _Waiter:
    __slots__ = ("cancelled", "event")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.cancelled = False


class RateLimiter:
    """Allow at most ``rate`` calls per second, first come first served.

    Args:
        rate: calls per second (the Transmit SMS default is 2; some accounts are raised to 15).
        burst: how many calls may go at once after a quiet spell. ``1`` (the default) spaces
            every call by the interval, so no 1-second window ever holds more than ``rate``
            calls. Larger values are opt-in and only safe if the server tolerates bursts.
        safety_margin: seconds added to each 1-second window: any ``rate + 1`` consecutive
            grants span at least ``1 + safety_margin`` seconds, so a server counting a strict
            sliding window still sees at most ``rate`` arrivals per second when requests reach it
            with up to ``safety_margin`` seconds of jitter. Throughput under saturation is
            ``rate / (1 + safety_margin + TIMER_SLACK)``: 99.3 % by default.
        clock: where time comes from; :class:`~smsapi_async.testing.FakeClock` in tests.

    Use ``await limiter.acquire()`` or ``async with limiter:`` before each call. The limiter
    binds to no event loop: one instance serves consecutive ``anyio.run()`` calls, under asyncio
    or trio. An uncontended ``acquire`` returns without yielding to the event loop.
    """

    __slots__ = (
        "_burst",
        "_clock",
        "_interval",
        "_live",
        "_margin",
        "_paused_until",
        "_rate",
        "_tat",
        "_tolerance",
        "_waiters",
    )

    def __init__(
        self,
        rate: float = 2.0,
        burst: int = 1,
        *,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise InvalidRequestError(f"rate must be a number of calls per second, got {rate!r}")
        if not (math.isfinite(rate) and rate > 0):
            raise InvalidRequestError(f"rate must be positive and finite, got {rate!r}")
        if rate > 1 and not float(rate).is_integer():
            # 2.5/s spaced evenly puts 3 grants in some 1-second windows: the server would refuse one
            raise InvalidRequestError(
                f"rate must be a whole number of calls per second (or below 1, e.g. 0.5 for one call "
                f"every 2 s), got {rate!r}"
            )
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise InvalidRequestError(f"burst must be an integer >= 1, got {burst!r}")
        if not (isinstance(safety_margin, (int, float)) and 0 <= safety_margin < 1):
            raise InvalidRequestError(f"safety_margin must be in [0, 1) seconds, got {safety_margin!r}")
        self._rate = float(rate)
        self._burst = burst
        self._margin = float(safety_margin)
        self._interval = (1.0 + self._margin + TIMER_SLACK) / self._rate
        self._tolerance = (burst - 1) * self._interval
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._tat = -math.inf  # theoretical arrival time of the next grant
        self._paused_until = -math.inf
        self._waiters: deque[_Waiter] = deque()  # front is the head; cancelled ones skipped lazily
        self._live = 0

    @property
    def rate(self) -> float:
        """Calls per second this limiter allows (before the safety margin)."""
        return self._rate

    @property
    def burst(self) -> int:
        """How many calls may go back to back after a quiet spell."""
        return self._burst

    @property
    def safety_margin(self) -> float:
        """Seconds added to each 1-second window of grants."""
        return self._margin

    @property
    def interval(self) -> float:
        """Seconds between two grants under saturation."""
        return self._interval

    @property
    def waiting(self) -> int:
        """How many callers are queued."""
        return self._live

    @property
    def clock(self) -> Clock:
        """The clock this limiter reads."""
        return self._clock

    def _ready_at(self) -> float:
        return max(self._tat - self._tolerance, self._paused_until)

    def has_capacity(self) -> bool:
        """Whether ``acquire()`` would return at once, without waiting."""
        return not self._waiters and self._clock.now() >= self._ready_at()

    def pause(self, seconds: float) -> None:
        """Hold every caller of this limiter for ``seconds`` from now (extends, never shortens).

        Raises:
            InvalidRequestError: ``seconds`` is not a real, finite, non-negative number (``bool``,
                ``None``, strings and NaN are refused).
        """
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, numbers.Real)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise InvalidRequestError(f"pause needs a finite number of seconds >= 0, got {seconds!r}")
        self._paused_until = max(self._paused_until, self._clock.now() + seconds)

    def request_sent(self, at: float | None = None) -> None:
        """Note that a granted request actually left at ``at`` (default: now, on this clock).

        The client calls this as each request's headers start going out. When that is more than
        :data:`SEND_LAG_TOLERANCE` later than the schedule allowed (a connection or TLS handshake
        came first), later grants are spaced from the send, not from the grant, so the server,
        which counts arrivals, still never sees more than ``rate`` in a window.
        """
        sent = self._clock.now() if at is None else at
        if sent + self._interval > self._tat + SEND_LAG_TOLERANCE:
            self._tat = sent + self._interval

    def paused_for(self) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock.now())

    async def acquire(self) -> None:
        """Wait for permission to make one call.

        Callers are served strictly in arrival order. Cancelling a waiting caller leaks nothing:
        its place passes to the next in line.
        """
        if not self._waiters:
            now = self._clock.now()
            if now >= self._ready_at():
                self._tat = max(self._tat, now) + self._interval
                return
        waiter = _Waiter()
        self._waiters.append(waiter)
        self._live += 1
        try:
            if self._waiters[0] is not waiter:
                await waiter.event.wait()  # set when this waiter becomes the head
            while True:
                now = self._clock.now()
                ready = self._ready_at()
                if now >= ready:
                    break
                await self._clock.sleep(ready - now)
            # keep the schedule through a late wake-up (paid for in the interval, see above)
            self._tat = max(self._tat, now - TIMER_SLACK) + self._interval
        finally:
            self._leave(waiter)

    def _leave(self, waiter: _Waiter) -> None:
        self._live -= 1
        waiters = self._waiters
        if not waiters or waiters[0] is not waiter:
            waiter.cancelled = True  # still queued behind the head; dropped when it reaches the front
            return
        waiters.popleft()
        while waiters and waiters[0].cancelled:
            waiters.popleft()
        if waiters:
            waiters[0].event.set()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def __repr__(self) -> str:
        return (
            f"RateLimiter(rate={self._rate:g}, burst={self._burst}, "
            f"safety_margin={self._margin:g}, waiting={self._live}, "
            f"paused_for={self.paused_for():.3f})"
        )
