"""``client.keywords``: keywords on dedicated numbers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._exceptions import InvalidRequestError
from .._pagination import AsyncPaginator, PageSpec
from .._sms_text import normalise_number, number_list, optional_number
from .._validate import (
    non_empty,
    optional_flag,
    optional_id,
    optional_str,
    optional_texts,
    optional_url,
    shown,
)
from ..models.keywords import Keyword
from ._base import Resource

__all__ = ["KeywordsResource"]

MAX_REFERENCE = 100


def _options(
    *,
    reference: str | None,
    list_id: int | None,
    welcome_message: str | None,
    members_message: str | None,
    forward_url: str | None,
    forward_email: Iterable[str] | None,
    forward_sms: Iterable[str] | None,
) -> dict[str, Any]:
    """The optional fields add-keyword and edit-keyword share, checked; ``None`` is not sent."""
    return {
        "reference": optional_str("reference", reference, max_length=MAX_REFERENCE),
        "list_id": optional_id("list_id", list_id),
        "welcome_message": optional_str("welcome_message", welcome_message),
        "members_message": optional_str("members_message", members_message),
        "forward_url": optional_url("forward_url", forward_url),
        "forward_email": optional_texts("forward_email", forward_email),
        "forward_sms": number_list("forward_sms", forward_sms),
    }


KEYWORD_STATUSES = ("Open", "Closed")
"""The values edit-keyword's ``status`` takes, as the published specification spells them."""


def _status(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        for status in KEYWORD_STATUSES:
            if value.strip().lower() == status.lower():
                return status
    raise InvalidRequestError(
        f"status must be one of {', '.join(KEYWORD_STATUSES)}, got {shown('status', value)}"
    )


class KeywordsResource(Resource):
    """Keywords: the first word of an inbound text to a dedicated number triggers replies,
    forwarding and list sign-up."""

    __slots__ = ()

    async def add(
        self,
        keyword: str,
        number: str,
        *,
        reference: str | None = None,
        list_id: int | None = None,
        welcome_message: str | None = None,
        members_message: str | None = None,
        activate: bool | None = None,
        forward_url: str | None = None,
        forward_email: Iterable[str] | None = None,
        forward_sms: Iterable[str] | None = None,
    ) -> Keyword:
        """Create ``keyword`` on dedicated ``number``.

        Without ``list_id`` the API creates a list "auto list for keyword …" for respondents.
        ``welcome_message`` greets new members, ``members_message`` existing ones; ``reference`` is
        up to 100 characters; ``activate`` defaults to true on the API. Calls ``add-keyword``.
        """
        params = {
            "keyword": non_empty("keyword", keyword),
            "number": normalise_number("number", number),
            "activate": optional_flag("activate", activate),
            **_options(
                reference=reference,
                list_id=list_id,
                welcome_message=welcome_message,
                members_message=members_message,
                forward_url=forward_url,
                forward_email=forward_email,
                forward_sms=forward_sms,
            ),
        }
        return await self._read("add-keyword", params, Keyword.from_api)

    async def edit(
        self,
        keyword: str,
        number: str,
        *,
        status: str | None = None,
        activate: bool | None = None,
        reference: str | None = None,
        list_id: int | None = None,
        welcome_message: str | None = None,
        members_message: str | None = None,
        forward_url: str | None = None,
        forward_email: Iterable[str] | None = None,
        forward_sms: Iterable[str] | None = None,
    ) -> Keyword:
        """Change the keyword ``keyword`` on ``number``; only what is given is sent.

        ``status``: ``"Open"`` activates, ``"Closed"`` closes (the published values; either is
        accepted in any case and sent as published). ``activate`` is add-keyword's switch, which
        edit-keyword takes too. Calls ``edit-keyword``.
        """
        params = {
            "keyword": non_empty("keyword", keyword),
            "number": normalise_number("number", number),
            "status": _status(status),
            "activate": optional_flag("activate", activate),
            **_options(
                reference=reference,
                list_id=list_id,
                welcome_message=welcome_message,
                members_message=members_message,
                forward_url=forward_url,
                forward_email=forward_email,
                forward_sms=forward_sms,
            ),
        }
        return await self._read("edit-keyword", params, Keyword.from_api)

    def list(
        self,
        *,
        number: str | None = None,
        page_size: int = 100,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[Keyword]:
        """Every keyword, or those on ``number``, lazily. Calls ``get-keywords``."""
        params = {"number": optional_number("number", number)}
        spec = PageSpec("keywords", ("keywords_total",), row_key=("keyword", "number"))
        return self._paginate(
            "get-keywords",
            params,
            spec,
            Keyword.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )
