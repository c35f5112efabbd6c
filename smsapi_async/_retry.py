"""How long to wait before trying again: server hints first, then capped exponential backoff."""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["backoff_delay", "parse_retry_after"]

BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


def backoff_delay(retry: int, rng: random.Random, *, base: float = BACKOFF_BASE) -> float:
    """Delay before retry number ``retry`` (1-based): exponential with "equal jitter".

    Half of the exponential step is fixed and half random, so concurrent callers spread out
    but none retries at once.
    """
    step: float = min(BACKOFF_CAP, base * 2.0 ** (retry - 1))
    return step / 2 + rng.uniform(0, step / 2)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns ``None`` when the header is absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = now if now is not None else datetime.now(timezone.utc)
        return max(0.0, (when - current).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):  # e.g. an offset of 10**20 hours
        return None
