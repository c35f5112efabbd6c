"""What the client tells event hooks: one small frozen object per thing that happened, with timings.

Hooks see the call's name (``"send-sms"``), a per-client call number to tie events together, the
attempt number, status codes, error codes and seconds. Never parameters, message text, numbers,
URLs or credentials: a hook may ship events to a log or a metrics system as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

__all__ = [
    "CallFinished",
    "CallStarted",
    "ClientEvent",
    "EventHook",
    "LimiterPaused",
    "OutcomeUnknown",
    "RateLimited",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
]

log = logging.getLogger("smsapi_async")


@attrs.frozen
class ClientEvent:
    """Base of every event: which call (``call_id`` is unique per client object and its copies)."""

    call_id: int
    call: str


@attrs.frozen
class CallStarted(ClientEvent):
    """A call began (before any limiter wait)."""


@attrs.frozen
class RequestSent(ClientEvent):
    """An attempt is going out: ``queued`` seconds were spent waiting for the limiter."""

    attempt: int
    queued: float


@attrs.frozen
class ResponseReceived(ClientEvent):
    """An attempt was answered: HTTP status, API error code (``None`` if none) and seconds taken."""

    attempt: int
    status_code: int
    code: str | None
    elapsed: float


@attrs.frozen
class RateLimited(ClientEvent):
    """The server answered 429 / ``OVER_LIMIT``; ``retry_after`` is its hint in seconds, if any."""

    attempt: int
    retry_after: float | None


@attrs.frozen
class LimiterPaused(ClientEvent):
    """The client paused its limiter (every caller of the account) for ``seconds``."""

    seconds: float


@attrs.frozen
class RetryScheduled(ClientEvent):
    """The attempt failed in a way a retry may fix; the next goes after ``delay`` seconds.

    ``reason`` is the error's class name (``"RateLimitError"``, ``"RequestTimeoutError"``...).
    """

    attempt: int
    delay: float
    reason: str


@attrs.frozen
class OutcomeUnknown(ClientEvent):
    """A call that changes state may or may not have taken effect (timeout or 5xx): not resent."""

    attempt: int
    reason: str


@attrs.frozen
class CallFinished(ClientEvent):
    """A call ended: ``error`` is the exception's class name, or ``None`` on success."""

    attempts: int
    duration: float
    error: str | None


EventHook = Callable[[ClientEvent], object]
"""A hook: called inline with each event; keep it quick. What it raises is logged, not raised."""


def emit(hooks: list[EventHook], event: ClientEvent) -> None:
    """Hand ``event`` to every hook; a failing hook never breaks a call."""
    for hook in hooks:
        try:
            hook(event)
        except Exception:
            log.exception("event hook %r failed on %s", hook, type(event).__name__)
