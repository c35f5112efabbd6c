"""The account's own state (``get-balance``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from .._convert import api_field, extra_field, from_api, to_decimal, to_str

__all__ = ["Balance"]


@attrs.frozen(slots=True)
class Balance:
    """The account balance (``get-balance``).

    Attributes:
        balance: in the major unit of ``currency`` (the API gives 3 decimals).
        currency: ISO 4217 code, e.g. ``AUD``.
    """

    balance: Decimal = api_field(to_decimal, default=0)
    currency: str = api_field(to_str, default="")
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Balance:
        return from_api(cls, data)
