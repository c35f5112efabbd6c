"""Keyword calls (``client.keywords``): add-keyword, edit-keyword, get-keywords.

A keyword belongs to one of the caller's virtual numbers; an inbound SMS whose first word matches it
adds the sender to the keyword's list (a new "auto list" when none is given).
"""

from __future__ import annotations

from typing import Any

from .._params import ApiFailure, Context, Handler, Params, paginate, with_items
from .._phone import normalise
from .._state import MONTH, ContactList, Keyword, date_text
from ._shared import find_list, num, owned_number, url_param

__all__ = ["HANDLERS"]


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


def _keyword_changes(ctx: Context, p: Params) -> dict[str, Any]:
    """The attributes the call sets, all validated before anything changes."""
    changes: dict[str, Any] = {}
    if "reference" in p:
        changes["reference"] = p.text("reference", max_len=100) or ""
    for name in ("welcome_message", "forward_sms", "forward_email"):
        if name in p:
            changes[name] = p.text(name) or ""
    if "forward_url" in p:
        changes["forward_url"] = url_param(p, "forward_url")
    for name in ("members_message", "member_message"):
        if name in p:
            changes["member_message"] = p.text(name) or ""
    if p.integer("list_id"):
        changes["list_id"] = find_list(ctx, p.required_int("list_id")).id
    return changes


def add_keyword(ctx: Context, p: Params) -> dict[str, Any]:
    word = p.required_text("keyword", max_len=50).strip().upper()
    vn = owned_number(ctx, p)
    if any(k.keyword == word and k.number == vn.number for k in ctx.account.keywords):
        raise ApiFailure("KEY_EXISTS", "This keyword already exists on this number")
    changes = _keyword_changes(ctx, p)
    status = "open" if p.boolean("activate", True) else "closed"
    keyword = Keyword(ctx.sandbox.state.next_id("keyword"), word, vn.number, ctx.now, **changes)
    if not keyword.list_id:
        auto = ContactList(ctx.sandbox.state.next_id("list"), f"auto list for keyword {word}", None)
        ctx.account.lists[auto.id] = auto
        ctx.sandbox.state.touch_list(ctx.account, auto)
        keyword.list_id = auto.id
    keyword.status = status
    ctx.account.keywords.append(keyword)
    return _keyword_view(keyword)


def edit_keyword(ctx: Context, p: Params) -> dict[str, Any]:
    word = p.required_text("keyword").strip().upper()
    vn = owned_number(ctx, p)
    keyword = next((k for k in ctx.account.keywords if k.keyword == word and k.number == vn.number), None)
    if keyword is None:
        raise ApiFailure("NOT_FOUND", "Keyword does not exist")
    changes = _keyword_changes(ctx, p)
    if p.text("status"):  # "Open" or "Closed" exactly, as the contract enumerates them (_contract.py)
        changes["status"] = p.choice("status", ("open", "closed"), "open")
    for name, value in changes.items():
        setattr(keyword, name, value)
    return _keyword_view(keyword)


def get_keywords(ctx: Context, p: Params) -> dict[str, Any]:
    number = normalise(p.required_text("number")) if p.text("number") else None
    rows = [k for k in ctx.account.keywords if number is None or k.number == number]
    page, items = paginate(p, rows)
    return with_items({"page": page, "keywords_total": len(rows)}, "keywords", items, _keyword_view)


HANDLERS: dict[str, Handler] = {
    "add-keyword": add_keyword,
    "edit-keyword": edit_keyword,
    "get-keywords": get_keywords,
}
