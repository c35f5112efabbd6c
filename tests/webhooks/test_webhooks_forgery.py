"""Forged fields under a genuine signature: what was signed is what is handed on, or nothing is.

The platform signs ``json_encode`` of PHP's *reading* of the query, in which ``message.id`` and
`` status`` are ``message_id`` and ``status``, and the last of a repeated name wins. An attacker
holding one genuine callback and its signature can put other values first under the plain names
and the genuine ones last under names PHP folds onto them: the signature still holds. Each forgery
below must be refused with the typed reason, by ``parse_callback``, by ``handle``, through ASGI
and over a real socket, and never reach ``on_event``.
"""

from __future__ import annotations

from urllib.parse import quote

import anyio.lowlevel
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smsapi_async._signature as signature_module
from smsapi_async._signature import callback_signature
from smsapi_async.sandbox import serve_app_in_thread
from smsapi_async.webhooks import (
    SIGNATURE_HEADER,
    CallbackReceiver,
    Event,
    InvalidCallbackError,
    parse_callback,
    sign_callback,
    verify_signature,
)

SECRET = "sandbox-secret"
DLR = [
    ("message_id", "1001"),
    ("mobile", "61400000001"),
    ("datetime", "2024-01-01 00:00:05"),
    ("status", "delivered"),
    ("user_id", "1"),
]
REPLY = [
    ("user_id", "1"),
    ("message_id", "1001"),
    ("response", "See you then"),
    ("response_id", "777"),
    ("mobile", "61400000001"),
    ("longcode", "61400000100"),
    ("datetime_entry", "2024-01-01 00:01:00"),
    ("is_optout", "no"),
]


def encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def folded(key: str) -> str:
    """A name PHP's parse_str reads as ``key``."""
    return key.replace("_", ".", 1) if "_" in key else " " + key


def forge(genuine: list[tuple[str, str]], changes: dict[str, str]) -> str:
    """The attacker's values under the plain names, then the genuine ones under folded names."""
    first = [(k, changes.get(k, v)) for k, v in genuine]
    last = [(folded(k), v) for k, v in genuine if k in changes]
    return encode(first + last)


FORGERIES = {
    "status": (DLR, {"status": "hard-bounce"}),
    "message id": (DLR, {"message_id": "424242"}),
    "mobile": (DLR, {"mobile": "61499999999"}),
    "replayed with a new datetime": (DLR, {"datetime": "2024-06-01 12:00:00"}),
    "reply text and opt-out": (REPLY, {"response": "STOP", "is_optout": "yes"}),
}


@pytest.mark.parametrize("name", FORGERIES)
def test_php_signs_the_forgery_exactly_as_the_genuine_callback(name: str) -> None:
    # the premise: the signature of the genuine callback verifies the forged query
    genuine, changes = FORGERIES[name]
    assert verify_signature(forge(genuine, changes), sign_callback(genuine, SECRET), SECRET)


@pytest.mark.parametrize("name", FORGERIES)
def test_parse_callback_refuses_a_field_php_reads_from_another_name(name: str) -> None:
    genuine, changes = FORGERIES[name]
    with pytest.raises(InvalidCallbackError) as caught:
        parse_callback(forge(genuine, changes))
    assert caught.value.reason == "ambiguous"
    assert caught.value.key in changes


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        await anyio.lowlevel.checkpoint()
        self.events.append(event)


