"""Typed callback events and :func:`parse_callback`, which builds one from a query string.

The platform calls your URL with HTTP GET and the event's fields appended to the URL's own query
string. Four kinds exist: delivery receipts, replies (and inbound SMS), link hits and list actions.
Version 1 callbacks carry no event id, so each event has a :attr:`~CallbackEvent.dedup_key`
derived from the fields that identify it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs

from .._convert import _length_only, extra_field
from .._signature import PhpQuery
from ..models.delivery import DeliveryOutcome
from ..models.reports import Recipient
from ..models.reports import Reply as PolledReply
from ._errors import InvalidCallbackError
from ._query import EXPIRES_PARAM, MAX_PARAMS, MAX_QUERY_BYTES, TOKEN_PARAM, Query, split_query

__all__ = [
    "CallbackEvent",
    "CallbackKind",
    "DeliveryReport",
    "Event",
    "LinkHit",
    "ListAction",
    "Reply",
    "parse_callback",
]

CallbackKind: TypeAlias = Literal["dlr", "reply", "link-hit", "list-action"]

_DIGITS = re.compile(r"[0-9]{1,19}\Z")
_INT64_MAX: Final = 2**63 - 1
_MOBILE = re.compile(r"\+?([0-9]{3,15})\Z")  # E.164: at most 15 digits; short codes have 3 or more
_STAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-]00:?00)?\Z"
)
_YES: Final = frozenset({"yes", "true", "1", "y"})
_NO: Final = frozenset({"no", "false", "0", "n", ""})


def _text_map(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen(slots=True, kw_only=True)
class CallbackEvent:
    """Base of every callback event.

    Attributes:
        user_id: the account the event belongs to (absent from older delivery receipts: ``None``).
        extra: parameters this event kind does not define, as sent: your own URL's parameters
            (``?order=123``) and any the platform adds later (e.g. the undocumented ``rate``).
    """

    kind: ClassVar[CallbackKind]
    user_id: int | None = None
    extra: Mapping[str, str] = extra_field()

    @property
    def dedup_key(self) -> tuple[Any, ...]:
        """What identifies this event across the platform's retries and duplicates."""
        raise NotImplementedError

    @property
    def occurred_at(self) -> datetime | None:
        """When the event happened, UTC."""
        raise NotImplementedError


@attrs.frozen(slots=True, kw_only=True)
class DeliveryReport(CallbackEvent, DeliveryOutcome):
    """A delivery receipt (DLR): what became of a message to one recipient.

    Attributes:
        message_id: the id ``send-sms`` returned.
        mobile: the recipient.
        status: ``delivered``, ``pending`` (no receipt yet), ``soft-bounce`` (undeliverable within
            the validity: phone off or out of range) or ``hard-bounce`` (number disconnected);
            other values are kept as sent. See :attr:`is_final` and :attr:`is_failure`.
        status_at: when the receipt arrived (callback parameter ``datetime``), UTC; ``None`` for
            a state learned by polling ``get-sms-sent``, which gives no time.
    """

    kind: ClassVar[CallbackKind] = "dlr"
    message_id: int
    mobile: str
    status: str
    status_at: datetime | None = None

    @property
    def dedup_key(self) -> tuple[Any, ...]:
        return ("dlr", self.message_id, self.mobile, self.status, self.status_at)

    @property
    def occurred_at(self) -> datetime | None:
        return self.status_at

    @classmethod
    def from_recipient(cls, message_id: int, recipient: Recipient) -> DeliveryReport:
        """The same state seen by polling ``get-sms-sent`` (no ``status_at``)."""
        return cls(message_id=message_id, mobile=recipient.msisdn, status=recipient.delivery_status)


