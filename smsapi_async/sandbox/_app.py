"""The Starlette application: routing, request parsing, auth, rate limit, chaos, rendering.

Every answer to ``/<call>.json`` or ``/<call>.xml``, errors included, is in that format; a path with
neither suffix gets a JSON 404. Order of checks: suffix (404 NOT_IMPLEMENTED), jitter,
chaos fault, Basic auth (401), body size/encoding (400 FIELD_INVALID), rate limit (429 OVER_LIMIT,
only requests that pass it are counted), call lookup (404 NOT_IMPLEMENTED), handler.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._admin import ADMIN_ROUTES
from ._chaos import SERVER_ERROR_PAGE, Fault, choose_fault
from ._contract import check_params
from ._egress import LOOP_HEADER, REFUSED_HEADER
from ._params import ApiFailure, Context, Params
from ._persist import StateSaveError
from ._render import error_payload, render, success
from ._samesite import SameSiteGuard
from ._state import Account, datetime_text
from ._ui import UI_ROUTES
from .handlers import HANDLERS

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = ["HANDLERS", "build_app"]

OVER_LIMIT_TEXT = "You have exceeded the rate limit for API calls"
LOGGED_PARAMS = 50  # per request in the request log, each value cut at 200 characters
REDACTED_PARAMS = frozenset({"password", "api_secret", "apisecret", "cvv", "number_card"})
REDACTED_BY_CALL = {"add-card": frozenset({"number", "expiry_month", "expiry_year"})}
"""Parameters kept out of the request log and the inbox's Requests page (card data of ``add-card``)."""
_CONTROL = "sandbox.control"
logger = logging.getLogger("smsapi_async.sandbox")
_request_ids = itertools.count(1)


class _BodyTooLarge(Exception):
    pass


def _answer(payload: dict[str, Any], fmt: str, status: int = 200) -> Response:
    body, content_type = render(payload, fmt)
    return Response(body, status_code=status, headers={"content-type": content_type})


def _split_call(path: str) -> tuple[str, str | None]:
    """``"send-sms.json"`` → ``("send-sms", "json")``. The official PHP client's ``//2/send-sms.json``
    (its base URL ends in ``/`` and it adds ``/2/``) names the same call."""
    name = path.strip("/")
    if name.startswith("2/"):
        name = name[2:].lstrip("/")
    for fmt in ("json", "xml"):
        if name.endswith("." + fmt):
            return name[: -len(fmt) - 1], fmt
    return name, None


def _authenticate(sandbox: Sandbox, header: str | None) -> Account:
    if not header:
        raise ApiFailure("AUTH_FAILED_NO_DATA", "You must provide authentication data", 401)
    scheme, _, value = header.partition(" ")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    key, sep, secret = decoded.partition(":")
    account = sandbox.state.by_key.get(key)
    if scheme.lower() != "basic" or not sep or account is None or account.api_secret != secret:
        raise ApiFailure("AUTH_FAILED", "The auth data you have provided is invalid.", 401)
    return account


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_pairs(raw: bytes) -> list[tuple[str, str]]:
    return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")


def _multipart_pairs(content_type: str, body: bytes) -> list[tuple[str, str]]:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    document = parser.parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not document.is_multipart():
        raise ValueError("not multipart")
    pairs = []
    for part in document.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            pairs.append((name, payload.decode("utf-8")))
    return pairs


def parse_params(query: bytes, content_type: str, body: bytes) -> Params:
    """Query string and form body (urlencoded or multipart), UTF-8 only."""
    try:
        pairs = _decode_pairs(query)
        if body:
            if content_type.lower().startswith("multipart/form-data"):
                pairs += _multipart_pairs(content_type, body)
            else:
                pairs += _decode_pairs(body)
    except (UnicodeError, ValueError, LookupError) as exc:
        raise ApiFailure("FIELD_INVALID", "The request is not valid UTF-8 form data") from exc
    return Params(pairs)


READ_ONLY_PREFIXES = ("get-", "format-")


