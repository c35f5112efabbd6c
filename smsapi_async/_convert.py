"""Lenient converters from API values (JSON or XML text) to Python types, and the one model builder.

The API is inconsistent: phone numbers arrive as integers or strings, timestamps with a space or in
``…T…Z`` form, money as numbers or ``"$14.630"``, flags as ``true``, ``"true"``, ``"OK"`` or ``"yes"``,
empty collections as ``[]``, ``{}`` or (in XML) nothing at all. Every model field names one of the
converters below, and :func:`from_api` builds any model from a response mapping, keeping keys it
does not know in ``extra`` rather than failing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Final, TypeVar

import attrs

from ._encoding import is_safe_to_retry
from ._exceptions import OutcomeUnknownError, ResponseParseError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_MONEY",
    "MAX_PLACES",
    "ConversionError",
    "api_field",
    "as_list",
    "extra_field",
    "field",
    "fields_map",
    "from_api",
    "list_of",
    "model",
    "opt",
    "reading",
    "require_mapping",
    "shown_value",
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
    if isinstance(value, (Mapping, list, tuple)):
        raise ConversionError(f"expected text, got {_kind(value)}")
    return str(value)


def to_msisdn(value: Any) -> str:
    """A phone number as a string of digits (a leading ``+`` is dropped); ``None`` becomes ``""``."""
    text = to_str(value).strip()
    return text[1:] if text.startswith("+") else text


INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
"""Ids and counts from the server must fit a signed 64-bit integer, as every real one does."""

MAX_MONEY: Final = Decimal(10) ** 15
"""Money is refused from this magnitude on (no balance, price or cost comes near it)."""

MAX_PLACES: Final = 20
"""Money may carry at most this many decimal places (the API gives 3; a float's repr up to 17)."""

_MAX_NUMBER_TEXT = 64
# Plain decimal notation with at most a 4-digit exponent: anything longer is refused unread, so
# Decimal never meets "1e1000000" and int() never meets thousands of digits.
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")


class ConversionError(ValueError):
    """A value from the server that its field cannot hold; :func:`from_api` names the field."""


def _decimal(value: Any, *, money: bool = False) -> Decimal:
    """A finite Decimal from a number or short numeric text, before any big-number arithmetic."""
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ConversionError(f"a number of {value.bit_length()} bits does not fit 64 bits")
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConversionError(f"not a finite number ({value})")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_TEXT:
            raise ConversionError(f"numeric text of {len(text)} characters")
        if money:
            text = _MONEY_JUNK.sub("", text)
        if not _NUMBER_TEXT.fullmatch(text):
            raise ConversionError("not a number")
        number = Decimal(text)
    else:
        raise ConversionError(f"expected a number, got {_kind(value)}")
    if not number.is_finite():
        raise ConversionError("not a finite number")
    return number


def to_int(value: Any) -> int:
    """An id or a count from ``12``, ``"12"``, ``12.0``, ``"1.2e1"``; ``None``/``""`` become 0.

    Raises:
        ConversionError: not a whole number, or outside the signed 64-bit range.
    """
    if value is None or value == "":
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    number = _decimal(value)
    # the magnitude check comes first: int() of Decimal("1e999") would build a 1000-digit integer
    if number.adjusted() > 18 or not INT64_MIN <= int(number) <= INT64_MAX:
        raise ConversionError("a number that does not fit 64 bits")
    if number != number.to_integral_value():
        raise ConversionError("not a whole number")
    return int(number)


def to_decimal(value: Any) -> Decimal:
    """Money and prices: ``0.087``, ``"0.087"``, ``"$14.630"``, ``"-1,234.5"``; ``None`` is 0.

    Raises:
        ConversionError: not a number, at least :data:`MAX_MONEY` in size, or more than
            :data:`MAX_PLACES` decimal places.
    """
    if value is None or value == "":
        return Decimal(0)
    number = _decimal(value, money=True)
    if number and number.adjusted() >= MAX_MONEY.adjusted():
        raise ConversionError("an amount too large to be money")
    if number and -number.normalize().as_tuple().exponent > MAX_PLACES:  # type: ignore[operator]
        raise ConversionError(f"an amount with more than {MAX_PLACES} decimal places")
    return number


def to_bool(value: Any) -> bool:
    """A flag: true, "true", "OK", "yes" and 1 are true; false, "no", 0, None and "" are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConversionError("not a boolean")
        return value != 0
    if not isinstance(value, str) or len(value) > _MAX_NUMBER_TEXT:
        raise ConversionError(f"expected a flag, got {_kind(value)}")
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConversionError("not a boolean")


def _kind(value: Any) -> str:
    """What a value is, without showing it (it may be private text)."""
    if isinstance(value, (Mapping, list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def to_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from ``2020-06-18 02:42:06``, ``2020-06-18T02:42:06Z`` or a date; ``None``
    for null, empty or the zero date ``0000-00-00 00:00:00``."""
    if value is None or isinstance(value, datetime):
        return _utc(value) if isinstance(value, datetime) else None
    text = _short_text(value)
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
    text = _short_text(value)
    if not text or text.startswith("0000-00-00"):
        return None
    return date.fromisoformat(text[:10])


def _short_text(value: Any) -> str:
    """A timestamp's text: a string (or a number, as XML or a lenient server may send) of sane length."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConversionError(f"expected a timestamp, got {_kind(value)}")
    text = to_str(value).strip()
    if len(text) > _MAX_NUMBER_TEXT:
        raise ConversionError(f"a timestamp of {len(text)} characters")
    return text


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
        if value is None or value in ("", []):  # empty, as JSON or XML may say it
            value = {}
        return from_api(cls, value)

    return convert_model


def api_field(
    convert: Callable[[Any], Any],
    *,
    key: str | None = None,
    aliases: Sequence[str] = (),
    default: Any = None,
    private: bool = False,
) -> Any:
    """Declare a model field: its converter, its API key when that differs from the field name (or
    is not a Python name), other spellings seen in the wild, and the value when the key is absent
    (run through the converter). A ``private`` field (message text) shows only its length in
    ``repr``, so that logging a model never logs what someone wrote."""
    return attrs.field(
        converter=convert,
        default=default,
        kw_only=True,
        repr=_length_only if private else True,
        metadata={"api_key": key, "aliases": tuple(aliases)},
    )


def _length_only(value: str | None) -> str:
    return "None" if value is None else f"<{len(value)} characters>"


def from_api(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build the attrs model ``cls`` from an API mapping; unknown keys go to its ``extra`` field.

    Raises:
        ResponseParseError: ``data`` is not a mapping, or a value does not fit its field; the
            error names the model and the field and shows the value only if it is a short number.
    """
    require_mapping(cls, data)
    kwargs: dict[str, Any] = {}
    keys_of: dict[str, str] = {}
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
                keys_of[field.name] = key
                used.update(keys)
                break
    if has_extra:
        kwargs["extra"] = {key: value for key, value in data.items() if key not in used}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, ArithmeticError, ResponseParseError) as exc:
        # built here, raised below: a converter's own error may quote the value (message text)
        error = _field_error(cls, kwargs, keys_of, exc)
    raise error


