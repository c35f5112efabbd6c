"""Same-site only: what keeps web pages on other sites from driving a sandbox on your machine.

The sandbox has no real authentication (the demo key is printed at start, and ``/_sandbox/state``
shows every key), so a page the developer visits must not be able to reach it:

* **Host** (against DNS rebinding, where ``attacker.example`` starts resolving to 127.0.0.1 and the
  attacker's page becomes "same-origin" with the sandbox): a *served* sandbox answers only requests
  whose ``Host`` is an IP literal, ``localhost``, ``*.localhost`` or a name in ``allowed_hosts``
  (``--allow-host``); anything else gets HTTP 421 ``HOST_NOT_SERVED``. A rebinding attack needs a
  name, so IP literals are safe. An in-process sandbox (``allowed_hosts=None``) answers any Host: only
  code in your own process can reach it.
* **Cross-site requests to ``/_sandbox/…``** get HTTP 403: a ``Sec-Fetch-Site`` other than
  ``same-origin`` / ``none`` (except a GET top-level navigation, which can read or change nothing),
  or an ``Origin`` that is ``null`` or names another host than ``Host``.
* **Admin POSTs must be JSON** (``Content-Type: application/json``), else HTTP 415. A browser sends a
  cross-site JSON POST only after a CORS preflight, which the sandbox never grants; this also covers
  browsers that send neither ``Origin`` nor ``Sec-Fetch-Site``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ADMIN_PREFIX", "SameSiteGuard", "exposure_warning", "host_is_served", "normalise_hosts"]

ADMIN_PREFIX = "/_sandbox"
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_SAME_SITE_FETCH = frozenset({"same-origin", "none"})


def normalise_hosts(hosts: Iterable[str]) -> frozenset[str]:
    return frozenset(h.strip().lower().rstrip(".") for h in hosts if h.strip())


def _hostname(host_header: str) -> str:
    """``"[::1]:8765"`` → ``"::1"``, ``"Example.test:80"`` → ``"example.test"``."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    name, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        value = name
    return value.rstrip(".")


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_is_served(host_header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request naming ``host_header`` is for this sandbox (see the module docstring)."""
    if not host_header:
        return False
    name = _hostname(host_header)
    return _is_ip_literal(name) or name == "localhost" or name.endswith(".localhost") or name in allowed


def exposure_warning(bind_host: str) -> str | None:
    """A warning when ``bind_host`` is not a loopback address, else ``None``."""
    name = bind_host.strip("[]").lower()
    if name == "localhost" or (_is_ip_literal(name) and ipaddress.ip_address(name).is_loopback):
        return None
    return (
        f"WARNING: the sandbox listens on {bind_host}, so other machines can reach it. It has no real "
        "authentication: /_sandbox/state shows every API key, and anyone who reaches it can send, read "
        "and change everything. Use --host 127.0.0.1 unless you mean it."
    )


def _refuse(status: int, body: dict[str, Any]) -> Callable[[Send], Any]:
    payload = json.dumps(body).encode()

    async def respond(send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return respond


class SameSiteGuard:
    """ASGI layer applying the module's rules before the app sees a request.

    ``allowed_hosts()`` is read per request (``None``: any Host), so a sandbox can be served after its
    app was built.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Callable[[], frozenset[str] | None]) -> None:
        self.app = app
        self._allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._check(scope)
            if refusal is not None:
                await refusal(send)
                return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> Callable[[Send], Any] | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host")
        allowed = self._allowed_hosts()
        if allowed is not None and not host_is_served(host, allowed):
            description = (
                f"This sandbox does not serve the host {(host or '')[:100]!r}; open it by IP address or "
                "localhost, or start it with --allow-host NAME"
            )
            return _refuse(421, {"error": {"code": "HOST_NOT_SERVED", "description": description}})
        path: str = scope.get("path", "")
        if path != ADMIN_PREFIX and not path.startswith(ADMIN_PREFIX + "/"):
            return None
        method = scope.get("method", "GET").upper()
        fetch_site = headers.get("sec-fetch-site")
        navigation = method in _SAFE_METHODS and headers.get("sec-fetch-mode") == "navigate"
        origin = headers.get("origin")
        if (fetch_site is not None and fetch_site.lower() not in _SAME_SITE_FETCH and not navigation) or (
            origin is not None and not _same_origin(origin, host)
        ):
            return _refuse(
                403, {"error": "cross-site request refused: admin endpoints answer their own pages"}
            )
        if method not in _SAFE_METHODS:
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return _refuse(
                    415, {"error": "admin requests must be JSON: send Content-Type: application/json"}
                )
        return None


def _same_origin(origin: str, host: str | None) -> bool:
    if not host or origin.strip().lower() == "null":
        return False
    try:
        netloc = urlsplit(origin.strip()).netloc.lower()
    except ValueError:
        return False
    return netloc == host.strip().lower()
