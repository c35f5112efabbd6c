"""Rows of the paginated reporting calls: recipients, replies, activity and message reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import attrs

from .._convert import (
    api_field,
    extra_field,
    fields_map,
    from_api,
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
    "MESSAGE_TYPES",
    "ContactSmsRecord",
    "Recipient",
    "Reply",
    "ReportedMessage",
    "UserSentMessage",
]

MESSAGE_TYPES: Final = ("api", "campaign", "quick_sms", "email_sms", "keyword", "test_sms")
"""Known :attr:`ReportedMessage.type` values; also the ``get-message-report`` filter (besides ``all``)."""

# Contact names: API responses say first_name/last_name, callbacks and some docs firstname/lastname.
_FIRST = ("firstname",)
_LAST = ("lastname",)


@attrs.frozen(slots=True)
class Recipient(DeliveryOutcome):
    """One recipient of a message (``get-sms-sent``).

    Attributes:
        msisdn: the recipient's number.
        first_name, last_name: from the list, ``""`` when unknown.
        delivery_status: e.g. ``delivered``, ``pending`` (see ``DELIVERY_STATUSES``).
        optout: whether the recipient has opted out.
    """

    msisdn: str = api_field(to_msisdn, aliases=("mobile",), default="")
    first_name: str = api_field(to_str, aliases=_FIRST, default="")
    last_name: str = api_field(to_str, aliases=_LAST, default="")
    delivery_status: str = api_field(to_str, default="")
    optout: bool = api_field(to_bool, default=False)
    extra: Mapping[str, Any] = extra_field()

    @property
    def mobile(self) -> str:
        """:attr:`msisdn`, under the name delivery receipt callbacks use."""
        return self.msisdn

    @property
    def status(self) -> str:
        """:attr:`delivery_status`, under the name delivery receipt callbacks use."""
        return self.delivery_status

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Recipient:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class Reply:
    """An SMS received in answer to a message (``get-sms-responses``, ``get-user-sms-responses``).

    Attributes:
        id: the reply's own id.
        message_id: the message it answers.
        list_id: the list the message went to; 0 when it was not a list send.
        received_at: when it arrived, UTC.
        msisdn: who sent the reply.
        response: the reply's text.
        longcode: the number it was sent to; ``None`` for old shared-number sends.
        original_message: the text replied to, only with ``include_original=True``.
        first_name, last_name: from the list, ``""`` when unknown.
    """

    id: int = api_field(to_int)
    message_id: int = api_field(to_int, default=0)
    list_id: int = api_field(to_int, default=0)
    received_at: datetime | None = api_field(to_datetime)
    msisdn: str = api_field(to_msisdn, aliases=("mobile",), default="")
    response: str = api_field(to_str, default="", private=True)
    longcode: str | None = api_field(opt(to_msisdn))
    original_message: str | None = api_field(opt(to_str), private=True)
    first_name: str = api_field(to_str, aliases=_FIRST, default="")
    last_name: str = api_field(to_str, aliases=_LAST, default="")
    extra: Mapping[str, Any] = extra_field()

    @property
    def response_id(self) -> int:
        """:attr:`id`, under the name reply callbacks use."""
        return self.id

    @property
    def mobile(self) -> str:
        """:attr:`msisdn`, under the name reply callbacks use."""
        return self.msisdn

    @property
    def text(self) -> str:
        """:attr:`response`, under the name reply callbacks use."""
        return self.response

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Reply:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class UserSentMessage:
    """One message to one recipient in the account's activity report (``get-user-sms-sent``).

    Attributes:
        id: the row's id.
        message: the text as delivered.
        caller_id: the sender (number or alphanumeric ID).
        status: e.g. ``delivered`` (see ``DELIVERY_STATUSES``).
    """

    id: int = api_field(to_int)
    message_id: int = api_field(to_int, default=0)
    message: str = api_field(to_str, default="", private=True)
    sent_at: datetime | None = api_field(to_datetime)
    msisdn: str = api_field(to_msisdn, aliases=("mobile",), default="")
    caller_id: str = api_field(to_msisdn, default="")
    status: str = api_field(to_str, default="")
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> UserSentMessage:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class ReportedMessage:
    """One message of the account's message report (``get-message-report``).

    Attributes:
        id: the message id.
        type: how it was sent (see :data:`MESSAGE_TYPES`).
        sms: SMS parts.
        cost: what it cost, **negative** (the API reports it as a debit).
        status: the send job's status, e.g. ``completed``.
        msisdn: the recipient for a single-recipient send, else ``None``.
        first_name, last_name, fields: the contact's data on the list given as ``list_id``.
    """

    id: int = api_field(to_int)
    type: str = api_field(to_str, default="")
    sms: int = api_field(to_int, default=0)
    cost: Decimal = api_field(to_decimal, default=0)
    sent_at: datetime | None = api_field(to_datetime)
    status: str = api_field(to_str, default="")
    message: str = api_field(to_str, default="", private=True)
    pending: int = api_field(to_int, default=0)
    delivered: int = api_field(to_int, default=0)
    soft_bounced: int = api_field(to_int, default=0)
    hard_bounced: int = api_field(to_int, default=0)
    optouts: int = api_field(to_int, aliases=("opt-outs",), default=0)
    responses: int = api_field(to_int, default=0)
    msisdn: str | None = api_field(opt(to_msisdn))
    first_name: str = api_field(to_str, aliases=_FIRST, default="")
    last_name: str = api_field(to_str, aliases=_LAST, default="")
    fields: Mapping[str, str] = api_field(fields_map, default=())
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ReportedMessage:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class ContactSmsRecord:
    """One message sent to a mobile (``get-contact-sms-stats``).

    Attributes:
        sent_at: when it was sent (API key ``datetime_send``).
        delivery_status: e.g. ``delivered`` (see ``DELIVERY_STATUSES``).
    """

    message_id: int = api_field(to_int)
    sent_at: datetime | None = api_field(to_datetime, key="datetime_send")
    delivery_status: str = api_field(to_str, default="")
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ContactSmsRecord:
        return from_api(cls, data)
