"""Reading a callback's query string strictly: size caps, percent-encoding and UTF-8 checked."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias
from urllib.parse import unquote_to_bytes

from .._validate import whole_number
from ._errors import InvalidCallbackError

__all__ = [
    "EXPIRES_PARAM",
    "MAX_PARAMS",
    "MAX_QUERY_BYTES",
    "TOKEN_PARAM",
    "Query",
    "query_bytes",
    "split_query",
]

MAX_QUERY_BYTES: Final = 32 * 1024
"""Default cap on a callback's raw query string. The largest real callback, a link hit carrying a
612-character message of 4-byte characters, percent-encodes to under 8 KiB."""

MAX_PARAMS: Final = 200
"""Default cap on the number of parameters of one callback."""

Query: TypeAlias = "str | bytes | Mapping[str, str] | Sequence[tuple[str, str]]"

_MAX_CAP: Final = 2**31
"""Caps larger than this are not caps (a callback that size would not fit in memory)."""

_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def query_bytes(query: str | bytes) -> bytes:
    """The raw query as bytes, without a leading ``?``.

    A ``str`` is taken as text: ASCII as it is (the usual, percent-encoded form), any other
    character as its UTF-8 bytes.
    """
    raw = query.encode("utf-8", "surrogatepass") if isinstance(query, str) else bytes(query)
    return raw[1:] if raw.startswith(b"?") else raw


def _decode(part: bytes, what: str) -> str:
    if _BAD_PERCENT.search(part):
        raise InvalidCallbackError("bad_encoding", f"invalid percent-encoding in a parameter {what}")
    try:
        return unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCallbackError("bad_encoding", f"a parameter {what} is not valid UTF-8") from None


def _check_size(count: int, max_params: int) -> None:
    if count > max_params:
        raise InvalidCallbackError("too_large", f"more than {max_params} parameters")


def split_query(
    query: Query, *, max_bytes: int = MAX_QUERY_BYTES, max_params: int = MAX_PARAMS
) -> list[tuple[str, str]]:
    """The decoded ``(key, value)`` pairs of a callback, in the order received.

    Empty pieces (``a=1&&b=2``) and pairs without a key are skipped, as PHP does.

    Raises:
        InvalidCallbackError: over ``max_bytes`` or ``max_params``, invalid percent-encoding or
            UTF-8, or a key or value that is not text (mappings and pairs).
    """
    whole_number("max_bytes", max_bytes, 0, _MAX_CAP)
    whole_number("max_params", max_params, 0, _MAX_CAP)
    if isinstance(query, (str, bytes, bytearray, memoryview)):
        raw = query_bytes(query if isinstance(query, str) else bytes(query))
        if len(raw) > max_bytes:
            raise InvalidCallbackError("too_large", f"query string over {max_bytes} bytes")
        pieces = [piece for piece in raw.split(b"&") if piece]
        _check_size(len(pieces), max_params)
        pairs: list[tuple[str, str]] = []
        for piece in pieces:
            key, _, value = piece.partition(b"=")
            name = _decode(key, "name")
            if name:
                pairs.append((name, _decode(value, "value")))
        return pairs
    try:
        source = iter(query.items()) if isinstance(query, Mapping) else iter(query)
    except TypeError:
        raise InvalidCallbackError(
            "bad_value",
            f"a callback is a query string, a mapping or (name, value) pairs, not {type(query).__name__}",
        ) from None
    items = list(itertools.islice(source, max_params + 1))  # an endless iterable is not read whole
    _check_size(len(items), max_params)
    total = 0
    checked: list[tuple[str, str]] = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise InvalidCallbackError("bad_value", "parameters must be (name, value) pairs of text")
        pname, ptext = item[0], item[1]
        if not (isinstance(pname, str) and isinstance(ptext, str)):
            raise InvalidCallbackError("bad_value", "parameter names and values must be str")
        try:
            pname.encode("utf-8")
            ptext.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidCallbackError("bad_encoding", "a parameter is not valid Unicode text") from None
        total += len(pname) + len(ptext) + 2
        if total > max_bytes:
            raise InvalidCallbackError("too_large", f"parameters over {max_bytes} bytes")
        if pname:
            checked.append((pname, ptext))
    return checked


EXPIRES_PARAM: Final = "smsapi_expires"
"""Query parameter of a signed callback URL: when the URL stops being accepted (Unix seconds)."""

TOKEN_PARAM: Final = "smsapi_token"
"""Query parameter of a signed callback URL: the HMAC token over the parameters before it."""
