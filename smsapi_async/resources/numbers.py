"""``client.numbers``: dedicated virtual numbers and sender IDs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from .._pagination import AsyncPaginator, PageSpec
from .._sms_text import normalise_number, number_list, optional_number
from .._validate import (
    one_of,
    optional_id,
    optional_str,
    optional_texts,
    optional_url,
)
from ..models.numbers import SenderIds, VirtualNumber
from ._base import Resource

__all__ = ["NumbersResource"]

_FILTERS = ("owned", "available")


class NumbersResource(Resource):
    """Dedicated numbers: list, look up, lease, and route their inbound messages."""

    __slots__ = ()

    def list(
        self,
        *,
        filter: Literal["owned", "available"] = "owned",
        page_size: int = 100,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[VirtualNumber]:
        """Your leased numbers (``"owned"``) or numbers you could lease (``"available"``), lazily.

        Calls ``get-numbers``.
        """
        one_of("filter", filter, _FILTERS)
        spec = PageSpec("numbers", ("numbers_total",), row_key=("number",))
        return self._paginate(
            "get-numbers",
            {"filter": filter},
            spec,
            VirtualNumber.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    async def get(self, number: str) -> VirtualNumber:
        """One of your leased numbers; ``InvalidFieldError`` if it is not (or no longer) yours.

        Calls ``get-number``.
        """
        return await self._read(
            "get-number", {"number": normalise_number("number", number)}, VirtualNumber.from_api
        )

    async def lease(self, number: str | None = None, *, forward_url: str | None = None) -> VirtualNumber:
        """Lease ``number`` (one from ``list(filter="available")``), or a random one if omitted.

        This **charges the account** and is never resent after an unknown outcome. ``forward_url``
        receives the number's inbound messages. Calls ``lease-number``.
        """
        params = {
            "number": optional_number("number", number),
            "forward_url": optional_url("forward_url", forward_url),
        }
        return await self._read("lease-number", params, VirtualNumber.from_api)

    async def edit_options(
        self,
        number: str,
        *,
        forward_email: Iterable[str] | None = None,
        forward_sms: Iterable[str] | None = None,
        forward_url: str | None = None,
        list_id: int | None = None,
        welcome_message: str | None = None,
        members_message: str | None = None,
    ) -> None:
        """Set how inbound messages to ``number`` are handled; only the options given are sent.

        ``forward_email`` / ``forward_sms`` forward them to addresses / mobiles; ``forward_url`` to
        a callback; ``list_id`` adds senders to a list, greeted by ``welcome_message`` (new) or
        ``members_message`` (already on the list). Calls ``edit-number-options``.
        """
        params = {
            "number": normalise_number("number", number),
            "forward_email": optional_texts("forward_email", forward_email),
            "forward_sms": number_list("forward_sms", forward_sms),
            "forward_url": optional_url("forward_url", forward_url),
            "list_id": optional_id("list_id", list_id),
            "welcome_message": optional_str("welcome_message", welcome_message),
            "members_message": optional_str("members_message", members_message),
        }
        await self._call("edit-number-options", params)

    async def sender_ids(self) -> SenderIds:
        """Sender IDs usable on the account. **Legacy** and **experimental**: seen only in the C#
        client, not in the published specification; the call may not exist on your account
        (``UnknownCallError``). Calls ``get-sender-ids``."""
        return await self._read("get-sender-ids", None, SenderIds.from_api)
