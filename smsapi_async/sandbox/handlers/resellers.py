"""Reseller and ledger calls (``client.resellers``): get-client, get-clients, add-client, edit-client,
get-transactions, get-transaction.

Client calls need a reseller account (else NO_ACCESS). A new client starts with a zero balance (top it
up with ``POST /_sandbox/credit``) and can authenticate with its own ``apikey``/``apisecret`` at once.
"""

from __future__ import annotations

import secrets
from typing import Any

from .._config import AccountConfig
from .._params import (
    ApiFailure,
    Context,
    Handler,
    Params,
    field_invalid,
    paginate,
    paginate_window,
    with_items,
)
from .._phone import normalise
from .._report_index import report_index
from .._state import Account, Transaction, date_text, datetime_text
from ._shared import find_client, money, num, require_reseller

__all__ = ["HANDLERS"]


def client_view(ctx: Context, a: Account) -> dict[str, Any]:
    spend, sms = report_index(ctx.sandbox.state).totals(a.id, ctx.now)  # messages not cancelled
    return {
        "id": a.id,
        "name": a.name,
        "contact": a.contact,
        "email": a.email,
        "msisdn": num(a.msisdn) if a.msisdn else None,
        "currency": a.currency,
        "client_pays": a.client_pays,
        "sms_margin": money(a.sms_margin),
        "timezone": a.timezone,
        "created": datetime_text(a.created),
        "apikey": a.api_key,
        "apisecret": a.api_secret,
        "recharge_amount": money(a.fixed_top_up_amount),
        "total_lists": len(a.lists),
        "total_sms": sms,
        "total_contacts": sum(len(lst.members) for lst in a.lists.values()),
        "total_spend": money(spend),
        "total_revenue": money(sms * a.sms_margin / 100),
        "credit_based": False,
        "trial": "no",
        "trial_expiry_date": date_text(a.created),
        "balance": money(a.balance),
    }


def get_client(ctx: Context, p: Params) -> dict[str, Any]:
    client_id = p.integer("client_id")
    if not client_id or client_id == ctx.account.id:
        return client_view(ctx, ctx.account)
    require_reseller(ctx)
    return client_view(ctx, find_client(ctx, client_id))


def get_clients(ctx: Context, p: Params) -> dict[str, Any]:
    require_reseller(ctx)
    clients = report_index(ctx.sandbox.state).clients(ctx.account.id)
    page, items = paginate(p, clients)
    return with_items(
        {"page": page, "clients_total": len(clients)},
        "clients",
        items,
        lambda a: client_view(ctx, a),
    )


def _changes(ctx: Context, p: Params, client: Account | None) -> dict[str, Any]:
    """What add-client / edit-client set on ``client`` (``None``: a new one), all validated first."""
    state = ctx.sandbox.state
    changes: dict[str, Any] = {}
    if p.text("name"):
        name = p.required_text("name", max_len=255)
        siblings = [a for a in state.accounts.values() if a.parent_id == ctx.account.id]
        if any(a.name == name and a is not client for a in siblings):
            raise ApiFailure("KEY_EXISTS", "A client with this name already exists")
        changes["name"] = name
    if p.text("email"):
        email = p.required_text("email", max_len=255).strip()
        if "@" not in email:
            raise field_invalid("Field 'email' is not a valid e-mail address")
        if any(a.email.lower() == email.lower() and a is not client for a in state.accounts.values()):
            raise ApiFailure("KEY_EXISTS", "User already exists")
        changes["email"] = email
    if p.text("msisdn"):
        changes["msisdn"] = normalise(p.required_text("msisdn")) or ""
        if not changes["msisdn"]:
            raise field_invalid("Field 'msisdn' is not a valid phone number")
    for name in ("contact", "timezone", "password", "payment_method"):
        if p.text(name):
            changes[name] = p.text(name, max_len=255)
    if p.text("client_pays"):
        changes["client_pays"] = p.boolean("client_pays", True)
    for name in ("sms_margin", "number_margin", "fixed_top_up_amount"):
        value = p.decimal(name, maximum=1e6)
        if value is not None:
            changes[name] = value
    return changes


def add_client(ctx: Context, p: Params) -> dict[str, Any]:
    require_reseller(ctx)
    for name in ("name", "email", "password", "msisdn"):
        p.required_text(name)
    secret = p.text("api_secret", max_len=255) or secrets.token_urlsafe(12)
    config = AccountConfig(
        api_key=ctx.sandbox.state.new_api_key(),
        api_secret=secret,
        name="",
        email="",
        balance=0.0,
        currency=ctx.account.currency,
        timezone=ctx.account.timezone,
        reseller=False,
        numbers=(),
    )
    changes = _changes(ctx, p, None)  # everything validated before the account exists
    account = ctx.sandbox.state.add_account(config, ctx.now, parent_id=ctx.account.id)
    for name, value in changes.items():
        setattr(account, name, value)
    return client_view(ctx, account)


def edit_client(ctx: Context, p: Params) -> dict[str, Any]:
    require_reseller(ctx)
    client = find_client(ctx, p.required_int("client_id"))
    for name, value in _changes(ctx, p, client).items():
        setattr(client, name, value)
    return client_view(ctx, client)


def _ledger_owner(ctx: Context, client_id: int) -> Account:
    return ctx.account if client_id == ctx.account.id else find_client(ctx, client_id)


def get_transactions(ctx: Context, p: Params) -> dict[str, Any]:
    owner = _ledger_owner(ctx, p.required_int("client_id"))
    start, end = p.timestamp("start"), p.timestamp("end")
    ledger = owner.transactions
    window = report_index(ctx.sandbox.state).ledger_window(owner, start, end)
    if window is None:  # not in time order: filter it whole
        rows = [
            t
            for t in reversed(ledger)
            if (start is None or t.created >= start) and (end is None or t.created <= end)
        ]
        total = len(rows)
        page, items = paginate(p, rows)
    else:  # newest first, read from the window's end
        i, j = window
        total = j - i
        page, items = paginate_window(p, total, lambda o, n: ledger[max(i, j - o - n) : max(i, j - o)][::-1])

    def view(t: Transaction) -> dict[str, Any]:
        return {
            "id": t.id,
            "user_id": t.user_id,
            "description": t.description,
            "amount": money(t.amount),
            "balance_standing": f"${t.balance_standing:.3f}",
            "created": datetime_text(t.created),
            "type_description": t.type_description,
            "type_id": t.type_id,
        }

    return with_items({"page": page, "transactions_total": total}, "transactions", items, view)


def get_transaction(ctx: Context, p: Params) -> dict[str, Any]:
    wanted = p.required_int("id")
    owners = [ctx.account] + [a for a in ctx.sandbox.state.accounts.values() if a.parent_id == ctx.account.id]
    for owner in owners:
        for t in owner.transactions:
            if t.id == wanted:
                return {
                    "id": t.id,
                    "user_id": t.user_id,
                    "description": t.description,
                    "amount": money(t.amount),
                    "balance_standing": money(t.balance_standing),
                    "created": datetime_text(t.created),
                    "message_id": t.message_id,
                    "type_description": t.type_description,
                    "type_id": t.type_id,
                }
    raise ApiFailure("NOT_FOUND", "Transaction with this ID does not exist")


HANDLERS: dict[str, Handler] = {
    "get-client": get_client,
    "get-clients": get_clients,
    "add-client": add_client,
    "edit-client": edit_client,
    "get-transactions": get_transactions,
    "get-transaction": get_transaction,
}
