"""Checks run before a call is spent: each raises :class:`InvalidRequestError` with a clear reason."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import Any

from ._exceptions import InvalidRequestError

__all__ = [
    "MAX_ID",
    "PRIVATE_PARAMETERS",
    "aware_datetime",
    "custom_fields",
    "is_unicode",
    "non_empty",
    "one_of",
    "optional_id",
    "optional_text",
    "positive_id",
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


MAX_ID = 2**63 - 1
"""The largest id the API can hold (a signed 64-bit integer)."""


def whole_number(name: str, value: Any, minimum: int, maximum: int) -> int:
    """An integer from ``minimum`` to ``maximum`` (``bool``, floats and numeric text are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be an integer, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        shown = value if value.bit_length() < 128 else f"an integer of {value.bit_length()} bits"
        raise InvalidRequestError(f"{name} must be from {minimum} to {maximum}, got {shown}")
    return value


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be sent as UTF-8 (no lone surrogates, as "surrogateescape" leaves)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # its .object is the whole text: never let it be a __context__
        return False
    return True


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
    """Custom list fields: only keys ``field_1`` … ``field_10``, values as text."""
    if not fields:
        return {}
    result: dict[str, str] = {}
    for key, value in fields.items():
        if not isinstance(key, str) or not _FIELD_NAME.fullmatch(key):
            raise InvalidRequestError(f"custom fields are named field_1 … field_10; got {shown('key', key)}")
        if value is None:
            continue
        result[key] = str(value)
    return result
