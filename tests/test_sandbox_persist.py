"""The sandbox's --db: state survives a restart, through the real client."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from smsapi_async import AsyncSmsClient
from smsapi_async.sandbox import Sandbox, SandboxConfig, StateStore, VirtualClock


def client_for(sandbox: Sandbox) -> AsyncSmsClient:
    account = sandbox.config.accounts[0]
    return AsyncSmsClient(
        account.api_key,
        account.api_secret,
        base_url="http://127.0.0.1",
        rate_limit=None,
        transport=httpx.ASGITransport(app=sandbox.app),
    )


@pytest.mark.anyio
async def test_state_written_by_calls_is_there_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    config = SandboxConfig(rate_limit=0)
    first = Sandbox(config, clock=VirtualClock(), store=StateStore(db))
    async with client_for(first) as client:
        created = await client.lists.add("Kept")
        sent = await client.sms.send(message="kept too", to=["61400000001"])
    second = Sandbox(config, clock=VirtualClock(), store=StateStore(db))
    async with client_for(second) as client:
        assert [lst.name async for lst in client.lists.list()] == ["Kept"]
        assert (await client.sms.get(sent.message_id)).message == "kept too"
        assert (await client.lists.get(created.id)).name == "Kept"


def test_an_empty_file_starts_a_fresh_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "new.sqlite")
    assert store.load() is None
    sandbox = Sandbox(SandboxConfig(), store=store)
    assert sandbox.state.accounts
    store.close()


def test_without_a_store_persist_does_nothing() -> None:
    sandbox = Sandbox(SandboxConfig())
    sandbox.persist()
    assert sandbox.store is None