@attrs.frozen(slots=True, kw_only=True)
class Reply(CallbackEvent):
    """An SMS received from a mobile: a reply to your message, or an inbound SMS to your number.

    Attributes:
        message_id: the message it answers (0 when the platform sends none, e.g. inbound SMS).
        response_id: the reply's own id (``id`` in ``get-sms-responses`` rows).
        mobile: who sent it.
        longcode: the number it was sent to (``None`` when not given).
        received_at: when it arrived (callback parameter ``datetime_entry``), UTC.
        text: what it says (callback parameter ``response``).
        is_optout: whether it opted the sender out (``STOP`` and similar).
    """

    kind: ClassVar[CallbackKind] = "reply"
    message_id: int = 0
    response_id: int
    mobile: str
    longcode: str | None = None
    received_at: datetime | None = None
    text: str = attrs.field(default="", repr=_length_only)
    is_optout: bool = False

    @property
    def id(self) -> int:
        """:attr:`response_id`, under the name polled replies use."""
        return self.response_id

    @property
    def msisdn(self) -> str:
        """:attr:`mobile`, under the name polled replies use."""
        return self.mobile

    @property
    def response(self) -> str:
        """:attr:`text`, under the name polled replies use."""
        return self.text

    @property
    def dedup_key(self) -> tuple[Any, ...]:
        return ("reply", self.response_id)

    @property
    def occurred_at(self) -> datetime | None:
        return self.received_at

    @classmethod
    def from_polled(cls, reply: PolledReply) -> Reply:
        """The same reply as a ``get-sms-responses`` / ``get-user-sms-responses`` row gives it
        (``is_optout`` is unknown there and left ``False``; names and fields go to ``extra``)."""
        extra = {"list_id": str(reply.list_id)}
        if reply.first_name or reply.last_name:
            extra.update(firstname=reply.first_name, lastname=reply.last_name)
        return cls(
            message_id=reply.message_id,
            response_id=reply.id,
            mobile=reply.msisdn,
            longcode=reply.longcode,
            received_at=reply.received_at,
            text=reply.response,
            extra=extra,
        )


@attrs.frozen(slots=True, kw_only=True)
class LinkHit(CallbackEvent):
    """A recipient opened the tracked link of a message (messaging apps' link previews count too).

    Attributes:
        message_id: the message whose link was opened.
        mobile: the recipient who opened it.
        longcode: the sender the message came from (a number or an alphanumeric id).
        hit_at: when (callback parameter ``datetime``), UTC.
        link_hits: how many times this recipient has opened it so far.
        list_id: the list the message went to (0 when none).
        message: the message text as delivered, short links included.
        first_name, last_name: the contact's names (parameters ``firstname``, ``lastname``).
    """

    kind: ClassVar[CallbackKind] = "link-hit"
    message_id: int
    mobile: str
    longcode: str = ""
    hit_at: datetime | None = None
    link_hits: int = 1
    list_id: int = 0
    message: str = attrs.field(default="", repr=_length_only)
    first_name: str = ""
    last_name: str = ""

    @property
    def dedup_key(self) -> tuple[Any, ...]:
        return ("link-hit", self.message_id, self.mobile, self.link_hits)

    @property
    def occurred_at(self) -> datetime | None:
        return self.hit_at


@attrs.frozen(slots=True, kw_only=True)
class ListAction(CallbackEvent):
    """A contact was added to or removed from a list that has a "Forward to URL" automation.

    Attributes:
        type: ``add`` or ``delete`` (other values kept as sent); see :attr:`is_add`.
        list_id: the list.
        mobile: the contact.
        changed_at: when (callback parameter ``datetime_entry``), UTC.
        first_name, last_name: the contact's names.
        fields: every other parameter: the list's custom fields by their names (``Email``,
            ``Carrier``...), and any parameter of your own URL. ``extra`` is always empty.
    """

    kind: ClassVar[CallbackKind] = "list-action"
    type: str
    list_id: int
    mobile: str
    changed_at: datetime | None = None
    first_name: str = ""
    last_name: str = ""
    fields: Mapping[str, str] = attrs.field(factory=dict, converter=_text_map, eq=False, repr=False)

    @property
    def is_add(self) -> bool:
        """Whether the contact was added (``False``: removed, or an unknown type)."""
        return self.type.strip().lower() == "add"

    @property
    def dedup_key(self) -> tuple[Any, ...]:
        return ("list-action", self.list_id, self.mobile, self.type, self.changed_at)

    @property
    def occurred_at(self) -> datetime | None:
        return self.changed_at