@pytest.mark.anyio
@pytest.mark.parametrize("name", FORGERIES)
async def test_no_forgery_reaches_on_event_through_handle_or_asgi(name: str) -> None:
    genuine, changes = FORGERIES[name]
    query, signature = forge(genuine, changes), sign_callback(genuine, SECRET)
    recorder = Recorder()
    receiver = CallbackReceiver(recorder, api_secret=SECRET)
    status, text = await receiver.handle(query, signature)
    assert (status, text.split(" ", 2)[:2]) == (400, ["reason:", "ambiguous"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://h") as http:
        response = await http.get(f"/sms-hooks?{query}", headers={SIGNATURE_HEADER: signature})
    assert response.status_code == 400
    assert recorder.events == []
    # the genuine callback itself is handed on, with its own values
    assert await receiver.handle(encode(genuine), signature) == (200, "ok")
    (event,) = recorder.events
    for key, value in genuine:
        if key in changes and key in ("status", "mobile"):
            assert getattr(event, key) == value


def test_no_forgery_reaches_on_event_over_a_real_socket() -> None:
    recorder = Recorder()
    receiver = CallbackReceiver(recorder, api_secret=SECRET)
    with serve_app_in_thread(receiver) as url, httpx.Client(base_url=url) as http:
        for genuine, changes in FORGERIES.values():
            signature = sign_callback(genuine, SECRET)
            response = http.get(f"/hooks?{forge(genuine, changes)}", headers={SIGNATURE_HEADER: signature})
            assert (response.status_code, response.text.split(" ")[1]) == (400, "ambiguous")
    assert recorder.events == []


def test_what_is_handed_on_is_what_php_read() -> None:
    # an event parameter under a name PHP folds is refused even alone (a reader of raw names
    # would miss it); any other parameter is read as PHP reads it, which is what was signed
    when = ("datetime", "2024-01-01 00:00:05")
    pairs = [("message.id", "5"), (" mobile", "61400000001"), ("status", "delivered"), when]
    with pytest.raises(InvalidCallbackError, match="another name"):
        parse_callback(encode(pairs))
    own = [("message_id", "5"), ("mobile", "61400000001"), ("status", "delivered"), when, ("order.no", "9")]
    event = parse_callback(encode([*own, ("tags[]", "a"), ("tags[]", "b"), ("x", "1"), ("x", "2")]))
    assert dict(event.extra) == {"order_no": "9", "tags[0]": "a", "tags[1]": "b", "x": "2"}


@pytest.mark.parametrize(
    "query",
    [
        "message_id=1&mobile=61400000001&status=delivered&status=pending",  # twice, different values
        "message_id=1&mobile=61400000001&status=delivered&status[x]=pending",  # text, then an array
        "message_id=1&mobile=61400000001&status[]=delivered",  # an array
    ],
)
def test_a_repeated_or_array_event_parameter_is_refused(query: str) -> None:
    with pytest.raises(InvalidCallbackError) as caught:
        parse_callback(query)
    assert caught.value.reason in ("repeated", "ambiguous")


@pytest.mark.parametrize(
    ("pairs", "reason"),
    [
        ([("mobile", "not a number")], "bad_value"),
        ([("mobile", "+61 400 000 001")], "bad_value"),
        ([("mobile", "٦١٤٠٠٠٠٠٠٠١")], "bad_value"),  # Arabic-Indic digits
        ([("mobile", "6140000000100000")], "bad_value"),  # 16 digits: longer than E.164 allows
        ([("mobile", "61\u200f400000001")], "bad_value"),  # a right-to-left mark
        ([("message_id", "9223372036854775808")], "not_numeric"),  # 2**63: over 64 bits
        ([("message_id", "9999999999999999999")], "not_numeric"),
        ([("user_id", "18446744073709551616")], "not_numeric"),
    ],
)
def test_callback_fields_are_validated_like_api_fields(pairs: list[tuple[str, str]], reason: str) -> None:
    base = dict(DLR)
    base.update(pairs)
    with pytest.raises(InvalidCallbackError) as caught:
        parse_callback(list(base.items()))
    assert caught.value.reason == reason


def test_the_largest_ids_and_a_plus_before_the_mobile_are_accepted() -> None:
    base = dict(DLR, message_id=str(2**63 - 1), mobile="+61400000001")
    event = parse_callback(list(base.items()))
    assert (event.message_id, event.mobile) == (2**63 - 1, "61400000001")


@pytest.mark.anyio
async def test_an_absent_signature_costs_the_same_work_as_a_wrong_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the docstring promises that absence and a wrong value look alike: both compute the signature
    # of the query (timing them would be flaky; counting the work is not)
    computed: list[int] = []

    def counting(params: list[tuple[str, str]], secret: str) -> str:
        computed.append(len(params))
        return callback_signature(params, secret)

    monkeypatch.setattr(signature_module, "callback_signature", counting)
    receiver = CallbackReceiver(print, api_secret=SECRET)
    query = encode(DLR)
    assert (await receiver.handle(query, None))[0] == 401
    absent = list(computed)
    computed.clear()
    assert (await receiver.handle(query, "0" * 64))[0] == 403
    assert absent == computed == [len(DLR)]
    computed.clear()
    assert not verify_signature(query, None, SECRET)
    assert computed == [len(DLR)]


DECOYS = ["hard-bounce", "424242", "STOP", "yes", "2030-01-01 00:00:00"]
TRIED = {"signed alike": 0}


def _fold(key: str, how: int) -> str:
    return [key, " " + key, key.replace("_", "."), key.replace("_", " "), key + "\x00x", "  " + key][how]


@settings(max_examples=300, deadline=None)
@given(
    genuine=st.sampled_from([DLR, REPLY]),
    decoys=st.lists(
        st.tuples(
            st.integers(0, 7), st.integers(0, 5), st.sampled_from(["hard-bounce", "424242", "STOP", "yes"])
        ),
        max_size=4,
    ),
    folds=st.lists(st.integers(0, 5), min_size=8, max_size=8),
)
def test_no_query_php_signs_like_a_genuine_callback_hands_on_other_values(
    genuine: list[tuple[str, str]], decoys: list[tuple[int, int, str]], folds: list[int]
) -> None:
    # attacker's pairs first (any event name, folded or not), then the genuine pairs, some folded
    pairs = [(_fold(genuine[i % len(genuine)][0], how), value) for i, how, value in decoys]
    pairs += [(_fold(key, fold), value) for (key, value), fold in zip(genuine, folds, strict=False)]
    query, signature = encode(pairs), sign_callback(genuine, SECRET)
    if not verify_signature(query, signature, SECRET):
        return  # PHP would not sign this like the genuine callback
    TRIED["signed alike"] += 1
    try:
        event = parse_callback(query)
    except InvalidCallbackError as exc:
        reason = exc.reason
    else:
        reason = None
    if reason is not None:
        assert reason in ("ambiguous", "repeated")
        return
    assert event == parse_callback(encode(genuine))
    assert dict(event.extra) == dict(parse_callback(encode(genuine)).extra)


def test_the_property_above_met_queries_signed_like_the_genuine_ones() -> None:
    # runs after it in file order: a property that never met its case would prove nothing
    assert TRIED["signed alike"] >= 50
