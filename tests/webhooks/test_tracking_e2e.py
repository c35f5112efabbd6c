"""End to end: the sandbox calls a real CallbackReceiver over HTTP; the receiver goes down mid-run.

wait_for_delivery and reply_stream must still report every event exactly once: what the receiver
missed comes from polling, and the platform's late retries (after the receiver is back) are
recognised as already seen.
"""

from __future__ import annotations

import socket
from datetime import datetime, timezone
from typing import Any

import anyio
import pytest

from smsapi_async.sandbox import AccountConfig, SandboxConfig, serve_app_in_thread
from smsapi_async.testing import sandbox_client
from smsapi_async.tracking import DeliveryResult
from smsapi_async.webhooks import CallbackReceiver, DeliveryReport, Reply


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(condition: Any, seconds: float = 15) -> None:
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 - set by the receiver's server thread, not an Event
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_a_receiver_stopped_mid_run_loses_nothing_and_repeats_nothing() -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/sms/hooks"
    config = SandboxConfig(
        rate_limit=0,
        pending_expiry=30,  # 61400001000 never gets a receipt: it soft-bounces after 30 s
        accounts=(AccountConfig(dlr_callback=hook, reply_callback=hook),),
    )
    updates: list[DeliveryReport] = []
    replies: list[Reply] = []
    results: list[DeliveryResult] = []
    async with sandbox_client(config) as sms:
        client = sms.client
        first = CallbackReceiver(client=client)
        start = datetime.fromtimestamp(sms.sandbox.clock.now(), timezone.utc)
        sent = await client.sms.send(message="Hi", to=["61400000001", "61400000009", "61400001000"])
        stream = client.sms.reply_stream(since=start, fallback_interval=0.2)

        async def wait() -> None:
            results.append(
                await client.sms.wait_for_delivery(
                    sent.message_id, timeout=30, fallback_interval=0.2, on_update=updates.append
                )
            )

        async def read() -> None:
            async for reply in stream:
                replies.append(reply)

        async with anyio.create_task_group() as tg:
            with serve_app_in_thread(first, port=port):
                tg.start_soon(wait)
                tg.start_soon(read)
                await sms.advance(5)  # two receipts, sent to the receiver while it is up
                sms.inject_reply("61400000001", "one")
                await sms.advance(1)
                await until(lambda: len(replies) == 1 and first.stats["accepted"] == 3)
            # the receiver is down: these callbacks fail and the platform schedules retries
            sms.inject_reply("61400000009", "two")
            await sms.advance(30)  # the third recipient soft-bounces
            sms.inject_reply("61400000001", "three")
            await sms.advance(1)
            await until(lambda: results and len(replies) == 3)
            # back up (a new process: an empty de-duplication store); the retries now get through
            second = CallbackReceiver(client=client)
            with serve_app_in_thread(second, port=port):
                await sms.advance(4000)
                await until(lambda: second.stats["accepted"] >= 3)
                await anyio.sleep(0.6)  # several fallback polls and hub ticks: no repeat may appear
            tg.cancel_scope.cancel()
        await stream.aclose()
        deliveries = list(sms.sandbox.callbacks.deliveries)

    (result,) = results
    assert {m: r.status for m, r in result.recipients.items()} == {
        "61400000001": "delivered",
        "61400000009": "hard-bounce",
        "61400001000": "soft-bounce",
    }
    finals = sorted((u.mobile, u.status) for u in updates if u.is_final)
    assert finals == sorted((m, r.status) for m, r in result.recipients.items())  # each exactly once
    assert [r.text for r in replies] == ["one", "two", "three"]
    assert len({r.response_id for r in replies}) == 3
    # the run really went through a failure: retried deliveries that finally got through
    retried = [d for d in deliveries if len(d.attempts) > 1 and d.status == "delivered"]
    assert {d.kind for d in retried} == {"dlr", "reply"}
    assert all(d.status == "delivered" for d in deliveries)
