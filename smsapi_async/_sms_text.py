"""What an SMS costs in parts, and the checks ``send-sms`` arguments go through before a call is spent.

Part counting follows GSM 03.38 / 3GPP 23.040: a message wholly in the GSM-7 alphabet is counted in
septets (the extension characters ``^{}\\[~]|€`` and form feed take two: an escape plus the
character) with 160 in a single SMS and 153 per part of a multi-part one (the rest carries the
concatenation header). Anything else goes as UCS-2, counted in UTF-16 code units (an emoji outside
the Basic Multilingual Plane takes two) with 70 / 67. An escape pair or a surrogate pair is never
split across two parts, so a part may carry one unit less than its maximum, as handsets do it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, NamedTuple

from ._exceptions import InvalidRequestError
from ._validate import check_url, is_unicode, shown

__all__ = [
    "GSM7",
    "GSM_CHARACTERS",
    "GSM_EXTENSION",
    "MAX_MESSAGE_LENGTH",
    "MAX_RECIPIENTS",
    "MULTI_PART",
    "SINGLE_PART",
    "UCS2",
    "SmsParts",
    "check_email",
    "check_message",
    "check_parts",
    "check_sender",
    "check_url",
    "count_parts",
    "normalise_number",
    "normalise_numbers",
]

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

MAX_MESSAGE_LENGTH: Final = 612
MAX_PARTS: Final = 4
"""The most SMS parts a message can take at the API's 612 characters (4 x 153 in GSM-7)."""
"""``send-sms`` accepts up to 612 characters (four GSM-7 parts)."""

MAX_VALIDITY: Final = 72 * 60
"""``validity`` is in minutes, at most 72 hours (0 also means the maximum)."""

MAX_RECIPIENTS: Final = 500
"""Numbers one ``send-sms`` may carry in ``to`` (current docs; older docs said more). Use a list for more."""

_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION: Final = frozenset("\f^{}\\[]~|€")

_SINGLE = {GSM7: 160, UCS2: 70}
_MULTI = {GSM7: 153, UCS2: 67}

GSM_EXTENSION: Final = _GSM_EXTENSION
"""GSM-7 extension-table characters: each takes two septets (an escape plus the character)."""
GSM_CHARACTERS: Final = _GSM_BASIC | _GSM_EXTENSION
"""Every character the GSM-7 alphabet can carry (basic table and extension table)."""
SINGLE_PART: Final = _SINGLE
"""Units one single-part message carries, by encoding."""
MULTI_PART: Final = _MULTI
"""Units each part of a multi-part message carries, by encoding (the rest is the concatenation header)."""


class SmsParts(NamedTuple):
    """How a message travels: its encoding (:data:`GSM7` or :data:`UCS2`) and its number of SMS parts."""

    encoding: str
    parts: int


def count_parts(message: str) -> SmsParts:
    """The encoding and number of SMS parts ``message`` needs (each part is billed as one SMS).

    An empty message needs 0 parts. The API may still count differently for placeholders
    (``[firstname]``, ``[tracked-link]``), which are expanded per recipient after this estimate.

        >>> count_parts("Hello")
        SmsParts(encoding='GSM-7', parts=1)
        >>> count_parts("Привет")
        SmsParts(encoding='UCS-2', parts=1)
    """
    if all(char in _GSM_BASIC or char in _GSM_EXTENSION for char in message):
        encoding = GSM7
        units = [2 if char in _GSM_EXTENSION else 1 for char in message]
    else:
        encoding = UCS2
        units = [2 if ord(char) > 0xFFFF else 1 for char in message]
    total = sum(units)
    if total == 0:
        return SmsParts(encoding, 0)
    if total <= _SINGLE[encoding]:
        return SmsParts(encoding, 1)
    limit = _MULTI[encoding]
    parts, used = 1, 0
    for size in units:
        if used + size > limit:
            parts, used = parts + 1, 0
        used += size
    return SmsParts(encoding, parts)


def check_message(message: object) -> str:
    """A message: non-blank text of at most :data:`MAX_MESSAGE_LENGTH` characters."""
    if not isinstance(message, str) or not message.strip():
        raise InvalidRequestError(f"message must be non-empty text, got {shown('message', message)}")
    if not is_unicode(message):
        raise InvalidRequestError("message is not valid Unicode text (it holds a lone surrogate)")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidRequestError(
            f"message is {len(message)} characters; send-sms accepts at most {MAX_MESSAGE_LENGTH}"
        )
    return message


