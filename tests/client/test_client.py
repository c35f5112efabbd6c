"""AsyncSmsClient.call: request building, retries, never sending twice, errors, secrets."""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from support import Recorder, call_name, failure, form_of, success

from smsapi_async import (
    AsyncSmsClient,
    AuthenticationError,
    FakeClock,
    InvalidFieldError,
    InvalidRequestError,
    NetworkError,
    OutcomeUnknownError,
    RateLimiter,
    RateLimitError,
    RequestTimeoutError,
    ResponseParseError,
)

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]
SECRET = "test-secret-0001"
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def fake_limited(clock: FakeClock) -> RateLimiter:
    return RateLimiter(2, clock=clock)


async def drive(clock: FakeClock, coro: Callable[[], Any]) -> Any:
    """Run ``coro`` while jumping the fake clock from wake-up to wake-up."""
    result: list[Any] = []
    errors: list[BaseException] = []

    async def run() -> None:
        try:
            result.append(await coro())
        except Exception as exc:  # re-raised below, outside the task group's ExceptionGroup
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await clock.run_until_idle()
    if errors:
        raise errors[0]
    return result[0]


# --- building the request -------------------------------------------------------------------------


async def test_call_posts_a_form_with_basic_auth_to_the_json_url(make_client: MakeClient) -> None:
    handler = Recorder(success(balance=10.5, currency="AUD"))
    client = make_client(handler)
    assert await client.call("get-balance") == {"balance": 10.5, "currency": "AUD"}
    (request,) = handler.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.transmitsms.com/get-balance.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(f"test-key-0001:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


async def test_values_are_encoded_as_the_api_documents(make_client: MakeClient) -> None:
    handler = Recorder(success())
    client = make_client(handler)
    sydney = timezone(timedelta(hours=10))
    await client.call(
        "send-sms",
        {"from": "Shop"},
        message="Héllo & bye",
        to=["61400000001", "61400000002"],
        send_at=datetime(2030, 1, 2, 13, 4, 5, tzinfo=sydney),
        start=date(2030, 1, 1),
        from_shared=True,
        include_original=False,
        validity=0,
        cost=Decimal("1.50"),
        price=0.00001,
        skipped=None,
    )
    assert form_of(handler.requests[0]) == {
        "from": "Shop",
        "message": "Héllo & bye",
        "to": "61400000001,61400000002",
        "send_at": "2030-01-02 03:04:05",
        "start": "2030-01-01",
        "from_shared": "true",
        "include_original": "false",
        "validity": "0",
        "cost": "1.50",
        "price": "0.00001",
    }


@pytest.mark.parametrize("name", ["Get-Balance", "get_balance", "get balance", "", "get-balance.json", "-x"])
async def test_bad_call_names_are_refused_before_sending(make_client: MakeClient, name: str) -> None:
    handler = Recorder(success())
    with pytest.raises(InvalidRequestError, match="call name"):
        await make_client(handler).call(name)
    assert handler.requests == []


@pytest.mark.parametrize(
    "fields",
    [
        {"when": datetime(2030, 1, 1)},  # naive
        {"blob": b"bytes"},
        {"nested": [[1, 2]]},
        {"mapping": {"a": 1}},
        {"thing": object()},
        {"nan": float("nan")},
        {"surrogate": "caf\udce9"},
    ],
)
async def test_bad_field_values_are_refused_before_sending(
    make_client: MakeClient, fields: dict[str, Any]
) -> None:
    handler = Recorder(success())
    with pytest.raises(InvalidRequestError):
        await make_client(handler).call("get-sms", **fields)
    assert handler.requests == []


async def test_xml_format_uses_the_xml_suffix_and_gives_the_same_shape(make_client: MakeClient) -> None:
    body = (
        b"<?xml version='1.0'?><response><balance>10.5</balance><currency>AUD</currency>"
        b"<error><code>SUCCESS</code><description>OK</description></error></response>"
    )
    handler = Recorder(httpx.Response(200, content=body))
    client = make_client(handler, response_format="xml")
    assert await client.call("get-balance") == {"balance": "10.5", "currency": "AUD"}
    assert handler.requests[0].url.path == "/get-balance.xml"


# --- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": ""},
        {"api_secret": "  "},
        {"api_secret": "s\udcff"},
        {"base_url": "http://api.transmitsms.com"},
        {"base_url": "ftp://127.0.0.1"},
        {"response_format": "yaml"},
        {"rate_limit": 0},
        {"rate_limit": -2},
        {"max_retries": -1},
        {"max_retry_wait": -1},
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"api_key": "k", "api_secret": "s", **kwargs}
    with pytest.raises(InvalidRequestError):
        AsyncSmsClient(**options)


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8765", "http://localhost:1/", "http://[::1]:8765"])
async def test_plain_http_is_allowed_for_loopback_only(base_url: str) -> None:
    async with AsyncSmsClient("k", "s", base_url=base_url) as client:
        assert client.base_url == base_url.rstrip("/")


