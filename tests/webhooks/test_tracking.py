"""Delivery tracking and the reply stream: callbacks and polling merged, nothing lost, nothing twice."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsapi_async import AsyncSmsClient, InvalidRequestError, RateLimiter
from smsapi_async._limiter import Reservation
from smsapi_async.sandbox import SandboxConfig
from smsapi_async.testing import SandboxHarness, sandbox_client
from smsapi_async.tracking import (
    DeliveryTimeoutError,
    DeliveryTracker,
    ReplyCursor,
    ReplyStream,
    supersedes,
)
from smsapi_async.webhooks import (
    SIGNATURE_HEADER,
    CallbackHub,
    CallbackReceiver,
    DeliveryReport,
    Reply,
    sign_callback,
)

SECRET = "sandbox-secret"
FAST = {"poll_interval": 0.05, "max_poll_interval": 0.1}


def at(seconds: int) -> datetime:
    return datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)


def report(status: str, when: int | None, mobile: str = "61400000001") -> DeliveryReport:
    return DeliveryReport(
        message_id=7, mobile=mobile, status=status, status_at=None if when is None else at(when)
    )


# --- the state machine ---------------------------------------------------------------------------------


def test_a_late_or_repeated_pending_never_undoes_a_final_state() -> None:
    tracker = DeliveryTracker(7)
    assert tracker.apply(report("pending", 1))
    assert tracker.apply(report("delivered", 5))
    assert not tracker.apply(report("pending", 9))  # later dated, still not final: ignored
    assert not tracker.apply(report("pending", None))  # from polling
    assert not tracker.apply(report("delivered", 5))  # a repeat
    assert not tracker.apply(report("hard-bounce", 3))  # an older final
    assert tracker.result().recipients["61400000001"].status == "delivered"


def test_a_pending_dated_in_the_future_never_holds_back_a_final_state() -> None:
    # a wrong clock on one callback: the final state that follows is still taken, and completes
    tracker = DeliveryTracker(7)
    tracker.expect(["61400000001"])
    assert tracker.apply(report("pending", 10**9)) is False  # same status, only dated
    assert tracker.apply(report("delivered", 5)) is True
    assert tracker.complete


def test_a_callback_time_refines_a_polled_final_state_and_later_finals_win() -> None:
    assert supersedes(report("delivered", None), report("delivered", 5))
    assert supersedes(report("soft-bounce", 5), report("delivered", 6))
    assert not supersedes(report("delivered", 5), report("soft-bounce", None))
    assert supersedes(report("pending", 5), report("soft-bounce", None))
    assert not supersedes(report("pending", 5), report("pending", 4))
    assert supersedes(report("pending", None), report("queued", 4))


def test_reports_of_other_messages_are_ignored() -> None:
    tracker = DeliveryTracker(8)
    assert not tracker.apply(report("delivered", 1))


statuses = st.sampled_from(["pending", "delivered", "soft-bounce", "hard-bounce", "accepted"])
reports = st.lists(
    st.tuples(statuses, st.one_of(st.none(), st.integers(0, 50))), min_size=1, max_size=12
).map(lambda items: [report(s, t) for s, t in items])


@settings(max_examples=400, deadline=None)
@given(reports, st.randoms())
def test_any_order_of_reports_never_regresses_and_ends_on_the_latest_final(
    history: list[DeliveryReport], rng: Any
) -> None:
    rng.shuffle(history)
    tracker = DeliveryTracker(7)
    was_final = False
    for item in history:
        tracker.apply(item)
        state = tracker.result().recipients["61400000001"]
        assert state.is_final or not was_final
        was_final = state.is_final
    final_times = [r.status_at for r in history if r.is_final and r.status_at is not None]
    end = tracker.result().recipients["61400000001"]
    if final_times:
        assert end.status_at == max(final_times)
    elif any(r.is_final for r in history):
        assert end.is_final


# --- the hub ------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_hub_replays_recent_events_and_reports_overflow_as_lost() -> None:
    hub = CallbackHub(history=3)
    early = report("delivered", 1)
    hub.publish(early)
    subscription = hub.subscribe()
    assert subscription.take() == [early]
    for i in range(5):
        hub.publish(report("pending", i))
    assert len(subscription.take()) == 3
    assert subscription.lost  # two fell out of the history: the waiter must poll


@pytest.mark.anyio
async def test_a_publish_from_another_thread_is_seen_within_the_tick() -> None:
    hub = CallbackHub()
    subscription = hub.subscribe()
    thread = threading.Thread(target=hub.publish, args=(report("delivered", 1),))
    with anyio.fail_after(5):
        thread.start()
        while not subscription.take():
            await subscription.wait(10)
    thread.join()


# --- wait_for_delivery ---------------------------------------------------------------------------------


def sandbox(**config: Any) -> Any:
    config.setdefault("rate_limit", 0)
    return sandbox_client(SandboxConfig(**config))


@pytest.mark.anyio
async def test_wait_for_delivery_by_polling_alone() -> None:
    async with sandbox() as sms:
        sent = await sms.client.sms.send(message="Hi", to=["61400000001", "61400000009", "61400000018"])
        updates: list[tuple[str, str]] = []
        async with anyio.create_task_group() as tg:
            results: list[Any] = []

            async def wait() -> None:
                results.append(
                    await sms.client.sms.wait_for_delivery(
                        sent.message_id,
                        timeout=20,
                        on_update=lambda r: updates.append((r.mobile, r.status)),
                        **FAST,
                    )
                )

            tg.start_soon(wait)
            await anyio.sleep(0.2)  # it polls and sees three pending recipients
            await sms.advance(5)  # receipts arrive; no receiver, so only polling can tell
    (result,) = results
    assert result.complete
    assert result.delivered == ["61400000001"]
    assert sorted(result.failed) == ["61400000009", "61400000018"]
    assert {r.status for r in result.recipients.values()} == {"delivered", "hard-bounce", "soft-bounce"}
    finals = [u for u in updates if u[1] != "pending"]
    assert sorted(finals) == sorted({(m, r.status) for m, r in result.recipients.items()})  # each once


@pytest.mark.anyio
async def test_wait_for_delivery_times_out_with_what_it_knows() -> None:
    async with sandbox() as sms:
        sent = await sms.client.sms.send(message="Hi", to=["61400000001", "61400001000"])
        await sms.advance(5)
        with pytest.raises(DeliveryTimeoutError) as info:
            await sms.client.sms.wait_for_delivery(sent.message_id, timeout=0.3, **FAST)
    assert isinstance(info.value, TimeoutError)
    assert info.value.result.pending == ["61400001000"]
    assert info.value.result.delivered == ["61400000001"]


class CountingLimiter(RateLimiter):
    """The client's limiter, counting the permissions it gives."""

    granted = 0

    async def acquire(self) -> None:
        await super().acquire()
        self.granted += 1

    async def reserve(self) -> Reservation:
        reservation = await super().reserve()
        self.granted += 1
        return reservation


