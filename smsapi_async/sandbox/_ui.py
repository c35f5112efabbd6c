"""The sandbox's inbox: a web UI at ``/_sandbox/ui`` showing what the app sent and letting you answer.

Server-rendered HTML (Jinja2 with autoescaping: message text, numbers, URLs and request parameters are
attacker-controlled) plus one small plain-JavaScript file; templates and static files ship inside the
package under ``ui/``. Nothing is loaded from elsewhere, so it works offline, and the Content-Security-Policy
forbids inline scripts, so even a template mistake could not run a message's ``<script>``.

Pages: the inbox (every SMS in and out, newest first, searchable), a thread per phone number, the
callbacks the sandbox sent, the request log and the account. Each page has one live region which the
script refreshes by polling the same URL with ``?partial=1``; the ``X-Live-Version`` header (a hash of
the fragment) tells it whether anything changed. Actions (reply as a phone, top up, advance the clock)
are same-origin ``fetch`` POSTs of JSON to the admin endpoints under ``/_sandbox/``: what the sandbox's
same-site rules (``_samesite.py``) let through. A plain form post would be refused, so they need the script.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import jinja2
import markupsafe
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .._sms_text import count_parts
from ._callbacks import CallbackDelivery
from ._lifecycle import recipient_status
from ._state import Account, Message, Recipient, State, datetime_text

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = ["UI_PATH", "UI_ROUTES", "inbox_rows", "thread_items"]

UI_PATH = "/_sandbox/ui"
MAX_ROWS = 200
"""At most this many rows on a page (the newest); the page says how many matched."""

_FILES = Path(__file__).parent / "ui"
CHAOS_FAULTS = (
    ("over_limit", "429 OVER_LIMIT"),
    ("server_error", "502 HTML error page"),
    ("drop_before", "connection dropped before processing"),
    ("drop_after", "connection dropped after processing"),
    ("slow", "slow answer"),
)
_DIGITS_ONLY = re.compile(r"[\s()+.\-]")
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


# -- what the pages show -------------------------------------------------------------------------


@attrs.frozen
class Step:
    """One point of a recipient's delivery history: the state it entered and when."""

    at: float
    state: str


@attrs.frozen
class Outbound:
    """One message as one recipient got it."""

    message: Message
    recipient: Recipient
    state: str
    encoding: str
    cost: float
    currency: str
    history: tuple[Step, ...]
    callbacks: tuple[CallbackDelivery, ...]
    kind: Literal["out"] = "out"

    @property
    def at(self) -> float:
        return self.message.send_at


@attrs.frozen
class Inbound:
    """An SMS from the phone: a reply to a message or an SMS to a virtual number."""

    at: float
    response_id: int
    text: str
    message_id: int
    longcode: str | None
    is_optout: bool
    callbacks: tuple[CallbackDelivery, ...]
    kind: Literal["in"] = "in"


@attrs.frozen
class Row:
    """A line of the inbox: one SMS, either way."""

    at: float
    direction: Literal["out", "in"]
    msisdn: str
    text: str
    state: str
    counterpart: str  # the sender ID of an outbound SMS, the number an inbound one went to
    key: str  # stable per SMS: lets the script keep focus on a row across refreshes


def state_of(message: Message, recipient: Recipient, now: float) -> str:
    """``scheduled``, ``cancelled``, ``pending``, ``delivered``, ``soft-bounce`` or ``hard-bounce``."""
    if message.cancelled:
        return "cancelled"
    if message.send_at > now:
        return "scheduled"
    return recipient_status(recipient, now)


def _history(state: State, message: Message, recipient: Recipient, now: float) -> tuple[Step, ...]:
    """The states the recipient has gone through by ``now`` (never the future ones)."""
    steps = [Step(message.created, "accepted")]
    if message.send_at > message.created:
        steps.append(Step(message.created, "scheduled"))
    if message.cancelled:
        account = state.accounts.get(message.account_id)
        refunds = [t.created for t in (account.transactions if account else []) if t.message_id == message.id]
        steps.append(Step(max(refunds, default=message.created), "cancelled"))
        return tuple(steps)
    if now >= message.send_at:
        steps.append(Step(message.send_at, "pending"))
    if now >= recipient.final_at:
        steps.append(Step(recipient.final_at, recipient.fate))
    return tuple(steps)


