"""Reconciliation: whether calls of unknown outcome (a timeout or 5xx on a send) went out.

The account's sent messages (``get-user-sms-sent``) around the time of the calls are searched for
each call's text and recipients. A call any of whose recipients shows it went out; one no recipient
shows did not (a ``send-sms`` call reaches all its recipients or none) and only then is sent again.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable
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


def text_pattern(template: str) -> Any:
    """A regex for the text the API shows for ``template`` (its placeholders expanded to anything)."""
    parts = re.split(r"(\[[A-Za-z][A-Za-z0-9_\- ]{0,63}\])", template)
    pattern = "".join(".*?" if i % 2 else re.escape(part) for i, part in enumerate(parts))
    return re.compile(pattern + r"\Z", re.DOTALL)


async def reconcile_unknown(calls: Calls, *, delay: float, rounds: int, concurrency: int, ahead: int) -> None:
    """Settle the calls the journal holds as of unknown outcome, resending only those provably not
    sent, in up to ``rounds`` rounds ``delay`` seconds apart; report what stays unknown."""
    journal = calls.journal
    assert journal is not None
    for round_number in range(rounds + 1):
        unknown = journal.unknown()
        if not unknown:
            break
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
    """Which calls of unknown outcome went out: batch id -> message id, from the account's
    sent messages (``get-user-sms-sent``) around the time they were made."""
    wanted: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
    settled: dict[int, int] = {}
    earliest = time.time()
    for record in unknown:
        template = template_from_json(record.options)
        send_at = template.kwargs.get("send_at")
        if isinstance(send_at, datetime) and send_at > datetime.now(timezone.utc):
            continue  # scheduled for later: not in the sent report yet, cannot be settled now
        pattern = text_pattern(template.kwargs["message"])
        earliest = min(earliest, record.started_at)
        for _, _, number in record.recipients:
            wanted.setdefault(number, []).append((record.batch_id, pattern))
    if not wanted:
        return settled

    def match(rows: Iterable[UserSentMessage]) -> None:
        for row in rows:
            for batch_id, pattern in wanted.get(row.msisdn, ()):
                if pattern.match(row.message):
                    settled.setdefault(batch_id, row.message_id)

    # margins for clock differences between here and the API
    start = datetime.fromtimestamp(earliest, timezone.utc) - timedelta(minutes=10)
    end = datetime.now(timezone.utc) + timedelta(minutes=10)
    window = calls.client.sms.user_sent(start=start, end=end, page_size=MAX_PAGE_SIZE)
    first = await calls.read(window.first_page)
    match(first.items)
    if first.count <= len(wanted):
        # the whole window page by page: fewer look-ups than one per recipient
        for page_number in range(2, first.count + 1):
            page = await calls.read(functools.partial(window.fetch_page, page_number))
            match(page.items)
        return settled
    for number, batches in wanted.items():
        if all(batch_id in settled for batch_id, _ in batches):
            continue  # one recipient showing a call is enough to settle it
        one = calls.client.sms.user_sent(start=start, end=end, msisdn=number, page_size=MAX_PAGE_SIZE)
        match(await calls.read(one.to_list))
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
