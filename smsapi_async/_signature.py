"""The ``x-transmitsms-signature`` header of v1 callbacks.

The platform signs each callback with a hex HMAC-SHA256, keyed with the account's API secret, over
the JSON text a PHP receiver gets from ``json_encode`` after ``parse_str`` of the query string (the
provider's signature guide does exactly that). Any difference in key order, escaping or key
mangling changes the hash, so this module mimics PHP exactly, and ``tests/webhooks`` checks it
against a real ``php`` for generated queries:

* ``parse_str``: pairs split on ``&`` (empty pieces skipped), ``+`` and ``%XX`` decoded (any other
  ``%`` kept), the name cut at a NUL, leading spaces dropped, ``.`` and spaces before the first
  ``[`` turned into ``_``, ``a[]``/``a[ ]``/``a[k]`` building nested arrays, an unmatched ``[``
  kept as ``_``; a repeated name keeps its first position but takes the last value, and
  canonical integer keys (not ``-0`` or ``007``) become integers. See :func:`php_name`.
* ``json_encode`` with default flags: compact, ``/`` escaped as ``\\/``, DEL left as it is,
  non-ASCII as lowercase ``\\u00e9``-style escapes (UTF-16 surrogate pairs above the BMP), an
  array with keys ``0..n-1`` in order as a JSON list and an empty array as ``[]``; a value that
  is not valid UTF-8 makes ``json_encode`` fail, and PHP then signs the empty string.

So the signature covers PHP's *reading* of the query, not its bytes: ``message.id=1`` and
``message_id=1`` sign alike, and of ``status=a&status=b`` only ``b`` is signed. A receiver must
therefore build its event from the same reading (:class:`PhpQuery`), never from the raw names.

Everything here is pure; the sandbox signs with it and a webhook receiver verifies with it.
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

__all__ = [
    "PhpQuery",
    "callback_signature",
    "php_json_encode",
    "php_name",
    "php_parse_pairs",
    "php_query_pairs",
    "verify_callback_signature",
]

SIGNATURE_HEADER = "x-transmitsms-signature"

DEFAULT_URL_TTL: Final = timedelta(days=5)
"""Default lifetime of a signed callback URL (:func:`smsapi_async.webhooks.sign_callback_url`): the
longest validity (72 hours) plus the platform's retries (about 25 hours), with room to spare. Kept
here, with the signing primitives, so that the client gets it without loading the webhooks package."""

# PHP arrays: insertion-ordered maps with int or str keys; leaves are strings.
_PhpValue = Union[str, "_PhpArray"]
_PhpArray = dict[int | str, _PhpValue]

_INT_KEY = re.compile(r"(0|-?[1-9][0-9]*)\Z")  # PHP's canonical integer strings: no "-0", no "007"
_PHP_INT_MAX = 2**63 - 1
_MAX_NESTING = 64  # PHP's default max_input_nesting_level; deeper names are dropped, not recursed into


class _InvalidUtf8(Exception):
    pass


def _php_key(key: str) -> int | str:
    if _INT_KEY.match(key) and -_PHP_INT_MAX - 1 <= int(key) <= _PHP_INT_MAX:
        return int(key)
    return key


_SPACE_DOT = str.maketrans(" .", "__")
_SPACE_DOT_BRACKET = str.maketrans(" .[", "___")
_ODD = re.compile(r"[ .\[\0]")  # a name without these is read as it stands


class TooDeep(Exception):
    """A name past PHP's nesting limit: PHP drops the pair *and* what its base name held."""

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.base = base


def php_name(name: str) -> tuple[str, list[str | None]] | None:
    """How PHP's ``parse_str`` reads a decoded parameter name: ``(base, indexes)``, where an index of
    ``None`` appends; ``None`` when PHP drops the pair. Raises :class:`TooDeep` past the nesting
    limit.

    This follows ``php_register_variable_ex`` step by step: the name is a C string (cut at the
    first NUL), leading spaces are skipped, ``" "`` and ``"."`` become ``"_"`` up to the first
    ``"["``; each ``[...]`` is an index (``[]`` and ``[ ]`` append); an ``"["`` with no ``"]"``
    after it ends the indexes, and if it is the first one it is kept in the name as ``"_"`` with
    the rest of the name mangled (``" "``, ``"."`` and ``"["`` to ``"_"``).
    """
    if not _ODD.search(name):
        return (name, []) if name else None
    name = name.split("\0", 1)[0].lstrip(" ")
    bracket = name.find("[")
    head = name if bracket == -1 else name[:bracket]
    base = head.translate(_SPACE_DOT)
    if not base:
        return None
    if bracket == -1:
        return base, []
    indexes: list[str | None] = []
    at = bracket  # at a "["
    while True:
        if len(indexes) >= _MAX_NESTING:
            raise TooDeep(base)
        start = at + 1
        probe = start + 1 if name[start : start + 1] == " " else start
        if name[probe : probe + 1] == "]":
            indexes.append(None)
            at = probe
        else:
            close = name.find("]", probe)
            if close == -1:
                if not indexes:  # not an index after all: "[" is part of the (mangled) name
                    return base + "_" + name[start:].translate(_SPACE_DOT_BRACKET), []
                return base, indexes
            indexes.append(name[start:close])
            at = close
        if name[at + 1 : at + 2] != "[":
            return base, indexes
        at += 1


