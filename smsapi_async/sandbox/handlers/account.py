"""Account calls (``client.account``): get-balance."""

from __future__ import annotations

from typing import Any

from .._params import Context, Handler, Params
from ._shared import money

__all__ = ["HANDLERS"]


def get_balance(ctx: Context, p: Params) -> dict[str, Any]:
    return {"balance": money(ctx.account.balance), "currency": ctx.account.currency}


HANDLERS: dict[str, Handler] = {
    "get-balance": get_balance,
}
