"""Reconciliation: whether calls of unknown outcome (a timeout or 5xx on a send, a run killed with a
call in flight) went out.

A ``send-sms`` call reaches all its recipients or none, so one recipient showing the call's text in
the account's sent messages (``get-user-sms-sent``) settles it as sent. Each call is looked up by its
own recipients (the ``msisdn`` filter) in a window around the time its intent was journaled: a few
look-ups per call, whatever the size of the account or of the run (a resume after a crash used to
read the whole sent report: 500-985 pages). Up to :data:`CHECKED` recipients are looked up, one at a
time until one shows it; a call none of them shows did not go out (a recipient the API refused on its
own, an opted-out number, never shows, hence more than one), and only then is sent again. With many
calls to settle at once, walking the window's pages is cheaper, and is done instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio

from .._exceptions import SmsApiError
from .._journal import FAILED, SENT, UNKNOWN, BatchRecord
from .._pagination import MAX_PAGE_SIZE
from ..models.reports import UserSentMessage
from ._batches import Batch
from ._calls import Calls
from ._input import template_from_json
from ._results import BulkResult

_GAVE_UP = "not sent: its call had an unknown outcome, and again after {} resends (reconciled)"

CHECKED = 5
"""Recipients of one call looked up at most to settle it (all of a call with fewer)."""

LOOK_BEFORE = timedelta(minutes=10)
LOOK_AFTER = timedelta(minutes=30)
"""The window searched around a call's intent: the API's clock and ours may differ by minutes, and
an accepted message may be recorded a little later."""


def text_pattern(template: str) -> Any:
    """A regex for the text the API shows for ``template`` (its placeholders expanded to anything)."""
    parts = re.split(r"(\[[A-Za-z][A-Za-z0-9_\- ]{0,63}\])", template)
    pattern = "".join(".*?" if i % 2 else re.escape(part) for i, part in enumerate(parts))
    return re.compile(pattern + r"\Z", re.DOTALL)


async def reconcile_unknown(
    calls: Calls,
    *,
    delay: float,
    rounds: int,
    concurrency: int,
    ahead: int,
    phase: Callable[[str], object] = lambda text: None,
) -> None:
    """Settle the calls the journal holds as of unknown outcome, resending only those provably not
    sent, in up to ``rounds`` rounds ``delay`` seconds apart; report what stays unknown. ``phase``
    is told what is being done (for a progress display)."""
    journal = calls.journal
    assert journal is not None
    for round_number in range(rounds + 1):
        unknown = journal.unknown()
        if not unknown:
            break
        count = len(unknown)
        phase(f"checking {count} call{'s' if count != 1 else ''} that may have gone out")
        if delay:
            await anyio.sleep(delay)  # let the API record what it did accept
        try:
            found = await find_sent(calls, unknown)
        except SmsApiError:
            continue  # the look-ups failed: still unknown, tried again next round
        resend = await settle(calls, unknown, found, last=round_number == rounds, rounds=rounds)
        if resend:
            await calls.send(resend, concurrency, ahead)
    for record in journal.unknown():
        for index, raw, number in record.recipients:
            await calls.emit(
                [BulkResult(index, raw, UNKNOWN, number, reason="outcome still unknown after reconciliation")]
            )


async def find_sent(calls: Calls, unknown: list[BatchRecord]) -> dict[int, int]:
    """Which calls of unknown outcome went out: batch id -> message id (see the module docstring)."""
    settled: dict[int, int] = {}
    due: list[tuple[BatchRecord, re.Pattern[str]]] = []
    for record in unknown:
        template = template_from_json(record.options)
        send_at = template.kwargs.get("send_at")
        if isinstance(send_at, datetime) and send_at > datetime.now(timezone.utc):
            continue  # scheduled for later: not in the sent report yet, cannot be settled now
        if record.recipients:
            due.append((record, text_pattern(template.kwargs["message"])))
    if not due:
        return settled
    start = datetime.fromtimestamp(min(r.started_at for r, _ in due), timezone.utc) - LOOK_BEFORE
    end = min(
        datetime.fromtimestamp(max(r.started_at for r, _ in due), timezone.utc) + LOOK_AFTER,
        datetime.now(timezone.utc) + LOOK_BEFORE,
    )

    Wanted = dict[str, list[tuple[int, re.Pattern[str]]]]

    def match(rows: Iterable[UserSentMessage], wanted: Wanted) -> None:
        for row in rows:
            for batch_id, pattern in wanted.get(row.msisdn, ()):
                if pattern.match(row.message):
                    settled.setdefault(batch_id, row.message_id)

    if len(due) > CHECKED:
        # many calls to settle: the window's pages may cost fewer look-ups than one per call
        everyone: Wanted = {}
        for record, pattern in due:
            for _, _, number in record.recipients:
                everyone.setdefault(number, []).append((record.batch_id, pattern))
        window = calls.client.sms.user_sent(start=start, end=end, page_size=MAX_PAGE_SIZE)
        first = await calls.read(window.first_page)
        match(first.items, everyone)
        if first.count <= len(due):
            for page_number in range(2, first.count + 1):
                page = await calls.read(functools.partial(window.fetch_page, page_number))
                match(page.items, everyone)
            return settled
    for record, pattern in due:
        for _, _, number in record.recipients[:CHECKED]:
            if record.batch_id in settled:
                break  # one recipient showing the call settles it
            one = calls.client.sms.user_sent(start=start, end=end, msisdn=number, page_size=MAX_PAGE_SIZE)
            match(await calls.read(one.to_list), {number: [(record.batch_id, pattern)]})
    return settled


async def settle(
    calls: Calls, unknown: list[BatchRecord], found: dict[int, int], *, last: bool, rounds: int
) -> list[Batch]:
    """Record what reconciliation found; return the calls to make again (provably not sent)."""
    journal = calls.journal
    assert journal is not None
    resend: list[Batch] = []
    for record in unknown:
        template = template_from_json(record.options)
        send_at = template.kwargs.get("send_at")
        if isinstance(send_at, datetime) and send_at > datetime.now(timezone.utc):
            continue
        message_id = found.get(record.batch_id)
        if message_id is not None:
            journal.finish(record.batch_id, SENT, message_id, "")
            for index, raw, number in record.recipients:
                await calls.emit([BulkResult(index, raw, SENT, number, message_id, "reconciled")])
            continue
        # no recipient shows it, and one send-sms call reaches all its recipients or none
        journal.finish(record.batch_id, FAILED, None, "not sent (reconciled: no recipient received it)")
        if last:
            reason = _GAVE_UP.format(rounds)
            for index, raw, number in record.recipients:
                await calls.emit([BulkResult(index, raw, FAILED, number, reason=reason)])
        else:
            resend.append(Batch(template, list(record.recipients)))
    return resend
