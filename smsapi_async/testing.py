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

For pytest, add ``pytest_plugins = ["smsapi_async.pytest_plugin"]`` to your ``conftest.py`` to get the
``sms_sandbox`` fixture (see :mod:`smsapi_async.pytest_plugin`). The sandbox needs the ``sandbox``
extra: ``pip install "smsapi-async[sandbox]"``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs
import httpx

from ._client import AsyncSmsClient
from ._clock import Clock, FakeClock, SystemClock
from .sandbox import Sandbox, SandboxConfig, VirtualClock, serve_in_thread

__all__ = ["Clock", "FakeClock", "SandboxHarness", "SystemClock", "sandbox_client", "served_sandbox_client"]


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

    def inject_reply(self, mobile: str, message: str, **options: Any) -> Any:
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
