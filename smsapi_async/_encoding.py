"""Request building rules: which names are calls, how values go on the wire, which calls are safe.

Values are form-encoded as the API documents them: booleans ``true``/``false``, lists
comma-joined, datetimes as UTC ``YYYY-MM-DD HH:MM:SS``, dates as ``YYYY-MM-DD``. ``None`` means
"not sent", so a method can pass its optional arguments through unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from ._exceptions import InvalidRequestError
from ._validate import is_unicode

__all__ = [
    "SAFE_PREFIXES",
    "check_call_name",
    "encode_params",
    "encode_value",
    "is_safe_to_retry",
]

_CALL_NAME = re.compile(r"[a-z]+(?:-[a-z]+)*")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")

SAFE_PREFIXES = ("get-", "format-")
"""Calls that only read. Everything else (send-sms, add-*, edit-*, delete-*, cancel-*, lease-*,
optout-*, remove-*, message-reply...) changes state and is never resent after an unknown outcome."""


def check_call_name(name: str) -> str:
    """Return ``name`` if it looks like an API call name (``get-balance``), else raise."""
    if not isinstance(name, str) or not _CALL_NAME.fullmatch(name):
        raise InvalidRequestError(
            f"call name must be lower-case words joined by hyphens, like 'get-balance'; got {name!r}"
        )
    return name


def is_safe_to_retry(name: str) -> bool:
    """Whether resending ``name`` after a timeout or a 5xx can change nothing."""
    return name.startswith(SAFE_PREFIXES)


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidRequestError(
            f"datetime {value.isoformat()} is naive; pass an aware datetime "
            "(e.g. datetime.now(timezone.utc)) so it can be sent as UTC"
        )
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _format_scalar(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if not is_unicode(value):  # lone surrogates, e.g. bytes decoded with "surrogateescape"
            raise InvalidRequestError(f"parameter {key!r} is not valid Unicode text")
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequestError(f"parameter {key!r} must be a finite number, got {value!r}")
        return format(Decimal(repr(value)), "f")  # never scientific notation
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidRequestError(f"parameter {key!r} must be a finite number, got {value!r}")
        return format(value, "f")
    if isinstance(value, datetime):
        return _format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    raise InvalidRequestError(
        f"parameter {key!r} has unsupported type {type(value).__name__}; use str, int, float, "
        "bool, Decimal, date, datetime or an iterable of those"
    )


def encode_value(key: str, value: object) -> str:
    """One parameter's wire form (iterables comma-joined)."""
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        if isinstance(value, (bytes, bytearray, Mapping)):
            raise InvalidRequestError(f"parameter {key!r} has unsupported type {type(value).__name__}")
        return _format_scalar(key, value)
    parts = []
    for item in value:
        if isinstance(item, (bytes, bytearray, Mapping)) or (
            isinstance(item, Iterable) and not isinstance(item, str)
        ):
            raise InvalidRequestError(f"parameter {key!r} may not nest iterables")
        parts.append(_format_scalar(key, item))
    return ",".join(parts)


def encode_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Form fields for ``params``; ``None`` values are left out."""
    encoded: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not _PARAM_NAME.fullmatch(key):
            raise InvalidRequestError(f"parameter name {key!r} is not a valid API field name")
        if value is None:
            continue
        encoded[key] = encode_value(key, value)
    return encoded
