"""Virtual numbers, sender IDs, keywords and e-mail-to-SMS: get-numbers, get-number, lease-number,
edit-number-options, get-sender-ids, add-keyword, edit-keyword, get-keywords, add-email, delete-email.

Numbers available for lease are the 11-digit ``6148…`` numbers nobody leases yet.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from ._calls_lists import find_list
from ._calls_sms import money, num
from ._params import ApiFailure, Context, Handler, Params, field_invalid, paginate, with_items
from ._phone import normalise
from ._state import MONTH, ContactList, Keyword, VirtualNumber, date_text

__all__ = ["HANDLERS"]

AVAILABLE_SHOWN = 50
_EMAIL = re.compile(r"(\*|[^@\s,]+)@[^@\s,]+\.[^@\s,]+\Z")


def _number_view(vn: VirtualNumber) -> dict[str, Any]:
    return {
        "number": num(vn.number),
        "price": money(vn.price),
        "auto_renew": vn.auto_renew,
        "next_charge": vn.next_charge(),
        "status": vn.status,
    }


def _owned(ctx: Context, p: Params, name: str = "number") -> VirtualNumber:
    vn = ctx.account.numbers.get(normalise(p.required_text(name)) or "")
    if vn is None:
        raise field_invalid("This number is not leased to you.")
    return vn


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
    return _number_view(_owned(ctx, p))


def lease_number(ctx: Context, p: Params) -> dict[str, Any]:
    state = ctx.sandbox.state
    if p.text("number"):
        number = normalise(p.required_text("number"))
        taken = {n for a in state.accounts.values() for n in a.numbers}
        if number is None or not re.fullmatch(r"6148\d{7}", number) or number in taken:
            raise field_invalid("This number is not available for lease.")
    else:
        number = next(state.available_numbers())
    price = ctx.sandbox.config.number_price
    if price > ctx.account.balance + 1e-9:
        raise ApiFailure("LEDGER_ERROR", "Insufficient funds to lease this number")
    vn = VirtualNumber(number, price, ctx.now, forward_url=p.text("forward_url") or p.text("url") or "")
    ctx.account.numbers[number] = vn
    state.record_transaction(ctx.account, ctx.now, -price, description=f"Number Lease - {number}", type_id=5)
    view = _number_view(vn)
    return {k: view[k] for k in ("number", "price", "next_charge", "auto_renew", "status")}


def edit_number_options(ctx: Context, p: Params) -> dict[str, Any]:
    vn = _owned(ctx, p)
    if p.integer("list_id"):
        vn.list_id = find_list(ctx, p.required_int("list_id")).id
    for name in ("forward_email", "forward_sms", "forward_url", "welcome_message", "members_message"):
        if name in p:
            setattr(vn, name, p.text(name) or "")
    return {}


def get_sender_ids(ctx: Context, p: Params) -> dict[str, Any]:
    numbers = [num(n.number) for n in ctx.account.numbers.values() if n.status == "active"]
    return {"caller_ids": {"Virtual Number": numbers, "Business Name": [], "Mobile Number": []}}


def _keyword_view(k: Keyword) -> dict[str, Any]:
    return {
        "keyword": k.keyword,
        "reference": k.reference,
        "number": num(k.number),
        "list_id": k.list_id,
        "welcome_message": k.welcome_message,
        "member_message": k.member_message,
        "forward_url": k.forward_url,
        "forward_sms": k.forward_sms,
        "forward_email": k.forward_email,
        "status": k.status,
        "billing_date": date_text(k.created + MONTH),
    }


def _apply_keyword(ctx: Context, p: Params, k: Keyword) -> None:
    if "reference" in p:
        k.reference = p.text("reference", max_len=100) or ""
    for name in ("welcome_message", "forward_url", "forward_sms", "forward_email"):
        if name in p:
            setattr(k, name, p.text(name) or "")
    for name in ("members_message", "member_message"):
        if name in p:
            k.member_message = p.text(name) or ""
    if p.integer("list_id"):
        k.list_id = find_list(ctx, p.required_int("list_id")).id


def add_keyword(ctx: Context, p: Params) -> dict[str, Any]:
    word = p.required_text("keyword", max_len=50).strip().upper()
    vn = _owned(ctx, p)
    if any(k.keyword == word and k.number == vn.number for k in ctx.account.keywords):
        raise ApiFailure("KEY_EXISTS", "This keyword already exists on this number")
    keyword = Keyword(ctx.sandbox.state.next_id("keyword"), word, vn.number, ctx.now)
    _apply_keyword(ctx, p, keyword)
    if not keyword.list_id:
        auto = ContactList(ctx.sandbox.state.next_id("list"), f"auto list for keyword {word}", None)
        ctx.account.lists[auto.id] = auto
        keyword.list_id = auto.id
    keyword.status = "open" if p.boolean("activate", True) else "closed"
    ctx.account.keywords.append(keyword)
    return _keyword_view(keyword)


def edit_keyword(ctx: Context, p: Params) -> dict[str, Any]:
    word = p.required_text("keyword").strip().upper()
    vn = _owned(ctx, p)
    keyword = next((k for k in ctx.account.keywords if k.keyword == word and k.number == vn.number), None)
    if keyword is None:
        raise ApiFailure("NOT_FOUND", "Keyword does not exist")
    _apply_keyword(ctx, p, keyword)
    if p.text("status"):
        status = p.choice("status", ("open", "closed", "active", "inactive"), "open")
        keyword.status = "open" if status in ("open", "active") else "closed"
    return _keyword_view(keyword)


def get_keywords(ctx: Context, p: Params) -> dict[str, Any]:
    number = normalise(p.required_text("number")) if p.text("number") else None
    rows = [k for k in ctx.account.keywords if number is None or k.number == number]
    page, items = paginate(p, rows)
    return with_items({"page": page, "keywords_total": len(rows)}, "keywords", items, _keyword_view)


def add_email(ctx: Context, p: Params) -> dict[str, Any]:
    email = p.required_text("email", max_len=255).strip().lower()
    if not _EMAIL.match(email):
        raise field_invalid("Field 'email' is not a valid e-mail address")
    max_sms = p.integer("max_sms") or 1
    if not 1 <= max_sms <= 4:
        raise field_invalid("Field 'max_sms' must be between 1 and 4")
    number = _owned(ctx, p).number if p.text("number") else ""
    ctx.account.emails[email] = {"max_sms": str(max_sms), "number": number}
    return {"success": True}


def delete_email(ctx: Context, p: Params) -> dict[str, Any]:
    email = p.required_text("email", max_len=255).strip().lower()
    if email.startswith("*@"):
        doomed = [e for e in ctx.account.emails if e.endswith(email[1:])]
    else:
        doomed = [email] if email in ctx.account.emails else []
    if not doomed:
        raise ApiFailure("NOT_FOUND", "This e-mail address is not authorised")
    for e in doomed:
        del ctx.account.emails[e]
    return {"success": True}


HANDLERS: dict[str, Handler] = {
    "get-numbers": get_numbers,
    "get-number": get_number,
    "lease-number": lease_number,
    "edit-number-options": edit_number_options,
    "get-sender-ids": get_sender_ids,
    "add-keyword": add_keyword,
    "edit-keyword": edit_keyword,
    "get-keywords": get_keywords,
    "add-email": add_email,
    "delete-email": delete_email,
}
