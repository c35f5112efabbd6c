"""Virtual numbers and sender IDs (``client.numbers``): get-numbers, get-number, lease-number,
edit-number-options, get-sender-ids.

Numbers available for lease are the 11-digit ``6148…`` numbers nobody leases yet.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from .._params import ApiFailure, Context, Handler, Params, field_invalid, paginate, with_items
from .._phone import normalise
from .._state import VirtualNumber
from ._shared import approved_senders, find_list, money, num, owned_number, url_param

__all__ = ["HANDLERS"]

AVAILABLE_SHOWN = 50


def _number_view(vn: VirtualNumber) -> dict[str, Any]:
    return {
        "number": num(vn.number),
        "price": money(vn.price),
        "auto_renew": vn.auto_renew,
        "next_charge": vn.next_charge(),
        "status": vn.status,
    }


def get_numbers(ctx: Context, p: Params) -> dict[str, Any]:
    which = p.choice("filter", ("owned", "available"), "owned")
    if which == "owned":
        rows = [_number_view(vn) for vn in ctx.account.numbers.values()]
    else:
        price = money(ctx.sandbox.config.number_price)
        free = itertools.islice(ctx.sandbox.state.available_numbers(), AVAILABLE_SHOWN)
        rows = [{"number": num(n), "price": price} for n in free]
    page, items = paginate(p, rows)
    return with_items({"page": page, "numbers_total": len(rows), "filter": which}, "numbers", items, dict)


def get_number(ctx: Context, p: Params) -> dict[str, Any]:
    return _number_view(owned_number(ctx, p))


def lease_number(ctx: Context, p: Params) -> dict[str, Any]:
    state = ctx.sandbox.state
    if p.text("number"):
        number = normalise(p.required_text("number"))
        taken = {n for a in state.accounts.values() for n in a.numbers}
        if number is None or not re.fullmatch(r"6148\d{7}", number) or number in taken:
            raise field_invalid("This number is not available for lease.")
    else:
        number = next(state.available_numbers())
    forward_url = url_param(p, "forward_url") or url_param(p, "url")
    price = ctx.sandbox.config.number_price
    if price > ctx.account.balance + 1e-9:
        raise ApiFailure("LEDGER_ERROR", "Insufficient funds to lease this number")
    vn = VirtualNumber(number, price, ctx.now, forward_url=forward_url)
    ctx.account.numbers[number] = vn
    state.record_transaction(ctx.account, ctx.now, -price, description=f"Number Lease - {number}", type_id=5)
    view = _number_view(vn)
    return {k: view[k] for k in ("number", "price", "next_charge", "auto_renew", "status")}


def edit_number_options(ctx: Context, p: Params) -> dict[str, Any]:
    vn = owned_number(ctx, p)
    changes: dict[str, Any] = {}
    if p.integer("list_id"):
        changes["list_id"] = find_list(ctx, p.required_int("list_id")).id
    for name in ("forward_email", "forward_sms", "welcome_message", "members_message"):
        if name in p:
            changes[name] = p.text(name) or ""
    if "forward_url" in p:
        changes["forward_url"] = url_param(p, "forward_url")
    for name, value in changes.items():  # all validated first: an error changes nothing
        setattr(vn, name, value)
    return {}


def get_sender_ids(ctx: Context, p: Params) -> dict[str, Any]:
    numbers = [num(n.number) for n in ctx.account.numbers.values() if n.status == "active"]
    approved = approved_senders(ctx)
    return {
        "caller_ids": {
            "Virtual Number": numbers,
            "Business Name": approved["Business Name"],
            "Mobile Number": [num(n) for n in approved["Mobile Number"]],
        }
    }


HANDLERS: dict[str, Handler] = {
    "get-numbers": get_numbers,
    "get-number": get_number,
    "lease-number": lease_number,
    "edit-number-options": edit_number_options,
    "get-sender-ids": get_sender_ids,
}
