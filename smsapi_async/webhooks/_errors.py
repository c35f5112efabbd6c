"""The one error a malformed callback raises."""

from __future__ import annotations

from typing import Final

from .._exceptions import SmsApiError

__all__ = ["REASONS", "InvalidCallbackError"]

REASONS: Final = (
    "empty",
    "too_large",
    "bad_encoding",
    "missing",
    "repeated",
    "ambiguous",
    "not_numeric",
    "bad_date",
    "bad_value",
    "unknown_kind",
)
"""Every value :attr:`InvalidCallbackError.reason` takes."""


class InvalidCallbackError(SmsApiError, ValueError):
    """A callback's query string is not one the platform sends.

    Attributes:
        reason: what is wrong, one of :data:`REASONS`: ``empty`` (no parameters), ``too_large``
            (over the size or parameter-count cap), ``bad_encoding`` (invalid percent-encoding or
            UTF-8), ``missing`` (a required parameter is absent or blank), ``repeated`` (an event
            parameter given twice with different values), ``ambiguous`` (an event parameter that
            PHP's ``parse_str``, whose reading the signature covers, takes from another name:
            ``message.id``, `` status``, ``status[]``), ``not_numeric`` (an id or counter that
            is not a non-negative integer of at most 64 bits), ``bad_date`` (a timestamp that is
            not a real UTC date and time), ``bad_value`` (e.g. ``is_optout`` neither yes nor no,
            a ``mobile`` that is not 3 to 15 digits), ``unknown_kind`` (no callback kind has
            these parameters).
        key: the parameter concerned, when there is one.

    The message names the reason and the parameter, never a value: callbacks carry message text
    and phone numbers, which do not belong in logs.
    """

    def __init__(self, reason: str, message: str, *, key: str | None = None) -> None:
        self.reason = reason
        self.key = key
        super().__init__(message)

    def __repr__(self) -> str:
        return f"InvalidCallbackError(reason={self.reason!r}, key={self.key!r}, message={str(self)!r})"
