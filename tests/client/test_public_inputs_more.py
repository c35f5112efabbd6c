"""Bad input to the public entry points outside the resource services: delivery tracking, reply
streams, bulk sends, ``for_client``, ``callback_url``, ``analyze`` and the webhook helpers.

Like tests/client/test_public_inputs.py: arbitrary arguments are either refused with a typed error that is
a ``ValueError`` (``InvalidRequestError``; ``InvalidCallbackError`` for a callback's content) before
anything is sent, or they work. Each gap these tests found is pinned with ``@example``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import anyio
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import encoded, sample_query
from test_public_inputs import ABOUT_STATE, HOSTILE

import smsapi_async
from smsapi_async import AsyncSmsClient, InvalidRequestError, SmsApiError
from smsapi_async.testing import sandbox_client
from smsapi_async.tracking import DeliveryTimeoutError, ReplyCursor
from smsapi_async.webhooks import (
    CallbackReceiver,
    InvalidCallbackError,
    parse_callback,
    sign_callback,
    verify_signature,
)

HUGE = 10**5000
"""An int whose repr Python refuses (over 4300 digits) and that no float holds."""

ARGUMENT = st.one_of(
    HOSTILE,
    st.just(HUGE),
    st.just(-(10**400)),
    st.timedeltas(),
    st.datetimes(timezones=st.timezones()),
    st.just(datetime(2030, 1, 1)),  # naive
    st.lists(st.tuples(st.text(max_size=3), st.text(max_size=3)), max_size=2),
    st.just([("a", "\udce9")]),
    st.just(float("inf")),
    st.just(float("nan")),
    st.just(b"\xff\xfe"),
    st.just("ftp://example.com/hook"),
    st.just("https://example.com/hook?a=1"),
)

TYPED = (InvalidRequestError, InvalidCallbackError)

CLIENT = AsyncSmsClient("k", "s")

ENTRY_POINTS: dict[str, Callable[[Any, Any], object]] = {
    "analyze": lambda a, b: smsapi_async.analyze(a, price_per_part=b),
    "callback_url": lambda a, b: CLIENT.callback_url(a, ttl=b),
    "callback_url base": lambda a, b: CLIENT.callback_url(a),
    "for_client": lambda a, b: CLIENT.resellers.for_client(a),
    "for_client pair": lambda a, b: CLIENT.resellers.for_client((a, b)),
    "parse_callback": lambda a, b: parse_callback(a),
    "parse_callback kind": lambda a, b: parse_callback("status=delivered", kind=a),
    "parse_callback caps": lambda a, b: parse_callback("status=delivered", max_bytes=a, max_params=b),
    "verify_signature": lambda a, b: verify_signature(a, b, "secret"),
    "verify_signature secret": lambda a, b: verify_signature("a=1", a, b),
    "sign_callback": lambda a, b: sign_callback(a, "secret"),
    "sign_callback secret": lambda a, b: sign_callback({"a": "1"}, a),
    "receiver secret": lambda a, b: CallbackReceiver(print, api_secret=a, verify=b),
    "receiver on_event": lambda a, b: CallbackReceiver(a, api_secret="s", max_query_bytes=b),
    "receiver caps": lambda a, b: CallbackReceiver(print, api_secret="s", max_params=a, dedup=b),
    "receiver client": lambda a, b: CallbackReceiver(print, client=a, verify=False),
    "reply_stream": lambda a, b: CLIENT.sms.reply_stream(since=a, poll_interval=b),
    "reply_stream cursor": lambda a, b: CLIENT.sms.reply_stream(cursor=a, overlap=b),
    "reply_stream fallback": lambda a, b: CLIENT.sms.reply_stream(fallback_interval=a),
    "reply cursor json": lambda a, b: ReplyCursor.from_json(a),
    "send_bulk sizes": lambda a, b: CLIENT.sms.send_bulk([], batch_size=a, concurrency=b),
    "send_bulk pending": lambda a, b: CLIENT.sms.send_bulk([], max_pending=a, max_parts=b),
    "send_bulk reconcile": lambda a, b: CLIENT.sms.send_bulk([], optouts=a, reconcile=b),
    "send_bulk delay": lambda a, b: CLIENT.sms.send_bulk([], reconcile_delay=a, total=b),
    "send_bulk flags": lambda a, b: CLIENT.sms.send_bulk([], ignore_unknown_keys=a, on_progress=b),
    "send_bulk input": lambda a, b: CLIENT.sms.send_bulk(a, journal=b),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry=st.sampled_from(sorted(ENTRY_POINTS)), a=ARGUMENT, b=ARGUMENT)
# each example below raised something else before (OverflowError, TypeError, AttributeError,
# UnicodeDecodeError, decimal.InvalidOperation, or ValueError from a repr of a huge int)
@example(entry="analyze", a="hi", b=HUGE)
@example(entry="analyze", a=b"secret text", b=None)
@example(entry="callback_url", a="https://example.com/hook", b=HUGE)
@example(entry="callback_url base", a=b"\xff\xfe", b=None)
@example(entry="callback_url base", a=5, b=None)
@example(entry="callback_url base", a=["https://example.com"], b=None)
@example(entry="callback_url base", a="https://example.com/\udce9", b=None)
@example(entry="parse_callback", a=None, b=None)
@example(entry="parse_callback", a=5, b=None)
@example(entry="parse_callback kind", a=["dlr"], b=None)
@example(entry="parse_callback kind", a=Decimal("sNaN"), b=None)
@example(entry="parse_callback caps", a="big", b=None)
@example(entry="parse_callback caps", a=Decimal("sNaN"), b=1)
@example(entry="verify_signature", a=5, b="ab")
@example(entry="verify_signature", a=["k"], b="ab")
@example(entry="sign_callback", a=None, b=None)
@example(entry="sign_callback", a=[""], b=None)
@example(entry="sign_callback", a=[("a", 1)], b=None)
@example(entry="receiver client", a="not a client", b=None)
@example(entry="receiver caps", a=None, b=None)
@example(entry="receiver caps", a=10, b="not a store")
@example(entry="reply_stream", a=None, b=HUGE)
@example(entry="reply_stream fallback", a=HUGE, b=None)
@example(entry="reply_stream", a=datetime(2030, 1, 1), b=1.0)
@example(entry="reply cursor json", a="[" * 100_000, b=None)
@example(entry="send_bulk sizes", a=HUGE, b=None)
@example(entry="send_bulk sizes", a=10, b=10**9)
@example(entry="send_bulk delay", a=HUGE, b=None)
@example(entry="send_bulk delay", a=True, b=None)
@example(entry="send_bulk delay", a=float("inf"), b=None)
@example(entry="send_bulk delay", a=1.0, b=-1)
@example(entry="send_bulk reconcile", a=None, b="yes")
@example(entry="send_bulk reconcile", a="61400000001", b=False)
@example(entry="send_bulk flags", a=1, b=None)
@example(entry="send_bulk flags", a=False, b="not callable")
@example(entry="send_bulk input", a=[], b=5)
def test_entry_points_refuse_bad_arguments_with_a_typed_error(entry: str, a: Any, b: Any) -> None:
    if entry == "verify_signature" and isinstance(a, dict):
        return  # a TypeError, documented: a dict loses the order the signature depends on
    with contextlib.suppress(*TYPED):  # both are ValueErrors (test_typed_errors_are_value_errors)
        ENTRY_POINTS[entry](a, b)


def test_typed_errors_are_value_errors() -> None:
    assert all(issubclass(error, ValueError) for error in TYPED)


def test_verify_signature_refuses_a_mapping_with_a_type_error_saying_why() -> None:
    with pytest.raises(TypeError, match="raw query"):
        verify_signature({"a": "1"}, "ab", "secret")  # type: ignore[arg-type]


# --- calls that talk to the sandbox ----------------------------------------------------------------

SECONDS = st.one_of(
    st.floats(min_value=0.01, max_value=0.05),
    st.sampled_from([0, -1, float("nan"), float("inf"), True, HUGE, "5", None, timedelta(seconds=1)]),
)


async def tracked(kwargs: dict[str, Any]) -> None:
    async with sandbox_client() as harness:
        sent = await harness.client.sms.send(message="Hi", to="61400000001")
        before = len(harness.sandbox.requests)
        try:
            with anyio.move_on_after(0.3):
                await harness.client.sms.wait_for_delivery(sent.message_id, **kwargs)
        except InvalidRequestError:
            assert len(harness.sandbox.requests) == before, (
                f"wait_for_delivery({kwargs!r}) refused after polling"
            )
        except DeliveryTimeoutError:
            pass


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    message_id=st.one_of(st.just(None), HOSTILE, st.just(HUGE)),
    timeout=SECONDS,
    poll_interval=SECONDS,
    max_poll_interval=SECONDS,
)
@example(message_id=None, timeout=0.05, poll_interval=HUGE, max_poll_interval=1.0)
def test_wait_for_delivery_refuses_bad_arguments_before_polling(
    backend: str, message_id: Any, timeout: Any, poll_interval: Any, max_poll_interval: Any
) -> None:
    kwargs = {"timeout": timeout, "poll_interval": poll_interval, "max_poll_interval": max_poll_interval}
    if message_id is not None:
        kwargs = {**kwargs, "message_id": message_id}

    async def main() -> None:
        if "message_id" not in kwargs:
            await tracked(kwargs)
            return
        async with sandbox_client() as harness:
            try:
                with anyio.move_on_after(0.3):
                    await harness.client.sms.wait_for_delivery(**kwargs)
            except InvalidRequestError:
                assert not harness.sandbox.requests
            except SmsApiError:
                pass  # an id the sandbox does not know, or a timeout

    anyio.run(main, backend=backend)


BULK_FIELDS = ("message", "to", "from_", "countrycode", "send_at", "validity", "dlr_callback", "from_shared")
BULK_GOOD: dict[str, Any] = {"message": "Hello", "to": "61400000001", "from_": "Shop"}


@st.composite
def bulk_items(draw: st.DrawFn) -> list[Any]:
    items: list[Any] = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 9)) == 0:
            items.append(draw(ARGUMENT))  # not a mapping at all
            continue
        item = dict(BULK_GOOD)
        for key in draw(st.lists(st.sampled_from(BULK_FIELDS), max_size=3, unique=True)):
            item[key] = draw(ARGUMENT)
        items.append(item)
    return items


async def bulk(items: list[Any]) -> None:
    async with sandbox_client() as harness:
        async with harness.client.sms.send_bulk(items) as results:
            outcomes = [result async for result in results]
        for result in outcomes:
            assert result.status in ("sent", "rejected", "failed"), result
            if result.status == "failed":  # the sandbox refused what was sent: only account state may
                assert any(reason in str(result.error) for reason in ABOUT_STATE), (items, result)
        if all(result.status == "rejected" for result in outcomes):
            assert not [r for r in harness.sandbox.requests if "send-sms" in str(r)], items


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=bulk_items())
@example(items=[{**BULK_GOOD, "send_at": datetime(2030, 1, 1)}])
@example(items=[{**BULK_GOOD, "validity": HUGE}])
@example(items=[{**BULK_GOOD, "dlr_callback": "javascript:alert(1)"}])
@example(items=[{**BULK_GOOD, "message": "\udce9"}])
@example(items=[{**BULK_GOOD, "countrycode": "\ud800"}])  # once broke the journal after a grant
def test_send_bulk_rejects_bad_messages_before_sending_them(backend: str, items: list[Any]) -> None:
    anyio.run(bulk, items, backend=backend)


# --- what reprs show, and analyze() under hostile text -----------------------------------------------

SECRET = "Your code is 918273"


def test_a_bulk_message_shows_its_text_only_as_a_length() -> None:
    message = smsapi_async.OutgoingMessage(message=SECRET, to="61400000001")
    assert SECRET not in repr(message)
    assert f"<{len(SECRET)} characters>" in repr(message)


KINDS = {"dlr": "dlr", "reply": "reply", "link-hits": "link-hit", "list-action": "list-action"}
TEXT_KEYS = ("message", "response", "original_message", "text", "field_1")


@pytest.mark.parametrize("name", sorted(KINDS))
def test_webhook_events_never_show_message_text(name: str) -> None:
    pairs = parse_qsl(encoded(sample_query(f"callback-{name}.txt")), keep_blank_values=True)
    pairs = [(key, SECRET if key in TEXT_KEYS else value) for key, value in pairs]
    pairs += [(key, SECRET) for key in TEXT_KEYS if key not in dict(pairs)]
    event = parse_callback(pairs, kind=KINDS[name])  # type: ignore[arg-type]
    assert SECRET not in repr(event)
    assert SECRET not in str(event)


def test_analyze_reads_a_huge_text_in_bounded_time_and_refuses_lone_surrogates() -> None:
    started = time.perf_counter()
    analysis = smsapi_async.analyze("a\u2019[firstname]" * 200_000, price_per_part="0.1")
    assert analysis.characters == 2_600_000
    assert time.perf_counter() - started < 30  # linear: well under a second here; generous under load
    with pytest.raises(InvalidRequestError, match="surrogate"):
        smsapi_async.analyze("x" * 1_000_000 + "\udce9")
    with pytest.raises(InvalidRequestError) as caught:
        smsapi_async.analyze(SECRET.encode())  # type: ignore[arg-type]
    assert "918273" not in str(caught.value)
    with pytest.raises(InvalidRequestError):
        smsapi_async.analyze("hi", price_per_part="9" * 100_000)


def test_a_naive_since_is_refused_for_reply_streams() -> None:
    with pytest.raises(InvalidRequestError, match="timezone-aware"):
        CLIENT.sms.reply_stream(since=datetime(2030, 1, 1))
    stream = CLIENT.sms.reply_stream(since=datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert stream.cursor.since == datetime(2030, 1, 1, tzinfo=timezone.utc)
