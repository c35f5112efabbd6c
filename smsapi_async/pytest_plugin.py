"""pytest fixtures for suites that use smsapi_async.

Enable them in your ``conftest.py`` with ``pytest_plugins = ["smsapi_async.pytest_plugin"]``.

``sms_sandbox`` gives a :class:`~smsapi_async.testing.SandboxHarness`: a client wired to a fresh
in-process sandbox with virtual time. Use it from async tests run by anyio's pytest plugin
(``@pytest.mark.anyio``)::

    @pytest.mark.anyio
    async def test_welcome_sms_is_sent(sms_sandbox):
        await send_welcome(sms_sandbox.client, "61400000001")   # your code under test
        (message,) = sms_sandbox.sandbox.state.messages.values()
        assert "Welcome" in message.text
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .testing import SandboxHarness, sandbox_client

__all__ = ["sms_sandbox"]


@pytest.fixture
async def sms_sandbox(anyio_backend: str) -> AsyncIterator[SandboxHarness]:
    """A client wired to a fresh in-process sandbox (virtual time, no rate limit)."""
    async with sandbox_client() as harness:
        yield harness
