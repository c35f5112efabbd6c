"""The callback worker never dies: unusable URLs are refused at the API, and whatever reaches the worker
anyway (an old state file, a config, a receiver that misbehaves, a job that raises) is recorded as a
failed attempt while every other callback keeps flowing."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import httpx
import pytest

from smsapi_async.sandbox import Sandbox, SandboxConfig, VirtualClock
from smsapi_async.sandbox.__main__ import main

AUTH = ("sandbox-key", "sandbox-secret")
UNUSABLE_URLS = [
    "http://[::1",
    "http://127.0.0.1:99999/x",
    "http://127.0.0.1:0/x",
    "ftp://example.com/x",
    "http://",
    "http:///path-only",
    "javascript:alert(1)",
    "http://exa mple.com/",
    "http://example.com/\x00",
    "https://" + "a" * 3000 + ".example/",
]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Env:
    def __init__(self, sandbox: Sandbox, clock: VirtualClock, client: httpx.AsyncClient) -> None:
        self.sandbox, self.clock, self.client = sandbox, clock, client
        self.seen: list[str] = []

    async def call(self, name: str, **params: Any) -> httpx.Response:
        return await self.client.post(f"/{name}.json", data={k: str(v) for k, v in params.items()})

    async def settle(self) -> None:
        with anyio.fail_after(20):  # a dead worker would make settle() wait forever
            await self.sandbox.settle()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    clock = VirtualClock()
    config = SandboxConfig(rate_limit=0, callback_timeout=0.5)
    sandbox = Sandbox(config, clock=clock, callback_transport=httpx.MockTransport(record))
    transport = httpx.ASGITransport(sandbox.app)
    async with (
        sandbox.running(),
        httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as client,
    ):
        e = Env(sandbox, clock, client)
        e.seen = seen
        yield e


@pytest.mark.anyio
@pytest.mark.parametrize("url", UNUSABLE_URLS)
async def test_unusable_callback_urls_are_refused_at_the_api(env: Env, url: str) -> None:
    for name in ("dlr_callback", "reply_callback", "link_hits_callback"):
        answer = await env.call("send-sms", message="hi", to="61491570151", **{name: url})
        assert answer.status_code == 400, (name, answer.text)
        assert answer.json()["error"]["code"] == "FIELD_INVALID"
    answer = await env.call("lease-number", forward_url=url)
    assert answer.json()["error"]["code"] == "FIELD_INVALID"
    answer = await env.call("edit-number-options", number="61400000000", forward_url=url)
    assert answer.json()["error"]["code"] == "FIELD_INVALID"
    answer = await env.call("add-keyword", keyword="JOIN", number="61400000000", forward_url=url)
    assert answer.json()["error"]["code"] == "FIELD_INVALID"
    settings = await env.client.post("/_sandbox/settings", json={"dlr_callback": url})
    assert settings.status_code == 400
    assert env.sandbox.state.messages == {}
    assert env.sandbox.account().dlr_callback == ""
    assert len(env.sandbox.account().numbers) == 1
    assert env.sandbox.account().keywords == []


@pytest.mark.anyio
@pytest.mark.parametrize("url", UNUSABLE_URLS)
async def test_an_unusable_url_that_got_in_anyway_fails_alone(
    env: Env, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    account = env.sandbox.account()
    account.dlr_callback = url  # e.g. from an old state file or an AccountConfig: never checked
    account.numbers["61400000000"].forward_url = url
    good = "https://receiver.example/dlr"
    first = await env.call("send-sms", message="a", to="61491570151")
    second = await env.call("send-sms", message="b", to="61491570152", dlr_callback=good)
    assert first.status_code == second.status_code == 200
    env.sandbox.inject_reply("61491570153", "hello", to="61400000000")
    with caplog.at_level(logging.WARNING, logger="smsapi_async.sandbox"):
        env.clock.advance(5)
        await env.settle()
    by_url = {d.kind + ":" + str(d.params[0][1]): d for d in env.sandbox.callbacks.deliveries}
    failed = [d for d in env.sandbox.callbacks.deliveries if d.status == "failed"]
    assert len(failed) == 2  # the DLR to the account default and the reply to the number's URL
    for delivery in failed:
        (attempt,) = delivery.attempts
        assert "unusable callback URL" in attempt["error"]
        assert delivery.next_attempt is None
    assert [u for u in env.seen if u.startswith(good)], by_url
    assert "unusable callback URL" in caplog.text
    # the worker is alive: a later callback still goes out
    await env.call("send-sms", message="c", to="61491570154", dlr_callback=good + "?again=1")
    env.clock.advance(5)
    await env.settle()
    assert any("again=1" in u for u in env.seen)
    listed = await env.client.get("/_sandbox/callbacks")
    assert sum(1 for c in listed.json()["callbacks"] if c["status"] == "failed") == 2


@pytest.mark.anyio
async def test_a_job_or_transport_that_raises_does_not_stop_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in the receiver's transport")
        return httpx.Response(200)

    clock = VirtualClock()
    config = SandboxConfig(rate_limit=0, callback_retry_scale=0.01)
    sandbox = Sandbox(config, clock=clock, callback_transport=httpx.MockTransport(flaky))
    sandbox.account().dlr_callback = "https://receiver.example/dlr"
    async with (
        sandbox.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(sandbox.app), base_url="http://s", auth=AUTH) as c,
    ):
        await c.post("/send-sms.json", data={"message": "x", "to": "61491570151"})
        clock.advance(2)
        with anyio.fail_after(10):
            await sandbox.settle()
        (delivery,) = sandbox.callbacks.deliveries
        assert delivery.status == "retrying"
        assert delivery.attempts[0]["error"] == "RuntimeError"
        assert delivery.attempts[0]["detail"] == "a bug in the receiver's transport"
        clock.advance(1)
        with anyio.fail_after(10):
            await sandbox.settle()
        assert delivery.status == "delivered"


class Receivers:
    """One local HTTP server with misbehaving paths."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                outer.hits.append(path)
                if path == "/slow":
                    outer.release.wait(5)
                status = {"/error": 500, "/redirect": 302, "/slow": 200}.get(path, 200)
                self.send_response(status)
                if path == "/redirect":
                    self.send_header("location", f"{outer.url}/redirected")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    r = Receivers()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.release.set()
    r.server.shutdown()
    r.server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.anyio
