"""Helpers for testing code that uses smsapi_async: a fake clock, and clients wired to the sandbox.

In process (no socket, virtual time, no rate limit: your suite runs at full speed)::

    from smsapi_async.testing import sandbox_client

    async with sandbox_client() as sms:
        sent = await sms.client.sms.send(message="Hi", to=["61400000001"])
        await sms.advance(5)                       # DLRs fall due and callbacks go out
        stats = await sms.client.sms.stats(message_id=sent.message_id)

On a real loopback socket, with the API's real 2 calls/s limit (end-to-end tests)::

    async with served_sandbox_client() as sms:
        ...

Behind respx, for an application that builds its own ``AsyncSmsClient()`` (no code change in the app)::

    async with respx_sandbox(callbacks_to=app) as sms:    # app: your ASGI app, which receives callbacks
        await app_sends_a_booking_confirmation()       # its client talks to https://api.transmitsms.com
        (message,) = sms.state.messages.values()
        await sms.advance(5)                           # the DLR is delivered to the app, signed

For pytest, add ``pytest_plugins = ["smsapi_async.pytest_plugin"]`` to your ``conftest.py`` to get the
``sms_sandbox`` and ``respx_sandbox`` fixtures (see :mod:`smsapi_async.pytest_plugin`). The sandbox needs
the ``sandbox`` extra: ``pip install "smsapi-async[sandbox]"``.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs
import httpx
import respx
from respx.models import AllMockedAssertionError

from ._client import DEFAULT_BASE_URL, AsyncSmsClient
from ._clock import Clock, FakeClock, SystemClock
from .sandbox import AccountConfig, CallbackDelivery, Sandbox, SandboxConfig, VirtualClock, serve_in_thread
from .webhooks import SIGNATURE_HEADER, sign_callback

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from .sandbox._state import Response, State

__all__ = [
    "Clock",
    "FakeClock",
    "RespxSandbox",
    "SandboxHarness",
    "SystemClock",
    "callback_request",
    "deliver_callback",
    "respx_sandbox",
    "sandbox_client",
    "served_sandbox_client",
]


@attrs.define
class SandboxHarness:
    """A client wired to a sandbox, and the handles a test needs to steer the sandbox.

    Attributes:
        client: an :class:`AsyncSmsClient` authenticated as the sandbox's first account.
        sandbox: the :class:`~smsapi_async.sandbox.Sandbox` (state, request log, callbacks sent).
        base_url: where the client sends requests.
    """

    client: AsyncSmsClient
    sandbox: Sandbox
    base_url: str

    async def advance(self, seconds: float) -> None:
        """Move the sandbox's virtual time forward and wait until the callbacks due are sent.

        Only for :func:`sandbox_client`; a served sandbox runs in real time."""
        self.sandbox.advance(seconds)
        await self.sandbox.settle()

    def inject_reply(self, mobile: str, message: str, **options: Any) -> Response:
        """Simulate an SMS from ``mobile`` (a reply to the last message sent to it, or an inbound
        SMS); see :meth:`Sandbox.inject_reply`."""
        return self.sandbox.inject_reply(mobile, message, **options)


def _credentials(sandbox: Sandbox) -> tuple[str, str]:
    account = sandbox.config.accounts[0]
    return account.api_key, account.api_secret


@asynccontextmanager
async def sandbox_client(
    config: SandboxConfig | None = None,
    *,
    response_format: Literal["json", "xml"] = "json",
    rate_limit: float | None = None,
    callback_transport: httpx.AsyncBaseTransport | None = None,
    **client_options: Any,
) -> AsyncIterator[SandboxHarness]:
    """A client talking to an in-process sandbox through ``httpx.ASGITransport``: no socket.

    Time in the sandbox is virtual (``await harness.advance(seconds)`` moves it), and neither side
    limits the rate unless asked (``rate_limit=`` for the client, ``config.rate_limit`` for the
    sandbox; the default config here has the sandbox's limit off). Callbacks go to real URLs, or to
    ``callback_transport`` (e.g. an ``httpx.MockTransport`` that records them).
    """
    if config is None:
        config = SandboxConfig(rate_limit=0)
    # virtual time starts at the real now, so `send_at` values valid for the client are valid here
    sandbox = Sandbox(config, clock=VirtualClock(time.time()), callback_transport=callback_transport)
    key, secret = _credentials(sandbox)
    base_url = "http://127.0.0.1"  # never dialled: the ASGI transport answers in process
    transport = httpx.ASGITransport(app=sandbox.app)
    async with (
        sandbox.running(),
        AsyncSmsClient(
            key,
            secret,
            base_url=base_url,
            response_format=response_format,
            rate_limit=rate_limit,
            transport=transport,
            **client_options,
        ) as client,
    ):
        yield SandboxHarness(client=client, sandbox=sandbox, base_url=base_url)


@asynccontextmanager
async def served_sandbox_client(
    config: SandboxConfig | None = None,
    *,
    response_format: Literal["json", "xml"] = "json",
    rate_limit: float | None = 2.0,
    **client_options: Any,
) -> AsyncIterator[SandboxHarness]:
    """A client talking to a sandbox served by uvicorn on a real loopback socket, in real time.

    The sandbox enforces the API's 2 calls/s by default and the client paces itself to match, as
    against the real API. The server runs in a background thread for the block's duration.
    """
    sandbox = Sandbox(config)
    key, secret = _credentials(sandbox)
    with serve_in_thread(sandbox) as base_url:
        async with AsyncSmsClient(
            key,
            secret,
            base_url=base_url,
            response_format=response_format,
            rate_limit=rate_limit,
            **client_options,
        ) as client:
            yield SandboxHarness(client=client, sandbox=sandbox, base_url=base_url)


# --- respx: the sandbox behind the URL the application already uses ---------------------------------


@attrs.define(eq=False)
class RespxSandbox:
    """An in-process sandbox that respx puts behind the API's URL, and the handles to steer it.

    Nothing runs in the background: callbacks and bulk imports that fall due are carried out by
    :meth:`advance` (or :meth:`settle`), in the calling task. So the harness may be opened in one
    task and closed in another (pytest-asyncio runs a fixture's setup and teardown as two tasks).

    Attributes:
        sandbox: the :class:`~smsapi_async.sandbox.Sandbox` (virtual time, callbacks, state).
        router: the ``respx.MockRouter`` holding the sandbox's routes.
        base_urls: the API roots routed to the sandbox.
        any_credentials: whether unknown credentials get an account (else they get a 401).
        callbacks_to: where callbacks go: an ASGI application (called in process), an httpx
            transport, or ``None`` for the network as respx sees it. May be set at any time.
    """

    sandbox: Sandbox
    router: respx.MockRouter
    base_urls: tuple[str, ...]
    any_credentials: bool = True
    callbacks_to: ASGIApp | httpx.AsyncBaseTransport | None = None
    _transport: httpx.ASGITransport = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._transport = httpx.ASGITransport(app=self.sandbox.app)

    @property
    def state(self) -> State:
        """The sandbox's state: ``accounts``, ``messages`` (by id), ``responses`` (replies)."""
        return self.sandbox.state

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The API requests the sandbox answered, oldest first (call, params, status; no secrets)."""
        return list(self.sandbox.requests)

    @property
    def calls(self) -> list[str]:
        """The API calls made so far, in order: ``["send-sms", "get-sms-stats"]``."""
        return [entry["call"] for entry in self.sandbox.requests]

    @property
    def callbacks(self) -> list[CallbackDelivery]:
        """Every callback the sandbox emitted (kind, url, params, signature, attempts, status)."""
        return list(self.sandbox.callbacks.deliveries)

    async def advance(self, seconds: float) -> None:
        """Move the sandbox's virtual time forward, then send the callbacks due and wait for them."""
        self.sandbox.advance(seconds)
        await self.settle()

    async def settle(self) -> None:
        """Carry out every callback and bulk import due by now, and wait until they are done."""
        async with self.sandbox.running():
            await self.sandbox.settle()

    def inject_reply(self, mobile: str, message: str, **options: Any) -> Response:
        """Simulate an SMS from ``mobile`` (a reply to the last message sent to it, or an inbound
        SMS); see :meth:`Sandbox.inject_reply`. Its callback goes out at the next :meth:`settle`
        or :meth:`advance`."""
        return self.sandbox.inject_reply(mobile, message, **options)

    def client(self, api_key: str | None = None, **options: Any) -> AsyncSmsClient:
        """A client of the account with this API key (default: the last one created for the
        application's credentials, else the first configured), for a test to look through the API.
        Use it as ``async with sms.client() as client:``; its limiter is off unless ``rate_limit=``."""
        accounts = list(self.sandbox.state.accounts.values())
        account = self.sandbox.account(api_key) if api_key else accounts[-1]
        options.setdefault("rate_limit", None)
        options.setdefault("base_url", self.base_urls[0])
        return AsyncSmsClient(account.api_key, account.api_secret, **options)

    async def _answer(self, request: httpx.Request, prefix: str) -> httpx.Response:
        if self.any_credentials:
            self._admit(request.headers.get("authorization"))
        body = await request.aread()
        path = request.url.path[len(prefix) :] or "/"
        inner = httpx.Request(
            request.method, request.url.copy_with(path=path), headers=request.headers, content=body
        )
        response = await self._transport.handle_async_request(inner)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    def _admit(self, authorization: str | None) -> None:
        """Create an account for Basic credentials the sandbox does not know yet."""
        scheme, _, value = (authorization or "").partition(" ")
        try:
            key, sep, secret = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return
        state = self.sandbox.state
        if scheme.lower() != "basic" or not sep or not key or not secret or key in state.by_key:
            return
        number = next(state.available_numbers())
        account = AccountConfig(api_key=key, api_secret=secret, name="Test account", numbers=(number,))
        state.add_account(account, self.sandbox.clock.now())


class _CallbackDestination(httpx.AsyncBaseTransport):
    """Where the sandbox's callbacks go: the harness's ``callbacks_to`` when set, else the network
    as the real platform sends them, which respx intercepts. A URL that no route answers is a
    failed attempt (retried on the documented schedule), not a crash of the sandbox."""

    def __init__(self) -> None:
        self.harness: RespxSandbox | None = None
        self._network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        destination = self.harness.callbacks_to if self.harness is not None else None
        if isinstance(destination, httpx.AsyncBaseTransport):
            return await destination.handle_async_request(request)
        if destination is not None:
            return await httpx.ASGITransport(app=destination).handle_async_request(request)
        try:
            return await self._network.handle_async_request(request)
        except AllMockedAssertionError as exc:
            raise httpx.ConnectError(f"no respx route answers {request.url.host}", request=request) from exc

    async def aclose(self) -> None:
        await self._network.aclose()


def _route_pattern(base_url: str) -> tuple[dict[str, Any], str]:
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"not an http(s) base URL: {base_url!r}")
    prefix = url.path.rstrip("/")
    pattern: dict[str, Any] = {"scheme": url.scheme, "host": url.host, "path__startswith": prefix + "/"}
    if url.port is not None:
        pattern["port"] = url.port
    return pattern, prefix


@asynccontextmanager
async def respx_sandbox(
    config: SandboxConfig | None = None,
    *,
    base_url: str | Iterable[str] = (),
    any_credentials: bool = True,
    callbacks_to: ASGIApp | httpx.AsyncBaseTransport | None = None,
    router: respx.MockRouter | None = None,
) -> AsyncIterator[RespxSandbox]:
    """Route every request to ``https://api.transmitsms.com`` (and to each ``base_url`` given)
    through respx to a fresh in-process sandbox, for the block's duration.

    The application under test needs no change: the ``AsyncSmsClient`` it builds from its own
    settings is answered by the sandbox. With ``any_credentials`` (the default) the first request
    with credentials the sandbox does not know creates an account for them (1000.00 AUD, one virtual
    number), so callbacks are signed with the application's own API secret.

    * Time is virtual: ``await sms.advance(seconds)`` delivers what falls due. The sandbox limits
      nothing unless ``config.rate_limit`` says so; the application's client still paces itself in
      real time. A sandbox rate limit counts calls in virtual time, which only :meth:`advance` moves:
      beyond it, calls get 429 until the test advances, however long the app's client waits.
    * Callbacks (DLRs, replies) go to ``callbacks_to``: an ASGI application (your FastAPI or Starlette
      app, called in process) or an httpx transport. Without it they go out through httpx, where
      your respx routes may answer them; one that nothing answers is recorded as a failed attempt.
    * Routes go into ``router`` if given (e.g. the ``respx_mock`` fixture), else into a router of
      their own, started here. Either way your other respx routes keep working, and a request to a
      host nothing routes gets respx's usual answer (an error, unless a router says otherwise).
    """
    urls = (base_url,) if isinstance(base_url, str) else tuple(base_url)
    base_urls = tuple(dict.fromkeys((DEFAULT_BASE_URL, *urls)))
    patterns = [_route_pattern(url) for url in base_urls]
    if config is None:
        config = SandboxConfig(rate_limit=0)
    # virtual time starts at the real now, so `send_at` values valid for the client are valid here
    destination = _CallbackDestination()
    sandbox = Sandbox(config, clock=VirtualClock(time.time()), callback_transport=destination)
    active_router = respx.MockRouter(assert_all_called=False) if router is None else router
    harness = RespxSandbox(sandbox, active_router, base_urls, any_credentials, callbacks_to)
    destination.harness = harness
    names = []
    for url, (pattern, prefix) in zip(base_urls, patterns, strict=True):

        async def answer(request: httpx.Request, prefix: str = prefix) -> httpx.Response:
            return await harness._answer(request, prefix)

        name = f"smsapi-sandbox {url}"
        active_router.route(name=name, **pattern).mock(side_effect=answer)
        names.append(name)
    try:
        if router is None:
            with active_router:
                yield harness
        else:
            yield harness
    finally:
        for name in names:
            active_router.pop(name, None)


# --- callbacks: what the platform sends to the application's receiver ------------------------------


def callback_request(
    url: str,
    params: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    api_secret: str,
    signature: str | None = None,
) -> httpx.Request:
    """The request the platform makes for a callback: a GET of ``url`` with ``params`` appended to
    its query, signed with the account's API secret in ``x-transmitsms-signature`` (see
    :func:`smsapi_async.webhooks.sign_callback`); ``signature`` replaces the computed one."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    parts = urlsplit(url)
    signed = parse_qsl(parts.query, keep_blank_values=True) + pairs
    full = urlunsplit(parts._replace(query=urlencode(signed, quote_via=quote)))
    if signature is None:
        signature = sign_callback(signed, api_secret)
    return httpx.Request(
        "GET", full, headers={SIGNATURE_HEADER: signature, "user-agent": "smsapi-async-testing"}
    )


async def deliver_callback(
    to: ASGIApp | httpx.AsyncBaseTransport,
    url: str,
    params: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    api_secret: str,
    signature: str | None = None,
) -> httpx.Response:
    """Send ``to`` (an ASGI app called in process, or an httpx transport) a callback signed as the
    platform signs it, and return its answer: to test a DLR or reply handler end to end.

    ``signature`` replaces the computed one (e.g. to check that a forged callback is refused). A
    :class:`~smsapi_async.sandbox.CallbackDelivery` the sandbox recorded can be replayed (a
    duplicate, as the platform's retries make) with ``deliver_callback(app, delivery.url, [], ...)``:
    its URL already holds its parameters.
    """
    request = callback_request(url, params, api_secret=api_secret, signature=signature)
    transport = to if isinstance(to, httpx.AsyncBaseTransport) else httpx.ASGITransport(app=to)
    async with httpx.AsyncClient(transport=transport) as http:
        return await http.send(request)
