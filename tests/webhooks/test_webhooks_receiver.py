"""CallbackReceiver through httpx's ASGI transport and over a real socket; hostile callbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlencode

import anyio
import anyio.lowlevel
import django  # type: ignore[import-untyped]
import httpx
import pytest
from django.conf import settings as django_settings  # type: ignore[import-untyped]
from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]
from django.test import RequestFactory  # type: ignore[import-untyped]
from fastapi import FastAPI, HTTPException, Request
from flask import Flask, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount

from smsapi_async import InvalidRequestError
from smsapi_async.sandbox import AccountConfig, SandboxConfig, serve_app_in_thread
from smsapi_async.testing import sandbox_client
from smsapi_async.webhooks import (
    SIGNATURE_HEADER,
    CallbackReceiver,
    DeliveryReport,
    Event,
    InvalidCallbackError,
    MemoryDedupStore,
    Reply,
    parse_callback,
    sign_callback,
    sign_callback_url,
    verify_signature,
)

SECRET = "sandbox-secret"
DLR = [
    ("message_id", "42"),
    ("mobile", "61400000001"),
    ("datetime", "2024-01-01 00:00:05"),
    ("status", "delivered"),
    ("user_id", "1"),
]


def raw(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, quote_via=quote)


def signed(pairs: list[tuple[str, str]], secret: str = SECRET) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign_callback(pairs, secret)}


class Collector:
    """An ``on_event`` that records events and can be told to fail."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.fail = 0

    async def __call__(self, event: Event) -> None:
        await anyio.lowlevel.checkpoint()
        if self.fail:
            self.fail -= 1
            raise RuntimeError("database down")
        self.events.append(event)


@asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Collector, CallbackReceiver]]:
    collector = Collector()
    options.setdefault("api_secret", SECRET)
    receiver = CallbackReceiver(collector, **options)
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as http:
        yield http, collector, receiver


@pytest.mark.anyio
async def test_a_signed_callback_is_handed_on_once_and_its_repeats_get_200() -> None:
    async with receiving() as (http, collector, receiver):
        first = await http.get("/any/path/at/all?" + raw(DLR), headers=signed(DLR))
        assert (first.status_code, first.text) == (200, "ok")
        for _ in range(3):
            again = await http.get("/another?" + raw(DLR), headers=signed(DLR))
            assert (again.status_code, again.text) == (200, "duplicate")
    (event,) = collector.events
    assert isinstance(event, DeliveryReport)
    assert (event.message_id, event.status) == (42, "delivered")
    assert receiver.stats["accepted"] == 1
    assert receiver.stats["duplicate"] == 3


@pytest.mark.anyio
async def test_a_reordered_late_status_is_a_new_event_and_is_handed_on() -> None:
    # the receiver de-duplicates; judging "pending after delivered" is the delivery tracker's job
    pending = [(k, "pending" if k == "status" else v) for k, v in DLR]
    async with receiving() as (http, collector, _):
        for pairs in (DLR, pending, DLR, pending):
            assert (await http.get("/?" + raw(pairs), headers=signed(pairs))).status_code == 200
    assert [e.status for e in collector.events if isinstance(e, DeliveryReport)] == ["delivered", "pending"]


@pytest.mark.anyio
async def test_concurrent_repeats_are_handed_on_exactly_once() -> None:
    async with receiving() as (http, collector, _):
        answers: list[tuple[int, str]] = []

        async def hit() -> None:
            response = await http.get("/?" + raw(DLR), headers=signed(DLR))
            answers.append((response.status_code, response.text))

        async with anyio.create_task_group() as tg:
            for _ in range(25):
                tg.start_soon(hit)
        # one was handled; the others came while it was (409: not acknowledged yet) or after it
        assert answers.count((200, "ok")) == 1
        assert set(answers) <= {(200, "ok"), (200, "duplicate"), (409, "in progress: retry later")}
        assert (await http.get("/?" + raw(DLR), headers=signed(DLR))).text == "duplicate"
    assert len(collector.events) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({SIGNATURE_HEADER: ""}, 403),
        ({SIGNATURE_HEADER: "0" * 64}, 403),
        ({SIGNATURE_HEADER: sign_callback(DLR, "another-account")}, 403),
        ({SIGNATURE_HEADER: sign_callback(list(reversed(DLR)), SECRET)}, 403),
    ],
)
async def test_unsigned_or_forged_callbacks_are_refused_and_never_handed_on(
    headers: dict[str, str], status: int
) -> None:
    async with receiving() as (http, collector, _):
        assert (await http.get("/?" + raw(DLR), headers=headers)).status_code == status
        # a forged copy of a real callback must not poison the store either
        assert (await http.get("/?" + raw(DLR), headers=signed(DLR))).text == "ok"
    assert len(collector.events) == 1