Event: TypeAlias = "DeliveryReport | Reply | LinkHit | ListAction"
"""Any callback event :func:`parse_callback` returns."""

_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "dlr": ("message_id", "mobile", "datetime", "status", "user_id"),
    "reply": (
        "user_id",
        "message_id",
        "response",
        "response_id",
        "mobile",
        "longcode",
        "datetime_entry",
        "is_optout",
    ),
    "link-hit": (
        "datetime",
        "firstname",
        "lastname",
        "link_hits",
        "list_id",
        "longcode",
        "message",
        "message_id",
        "mobile",
        "user_id",
    ),
    "list-action": ("type", "datetime_entry", "list_id", "mobile", "firstname", "lastname"),
}
_URL_TOKEN = (EXPIRES_PARAM, TOKEN_PARAM)


def _kind_of(params: Mapping[str, object]) -> CallbackKind:
    if "link_hits" in params and "message_id" in params:
        return "link-hit"
    if "response_id" in params or ("response" in params and "type" not in params):
        return "reply"
    if "status" in params and "message_id" in params:
        return "dlr"
    if "type" in params and "list_id" in params:
        return "list-action"
    raise InvalidCallbackError(
        "unknown_kind",
        "not a delivery receipt, reply, link hit or list action: none of their parameters "
        "(status, response_id, link_hits, type with list_id) is present",
    )


class _Fields:
    """The event parameters of one callback, read with checks that name the parameter."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.params.get(key)
        if value is None or (required and not value.strip()):
            if required:
                raise InvalidCallbackError("missing", f"required parameter {key!r} is missing", key=key)
            return ""
        return value

    def number(self, key: str, *, required: bool = False, default: int = 0) -> int:
        value = self.text(key, required=required).strip()
        if not value:
            return default
        if not _DIGITS.match(value) or int(value) > _INT64_MAX:
            raise InvalidCallbackError(
                "not_numeric", f"parameter {key!r} is not a whole number of at most 64 bits", key=key
            )
        return int(value)

    def optional_number(self, key: str) -> int | None:
        return self.number(key) if self.text(key).strip() else None

    def mobile(self, key: str = "mobile") -> str:
        match = _MOBILE.match(self.text(key, required=True).strip())
        if match is None:
            raise InvalidCallbackError(
                "bad_value", f"parameter {key!r} is not a phone number (3 to 15 digits)", key=key
            )
        return match[1]

    def when(self, key: str, *, required: bool = True) -> datetime | None:
        value = self.text(key, required=required).strip()
        if not value:
            return None
        if not _STAMP.match(value):
            raise InvalidCallbackError("bad_date", f"parameter {key!r} is not a UTC date and time", key=key)
        text = value.replace(" ", "T", 1)
        text = text[:-1] + "+00:00" if text.endswith("Z") else text
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidCallbackError("bad_date", f"parameter {key!r} is not a real date", key=key) from None
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed

    def flag(self, key: str) -> bool:
        value = self.text(key).strip().lower()
        if value in _YES:
            return True
        if value in _NO:
            return False
        raise InvalidCallbackError("bad_value", f"parameter {key!r} is neither yes nor no", key=key)


def _flatten(name: str, value: object, into: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{name}[{key}]", item, into)
    else:
        into[name] = str(value)


def _collect(reading: PhpQuery, known: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Event parameters and the rest, as PHP read them (what the platform's signature covers).

    An event parameter is refused when PHP read it from another name (``message.id``,
    `` status``, ``status[]``...) or from several parameters with different values: a framework
    or a person reading the raw names would then see other values than the ones signed.
    """
    fields: dict[str, str] = {}
    rest: dict[str, str] = {}
    for php_key, value in reading.array.items():
        key = str(php_key)
        if key in _URL_TOKEN:
            continue
        if key not in known:
            _flatten(key, value, rest)
            continue
        if php_key in reading.renamed:
            raise InvalidCallbackError(
                "ambiguous", f"parameter {key!r} also arrives under another name PHP reads as it", key=key
            )
        if php_key in reading.overwritten:
            raise InvalidCallbackError("repeated", f"parameter {key!r} is given twice", key=key)
        if not isinstance(value, str):
            raise InvalidCallbackError("bad_value", f"parameter {key!r} is not a single value", key=key)
        fields[key] = value
    return fields, rest


