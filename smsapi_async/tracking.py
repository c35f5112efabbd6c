"""Delivery and reply tracking that merges callbacks with polling, so no report is ever lost.

Callbacks are fast but can be missed (your server was down), repeated or reordered; polling is
complete but slow and costs rate-limited calls. Both feed the same state here:

* :class:`DeliveryTracker` is the per-recipient state machine behind
  ``client.sms.wait_for_delivery``: a final state (delivered, bounced, failed) is never replaced
  by a non-final one, so a late or repeated ``pending`` after ``delivered`` changes nothing.
* :class:`ReplyStream` (``client.sms.reply_stream``) yields each reply exactly once, whichever
  source saw it first, de-duplicated by ``response_id``, and can resume from a stored
  :class:`ReplyCursor`.

Callbacks reach them when a :class:`~smsapi_async.webhooks.CallbackReceiver` is built with
``client=client``; polling then only runs as a slow fallback. Without a receiver they poll
``get-sms-sent`` / ``get-user-sms-responses`` through the client, so every call respects its
rate limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import attrs

from ._exceptions import InvalidRequestError, SmsApiError
from ._pagination import MAX_PAGE_SIZE
from ._validate import aware_datetime, positive_id, seconds
from .webhooks._events import DeliveryReport, Reply
from .webhooks._hub import Subscription

if TYPE_CHECKING:
    from ._client import AsyncSmsClient

__all__ = [
    "DeliveryResult",
    "DeliveryTimeoutError",
    "DeliveryTracker",
    "ReplyCursor",
    "ReplyStream",
    "supersedes",
    "wait_for_delivery",
]

_FULL_POLL_EVERY = 5

UpdateHandler = Callable[[DeliveryReport], "Awaitable[None] | None"]


def supersedes(current: DeliveryReport | None, new: DeliveryReport) -> bool:
    """Whether ``new`` should replace ``current`` as a recipient's state.

    * Nothing known yet: take it.
    * A final state is never replaced by a non-final one. It is replaced by another final state
      only when that one is later dated, or when the current one came from polling (no time)
      and the new one from a callback (a time).
    * A non-final state is replaced by any final one, and by a non-final one that is not older.
    """
    if current is None:
        return True
    if current.is_final:
        if not new.is_final or new.status_at is None:
            return False
        return current.status_at is None or new.status_at > current.status_at
    if new.is_final:
        return True
    if new.status_at is None or current.status_at is None:
        return new.status != current.status
    return new.status_at >= current.status_at and new.status != current.status


@attrs.frozen
class DeliveryResult:
    """Every recipient's latest state of one message.

    Attributes:
        message_id: the message.
        recipients: mobile → its latest :class:`~smsapi_async.webhooks.DeliveryReport`
            (``status_at`` is ``None`` for a state learned by polling).
    """

    message_id: int
    recipients: Mapping[str, DeliveryReport]

    @property
    def complete(self) -> bool:
        """Whether every recipient has a final state."""
        return all(report.is_final for report in self.recipients.values())

    @property
    def delivered(self) -> list[str]:
        """Mobiles whose copy was delivered."""
        return [m for m, r in self.recipients.items() if r.is_final and not r.is_failure]

    @property
    def failed(self) -> list[str]:
        """Mobiles whose copy finally failed (soft or hard bounce)."""
        return [m for m, r in self.recipients.items() if r.is_failure]

    @property
    def pending(self) -> list[str]:
        """Mobiles without a final state yet."""
        return [m for m, r in self.recipients.items() if not r.is_final]


class DeliveryTimeoutError(SmsApiError, TimeoutError):
    """``wait_for_delivery`` ran out of time; :attr:`result` holds what is known so far."""

    def __init__(self, message: str, result: DeliveryResult) -> None:
        super().__init__(message)
        self.result = result


class DeliveryTracker:
    """The per-recipient delivery states of one message, fed by callbacks and polling alike."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self._states: dict[str, DeliveryReport] = {}
        self.recipients_known = False
        self.polls = 0

    def __len__(self) -> int:
        return len(self._states)

    @property
    def final_count(self) -> int:
        """How many recipients have a final state."""
        return sum(1 for state in self._states.values() if state.is_final)

    def apply(self, report: DeliveryReport) -> bool:
        """Take ``report`` into account; ``True`` if it changed the recipient's status (a report
        that only dates the same status, e.g. a callback after a poll, is kept but gives ``False``)."""
        if report.message_id != self.message_id:
            return False
        current = self._states.get(report.mobile)
        if not supersedes(current, report):
            return False
        self._states[report.mobile] = report
        return current is None or current.status != report.status

    def expect(self, mobiles: list[str]) -> None:
        """The full recipient list (from polling): completion waits for each of them."""
        for mobile in mobiles:
            self._states.setdefault(
                mobile, DeliveryReport(message_id=self.message_id, mobile=mobile, status="pending")
            )
        self.recipients_known = True

    @property
    def complete(self) -> bool:
        return self.recipients_known and all(state.is_final for state in self._states.values())

    def result(self) -> DeliveryResult:
        return DeliveryResult(self.message_id, dict(self._states))