@pytest.mark.anyio
async def test_a_tampered_value_under_a_real_signature_is_refused() -> None:
    forged = [(k, "hard-bounce" if k == "status" else v) for k, v in DLR]
    async with receiving() as (http, collector, _):
        assert (await http.get("/?" + raw(forged), headers=signed(DLR))).status_code == 403
    assert collector.events == []


@pytest.mark.anyio
async def test_a_signed_url_token_authenticates_without_the_header() -> None:
    url = sign_callback_url("https://shop.example.com/hooks?shop=7", SECRET, ttl=3600)
    query = url.split("?", 1)[1] + "&" + raw(DLR)
    async with receiving() as (http, collector, _):
        assert (await http.get("/hooks?" + query)).status_code == 200
        expired = sign_callback_url("https://shop.example.com/hooks", SECRET, ttl=1, now=1_000_000)
        stale = expired.split("?", 1)[1] + "&" + raw(DLR)
        assert (await http.get("/hooks?" + stale)).status_code == 403
        other = sign_callback_url("https://shop.example.com/hooks", "other", ttl=60).split("?", 1)[1]
        assert (await http.get("/hooks?" + other + "&" + raw(DLR))).status_code == 403
    (event,) = collector.events
    assert event.extra == {"shop": "7"}


@pytest.mark.anyio
async def test_a_header_signing_only_the_platform_parameters_after_a_token_is_accepted() -> None:
    url = sign_callback_url("https://shop.example.com/hooks?shop=7", SECRET, ttl=3600)
    query = url.split("?", 1)[1] + "&" + raw(DLR)
    async with receiving() as (http, collector, _):
        response = await http.get("/?" + query, headers=signed(DLR))
    assert response.status_code == 200
    assert len(collector.events) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("pairs", "reason"),
    [
        ([("message_id", "x"), *DLR[1:]], "not_numeric"),
        ([*DLR[:2], ("datetime", "2024-02-30 00:00:00"), *DLR[3:]], "bad_date"),
        ([("hello", "world")], "unknown_kind"),
        ([*DLR[:3], *DLR[4:]], "unknown_kind"),
    ],
)
async def test_malformed_but_signed_callbacks_get_400_with_the_reason(
    pairs: list[tuple[str, str]], reason: str
) -> None:
    async with receiving() as (http, collector, _):
        response = await http.get("/?" + raw(pairs), headers=signed(pairs))
    assert response.status_code == 400
    assert response.text.startswith(f"reason: {reason}")
    assert collector.events == []


@pytest.mark.anyio
async def test_bad_encoding_and_oversize_and_methods() -> None:
    async with receiving(verify=False) as (http, collector, _):
        bad = await http.get("/?" + raw(DLR) + "&note=%FF%FE")
        assert (bad.status_code, bad.text.split(" ")[1]) == (400, "bad_encoding")
        assert (await http.get("/")).text.startswith("reason: empty")
        huge = await http.get("/?" + raw(DLR) + "&pad=" + "x" * 40_000)
        assert huge.status_code == 414
        post = await http.post("/?" + raw(DLR))
        assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
        head = await http.head("/?" + raw(DLR))
        assert (head.status_code, head.content) == (200, b"")
    assert collector.events == []


@pytest.mark.anyio
async def test_when_on_event_raises_the_answer_is_500_and_the_retry_is_handed_on() -> None:
    async with receiving() as (http, collector, receiver):
        collector.fail = 1
        failed = await http.get("/?" + raw(DLR), headers=signed(DLR))
        assert (failed.status_code, failed.text) == (500, "handler failed")
        retried = await http.get("/?" + raw(DLR), headers=signed(DLR))
        assert (retried.status_code, retried.text) == (200, "ok")
        assert (await http.get("/?" + raw(DLR), headers=signed(DLR))).text == "duplicate"
    assert len(collector.events) == 1
    assert receiver.stats["failed"] == 1


