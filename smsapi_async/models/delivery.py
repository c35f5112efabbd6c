"""What polled results and callback events have in common, so one handler works on both.

A delivery receipt callback (:class:`smsapi_async.webhooks.DeliveryReport`), a recipient row of
``get-sms-sent`` (:class:`~smsapi_async.models.reports.Recipient`) and a ``get-sms-delivery-status``
answer (:class:`~smsapi_async.models.sms.DeliveryStatus`) all satisfy :class:`DeliveryUpdate`; a reply
callback (:class:`smsapi_async.webhooks.Reply`) and a reply row of ``get-sms-responses`` /
``get-user-sms-responses`` (:class:`~smsapi_async.models.reports.Reply`) both satisfy
:class:`InboundMessage`. Type a handler against these protocols and feed it either source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol, runtime_checkable

__all__ = [
    "FAILED_DELIVERY_STATUSES",
    "FINAL_DELIVERY_STATUSES",
    "DeliveryOutcome",
    "DeliveryUpdate",
    "InboundMessage",
    "is_failure_status",
    "is_final_status",
]

FINAL_DELIVERY_STATUSES: Final = frozenset({"delivered", "soft-bounce", "hard-bounce", "bounced", "failed"})
"""Statuses after which nothing more happens to one recipient's copy of a message.

``soft-bounce`` is final too: the platform reports it once the message could not be delivered
within its validity (phone off or out of range all along). ``pending`` and any status not listed
here are not final."""

FAILED_DELIVERY_STATUSES: Final = frozenset({"soft-bounce", "hard-bounce", "bounced", "failed"})
"""Final statuses that mean the message did not reach the handset."""


def is_final_status(status: str) -> bool:
    """Whether ``status`` (any spelling case, surrounding spaces ignored) is a final one."""
    return status.strip().lower() in FINAL_DELIVERY_STATUSES


def is_failure_status(status: str) -> bool:
    """Whether ``status`` means the message was finally not delivered."""
    return status.strip().lower() in FAILED_DELIVERY_STATUSES


@runtime_checkable
class DeliveryUpdate(Protocol):
    """One recipient's delivery status, from a callback or from polling."""

    @property
    def mobile(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def is_final(self) -> bool: ...

    @property
    def is_failure(self) -> bool: ...


@runtime_checkable
class InboundMessage(Protocol):
    """An SMS received from a mobile (a reply or an inbound message), from a callback or polling."""

    @property
    def response_id(self) -> int: ...

    @property
    def message_id(self) -> int: ...

    @property
    def mobile(self) -> str: ...

    @property
    def longcode(self) -> str | None: ...

    @property
    def received_at(self) -> datetime | None: ...

    @property
    def text(self) -> str: ...


class _HasStatus(Protocol):
    @property
    def status(self) -> str: ...


class DeliveryOutcome:
    """Base of every model carrying one recipient's ``status``: adds :attr:`is_final` and
    :attr:`is_failure` computed the same way everywhere."""

    __slots__ = ()

    @property
    def is_final(self: _HasStatus) -> bool:
        """Whether nothing more will happen (delivered, bounced or failed)."""
        return is_final_status(self.status)

    @property
    def is_failure(self: _HasStatus) -> bool:
        """Whether the message finally did not reach the handset."""
        return is_failure_status(self.status)
