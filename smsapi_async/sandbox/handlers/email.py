"""E-mail-to-SMS calls (``client.email``): add-email, delete-email."""

from __future__ import annotations

import re
from typing import Any

from .._params import ApiFailure, Context, Handler, Params, field_invalid
from ._shared import owned_number

__all__ = ["HANDLERS"]

_EMAIL = re.compile(r"(\*|[^@\s,]+)@[^@\s,]+\.[^@\s,]+\Z")


def add_email(ctx: Context, p: Params) -> dict[str, Any]:
    email = p.required_text("email", max_len=255).strip().lower()
    if not _EMAIL.match(email):
        raise field_invalid("Field 'email' is not a valid e-mail address")
    max_sms = p.integer("max_sms") or 1
    if not 1 <= max_sms <= 4:
        raise field_invalid("Field 'max_sms' must be between 1 and 4")
    number = owned_number(ctx, p).number if p.text("number") else ""
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
    "add-email": add_email,
    "delete-email": delete_email,
}
