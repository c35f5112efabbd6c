"""Fixtures of the sandbox tests: a sandbox called over raw HTTP, as a client in another language would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from smsapi_async.sandbox import Sandbox, SandboxConfig, VirtualClock


@pytest.fixture
async def sandbox_http() -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    """A sandbox without a rate limit on a virtual clock, and a raw httpx client calling it in process
    (as an integrator in another language would: no smsapi_async client in between)."""
    sandbox = Sandbox(SandboxConfig(rate_limit=0), clock=VirtualClock())
    transport = httpx.ASGITransport(sandbox.app)
    auth = ("sandbox-key", "sandbox-secret")
    async with sandbox.running(), httpx.AsyncClient(transport=transport, base_url="http://s", auth=auth) as c:
        yield sandbox, c
