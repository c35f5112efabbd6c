"""The ``x-transmitsms-signature`` header of v1 callbacks (REFERENCE §3.6).

The platform signs each callback with a hex HMAC-SHA256, keyed with the account's API secret, over
the JSON text a PHP receiver gets from ``json_encode`` after ``parse_str`` of the query string. Any
difference in key order, escaping or key mangling changes the hash, so this module mimics PHP exactly:

* ``parse_str``: pairs split on ``&``, ``+`` and ``%XX`` decoded, leading spaces of a key dropped, ``.``
  and spaces in a key's base name become ``_``, ``a[]``/``a[k]`` build nested arrays, a repeated key keeps
  its first position but takes the last value, and canonical integer keys become integers;
* ``json_encode`` with default flags: compact, ``/`` escaped as ``\\/``, DEL left as it is, non-ASCII as
  lowercase ``\\u00e9``-style escapes
  (UTF-16 surrogate pairs above the BMP), an array with keys ``0..n-1`` in order as a JSON list and an
  empty array as ``[]``; a value that is not valid UTF-8 makes ``json_encode`` fail, and PHP then signs
  the empty string.

Both functions are pure; the sandbox signs with them and a webhook receiver verifies with them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Final, Union
from urllib.parse import unquote_to_bytes

__all__ = ["callback_signature", "php_json_encode", "php_parse_pairs", "verify_callback_signature"]

SIGNATURE_HEADER = "x-transmitsms-signature"

DEFAULT_URL_TTL: Final = timedelta(days=5)
"""Default lifetime of a signed callback URL (:func:`smsapi_async.webhooks.sign_callback_url`): the
longest validity (72 hours) plus the platform's retries (about 25 hours), with room to spare. Kept
here, with the signing primitives, so that the client gets it without loading the webhooks package."""

# PHP arrays: insertion-ordered maps with int or str keys; leaves are strings.
_PhpValue = Union[str, "_PhpArray"]
_PhpArray = dict[int | str, _PhpValue]

_INT_KEY = re.compile(r"-?(0|[1-9][0-9]*)\Z")
_PHP_INT_MAX = 2**63 - 1
_MAX_NESTING = 64  # PHP's default max_input_nesting_level; deeper names are dropped, not recursed into


class _InvalidUtf8(Exception):
    pass


def _php_key(key: str) -> int | str:
    if _INT_KEY.match(key) and -_PHP_INT_MAX - 1 <= int(key) <= _PHP_INT_MAX:
        return int(key)
    return key


def _split_name(name: str) -> tuple[str, list[str | None]] | None:
    """Split ``a.b[x][]`` into the mangled base ``a_b`` and its indexes (``None`` = append)."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    indexes: list[str | None] = []
    if bracket == -1:
        base, rest = name, ""
    else:
        close = name.find("]", bracket)
        if close == -1:
            # An unmatched "[" is itself mangled to "_" and the rest of the name is kept literally.
            base = name[:bracket].replace(".", "_").replace(" ", "_") + "_" + name[bracket + 1 :]
            return (base, []) if base else None
        base, rest = name[:bracket], name[bracket:]
    base = base.replace(".", "_").replace(" ", "_")
    if not base:
        return None
    while rest.startswith("["):
        close = rest.find("]")
        if close == -1:
            break
        inner = rest[1:close]
        indexes.append(inner if inner else None)
        rest = rest[close + 1 :]
    return base, indexes


def _next_index(array: _PhpArray) -> int:
    ints = [k for k in array if isinstance(k, int)]
    return max(ints) + 1 if ints and max(ints) >= 0 else 0


def php_parse_pairs(pairs: Sequence[tuple[str, str]]) -> _PhpArray:
    """Build the array PHP ``parse_str`` would produce from already-decoded ``(key, value)`` pairs."""
    result: _PhpArray = {}
    for raw_key, value in pairs:
        split = _split_name(raw_key)
        if split is None:
            continue
        base, indexes = split
        if len(indexes) > _MAX_NESTING:
            # PHP's max_input_nesting_level: the pair is dropped and so is what its name held
            result.pop(_php_key(base), None)
            continue
        keys: list[int | str | None] = [_php_key(base)]
        keys += [None if i is None else _php_key(i) for i in indexes]
        target = result
        for position, maybe_key in enumerate(keys):
            key = _next_index(target) if maybe_key is None else maybe_key
            if position == len(keys) - 1:
                target[key] = value
            else:
                child = target.get(key)
                if not isinstance(child, dict):
                    child = {}
                    target[key] = child
                target = child
    return result


def _encode_string(text: str) -> str:
    # Python's ASCII-only JSON escapes as PHP does (short escapes, lowercase hex escapes, surrogate
    # pairs above the BMP) but for three things: PHP also escapes "/", leaves DEL (0x7f) as it is,
    # and refuses lone surrogates.
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise _InvalidUtf8
    parts = (json.dumps(part)[1:-1].replace("/", "\\/") for part in text.split("\x7f"))
    return '"' + "\x7f".join(parts) + '"'


def php_json_encode(value: _PhpValue) -> str:
    """``json_encode($value)`` with PHP's default flags for strings and (nested) arrays."""
    if isinstance(value, str):
        return _encode_string(value)
    if list(value) == list(range(len(value))):
        return "[" + ",".join(php_json_encode(v) for v in value.values()) + "]"
    items = (f"{_encode_string(str(k))}:{php_json_encode(v)}" for k, v in value.items())
    return "{" + ",".join(items) + "}"


def _signed_text(pairs: Sequence[tuple[str, str]]) -> str:
    try:
        return php_json_encode(php_parse_pairs(pairs))
    except _InvalidUtf8:
        return ""  # json_encode() returned false; PHP hashes it as ""


def callback_signature(params: Sequence[tuple[str, str]], secret: str) -> str:
    """Return the hex HMAC-SHA256 the platform puts in ``x-transmitsms-signature``.

    ``params`` are the callback's decoded query parameters in the order they appear in the URL.
    """
    message = _signed_text(params).encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _parse_query(query: str | bytes) -> list[tuple[str, str]] | None:
    raw = query.encode("latin-1", "replace") if isinstance(query, str) else query
    if raw.startswith(b"?"):
        raw = raw[1:]
    pairs: list[tuple[str, str]] = []
    for piece in raw.split(b"&"):
        if not piece:
            continue
        key, _, value = piece.partition(b"=")
        try:
            pairs.append(
                (
                    unquote_to_bytes(key.replace(b"+", b" ")).decode("utf-8"),
                    unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8"),
                )
            )
        except UnicodeDecodeError:
            return None
    return pairs


def verify_callback_signature(
    query: str | bytes | Sequence[tuple[str, str]], signature: str, secret: str
) -> bool:
    """Check a callback's ``x-transmitsms-signature`` in constant time.

    ``query`` is either the raw query string (``"a=1&b=2"``, with or without the leading ``?``;
    a ``str`` must hold the URL-encoded ASCII form) or the decoded ``(key, value)`` pairs in order.
    """
    if isinstance(query, (str, bytes)):
        pairs = _parse_query(query)
        if pairs is None:
            expected = hmac.new(secret.encode("utf-8"), b"", hashlib.sha256).hexdigest()
        else:
            expected = callback_signature(pairs, secret)
    else:
        expected = callback_signature(query, secret)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace"))