def parse_callback(
    query: Query,
    *,
    kind: CallbackKind | None = None,
    max_bytes: int = MAX_QUERY_BYTES,
    max_params: int = MAX_PARAMS,
) -> Event:
    """Build the typed event from a callback's query parameters.

    Args:
        query: the raw query string as received (``str`` or ``bytes``, with or without the
            leading ``?``), or the decoded parameters as a mapping or as ``(key, value)`` pairs.
        kind: ``"dlr"``, ``"reply"``, ``"link-hit"`` or ``"list-action"`` when you know it (e.g.
            one URL per kind); by default the kind is told from the parameters present.
        max_bytes: the most bytes the query may have; a larger one is refused.
        max_params: the most parameters it may have; more are refused.

    Returns:
        a :class:`DeliveryReport`, :class:`Reply`, :class:`LinkHit` or :class:`ListAction`.
        The query is read as PHP's ``parse_str`` reads it, which is what the platform's signature
        covers (:func:`verify_signature` on the same raw string): names are mangled as PHP
        mangles them and the last of a repeated name wins. Parameters the kind does not define
        are kept in ``extra`` (in ``fields`` for a list action) under those names, an array
        parameter flattened to ``name[key]`` entries; the ``smsapi_expires``/``smsapi_token``
        parameters of a signed callback URL are dropped.

    Raises:
        InvalidCallbackError: anything malformed; :attr:`~InvalidCallbackError.reason` says what.
            An event parameter that PHP reads from another name (``message.id``, `` status``) is
            ``ambiguous``, and one given twice with different values ``repeated``: a reader of the
            raw names would see other values than the signed ones.
    """
    reading = PhpQuery(split_query(query, max_bytes=max_bytes, max_params=max_params))
    present = {str(key): value for key, value in reading.array.items() if str(key) not in _URL_TOKEN}
    if not present:
        raise InvalidCallbackError("empty", "the callback has no parameters")
    if kind is None:
        kind = _kind_of(present)
    elif not isinstance(kind, str) or kind not in _KEYS:
        raise InvalidCallbackError("unknown_kind", f"kind must be one of {', '.join(_KEYS)}")
    params, rest = _collect(reading, _KEYS[kind])
    f = _Fields(params)
    user_id = f.optional_number("user_id")
    if kind == "dlr":
        return DeliveryReport(
            message_id=f.number("message_id", required=True),
            mobile=f.mobile(),
            status=f.text("status", required=True).strip(),
            status_at=f.when("datetime"),
            user_id=user_id,
            extra=rest,
        )
    if kind == "reply":
        if "response" not in params:
            raise InvalidCallbackError("missing", "required parameter 'response' is missing", key="response")
        return Reply(
            message_id=f.number("message_id"),
            response_id=f.number("response_id", required=True),
            mobile=f.mobile(),
            longcode=f.text("longcode").strip() or None,
            received_at=f.when("datetime_entry"),
            text=f.text("response"),
            is_optout=f.flag("is_optout"),
            user_id=user_id,
            extra=rest,
        )
    if kind == "link-hit":
        return LinkHit(
            message_id=f.number("message_id", required=True),
            mobile=f.mobile(),
            longcode=f.text("longcode").strip(),
            hit_at=f.when("datetime"),
            link_hits=f.number("link_hits", required=True),
            list_id=f.number("list_id"),
            message=f.text("message"),
            first_name=f.text("firstname"),
            last_name=f.text("lastname"),
            user_id=user_id,
            extra=rest,
        )
    return ListAction(
        type=f.text("type", required=True).strip(),
        list_id=f.number("list_id", required=True),
        mobile=f.mobile(),
        changed_at=f.when("datetime_entry"),
        first_name=f.text("firstname"),
        last_name=f.text("lastname"),
        fields=rest,
        user_id=user_id,
    )
