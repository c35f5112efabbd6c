"""Admin endpoints under ``/_sandbox/`` (no auth: the sandbox is a local development tool).

POST bodies are JSON objects (``Content-Type: application/json``; an empty body is ``{}``), and
query-string parameters are merged in; answers are JSON. Cross-site requests and form posts are
refused before they get here (see ``_samesite.py``). Errors are
``{"error": "<text>"}`` with HTTP 400 (bad input) or 404 (unknown message/account/list).

* ``GET  /_sandbox/state``                 summary of accounts, messages, counters
* ``GET  /_sandbox/requests?limit=N``      ``{"requests": [...]}`` newest last, secrets redacted
* ``GET  /_sandbox/callbacks``             ``{"callbacks": [...]}`` every callback and its attempts
* ``POST /_sandbox/inbound``               ``{mobile, message, to?, message_id?, api_key?}`` →
  ``{"response_id", "message_id", "is_optout"}``: a reply / inbound SMS (STOP opts out)
* ``POST /_sandbox/link-hit``              ``{message_id, mobile}`` → ``{"link_hits": n}``
* ``POST /_sandbox/advance``               ``{seconds}`` → ``{"now": "..."}`` (virtual clock only)
* ``POST /_sandbox/reset``                 → ``{}``: back to the configured accounts
* ``POST /_sandbox/credit``                ``{amount, api_key?}`` → ``{"balance": x}``
* ``POST /_sandbox/settings``              ``{api_key?, dlr_callback?, reply_callback?, link_hits_callback?}``
  → the account's callback defaults
* ``POST /_sandbox/list-automation``       ``{list_id, forward_url, api_key?}`` → ``{}``: list-action URL
* ``POST /_sandbox/chaos``                 ``{over_limit?, server_error?, drop_before?, drop_after?, slow?,
  slow_seconds?}`` → every chaos setting: switch faults on (probability per request) or off (0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._callbacks import UnusableUrl, check_callback_url
from ._clock import VirtualClock
from ._state import Account, datetime_text

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = ["ADMIN_ROUTES"]


class _AdminError(Exception):
    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.text, self.status = text, status


MAX_BODY_BYTES = 1_000_000
MAX_AMOUNT = 1e9  # credit, in the account's currency


async def _body(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = dict(request.query_params)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _AdminError(f"the body is larger than {MAX_BODY_BYTES} bytes", 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        return data
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _AdminError("the body is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise _AdminError("the JSON body must be an object")
    return {**data, **parsed}


def _get(data: dict[str, Any], *names: str, required: bool = True) -> str | None:
    for name in names:
        if data.get(name) not in (None, ""):
            return str(data[name])
    if required:
        raise _AdminError(f"'{names[0]}' is required")
    return None


def _number(data: dict[str, Any], name: str, *, limit: float = 1e12) -> float:
    """A finite number within ``±limit``."""
    try:
        value = float(_get(data, name) or "")
    except (ValueError, OverflowError):
        value = math.nan
    if not -limit <= value <= limit:  # also refuses NaN and infinities
        raise _AdminError(f"'{name}' must be a number between {-limit:g} and {limit:g}")
    return value


def _int(data: dict[str, Any], name: str) -> int:
    value = _number(data, name)
    if value != int(value):
        raise _AdminError(f"'{name}' must be a whole number")
    return int(value)


def _url(data: dict[str, Any], name: str) -> str:
    """A callback URL setting: "" (none) or a URL a request can be made to."""
    value = str(data.get(name) or "").strip()
    if not value:
        return ""
    try:
        return check_callback_url(value)
    except UnusableUrl as exc:
        raise _AdminError(f"'{name}' is not a usable http(s) URL: {exc}") from None


def _account(sandbox: Sandbox, data: dict[str, Any]) -> Account:
    try:
        return sandbox.account(_get(data, "api_key", required=False))
    except LookupError as exc:
        raise _AdminError(str(exc), 404) from None


Endpoint = Callable[["Sandbox", Request, dict[str, Any]], Awaitable[Any]]


def _route(path: str, method: str, func: Endpoint) -> Route:
    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        try:
            data = await _body(request)
            answer = await func(sandbox, request, data)
            if method == "POST":
                sandbox.persist()  # before the answer leaves: an acknowledged change is kept
            return JSONResponse(answer)
        except _AdminError as exc:
            return JSONResponse({"error": exc.text}, status_code=exc.status)

    return Route(path, endpoint, methods=[method])


async def _state(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    return sandbox.snapshot()


async def _requests(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    limit = _int(data, "limit") if data.get("limit") else len(sandbox.requests)
    return {"requests": list(sandbox.requests)[-limit:] if limit > 0 else []}


async def _callbacks(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    return {"callbacks": [d.as_dict() for d in sandbox.callbacks.deliveries]}


async def _inbound(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    message_id = _get(data, "message_id", required=False)
    try:
        response = sandbox.inject_reply(
            _get(data, "mobile", "from", "msisdn") or "",
            _get(data, "message", "response", "text") or "",
            to=_get(data, "to", "longcode", required=False),
            message_id=_int(data, "message_id") if message_id else None,
            api_key=_get(data, "api_key", required=False),
        )
    except LookupError as exc:
        raise _AdminError(str(exc), 404) from None
    except ValueError as exc:
        raise _AdminError(str(exc)) from None
    return {
        "response_id": response.id,
        "message_id": response.message_id,
        "is_optout": response.is_optout,
    }


async def _link_hit(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    try:
        hits = sandbox.link_hit(_int(data, "message_id"), _get(data, "mobile") or "")
    except LookupError as exc:
        raise _AdminError(str(exc), 404) from None
    return {"link_hits": hits}


async def _advance(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    if not isinstance(sandbox.clock, VirtualClock):
        raise _AdminError("the sandbox runs on the real clock")
    seconds = _number(data, "seconds")
    if not 0 <= seconds < 10 * 365 * 86400:
        raise _AdminError("'seconds' must be >= 0")
    return {"now": datetime_text(sandbox.advance(seconds))}


async def _reset(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    sandbox.reset()
    return {}


async def _credit(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    account = _account(sandbox, data)
    amount = _number(data, "amount", limit=MAX_AMOUNT)
    sandbox.state.record_transaction(
        account, sandbox.clock.now(), amount, description="Credit Top Up", type_id=23
    )
    return {"balance": round(account.balance, 3)}


async def _settings(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    account = _account(sandbox, data)
    changes = {
        name: _url(data, name)
        for name in ("dlr_callback", "reply_callback", "link_hits_callback")
        if name in data
    }
    for name, value in changes.items():
        setattr(account, name, value)
    sandbox.state.touch_account(account)
    return {
        "dlr_callback": account.dlr_callback,
        "reply_callback": account.reply_callback,
        "link_hits_callback": account.link_hits_callback,
    }


async def _list_automation(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    account = _account(sandbox, data)
    contact_list = account.lists.get(_int(data, "list_id"))
    if contact_list is None:
        raise _AdminError("no such list", 404)
    contact_list.forward_url = _url(data, "forward_url")
    sandbox.state.touch_list(account, contact_list)
    return {}


CHAOS_SETTINGS = ("over_limit", "server_error", "drop_before", "drop_after", "slow", "slow_seconds")


async def _chaos(sandbox: Sandbox, request: Request, data: dict[str, Any]) -> Any:
    changes = {name: _number(data, name) for name in CHAOS_SETTINGS if data.get(name) not in (None, "")}
    if not all(math.isfinite(value) for value in changes.values()):
        raise _AdminError("chaos settings must be finite numbers")
    try:
        chaos = attrs.evolve(sandbox.config.chaos, **changes)
    except ValueError as exc:
        raise _AdminError(str(exc)) from None
    sandbox.config = attrs.evolve(sandbox.config, chaos=chaos)
    return attrs.asdict(chaos)


ADMIN_ROUTES = [
    _route("/_sandbox/state", "GET", _state),
    _route("/_sandbox/requests", "GET", _requests),
    _route("/_sandbox/callbacks", "GET", _callbacks),
    _route("/_sandbox/inbound", "POST", _inbound),
    _route("/_sandbox/link-hit", "POST", _link_hit),
    _route("/_sandbox/advance", "POST", _advance),
    _route("/_sandbox/reset", "POST", _reset),
    _route("/_sandbox/credit", "POST", _credit),
    _route("/_sandbox/settings", "POST", _settings),
    _route("/_sandbox/list-automation", "POST", _list_automation),
    _route("/_sandbox/chaos", "POST", _chaos),
]