class BrokenStore:
    async def claim(self, key: str, lease: float) -> str:
        raise ConnectionError("redis down")

    async def complete(self, key: str) -> None:
        raise ConnectionError("redis down")

    async def release(self, key: str) -> None:
        raise ConnectionError("redis down")


@pytest.mark.anyio
async def test_a_failing_store_gives_503_so_the_platform_retries() -> None:
    async with receiving(dedup=BrokenStore()) as (http, collector, _):
        assert (await http.get("/?" + raw(DLR), headers=signed(DLR))).status_code == 503
    assert collector.events == []


@pytest.mark.anyio
async def test_a_plain_function_handler_and_verify_false() -> None:
    seen: list[Event] = []
    receiver = CallbackReceiver(seen.append, verify=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://h") as http:
        assert (await http.get("/?" + raw(DLR))).status_code == 200
    assert len(seen) == 1


def test_bad_receiver_configuration_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="api_secret"):
        CallbackReceiver(print)
    with pytest.raises(InvalidRequestError):
        CallbackReceiver(None, api_secret=SECRET)
    with pytest.raises(InvalidRequestError):
        CallbackReceiver("not callable", api_secret=SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_keys"):
        MemoryDedupStore(0)


@pytest.mark.anyio
async def test_the_memory_store_is_bounded_and_forgets_the_oldest() -> None:
    store = MemoryDedupStore(max_keys=3)
    assert [await store.claim(k, 60) for k in "abcd"] == ["new"] * 4
    assert len(store) == 3
    assert await store.claim("a", 60) == "new"  # evicted, so new again
    assert await store.claim("d", 60) == "busy"
    await store.release("d")
    assert await store.claim("d", 60) == "new"
    await store.complete("d")
    await store.release("d")  # a handled key stays handled
    assert await store.claim("d", 60) == "done"


@pytest.mark.anyio
async def test_the_store_bound_caps_memory_under_a_flood_of_distinct_callbacks() -> None:
    store = MemoryDedupStore(max_keys=50)
    async with receiving(verify=False, dedup=store) as (http, collector, _):
        for i in range(120):
            pairs = [("message_id", str(i)), *DLR[1:]]
            assert (await http.get("/?" + raw(pairs))).status_code == 200
    assert len(store) == 50
    assert len(collector.events) == 120


# --- hostile input never gives a 5xx -------------------------------------------------------------

hostile_queries = st.one_of(
    st.binary(max_size=400).map(lambda b: quote(b, safe="=&%+")),
    st.text(st.sampled_from("[]=&%ab.+ "), max_size=300),
    st.integers(0, 6000).map(lambda n: "status" + "%5B%5D" * n + "=1&" + raw(DLR)),
    st.lists(
        st.tuples(
            st.sampled_from(
                [k for k, _ in DLR] + ["response_id", "response", "type", "list_id", "smsapi_token"]
            ),
            st.text(max_size=20),
        ),
        max_size=8,
    ).map(raw),
)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=hostile_queries, signature=st.one_of(st.none(), st.text(max_size=70)), verify=st.booleans())
def test_hostile_callbacks_never_get_a_5xx(
    anyio_backend: str, query: str, signature: str | None, verify: bool
) -> None:
    async def run() -> int:
        async with receiving(verify=verify) as (http, _, _):
            headers: dict[bytes, bytes] = (
                {} if signature is None else {SIGNATURE_HEADER.encode(): signature.encode("utf-8")}
            )
            return (await http.get("/?" + query, headers=headers)).status_code

    status = anyio.run(run, backend=anyio_backend)
    assert status in ((200, 400, 401, 403, 414) if verify else (200, 400, 414))


# --- over a real socket, from the sandbox ---------------------------------------------------------