def _field_error(
    cls: type[Any], kwargs: Mapping[str, Any], keys_of: Mapping[str, str], exc: Exception
) -> ResponseParseError:
    failed = _failing_field(cls, kwargs)
    if failed is None:  # a nested model failed, or a converter bug: still a typed error
        reason = exc.reason if isinstance(exc, ResponseParseError) else type(exc).__name__
        return ResponseParseError(f"{cls.__name__}: {reason}", status_code=None, excerpt="")
    name, nested = failed
    key = keys_of.get(name, name)
    if isinstance(nested, ResponseParseError):
        return ResponseParseError(
            f"{cls.__name__}.{key} → {nested.reason}", status_code=None, excerpt=nested.excerpt
        )
    return ResponseParseError(
        f"{cls.__name__}.{key}: {_why(nested)}", status_code=None, excerpt=shown_value(kwargs[name])
    )


def require_mapping(cls: type[Any], data: Any) -> Mapping[str, Any]:
    """``data`` if it is a mapping (an API object), else the :class:`ResponseParseError` for ``cls``."""
    if not isinstance(data, Mapping):
        raise ResponseParseError(
            f"{cls.__name__}: expected an object, got {_kind(data)}", status_code=None, excerpt=""
        )
    return data


def _failing_field(cls: type[Any], kwargs: Mapping[str, Any]) -> tuple[str, Exception] | None:
    """The first field whose converter refuses its value, and why (only run once building failed)."""
    for field in attrs.fields(cls):
        if field.name in kwargs and field.converter is not None and field.name != "extra":
            try:
                field.converter(kwargs[field.name])
            except (TypeError, ValueError, ArithmeticError, ResponseParseError) as exc:
                return field.name, exc
    return None


def _why(exc: Exception) -> str:
    # our own converters explain without showing the value; anything else by its type only
    return str(exc) if isinstance(exc, ConversionError) else f"unreadable value ({type(exc).__name__})"


def shown_value(value: Any) -> str:
    """A refused value as an error may show it: a short number or word is shown, anything else (which
    may be message text or a secret) only described."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 128 else ""
        if text:
            return text
    if isinstance(value, str) and len(value) <= 24 and _SHOWABLE.fullmatch(value):
        return repr(value)
    if isinstance(value, str):
        return f"<text of {len(value)} characters>"
    return f"<{_kind(value)[2:]}>"


_SHOWABLE = re.compile(r"[0-9eE.+\-]*|(?i:[+-]?(?:nan|inf|infinity))")


def field(
    key: str,
    convert: Callable[[Any], T],
    data: Mapping[str, Any],
    default: Any = None,
    *,
    owner: str = "",
) -> T:
    """One field of an answer, converted; a value that does not fit is a :class:`ResponseParseError`
    naming the field as ``owner.key`` (see :func:`from_api` for whole models)."""
    value = data.get(key, default)
    try:
        return convert(value)
    except (TypeError, ValueError, ArithmeticError) as exc:
        reason = f"{owner}{'.' if owner else ''}{key}: {_why(exc)}"
    raise ResponseParseError(reason, status_code=None, excerpt=shown_value(value))


@contextmanager
def reading(call: str) -> Iterator[None]:
    """Where an answer of ``call`` becomes models: whatever fails in there is a typed error naming the
    call. For a call that changes state, the request went out, so it is :class:`OutcomeUnknownError`
    (a message was perhaps sent; retrying could send it twice), with the parse error as its cause."""
    try:
        yield
    except ResponseParseError as exc:
        error = exc
        error.call = call
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        # a converter bug on odd data: still never outside the tree
        error = ResponseParseError(
            f"unreadable answer ({type(exc).__name__})", status_code=None, excerpt="", call=call
        )
    else:
        return
    if is_safe_to_retry(call):
        raise error
    raise OutcomeUnknownError.after(call, f"its answer could not be read ({error.reason})") from error


def extra_field() -> Any:
    """The ``extra`` field every model ends with: keys the model does not know, kept as sent."""
    return attrs.field(factory=dict, kw_only=True, repr=False, eq=False, converter=dict)