@pytest.mark.anyio
async def test_every_poll_goes_through_the_clients_limiter_and_polls_back_off() -> None:
    limiter = CountingLimiter(50)
    async with sandbox_client(limiter=limiter) as sms:
        sent = await sms.client.sms.send(message="Hi", to=["61400001000"])  # stays pending
        with pytest.raises(DeliveryTimeoutError):
            await sms.client.sms.wait_for_delivery(
                sent.message_id, timeout=1, poll_interval=0.05, max_poll_interval=0.2
            )
        calls = [r["call"] for r in sms.sandbox.requests]
    polls = [c for c in calls if c == "get-sms-sent"]
    assert limiter.granted == len(calls)  # the send and every poll waited for the limiter
    assert 2 <= len(polls) <= 9  # 0, 0.05, 0.15, 0.35, 0.55, 0.75, 0.95 s: doubling up to 0.2 s


@pytest.mark.anyio
async def test_a_large_message_costs_one_call_per_check_until_its_counters_move() -> None:
    numbers = [f"6140000{n:04d}" for n in range(1, 251)]  # three pages of recipients
    async with sandbox() as sms:
        sent = await sms.client.sms.send(message="Hi", to=numbers)
        results: list[Any] = []

        async def wait() -> None:
            results.append(await sms.client.sms.wait_for_delivery(sent.message_id, timeout=20, **FAST))

        def made() -> list[str]:
            return [r["call"] for r in sms.sandbox.requests]

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            # nothing is delivered yet, so the counters stay put: a walk, four checks, a walk, four
            # checks, ... Read the calls at the fifth check, after the second walk and four polls
            # (at least 0.4 s) before the third: never in the middle of a walk, however busy the
            # machine (a fixed sleep could end there)
            with anyio.fail_after(30):
                while made().count("get-sms-stats") < 5:  # noqa: ASYNC110 (the sandbox's log)
                    await anyio.sleep(0.01)
            calls = made()
            await sms.advance(5)  # now they move, and the next check walks the pages
    checks, pages = calls.count("get-sms-stats"), calls.count("get-sms-sent")
    assert checks >= 2
    assert pages % 3 == 0
    assert pages // 3 <= 1 + (checks + pages // 3) // 5  # a full walk first, then every fifth poll
    (done,) = results
    assert done.complete
    assert len(done.recipients) == 250


