"""Typed, frozen models of every response shape, built leniently from JSON or XML.

Every model has an ``extra`` mapping holding the response keys it does not model, as sent.
"""

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
