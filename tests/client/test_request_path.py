"""The request path's cost-saving shortcuts keep their promises: event objects only for hooks,
the client's headers on every request without touching an HTTP client passed in, the exchange
deadline following the timeout in force, and debug-only work only at debug level."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from support import Recorder, success

import smsapi_async._client as client_module
import smsapi_async._events as events_module
from smsapi_async import AsyncSmsClient, InvalidRequestError, OutcomeUnknownError, RequestTimeoutError
from smsapi_async.events import ClientEvent

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]
KEY, SECRET = "test-key-0001", "test-secret-0001"
EVENT_KINDS = (
    "CallStarted",
    "CallFinished",
    "RequestSent",
    "ResponseReceived",
    "RateLimited",
    "LimiterPaused",
    "RetryScheduled",
    "OutcomeUnknown",
)


def busy_then_fine() -> Recorder:
    """A read answered 429, then 503 (both with ``Retry-After: 0``), then success; then a send
    answered 503, whose outcome is unknown."""
    return Recorder(
        httpx.Response(429, json={"error": {"code": "OVER_LIMIT"}}, headers={"Retry-After": "0"}),
        httpx.Response(503, json={"error": {"code": "INTERNAL_ERROR"}}, headers={"Retry-After": "0"}),
        success(balance=1),
        httpx.Response(503, json={"error": {"code": "INTERNAL_ERROR"}}),
    )


async def run_busy_calls(client: AsyncSmsClient) -> None:
    assert (await client.call("get-balance"))["balance"] == 1
    with pytest.raises(OutcomeUnknownError):
        await client.call("send-sms", message="hi", to="61400000001")


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the event objects (and per-call hook records) the client builds, in order."""
    made: list[str] = []

    def counting(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def build(*args: Any, **kwargs: Any) -> Any:
            made.append(name)
            return original(*args, **kwargs)

        return build

    # the client looks the event classes up in their module when a call has hooks (so that a client
    # without hooks never imports it), and builds its per-call record itself
    for module, names in ((events_module, EVENT_KINDS), (client_module, ("_Observed",))):
        for name in names:
            monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    return made


async def test_without_event_hooks_no_event_object_is_built(
    make_client: MakeClient, built: list[str]
) -> None:
    await run_busy_calls(make_client(busy_then_fine(), max_retry_wait=5))
    assert built == []


async def test_with_an_event_hook_every_event_is_built_and_heard(
    make_client: MakeClient, built: list[str]
) -> None:
    heard: list[ClientEvent] = []
    await run_busy_calls(make_client(busy_then_fine(), max_retry_wait=5, event_hooks=[heard.append]))
    assert [type(event).__name__ for event in heard] == [name for name in built if name != "_Observed"]
    assert built.count("_Observed") == 2  # one per call
    assert set(EVENT_KINDS) - {"LimiterPaused"} <= set(built)  # no limiter here, so no pause


async def test_a_client_of_its_own_sends_its_headers_on_every_request(make_client: MakeClient) -> None:
    xml_success = b"<response><error><code>SUCCESS</code><description>OK</description></error></response>"
    handler = Recorder(httpx.Response(200, content=xml_success), success())
    await make_client(handler, response_format="xml").call("get-balance")
    await make_client(handler).call("send-sms", message="hi", to="61400000001")
    xml, json_ = (request.headers for request in handler.requests)
    assert xml["Accept"] == "text/xml"
    assert json_["Accept"] == "application/json"
    for headers in (xml, json_):
        assert headers["User-Agent"].startswith("smsapi-async/")
        assert headers["Accept-Encoding"] == "gzip, deflate"
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"


async def test_an_http_client_passed_in_keeps_its_defaults_and_each_request_gets_ours() -> None:
    handler = Recorder(success())
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), headers={"X-Team": "ops"}) as http:
        defaults = dict(http.headers)
        client = AsyncSmsClient(KEY, SECRET, rate_limit=None, http_client=http)
        await client.call("get-balance")
        await http.get("https://example.com/elsewhere")  # the owner's own use of it
        ours, theirs = handler.requests
        assert dict(http.headers) == defaults
        assert ours.headers["X-Team"] == "ops"
        assert ours.headers["Accept"] == "application/json"
        assert ours.headers["User-Agent"].startswith("smsapi-async/")
        assert "smsapi-async" not in theirs.headers["User-Agent"]
        assert theirs.headers["Accept"] == "*/*"


