"""Rate limiting and chaos: the two ways the sandbox refuses or breaks requests on purpose."""

from __future__ import annotations

import random
from collections import deque

from ._config import ChaosConfig

__all__ = ["Fault", "SlidingWindowLimiter", "choose_fault"]

WINDOW = 1.0


class SlidingWindowLimiter:
    """At most ``rate`` accepted requests per account in any window of one second.

    Strict: a request at time ``t`` is accepted only if fewer than ``rate`` requests were accepted in
    ``(t - 1, t]``. Refused requests are not counted. ``rate == 0`` disables limiting. A rate below 1
    allows one request in any window of ``1 / rate`` seconds (``0.5``: one every 2 s); a rate above 1
    must be whole (``SandboxConfig`` checks it).
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._accepted: dict[int, deque[float]] = {}

    def try_acquire(self, account_id: int, now: float) -> bool:
        if self.rate <= 0:
            return True
        span, allowed = (WINDOW, int(self.rate)) if self.rate >= 1 else (WINDOW / self.rate, 1)
        window = self._accepted.setdefault(account_id, deque())
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) >= allowed:
            return False
        window.append(now)
        return True

    def reset(self) -> None:
        self._accepted.clear()


class Fault:
    OVER_LIMIT = "over_limit"
    SERVER_ERROR = "server_error"
    DROP_BEFORE = "drop_before"
    DROP_AFTER = "drop_after"
    SLOW = "slow"


def choose_fault(chaos: ChaosConfig, rng: random.Random) -> str | None:
    """At most one fault for this request, drawn with one random number."""
    if not chaos.enabled:
        return None
    draw = rng.random()
    for name in (Fault.OVER_LIMIT, Fault.SERVER_ERROR, Fault.DROP_BEFORE, Fault.DROP_AFTER, Fault.SLOW):
        probability: float = getattr(chaos, name)
        if draw < probability:
            return name
        draw -= probability
    return None


SERVER_ERROR_PAGE = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body bgcolor="white">
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
