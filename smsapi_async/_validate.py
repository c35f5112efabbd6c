"""Checks run before a call is spent: each raises :class:`InvalidRequestError` with a clear reason."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import SplitResult, urlsplit

from ._exceptions import InvalidRequestError

__all__ = [
    "MAX_ID",
    "MAX_SECONDS",
    "PRIVATE_PARAMETERS",
    "aware_datetime",
    "check_url",
    "custom_fields",
    "is_unicode",
    "non_empty",
    "one_of",
    "optional_amount",
    "optional_flag",
    "optional_id",
    "optional_str",
    "optional_text",
    "optional_texts",
    "optional_url",
    "positive_id",
    "seconds",
    "shown",
    "whole_number",
]

_FIELD_NAME = re.compile(r"field_([1-9]|10)")


PRIVATE_PARAMETERS = frozenset(
    {"message", "password", "api_secret", "apisecret", "welcome_message", "members_message"}
)
"""Parameters whose values an error message never shows: message text and credentials."""

_SHOWN_TEXT = 40


def shown(name: str, value: Any) -> str:
    """A refused argument as an error message may show it: short text and numbers as they are;
    private parameters, bytes and long text only by type and length (they may be what someone
    wrote, or a password)."""
    if isinstance(value, (str, bytes, bytearray)):
        if name in PRIVATE_PARAMETERS or not isinstance(value, str) or len(value) > _SHOWN_TEXT:
            unit = "characters" if isinstance(value, str) else "bytes"
            return f"{type(value).__name__} of {len(value)} {unit}"
        return repr(value)
    if name in PRIVATE_PARAMETERS:
        return type(value).__name__
    if (
        value is None
        or isinstance(value, (bool, float))
        or (isinstance(value, int) and value.bit_length() < 128)
    ):
        return repr(value)
    return type(value).__name__


MAX_ID = 10**18 - 1
"""The largest id the API takes: its numeric fields accept up to 18 digits (within 64 bits)."""


def whole_number(name: str, value: Any, minimum: int, maximum: int) -> int:
    """An integer from ``minimum`` to ``maximum`` (``bool``, floats and numeric text are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be an integer, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        shown = value if value.bit_length() < 128 else f"an integer of {value.bit_length()} bits"
        raise InvalidRequestError(f"{name} must be from {minimum} to {maximum}, got {shown}")
    return value


MAX_SECONDS = 10.0**12
"""Durations are below this (some 31 000 years): larger is a mistake, and may not fit a float."""


def seconds(name: str, value: Any, *, allow_zero: bool = False, maximum: float = MAX_SECONDS) -> float:
    """A number of seconds, above 0 (or from 0 with ``allow_zero``) and below ``maximum``:
    ``bool``, NaN, infinities and huge ints are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"{name} must be a number of seconds, got {type(value).__name__}")
    # compared before float(): float() of a huge int raises OverflowError
    above = value >= 0 if allow_zero else value > 0
    if not (above and value < min(maximum, MAX_SECONDS)):  # also refuses NaN
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidRequestError(
            f"{name} must be a number of seconds {bound} and below {maximum:g}, got {shown(name, value)}"
        )
    return float(value)


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be sent as UTF-8 (no lone surrogates, as "surrogateescape" leaves)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # its .object is the whole text: never let it be a __context__
        return False
    return True


def check_url(name: str, value: object) -> str:
    """An absolute ``http://`` or ``https://`` URL with a host, no whitespace, valid Unicode."""
    if not isinstance(value, str) or any(char.isspace() for char in value) or not is_unicode(value):
        raise InvalidRequestError(f"{name} must be an http(s) URL without spaces, got {shown(name, value)}")
    try:
        parts: SplitResult | None = urlsplit(value)
        host = parts.hostname if parts is not None else None
    except ValueError:
        parts = host = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        got = shown(name, value)
        raise InvalidRequestError(f"{name} must be an absolute http:// or https:// URL, got {got}")
    return value


def optional_url(name: str, value: Any) -> str | None:
    """Like :func:`check_url`, but ``None`` (not sent) passes."""
    return None if value is None else check_url(name, value)


def optional_flag(name: str, value: Any) -> bool | None:
    """A flag: ``True``, ``False`` or ``None`` (not sent); ``1``, ``"yes"`` and the like are refused."""
    if value is not None and not isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def optional_str(name: str, value: Any, *, max_length: int | None = None) -> str | None:
    """Text that may be empty (``""`` clears a value), valid Unicode; ``None`` (not sent) passes."""
    if value is None:
        return None
    if not isinstance(value, str) or not is_unicode(value):
        raise InvalidRequestError(f"{name} must be text, got {shown(name, value)}")
    if max_length is not None and len(value) > max_length:
        raise InvalidRequestError(f"{name} is at most {max_length} characters, got {len(value)}")
    return value


MAX_AMOUNT = 10**9
"""Money arguments (margins, top-ups) must be below this in size."""


def optional_amount(name: str, value: Any) -> Decimal | float | int | None:
    """A finite amount of money below :data:`MAX_AMOUNT` (``bool`` refused); ``None`` passes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise InvalidRequestError(f"{name} must be a number, got {type(value).__name__}")
    # float() of a Decimal is safe (huge ones become inf); of a huge int it would overflow
    size = abs(value) if isinstance(value, int) else abs(float(value))
    if not size < MAX_AMOUNT:  # also refuses NaN
        raise InvalidRequestError(f"{name} must be a finite amount below {MAX_AMOUNT}")
    return value


def optional_texts(name: str, value: Any) -> list[str] | None:
    """One text or an iterable of texts (e-mail addresses, numbers to forward to); ``None`` passes."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (bytes, bytearray, Mapping)) or not isinstance(items, Iterable):
        raise InvalidRequestError(f"{name} must be text or a list of texts, got {type(value).__name__}")
    result = [optional_str(name, item) for item in items]
    if any(not item or not item.strip() or "," in item for item in result):
        raise InvalidRequestError(f"{name} must hold non-empty texts without commas")
    return [item for item in result if item is not None]


def positive_id(name: str, value: Any) -> int:
    """An id: an integer from 1 to :data:`MAX_ID` (``bool`` is refused)."""
    return whole_number(name, value, 1, MAX_ID)


def one_of(name: str, value: str | None, allowed: Collection[str]) -> str | None:
    """One of the documented values of an enumerated parameter; ``None`` (not sent) passes."""
    if value is not None and value not in allowed:
        raise InvalidRequestError(
            f"{name} must be one of {', '.join(map(repr, allowed))}; got {shown(name, value)}"
        )
    return value


def optional_id(name: str, value: Any) -> int | None:
    """Like :func:`positive_id`, but ``None`` (not sent) passes."""
    return None if value is None else positive_id(name, value)


def optional_text(name: str, value: Any) -> str | None:
    """Like :func:`non_empty`, but ``None`` (not sent) passes."""
    return None if value is None else non_empty(name, value)


def non_empty(name: str, value: Any) -> str:
    """A required text value: a non-blank string."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{name} must be a non-empty string, got {shown(name, value)}")
    return value


def aware_datetime(name: str, value: datetime | None, *, not_past: bool = False) -> datetime | None:
    """A timezone-aware datetime (converted to UTC), optionally not in the past; ``None`` passes."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidRequestError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidRequestError(
            f"{name} must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc)); naive datetimes "
            "are ambiguous and the API reads them as UTC"
        )
    utc = value.astimezone(timezone.utc)
    if not_past and utc < datetime.now(timezone.utc):
        raise InvalidRequestError(f"{name} {utc:%Y-%m-%d %H:%M:%S} UTC is in the past")
    return utc


def custom_fields(fields: Mapping[str, Any] | None) -> dict[str, str]:
    """Custom list fields: only keys ``field_1`` … ``field_10``, values as text (or ``None``: not sent)."""
    if fields is None:
        return {}
    if not isinstance(fields, Mapping):
        raise InvalidRequestError(
            f"fields must be a mapping like {{'field_1': 'Email'}}, got {type(fields).__name__}"
        )
    result: dict[str, str] = {}
    for key, value in fields.items():
        if not isinstance(key, str) or not _FIELD_NAME.fullmatch(key):
            raise InvalidRequestError(f"custom fields are named field_1 … field_10; got {shown('key', key)}")
        if value is None:
            continue
        text = optional_str(key, value)
        if text is not None:
            result[key] = text
    return result