def _seconds(name: str, value: float) -> float:
    """A positive, finite number of seconds (NaN, infinities, booleans and huge ints refused)."""
    return seconds(name, value)


async def _notify(handler: UpdateHandler | None, report: DeliveryReport) -> None:
    if handler is not None:
        result = handler(report)
        if result is not None:
            await result


async def wait_for_delivery(
    client: AsyncSmsClient,
    message_id: int,
    *,
    timeout: float | None = 600.0,
    poll_interval: float = 5.0,
    max_poll_interval: float = 60.0,
    fallback_interval: float = 60.0,
    on_update: UpdateHandler | None = None,
) -> DeliveryResult:
    """Wait until every recipient of ``message_id`` has a final delivery state.

    Args:
        client: the client (its limiter paces every poll).
        message_id: the id ``send`` returned.
        timeout: seconds to wait at most (``None``: no limit; receipts may take up to 72 hours).
        poll_interval, max_poll_interval: without a receiver, ``get-sms-sent`` is polled after
            ``poll_interval`` seconds, then twice as long each time up to ``max_poll_interval``.
            A poll walks every page (one call per 100 recipients); for a message of more than
            100 recipients it first asks ``get-sms-stats`` (one call) and walks the pages only when
            those counters show new final states, or every fifth poll.
        fallback_interval: with a receiver wired to the client, callbacks bring the states and
            ``get-sms-sent`` is polled only this often, in case some are lost.
        on_update: called with a recipient's state each time its status changes: a status is
            announced once, however many callbacks and polls report it, and nothing follows a
            final one unless the platform reports a later, different final status.

    Returns:
        every recipient's final state.

    Raises:
        DeliveryTimeoutError: ``timeout`` passed first; its ``result`` has the states known.
    """
    positive_id("message_id", message_id)
    limit = None if timeout is None else _seconds("timeout", timeout)
    first = _seconds("poll_interval", poll_interval)
    most = _seconds("max_poll_interval", max_poll_interval)
    fallback = _seconds("fallback_interval", fallback_interval)
    tracker = DeliveryTracker(message_id)
    hub = client.callback_hub
    subscription = hub.subscribe()
    deadline = None if limit is None else time.monotonic() + limit
    interval = first
    try:
        next_poll = time.monotonic()  # one poll first: it tells who the recipients are
        while True:
            for event in subscription.take():
                if isinstance(event, DeliveryReport) and tracker.apply(event):
                    await _notify(on_update, event)
            now = time.monotonic()
            if now >= next_poll or subscription.lost:
                subscription.lost = False
                await _poll_recipients(client, tracker, on_update)
                now = time.monotonic()
                if hub.wired:
                    next_poll = now + fallback
                else:
                    next_poll, interval = now + interval, min(most, interval * 2)
            if tracker.complete:
                return tracker.result()
            wait = next_poll - now
            if deadline is not None:
                if now >= deadline:
                    raise DeliveryTimeoutError(
                        f"message {message_id}: {len(tracker.result().pending)} recipient(s) still "
                        f"without a final state after {limit:g} s",
                        tracker.result(),
                    )
                wait = min(wait, deadline - now)
            await subscription.wait(wait)
    finally:
        subscription.close()


async def _poll_recipients(
    client: AsyncSmsClient, tracker: DeliveryTracker, on_update: UpdateHandler | None
) -> None:
    if tracker.recipients_known and len(tracker) > MAX_PAGE_SIZE and tracker.polls % _FULL_POLL_EVERY:
        # A large message costs one call per 100 recipients to walk; its counters cost one call.
        # Walk only when they show more final states than already known (and every few polls anyway,
        # in case the counters lag).
        tracker.polls += 1
        stats = await client.sms.stats(tracker.message_id)
        bounced = max(stats.bounced, stats.soft_bounced + stats.hard_bounced)
        if stats.delivered + bounced <= tracker.final_count:
            return
    tracker.polls += 1
    mobiles: list[str] = []
    async for recipient in client.sms.sent(tracker.message_id):
        mobiles.append(recipient.msisdn)
        report = DeliveryReport.from_recipient(tracker.message_id, recipient)
        if tracker.apply(report):
            await _notify(on_update, report)
    tracker.expect(mobiles)


# --- replies --------------------------------------------------------------------------------------------


def _epoch(moment: datetime | None, default: float) -> float:
    return default if moment is None else moment.timestamp()


@attrs.frozen
class ReplyCursor:
    """Where a :class:`ReplyStream` stands: resume a stream from it to skip every reply it yielded.

    Attributes:
        since: the newest reception time polling has seen, never later than the poll that saw
            it (polls restart a little before it).
        seen: ids of the replies yielded recently (received within the overlap before ``since``
            or later), with their reception times as Unix seconds.
    """

    since: datetime
    seen: Mapping[int, float] = attrs.field(factory=dict)

    def to_json(self) -> str:
        """A compact text to store (a file, a database column, Redis)."""
        return json.dumps({"since": self.since.timestamp(), "seen": sorted(self.seen.items())})

    @classmethod
    def from_json(cls, text: str | bytes) -> ReplyCursor:
        """The cursor :meth:`to_json` wrote. Raises :class:`InvalidRequestError` for anything else."""
        try:
            data = json.loads(text)
            since = datetime.fromtimestamp(float(data["since"]), timezone.utc)
            seen = {int(i): float(t) for i, t in data["seen"]}
        except (ValueError, TypeError, KeyError, OverflowError, OSError, RecursionError) as exc:
            raise InvalidRequestError(f"not a stored reply cursor: {type(exc).__name__}") from None
        return cls(since, seen)


