"""The engine behind ``client.sms.send_bulk``: fewest calls, a busy limiter, nothing lost or sent twice.

How it works, input to result:

1. Each input item (an :class:`OutgoingMessage` or a mapping with ``send``'s keys) is checked as
   ``send`` would check it; a bad item, number or duplicate becomes a ``rejected`` result at once.
2. Recipients of items with the same text and options are coalesced into one ``send-sms`` call of up
   to ``batch_size`` (at most 500) numbers. At most ``max_pending`` recipients wait in memory for
   their call; beyond that the oldest group goes out early, so memory stays bounded whatever the
   input size. De-duplication and the journal live in SQLite on disk, not in memory.
3. ``concurrency`` workers make the calls, so while calls are queued the limiter always has one
   waiting for it; only a couple wait at a time (the next is prepared while the current one waits),
   so the input is read just ahead of the limiter. A call's intent is written to the journal when
   the limiter grants it, just before its request leaves, and its outcome after.
4. A call that timed out or met a 5xx is ``unknown``: never resent blindly. With ``reconcile=True``
   the account's sent messages are searched for each of its recipients; a call is resent only when
   none of its recipients shows it, i.e. it provably did not go out.

The modules, in that order: ``_input`` (reading and checking items), ``_batches`` (coalescing, and the
filter in front of the journal's duplicate check), ``_calls`` (making and journaling calls),
``_reconcile`` (settling unknown outcomes), ``_results`` (what is reported), ``_send`` (:class:`BulkSend`,
which runs them). The journal itself is ``smsapi_async._journal``.
"""

from __future__ import annotations

from .._journal import (
    FAILED,
    SENT,
    UNKNOWN,
    BatchRecord,
    Journal,
    JournalError,
    JournalMismatchError,
    SQLiteJournal,
)
from ._input import BulkInput, OutgoingMessage
from ._results import REJECTED, BulkProgress, BulkResult
from ._send import BulkSend

__all__ = [
    "FAILED",
    "REJECTED",
    "SENT",
    "UNKNOWN",
    "BatchRecord",
    "BulkInput",
    "BulkProgress",
    "BulkResult",
    "BulkSend",
    "Journal",
    "JournalError",
    "JournalMismatchError",
    "OutgoingMessage",
    "SQLiteJournal",
]