def _callback_index(deliveries: Iterable[CallbackDelivery]) -> dict[tuple[str, ...], list[CallbackDelivery]]:
    index: dict[tuple[str, ...], list[CallbackDelivery]] = defaultdict(list)
    for delivery in deliveries:
        params = dict(delivery.params)
        if delivery.kind == "dlr":
            index["dlr", params.get("message_id", ""), params.get("mobile", "")].append(delivery)
        elif delivery.kind == "reply":
            index["reply", params.get("response_id", "")].append(delivery)
    return index


def _outbound(sandbox: Sandbox, now: float, msisdn: str | None = None) -> Iterator[Outbound]:
    state = sandbox.state
    index = _callback_index(sandbox.callbacks.deliveries)
    price = sandbox.config.price_per_sms
    for message in state.messages.values():
        account = state.accounts.get(message.account_id)
        for recipient in message.recipients:
            if msisdn is not None and recipient.msisdn != msisdn:
                continue
            yield Outbound(
                message=message,
                recipient=recipient,
                state=state_of(message, recipient, now),
                encoding=count_parts(recipient.text).encoding,
                cost=round(recipient.parts * price, 3),
                currency=account.currency if account else "",
                history=_history(state, message, recipient, now),
                callbacks=tuple(index.get(("dlr", str(message.id), recipient.msisdn), ())),
            )


def _inbound(sandbox: Sandbox, msisdn: str | None = None) -> Iterator[Inbound]:
    index = _callback_index(sandbox.callbacks.deliveries)
    for response in sandbox.state.responses:
        if msisdn is not None and response.msisdn != msisdn:
            continue
        yield Inbound(
            at=response.received_at,
            response_id=response.id,
            text=response.text,
            message_id=response.message_id,
            longcode=response.longcode,
            is_optout=response.is_optout,
            callbacks=tuple(index.get(("reply", str(response.id)), ())),
        )


def matcher(query: str) -> Callable[..., bool]:
    """A test of ``(msisdn, *texts)``: does a search for ``query`` find an SMS to/from ``msisdn``?

    Case-insensitive substring of the number or any text; a query that is a phone number written with
    spaces, ``+``, dashes, dots or brackets matches the digits, and a national ``0`` prefix is ignored.
    """
    query = query.strip()
    digits = _DIGITS_ONLY.sub("", query)
    numbers = [digits, digits[1:]] if digits.startswith("0") else [digits]
    numbers = [n for n in numbers if n] if digits.isdigit() else []
    needle = query.casefold()

    def test(msisdn: str, *texts: str) -> bool:
        if any(number in msisdn for number in numbers):
            return True
        return any(needle in text.casefold() for text in (msisdn, *texts))

    return test


def matches(query: str, msisdn: str, *texts: str) -> bool:
    """``matcher(query)(msisdn, *texts)``."""
    return matcher(query)(msisdn, *texts)


def inbox_rows(sandbox: Sandbox, query: str = "") -> list[Row]:
    """Every SMS out (one row per recipient) and in, newest first, filtered by ``query``."""
    now = sandbox.clock.now()
    found = matcher(query)
    rows = [
        Row(
            at=message.send_at,
            direction="out",
            msisdn=recipient.msisdn,
            text=recipient.text,
            state=state_of(message, recipient, now),
            counterpart=message.sender,
            key=f"out-{message.id}-{recipient.msisdn}",
        )
        for message in sandbox.state.messages.values()
        for recipient in message.recipients
        if found(recipient.msisdn, recipient.text, message.sender)
    ]
    rows += [
        Row(
            at=response.received_at,
            direction="in",
            msisdn=response.msisdn,
            text=response.text,
            state="opt-out" if response.is_optout else "received",
            counterpart=response.longcode or "",
            key=f"in-{response.id}",
        )
        for response in sandbox.state.responses
        if found(response.msisdn, response.text, response.longcode or "")
    ]
    rows.sort(key=lambda row: row.at, reverse=True)  # stable: equal times keep creation order reversed
    return rows


def thread_items(sandbox: Sandbox, msisdn: str) -> list[Outbound | Inbound]:
    """Everything sent to and received from ``msisdn``, oldest first, like a phone shows it."""
    now = sandbox.clock.now()
    items: list[Outbound | Inbound] = [*_outbound(sandbox, now, msisdn), *_inbound(sandbox, msisdn)]
    items.sort(key=lambda item: item.at)
    return items


def _opted_out_of(sandbox: Sandbox, msisdn: str) -> list[Account]:
    return [account for account in sandbox.state.accounts.values() if msisdn in account.optouts]


# -- rendering -----------------------------------------------------------------------------------


