"""Receiving the platform's callbacks: typed events, signature checks, a de-duplicating receiver."""

from ._dedup import DedupStore, MemoryDedupStore, RedisDedupStore
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
from ._hub import CallbackHub, Subscription
from ._query import EXPIRES_PARAM, MAX_PARAMS, MAX_QUERY_BYTES, TOKEN_PARAM
from ._receiver import CallbackReceiver, EventHandler
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
    "CallbackHub",
    "CallbackKind",
    "CallbackReceiver",
    "DedupStore",
    "DeliveryReport",
    "Event",
    "EventHandler",
    "InvalidCallbackError",
    "LinkHit",
    "ListAction",
    "MemoryDedupStore",
    "RedisDedupStore",
    "Reply",
    "Subscription",
    "parse_callback",
    "sign_callback",
    "sign_callback_url",
    "verify_callback_url",
    "verify_signature",
]
