"""The client-side rate limiter: a sliding window over *sends*, a GCRA schedule, one FIFO queue.

What the server counts is requests as they arrive, in a strict sliding 1-second window. The limiter
therefore keeps two rules, and a call goes only when both allow it:

* **The window, counted on sends.** No ``1 + margin`` seconds may hold more than ``rate`` requests
  *as they leave the client*. A grant made through :meth:`RateLimiter.reserve` is not final until
  its request has left: until then it counts as leaving at any moment from now on. So a request
  that waits for a TCP/TLS handshake while later ones leave on warm connections can never land in
  a window that is already full, whatever the mix of send lags. Proof sketch: take any window and
  the last-granted request that left inside it; when it was granted, every other request leaving
  inside the window had either left already (so it was counted in the ``1 + margin`` seconds
  before that grant) or was still pending (so it was counted as pending). Plain ``acquire()``
  callers, who report nothing, are counted as leaving at their grant.
* **The schedule (GCRA).** Grants are spaced by ``(1 + margin) / rate`` seconds, so with
  ``burst=1`` the server sees an even stream, not ``rate`` calls at the start of each second.
  ``burst=n`` (at most ``rate``) lets ``n`` calls go at once after a quiet spell.

Why a margin: requests spaced exactly ``1/rate`` apart reach the server with some jitter (network
paths, load balancers, queues) and about half of the windows would then hold one too many. With any
``rate + 1`` sends spanning ``1 + margin`` seconds, jitter smaller than the margin cannot squeeze
them into one server window. The margin is learned (see :class:`RateLimiter`): the floor (5 ms by
default) costs 0.5 % of throughput; more is paid only when the server shows it is needed.

Why a timer slack: event loops wake a sleeper late (epoll rounds timeouts up to whole
milliseconds; a busy loop on a loaded machine is several milliseconds late), and a schedule
restarting from each late wake-up loses that lateness on every grant. The sleeping head keeps up to
``HEAD_SLACK`` (20 ms) of its schedule: the grants after it come that much sooner (at a high rate,
several at once), until the schedule has caught up. The window rule, counted on real send times,
still holds, so a late send still costs its lateness once per ``rate`` sends.

Why queued callers due within ``GRANT_EARLY`` (5 ms) go together: a sleep is timed to about a
millisecond at best, and each timed wake-up of an idle event loop costs CPU (on a virtual machine,
100 to 200 microseconds). At a high rate a crowd of waiters would pay one
wake-up per grant and still fall behind. So the head sleeps until its exact time, and the callers
whose turn comes within ``GRANT_EARLY`` after it are granted at once, each one interval later in
the schedule; above 200 calls/s, where a timer cannot space the grants anyway, that span is
``GRANT_BUNCH`` (50 ms): the head wakes at most 20 times a second. The callers of a bunch are woken
together (up to ``WAKE_AHEAD``), not one pass of the event loop each. Only the spacing bends (by at
most the span), never the window of sends nor a pause. At the Transmit SMS rates (2 to 15 calls/s)
grants are 67 ms or more apart and nothing changes.

Why only the head of the queue sleeps: 10 000 waiters must not mean 10 000 timers. Callers that
cannot be granted at once queue in arrival order (``_waiters.WaiterQueue``, shared with the Redis
limiter); the head sleeps until its grant time, takes it, then hands the head role to the next
live waiter. Newcomers never barge past a queue, a woken waiter never loses its place, and a
waiter cancelled at any moment (even in the same tick as its promotion) hands its place on.

Why the queue knows its event loop: a limiter serves consecutive ``anyio.run()`` calls, but waiters
of a loop that was closed under them will never run again. A newcomer from another loop drops them
if their loop is gone, and refuses at once (``RuntimeError``) if that loop is still running in
another thread: the limiter is not thread-safe, and nobody is left stranded either way.
"""

from __future__ import annotations

import bisect
import math
import numbers
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, runtime_checkable

import anyio
import anyio.lowlevel

from ._clock import Clock, SystemClock
from ._exceptions import InvalidRequestError, QueueTimeoutError
from ._lanes import Lanes, Priority, lane_of, past_deadline, wait_for
from ._latency import MIN_LATENCY_SAMPLES, LatencyWindow

