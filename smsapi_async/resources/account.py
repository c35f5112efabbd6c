"""``client.account``: the account's own state."""

from __future__ import annotations

from ..models.account import Balance
from ._base import Resource

__all__ = ["AccountResource"]


class AccountResource(Resource):
    """``client.account``: calls about the account itself."""

    __slots__ = ()

    async def balance(self) -> Balance:
        """The account's balance and its currency. Calls ``get-balance``."""
        return await self._read("get-balance", None, Balance.from_api)
