"""Request parameters: typed access with the API's FIELD_EMPTY / FIELD_INVALID errors, and paging."""

from __future__ import annotations

import calendar
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._phone import normalise

if TYPE_CHECKING:
    from ._sandbox import Sandbox
    from ._state import Account

__all__ = ["ApiFailure", "Context", "Handler", "Params", "paginate", "paginate_window"]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
_INT = re.compile(r"\s*-?[0-9]{1,18}\s*\Z")
_DECIMAL = re.compile(r"\s*[-+]?([0-9]{1,15}(\.[0-9]{0,10})?|\.[0-9]{1,10})\s*\Z")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


class ApiFailure(Exception):
    """An error answer: ``{"error": {"code": code, "description": description}}`` with ``status``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(code, description)
        self.code = code
        self.description = description
        self.status = status


def field_empty(name: str) -> ApiFailure:
    return ApiFailure("FIELD_EMPTY", f"Required field '{name}' is empty")


def field_invalid(description: str) -> ApiFailure:
    return ApiFailure("FIELD_INVALID", description)


class Params:
    """The call's parameters (query string and form body merged; the last value of a key wins)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for key, value in pairs:
            self._values[key] = value

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def raw(self) -> Mapping[str, str]:
        return self._values

    def text(self, name: str, *, required: bool = False, max_len: int | None = None) -> str | None:
        value = self._values.get(name)
        if value is None or value.strip() == "":
            if required:
                raise field_empty(name)
            return None if value is None else ""
        if max_len is not None and len(value) > max_len:
            raise field_invalid(f"Field '{name}' is too long (maximum {max_len} characters)")
        return value

    def required_text(self, name: str, *, max_len: int | None = None) -> str:
        value = self.text(name, required=True, max_len=max_len)
        assert value is not None
        return value

    def integer(self, name: str, *, required: bool = False, minimum: int = 0) -> int | None:
        value = self.text(name, required=required)
        if not value:
            return None
        if not _INT.match(value):
            raise field_invalid(f'Field "{name}" has wrong type, expected type - numeric')
        number = int(value)
        if number < minimum:
            raise field_invalid(f"Field '{name}' must be at least {minimum}")
        return number

    def decimal(self, name: str, *, minimum: float = 0.0, maximum: float = 1e6) -> float | None:
        """A finite decimal number in ``[minimum, maximum]`` (NaN and infinities are refused)."""
        value = self.text(name)
        if not value:
            return None
        try:
            number = float(value) if _DECIMAL.match(value) else math.nan
        except (ValueError, OverflowError):
            number = math.nan
        if math.isnan(number):
            raise field_invalid(f'Field "{name}" has wrong type, expected type - numeric')
        if not minimum <= number <= maximum:
            raise field_invalid(f"Field '{name}' must be between {minimum:g} and {maximum:g}")
        return number

    def required_int(self, name: str, *, minimum: int = 0) -> int:
        value = self.integer(name, required=True, minimum=minimum)
        assert value is not None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if not value:
            return default
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise field_invalid(f"Field '{name}' must be true or false")

    def choice(self, name: str, choices: Sequence[str], default: str) -> str:
        value = self.text(name)
        if not value:
            return default
        lowered = value.strip().lower()
        if lowered not in choices:
            raise field_invalid(f"Field '{name}' must be one of: {', '.join(choices)}")
        return lowered

    def timestamp(self, name: str) -> float | None:
        """A UTC ``YYYY-MM-DD HH:MM:SS`` (or date-only / ISO ``T…Z``) parameter as epoch seconds."""
        value = self.text(name)
        if not value:
            return None
        for fmt in _DATETIME_FORMATS:
            try:
                return float(calendar.timegm(time.strptime(value.strip(), fmt)))
            except ValueError:
                continue
        raise field_invalid(f"Field '{name}' must be a date/time formatted YYYY-MM-DD HH:MM:SS")

    def msisdn(self, name: str, *, countrycode: str | None = None) -> str:
        """A required phone number, normalised to international format."""
        raw = self.required_text(name)
        number = normalise(raw, countrycode)
        if number is None:
            raise field_invalid(f"Field '{name}' is not a valid phone number")
        return number

    def page(self) -> tuple[int, int]:
        """``(page, max)``: page >= 1 (0, as the official PHP examples send, is the first page); max
        defaults to 10 and is clamped to 100."""
        page = self.integer("page", minimum=0) or 1
        size = self.integer("max", minimum=1) or DEFAULT_PAGE_SIZE
        return page, min(size, MAX_PAGE_SIZE)

    def custom_fields(self) -> dict[int, str]:
        """``field_1`` … ``field_10`` that were sent (values may be empty)."""
        return {n: self._values[f"field_{n}"] for n in range(1, 11) if f"field_{n}" in self._values}


def paginate(params: Params, items: Sequence[T]) -> tuple[dict[str, int], Sequence[T]]:
    """The ``page`` block and this page's items.

    ``count`` is at least 1; a page beyond the last returns no items (the items key is then left out,
    as the API does for empty results) and echoes the requested page number.
    """
    return paginate_window(params, len(items), lambda offset, size: items[offset : offset + size])


def paginate_window(
    params: Params, total: int, fetch: Callable[[int, int], Sequence[T]]
) -> tuple[dict[str, int], Sequence[T]]:
    """:func:`paginate` for ``total`` items of which ``fetch(offset, size)`` reads only the page."""
    page, size = params.page()
    count = max(1, math.ceil(total / size))
    return {"count": count, "number": page}, fetch((page - 1) * size, size)


def with_items(
    payload: dict[str, Any], key: str, items: Sequence[T], render: Callable[[T], Any]
) -> dict[str, Any]:
    if items:
        payload[key] = [render(item) for item in items]
    return payload


@attrs.define
class Context:
    """What a call handler works with: the sandbox, the calling account and the current time."""

    sandbox: Sandbox
    account: Account
    now: float


Handler = Callable[[Context, Params], dict[str, Any]]