__all__ = [
    "DEFAULT_MAX_SAFETY_MARGIN",
    "DEFAULT_SAFETY_MARGIN",
    "PROBE_BLAME",
    "RATE_CEILING_MEMORY",
    "TIMER_SLACK",
    "Limiter",
    "RateLimiter",
    "Reservation",
]

DEFAULT_SAFETY_MARGIN = 0.005
"""Seconds added to every 1-second window of sends, at least (see :class:`RateLimiter`)."""

DEFAULT_MAX_SAFETY_MARGIN = 0.1
"""The most a learned margin may grow to, by default: 10 % of throughput at worst."""

TIMER_SLACK = 0.002
"""How late a grant may be taken without the schedule losing the time: what the shared
(Redis) schedule allows for (see module docstring)."""

GRANT_EARLY = 0.005
"""How much before its place in the schedule a queued caller may be granted, when the window of
sends and any pause already allow it: event loops time a sleep to about a millisecond, and each
timed wake-up costs CPU, so callers due within this of the one woken go with it (see module
docstring). The window rule stays exact."""

GRANT_BUNCH = 0.05
"""``GRANT_EARLY`` at rates whose interval is shorter than ``GRANT_EARLY`` (above 200 calls/s):
a timer cannot space such grants anyway, so the head wakes at most every 50 ms (20 times a
second) and grants the callers due by then (see module docstring)."""

WAKE_AHEAD = 32
"""The most queued callers woken at once because the schedule lets them all go now (each still
checks its turn and the window of sends as it runs)."""

HEAD_SLACK = 0.02
"""How late this process's sleeping head may wake (a busy event loop) and keep its place in the
schedule (see module docstring)."""

COLD_START_MARGIN = 0.05
"""The margin assumed from the first timed send until ``MIN_LATENCY_SAMPLES`` answers are timed:
a new connection is often counted later than the warm ones after it."""

RELAX_AFTER = 30.0
"""Seconds without a 429 after which what 429s taught is halved."""


MAX_RATE = 1e9
"""The highest rate a ``RateLimiter`` takes (it keeps up to ``rate`` send times)."""

PROBE_BLAME = 2.0
"""Rate discovery: a 429 within this many seconds (plus the margin) of a step up is the step's
fault: the rate halves and the step's rate becomes the ceiling. A later 429 widens the margin."""

RATE_CEILING_MEMORY = 600.0
"""Rate discovery: seconds after which the last rate that drew a 429 is forgotten and probed again
(an account's limit may be raised)."""


@runtime_checkable
class Limiter(Protocol):
    """What :class:`~smsapi_async.AsyncSmsClient` needs from a limiter.

    ``acquire`` waits for permission to make one call; ``pause`` holds every caller of this
    limiter for a while (the client calls it when the server answers 429). A limiter may also
    offer ``reserve()`` (see :meth:`RateLimiter.reserve`), ``paused_for()`` (so callers who cannot
    wait out a pause fail at once) or ``request_sent()``, called as each request's first bytes
    go out.
    """

    async def acquire(self) -> None: ...

    def pause(self, seconds: float) -> None: ...


class Reservation:
    """A grant from :meth:`RateLimiter.reserve` whose request has not been reported yet.

    Until one of its methods is called, the limiter counts its request as leaving at any moment
    from now on. Report exactly what happened; the first report wins, later ones do nothing.
    """

    __slots__ = ("_limiter", "_sent_at")

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter: RateLimiter | None = limiter
        self._sent_at: float | None = None

    def sent(self) -> None:
        """The request's first bytes are leaving now."""
        limiter = self._limiter
        if limiter is not None and self._sent_at is None:
            self._sent_at = limiter._finalize()
            if not limiter._timing:
                limiter._start_timing()

    def not_sent(self) -> None:
        """The request never left (no connection could be made): give its place back."""
        limiter, self._limiter = self._limiter, None
        if limiter is not None and self._sent_at is None:
            limiter._abandon()

    def answered(self, *, rejected: bool = False) -> None:
        """The server's answer arrived; ``rejected`` if it was a 429 / ``OVER_LIMIT``.

        Teaches the limiter the margin it needs (see :class:`RateLimiter`).
        """
        limiter, self._limiter = self._limiter, None
        if limiter is None:
            return
        if self._sent_at is None:  # sent without telling us: count it as leaving now
            limiter._finalize()
            limiter._learn(None, rejected)
        else:
            limiter._learn(self._sent_at, rejected)

    def close(self) -> None:
        """Nothing more will be reported: if the request was not reported, count it as sent now."""
        limiter, self._limiter = self._limiter, None
        if limiter is not None and self._sent_at is None:
            limiter._finalize()

    def __del__(self) -> None:
        # a reservation dropped unreported must not hold its place forever
        if getattr(self, "_limiter", None) is not None:
            self.close()