def check_parts(message: str, max_parts: object) -> str:
    """``message``, unless it takes more than ``max_parts`` SMS parts (``None``: no limit)."""
    if max_parts is None:
        return message
    if isinstance(max_parts, bool) or not isinstance(max_parts, int) or max_parts < 1:
        raise InvalidRequestError(
            f"max_parts must be a whole number >= 1, got {shown('max_parts', max_parts)}"
        )
    encoding, parts = count_parts(message)
    if parts > max_parts:
        raise InvalidRequestError(
            f"message takes {parts} {encoding} parts, more than max_parts={max_parts}"
            + (" (it holds characters outside GSM-7; see analyze())" if encoding == UCS2 else "")
        )
    return message


# Separators people type inside phone numbers; anything else (letters, '#', '*') is refused.
_NUMBER_PUNCTUATION = re.compile(r"[ \t().\-]")  # ASCII only: no line breaks, no other scripts' spaces
_NUMBER = re.compile(r"\+?([0-9]{6,15})")  # ASCII only: \d also matches other scripts' digits


def normalise_number(name: str, value: object) -> str:
    """A phone number as the API wants it: digits only.

    Spaces (and tabs), dots, hyphens and brackets are removed and one leading ``+`` is dropped
    (``"+61 (4) 9157-0156"`` → ``"61491570156"``). What is left must be 6 to 15 digits (E.164
    allows at most 15); a local number (``0491570156``) is fine together with ``countrycode``.
    """
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a phone number as a string, got {shown(name, value)}")
    match = _NUMBER.fullmatch(_NUMBER_PUNCTUATION.sub("", value))
    if match is None:
        raise InvalidRequestError(
            f"{name} {shown(name, value)} is not a phone number: expected 6 to 15 digits, optionally with a "
            "leading + and spaces, dots, hyphens or brackets"
        )
    return match.group(1)


def optional_number(name: str, value: object) -> str | None:
    """:func:`normalise_number`, with ``None`` passing through (an optional number filter)."""
    return None if value is None else normalise_number(name, value)


def number_list(name: str, value: object) -> list[str] | None:
    """One number or an iterable of numbers (mobiles to forward to), each normalised; ``None`` passes."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (bytes, bytearray)) or not isinstance(items, Iterable):
        raise InvalidRequestError(
            f"{name} must be a phone number or a list of them, got {shown(name, value)}"
        )
    return [normalise_number(name, item) for item in items]


def normalise_numbers(name: str, numbers: str | Iterable[str]) -> list[str]:
    """Recipients: each normalised by :func:`normalise_number`, duplicates dropped (first kept, order
    kept), between 1 and :data:`MAX_RECIPIENTS`. A single string may hold comma-separated numbers."""
    items: Iterable[object] = numbers.split(",") if isinstance(numbers, str) else numbers
    result: dict[str, None] = {}
    try:
        for item in items:
            result.setdefault(normalise_number(name, item), None)
    except TypeError:
        raise InvalidRequestError(
            f"{name} must be an iterable of phone numbers, got {shown(name, numbers)}"
        ) from None
    if not result:
        raise InvalidRequestError(f"{name} must hold at least one phone number")
    if len(result) > MAX_RECIPIENTS:
        raise InvalidRequestError(
            f"{name} holds {len(result)} distinct numbers; send-sms accepts at most {MAX_RECIPIENTS} "
            "(send in batches, or add them to a list and send to list_id)"
        )
    return list(result)


_NUMERIC_SENDER = re.compile(r"\+?([0-9]{1,15})")
_ALPHA_SENDER = re.compile(r"[A-Za-z0-9]{1,11}")


def check_sender(value: object) -> str:
    """A sender ID: a number of up to 15 digits (a leading ``+`` is dropped) or an alphanumeric ID of
    up to 11 ASCII letters and digits with no spaces (recipients cannot reply to those)."""
    if not isinstance(value, str):
        raise InvalidRequestError(f"from_ must be a string, got {shown('from_', value)}")
    numeric = _NUMERIC_SENDER.fullmatch(value)
    if numeric:
        return numeric.group(1)
    if value.lstrip("+").isascii() and value.lstrip("+").isdigit():
        raise InvalidRequestError(f"from_ {shown('from_', value)}: a numeric sender has at most 15 digits")
    if not _ALPHA_SENDER.fullmatch(value):
        raise InvalidRequestError(
            f"from_ {shown('from_', value)}: an alphanumeric sender is 1 to 11 letters and digits, "
            "without spaces"
        )
    return value


_EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")


def check_email(name: str, value: object) -> str:
    """An e-mail address (a plausibility check only: ``local@domain.tld``)."""
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise InvalidRequestError(f"{name} must be an e-mail address, got {shown(name, value)}")
    return value
