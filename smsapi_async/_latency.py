"""The jitter a limiter must absorb, learned from recent request latencies.

One estimate for :class:`~smsapi_async.RateLimiter` and :class:`~smsapi_async.RedisRateLimiter`,
so a fleet sharing a Redis limiter learns the same margin one process would (the policy is written
out in the ``RateLimiter`` docstring and in docs/rate-limits.md, "What the limiter guarantees").
"""

from __future__ import annotations

import bisect
import math
from collections import deque

__all__ = ["LATENCY_SAMPLES", "MIN_LATENCY_SAMPLES", "LatencyWindow"]

LATENCY_SAMPLES = 32
"""How many recent request latencies the jitter estimate looks at."""

MIN_LATENCY_SAMPLES = 2
"""Latencies needed before their spread counts."""


class LatencyWindow:
    """The last ``LATENCY_SAMPLES`` ``(sent at, latency)`` samples and the jitter they show.

    The latencies are also kept in order (one insertion and one removal per answer, not a sort per
    answer), and the slowest sample sent at or after the last horizon asked about is remembered
    until it leaves the window or falls behind the horizon: :meth:`spread` is then constant work on
    nearly every answer.
    """

    __slots__ = ("_ordered", "_samples", "_top", "_top_horizon")

    def __init__(self) -> None:
        self._samples: deque[tuple[float, float]] = deque()
        self._ordered: list[float] = []
        # the slowest sample sent at or after _top_horizon (None: not known, scan on demand)
        self._top: tuple[float, float] | None = None
        self._top_horizon = math.inf

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, sent_at: float, latency: float) -> None:
        """Record one answer's latency, for a request sent at ``sent_at``."""
        sample = (sent_at, latency)
        samples = self._samples
        ordered = self._ordered
        if len(samples) >= LATENCY_SAMPLES:
            gone = samples.popleft()
            del ordered[bisect.bisect_left(ordered, gone[1])]
            if gone is self._top:
                self._top = None
        samples.append(sample)
        bisect.insort(ordered, latency)
        top = self._top
        if top is not None and sent_at >= self._top_horizon and latency >= top[1]:
            self._top = sample

    def spread(self, horizon: float) -> float:
        """The jitter to absorb, in seconds (needs ``MIN_LATENCY_SAMPLES`` samples).

        ``1.25 x (p90 - p10)`` of them all covers jitter spread evenly; while samples are few (p10
        and p90 are then the fastest and the slowest) the factor is ``(n + 1) / (n - 1)`` if larger:
        what ``n`` samples of a uniform spread miss of its range on average. The slowest answer to a
        request sent at or after ``horizon`` (still within reach of the window of sends) above the
        fastest of them all covers a rare late one: the request ``rate`` places after it must leave
        that much later.
        """
        ordered = self._ordered
        n = len(ordered)
        tenth = (n - 1) // 10
        fastest = ordered[0]
        top = self._top
        if top is None or top[0] < horizon or horizon < self._top_horizon:
            top = max(
                (sample for sample in self._samples if sample[0] >= horizon),
                key=_latency_of,
                default=None,
            )
            self._top = top
            self._top_horizon = horizon if top is not None else math.inf
        slowest_recent = fastest if top is None else top[1]
        stretch = max(1.25, (n + 1) / (n - 1))
        return max(stretch * (ordered[-1 - tenth] - ordered[tenth]), slowest_recent - fastest)


def _latency_of(sample: tuple[float, float]) -> float:
    return sample[1]
