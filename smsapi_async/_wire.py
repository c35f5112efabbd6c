"""Connection hygiene around each exchange: no cookies kept or sent, and no reuse of a connection that
already holds bytes beyond the answer just read.

**Cookies.** The API sets none that matter, and a jar kept by the client grows with whatever a server
(or a proxy) sets: 60 000 cookies made a 2 MB ``Cookie`` header after 30 calls. The client's own
``httpx.AsyncClient`` gets a jar that refuses every cookie; with an ``http_client`` of yours, the
``Cookie`` header is removed from each request and cookies set by the API's host are dropped from
your jar after each answer (httpx stores them before anyone else sees the answer).

**Bytes beyond the answer.** HTTP/1.1 has no request ids: on a kept-alive connection, the next
answer is whatever bytes come next. If a server writes more than its answer (a second answer, junk),
those bytes would be read as the *next* call's answer, and every later call on that connection
would be off by one (a send returned a ``message_id`` written before it was made). httpcore already
refuses to reuse an idle connection whose socket has unread data; bytes that arrived together with
the answer sit in h11's buffer instead, out of its sight (httpcore has already made the connection
idle again once the body was read). :func:`close_if_overfull` looks there and closes such a
connection before it goes back to the pool, which then drops it. It needs httpx's own transport
(httpcore over HTTP/1.1); through another transport it does nothing.
"""

from __future__ import annotations

import http.cookiejar
import logging
from typing import Any

import httpx

__all__ = ["close_if_overfull", "forget_cookies", "refusing_cookies"]

log = logging.getLogger("smsapi_async")


class _RefuseAll(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def refusing_cookies() -> httpx.Cookies:
    """A cookie jar that keeps nothing and sends nothing."""
    cookies = httpx.Cookies()
    cookies.jar.set_policy(_RefuseAll())
    return cookies


def _domain_matches(domain: str, host: str) -> bool:
    # the standard library's jar files a cookie from a host without a dot under "<host>.local"
    domain = domain.lstrip(".").lower()
    return domain in (host, host + ".local") or host.endswith("." + domain)


def forget_cookies(http: httpx.AsyncClient, response: httpx.Response) -> None:
    """Drop from ``http``'s jar whatever cookies the answer's host may have set there."""
    if "set-cookie" not in response.headers:
        return
    host = response.request.url.host.lower()
    jar = http.cookies.jar
    for cookie in list(jar):
        if _domain_matches(cookie.domain, host):
            jar.clear(cookie.domain, cookie.path, cookie.name)


def _http11_connection(response: httpx.Response) -> Any:
    """httpcore's HTTP/1.1 connection under httpx's transport and httpcore's pool, or ``None``."""
    found: Any = response.stream
    for name in ("_stream", "_httpcore_stream", "_stream", "_connection"):
        found = getattr(found, name, None)
        if found is None:
            return None
    return found


async def close_if_overfull(response: httpx.Response) -> bool:
    """Call after reading the whole body, before closing the response: if the connection already
    holds bytes beyond this answer, close it so that it is never reused. ``True`` if it did."""
    connection = _http11_connection(response)
    trailing = getattr(getattr(connection, "_h11_state", None), "trailing_data", None)
    if not (isinstance(trailing, tuple) and trailing and trailing[0]):
        return False
    log.warning(
        "the server sent %d bytes beyond its answer; that connection is closed, not reused", len(trailing[0])
    )
    await connection.aclose()  # closed before the answer releases it: the pool then drops it
    return True
