"""What the call handlers share: value rendering (numbers, money, message summaries), look-ups of the
caller's own messages, lists, clients and numbers (``NOT_FOUND`` / ``NO_ACCESS`` otherwise), and checks
of URL parameters. Handler modules import from here, never from each other."""

from __future__ import annotations

from typing import Any

from .._callbacks import UnusableUrl, check_callback_url
from .._lifecycle import delivery_stats
from .._params import ApiFailure, Context, Params, field_invalid
from .._phone import normalise
from .._report_index import report_index
from .._state import Account, ContactList, Message, VirtualNumber, datetime_text

__all__ = [
    "approved_senders",
    "field_value",
    "find_client",
    "find_list",
    "find_message",
    "money",
    "num",
    "owned_number",
    "require_reseller",
    "summary",
    "url_param",
]


def num(value: str | None) -> int | str | None:
    """Phone-number-like fields are JSON integers when they are all digits."""
    if value is None:
        return None
    return int(value) if value.isdigit() and len(value) < 19 else value


def field_value(value: str) -> int | str:
    """A contact's custom-field value as the API prints it: a number when it is one (recorded answers
    have ``"Postcode": 2758``), else text. Digits with a leading zero (``0800``) stay text: read as a
    number they would lose the zero, and no recording shows what the API does with them."""
    if value.isascii() and value.isdigit() and len(value) <= 15 and (value == "0" or value[0] != "0"):
        return int(value)
    return value


def money(value: float) -> float | int:
    """An amount as the API prints it: at most three decimals, whole amounts as integers."""
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def approved_senders(ctx: Context) -> dict[str, list[str]]:
    """The account's approved senders besides its numbers (``AccountConfig.sender_ids``): mobile
    numbers (normalised) and business names."""
    config = next((a for a in ctx.sandbox.config.accounts if a.api_key == ctx.account.api_key), None)
    mobiles: list[str] = []
    names: list[str] = []
    for sender in config.sender_ids if config else ():
        number = normalise(sender)
        if number is not None:
            mobiles.append(number)
        else:
            names.append(sender)
    return {"Mobile Number": mobiles, "Business Name": names}


def find_message(ctx: Context, message_id: int) -> Message:
    message = ctx.sandbox.state.messages.get(message_id)
    if message is None or message.account_id != ctx.account.id:
        raise ApiFailure("NOT_FOUND", "Message with this ID does not exist")
    ctx.sandbox.state.touch_message(message)  # the caller may change it (recipients are marked apart)
    return message


def find_list(ctx: Context, list_id: int) -> ContactList:
    contact_list = ctx.account.lists.get(list_id)
    if contact_list is None:
        raise ApiFailure("NOT_FOUND", "List with this ID does not exist")
    ctx.sandbox.state.touch_list(ctx.account, contact_list)  # its members are marked apart
    return contact_list


def require_reseller(ctx: Context) -> None:
    if not ctx.account.reseller:
        raise ApiFailure("NO_ACCESS", "You do not have access to this feature")


def find_client(ctx: Context, client_id: int) -> Account:
    """A client account of the caller (a reseller)."""
    client = ctx.sandbox.state.accounts.get(client_id)
    if client is None or client.parent_id != ctx.account.id:
        raise ApiFailure("NOT_FOUND", "Client with this ID does not exist")
    ctx.sandbox.state.touch_account(client)
    return client


def owned_number(ctx: Context, p: Params, name: str = "number") -> VirtualNumber:
    """The virtual number named by parameter ``name``, which the caller must lease."""
    vn = ctx.account.numbers.get(normalise(p.required_text(name)) or "")
    if vn is None:
        raise field_invalid("This number is not leased to you.")
    return vn


def url_param(p: Params, name: str) -> str:
    """An optional http(s) URL parameter ("" when absent or blank) that a request can be made to."""
    value = (p.text(name) or "").strip()
    if not value:
        return ""
    try:
        return check_callback_url(value)
    except UnusableUrl:
        raise field_invalid(f"Field '{name}' must be a valid http(s) URL") from None


def summary(
    ctx: Context, message: Message, *, with_text: bool = False, just_sent: bool = False
) -> dict[str, Any]:
    """The message block of send-sms, get-sms and get-sms-sent. The send-sms answer
    (``just_sent``) counts nothing yet: every recorded send-sms payload has zero delivery stats."""
    out: dict[str, Any] = {
        "message_id": message.id,
        "send_at": datetime_text(message.send_at),
        "recipients": len(message.recipients),
        "cost": money(message.cost),
        "sms": report_index(ctx.sandbox.state).sms(message),
    }
    if message.list_id:
        out["list"] = {"id": message.list_id, "name": message.list_name}
    if with_text:
        out["message"] = message.text
    stats = delivery_stats(ctx.sandbox, message, ctx.now)
    out["delivery_stats"] = dict.fromkeys(stats, 0) if just_sent else stats
    return out
