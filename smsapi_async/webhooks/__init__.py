"""Receiving the platform's callbacks: typed events, signature checks, a de-duplicating receiver.

A web app (ASGI: Starlette, FastAPI, any ASGI server)::

    from smsapi_async.webhooks import CallbackReceiver, DeliveryReport, Event

    async def on_event(event: Event) -> None:      # once per event; raise and it is retried
        if isinstance(event, DeliveryReport) and event.is_failure:
            ...

    receiver = CallbackReceiver(on_event, client=client)    # or api_secret="..."
    app.add_route("/sms-hooks", receiver)    # a route: Starlette's Mount redirects "/sms-hooks"

Any other framework: ``await receiver.handle(raw_query, signature_header)`` gives the status and
text to answer with; lower down, ``verify_signature(raw_query, header, api_secret)`` and
``parse_callback(raw_query)`` read the query the same way (as PHP's ``parse_str`` does, which is
what the platform signs), so what one verifies is what the other returns. See
:mod:`smsapi_async.webhooks._verify` for where each framework keeps the raw query string.
``client.callback_url(base)`` signs a callback URL with an expiring token the receiver also
accepts. Events share their attributes with polled rows
(:mod:`smsapi_async.models.delivery`), and ``client.sms.wait_for_delivery`` /
``client.sms.reply_stream`` (:mod:`smsapi_async.tracking`) merge them with polling.
"""

from ._dedup import ClaimState, DedupStore, MemoryDedupStore, RedisDedupStore
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
    "ClaimState",
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
