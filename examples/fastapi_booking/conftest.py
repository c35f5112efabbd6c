"""The fixtures of the booking app's tests: its settings, and an HTTP client on the app whose
SMS client is answered by the sandbox (``respx_sandbox``, from smsapi_async's pytest plugin)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from app import app

from smsapi_async.testing import RespxSandbox

pytest_plugins = ["smsapi_async.pytest_plugin"]


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSAPI_API_KEY", "bistro-test-key")  # any credentials: the sandbox opens
    monkeypatch.setenv("SMSAPI_API_SECRET", "bistro-test-secret")  # an account for them
    monkeypatch.setenv("PUBLIC_URL", "https://bistro.example.com")


@pytest_asyncio.fixture
async def client(respx_sandbox: RespxSandbox) -> AsyncIterator[httpx.AsyncClient]:
    respx_sandbox.callbacks_to = app  # the sandbox's DLRs and replies are delivered to the app itself
    async with (
        app.router.lifespan_context(app),  # startup: the app opens its AsyncSmsClient
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://bistro.example.com"
        ) as client,
    ):
        yield client
