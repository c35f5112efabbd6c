"""Event hooks: what :meth:`AsyncSmsClient.add_event_hook` hooks receive (see ``_events``)."""

from ._events import (
    CallFinished,
    CallStarted,
    ClientEvent,
    EventHook,
    LimiterPaused,
    OutcomeUnknown,
    RateLimited,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)

__all__ = [
    "CallFinished",
    "CallStarted",
    "ClientEvent",
    "EventHook",
    "LimiterPaused",
    "OutcomeUnknown",
    "RateLimited",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
]
