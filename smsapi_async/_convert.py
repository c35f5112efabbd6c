"""Lenient converters from API values (JSON or XML text) to Python types, and the one model builder.

The API is inconsistent: phone numbers arrive as integers or strings, timestamps with a space or in
``…T…Z`` form, money as numbers or ``"$14.630"``, flags as ``true``, ``"true"``, ``"OK"`` or ``"yes"``,
empty collections as ``[]``, ``{}`` or (in XML) nothing at all. Every model field names one of the
converters below, and :func:`from_api` builds any model from a response mapping, keeping keys it
does not know in ``extra`` rather than failing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs

from ._exceptions import ResponseParseError

__all__ = [
    "api_field",
    "as_list",
    "extra_field",
    "fields_map",
    "from_api",
    "list_of",
    "model",
    "opt",
    "to_bool",
    "to_date",
    "to_datetime",
    "to_decimal",
    "to_int",
    "to_msisdn",
    "to_str",
]

T = TypeVar("T")

_TRUE = frozenset({"true", "1", "yes", "ok", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off", ""})
_MONEY_JUNK = re.compile(r"[^0-9.+\-eE]")


def to_str(value: Any) -> str:
    """Text; ``None`` becomes ``""``, integers (phone numbers) their digits, booleans ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_msisdn(value: Any) -> str:
    """A phone number as a string of digits (a leading ``+`` is dropped); ``None`` becomes ``""``."""
    text = to_str(value).strip()
    return text[1:] if text.startswith("+") else text


def to_int(value: Any) -> int:
    """An integer from ``12``, ``"12"``, ``12.0``; ``None``/``""`` become 0."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return int(Decimal(text))


def to_decimal(value: Any) -> Decimal:
    """Money and prices: ``0.087``, ``"0.087"``, ``"$14.630"``, ``"-1,234.5"``; ``None`` is 0."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = _MONEY_JUNK.sub("", str(value))
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def to_bool(value: Any) -> bool:
    """A flag: true, "true", "OK", "yes" and 1 are true; false, "no", 0, None and "" are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def to_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from ``2020-06-18 02:42:06``, ``2020-06-18T02:42:06Z`` or a date; ``None``
    for null, empty or the zero date ``0000-00-00 00:00:00``."""
    if value is None or isinstance(value, datetime):
        return _utc(value) if isinstance(value, datetime) else None
    text = str(value).strip()
    if not text or text.startswith("0000-00-00"):
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    return _utc(parsed)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def to_date(value: Any) -> date | None:
    """A date from ``2020-06-26`` (or the date part of a timestamp); ``None`` for null or empty."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    text = str(value).strip()
    if not text or text.startswith("0000-00-00"):
        return None
    return date.fromisoformat(text[:10])


def opt(convert: Callable[[Any], T]) -> Callable[[Any], T | None]:
    """Like ``convert`` but keeps ``None`` (and ``""``) as ``None``."""

    def convert_optional(value: Any) -> T | None:
        if value is None or value == "":
            return None
        return convert(value)

    return convert_optional


def as_list(value: Any) -> list[Any]:
    """A list from a JSON array, ``None``/``""`` (empty), or a lone mapping or scalar (XML with one
    repeated element)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


def fields_map(value: Any) -> dict[str, str]:
    """Custom fields from any of their shapes: ``[]``, ``{name: value}``, or ``[{name, value}]``."""
    result: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            result[str(key)] = to_str(item)
        return result
    for entry in as_list(value):
        if isinstance(entry, Mapping) and "name" in entry:
            result[to_str(entry["name"])] = to_str(entry.get("value"))
    return result


def list_of(convert: Callable[[Any], T]) -> Callable[[Any], tuple[T, ...]]:
    """Converter for a list of values, each converted (models: pass ``model(Cls)``)."""

    def convert_list(value: Any) -> tuple[T, ...]:
        return tuple(convert(item) for item in as_list(value))

    return convert_list


def model(cls: type[T]) -> Callable[[Any], T]:
    """Converter that builds ``cls`` from a mapping (or passes an instance through)."""

    def convert_model(value: Any) -> T:
        if isinstance(value, cls):
            return value
        return from_api(cls, value if isinstance(value, Mapping) else {})

    return convert_model


def api_field(
    convert: Callable[[Any], Any],
    *,
    key: str | None = None,
    aliases: Sequence[str] = (),
    default: Any = None,
) -> Any:
    """Declare a model field: its converter, its API key when that differs from the field name (or
    is not a Python name), other spellings seen in the wild, and the value when the key is absent
    (run through the converter)."""
    return attrs.field(
        converter=convert,
        default=default,
        kw_only=True,
        metadata={"api_key": key, "aliases": tuple(aliases)},
    )


def from_api(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build the attrs model ``cls`` from an API mapping; unknown keys go to its ``extra`` field.

    Raises:
        ResponseParseError: a value could not be converted (e.g. a non-numeric id).
    """
    kwargs: dict[str, Any] = {}
    used: set[str] = {"error"}
    has_extra = False
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        if field.name == "extra":
            has_extra = True
            continue
        keys = (field.metadata.get("api_key") or field.name, *field.metadata.get("aliases", ()))
        for key in keys:
            if key in data:
                kwargs[field.name] = data[key]
                used.update(keys)
                break
    if has_extra:
        kwargs["extra"] = {key: value for key, value in data.items() if key not in used}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ResponseParseError(
            f"unexpected value for {cls.__name__}: {exc}", status_code=None, excerpt=""
        ) from None


def extra_field() -> Any:
    """The ``extra`` field every model ends with: keys the model does not know, kept as sent."""
    return attrs.field(factory=dict, kw_only=True, repr=False, eq=False, converter=dict)
