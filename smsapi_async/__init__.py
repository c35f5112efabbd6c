"""smsapi_async: the async Python client for the Transmit SMS (Burst SMS) REST API.

    >>> from smsapi_async import AsyncSmsClient
    >>> async def main() -> None:
    ...     async with AsyncSmsClient("key", "secret") as client:
    ...         print(await client.call("get-balance"))

Everything public is importable from here; modules starting with ``_`` are private.
"""

# Only the exceptions load eagerly: everything else (httpx, attrs, the models, the limiter...) is
# imported on first use through the module __getattr__ below, so `import smsapi_async` stays
# cheap for tools that only need a name or two. Type checkers read the imports in TYPE_CHECKING.

import importlib
from typing import TYPE_CHECKING, Any

from ._exceptions import (
    AlreadySentError,
    ApiError,
    AuthenticationError,
    BadCallerIdError,
    ContactError,
    InsufficientFundsError,
    InvalidFieldError,
    InvalidRequestError,
    KeyExistsError,
    NetworkError,
    NoAccessError,
    NotFoundError,
    OutcomeUnknownError,
    PaginationError,
    RateLimitError,
    RecipientsError,
    RequestTimeoutError,
    ResponseParseError,
    SmsApiError,
    TransportError,
    UnknownCallError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._analysis import MAX_PARTS, ForcingCharacter, MessageAnalysis, analyze, render_placeholders
    from ._bulk import BulkProgress, BulkResult, BulkSend, OutgoingMessage
    from ._client import DEFAULT_BASE_URL, AsyncSmsClient
    from ._clock import Clock, FakeClock, SystemClock
    from ._journal import Journal, JournalError, JournalMismatchError, SQLiteJournal
    from ._limiter import DEFAULT_SAFETY_MARGIN, Limiter, RateLimiter
    from ._pagination import AsyncPaginator, Page
    from ._redis_limiter import RedisLimiterError, RedisRateLimiter, account_key
    from ._sms_text import GSM7, MAX_MESSAGE_LENGTH, MAX_RECIPIENTS, UCS2, SmsParts, count_parts
    from .models import (
        CONTACT_STATUSES,
        DELIVERY_STATUSES,
        IMPORT_STATUSES,
        KEYWORD_STATUSES,
        MESSAGE_TYPES,
        NUMBER_STATUSES,
        NUMBER_TYPES,
        Balance,
        Client,
        Contact,
        ContactList,
        ContactSmsRecord,
        DeliveryStats,
        DeliveryStatus,
        EmailSmsResult,
        FormattedNumber,
        ImportProgress,
        Keyword,
        ListFieldsUpdate,
        ListSummary,
        MessageInfo,
        MessageLogEntry,
        MessageStats,
        NumberType,
        Recipient,
        Reply,
        ReportedMessage,
        SenderIds,
        SendResult,
        Transaction,
        UserSentMessage,
        VirtualNumber,
    )

_LAZY: dict[str, str] = {
    "MAX_PARTS": "._analysis",
    "ForcingCharacter": "._analysis",
    "MessageAnalysis": "._analysis",
    "analyze": "._analysis",
    "render_placeholders": "._analysis",
    "BulkProgress": "._bulk",
    "BulkResult": "._bulk",
    "BulkSend": "._bulk",
    "OutgoingMessage": "._bulk",
    "DEFAULT_BASE_URL": "._client",
    "AsyncSmsClient": "._client",
    "Clock": "._clock",
    "FakeClock": "._clock",
    "SystemClock": "._clock",
    "Journal": "._journal",
    "JournalError": "._journal",
    "JournalMismatchError": "._journal",
    "SQLiteJournal": "._journal",
    "DEFAULT_SAFETY_MARGIN": "._limiter",
    "Limiter": "._limiter",
    "RateLimiter": "._limiter",
    "AsyncPaginator": "._pagination",
    "Page": "._pagination",
    "GSM7": "._sms_text",
    "MAX_MESSAGE_LENGTH": "._sms_text",
    "MAX_RECIPIENTS": "._sms_text",
    "UCS2": "._sms_text",
    "SmsParts": "._sms_text",
    "count_parts": "._sms_text",
    "CONTACT_STATUSES": ".models",
    "DELIVERY_STATUSES": ".models",
    "IMPORT_STATUSES": ".models",
    "KEYWORD_STATUSES": ".models",
    "MESSAGE_TYPES": ".models",
    "NUMBER_STATUSES": ".models",
    "NUMBER_TYPES": ".models",
    "Balance": ".models",
    "Client": ".models",
    "Contact": ".models",
    "ContactList": ".models",
    "ContactSmsRecord": ".models",
    "DeliveryStats": ".models",
    "DeliveryStatus": ".models",
    "EmailSmsResult": ".models",
    "FormattedNumber": ".models",
    "ImportProgress": ".models",
    "Keyword": ".models",
    "ListFieldsUpdate": ".models",
    "ListSummary": ".models",
    "MessageInfo": ".models",
    "MessageLogEntry": ".models",
    "MessageStats": ".models",
    "NumberType": ".models",
    "Recipient": ".models",
    "Reply": ".models",
    "ReportedMessage": ".models",
    "SenderIds": ".models",
    "SendResult": ".models",
    "Transaction": ".models",
    "UserSentMessage": ".models",
    "VirtualNumber": ".models",
    "RedisLimiterError": "._redis_limiter",
    "RedisRateLimiter": "._redis_limiter",
    "account_key": "._redis_limiter",
}
"""Public name -> the private module that defines it, imported on first access."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "CONTACT_STATUSES",
    "DEFAULT_BASE_URL",
    "DEFAULT_SAFETY_MARGIN",
    "DELIVERY_STATUSES",
    "GSM7",
    "IMPORT_STATUSES",
    "KEYWORD_STATUSES",
    "MAX_MESSAGE_LENGTH",
    "MAX_PARTS",
    "MAX_RECIPIENTS",
    "MESSAGE_TYPES",
    "NUMBER_STATUSES",
    "NUMBER_TYPES",
    "UCS2",
    "AlreadySentError",
    "ApiError",
    "AsyncPaginator",
    "AsyncSmsClient",
    "AuthenticationError",
    "BadCallerIdError",
    "Balance",
    "BulkProgress",
    "BulkResult",
    "BulkSend",
    "Client",
    "Clock",
    "Contact",
    "ContactError",
    "ContactList",
    "ContactSmsRecord",
    "DeliveryStats",
    "DeliveryStatus",
    "EmailSmsResult",
    "FakeClock",
    "ForcingCharacter",
    "FormattedNumber",
    "ImportProgress",
    "InsufficientFundsError",
    "InvalidFieldError",
    "InvalidRequestError",
    "Journal",
    "JournalError",
    "JournalMismatchError",
    "KeyExistsError",
    "Keyword",
    "Limiter",
    "ListFieldsUpdate",
    "ListSummary",
    "MessageAnalysis",
    "MessageInfo",
    "MessageLogEntry",
    "MessageStats",
    "NetworkError",
    "NoAccessError",
    "NotFoundError",
    "NumberType",
    "OutcomeUnknownError",
    "OutgoingMessage",
    "Page",
    "PaginationError",
    "RateLimitError",
    "RateLimiter",
    "Recipient",
    "RecipientsError",
    "RedisLimiterError",
    "RedisRateLimiter",
    "Reply",
    "ReportedMessage",
    "RequestTimeoutError",
    "ResponseParseError",
    "SQLiteJournal",
    "SendResult",
    "SenderIds",
    "SmsApiError",
    "SmsParts",
    "SystemClock",
    "Transaction",
    "TransportError",
    "UnknownCallError",
    "UserSentMessage",
    "VirtualNumber",
    "__version__",
    "account_key",
    "analyze",
    "count_parts",
    "render_placeholders",
]
