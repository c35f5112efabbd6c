"""smsapi_async: the async Python client for the Transmit SMS (Burst SMS) REST API.

    >>> from smsapi_async import AsyncSmsClient
    >>> async def main() -> None:
    ...     async with AsyncSmsClient("key", "secret") as client:
    ...         print(await client.call("get-balance"))

Everything public is importable from here; modules starting with ``_`` are private.
"""

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
    RateLimitError,
    RecipientsError,
    RequestTimeoutError,
    ResponseParseError,
    SmsApiError,
    TransportError,
    UnknownCallError,
)
from ._limiter import DEFAULT_SAFETY_MARGIN, Limiter, RateLimiter
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_SAFETY_MARGIN",
    "AlreadySentError",
    "ApiError",
    "AsyncSmsClient",
    "AuthenticationError",
    "BadCallerIdError",
    "Clock",
    "ContactError",
    "FakeClock",
    "InsufficientFundsError",
    "InvalidFieldError",
    "InvalidRequestError",
    "KeyExistsError",
    "Limiter",
    "NetworkError",
    "NoAccessError",
    "NotFoundError",
    "OutcomeUnknownError",
    "RateLimitError",
    "RateLimiter",
    "RecipientsError",
    "RequestTimeoutError",
    "ResponseParseError",
    "SmsApiError",
    "SystemClock",
    "TransportError",
    "UnknownCallError",
    "__version__",
]
