"""``client.sms``: send, cancel and look up messages, format numbers; reporting comes from :mod:`.reports`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Callable, Container, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from .._convert import field, to_bool, to_str
from .._exceptions import InvalidRequestError
from .._lanes import Priority
from .._sms_text import (
    MAX_VALIDITY,
    check_email,
    check_message,
    check_parts,
    check_sender,
    normalise_number,
    normalise_numbers,
)
from .._validate import (
    aware_datetime,
    non_empty,
    optional_flag,
    optional_id,
    optional_text,
    optional_url,
    positive_id,
    whole_number,
)
from ..models.sms import FormattedNumber, MessageInfo, SendResult
from .reports import SmsReports

if TYPE_CHECKING:
    # the bulk engine and delivery tracking load when first used, not with client.sms
    from .._bulk import BulkInput, BulkProgress, BulkSend
    from .._journal import Journal
    from ..tracking import DeliveryResult, ReplyCursor, ReplyStream, UpdateHandler

__all__ = ["SmsResource"]


class SmsResource(SmsReports):
    """``client.sms``: every call about sending and reporting on SMS."""

    __slots__ = ()

    async def send(
        self,
        *,
        message: str,
        to: str | Iterable[str] | None = None,
        list_id: int | None = None,
        from_: str | None = None,
        countrycode: str | None = None,
        send_at: datetime | None = None,
        validity: int | None = None,
        replies_to_email: str | None = None,
        tracked_link_url: str | None = None,
        dlr_callback: str | None = None,
        reply_callback: str | None = None,
        link_hits_callback: str | None = None,
        from_shared: bool | None = None,
        max_parts: int | None = None,
    ) -> SendResult:
        """Send ``message`` to up to 500 numbers (``to``) or to every active member of a list
        (``list_id``). Calls ``send-sms``.

        Args:
            message: up to 612 characters; see :func:`count_parts` for what it costs. Lists may use
                placeholders (``[firstname]``), ``[tracked-link]`` marks where ``tracked_link_url``
                goes, ``[unsub-reply-link]`` an opt-out link.
            to: numbers in international format, or local ones with ``countrycode``; a string may
                hold several, comma-separated. Spaces, dots, hyphens, brackets and a leading ``+``
                are removed; duplicates are sent once. Exactly one of ``to`` and ``list_id``.
            from_: sender: a number of up to 15 digits, or up to 11 letters and digits (approved
                alphanumeric IDs only; recipients cannot reply). Default: the shared number pool.
            send_at: schedule it (an aware datetime, not in the past); cancel with :meth:`cancel`.
            validity: minutes to keep trying delivery (0: the maximum, 72 hours).
            replies_to_email: forward replies to this address.
            tracked_link_url: the URL ``[tracked-link]`` shortens, one short link per recipient.
            dlr_callback: an http(s) URL that gets this message's delivery receipts instead of
                the account's default.
            reply_callback: an http(s) URL that gets the replies to it instead of the default.
            link_hits_callback: an http(s) URL that gets its link hits instead of the default.
            from_shared: force the shared pool even when the account has its own numbers.
                **Undocumented**: in the official C# and Go clients, not in the current
                documentation.
            max_parts: refuse (before any call) a message that takes more SMS parts than this
                per recipient, e.g. ``1`` to never pay for a multi-part message by accident; see
                :func:`analyze`. Placeholders are counted as written, not as expanded.

        Returns:
            What was accepted; compare ``recipients`` with the numbers you sent, since the API may
            drop invalid ones silently (or, per older docs, list them in ``fails``).

        Raises:
            InvalidRequestError: an argument is invalid; nothing was sent.
            RecipientsError: no valid recipient, or an empty list.
            InsufficientFundsError, BadCallerIdError, InvalidFieldError: refused by the API.
            OutcomeUnknownError: the request timed out, the connection broke after it was sent, or
                the server answered 5xx. The message may or may not have gone out, and it is
                **never resent automatically** (that could send it twice). Check the reporting calls
                (e.g. :meth:`user_sent`) before sending again. Only rate-limited attempts, which
                the server dropped unprocessed, are retried.
        """
        if (to is None) == (list_id is None):
            raise InvalidRequestError("give exactly one of to (numbers) and list_id")
        if validity is not None:
            whole_number("validity (minutes)", validity, 0, MAX_VALIDITY)
        params = {
            "message": check_parts(check_message(message), max_parts),
            "to": None if to is None else normalise_numbers("to", to),
            "list_id": optional_id("list_id", list_id),
            "from": None if from_ is None else check_sender(from_),
            "countrycode": optional_text("countrycode", countrycode),
            "send_at": aware_datetime("send_at", send_at, not_past=True),
            "validity": validity,
            "replies_to_email": None
            if replies_to_email is None
            else check_email("replies_to_email", replies_to_email),
            "tracked_link_url": optional_url("tracked_link_url", tracked_link_url),
            "dlr_callback": optional_url("dlr_callback", dlr_callback),
            "reply_callback": optional_url("reply_callback", reply_callback),
            "link_hits_callback": optional_url("link_hits_callback", link_hits_callback),
            "from_shared": optional_flag("from_shared", from_shared),
        }
        return await self._read("send-sms", params, SendResult.from_api)

    def send_bulk(
        self,
        messages: Iterable[BulkInput] | AsyncIterable[BulkInput],
        *,
        journal: str | os.PathLike[str] | Journal | None = None,
        batch_size: int = 500,
        concurrency: int | None = None,
        max_pending: int = 10_000,
        max_parts: int | None = None,
        optouts: Container[str] | None = None,
        reconcile: bool = False,
        reconcile_delay: float = 10.0,
        ignore_unknown_keys: bool = False,
        allow_repeats: bool = False,
        total: int | None = None,
        on_progress: Callable[[BulkProgress], object] | None = None,
        priority: Priority = "bulk",
    ) -> BulkSend:
        """Send many messages in the fewest ``send-sms`` calls, with one result per recipient.

        ::

            async with client.sms.send_bulk(rows, journal="run.db") as results:
                async for result in results:   # BulkResult: sent / rejected / failed / unknown
                    ...

        Args:
            messages: an iterable or async iterable (read once, as it goes: any size) of
                :class:`OutgoingMessage` or mappings with :meth:`send`'s keys (``message``, ``to``
                (one number, comma-separated numbers or a list), ``from_`` or ``from``, ...).
                Blank values count as not given, so CSV rows drop straight in.
            journal: a file (SQLite) or a :class:`Journal` recording each call before and after
                it is made. Rerun with the same journal and input after a crash, ``kill -9`` or
                cancellation: nothing is sent twice, nothing is skipped. One run at a time: a
                journal in use by another run (this process or another) is refused with
                :class:`JournalError`, as is a damaged one, and one of another input
                (:class:`JournalMismatchError`), before anything is sent. The file is private
                to its owner (0600): it holds every number and the text.
            batch_size: recipients per call, 1 to 500. Items with the same text and options
                share calls; numbers are normalised (with ``countrycode``; the ``phonenumbers``
                extra when installed).
            concurrency: calls in flight (default from the limiter's rate), so the limiter is
                never idle while work is queued.
            max_pending: recipients held in memory waiting for a full call; beyond it the oldest
                group goes out early. Memory stays bounded whatever the input size.
            max_parts: reject messages taking more SMS parts than this (before any call).
            optouts: numbers known to have opted out (international digits); rejected.
            reconcile: settle calls of unknown outcome (timeout, 5xx) at the end from the
                account's sent messages (``get-user-sms-sent``, one look-up per recipient until
                one is found); a call is resent only when provably not sent.
            reconcile_delay: seconds to let the API record what it accepted before looking.
            ignore_unknown_keys: ignore mapping keys ``send`` does not take (else the item is
                rejected, so a misspelt key never goes unnoticed).
            allow_repeats: by default a number gets one message per run: its first item wins
                and later ones are rejected as duplicates (``duplicate_of`` names the first), even
                when their texts differ (a personalised text, a second row for the same person).
                ``True`` allows one message per number *per distinct text and options*.
            total: recipients expected, for progress (default ``len(messages)`` when known).
            on_progress: called with a :class:`BulkProgress` a few times a second and at the end.
            priority: the limiter lane its calls queue in (``"bulk"``: below every other call of
                the account, which still leaves it at least one grant in 10 while others wait; see
                :meth:`AsyncSmsClient.with_options`). Ignored with a limiter without lanes.

        Raises:
            InvalidRequestError: a bad argument (at once; nothing sent).
            JournalError: while iterating: the journal is corrupt or not a journal, or
                (:class:`JournalMismatchError`) belongs to another input; nothing was sent.
        """
        from .._bulk import BulkSend  # noqa: PLC0415 (loaded on first use)

        return BulkSend(
            self._client,
            messages,
            journal=journal,
            batch_size=batch_size,
            concurrency=concurrency,
            max_pending=max_pending,
            max_parts=max_parts,
            optouts=optouts,
            reconcile=reconcile,
            reconcile_delay=reconcile_delay,
            ignore_unknown_keys=ignore_unknown_keys,
            allow_repeats=allow_repeats,
            total=total,
            on_progress=on_progress,
            priority=priority,
        )

    async def cancel(self, message_id: int) -> bool:
        """Cancel a scheduled message. Calls ``cancel-sms``.

        Returns ``True`` (the API's ``success: "OK"``). Raises :class:`AlreadySentError` when the
        message went out already or cannot be cancelled.
        """
        params = {"id": positive_id("message_id", message_id)}
        return await self._read("cancel-sms", params, lambda data: field("success", to_bool, data, True))

    async def get(self, message_id: int) -> MessageInfo:
        """A message or campaign: text as submitted (placeholders unexpanded), cost, counters.
        Calls ``get-sms``. Raises :class:`NotFoundError` for an unknown id."""
        params = {"message_id": positive_id("message_id", message_id)}
        return await self._read("get-sms", params, MessageInfo.from_api)

    async def reply(self, *, to: str, message: str, from_: str) -> str:
        """Send ``message`` to ``to`` from ``from_`` as a reply. Calls ``message-reply``: a **legacy**
        call found only in a 2015 client and one capture; prefer :meth:`send`.

        Returns the API's ``result`` text (e.g. ``"SYSTEM: Message response handled"``). Like
        :meth:`send`, it is never resent after an unknown outcome.
        """
        params = {
            "to": normalise_number("to", to),
            "message": check_message(message),
            "from": check_sender(from_),
        }
        return await self._read("message-reply", params, lambda data: field("result", to_str, data).strip())

    async def format_number(self, *, msisdn: str, countrycode: str) -> FormattedNumber:
        """Normalise and check a number as stored in your data (spaces, brackets, hyphens allowed)
        for a country (ISO code such as ``"AU"`` or a country name). Calls ``format-number``."""
        params = {
            "msisdn": normalise_number("msisdn", msisdn),
            "countrycode": non_empty("countrycode", countrycode),
        }
        return await self._read(
            "format-number", params, lambda data: FormattedNumber.from_api(data.get("number") or {})
        )

    async def wait_for_delivery(
        self,
        message_id: int,
        *,
        timeout: float | None = 600.0,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        fallback_interval: float = 60.0,
        on_update: UpdateHandler | None = None,
    ) -> DeliveryResult:
        """Wait until every recipient of a message has a final state (delivered or bounced).

        Uses the callbacks of a :class:`~smsapi_async.webhooks.CallbackReceiver` built with
        ``client=`` this client, and polls ``get-sms-sent`` (within the rate limit) otherwise, or
        every ``fallback_interval`` seconds as a safety net. A final state is never replaced by a
        late ``pending``. Raises :class:`~smsapi_async.tracking.DeliveryTimeoutError` (with the
        states known so far) after ``timeout`` seconds. See
        :func:`smsapi_async.tracking.wait_for_delivery` for every argument.
        """
        from ..tracking import wait_for_delivery  # noqa: PLC0415 (loaded on first use)

        return await wait_for_delivery(
            self._client,
            message_id,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            fallback_interval=fallback_interval,
            on_update=on_update,
        )

    def reply_stream(
        self,
        *,
        since: datetime | None = None,
        cursor: ReplyCursor | None = None,
        poll_interval: float = 30.0,
        fallback_interval: float = 300.0,
        overlap: float = 120.0,
    ) -> ReplyStream:
        """Every reply received from ``since`` on (default: now), each exactly once, as
        :class:`~smsapi_async.webhooks.Reply` events, for as long as you iterate.

        Replies come from a wired :class:`~smsapi_async.webhooks.CallbackReceiver` at once and from
        polling ``get-user-sms-responses`` (every ``poll_interval`` seconds, or ``fallback_interval``
        with a receiver), de-duplicated by ``response_id``. Store ``stream.cursor.to_json()`` and
        pass ``cursor=ReplyCursor.from_json(...)`` to resume without repeats; ``overlap`` is how far
        back each poll looks again for replies that show up late.
        """
        from ..tracking import ReplyStream  # noqa: PLC0415 (loaded on first use)

        return ReplyStream(
            self._client,
            since=since,
            cursor=cursor,
            poll_interval=poll_interval,
            fallback_interval=fallback_interval,
            overlap=overlap,
        )