async def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSAPI_API_KEY", "env-key-123456")
    monkeypatch.setenv("SMSAPI_API_SECRET", "env-secret")
    handler = Recorder(success())
    async with AsyncSmsClient(transport=httpx.MockTransport(handler)) as client:
        await client.call("get-balance")
    assert (
        handler.requests[0]
        .headers["Authorization"]
        .endswith(base64.b64encode(b"env-key-123456:env-secret").decode())
    )


def test_missing_credentials_say_how_to_provide_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMSAPI_API_KEY", raising=False)
    with pytest.raises(InvalidRequestError, match="SMSAPI_API_KEY"):
        AsyncSmsClient()


async def test_a_user_owned_http_client_is_not_closed() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(Recorder(success())))
    async with AsyncSmsClient("k", "s", http_client=http, rate_limit=None) as client:
        await client.call("get-balance")
    assert not http.is_closed
    await http.aclose()


def test_http_client_and_transport_are_exclusive() -> None:
    with pytest.raises(InvalidRequestError):
        AsyncSmsClient(
            "k", "s", http_client=httpx.AsyncClient(), transport=httpx.MockTransport(Recorder(success()))
        )


# --- rate limiting and 429 ------------------------------------------------------------------------


async def test_every_call_passes_through_the_one_limiter(make_client: MakeClient) -> None:
    clock = FakeClock()
    seen: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(clock.now())
        return success()

    client = make_client(Recorder(answer), limiter=fake_limited(clock))

    async def burst() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(client.call, "get-balance")

    await drive(clock, burst)
    assert len(seen) == 5
    assert [b - a for a, b in itertools.pairwise(seen)] == pytest.approx([client.limiter.interval] * 4)  # type: ignore[union-attr]


