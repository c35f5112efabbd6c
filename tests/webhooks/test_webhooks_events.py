"""Callback events: every documented sample parses, the sandbox's callbacks parse, bad input is typed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import EXAMPLES, Recorder, encoded, sample_query, utc

from smsapi_async import Recipient, SmsApiError
from smsapi_async import Reply as PolledReply
from smsapi_async.models.delivery import DeliveryUpdate, InboundMessage
from smsapi_async.testing import sandbox_client
from smsapi_async.webhooks import (
    REASONS,
    DeliveryReport,
    InvalidCallbackError,
    LinkHit,
    ListAction,
    Reply,
    parse_callback,
)

SAMPLES = sorted((EXAMPLES / "callbacks").iterdir())
DLR = "message_id=1&mobile=61400000001&datetime=2024-01-01 00:00:00&status=delivered"
TAIL = "&mobile=6140&datetime=2024-01-01 00:00:00&status=delivered"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("form", [str, encoded, lambda q: encoded(q).encode(), lambda q: "?" + encoded(q)])
def test_every_documented_sample_parses(path: Any, form: Callable[[str], Any]) -> None:
    query = path.read_text(encoding="utf-8").split("?", 1)[1].rstrip("\n")
    event = parse_callback(form(query))
    expected = {
        "callback-dlr.txt": DeliveryReport,
        "callback-reply.txt": Reply,
        "callback-link-hits.txt": LinkHit,
        "callback-list-action.txt": ListAction,
    }[path.name]
    assert type(event) is expected


def test_dlr_sample_fields() -> None:
    event = parse_callback(sample_query("callback-dlr.txt"))
    assert event == DeliveryReport(
        message_id=331694668,
        mobile="61400000001",
        status="delivered",
        status_at=utc(2020, 5, 16, 12, 10),
        user_id=123456,
    )
    assert event.is_final
    assert not event.is_failure
    assert event.extra == {"myparameter": "myvalue"}  # the URL's own parameter is kept


def test_reply_sample_fields_survive_the_literal_double_ampersand() -> None:
    event = parse_callback(sample_query("callback-reply.txt"))
    assert isinstance(event, Reply)
    assert (event.message_id, event.response_id, event.mobile, event.longcode) == (
        331695745,
        35566670,
        "61400000001",
        "61429997672",
    )
    assert event.text == "This is my reply"
    assert event.received_at == utc(2020, 5, 16, 12, 10)
    assert event.is_optout is False
    assert event.user_id == 54911


def test_link_hit_sample_keeps_line_breaks_and_the_undocumented_rate() -> None:
    event = parse_callback(encoded(sample_query("callback-link-hits.txt")))
    assert isinstance(event, LinkHit)
    assert event.message == "This is a link hit callback test\n TapTh.is/clkVMt8z \nUnsubRep.ly/3hHm1u8u"
    assert (event.link_hits, event.list_id, event.longcode) == (1, 3201749, "TRANSMITSMS")
    assert (event.first_name, event.last_name) == ("Brad", "Citizen")
    assert event.hit_at == utc(2020, 5, 16, 13, 23, 46)
    assert event.extra == {"rate": "10"}


def test_list_action_sample_has_custom_fields_as_a_mapping() -> None:
    event = parse_callback(encoded(sample_query("callback-list-action.txt")))
    assert isinstance(event, ListAction)
    assert event.type == "delete"
    assert not event.is_add
    assert event.fields == {"Carrier": "Telstra", "Email": "jane.citizen@example.com", "Handset": "iPhone 7"}
    assert (event.list_id, event.mobile, event.first_name) == (4026600, "61400000000", "Jane")
    assert event.changed_at == utc(2020, 5, 16, 13, 13, 20)


def test_a_mapping_and_ordered_pairs_parse_like_the_query_string() -> None:
    query = encoded(sample_query("callback-dlr.txt"))
    from_pairs = parse_callback(list(httpx.QueryParams(query).multi_items()))
    from_mapping = parse_callback(dict(httpx.QueryParams(query)))
    assert from_pairs == from_mapping == parse_callback(query)


def test_unknown_statuses_are_kept_and_are_not_final() -> None:
    event = parse_callback("message_id=1&mobile=61400000001&datetime=2024-01-01 00:00:00&status=Expired-X")
    assert isinstance(event, DeliveryReport)
    assert event.status == "Expired-X"
    assert not event.is_final
    assert not event.is_failure


@pytest.mark.parametrize(
    ("status", "final", "failure"),
    [
        ("delivered", True, False),
        ("pending", False, False),
        ("soft-bounce", True, True),
        ("hard-bounce", True, True),
        ("HARD-BOUNCE", True, True),
    ],
)
def test_final_and_failure_statuses(status: str, final: bool, failure: bool) -> None:
    event = parse_callback(f"message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&status={status}")
    assert isinstance(event, DeliveryReport)
    assert (event.is_final, event.is_failure) == (final, failure)


def test_signed_url_parameters_are_dropped_from_extra() -> None:
    event = parse_callback(
        "order=7&smsapi_expires=99&smsapi_token=ab&message_id=1&mobile=6140&datetime=2024-01-01 00:00:00"
        "&status=delivered"
    )
    assert event.extra == {"order": "7"}


def test_kind_can_be_forced_when_the_url_tells_it() -> None:
    # a list whose custom field is called "response" would otherwise look like a reply
    query = "type=add&list_id=5&mobile=6140&datetime_entry=2024-01-01 00:00:00&response=yes&response_id=1"
    event = parse_callback(query, kind="list-action")
    assert isinstance(event, ListAction)
    assert event.fields == {"response": "yes", "response_id": "1"}


def test_dedup_keys_identify_the_event_not_the_delivery() -> None:
    a = parse_callback("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&status=delivered&try=1")
    b = parse_callback("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&status=delivered&try=2")
    c = parse_callback("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&status=pending")
    assert a.dedup_key == b.dedup_key != c.dedup_key
    r1 = parse_callback("response_id=9&mobile=6140&response=hi&datetime_entry=2024-01-01 00:00:00")
    r2 = parse_callback("response_id=9&mobile=6140&response=hi&datetime_entry=2024-01-01 00:00:05")
    assert r1.dedup_key == r2.dedup_key == ("reply", 9)


# --- one handler for polled results and callback events ------------------------------------------


def test_a_polled_recipient_and_a_dlr_share_the_delivery_interface() -> None:
    polled = Recipient.from_api({"msisdn": 61400000001, "delivery_status": "hard-bounce"})
    callback = parse_callback(DLR.replace("delivered", "hard-bounce"))

    def describe(update: DeliveryUpdate) -> str:
        return f"{update.mobile}:{update.status}:{update.is_final}:{update.is_failure}"

    assert isinstance(polled, DeliveryUpdate)
    assert isinstance(callback, DeliveryUpdate)
    assert describe(polled) == describe(callback) == "61400000001:hard-bounce:True:True"
    assert DeliveryReport.from_recipient(1, polled).dedup_key[:4] == callback.dedup_key[:4]


def test_a_polled_reply_and_a_reply_callback_share_the_inbound_interface() -> None:
    polled = PolledReply.from_api(
        {
            "id": 35566670,
            "message_id": 331695745,
            "msisdn": 61400000001,
            "response": "This is my reply",
            "longcode": 61429997672,
            "received_at": "2020-05-16 12:10:00",
        }
    )
    callback = parse_callback(sample_query("callback-reply.txt"))

    def describe(reply: InboundMessage) -> tuple[Any, ...]:
        return (reply.response_id, reply.message_id, reply.mobile, reply.longcode, reply.received_at)

    assert isinstance(polled, InboundMessage)
    assert isinstance(callback, InboundMessage)
    assert describe(polled) == describe(callback)
    assert polled.text == callback.text == "This is my reply"
    assert Reply.from_polled(polled).dedup_key == callback.dedup_key
    assert isinstance(callback, Reply)
    assert (callback.id, callback.msisdn, callback.response) == (polled.id, polled.msisdn, polled.response)


# --- hostile input: typed errors that name the reason ----------------------------------------------


@pytest.mark.parametrize(
    ("query", "reason", "key"),
    [
        ("", "empty", None),
        ("?", "empty", None),
        ("&&&", "empty", None),
        ("smsapi_token=x", "empty", None),
        ("foo=bar", "unknown_kind", None),
        ("message_id=1&status=delivered&datetime=2024-01-01 00:00:00", "missing", "mobile"),
        ("message_id=1&mobile=6140&status=delivered", "missing", "datetime"),
        ("message_id=1&mobile=&datetime=2024-01-01 00:00:00&status=delivered", "missing", "mobile"),
        ("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&status=", "missing", "status"),
        ("message_id=abc" + TAIL, "not_numeric", "message_id"),
        ("message_id=-1" + TAIL, "not_numeric", "message_id"),
        ("message_id=1e3" + TAIL, "not_numeric", "message_id"),
        ("message_id=%D9%A1" + TAIL, "not_numeric", None),
        ("message_id=" + "9" * 40 + TAIL, "not_numeric", None),
        (DLR + "&user_id=me", "not_numeric", "user_id"),
        ("message_id=1&mobile=6140&datetime=yesterday&status=delivered", "bad_date", "datetime"),
        ("message_id=1&mobile=6140&datetime=2024-13-01 00:00:00&status=delivered", "bad_date", "datetime"),
        ("message_id=1&mobile=6140&datetime=2024-02-30 00:00:00&status=delivered", "bad_date", "datetime"),
        ("message_id=1&mobile=6140&datetime=0000-00-00 00:00:00&status=delivered", "bad_date", "datetime"),
        ("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00+05:00&status=delivered", "bad_date", None),
        ("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&status=deliv%zzered", "bad_encoding", None),
        ("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&status=%E", "bad_encoding", None),
        ("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&status=%FF%FE", "bad_encoding", None),
        ("message_id=1&mobile=6140&datetime=2024-01-01 00:00:00&st%C3atus=x", "bad_encoding", None),
        (DLR + "&status=pending", "repeated", "status"),
        (
            "response_id=1&mobile=6140&response=hi&datetime_entry=2024-01-01 00:00:00&is_optout=maybe",
            "bad_value",
            "is_optout",
        ),
        ("response_id=1&mobile=6140&datetime_entry=2024-01-01 00:00:00", "missing", "response"),
        ("response=hi&mobile=6140&datetime_entry=2024-01-01 00:00:00", "missing", "response_id"),
        ("type=add&list_id=x&mobile=6140&datetime_entry=2024-01-01 00:00:00", "not_numeric", "list_id"),
    ],
)
def test_malformed_callbacks_raise_a_typed_error_naming_the_reason(
    query: str, reason: str, key: str | None
) -> None:
    with pytest.raises(InvalidCallbackError) as info:
        parse_callback(query)
    assert info.value.reason == reason
    assert info.value.reason in REASONS
    if key is not None:
        assert info.value.key == key
        assert key in str(info.value)
    assert isinstance(info.value, SmsApiError)
    assert isinstance(info.value, ValueError)


def test_the_error_message_never_carries_a_value() -> None:
    with pytest.raises(InvalidCallbackError) as info:
        parse_callback("message_id=1&mobile=61499999999&datetime=SECRET-ISH&status=delivered")
    assert "SECRET" not in str(info.value)
    assert "61499999999" not in str(info.value)


def test_an_exact_repeat_of_an_event_parameter_is_tolerated() -> None:
    assert parse_callback(DLR + "&status=delivered") == parse_callback(DLR)


def test_over_the_size_cap() -> None:
    huge = DLR + "&pad=" + "x" * 40_000
    with pytest.raises(InvalidCallbackError) as info:
        parse_callback(huge)
    assert info.value.reason == "too_large"
    with pytest.raises(InvalidCallbackError, match="parameters"):
        parse_callback(DLR + "".join(f"&p{i}=1" for i in range(300)))
    with pytest.raises(InvalidCallbackError):
        parse_callback({"message_id": "1", "pad": "x" * 40_000})
    assert parse_callback(huge, max_bytes=50_000).extra["pad"] == "x" * 40_000


@pytest.mark.parametrize(
    "query",
    [
        {"message_id": 1, "mobile": "6140"},
        [("message_id", "1", "x")],
        [("message_id", b"1")],
        {"message_id": "1", "mobile": "\ud800", "datetime": "2024-01-01 00:00:00", "status": "delivered"},
    ],
)
def test_mappings_and_pairs_must_hold_text(query: Any) -> None:
    with pytest.raises(InvalidCallbackError):
        parse_callback(query)


def test_an_unknown_kind_argument_is_refused() -> None:
    with pytest.raises(InvalidCallbackError):
        parse_callback(DLR, kind="mms")  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
ids = st.integers(min_value=0, max_value=2**63 - 1)
stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=timezone.utc)
)


@settings(max_examples=200, deadline=None)
@given(
    message_id=ids,
    mobile=st.from_regex(r"[1-9][0-9]{5,14}", fullmatch=True),
    status=st.sampled_from(["delivered", "pending", "soft-bounce", "hard-bounce", "queued"]),
    at=stamps,
    own=st.dictionaries(st.from_regex(r"[a-z]{1,8}_own", fullmatch=True), texts, max_size=3),
)
def test_dlr_round_trip(message_id: int, mobile: str, status: str, at: datetime, own: dict[str, str]) -> None:
    params = [
        *own.items(),
        ("message_id", str(message_id)),
        ("mobile", mobile),
        ("datetime", at.strftime("%Y-%m-%d %H:%M:%S")),
        ("status", status),
    ]
    event = parse_callback(urlencode(params, quote_via=quote))
    assert event == DeliveryReport(message_id=message_id, mobile=mobile, status=status, status_at=at)
    assert event.extra == own


@settings(max_examples=200, deadline=None)
@given(response_id=ids, text=texts, optout=st.booleans(), at=stamps)
def test_reply_round_trip_keeps_any_text(response_id: int, text: str, optout: bool, at: datetime) -> None:
    params = {
        "response_id": str(response_id),
        "mobile": "61400000001",
        "response": text,
        "datetime_entry": at.strftime("%Y-%m-%d %H:%M:%S"),
        "is_optout": "yes" if optout else "no",
    }
    for query in (urlencode(params, quote_via=quote), urlencode(params).encode(), params):
        event = parse_callback(query)
        assert isinstance(event, Reply)
        assert (event.response_id, event.text, event.is_optout, event.received_at) == (
            response_id,
            text,
            optout,
            at,
        )


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_input_gives_an_event_or_a_typed_error(query: bytes | str) -> None:
    with contextlib.suppress(InvalidCallbackError):
        parse_callback(query)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "message_id",
                    "mobile",
                    "datetime",
                    "status",
                    "response_id",
                    "response",
                    "datetime_entry",
                    "type",
                    "list_id",
                    "link_hits",
                    "is_optout",
                    "user_id",
                    "x",
                ]
            ),
            st.one_of(texts, st.sampled_from(["1", "2024-01-01 00:00:00", "yes", "", "%", "delivered"])),
        ),
        max_size=12,
    )
)
def test_arbitrary_parameter_sets_give_an_event_or_a_typed_error(pairs: list[tuple[str, str]]) -> None:
    with contextlib.suppress(InvalidCallbackError):
        parse_callback(pairs)
    with contextlib.suppress(InvalidCallbackError):
        parse_callback(urlencode(pairs, quote_via=quote))


# --- what the sandbox really sends ----------------------------------------------------------------


@pytest.mark.anyio
async def test_every_callback_the_sandbox_sends_parses() -> None:
    recorder = Recorder(httpx.Response(200))
    seen = recorder.requests
    url = "https://hooks.example.com/cb?shop=7"
    async with sandbox_client(callback_transport=httpx.MockTransport(recorder)) as sms:
        client = sms.client
        sent = await client.sms.send(
            message="Hi [tracked-link]",
            to=["61400000001", "61400000009"],
            dlr_callback=url,
            reply_callback=url,
            link_hits_callback=url,
            tracked_link_url="https://example.com/menu",
        )
        members = await client.lists.add("Guests", fields={"field_1": "Table"})
        sms.sandbox.account().lists[members.id].forward_url = url
        await client.lists.add_contact(members.id, "61400000011", first_name="Ada", fields={"field_1": "7"})
        await sms.advance(5)
        sms.inject_reply("61400000001", "Thanks!")
        sms.sandbox.link_hit(sent.message_id, "61400000001")
        await sms.advance(1)
    events = [parse_callback(request.url.query) for request in seen]
    kinds = sorted(type(event).__name__ for event in events)
    assert kinds == ["DeliveryReport", "DeliveryReport", "LinkHit", "ListAction", "Reply"]
    for event in events:
        assert (event.user_id is None) == isinstance(event, ListAction)  # list actions carry no account
        extra = event.fields if isinstance(event, ListAction) else event.extra
        assert extra.get("shop") == "7"
    dlrs = {e.mobile: e for e in events if isinstance(e, DeliveryReport)}
    assert dlrs["61400000001"].status == "delivered"
    assert dlrs["61400000009"].is_failure
    (action,) = [e for e in events if isinstance(e, ListAction)]
    assert action.fields["Table"] == "7"
    assert action.is_add


def test_reprs_show_the_length_of_message_text_never_the_text() -> None:
    reply = parse_callback(sample_query("callback-reply.txt"))
    hit = parse_callback(encoded(sample_query("callback-link-hits.txt")))
    assert "This is my reply" not in repr(reply)
    assert "<16 characters>" in repr(reply)
    assert "link hit callback test" not in repr(hit)
    assert "jane.citizen" not in repr(parse_callback(encoded(sample_query("callback-list-action.txt"))))
