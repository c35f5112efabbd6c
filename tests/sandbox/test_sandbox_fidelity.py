"""Fidelity to the real API and to real third-party clients, each against a recorded payload or the
official PHP client's behaviour; and an answer with an error code never changes the state."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest
from support import example_json

from smsapi_async.sandbox import ChaosConfig, Sandbox, SandboxConfig, VirtualClock
from smsapi_async.sandbox.handlers import HANDLERS

AUTH = ("sandbox-key", "sandbox-secret")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Env:
    def __init__(self, sandbox: Sandbox, clock: VirtualClock, client: httpx.AsyncClient) -> None:
        self.sandbox, self.clock, self.client = sandbox, clock, client
        self.seen: list[httpx.Request] = []

    async def call(self, call_name: str, /, **params: Any) -> httpx.Response:
        return await self.client.post(f"/{call_name}.json", data={k: str(v) for k, v in params.items()})

    async def ok(self, call_name: str, /, **params: Any) -> dict[str, Any]:
        answer = await self.call(call_name, **params)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    clock = VirtualClock()
    sandbox = Sandbox(
        SandboxConfig(rate_limit=0), clock=clock, callback_transport=httpx.MockTransport(record)
    )
    async with (
        sandbox.running(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(sandbox.app), base_url="http://s", auth=AUTH
        ) as client,
    ):
        e = Env(sandbox, clock, client)
        e.seen = seen
        yield e


# --- finding 6 ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_send_sms_reports_zero_delivery_stats_at_send_time_like_the_recorded_payload(env: Env) -> None:
    recorded = example_json("postman/send-sms.json")["delivery_stats"]
    sent = await env.ok("send-sms", message="hi", to="61491570151,61491570152")
    assert sent["delivery_stats"] == recorded == dict.fromkeys(recorded, 0)
    env.clock.advance(5)
    later = await env.ok("get-sms", message_id=sent["message_id"])
    assert later["delivery_stats"]["delivered"] == 2  # get-sms still counts


@pytest.mark.anyio
async def test_the_callback_url_query_is_kept_as_given_and_the_fields_appended(env: Env) -> None:
    url = "https://r.example/cb?a+b=1&c[d]=2&e=%2F"
    await env.ok("send-sms", message="hi", to="61491570151", dlr_callback=url)
    env.clock.advance(5)
    await env.sandbox.settle()
    (request,) = env.seen
    raw = request.url.raw_path.decode()
    assert raw.startswith("/cb?a+b=1&c[d]=2&e=%2F&message_id=")


def test_help_shows_the_callback_retry_scale_default() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "smsapi_async.sandbox", "--help"], capture_output=True, text=True, check=True
    ).stdout
    squashed = " ".join(out.split())
    assert "--callback-retry-scale" in squashed
    assert "default 0.01" in squashed


@pytest.mark.anyio
async def test_over_limit_has_one_text() -> None:
    texts = set()
    for config in (
        SandboxConfig(rate_limit=1),
        SandboxConfig(rate_limit=0, chaos=ChaosConfig(over_limit=1.0)),
    ):
        sandbox = Sandbox(config, clock=VirtualClock())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(sandbox.app), base_url="http://s", auth=AUTH
        ) as c:
            answers = [await c.post("/get-balance.json") for _ in range(2)]
        texts |= {a.json()["error"]["description"] for a in answers if a.status_code == 429}
    assert len(texts) == 1


@pytest.mark.anyio
async def test_injecting_a_reply_to_an_unknown_message_is_refused(env: Env) -> None:
    answer = await env.client.post(
        "/_sandbox/inbound", json={"mobile": "61491570151", "message": "hi", "message_id": 999}
    )
    assert answer.status_code == 404
    assert env.sandbox.state.responses == []


# --- finding 8 ------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("prefix", ["//2/", "/2/"])
async def test_the_official_php_clients_path_is_served(env: Env, prefix: str) -> None:
    # the PHP client builds 'https://api.transmitsms.com/' . '/' . 2 . '/' . $method . '.json'
    url = httpx.URL("http://s").copy_with(raw_path=f"{prefix}get-balance.json".encode())
    answer = await env.client.post(url)
    assert answer.status_code == 200
    assert answer.json()["balance"] == 1000


@pytest.mark.anyio
async def test_page_zero_as_in_the_official_examples_is_the_first_page(env: Env) -> None:
    await env.ok("add-list", name="L")
    zero = await env.ok("get-lists", page=0, max=10)
    one = await env.ok("get-lists", page=1, max=10)
    assert zero["lists"] == one["lists"]
    assert zero["page"]["number"] == 1


@pytest.mark.anyio
async def test_optout_of_a_number_on_no_list_fails_without_recording_an_optout(env: Env) -> None:
    answer = await env.call("optout-list-member", list_id=0, msisdn="61491570151")
    assert answer.json()["error"]["code"] == "NOT_FOUND"
    assert env.sandbox.account().optouts == {}
    await env.ok("send-sms", message="still reachable", to="61491570151")


def snapshot(sandbox: Sandbox) -> Any:
    state = sandbox.state
    return (
        [attrs.asdict(a) for a in state.accounts.values()],
        [attrs.asdict(m) for m in state.messages.values()],
        [attrs.asdict(r) for r in state.responses],
        len(sandbox.callbacks.deliveries),
        sandbox.callbacks.pending(),
    )


BAD_VALUES = ["", "x", "0", "-1", "999999999", "nan", "61491570199", "https://[", "2099-13-45 99:99:99"]
PARAMS = ["message", "to", "list_id", "message_id", "msisdn", "mobile", "id", "client_id", "number",
          "keyword", "name", "email", "password", "from", "send_at", "validity", "countrycode", "field_1",
          "file_url",
          "max_sms", "sms_margin", "forward_url", "dlr_callback", "start", "end", "page", "max", "status",
          "keyword_id", "filter", "members", "optouts", "delivery", "type", "api_secret"]  # fmt: skip


async def _populate(env: Env) -> dict[str, Any]:
    lst = await env.ok("add-list", name="Customers", field_1="Email")
    await env.ok("add-to-list", list_id=lst["id"], msisdn="61491570156", first_name="Ella")
    sent = await env.ok("send-sms", message="Hi", list_id=lst["id"])
    await env.ok("send-sms", message="later", to="61491570157", send_at="2024-02-01 00:00:00")
    await env.ok("add-keyword", keyword="JOIN", number="61400000000")
    await env.ok("add-email", email="a@b.example")
    client = await env.ok("add-client", name="C", email="c@c.example", password="pw", msisdn="61491570158")
    env.clock.advance(5)
    env.sandbox.inject_reply("61491570156", "Thanks", message_id=sent["message_id"])
    return {"list_id": lst["id"], "message_id": sent["message_id"], "client_id": client["id"]}


@pytest.mark.anyio
async def test_an_answer_with_an_error_code_never_changes_the_state(env: Env) -> None:
    ids = await _populate(env)
    await env.sandbox.settle()
    failures = 0
    for call in sorted(HANDLERS):
        candidates: list[dict[str, str]] = [{}]
        candidates += [{name: value} for name in PARAMS for value in BAD_VALUES]
        good = {"list_id": str(ids["list_id"]), "message_id": str(ids["message_id"]), "msisdn": "61491570156",
                "number": "61400000000", "keyword": "JOIN", "client_id": str(ids["client_id"]), "name": "Z",
                "email": "z@z.example", "password": "pw", "message": "m", "to": "61491570151",
                "mobile": "61491570156", "id": str(ids["message_id"])}  # fmt: skip
        candidates += [{**good, name: value} for name in PARAMS for value in BAD_VALUES]
        before = snapshot(env.sandbox)
        for params in candidates:
            answer = await env.call(call, **params)
            after = snapshot(env.sandbox)
            if answer.json()["error"]["code"] != "SUCCESS":
                failures += 1
                assert after == before, (call, params, answer.json()["error"])
            before = after  # one snapshot per call: the state after this one is the next one's before
    assert failures > 1000