def _when(timestamp: float | None) -> str:
    return f"{datetime_text(timestamp)} UTC" if timestamp is not None else ""


def _iso(timestamp: float | None) -> str:
    text = datetime_text(timestamp)
    return text.replace(" ", "T") + "Z" if text else ""


def _phone(msisdn: str | None) -> str:
    """``+61 400 000 001`` for an Australian mobile, ``+<digits>`` otherwise; sender IDs unchanged."""
    if not msisdn or not msisdn.isdigit():
        return msisdn or ""
    if msisdn.startswith("614") and len(msisdn) == 11:
        return f"+61 {msisdn[2:5]} {msisdn[5:8]} {msisdn[8:]}"
    return "+" + msisdn


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_FILES / "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, iso=_iso, phone=_phone)
    env.globals.update(ui=UI_PATH, chaos_faults=CHAOS_FAULTS)
    return env


_ENV = _environment()


def _render(request: Request, page: str, title: str, context: dict[str, Any]) -> Response:
    """The full page, or with ``?partial=1`` only its live region; both carry the region's version."""
    fragment = _ENV.get_template(f"_{page}.html").render(context)
    version = hashlib.sha256(fragment.encode()).hexdigest()[:16]
    headers = {**SECURITY_HEADERS, "x-live-version": version}
    if request.query_params.get("partial"):
        return HTMLResponse(fragment, headers=headers)
    html = _ENV.get_template(f"{page}.html").render(
        context, page=page, title=title, live=markupsafe.Markup(fragment), version=version
    )
    return HTMLResponse(html, headers=headers)


def _query(request: Request) -> str:
    return request.query_params.get("q", "")[:200]


async def _inbox(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    query = _query(request)
    rows = inbox_rows(sandbox, query)
    context = {
        "q": query,
        "rows": rows[:MAX_ROWS],
        "total": len(rows),
        "accounts": list(sandbox.state.accounts.values()),
    }
    return _render(request, "inbox", "Inbox", context)


async def _thread(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    msisdn = request.path_params["msisdn"]
    if not msisdn.isdigit() or len(msisdn) > 20:
        return HTMLResponse("Not a phone number", status_code=404, headers=SECURITY_HEADERS)
    items = thread_items(sandbox, msisdn)
    names = [
        " ".join(filter(None, (item.recipient.first_name, item.recipient.last_name)))
        for item in items
        if isinstance(item, Outbound)
    ]
    context = {
        "msisdn": msisdn,
        "name": next((name for name in reversed(names) if name), ""),  # as the latest send knew it
        "items": items,
        "opted_out": _opted_out_of(sandbox, msisdn),
        "accounts": sandbox.state.accounts,
    }
    return _render(request, "thread", _phone(msisdn), context)


async def _callbacks(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    deliveries = list(reversed(sandbox.callbacks.deliveries))
    context = {"deliveries": deliveries[:MAX_ROWS], "total": len(deliveries)}
    return _render(request, "callbacks", "Callbacks", context)


async def _requests(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    only_limited = request.query_params.get("status") == "429"
    entries = [e for e in reversed(sandbox.requests) if not only_limited or e.get("status") == 429]
    context = {
        "entries": entries[:MAX_ROWS],
        "total": len(entries),
        "limited": sum(1 for e in sandbox.requests if e.get("status") == 429),
        "only_limited": only_limited,
    }
    return _render(request, "requests", "Requests", context)


async def _account(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    context = {
        "accounts": list(sandbox.state.accounts.values()),
        "config": sandbox.config,
        "now": sandbox.clock.now(),
        "virtual": sandbox.clock.is_virtual,
    }
    return _render(request, "account", "Account", context)


async def _to_inbox(request: Request) -> Response:
    return RedirectResponse(UI_PATH, status_code=307)


UI_ROUTES: list[BaseRoute] = [
    Route("/_sandbox", _to_inbox, methods=["GET"]),
    Route("/_sandbox/", _to_inbox, methods=["GET"]),
    Route(UI_PATH, _inbox, methods=["GET"]),
    Route(UI_PATH + "/", _inbox, methods=["GET"]),
    Route(UI_PATH + "/thread/{msisdn}", _thread, methods=["GET"]),
    Route(UI_PATH + "/callbacks", _callbacks, methods=["GET"]),
    Route(UI_PATH + "/requests", _requests, methods=["GET"]),
    Route(UI_PATH + "/account", _account, methods=["GET"]),
    Mount(UI_PATH + "/static", StaticFiles(directory=_FILES / "static"), name="ui-static"),
]
