"""The sandbox over real loopback sockets: uvicorn server, callbacks to a local HTTP server, chaos."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
import httpx
import pytest

from smsapi_async._signature import verify_callback_signature
from smsapi_async.sandbox import ChaosConfig, Sandbox, SandboxConfig, VirtualClock, serve_in_thread

AUTH = ("sandbox-key", "sandbox-secret")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Receiver:
    """A local HTTP server recording every GET; answers ``statuses`` in turn, then 200."""

    def __init__(self) -> None:
        self.hits: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                receiver.hits.append({"path": self.path, "headers": dict(self.headers)})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def query(self, index: int) -> str:
        return urlsplit(str(self.hits[index]["path"])).query

    def params(self, index: int) -> dict[str, str]:
        return dict(parse_qsl(self.query(index)))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.mark.anyio
async def test_dlr_and_reply_callbacks_reach_a_real_server_signed(receiver: Receiver) -> None:
    clock = VirtualClock()
    sandbox = Sandbox(SandboxConfig(rate_limit=0), clock=clock)
    transport = httpx.ASGITransport(sandbox.app)
    async with (
        sandbox.running(),
        httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as client,
    ):
        sent = await client.post(
            "/send-sms.json",
            data={
                "message": "hi",
                "to": "61491570151",
                "dlr_callback": receiver.url + "/dlr?order=42",
                "reply_callback": receiver.url + "/reply",
            },
        )
        message_id = sent.json()["message_id"]
        await sandbox.settle()
        assert receiver.hits == []  # not yet delivered
        clock.advance(2)
        await sandbox.settle()
        assert receiver.params(0) == {
            "order": "42",
            "message_id": str(message_id),
            "mobile": "61491570151",
            "datetime": "2024-01-01 00:00:02",
            "status": "delivered",
            "user_id": str(sandbox.account().id),
        }
        signature = receiver.hits[0]["headers"]["x-transmitsms-signature"]
        assert verify_callback_signature(receiver.query(0), signature, "sandbox-secret")
        inbound = await client.post("/_sandbox/inbound", json={"mobile": "61491570151", "message": "STOP"})
        assert inbound.json()["is_optout"] is True
        await sandbox.settle()
        reply = receiver.params(1)
        assert list(reply) == [
            "user_id", "message_id", "response", "response_id", "mobile", "longcode",
            "datetime_entry", "is_optout",
        ]  # fmt: skip
        assert (reply["message_id"], reply["response"], reply["is_optout"]) == (
            str(message_id), "STOP", "yes"
        )  # fmt: skip
        signature = receiver.hits[1]["headers"]["x-transmitsms-signature"]
        assert verify_callback_signature(receiver.query(1), signature, "sandbox-secret")


@pytest.mark.anyio
async def test_failed_callbacks_follow_the_compressed_retry_schedule(receiver: Receiver) -> None:
    clock = VirtualClock()
    config = SandboxConfig(rate_limit=0, callback_retry_scale=0.01)
    sandbox = Sandbox(config, clock=clock)
    receiver.statuses = [500, 503]
    account = sandbox.account()
    account.link_hits_callback = receiver.url + "/hits"
    async with sandbox.running():
        transport = httpx.ASGITransport(sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as c:
            sent = await c.post("/send-sms.json", data={"message": "[tracked-link]",
                                "to": "61491570151", "tracked_link_url": "https://x.io"})  # fmt: skip
        sandbox.link_hit(sent.json()["message_id"], "61491570151")
        await sandbox.settle()
        (delivery,) = sandbox.callbacks.deliveries
        assert (delivery.status, len(receiver.hits)) == ("retrying", 1)
        clock.advance(0.59)
        await sandbox.settle()
        assert len(receiver.hits) == 1
        clock.advance(0.01)  # 1 minute x 0.01
        await sandbox.settle()
        assert len(receiver.hits) == 2
        clock.advance(3)  # 5 minutes x 0.01
        await sandbox.settle()
        assert (delivery.status, len(receiver.hits)) == ("delivered", 3)
        params = receiver.params(2)
        assert params["link_hits"] == "1"
        assert params["message"].startswith("TapTh.is/")


def test_real_socket_rate_limit_admin_time_and_chaos() -> None:
    config = SandboxConfig(rate_limit=2, chaos=ChaosConfig())
    sandbox = Sandbox(config, clock=VirtualClock())
    with serve_in_thread(sandbox) as base_url, httpx.Client(base_url=base_url, auth=AUTH) as c:
        assert base_url.startswith("http://127.0.0.1:")
        codes = [c.get("/get-balance.json").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert c.post("/_sandbox/advance", json={"seconds": 1}).json() == {"now": "2024-01-01 00:00:01"}
        sent = c.post("/send-sms.xml", data={"message": "hi", "to": "61491570151"})
        assert sent.status_code == 200
        assert "<message_id>" in sent.text
        log = c.get("/_sandbox/requests").json()["requests"]
        assert [e["status"] for e in log] == [200, 200, 429, 200]
        assert "sandbox-secret" not in str(log)

        sandbox.config = SandboxConfig(rate_limit=0, chaos=ChaosConfig(drop_before=1.0))
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/send-sms.json", data={"message": "lost", "to": "61491570151"})
        assert len(c.get("/_sandbox/state").json()["messages"]) == 1

        sandbox.config = SandboxConfig(rate_limit=0, chaos=ChaosConfig(drop_after=1.0))
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/send-sms.json", data={"message": "sent", "to": "61491570151"})
        assert len(c.get("/_sandbox/state").json()["messages"]) == 2  # state changed, no answer

        sandbox.config = SandboxConfig(rate_limit=0, chaos=ChaosConfig(server_error=1.0))
        page = c.get("/get-balance.json")
        assert page.status_code == 502
        assert page.headers["content-type"].startswith("text/html")

        assert c.post("/_sandbox/reset", json={}).json() == {}
        assert c.get("/_sandbox/state").json()["messages"] == []


def test_chaos_is_reproducible_with_a_seed() -> None:
    def faults(seed: int) -> list[Any]:
        config = SandboxConfig(rate_limit=0, seed=seed, chaos=ChaosConfig(over_limit=0.3))
        sandbox = Sandbox(config, clock=VirtualClock())
        transport = httpx.ASGITransport(sandbox.app)

        async def run() -> list[int]:
            async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as c:
                return [(await c.get("/get-balance.json")).status_code for _ in range(30)]

        return anyio.run(run)

    first = faults(7)
    assert first == faults(7)
    assert 429 in first
    assert 200 in first