async def test_slow_redirecting_erroring_and_unreachable_receivers(receivers: Receivers) -> None:
    clock = VirtualClock()
    config = SandboxConfig(rate_limit=0, callback_timeout=0.5)
    sandbox = Sandbox(config, clock=clock)
    urls = {
        "slow": receivers.url + "/slow",
        "redirect": receivers.url + "/redirect",
        "error": receivers.url + "/error",
        "unreachable": f"http://127.0.0.1:{_closed_port()}/x",
        "ok": receivers.url + "/ok",
    }
    async with (
        sandbox.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(sandbox.app), base_url="http://s", auth=AUTH) as c,
    ):
        for i, url in enumerate(urls.values()):
            sent = await c.post(
                "/send-sms.json", data={"message": "x", "to": f"6149157015{i}", "dlr_callback": url}
            )
            assert sent.status_code == 200, sent.text
        clock.advance(2)
        started = time.monotonic()
        with anyio.fail_after(20):
            await sandbox.settle()
        assert time.monotonic() - started < 4  # the slow receiver timed out after 0.5 s, others went on
        status = {d.url.split("?")[0]: d for d in sandbox.callbacks.deliveries}
        assert status[urls["ok"]].status == "delivered"
        for name in ("slow", "redirect", "error", "unreachable"):
            delivery = status[urls[name]]
            assert delivery.status == "retrying", name
            assert len(delivery.attempts) == 1
        assert status[urls["redirect"]].attempts[0]["status_code"] == 302
        assert "/redirected" not in receivers.hits  # a redirect is a failed attempt, not followed
        assert status[urls["error"]].attempts[0]["status_code"] == 500
        assert "Timeout" in status[urls["slow"]].attempts[0]["error"]
        assert "Connect" in status[urls["unreachable"]].attempts[0]["error"]


def test_the_command_line_refuses_an_unusable_default_callback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--dlr-callback", "http://[::1"])
    assert "not a usable http(s) URL" in capsys.readouterr().err