class ReplyStream:
    """An async iterator over new replies, each exactly once, from callbacks and polling merged.

    Create it with ``client.sms.reply_stream(...)``; read :attr:`cursor` at any time (e.g. after
    handling each reply) and pass it back later to resume where you stopped.
    """

    def __init__(
        self,
        client: AsyncSmsClient,
        *,
        since: datetime | None = None,
        cursor: ReplyCursor | None = None,
        poll_interval: float = 30.0,
        fallback_interval: float = 300.0,
        overlap: float = 120.0,
    ) -> None:
        if since is not None and cursor is not None:
            raise InvalidRequestError("give since or cursor, not both")
        since = aware_datetime("since", since)
        if cursor is not None and not isinstance(cursor, ReplyCursor):
            raise InvalidRequestError("cursor must be a ReplyCursor (ReplyCursor.from_json(text))")
        self._client = client
        self._poll_every = _seconds("poll_interval", poll_interval)
        self._fallback = _seconds("fallback_interval", fallback_interval)
        self._overlap = _seconds("overlap", overlap)
        start = cursor.since if cursor is not None else since or datetime.now(timezone.utc)
        # a cursor saved by a stream that trusted a wrongly dated row may point into the future
        self._since = min(start.timestamp(), time.time()) if cursor is not None else start.timestamp()
        self._watermark = self._since
        self._seen: dict[int, float] = dict(cursor.seen) if cursor is not None else {}
        if cursor is not None:
            self._since -= self._overlap
        self._ready: list[Reply] = []
        self._subscription: Subscription | None = None
        self._next_poll = 0.0

    @property
    def cursor(self) -> ReplyCursor:
        """Where the stream stands now: every reply yielded so far is behind it."""
        return ReplyCursor(datetime.fromtimestamp(self._watermark, timezone.utc), dict(self._seen))

    def __aiter__(self) -> AsyncIterator[Reply]:
        return self

    async def __anext__(self) -> Reply:
        if self._subscription is None:
            self._subscription = self._client.callback_hub.subscribe()
        while True:
            self._take_callbacks(self._subscription)
            if not self._ready and (time.monotonic() >= self._next_poll or self._subscription.lost):
                self._subscription.lost = False
                await self._poll()
                every = self._fallback if self._client.callback_hub.wired else self._poll_every
                self._next_poll = time.monotonic() + every
            if self._ready:
                reply = self._ready.pop(0)
                if reply.response_id in self._seen:
                    continue
                self._seen[reply.response_id] = _epoch(reply.received_at, self._watermark)
                return reply
            await self._subscription.wait(self._next_poll - time.monotonic())

    def _floor(self) -> float:
        return max(self._since, self._watermark - self._overlap)

    def _take_callbacks(self, subscription: Subscription) -> None:
        for event in subscription.take():
            if not isinstance(event, Reply) or event.response_id in self._seen:
                continue
            # older than the polled window: polling has already yielded it (or it predates `since`)
            if _epoch(event.received_at, self._watermark) >= self._floor():
                self._ready.append(event)

    async def _poll(self) -> None:
        floor = self._floor()
        start = datetime.fromtimestamp(floor, timezone.utc).replace(microsecond=0)
        # The watermark never passes the time of the poll: one row dated in the future (a wrong
        # clock, a time zone taken for UTC) would otherwise move every later poll past the rows
        # that follow it. Such a row stays in `seen` until the watermark passes its date.
        polled_at = time.time()
        found: list[Reply] = []
        async for row in self._client.sms.user_responses(start=start):
            reply = Reply.from_polled(row)
            if reply.response_id not in self._seen and _epoch(reply.received_at, floor) >= floor:
                found.append(reply)
            if row.received_at is not None:
                self._watermark = max(self._watermark, min(row.received_at.timestamp(), polled_at))
        found.sort(key=lambda r: (_epoch(r.received_at, 0.0), r.response_id))
        queued = {r.response_id for r in self._ready}
        self._ready.extend(r for r in found if r.response_id not in queued)
        cutoff = self._watermark - self._overlap
        self._seen = {i: t for i, t in self._seen.items() if t >= cutoff}

    async def aclose(self) -> None:
        """Stop listening for callbacks (also done when the stream is garbage-collected)."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def __del__(self) -> None:
        subscription = getattr(self, "_subscription", None)  # None if __init__ refused its arguments
        if subscription is not None:
            subscription.close()

    def __repr__(self) -> str:
        return f"<ReplyStream since={self.cursor.since.isoformat()} seen={len(self._seen)}>"