class _Drip(httpx.AsyncByteStream):
    """A body that sends one byte, then nothing for far longer than any test waits."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"{"
        await anyio.sleep(30)


async def test_a_timeout_set_later_on_a_passed_http_client_bounds_the_next_exchange() -> None:
    handler = Recorder(success(balance=1), lambda request: httpx.Response(200, stream=_Drip()))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=600) as http:
        client = AsyncSmsClient(KEY, SECRET, rate_limit=None, http_client=http, max_retries=0)
        await client.call("get-balance")  # the 600 s deadline is worked out (and kept) here
        http.timeout = httpx.Timeout(0.3)
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await client.call("get-balance")
        assert time.monotonic() - started < 20


async def test_the_sending_line_is_logged_at_debug_level_only(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(Recorder(success()))
    caplog.set_level(logging.INFO, logger="smsapi_async")
    await client.call("send-sms", message="secret text", to="61400000001")
    assert "sending" not in caplog.text
    caplog.set_level(logging.DEBUG, logger="smsapi_async")
    await client.call("send-sms", message="secret text", to="61400000001")
    assert "send-sms: sending (attempt 1, fields: message, to)" in caplog.text
    assert "secret text" not in caplog.text


@pytest.fixture
def parsed_urls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL httpx parses from text, in order (a tenth of a call's cost each)."""
    parsed: list[str] = []
    original = httpx.URL.__init__

    def init(self: httpx.URL, url: httpx.URL | str = "", **kwargs: Any) -> None:
        if isinstance(url, str):
            parsed.append(url)
        original(self, url, **kwargs)

    monkeypatch.setattr(httpx.URL, "__init__", init)
    return parsed


async def test_a_call_s_url_is_parsed_once_per_name(make_client: MakeClient, parsed_urls: list[str]) -> None:
    handler = Recorder(success())
    client = make_client(handler)
    for name in ("get-balance", "send-sms", "get-balance", "send-sms", "get-balance"):
        await client.call(name, {"to": "61400000001"} if name == "send-sms" else None)
    assert [url for url in parsed_urls if url.endswith(".json")] == [
        "https://api.transmitsms.com/get-balance.json",
        "https://api.transmitsms.com/send-sms.json",
    ]
    assert [str(request.url) for request in handler.requests] == [
        f"https://api.transmitsms.com/{name}.json"
        for name in ("get-balance", "send-sms", "get-balance", "send-sms", "get-balance")
    ]


async def test_a_kept_url_keeps_its_call_s_retry_rule(make_client: MakeClient) -> None:
    """A read is resent after a 503 and a send is not, on the second call by each name too."""
    failed = httpx.Response(503, json={"error": {"code": "INTERNAL_ERROR"}}, headers={"Retry-After": "0"})
    handler = Recorder(failed, success(balance=1), failed, failed, success(balance=2), failed)
    client = make_client(handler, max_retry_wait=5)
    for balance in (1, 2):
        assert (await client.call("get-balance"))["balance"] == balance
        with pytest.raises(OutcomeUnknownError):
            await client.call("send-sms", message="hi", to="61400000001")
    assert handler.calls == ["get-balance", "get-balance", "send-sms"] * 2


async def test_kept_urls_are_bounded_and_every_name_still_goes_where_it_says(
    make_client: MakeClient,
) -> None:
    handler = Recorder(success())
    client = make_client(handler)
    letters = "abcdefghijklmnopqrstuvwxyz"
    names = [f"get-{a}{b}" for a in letters for b in letters][: client_module._MAX_TARGETS + 40]
    for name in names:
        await client.call(name)

    class Name(str):
        """A name that is a str subclass (its comparisons could say anything): never kept."""

    await client.call(Name("get-balance"))
    assert handler.calls == [*names, "get-balance"]
    assert len(client._targets) == client_module._MAX_TARGETS
    assert "get-balance" not in client._targets
    with pytest.raises(InvalidRequestError):
        await client.call("Get-Balance")  # still refused before anything is sent
    assert len(handler.requests) == len(names) + 1


async def test_each_request_carries_the_timeout_in_force_worked_out_once_per_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worked_out: list[httpx.Timeout] = []
    original = httpx.Timeout.as_dict

    def as_dict(self: httpx.Timeout) -> dict[str, float | None]:
        worked_out.append(self)
        return original(self)

    monkeypatch.setattr(httpx.Timeout, "as_dict", as_dict)
    handler = Recorder(success())
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=7) as http:
        client = AsyncSmsClient(KEY, SECRET, rate_limit=5, http_client=http)
        for _ in range(3):
            await client.call("get-balance")
        copy = client.with_options(timeout=3)
        for _ in range(2):
            await copy.call("get-balance")
        http.timeout = httpx.Timeout(2, connect=1)
        await client.call("get-balance")
        await copy.call("get-balance")
    timeouts = [request.extensions["timeout"] for request in handler.requests]
    phases = ("connect", "read", "write", "pool")
    seven, three = dict.fromkeys(phases, 7.0), dict.fromkeys(phases, 3.0)
    two = {"connect": 1.0, "read": 2.0, "write": 2.0, "pool": 2.0}
    assert timeouts == [seven] * 3 + [three] * 2 + [two, three]
    assert len(worked_out) == 3  # once for each timeout the client and its copy met
    # the limiter hears of each send from httpcore's trace hook, the copy's requests included
    assert all(callable(request.extensions["trace"]) for request in handler.requests)
