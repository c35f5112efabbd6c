"""smsapi_async: the async Python client for the Transmit SMS (Burst SMS) REST API.

    >>> from smsapi_async import AsyncSmsClient
    >>> async def main() -> None:
    ...     async with AsyncSmsClient("key", "secret") as client:
    ...         print(await client.call("get-balance"))

Everything public is importable from here; modules starting with ``_`` are private.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._analysis import MAX_PARTS, ForcingCharacter, MessageAnalysis, analyze, render_placeholders
from ._bulk import BulkProgress, BulkResult, BulkSend, OutgoingMessage
from ._client import DEFAULT_BASE_URL, AsyncSmsClient
from ._clock import Clock, FakeClock, SystemClock
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
from ._journal import Journal, JournalError, JournalMismatchError, SQLiteJournal
from ._limiter import DEFAULT_SAFETY_MARGIN, Limiter, RateLimiter
from ._pagination import AsyncPaginator, Page
from ._sms_text import GSM7, MAX_MESSAGE_LENGTH, MAX_RECIPIENTS, UCS2, SmsParts, count_parts
from ._version import __version__
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

if TYPE_CHECKING:
    from ._redis_limiter import RedisLimiterError, RedisRateLimiter, account_key

_LAZY = {
    # the Redis-backed limiter loads only when asked for (and redis only when it connects)
    "RedisLimiterError": "._redis_limiter",
    "RedisRateLimiter": "._redis_limiter",
    "account_key": "._redis_limiter",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


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
