"""Reseller client accounts and their ledger (``get-client(s)``, ``add-client``, ``get-transaction(s)``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from .._convert import (
    api_field,
    extra_field,
    from_api,
    opt,
    to_bool,
    to_date,
    to_datetime,
    to_decimal,
    to_int,
    to_msisdn,
    to_str,
)

__all__ = ["Client", "Transaction"]


def _secret_field() -> Any:
    # Like api_field, but kept out of repr: credentials must never reach logs or tracebacks.
    return attrs.field(
        converter=opt(to_str),
        default=None,
        kw_only=True,
        repr=False,
        metadata={"api_key": None, "aliases": ()},
    )


def _optional_id(value: Any) -> int | None:
    # The ledger writes message_id 0 for entries that paid for no message.
    return to_int(value) or None


@attrs.frozen(slots=True)
class Client:
    """A reseller's client account.

    Attributes:
        msisdn: the client's phone (older docs call it ``phone``; kept as sent, digits when numeric).
        client_pays: whether the client pays for its own messages (else the reseller does).
        sms_margin: cents added to each SMS's base price.
        apikey, apisecret: the client's own API credentials (``None`` when not set); use them
            through ``client.resellers.for_client(...)``. Never shown in ``repr``.
        credit_based: API ``credit_based`` (older docs ``credits_based``).
        trial: whether the account is on trial (the API sends ``"yes"``/``"no"``).
        has_credit_card: whether a card is on file (``False`` when not given).
    """

    id: int = api_field(to_int)
    name: str = api_field(to_str)
    contact: str = api_field(to_str)
    email: str = api_field(to_str)
    msisdn: str = api_field(to_msisdn, aliases=("phone",))
    currency: str = api_field(to_str)
    timezone: str = api_field(to_str)
    created: datetime | None = api_field(to_datetime)
    client_pays: bool = api_field(to_bool)
    sms_margin: Decimal = api_field(to_decimal)
    apikey: str | None = _secret_field()
    apisecret: str | None = _secret_field()
    balance: Decimal = api_field(to_decimal)
    recharge_amount: Decimal = api_field(to_decimal)
    total_lists: int = api_field(to_int)
    total_sms: int = api_field(to_int)
    total_contacts: int = api_field(to_int)
    total_spend: Decimal = api_field(to_decimal)
    total_revenue: Decimal = api_field(to_decimal)
    credit_based: bool = api_field(to_bool, aliases=("credits_based",))
    trial: bool = api_field(to_bool)
    trial_expiry_date: date | None = api_field(to_date)
    has_credit_card: bool = api_field(to_bool)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Client:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class Transaction:
    """One ledger entry of a client account.

    Attributes:
        user_id: the client account it belongs to.
        amount: positive for a credit, negative for a debit.
        balance_standing: the balance after it (the API sends ``10.63`` or ``"$14.630"``).
        type_id: the API's numeric entry type; ``type_description`` its (often empty) name.
        message_id: the message it paid for, if any (``None`` when not given or ``0``).
        message_status, message_cost, message_revenue: message details, where the API gives them.
    """

    id: int = api_field(to_int)
    user_id: int = api_field(to_int)
    description: str = api_field(to_str)
    amount: Decimal = api_field(to_decimal)
    balance_standing: Decimal = api_field(to_decimal)
    created: datetime | None = api_field(to_datetime)
    type_id: int = api_field(to_int)
    type_description: str = api_field(to_str)
    message_id: int | None = api_field(_optional_id)
    message_status: str = api_field(to_str)
    message_cost: Decimal | None = api_field(opt(to_decimal))
    message_revenue: Decimal | None = api_field(opt(to_decimal))
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Transaction:
        return from_api(cls, data)
