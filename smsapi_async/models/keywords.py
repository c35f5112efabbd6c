"""Keywords on dedicated numbers (``add-keyword``, ``edit-keyword``, ``get-keywords``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

import attrs

from .._convert import api_field, extra_field, from_api, to_date, to_int, to_msisdn, to_str

__all__ = ["KEYWORD_STATUSES", "Keyword", "comma_list"]

KEYWORD_STATUSES: Final = ("open", "closed")
"""Known ``Keyword.status`` values. Others are kept as sent."""


def comma_list(value: Any) -> tuple[str, ...]:
    """A comma-separated API string (``"a@x.com, b@x.com"``) as a tuple; blanks dropped.

    Also takes a list, which is how an XML body could carry it.
    """
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else to_str(value).split(",")
    return tuple(text for text in (to_str(item).strip() for item in items) if text)


@attrs.frozen(slots=True)
class Keyword:
    """A keyword: the first word of inbound texts to a dedicated number, and what happens then.

    Attributes:
        number: the dedicated number, digits only.
        list_id: the list respondents join (``0``: none).
        members_message: reply to senders already on the list (the API answers
            ``member_message``; older docs ``members_message``).
        forward_sms: numbers inbound texts are forwarded to.
        forward_email: addresses inbound texts are forwarded to.
        status: ``"open"`` or ``"closed"`` (see :data:`KEYWORD_STATUSES`).
        billing_date: the next billing date.
    """

    keyword: str = api_field(to_str)
    number: str = api_field(to_msisdn)
    reference: str = api_field(to_str)
    list_id: int = api_field(to_int)
    welcome_message: str = api_field(to_str, private=True)
    members_message: str = api_field(to_str, key="member_message", aliases=("members_message",), private=True)
    forward_url: str = api_field(to_str)
    forward_sms: tuple[str, ...] = api_field(comma_list)
    forward_email: tuple[str, ...] = api_field(comma_list)
    status: str = api_field(to_str)
    billing_date: date | None = api_field(to_date)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Keyword:
        return from_api(cls, data)