def _next_index(array: _PhpArray) -> int | None:
    # PHP appends at one past the largest integer key (negative ones included), 0 with none; there is
    # no room past PHP_INT_MAX and the pair is dropped
    ints = [k for k in array if isinstance(k, int)]
    if not ints:
        return 0
    top = max(ints)
    return None if top >= _PHP_INT_MAX else top + 1


class PhpQuery:
    """What PHP's ``parse_str`` makes of a query, and how it got there.

    Attributes:
        array: the PHP array (the platform signs ``json_encode`` of it).
        renamed: top-level keys that some parameter reached under another name (``message.id``,
            `` status``, ``status[]``, ``status%00x``...).
        overwritten: top-level keys where a later parameter replaced an earlier, different value
            (PHP keeps the last; a reader taking the first would disagree).
    """

    __slots__ = ("array", "overwritten", "renamed")

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.array: _PhpArray = {}
        self.renamed: set[int | str] = set()
        self.overwritten: set[int | str] = set()
        for raw_name, value in pairs:
            self._add(raw_name, value)

    def _add(self, raw_name: str, value: str) -> None:
        try:
            split = php_name(raw_name)
        except TooDeep as too_deep:
            key = _php_key(too_deep.base)
            if key in self.array:
                self.overwritten.add(key)
            self.array.pop(key, None)
            return
        if split is None:
            return
        base, indexes = split
        top = _php_key(base)
        if raw_name != base:
            self.renamed.add(top)
        path: list[int | str | None] = [top, *(None if i is None else _php_key(i) for i in indexes)]
        target = self.array
        for position, maybe_key in enumerate(path):
            slot = _next_index(target) if maybe_key is None else maybe_key
            if slot is None:
                return  # no next index left: PHP drops the value
            if position == len(path) - 1:
                if slot in target and target[slot] != value:
                    self.overwritten.add(top)
                target[slot] = value
                return
            child = target.get(slot)
            if not isinstance(child, dict):
                if child is not None:
                    self.overwritten.add(top)  # a text replaced by an array
                child = {}
                target[slot] = child
            target = child


def php_parse_pairs(pairs: Sequence[tuple[str, str]]) -> _PhpArray:
    """Build the array PHP ``parse_str`` would produce from already-decoded ``(key, value)`` pairs."""
    return PhpQuery(pairs).array


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


def _php_urldecode(part: bytes) -> str:
    # PHP's urldecode: "+" is a space, "%XX" a byte, any other "%" stays; the bytes are kept as they
    # are (a byte that is not UTF-8 shows as a lone surrogate, which json_encode then refuses)
    return unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8", "surrogateescape")


def php_query_pairs(query: str | bytes) -> list[tuple[str, str]]:
    """The decoded ``(name, value)`` pairs PHP's ``parse_str`` reads from a raw query string, in
    order: split on ``&``, empty pieces skipped, each side URL-decoded leniently as PHP does.

    A ``str`` is taken as the query's text (its non-ASCII characters as their UTF-8 bytes).
    """
    raw = query.encode("utf-8", "surrogatepass") if isinstance(query, str) else bytes(query)
    if raw.startswith(b"?"):
        raw = raw[1:]
    pairs: list[tuple[str, str]] = []
    for piece in raw.split(b"&"):
        if piece:
            name, _, value = piece.partition(b"=")
            pairs.append((_php_urldecode(name), _php_urldecode(value)))
    return pairs


def verify_callback_signature(
    query: str | bytes | Sequence[tuple[str, str]], signature: str, secret: str
) -> bool:
    """Check a callback's ``x-transmitsms-signature`` in constant time.

    ``query`` is either the raw query string (``"a=1&b=2"``, with or without the leading ``?``)
    or the decoded ``(key, value)`` pairs in order. The work done does not depend on
    ``signature``: a missing or malformed one costs as much as a wrong one.
    """
    pairs = php_query_pairs(query) if isinstance(query, (str, bytes)) else query
    expected = callback_signature(pairs, secret)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace"))
