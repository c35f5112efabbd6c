"""``respx_sandbox()``: an application's own ``AsyncSmsClient()`` answered by the sandbox through respx."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
import respx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from smsapi_async import AsyncSmsClient, AuthenticationError
from smsapi_async.sandbox import AccountConfig, SandboxConfig
from smsapi_async.testing import callback_request, deliver_callback, respx_sandbox
from smsapi_async.webhooks import verify_signature

pytestmark = pytest.mark.anyio

APP_KEY, APP_SECRET = "app-key-from-settings", "app-secret-from-settings"
DLR_URL = "https://booking.example.com/hooks/dlr?tenant=7"


async def app_sends(mobile: str = "61491570151", *, base_url: str | None = None, **send: Any) -> int:
    """The application under test: builds its own client from its settings, as in production."""
    options = {} if base_url is None else {"base_url": base_url}
    async with AsyncSmsClient(APP_KEY, APP_SECRET, **options) as client:
        sent = await client.sms.send(message="Your table is booked", to=mobile, **send)
    return sent.message_id


class Receiver:
    """A callback receiver app (what the application exposes), recording what it was sent."""

    def __init__(self, secret: str = APP_SECRET) -> None:
        self.secret = secret
        self.received: list[dict[str, str]] = []

        async def hook(request: Request) -> PlainTextResponse:
            signature = request.headers.get("x-transmitsms-signature", "")
            if not verify_signature(request.url.query, signature, self.secret):
                return PlainTextResponse("bad signature", status_code=403)
            self.received.append({"path": request.url.path, **request.query_params})
            return PlainTextResponse("ok")

        self.app = Starlette(routes=[Route("/hooks/{kind}", hook)])


async def test_the_apps_own_client_is_answered_by_the_sandbox() -> None:
    async with respx_sandbox() as sms:
        message_id = await app_sends()
        (message,) = sms.state.messages.values()
        assert message.id == message_id
        assert message.text == "Your table is booked"
        assert sms.calls == ["send-sms"]
        assert sms.requests[0]["params"]["to"] == "61491570151"
        # the app's credentials got an account of their own, which owns the message
        account = sms.sandbox.account(APP_KEY)
        assert message.account_id == account.id
        assert account.balance < 1000


async def test_a_test_looks_through_the_api_as_the_apps_account() -> None:
    async with respx_sandbox() as sms:
        message_id = await app_sends()
        await sms.advance(5)
        async with sms.client() as client:
            stats = await client.sms.stats(message_id)
        assert stats.delivered == 1
        assert sms.calls == ["send-sms", "get-sms-stats"]


async def test_unknown_credentials_are_refused_when_asked() -> None:
    async with respx_sandbox(any_credentials=False) as sms:
        with pytest.raises(AuthenticationError):
            await app_sends()
        assert sms.state.messages == {}
    config = SandboxConfig(rate_limit=0).accounts[0]
    async with (
        respx_sandbox(any_credentials=False) as sms,
        AsyncSmsClient(config.api_key, config.api_secret) as c,
    ):
        balance = await c.account.balance()
        assert str(balance.balance) == "1000"


async def test_a_wrong_secret_for_a_known_key_is_refused() -> None:
    async with respx_sandbox() as sms:
        await app_sends()
        async with AsyncSmsClient(APP_KEY, "another-secret") as client:
            with pytest.raises(AuthenticationError):
                await client.account.balance()
        assert len(sms.state.accounts) == 2  # the demo account and the app's


async def test_any_base_url_given_is_routed_too_with_its_path_prefix() -> None:
    proxy = "https://sms-gateway.internal.example.com/transmit/"
    async with respx_sandbox(base_url=proxy) as sms:
        await app_sends(base_url=proxy)
        await app_sends("61491570152")  # the default URL still routed
        assert sms.calls == ["send-sms", "send-sms"]
        assert sms.base_urls == ("https://api.transmitsms.com", proxy)


async def test_hosts_it_does_not_route_keep_respx_usual_behaviour() -> None:
    async with respx_sandbox(), httpx.AsyncClient() as http:
        with pytest.raises(AssertionError, match="not mocked"):
            await http.get("https://maps.example.com/geocode")
        with pytest.raises(AssertionError, match="not mocked"):  # same host, other scheme: not the API
            await http.get("http://api.transmitsms.com/get-balance.json")


@pytest.mark.parametrize("sandbox_first", [True, False])
async def test_it_composes_with_the_users_own_respx_routes(sandbox_first: bool) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            weather = await http.get("https://weather.example.com/today")
        assert weather.json() == {"sky": "clear"}
        await app_sends()

    user_mock = respx.mock(assert_all_called=True)
    user_mock.get("https://weather.example.com/today").respond(json={"sky": "clear"})
    if sandbox_first:
        async with respx_sandbox() as sms, user_mock:
            await scenario()
    else:
        async with user_mock, respx_sandbox() as sms:
            await scenario()
    assert sms.calls == ["send-sms"]


async def test_routes_can_go_into_the_users_router_and_leave_it_as_they_found_it() -> None:
    async with respx.mock() as user_mock:
        user_mock.get("https://weather.example.com/today").respond(json={"sky": "clear"})
        async with respx_sandbox(router=user_mock) as sms:
            assert sms.router is user_mock
            await app_sends()
            assert user_mock.calls.call_count == 1
        assert len(user_mock.routes) == 1
        async with httpx.AsyncClient() as http:
            assert (await http.get("https://weather.example.com/today")).json() == {"sky": "clear"}


async def test_callbacks_reach_the_apps_receiver_signed_with_the_apps_secret() -> None:
    receiver = Receiver()
    async with respx_sandbox(callbacks_to=receiver.app) as sms:
        message_id = await app_sends(dlr_callback=DLR_URL)
        assert receiver.received == []
        await sms.advance(5)
        (dlr,) = receiver.received
        assert dlr == {
            "path": "/hooks/dlr",
            "tenant": "7",
            "message_id": str(message_id),
            "mobile": "61491570151",
            "datetime": dlr["datetime"],
            "status": "delivered",
            "user_id": str(sms.sandbox.account(APP_KEY).id),
        }
        (delivery,) = sms.callbacks
        assert delivery.status == "delivered"


async def test_an_injected_reply_reaches_the_apps_reply_receiver() -> None:
    receiver = Receiver()
    async with respx_sandbox(callbacks_to=receiver.app) as sms:
        await app_sends(reply_callback="https://booking.example.com/hooks/reply")
        sms.inject_reply("61491570151", "Can we make it 8pm?")
        await sms.advance(0)
        (reply,) = receiver.received
        assert reply["path"] == "/hooks/reply"
        assert reply["response"] == "Can we make it 8pm?"


async def test_callbacks_nothing_answers_are_failed_attempts_not_a_crash() -> None:
    async with respx_sandbox() as sms:
        await app_sends(dlr_callback=DLR_URL)
        await sms.advance(5)
        (delivery,) = sms.callbacks
        assert delivery.status == "retrying"
        assert delivery.attempts[0]["error"] == "ConnectError"


async def test_callbacks_go_through_the_users_respx_routes_by_default() -> None:
    async with respx.mock() as user_mock, respx_sandbox() as sms:
        hook = user_mock.get(url__startswith="https://booking.example.com/hooks/dlr").respond(200)
        await app_sends(dlr_callback=DLR_URL)
        await sms.advance(5)
        assert hook.call_count == 1
        request = hook.calls.last.request
        assert verify_signature(request.url.query, request.headers["x-transmitsms-signature"], APP_SECRET)


async def test_each_block_gets_a_fresh_sandbox_and_leaves_nothing_routed() -> None:
    async with respx_sandbox() as sms:
        await app_sends()
    async with respx_sandbox() as sms:
        assert sms.state.messages == {}
    async with respx.mock(), AsyncSmsClient(APP_KEY, APP_SECRET) as client:
        with pytest.raises(AssertionError, match="not mocked"):
            await client.account.balance()


# --- deliver_callback: a signed callback, made by hand --------------------------------------------


async def test_deliver_callback_signs_as_the_platform_does() -> None:
    receiver = Receiver()
    params = {"message_id": "340000001", "mobile": "61491570151", "status": "delivered"}
    response = await deliver_callback(receiver.app, DLR_URL, params, api_secret=APP_SECRET)
    assert response.status_code == 200
    assert receiver.received == [{"path": "/hooks/dlr", "tenant": "7", **params}]


async def test_deliver_callback_can_forge_a_signature_to_test_refusal() -> None:
    receiver = Receiver()
    params = [("message_id", "1"), ("status", "delivered")]
    response = await deliver_callback(
        receiver.app, DLR_URL, params, api_secret=APP_SECRET, signature="0" * 64
    )
    assert response.status_code == 403
    assert receiver.received == []


async def test_a_recorded_delivery_can_be_replayed_to_test_duplicates() -> None:
    receiver = Receiver()
    async with respx_sandbox(callbacks_to=receiver.app) as sms:
        await app_sends(dlr_callback=DLR_URL)
        await sms.advance(5)
        (delivery,) = sms.callbacks
        again = await deliver_callback(receiver.app, delivery.url, [], api_secret=APP_SECRET)
        assert again.status_code == 200
        assert receiver.received[0] == receiver.received[1]


def test_callback_request_keeps_the_urls_own_query_first() -> None:
    request = callback_request("https://x.example/h?a=1", [("b", "2 3")], api_secret="s")
    assert request.method == "GET"
    assert str(request.url) == "https://x.example/h?a=1&b=2%203"
    assert verify_signature("a=1&b=2%203", request.headers["x-transmitsms-signature"], "s")


# --- hostile and unusual input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", ["Basic !!!not-base64", "Basic " + "w6k=", "Bearer abc", "Basic Og=="]
)
async def test_garbage_credentials_open_no_account_and_get_the_apis_401(authorization: str) -> None:
    async with respx_sandbox() as sms, httpx.AsyncClient() as http:
        response = await http.post(
            "https://api.transmitsms.com/get-balance.json", headers={"authorization": authorization}
        )
        assert response.status_code == 401
        assert len(sms.state.accounts) == 1  # only the configured demo account


@pytest.mark.parametrize("url", ["ftp://api.example.com", "not a url", "https://"])
async def test_a_base_url_that_is_not_http_is_refused_up_front(url: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        async with respx_sandbox(base_url=url):
            pass


async def test_an_xml_client_is_answered_in_xml() -> None:
    async with respx_sandbox() as sms, AsyncSmsClient(APP_KEY, APP_SECRET, response_format="xml") as client:
        balance = await client.account.balance()
        assert str(balance.balance) == "1000"
        assert sms.requests[0]["format"] == "xml"


async def test_configured_accounts_keep_their_settings() -> None:
    config = SandboxConfig(
        rate_limit=0, accounts=(AccountConfig(api_key=APP_KEY, api_secret=APP_SECRET, balance=1.5),)
    )
    async with respx_sandbox(config) as sms, AsyncSmsClient(APP_KEY, APP_SECRET) as client:
        assert str((await client.account.balance()).balance) == "1.5"
        assert len(sms.state.accounts) == 1


async def test_callbacks_to_a_transport_and_changed_midway() -> None:
    first, second = Receiver(), Receiver()
    async with respx_sandbox(callbacks_to=httpx.ASGITransport(app=first.app)) as sms:
        await app_sends(dlr_callback=DLR_URL)
        await sms.advance(5)
        sms.callbacks_to = second.app
        await app_sends("61491570152", dlr_callback=DLR_URL)
        await sms.advance(5)
        assert [dlr["mobile"] for dlr in first.received] == ["61491570151"]
        assert [dlr["mobile"] for dlr in second.received] == ["61491570152"]


async def test_a_sandbox_rate_limit_counts_virtual_time_which_advance_moves() -> None:
    auth = httpx.BasicAuth(APP_KEY, APP_SECRET)
    async with respx_sandbox(SandboxConfig(rate_limit=1)) as sms, httpx.AsyncClient(auth=auth) as http:
        url = "https://api.transmitsms.com/get-balance.json"
        assert (await http.post(url)).status_code == 200
        assert (await http.post(url)).status_code == 429  # same virtual second, whatever the real time
        await sms.advance(1)
        assert (await http.post(url)).status_code == 200


async def test_concurrent_sends_from_the_app_are_each_answered_once() -> None:
    async with respx_sandbox() as sms, AsyncSmsClient(APP_KEY, APP_SECRET, rate_limit=None) as client:
        ids: list[int] = []

        async def send(index: int) -> None:
            sent = await client.sms.send(message=f"Table {index}", to=f"614915701{index:02d}")
            ids.append(sent.message_id)

        async with anyio.create_task_group() as tg:
            for index in range(20):
                tg.start_soon(send, index)
        assert sorted(ids) == sorted(sms.state.messages)
        assert len(set(ids)) == 20
        assert sms.calls == ["send-sms"] * 20
        assert sorted(m.text for m in sms.state.messages.values()) == sorted(f"Table {i}" for i in range(20))
