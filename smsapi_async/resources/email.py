"""``client.email``: addresses allowed to send SMS by e-mail."""

from __future__ import annotations

import re

from .._exceptions import InvalidRequestError
from .._sms_text import optional_number
from .._validate import non_empty, shown, whole_number
from ..models.email import EmailSmsResult
from ._base import Resource

__all__ = ["EmailResource"]

MAX_SMS_PARTS = 4


# one address (or "*" for every address of the domain) at a dotted domain; a comma would make two
_ADDRESS = re.compile(r"(\*|[^@\s,]+)@[^@\s,]+\.[^@\s,]+")


def _address(email: str) -> str:
    text = non_empty("email", email)
    if not _ADDRESS.fullmatch(text):
        raise InvalidRequestError(
            f"email must be an address or a wildcard like '*@example.com'; got {shown('email', text)}"
        )
    return text


class EmailResource(Resource):
    """Email-to-SMS: authorised addresses can send SMS by sending e-mail."""

    __slots__ = ()

    async def add(
        self, email: str, *, max_sms: int | None = None, number: str | None = None
    ) -> EmailSmsResult:
        """Allow ``email`` (or every address of a domain: ``"*@example.com"``) to send SMS.

        ``max_sms`` caps the SMS parts one e-mail may become: 1 (the API's default, 160
        characters), 2 (306), 3 (459) or 4 (612). ``number`` is the dedicated number to send from.
        Calls ``add-email``.
        """
        if max_sms is not None:
            whole_number("max_sms", max_sms, 1, MAX_SMS_PARTS)
        params = {
            "email": _address(email),
            "max_sms": max_sms,
            "number": optional_number("number", number),
        }
        return await self._read("add-email", params, EmailSmsResult.from_api)

    async def delete(self, email: str) -> EmailSmsResult:
        """Revoke ``email``; a wildcard (``"*@example.com"``) revokes the domain. Calls ``delete-email``."""
        return await self._read("delete-email", {"email": _address(email)}, EmailSmsResult.from_api)