@pytest.mark.anyio
@pytest.mark.parametrize(
    "options",
    [{"timeout": 0}, {"timeout": -1}, {"poll_interval": float("nan")}, {"fallback_interval": True}],
)
async def test_bad_waiting_arguments_are_refused_before_any_call(options: dict[str, Any]) -> None:
    async with sandbox() as sms:
        with pytest.raises(InvalidRequestError):
            await sms.client.sms.wait_for_delivery(1, **options)
        with pytest.raises(InvalidRequestError):
            await sms.client.sms.wait_for_delivery(0)
        assert len(sms.sandbox.requests) == 0


@asynccontextmanager
async def wired(sms: SandboxHarness) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process receiver wired to the client (the platform's calls simulated with httpx)."""
    receiver = CallbackReceiver(client=sms.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://h") as http:
        yield http


async def deliver(http: httpx.AsyncClient, pairs: list[tuple[str, str]]) -> int:
    query = urlencode(pairs, quote_via=quote)
    return (
        await http.get("/?" + query, headers={SIGNATURE_HEADER: sign_callback(pairs, SECRET)})
    ).status_code


def dlr(message_id: int, mobile: str, status: str, when: str) -> list[tuple[str, str]]:
    return [("message_id", str(message_id)), ("mobile", mobile), ("datetime", when), ("status", status)]


@pytest.mark.anyio
async def test_with_a_receiver_callbacks_decide_and_late_pendings_change_nothing() -> None:
    async with sandbox() as sms, wired(sms) as http:
        sent = await sms.client.sms.send(message="Hi", to=["61400001000"])  # never gets a receipt
        updates: list[str] = []
        results: list[Any] = []

        async def wait() -> None:
            results.append(
                await sms.client.sms.wait_for_delivery(
                    sent.message_id,
                    timeout=10,
                    fallback_interval=30,
                    on_update=lambda r: updates.append(r.status),
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.1)
            mid = sent.message_id
            assert await deliver(http, dlr(mid, "61400001000", "delivered", "2024-01-01 00:00:09")) == 200
            assert await deliver(http, dlr(mid, "61400001000", "pending", "2024-01-01 00:00:10")) == 200
    (result,) = results
    assert result.recipients["61400001000"].status == "delivered"  # the sandbox still says pending
    # "pending" first if the first poll came before the callbacks; never after "delivered"
    assert updates in (["pending", "delivered"], ["delivered"])


# --- reply_stream ---------------------------------------------------------------------------------------


def virtual_now(sms: SandboxHarness) -> datetime:
    return datetime.fromtimestamp(sms.sandbox.clock.now(), timezone.utc)


async def take(stream: ReplyStream, count: int, seconds: float = 10) -> list[Reply]:
    got: list[Reply] = []
    with anyio.fail_after(seconds):
        async for reply in stream:
            got.append(reply)
            if len(got) == count:
                break
    return got


@pytest.mark.anyio
async def test_reply_stream_by_polling_yields_each_reply_once_and_resumes_from_a_cursor() -> None:
    async with sandbox() as sms:
        await sms.client.sms.send(message="Hi", to=["61400000001", "61400000002"])
        start = virtual_now(sms)
        await sms.advance(1)
        sms.inject_reply("61400000001", "one")
        stream = sms.client.sms.reply_stream(since=start, poll_interval=0.05)
        first = await take(stream, 1)
        await sms.advance(1)
        sms.inject_reply("61400000002", "two")
        second = await take(stream, 1)
        stored = stream.cursor.to_json()
        await stream.aclose()
        await sms.advance(1)
        sms.inject_reply("61400000001", "three")
        resumed = sms.client.sms.reply_stream(cursor=ReplyCursor.from_json(stored), poll_interval=0.05)
        third = await take(resumed, 1)
        with anyio.move_on_after(0.3):  # nothing else comes: no repeats of one and two
            extra = await take(resumed, 1)
            pytest.fail(f"repeated: {extra}")
    assert [r.text for r in first + second + third] == ["one", "two", "three"]
    assert len({r.response_id for r in first + second + third}) == 3


@pytest.mark.anyio
async def test_reply_stream_skips_replies_older_than_since() -> None:
    async with sandbox() as sms:
        await sms.client.sms.send(message="Hi", to=["61400000001"])
        sms.inject_reply("61400000001", "old")
        await sms.advance(10)
        stream = sms.client.sms.reply_stream(since=virtual_now(sms), poll_interval=0.05)
        await sms.advance(1)
        sms.inject_reply("61400000001", "new")
        assert [r.text for r in await take(stream, 1)] == ["new"]


@pytest.mark.anyio
async def test_reply_stream_merges_callbacks_and_polling_by_response_id() -> None:
    async with sandbox() as sms, wired(sms) as http:
        await sms.client.sms.send(message="Hi", to=["61400000001"])
        start = virtual_now(sms)
        await sms.advance(1)
        response = sms.inject_reply("61400000001", "hello")
        stream = sms.client.sms.reply_stream(since=start, poll_interval=0.05, fallback_interval=0.05)
        pairs = [
            ("message_id", str(response.message_id)),
            ("response_id", str(response.id)),
            ("mobile", "61400000001"),
            ("response", "hello"),
            ("datetime_entry", virtual_now(sms).strftime("%Y-%m-%d %H:%M:%S")),
        ]
        assert await deliver(http, pairs) == 200
        got = await take(stream, 1)
        with anyio.move_on_after(0.4):  # polling sees the same reply: not yielded again
            extra = await take(stream, 1)
            pytest.fail(f"repeated: {extra}")
    assert [r.response_id for r in got] == [response.id]


def test_reply_stream_arguments_and_cursor_text_are_checked() -> None:
    with pytest.raises(InvalidRequestError):
        ReplyCursor.from_json("{}")
    with pytest.raises(InvalidRequestError):
        ReplyCursor.from_json(b"\xff")
    cursor = ReplyCursor(at(0), {5: at(0).timestamp()})
    assert ReplyCursor.from_json(cursor.to_json()) == cursor


@pytest.mark.anyio
async def test_reply_stream_refuses_bad_arguments() -> None:
    async with sandbox() as sms:
        with pytest.raises(InvalidRequestError):
            sms.client.sms.reply_stream(since=datetime(2024, 1, 1))  # naive
        with pytest.raises(InvalidRequestError):
            sms.client.sms.reply_stream(since=at(0), cursor=ReplyCursor(at(0)))
        with pytest.raises(InvalidRequestError):
            sms.client.sms.reply_stream(overlap=0)


class RepliesServer:
    """``get-user-sms-responses`` over ``httpx.MockTransport``: rows at or after ``start``, as the API
    filters them, with the dates the test gives (a server whose clock or time zone is wrong)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, datetime]] = []
        self.starts: list[datetime] = []

    def add(self, response_id: int, when: datetime) -> None:
        self.rows.append((response_id, when))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        start = datetime.fromisoformat(form["start"]).replace(tzinfo=timezone.utc)
        self.starts.append(start)
        rows = [
            {
                "id": rid,
                "message_id": 1,
                "list_id": 0,
                "received_at": when.strftime("%Y-%m-%d %H:%M:%S"),
                "first_name": None,
                "last_name": None,
                "msisdn": 61400000001,
                "response": f"reply {rid}",
                "longcode": 61400000100,
            }
            for rid, when in self.rows
            if when >= start
        ]
        body = {
            "page": {"count": 1, "number": 1},
            "total": len(rows),
            "responses": rows,
            "error": {"code": "SUCCESS", "description": "OK"},
        }
        return httpx.Response(200, json=body)


@pytest.mark.anyio
@pytest.mark.parametrize("ahead", [timedelta(days=365 * 70), timedelta(hours=10)])
async def test_a_reply_dated_in_the_future_never_hides_the_replies_after_it(ahead: timedelta) -> None:
    server = RepliesServer()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    server.add(1, now - timedelta(seconds=5))
    server.add(2, now + ahead)  # the platform's clock (or one row's time zone) is wrong
    async with AsyncSmsClient("k", "s", transport=httpx.MockTransport(server), rate_limit=None) as client:
        stream = client.sms.reply_stream(since=now - timedelta(minutes=1), poll_interval=0.02)
        with anyio.fail_after(10):
            assert [r.response_id for r in await take(stream, 2)] == [1, 2]
            server.add(3, datetime.now(timezone.utc).replace(microsecond=0))  # a correct, later reply
            assert [r.response_id for r in await take(stream, 1)] == [3]
        # the saved cursor stays usable: resumed, it yields what comes next and nothing twice
        cursor = ReplyCursor.from_json(stream.cursor.to_json())
        assert cursor.since <= datetime.now(timezone.utc)
        await stream.aclose()
        server.add(4, datetime.now(timezone.utc).replace(microsecond=0))
        resumed = client.sms.reply_stream(cursor=cursor, poll_interval=0.02)
        with anyio.fail_after(10):
            assert [r.response_id for r in await take(resumed, 1)] == [4]
        with anyio.move_on_after(0.3):
            extra = await take(resumed, 1)
            pytest.fail(f"repeated: {extra}")
        await resumed.aclose()


@pytest.mark.anyio
async def test_a_cursor_saved_in_the_future_is_brought_back_to_now() -> None:
    server = RepliesServer()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    server.add(7, now)
    future = ReplyCursor(datetime(2099, 1, 1, tzinfo=timezone.utc), {})  # saved by an older version
    async with AsyncSmsClient("k", "s", transport=httpx.MockTransport(server), rate_limit=None) as client:
        stream = client.sms.reply_stream(cursor=future, poll_interval=0.02)
        with anyio.fail_after(10):
            assert [r.response_id for r in await take(stream, 1)] == [7]
        await stream.aclose()
