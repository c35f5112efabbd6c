"""Authenticating callbacks: the platform's ``x-transmitsms-signature`` header, and signed URLs.

**The header.** The platform signs each v1 callback with a hex HMAC-SHA256, keyed with the account's
API secret, over the JSON text PHP's ``json_encode`` makes of PHP's ``parse_str`` reading of the
query. Verify it from the *raw* query string: a framework's parsed dict may have merged repeated
keys or lost their order, and then a genuine callback fails. The signature covers PHP's reading,
not the raw names (``message.id=1`` signs as ``message_id=1``), so build the event with
:func:`~smsapi_async.webhooks.parse_callback` from the same raw string, which reads it the same way;
never from your framework's dict. Where each framework keeps the raw query string:

* Starlette / FastAPI: ``request.scope["query_string"]`` (bytes);
* Django: ``request.META["QUERY_STRING"]``;
* Flask / Werkzeug: ``request.query_string`` (bytes);
* aiohttp: ``request.raw_path.partition("?")[2]`` (``request.query_string`` is already decoded).

Behind a proxy nothing changes as long as it forwards the query string untouched: the signature
covers the parameters only, not the host, scheme or path.

**Signed callback URLs.** Whether the platform's signature also covers parameters your URL already
had is not documented, so :func:`sign_callback_url` (``client.callback_url``) offers a second way:
it appends ``smsapi_expires`` and ``smsapi_token`` (an HMAC of the URL's parameters and expiry time,
keyed from the API secret) to your URL; pass the result as ``dlr_callback`` / ``reply_callback``.
The platform appends its parameters after them, and :func:`verify_callback_url` checks the token.
The token proves the caller knows the URL you gave the platform (keep it as secret as a password;
it travels over HTTPS); it does not sign the event's fields. It stops being accepted at expiry, so
choose a ``ttl`` longer than the message's validity plus the platform's day of retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .._exceptions import InvalidRequestError
from .._signature import (
    DEFAULT_URL_TTL,
    SIGNATURE_HEADER,
    callback_signature,
    php_query_pairs,
    verify_callback_signature,
)
from .._validate import check_url, is_unicode, seconds
from ._errors import InvalidCallbackError
from ._query import EXPIRES_PARAM, MAX_QUERY_BYTES, TOKEN_PARAM, query_bytes, split_query

__all__ = [
    "DEFAULT_URL_TTL",
    "SIGNATURE_HEADER",
    "sign_callback",
    "sign_callback_url",
    "verify_callback_url",
    "verify_signature",
]

_URL_KEY_LABEL = b"smsapi-async callback-url v1"
_TEN_YEARS = 10 * 365 * 86400.0
_MAX_UNIX_TIME = 2.0**40  # about the year 36812
_Pairs = list[tuple[str, str]]
_EXPIRY = re.compile(r"[0-9]{1,12}")


def check_secret(api_secret: str) -> bytes:
    if not isinstance(api_secret, str) or not api_secret:
        raise InvalidRequestError("api_secret must be the account's API secret, a non-empty str")
    try:
        return api_secret.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError("api_secret is not valid Unicode text") from None


def verify_signature(
    query: str | bytes | Sequence[tuple[str, str]], signature: str | bytes | None, api_secret: str
) -> bool:
    """Whether ``signature`` (the ``x-transmitsms-signature`` header) is the platform's signature of
    this callback. Constant-time.

    Args:
        query: the raw query string exactly as received (``str`` or ``bytes``; a leading ``?`` is
            ignored), or the decoded ``(key, value)`` pairs in the order received. Not a dict from
            your framework: that may have merged or reordered keys (see this module's docs for
            where each framework keeps the raw string).
        signature: the header's value; ``None`` (header absent) gives ``False``.
        api_secret: the account's API secret.
    """
    check_secret(api_secret)
    if isinstance(query, Mapping):
        raise TypeError("pass the raw query string (or ordered pairs), not a mapping: key order matters")
    if isinstance(signature, bytes):
        signature = signature.decode("ascii", "replace")
    # the whole check runs even without a header, so that absence and a wrong value cost alike
    header = signature if isinstance(signature, str) else ""
    if isinstance(query, (str, bytes)):
        return verify_callback_signature(query_bytes(query), header, api_secret)
    return verify_callback_signature(_pairs("query", query), header, api_secret)


def sign_callback(
    params: Mapping[str, str] | Sequence[tuple[str, str]] | str | bytes, api_secret: str
) -> str:
    """The ``x-transmitsms-signature`` the platform would send with these parameters, in this order
    (for your own tests: build a callback, sign it, feed it to your endpoint). A query string is
    read as PHP reads it."""
    check_secret(api_secret)
    if isinstance(params, (str, bytes)):
        pairs = php_query_pairs(query_bytes(params))
    else:
        pairs = _pairs("params", params.items() if isinstance(params, Mapping) else params)
    return callback_signature(pairs, api_secret)


def _pairs(name: str, items: object) -> list[tuple[str, str]]:
    """``(name, value)`` pairs of text, as given (order and empty names kept)."""
    if not isinstance(items, Iterable) or isinstance(items, (bytearray, memoryview)):
        raise InvalidRequestError(f"{name} must be a query string, a mapping or (name, value) pairs")
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and all(isinstance(part, str) for part in item)):
            raise InvalidRequestError(f"{name} must hold (name, value) pairs of str")
        if not is_unicode(item[0]) or not is_unicode(item[1]):
            raise InvalidRequestError(f"{name} holds text that is not valid Unicode")
        pairs.append(item)
    return pairs


def _url_key(api_secret: str) -> bytes:
    return hmac.new(check_secret(api_secret), _URL_KEY_LABEL, hashlib.sha256).digest()


def _token(key: bytes, pairs: Sequence[tuple[str, str]]) -> str:
    message = json.dumps([list(pair) for pair in pairs], ensure_ascii=True, separators=(",", ":"))
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def _seconds(ttl: float | timedelta) -> float:
    return seconds("ttl", ttl.total_seconds() if isinstance(ttl, timedelta) else ttl, maximum=_TEN_YEARS)


def sign_callback_url(
    base: str, api_secret: str, *, ttl: float | timedelta = DEFAULT_URL_TTL, now: float | None = None
) -> str:
    """``base`` with ``smsapi_expires`` and ``smsapi_token`` appended to its query string.

    Args:
        base: your callback URL (``http``/``https``), which may carry parameters of its own
            (``?order=123``): they are covered by the token. A token already on it is replaced.
        api_secret: the account's API secret (the token is keyed from it).
        ttl: how long the URL is accepted, seconds or a ``timedelta``.
        now: the current Unix time (default: the system's).
    """
    key = _url_key(api_secret)
    duration = _seconds(ttl)
    parts = urlsplit(check_url("base", base))
    if parts.fragment:
        raise InvalidRequestError("a callback URL cannot have a #fragment: the platform appends to the query")
    pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in (EXPIRES_PARAM, TOKEN_PARAM)
    ]
    if now is not None:
        seconds("now", now, maximum=_MAX_UNIX_TIME)
    expires = int((time.time() if now is None else now) + duration)
    signed = [*pairs, (EXPIRES_PARAM, str(expires))]
    query = urlencode([*signed, (TOKEN_PARAM, _token(key, signed))], quote_via=quote)
    return urlunsplit(parts._replace(query=query))


def split_at_token(pairs: Sequence[tuple[str, str]]) -> tuple[_Pairs, str, _Pairs] | None:
    """``(pairs before the token, token, pairs after it)``, or ``None`` without exactly one token."""
    positions = [i for i, (key, _) in enumerate(pairs) if key == TOKEN_PARAM]
    if len(positions) != 1:
        return None
    at = positions[0]
    return list(pairs[:at]), pairs[at][1], list(pairs[at + 1 :])


def verify_callback_url(
    query: str | bytes | Sequence[tuple[str, str]], api_secret: str, *, now: float | None = None
) -> bool:
    """Whether the query carries a valid, unexpired token from :func:`sign_callback_url`.

    ``query`` is the raw query string as received (or its decoded pairs in order). Constant-time
    in the token. A query with no token, two tokens, an expiry that is not right before the token,
    or a past expiry gives ``False``.
    """
    key = _url_key(api_secret)
    if isinstance(query, Mapping):
        raise TypeError("pass the raw query string (or ordered pairs), not a mapping: key order matters")
    try:
        pairs = split_query(query, max_bytes=MAX_QUERY_BYTES * 4, max_params=10_000)
    except InvalidCallbackError:
        return False
    split = split_at_token(pairs)
    if split is None:
        return False
    before, token, _ = split
    if not before or before[-1][0] != EXPIRES_PARAM or not _EXPIRY.fullmatch(before[-1][1]):
        return False
    expected = _token(key, before)
    valid = hmac.compare_digest(expected.encode(), token.strip().lower().encode("utf-8", "replace"))
    fresh = int(before[-1][1]) >= (time.time() if now is None else now)
    return valid and fresh


def platform_signature_matches(pairs: Sequence[tuple[str, str]], signature: str, api_secret: str) -> bool:
    """Header check over the parameters the platform appended after a URL token (for when the
    platform signs only its own parameters, not the URL's)."""
    split = split_at_token(pairs)
    if split is None or not split[2]:
        return False
    return verify_callback_signature(split[2], signature, api_secret)
