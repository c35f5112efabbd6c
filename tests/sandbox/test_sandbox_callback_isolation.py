"""One slow receiver must not delay everyone's callbacks (a finding of the probe: all deliveries shared 32
slots held up to the 5 s timeout, so a healthy receipt normally 0.5 s late took 5.6 s behind 40
hanging callbacks and 30.7 s behind 200). Over real sockets: a receiver that accepts and never answers,
and a healthy one."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import anyio
import anyio.abc
import httpx
import pytest

from smsapi_async.sandbox import Sandbox, SandboxConfig, serve_app_in_thread

pytestmark = pytest.mark.anyio

DELAY = 0.5


class Healthy:
    """A receiver that answers at once and notes when each callback arrived."""

    def __init__(self) -> None:
        self.arrived: list[float] = []
        self.event = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.arrived.append(time.monotonic())
        self.event.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def hang(stream: anyio.abc.SocketStream) -> None:
    async with stream:
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            async for _ in stream:  # reads the request, never answers
                pass


@pytest.mark.parametrize("hanging", [40, 200])
async def test_a_healthy_receipt_is_not_delayed_by_receivers_that_hang(hanging: int) -> None:
    healthy = Healthy()
    sandbox = Sandbox(SandboxConfig(rate_limit=0, delivery_delay=DELAY, callback_timeout=5.0))
    auth = ("sandbox-key", "sandbox-secret")
    with serve_app_in_thread(healthy) as good_url:
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            bad_url = f"http://127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}/dlr"
            async with anyio.create_task_group() as tg, sandbox.running():
                tg.start_soon(listener.serve, hang)
                transport = httpx.ASGITransport(sandbox.app)
                async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=auth) as http:
                    numbers = ",".join(f"614{i:08d}1"[:11] for i in range(1, hanging + 1))
                    stuck = await http.post(
                        "/send-sms.json", data={"message": "a", "to": numbers, "dlr_callback": bad_url}
                    )
                    assert stuck.status_code == 200
                    assert stuck.json()["recipients"] == hanging
                    await anyio.sleep(DELAY + 0.3)  # their receipts are due: every one is stuck now
                    sent_at = time.monotonic()
                    fine = await http.post(
                        "/send-sms.json",
                        data={"message": "b", "to": "61400000011", "dlr_callback": f"{good_url}/dlr"},
                    )
                    assert fine.status_code == 200
                    with anyio.fail_after(30):
                        await anyio.to_thread.run_sync(healthy.event.wait)
                tg.cancel_scope.cancel()
    late = healthy.arrived[0] - sent_at
    assert late < DELAY + 1.0, late  # within a second of normal, whatever hangs elsewhere
