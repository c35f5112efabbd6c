"""Fixtures of the resource tests: a client whose calls a respx router answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import respx

from smsapi_async import AsyncSmsClient


@pytest.fixture
async def api_client(
    anyio_backend: str, api: respx.MockRouter
) -> AsyncIterator[Callable[..., AsyncSmsClient]]:
    """Factory for clients of the real API URL, answered by the ``api`` routes; limiter off unless
    asked; closed after."""
    made: list[AsyncSmsClient] = []

    def make(**options: Any) -> AsyncSmsClient:
        options.setdefault("rate_limit", None)
        client = AsyncSmsClient("test-key-0001", "test-secret-0001", **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