async def test_429_with_retry_after_pauses_the_limiter_then_resends(make_client: MakeClient) -> None:
    clock = FakeClock()
    times: list[float] = []
    answers = iter(
        [
            httpx.Response(
                429,
                json={"error": {"code": "OVER_LIMIT", "description": "slow down"}},
                headers={"Retry-After": "7"},
            ),
            success(ok=1),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        times.append(clock.now())
        return next(answers)

    client = make_client(Recorder(answer), limiter=fake_limited(clock))
    assert await drive(clock, lambda: client.call("send-sms", message="hi", to="61400000001")) == {"ok": 1}
    assert times == [0.0, 7.0]


async def test_429_with_an_http_date_retry_after(make_client: MakeClient) -> None:
    clock = FakeClock()
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    header = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    handler = Recorder(
        httpx.Response(429, json={"error": {"code": "OVER_LIMIT"}}, headers={"Retry-After": header}),
        success(),
    )
    client = make_client(handler, limiter=fake_limited(clock))
    await drive(clock, lambda: client.call("get-balance"))
    assert 28 <= clock.now() <= 31


async def test_429_without_retry_after_backs_off_exponentially(make_client: MakeClient) -> None:
    clock = FakeClock()
    times: list[float] = []
    over = httpx.Response(429, content=b"Too Many Requests")

    def answer(request: httpx.Request) -> httpx.Response:
        times.append(clock.now())
        return over if len(times) < 4 else success()

    client = make_client(Recorder(answer), limiter=fake_limited(clock))
    await drive(clock, lambda: client.call("get-balance"))
    waits = [b - a for a, b in itertools.pairwise(times)]
    assert 0.25 <= waits[0] <= 0.5 + 0.01
    assert 0.5 <= waits[1] <= 1.0 + 0.01
    assert 1.0 <= waits[2] <= 2.0 + 0.01


async def test_over_limit_in_a_200_body_is_retried_too(make_client: MakeClient) -> None:
    clock = FakeClock()
    handler = Recorder(
        httpx.Response(200, json={"error": {"code": "OVER_LIMIT", "description": ""}}), success(n=2)
    )
    client = make_client(handler, limiter=fake_limited(clock))
    assert await drive(clock, lambda: client.call("get-sms", message_id=1)) == {"n": 2}
    assert len(handler.requests) == 2


async def test_rate_limit_retries_are_capped(make_client: MakeClient) -> None:
    clock = FakeClock()
    handler = Recorder(httpx.Response(429, json={"error": {"code": "OVER_LIMIT", "description": "x"}}))
    client = make_client(handler, limiter=fake_limited(clock), max_retries=2)
    with pytest.raises(RateLimitError) as info:
        await drive(clock, lambda: client.call("get-balance"))
    assert len(handler.requests) == 3
    assert info.value.code == "OVER_LIMIT"
    assert info.value.status_code == 429


async def test_total_retry_wait_is_capped(make_client: MakeClient) -> None:
    clock = FakeClock()
    handler = Recorder(
        httpx.Response(429, json={"error": {"code": "OVER_LIMIT"}}, headers={"Retry-After": "45"})
    )
    client = make_client(handler, limiter=fake_limited(clock), max_retry_wait=60)
    with pytest.raises(RateLimitError):
        await drive(clock, lambda: client.call("get-balance"))
    assert len(handler.requests) == 2  # 45 s waited once; another 45 s would pass the 60 s cap


async def test_max_retries_zero_never_resends(make_client: MakeClient) -> None:
    handler = Recorder(httpx.Response(429, json={"error": {"code": "OVER_LIMIT"}}))
    with pytest.raises(RateLimitError):
        await make_client(handler, max_retries=0).call("get-balance")
    assert len(handler.requests) == 1


async def test_a_429_pauses_every_coroutine_of_the_client(make_client: MakeClient) -> None:
    clock = FakeClock()
    arrivals: list[tuple[str, float]] = []
    first = True

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal first
        arrivals.append((call_name(request), clock.now()))
        if first:
            first = False
            return httpx.Response(429, json={"error": {"code": "OVER_LIMIT"}}, headers={"Retry-After": "5"})
        return success()

    client = make_client(Recorder(answer), limiter=fake_limited(clock))

    async def both() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call, "get-balance")
            await clock.settle()
            tg.start_soon(client.call, "get-lists")

    await drive(clock, both)
    # get-lists was due at 0.5 s but waits out the pause the 429 set, behind the resend queued first
    assert arrivals == [
        ("get-balance", 0.0),
        ("get-balance", 5.0),
        ("get-lists", pytest.approx(5.0 + client.limiter.interval)),
    ]


# --- never sending twice --------------------------------------------------------------------------


async def test_a_timed_out_send_is_not_resent(make_client: MakeClient) -> None:
    handler = Recorder(httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError) as info:
        await make_client(handler).call("send-sms", message="hi", to="61400000001")
    assert len(handler.requests) == 1
    assert info.value.call == "send-sms"
    assert "may or may not" in str(info.value)


@pytest.mark.parametrize(
    "name", ["send-sms", "add-to-list", "edit-client", "delete-email", "cancel-sms", "lease-number"]
)
async def test_a_5xx_on_a_state_changing_call_is_surfaced_not_resent(
    make_client: MakeClient, name: str
) -> None:
    handler = Recorder(httpx.Response(502, content=HTML_502))
    with pytest.raises(OutcomeUnknownError) as info:
        await make_client(handler).call(name)
    assert len(handler.requests) == 1
    assert info.value.status_code == 502


async def test_a_dropped_connection_after_sending_is_an_unknown_outcome(make_client: MakeClient) -> None:
    handler = Recorder(httpx.RemoteProtocolError("Server disconnected without sending a response."))
    with pytest.raises(OutcomeUnknownError):
        await make_client(handler).call("send-sms", message="x", to="61400000001")
    assert len(handler.requests) == 1


async def test_a_connection_refused_send_was_never_sent_so_it_is_retried(make_client: MakeClient) -> None:
    handler = Recorder(httpx.ConnectError("refused"), success(message_id=1))
    client = make_client(handler, limiter=RateLimiter(1000, clock=FakeClock()))
    clock = client.limiter.clock  # type: ignore[union-attr]
    assert await drive(clock, lambda: client.call("send-sms", message="x", to="61400000001")) == {
        "message_id": 1
    }
    assert len(handler.requests) == 2


async def test_reads_retry_timeouts_and_5xx(make_client: MakeClient) -> None:
    clock = FakeClock()
    handler = Recorder(httpx.ReadTimeout("slow"), httpx.Response(503, content=HTML_502), success(count=3))
    client = make_client(handler, limiter=fake_limited(clock))
    assert await drive(clock, lambda: client.call("get-sms-sent-count")) == {"count": 3}
    assert len(handler.requests) == 3


async def test_a_read_that_keeps_failing_raises_the_last_error(make_client: MakeClient) -> None:
    clock = FakeClock()
    handler = Recorder(httpx.Response(502, content=HTML_502))
    client = make_client(handler, limiter=fake_limited(clock), max_retries=1)
    with pytest.raises(ResponseParseError) as info:
        await drive(clock, lambda: client.call("get-balance"))
    assert info.value.status_code == 502
    assert "502 Bad Gateway" in info.value.excerpt
    assert len(handler.requests) == 2


async def test_timeouts_on_reads_end_as_request_timeout(make_client: MakeClient) -> None:
    clock = FakeClock()
    client = make_client(Recorder(httpx.ReadTimeout("slow")), limiter=fake_limited(clock), max_retries=1)
    with pytest.raises(RequestTimeoutError):
        await drive(clock, lambda: client.call("get-balance"))


async def test_network_errors_on_reads_end_as_network_error(make_client: MakeClient) -> None:
    client = make_client(Recorder(httpx.ConnectError("refused")), max_retries=0)
    with pytest.raises(NetworkError):
        await client.call("get-balance")


async def test_safe_to_retry_overrides_the_default_per_call(make_client: MakeClient) -> None:
    clock = FakeClock()
    handler = Recorder(httpx.ReadTimeout("slow"), success())
    client = make_client(handler, limiter=fake_limited(clock))
    await drive(clock, lambda: client.call("add-email", email="a@b.c", safe_to_retry=True))
    assert len(handler.requests) == 2
    handler2 = Recorder(httpx.ReadTimeout("slow"), success())
    with pytest.raises(OutcomeUnknownError):
        await make_client(handler2).call("get-balance", safe_to_retry=False)


# --- answers and errors ---------------------------------------------------------------------------


async def test_success_is_decided_by_the_code_alone(make_client: MakeClient) -> None:
    odd = httpx.Response(
        200, json={"weird": [1, {}], "error": {"code": "SUCCESS", "description": "whatever"}}
    )
    assert await make_client(Recorder(odd)).call("get-balance") == {"weird": [1, {}]}
    with pytest.raises(InvalidFieldError) as info:
        await make_client(Recorder(failure("FIELD_INVALID", "bad", 200))).call("get-balance")
    assert info.value.status_code == 200


async def test_api_errors_carry_code_description_status_and_call(make_client: MakeClient) -> None:
    handler = Recorder(failure("AUTH_FAILED", "The auth data you have provided is invalid.", 401))
    with pytest.raises(AuthenticationError) as info:
        await make_client(handler).call("get-balance")
    error = info.value
    assert (error.code, error.status_code, error.call) == ("AUTH_FAILED", 401, "get-balance")
    assert str(error) == "get-balance: AUTH_FAILED: The auth data you have provided is invalid. (HTTP 401)"
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (HTML_502, "malformed JSON"),
        (b'{"balance": 1.5, "error": {"code": "SUC', "malformed JSON"),
        (b"", "empty"),
        (b"[1, 2]", "expected an object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"balance": 1}', "no error block"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ],
)
async def test_bodies_we_cannot_read_are_typed_parse_errors(
    make_client: MakeClient, body: bytes, reason: str
) -> None:
    handler = Recorder(httpx.Response(200, content=body))
    with pytest.raises(ResponseParseError, match=reason) as info:
        await make_client(handler).call("get-balance")
    assert info.value.status_code == 200
    assert len(info.value.excerpt) <= 201


# --- secrets --------------------------------------------------------------------------------------


async def test_secrets_and_message_text_stay_out_of_logs_reprs_and_errors(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    text = "your one-time code is 834201"
    handler = Recorder(
        httpx.Response(429, json={"error": {"code": "OVER_LIMIT"}}),
        httpx.ReadTimeout("slow"),
    )
    client = make_client(handler, limiter=fake_limited(clock))
    with pytest.raises(OutcomeUnknownError) as info:
        await drive(clock, lambda: client.call("send-sms", message=text, to="61400000001"))
    auth = handler.requests[0].headers["Authorization"]
    rendered = [caplog.text, repr(client), str(info.value), repr(info.value), str(info.value.__cause__)]
    for leak in (SECRET, auth, auth.split()[1], text):
        for place in rendered:
            assert leak not in place
    assert "send-sms" in caplog.text
    assert "rate limited" in caplog.text


def test_repr_shows_where_and_how_not_who() -> None:
    client = AsyncSmsClient("abcdef-1234567890", SECRET, rate_limit=15)
    text = repr(client)
    assert "…7890" in text
    assert "abcdef" not in text
    assert SECRET not in text
    assert "RateLimiter(rate=15" in text


# --- backends -------------------------------------------------------------------------------------


def test_one_client_serves_consecutive_runs_on_both_backends() -> None:
    client = AsyncSmsClient("k", "s", transport=httpx.MockTransport(Recorder(success(x=1))), rate_limit=1000)

    async def use() -> dict[str, Any]:
        return await client.call("get-balance")

    assert anyio.run(use, backend="asyncio") == {"x": 1}
    assert anyio.run(use, backend="trio") == {"x": 1}


@pytest.mark.asyncio
async def test_works_under_pytest_asyncio_too() -> None:
    async with AsyncSmsClient("k", "s", transport=httpx.MockTransport(Recorder(success(y=2)))) as client:
        assert await client.call("get-balance") == {"y": 2}


# --- what the server counts: arrivals, not grants -------------------------------------------------


class HandshakingTransport(httpx.AsyncBaseTransport):
    """Answers like the API, but the first request waits ``handshake`` seconds for a connection
    (on the fake clock) before it leaves; records when each request reaches the "server"."""

    def __init__(self, clock: FakeClock, handshake: float) -> None:
        self.clock = clock
        self.handshake = handshake
        self.arrivals: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.arrivals and self.handshake:
            await self.clock.sleep(self.handshake)
        trace = request.extensions.get("trace")
        if trace is not None:
            await trace("http11.send_request_headers.started", {})
        self.arrivals.append(self.clock.now())
        return success()


@pytest.mark.parametrize("handshake", [0.0, 0.03, 0.2])
async def test_a_slow_first_connection_does_not_squeeze_later_requests_into_one_server_window(
    handshake: float,
) -> None:
    clock = FakeClock()
    transport = HandshakingTransport(clock, handshake)
    client = AsyncSmsClient("k", "s", limiter=RateLimiter(2, clock=clock), transport=transport)

    async def burst() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(client.call, "get-balance")

    await drive(clock, burst)
    await client.aclose()
    arrivals = transport.arrivals
    assert len(arrivals) == 8
    # any 3 consecutive arrivals at 2/s span more than the server's 1 s window, margin included
    spans = [b - a for a, b in zip(arrivals, arrivals[2:], strict=False)]
    assert min(spans) >= 1.005 - 1e-9


# --- per-call options -----------------------------------------------------------------------------


async def test_with_options_changes_retries_and_timeout_for_a_copy_only(make_client: MakeClient) -> None:
    timeouts: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(429, json={"error": {"code": "OVER_LIMIT"}})

    handler = Recorder(answer)
    client = make_client(handler, max_retries=0)
    strict = client.with_options(timeout=5.0, max_retries=0)
    with pytest.raises(RateLimitError):
        await strict.sms.get(1)
    assert timeouts[-1] == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    with pytest.raises(RateLimitError):
        await client.sms.get(1)
    assert timeouts[-1]["read"] == 30.0  # the original keeps its own settings
    assert strict.sms._client is strict


async def test_a_copy_shares_the_limiter_and_the_connections(make_client: MakeClient) -> None:
    client = make_client(Recorder(success()), rate_limit=2)
    copy = client.with_options(max_retries=1)
    assert copy.limiter is client.limiter
    await copy.aclose()  # closes nothing: the original still works
    await client.call("get-balance")


@pytest.mark.parametrize("options", [{"max_retries": -1}, {"max_retries": True}, {"max_retry_wait": -5}])
async def test_with_options_checks_its_values(make_client: MakeClient, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        make_client(Recorder(success())).with_options(**options)
