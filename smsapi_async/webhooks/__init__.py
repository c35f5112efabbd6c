"""Receiving the platform's callbacks: typed events, signature checks, a de-duplicating receiver."""

from ._errors import REASONS, InvalidCallbackError
from ._events import (
    CallbackEvent,
    CallbackKind,
    DeliveryReport,
    Event,
    LinkHit,
    ListAction,
    Reply,
    parse_callback,
)
from ._query import EXPIRES_PARAM, MAX_PARAMS, MAX_QUERY_BYTES, TOKEN_PARAM
from ._verify import (
    DEFAULT_URL_TTL,
    SIGNATURE_HEADER,
    sign_callback,
    sign_callback_url,
    verify_callback_url,
    verify_signature,
)

__all__ = [
    "DEFAULT_URL_TTL",
    "EXPIRES_PARAM",
    "MAX_PARAMS",
    "MAX_QUERY_BYTES",
    "REASONS",
    "SIGNATURE_HEADER",
    "TOKEN_PARAM",
    "CallbackEvent",
    "CallbackKind",
    "DeliveryReport",
    "Event",
    "InvalidCallbackError",
    "LinkHit",
    "ListAction",
    "Reply",
    "parse_callback",
    "sign_callback",
    "sign_callback_url",
    "verify_callback_url",
    "verify_signature",
]