@pytest.mark.anyio
async def test_the_sandbox_calls_a_real_receiver_over_http_and_repeats_are_dropped() -> None:
    collector = Collector()
    receiver = CallbackReceiver(collector, api_secret=SECRET)
    with serve_app_in_thread(receiver) as url:
        hook = url + "/sms/hooks?shop=7"
        config = SandboxConfig(
            rate_limit=0, accounts=(AccountConfig(dlr_callback=hook, reply_callback=hook),)
        )
        async with sandbox_client(config) as sms:
            sent = await sms.client.sms.send(message="Hi", to=["61400000001", "61400000009"])
            await sms.advance(5)
            sms.inject_reply("61400000001", "Yes please")
            await sms.advance(1)
            deliveries = list(sms.sandbox.callbacks.deliveries)
        # the platform repeats a callback: replay every one, with its signature, over the socket
        async with httpx.AsyncClient() as http:
            for delivery in deliveries:
                again = await http.get(delivery.url, headers={SIGNATURE_HEADER: delivery.signature})
                assert (again.status_code, again.text) == (200, "duplicate")
            forged = await http.get(deliveries[0].url.replace("delivered", "hard-bounce"))
            assert forged.status_code == 401
    assert [d.status for d in deliveries] == ["delivered"] * 3
    kinds = sorted(type(e).__name__ for e in collector.events)
    assert kinds == ["DeliveryReport", "DeliveryReport", "Reply"]
    dlrs = {e.mobile: e.status for e in collector.events if isinstance(e, DeliveryReport)}
    assert dlrs == {"61400000001": "delivered", "61400000009": "hard-bounce"}
    (reply,) = [e for e in collector.events if isinstance(e, Reply)]
    assert (reply.message_id, reply.text, reply.extra["shop"]) == (sent.message_id, "Yes please", "7")


# --- recipes: Starlette / FastAPI mounting, Django and Flask views -----------------------------------


@pytest.mark.anyio
async def test_recipe_mount_in_fastapi_and_starlette() -> None:
    collector = Collector()
    receiver = CallbackReceiver(collector, api_secret=SECRET)
    api = FastAPI()
    api.mount("/sms-hooks", receiver)
    site = Starlette(routes=[Mount("/sms-hooks", app=receiver)])
    for app in (api, site):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as http:
            for path in ("/sms-hooks/dlr", "/sms-hooks/replies/x"):
                response = await http.get(f"{path}?{raw(DLR)}", headers=signed(DLR))
                assert response.status_code == 200
    assert len(collector.events) == 1  # one shared store: the same event through both apps and paths


