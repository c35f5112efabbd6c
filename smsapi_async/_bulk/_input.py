"""A bulk send's input: items read (sync or async), checked as ``send`` checks them, and grouped by text
and options (a :class:`Template`, the key recipients are coalesced by)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypeAlias, Union

import anyio
import attrs

from .._convert import _length_only, to_bool
from .._exceptions import InvalidRequestError
from .._sms_text import MAX_VALIDITY, check_email, check_message, check_parts, check_sender, check_url
from .._validate import aware_datetime, is_unicode, shown, whole_number

_OPTIONS: Final = (
    "from_",
    "countrycode",
    "send_at",
    "validity",
    "replies_to_email",
    "tracked_link_url",
    "dlr_callback",
    "reply_callback",
    "link_hits_callback",
    "from_shared",
)
_KEYS: Final = frozenset(("message", "to", *_OPTIONS))


_MAX_DIGITS: Final = 18
"""Numeric text longer than this is no number the API takes (and slow to convert)."""


@attrs.frozen(slots=True, kw_only=True)
class OutgoingMessage:
    """One message of a bulk send: ``send``'s arguments, for one or several recipients.

    ``to`` is one number, several comma-separated in a string, or a sequence of numbers. A plain
    mapping with the same keys (``{"message": ..., "to": ..., "from_": ...}``; ``"from"`` works too)
    is accepted wherever an ``OutgoingMessage`` is.
    """

    message: str = attrs.field(repr=_length_only)
    to: str | Sequence[str]
    from_: str | None = None
    countrycode: str | None = None
    send_at: datetime | None = None
    validity: int | None = None
    replies_to_email: str | None = None
    tracked_link_url: str | None = None
    dlr_callback: str | None = None
    reply_callback: str | None = None
    link_hits_callback: str | None = None
    from_shared: bool | None = None


BulkInput: TypeAlias = Union[OutgoingMessage, Mapping[str, Any]]  # noqa: UP007 (a runtime alias on 3.10)


@attrs.frozen(slots=True)
class Template:
    """Validated text and options of one input item; ``key`` names its coalescing group."""

    key: str
    options: str  # JSON, for the journal and for a resend after reconciliation
    kwargs: dict[str, Any] = attrs.field(eq=False)
    countrycode: str | None


class Reject(Exception):
    pass


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def item_fields(item: object, ignore_unknown_keys: bool) -> dict[str, Any]:
    if isinstance(item, OutgoingMessage):
        item = {name: getattr(item, name) for name in ("message", "to", *_OPTIONS)}
    if not isinstance(item, Mapping):
        raise Reject(f"expected an OutgoingMessage or a mapping, got {type(item).__name__}")
    fields = {("from_" if key == "from" else key): value for key, value in item.items()}
    unknown = [key for key in fields if key not in _KEYS]
    if unknown and not ignore_unknown_keys:
        raise Reject(f"unknown key(s) {', '.join(map(repr, sorted(map(str, unknown))))}")
    # blank cells of a CSV row mean "not given"
    return {key: value for key, value in fields.items() if key in _KEYS and not _blank(value)}


def _option_value(name: str, value: Any) -> Any:
    """An option as ``send`` takes it; CSV-style text is accepted for numbers, flags and dates."""
    if name == "validity":
        if isinstance(value, str) and value.strip().isdigit() and len(value) <= _MAX_DIGITS:
            value = int(value)
        return whole_number("validity (minutes)", value, 0, MAX_VALIDITY)
    if name == "from_shared":
        try:
            return to_bool(value)
        except ValueError:
            raise InvalidRequestError(
                f"from_shared must be true or false, got {shown(name, value)}"
            ) from None
    if name == "send_at":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidRequestError(
                    f"send_at must be an ISO 8601 date and time, got {shown(name, value)}"
                ) from None
        return aware_datetime("send_at", value, not_past=True)
    if name == "from_":
        return check_sender(value)
    if name == "replies_to_email":
        return check_email(name, value)
    if name.endswith(("_url", "_callback")):
        return check_url(name, value)
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be text, got {shown(name, value)}")
    if not is_unicode(value):  # would fail later, in the journal or on the wire, after a grant was spent
        raise InvalidRequestError(f"{name} is not valid Unicode text (it holds a lone surrogate)")
    return value


def numbers_of(to: object) -> list[str]:
    numbers: list[object] = []
    if isinstance(to, str):
        numbers = list(to.split(","))
    elif isinstance(to, Iterable):
        numbers = list(to)
    if numbers and all(isinstance(n, str) for n in numbers):
        found = [n for n in numbers if isinstance(n, str) and n.strip()]
        if found:
            return found
    if to is None or (isinstance(to, str) and not to.strip()):
        raise Reject("no recipient (to)")
    raise Reject(
        f"to must be a phone number, comma-separated numbers or a list of them, got {shown('to', to)}"
    )


def item_digest(fields: Mapping[str, Any]) -> bytes:
    """A stable rendering of an input item, for the journal's digest of the input."""
    items = sorted(fields.items(), key=lambda kv: str(kv[0]))
    try:
        text = repr(items)
    except ValueError:  # an int too long for repr() (over 4300 digits): the item is refused anyway
        text = repr([(key, _renderable(value)) for key, value in items])
    return text.encode("utf-8", "backslashreplace")


def as_given(value: object) -> str:
    """A rejected input as a result shows it: text (cut at 40 characters) and plain ints as they
    are, anything else by type (a huge int has no ``str()``; an object's may hold message text)."""
    if isinstance(value, str):
        return value[:40]
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 128:
        return str(value)
    return type(value).__name__


def _renderable(value: Any) -> Any:
    try:
        repr(value)
    except ValueError:
        return f"<int of {value.bit_length()} bits>" if isinstance(value, int) else type(value).__name__
    return value


def make_template(fields: dict[str, Any], max_parts: int | None) -> Template:
    message = fields.get("message")
    if message is None:
        raise Reject("no message text")
    kwargs: dict[str, Any] = {"message": check_parts(check_message(message), max_parts)}
    for name in _OPTIONS:
        if name in fields:
            kwargs[name] = _option_value(name, fields[name])
    options = json.dumps(
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in kwargs.items()},
        sort_keys=True,
        ensure_ascii=False,
    )
    key = hashlib.blake2b(options.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return Template(key, options, kwargs, kwargs.get("countrycode"))


def template_from_json(options: str) -> Template:
    kwargs = json.loads(options)
    if "send_at" in kwargs:
        kwargs["send_at"] = datetime.fromisoformat(kwargs["send_at"])
    key = hashlib.blake2b(options.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return Template(key, options, kwargs, kwargs.get("countrycode"))


async def read_items(messages: Iterable[Any] | AsyncIterable[Any]) -> Any:
    if isinstance(messages, AsyncIterable):
        async for item in messages:
            yield item
        return
    for count, item in enumerate(messages):
        if count % 16 == 0:  # keep the event loop responsive: the limiter's timers fire on time
            await anyio.lowlevel.checkpoint()
        yield item
