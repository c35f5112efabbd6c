"""Messages: the send result, message summaries and counters, one recipient's status, number formatting.

Reporting rows that come in pages (recipients, replies, report rows) are in :mod:`.reports`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import attrs

from .._convert import (
    api_field,
    extra_field,
    from_api,
    list_of,
    model,
    opt,
    to_bool,
    to_datetime,
    to_decimal,
    to_int,
    to_msisdn,
    to_str,
)
from .delivery import DeliveryOutcome

__all__ = [
    "DELIVERY_STATUSES",
    "NUMBER_TYPES",
    "DeliveryStats",
    "DeliveryStatus",
    "FormattedNumber",
    "ListSummary",
    "MessageInfo",
    "MessageLogEntry",
    "MessageStats",
    "NumberType",
    "SendResult",
]

DELIVERY_STATUSES: Final = ("delivered", "pending", "failed", "bounced", "soft-bounce", "hard-bounce")
"""Known per-recipient delivery statuses across the reporting calls: ``get-sms-sent``
shows ``delivered``/``pending`` (docs also ``bounced``, ``soft-bounce``, ``hard-bounce``),
``get-sms-delivery-status`` ``delivered``/``failed``. Not exhaustive: other values are kept as sent."""


@attrs.frozen(slots=True)
class DeliveryStats:
    """Per-message counters (``delivery_stats``); ``bounced`` is soft plus hard bounces.

    Documented as deprecated and all zero at send time: use :class:`MessageStats`, the reporting
    calls or delivery callbacks for live figures.
    """

    delivered: int = api_field(to_int, default=0)
    pending: int = api_field(to_int, default=0)
    bounced: int = api_field(to_int, default=0)
    responses: int = api_field(to_int, default=0)
    optouts: int = api_field(to_int, key="optouts", aliases=("opt-outs",), default=0)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> DeliveryStats:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class ListSummary:
    """The list a campaign went to (``list`` in send/get results)."""

    id: int = api_field(to_int, default=0)
    name: str = api_field(to_str, default="")
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ListSummary:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class SendResult:
    """What ``send-sms`` accepted.

    Attributes:
        message_id: the id every reporting call and ``cancel`` take.
        send_at: when it goes (or went) out, UTC.
        recipients: how many numbers or list members were accepted; compare it with what you sent,
            since invalid numbers may be dropped silently.
        cost: total cost in the account currency.
        sms: SMS parts across all recipients (2 parts to 2 recipients is 4).
        list: the list, for a send to ``list_id``; else ``None``.
        delivery_stats: deprecated counters, zero at send time.
        fails: numbers the API reported as refused; only older docs describe this field, so it is
            usually empty.
    """

    message_id: int = api_field(to_int)
    send_at: datetime | None = api_field(to_datetime)
    recipients: int = api_field(to_int, default=0)
    cost: Decimal = api_field(to_decimal, default=0)
    sms: int = api_field(to_int, default=0)
    list: ListSummary | None = api_field(opt(model(ListSummary)))
    delivery_stats: DeliveryStats = api_field(model(DeliveryStats))
    fails: tuple[str, ...] = api_field(list_of(to_msisdn), default=())
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SendResult:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class MessageInfo:
    """A message or campaign summary (``get-sms``; ``message`` of a ``get-sms-sent`` page).

    Attributes:
        message: the text as submitted, placeholders not expanded (``get-sms-sent`` omits it: ``""``).
    """

    message_id: int = api_field(to_int)
    send_at: datetime | None = api_field(to_datetime)
    recipients: int = api_field(to_int, default=0)
    cost: Decimal = api_field(to_decimal, default=0)
    sms: int = api_field(to_int, default=0)
    message: str = api_field(to_str, default="", private=True)
    list: ListSummary | None = api_field(opt(model(ListSummary)))
    delivery_stats: DeliveryStats = api_field(model(DeliveryStats))
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MessageInfo:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class MessageStats:
    """Delivery counters of a message or campaign (``get-sms-stats``).

    Attributes:
        total: SMS parts sent.
        recipient_count: distinct recipients (API key ``recipientCount``).
        bounced: ``soft_bounced`` plus ``hard_bounced``.
        optouts: recipients who opted out (API key ``opt-outs``).
        link_hits: clicks on the tracked link.
    """

    total: int = api_field(to_int, default=0)
    recipient_count: int = api_field(to_int, key="recipientCount", aliases=("recipient_count",), default=0)
    delivered: int = api_field(to_int, default=0)
    pending: int = api_field(to_int, default=0)
    bounced: int = api_field(to_int, default=0)
    soft_bounced: int = api_field(to_int, default=0)
    hard_bounced: int = api_field(to_int, default=0)
    responses: int = api_field(to_int, default=0)
    optouts: int = api_field(to_int, key="opt-outs", aliases=("optouts",), default=0)
    link_hits: int = api_field(to_int, default=0)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MessageStats:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class DeliveryStatus(DeliveryOutcome):
    """One recipient's copy of a message (``get-sms-delivery-status``).

    Attributes:
        sender_id: the sender it came from (number or alphanumeric ID).
        mobile: the recipient.
        status_at: when the delivery receipt arrived (API key ``datetime``).
        status: e.g. ``delivered`` or ``failed`` (see :data:`DELIVERY_STATUSES`).
        message: the final text, with merge fields and the short link expanded.
    """

    message_id: int = api_field(to_int)
    sender_id: str = api_field(to_msisdn, default="")
    mobile: str = api_field(to_msisdn, aliases=("msisdn",), default="")
    send_at: datetime | None = api_field(to_datetime)
    status_at: datetime | None = api_field(to_datetime, key="datetime")
    status: str = api_field(to_str, default="")
    message: str = api_field(to_str, default="", private=True)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> DeliveryStatus:
        return from_api(cls, data)


class NumberType:
    """Known values of :attr:`FormattedNumber.type` (the API's own codes; others are kept as sent)."""

    LANDLINE: Final = 0
    MOBILE: Final = 1
    INVALID: Final = 10


NUMBER_TYPES: Final = {
    NumberType.LANDLINE: "landline",
    NumberType.MOBILE: "mobile",
    NumberType.INVALID: "invalid",
}
"""Names of the known :class:`NumberType` codes."""


@attrs.frozen(slots=True)
class FormattedNumber:
    """A number normalised for a country (``format-number``).

    Attributes:
        countrycode: the dialling code, e.g. ``61``.
        national_number: the number without the dialling code (API key ``nationalnumber``).
        international: the full international number, digits only; send this to the API.
        type: :class:`NumberType` code: 0 landline, 1 mobile, 10 invalid.
        is_valid: whether the number is valid for the country (API key ``isValid``).
    """

    countrycode: int = api_field(to_int, default=0)
    national_number: str = api_field(
        to_msisdn, key="nationalnumber", aliases=("national_number",), default=""
    )
    international: str = api_field(to_msisdn, default="")
    type: int = api_field(to_int, default=NumberType.INVALID)
    is_valid: bool = api_field(to_bool, key="isValid", aliases=("is_valid",), default=False)
    extra: Mapping[str, Any] = extra_field()

    @property
    def is_mobile(self) -> bool:
        """Whether the number is a valid mobile number (one that can receive SMS)."""
        return self.is_valid and self.type == NumberType.MOBILE

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> FormattedNumber:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class MessageLogEntry:
    """One message to one mobile (legacy ``get-message-log``; prefer :class:`DeliveryStatus`).

    Attributes:
        caller_id: the sender.
        sent_at: when it was sent (API key ``datetime_send``).
    """

    message_id: int = api_field(to_int)
    message: str = api_field(to_str, default="", private=True)
    mobile: str = api_field(to_msisdn, aliases=("msisdn",), default="")
    caller_id: str = api_field(to_msisdn, default="")
    sent_at: datetime | None = api_field(to_datetime, key="datetime_send")
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MessageLogEntry:
        return from_api(cls, data)