class RateLimiter:
    """Allow at most ``rate`` calls per second as the server counts them, first come first served.

    Args:
        rate: calls per second: a whole number (the Transmit SMS default is 2; some accounts are
            raised to 15), or a fraction below 1 (``0.5``: one call every 2 s).
        burst: how many calls may go at once after a quiet spell, at most ``rate``. ``1`` (the
            default) spaces every call by the interval (above 200 calls/s, queued callers go in
            bunches of up to 50 ms: a timer cannot space them finer; see the module docstring).
        safety_margin: the least margin, in seconds added to each 1-second window: any
            ``rate + 1`` consecutive sends span at least ``1 + margin`` seconds, so a server
            counting a strict sliding window sees at most ``rate`` arrivals per second when
            requests reach it with up to ``margin`` seconds of jitter.
        adaptive: learn the margin (the default), or pin it at ``safety_margin``.
        max_safety_margin: the most the learned margin may grow to (default 0.1 s).
        max_rate: discover the account's real rate, up to this (opt-in; see below).
        clock: where time comes from; :class:`~smsapi_async.FakeClock` in tests.

    **Rate discovery** (``max_rate`` above ``rate``): the API publishes no rate-limit headers and
    accounts are raised on request (2/s by default, 15/s on some), so the limiter can learn the
    rate from the answers: it starts at ``rate``; each window of back-to-back grants (demand at the
    full rate) without a 429 raises it by one call per second, up to ``max_rate``; a 429 within
    :data:`PROBE_BLAME` s of a raise halves it (never below ``rate``) and the rate that drew it
    becomes a ceiling the limiter stays below, forgotten after :data:`RATE_CEILING_MEMORY` s so a
    raised account is found again. A 429 at a rate held longer widens the margin, as without
    discovery. :attr:`rate` shows the current rate. Each 429 it costs is a request the API dropped
    and the client resends: never a duplicate. Without ``max_rate`` nothing is probed: the rate
    stays pinned.

    **The margin policy** (``adaptive=True``): the margin is the largest of ``safety_margin``;
    50 ms from the first send reported through :meth:`reserve` until two answers are timed (a
    request on a new connection is often counted later than the warm ones after it); the spread
    of the last 32 request latencies, ``1.25 x (p90 - p10)`` (a server that counts a request some
    time after it arrives shows it as latency that varies by as much), or ``(n + 1) / (n - 1)``
    times the range of ``n < 9`` samples (what so few samples of a uniform spread miss of it on
    average); the slowest answer to a request sent within the last ``1 + max_safety_margin``
    seconds, above the fastest of the 32 (a rare request counted late, on a busy server or a
    loaded machine: the request ``rate`` places after it leaves that much later, since its answer
    is back long before; the cost lasts a second); and what 429s taught: each 429 on a request
    this limiter paced doubles the margin it had. What 429s taught is halved after every 30 s
    without one. The margin never exceeds ``max_safety_margin``. Read it from :attr:`margin`; pin
    it with :meth:`pin_margin`.

    Throughput under saturation is ``rate / (1 + margin + send lag)``: 99.3 % at the 5 ms floor
    with a 2 ms send path.

    Use ``await limiter.acquire()`` or ``async with limiter:`` before each call; a caller that can
    report when its request really leaves uses :meth:`reserve` (the client does). The limiter binds
    to no event loop: one instance serves consecutive ``anyio.run()`` calls, under asyncio or trio,
    but not two running event loops at once (see :meth:`acquire`). An uncontended ``acquire``
    returns without yielding to the event loop.
    """

    __slots__ = (
        "_adaptive",
        "_base_rate",
        "_burst",
        "_cap",
        "_ceiled_at",
        "_ceiling",
        "_changed_at",
        "_clean",
        "_clock",
        "_early",
        "_floor",
        "_head_sleep",
        "_interval",
        "_lanes",
        "_last_relax",
        "_latencies",
        "_learned",
        "_margin",
        "_max_margin",
        "_max_rate",
        "_note_activity",
        "_now",
        "_nudge",
        "_open",
        "_paused_until",
        "_rate",
        "_ready",
        "_sends",
        "_spread",
        "_tat",
        "_timing",
        "_tolerance",
        "_unsent",
        "_window",
    )

    def __init__(
        self,
        rate: float = 2.0,
        burst: int = 1,
        *,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        adaptive: bool = True,
        max_safety_margin: float = DEFAULT_MAX_SAFETY_MARGIN,
        max_rate: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise InvalidRequestError(f"rate must be a number of calls per second, got {rate!r}")
        if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
            raise InvalidRequestError(f"rate must be positive and at most {MAX_RATE:g}, got {rate!r}")
        if rate > 1 and not float(rate).is_integer():
            # 2.5/s spaced evenly puts 3 grants in some 1-second windows: the server would refuse one
            raise InvalidRequestError(
                f"rate must be a whole number of calls per second (or below 1, e.g. 0.5 for one call "
                f"every 2 s), got {rate!r}"
            )
        cap = max(1, int(rate))
        if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= cap:
            raise InvalidRequestError(
                f"burst must be an integer from 1 to the rate ({cap}): no 1-second window may hold "
                f"more than the rate; got {burst!r}"
            )
        _check_margin("safety_margin", safety_margin)
        _check_margin("max_safety_margin", max_safety_margin)
        if max_safety_margin < safety_margin:
            raise InvalidRequestError(
                f"max_safety_margin ({max_safety_margin!r}) is below safety_margin ({safety_margin!r})"
            )
        if max_rate is not None and (
            isinstance(max_rate, bool)
            or not isinstance(max_rate, (int, float))
            or not (math.isfinite(max_rate) and rate <= max_rate <= MAX_RATE)
            or not float(max_rate).is_integer()
        ):
            raise InvalidRequestError(
                f"max_rate must be a whole number of calls per second from the rate ({rate:g}) up, "
                f"got {max_rate!r}"
            )
        self._rate = float(rate)
        self._base_rate = float(rate)
        self._max_rate = float(rate if max_rate is None else max_rate)
        self._ceiling = math.inf  # rate discovery: the last rate that drew a 429
        self._ceiled_at = -math.inf
        self._changed_at = -math.inf
        self._clean = 0  # back-to-back grants since the rate last changed
        self._cap = cap
        self._burst = burst
        self._floor = float(safety_margin)
        self._max_margin = float(max_safety_margin)
        self._adaptive = bool(adaptive)
        self._clock: Clock = clock if clock is not None else SystemClock()
        # the uncontended path reads the time without a method call of ours in between
        self._now = time.monotonic if type(self._clock) is SystemClock else self._clock.now
        # a clock that offers it (FakeClock) is told of each queued grant: see Clock
        note = getattr(self._clock, "note_activity", None)
        self._note_activity: Callable[[], object] | None = note if callable(note) else None
        self._tat = -math.inf  # theoretical arrival time of the next grant (GCRA)
        self._interval = (1.0 + self._floor) / self._rate
        self._early = GRANT_EARLY
        self._paused_until = -math.inf
        self._sends: deque[float] = deque(maxlen=cap)  # the latest send times, ascending
        self._unsent = 0  # grants whose requests have not left yet
        self._lanes = Lanes(
            "RateLimiter",
            "give each thread its own limiter (and its own share of the account's rate)",
            self._forget_head,
        )
        self._lanes.on_change(self._wake_head)
        self._open = True  # nobody queued and the rate not being discovered: acquire()'s fast path
        self._sync_open()
        self._nudge: anyio.Event | None = None  # set when a head waiting on pending sends may go
        self._head_sleep: tuple[anyio.CancelScope, float] | None = None  # the head's timer, and until
        self._latencies = LatencyWindow()  # the margin estimate (shared with the Redis limiter)
        self._spread = 0.0
        self._learned = 0.0
        self._last_relax = -math.inf
        self._timing = False  # whether any send was timed (then latencies will come)
        self._ready = -math.inf
        self._set_margin(self._floor)

    # --- configuration and state --------------------------------------------------------------

    @property
    def rate(self) -> float:
        """Calls per second this limiter allows now (before the margin): ``rate`` as given, or
        what discovery found (see ``max_rate``)."""
        return self._rate

    @property
    def max_rate(self) -> float:
        """The most rate discovery may reach (the rate given, when discovery is off)."""
        return self._max_rate

    @property
    def rate_ceiling(self) -> float:
        """Rate discovery: the last rate that drew a 429 (``inf`` when none is remembered)."""
        return self._ceiling

    def _probe(self, busy: bool) -> None:
        """Rate discovery: count a grant (``busy``: back to back with the one before) and step
        the rate up after a clean window of them."""
        self._clean = self._clean + 1 if busy else 0
        if self._clean < self._cap:
            return
        now = self._now()
        if self._ceiling != math.inf and now - self._ceiled_at >= RATE_CEILING_MEMORY:
            self._ceiling = math.inf
        step = math.floor(self._rate) + 1
        if now - self._changed_at >= self._window and step < self._ceiling and self._rate < self._max_rate:
            self._set_rate(min(self._max_rate, float(step)), now)

    def _set_rate(self, rate: float, now: float) -> None:
        self._rate = rate
        self._sync_open()
        self._changed_at = now
        self._clean = 0
        cap = max(1, int(rate))
        if cap != self._cap:
            self._cap = cap
            self._sends = deque(self._sends, maxlen=cap)
        self._set_margin(self._margin)  # the interval follows the rate

    @property
    def burst(self) -> int:
        """How many calls may go back to back after a quiet spell."""
        return self._burst

    @property
    def safety_margin(self) -> float:
        """The least margin: seconds added to each 1-second window of sends."""
        return self._floor

    @property
    def max_safety_margin(self) -> float:
        """The most the learned margin may grow to."""
        return self._max_margin

    @property
    def adaptive(self) -> bool:
        """Whether the margin is learned (``False`` once pinned)."""
        return self._adaptive

    @property
    def margin(self) -> float:
        """The margin in force now, learned or pinned (see the class docstring)."""
        return self._margin

    @property
    def interval(self) -> float:
        """Seconds between two grants under saturation, at the current margin."""
        return self._interval

    @property
    def waiting(self) -> int:
        """How many callers are queued (in every lane)."""
        return len(self._lanes)

    def waiting_in(self, priority: Priority) -> int:
        """How many callers are queued in the lane of ``priority``."""
        return self._lanes.waiting(lane_of(priority))

    @property
    def pending(self) -> int:
        """Reserved calls whose requests have not left yet."""
        return self._unsent

    @property
    def clock(self) -> Clock:
        """The clock this limiter reads."""
        return self._clock

    def pin_margin(self, seconds: float | None) -> None:
        """Hold the margin at ``seconds`` (no learning), or resume learning with ``None``."""
        if seconds is None:  # learn on from the pinned margin
            self._adaptive = True
            self._learned = max(self._learned, self._margin)
            self._last_relax = self._now()
            self._set_margin(self._target_margin())
            return
        _check_margin("margin", seconds)
        self._adaptive = False
        self._set_margin(float(seconds))

    def _set_margin(self, margin: float) -> None:
        interval = (1.0 + margin) / self._rate
        if interval < self._interval and self._tat != -math.inf:
            # narrower: the next grant is one new interval after the last one (wider needs no
            # shift: the window rule, on real sends, already holds the new margin)
            self._tat += interval - self._interval
        self._margin = margin
        self._window = 1.0 + margin
        self._interval = interval
        self._tolerance = (self._burst - 1) * self._interval
        self._early = GRANT_EARLY if interval >= GRANT_EARLY else GRANT_BUNCH
        self._update()

    def _target_margin(self) -> float:
        if not self._adaptive:
            return self._margin
        cold = COLD_START_MARGIN if self._timing and len(self._latencies) < MIN_LATENCY_SAMPLES else 0.0
        return min(self._max_margin, max(self._floor, self._spread, self._learned, cold))

    def _start_timing(self) -> None:
        self._timing = True
        if self._adaptive:
            self._set_margin(self._target_margin())

    def _window_bound(self) -> float:
        """The earliest the window of sends allows the next grant (``inf``: not until a pending
        request leaves or gives up its place)."""
        allowed = self._cap - self._unsent  # sends the window may still hold, this grant included
        sends = self._sends
        if allowed <= 0:
            return math.inf
        if len(sends) >= allowed:
            return sends[-allowed] + self._window
        return -math.inf

    def _early_ready(self) -> float:
        """When a queued caller may go: up to ``GRANT_EARLY`` (``GRANT_BUNCH`` above 200 calls/s)
        before its place in the schedule, never before the window of sends or a pause allows
        (module docstring)."""
        return max(self._tat - self._tolerance - self._early, self._window_bound(), self._paused_until)

    def _update(self) -> None:
        """Recompute when the next grant may go (every change of state comes through here)."""
        window = self._window_bound()
        self._ready = max(self._tat - self._tolerance, self._paused_until, window)
        nudge = self._nudge
        if nudge is not None and window != math.inf:
            self._nudge = None
            nudge.set()
        head_sleep = self._head_sleep
        if head_sleep is not None and self._ready < head_sleep[1]:
            self._head_sleep = None
            head_sleep[0].cancel()

    def has_capacity(self) -> bool:
        """Whether ``acquire()`` would return at once, without waiting."""
        return not self._lanes.queued and self._now() >= self._ready

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
        self._paused_until = max(self._paused_until, self._now() + float(seconds))
        self._update()

    def paused_for(self) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._now())

    # --- sends and what they teach --------------------------------------------------------------

    def _finalize(self) -> float:
        """A pending grant's request leaves now; returns the send time recorded."""
        now = self._now()
        sends = self._sends
        if sends and sends[-1] > now:  # keep the record ascending (clocks never go back)
            now = sends[-1]
        sends.append(now)
        if self._unsent > 0:
            self._unsent -= 1
        self._update()
        return now

    def _abandon(self) -> None:
        if self._unsent > 0:
            self._unsent -= 1
        self._update()

    def _learn(self, sent_at: float | None, rejected: bool) -> None:
        if rejected and self._max_rate != self._base_rate and self._blame_rate():
            return  # discovery stepped too far: the rate halves, the margin is not to blame
        if not self._adaptive or (sent_at is None and not rejected and not self._learned):
            return  # pinned, or nothing to learn: no latency, no 429, nothing a 429 taught to relax
        now = self._now()
        if rejected:
            self._learned = min(self._max_margin, max(self._learned, 2 * self._margin))
            self._last_relax = now
        elif self._learned and now - self._last_relax >= RELAX_AFTER:
            self._learned = self._learned / 2 if self._learned / 2 > self._floor else 0.0
            self._last_relax = now
        if sent_at is not None:
            samples = self._latencies
            samples.add(sent_at, now - sent_at)
            if len(samples) >= MIN_LATENCY_SAMPLES:
                self._spread = samples.spread(now - 1.0 - self._max_margin)
        margin = self._target_margin()
        if margin != self._margin:
            self._set_margin(margin)

    def _blame_rate(self) -> bool:
        """Rate discovery, on a 429: if the rate was raised moments ago, halve it (not below the
        rate given) and remember the raised rate as the ceiling; ``True`` if so."""
        now = self._now()
        if self._rate <= self._base_rate or now - self._changed_at > PROBE_BLAME + self._margin:
            return False
        self._ceiling = self._rate
        self._ceiled_at = now
        self._set_rate(max(self._base_rate, float(math.floor(self._rate / 2))), now)
        return True

    # --- waiting ----------------------------------------------------------------------------------

    async def acquire(self, priority: Priority = "default", max_wait: float | None = None) -> None:
        """Wait for permission to make one call, counted as leaving now.

        Args:
            priority: the caller's lane: ``"interactive"`` (a person is waiting: a one-time code),
                ``"default"``, or ``"bulk"``. The next grant goes to the first caller of the highest
                lane that has one; within a lane, callers are served in arrival order. A lower lane
                still gets at least one grant in ``LANE_SHARE`` (10) while it waits (see
                ``_lanes.py``).
            max_wait: the most seconds this caller may wait (pass it by name, ``max_wait=2.0``: it
                is not keyword-only only because a keyword-only default costs every uncontended
                call ~60 ns). A caller that cannot be granted within it fails with
                :class:`~smsapi_async.QueueTimeoutError`: at once when the callers queued ahead of it
                (at the current rate, if none of them gives up) or a pause make it certain, else at
                the deadline. It is never granted later.

        Cancelling a waiting caller leaks nothing: its place passes to the next in line.

        Raises:
            QueueTimeoutError: no grant within ``max_wait``; nothing was granted.
            RuntimeError: callers of another event loop, still running in another thread, are
                queued: a limiter serves one event loop at a time (give each thread its own).
        """
        if self._open:  # nobody queued, and the rate is not being discovered
            now = self._now()
            if now >= self._ready:
                # _update() inlined for the uncontended path: no waiter, so no head to wake
                tat = self._tat
                tat = (tat if tat > now else now) + self._interval
                self._tat = tat
                sends = self._sends
                sends.append(now)
                ready = tat - self._tolerance
                allowed = self._cap - self._unsent
                if allowed <= 0:
                    ready = math.inf
                elif allowed <= len(sends):
                    tat = sends[-allowed] + self._window  # (the window's bound: one local less)
                    if tat > ready:  # noqa: PLR1730  (max() is a call: slower here)
                        ready = tat
                if self._paused_until > ready:  # noqa: PLR1730
                    ready = self._paused_until
                self._ready = ready
                return
        elif not self._lanes.queued:  # nobody queued: discovering the rate (or a dropped loop's queue)
            now = self._now()
            if now >= self._ready:
                if self._max_rate != self._rate:  # was it back to back?
                    self._probe(now <= self._tat + 0.5 * self._interval)
                tat = self._tat  # (a step up moves it)
                self._tat = (tat if tat > now else now) + self._interval
                self._sends.append(now)
                self._update()
                self._sync_open()
                return
        lane = 1 if priority == "default" else lane_of(priority)
        # (few locals: every parked waiter holds this frame; max_wait becomes the deadline)
        max_wait = None if max_wait is None else self._deadline(lane, max_wait)
        ticket = self._lanes.enter(lane)
        try:
            while True:
                while (event := self._lanes.gate(lane, ticket)) is not None:
                    if max_wait is None:  # no frame of a helper per parked waiter
                        await event.wait()
                    else:
                        await self._wait_for(event, max_wait)
                self._lanes.check(lane, ticket)  # its event loop stopped and another took the limiter over
                now = self._now()
                ready = self._ready
                if now >= self._early_ready():  # due, or due within GRANT_EARLY: go with the one before
                    # a caller cancelled in the tick that made it the head must not be granted (it
                    # may not have reached a checkpoint since): this yields only if cancelled
                    await self._lanes.checkpoint_if_cancelled()
                    break
                if max_wait is not None and math.inf > ready > max_wait:
                    if self._early_ready() > max_wait:
                        raise past_deadline()  # noqa: TRY301 (the except only hands the place on)
                    ready = max_wait  # wake at the deadline: then within GRANT_EARLY of its turn
                if ready == math.inf:  # a full window of pending sends: wait until one leaves
                    event = self._nudge = anyio.Event()
                    await self._wait_for(event, max_wait)
                else:  # woken early if the next grant moves earlier or another lane's turn comes
                    with anyio.CancelScope() as scope:
                        self._head_sleep = (scope, ready)
                        await self._clock.sleep(ready - now)
                    self._head_sleep = None
            # keep the schedule through a late wake-up: the next grant is one interval after this
            # one was due, up to HEAD_SLACK earlier than now (the window rule still counts real sends)
            now = max(ready, now - HEAD_SLACK)  # when it was due
            self._tat = max(self._tat, now) + self._interval
        except BaseException:
            self._lanes.leave(lane, ticket, granted=False)
            raise
        if self._max_rate != self._rate:  # discovering: a queued caller's grant is back to back
            self._probe(True)
        now = self._now()
        sends = self._sends
        sends.append(now if not sends or sends[-1] <= now else sends[-1])
        self._update()
        self._lanes.leave(lane, ticket, granted=True, due=self._due(now))
        if self._note_activity is not None:
            self._note_activity()

    def _due(self, now: float) -> int:
        """How many queued callers the schedule, the window of sends and any pause let go at once
        now (at most ``WAKE_AHEAD``): the next head and those after it are woken together, and
        each checks again as it goes."""
        if self._early_ready() > now:
            return 0
        # (compared before int(): a clock gone wild must not raise here, between a grant and its
        # leaving the queue)
        slots = (now - (self._tat - self._tolerance - self._early)) / self._interval
        due = 1 + int(slots) if slots < WAKE_AHEAD else WAKE_AHEAD
        if due <= 1:
            return 1
        # the window: the j-th grant from now needs the send `allowed` places before it to have
        # left a window ago; sends are ascending, so count those that have
        sends, window = self._sends, self._window
        # (the same sum as the window's bound, so float rounding cannot disagree with it)
        left = bisect.bisect_right(sends, now, key=lambda sent: sent + window)
        return max(1, min(WAKE_AHEAD, due, left + self._cap - self._unsent - len(sends)))

    _acquire = acquire  # for reserve(), whatever a subclass makes of acquire()

    def _deadline(self, lane: int, max_wait: float) -> float:
        """The clock time by which a caller of ``lane`` must be granted; fails at once if the
        callers ahead of it (one interval apart) or a pause make that impossible."""
        if isinstance(max_wait, bool) or not isinstance(max_wait, (int, float)) or not max_wait >= 0:
            raise InvalidRequestError(f"max_wait must be a number of seconds >= 0, got {max_wait!r}")
        now = self._now()
        deadline = now + float(max_wait)
        ready = self._ready
        if ready == math.inf:  # waiting on pending sends: when they leave is not known
            return deadline
        ahead = self._lanes.ahead_of(lane)
        if max(now, ready) + ahead * self._interval > deadline:
            paused = self.paused_for()
            why = (
                f"the account is paused {paused:.2f} s more after a 429"
                if paused > max_wait
                else f"{ahead} call(s) are queued ahead of it at {self._rate:g}/s"
            )
            raise QueueTimeoutError(f"not sent: no place in the account's rate within {max_wait:g} s ({why})")
        return deadline

    async def _wait_for(self, event: anyio.Event, deadline: float | None) -> None:
        if deadline is None:
            await event.wait()
        else:
            await wait_for(event, deadline, self._clock)

    async def reserve(self, priority: Priority = "default", max_wait: float | None = None) -> Reservation:
        """Wait for permission to make one call whose departure the caller will report.

        ``priority`` and ``max_wait`` as for :meth:`acquire`. Until the returned
        :class:`Reservation` is told the request was sent (or not sent), the limiter counts it as
        leaving at any moment from now on, so no window of sends can ever hold more than ``rate``,
        however late the request leaves.
        """
        if not self._lanes.queued:  # nobody queued: acquire()'s uncontended path, minus the send
            now = self._now()
            if now >= self._ready:
                if self._max_rate != self._rate:  # discovering the rate: was it back to back?
                    self._probe(now <= self._tat + 0.5 * self._interval)
                tat = self._tat
                self._tat = (tat if tat > now else now) + self._interval
                self._unsent += 1
                self._update()
                return Reservation(self)
        await self._acquire(priority, max_wait=max_wait)
        # acquire() counted the call as leaving at its grant: count it as pending instead
        self._sends.pop()
        self._unsent += 1
        self._update()
        return Reservation(self)

    def _sync_open(self) -> None:
        self._open = not self._lanes.queued and self._max_rate == self._rate

    def _wake_head(self) -> None:
        """The lane whose head takes the next grant changed (or the queue emptied or filled): the
        sleeping head looks again."""
        self._sync_open()
        head_sleep = self._head_sleep
        if head_sleep is not None:
            self._head_sleep = None
            head_sleep[0].cancel()
        nudge = self._nudge
        if nudge is not None:
            self._nudge = None
            nudge.set()

    def _forget_head(self) -> None:
        """The queued callers' event loop is gone: so is whatever its head waited on."""
        self._nudge = None
        self._head_sleep = None
        self._open = False  # the lanes count again as the next caller queues (then _wake_head)

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
            f"margin={self._margin:g}{'' if self._adaptive else ' pinned'}, waiting={len(self._lanes)}, "
            f"paused_for={self.paused_for():.3f})"
        )


def _check_margin(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value < 1
    ):
        raise InvalidRequestError(f"{name} must be in [0, 1) seconds, got {value!r}")
