"""Typed, frozen models of every response shape, built leniently from JSON or XML.

Every model has an ``extra`` mapping holding the response keys it does not model, as sent. Each
module here is imported on first use of one of its names (or by the resource returning its models).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .account import Balance
    from .email import EmailSmsResult
    from .keywords import KEYWORD_STATUSES, Keyword
    from .lists import (
        CONTACT_STATUSES,
        IMPORT_STATUSES,
        Contact,
        ContactList,
        ImportProgress,
        ListFieldsUpdate,
    )
    from .numbers import NUMBER_STATUSES, SenderIds, VirtualNumber
    from .reports import MESSAGE_TYPES, ContactSmsRecord, Recipient, Reply, ReportedMessage, UserSentMessage
    from .resellers import Client, Transaction
    from .sms import (
        DELIVERY_STATUSES,
        NUMBER_TYPES,
        DeliveryStats,
        DeliveryStatus,
        FormattedNumber,
        ListSummary,
        MessageInfo,
        MessageLogEntry,
        MessageStats,
        NumberType,
        SendResult,
    )

if not TYPE_CHECKING:  # type checkers see the imports above, and no other name
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "Balance": ".account",
            "CONTACT_STATUSES": ".lists",
            "Client": ".resellers",
            "Contact": ".lists",
            "ContactList": ".lists",
            "ContactSmsRecord": ".reports",
            "DELIVERY_STATUSES": ".sms",
            "DeliveryStats": ".sms",
            "DeliveryStatus": ".sms",
            "EmailSmsResult": ".email",
            "FormattedNumber": ".sms",
            "IMPORT_STATUSES": ".lists",
            "ImportProgress": ".lists",
            "KEYWORD_STATUSES": ".keywords",
            "Keyword": ".keywords",
            "ListFieldsUpdate": ".lists",
            "ListSummary": ".sms",
            "MESSAGE_TYPES": ".reports",
            "MessageInfo": ".sms",
            "MessageLogEntry": ".sms",
            "MessageStats": ".sms",
            "NUMBER_STATUSES": ".numbers",
            "NUMBER_TYPES": ".sms",
            "NumberType": ".sms",
            "Recipient": ".reports",
            "Reply": ".reports",
            "ReportedMessage": ".reports",
            "SendResult": ".sms",
            "SenderIds": ".numbers",
            "Transaction": ".resellers",
            "UserSentMessage": ".reports",
            "VirtualNumber": ".numbers",
        },
    )

__all__ = [
    "CONTACT_STATUSES",
    "DELIVERY_STATUSES",
    "IMPORT_STATUSES",
    "KEYWORD_STATUSES",
    "MESSAGE_TYPES",
    "NUMBER_STATUSES",
    "NUMBER_TYPES",
    "Balance",
    "Client",
    "Contact",
    "ContactList",
    "ContactSmsRecord",
    "DeliveryStats",
    "DeliveryStatus",
    "EmailSmsResult",
    "FormattedNumber",
    "ImportProgress",
    "Keyword",
    "ListFieldsUpdate",
    "ListSummary",
    "MessageInfo",
    "MessageLogEntry",
    "MessageStats",
    "NumberType",
    "Recipient",
    "Reply",
    "ReportedMessage",
    "SendResult",
    "SenderIds",
    "Transaction",
    "UserSentMessage",
    "VirtualNumber",
]
