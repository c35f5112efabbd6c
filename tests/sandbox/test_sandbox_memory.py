"""A sandbox without ``--db`` keeps nothing for a save that will never come: the records each call,
callback and import changed are forgotten once its answer leaves, so a long-running development
sandbox (``smsapi sandbox``, a test suite's session fixture) does not grow with every call."""

from __future__ import annotations

import httpx
import pytest

from smsapi_async.sandbox import Sandbox, SandboxConfig, VirtualClock

pytestmark = pytest.mark.anyio


def kept_for_a_save(sandbox: Sandbox) -> int:
    state, queue = sandbox.state.changes, sandbox.callbacks.changes
    return len(state.rows) + len(state.dropped) + len(queue.rows) + len(queue.dropped)


async def test_calls_and_callbacks_leave_nothing_to_save_without_a_store(anyio_backend: str) -> None:
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500 if len(received) % 3 == 0 else 200)  # some retries are queued too

    sandbox = Sandbox(
        SandboxConfig(rate_limit=0), clock=VirtualClock(), callback_transport=httpx.MockTransport(receiver)
    )
    assert sandbox.store is None
    auth = ("sandbox-key", "sandbox-secret")
    transport = httpx.ASGITransport(sandbox.app)
    async with (
        sandbox.running(),
        httpx.AsyncClient(transport=transport, base_url="http://s", auth=auth) as http,
    ):
        await exchange(sandbox, http)
    assert len(received) >= 50


async def exchange(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    callback = "https://hooks.example.com/dlr"
    for i in range(50):
        answer = await http.post(
            "/send-sms.json",
            data={"message": "hello", "to": f"61400{i:06d}", "dlr_callback": callback},
        )
        assert answer.status_code == 200, answer.text
        assert kept_for_a_save(sandbox) == 0
    list_answer = await http.post("/add-list.json", data={"name": "memory"})
    list_id = list_answer.json()["id"]
    for i in range(20):
        answer = await http.post("/add-to-list.json", data={"list_id": list_id, "msisdn": f"61411{i:06d}"})
        assert answer.status_code == 200, answer.text
    await http.post("/delete-list.json", data={"list_id": list_id})
    for _ in range(3):  # every delivery report falls due, its callback is attempted, then retried
        sandbox.advance(3600.0)
        await sandbox.settle()
    assert sum(len(m.recipients) for m in sandbox.state.messages.values()) == 50
    assert sandbox.callbacks.deliveries, "no callback was attempted"
    assert kept_for_a_save(sandbox) == 0
