"""The reporting half of ``client.sms``: counters, recipients, replies and reports of sent messages.

:class:`SmsReports` is a base of :class:`~smsapi_async.resources.sms.SmsResource`, so every method
here is called as ``client.sms.<method>``; it lives apart only to keep files small.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from .._convert import field, to_int
from .._exceptions import InvalidRequestError
from .._pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, AsyncPaginator, PageSpec
from .._sms_text import normalise_number, optional_number
from .._validate import (
    aware_datetime,
    one_of,
    optional_flag,
    optional_id,
    optional_text,
    positive_id,
    whole_number,
)
from ..models.reports import (
    MESSAGE_TYPES,
    ContactSmsRecord,
    Recipient,
    Reply,
    ReportedMessage,
    UserSentMessage,
)
from ..models.sms import DeliveryStatus, MessageLogEntry, MessageStats
from ._base import Resource

__all__ = ["SmsReports"]

_REPLIES = PageSpec("responses", ("total",))


def _window(
    start: datetime | None, end: datetime | None, max_days: int | None = None
) -> tuple[datetime | None, datetime | None]:
    """``start``/``end`` as UTC, aware, in order, and (when both are given) at most ``max_days`` apart."""
    start_utc = aware_datetime("start", start)
    end_utc = aware_datetime("end", end)
    if start_utc is not None and end_utc is not None:
        if start_utc > end_utc:
            raise InvalidRequestError(f"start {start_utc} is after end {end_utc}")
        if max_days is not None and end_utc - start_utc > timedelta(days=max_days):
            raise InvalidRequestError(f"this call reports on a window of at most {max_days} days")
    return start_utc, end_utc


def _stats(data: dict[str, Any]) -> Any:
    return data.get("stats") or {}


class SmsReports(Resource):
    """Reporting calls of ``client.sms``."""

    __slots__ = ()

    async def stats(self, message_id: int) -> MessageStats:
        """Delivery counters of a message or campaign. Calls ``get-sms-stats``."""
        params = {"message_id": positive_id("message_id", message_id)}
        return await self._read("get-sms-stats", params, lambda data: MessageStats.from_api(_stats(data)))

    async def delivery_status(self, message_id: int, msisdn: str) -> DeliveryStatus:
        """One recipient's status and the final text they got (merge fields and short link expanded).
        Calls ``get-sms-delivery-status``."""
        params = {
            "message_id": positive_id("message_id", message_id),
            "msisdn": normalise_number("msisdn", msisdn),
        }
        return await self._read(
            "get-sms-delivery-status", params, lambda data: DeliveryStatus.from_api(_stats(data))
        )

    def sent(
        self,
        message_id: int,
        *,
        optouts: Literal["include", "only", "omit"] | None = None,
        delivery: Literal["delivered", "failed", "pending"] | None = None,
        list_id: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[Recipient]:
        """The recipients of a message with their delivery status. Calls ``get-sms-sent``.

        ``optouts`` includes (API default), keeps ``only`` or leaves out (``omit``) opted-out
        recipients; ``delivery`` keeps one status; ``list_id`` adds that list's names for a send
        that did not go to a list. Each page's ``data["message"]`` is the message summary:
        ``MessageInfo.from_api(page.data["message"])``.
        """
        params = {
            "message_id": positive_id("message_id", message_id),
            "optouts": one_of("optouts", optouts, ("include", "only", "omit")),
            "delivery": one_of("delivery", delivery, ("delivered", "failed", "pending")),
            "list_id": optional_id("list_id", list_id),
        }
        spec = PageSpec("recipients", ("total",), row_key=("msisdn",))
        return self._paginate(
            "get-sms-sent",
            params,
            spec,
            Recipient.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    def responses(
        self,
        *,
        message_id: int | None = None,
        keyword_id: int | None = None,
        keyword: str | None = None,
        number: str | None = None,
        msisdn: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        include_original: bool | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[Reply]:
        """Replies to one message, one keyword (``keyword_id``, or ``keyword`` with its ``number``),
        optionally only from ``msisdn``. Calls ``get-sms-responses``.

        The API looks back at most 12 months, and only 30 days when neither ``start`` nor ``end`` is
        given. ``include_original=True`` fills :attr:`Reply.original_message`.
        """
        if message_id is None and keyword_id is None and keyword is None:
            raise InvalidRequestError("give message_id, keyword_id, or keyword with number")
        if keyword is not None and number is None:
            raise InvalidRequestError("keyword needs the number it belongs to")
        start_utc, end_utc = _window(start, end)
        params = {
            "message_id": optional_id("message_id", message_id),
            "keyword_id": optional_id("keyword_id", keyword_id),
            "keyword": optional_text("keyword", keyword),
            "number": optional_number("number", number),
            "msisdn": optional_number("msisdn", msisdn),
            "start": start_utc,
            "end": end_utc,
            "include_original": optional_flag("include_original", include_original),
        }
        return self._paginate(
            "get-sms-responses",
            params,
            _REPLIES,
            Reply.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    def user_responses(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        keywords: Literal["both", "only", "omit"] | None = None,
        number: str | None = None,
        include_original: bool | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[Reply]:
        """Every reply the account received in a window. Calls ``get-user-sms-responses``.

        At most 12 months back; the last 30 days when no window is given. ``keywords`` keeps
        keyword replies (``both``, the default), ``only`` them, or leaves them out (``omit``);
        ``number`` keeps replies to one virtual number.
        """
        start_utc, end_utc = _window(start, end)
        params = {
            "start": start_utc,
            "end": end_utc,
            "keywords": one_of("keywords", keywords, ("both", "only", "omit")),
            "number": optional_number("number", number),
            "include_original": optional_flag("include_original", include_original),
        }
        return self._paginate(
            "get-user-sms-responses",
            params,
            _REPLIES,
            Reply.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    def user_sent(
        self,
        *,
        start: datetime,
        end: datetime,
        msisdn: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[UserSentMessage]:
        """Every message the account sent in a window, one row per recipient (the activity report),
        optionally only to ``msisdn``. Calls ``get-user-sms-sent``."""
        if start is None or end is None:
            raise InvalidRequestError("user_sent needs both start and end")
        start_utc, end_utc = _window(start, end)
        params = {
            "start": start_utc,
            "end": end_utc,
            "msisdn": optional_number("msisdn", msisdn),
            "response_style": "array",  # one shape for custom fields, as get-message-report
        }
        spec = PageSpec("messages", ("total",), row_key=("message_id", "msisdn"))
        return self._paginate(
            "get-user-sms-sent",
            params,
            spec,
            UserSentMessage.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    async def sent_count(
        self, *, start: datetime | None = None, end: datetime | None = None, client_id: int | None = None
    ) -> int:
        """How many SMS were sent in a window of at most 7 days (default: the last 24 hours);
        resellers may count one client's (``client_id`` is **undocumented**: in an older help
        article, not in the current documentation). Calls ``get-sms-sent-count``."""
        start_utc, end_utc = _window(start, end, max_days=7)
        params = {
            "start": start_utc,
            "end": end_utc,
            "client_id": optional_id("client_id", client_id),
        }
        return await self._read("get-sms-sent-count", params, lambda data: field("count", to_int, data))

    def message_report(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        list_id: int | None = None,
        number: str | None = None,
        message_type: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[ReportedMessage]:
        """Messages sent in a window of at most 30 days (default: the last 24 hours) with their
        counters. Calls ``get-message-report``.

        ``list_id`` adds that list's contact data, ``number`` keeps one virtual number,
        ``message_type`` (API ``type``) keeps one kind: ``all`` or one of ``MESSAGE_TYPES``.
        Page totals: ``messages_total`` and ``sms_total``.
        """
        start_utc, end_utc = _window(start, end, max_days=30)
        params = {
            "start": start_utc,
            "end": end_utc,
            "list_id": optional_id("list_id", list_id),
            "number": optional_number("number", number),
            "type": one_of("message_type", message_type, ("all", *MESSAGE_TYPES)),
            "response_style": "array",  # one shape for custom fields, whatever their names
        }
        spec = PageSpec("messages", ("messages_total", "sms_total"))
        return self._paginate(
            "get-message-report",
            params,
            spec,
            ReportedMessage.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    def contact_stats(
        self,
        mobile: str,
        *,
        countrycode: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        sort_field: Literal["delivery_status", "message_id", "datetime_send"] | None = None,
        order: Literal["asc", "desc"] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[ContactSmsRecord]:
        """Messages sent to one mobile (local format with ``countrycode``), by default since the
        account was created. Calls ``get-contact-sms-stats``."""
        start_utc, end_utc = _window(start, end)
        params = {
            "mobile": normalise_number("mobile", mobile),
            "countrycode": optional_text("countrycode", countrycode),
            "start": start_utc,
            "end": end_utc,
            "sort_field": one_of(
                "sort_field", sort_field, ("delivery_status", "message_id", "datetime_send")
            ),
            "order": one_of("order", order, ("asc", "desc")),
        }
        spec = PageSpec("records", ("total",), row_key=("message_id",))
        return self._paginate(
            "get-contact-sms-stats",
            params,
            spec,
            ContactSmsRecord.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    async def link_hits(
        self, message_id: int, *, page: int | None = None, page_size: int | None = None
    ) -> dict[str, Any]:
        """Who clicked a message's tracked link. Calls ``get-link-hits``: **legacy** and
        **experimental** (the current published specification does not list it).

        The response of this call is documented nowhere, so it is returned as sent (a dict, the
        ``error`` block removed) rather than as a model; ``page``/``page_size`` are passed as
        ``page``/``max`` as the official PHP client does. The ``link_hits`` counter of
        :meth:`stats` and the link-hits callback are the documented alternatives.
        """
        if page_size is not None:
            whole_number("page_size", page_size, 1, MAX_PAGE_SIZE)
        params = {
            "message_id": positive_id("message_id", message_id),
            "page": optional_id("page", page),
            "max": page_size,
        }
        return await self._call("get-link-hits", params)

    async def message_log(self, message_id: int, mobile: str) -> MessageLogEntry:
        """One message to one mobile. Calls ``get-message-log``: a **legacy** call found only in a
        2015 client; prefer :meth:`delivery_status`."""
        params = {
            "message_id": positive_id("message_id", message_id),
            "mobile": normalise_number("mobile", mobile),
        }
        return await self._read("get-message-log", params, MessageLogEntry.from_api)
