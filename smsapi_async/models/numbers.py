"""Virtual (dedicated) numbers and sender IDs (``get-numbers``, ``get-number``, ``lease-number``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Final

import attrs

from .._convert import (
    api_field,
    extra_field,
    from_api,
    list_of,
    opt,
    require_mapping,
    to_bool,
    to_date,
    to_decimal,
    to_msisdn,
    to_str,
)

__all__ = ["NUMBER_STATUSES", "SenderIds", "VirtualNumber"]

NUMBER_STATUSES: Final = ("active", "inactive")
"""Known ``VirtualNumber.status`` values (``inactive``: expired or released). Others are kept as sent."""


@attrs.frozen(slots=True)
class VirtualNumber:
    """A dedicated number, leased or available to lease.

    Attributes:
        number: international format, digits only.
        price: monthly price in the account currency; ``None`` if not given.
        auto_renew: whether the lease renews itself (``False`` when not given, e.g. for numbers
            available to lease).
        next_charge: the next billing date; ``None`` for inactive or available numbers.
        status: ``"active"`` / ``"inactive"`` (see :data:`NUMBER_STATUSES`); ``""`` when not given.
        forward_url: the inbound callback, where the response includes it (older accounts).
    """

    number: str = api_field(to_msisdn)
    price: Decimal | None = api_field(opt(to_decimal))
    auto_renew: bool = api_field(to_bool)
    next_charge: date | None = api_field(to_date)
    status: str = api_field(to_str)
    forward_url: str = api_field(to_str)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> VirtualNumber:
        return from_api(cls, data)


_texts = list_of(to_str)


@attrs.frozen(slots=True)
class SenderIds:
    """Sender IDs the account may send from (``get-sender-ids``; **experimental**).

    The call appears only in the official C# client; the shape is what third-party code reads
    (``caller_ids`` with lists under ``Virtual Number``, ``Business Name``, ``Mobile Number``).
    Every list is empty if the shape differs, and the whole ``caller_ids`` block stays in
    ``extra`` for inspection.
    """

    virtual_numbers: tuple[str, ...] = api_field(list_of(to_msisdn), key="Virtual Number")
    business_names: tuple[str, ...] = api_field(_texts, key="Business Name")
    mobile_numbers: tuple[str, ...] = api_field(list_of(to_msisdn), key="Mobile Number")
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SenderIds:
        block = require_mapping(cls, data).get("caller_ids")
        ids = block if isinstance(block, Mapping) else {}
        built = from_api(cls, ids)
        return attrs.evolve(built, extra={**data})