def _log(sandbox: Sandbox, request: Request, call: str, fmt: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": next(_request_ids),
        "at": datetime_text(sandbox.clock.now()),
        "method": request.method,
        "call": call,
        "format": fmt,
        "account_id": None,
        "params": {},
        "status": None,
        "code": None,
        "fault": None,
    }
    sandbox.requests.append(entry)
    return entry


async def _api(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    call, fmt = _split_call(request.path_params["call"])
    entry = _log(sandbox, request, call, fmt)
    response = await _process(sandbox, request, call, fmt, entry)
    entry["status"] = response.status_code
    return response


SAVE_FAILED = "The change could not be saved, so it was not made; try again later"


def _run_saved(sandbox: Sandbox, call: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a call that changes state so that its change and its save go together.

    What earlier calls and the worker changed is saved first (if that fails, nothing is done), so
    the file then holds exactly the state before this call; if this call's save fails, the state is
    read back from the file and the callbacks it queued are dropped: no message without its save, no
    charge without its message. Nothing awaits in between, so no other call can interleave."""
    if sandbox.store is None:
        result = run()
        sandbox.persist()
        return result
    try:
        sandbox.persist()
    except StateSaveError as exc:
        logger.error("sandbox: %s; %s refused", exc, call)  # noqa: TRY400 (the reason is the message)
        raise ApiFailure("INTERNAL_ERROR", SAVE_FAILED, 500) from None
    result = run()
    try:
        sandbox.persist()
    except StateSaveError as exc:
        logger.error("sandbox: %s; %s undone", exc, call)  # noqa: TRY400 (the reason is the message)
        sandbox.undo_unsaved()
        raise ApiFailure("INTERNAL_ERROR", SAVE_FAILED, 500) from None
    return result


async def _handle(
    sandbox: Sandbox, request: Request, call: str, over_limit: bool, entry: dict[str, Any]
) -> dict[str, Any]:
    """Authenticate, parse, rate-limit and run the call; failures raise ``ApiFailure``."""
    if over_limit:
        raise ApiFailure("OVER_LIMIT", OVER_LIMIT_TEXT, 429)
    account = _authenticate(sandbox, request.headers.get("authorization"))
    entry["account_id"] = account.id
    try:
        body = await _read_body(request, sandbox.config.max_body_bytes)
    except _BodyTooLarge:
        raise ApiFailure("FIELD_INVALID", "The request body is too large") from None
    query: bytes = request.scope.get("query_string", b"")
    params = parse_params(query, request.headers.get("content-type", ""), body)
    hidden = REDACTED_PARAMS | REDACTED_BY_CALL.get(call.lower(), frozenset())
    entry["params"] = {
        k[:64]: ("[redacted]" if k.lower() in hidden else v[:200])
        for k, v in itertools.islice(params.raw().items(), LOGGED_PARAMS)
    }
    now = sandbox.clock.now()
    if not sandbox.limiter.try_acquire(account.id, now):
        raise ApiFailure("OVER_LIMIT", OVER_LIMIT_TEXT, 429)
    handler = HANDLERS.get(call)
    if handler is None:
        raise ApiFailure("NOT_IMPLEMENTED", f"The call '{call[:64]}' is not implemented", 404)
    check_params(call, params)
    if call.startswith(READ_ONLY_PREFIXES):
        return success(handler(Context(sandbox, account, now), params))

    def change() -> dict[str, Any]:
        payload = success(handler(Context(sandbox, account, now), params))
        sandbox.state.touch_account(account)  # its balance, numbers, keywords, imports, ...
        return payload

    return _run_saved(sandbox, call, change)


async def _process(
    sandbox: Sandbox, request: Request, call: str, fmt: str | None, entry: dict[str, Any]
) -> Response:
    if fmt is None:
        entry["code"] = "NOT_IMPLEMENTED"
        return _answer(error_payload("NOT_IMPLEMENTED", "Unknown call or format"), "json", 404)
    config = sandbox.config
    if config.jitter:
        await anyio.sleep(sandbox.rng.uniform(0, config.jitter))
    fault = choose_fault(config.chaos, sandbox.rng)
    entry["fault"] = fault
    if fault == Fault.SLOW:
        await anyio.sleep(config.chaos.slow_seconds)
    elif fault == Fault.DROP_BEFORE:
        request.scope[_CONTROL]["drop"] = True
        return Response(b"")
    elif fault == Fault.SERVER_ERROR:
        return Response(SERVER_ERROR_PAGE, 502, headers={"content-type": "text/html"})
    try:
        payload = await _handle(sandbox, request, call, fault == Fault.OVER_LIMIT, entry)
    except ApiFailure as failure:
        entry["code"] = failure.code
        return _answer(error_payload(failure.code, failure.description), fmt, failure.status)
    entry["code"] = "SUCCESS"
    if fault == Fault.DROP_AFTER:
        request.scope[_CONTROL]["drop"] = True
    return _answer(payload, fmt)


LENGTH_REQUIRED_PAGE = b"""<html>
<head><title>411 Length Required</title></head>
<body bgcolor="white">
<center><h1>411 Length Required</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


async def _not_supported(request: Request) -> Response:
    """Methods the API does not serve. A PUT without a body length never reaches it: the front end
    (nginx) answers its own 411 page, as it did to the 2015 Ruby client's bodiless PUT."""
    if request.method == "PUT" and not {"content-length", "transfer-encoding"} & set(request.headers):
        return Response(LENGTH_REQUIRED_PAGE, 411, headers={"content-type": "text/html"})
    _, fmt = _split_call(request.path_params["call"])
    return _answer(error_payload("NOT_IMPLEMENTED", "Use GET or POST"), fmt or "json", 404)


class _DropConnection:
    """Outermost ASGI layer: swallows the answer of a request chaos decided to drop and breaks the
    connection instead (aborts uvicorn's transport; in-process it raises ``httpx.RemoteProtocolError``,
    which is what ``httpx`` itself raises when a server hangs up)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        control = {"drop": False}
        scope = {**scope, _CONTROL: control}

        async def guarded_send(message: Message) -> None:
            if not control["drop"]:
                await send(message)

        await self.app(scope, receive, guarded_send)
        if control["drop"]:
            cycle = getattr(send, "__self__", None)
            transport = getattr(cycle, "transport", None)
            if transport is not None and hasattr(transport, "abort"):
                transport.abort()
                cycle.disconnected = True  # type: ignore[union-attr]
                return
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


LOOP_TEXT = (
    "This request was made by a sandbox (a callback or a file_url fetch); "
    "the sandbox does not act on its own requests"
)


class _LoopGuard:
    """Refuses every request a sandbox made itself (``_egress.py``): a callback URL naming the API
    would otherwise make each message's receipt another message."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        marker = LOOP_HEADER.encode()
        if scope["type"] != "http" or not any(name.lower() == marker for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        call, fmt = _split_call(request.url.path)
        entry = _log(self.sandbox, request, call, fmt)
        entry["code"] = "CALLBACK_LOOP"
        entry["status"] = 403
        response = _answer(error_payload("CALLBACK_LOOP", LOOP_TEXT), fmt or "json", 403)
        response.headers[REFUSED_HEADER] = "loop"
        await response(scope, receive, send)


def build_app(sandbox: Sandbox) -> ASGIApp:
    """The ASGI app; its lifespan runs the callback worker unless one is already running.

    Outermost is the same-site guard (``_samesite.py``), then the loop guard (refusing the sandbox's
    own callbacks), then the chaos layer that can drop a connection, then Starlette's routing."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            if sandbox.worker_running:
                yield
                return
            async with sandbox.running():
                yield
        finally:
            sandbox.persist()  # keeps what admin injections and deliveries changed, too

    routes = [
        *ADMIN_ROUTES,
        *UI_ROUTES,
        Route("/{call:path}", _api, methods=["GET", "POST"]),
        Route("/{call:path}", _not_supported, methods=["PUT", "PATCH", "DELETE", "OPTIONS"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return SameSiteGuard(_LoopGuard(_DropConnection(app), sandbox), lambda: sandbox.allowed_hosts)