@pytest.mark.anyio
async def test_recipe_fastapi_route_with_parse_callback_and_verify_signature() -> None:
    got: list[Event] = []
    app = FastAPI()

    @app.get("/dlr")
    async def dlr(request: Request) -> dict[str, str]:
        query: bytes = request.scope["query_string"]  # raw, as received
        if not verify_signature(query, request.headers.get(SIGNATURE_HEADER), SECRET):
            raise HTTPException(status_code=403)
        got.append(parse_callback(query))
        return {"ok": "yes"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as http:
        # a repeated key: a parsed dict would keep one value and lose the order the platform signed
        pairs = [*DLR, ("tag", "a"), ("tag", "b")]
        assert (await http.get("/dlr?" + raw(pairs), headers=signed(pairs))).status_code == 200
        assert (await http.get("/dlr?" + raw(pairs))).status_code == 403
    assert got[0].extra == {"tag": "b"}


def _django_view() -> Callable[..., Any]:
    if not django_settings.configured:
        django_settings.configure(ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=__name__, SECRET_KEY="x" * 50)
        django.setup()

    def sms_callback(request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")  # raw, as received
        if not verify_signature(query, request.headers.get(SIGNATURE_HEADER), SECRET):
            return HttpResponse(status=403)
        try:
            event = parse_callback(query)
        except InvalidCallbackError as exc:
            return HttpResponse(f"reason: {exc.reason}", status=400)
        DJANGO_EVENTS.append(event)
        return HttpResponse("ok")

    return sms_callback


DJANGO_EVENTS: list[Event] = []
urlpatterns: list[Any] = []


def test_recipe_django_view() -> None:
    view = _django_view()
    factory = RequestFactory()
    good = factory.get("/sms?" + raw(DLR), headers=signed(DLR))
    assert view(good).status_code == 200
    forged = factory.get("/sms?" + raw(DLR).replace("delivered", "pending"), headers=signed(DLR))
    assert view(forged).status_code == 403
    bad = [("message_id", "x"), *DLR[1:]]
    assert view(factory.get("/sms?" + raw(bad), headers=signed(bad))).status_code == 400
    (event,) = DJANGO_EVENTS
    assert isinstance(event, DeliveryReport)


def test_recipe_flask_view() -> None:
    app = Flask(__name__)
    got: list[Event] = []

    @app.get("/sms")
    def sms_callback() -> tuple[str, int]:
        query = request.query_string  # raw bytes, as received
        if not verify_signature(query, request.headers.get(SIGNATURE_HEADER), SECRET):
            return "forbidden", 403
        try:
            got.append(parse_callback(query))
        except InvalidCallbackError as exc:
            return f"reason: {exc.reason}", 400
        return "ok", 200

    web = app.test_client()
    assert web.get("/sms?" + raw(DLR), headers=signed(DLR)).status_code == 200
    assert web.get("/sms?" + raw(DLR)).status_code == 403
    bad = [*DLR[:2], ("datetime", "soon"), *DLR[3:]]
    assert web.get("/sms?" + raw(bad), headers=signed(bad)).status_code == 400
    assert len(got) == 1


# --- a repeat while the first delivery is handled; bounded waiting ---------------------------------------


class Gate:
    """An ``on_event`` whose first call waits for ``go`` and then fails."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.go = anyio.Event()
        self.calls = 0
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            await self.go.wait()
            raise RuntimeError("database down")
        self.events.append(event)


@pytest.mark.anyio
async def test_a_retry_during_a_failing_first_delivery_is_not_acknowledged_and_is_handled_after() -> None:
    gate = Gate()
    receiver = CallbackReceiver(gate, api_secret=SECRET)
    answers: list[tuple[int, str]] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://h") as http:

        async def first() -> None:
            response = await http.get("/?" + raw(DLR), headers=signed(DLR))
            answers.append((response.status_code, response.text))

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await gate.entered.wait()
            retry = await http.get("/?" + raw(DLR), headers=signed(DLR))  # the platform's retry
            assert retry.status_code == 409  # not 200: the platform must come back
            assert retry.headers["retry-after"] == "60"
            gate.go.set()
        assert answers == [(500, "handler failed")]
        later = await http.get("/?" + raw(DLR), headers=signed(DLR))  # the next retry
        assert (later.status_code, later.text) == (200, "ok")
        again = await http.get("/?" + raw(DLR), headers=signed(DLR))
        assert (again.status_code, again.text) == (200, "duplicate")
    assert len(gate.events) == 1
    assert receiver.stats["in_progress"] == 1


@pytest.mark.anyio
async def test_a_hanging_handler_is_cut_off_at_the_handler_timeout_and_its_retry_handled() -> None:
    calls = 0

    async def hangs_once(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await anyio.sleep_forever()

    receiver = CallbackReceiver(hangs_once, api_secret=SECRET, handler_timeout=0.2)
    with anyio.fail_after(10):
        assert await receiver.handle(raw(DLR), sign_callback(DLR, SECRET)) == (500, "handler timed out")
        assert await receiver.handle(raw(DLR), sign_callback(DLR, SECRET)) == (200, "ok")
    assert calls == 2


@pytest.mark.anyio
async def test_a_store_that_never_answers_gets_503_within_the_store_timeout() -> None:
    class Silent:
        async def claim(self, key: str, lease: float) -> str:
            await anyio.sleep_forever()
            raise AssertionError

        async def complete(self, key: str) -> None: ...

        async def release(self, key: str) -> None: ...

    receiver = CallbackReceiver(print, api_secret=SECRET, dedup=Silent(), store_timeout=0.2)
    with anyio.fail_after(10):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=receiver), base_url="http://h"
        ) as http:
            response = await http.get("/?" + raw(DLR), headers=signed(DLR))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"


def test_timeouts_and_lease_are_checked() -> None:
    for bad in ({"handler_timeout": 0}, {"store_timeout": float("nan")}, {"claim_lease": True}):
        with pytest.raises(InvalidRequestError):
            CallbackReceiver(print, api_secret=SECRET, **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="claim_lease must be longer"):
        CallbackReceiver(print, api_secret=SECRET, handler_timeout=10, store_timeout=1, claim_lease=12)

    class OldStore:  # the two-method protocol of earlier versions
        async def claim(self, key: str) -> bool:
            return True

        async def release(self, key: str) -> None: ...

    with pytest.raises(InvalidRequestError, match="claim, complete, release"):
        CallbackReceiver(print, api_secret=SECRET, dedup=OldStore())  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_lapsed_claim_is_handled_again() -> None:
    now = [0.0]
    store = MemoryDedupStore(clock=lambda: now[0])
    assert await store.claim("k", 30) == "new"
    now[0] = 29.9
    assert await store.claim("k", 30) == "busy"
    now[0] = 30.0
    assert await store.claim("k", 30) == "new"  # its holder died: the lease lapsed
