"""What a bulk send reports: one :class:`BulkResult` per recipient, and :class:`BulkProgress`."""

from __future__ import annotations

from typing import Final

import attrs

from .._exceptions import SmsApiError

REJECTED: Final = "rejected"


@attrs.frozen(slots=True)
class BulkResult:
    """The final state of one recipient of a bulk send (exactly one per recipient).

    Attributes:
        index: position of the input item (0-based).
        to: the number as given.
        status: ``"sent"`` (accepted by the API; ``message_id`` set), ``"rejected"`` (refused
            before any call: ``reason`` says why), ``"failed"`` (the API refused it or the call
            failed without sending: ``error``), or ``"unknown"`` (the call timed out or met a
            server error and may or may not have gone out; it was not resent).
        number: the number in international format, when it is one.
        message_id: the id of the message it went out in (``sent`` only).
        reason: why it was rejected, failed or is unknown.
        error: the exception behind a ``failed`` or ``unknown`` result of this run.
        resumed: the outcome comes from the journal of an earlier run (nothing was sent now).
        duplicate_of: for a recipient rejected as a duplicate, the index of the input item whose
            recipient it repeats (when known).
    """

    index: int
    to: str
    status: str
    number: str | None = None
    message_id: int | None = None
    reason: str = ""
    error: SmsApiError | None = attrs.field(default=None, eq=False, repr=False)
    resumed: bool = False
    duplicate_of: int | None = None


@attrs.frozen(slots=True)
class BulkProgress:
    """Where a bulk send stands, as given to ``on_progress``.

    Attributes:
        done: recipients in a final state.
        total: recipients expected (``total=`` or ``len(messages)``), ``None`` when unknown.
        sent, rejected, failed, unknown: ``done`` by state.
        calls: ``send-sms`` calls made (plus reconciliation look-ups).
        rate_limited: answers HTTP 429 / ``OVER_LIMIT`` met (each was retried by the client).
        rate: calls per second over the last few seconds.
        elapsed: seconds since the start.
        resumed: ``done`` that came from the journal of an earlier run (nothing sent now).
        phase: what the run is doing: ``"sending"``, ``"checking 1 call that may have gone out"``
            (calls of unknown outcome being settled, e.g. after a resume), or ``"done"``.
    """

    done: int
    total: int | None
    sent: int
    rejected: int
    failed: int
    unknown: int
    calls: int
    rate_limited: int
    rate: float
    elapsed: float
    resumed: int = 0
    phase: str = "sending"
