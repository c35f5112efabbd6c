"""Every error smsapi_async raises, rooted in one class.

    SmsApiError
    ├── InvalidRequestError (also ValueError)   rejected locally: nothing was sent, no call was spent
    ├── ApiError                                the API answered with an error code
    │   ├── AuthenticationError                 AUTH_FAILED, AUTH_FAILED_NO_DATA (HTTP 401)
    │   ├── RateLimitError                      OVER_LIMIT (HTTP 429) after every allowed retry
    │   ├── InvalidFieldError                   FIELD_EMPTY, FIELD_INVALID, MISSING_PARAM
    │   ├── NotFoundError                       NOT_FOUND
    │   ├── NoAccessError                       NO_ACCESS
    │   ├── KeyExistsError                      KEY_EXISTS
    │   ├── InsufficientFundsError              LEDGER_ERROR
    │   ├── UnknownCallError                    NOT_IMPLEMENTED (HTTP 404)
    │   ├── BadCallerIdError                    BAD_CALLER_ID
    │   ├── RecipientsError                     RECIPIENTS_ERROR, LIST_EMPTY
    │   ├── AlreadySentError                    ALREADY_SENT
    │   └── ContactError                        BAD_MOBILE, BAD_MOBILE_COUNTRY, OPTOUT, DUPLICATE_DELETED
    ├── ResponseParseError                      body not understood (HTML page, truncated, hostile)
    │   └── PaginationError                     a paginated walk met repeated pages or a runaway count
    └── TransportError                          no usable answer came back
        ├── NetworkError                        could not connect, or the connection broke
        ├── RequestTimeoutError                 the request timed out
        └── OutcomeUnknownError                 a call that changes state may or may not have taken effect

An unknown ``error.code`` is raised as a plain :class:`ApiError` carrying that code.

Nothing here ever holds the API secret, the ``Authorization`` header or the text of a message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadySentError",
    "ApiError",
    "AuthenticationError",
    "BadCallerIdError",
    "ContactError",
    "InsufficientFundsError",
    "InvalidFieldError",
    "InvalidRequestError",
    "KeyExistsError",
    "NetworkError",
    "NoAccessError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PaginationError",
    "QueueTimeoutError",
    "RateLimitError",
    "RecipientsError",
    "RequestTimeoutError",
    "ResponseParseError",
    "SmsApiError",
    "TransportError",
    "UnknownCallError",
    "error_for_code",
]


class SmsApiError(Exception):
    """Root of every error raised by smsapi_async."""


class InvalidRequestError(SmsApiError, ValueError):
    """The request was rejected before anything was sent: fix the arguments and try again."""


class ApiError(SmsApiError):
    """The API answered with an error code other than ``SUCCESS``.

    Attributes:
        code: the API's error constant, e.g. ``"FIELD_INVALID"``.
        description: the API's explanation; usually a string, but some codes
            (``RECIPIENTS_ERROR``) may carry an object.
        status_code: the HTTP status of the answer (``None`` when unknown).
        call: the API call name, e.g. ``"send-sms"``.
    """

    def __init__(
        self,
        code: str,
        description: Any = None,
        status_code: int | None = None,
        call: str | None = None,
    ) -> None:
        self.code = code
        self.description = description
        self.status_code = status_code
        self.call = call
        super().__init__(code, description, status_code, call)

    def __str__(self) -> str:
        where = f"{self.call}: " if self.call else ""
        status = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        text = f": {self.description}" if self.description not in (None, "") else ""
        return f"{where}{self.code}{text}{status}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, description={self.description!r}, "
            f"status_code={self.status_code!r}, call={self.call!r})"
        )


class AuthenticationError(ApiError):
    """The API key or secret is missing or wrong (``AUTH_FAILED*``, HTTP 401)."""


class RateLimitError(ApiError):
    """The account's call rate was exceeded (``OVER_LIMIT``, HTTP 429) and retries ran out.

    The server dropped the request, so resending it later is always safe.
    """


class InvalidFieldError(ApiError):
    """A parameter is missing or invalid (``FIELD_EMPTY``, ``FIELD_INVALID``, ``MISSING_PARAM``)."""


class NotFoundError(ApiError):
    """The object does not exist (``NOT_FOUND``; the API answers it with HTTP 400)."""


class NoAccessError(ApiError):
    """The account may not use this feature or object (``NO_ACCESS``)."""


class KeyExistsError(ApiError):
    """An object with this key already exists (``KEY_EXISTS``)."""


class InsufficientFundsError(ApiError):
    """The account cannot pay for this (``LEDGER_ERROR``)."""


class UnknownCallError(ApiError):
    """The API does not know this call (``NOT_IMPLEMENTED``, HTTP 404)."""


class BadCallerIdError(ApiError):
    """The sender ID is invalid, or the number is inactive or expired (``BAD_CALLER_ID``)."""


class RecipientsError(ApiError):
    """No valid recipient was left (``RECIPIENTS_ERROR``) or the list is empty (``LIST_EMPTY``).

    ``description`` may be an object such as ``{"fails": [...], "optouts": [...]}``.
    """


class AlreadySentError(ApiError):
    """The message was already sent and can no longer be cancelled (``ALREADY_SENT``)."""


class ContactError(ApiError):
    """A contact was refused: bad number, opted out, or previously deleted."""


_CODE_TO_ERROR: dict[str, type[ApiError]] = {
    "AUTH_FAILED": AuthenticationError,
    "AUTH_FAILED_NO_DATA": AuthenticationError,
    "OVER_LIMIT": RateLimitError,
    "FIELD_EMPTY": InvalidFieldError,
    "FIELD_INVALID": InvalidFieldError,
    "MISSING_PARAM": InvalidFieldError,
    "NOT_FOUND": NotFoundError,
    "NO_ACCESS": NoAccessError,
    "KEY_EXISTS": KeyExistsError,
    "LEDGER_ERROR": InsufficientFundsError,
    "NOT_IMPLEMENTED": UnknownCallError,
    "BAD_CALLER_ID": BadCallerIdError,
    "RECIPIENTS_ERROR": RecipientsError,
    "LIST_EMPTY": RecipientsError,
    "ALREADY_SENT": AlreadySentError,
    "BAD_MOBILE": ContactError,
    "BAD_MOBILE_COUNTRY": ContactError,
    "OPTOUT": ContactError,
    "DUPLICATE_DELETED": ContactError,
}


def error_for_code(
    code: str, description: Any = None, status_code: int | None = None, call: str | None = None
) -> ApiError:
    """The exception for an API error code: the mapped subclass, or :class:`ApiError`."""
    cls = _CODE_TO_ERROR.get(code)
    if cls is None:
        cls = AuthenticationError if status_code == 401 else ApiError
    return cls(code, description, status_code, call)


class QueueTimeoutError(SmsApiError):
    """A call could not get a place in the account's rate within its ``max_queue_wait``.

    Nothing was sent. Raised at once when the callers queued ahead (or a pause after a 429) make
    the wait certain to be longer, else when the deadline passes; for a one-time code, the moment
    to fall back to another channel.
    """


class ResponseParseError(SmsApiError):
    """The body is not a response we understand: an HTML error page, truncated JSON, hostile XML.

    Attributes:
        status_code: the HTTP status of the answer.
        excerpt: the first characters of the body, for diagnosis.
        call: the API call name.
    """

    def __init__(
        self, reason: str, *, status_code: int | None, excerpt: str, call: str | None = None
    ) -> None:
        self.reason = reason
        self.status_code = status_code
        self.excerpt = excerpt
        self.call = call
        super().__init__(reason)

    def __str__(self) -> str:
        where = f"{self.call}: " if self.call else ""
        return f"{where}{self.reason} (HTTP {self.status_code}); body starts {self.excerpt!r}"


class PaginationError(ResponseParseError):
    """A paginated walk cannot go on without yielding an item twice or never ending: the server
    answers every page with rows already seen, or its page count keeps growing. Every item read
    before it was yielded."""

    def __init__(self, reason: str, *, call: str | None = None) -> None:
        super().__init__(reason, status_code=None, excerpt="", call=call)

    def __str__(self) -> str:
        return f"{self.call}: {self.reason}" if self.call else self.reason


class TransportError(SmsApiError):
    """No usable answer came back from the server.

    Attributes:
        call: the API call name.
    """

    def __init__(self, message: str, *, call: str | None = None) -> None:
        self.call = call
        super().__init__(message)


class NetworkError(TransportError):
    """The connection could not be made, or broke before an answer came back."""


class RequestTimeoutError(TransportError):
    """The request timed out."""


class OutcomeUnknownError(TransportError):
    """A call that changes state (a send, an add, a delete...) may or may not have taken effect.

    Raised instead of retrying when a state-changing call timed out, lost its connection after
    the request was written, or met a server error (HTTP 5xx): resending could send an SMS twice.
    Reconcile first (for a send, look the message up with the reporting calls), then decide.

    Attributes:
        status_code: the HTTP status when the server answered with a 5xx, else ``None``.
    """

    def __init__(self, message: str, *, call: str | None = None, status_code: int | None = None):
        self.status_code = status_code
        super().__init__(message, call=call)

    @classmethod
    def after(cls, call: str, what: str, *, status_code: int | None = None) -> OutcomeUnknownError:
        """The error for ``call`` when ``what`` went wrong after its request may have left."""
        return cls(
            f"{call}: {what}; the call changes state and may or may not have taken effect, "
            "so it was not resent. Check its result (e.g. the reporting calls) before retrying.",
            call=call,
            status_code=status_code,
        )
